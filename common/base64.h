/* SPDX-License-Identifier: MIT */
/* base64.h - standard base64 (RFC 4648 section 4, with padding) both ways. */
#ifndef CONVERTD_COMMON_BASE64_H
#define CONVERTD_COMMON_BASE64_H

#include <stddef.h>

/* Encode n bytes. Returns a new NUL-terminated string of 4 * ceil(n / 3) characters. */
char *base64_encode(const void *data, size_t n, size_t *out_len);

/* Decode len characters of strict base64: the standard alphabet, '=' padding only at the
 * end (optional), no whitespace. Returns a new buffer (NUL-terminated for convenience, the
 * NUL not counted in *out_len), or NULL when the text is not valid base64. */
unsigned char *base64_decode(const char *text, size_t len, size_t *out_len);

/* Decode what clients send (input=base64): the standard and the URL-safe alphabet ('-', '_'),
 * '=' and whitespace (space, CR, LF) skipped wherever they are. NULL on any other character. */
unsigned char *base64_decode_loose(const char *text, size_t len, size_t *out_len);

#endif
