/* SPDX-License-Identifier: MIT */
/* fuzz_multipart.c - libFuzzer entry point for multipart.c. The first input byte chooses the
 * chunking and whether the first line is the Content-Type; the rest is the body. The body is
 * parsed whole and in chunks, and both runs must report the same parts, data and outcome. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "server/http/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct rec {
    struct buf log;
    int in_part;
};

static int rec_begin(void *opaque, const char *name, const char *filename, struct err *err)
{
    struct rec *r = opaque;

    if (r->in_part)
        abort(); /* part_begin twice without part_end */
    r->in_part = 1;
    buf_appends(&r->log, "\x01");
    buf_appends(&r->log, name);
    buf_appends(&r->log, filename ? "\x02" : "\x03");
    if (filename)
        buf_appends(&r->log, filename);
    buf_appends(&r->log, "\x04");
    return 0;
}

static int rec_data(void *opaque, const char *p, size_t len, struct err *err)
{
    struct rec *r = opaque;

    if (!r->in_part || len == 0)
        abort();
    buf_append(&r->log, p, len);
    return 0;
}

static int rec_end(void *opaque, struct err *err)
{
    struct rec *r = opaque;

    if (!r->in_part)
        abort();
    r->in_part = 0;
    buf_appends(&r->log, "\x05");
    return 0;
}

static const struct multipart_cb rec_cb = {rec_begin, rec_data, rec_end};

/* Returns the final rc; chunk 0 means the whole body at once. */
static int run(const char *ct, const char *body, size_t len, size_t chunk, struct rec *r,
               struct err *err)
{
    struct multipart *mp = multipart_new(ct, &rec_cb, r, err);
    size_t pos = 0;
    int rc = 0;

    if (mp == NULL)
        return -2;
    while (rc == 0 && pos < len) {
        size_t n = chunk == 0 || len - pos < chunk ? len - pos : chunk;

        rc = multipart_feed(mp, body + pos, n, err);
        pos += n;
    }
    if (rc == 0)
        rc = multipart_finish(mp, err);
    multipart_free(mp);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data + 1, *nl;
    size_t len, chunk;
    char *ct = NULL;
    struct rec whole = {BUF_INIT, 0}, parts = {BUF_INIT, 0};
    struct err e1 = ERR_INIT, e2 = ERR_INIT;
    int rc1, rc2;

    if (size < 1)
        return 0;
    len = size - 1;
    chunk = (data[0] & 0x3f) + 1;
    if ((data[0] & 0x80) && (nl = memchr(body, '\n', len)) != NULL) {
        size_t n = (size_t)(nl - body);

        ct = malloc(n + 1);
        memcpy(ct, body, n);
        ct[n] = '\0';
        len -= n + 1;
        body = nl + 1;
    }

    rc1 = run(ct ? ct : "multipart/form-data; boundary=XyZ", body, len, 0, &whole, &e1);
    rc2 = run(ct ? ct : "multipart/form-data; boundary=XyZ", body, len, chunk, &parts, &e2);
    if (rc1 != rc2 || e1.code != e2.code)
        abort();
    /* Logs are equal whatever the chunking (on success or truncation; a rejected body stops
     * at a point that does not depend on it either). */
    if (whole.log.len != parts.log.len ||
        (whole.log.len && memcmp(whole.log.data, parts.log.data, whole.log.len) != 0))
        abort();
    if (rc1 == 0 && whole.in_part)
        abort(); /* finished without closing the last part */

    buf_fini(&whole.log);
    buf_fini(&parts.log);
    free(ct);
    return 0;
}
