/* SPDX-License-Identifier: MIT */
/* text.c - hex digits, percent-decoding and strict UTF-8, one copy for every parser. */
#include "common/text.h"

#include <string.h>

int text_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t text_utf8_decode(const char *s, size_t n, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t need, k;
    uint32_t v;

    if (n == 0)
        return 0;
    if (u[0] < 0x80) {
        *cp = u[0];
        return 1;
    }
    /* C0 and C1 could only start overlong 2-byte forms, F5-FF only values above U+10FFFF. */
    if (u[0] >= 0xC2 && u[0] <= 0xDF) {
        need = 1;
        v = u[0] & 0x1F;
    } else if (u[0] >= 0xE0 && u[0] <= 0xEF) {
        need = 2;
        v = u[0] & 0x0F;
    } else if (u[0] >= 0xF0 && u[0] <= 0xF4) {
        need = 3;
        v = u[0] & 0x07;
    } else {
        return 0;
    }
    if (n <= need)
        return 0;
    for (k = 1; k <= need; k++) {
        if ((u[k] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (u[k] & 0x3F);
    }
    /* The lead byte alone cannot rule out overlong 3- and 4-byte forms (E0 80 80, F0 80 80 80),
     * surrogates (ED A0 80) or F4 90 80 80 and above. */
    if ((need == 2 && (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF))) ||
        (need == 3 && (v < 0x10000 || v > 0x10FFFF)))
        return 0;
    *cp = v;
    return need + 1;
}

bool text_utf8_valid(const char *s, size_t n)
{
    size_t i = 0, len;
    uint32_t cp;

    while (i < n) {
        len = text_utf8_decode(s + i, n - i, &cp);
        if (len == 0)
            return false;
        i += len;
    }
    return true;
}

void text_utf8_clean(char *s)
{
    size_t i = 0, n = strlen(s), len;
    uint32_t cp;

    while (i < n) {
        len = text_utf8_decode(s + i, n - i, &cp);
        /* Replace one byte and look again: the next one may start a valid sequence. */
        if (len == 0) {
            s[i++] = '?';
            continue;
        }
        i += len;
    }
}

size_t text_percent_decode(const char *s, size_t n, char *out, bool plus_is_space)
{
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        int hi, lo;

        if (s[i] == '+' && plus_is_space) {
            out[o++] = ' ';
        } else if (s[i] == '%' && i + 2 < n && (hi = text_hexval(s[i + 1])) >= 0 &&
                   (lo = text_hexval(s[i + 2])) >= 0) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            /* A bad escape ("100%", "%zz") is kept as sent, as WHATWG URL decoding does. */
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return o;
}
