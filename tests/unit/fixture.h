/* SPDX-License-Identifier: MIT */
/* fixture.h - start and stop the python test servers of tests/lib for the unit tests. */
#ifndef CONVERTD_TESTS_FIXTURE_H
#define CONVERTD_TESTS_FIXTURE_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

/* A running fixture script. Its stdin is our pipe: the scripts exit when it closes, so they
 * also end when the test program dies. */
struct fixture {
    pid_t pid;
    int stdin_fd;
    json_t *info; /* the JSON object of its first output line, e.g. {"port": N} */
};

#define FIXTURE_INIT                                                                               \
    {                                                                                              \
        .pid = -1, .stdin_fd = -1, .info = NULL                                                    \
    }

/* True when the fixture interpreter can `import module` (tests skip without it). */
bool fixture_python_has(const char *module);

/* Start tests/lib/<script> with args (NULL-terminated, may be NULL) under the interpreter
 * ($CONVERTD_PYTHON, else /usr/bin/python3, else python3 from PATH; scripts are found in
 * $CONVERTD_TEST_LIB, else $CONVERTD_TEST_DATA/../lib) and wait for its first line.
 * 0, or -1 with "# cannot start <path>" printed; fixture_stop() cleans up either way. */
int fixture_start(struct fixture *f, const char *script, const char *const *args);

/* The "port" of the first line, 0 when it has none. */
int fixture_port(const struct fixture *f);

/* Close its stdin, SIGTERM it and reap it; safe on a fixture never started. */
void fixture_stop(struct fixture *f);

#endif
