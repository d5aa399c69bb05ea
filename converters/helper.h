/* SPDX-License-Identifier: MIT */
/* helper.h - what the converters that run a helper program (gs, LibreOffice, Chromium)
 * share: argument vectors built from our own values only, and the job's input under a name
 * of ours. */
#ifndef CONVERTD_CONVERTERS_HELPER_H
#define CONVERTD_CONVERTERS_HELPER_H

#include <stddef.h>

#include "common/err.h"

/* A NULL-terminated argument vector for execve(); start from {0}. */
struct argv {
    char **v;
    size_t n, cap;
};

/* Append one argument, formatted. */
void argv_add(struct argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The command line at debug level, prefixed by who ("ghostscript"). Our arguments hold the
 * work folder's paths, never a client's file name. */
void argv_log(const struct argv *a, const char *who);
void argv_fini(struct argv *a);

/* Make dst name the input (a hard link, else a symbolic link to its absolute path): the
 * helper then sees neither the client's file name nor its extension. -1 with ERR_INTERNAL
 * "<who>: cannot link the input: ...". */
int helper_link_input(const char *input, const char *dst, const char *who, struct err *err);

#endif
