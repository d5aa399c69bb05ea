/* SPDX-License-Identifier: MIT */
/* params.h - request parameters from the query string, a JSON body and urlencoded or
 * multipart fields, merged into one JSON object (api-v1.md "Conventions"). Pure functions. */
#ifndef CONVERTD_SERVER_HTTP_PARAMS_H
#define CONVERTD_SERVER_HTTP_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "common/err.h"

#define PARAMS_MAX_DEPTH 64
#define PARAMS_MAX_KEYS  10000

/* Insert one already percent-decoded key=value pair from a query string or form into obj,
 * with bracket notation: a[b][c]=v builds nested objects, a[]=v appends to an array,
 * a[0]=v sets index 0 of an array (objects keyed "0" are turned into arrays by
 * params_finish()). value NULL (a bare flag) is stored as "". A bracketed object beats a
 * scalar of the same name (in either order); otherwise the last occurrence wins.
 * -1 with ERR_BADPARAM on a malformed key or when the key count limit is passed. */
int params_put(json_t *obj, const char *key, const char *value, struct err *err);

/* Parse an application/x-www-form-urlencoded body (or raw query string) into obj with
 * params_put(). '+' is a space; bad percent escapes are kept literally. */
int params_parse_urlencoded(json_t *obj, const char *text, size_t len, struct err *err);

/* Parse a JSON body: must be an object (or empty/whitespace → empty object), strict UTF-8,
 * depth ≤ PARAMS_MAX_DEPTH (checked before parsing, without recursion), no duplicate key
 * (→ ERR_BADPARAM "duplicate key ..."), no NUL. NULL with ERR_BADPARAM naming the problem. */
json_t *params_parse_json(const char *text, size_t len, struct err *err);

/* Merge body parameters over query parameters: a new object. Top-level keys of body win;
 * objects present on both sides are merged recursively (body wins per key), and an object
 * beats a scalar of the same name. */
json_t *params_merge(const json_t *query, const json_t *body);

/* Turn objects whose keys are exactly "0".."n-1" into arrays (from a[0]=..&a[1]=..), and
 * map the old aliases onto their names when the name is absent: format → outputformat,
 * link → file, options → converteroptions. */
void params_finish(json_t *params);

#endif
