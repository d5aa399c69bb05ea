/* SPDX-License-Identifier: MIT */
/* test_multipart.c - the streaming multipart/form-data parser (compat-notes.md C8), fed whole,
 * byte by byte and in random chunks. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/mem.h"
#include "server/http/multipart.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

#define CT "multipart/form-data; boundary=XyZ"

/* Every callback appends to one log: "<name|filename>" or "<name|->" for a field, the data,
 * then "</>". Comparing logs checks order, names, data and part ends at once. */
struct rec {
    struct buf log;
    int fail_on_data; /* part_data fails on this call (1-based); 0: never */
    int data_calls;
    size_t data_bytes;
};

static int rec_begin(void *opaque, const char *name, const char *filename, struct err *err)
{
    struct rec *r = opaque;

    buf_printf(&r->log, "<%s|%s>", name, filename ? filename : "-");
    return 0;
}

static int rec_data(void *opaque, const char *data, size_t len, struct err *err)
{
    struct rec *r = opaque;

    ck_assert_uint_gt(len, 0);
    if (++r->data_calls == r->fail_on_data)
        return err_set(err, ERR_TOOBIG, "upload too large");
    buf_append(&r->log, data, len);
    r->data_bytes += len;
    return 0;
}

static int rec_end(void *opaque, struct err *err)
{
    struct rec *r = opaque;

    buf_appends(&r->log, "</>");
    return 0;
}

static const struct multipart_cb rec_cb = {rec_begin, rec_data, rec_end};

/* A small deterministic generator, so that a failing chunking can be replayed. */
static uint32_t rng(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

enum chunking { WHOLE, BYTES, RANDOM };

/* Feed body in the given chunking; returns the rc of the failing call or of finish. */
static int run(const char *ct, const char *body, size_t len, enum chunking how, uint32_t seed,
               struct rec *r, struct err *err, int *feed_rc)
{
    struct multipart *mp = multipart_new(ct, &rec_cb, r, err);
    size_t pos = 0;
    int rc = 0;

    ck_assert_msg(mp != NULL, "multipart_new: %s", err->msg);
    *feed_rc = 0;
    while (pos < len) {
        size_t n = len - pos;

        if (how == BYTES)
            n = 1;
        else if (how == RANDOM && n > 1)
            n = 1 + rng(&seed) % (n < 40 ? n : 40);
        rc = multipart_feed(mp, body + pos, n, err);
        if (rc != 0) {
            *feed_rc = rc;
            break;
        }
        pos += n;
    }
    if (rc == 0)
        rc = multipart_finish(mp, err);
    multipart_free(mp);
    return rc;
}

/* Bytes of a PNG signature and chunk header: CR, LF and NUL inside part data. */
#define PNG "\x89PNG\r\n\x1a\n\0\0\0\rIHDR"
/* A literal and its length, for rows with NUL bytes. */
#define LIT(s) s, sizeof(s) - 1

static const struct {
    const char *what;
    const char *ct;
    const char *body;
    size_t len;      /* 0: strlen(body) */
    const char *log; /* expected log; may contain NUL when log_len is set */
    size_t log_len;  /* 0: strlen(log) */
    const char *err; /* NULL: success expected; else part of the error message */
} cases[] = {
    {"two parts", CT,
     LIT("--XyZ\r\nContent-Disposition: form-data; name=\"input\"\r\n\r\nupload\r\n"
         "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n"
         "Content-Type: image/png\r\n\r\n" PNG "\r\n--XyZ--\r\n"),
     LIT("<input|->upload</><file|a.png>" PNG "</>"), NULL},
    {"preamble", CT,
     "This is a preamble.\r\n--XyZ is not here\r\n--XyZ\r\n"
     "Content-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--XyZ--",
     0, "<a|->v</>", 0, NULL},
    {"swift: body starts with CRLF", CT,
     "\r\n--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--XyZ--\r\n", 0,
     "<a|->v</>", 0, NULL},
    {"LF-only line ends", CT,
     "--XyZ\nContent-Disposition: form-data; name=a\n\nline1\nline2\n--XyZ\n"
     "Content-Disposition: form-data; name=b\n\n\n--XyZ--\n",
     0, "<a|->line1\nline2</><b|-></>", 0, NULL},
    {"no part Content-Type, unquoted, any order and case", CT,
     "--XyZ\r\ncontent-disposition: FORM-DATA; FILENAME=x.png ; NAME=file\r\n\r\nd\r\n--XyZ--", 0,
     "<file|x.png>d</>", 0, NULL},
    {"header name case and space before colon", CT,
     "--XyZ\r\nCONTENT-DISPOSITION : form-data;name=\"f\"\r\nX-Other: 1\r\n\r\nd\r\n--XyZ--", 0,
     "<f|->d</>", 0, NULL},
    {"filename with spaces and UTF-8", CT,
     "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"my \xc3\xa9t\xc3\xa9 "
     "file.png\"\r\nContent-Type: application/octet-stream\r\n\r\nd\r\n--XyZ--",
     0, "<file|my \xc3\xa9t\xc3\xa9 file.png>d</>", 0, NULL},
    {"filename* wins over filename", CT,
     "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"rates.png\"; "
     "filename*=UTF-8''%e2%82%ac%20rates.png\r\n\r\nd\r\n--XyZ--",
     0, "<file|\xe2\x82\xac rates.png>d</>", 0, NULL},
    {"filename* first", CT,
     "--XyZ\r\nContent-Disposition: form-data; filename*=utf-8'en'a%20b.pdf; name=f; "
     "filename=\"x.pdf\"\r\n\r\nd\r\n--XyZ--",
     0, "<f|a b.pdf>d</>", 0, NULL},
    {"filename* in ISO-8859-1", CT,
     "--XyZ\r\nContent-Disposition: form-data; name=f; filename*=ISO-8859-1''%E9t%E9.txt\r\n\r\n"
     "d\r\n--XyZ--",
     0, "<f|\xc3\xa9t\xc3\xa9.txt>d</>", 0, NULL},
    /* These two bytes would also be valid UTF-8 ("\u00e9"): the charset decides. */
    {"filename* in ISO-8859-1 that looks like UTF-8", CT,
     "--XyZ\r\nContent-Disposition: form-data; name=f; filename*=iso-8859-1''%C3%A9\r\n\r\n"
     "d\r\n--XyZ--",
     0, "<f|\xc3\x83\xc2\xa9>d</>", 0, NULL},
    {"filename* with an unknown charset falls back", CT,
     "--XyZ\r\nContent-Disposition: form-data; name=f; filename=\"a.txt\"; "
     "filename*=KOI8-R''%C1.txt\r\n\r\nd\r\n--XyZ--",
     0, "<f|a.txt>d</>", 0, NULL},
    {"raw ISO-8859-1 filename becomes UTF-8", CT,
     "--XyZ\r\nContent-Disposition: form-data; name=f; filename=\"\xe9t\xe9.txt\"\r\n\r\n"
     "d\r\n--XyZ--",
     0, "<f|\xc3\xa9t\xc3\xa9.txt>d</>", 0, NULL},
    {"escaped quote and Windows path", CT,
     "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"C:\\dir\\a \\\"b\\\".png\""
     "\r\n\r\nd\r\n--XyZ--",
     0, "<f|C:\\dir\\a \"b\".png>d</>", 0, NULL},
    {"semicolon inside a quoted filename", CT,
     "--XyZ\r\nContent-Disposition: form-data; filename=\"a;b=c.png\"; name=f\r\n\r\nd\r\n"
     "--XyZ--",
     0, "<f|a;b=c.png>d</>", 0, NULL},
    {"empty filename", CT,
     "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\"\r\n\r\n\r\n--XyZ--", 0,
     "<file|></>", 0, NULL},
    {"folded Content-Disposition", CT,
     "--XyZ\r\nContent-Disposition: form-data;\r\n\tname=\"f\";\r\n filename=\"a.png\"\r\n\r\n"
     "d\r\n--XyZ--",
     0, "<f|a.png>d</>", 0, NULL},
    {"no Content-Disposition", CT, "--XyZ\r\nContent-Type: text/plain\r\n\r\nd\r\n--XyZ--", 0,
     "<|->d</>", 0, NULL},
    {"no headers at all", CT, "--XyZ\r\n\r\nd\r\n--XyZ--", 0, "<|->d</>", 0, NULL},
    {"quoted boundary", "multipart/form-data; charset=utf-8; boundary=\"a b:c\"",
     "--a b:c\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--a b:c--\r\n", 0, "<a|->v</>",
     0, NULL},
    {"BOUNDARY in capitals, boundary first", "Multipart/Form-Data;BOUNDARY=XyZ ; charset=utf-8",
     "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--XyZ--\r\n", 0, "<a|->v</>", 0,
     NULL},
    {"transport padding", CT,
     "--XyZ \t \r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--XyZ\t\r\n"
     "Content-Disposition: form-data; name=b\r\n\r\nw\r\n--XyZ-- \r\n",
     0, "<a|->v</><b|->w</>", 0, NULL},
    {"epilogue ignored", CT,
     "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--XyZ--\r\nepilogue\r\n"
     "--XyZ\r\nContent-Disposition: form-data; name=b\r\n\r\nw\r\n--XyZ--\r\n",
     0, "<a|->v</>", 0, NULL},
    {"near-delimiters inside data", CT,
     "--XyZ\r\nContent-Disposition: form-data; name=f; filename=x\r\n\r\n"
     "\r\n--Xy\r\r\n--XyZa\n--XyZ-x\r\n--XyZ x\r\n--XyZ\rq\r\n--X\r\n\r\n--XyZ--",
     0, "<f|x>\r\n--Xy\r\r\n--XyZa\n--XyZ-x\r\n--XyZ x\r\n--XyZ\rq\r\n--X\r\n</>", 0, NULL},
    {"CR before the delimiter's CRLF stays data", CT,
     "--XyZ\r\nContent-Disposition: form-data; name=f\r\n\r\nv\r\r\n--XyZ--", 0, "<f|->v\r</>", 0,
     NULL},
    {"empty part", CT, "--XyZ\r\nContent-Disposition: form-data; name=\"e\"\r\n\r\n\r\n--XyZ--", 0,
     "<e|-></>", 0, NULL},
    {"blank line doubles as the delimiter's line end", CT,
     "--XyZ\r\nContent-Disposition: form-data; name=\"e\"\r\n\r\n--XyZ\r\n"
     "Content-Disposition: form-data; name=\"f\"\r\n\r\nv\r\n--XyZ--",
     0, "<e|-></><f|->v</>", 0, NULL},
    {"only the closing delimiter", CT, "--XyZ--\r\n", 0, "", 0, NULL},
    {"binary data with NUL", CT,
     LIT("--XyZ\r\nContent-Disposition: form-data; name=f\r\n\r\n\0\r\0\n\0\r\n--XyZ--"),
     LIT("<f|->\0\r\0\n\0</>"), NULL},
    {"truncated in data", CT, "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nval", 0,
     "<a|->val", 0, "truncated multipart body"},
    {"truncated after a delimiter", CT,
     "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nval\r\n--XyZ\r\n", 0, "<a|->val</>", 0,
     "truncated multipart body"},
    {"truncated closing delimiter", CT,
     "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nval\r\n--XyZ-", 0, "<a|->val", 0,
     "truncated multipart body"},
    {"truncated in headers", CT, "--XyZ\r\nContent-Disposition: form-da", 0, "", 0,
     "truncated multipart body"},
    {"empty body", CT, "", 0, "", 0, "truncated multipart body"},
    {"no delimiter at all", CT, "just some text\r\n", 0, "", 0, "truncated multipart body"},
    {"NUL in headers", CT,
     LIT("--XyZ\r\nContent-Disposition: form-data; name=\"a\0b\"\r\n\r\nv\r\n--XyZ--"), "", 0,
     "NUL"},
    {"NUL from filename*", CT,
     "--XyZ\r\nContent-Disposition: form-data; name=f; filename*=UTF-8''a%00b\r\n\r\nv\r\n"
     "--XyZ--",
     0, "", 0, "NUL"},
    {"field name not UTF-8", CT,
     "--XyZ\r\nContent-Disposition: form-data; name=\"\xff\"\r\n\r\nv\r\n--XyZ--", 0, "", 0,
     "not valid UTF-8"},
};

START_TEST(test_cases)
{
    const char *body = cases[_i].body;
    size_t len = cases[_i].len ? cases[_i].len : strlen(body);
    size_t log_len = cases[_i].log_len ? cases[_i].log_len : strlen(cases[_i].log);
    int round;

    /* Whole, byte by byte, then 30 random chunkings: the result must not depend on them. */
    for (round = 0; round < 32; round++) {
        enum chunking how = round == 0 ? WHOLE : round == 1 ? BYTES : RANDOM;
        struct rec r = {.log = BUF_INIT};
        struct err err = ERR_INIT;
        int feed_rc, rc = run(cases[_i].ct, body, len, how, (uint32_t)round, &r, &err, &feed_rc);

        if (cases[_i].err == NULL) {
            ck_assert_msg(rc == 0, "%s (round %d): %s", cases[_i].what, round, err.msg);
        } else {
            ck_assert_msg(rc == -1, "%s (round %d): accepted", cases[_i].what, round);
            ck_assert_msg(err.code == ERR_BADPARAM && strstr(err.msg, cases[_i].err),
                          "%s (round %d): error %d '%s'", cases[_i].what, round, err.code, err.msg);
        }
        /* Logs are compared only for successes and truncations: a rejected header block
         * may have been preceded by earlier parts, which the table does not track. */
        if (cases[_i].err == NULL || strstr(cases[_i].err, "truncated")) {
            ck_assert_msg(r.log.len == log_len &&
                              memcmp(r.log.data ? r.log.data : "", cases[_i].log, log_len) == 0,
                          "%s (round %d): log '%.*s'", cases[_i].what, round, (int)r.log.len,
                          r.log.data ? r.log.data : "");
        }
        buf_fini(&r.log);
    }
}
END_TEST

static const struct {
    const char *ct;
    const char *boundary; /* NULL: multipart_new must fail */
} ct_cases[] = {
    {"multipart/form-data; boundary=abc", "abc"},
    {"multipart/form-data; boundary=\"abc\"", "abc"},
    {"multipart/form-data;boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
     "----WebKitFormBoundary7MA4YWxkTrZu0gW"},
    {"multipart/form-data; charset=utf-8; Boundary=abc  ", "abc"},
    {"multipart/form-data", NULL},
    {"multipart/form-data; boundary=", NULL},
    {"multipart/form-data; boundary=\"\"", NULL},
    {"multipart/form-data; xboundary=abc", NULL},
    {"multipart/form-data; boundary=\"a\r\nb\"", NULL},
    {"", NULL},
    {NULL, NULL},
};

START_TEST(test_content_type)
{
    struct err err = ERR_INIT;
    struct rec r = {.log = BUF_INIT};
    struct multipart *mp = multipart_new(ct_cases[_i].ct, &rec_cb, &r, &err);

    if (ct_cases[_i].boundary == NULL) {
        ck_assert_msg(mp == NULL, "row %d accepted", _i);
        ck_assert_int_eq(err.code, ERR_BADPARAM);
        ck_assert(strstr(err.msg, "boundary") || strstr(err.msg, "Content-Type"));
        return;
    }
    ck_assert_msg(mp != NULL, "row %d: %s", _i, err.msg);
    {
        struct buf body = BUF_INIT;

        buf_printf(&body, "--%s\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--%s--",
                   ct_cases[_i].boundary, ct_cases[_i].boundary);
        ck_assert_int_eq(multipart_feed(mp, body.data, body.len, &err), 0);
        ck_assert_int_eq(multipart_finish(mp, &err), 0);
        ck_assert_str_eq(r.log.data, "<a|->v</>");
        buf_fini(&body);
    }
    multipart_free(mp);
    buf_fini(&r.log);
}
END_TEST

START_TEST(test_boundary_too_long)
{
    struct err err = ERR_INIT;
    struct buf ct = BUF_INIT;
    int i;

    buf_appends(&ct, "multipart/form-data; boundary=");
    for (i = 0; i < 1000; i++)
        buf_appends(&ct, "b");
    ck_assert_ptr_null(multipart_new(ct.data, &rec_cb, NULL, &err));
    ck_assert_int_eq(err.code, ERR_BADPARAM);
    buf_fini(&ct);
}
END_TEST

/* One part's header block may take 16 KiB, not more; a later part starts counting again. */
START_TEST(test_header_limit)
{
    static const size_t sizes[] = {16000, 16384, 16385, 100000};
    size_t k;

    for (k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        struct buf body = BUF_INIT;
        struct rec r = {.log = BUF_INIT};
        struct err err = ERR_INIT;
        const char *cd = "Content-Disposition: form-data; name=a\r\n";
        size_t pad = sizes[k] - strlen(cd) - strlen("X-Pad: \r\n") - 2, i;
        char *hdr;
        int feed_rc, rc;

        buf_appends(&body, "--XyZ\r\n");
        buf_appends(&body, cd);
        buf_appends(&body, "X-Pad: ");
        for (i = 0; i < pad; i++)
            buf_appends(&body, "p");
        buf_appends(&body, "\r\n\r\n");
        /* The second part has a header block of the same size. */
        hdr = xstrndup(body.data + 7, sizes[k]);
        buf_appends(&body, "v\r\n--XyZ\r\n");
        buf_append(&body, hdr, sizes[k]);
        free(hdr);
        buf_appends(&body, "w\r\n--XyZ--");

        rc = run(CT, body.data, body.len, k % 2 ? BYTES : RANDOM, 7, &r, &err, &feed_rc);
        if (sizes[k] <= 16384) {
            ck_assert_msg(rc == 0, "%zu: %s", sizes[k], err.msg);
            ck_assert_str_eq(r.log.data, "<a|->v</><a|->w</>");
        } else {
            ck_assert_int_eq(feed_rc, -1);
            ck_assert_int_eq(err.code, ERR_BADPARAM);
            ck_assert_ptr_nonnull(strstr(err.msg, "headers larger than"));
            ck_assert_uint_eq(r.log.len, 0);
        }
        buf_fini(&body);
        buf_fini(&r.log);
    }
}
END_TEST

/* A failing callback stops the parser; its error is the one reported, and later feeds fail. */
START_TEST(test_callback_error)
{
    const char *body = "--XyZ\r\nContent-Disposition: form-data; name=f\r\n\r\n"
                       "aaaa\nbbbb\ncccc\r\n--XyZ\r\nContent-Disposition: form-data; name=g\r\n"
                       "\r\nv\r\n--XyZ--";
    struct rec r = {.log = BUF_INIT, .fail_on_data = 2};
    struct err err = ERR_INIT;
    struct multipart *mp = multipart_new(CT, &rec_cb, &r, &err);

    ck_assert_int_eq(multipart_feed(mp, body, strlen(body), &err), -1);
    ck_assert_int_eq(err.code, ERR_TOOBIG);
    ck_assert_str_eq(err.msg, "upload too large");
    ck_assert_str_eq(r.log.data, "<f|->aaaa");
    err_clear(&err);
    ck_assert_int_eq(multipart_feed(mp, "x", 1, &err), -1);
    ck_assert_int_ne(err.code, ERR_OK);
    err_clear(&err);
    ck_assert_int_eq(multipart_finish(mp, &err), -1);
    multipart_free(mp);
    buf_fini(&r.log);
}
END_TEST

/* A big file part is delivered while it arrives: after each 4 KiB chunk, all but a few
 * held-back bytes have reached part_data, and they arrive intact. */
START_TEST(test_streaming)
{
    const char *b = "----WebKitFormBoundary7MA4YWxkTrZu0gW";
    size_t n = 1 << 20, i, pos, fed = 0, hdr_len;
    struct buf body = BUF_INIT;
    struct rec r = {.log = BUF_INIT};
    struct err err = ERR_INIT;
    struct multipart *mp;
    char ct[128];
    uint32_t seed = 42;
    char *data = malloc(n);

    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", b);
    for (i = 0; i < n; i++)
        data[i] = (char)(rng(&seed) & 0xff);
    buf_printf(&body,
               "--%s\r\nContent-Disposition: form-data; name=\"file\"; "
               "filename=\"big.bin\"\r\n\r\n",
               b);
    hdr_len = body.len;
    buf_append(&body, data, n);
    buf_printf(&body, "\r\n--%s--\r\n", b);

    mp = multipart_new(ct, &rec_cb, &r, &err);
    ck_assert_ptr_nonnull(mp);
    for (pos = 0; pos < body.len; pos += 4096) {
        size_t len = body.len - pos < 4096 ? body.len - pos : 4096;

        ck_assert_int_eq(multipart_feed(mp, body.data + pos, len, &err), 0);
        if (pos + len > hdr_len && pos + len < hdr_len + n) {
            fed = pos + len - hdr_len;
            ck_assert_msg(r.data_bytes + 2 + strlen(b) + 2 >= fed, "held %zu of %zu bytes",
                          fed - r.data_bytes, fed);
        }
    }
    ck_assert_int_eq(multipart_finish(mp, &err), 0);
    ck_assert_uint_eq(r.data_bytes, n);
    ck_assert_uint_eq(r.log.len, strlen("<file|big.bin>") + n + 3);
    ck_assert(memcmp(r.log.data + strlen("<file|big.bin>"), data, n) == 0);
    multipart_free(mp);
    buf_fini(&body);
    buf_fini(&r.log);
    free(data);
}
END_TEST

/* Callbacks are optional: a parser that only validates the body. */
START_TEST(test_no_callbacks)
{
    const struct multipart_cb none = {0};
    struct err err = ERR_INIT;
    struct multipart *mp = multipart_new(CT, &none, NULL, &err);
    const char *body = "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--XyZ--";

    ck_assert_int_eq(multipart_feed(mp, body, strlen(body), &err), 0);
    ck_assert_int_eq(multipart_finish(mp, &err), 0);
    multipart_free(mp);
    multipart_free(NULL);
}
END_TEST

static Suite *multipart_suite(void)
{
    Suite *s = suite_create("multipart");
    TCase *tc;

    tc = tcase_create("parse");
    tcase_add_loop_test(tc, test_cases, 0, N(cases));
    tcase_add_test(tc, test_header_limit);
    tcase_add_test(tc, test_callback_error);
    tcase_add_test(tc, test_no_callbacks);
    suite_add_tcase(s, tc);

    tc = tcase_create("content_type");
    tcase_add_loop_test(tc, test_content_type, 0, N(ct_cases));
    tcase_add_test(tc, test_boundary_too_long);
    suite_add_tcase(s, tc);

    tc = tcase_create("streaming");
    tcase_add_test(tc, test_streaming);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(multipart_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
