/* SPDX-License-Identifier: MIT */
/* jsonx.c - jansson helpers for the contract's lenient values (compat-notes C4). */
#include "common/jsonx.h"

#include "common/buf.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool jsonx_is_given(const json_t *v)
{
    if (v == NULL || json_is_null(v))
        return false;
    return !(json_is_string(v) && json_string_length(v) == 0);
}

int jsonx_bool(const json_t *v, bool def, bool bare_is_true, bool *out)
{
    static const struct {
        const char *s;
        bool val;
    } words[] = {
        {"true", true},   {"1", true},  {"yes", true}, {"on", true},
        {"false", false}, {"0", false}, {"no", false}, {"off", false},
    };

    if (v == NULL || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    if (json_is_integer(v) || json_is_real(v)) {
        double d = json_number_value(v);
        if (d != 0 && d != 1)
            return -1;
        *out = d == 1;
        return 0;
    }
    if (!json_is_string(v) || jsonx_has_nul(v))
        return -1;
    if (json_string_length(v) == 0) {
        /* `?wait` with no value is a flag; elsewhere "" means "not given" (C4). */
        *out = bare_is_true ? true : def;
        return 0;
    }
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strcasecmp(json_string_value(v), words[i].s) == 0) {
            *out = words[i].val;
            return 0;
        }
    }
    return -1;
}

/* Strict decimal integer: optional sign, digits, nothing else. */
static int parse_int_string(const char *s, int64_t *out)
{
    const char *p = s;
    char *end = NULL;
    long long v;

    if (*p == '+' || *p == '-')
        p++;
    if (*p < '0' || *p > '9')
        return -1; /* strtoll would skip spaces and accept "" */
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int jsonx_int(const json_t *v, int64_t def, int64_t *out)
{
    if (!jsonx_is_given(v)) {
        *out = def;
        return 0;
    }
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        /* 2^63 is exact in a double; anything from it upwards overflows int64_t. */
        if (!isfinite(d) || d != trunc(d) || d < -9223372036854775808.0 ||
            d >= 9223372036854775808.0)
            return -1;
        *out = (int64_t)d;
        return 0;
    }
    if (json_is_string(v) && !jsonx_has_nul(v))
        return parse_int_string(json_string_value(v), out);
    return -1;
}

int jsonx_number(const json_t *v, double def, double *out)
{
    const char *s;
    char *end = NULL;
    double d;

    if (!jsonx_is_given(v)) {
        *out = def;
        return 0;
    }
    if (json_is_integer(v) || json_is_real(v)) {
        *out = json_number_value(v);
        return 0;
    }
    if (!json_is_string(v) || jsonx_has_nul(v))
        return -1;
    s = json_string_value(v);
    /* Plain decimal notation only: strtod would also take "nan", "inf", hex and spaces. */
    if (strspn(s, "0123456789+-.eE") != strlen(s))
        return -1;
    errno = 0;
    d = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(d))
        return -1;
    *out = d;
    return 0;
}

const char *jsonx_str(const json_t *v)
{
    if (v == NULL || !json_is_string(v) || json_string_length(v) == 0 || jsonx_has_nul(v))
        return NULL;
    return json_string_value(v);
}

bool jsonx_has_nul(const json_t *v)
{
    return json_is_string(v) && strlen(json_string_value(v)) != json_string_length(v);
}

json_t *jsonx_get(const json_t *obj, const char *key)
{
    if (obj == NULL || !json_is_object(obj) || key == NULL)
        return NULL;
    return json_object_get(obj, key);
}

int jsonx_text_depth(const char *text, size_t len)
{
    int depth = 0, max = 0;
    bool in_string = false, escaped = false;

    /* A loop, not a parser: deep input must not cost stack (security.md, JSON depth). */
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
            continue;
        }
        switch (c) {
        case '"':
            in_string = true;
            break;
        case '[':
        case '{':
            if (depth < INT_MAX)
                depth++;
            if (depth > max)
                max = depth;
            break;
        case ']':
        case '}':
            if (depth > 0)
                depth--;
            break;
        default:
            break;
        }
    }
    return max;
}

void jsonx_append_string(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    buf_append(b, "\"", 1);
    const char *run = s;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x20 && *p != '"' && *p != '\\')
            continue;
        buf_append(b, run, (size_t)((const char *)p - run));
        char esc[7] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15], 0};
        if (*p == '"' || *p == '\\') {
            esc[1] = (char)*p;
            esc[2] = 0;
        } else if (*p == '\n') {
            esc[1] = 'n';
            esc[2] = 0;
        }
        buf_appends(b, esc);
        run = (const char *)p + 1;
    }
    buf_appends(b, run);
    buf_append(b, "\"", 1);
}
