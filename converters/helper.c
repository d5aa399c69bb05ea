/* SPDX-License-Identifier: MIT */
/* helper.c - argument vectors and input links for the converters that run helper programs. */
#include "converters/helper.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/mem.h"

void argv_add(struct argv *a, const char *fmt, ...)
{
    struct buf b = BUF_INIT;
    va_list ap;

    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (a->n + 2 > a->cap) {
        a->cap = a->cap ? a->cap * 2 : 32;
        a->v = xrealloc(a->v, a->cap * sizeof *a->v);
    }
    a->v[a->n++] = buf_steal(&b);
    a->v[a->n] = NULL;
}

void argv_log(const struct argv *a, const char *who)
{
    struct buf b = BUF_INIT;

    for (size_t i = 0; i < a->n; i++)
        buf_printf(&b, "%s%s", i ? " " : "", a->v[i]);
    log_debug("%s: %s", who, b.data ? b.data : "");
    buf_fini(&b);
}

void argv_fini(struct argv *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
    *a = (struct argv){0};
}

int helper_link_input(const char *input, const char *dst, const char *who, struct err *err)
{
    char *abs = NULL;
    int rc = -1;

    if (input[0] != '/') {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd)) {
            err_set(err, ERR_INTERNAL, "%s: getcwd: %s", who, strerror(errno));
            goto out;
        }
        abs = xasprintf("%s/%s", cwd, input);
        input = abs;
    }
    if (link(input, dst) < 0 && symlink(input, dst) < 0) {
        err_set(err, ERR_INTERNAL, "%s: cannot link the input: %s", who, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    free(abs);
    return rc;
}
