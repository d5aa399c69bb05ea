/* SPDX-License-Identifier: MIT */
/* key_store.h - API keys (stored as SHA-256, compared in constant time) and presets. */
#ifndef CONVERTD_DB_KEY_STORE_H
#define CONVERTD_DB_KEY_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "common/err.h"

/* Store a key. key NULL → generate 32 random bytes as URL-safe base64 (43 chars); else the
 * key must be 8..256 printable ASCII (ERR_BADPARAM). email may be NULL. *key_out gets the
 * stored key (new string). A key that already exists → ERR_BADPARAM "key already exists". */
int key_store_add(const char *key, const char *email, char **key_out, struct err *err);

/* All keys as [{"id": N, "prefix": "abcd", "email": "..."|null, "created": "YYYY-MM-DD
 * HH:MM:SS"}] (never the key). New reference. */
json_t *key_store_list(struct err *err);

/* Look a presented key up: hash it, find the row by hash, compare digests with
 * CRYPTO_memcmp. 0 with *key_id (and *email, new string or NULL, when email != NULL);
 * -1 with ERR_AUTH "Invalid API Key provided!" when unknown or malformed. */
int key_store_check(const char *key, int64_t *key_id, char **email, struct err *err);

/* The email address of key key_id (for email=true): *email new string, or NULL when the key
 * has none. */
int key_store_email(int64_t key_id, char **email, struct err *err);

/* Add or replace preset `id` of the key given in clear (ERR_AUTH when unknown); options must
 * be a JSON object (ERR_BADPARAM). */
int preset_store_add(const char *key, const char *id, const json_t *options, struct err *err);

/* The options object of preset id of key_id (new ref); ERR_BADPARAM "preset ID not found"
 * (with the id) when missing. */
json_t *preset_store_get(int64_t key_id, const char *id, struct err *err);

/* [{"key_prefix","id","options"}] of all presets. New reference. */
json_t *preset_store_list(struct err *err);

#endif
