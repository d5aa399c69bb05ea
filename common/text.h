/* SPDX-License-Identifier: MIT */
/* text.h - byte-level text helpers shared by the parsers: hex digits, percent-decoding and
 * strict UTF-8. */
#ifndef CONVERTD_COMMON_TEXT_H
#define CONVERTD_COMMON_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* All of these are pure functions of their arguments: safe from any thread. */

/* Value of one hex digit (0-9, a-f, A-F), or -1 for any other character. */
int text_hexval(char c);

/* Decode the UTF-8 sequence at the start of s[0..n). Strict: overlong forms, surrogates
 * (U+D800-U+DFFF), code points above U+10FFFF, stray continuation bytes and sequences cut
 * short by n are all invalid. Returns the sequence's length (1-4) and stores the code point
 * in *cp, or returns 0 and leaves *cp alone when the sequence is invalid or n is 0. A NUL
 * byte is a valid 1-byte sequence. */
size_t text_utf8_decode(const char *s, size_t n, uint32_t *cp);

/* True when all of s[0..n) is strict UTF-8 (see text_utf8_decode()); true for n == 0. NUL
 * bytes count as valid: callers that must refuse them check separately. */
bool text_utf8_valid(const char *s, size_t n);

/* Make the NUL-terminated string s strict UTF-8 in place: every byte that does not start a
 * valid sequence becomes '?' (a sequence cut by the string's end included); valid
 * sequences are kept. The length never changes. */
void text_utf8_clean(char *s);

/* Percent-decode s[0..n) into out, which must have room for n + 1 bytes (out may not
 * overlap s). "%XX" with two hex digits becomes that byte, "%00" included; a malformed
 * escape ("%zz", a trailing "%4") is copied as it is. With plus_is_space, '+' becomes a
 * space (application/x-www-form-urlencoded); otherwise it stays '+' (paths, RFC 8187
 * values). out is NUL-terminated; returns the decoded length (strlen(out) is shorter when
 * the input held "%00"). */
size_t text_percent_decode(const char *s, size_t n, char *out, bool plus_is_space);

#endif
