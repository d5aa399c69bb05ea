/* SPDX-License-Identifier: MIT */
/* xfer.c - libcurl callbacks and helpers shared by s3.c, ftp.c and cloud.c.
 *
 * The request body is read with pread() at an offset, so a part of a multipart upload or a
 * chunk of an upload session is a window of the one open file; a file that ends before its
 * window does is reported rather than sent short. */
#include "storage/xfer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/mem.h"

void xfer_init(struct xfer *x, const volatile bool *cancel, size_t body_max)
{
    memset(x, 0, sizeof *x);
    x->cancel = cancel;
    x->out_fd = -1;
    x->in_fd = -1;
    x->body_max = body_max;
    buf_init(&x->body);
}

void xfer_fini(struct xfer *x)
{
    buf_fini(&x->body);
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *opaque)
{
    struct xfer *x = opaque;
    size_t len = size * nmemb;
    long status = 0;

    if (x->out_fd >= 0 && x->http_status)
        curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
    if (x->out_fd < 0 || (x->http_status && (status < 200 || status >= 300))) {
        if (x->body.len + len > x->body_max) {
            x->body_cut = true;
            return 0;
        }
        buf_append(&x->body, data, len);
        return len;
    }
    if (x->written + (int64_t)len > x->max_bytes) {
        x->too_big = true;
        return 0;
    }
    for (size_t off = 0; off < len;) {
        ssize_t n = write(x->out_fd, data + off, len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            x->write_errno = errno;
            return 0;
        }
        off += (size_t)n;
    }
    x->written += (int64_t)len;
    return len;
}

static size_t on_read(char *dst, size_t size, size_t nmemb, void *opaque)
{
    struct xfer *x = opaque;
    size_t want = size * nmemb;

    if (x->mem != NULL) {
        if (want > x->mem_len)
            want = x->mem_len;
        memcpy(dst, x->mem, want);
        x->mem += want;
        x->mem_len -= want;
        return want;
    }
    if (x->in_left >= 0 && (int64_t)want > x->in_left)
        want = (size_t)x->in_left;
    if (want == 0)
        return 0;
    for (;;) {
        ssize_t n = pread(x->in_fd, dst, want, (off_t)x->in_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            x->read_errno = errno;
            return CURL_READFUNC_ABORT;
        }
        if (n == 0) {
            /* Without a window the end of the file is the end of the body. */
            if (x->in_left < 0)
                return 0;
            x->file_short = true;
            return CURL_READFUNC_ABORT;
        }
        x->in_off += n;
        if (x->in_left >= 0)
            x->in_left -= n;
        return (size_t)n;
    }
}

static int on_progress(void *opaque, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct xfer *x = opaque;

    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    if (x->cancel != NULL && *x->cancel) {
        x->cancelled = true;
        return 1;
    }
    return 0;
}

CURLcode xfer_install(CURL *c, struct xfer *x)
{
    CURLcode rc = CURLE_OK;

    x->curl = c;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(c, opt, val);                                                    \
    } while (0)
    SET(CURLOPT_WRITEFUNCTION, on_write);
    SET(CURLOPT_WRITEDATA, x);
    SET(CURLOPT_READFUNCTION, on_read);
    SET(CURLOPT_READDATA, x);
    SET(CURLOPT_NOPROGRESS, 0L);
    SET(CURLOPT_XFERINFOFUNCTION, on_progress);
    SET(CURLOPT_XFERINFODATA, x);
#undef SET
    return rc;
}

int xfer_local_error(const struct xfer *x, CURLcode rc, struct err *err)
{
    if (x->cancelled)
        return err_set(err, ERR_CANCELLED, "cancelled");
    if (x->too_big || rc == CURLE_FILESIZE_EXCEEDED)
        return err_set(err, ERR_TOOBIG, "input too large");
    if (x->write_errno != 0)
        return err_set(err, ERR_CONVERT, "cannot write input file: %s", strerror(x->write_errno));
    if (x->read_errno != 0)
        return err_set(err, ERR_CONVERT, "cannot read output file: %s", strerror(x->read_errno));
    if (x->file_short)
        return err_set(err, ERR_CONVERT, "output file changed during the upload");
    return 0;
}

bool xfer_curl_failed(const struct xfer *x, CURLcode rc)
{
    return rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && x->body_cut);
}

bool xfer_has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return true;
    }
    return false;
}

struct curl_slist *xfer_header_add(struct curl_slist *list, const char *fmt, const char *value)
{
    char *line = xasprintf(fmt, value);
    struct curl_slist *l = curl_slist_append(list, line);

    free(line);
    /* The house rule for memory: abort rather than run on without a header. */
    if (l == NULL)
        abort();
    return l;
}

bool xfer_status_line(const char *data, size_t len)
{
    return len >= 5 && strncmp(data, "HTTP/", 5) == 0;
}

char *xfer_header_value(const char *data, size_t len, const char *name)
{
    size_t nlen = strlen(name), n;
    const char *v;

    if (len <= nlen || strncasecmp(data, name, nlen) != 0)
        return NULL;
    v = data + nlen;
    n = len - nlen;
    while (n > 0 && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
        n--;
    return xstrndup(v, n);
}
