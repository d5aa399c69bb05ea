/* SPDX-License-Identifier: MIT */
/* jsonx.h - jansson helpers for the contract's lenient values: booleans as true, "true",
 * "True", 1, "1", "" (a bare flag); null and "" meaning "not given". */
#ifndef CONVERTD_COMMON_JSONX_H
#define CONVERTD_COMMON_JSONX_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

/* True when v is present and neither null nor the empty string. */
bool jsonx_is_given(const json_t *v);

/* Parse a lenient boolean. A missing/null value gives def. Accepts JSON true/false,
 * numbers 0/1, strings "true"/"false"/"1"/"0"/"yes"/"no"/"on"/"off" (any case), and the
 * empty string as true when bare_is_true (a bare `?wait` flag) else as "not given" (def).
 * Returns 0, or -1 when v is none of these. */
int jsonx_bool(const json_t *v, bool def, bool bare_is_true, bool *out);

/* Parse an integer from a JSON integer, an integral real, or a decimal string.
 * Missing/null/"" gives def. Returns 0, or -1 on anything else or overflow. */
int jsonx_int(const json_t *v, int64_t def, int64_t *out);

/* Parse a number (integer, real or numeric string). Missing/null/"" gives def. */
int jsonx_number(const json_t *v, double def, double *out);

/* True when v is a string holding a NUL byte (JSON "\u0000"): never a valid value, since
 * C code would see it cut short. */
bool jsonx_has_nul(const json_t *v);

/* The string value of v, or NULL when v is not a non-empty string without NUL. Borrowed. */
const char *jsonx_str(const json_t *v);

/* json_object_get(obj, key) that tolerates obj == NULL or a non-object. */
json_t *jsonx_get(const json_t *obj, const char *key);

/* Append s as a JSON string literal (quotes and escapes) to b. s must be valid UTF-8. */
struct buf;
void jsonx_append_string(struct buf *b, const char *s);

/* Maximum nesting depth of a JSON text, computed without recursion (counts [ and { outside
 * strings). Used to refuse deep documents before jansson's recursive parser sees them. */
int jsonx_text_depth(const char *text, size_t len);

#endif
