/* SPDX-License-Identifier: MIT */
/* id.h - unguessable identifiers from getrandom(2). */
#ifndef CONVERTD_COMMON_ID_H
#define CONVERTD_COMMON_ID_H

#include <stdbool.h>
#include <stddef.h>

/* 18 random bytes (144 bits) as URL-safe base64 without padding: 24 characters. */
#define ID_LEN 24

/* Fill out (ID_LEN + 1 bytes) with a new id. Aborts if the kernel has no randomness. */
void id_new(char out[ID_LEN + 1]);

/* Fill buf with n random bytes from getrandom(2). Aborts on failure. */
void id_random_bytes(void *buf, size_t n);

/* True if s looks like an id this module makes (length and alphabet): lets the router
 * answer 404 before touching the database. */
bool id_is_valid(const char *s);

/* URL-safe base64 (no padding) of n bytes into out (4*ceil(n/3)+1 bytes suffice). */
void id_base64url(const unsigned char *in, size_t n, char *out);

#endif
