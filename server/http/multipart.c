/* SPDX-License-Identifier: MIT */
/* multipart.c - streaming multipart/form-data parser (RFC 7578 / RFC 2046), one byte state
 * machine.
 *
 * Part data is handed on as it arrives. The only bytes held back are those that might start
 * a delimiter ("\r\n--boundary" plus transport padding, a few hundred bytes at most) and one
 * part's header block (at most HDR_MAX). A delimiter is a line feed, optionally preceded by a
 * carriage return, then "--" and the boundary: LF-only clients work, and because a boundary
 * holds no CR or LF a failed match never hides the start of another one, so the held bytes
 * can be released as data without rescanning them. */
#include "server/http/multipart.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/mem.h"
#include "common/text.h"

#define HDR_MAX      16384 /* one part's header block, including line ends */
#define BOUNDARY_MAX 200   /* RFC 2046 says 70; some clients pad theirs */
#define PAD_MAX      64    /* spaces and tabs allowed after a delimiter */

enum state {
    S_BODY,      /* preamble or part data */
    S_CR,        /* a CR was held back: it may start a delimiter */
    S_DELIM,     /* matching "--boundary" after a line feed */
    S_TAIL,      /* after "--boundary": padding, then a line end or "--" */
    S_TAIL_DASH, /* after "--boundary-" */
    S_TAIL_CR,   /* after "--boundary" and padding, a CR */
    S_HEADERS,   /* a part's header block */
    S_DONE,      /* the closing delimiter was seen: the rest is epilogue */
    S_FAILED,
};

struct multipart {
    struct multipart_cb cb;
    void *opaque;
    char *delim; /* "--" + boundary */
    size_t dlen;
    enum state state;
    size_t matched; /* bytes of delim matched in S_DELIM */
    bool in_part;   /* false in the preamble: data there is dropped */
    bool padded;    /* S_TAIL saw padding, so "--" can no longer follow */
    char *pend;     /* held-back bytes, released as data when they are no delimiter */
    size_t plen;
    struct buf hdr;
    size_t line_start; /* offset of the current header line in hdr */
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool name_is(const char *s, size_t n, const char *want)
{
    size_t i;

    if (strlen(want) != n)
        return false;
    for (i = 0; i < n; i++)
        if (lower(s[i]) != want[i])
            return false;
    return true;
}

/* Old clients send file names in ISO-8859-1; every byte of it maps to one code point. */
static void latin1_to_utf8(struct buf *b)
{
    struct buf out = BUF_INIT;
    size_t i;

    for (i = 0; i < b->len; i++) {
        unsigned char c = (unsigned char)b->data[i];
        char two[2] = {(char)(0xC0 | c >> 6), (char)(0x80 | (c & 0x3F))};

        if (c < 0x80)
            buf_append(&out, &b->data[i], 1);
        else
            buf_append(&out, two, 2);
    }
    buf_fini(b);
    *b = out;
}

/* Next ";"-separated parameter of a header value in [p, end): its name and value (unquoted,
 * backslash escapes of '"' and '\' undone; other backslashes stay, for Windows paths).
 * *has_value is false for a bare token such as "form-data". Returns NULL when none is left. */
static const char *next_param(const char *p, const char *end, struct buf *name, struct buf *value,
                              bool *has_value)
{
    const char *n0, *n1;

    buf_reset(name);
    buf_reset(value);
    while (p < end && (is_space(*p) || *p == ';'))
        p++;
    if (p == end)
        return NULL;
    n0 = p;
    while (p < end && *p != '=' && *p != ';')
        p++;
    for (n1 = p; n1 > n0 && is_space(n1[-1]); n1--)
        ;
    buf_append(name, n0, (size_t)(n1 - n0));
    *has_value = p < end && *p == '=';
    if (!*has_value)
        return p;
    for (p++; p < end && is_space(*p); p++)
        ;
    if (p < end && *p == '"') {
        for (p++; p < end && *p != '"'; p++) {
            if (*p == '\\' && p + 1 < end && (p[1] == '"' || p[1] == '\\'))
                p++;
            buf_append(value, p, 1);
        }
        /* Whatever follows the closing quote up to the next ';' is junk. */
        while (p < end && *p != ';')
            p++;
    } else {
        const char *v0 = p, *v1;

        while (p < end && *p != ';')
            p++;
        for (v1 = p; v1 > v0 && is_space(v1[-1]); v1--)
            ;
        buf_append(value, v0, (size_t)(v1 - v0));
    }
    return p;
}

/* RFC 8187 ext-value: charset'language'percent-encoded. Returns false when the charset is
 * unknown, so that the plain filename parameter is used instead. */
static bool decode_ext_value(const struct buf *in, struct buf *out)
{
    const char *s = in->data ? in->data : "", *q1, *q2, *enc;
    size_t enc_len;
    char *dec;
    bool latin1;

    buf_reset(out);
    q1 = memchr(s, '\'', in->len);
    q2 = q1 ? memchr(q1 + 1, '\'', in->len - (size_t)(q1 + 1 - s)) : NULL;
    if (q2 == NULL)
        return false;
    if (name_is(s, (size_t)(q1 - s), "utf-8") || name_is(s, (size_t)(q1 - s), "utf8"))
        latin1 = false;
    else if (name_is(s, (size_t)(q1 - s), "iso-8859-1") || name_is(s, (size_t)(q1 - s), "latin1"))
        latin1 = true;
    else
        return false;
    /* A part header is at most HDR_MAX bytes, so this copy is small. */
    enc = q2 + 1;
    enc_len = in->len - (size_t)(enc - s);
    dec = xmalloc(enc_len + 1);
    buf_append(out, dec, text_percent_decode(enc, enc_len, dec, false));
    free(dec);
    if (latin1)
        latin1_to_utf8(out);
    return true;
}

/* The header block is complete: find Content-Disposition and start the part. */
static int begin_part(struct multipart *mp, struct err *err)
{
    struct buf cd = BUF_INIT, pname = BUF_INIT, pval = BUF_INIT;
    struct buf name = BUF_INIT, fname = BUF_INIT, fstar = BUF_INIT, ext = BUF_INIT;
    bool has_fname = false, has_fstar = false, in_cd = false, has_value;
    const char *p, *end, *h = mp->hdr.data ? mp->hdr.data : "";
    int rc = -1;

    if (memchr(h, '\0', mp->hdr.len)) {
        err_set(err, ERR_BADPARAM, "NUL byte in multipart part headers");
        goto out;
    }
    /* Unfold: a line that starts with a space or tab continues the previous header. */
    for (p = h, end = h + mp->hdr.len; p < end;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((eol ? eol : end) - p);

        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (n > 0 && is_space(p[0])) {
            if (in_cd) {
                buf_append(&cd, " ", 1);
                buf_append(&cd, p, n);
            }
        } else {
            const char *colon = memchr(p, ':', n);
            size_t nl = colon ? (size_t)(colon - p) : 0;

            /* Tolerate "Content-Disposition : ..." */
            while (nl > 0 && is_space(p[nl - 1]))
                nl--;
            in_cd = colon && name_is(p, nl, "content-disposition");
            if (in_cd) {
                buf_reset(&cd);
                buf_append(&cd, colon + 1, n - (size_t)(colon + 1 - p));
            }
        }
        p = eol ? eol + 1 : end;
    }

    p = cd.data ? cd.data : "";
    end = p + cd.len;
    while ((p = next_param(p, end, &pname, &pval, &has_value)) != NULL) {
        if (!has_value)
            continue;
        if (name_is(pname.data, pname.len, "name")) {
            buf_reset(&name);
            buf_append(&name, pval.data, pval.len);
        } else if (name_is(pname.data, pname.len, "filename")) {
            buf_reset(&fname);
            buf_append(&fname, pval.data, pval.len);
            has_fname = true;
        } else if (name_is(pname.data, pname.len, "filename*")) {
            buf_reset(&fstar);
            buf_append(&fstar, pval.data, pval.len);
            has_fstar = true;
        }
    }
    /* RFC 6266: filename* wins over filename when both are given and it can be read. */
    if (has_fstar && decode_ext_value(&fstar, &ext)) {
        buf_fini(&fname);
        fname = ext;
        buf_init(&ext);
        has_fname = true;
    }
    if (name.len > 0 && !text_utf8_valid(name.data, name.len)) {
        err_set(err, ERR_BADPARAM, "multipart field name is not valid UTF-8");
        goto out;
    }
    if (has_fname && memchr(fname.data ? fname.data : "", '\0', fname.len)) {
        err_set(err, ERR_BADPARAM, "NUL byte in multipart file name");
        goto out;
    }
    if (has_fname && !text_utf8_valid(fname.data, fname.len))
        latin1_to_utf8(&fname);

    mp->in_part = true;
    if (mp->cb.part_begin &&
        mp->cb.part_begin(mp->opaque, name.data ? name.data : "",
                          has_fname ? (fname.data ? fname.data : "") : NULL, err) != 0) {
        err_set(err, ERR_INTERNAL, "multipart part_begin failed");
        goto out;
    }
    rc = 0;
out:
    buf_fini(&cd);
    buf_fini(&pname);
    buf_fini(&pval);
    buf_fini(&name);
    buf_fini(&fname);
    buf_fini(&fstar);
    buf_fini(&ext);
    return rc;
}

struct multipart *multipart_new(const char *content_type, const struct multipart_cb *cb,
                                void *opaque, struct err *err)
{
    struct buf pname = BUF_INIT, pval = BUF_INIT;
    struct multipart *mp = NULL;
    const char *p, *end;
    bool found = false, has_value;

    if (content_type == NULL)
        return err_set(err, ERR_BADPARAM, "multipart body without a Content-Type"), NULL;
    /* The media type itself is the first, bare token; only the boundary matters here. */
    p = content_type;
    end = content_type + strlen(content_type);
    while ((p = next_param(p, end, &pname, &pval, &has_value)) != NULL) {
        if (has_value && name_is(pname.data, pname.len, "boundary")) {
            found = true;
            break;
        }
    }
    if (!found || pval.len == 0) {
        err_set(err, ERR_BADPARAM, "multipart Content-Type has no boundary parameter");
        goto out;
    }
    /* The delimiter search relies on a boundary without CR or LF (see the top of the file). */
    if (pval.len > BOUNDARY_MAX || memchr(pval.data, '\r', pval.len) ||
        memchr(pval.data, '\n', pval.len) || memchr(pval.data, '\0', pval.len)) {
        err_set(err, ERR_BADPARAM, "invalid multipart boundary");
        goto out;
    }

    mp = xcalloc(1, sizeof *mp);
    if (cb != NULL)
        mp->cb = *cb;
    mp->opaque = opaque;
    mp->dlen = pval.len + 2;
    mp->delim = xmalloc(mp->dlen + 1);
    memcpy(mp->delim, "--", 2);
    memcpy(mp->delim + 2, pval.data, pval.len);
    mp->delim[mp->dlen] = '\0';
    /* CR LF delim padding "-" or CR */
    mp->pend = xmalloc(2 + mp->dlen + PAD_MAX + 2);
    buf_init(&mp->hdr);
    /* The first delimiter may open the body without a line end before it. */
    mp->state = S_DELIM;
out:
    buf_fini(&pname);
    buf_fini(&pval);
    return mp;
}

static int fail(struct multipart *mp, struct err *err)
{
    mp->state = S_FAILED;
    /* A callback that returned -1 without saying why still stops the request cleanly. */
    err_set(err, ERR_INTERNAL, "multipart callback failed");
    return -1;
}

/* Part data, or nothing while in the preamble. */
static int emit(struct multipart *mp, const char *p, size_t n, struct err *err)
{
    if (n == 0 || !mp->in_part || mp->cb.part_data == NULL)
        return 0;
    if (mp->cb.part_data(mp->opaque, p, n, err) != 0)
        return fail(mp, err);
    return 0;
}

/* The held-back bytes were no delimiter after all. */
static int release(struct multipart *mp, size_t n, struct err *err)
{
    mp->plen = 0;
    mp->state = S_BODY;
    return emit(mp, mp->pend, n, err); /* after the state change: a failure must stick */
}

static int end_part(struct multipart *mp, struct err *err)
{
    bool was_in_part = mp->in_part;

    mp->in_part = false;
    mp->plen = 0;
    if (was_in_part && mp->cb.part_end && mp->cb.part_end(mp->opaque, err) != 0)
        return fail(mp, err);
    return 0;
}

int multipart_feed(struct multipart *mp, const char *data, size_t len, struct err *err)
{
    size_t i = 0;

    while (i < len) {
        char c = data[i];

        switch (mp->state) {
        case S_BODY: {
            size_t j = i;

            while (j < len && data[j] != '\r' && data[j] != '\n')
                j++;
            if (emit(mp, data + i, j - i, err) != 0)
                return -1;
            i = j;
            if (i < len) {
                mp->pend[0] = data[i];
                mp->plen = 1;
                mp->matched = 0;
                mp->state = data[i] == '\r' ? S_CR : S_DELIM;
                i++;
            }
            break;
        }
        case S_CR:
            if (c == '\n') {
                mp->pend[mp->plen++] = c;
                mp->state = S_DELIM;
                mp->matched = 0;
                i++;
            } else if (release(mp, mp->plen, err) != 0) {
                return -1;
            }
            break;
        case S_DELIM:
            if (c == mp->delim[mp->matched]) {
                mp->pend[mp->plen++] = c;
                i++;
                if (++mp->matched == mp->dlen) {
                    mp->state = S_TAIL;
                    mp->padded = false;
                }
            } else if (release(mp, mp->plen, err) != 0) {
                return -1;
            }
            break;
        case S_TAIL:
            if (is_space(c) && mp->plen < 2 + mp->dlen + PAD_MAX) {
                /* RFC 2046 transport padding. */
                mp->pend[mp->plen++] = c;
                mp->padded = true;
                i++;
            } else if (c == '-' && !mp->padded) {
                mp->pend[mp->plen++] = c;
                mp->state = S_TAIL_DASH;
                i++;
            } else if (c == '\r') {
                mp->pend[mp->plen++] = c;
                mp->state = S_TAIL_CR;
                i++;
            } else if (c == '\n') {
                i++;
                if (end_part(mp, err) != 0)
                    return -1;
                buf_reset(&mp->hdr);
                mp->line_start = 0;
                mp->state = S_HEADERS;
            } else if (release(mp, mp->plen, err) != 0) {
                return -1;
            }
            break;
        case S_TAIL_DASH:
            if (c == '-') {
                i++;
                if (end_part(mp, err) != 0)
                    return -1;
                mp->state = S_DONE;
            } else if (release(mp, mp->plen, err) != 0) {
                return -1;
            }
            break;
        case S_TAIL_CR:
            if (c == '\n') {
                i++;
                if (end_part(mp, err) != 0)
                    return -1;
                buf_reset(&mp->hdr);
                mp->line_start = 0;
                mp->state = S_HEADERS;
            } else {
                /* The CR may itself start the next delimiter: hold it again. */
                if (release(mp, mp->plen - 1, err) != 0)
                    return -1;
                mp->pend[0] = '\r';
                mp->plen = 1;
                mp->state = S_CR;
            }
            break;
        case S_HEADERS: {
            const char *nl = memchr(data + i, '\n', len - i);
            size_t n = nl ? (size_t)(nl - (data + i)) + 1 : len - i;
            size_t llen;

            if (mp->hdr.len + n > HDR_MAX) {
                mp->state = S_FAILED;
                return err_set(err, ERR_BADPARAM, "multipart part headers larger than %d bytes",
                               HDR_MAX);
            }
            buf_append(&mp->hdr, data + i, n);
            i += n;
            if (nl == NULL)
                break;
            llen = mp->hdr.len - 1 - mp->line_start;
            if (llen > 0 && mp->hdr.data[mp->line_start + llen - 1] == '\r')
                llen--;
            if (llen > 0) {
                mp->line_start = mp->hdr.len;
                break;
            }
            mp->hdr.len = mp->line_start; /* drop the blank line */
            mp->hdr.data[mp->hdr.len] = '\0';
            if (begin_part(mp, err) != 0) {
                mp->state = S_FAILED;
                return -1;
            }
            /* Tolerate a part whose data is empty and whose blank line doubles as the CRLF of
             * the next delimiter. */
            mp->plen = 0;
            mp->matched = 0;
            mp->state = S_DELIM;
            break;
        }
        case S_DONE:
            /* The epilogue is ignored (RFC 2046). */
            return 0;
        case S_FAILED:
            return err_set(err, ERR_BADPARAM, "multipart body already rejected");
        }
    }
    return mp->state == S_FAILED ? -1 : 0;
}

int multipart_finish(struct multipart *mp, struct err *err)
{
    if (mp->state == S_DONE)
        return 0;
    if (mp->state == S_FAILED)
        return err_set(err, ERR_BADPARAM, "multipart body already rejected");
    return err_set(err, ERR_BADPARAM, "truncated multipart body");
}

void multipart_free(struct multipart *mp)
{
    if (mp == NULL)
        return;
    buf_fini(&mp->hdr);
    free(mp->pend);
    free(mp->delim);
    free(mp);
}
