/* SPDX-License-Identifier: MIT */
/* test_common.c - unit tests of common/: errors, buffers, ids, JSON helpers, file helpers,
 * time strings and log redaction. */
#include <check.h>
#include <fcntl.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "common/base64.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/fsx.h"
#include "common/id.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/text.h"
#include "common/timefmt.h"

/* ---- err ---- */

START_TEST(test_err_set_first_wins)
{
    struct err err = ERR_INIT;

    ck_assert_int_eq(err_set(&err, ERR_BADPARAM, "missing %s", "inputformat"), -1);
    ck_assert_int_eq(err.code, ERR_BADPARAM);
    ck_assert_str_eq(err.msg, "missing inputformat");
    ck_assert_int_eq(err_set(&err, ERR_INTERNAL, "outer"), -1);
    ck_assert_int_eq(err.code, ERR_BADPARAM);
    ck_assert_str_eq(err.msg, "missing inputformat");
    err_clear(&err);
    ck_assert_int_eq(err.code, ERR_OK);
    ck_assert_str_eq(err.msg, "");
    ck_assert_int_eq(err_set(NULL, ERR_AUTH, "no sink"), -1);
}
END_TEST

START_TEST(test_err_long_message_truncated)
{
    struct err err = ERR_INIT;
    char big[600];

    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    err_set(&err, ERR_CONVERT, "%s", big);
    ck_assert_uint_eq(strlen(err.msg), sizeof err.msg - 1);
}
END_TEST

static const struct {
    enum err_code code;
    int status;
    const char *name;
} err_table[] = {
    {ERR_OK, 200, "ok"},
    {ERR_BADPARAM, 400, "badparam"},
    {ERR_AUTH, 401, "auth"},
    {ERR_NOTFOUND, 404, "notfound"},
    {ERR_METHOD, 405, "method"},
    {ERR_TOOBIG, 413, "toobig"},
    {ERR_CONVERT, 422, "convert"},
    {ERR_RATELIMIT, 429, "ratelimit"},
    {ERR_BUSY, 503, "busy"},
    {ERR_CANCELLED, 422, "cancelled"},
    {ERR_INTERNAL, 500, "internal"},
};

START_TEST(test_err_codes)
{
    const size_t n = sizeof(err_table) / sizeof(err_table[0]);

    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(err_http_status(err_table[i].code), err_table[i].status);
        ck_assert_str_eq(err_code_name(err_table[i].code), err_table[i].name);
        ck_assert_int_eq(err_code_from_name(err_table[i].name), err_table[i].code);
    }
    ck_assert_int_eq(err_code_from_name("nonsense"), ERR_INTERNAL);
    ck_assert_int_eq(err_code_from_name(""), ERR_INTERNAL);
    ck_assert_int_eq(err_code_from_name("BADPARAM"), ERR_INTERNAL);
}
END_TEST

/* ---- mem, buf ---- */

START_TEST(test_base64)
{
    static const struct {
        const char *plain, *coded;
    } cases[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = 0;
        char *c = base64_encode(cases[i].plain, strlen(cases[i].plain), &n);
        ck_assert_str_eq(c, cases[i].coded);
        ck_assert_uint_eq(n, strlen(cases[i].coded));
        free(c);
        unsigned char *d = base64_decode(cases[i].coded, strlen(cases[i].coded), &n);
        ck_assert_ptr_nonnull(d);
        ck_assert_uint_eq(n, strlen(cases[i].plain));
        ck_assert_mem_eq(d, cases[i].plain, n);
        free(d);
    }
    static const char *const bad[] = {"Zg=", "Z", "Zm9v!", "Zh==", "Zm 9v", "=Zg=", "Zg===", NULL};
    for (const char *const *b = bad; *b; b++) {
        size_t n;
        ck_assert_msg(base64_decode(*b, strlen(*b), &n) == NULL, "accepted %s", *b);
    }
    /* What clients send: URL-safe letters, line breaks and padding anywhere. */
    size_t n = 0;
    unsigned char *d = base64_decode_loose("Zm9v\r\nYmFy", 10, &n);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(n, 6);
    ck_assert_mem_eq(d, "foobar", 6);
    free(d);
    d = base64_decode_loose("-_8=", 4, &n); /* "+/8" in the URL-safe alphabet */
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(n, 2);
    ck_assert_mem_eq(d, "\xfb\xff", 2);
    free(d);
    ck_assert_ptr_null(base64_decode_loose("Zm9v!", 5, &n));
}
END_TEST

START_TEST(test_mem)
{
    char *s = xasprintf("%s-%d", "a", 42);
    char *t = xstrndup("abcdef", 3);
    char *u = xstrndup("ab", 10);

    ck_assert_str_eq(s, "a-42");
    ck_assert_str_eq(t, "abc");
    ck_assert_str_eq(u, "ab");
    free(s);
    free(t);
    free(u);
}
END_TEST

START_TEST(test_buf)
{
    struct buf b = BUF_INIT;
    char *s;

    buf_appends(&b, "abc");
    buf_append(&b, "\0de", 3);
    ck_assert_uint_eq(b.len, 6);
    ck_assert_int_eq(memcmp(b.data, "abc\0de", 7), 0);
    buf_reset(&b);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_str_eq(b.data, "");
    for (int i = 0; i < 1000; i++)
        buf_printf(&b, "%04d,", i);
    ck_assert_uint_eq(b.len, 5000);
    ck_assert_uint_eq(strlen(b.data), 5000);
    ck_assert_int_eq(strncmp(b.data + 4995, "0999,", 5), 0);
    s = buf_steal(&b);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_uint_eq(strlen(s), 5000);
    free(s);
    s = buf_steal(&b);
    ck_assert_str_eq(s, "");
    free(s);
    buf_fini(&b);
}
END_TEST

/* ---- id ---- */

static bool all_url_safe(const char *s)
{
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
           strlen(s);
}

START_TEST(test_id_new)
{
    char a[ID_LEN + 1], b[ID_LEN + 1];

    id_new(a);
    id_new(b);
    ck_assert_uint_eq(strlen(a), ID_LEN);
    ck_assert(all_url_safe(a));
    ck_assert(id_is_valid(a));
    ck_assert(id_is_valid(b));
    ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(test_id_random_bytes)
{
    unsigned char buf[4096];
    int counts[256] = {0};

    memset(buf, 0, sizeof buf);
    id_random_bytes(buf, sizeof buf);
    for (size_t i = 0; i < sizeof buf; i++)
        counts[buf[i]]++;
    /* 4096 random bytes: ~16 per value; 60 of one value would be absurd. */
    for (int v = 0; v < 256; v++)
        ck_assert_int_lt(counts[v], 60);
}
END_TEST

static const struct {
    const char *in;
    bool valid;
} id_valid_table[] = {
    {"abcdefghijklmnopqrstuvwx", true},
    {"ABCDEFGHIJKLMNOP0123-_xy", true},
    {"abcdefghijklmnopqrstuvw", false},
    {"abcdefghijklmnopqrstuvwxy", false},
    {"abcdefghijklmnopqrstuv/x", false},
    {"abcdefghijklmnopqrstuv+x", false},
    {"abcdefghijklmnopqrstuv=x", false},
    {"abcdefghijklmnopqrstuv.x", false},
    {"", false},
    {"../../../../../../etc/pa", false},
};

START_TEST(test_id_is_valid)
{
    for (size_t i = 0; i < sizeof(id_valid_table) / sizeof(id_valid_table[0]); i++)
        ck_assert_msg(id_is_valid(id_valid_table[i].in) == id_valid_table[i].valid, "%s",
                      id_valid_table[i].in);
    ck_assert(!id_is_valid(NULL));
}
END_TEST

START_TEST(test_id_base64url)
{
    static const struct {
        const char *in;
        size_t n;
        const char *out;
    } t[] = {
        {"", 0, ""},
        {"f", 1, "Zg"},
        {"fo", 2, "Zm8"},
        {"foo", 3, "Zm9v"},
        {"foob", 4, "Zm9vYg"},
        {"\xfb\xff", 2, "-_8"},
        {"\xff\xff\xff", 3, "____"},
    };
    char out[16];

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        id_base64url((const unsigned char *)t[i].in, t[i].n, out);
        ck_assert_str_eq(out, t[i].out);
    }
}
END_TEST

/* ---- jsonx ---- */

/* The contract's boolean table (jsonx.h). rc -1 means "rejected". */
static const struct {
    const char *json; /* NULL: value missing */
    bool def;
    bool bare_is_true;
    int rc;
    bool out;
} bool_table[] = {
    {NULL, false, false, 0, false},         {NULL, true, false, 0, true},
    {"null", true, true, 0, true},          {"null", false, true, 0, false},
    {"true", false, false, 0, true},        {"false", true, false, 0, false},
    {"1", false, false, 0, true},           {"0", true, false, 0, false},
    {"1.0", false, false, 0, true},         {"2", false, false, -1, false},
    {"-1", false, false, -1, false},        {"\"true\"", false, false, 0, true},
    {"\"True\"", false, false, 0, true},    {"\"TRUE\"", false, false, 0, true},
    {"\"false\"", true, false, 0, false},   {"\"False\"", true, false, 0, false},
    {"\"1\"", false, false, 0, true},       {"\"0\"", true, false, 0, false},
    {"\"yes\"", false, false, 0, true},     {"\"YES\"", false, false, 0, true},
    {"\"no\"", true, false, 0, false},      {"\"on\"", false, false, 0, true},
    {"\"Off\"", true, false, 0, false},     {"\"\"", false, true, 0, true},
    {"\"\"", false, false, 0, false},       {"\"\"", true, false, 0, true},
    {"\"maybe\"", false, false, -1, false}, {"\"2\"", false, false, -1, false},
    {"\" true\"", false, false, -1, false}, {"[]", false, false, -1, false},
    {"{}", false, false, -1, false},
};

START_TEST(test_jsonx_bool)
{
    for (size_t i = 0; i < sizeof(bool_table) / sizeof(bool_table[0]); i++) {
        json_t *v = NULL;
        bool out = !bool_table[i].out;
        int rc;

        if (bool_table[i].json)
            v = json_loads(bool_table[i].json, JSON_DECODE_ANY, NULL);
        ck_assert_msg(bool_table[i].json == NULL || v != NULL, "case %zu", i);
        rc = jsonx_bool(v, bool_table[i].def, bool_table[i].bare_is_true, &out);
        ck_assert_msg(rc == bool_table[i].rc, "case %zu (%s): rc %d", i, bool_table[i].json, rc);
        if (rc == 0)
            ck_assert_msg(out == bool_table[i].out, "case %zu (%s)", i, bool_table[i].json);
        json_decref(v);
    }
}
END_TEST

static const struct {
    const char *json;
    int rc;
    int64_t out; /* default is 7 */
} int_table[] = {
    {NULL, 0, 7},
    {"null", 0, 7},
    {"\"\"", 0, 7},
    {"42", 0, 42},
    {"-5", 0, -5},
    {"3.0", 0, 3},
    {"3.5", -1, 0},
    {"1e300", -1, 0},
    {"\"123\"", 0, 123},
    {"\"-9223372036854775808\"", 0, INT64_MIN},
    {"\"9223372036854775807\"", 0, INT64_MAX},
    {"\"9223372036854775808\"", -1, 0},
    {"\"12a\"", -1, 0},
    {"\" 12\"", -1, 0},
    {"\"1.5\"", -1, 0},
    {"\"+\"", -1, 0},
    {"true", -1, 0},
    {"[]", -1, 0},
};

START_TEST(test_jsonx_int)
{
    for (size_t i = 0; i < sizeof(int_table) / sizeof(int_table[0]); i++) {
        json_t *v = int_table[i].json ? json_loads(int_table[i].json, JSON_DECODE_ANY, NULL) : NULL;
        int64_t out = -999;
        int rc = jsonx_int(v, 7, &out);

        ck_assert_msg(rc == int_table[i].rc, "case %zu (%s)", i, int_table[i].json);
        if (rc == 0)
            ck_assert_msg(out == int_table[i].out, "case %zu (%s)", i, int_table[i].json);
        json_decref(v);
    }
}
END_TEST

static const struct {
    const char *json;
    int rc;
    double out; /* default is 1.5 */
} num_table[] = {
    {NULL, 0, 1.5},     {"null", 0, 1.5},    {"\"\"", 0, 1.5},        {"2", 0, 2.0},
    {"2.25", 0, 2.25},  {"\"0.5\"", 0, 0.5}, {"\"-3e2\"", 0, -300.0}, {"\"nan\"", -1, 0},
    {"\"inf\"", -1, 0}, {"\"0x10\"", -1, 0}, {"\"1e999\"", -1, 0},    {"\"1.2.3\"", -1, 0},
    {"\"abc\"", -1, 0}, {"false", -1, 0},    {"{}", -1, 0},
};

START_TEST(test_jsonx_number)
{
    for (size_t i = 0; i < sizeof(num_table) / sizeof(num_table[0]); i++) {
        json_t *v = num_table[i].json ? json_loads(num_table[i].json, JSON_DECODE_ANY, NULL) : NULL;
        double out = -999;
        int rc = jsonx_number(v, 1.5, &out);

        ck_assert_msg(rc == num_table[i].rc, "case %zu (%s)", i, num_table[i].json);
        if (rc == 0)
            ck_assert_msg(out == num_table[i].out, "case %zu (%s)", i, num_table[i].json);
        json_decref(v);
    }
}
END_TEST

START_TEST(test_jsonx_misc)
{
    json_t *o = json_pack("{s:s, s:s, s:n, s:i}", "a", "x", "e", "", "n", "i", 0);

    ck_assert(jsonx_is_given(json_object_get(o, "a")));
    ck_assert(!jsonx_is_given(json_object_get(o, "e")));
    ck_assert(!jsonx_is_given(json_object_get(o, "n")));
    ck_assert(jsonx_is_given(json_object_get(o, "i")));
    ck_assert(!jsonx_is_given(NULL));
    ck_assert_str_eq(jsonx_str(jsonx_get(o, "a")), "x");
    ck_assert_ptr_null(jsonx_str(jsonx_get(o, "e")));
    ck_assert_ptr_null(jsonx_str(jsonx_get(o, "i")));
    ck_assert_ptr_null(jsonx_str(NULL));
    ck_assert_ptr_null(jsonx_get(NULL, "a"));
    ck_assert_ptr_null(jsonx_get(json_object_get(o, "a"), "a"));
    ck_assert_ptr_null(jsonx_get(o, "missing"));
    json_decref(o);
}
END_TEST

static const struct {
    const char *text;
    int depth;
} depth_table[] = {
    {"", 0},
    {"42", 0},
    {"{}", 1},
    {"[[[]]]", 3},
    {"{\"a\":[1,{\"b\":[]}],\"c\":{}}", 4},
    {"[\"[[[[\"]", 1},
    {"[\"\\\"[[[\"]", 1},
    {"[\"\\\\\",[[]]]", 3},
    {"{\"a]}\":{}}", 2},
    {"]]]][", 1},
};

START_TEST(test_jsonx_text_depth)
{
    struct buf deep = BUF_INIT;

    for (size_t i = 0; i < sizeof(depth_table) / sizeof(depth_table[0]); i++)
        ck_assert_msg(jsonx_text_depth(depth_table[i].text, strlen(depth_table[i].text)) ==
                          depth_table[i].depth,
                      "%s", depth_table[i].text);
    /* Only len bytes count. */
    ck_assert_int_eq(jsonx_text_depth("[[[[", 2), 2);
    /* Deep enough to overflow the stack of a recursive implementation. */
    for (int i = 0; i < 2000000; i++)
        buf_append(&deep, "[", 1);
    ck_assert_int_eq(jsonx_text_depth(deep.data, deep.len), 2000000);
    buf_fini(&deep);
}
END_TEST

/* ---- fsx ---- */

static const struct {
    const char *in;
    const char *out;
} safe_table[] = {
    {"photo.png", "photo.png"},
    {"r\xc3\xa9sum\xc3\xa9 1.png", "r\xc3\xa9sum\xc3\xa9 1.png"},
    {"\xe6\x97\xa5\xe6\x9c\xac.pdf", "\xe6\x97\xa5\xe6\x9c\xac.pdf"},
    {"../../etc/passwd", "passwd"},
    {"/etc/passwd", "passwd"},
    {"C:\\x\\y.png", "y.png"},
    {"..\\..\\win.ini", "win.ini"},
    {"a/b\\c/d.txt", "d.txt"},
    {"..", "file"},
    {"...", "file"},
    {"dir/..", "file"},
    {"dir/", "file"},
    {"", "file"},
    {".hidden", "hidden"},
    {"-rf.png", "rf.png"},
    {" .- x.png", "x.png"},
    {"a..b.png", "a..b.png"},
    {"invoice\xe2\x80\xaegnp.exe", "invoice_gnp.exe"},
    {"a\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad"
     "b",
     "a____b"},
    {"a\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9"
     "b",
     "a____b"},
    {"a\r\nb.png", "a__b.png"},
    {"say \"hi\".png", "say _hi_.png"},
    {"tab\there", "tab_here"},
    {"del\x7f", "del_"},
    {"nel\xc2\x85x", "nel_x"},
    {"bad\xff\xfe.png", "bad__.png"},
    {"over\xc0\xaflong", "over__long"},
    {"sur\xed\xa0\x80x", "sur___x"},
    {"cut\xe2\x80", "cut__"},
    {"$(rm -rf ~);.png", "$(rm -rf ~);.png"},
    {"\x1b[31mred", "_[31mred"},
};

static void assert_safe(const char *in, const char *s)
{
    ck_assert_msg(*s != '\0', "empty for %s", in);
    ck_assert_msg(strchr(s, '/') == NULL && strchr(s, '\\') == NULL, "%s -> %s", in, s);
    ck_assert_msg(strchr(".- ", s[0]) == NULL, "%s -> %s", in, s);
    ck_assert_msg(strcmp(s, "..") != 0 && strcmp(s, ".") != 0, "%s", in);
    ck_assert_msg(strlen(s) <= 200, "%s: %zu bytes", in, strlen(s));
    ck_assert_msg(text_utf8_valid(s, strlen(s)), "%s", in);
    for (const char *p = s; *p; p++)
        ck_assert_msg((unsigned char)*p >= 0x20 && *p != 0x7f && *p != '"', "%s", in);
}

START_TEST(test_fsx_safe_name)
{
    char *s;

    for (size_t i = 0; i < sizeof(safe_table) / sizeof(safe_table[0]); i++) {
        s = fsx_safe_name(safe_table[i].in);
        ck_assert_msg(strcmp(s, safe_table[i].out) == 0, "case %zu: got %s", i, s);
        assert_safe(safe_table[i].in, s);
        free(s);
    }
    s = fsx_safe_name(NULL);
    ck_assert_str_eq(s, "file");
    free(s);
}
END_TEST

START_TEST(test_fsx_safe_name_long)
{
    struct buf in = BUF_INIT;
    char *s;

    /* 300 ASCII bytes + extension: cut to 200 bytes, extension kept */
    for (int i = 0; i < 300; i++)
        buf_append(&in, "a", 1);
    buf_appends(&in, ".png");
    s = fsx_safe_name(in.data);
    ck_assert_uint_eq(strlen(s), 200);
    ck_assert_str_eq(s + 196, ".png");
    assert_safe(in.data, s);
    free(s);

    /* multi-byte characters: the cut never splits one */
    buf_reset(&in);
    buf_appends(&in, "x");
    for (int i = 0; i < 150; i++)
        buf_appends(&in, "\xc3\xa9");
    s = fsx_safe_name(in.data);
    ck_assert_uint_eq(strlen(s), 199);
    assert_safe(in.data, s);
    free(s);

    /* a 255-byte name of 3-byte characters (SEC-16 test list) */
    buf_reset(&in);
    for (int i = 0; i < 85; i++)
        buf_appends(&in, "\xe2\x82\xac");
    s = fsx_safe_name(in.data);
    ck_assert_uint_eq(strlen(s), 198);
    assert_safe(in.data, s);
    free(s);
    buf_fini(&in);
}
END_TEST

static const struct {
    const char *in, *base, *ext;
} split_table[] = {
    {"a b.FLV", "a b", "flv"},
    {"noext", "noext", ""},
    {"archive.tar.GZ", "archive.tar", "gz"},
    {"trailing.", "trailing", ""},
    {".bashrc", ".bashrc", ""},
    {"r\xc3\xa9sum\xc3\xa9.Pdf", "r\xc3\xa9sum\xc3\xa9", "pdf"},
};

START_TEST(test_fsx_split_name)
{
    for (size_t i = 0; i < sizeof(split_table) / sizeof(split_table[0]); i++) {
        char *base = NULL, *ext = NULL;

        fsx_split_name(split_table[i].in, &base, &ext);
        ck_assert_str_eq(base, split_table[i].base);
        ck_assert_str_eq(ext, split_table[i].ext);
        free(base);
        free(ext);
    }
}
END_TEST

static char tmpdir[64];

static void tmp_setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_common.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void tmp_teardown(void)
{
    fsx_rm_rf(tmpdir);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(test_fsx_files)
{
    struct err err = ERR_INIT;
    char *path = xasprintf("%s/a/b/c", tmpdir);
    char *file = xasprintf("%s/a/b/c/out.json", tmpdir);
    char *data;
    size_t len = 0;
    struct stat st;

    ck_assert_int_eq(fsx_mkdir_p(path, &err), 0);
    ck_assert_int_eq(fsx_mkdir_p(path, &err), 0);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_int_eq(st.st_mode & 0777, 0700);

    ck_assert_int_eq(fsx_write_atomic(file, "{\"a\":1}", 7, &err), 0);
    ck_assert_int_eq(fsx_file_size(file), 7);
    data = fsx_read_file(file, 100, &len, &err);
    ck_assert_ptr_nonnull(data);
    ck_assert_uint_eq(len, 7);
    ck_assert_str_eq(data, "{\"a\":1}");
    free(data);
    /* overwrite is atomic and leaves no .tmp behind */
    ck_assert_int_eq(fsx_write_atomic(file, "xy", 2, &err), 0);
    ck_assert_int_eq(fsx_file_size(file), 2);
    {
        char *tmp = xasprintf("%s.tmp", file);
        ck_assert_int_eq(fsx_file_size(tmp), -1);
        free(tmp);
    }
    ck_assert_int_eq(fsx_fsync_path(file, &err), 0);
    ck_assert_int_eq(err.code, ERR_OK);

    ck_assert_ptr_null(fsx_read_file(file, 1, &len, &err));
    ck_assert_int_eq(err.code, ERR_TOOBIG);
    err_clear(&err);
    ck_assert_ptr_null(fsx_read_file("/nonexistent/x", 10, &len, &err));
    ck_assert_int_eq(err.code, ERR_NOTFOUND);
    err_clear(&err);
    ck_assert_int_eq(fsx_file_size("/nonexistent/x"), -1);

    /* a file in the way */
    {
        char *under = xasprintf("%s/sub", file);
        ck_assert_int_eq(fsx_mkdir_p(under, &err), -1);
        ck_assert_int_ne(err.code, ERR_OK);
        free(under);
    }
    free(path);
    free(file);
}
END_TEST

START_TEST(test_fsx_rm_rf_no_follow)
{
    char *outside = xasprintf("%s/outside", tmpdir);
    char *keep = xasprintf("%s/outside/keep.txt", tmpdir);
    char *job = xasprintf("%s/job", tmpdir);
    char *deep = xasprintf("%s/job/x/y/z", tmpdir);
    char *link1 = xasprintf("%s/job/link", tmpdir);
    char *link2 = xasprintf("%s/job/x/y/filelink", tmpdir);
    char *f = xasprintf("%s/job/x/y/z/f.bin", tmpdir);
    struct err err = ERR_INIT;

    ck_assert_int_eq(fsx_mkdir_p(outside, &err), 0);
    write_file(keep, "precious");
    ck_assert_int_eq(fsx_mkdir_p(deep, &err), 0);
    write_file(f, "data");
    ck_assert_int_eq(symlink(outside, link1), 0);
    ck_assert_int_eq(symlink(keep, link2), 0);

    ck_assert_int_eq(fsx_rm_rf(job), 0);
    ck_assert_int_eq(access(job, F_OK), -1);
    ck_assert_int_eq(access(keep, F_OK), 0);
    ck_assert_int_eq(fsx_file_size(keep), 8);
    /* missing is not an error; a symlink given directly is removed, not followed */
    ck_assert_int_eq(fsx_rm_rf(job), 0);
    ck_assert_int_eq(symlink(outside, job), 0);
    ck_assert_int_eq(fsx_rm_rf(job), 0);
    ck_assert_int_eq(access(keep, F_OK), 0);
    /* a plain file */
    ck_assert_int_eq(fsx_rm_rf(keep), 0);
    ck_assert_int_eq(access(keep, F_OK), -1);

    free(outside);
    free(keep);
    free(job);
    free(deep);
    free(link1);
    free(link2);
    free(f);
}
END_TEST

/* ---- timefmt ---- */

START_TEST(test_timefmt)
{
    static const struct {
        int64_t t;
        const char *s;
    } t[] = {
        {0, "0000-00-00 00:00:00"},          {1, "1970-01-01 00:00:01"},
        {1700000000, "2023-11-14 22:13:20"}, {1798545600, "2026-12-29 12:00:00"},
        {951782400, "2000-02-29 00:00:00"},
    };
    char out[TIMEFMT_LEN + 1];
    int64_t a, b;

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        time_utc_string(t[i].t, out);
        ck_assert_str_eq(out, t[i].s);
    }
    ck_assert_int_gt(time_now(), 1700000000);
    a = time_mono_ms();
    usleep(20000);
    b = time_mono_ms();
    ck_assert_int_ge(b - a, 15);
    ck_assert_int_lt(b - a, 5000);
}
END_TEST

/* ---- text ---- */

START_TEST(test_text_hexval)
{
    static const struct {
        char c;
        int v;
    } t[] = {
        {'0', 0},  {'9', 9},  {'a', 10}, {'f', 15}, {'A', 10},  {'F', 15},    {'c', 12},
        {'D', 13}, {'/', -1}, {':', -1}, {'@', -1}, {'G', -1},  {'`', -1},    {'g', -1},
        {'x', -1}, {' ', -1}, {'%', -1}, {'+', -1}, {'\0', -1}, {'\xff', -1}, {'\x80', -1},
    };
    int valid = 0;

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        ck_assert_msg(text_hexval(t[i].c) == t[i].v, "case %zu: got %d", i, text_hexval(t[i].c));
    /* Exactly 0-9, a-f and A-F, nothing else in the whole byte range. */
    for (int c = 0; c < 256; c++)
        valid += text_hexval((char)c) >= 0;
    ck_assert_int_eq(valid, 22);
}
END_TEST

/* n is given explicitly: some cases hold a NUL or are cut short on purpose. len 0 = invalid. */
static const struct {
    const char *s;
    size_t n;
    size_t len;
    uint32_t cp;
} utf8_table[] = {
    {"A", 1, 1, 0x41},
    {"", 1, 1, 0}, /* a NUL byte is a valid sequence; callers refuse it separately */
    {"\x7f", 1, 1, 0x7F},
    {"\xc2\x80", 2, 2, 0x80},
    {"\xc3\xa9", 2, 2, 0xE9},
    {"\xdf\xbf", 2, 2, 0x7FF},
    {"\xc3\xa9z", 3, 2, 0xE9},
    {"\xe0\xa0\x80", 3, 3, 0x800},
    {"\xe2\x82\xac", 3, 3, 0x20AC},
    {"\xed\x9f\xbf", 3, 3, 0xD7FF},
    {"\xee\x80\x80", 3, 3, 0xE000},
    {"\xef\xbf\xbf", 3, 3, 0xFFFF},
    {"\xf0\x90\x80\x80", 4, 4, 0x10000},
    {"\xf0\x9f\x98\x80", 4, 4, 0x1F600},
    {"\xf4\x8f\xbf\xbf", 4, 4, 0x10FFFF},
    /* overlong forms */
    {"\xc0\x80", 2, 0, 0},
    {"\xc1\xbf", 2, 0, 0},
    {"\xe0\x80\x80", 3, 0, 0},
    {"\xe0\x9f\xbf", 3, 0, 0},
    {"\xf0\x80\x80\x80", 4, 0, 0},
    {"\xf0\x8f\xbf\xbf", 4, 0, 0},
    /* UTF-16 surrogates */
    {"\xed\xa0\x80", 3, 0, 0},
    {"\xed\xbf\xbf", 3, 0, 0},
    /* above U+10FFFF, and lead bytes that can only start such values */
    {"\xf4\x90\x80\x80", 4, 0, 0},
    {"\xf5\x80\x80\x80", 4, 0, 0},
    {"\xf8\x88\x80\x80\x80", 5, 0, 0},
    {"\xfe", 1, 0, 0},
    {"\xff", 1, 0, 0},
    /* stray continuation bytes */
    {"\x80", 1, 0, 0},
    {"\xbf\x80", 2, 0, 0},
    /* truncated by the end of the string, or by n */
    {"\xc3", 1, 0, 0},
    {"\xe2\x82", 2, 0, 0},
    {"\xf0\x9f\x98", 3, 0, 0},
    {"\xc3\xa9", 1, 0, 0},
    {"\xf0\x9f\x98\x80", 3, 0, 0},
    {"A", 0, 0, 0},
    /* a continuation byte missing in the middle */
    {"\xc3(", 2, 0, 0},
    {"\xe2(\xac", 3, 0, 0},
    {"\xe2\x82(", 3, 0, 0},
    {"\xf0\x9f(\x80", 4, 0, 0},
};

START_TEST(test_text_utf8_decode)
{
    for (size_t i = 0; i < sizeof(utf8_table) / sizeof(utf8_table[0]); i++) {
        uint32_t cp = 0xDEADBEEF;
        size_t len = text_utf8_decode(utf8_table[i].s, utf8_table[i].n, &cp);

        ck_assert_msg(len == utf8_table[i].len, "case %zu: length %zu", i, len);
        if (len > 0)
            ck_assert_msg(cp == utf8_table[i].cp, "case %zu: U+%04X", i, (unsigned)cp);
        else
            ck_assert_msg(cp == 0xDEADBEEF, "case %zu: *cp written on failure", i);
        /* Text that starts with a bad sequence is invalid; one good sequence alone is valid. */
        if (utf8_table[i].n > 0 && (len == 0 || len == utf8_table[i].n))
            ck_assert_msg(text_utf8_valid(utf8_table[i].s, utf8_table[i].n) == (len > 0),
                          "case %zu: text_utf8_valid disagrees", i);
    }
}
END_TEST

START_TEST(test_text_utf8_valid)
{
    static const struct {
        const char *s;
        size_t n;
        bool valid;
    } t[] = {
        {"", 0, true},
        {NULL, 0, true},
        {"plain ascii", 11, true},
        {"r\xc3\xa9sum\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 17, true},
        {"a\0b", 3, true},
        {"ab\xc0\x80zz", 6, false},
        {"x\xed\xa0\x80y", 5, false},
        {"\xed\xa0\xbd\xed\xb8\x80", 6, false}, /* CESU-8 pair for U+1F600 */
        {"ok\xf4\x90\x80\x80", 6, false},
        {"abc\xe2\x82", 5, false},
        {"abc\xe2\x82\xac", 5, false}, /* n cuts the last sequence */
        {"abc\xe2\x82\xac", 6, true},
        {"\xffxyz", 4, false},
        {"abc\x80", 4, false},
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        ck_assert_msg(text_utf8_valid(t[i].s, t[i].n) == t[i].valid, "case %zu", i);
}
END_TEST

START_TEST(test_text_utf8_clean)
{
    static const struct {
        const char *in, *out;
    } t[] = {
        {"", ""},
        {"plain", "plain"},
        {"r\xc3\xa9sum\xc3\xa9", "r\xc3\xa9sum\xc3\xa9"},
        {"\xf0\x9f\x98\x80!", "\xf0\x9f\x98\x80!"},
        {"\xc0\x80", "??"},
        {"a\xe0\x80\x80z", "a???z"},
        {"a\xed\xa0\x80z", "a???z"},
        {"\xf4\x90\x80\x80", "????"},
        {"\xff\xfe", "??"},
        {"\xc3(", "?("},
        {"\x80\xc3\xa9", "?\xc3\xa9"},
        {"\xe2\x82\xac\x80", "\xe2\x82\xac?"},
        {"cut \xe2\x82", "cut ??"},
        {"cut \xf0\x9f\x98", "cut ???"},
    };
    char s[64];

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        snprintf(s, sizeof s, "%s", t[i].in);
        text_utf8_clean(s);
        ck_assert_msg(strcmp(s, t[i].out) == 0, "case %zu: got \"%s\"", i, s);
        ck_assert(text_utf8_valid(s, strlen(s)));
    }
}
END_TEST

/* err_set() cleans its message with the strict check: a surrogate or an overlong form quoted
 * from a client must not reach a JSON reply. */
START_TEST(test_text_err_msg_clean)
{
    struct err err = ERR_INIT;

    err_set(&err, ERR_BADPARAM, "bad '%s'", "a\xed\xa0\x80\xe0\x80\x80z\xc3\xa9");
    ck_assert_str_eq(err.msg, "bad 'a??????z\xc3\xa9'");
}
END_TEST

START_TEST(test_text_percent_decode)
{
    static const struct {
        const char *in;
        bool plus_is_space;
        const char *out; /* compared over len bytes: it may hold a NUL */
        size_t len;
    } t[] = {
        {"", false, "", 0},
        {"abc", false, "abc", 3},
        {"%41", false, "A", 1},
        {"%41%62c", false, "Abc", 3},
        {"%c3%A9", false, "\xc3\xa9", 2},
        {"%E2%82%AC", true, "\xe2\x82\xac", 3},
        {"a+b", true, "a b", 3},
        {"a+b", false, "a+b", 3},
        {"+", true, " ", 1},
        {"%2B+", true, "+ ", 2},
        {"%2B+", false, "++", 2},
        {"%zz", false, "%zz", 3},
        {"%4g", true, "%4g", 3},
        {"%g4", true, "%g4", 3},
        {"%4", false, "%4", 2},
        {"a%4", true, "a%4", 3},
        {"%", false, "%", 1},
        {"100%", true, "100%", 4},
        {"%%41", false, "%A", 2},
        {"%00", false, "\0", 1},
        {"a%00b", true, "a\0b", 3},
        {"%25%32%30", false, "%20", 3},
    };
    char out[64];

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        size_t n = strlen(t[i].in), len;

        memset(out, 'Z', sizeof out);
        len = text_percent_decode(t[i].in, n, out, t[i].plus_is_space);
        ck_assert_msg(len == t[i].len, "case %zu: length %zu", i, len);
        ck_assert_msg(memcmp(out, t[i].out, len) == 0, "case %zu: got \"%.*s\"", i, (int)len, out);
        ck_assert_msg(out[len] == '\0', "case %zu: not NUL-terminated", i);
        /* out needs room for n + 1 and nothing past that is touched. */
        ck_assert_msg(out[n + 1] == 'Z', "case %zu: wrote past n + 1", i);
    }
    /* Only s[0..n) is read: an escape cut by n stays literal. */
    ck_assert_uint_eq(text_percent_decode("%41", 2, out, false), 2);
    ck_assert_str_eq(out, "%4");
    ck_assert_uint_eq(text_percent_decode("a+b", 2, out, true), 2);
    ck_assert_str_eq(out, "a ");
}
END_TEST

/* ---- log ---- */

static const struct {
    const char *in, *out;
} redact_table[] = {
    {"nothing to hide", "nothing to hide"},
    {"/process?apikey=abc123&x=1", "/process?apikey=***&x=1"},
    {"?APIKey=abc123", "?APIKey=***"},
    {"a=1&password=hunter2", "a=1&password=***"},
    {"access_token=tok en", "access_token=*** en"},
    {"output[s3][secretaccesskey]=SECRET&output[s3][accesskeyid]=AKIA",
     "output[s3][secretaccesskey]=***&output[s3][accesskeyid]=***"},
    {"output%5Bs3%5D%5Bsessiontoken%5D=tok&b=2", "output%5Bs3%5D%5Bsessiontoken%5D=***&b=2"},
    {"{\"apikey\": \"abc\", \"x\": 1}", "{\"apikey\": \"***\", \"x\": 1}"},
    {"{\"password\":\"se\\\"cr,et\",\"y\":2}", "{\"password\":\"***\",\"y\":2}"},
    {"{\"s3\":{\"SecretAccessKey\" : \"k\",\"AccessKeyId\":\"id\"}}",
     "{\"s3\":{\"SecretAccessKey\" : \"***\",\"AccessKeyId\":\"***\"}}"},
    {"{\"apikey\": 12345}", "{\"apikey\": ***}"},
    {"{\"sessiontoken\": null, \"a\": 1}", "{\"sessiontoken\": ***, \"a\": 1}"},
    {"the apikey is missing", "the apikey is missing"},
    {"apikey", "apikey"},
    {"apikeys=1", "apikeys=1"},
    {"apikey=", "apikey=***"},
};

START_TEST(test_log_redact)
{
    for (size_t i = 0; i < sizeof(redact_table) / sizeof(redact_table[0]); i++) {
        char *s = log_redact(redact_table[i].in);
        ck_assert_msg(strcmp(s, redact_table[i].out) == 0, "case %zu: %s", i, s);
        free(s);
    }
}
END_TEST

START_TEST(test_log_id)
{
    ck_assert_str_eq(log_id("abcdefghijklmnopqrstuvwx"), "abcdef\xe2\x80\xa6");
    ck_assert_str_eq(log_id("abc"), "abc\xe2\x80\xa6");
}
END_TEST

/* Run log calls with stderr sent to a file; returns what was written (new string). */
static char *capture_log(void (*fn)(void))
{
    char *path = xasprintf("%s/log.txt", tmpdir);
    int saved = dup(STDERR_FILENO);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    struct err err = ERR_INIT;
    char *text;

    ck_assert_int_ge(fd, 0);
    dup2(fd, STDERR_FILENO);
    close(fd);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    text = fsx_read_file(path, 1 << 20, NULL, &err);
    ck_assert_ptr_nonnull(text);
    free(path);
    return text;
}

static void log_some(void)
{
    log_set_name("worker 3");
    log_set_level(LOG_INFO);
    log_debug("hidden %d", 1);
    log_info("fetch https://h/x?apikey=%s&a=1", "SECRETKEY");
    log_error("two\nlines\n");
}

START_TEST(test_log_msg)
{
    char *text = capture_log(log_some);
    regex_t re;
    static const char pattern[] =
        "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z INFO worker 3: "
        "fetch https://h/x\\?apikey=\\*\\*\\*&a=1\n"
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z ERROR worker 3: "
        "two\\\\nlines\n$";

    ck_assert_int_eq(regcomp(&re, pattern, REG_EXTENDED), 0);
    ck_assert_msg(regexec(&re, text, 0, NULL, 0) == 0, "log was: %s", text);
    ck_assert_ptr_null(strstr(text, "SECRETKEY"));
    ck_assert_ptr_null(strstr(text, "hidden"));
    regfree(&re);
    free(text);
}
END_TEST

static Suite *common_suite(void)
{
    Suite *s = suite_create("common");
    TCase *tc;

    tc = tcase_create("err");
    tcase_add_test(tc, test_err_set_first_wins);
    tcase_add_test(tc, test_err_long_message_truncated);
    tcase_add_test(tc, test_err_codes);
    suite_add_tcase(s, tc);

    tc = tcase_create("buf");
    tcase_add_test(tc, test_mem);
    tcase_add_test(tc, test_base64);
    tcase_add_test(tc, test_buf);
    suite_add_tcase(s, tc);

    tc = tcase_create("id");
    tcase_add_test(tc, test_id_new);
    tcase_add_test(tc, test_id_random_bytes);
    tcase_add_test(tc, test_id_is_valid);
    tcase_add_test(tc, test_id_base64url);
    suite_add_tcase(s, tc);

    tc = tcase_create("jsonx");
    tcase_add_test(tc, test_jsonx_bool);
    tcase_add_test(tc, test_jsonx_int);
    tcase_add_test(tc, test_jsonx_number);
    tcase_add_test(tc, test_jsonx_misc);
    tcase_add_test(tc, test_jsonx_text_depth);
    suite_add_tcase(s, tc);

    tc = tcase_create("fsx");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, test_fsx_safe_name);
    tcase_add_test(tc, test_fsx_safe_name_long);
    tcase_add_test(tc, test_fsx_split_name);
    tcase_add_test(tc, test_fsx_files);
    tcase_add_test(tc, test_fsx_rm_rf_no_follow);
    suite_add_tcase(s, tc);

    tc = tcase_create("text");
    tcase_add_test(tc, test_text_hexval);
    tcase_add_test(tc, test_text_utf8_decode);
    tcase_add_test(tc, test_text_utf8_valid);
    tcase_add_test(tc, test_text_utf8_clean);
    tcase_add_test(tc, test_text_err_msg_clean);
    tcase_add_test(tc, test_text_percent_decode);
    suite_add_tcase(s, tc);

    tc = tcase_create("timefmt");
    tcase_add_test(tc, test_timefmt);
    suite_add_tcase(s, tc);

    tc = tcase_create("log");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, test_log_redact);
    tcase_add_test(tc, test_log_id);
    tcase_add_test(tc, test_log_msg);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(common_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
