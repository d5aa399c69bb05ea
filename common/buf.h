/* SPDX-License-Identifier: MIT */
/* buf.h - growable byte buffer, always NUL-terminated (curl's dynbuf shape). */
#ifndef CONVERTD_COMMON_BUF_H
#define CONVERTD_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data; /* NULL until the first append */
    size_t len;
    size_t cap;
};

#define BUF_INIT                                                                                   \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void buf_init(struct buf *b);
/* Release the contents (not the struct). */
void buf_fini(struct buf *b);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_appends(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Empty the buffer, keeping its memory. */
void buf_reset(struct buf *b);
/* Take the string (never NULL: "" for an empty buffer); the buffer is left empty. */
char *buf_steal(struct buf *b);

#endif
