/* SPDX-License-Identifier: MIT */
/* id.c - unguessable identifiers from getrandom(2) (security.md SEC-27). */
#include "common/id.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>

#define ID_RAW_BYTES 18

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void id_random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;

    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            /* Predictable ids would be capability leaks: better to stop than to guess. */
            fprintf(stderr, "convertd: getrandom: %s\n", strerror(errno));
            abort();
        }
        /* Requests above 256 bytes may be cut short by a signal. */
        p += got;
        n -= (size_t)got;
    }
}

void id_base64url(const unsigned char *in, size_t n, char *out)
{
    size_t i = 0;
    char *o = out;

    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        *o++ = b64url[v >> 18 & 63];
        *o++ = b64url[v >> 12 & 63];
        *o++ = b64url[v >> 6 & 63];
        *o++ = b64url[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        *o++ = b64url[v >> 18 & 63];
        *o++ = b64url[v >> 12 & 63];
    } else if (n - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        *o++ = b64url[v >> 18 & 63];
        *o++ = b64url[v >> 12 & 63];
        *o++ = b64url[v >> 6 & 63];
    }
    *o = '\0';
}

void id_new(char out[ID_LEN + 1])
{
    unsigned char raw[ID_RAW_BYTES];

    id_random_bytes(raw, sizeof raw);
    id_base64url(raw, sizeof raw, out);
}

bool id_is_valid(const char *s)
{
    size_t i;

    if (s == NULL)
        return false;
    for (i = 0; i < ID_LEN; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false; /* also stops at the NUL of a short string */
    }
    return s[ID_LEN] == '\0';
}
