/* SPDX-License-Identifier: MIT */
/* reply.c - response construction. Every header add is checked: a response missing its
 * Content-Disposition or security headers is not sent (security.md SEC-17). */
#include "server/http/reply.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/mem.h"
#include "converters/formats.h"

#define JSON_TYPE "application/json; charset=utf-8"

/* Headers every response carries: capability URLs must not leak through caches or
 * referrers (security.md SEC-27). */
static bool add_common_headers(struct MHD_Response *r)
{
    return MHD_add_response_header(r, "Cache-Control", "no-store") == MHD_YES &&
           MHD_add_response_header(r, "Referrer-Policy", "no-referrer") == MHD_YES &&
           MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") == MHD_YES;
}

static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r)
{
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* A JSON response; retry_after (seconds as text) is added for 429 and 503. */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *body,
                                 const char *retry_after)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(body);
    /* json_pack refuses invalid UTF-8; still answer with a JSON body. */
    if (!text)
        text = xasprintf("{\"error\":\"error\",\"code\":%u}", status);
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback(strlen(text), text, free);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    bool ok =
        add_common_headers(r) && MHD_add_response_header(r, "Content-Type", JSON_TYPE) == MHD_YES;
    if (ok && retry_after)
        ok = MHD_add_response_header(r, "Retry-After", retry_after) == MHD_YES;
    if (!ok) {
        MHD_destroy_response(r);
        return MHD_NO;
    }
    return queue(c, status, r);
}

enum MHD_Result reply_json_text(struct MHD_Connection *c, unsigned status, char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback(strlen(text), text, free);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    if (!add_common_headers(r) ||
        MHD_add_response_header(r, "Content-Type", JSON_TYPE) != MHD_YES) {
        MHD_destroy_response(r);
        return MHD_NO;
    }
    return queue(c, status, r);
}

enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, json_t *body)
{
    return send_json(c, status, body, NULL);
}

enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
    const char *retry = status == 503 ? "5" : status == 429 ? "60" : NULL;
    return send_json(c, status, json_pack("{s:s, s:i}", "error", msg, "code", (int)status), retry);
}

enum MHD_Result reply_err(struct MHD_Connection *c, const struct err *err)
{
    /* spec "Errors": convertd never answers 500 by design. An internal failure (a busy or
     * full database, a full disk) is "no capacity right now": 503 with Retry-After. */
    unsigned status = err->code == ERR_INTERNAL ? 503 : (unsigned)err_http_status(err->code);
    return reply_error(c, status, err->msg[0] ? err->msg : "error");
}

enum MHD_Result reply_see_other(struct MHD_Connection *c, const char *url)
{
    char *body = xasprintf("See Other. Redirecting to %s", url);
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback(strlen(body), body, free);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    if (!add_common_headers(r) ||
        MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8") != MHD_YES ||
        MHD_add_response_header(r, "Location", url) != MHD_YES) {
        MHD_destroy_response(r);
        return MHD_NO;
    }
    return queue(c, MHD_HTTP_SEE_OTHER, r);
}

static bool is_ascii_safe(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == '-';
}

char *reply_content_disposition(const char *name, bool inline_disp)
{
    struct buf b = BUF_INIT;
    buf_appends(&b, inline_disp ? "inline; filename=\"" : "attachment; filename=\"");
    /* SEC-17: the ASCII fallback keeps [A-Za-z0-9._-] and puts one '_' for anything else
     * (one per character, not per UTF-8 byte). */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if ((*p & 0xc0) == 0x80)
            continue;
        char ch = is_ascii_safe(*p) ? (char)*p : '_';
        buf_append(&b, &ch, 1);
    }
    buf_appends(&b, "\"; filename*=UTF-8''");
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        /* RFC 8187 attr-char: ALPHA / DIGIT / "!#$&+-.^_`|~" */
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            strchr("!#$&+-.^_`|~", *p))
            buf_append(&b, p, 1);
        else
            buf_printf(&b, "%%%02X", *p);
    }
    return buf_steal(&b);
}

enum MHD_Result reply_file(struct MHD_Connection *c, unsigned status, int fd, uint64_t offset,
                           uint64_t len, uint64_t total, const char *name, const char *ext,
                           bool inline_disp)
{
    /* For HEAD, libmicrohttpd sends the headers (with this Content-Length) and no body. */
    struct MHD_Response *r = MHD_create_response_from_fd_at_offset64(len, fd, offset);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    /* spec "Downloads": SVG and HTML are never inline (stored XSS, SEC-17). */
    bool risky = ext && (!strcasecmp(ext, "svg") || !strcasecmp(ext, "html") ||
                         !strcasecmp(ext, "htm") || !strcasecmp(ext, "xml"));
    char *cd = reply_content_disposition(name, inline_disp && !risky);
    char range[96];
    bool ok = add_common_headers(r) &&
              MHD_add_response_header(r, "Content-Type", format_mime_type(ext)) == MHD_YES &&
              MHD_add_response_header(r, "Content-Disposition", cd) == MHD_YES &&
              MHD_add_response_header(r, "Content-Security-Policy", "sandbox") == MHD_YES &&
              MHD_add_response_header(r, "Accept-Ranges", "bytes") == MHD_YES;
    if (ok && status == MHD_HTTP_PARTIAL_CONTENT) {
        snprintf(range, sizeof range, "bytes %llu-%llu/%llu", (unsigned long long)offset,
                 (unsigned long long)(offset + len - 1), (unsigned long long)total);
        ok = MHD_add_response_header(r, "Content-Range", range) == MHD_YES;
    }
    free(cd);
    if (!ok) {
        log_warn("could not set download headers");
        MHD_destroy_response(r);
        return MHD_NO;
    }
    return queue(c, status, r);
}
