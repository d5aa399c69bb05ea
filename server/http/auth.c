/* SPDX-License-Identifier: MIT */
/* auth.c - key lookup order and the per-key rate limit (a fixed one-minute window). */
#include "server/http/auth.h"

#include <pthread.h>
#include <string.h>
#include <strings.h>

#include "common/jsonx.h"
#include "common/timefmt.h"
#include "db/key_store.h"
#include "server/config.h"

#define RATE_SLOTS 256

static pthread_mutex_t rate_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    int64_t key_id;
    int64_t window;
    int count;
} rate[RATE_SLOTS];

static int rate_check(int64_t key_id, struct err *err)
{
    if (g_config->rate_limit <= 0)
        return 0;
    int64_t window = time_now() / 60;
    size_t slot = (size_t)key_id % RATE_SLOTS;
    pthread_mutex_lock(&rate_lock);
    if (rate[slot].key_id != key_id || rate[slot].window != window) {
        rate[slot].key_id = key_id;
        rate[slot].window = window;
        rate[slot].count = 0;
    }
    int count = ++rate[slot].count;
    pthread_mutex_unlock(&rate_lock);
    if (count > g_config->rate_limit)
        return err_set(err, ERR_RATELIMIT, "Rate limit of %d requests per minute exceeded",
                       g_config->rate_limit);
    return 0;
}

int auth_check(struct MHD_Connection *c, const json_t *params, int64_t *key_id, char **email,
               struct err *err)
{
    const char *key = NULL;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h && strncasecmp(h, "Bearer ", 7) == 0) {
        key = h + 7;
        while (*key == ' ')
            key++;
    }
    if (!key || !*key)
        key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CloudConvert-ApiKey");
    if (!key || !*key)
        key = jsonx_str(json_object_get(params, "apikey"));
    if (!key || !*key)
        return err_set(err, ERR_AUTH, "No API Key provided!");
    if (key_store_check(key, key_id, email, err) < 0) {
        if (err->code != ERR_AUTH) {
            err_clear(err);
            err_set(err, ERR_AUTH, "Invalid API Key provided!");
        }
        return -1;
    }
    return rate_check(*key_id, err);
}
