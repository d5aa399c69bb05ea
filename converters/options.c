/* SPDX-License-Identifier: MIT */
/* options.c - converteroptions validated once against a converter's option table. */
#include "converters/options.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>

#include "common/jsonx.h"
#include "common/mem.h"

/* Decimal text of a JSON number: integers exactly, reals in their shortest usual form. */
static void number_text(const json_t *v, char *buf, size_t size)
{
    if (json_is_integer(v)) {
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return;
    }
    double d = json_real_value(v);
    if (d == floor(d) && fabs(d) < 1e15)
        snprintf(buf, size, "%.0f", d);
    else
        snprintf(buf, size, "%.15g", d);
}

/* Parse one value for opt into a new typed JSON value. On failure returns NULL and writes
 * the reason into why. */
static json_t *parse_value(const struct conv_option *opt, const json_t *v, char *why, size_t size)
{
    char text[64];

    switch (opt->type) {
    case CONV_OPT_BOOL: {
        bool b;
        if (jsonx_bool(v, false, false, &b) < 0) {
            snprintf(why, size, "must be true or false");
            return NULL;
        }
        return json_boolean(b);
    }
    case CONV_OPT_INT: {
        int64_t i;
        bool bounded = opt->min != opt->max;
        if (json_is_boolean(v) || jsonx_int(v, 0, &i) < 0 ||
            (bounded && ((double)i < opt->min || (double)i > opt->max))) {
            if (bounded)
                snprintf(why, size, "must be an integer between %.0f and %.0f", opt->min, opt->max);
            else
                snprintf(why, size, "must be an integer");
            return NULL;
        }
        return json_integer((json_int_t)i);
    }
    case CONV_OPT_NUMBER: {
        double d;
        bool bounded = opt->min != opt->max;
        if (json_is_boolean(v) || jsonx_number(v, 0, &d) < 0 || !isfinite(d) ||
            (bounded && (d < opt->min || d > opt->max))) {
            if (bounded)
                snprintf(why, size, "must be a number between %.15g and %.15g", opt->min, opt->max);
            else
                snprintf(why, size, "must be a number");
            return NULL;
        }
        return json_real(d);
    }
    case CONV_OPT_ENUM: {
        /* Clients send enum-like numbers as numbers ("rotate": 90): an integral JSON number
         * is matched by its decimal text, so the table can list "0", "90", ... */
        const char *s = NULL;
        if (json_is_string(v) && !jsonx_has_nul(v)) {
            s = json_string_value(v);
        } else if (json_is_integer(v) ||
                   (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)))) {
            number_text(v, text, sizeof text);
            s = text;
        }
        if (s && opt->choices) {
            for (const char *const *c = opt->choices; *c; c++)
                if (strcasecmp(*c, s) == 0)
                    return json_string(*c);
        }
        size_t off = (size_t)snprintf(why, size, "must be one of");
        for (const char *const *c = opt->choices; c && *c && off < size; c++)
            off +=
                (size_t)snprintf(why + off, size - off, "%s %s", c == opt->choices ? "" : ",", *c);
        return NULL;
    }
    case CONV_OPT_STRING: {
        const char *s = NULL;
        if (json_is_string(v) && !jsonx_has_nul(v)) {
            s = json_string_value(v);
        } else if (json_is_number(v)) {
            number_text(v, text, sizeof text);
            s = text;
        }
        if (!s) {
            snprintf(why, size, "must be a string");
            return NULL;
        }
        if (opt->valid && !opt->valid(s)) {
            snprintf(why, size, "\"%.40s%s\" is not accepted", s, strlen(s) > 40 ? "..." : "");
            return NULL;
        }
        return json_string(s);
    }
    }
    snprintf(why, size, "unsupported option type");
    return NULL;
}

/* The typed default of opt (JSON null when it has none). */
static json_t *default_value(const struct conv_option *opt, struct err *err)
{
    if (!opt->def)
        return json_null();
    json_error_t jerr;
    json_t *def = json_loads(opt->def, JSON_DECODE_ANY, &jerr);
    char why[160];
    json_t *typed = def ? parse_value(opt, def, why, sizeof why) : NULL;
    json_decref(def);
    if (!typed)
        err_set(err, ERR_INTERNAL, "bad default for converter option %s", opt->name);
    return typed;
}

int options_apply(const struct converter *conv, const json_t *given, json_t **effective,
                  json_t **echo, struct err *err)
{
    json_t *eff = json_object();
    json_t *ech = json_object();
    int rc = -1;

    *effective = NULL;
    *echo = NULL;
    if (given && !jsonx_is_given(given))
        given = NULL;
    if (given && !json_is_object(given)) {
        err_set(err, ERR_BADPARAM, "invalid value for converteroptions: must be an object");
        goto out;
    }

    /* compat G6: echo what the client sent with its JSON types, unknown keys included. */
    if (given) {
        const char *key;
        json_t *v;
        json_object_foreach ((json_t *)given, key, v)
            json_object_set_new(ech, key, json_deep_copy(v));
    }

    for (const struct conv_option *opt = conv->options; opt && opt->name; opt++) {
        json_t *v = jsonx_get(given, opt->name);
        json_t *typed;
        if (jsonx_is_given(v)) {
            char why[200];
            typed = parse_value(opt, v, why, sizeof why);
            if (!typed) {
                err_set(err, ERR_BADPARAM, "invalid value for converteroptions[%s]: %s", opt->name,
                        why);
                goto out;
            }
        } else {
            typed = default_value(opt, err);
            if (!typed)
                goto out;
        }
        json_object_set_new(eff, opt->name, typed);
        if (!v)
            json_object_set_new(ech, opt->name, json_null());
    }

    *effective = eff;
    *echo = ech;
    eff = NULL;
    ech = NULL;
    rc = 0;
out:
    json_decref(eff);
    json_decref(ech);
    return rc;
}

json_t *options_defaults_json(const struct converter *conv)
{
    json_t *out = json_object();
    for (const struct conv_option *opt = conv->options; opt && opt->name; opt++) {
        json_t *val = NULL;
        if (opt->def) {
            /* spec "/conversiontypes": every default a JSON string or null, because some
             * clients decode the map as strings. */
            json_t *def = json_loads(opt->def, JSON_DECODE_ANY, NULL);
            if (json_is_string(def))
                val = json_string(json_string_value(def));
            else if (json_is_null(def))
                val = json_null();
            else
                val = json_string(opt->def);
            json_decref(def);
        }
        json_object_set_new(out, opt->name, val ? val : json_null());
    }
    return out;
}

/* Digits only: the numbers go into helper programs' argument vectors as integers we print
 * ourselves, never as the client's text. */
bool options_page_range(const char *s, int *first, int *last)
{
    long v[2] = {0, 0};
    int part = 0;
    const char *p = s;

    if (!s || !*s)
        return false;
    for (;;) {
        const char *start = p;
        while (*p >= '0' && *p <= '9') {
            v[part] = v[part] * 10 + (*p - '0');
            if (v[part] > 1000000000L)
                return false;
            p++;
        }
        if (p == start || v[part] < 1)
            return false;
        if (*p == '\0')
            break;
        if (*p != '-' || part == 1)
            return false;
        part = 1;
        p++;
    }
    if (part == 0)
        v[1] = v[0];
    if (v[1] < v[0])
        return false;
    *first = (int)v[0];
    *last = (int)v[1];
    return true;
}

bool options_page_range_valid(const char *s)
{
    int first, last;
    return options_page_range(s, &first, &last);
}
