/* SPDX-License-Identifier: MIT */
/* callback.c - the callback dispatcher (spec "Callbacks", security.md SEC-25).
 *
 * DESIGN
 * Rows in `callbacks` are inserted in the same transaction as the final step, so a crash
 * can never lose one. One thread sends due rows through fetch_ping() (the address-guarded
 * fetcher, no redirects), records each attempt and schedules retries; it sleeps until the
 * next row is due or callback_kick() wakes it. Delivery is at-least-once.
 */
#include "server/engine/callback.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/timefmt.h"
#include "db/db.h"
#include "server/config.h"
#include "storage/fetch.h"

#define MAX_ATTEMPTS 6 /* the first try plus 5 retries */
#define PING_TIMEOUT 30

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static pthread_t thread;
static atomic_bool stopping;
static bool kicked, started;

char *callback_url(const char *url, const char *id, const char *process_url, const char *step)
{
    char *enc_url = curl_easy_escape(NULL, process_url, 0);
    char *enc_id = curl_easy_escape(NULL, id, 0);
    char *full = xasprintf("%s%cid=%s&url=%s&step=%s", url, strchr(url, '?') ? '&' : '?',
                           enc_id ? enc_id : id, enc_url ? enc_url : "", step);
    curl_free(enc_url);
    curl_free(enc_id);
    return full;
}

int callback_insert(const char *process_id, const char *full_url, const char *step, struct err *err)
{
    static const char sql[] =
        "INSERT INTO callbacks (process_id, url, step, next_at) VALUES (?, ?, ?, ?)";
    sqlite3_stmt *st = db_stmt(sql, err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, process_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, full_url, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, step, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, time_now());
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return err_set(err, ERR_INTERNAL, "db: cannot queue callback: %s", sqlite3_errstr(rc));
    return 0;
}

void callback_kick(void)
{
    pthread_mutex_lock(&lock);
    kicked = true;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
}

/* spec "Callbacks": retry on connect/TLS errors, timeouts, 5xx and 429; other statuses are
 * final. */
static bool should_retry(int rc, long status, const struct err *err)
{
    /* A blocked address stays blocked: no point in retrying it. */
    if (rc < 0)
        return strstr(err->msg, "not allowed") == NULL;
    return status >= 500 || status == 429;
}

struct due {
    int64_t id;
    char *url;
    int attempts;
};

/* Send every due callback; returns the time of the next pending one (0 = none). */
static int64_t send_due(void)
{
    static const char sql_due[] =
        "SELECT id, url, attempts FROM callbacks WHERE done = 0 AND next_at <= ? ORDER BY "
        "next_at LIMIT 16";
    static const char sql_next[] = "SELECT MIN(next_at) FROM callbacks WHERE done = 0";
    static const char sql_update[] =
        "UPDATE callbacks SET attempts = ?2, done = ?3, next_at = ?4, last_status = ?5 "
        "WHERE id = ?1";
    struct err err = ERR_INIT;
    struct due due[16];
    int n = 0;
    sqlite3_stmt *st = db_stmt(sql_due, &err);
    if (!st) {
        log_error("callbacks: %s", err.msg);
        return time_now() + 5;
    }
    sqlite3_bind_int64(st, 1, time_now());
    while (n < 16 && sqlite3_step(st) == SQLITE_ROW) {
        due[n].id = sqlite3_column_int64(st, 0);
        due[n].url = xstrdup((const char *)sqlite3_column_text(st, 1));
        due[n].attempts = sqlite3_column_int(st, 2);
        n++;
    }
    sqlite3_reset(st);
    for (int i = 0; i < n && !stopping; i++) {
        long status = 0;
        struct err perr = ERR_INIT;
        int rc = fetch_ping(due[i].url, PING_TIMEOUT, &status, &perr);
        int attempts = due[i].attempts + 1;
        bool retry = should_retry(rc, status, &perr) && attempts < MAX_ATTEMPTS;
        if (rc < 0)
            log_warn("callback attempt %d failed: %s", attempts, perr.msg);
        else if (status >= 500 || status == 429)
            log_warn("callback attempt %d answered HTTP %ld", attempts, status);
        st = db_stmt(sql_update, &err);
        if (st) {
            sqlite3_bind_int64(st, 1, due[i].id);
            sqlite3_bind_int(st, 2, attempts);
            sqlite3_bind_int(st, 3, retry ? 0 : 1);
            sqlite3_bind_int64(st, 4, time_now() + g_config->callback_retry_delay);
            sqlite3_bind_int64(st, 5, status);
            sqlite3_step(st);
            sqlite3_reset(st);
        }
    }
    for (int i = 0; i < n; i++)
        free(due[i].url);
    int64_t next = 0;
    st = db_stmt(sql_next, &err);
    if (st) {
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
            next = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    return next;
}

static void *dispatcher(void *arg)
{
    (void)arg;
    while (!stopping) {
        int64_t next = send_due();
        pthread_mutex_lock(&lock);
        if (!kicked && !stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t now = time_now();
            ts.tv_sec += next == 0 ? 60 : next > now ? next - now : 0;
            if (next == 0 || next > now)
                pthread_cond_timedwait(&cond, &lock, &ts);
        }
        kicked = false;
        pthread_mutex_unlock(&lock);
    }
    db_thread_close();
    return NULL;
}

int callback_start(void)
{
    stopping = false;
    if (pthread_create(&thread, NULL, dispatcher, NULL) != 0)
        return -1;
    started = true;
    return 0;
}

void callback_stop(void)
{
    pthread_mutex_lock(&lock);
    stopping = true;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
    if (started)
        pthread_join(thread, NULL);
    started = false;
}
