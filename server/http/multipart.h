/* SPDX-License-Identifier: MIT */
/* multipart.h - a streaming multipart/form-data parser: parts are delivered as they arrive,
 * so an uploaded file never sits whole in memory. Tolerates a preamble (including a body that
 * starts with "\r\n--boundary"), parts without Content-Type, LF-only line ends, quoted or
 * unquoted parameters, and file names with spaces, UTF-8 or filename*=UTF-8''... */
#ifndef CONVERTD_SERVER_HTTP_MULTIPART_H
#define CONVERTD_SERVER_HTTP_MULTIPART_H

#include <stddef.h>

#include "common/err.h"

struct multipart_cb {
    /* A part starts. name is the form field name ("" when missing); filename is NULL when the
     * part has no filename parameter (a plain field). Both borrowed for this call only. */
    int (*part_begin)(void *opaque, const char *name, const char *filename, struct err *err);
    int (*part_data)(void *opaque, const char *data, size_t len, struct err *err);
    int (*part_end)(void *opaque, struct err *err);
};

struct multipart;

/* NULL with ERR_BADPARAM when content_type has no boundary parameter. */
struct multipart *multipart_new(const char *content_type, const struct multipart_cb *cb,
                                void *opaque, struct err *err);
/* Feed body bytes in any chunking. A callback's -1 stops parsing and is returned. Header
 * blocks over 16 KiB → ERR_BADPARAM. */
int multipart_feed(struct multipart *mp, const char *data, size_t len, struct err *err);
/* End of body: -1 with ERR_BADPARAM "truncated multipart body" unless the closing boundary
 * was seen. */
int multipart_finish(struct multipart *mp, struct err *err);
void multipart_free(struct multipart *mp);

#endif
