/* SPDX-License-Identifier: MIT */
/* fixture.c - start and stop the python test servers of tests/lib for the unit tests. */
#include "fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/mem.h"

extern char **environ;

static const char *python(void)
{
    const char *p = getenv("CONVERTD_PYTHON");

    if (p != NULL && p[0] != '\0')
        return p;
    /* Debian's interpreter has the python3-* packages, whatever else is first in PATH. */
    return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

static char *lib_script(const char *name)
{
    const char *lib = getenv("CONVERTD_TEST_LIB"), *data = getenv("CONVERTD_TEST_DATA");

    if (lib != NULL)
        return xasprintf("%s/%s", lib, name);
    return xasprintf("%s/../lib/%s", data != NULL ? data : "tests/data", name);
}

bool fixture_python_has(const char *module)
{
    char *code = xasprintf("import %s", module);
    char *argv[] = {(char *)python(), "-c", code, NULL};
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int status = -1;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) == 0)
        waitpid(pid, &status, 0);
    posix_spawn_file_actions_destroy(&fa);
    free(code);
    return status == 0;
}

int fixture_start(struct fixture *f, const char *script, const char *const *args)
{
    char *path = lib_script(script);
    size_t nargs = 0, cap = 0;
    char **argv, *line = NULL;
    int in[2], out[2];
    posix_spawn_file_actions_t fa;
    FILE *fp = NULL;
    int rc = -1;

    while (args != NULL && args[nargs] != NULL)
        nargs++;
    argv = xcalloc(nargs + 3, sizeof *argv);
    argv[0] = (char *)python();
    argv[1] = path;
    for (size_t i = 0; i < nargs; i++)
        argv[i + 2] = (char *)args[i];
    /* Close-on-exec, so that the next fixture does not hold this one's stdin open. */
    if (pipe2(in, O_CLOEXEC) != 0)
        goto out;
    if (pipe2(out, O_CLOEXEC) != 0) {
        close(in[0]);
        close(in[1]);
        goto out;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    if (posix_spawnp(&f->pid, argv[0], &fa, NULL, argv, environ) != 0)
        f->pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    f->stdin_fd = in[1];
    fp = fdopen(out[0], "r");
    if (fp == NULL)
        close(out[0]);
    if (f->pid > 0 && fp != NULL && getline(&line, &cap, fp) > 0) {
        f->info = json_loads(line, 0, NULL);
        if (json_is_object(f->info))
            rc = 0;
    }
out:
    if (rc != 0)
        printf("# cannot start %s\n", path);
    if (fp != NULL)
        fclose(fp);
    free(line);
    free(argv);
    free(path);
    return rc;
}

int fixture_port(const struct fixture *f)
{
    return (int)json_integer_value(json_object_get(f->info, "port"));
}

void fixture_stop(struct fixture *f)
{
    if (f->stdin_fd >= 0)
        close(f->stdin_fd);
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        waitpid(f->pid, NULL, 0);
    }
    json_decref(f->info);
    f->pid = -1;
    f->stdin_fd = -1;
    f->info = NULL;
}
