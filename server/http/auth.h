/* SPDX-License-Identifier: MIT */
/* auth.h - API keys on the endpoints that need one (create, convert, processes, user), and
 * the optional per-key rate limit. */
#ifndef CONVERTD_SERVER_HTTP_AUTH_H
#define CONVERTD_SERVER_HTTP_AUTH_H

#include <stdint.h>
#include <jansson.h>
#include <microhttpd.h>

#include "common/err.h"

/* Find the key (Authorization: Bearer, X-CloudConvert-ApiKey, or the apikey parameter) and
 * check it. 0 with *key_id (and *email, new string or NULL, when email != NULL); -1 with
 * ERR_AUTH "No API Key provided!" / "Invalid API Key provided!" or ERR_RATELIMIT. */
int auth_check(struct MHD_Connection *c, const json_t *params, int64_t *key_id, char **email,
               struct err *err);

#endif
