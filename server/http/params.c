/* SPDX-License-Identifier: MIT */
/* params.c - query, urlencoded and JSON parameters merged into one JSON object. */
#include "server/http/params.h"

#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/jsonx.h"
#include "common/mem.h"
#include "common/text.h"

/* Keys are quoted in error messages; a client can send a megabyte of brackets. */
#define KEY_SHOWN 64

/* One piece of a bracket key: the base name or the text between [ and ]. */
struct seg {
    const char *s;
    size_t len;
};

/* ERR_BADPARAM with a message that is safe to put in a JSON reply: messages quote what the
 * client sent (a name cut at KEY_SHOWN bytes, jansson's "near '...'"), so bytes that are not
 * UTF-8, and control characters, become '?'. */
static int badparam(struct err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int badparam(struct err *err, const char *fmt, ...)
{
    char msg[sizeof err->msg];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    text_utf8_clean(msg);
    /* Controls are ASCII, so they never sit inside a multi-byte sequence that clean() kept. */
    for (char *p = msg; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7F)
            *p = '?';
    }
    return err_set(err, ERR_BADPARAM, "%s", msg);
}

/* spec "Conventions": k[] and k[0] build arrays. Only canonical decimals are indices ("01" is
 * a name), and nine digits keep the value inside size_t everywhere. */
static bool seg_index(const struct seg *sg, size_t *out)
{
    size_t i, n = 0;

    if (sg->len == 0 || sg->len > 9 || (sg->s[0] == '0' && sg->len > 1))
        return false;
    for (i = 0; i < sg->len; i++) {
        if (sg->s[i] < '0' || sg->s[i] > '9')
            return false;
        n = n * 10 + (size_t)(sg->s[i] - '0');
    }
    *out = n;
    return true;
}

/* Split "a[b][]" into segments. n segments make a JSON depth of n, counted as for a JSON body
 * ("a[x]" is {"a":{"x":..}}: 2). The scan stops as soon as the limit is passed, so a key of a
 * million brackets costs no more than one of 64. */
static int split_key(const char *key, struct seg *segs, size_t *nsegs, struct err *err)
{
    size_t p, n = 0;

    p = strcspn(key, "[]");
    if (p == 0 || key[p] == ']')
        goto malformed;
    segs[n++] = (struct seg){key, p};
    while (key[p] == '[') {
        const char *s = key + p + 1;
        size_t len = strcspn(s, "[]");

        if (s[len] != ']')
            goto malformed;
        if (n == PARAMS_MAX_DEPTH)
            return badparam(err, "parameter '%.*s...' is nested deeper than %d", KEY_SHOWN, key,
                            PARAMS_MAX_DEPTH);
        segs[n++] = (struct seg){s, len};
        p += len + 2;
    }
    if (key[p] != '\0')
        goto malformed;
    *nsegs = n;
    return 0;

malformed:
    return badparam(err, "malformed parameter name '%.*s'", KEY_SHOWN, key);
}

/* The member of obj that a[] appends: the first free decimal key from its size upwards, so
 * a[0]=x&a[]=y gives {"0":"x","1":"y"} and params_finish() makes it an array. */
static char *next_free_key(const json_t *obj)
{
    size_t i = json_object_size(obj);
    char k[24];

    for (;;) {
        snprintf(k, sizeof k, "%zu", i);
        if (json_object_get(obj, k) == NULL)
            return xstrdup(k);
        i++;
    }
}

/* {"0":a,"1":b} form of an array, for a[]=x&a[name]=y (PHP's mixed arrays do the same). */
static json_t *array_to_object(const json_t *arr)
{
    json_t *obj = json_object();
    size_t i;

    for (i = 0; i < json_array_size(arr); i++) {
        char k[24];

        snprintf(k, sizeof k, "%zu", i);
        json_object_set(obj, k, json_array_get(arr, i));
    }
    return obj;
}

/* Whether an array can take segment sg as it is: an append or an index up to its size. */
static bool array_takes(const json_t *arr, const struct seg *sg)
{
    size_t idx;

    if (sg->len == 0)
        return true;
    return seg_index(sg, &idx) && idx <= json_array_size(arr);
}

/* The member of container cur at segment sg (borrowed), or NULL. An empty segment (a[])
 * never names an existing member. */
static json_t *slot_get(json_t *cur, const struct seg *sg)
{
    size_t idx;
    char *name;
    json_t *got;

    if (sg->len == 0)
        return NULL;
    if (json_is_array(cur))
        return seg_index(sg, &idx) ? json_array_get(cur, idx) : NULL;
    name = xstrndup(sg->s, sg->len);
    got = json_object_get(cur, name);
    free(name);
    return got;
}

/* Put v (stolen) into container cur at segment sg; for an array, array_takes() holds.
 * Returns v (borrowed), or NULL with err set. */
static json_t *slot_put(json_t *cur, const struct seg *sg, json_t *v, const char *key,
                        struct err *err)
{
    size_t idx = json_array_size(cur);
    char *name = NULL;
    json_t *got = NULL;

    if (json_is_array(cur)) {
        if (sg->len != 0)
            seg_index(sg, &idx);
        if (idx < json_array_size(cur)) {
            json_array_set_new(cur, idx, v);
            return v;
        }
        if (idx >= PARAMS_MAX_KEYS) {
            json_decref(v);
            badparam(err, "too many values for parameter '%.*s' (limit %d)", KEY_SHOWN, key,
                     PARAMS_MAX_KEYS);
            return NULL;
        }
        json_array_append_new(cur, v);
        return v;
    }

    name = sg->len == 0 ? next_free_key(cur) : xstrndup(sg->s, sg->len);
    if (json_object_get(cur, name) == NULL && json_object_size(cur) >= PARAMS_MAX_KEYS) {
        json_decref(v);
        badparam(err, "too many parameters (limit %d)", PARAMS_MAX_KEYS);
        goto out;
    }
    /* jansson refuses names that are not UTF-8 (SEC-18: strict UTF-8); it frees v then. */
    if (json_object_set_new(cur, name, v) != 0) {
        badparam(err, "parameter name '%.*s' is not valid UTF-8", KEY_SHOWN, key);
        goto out;
    }
    got = v;
out:
    free(name);
    return got;
}

int params_put(json_t *obj, const char *key, const char *value, struct err *err)
{
    struct seg segs[PARAMS_MAX_DEPTH];
    size_t nsegs = 0, i;
    json_t *cur = obj, *v, *old;

    assert(json_is_object(obj));
    if (split_key(key, segs, &nsegs, err) != 0)
        return -1;
    /* spec "Conventions": values from a query or a form stay strings; a bare flag is "". */
    v = json_string(value ? value : "");
    if (v == NULL)
        return badparam(err, "parameter '%.*s' is not valid UTF-8", KEY_SHOWN, key);

    for (i = 0; i + 1 < nsegs; i++) {
        const struct seg *next = &segs[i + 1];
        json_t *child = slot_get(cur, &segs[i]);

        if (json_is_array(child) && !array_takes(child, next)) {
            child = slot_put(cur, &segs[i], array_to_object(child), key, err);
        } else if (!json_is_object(child) && !json_is_array(child)) {
            /* spec "Conventions": a bracketed object beats a scalar (input=s3&input[s3][..]). */
            child =
                slot_put(cur, &segs[i], next->len == 0 ? json_array() : json_object(), key, err);
        }
        if (child == NULL) {
            json_decref(v);
            return -1;
        }
        cur = child;
    }

    /* ...and in the other order the scalar that comes later loses to the object. */
    old = slot_get(cur, &segs[nsegs - 1]);
    if (json_is_object(old) || json_is_array(old)) {
        json_decref(v);
        return 0;
    }
    return slot_put(cur, &segs[nsegs - 1], v, key, err) ? 0 : -1;
}

int params_parse_urlencoded(json_t *obj, const char *text, size_t len, struct err *err)
{
    char *scratch = xmalloc(len + 2);
    size_t pos = 0, npairs = 0;
    int rc = -1;

    while (pos < len) {
        const char *seg = text + pos, *amp = memchr(seg, '&', len - pos);
        size_t seglen = amp ? (size_t)(amp - seg) : len - pos;
        const char *eq = memchr(seg, '=', seglen);
        size_t klen = eq ? (size_t)(eq - seg) : seglen;
        char *key = scratch, *val = NULL;
        size_t kdec, vdec = 0;

        pos += seglen + 1;
        if (seglen == 0)
            continue;
        if (++npairs > PARAMS_MAX_KEYS) {
            badparam(err, "too many parameters (limit %d)", PARAMS_MAX_KEYS);
            goto out;
        }
        kdec = text_percent_decode(seg, klen, key, true);
        if (eq) {
            val = scratch + kdec + 1;
            vdec = text_percent_decode(eq + 1, seglen - klen - 1, val, true);
        }
        /* SEC-18: a NUL would silently cut a name or value short. */
        if (memchr(key, '\0', kdec) || (val && memchr(val, '\0', vdec))) {
            badparam(err, "parameter '%.*s' contains a NUL byte", KEY_SHOWN, key);
            goto out;
        }
        /* "&=x" names nothing; browsers send the same for an unnamed form field. */
        if (kdec == 0)
            continue;
        if (params_put(obj, key, val, err) != 0)
            goto out;
    }
    rc = 0;
out:
    free(scratch);
    return rc;
}

static bool is_json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Name the repeated key: jansson reports the position just after the key's closing quote, and
 * its own message drops the key when it is longer than 20 bytes. */
static int duplicate_key(const char *text, size_t len, const json_error_t *je, struct err *err)
{
    size_t end = je->position > 0 ? (size_t)je->position : 0, start;

    if (end >= 2 && end <= len && text[end - 1] == '"') {
        for (start = end - 1; start-- > 0;) {
            size_t bs = 0;

            if (text[start] != '"')
                continue;
            while (bs < start && text[start - bs - 1] == '\\')
                bs++;
            if (bs % 2 == 0) {
                size_t n = end - 1 - (start + 1);

                return badparam(err, "duplicate key \"%.*s%s\" in JSON body",
                                (int)(n > KEY_SHOWN ? KEY_SHOWN : n), text + start + 1,
                                n > KEY_SHOWN ? "..." : "");
            }
        }
    }
    return badparam(err, "duplicate key in JSON body (%s, line %d, column %d)", je->text, je->line,
                    je->column);
}

/* Object members in the whole document; the depth was checked, so the recursion is shallow. */
static size_t count_keys(const json_t *v)
{
    size_t n = 0, i;
    void *it;

    if (json_is_object(v)) {
        for (it = json_object_iter((json_t *)v); it; it = json_object_iter_next((json_t *)v, it))
            n += 1 + count_keys(json_object_iter_value(it));
    } else if (json_is_array(v)) {
        for (i = 0; i < json_array_size(v); i++)
            n += count_keys(json_array_get(v, i));
    }
    return n;
}

/* True when a string anywhere in v holds a NUL byte; path then names it in bracket form
 * ("converteroptions[quality]"). Depth is bounded by the parser's limit. */
static bool find_nul(const json_t *v, struct buf *path)
{
    size_t mark = path->len;
    if (json_is_string(v))
        return jsonx_has_nul(v);
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach (v, i, e) {
            buf_printf(path, "[%zu]", i);
            if (find_nul(e, path))
                return true;
            path->len = mark;
            path->data[mark] = '\0';
        }
    } else if (json_is_object(v)) {
        const char *k;
        json_t *e;
        json_object_foreach ((json_t *)v, k, e) {
            buf_printf(path, "[%.64s]", k);
            if (find_nul(e, path))
                return true;
            path->len = mark;
            path->data[mark] = '\0';
        }
    }
    return false;
}

json_t *params_parse_json(const char *text, size_t len, struct err *err)
{
    json_error_t je;
    json_t *root;
    size_t i;

    /* Some Windows clients start a UTF-8 body with a byte order mark; it carries no data. */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        text += 3;
        len -= 3;
    }
    for (i = 0; i < len && is_json_space(text[i]); i++)
        ;
    if (i == len)
        return json_object();
    /* SEC-18: a NUL cannot be valid JSON text, and names built from it would be cut short. */
    if (memchr(text, '\0', len))
        return badparam(err, "JSON body contains a NUL byte"), NULL;
    /* SEC-18: jansson's parser recurses, so the depth is counted before it runs. */
    if (jsonx_text_depth(text, len) > PARAMS_MAX_DEPTH)
        return badparam(err, "JSON body is nested deeper than %d", PARAMS_MAX_DEPTH), NULL;

    /* JSON_DECODE_ANY so that a top-level string gets our message rather than jansson's. */
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (root == NULL) {
        /* spec "Conventions": a duplicate key inside one JSON document → 400. */
        if (json_error_code(&je) == json_error_duplicate_key || strstr(je.text, "duplicate"))
            duplicate_key(text, len, &je, err);
        else
            badparam(err, "invalid JSON body: %s (line %d, column %d)", je.text, je.line,
                     je.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return badparam(err, "JSON body must be an object"), NULL;
    }
    if (count_keys(root) > PARAMS_MAX_KEYS) {
        json_decref(root);
        return badparam(err, "too many parameters (limit %d)", PARAMS_MAX_KEYS), NULL;
    }
    /* SEC-18: "\u0000" inside a string would cut the value short in C. The parser takes it
     * so that the answer can name the parameter; the key is left to the key check (401). */
    const char *key;
    json_t *v;
    json_object_foreach (root, key, v) {
        struct buf path = BUF_INIT;
        buf_printf(&path, "%.64s", key);
        bool bad = strcmp(key, "apikey") != 0 && find_nul(v, &path);
        if (bad)
            badparam(err, "invalid JSON body: parameter %s contains a NUL byte", path.data);
        buf_fini(&path);
        if (bad) {
            json_decref(root);
            return NULL;
        }
    }
    return root;
}

static bool is_container(const json_t *v)
{
    return json_is_object(v) || json_is_array(v);
}

static void merge_into(json_t *dst, const json_t *src)
{
    void *it;

    for (it = json_object_iter((json_t *)src); it; it = json_object_iter_next((json_t *)src, it)) {
        const char *k = json_object_iter_key(it);
        json_t *sv = json_object_iter_value(it), *dv = json_object_get(dst, k);

        if (json_is_object(dv) && json_is_object(sv)) {
            merge_into(dv, sv);
            continue;
        }
        /* spec "Conventions": null and "" mean "not given" (lar sends converteroptions:null
         * beside query parameters), so they cannot override a value that was given. */
        if (dv != NULL && !jsonx_is_given(sv))
            continue;
        /* A bracketed object beats a scalar of the same name, whichever side it came from. */
        if (is_container(dv) && !is_container(sv))
            continue;
        json_object_set_new(dst, k, json_deep_copy(sv));
    }
}

json_t *params_merge(const json_t *query, const json_t *body)
{
    json_t *out = json_is_object(query) ? json_deep_copy(query) : json_object();

    if (json_is_object(body))
        merge_into(out, body);
    return out;
}

/* New array with the members of obj when its keys are exactly "0".."n-1", else NULL. */
static json_t *as_array(const json_t *obj)
{
    size_t n = json_object_size(obj), i;
    json_t *arr;

    if (!json_is_object(obj) || n == 0)
        return NULL;
    arr = json_array();
    for (i = 0; i < n; i++) {
        char k[24];
        json_t *m;

        snprintf(k, sizeof k, "%zu", i);
        m = json_object_get(obj, k);
        if (m == NULL) {
            json_decref(arr);
            return NULL;
        }
        json_array_append(arr, m);
    }
    return arr;
}

/* Children first, so that a[0][0]=x becomes [["x"]]. Replacing the value under the iterator
 * is what json_object_iter_set_new() is for: the iteration goes on undisturbed. */
static void finish_tree(json_t *v)
{
    json_t *m, *arr;
    void *it;
    size_t i;

    if (json_is_object(v)) {
        for (it = json_object_iter(v); it; it = json_object_iter_next(v, it)) {
            m = json_object_iter_value(it);
            finish_tree(m);
            if ((arr = as_array(m)) != NULL)
                json_object_iter_set_new(v, it, arr);
        }
    } else if (json_is_array(v)) {
        for (i = 0; i < json_array_size(v); i++) {
            m = json_array_get(v, i);
            finish_tree(m);
            if ((arr = as_array(m)) != NULL)
                json_array_set_new(v, i, arr);
        }
    }
}

/* spec "Conventions" and compat C6: the pre-2015 names. */
static const struct {
    const char *alias;
    const char *name;
} aliases[] = {
    {"format", "outputformat"},
    {"link", "file"},
    {"options", "converteroptions"},
};

void params_finish(json_t *params)
{
    size_t i;

    if (!json_is_object(params))
        return;
    finish_tree(params);
    for (i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        json_t *a = json_object_get(params, aliases[i].alias);

        if (a == NULL)
            continue;
        if (jsonx_is_given(a) && !jsonx_is_given(json_object_get(params, aliases[i].name)))
            json_object_set(params, aliases[i].name, a);
        json_object_del(params, aliases[i].alias);
    }
}
