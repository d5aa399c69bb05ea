/* SPDX-License-Identifier: MIT */
/* test_params.c - query, form and JSON parameter parsing (api-v1.md "Conventions",
 * compat-notes.md C, security.md SEC-18). */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "server/http/params.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static json_t *expect_json(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);

    ck_assert_msg(v != NULL, "bad expected JSON in table: %s (%s)", text, je.text);
    return v;
}

/* Fails with both documents printed when got and the expected text differ. */
static void assert_json(int row, const json_t *got, const char *want_text)
{
    json_t *want = expect_json(want_text);
    char *g = json_dumps(got, JSON_SORT_KEYS | JSON_ENCODE_ANY);
    char *w = json_dumps(want, JSON_SORT_KEYS | JSON_ENCODE_ANY);

    ck_assert_msg(json_equal(got, want), "row %d: got %s, want %s", row, g, w);
    free(g);
    free(w);
    json_decref(want);
}

static void assert_err(int row, const struct err *err, const char *want)
{
    ck_assert_msg(err->code == ERR_BADPARAM, "row %d: code %d, want ERR_BADPARAM (%s)", row,
                  err->code, err->msg);
    /* reply.c puts the message into JSON: it must be UTF-8 whatever the client sent. */
    json_t *as_json = json_string(err->msg);

    ck_assert_msg(as_json != NULL, "row %d: message is not UTF-8: %s", row, err->msg);
    json_decref(as_json);
    ck_assert_msg(strstr(err->msg, want) != NULL, "row %d: message '%s' lacks '%s'", row, err->msg,
                  want);
}

/* ---- query strings and urlencoded forms ---- */

#define E10 "%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9"

static const struct {
    const char *text;
    bool finish;      /* run params_finish() before comparing */
    const char *want; /* JSON, or NULL when an error is expected */
    const char *err;  /* part of the error message */
} urlencoded_cases[] = {
    {"a=1", false, "{\"a\":\"1\"}", NULL},
    {"a=1&b=2", false, "{\"a\":\"1\",\"b\":\"2\"}", NULL},
    {"converteroptions[quality]=75", false, "{\"converteroptions\":{\"quality\":\"75\"}}", NULL},
    {"input[s3][bucket]=b", false, "{\"input\":{\"s3\":{\"bucket\":\"b\"}}}", NULL},
    {"output[s3][bucket]=b&output[s3][region]=eu", false,
     "{\"output\":{\"s3\":{\"bucket\":\"b\",\"region\":\"eu\"}}}", NULL},
    /* compat C1: py puts every start parameter in the query of a multipart POST. */
    {"input=upload&converteroptions[quality]=10&wait=True", true,
     "{\"input\":\"upload\",\"converteroptions\":{\"quality\":\"10\"},\"wait\":\"True\"}", NULL},
    /* compat C2: r sends the scalar and the object in one query; the object wins. */
    {"input=s3&input[s3][bucket]=b", false, "{\"input\":{\"s3\":{\"bucket\":\"b\"}}}", NULL},
    {"input[s3][bucket]=b&input=s3", false, "{\"input\":{\"s3\":{\"bucket\":\"b\"}}}", NULL},
    {"input=s3&input[s3][bucket]=b&input=download", false,
     "{\"input\":{\"s3\":{\"bucket\":\"b\"}}}", NULL},
    {"a[x]=1&a[x][y]=2", false, "{\"a\":{\"x\":{\"y\":\"2\"}}}", NULL},
    {"a[x][y]=2&a[x]=1", false, "{\"a\":{\"x\":{\"y\":\"2\"}}}", NULL},
    /* Otherwise the last occurrence wins. */
    {"a=1&a=2", false, "{\"a\":\"2\"}", NULL},
    {"a[x]=1&a[x]=2", false, "{\"a\":{\"x\":\"2\"}}", NULL},
    /* k[] builds an array; k[0] builds one after params_finish(). */
    {"files[]=a&files[]=b", false, "{\"files\":[\"a\",\"b\"]}", NULL},
    {"files[]=a&files[]=b", true, "{\"files\":[\"a\",\"b\"]}", NULL},
    {"files[0]=a&files[1]=b", false, "{\"files\":{\"0\":\"a\",\"1\":\"b\"}}", NULL},
    {"files[0]=a&files[1]=b", true, "{\"files\":[\"a\",\"b\"]}", NULL},
    {"files[1]=b&files[0]=a", true, "{\"files\":[\"a\",\"b\"]}", NULL},
    {"files[0]=a&files[2]=c", true, "{\"files\":{\"0\":\"a\",\"2\":\"c\"}}", NULL},
    {"files[01]=a", true, "{\"files\":{\"01\":\"a\"}}", NULL},
    {"files[]=a&files[0]=z", false, "{\"files\":[\"z\"]}", NULL},
    {"files[]=a&files[1]=b", false, "{\"files\":[\"a\",\"b\"]}", NULL},
    {"files[0]=a&files[]=b", true, "{\"files\":[\"a\",\"b\"]}", NULL},
    {"files[]=a&files[n]=b", true, "{\"files\":{\"0\":\"a\",\"n\":\"b\"}}", NULL},
    {"files[]=a&files[5]=b", false, "{\"files\":{\"0\":\"a\",\"5\":\"b\"}}", NULL},
    {"files[]=a&files=x", false, "{\"files\":[\"a\"]}", NULL},
    {"files=x&files[]=a", false, "{\"files\":[\"a\"]}", NULL},
    {"a[][b]=1&a[][b]=2", false, "{\"a\":[{\"b\":\"1\"},{\"b\":\"2\"}]}", NULL},
    {"a[x][]=1&a[x][]=2", false, "{\"a\":{\"x\":[\"1\",\"2\"]}}", NULL},
    {"a[0][0]=x&a[0][1]=y&a[1][0]=z", true, "{\"a\":[[\"x\",\"y\"],[\"z\"]]}", NULL},
    /* The top level stays an object even when its names are 0..n-1. */
    {"0=a&1=b", true, "{\"0\":\"a\",\"1\":\"b\"}", NULL},
    /* compat C6: the old aliases. */
    {"options[quality]=10", true, "{\"converteroptions\":{\"quality\":\"10\"}}", NULL},
    {"format=png", true, "{\"outputformat\":\"png\"}", NULL},
    {"format=png&outputformat=jpg", true, "{\"outputformat\":\"jpg\"}", NULL},
    {"outputformat=&format=png", true, "{\"outputformat\":\"png\"}", NULL},
    {"link=http%3A%2F%2Fh%2Fa.png", true, "{\"file\":\"http://h/a.png\"}", NULL},
    /* compat C3: a bare flag is "". */
    {"wait", false, "{\"wait\":\"\"}", NULL},
    {"wait&download=false", false, "{\"wait\":\"\",\"download\":\"false\"}", NULL},
    {"a=", false, "{\"a\":\"\"}", NULL},
    {"a=b=c", false, "{\"a\":\"b=c\"}", NULL},
    {"&&a=1&", false, "{\"a\":\"1\"}", NULL},
    {"=x&a=1", false, "{\"a\":\"1\"}", NULL},
    {"", false, "{}", NULL},
    /* Decoding: '+' is a space, bad escapes stay, encoded brackets are brackets. */
    {"a+b=c+d", false, "{\"a b\":\"c d\"}", NULL},
    {"k=%41%62%2b", false, "{\"k\":\"Ab+\"}", NULL},
    {"k=%zz%4", false, "{\"k\":\"%zz%4\"}", NULL},
    {"k=100%", false, "{\"k\":\"100%\"}", NULL},
    {"k=%C3%A9t%C3%A9", false, "{\"k\":\"\\u00e9t\\u00e9\"}", NULL},
    {"converteroptions%5Bquality%5D=75", false, "{\"converteroptions\":{\"quality\":\"75\"}}",
     NULL},
    {"a%26b=1%262", false, "{\"a&b\":\"1&2\"}", NULL},
    /* Malformed names are refused and named. */
    {"a[b=1", false, NULL, "malformed parameter name 'a[b'"},
    {"a]=1", false, NULL, "malformed parameter name 'a]'"},
    {"[a]=1", false, NULL, "malformed parameter name '[a]'"},
    {"a[b]c=1", false, NULL, "malformed parameter name 'a[b]c'"},
    {"a[b]]=1", false, NULL, "malformed parameter name 'a[b]]'"},
    {"a[b[c]]=1", false, NULL, "malformed parameter name 'a[b[c]]'"},
    {"ok=1&a%5Bb=1", false, NULL, "malformed parameter name 'a[b'"},
    /* SEC-18: strict UTF-8, no NUL. */
    {"k=%FF", false, NULL, "not valid UTF-8"},
    {"%FF=1", false, NULL, "not valid UTF-8"},
    {"a[%C0%80]=1", false, NULL, "not valid UTF-8"},
    {"k=a%00b", false, NULL, "NUL"},
    {"%01%FF%C3[=1", false, NULL, "malformed parameter name '???['"},
    /* The name is quoted cut at 64 bytes, here inside a two-byte character. */
    {"x" E10 E10 E10 E10 "[", false, NULL, "malformed parameter name 'x\xc3\xa9"},
    {"k%00x=1", false, NULL, "NUL"},
};

START_TEST(test_urlencoded)
{
    struct err err = ERR_INIT;
    json_t *obj = json_object();
    const char *text = urlencoded_cases[_i].text;
    int rc = params_parse_urlencoded(obj, text, strlen(text), &err);

    if (urlencoded_cases[_i].want) {
        ck_assert_msg(rc == 0, "row %d (%s): %s", _i, text, err.msg);
        if (urlencoded_cases[_i].finish)
            params_finish(obj);
        assert_json(_i, obj, urlencoded_cases[_i].want);
    } else {
        ck_assert_msg(rc == -1, "row %d (%s): accepted", _i, text);
        assert_err(_i, &err, urlencoded_cases[_i].err);
    }
    json_decref(obj);
}
END_TEST

/* params_parse_urlencoded() takes a length: bytes after it are not read. */
START_TEST(test_urlencoded_length)
{
    struct err err = ERR_INIT;
    json_t *obj = json_object();
    const char text[] = {'a', '=', '1', '&', 'b', '=', '2'};

    ck_assert_int_eq(params_parse_urlencoded(obj, text, 5, &err), 0);
    assert_json(0, obj, "{\"a\":\"1\",\"b\":\"\"}");
    json_decref(obj);
}
END_TEST

static const struct {
    const char *key;
    const char *value; /* NULL: a bare flag */
    const char *want;
} put_cases[] = {
    {"wait", NULL, "{\"wait\":\"\"}"},
    {"a b", "c d", "{\"a b\":\"c d\"}"},
    {"converteroptions[quality]", "75", "{\"converteroptions\":{\"quality\":\"75\"}}"},
    {"f[]", "x", "{\"f\":[\"x\"]}"},
    {"f[0]", "x", "{\"f\":{\"0\":\"x\"}}"},
    {"o[]", "", "{\"o\":[\"\"]}"},
    {"o[a b]", "1", "{\"o\":{\"a b\":\"1\"}}"},
};

START_TEST(test_put)
{
    struct err err = ERR_INIT;
    json_t *obj = json_object();

    ck_assert_msg(params_put(obj, put_cases[_i].key, put_cases[_i].value, &err) == 0, "%s",
                  err.msg);
    assert_json(_i, obj, put_cases[_i].want);
    json_decref(obj);
}
END_TEST

/* "a" plus n "[x]" segments: a JSON depth of n + 1. */
static char *deep_key(size_t n, const char *seg)
{
    struct buf b = BUF_INIT;
    size_t i;

    buf_appends(&b, "a");
    for (i = 0; i < n; i++)
        buf_appends(&b, seg);
    return buf_steal(&b);
}

START_TEST(test_put_depth)
{
    struct err err = ERR_INIT;
    json_t *obj = json_object(), *v = obj;
    char *ok = deep_key(PARAMS_MAX_DEPTH - 1, "[x]");
    char *deep = deep_key(PARAMS_MAX_DEPTH, "[x]");
    char *huge = deep_key(100000, "[x]");
    char *open = deep_key(100000, "[");
    int depth = 0;

    ck_assert_msg(params_put(obj, ok, "v", &err) == 0, "%s", err.msg);
    while (json_is_object(v)) {
        v = json_object_get(v, depth == 0 ? "a" : "x");
        depth++;
    }
    ck_assert_int_eq(depth, PARAMS_MAX_DEPTH);
    ck_assert_str_eq(json_string_value(v), "v");

    ck_assert_int_eq(params_put(obj, deep, "v", &err), -1);
    assert_err(0, &err, "nested deeper");
    err_clear(&err);
    ck_assert_int_eq(params_put(obj, huge, "v", &err), -1);
    assert_err(1, &err, "nested deeper");
    err_clear(&err);
    ck_assert_int_eq(params_put(obj, open + 1, "v", &err), -1); /* "[[[[..." */
    assert_err(2, &err, "malformed");
    err_clear(&err);
    ck_assert_int_eq(params_put(obj, open, "v", &err), -1); /* "a[[[[..." */
    ck_assert_int_eq(err.code, ERR_BADPARAM);
    /* The message quotes only the start of the key. */
    ck_assert_uint_lt(strlen(err.msg), 200);
    free(ok);
    free(deep);
    free(huge);
    free(open);
    json_decref(obj);
}
END_TEST

static char *many_pairs(int n, const char *fmt)
{
    struct buf b = BUF_INIT;
    int i;

    for (i = 0; i < n; i++) {
        if (i > 0)
            buf_appends(&b, "&");
        buf_printf(&b, fmt, i);
    }
    return buf_steal(&b);
}

START_TEST(test_key_limit)
{
    struct err err = ERR_INIT;
    json_t *obj = json_object();
    char *ok = many_pairs(PARAMS_MAX_KEYS, "k%d=v");
    char *over = many_pairs(PARAMS_MAX_KEYS + 1, "k%d=v");
    char *arr = many_pairs(PARAMS_MAX_KEYS + 1, "a[]=%d");

    ck_assert_msg(params_parse_urlencoded(obj, ok, strlen(ok), &err) == 0, "%s", err.msg);
    ck_assert_int_eq(json_object_size(obj), PARAMS_MAX_KEYS);
    /* One more name into a full object is refused by params_put() itself. */
    ck_assert_int_eq(params_put(obj, "another", "v", &err), -1);
    assert_err(0, &err, "too many parameters");
    err_clear(&err);
    /* ...while replacing an existing one is fine. */
    ck_assert_int_eq(params_put(obj, "k5", "w", &err), 0);
    ck_assert_str_eq(json_string_value(json_object_get(obj, "k5")), "w");
    json_decref(obj);

    obj = json_object();
    ck_assert_int_eq(params_parse_urlencoded(obj, over, strlen(over), &err), -1);
    assert_err(1, &err, "too many parameters");
    err_clear(&err);
    json_decref(obj);

    obj = json_object();
    ck_assert_int_eq(params_parse_urlencoded(obj, arr, strlen(arr), &err), -1);
    assert_err(2, &err, "too many");
    json_decref(obj);
    free(ok);
    free(over);
    free(arr);
}
END_TEST

/* ---- JSON bodies ---- */

static const struct {
    const char *text;
    size_t len; /* 0: strlen(text) */
    const char *want;
    const char *err;
} json_cases[] = {
    {"", 0, "{}", NULL},
    {" \r\n\t ", 0, "{}", NULL},
    {"{}", 0, "{}", NULL},
    {"{\"a\":1,\"b\":\"x\",\"c\":null,\"d\":true}", 0,
     "{\"a\":1,\"b\":\"x\",\"c\":null,\"d\":true}", NULL},
    {" {\"converteroptions\":{\"quality\":75}} \n", 0, "{\"converteroptions\":{\"quality\":75}}",
     NULL},
    {"\xEF\xBB\xBF{\"a\":1}", 0, "{\"a\":1}", NULL},
    {"{\"s\":\"[[[[{{{{\\\"[[\"}", 0, "{\"s\":\"[[[[{{{{\\\"[[\"}", NULL},
    {"{\"\\u00e9\":\"\\u20ac\"}", 0, "{\"\\u00e9\":\"\\u20ac\"}", NULL},
    /* SEC-18 / spec "Conventions": a duplicate key inside one document → 400. */
    {"{\"a\":1,\"a\":2}", 0, NULL, "duplicate key \"a\" in JSON body"},
    {"{\"a\":1,\"b\":{\"k\":1,\"k\":null}}", 0, NULL, "duplicate key \"k\" in JSON body"},
    {"{\"a rather long key name, over twenty\":1,\"a rather long key name, over twenty\":2}", 0,
     NULL, "duplicate key \"a rather long key name, over twenty\" in JSON body"},
    {"{\"a\\\"b\":1,\"a\\\"b\":2}", 0, NULL, "duplicate key \"a\\\"b\" in JSON body"},
    {"{\"x\":[{\"a\":1,\"a\":1}]}", 0, NULL, "duplicate key"},
    /* Not an object. */
    {"[1,2]", 0, NULL, "JSON body must be an object"},
    {"\"text\"", 0, NULL, "JSON body must be an object"},
    {"42", 0, NULL, "JSON body must be an object"},
    {"null", 0, NULL, "JSON body must be an object"},
    /* Broken documents. */
    {"{", 0, NULL, "invalid JSON body"},
    {"{\"a\":1} x", 0, NULL, "invalid JSON body"},
    {"{\"a\":1}{\"b\":2}", 0, NULL, "invalid JSON body"},
    {"{a:1}", 0, NULL, "invalid JSON body"},
    {"input=upload", 0, NULL, "invalid JSON body"},
    /* Strict UTF-8 and no NUL. */
    {"{\"a\":\"\xff\"}", 0, NULL, "invalid JSON body"},
    {"{\"a\":\"\xc0\x80\"}", 0, NULL, "invalid JSON body"},
    {"{\"a\":\"\xed\xa0\x80\"}", 0, NULL, "invalid JSON body"},
    {"{\"a\":\"\\u0000\"}", 0, NULL, "invalid JSON body"},
    {"{\"a\":1}\0", 8, NULL, "NUL"},
    {"{\"a\":\"x\0y\"}", 11, NULL, "NUL"},
    {"\0", 1, NULL, "NUL"},
};

START_TEST(test_json)
{
    struct err err = ERR_INIT;
    const char *text = json_cases[_i].text;
    size_t len = json_cases[_i].len ? json_cases[_i].len : strlen(text);
    json_t *v = params_parse_json(text, len, &err);

    if (json_cases[_i].want) {
        ck_assert_msg(v != NULL, "row %d: %s", _i, err.msg);
        assert_json(_i, v, json_cases[_i].want);
    } else {
        ck_assert_msg(v == NULL, "row %d: accepted", _i);
        assert_err(_i, &err, json_cases[_i].err);
    }
    json_decref(v);
}
END_TEST

/* n nested containers: {"a":{"a":...[1]...}} alternating, depth exactly n. */
static char *nested_json(size_t n)
{
    struct buf b = BUF_INIT;
    size_t i;

    for (i = 0; i < n; i++)
        buf_appends(&b, i == 0 || i % 2 == 0 ? "{\"a\":" : "[");
    buf_appends(&b, "1");
    for (i = n; i-- > 0;)
        buf_appends(&b, i == 0 || i % 2 == 0 ? "}" : "]");
    return buf_steal(&b);
}

START_TEST(test_json_depth)
{
    struct err err = ERR_INIT;
    char *ok = nested_json(PARAMS_MAX_DEPTH);
    char *deep = nested_json(PARAMS_MAX_DEPTH + 1);
    size_t n = 100000;
    char *open = malloc(n);
    json_t *v;

    v = params_parse_json(ok, strlen(ok), &err);
    ck_assert_msg(v != NULL, "depth 64: %s", err.msg);
    json_decref(v);

    v = params_parse_json(deep, strlen(deep), &err);
    ck_assert_ptr_null(v);
    assert_err(0, &err, "nested deeper than 64");
    err_clear(&err);

    /* 100000 levels: refused before jansson's recursive parser sees them. */
    memset(open, '[', n);
    v = params_parse_json(open, n, &err);
    ck_assert_ptr_null(v);
    assert_err(1, &err, "nested deeper than 64");
    err_clear(&err);
    memset(open, '{', n);
    v = params_parse_json(open, n, &err);
    ck_assert_ptr_null(v);
    assert_err(2, &err, "nested deeper than 64");
    free(open);
    free(ok);
    free(deep);
}
END_TEST

START_TEST(test_json_key_limit)
{
    struct err err = ERR_INIT;
    struct buf b = BUF_INIT;
    json_t *v;
    int i;

    /* Nested keys count too: 1 + PARAMS_MAX_KEYS members in all. */
    buf_appends(&b, "{\"o\":{");
    for (i = 0; i < PARAMS_MAX_KEYS; i++)
        buf_printf(&b, "%s\"k%d\":1", i ? "," : "", i);
    buf_appends(&b, "}}");
    v = params_parse_json(b.data, b.len, &err);
    ck_assert_ptr_null(v);
    assert_err(0, &err, "too many parameters");
    err_clear(&err);

    /* Exactly the limit is fine. */
    buf_reset(&b);
    buf_appends(&b, "{");
    for (i = 0; i < PARAMS_MAX_KEYS; i++)
        buf_printf(&b, "%s\"k%d\":1", i ? "," : "", i);
    buf_appends(&b, "}");
    v = params_parse_json(b.data, b.len, &err);
    ck_assert_msg(v != NULL, "%s", err.msg);
    ck_assert_int_eq(json_object_size(v), PARAMS_MAX_KEYS);
    json_decref(v);
    buf_fini(&b);
}
END_TEST

/* ---- merge ---- */

static const struct {
    const char *query; /* NULL: no query object */
    const char *body;  /* NULL: no body object */
    const char *want;
} merge_cases[] = {
    {"{\"a\":\"1\"}", "{\"a\":\"2\"}", "{\"a\":\"2\"}"},
    {"{\"a\":\"1\"}", "{\"b\":2}", "{\"a\":\"1\",\"b\":2}"},
    {"{\"converteroptions\":{\"quality\":\"10\",\"strip\":\"0\"}}",
     "{\"converteroptions\":{\"strip\":true}}",
     "{\"converteroptions\":{\"quality\":\"10\",\"strip\":true}}"},
    {"{\"o\":{\"s3\":{\"bucket\":\"q\",\"region\":\"eu\"}}}", "{\"o\":{\"s3\":{\"bucket\":\"b\"}}}",
     "{\"o\":{\"s3\":{\"bucket\":\"b\",\"region\":\"eu\"}}}"},
    /* An object beats a scalar, whichever side it is on. */
    {"{\"input\":{\"s3\":{\"bucket\":\"b\"}}}", "{\"input\":\"s3\"}",
     "{\"input\":{\"s3\":{\"bucket\":\"b\"}}}"},
    {"{\"input\":\"s3\"}", "{\"input\":{\"s3\":{\"bucket\":\"b\"}}}",
     "{\"input\":{\"s3\":{\"bucket\":\"b\"}}}"},
    {"{\"files\":[\"a\"]}", "{\"files\":\"b\"}", "{\"files\":[\"a\"]}"},
    {"{\"files\":[\"a\"]}", "{\"files\":[\"b\",\"c\"]}", "{\"files\":[\"b\",\"c\"]}"},
    {"{\"files\":\"a\"}", "{\"files\":[\"b\"]}", "{\"files\":[\"b\"]}"},
    /* compat C4: null and "" in the body are "not given" and leave the query's value. */
    {"{\"outputformat\":\"png\"}", "{\"outputformat\":null}", "{\"outputformat\":\"png\"}"},
    {"{\"outputformat\":\"png\"}", "{\"outputformat\":\"\"}", "{\"outputformat\":\"png\"}"},
    {"{\"converteroptions\":{\"q\":\"1\"}}", "{\"converteroptions\":null}",
     "{\"converteroptions\":{\"q\":\"1\"}}"},
    {"{}", "{\"file\":null}", "{\"file\":null}"},
    {"{\"wait\":\"\"}", "{\"wait\":false}", "{\"wait\":false}"},
    {NULL, "{\"a\":1}", "{\"a\":1}"},
    {"{\"a\":\"1\"}", NULL, "{\"a\":\"1\"}"},
    {NULL, NULL, "{}"},
};

START_TEST(test_merge)
{
    json_t *q = merge_cases[_i].query ? expect_json(merge_cases[_i].query) : NULL;
    json_t *b = merge_cases[_i].body ? expect_json(merge_cases[_i].body) : NULL;
    json_t *q0 = json_deep_copy(q), *b0 = json_deep_copy(b);
    json_t *m = params_merge(q, b);

    ck_assert_ptr_nonnull(m);
    assert_json(_i, m, merge_cases[_i].want);
    /* The inputs are const: neither may change, nor share members with the result. */
    ck_assert(q == NULL || json_equal(q, q0));
    ck_assert(b == NULL || json_equal(b, b0));
    json_object_clear(m);
    ck_assert(q == NULL || json_equal(q, q0));
    json_decref(m);
    json_decref(q);
    json_decref(b);
    json_decref(q0);
    json_decref(b0);
}
END_TEST

/* ---- finish ---- */

static const struct {
    const char *in;
    const char *want;
} finish_cases[] = {
    {"{\"format\":\"png\"}", "{\"outputformat\":\"png\"}"},
    {"{\"format\":\"png\",\"outputformat\":null}", "{\"outputformat\":\"png\"}"},
    {"{\"format\":\"png\",\"outputformat\":\"\"}", "{\"outputformat\":\"png\"}"},
    {"{\"format\":\"png\",\"outputformat\":\"jpg\"}", "{\"outputformat\":\"jpg\"}"},
    {"{\"format\":\"\",\"outputformat\":\"jpg\"}", "{\"outputformat\":\"jpg\"}"},
    {"{\"format\":null}", "{}"},
    {"{\"link\":\"http://h/a\"}", "{\"file\":\"http://h/a\"}"},
    {"{\"link\":\"http://h/a\",\"file\":null}", "{\"file\":\"http://h/a\"}"},
    {"{\"options\":{\"q\":1}}", "{\"converteroptions\":{\"q\":1}}"},
    {"{\"options\":{\"q\":1},\"converteroptions\":{\"x\":2}}", "{\"converteroptions\":{\"x\":2}}"},
    {"{\"options\":{\"q\":1},\"converteroptions\":null}", "{\"converteroptions\":{\"q\":1}}"},
    {"{\"a\":{\"0\":\"x\",\"1\":\"y\"}}", "{\"a\":[\"x\",\"y\"]}"},
    {"{\"a\":{\"1\":\"y\",\"0\":\"x\"}}", "{\"a\":[\"x\",\"y\"]}"},
    {"{\"a\":{\"1\":\"y\"}}", "{\"a\":{\"1\":\"y\"}}"},
    {"{\"a\":{}}", "{\"a\":{}}"},
    {"{\"a\":{\"0\":\"x\",\"b\":\"y\"}}", "{\"a\":{\"0\":\"x\",\"b\":\"y\"}}"},
    {"{\"a\":[{\"0\":\"x\"}]}", "{\"a\":[[\"x\"]]}"},
    {"{\"a\":{\"0\":{\"0\":\"x\",\"1\":\"y\"}}}", "{\"a\":[[\"x\",\"y\"]]}"},
    {"{\"o\":{\"s\":{\"0\":1}}}", "{\"o\":{\"s\":[1]}}"},
    {"{\"0\":\"x\"}", "{\"0\":\"x\"}"},
};

START_TEST(test_finish)
{
    json_t *v = expect_json(finish_cases[_i].in);

    params_finish(v);
    assert_json(_i, v, finish_cases[_i].want);
    json_decref(v);
}
END_TEST

/* ---- whole requests as client libraries send them ---- */

static const struct {
    const char *client;
    const char *query;
    const char *form; /* urlencoded body, or NULL */
    const char *json; /* JSON body, or NULL */
    const char *want;
} request_cases[] = {
    /* py: multipart POST with every start parameter in the query. */
    {"py", "input=upload&converteroptions[quality]=10&wait=True", NULL, NULL,
     "{\"input\":\"upload\",\"converteroptions\":{\"quality\":\"10\"},\"wait\":\"True\"}"},
    /* r: scalar and object in one query. */
    {"r", "apikey=K&input=s3&outputformat=png&input[s3][bucket]=b&input[s3][accesskeyid]=a", NULL,
     NULL,
     "{\"apikey\":\"K\",\"outputformat\":\"png\","
     "\"input\":{\"s3\":{\"bucket\":\"b\",\"accesskeyid\":\"a\"}}}"},
    /* go and net-m: options[...] alias, query only. */
    {"go", "apikey=K&inputformat=png&format=jpg&options[quality]=5", NULL, NULL,
     "{\"apikey\":\"K\",\"inputformat\":\"png\",\"outputformat\":\"jpg\","
     "\"converteroptions\":{\"quality\":\"5\"}}"},
    /* rb-p: link alias. */
    {"rb-p", "apikey=K&input=download&link=http%3A%2F%2Fh%2Fa.png&format=pdf", NULL, NULL,
     "{\"apikey\":\"K\",\"input\":\"download\",\"file\":\"http://h/a.png\","
     "\"outputformat\":\"pdf\"}"},
    /* rb-e: urlencoded body with an empty outputformat. */
    {"rb-e", "", "apikey=K&inputformat=png&outputformat=", NULL,
     "{\"apikey\":\"K\",\"inputformat\":\"png\",\"outputformat\":\"\"}"},
    /* lar: JSON body with nulls; the query's wait survives. */
    {"lar", "wait", NULL,
     "{\"input\":\"upload\",\"preset\":null,\"output\":null,\"converteroptions\":null}",
     "{\"wait\":\"\",\"input\":\"upload\",\"preset\":null,\"output\":null,"
     "\"converteroptions\":null}"},
    /* node: JSON body, file:null, the body wins over the query. */
    {"node", "outputformat=png", NULL,
     "{\"outputformat\":\"jpg\",\"file\":null,\"converteroptions\":{\"quality\":10}}",
     "{\"outputformat\":\"jpg\",\"file\":null,\"converteroptions\":{\"quality\":10}}"},
    /* form files[] next to a JSON-less body: the array survives the merge and finish. */
    {"php", "files[]=a.png", "files[]=b.png&files[]=c.png&mode=combine", NULL,
     "{\"files\":[\"b.png\",\"c.png\"],\"mode\":\"combine\"}"},
    {"php", "converteroptions[quality]=10", "converteroptions[strip]=1&options[x]=2", NULL,
     "{\"converteroptions\":{\"quality\":\"10\",\"strip\":\"1\"}}"},
};

START_TEST(test_request)
{
    struct err err = ERR_INIT;
    json_t *q = json_object(), *b = NULL, *m;

    ck_assert_msg(params_parse_urlencoded(q, request_cases[_i].query,
                                          strlen(request_cases[_i].query), &err) == 0,
                  "%s: %s", request_cases[_i].client, err.msg);
    if (request_cases[_i].form) {
        b = json_object();
        ck_assert_msg(params_parse_urlencoded(b, request_cases[_i].form,
                                              strlen(request_cases[_i].form), &err) == 0,
                      "%s: %s", request_cases[_i].client, err.msg);
    } else if (request_cases[_i].json) {
        b = params_parse_json(request_cases[_i].json, strlen(request_cases[_i].json), &err);
        ck_assert_msg(b != NULL, "%s: %s", request_cases[_i].client, err.msg);
    }
    m = params_merge(q, b);
    params_finish(m);
    assert_json(_i, m, request_cases[_i].want);
    json_decref(m);
    json_decref(q);
    json_decref(b);
}
END_TEST

static Suite *params_suite(void)
{
    Suite *s = suite_create("params");
    TCase *tc;

    tc = tcase_create("urlencoded");
    tcase_add_loop_test(tc, test_urlencoded, 0, N(urlencoded_cases));
    tcase_add_test(tc, test_urlencoded_length);
    suite_add_tcase(s, tc);

    tc = tcase_create("put");
    tcase_add_loop_test(tc, test_put, 0, N(put_cases));
    tcase_add_test(tc, test_put_depth);
    tcase_add_test(tc, test_key_limit);
    suite_add_tcase(s, tc);

    tc = tcase_create("json");
    tcase_add_loop_test(tc, test_json, 0, N(json_cases));
    tcase_add_test(tc, test_json_depth);
    tcase_add_test(tc, test_json_key_limit);
    suite_add_tcase(s, tc);

    tc = tcase_create("merge");
    tcase_add_loop_test(tc, test_merge, 0, N(merge_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("finish");
    tcase_add_loop_test(tc, test_finish, 0, N(finish_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("request");
    tcase_add_loop_test(tc, test_request, 0, N(request_cases));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(params_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
