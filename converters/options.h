/* SPDX-License-Identifier: MIT */
/* options.h - converteroptions against a converter's option table: validation, typed
 * values with defaults, the echo shown in converter.options, and the /conversiontypes
 * defaults. Done once here, never in each converter. */
#ifndef CONVERTD_CONVERTERS_OPTIONS_H
#define CONVERTD_CONVERTERS_OPTIONS_H

#include "common/err.h"
#include "converters/converter.h"

/* Validate `given` (a JSON object, or NULL) against conv->options.
 * On success returns 0 and sets:
 *   *effective: new object, one key per table entry, holding the typed value (JSON boolean,
 *               integer, real or lower-cased string for ENUM) parsed from the given value
 *               (strings like "75" or "true" are accepted) or the default (null when the
 *               default is NULL);
 *   *echo:      new object, the options as the client sent them, same JSON types, plus
 *               null for each table entry not given; unknown keys are echoed as sent.
 * A given value of null or "" counts as not given. A known option with a bad value →
 * -1, ERR_BADPARAM, message naming it: "invalid value for converteroptions[quality]: ...". */
int options_apply(const struct converter *conv, const json_t *given, json_t **effective,
                  json_t **echo, struct err *err);

/* {NAME: DEFAULT} for /conversiontypes, every DEFAULT a JSON string or null. New ref. */
json_t *options_defaults_json(const struct converter *conv);

/* A page_range value (spec "Converter options"): "N" or "N-M", 1-based, N <= M. True and
 * *first, *last set when valid. */
bool options_page_range(const char *s, int *first, int *last);
/* The same as a conv_option.valid callback. */
bool options_page_range_valid(const char *s);

#endif
