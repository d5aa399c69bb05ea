/* SPDX-License-Identifier: MIT */
/* mem.h - allocation that aborts on out-of-memory, so small allocations need no checks.
 * Buffers sized by clients (uploads) never come from here: they are streamed to disk. */
#ifndef CONVERTD_COMMON_MEM_H
#define CONVERTD_COMMON_MEM_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
