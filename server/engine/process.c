/* SPDX-License-Identifier: MIT */
/* process.c - the step machine and the engine behind it.
 *
 * DESIGN
 * A process is a row in `processes`; the step column is the truth. Only this file writes it,
 * through advance(), which checks the allowed-transition table and updates with
 * "WHERE step = old" so two actors (a runner finishing, a DELETE, the reaper) cannot both
 * win. Everything the HTTP layer shows comes from that row (status JSON = columns + doc).
 *
 * Threads: HTTP handlers create/start/delete; one detached thread per input download; N
 * runner threads (N = --workers) pop process ids from an in-memory FIFO (mirrored in the
 * database as step `wait`, so a restart can rebuild it) and hand the job to a worker process
 * through worker_run(); one reaper thread expires old processes and fails stale uploads.
 * The `active` list records which processes a thread currently owns: DELETE on an owned
 * process only raises its cancel flag and the owner removes the files when it notices, so
 * files are never deleted under a thread that is writing them.
 *
 * Completion: the final transition commits together with its callback row (outbox), then
 * waiters_notify() resumes suspended HTTP connections and callback_kick() wakes the
 * dispatcher.
 */
#include "server/engine/process.h"
#include "server/engine/remote.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fsx.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/timefmt.h"
#include "converters/converter.h"
#include "converters/formats.h"
#include "db/db.h"
#include "server/config.h"
#include "server/engine/callback.h"
#include "server/engine/notify.h"
#include "server/engine/waiters.h"
#include "server/engine/worker.h"
#include "storage/fetch.h"
#include "storage/zip.h"

#define MAX_ATTEMPTS 3
#define ZIP_FILE     ".all.zip" /* never clashes: output names never start with a dot */

static const char *const step_names[STEP_N] = {
    [STEP_INPUT] = "input",   [STEP_WAIT] = "wait",         [STEP_CONVERT] = "convert",
    [STEP_OUTPUT] = "output", [STEP_FINISHED] = "finished", [STEP_ERROR] = "error",
};

/* spec "Status": input → (wait) → convert → output → finished; any step may go to error.
 * convert → wait is the restart path (a conversion interrupted by a restart runs again). */
static const bool allowed[STEP_N][STEP_N] = {
    [STEP_INPUT] = {[STEP_WAIT] = true, [STEP_ERROR] = true},
    [STEP_WAIT] = {[STEP_CONVERT] = true, [STEP_ERROR] = true},
    [STEP_CONVERT] = {[STEP_OUTPUT] = true, [STEP_WAIT] = true, [STEP_ERROR] = true},
    [STEP_OUTPUT] = {[STEP_FINISHED] = true, [STEP_WAIT] = true, [STEP_ERROR] = true},
};

const char *process_step_name(enum process_step step)
{
    return step < STEP_N ? step_names[step] : "error";
}

int process_step_from_name(const char *name)
{
    for (int i = 0; i < STEP_N; i++)
        if (name && strcmp(step_names[i], name) == 0)
            return i;
    return -1;
}

bool process_step_allowed(enum process_step from, enum process_step to)
{
    return from < STEP_N && to < STEP_N && allowed[from][to];
}

/* ------------------------------------------------------------------ paths */

static char *job_dir(const char *id)
{
    return xasprintf("%s/jobs/%s", g_config->data_dir, id);
}

static char *job_path(const char *id, const char *sub)
{
    return xasprintf("%s/jobs/%s/%s", g_config->data_dir, id, sub);
}

static char *incoming_dir;

static void incoming_init(void)
{
    incoming_dir = xasprintf("%s/incoming", g_config->data_dir);
}

const char *process_incoming_dir(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, incoming_init);
    return incoming_dir;
}

/* ------------------------------------------------------------------ rows */

#define ROW_COLUMNS                                                                                \
    "id, key_id, base, host, upload_token, download_token, mode, inputformat, outputformat, "      \
    "step, started, percent, message, code, created, starttime, endtime, expire, save, "           \
    "downloads, doc, job"

static char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? xstrdup((const char *)t) : NULL;
}

static json_t *col_json(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    json_t *v = t ? json_loads((const char *)t, 0, NULL) : NULL;
    return v ? v : json_object();
}

static void row_read(sqlite3_stmt *st, struct process *p)
{
    memset(p, 0, sizeof *p);
    p->id = col_text(st, 0);
    p->key_id = sqlite3_column_int64(st, 1);
    p->base = col_text(st, 2);
    p->host = col_text(st, 3);
    p->upload_token = col_text(st, 4);
    p->download_token = col_text(st, 5);
    p->mode = col_text(st, 6);
    p->inputformat = col_text(st, 7);
    p->outputformat = col_text(st, 8);
    int step = process_step_from_name((const char *)sqlite3_column_text(st, 9));
    p->step = step < 0 ? STEP_ERROR : (enum process_step)step;
    p->started = sqlite3_column_int(st, 10) != 0;
    p->percent = sqlite3_column_double(st, 11);
    p->message = col_text(st, 12);
    p->code = sqlite3_column_int(st, 13);
    p->created = sqlite3_column_int64(st, 14);
    p->starttime = sqlite3_column_int64(st, 15);
    p->endtime = sqlite3_column_int64(st, 16);
    p->expire = sqlite3_column_int64(st, 17);
    p->save = sqlite3_column_int(st, 18);
    p->downloads = sqlite3_column_int64(st, 19);
    p->doc = col_json(st, 20);
    p->job = col_json(st, 21);
}

void process_fini(struct process *p)
{
    if (!p)
        return;
    free(p->id);
    free(p->base);
    free(p->host);
    free(p->upload_token);
    free(p->download_token);
    free(p->mode);
    free(p->inputformat);
    free(p->outputformat);
    free(p->message);
    free(p->doc_text);
    json_decref(p->doc);
    json_decref(p->job);
    memset(p, 0, sizeof *p);
}

static int load_where(const char *sql, const char *value, struct process *p, struct err *err)
{
    memset(p, 0, sizeof *p);
    if (!value || !id_is_valid(value))
        return err_set(err, ERR_NOTFOUND, "Process not found");
    sqlite3_stmt *st = db_stmt(sql, err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        row_read(st, p);
        sqlite3_reset(st);
        return 0;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return err_set(err, ERR_NOTFOUND, "Process not found");
    return err_set(err, ERR_INTERNAL, "db: %s", sqlite3_errstr(rc));
}

int process_load(const char *id, struct process *p, struct err *err)
{
    static const char sql[] = "SELECT " ROW_COLUMNS " FROM processes WHERE id = ?";
    return load_where(sql, id, p, err);
}

int process_load_by_token(const char *kind, const char *token, struct process *p, struct err *err)
{
    static const char up[] = "SELECT " ROW_COLUMNS " FROM processes WHERE upload_token = ?";
    static const char down[] = "SELECT " ROW_COLUMNS " FROM processes WHERE download_token = ?";
    return load_where(strcmp(kind, "upload") == 0 ? up : down, token, p, err);
}

bool process_is_final(const struct process *p)
{
    return p->step == STEP_FINISHED || p->step == STEP_ERROR;
}

int process_http_status(const struct process *p)
{
    if (p->step != STEP_ERROR)
        return 200;
    return p->code == 400 ? 400 : 422;
}

/* The doc object as text. New string. */
static char *doc_text(const struct process *p)
{
    if (p->doc_text)
        return xstrdup(p->doc_text);
    char *text = p->doc ? json_dumps(p->doc, JSON_COMPACT) : NULL;
    return text ? text : xstrdup("{}");
}

/* The status is written as text: it is the hottest response of the server, and the row's doc
 * column already holds most of it as JSON text, so nothing is parsed or rebuilt. */
char *process_status_text(const struct process *p, bool with_code)
{
    struct buf b = BUF_INIT;
    buf_appends(&b, "{\"id\":");
    jsonx_append_string(&b, p->id);
    buf_appends(&b, ",\"url\":");
    char *url = xasprintf("%s/process/%s", p->base, p->id);
    jsonx_append_string(&b, url);
    free(url);
    /* spec: percent is a JSON number, exactly 100 at finished */
    if (p->step == STEP_FINISHED)
        buf_appends(&b, ",\"percent\":100");
    else if (p->percent == (double)(int64_t)p->percent)
        buf_printf(&b, ",\"percent\":%lld", (long long)p->percent);
    else
        buf_printf(&b, ",\"percent\":%.10g", p->percent);
    buf_appends(&b, ",\"message\":");
    jsonx_append_string(&b, p->message ? p->message : "");
    buf_printf(&b, ",\"step\":\"%s\",\"starttime\":%lld,\"expire\":%lld",
               process_step_name(p->step), (long long)(p->starttime ? p->starttime : p->created),
               (long long)p->expire);
    char *doc = doc_text(p);
    /* doc is an object: splice its members in ("{}" has none). */
    const char *inner = doc + 1;
    size_t inner_len = strlen(doc) >= 2 ? strlen(doc) - 2 : 0;
    if (inner_len > 0) {
        buf_appends(&b, ",");
        buf_append(&b, inner, inner_len);
    }
    free(doc);
    if (process_is_final(p) && p->endtime)
        buf_printf(&b, ",\"endtime\":%lld", (long long)p->endtime);
    if (with_code && p->step == STEP_ERROR) {
        /* compat G3/K2: a failed process answers its whole status plus code; node and php
         * read "error", py reads "message": both carry the same text. */
        buf_printf(&b, ",\"code\":%d,\"error\":", process_http_status(p));
        jsonx_append_string(&b, p->message ? p->message : "error");
    }
    buf_appends(&b, "}");
    return buf_steal(&b);
}

int process_load_status(const char *id, struct process *p, struct err *err)
{
    /* Only what the status shows; doc arrives as text (output.downloads is kept in it). */
    static const char sql[] =
        "SELECT id, base, step, percent, message, code, created, starttime, endtime, expire, doc "
        "FROM processes WHERE id = ?";
    memset(p, 0, sizeof *p);
    if (!id || !id_is_valid(id))
        return err_set(err, ERR_NOTFOUND, "Process not found");
    sqlite3_stmt *st = db_stmt(sql, err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        if (rc == SQLITE_DONE)
            return err_set(err, ERR_NOTFOUND, "Process not found");
        return err_set(err, ERR_INTERNAL, "db: %s", sqlite3_errstr(rc));
    }
    p->id = col_text(st, 0);
    p->base = col_text(st, 1);
    int step = process_step_from_name((const char *)sqlite3_column_text(st, 2));
    p->step = step < 0 ? STEP_ERROR : (enum process_step)step;
    p->percent = sqlite3_column_double(st, 3);
    p->message = col_text(st, 4);
    p->code = sqlite3_column_int(st, 5);
    p->created = sqlite3_column_int64(st, 6);
    p->starttime = sqlite3_column_int64(st, 7);
    p->endtime = sqlite3_column_int64(st, 8);
    p->expire = sqlite3_column_int64(st, 9);
    p->doc_text = col_text(st, 10);
    sqlite3_reset(st);
    return 0;
}

/* ------------------------------------------------------------------ small SQL helpers */

/* Set doc.KEY = value (stolen) atomically inside SQLite (JSON1), no read-modify-write. */
static int doc_set(const char *id, const char *key, json_t *value, struct err *err)
{
    static const char sql[] =
        "UPDATE processes SET doc = json_set(doc, '$.' || ?2, json(?3)) WHERE id = ?1";
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(value);
    sqlite3_stmt *st = db_stmt(sql, err);
    if (!st) {
        free(text);
        return -1;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    free(text);
    if (rc != SQLITE_DONE)
        return err_set(err, ERR_INTERNAL, "db: %s", sqlite3_errstr(rc));
    return 0;
}

/* Move id from step `from` to `to` with a message; false when the row was not in `from`
 * (deleted, or another actor moved it first). */
static bool advance(const char *id, enum process_step from, enum process_step to,
                    const char *message)
{
    static const char sql[] =
        "UPDATE processes SET step = ?2, message = ?3, percent = CASE WHEN ?2 = 'convert' "
        "THEN 0 ELSE percent END WHERE id = ?1 AND step = ?4";
    struct err err = ERR_INIT;
    if (!process_step_allowed(from, to)) {
        log_error("refused transition %s -> %s", process_step_name(from), process_step_name(to));
        return false;
    }
    sqlite3_stmt *st = db_stmt(sql, &err);
    if (!st) {
        log_error("%s", err.msg);
        return false;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, step_names[to], -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, message, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, step_names[from], -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        log_error("db: advance: %s", sqlite3_errstr(rc));
        return false;
    }
    return sqlite3_changes(db_conn(&err)) == 1;
}

/* Queue the callback of a process that just reached a final step (inside the caller's
 * transaction). */
static int queue_callback(const char *id, const char *step, struct err *err)
{
    static const char sql[] = "SELECT callback, base FROM processes WHERE id = ?";
    sqlite3_stmt *st = db_stmt(sql, err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    char *cb = NULL, *url = NULL;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
        cb = col_text(st, 0);
        url = xasprintf("%s/process/%s", (const char *)sqlite3_column_text(st, 1), id);
    }
    sqlite3_reset(st);
    int rc = 0;
    if (cb) {
        char *full = callback_url(cb, id, url, step);
        rc = callback_insert(id, full, step, err);
        free(full);
    }
    free(cb);
    free(url);
    return rc;
}

/* Run the bound UPDATE st that moves id to its final step (finished or error) in one
 * transaction with the process's callback row (the outbox, SEC-25); then wake the waiters
 * and the callback dispatcher. False when the row was not in a step the UPDATE accepts. */
/* email=true (spec "Start"): tell the key's address, once the final step is committed. */
static void notify_final(const char *id, const char *step)
{
    struct process p;
    struct err err = ERR_INIT;
    if (process_load(id, &p, &err) < 0)
        return;
    const char *to = jsonx_str(json_object_get(p.job, "email"));
    if (to) {
        bool ok = strcmp(step, "finished") == 0;
        const char *url = jsonx_str(json_object_get(json_object_get(p.doc, "output"), "url"));
        notify_email(to, id, step, ok ? NULL : p.message, ok ? url : NULL);
    }
    process_fini(&p);
}

static bool commit_final(const char *id, const char *step, sqlite3_stmt *st)
{
    struct err err = ERR_INIT;
    bool changed = false;
    if (db_begin(&err) < 0) {
        sqlite3_reset(st);
        goto out;
    }
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    changed = rc == SQLITE_DONE && sqlite3_changes(db_conn(&err)) == 1;
    if (rc != SQLITE_DONE)
        err_set(&err, ERR_INTERNAL, "db: %s", sqlite3_errstr(rc));
    if (changed && queue_callback(id, step, &err) < 0) {
        db_rollback();
        changed = false;
        goto out;
    }
    if (db_commit(&err) < 0)
        changed = false;
out:
    if (err.code)
        log_error("process %s: cannot record step %s: %s", log_id(id), step, err.msg);
    if (changed) {
        remote_forget(id);
        notify_final(id, step);
        waiters_notify(id);
        callback_kick();
    }
    return changed;
}

/* Remove every occurrence of what from s, in place. */
static void strip_all(char *s, const char *what)
{
    size_t n = strlen(what);
    char *p;
    while (n && (p = strstr(s, what)))
        memmove(p, p + n, strlen(p + n) + 1);
}

/* Library messages name the files they read ("…/jobs/ID/in/x.tiff: bad seek"): a failure
 * message never shows where the data folder is, only the job-relative name. New string. */
static char *public_message(const char *id, const char *message)
{
    char *msg = xstrdup(message);
    char *job = xasprintf("%s/jobs/%s/", g_config->data_dir, id);
    strip_all(msg, job);
    free(job);
    char *data = xasprintf("%s/", g_config->data_dir);
    strip_all(msg, data);
    free(data);
    return msg;
}

/* Any non-final step → error with code 422; code 400 is a rejected start and only applies to a
 * process nobody started yet (two starts racing: the valid one must not be undone). */
static bool fail_process(const char *id, int code, const char *message)
{
    static const char sql_any[] =
        "UPDATE processes SET step = 'error', code = ?2, message = ?3, endtime = ?4, "
        "expire = ?4 + ?5, started = 1 WHERE id = ?1 AND step NOT IN ('finished', 'error')";
    static const char sql_unstarted[] =
        "UPDATE processes SET step = 'error', code = ?2, message = ?3, endtime = ?4, "
        "expire = ?4 + ?5, started = 1 WHERE id = ?1 AND started = 0";
    struct err err = ERR_INIT;
    sqlite3_stmt *st = db_stmt(code == 400 ? sql_unstarted : sql_any, &err);
    if (!st) {
        log_error("process %s: cannot record failure: %s", log_id(id), err.msg);
        return false;
    }
    char *shown = public_message(id, message);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, code);
    sqlite3_bind_text(st, 3, shown, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, time_now());
    sqlite3_bind_int64(st, 5, g_config->expire_seconds);
    bool changed = commit_final(id, "error", st);
    if (changed)
        log_info("process %s failed: %s", log_id(id), shown);
    free(shown);
    return changed;
}

/* ------------------------------------------------------------------ active processes */

struct active {
    struct active *next;
    char id[ID_LEN + 1];
    volatile bool cancel;
    bool deleted;
};

static pthread_mutex_t active_lock = PTHREAD_MUTEX_INITIALIZER;
static struct active *active_list;

static struct active *active_find_locked(const char *id)
{
    for (struct active *a = active_list; a; a = a->next)
        if (strcmp(a->id, id) == 0)
            return a;
    return NULL;
}

/* Claim ownership of a process for a thread; NULL if another thread owns it. */
static struct active *active_claim(const char *id)
{
    pthread_mutex_lock(&active_lock);
    struct active *a = active_find_locked(id);
    if (a) {
        pthread_mutex_unlock(&active_lock);
        return NULL;
    }
    a = xcalloc(1, sizeof *a);
    snprintf(a->id, sizeof a->id, "%s", id);
    a->next = active_list;
    active_list = a;
    pthread_mutex_unlock(&active_lock);
    return a;
}

/* Give ownership back. If the process was deleted meanwhile, its files go now. */
static void active_release(struct active *a)
{
    pthread_mutex_lock(&active_lock);
    for (struct active **pp = &active_list; *pp; pp = &(*pp)->next) {
        if (*pp == a) {
            *pp = a->next;
            break;
        }
    }
    bool deleted = a->deleted;
    pthread_mutex_unlock(&active_lock);
    if (deleted) {
        char *dir = job_dir(a->id);
        fsx_rm_rf(dir);
        free(dir);
    }
    free(a);
}

/* ------------------------------------------------------------------ queue */

struct qitem {
    struct qitem *next;
    char id[ID_LEN + 1];
};

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_cond = PTHREAD_COND_INITIALIZER;
static struct qitem *queue_head, *queue_tail;
static int queue_len;
static atomic_bool engine_stopping;

static void queue_push(const char *id)
{
    struct qitem *q = xcalloc(1, sizeof *q);
    snprintf(q->id, sizeof q->id, "%s", id);
    pthread_mutex_lock(&queue_lock);
    if (queue_tail)
        queue_tail->next = q;
    else
        queue_head = q;
    queue_tail = q;
    queue_len++;
    pthread_cond_signal(&queue_cond);
    pthread_mutex_unlock(&queue_lock);
}

/* Blocks; false when the engine stops. */
static bool queue_pop(char id[ID_LEN + 1])
{
    pthread_mutex_lock(&queue_lock);
    while (!queue_head && !engine_stopping)
        pthread_cond_wait(&queue_cond, &queue_lock);
    if (engine_stopping) {
        pthread_mutex_unlock(&queue_lock);
        return false;
    }
    struct qitem *q = queue_head;
    queue_head = q->next;
    if (!queue_head)
        queue_tail = NULL;
    queue_len--;
    pthread_mutex_unlock(&queue_lock);
    snprintf(id, ID_LEN + 1, "%s", q->id);
    free(q);
    return true;
}

static void queue_remove(const char *id)
{
    pthread_mutex_lock(&queue_lock);
    for (struct qitem **pp = &queue_head; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->id, id) == 0) {
            struct qitem *q = *pp;
            *pp = q->next;
            if (queue_tail == q) {
                queue_tail = NULL;
                for (struct qitem *t = queue_head; t; t = t->next)
                    queue_tail = t;
            }
            queue_len--;
            free(q);
            break;
        }
    }
    pthread_mutex_unlock(&queue_lock);
}

static bool queue_contains(const char *id)
{
    pthread_mutex_lock(&queue_lock);
    bool found = false;
    for (struct qitem *q = queue_head; q && !found; q = q->next)
        found = strcmp(q->id, id) == 0;
    pthread_mutex_unlock(&queue_lock);
    return found;
}

static bool queue_full(void)
{
    pthread_mutex_lock(&queue_lock);
    bool full = queue_len >= g_config->max_queue;
    pthread_mutex_unlock(&queue_lock);
    return full;
}

/* input → wait, then into the FIFO. */
static void enqueue(const char *id)
{
    if (advance(id, STEP_INPUT, STEP_WAIT, "Waiting for a free worker"))
        queue_push(id);
}

/* ------------------------------------------------------------------ create / start */

int process_create(int64_t key_id, const char *base, const char *host, const char *mode,
                   const char *inputformat, const char *outputformat, struct process *out,
                   struct err *err)
{
    static const char sql[] =
        "INSERT INTO processes (id, key_id, base, host, upload_token, download_token, mode, "
        "inputformat, outputformat, step, message, created, starttime, expire, doc) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'input', 'Preparing process', ?10, ?10, "
        "?11, ?12)";
    char id[ID_LEN + 1], up[ID_LEN + 1], down[ID_LEN + 1];
    id_new(id);
    id_new(up);
    id_new(down);
    int64_t now = time_now();
    /* spec "Status": output.url is known from the first status on (E8). */
    json_t *doc = json_pack("{s:{}, s:{s:o}}", "input", "output", "url",
                            json_sprintf("%s/download/%s", base, down));
    char *doc_text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    sqlite3_stmt *st = db_stmt(sql, err);
    if (!st) {
        free(doc_text);
        return -1;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, key_id);
    sqlite3_bind_text(st, 3, base, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, host, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, up, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, down, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, mode ? mode : "convert", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, inputformat, -1, SQLITE_STATIC);
    if (outputformat)
        sqlite3_bind_text(st, 9, outputformat, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 10, now);
    sqlite3_bind_int64(st, 11, now + g_config->expire_seconds);
    sqlite3_bind_text(st, 12, doc_text, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    free(doc_text);
    if (rc != SQLITE_DONE)
        return err_set(err, ERR_INTERNAL, "db: cannot create process: %s", sqlite3_errstr(rc));
    return process_load(id, out, err);
}

int process_reject(const char *id, const char *message, struct err *err)
{
    (void)err;
    fail_process(id, 400, message);
    return 0;
}

static const char *input_type_name(enum input_type t)
{
    switch (t) {
    case INPUT_DOWNLOAD:
        return "download";
    case INPUT_RAW:
        return "raw";
    case INPUT_BASE64:
        return "base64";
    case INPUT_REMOTE:
        return "remote"; /* the job names the storage ("s3", "ftp") */
    case INPUT_UPLOAD:
        break;
    }
    return "upload";
}

/* The input object of the status for a file name and size. */
static json_t *input_doc(const char *type, const char *filename, int64_t size)
{
    json_t *in = json_pack("{s:s}", "type", type);
    if (filename) {
        char *base, *ext;
        fsx_split_name(filename, &base, &ext);
        json_object_set_new(in, "filename", json_string(filename));
        json_object_set_new(in, "name", json_string(base));
        json_object_set_new(in, "ext", json_string(ext));
        free(base);
        free(ext);
    }
    if (size >= 0)
        json_object_set_new(in, "size", json_integer(size));
    return in;
}

/* A safe input file name: the client's (sanitised) or "file.INPUTFORMAT". New string. */
static char *input_name(const char *given, const char *inputformat)
{
    if (given && *given)
        return fsx_safe_name(given);
    return xasprintf("file.%s", inputformat);
}

/* Put one input file at in/NAME of the job: rename it from src, or write content. */
static int put_input_file(const char *id, const char *name, const char *src, const char *content,
                          size_t content_len, struct err *err)
{
    char *in_dir = job_path(id, "in");
    char *dst = xasprintf("%s/%s", in_dir, name);
    int rc = -1;
    if (fsx_mkdir_p(in_dir, err) < 0)
        goto out;
    if (src) {
        if (rename(src, dst) < 0) {
            err_set(err, ERR_INTERNAL, "cannot move input file: %s", strerror(errno));
            goto out;
        }
    } else if (fsx_write_atomic(dst, content, content_len, err) < 0) {
        goto out;
    }
    rc = 0;
out:
    free(in_dir);
    free(dst);
    return rc;
}

/* Record the job's inputs (names in in/, in order) in job.inputs, and the first one in
 * doc.input (with "files": N when there are several). */
static int record_inputs(const char *id, const char *type, const json_t *names, struct err *err)
{
    static const char sql[] =
        "UPDATE processes SET job = json_set(job, '$.inputs', json(?2)) WHERE id = ?1";
    const char *first = json_string_value(json_array_get(names, 0));
    char *text = json_dumps(names, JSON_COMPACT);
    sqlite3_stmt *st = db_stmt(sql, err);
    int rc = -1;
    if (!st || !first || !text)
        goto out;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    int sr = sqlite3_step(st);
    sqlite3_reset(st);
    if (sr != SQLITE_DONE) {
        err_set(err, ERR_INTERNAL, "db: %s", sqlite3_errstr(sr));
        goto out;
    }
    char *in_dir = job_path(id, "in");
    char *path = xasprintf("%s/%s", in_dir, first);
    json_t *in = input_doc(type, first, fsx_file_size(path));
    free(path);
    free(in_dir);
    if (json_array_size(names) > 1)
        json_object_set_new(in, "files", json_integer((json_int_t)json_array_size(names)));
    rc = doc_set(id, "input", in, err);
out:
    free(text);
    return rc;
}

static int place_input(const char *id, const char *type, const char *name, const char *src,
                       const char *content, size_t content_len, struct err *err)
{
    if (put_input_file(id, name, src, content, content_len, err) < 0)
        return -1;
    json_t *names = json_pack("[s]", name);
    int rc = record_inputs(id, type, names, err);
    json_decref(names);
    return rc;
}

/* The safe name of input i of several, made unique among those already taken (an array of
 * names): a repeated name gets its position in front ("2-a.pdf"). New string. */
static char *several_input_name(const char *given, const char *inputformat, size_t i,
                                const json_t *taken)
{
    char *name =
        given && *given ? fsx_safe_name(given) : xasprintf("file%zu.%s", i + 1, inputformat);
    for (size_t k = 0; k < json_array_size(taken); k++) {
        if (strcmp(json_string_value(json_array_get(taken, k)), name) == 0) {
            char *prefixed = xasprintf("%zu-%s", i + 1, name);
            char *unique = several_input_name(prefixed, inputformat, i, taken);
            free(prefixed);
            free(name);
            return unique;
        }
    }
    return name;
}

static void *download_thread(void *arg);

/* Place the input of a request (upload or raw/base64 content) and queue the process. The
 * process is owned while its folder is written, so a DELETE racing this leaves no orphan
 * folder. A failure ends the process in error (422) and is returned. */
static int place_and_enqueue(const char *id, const char *type, const char *name, const char *src,
                             const char *content, size_t len, struct err *err)
{
    struct active *a = active_claim(id);
    if (!a)
        return err_set(err, ERR_CONVERT, "the process is busy");
    int rc = place_input(id, type, name, src, content, len, err);
    bool deleted = a->deleted;
    if (rc < 0 && !deleted)
        fail_process(id, 422, err->msg);
    /* Let go before queueing: a runner must be able to claim the process at once. */
    active_release(a);
    if (rc == 0 && !deleted)
        enqueue(id);
    return rc;
}

/* Several file parts of the start request: place them all, in order, and queue. */
static int place_parts_and_enqueue(const char *id, const struct start_plan *plan, struct err *err)
{
    struct active *a = active_claim(id);
    if (!a)
        return err_set(err, ERR_CONVERT, "the process is busy");
    json_t *names = json_array();
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < plan->n_files; i++) {
        char *name = several_input_name(plan->files[i].filename, plan->inputformat, i, names);
        rc = put_input_file(id, name, plan->files[i].path, NULL, 0, err);
        json_array_append_new(names, json_string(name));
        free(name);
    }
    if (rc == 0)
        rc = record_inputs(id, "upload", names, err);
    json_decref(names);
    bool deleted = a->deleted;
    if (rc < 0 && !deleted)
        fail_process(id, 422, err->msg);
    active_release(a);
    if (rc == 0 && !deleted)
        enqueue(id);
    return rc;
}

int process_begin(struct process *p, const struct start_plan *plan, struct err *err)
{
    static const char sql[] =
        "UPDATE processes SET started = 1, mode = ?2, inputformat = ?3, outputformat = ?4, "
        "starttime = ?5, save = ?6, callback = ?7, job = ?8, doc = ?9, message = ?10, "
        "expire = ?11 WHERE id = ?1 AND started = 0";
    bool parts = plan->input == INPUT_UPLOAD && plan->n_files > 0 && plan->files[0].path;
    bool queues_now = plan->input == INPUT_RAW || plan->input == INPUT_BASE64 ||
                      (plan->input == INPUT_UPLOAD && plan->upload_path) || parts;
    if (queues_now && queue_full())
        return err_set(err, ERR_BUSY, "the conversion queue is full; try again later");

    int64_t now = time_now();
    json_t *job =
        json_pack("{s:s, s:s, s:s?, s:s, s:O, s:i, s:s, s:[]}", "mode", plan->mode, "in",
                  plan->inputformat, "out", plan->outputformat, "converter",
                  ((const struct converter *)plan->conv)->name, "options", plan->options, "timeout",
                  plan->timeout, "input", input_type_name(plan->input), "inputs");
    if (plan->input == INPUT_DOWNLOAD && plan->n_files > 0) {
        json_t *urls = json_array();
        for (size_t i = 0; i < plan->n_files; i++)
            json_array_append_new(urls, json_pack("{s:s, s:s?}", "url", plan->files[i].url,
                                                  "filename", plan->files[i].filename));
        json_object_set_new(job, "urls", urls);
    } else if (plan->input == INPUT_DOWNLOAD) {
        json_object_set_new(job, "url", json_string(plan->file));
    } else if (plan->input == INPUT_REMOTE) {
        /* spec "Storage parameters": the credentials stay in memory (remote.h) */
        json_object_set_new(job, "input", json_string(remote_kind(plan->input_remote)));
        json_object_set_new(job, "remote_file", json_string(plan->file));
        remote_keep(p->id, "input", plan->input_remote);
    } else if (plan->input == INPUT_UPLOAD && plan->n_files > 0 && !parts) {
        /* spec "Uploads": one PUT per listed name; the conversion starts when all are in */
        json_t *expect = json_array();
        for (size_t i = 0; i < plan->n_files; i++) {
            char *name = several_input_name(plan->files[i].filename, plan->inputformat, i, expect);
            json_array_append_new(expect, json_string(name));
            free(name);
        }
        json_object_set_new(job, "expect", expect);
        json_object_set_new(job, "claimed", json_array());
        json_object_set_new(job, "arrived", json_array());
    }
    if (plan->filename)
        json_object_set_new(job, "filename", json_string(plan->filename));

    json_t *doc = json_deep_copy(p->doc);
    json_t *conv = json_pack("{s:s?, s:s, s:s, s:O}", "format", plan->outputformat, "type",
                             plan->conv->name, "mode", plan->mode, "options", plan->options_echo);
    json_object_set_new(doc, "converter", conv);
    json_object_set_new(doc, "group", json_string(plan->group ? plan->group : ""));
    if (plan->tag && !json_is_null(plan->tag))
        json_object_set(doc, "tag", (json_t *)plan->tag);
    json_object_set_new(doc, "input", json_pack("{s:s}", "type", input_type_name(plan->input)));
    const char *message = "Preparing process";
    if (plan->input == INPUT_UPLOAD && !plan->upload_path && !parts) {
        /* spec "Start": the upload object holds string values only (E2). */
        json_object_set_new(
            doc, "upload",
            json_pack("{s:o}", "url", json_sprintf("%s/upload/%s", p->base, p->upload_token)));
        message = "Waiting for upload";
    } else if (plan->input == INPUT_DOWNLOAD || plan->input == INPUT_REMOTE) {
        message = "Downloading input file";
    }
    if (plan->email)
        json_object_set_new(job, "email", json_string(plan->email));
    if (plan->output_remote) {
        json_object_set_new(job, "remote_output", json_string(remote_kind(plan->output_remote)));
        remote_keep(p->id, "output", plan->output_remote);
    }
    if (plan->save) {
        json_t *output = json_object_get(doc, "output");
        if (json_is_object(output))
            json_object_set_new(output, "save", json_true());
    }
    char *job_text = json_dumps(job, JSON_COMPACT);
    char *doc_text = json_dumps(doc, JSON_COMPACT);
    json_decref(job);
    json_decref(doc);
    int rc = -1;
    sqlite3_stmt *st = db_stmt(sql, err);
    if (!st)
        goto out;
    sqlite3_bind_text(st, 1, p->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, plan->mode, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, plan->inputformat, -1, SQLITE_STATIC);
    if (plan->outputformat)
        sqlite3_bind_text(st, 4, plan->outputformat, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now);
    sqlite3_bind_int(st, 6, plan->save);
    if (plan->callback)
        sqlite3_bind_text(st, 7, plan->callback, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, job_text, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, doc_text, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, message, -1, SQLITE_STATIC);
    /* A started process lives until it ends; the reaper only expires final or unstarted
     * ones, and the final transition sets the real expiry. */
    sqlite3_bind_int64(st, 11, now + g_config->expire_seconds);
    int sr = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (sr != SQLITE_DONE) {
        err_set(err, ERR_INTERNAL, "db: cannot start process: %s", sqlite3_errstr(sr));
        goto out;
    }
    if (sqlite3_changes(db_conn(err)) != 1) {
        err_set(err, ERR_BADPARAM, "Process already started");
        goto out;
    }

    switch (plan->input) {
    case INPUT_UPLOAD:
        if (parts) {
            place_parts_and_enqueue(p->id, plan, err);
            err_clear(err);
        } else if (plan->upload_path) {
            char *name = input_name(plan->filename, plan->inputformat);
            place_and_enqueue(p->id, "upload", name, plan->upload_path, NULL, 0, err);
            free(name);
            err_clear(err);
        }
        break;
    case INPUT_RAW:
    case INPUT_BASE64: {
        char *name = input_name(plan->filename, plan->inputformat);
        place_and_enqueue(p->id, input_type_name(plan->input), name, NULL, plan->content,
                          plan->content_len, err);
        free(name);
        err_clear(err);
        break;
    }
    case INPUT_DOWNLOAD:
    case INPUT_REMOTE: {
        struct active *a = active_claim(p->id);
        pthread_t t;
        pthread_attr_t attr;
        if (!a) {
            err_set(err, ERR_INTERNAL, "process is busy");
            goto fail;
        }
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, download_thread, a) != 0) {
            pthread_attr_destroy(&attr);
            active_release(a);
            err_set(err, ERR_INTERNAL, "cannot start the download");
            goto fail;
        }
        pthread_attr_destroy(&attr);
        break;
    }
    }
    rc = 0;
    goto reload;
fail:
    fail_process(p->id, 422, err->msg);
    err_clear(err);
    rc = 0;
reload : {
    char *id = xstrdup(p->id);
    process_fini(p);
    if (process_load(id, p, err) < 0)
        rc = -1;
    free(id);
}
out:
    free(job_text);
    free(doc_text);
    return rc;
}

/* One of the uploads a combine or archive process waits for (job.expect): claimed by name
 * (a second upload of it → 400), moved into in/, and the last to arrive queues the job with
 * the inputs in the listed order. */
static int upload_one_of_several(const struct process *p, const char *tmp_path, const char *name,
                                 struct err *err)
{
    static const char claim_sql[] =
        "UPDATE processes SET job = json_insert(job, '$.claimed[#]', ?2) WHERE id = ?1 AND "
        "step = 'input' AND EXISTS (SELECT 1 FROM json_each(processes.job, '$.expect') WHERE "
        "value = ?2) AND NOT EXISTS (SELECT 1 FROM json_each(processes.job, '$.claimed') "
        "WHERE value = ?2)";
    static const char arrive_sql[] =
        "UPDATE processes SET job = json_insert(job, '$.arrived[#]', ?2) WHERE id = ?1 AND "
        "step = 'input' RETURNING json_array_length(job, '$.arrived'), "
        "json_array_length(job, '$.expect')";
    const json_t *expect = json_object_get(p->job, "expect");
    bool listed = false;
    for (size_t i = 0; i < json_array_size(expect); i++)
        listed = listed || strcmp(json_string_value(json_array_get(expect, i)), name) == 0;
    if (!listed)
        return err_set(err, ERR_BADPARAM, "%s is not one of the files this process waits for",
                       name);
    sqlite3_stmt *st = db_stmt(claim_sql, err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, p->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int sr = sqlite3_step(st);
    sqlite3_reset(st);
    if (sr != SQLITE_DONE)
        return err_set(err, ERR_INTERNAL, "db: %s", sqlite3_errstr(sr));
    if (sqlite3_changes(db_conn(err)) != 1)
        return err_set(err, ERR_BADPARAM, "File %s already uploaded", name);

    struct active *a = active_claim(p->id);
    if (!a)
        return err_set(err, ERR_CONVERT, "the process is busy");
    bool complete = false;
    int rc = put_input_file(p->id, name, tmp_path, NULL, 0, err);
    if (rc == 0 && (st = db_stmt(arrive_sql, err)) != NULL) {
        sqlite3_bind_text(st, 1, p->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            complete = sqlite3_column_int64(st, 0) == sqlite3_column_int64(st, 1);
        sqlite3_reset(st);
    } else if (rc == 0) {
        rc = -1;
    }
    if (rc == 0 && complete)
        rc = record_inputs(p->id, "upload", expect, err);
    bool deleted = a->deleted;
    if (rc < 0 && !deleted)
        fail_process(p->id, 422, err->msg);
    active_release(a);
    if (rc == 0 && complete && !deleted)
        enqueue(p->id);
    return rc;
}

int process_upload_done(const struct process *p, const char *tmp_path, const char *filename,
                        int64_t size, struct err *err)
{
    (void)size;
    if (json_is_array(json_object_get(p->job, "expect")))
        return upload_one_of_several(p, tmp_path, filename, err);
    /* Two uploads racing for one token: only the first claims it (spec: a second upload
     * → 400). */
    static const char sql[] =
        "UPDATE processes SET job = json_set(job, '$.uploading', 1) WHERE id = ? AND step = "
        "'input' AND json_extract(job, '$.uploading') IS NULL";
    sqlite3_stmt *st = db_stmt(sql, err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, p->id, -1, SQLITE_STATIC);
    int sr = sqlite3_step(st);
    sqlite3_reset(st);
    if (sr != SQLITE_DONE)
        return err_set(err, ERR_INTERNAL, "db: %s", sqlite3_errstr(sr));
    if (sqlite3_changes(db_conn(err)) != 1)
        return err_set(err, ERR_BADPARAM, "File already uploaded");
    char *name = input_name(filename, p->inputformat);
    int rc = place_and_enqueue(p->id, "upload", name, tmp_path, NULL, 0, err);
    free(name);
    return rc;
}

/* ------------------------------------------------------------------ delete */

int process_delete(const char *id, struct err *err)
{
    static const char sql[] = "DELETE FROM processes WHERE id = ?";
    if (!id_is_valid(id))
        return 0;
    remote_forget(id);
    /* The row goes first: once it is gone nobody can reach the files, so removing them
     * cannot race a download. */
    sqlite3_stmt *st = db_stmt(sql, err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return err_set(err, ERR_INTERNAL, "db: cannot delete process: %s", sqlite3_errstr(rc));
    pthread_mutex_lock(&active_lock);
    struct active *a = active_find_locked(id);
    if (a) {
        a->cancel = true;
        a->deleted = true;
    }
    pthread_mutex_unlock(&active_lock);
    queue_remove(id);
    worker_cancel(id);
    /* Owned processes lose their files when the owner lets go (active_release). */
    if (!a) {
        char *dir = job_dir(id);
        fsx_rm_rf(dir);
        free(dir);
    }
    waiters_notify(id);
    return 0;
}

/* ------------------------------------------------------------------ outputs */

static char *output_file_path(const char *id, const char *name)
{
    return xasprintf("%s/jobs/%s/out/%s", g_config->data_dir, id, *name ? name : ZIP_FILE);
}

int process_output_open(const struct process *p, const char *name, int64_t *size, struct err *err)
{
    static const char sql[] =
        "SELECT size FROM outputs WHERE process_id = ? AND name = ? AND state IN (0, 1)";
    sqlite3_stmt *st = db_stmt(sql, err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, p->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    if (found)
        *size = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (!found)
        return err_set(err, ERR_NOTFOUND, "File not found");
    char *path = output_file_path(p->id, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    free(path);
    if (fd < 0)
        return err_set(err, ERR_NOTFOUND, "File not found");
    return fd;
}

int process_output_claim(const char *id, const char *name, struct err *err)
{
    /* spec "Downloads": one-time claims are atomic (SEC-28). */
    static const char sql[] =
        "UPDATE outputs SET state = 1 WHERE process_id = ? AND name = ? AND state = 0";
    sqlite3_stmt *st = db_stmt(sql, err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE || sqlite3_changes(db_conn(err)) != 1)
        return err_set(err, ERR_NOTFOUND, "File not found");
    return 0;
}

void process_output_release(const char *id, const char *name)
{
    static const char sql[] =
        "UPDATE outputs SET state = 0 WHERE process_id = ? AND name = ? AND state = 1";
    struct err err = ERR_INIT;
    sqlite3_stmt *st = db_stmt(sql, &err);
    if (!st)
        return;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_reset(st);
}

void process_output_served(const char *id, const char *name, bool claimed)
{
    static const char sql_gone[] = "UPDATE outputs SET state = 2 WHERE process_id = ? AND name = ?";
    /* The count lives in doc too, so the status is served straight from the doc text. */
    static const char sql_count[] =
        "UPDATE processes SET downloads = downloads + 1, doc = json_set(doc, "
        "'$.output.downloads', downloads + 1) WHERE id = ?";
    struct err err = ERR_INIT;
    sqlite3_stmt *st = db_stmt(sql_count, &err);
    if (st) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    if (!claimed)
        return;
    /* spec "Downloads": without save, the file is deleted after its first download. */
    st = db_stmt(sql_gone, &err);
    if (st) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    char *path = output_file_path(id, name);
    unlink(path);
    free(path);
}

/* ------------------------------------------------------------------ input download */

/* Download every input of a combine or archive process, in order; the first failure ends
 * the process naming the file. True when all are in place. */
static bool download_several(struct active *a, const struct process *p)
{
    const json_t *urls = json_object_get(p->job, "urls");
    size_t n = json_array_size(urls);
    json_t *names = json_array();
    char *in_dir = job_path(a->id, "in");
    char *tmp = xasprintf("%s/.download", in_dir);
    struct err err = ERR_INIT;
    bool ok = fsx_mkdir_p(in_dir, &err) == 0;
    for (size_t i = 0; ok && i < n && !a->deleted; i++) {
        const json_t *u = json_array_get(urls, i);
        struct fetch_result res = {0};
        ok = fetch_to_file(jsonx_str(json_object_get(u, "url")), tmp, g_config->max_upload_bytes,
                           &a->cancel, &res, &err) == 0;
        if (ok) {
            const char *given = jsonx_str(json_object_get(u, "filename"));
            char *name = several_input_name(given ? given : res.filename, p->inputformat, i, names);
            ok = put_input_file(a->id, name, tmp, NULL, 0, &err) == 0;
            json_array_append_new(names, json_string(name));
            free(name);
        } else {
            /* spec "Status": a blocked URL or failed download is a 422 error step */
            size_t len = strlen(err.msg);
            snprintf(err.msg + len, sizeof err.msg - len, " (file %zu of %zu)", i + 1, n);
        }
        fetch_result_fini(&res);
    }
    unlink(tmp);
    if (ok && !a->deleted)
        ok = record_inputs(a->id, "download", names, &err) == 0;
    if (!ok && !a->deleted)
        fail_process(a->id, 422, err.msg);
    json_decref(names);
    free(tmp);
    free(in_dir);
    return ok && !a->deleted;
}

/* Input from S3 or FTP with the credentials kept in memory at start. After a restart they
 * are gone: the process ends (spec "Storage parameters"). */
static bool fetch_remote_input(struct active *a, const struct process *p)
{
    struct remote *r = remote_find(a->id, "input");
    const char *file = jsonx_str(json_object_get(p->job, "remote_file"));
    struct err err = ERR_INIT;
    if (!r) {
        fail_process(a->id, 422, "interrupted by restart");
        return false;
    }
    char *in_dir = job_path(a->id, "in");
    char *tmp = xasprintf("%s/.download", in_dir);
    bool ok = fsx_mkdir_p(in_dir, &err) == 0 &&
              remote_get(r, file, tmp, g_config->max_upload_bytes, &a->cancel, &err) == 0;
    if (ok && !a->deleted) {
        const char *given = jsonx_str(json_object_get(p->job, "filename"));
        const char *slash = strrchr(file, '/');
        char *name = input_name(given ? given : slash ? slash + 1 : file, p->inputformat);
        ok = place_input(a->id, remote_kind(r), name, tmp, NULL, 0, &err) == 0;
        free(name);
    }
    if (!ok && !a->deleted)
        fail_process(a->id, 422, err.msg);
    unlink(tmp);
    free(tmp);
    free(in_dir);
    remote_free(r);
    return ok && !a->deleted;
}

/* A web page is not downloaded here: Chromium loads it through the guarded proxy, and the
 * job's input is a small file holding its URL (spec "Modes": website). Its name is the
 * given filename or the page's host. */
static int place_website(const char *id, const struct process *p, struct err *err)
{
    const char *url = jsonx_str(json_object_get(p->job, "url"));
    const char *given = jsonx_str(json_object_get(p->job, "filename"));
    char *name;
    if (given && *given) {
        name = input_name(given, p->inputformat);
    } else {
        const char *host = strstr(url, "://");
        host = host ? host + 3 : url;
        size_t len = strcspn(host, ":/?#");
        char *h = xasprintf("%.*s.website", (int)(len < 200 ? len : 200), host);
        name = input_name(h, p->inputformat);
        free(h);
    }
    char *line = xasprintf("%s\n", url);
    int rc = place_input(id, "download", name, NULL, line, strlen(line), err);
    free(line);
    free(name);
    return rc;
}

static void *download_thread(void *arg)
{
    struct active *a = arg;
    struct err err = ERR_INIT;
    struct process p;
    struct fetch_result res = {0};
    char *tmp = NULL;
    bool placed = false;
    if (process_load(a->id, &p, &err) < 0)
        goto out;
    if (json_is_array(json_object_get(p.job, "urls"))) {
        placed = download_several(a, &p);
        goto done;
    }
    if (json_is_string(json_object_get(p.job, "remote_file"))) {
        placed = fetch_remote_input(a, &p);
        goto done;
    }
    if (strcmp(p.inputformat, "website") == 0) {
        placed = place_website(a->id, &p, &err) == 0;
        if (!placed && !a->deleted)
            fail_process(a->id, 422, err.msg);
        goto done;
    }
    const char *url = jsonx_str(json_object_get(p.job, "url"));
    char *in_dir = job_path(a->id, "in");
    tmp = xasprintf("%s/.download", in_dir);
    int rc = fsx_mkdir_p(in_dir, &err);
    free(in_dir);
    if (rc == 0)
        rc = fetch_to_file(url, tmp, g_config->max_upload_bytes, &a->cancel, &res, &err);
    if (a->deleted)
        goto done;
    if (rc < 0) {
        /* spec "Status": a blocked URL or failed download is a 422 error step. */
        fail_process(a->id, 422, err.msg);
        goto done;
    }
    const char *given = jsonx_str(json_object_get(p.job, "filename"));
    char *name = input_name(given ? given : res.filename, p.inputformat);
    rc = place_input(a->id, "download", name, tmp, NULL, 0, &err);
    free(name);
    if (rc < 0)
        fail_process(a->id, 422, err.msg);
    placed = rc == 0;
done:
    process_fini(&p);
out:
    if (tmp)
        unlink(tmp);
    free(tmp);
    fetch_result_fini(&res);
    /* Let go before queueing: a runner must be able to claim the process at once. */
    char id[ID_LEN + 1];
    snprintf(id, sizeof id, "%s", a->id);
    bool queue = placed && !a->deleted;
    active_release(a);
    if (queue)
        enqueue(id);
    db_thread_close();
    return NULL;
}

/* ------------------------------------------------------------------ outputs at finish */

struct outfile {
    char *src; /* name in out.tmp */
    char *dst; /* final name */
    long n;    /* page/frame number, -1 for main */
};

static int outfile_cmp(const void *a, const void *b)
{
    const struct outfile *x = a, *y = b;
    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    return strcmp(x->src, y->src);
}

/* Number of a converter's "N.EXT" file name, -1 for "main.EXT", -2 otherwise. */
static long output_number(const char *name)
{
    char *end;
    if (strncmp(name, "main.", 5) == 0)
        return -1;
    errno = 0;
    long n = strtol(name, &end, 10);
    if (end == name || *end != '.' || errno || n < 0)
        return -2;
    return n;
}

/* Rename the converter's files to NAME.EXT / NAME-N.EXT in out/, fsync them, write the ZIP
 * when there are several, record them in `outputs` and build doc.output (stolen into
 * *output). */
static int finalize_outputs(const struct process *p, json_t **output, struct err *err)
{
    char *tmp_dir = job_path(p->id, "out.tmp");
    char *out_dir = job_path(p->id, "out");
    struct outfile *files = NULL;
    size_t n = 0, cap = 0;
    const char **names = NULL;
    int rc = -1;
    DIR *d = opendir(tmp_dir);
    if (!d) {
        err_set(err, ERR_CONVERT, "conversion produced no output");
        goto out;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || e->d_type != DT_REG)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            files = xrealloc(files, cap * sizeof *files);
        }
        files[n].src = xstrdup(e->d_name);
        files[n].dst = NULL;
        files[n].n = output_number(e->d_name);
        n++;
    }
    closedir(d);
    if (n == 0) {
        err_set(err, ERR_CONVERT, "conversion produced no output");
        goto out;
    }
    qsort(files, n, sizeof *files, outfile_cmp);
    json_t *input = json_object_get(p->doc, "input");
    const char *base = jsonx_str(json_object_get(input, "name"));
    if (!base)
        base = "file";
    for (size_t i = 0; i < n; i++) {
        char *stem, *ext;
        fsx_split_name(files[i].src, &stem, &ext);
        if (n == 1 || files[i].n == -1)
            files[i].dst = xasprintf("%s.%s", base, ext);
        else if (files[i].n >= 0)
            files[i].dst = xasprintf("%s-%ld.%s", base, files[i].n, ext);
        else
            files[i].dst = xasprintf("%s-%zu.%s", base, i + 1, ext);
        free(stem);
        free(ext);
    }
    if (fsx_mkdir_p(out_dir, err) < 0)
        goto out;
    names = xcalloc(n + 1, sizeof *names);
    json_t *list = json_array();
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        char *from = xasprintf("%s/%s", tmp_dir, files[i].src);
        char *to = xasprintf("%s/%s", out_dir, files[i].dst);
        int r = rename(from, to);
        if (r == 0)
            r = fsx_fsync_path(to, err);
        else
            err_set(err, ERR_CONVERT, "cannot store output: %s", strerror(errno));
        int64_t size = fsx_file_size(to);
        free(from);
        free(to);
        if (r < 0) {
            json_decref(list);
            goto out;
        }
        total += size;
        names[i] = files[i].dst;
        json_array_append_new(list, json_string(files[i].dst));
    }
    if (fsx_fsync_dir(out_dir, err) < 0) {
        json_decref(list);
        goto out;
    }
    json_t *doc_out = json_deep_copy(json_object_get(p->doc, "output"));
    if (!json_is_object(doc_out)) {
        json_decref(doc_out);
        doc_out = json_object();
    }
    int64_t zip_size = 0;
    if (n > 1) {
        /* spec "Downloads": several files → a ZIP written once at finish. */
        char *zip = xasprintf("%s/%s", out_dir, ZIP_FILE);
        int r = zip_write(zip, out_dir, names, err);
        zip_size = fsx_file_size(zip);
        free(zip);
        if (r < 0) {
            json_decref(list);
            json_decref(doc_out);
            goto out;
        }
        json_object_set_new(doc_out, "filename", json_sprintf("%s.zip", base));
        json_object_set_new(doc_out, "ext", json_string("zip"));
        json_object_set_new(doc_out, "size", json_integer(zip_size));
        json_object_set_new(doc_out, "downloads", json_integer(0));
        json_object_set_new(doc_out, "files", list);
    } else {
        char *stem, *ext;
        fsx_split_name(files[0].dst, &stem, &ext);
        json_object_set_new(doc_out, "filename", json_string(files[0].dst));
        json_object_set_new(doc_out, "ext", json_string(ext));
        json_object_set_new(doc_out, "size", json_integer(total));
        json_object_set_new(doc_out, "downloads", json_integer(0));
        free(stem);
        free(ext);
        json_decref(list);
    }
    static const char sql[] =
        "INSERT OR REPLACE INTO outputs (process_id, name, size, state) VALUES (?, ?, ?, 0)";
    for (size_t i = 0; i <= n; i++) {
        if (i == n && n == 1)
            break;
        const char *name = i == n ? "" : files[i].dst;
        char *path = output_file_path(p->id, name);
        int64_t size = fsx_file_size(path);
        free(path);
        sqlite3_stmt *st = db_stmt(sql, err);
        if (!st) {
            json_decref(doc_out);
            goto out;
        }
        sqlite3_bind_text(st, 1, p->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, size);
        int sr = sqlite3_step(st);
        sqlite3_reset(st);
        if (sr != SQLITE_DONE) {
            err_set(err, ERR_CONVERT, "cannot record output: %s", sqlite3_errstr(sr));
            json_decref(doc_out);
            goto out;
        }
    }
    *output = doc_out;
    rc = 0;
out:
    for (size_t i = 0; i < n; i++) {
        free(files[i].src);
        free(files[i].dst);
    }
    free(files);
    free(names);
    fsx_rm_rf(tmp_dir);
    free(tmp_dir);
    free(out_dir);
    return rc;
}

/* Step output with an output storage: every output file goes up (the ZIP of several does
 * not), and the status's output object says where (spec "Storage parameters"). */
static int store_remote_output(struct active *a, json_t *output, struct err *err)
{
    struct remote *r = remote_find(a->id, "output");
    if (!r)
        return err_set(err, ERR_CONVERT, "interrupted by restart");
    const json_t *files = json_object_get(output, "files");
    bool several = json_array_size(files) > 0;
    size_t n = several ? json_array_size(files) : 1;
    json_t *wheres = json_array();
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *name =
            jsonx_str(several ? json_array_get(files, i) : json_object_get(output, "filename"));
        char *local = output_file_path(a->id, name ? name : "");
        char *where = NULL;
        rc = remote_put(r, local, name ? name : "", several, &where, &a->cancel, err);
        if (rc == 0)
            json_array_append_new(wheres, json_string(where));
        free(where);
        free(local);
    }
    if (rc == 0) {
        bool drive = strcmp(remote_kind(r), "googledrive") == 0;
        /* several files: the folder they went into (Google Drive: the first file's id, and
         * file_ids lists them all) */
        char *first = xstrdup(jsonx_str(json_array_get(wheres, 0)));
        if (several && !drive) {
            char *slash = strrchr(first, '/');
            if (slash)
                slash[1] = '\0';
            else
                first[0] = '\0';
        }
        json_t *pub = remote_public(r, first);
        if (several && drive)
            json_object_set(json_object_get(pub, "googledrive"), "file_ids", wheres);
        json_object_update(output, pub);
        json_decref(pub);
        free(first);
    }
    json_decref(wheres);
    remote_free(r);
    return rc;
}

/* output → finished, with the output/info documents, endtime, expiry and the callback row in
 * one transaction. */
static bool finish_process(const char *id, json_t *output, json_t *info)
{
    static const char sql[] =
        "UPDATE processes SET step = 'finished', percent = 100, message = 'Conversion "
        "finished!', endtime = ?2, expire = ?2 + ?3, doc = CASE WHEN ?4 IS NULL THEN "
        "json_set(json_remove(doc, '$.output'), '$.info', json(?5)) WHEN ?5 IS NULL THEN "
        "json_set(doc, '$.output', json(?4)) ELSE json_set(doc, '$.output', json(?4), "
        "'$.info', json(?5)) END WHERE id = ?1 AND step = 'output'";
    struct err err = ERR_INIT;
    sqlite3_stmt *st = db_stmt(sql, &err);
    if (!st) {
        log_error("process %s: cannot finish: %s", log_id(id), err.msg);
        return false;
    }
    /* Mode info without files has no output at all (spec "Modes"). */
    char *out_text = output ? json_dumps(output, JSON_COMPACT) : NULL;
    char *info_text = info ? json_dumps(info, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, time_now());
    sqlite3_bind_int64(st, 3, g_config->expire_seconds);
    if (out_text)
        sqlite3_bind_text(st, 4, out_text, -1, SQLITE_STATIC);
    if (info_text)
        sqlite3_bind_text(st, 5, info_text, -1, SQLITE_STATIC);
    bool changed = commit_final(id, "finished", st);
    free(out_text);
    free(info_text);
    return changed;
}

/* ------------------------------------------------------------------ runner */

struct progress_ctx {
    const char *id;
    double last_percent;
    int64_t last_ms;
    bool duration_known;
};

/* spec "Status": converter.duration, the media duration, as soon as the converter knows it. */
static void record_duration(const char *id, double duration)
{
    static const char sql[] =
        "UPDATE processes SET doc = json_set(doc, '$.converter.duration', ?2) WHERE id = ?1 "
        "AND json_type(doc, '$.converter') = 'object'";
    struct err err = ERR_INIT;
    sqlite3_stmt *st = db_stmt(sql, &err);
    if (!st)
        return;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 2, round(duration * 1000) / 1000);
    sqlite3_step(st);
    sqlite3_reset(st);
}

static void on_progress(void *opaque, double percent, const char *message, double duration)
{
    static const char sql[] =
        "UPDATE processes SET percent = CASE WHEN ?2 < 0 THEN (CASE WHEN percent <= 0 THEN -1 "
        "ELSE percent END) ELSE MAX(percent, ?2) END, message = COALESCE(?3, message) "
        "WHERE id = ?1 AND step = 'convert'";
    struct progress_ctx *ctx = opaque;
    int64_t now = time_mono_ms();
    if (!ctx->duration_known && duration > 0 && isfinite(duration)) {
        ctx->duration_known = true;
        record_duration(ctx->id, duration);
    }
    /* STYLE §8: progress reaches the database at most every ~0.5 s or 1 %. */
    if (percent >= 0 && percent < 100 && now - ctx->last_ms < 500 &&
        percent - ctx->last_percent < 1)
        return;
    struct err err = ERR_INIT;
    sqlite3_stmt *st = db_stmt(sql, &err);
    if (!st)
        return;
    sqlite3_bind_text(st, 1, ctx->id, -1, SQLITE_STATIC);
    /* spec "Status": -1 while unknown; exactly 100 only at finished. */
    double shown = percent < 0 ? -1 : percent > 99.99 ? 99.99 : floor(percent * 100) / 100;
    sqlite3_bind_double(st, 2, shown);
    if (message && *message)
        sqlite3_bind_text(st, 3, message, -1, SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    ctx->last_ms = now;
    ctx->last_percent = percent;
}

/* A conversion may need several attempts only across restarts; count them. */
static int bump_attempt(const char *id)
{
    static const char sql[] =
        "UPDATE processes SET attempt = attempt + 1 WHERE id = ? RETURNING attempt";
    struct err err = ERR_INIT;
    sqlite3_stmt *st = db_stmt(sql, &err);
    if (!st)
        return MAX_ATTEMPTS + 1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int attempt = MAX_ATTEMPTS + 1;
    if (sqlite3_step(st) == SQLITE_ROW)
        attempt = sqlite3_column_int(st, 0);
    sqlite3_reset(st);
    return attempt;
}

/* spec "Conventions": the input's real type must match inputformat (SEC-14). */
static int check_input_type(const char *path, const char *inputformat, struct err *err)
{
    unsigned char head[4096];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return err_set(err, ERR_CONVERT, "input file is missing");
    ssize_t n = read(fd, head, sizeof head);
    close(fd);
    if (n <= 0)
        return err_set(err, ERR_CONVERT, "input file is empty");
    const char *sniffed = format_sniff(head, (size_t)n);
    if (!format_sniff_matches(inputformat, sniffed))
        return err_set(err, ERR_CONVERT, "input is not a %s file%s%s",
                       format_display_name(inputformat), sniffed ? ": it looks like " : "",
                       sniffed ? format_display_name(sniffed) : "");
    return 0;
}

/* Workers that run as their own account (a root server) get the job folder: the inputs to
 * read, out.tmp and tmp to write. Nothing else of the data folder is theirs. */
static int hand_job_to_worker(const char *dir, char *const *inputs, struct err *err)
{
    uid_t uid;
    gid_t gid;
    if (!worker_job_owner(&uid, &gid))
        return 0;
    static const char *const subs[] = {"", "/in", "/out.tmp", "/tmp"};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        char *path = xasprintf("%s%s", dir, subs[i]);
        int rc = chown(path, uid, gid);
        free(path);
        if (rc < 0 && errno != ENOENT)
            return err_set(err, ERR_CONVERT, "cannot prepare the job folder: %s", strerror(errno));
    }
    for (size_t i = 0; inputs[i]; i++)
        if (chown(inputs[i], uid, gid) < 0)
            return err_set(err, ERR_CONVERT, "cannot prepare the input: %s", strerror(errno));
    return 0;
}

static unsigned mode_bit(const char *mode)
{
    if (!mode || strcmp(mode, "convert") == 0)
        return CONV_MODE_CONVERT;
    if (strcmp(mode, "info") == 0)
        return CONV_MODE_INFO;
    if (strcmp(mode, "combine") == 0)
        return CONV_MODE_COMBINE;
    if (strcmp(mode, "archive") == 0)
        return CONV_MODE_ARCHIVE;
    if (strcmp(mode, "extract") == 0)
        return CONV_MODE_EXTRACT;
    return 0;
}

static void run_process(struct active *a)
{
    struct err err = ERR_INIT;
    struct process p;
    char **inputs = NULL;
    char *dir = NULL, *out_tmp = NULL;
    json_t *info = NULL, *output = NULL;
    if (process_load(a->id, &p, &err) < 0)
        return;
    if (p.step != STEP_WAIT)
        goto out;
    if (bump_attempt(a->id) > MAX_ATTEMPTS) {
        fail_process(a->id, 422, "conversion failed after repeated interruptions");
        goto out;
    }
    if (!advance(a->id, STEP_WAIT, STEP_CONVERT, "Converting file"))
        goto out;
    dir = job_dir(a->id);
    out_tmp = job_path(a->id, "out.tmp");
    fsx_rm_rf(out_tmp);
    char *tmpdir = job_path(a->id, "tmp");
    int r = fsx_mkdir_p(out_tmp, &err) == 0 && fsx_mkdir_p(tmpdir, &err) == 0 ? 0 : -1;
    free(tmpdir);
    if (r < 0)
        goto fail;
    json_t *names = json_object_get(p.job, "inputs");
    size_t n = json_array_size(names);
    if (n == 0) {
        err_set(&err, ERR_CONVERT, "no input file");
        goto fail;
    }
    inputs = xcalloc(n + 1, sizeof *inputs);
    for (size_t i = 0; i < n; i++) {
        inputs[i] = xasprintf("%s/in/%s", dir, json_string_value(json_array_get(names, i)));
        /* An archive stores its inputs as they are, whatever they hold. */
        if (mode_bit(p.mode) != CONV_MODE_ARCHIVE &&
            check_input_type(inputs[i], p.inputformat, &err) < 0) {
            if (n > 1) {
                /* several inputs: say which one */
                char why[sizeof err.msg];
                snprintf(why, sizeof why, "%s", err.msg);
                err_clear(&err);
                err_set(&err, ERR_CONVERT, "input %zu (%s): %s", i + 1,
                        json_string_value(json_array_get(names, i)), why);
            }
            goto fail;
        }
    }
    if (hand_job_to_worker(dir, inputs, &err) < 0)
        goto fail;
    struct worker_job job = {
        .process_id = a->id,
        .mode = (enum conv_mode)mode_bit(p.mode),
        .in_format = p.inputformat,
        .out_format = p.outputformat,
        .options = json_object_get(p.job, "options"),
        .job_dir = dir,
        .inputs = (const char *const *)inputs,
        .output_dir = out_tmp,
        .timeout_s = (int)json_integer_value(json_object_get(p.job, "timeout")),
    };
    if (job.timeout_s <= 0)
        job.timeout_s = g_config->default_timeout;
    struct progress_ctx ctx = {.id = a->id, .last_percent = 0, .last_ms = 0};
    if (worker_run(&job, on_progress, &ctx, &info, &err) < 0) {
        if (err.code == ERR_CANCELLED && !a->deleted && !engine_stopping) {
            err_clear(&err);
            err_set(&err, ERR_CONVERT, "conversion cancelled");
        }
        goto fail;
    }
    if (a->deleted || engine_stopping)
        goto out;
    if (!advance(a->id, STEP_CONVERT, STEP_OUTPUT, "Storing output"))
        goto out;
    if (job.mode == CONV_MODE_INFO && fsx_dir_is_empty(out_tmp)) {
        fsx_rm_rf(out_tmp);
    } else if (finalize_outputs(&p, &output, &err) < 0) {
        goto fail;
    }
    if (output && json_is_string(json_object_get(p.job, "remote_output")) &&
        store_remote_output(a, output, &err) < 0)
        goto fail;
    if (!finish_process(a->id, output, info))
        goto out;
    log_info("process %s finished", log_id(a->id));
    goto out;
fail:
    /* At shutdown an interrupted conversion stays in convert: the next start re-runs it. */
    if (engine_stopping && err.code == ERR_CANCELLED)
        goto out;
    if (!a->deleted) {
        fail_process(a->id, 422, err.msg[0] ? err.msg : "conversion failed");
        /* No output of a failed process is ever served; keep nothing. */
        fsx_rm_rf(out_tmp);
    }
out:
    if (inputs)
        for (size_t i = 0; inputs[i]; i++)
            free(inputs[i]);
    free(inputs);
    free(dir);
    free(out_tmp);
    json_decref(info);
    json_decref(output);
    process_fini(&p);
}

static void *runner_thread(void *arg)
{
    (void)arg;
    char id[ID_LEN + 1];
    while (queue_pop(id)) {
        struct active *a = active_claim(id);
        if (!a) {
            /* Still owned by the thread that queued it: try again shortly. */
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
            queue_push(id);
            continue;
        }
        run_process(a);
        active_release(a);
    }
    db_thread_close();
    return NULL;
}

/* ------------------------------------------------------------------ reaper and recovery */

static pthread_t reaper;
static pthread_t *runners;
static int n_runners;
static pthread_mutex_t reaper_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reaper_cond = PTHREAD_COND_INITIALIZER;

/* Collect the ids a query returns (first column), at most 256. */
static char **select_ids(const char *sql, int64_t now, struct err *err)
{
    sqlite3_stmt *st = db_stmt(sql, err);
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, now);
    size_t n = 0;
    char **ids = xcalloc(257, sizeof *ids);
    while (n < 256 && sqlite3_step(st) == SQLITE_ROW)
        ids[n++] = col_text(st, 0);
    sqlite3_reset(st);
    return ids;
}

static void free_ids(char **ids)
{
    if (!ids)
        return;
    for (size_t i = 0; ids[i]; i++)
        free(ids[i]);
    free(ids);
}

static void reap_once(void)
{
    /* spec "Lifetimes": records and outputs expire; unstarted processes too. */
    static const char sql_expired[] =
        "SELECT id FROM processes WHERE expire < ?1 AND (step IN ('finished', 'error') OR "
        "started = 0) LIMIT 256";
    static const char sql_upload[] =
        "SELECT id FROM processes WHERE step = 'input' AND started = 1 AND "
        "json_extract(job, '$.input') = 'upload' AND starttime < ?1 LIMIT 256";
    struct err err = ERR_INIT;
    int64_t now = time_now();
    char **ids = select_ids(sql_expired, now, &err);
    for (size_t i = 0; ids && ids[i]; i++) {
        log_info("process %s expired", log_id(ids[i]));
        process_delete(ids[i], &err);
    }
    free_ids(ids);
    ids = select_ids(sql_upload, now - g_config->upload_timeout, &err);
    for (size_t i = 0; ids && ids[i]; i++) {
        char msg[128];
        snprintf(msg, sizeof msg, "no upload arrived within %d seconds", g_config->upload_timeout);
        fail_process(ids[i], 422, msg);
        char *dir = job_dir(ids[i]);
        fsx_rm_rf(dir);
        free(dir);
    }
    free_ids(ids);
    /* A process in wait that is neither queued nor owned (its queueing thread lost a
     * database race) is queued again; the wait → convert compare-and-set makes a double
     * entry harmless. */
    static const char sql_wait[] = "SELECT id FROM processes WHERE step = 'wait' AND ?1 > 0 "
                                   "LIMIT 256";
    ids = select_ids(sql_wait, 1, &err);
    for (size_t i = 0; ids && ids[i]; i++) {
        pthread_mutex_lock(&active_lock);
        bool owned = active_find_locked(ids[i]) != NULL;
        pthread_mutex_unlock(&active_lock);
        if (!owned && !queue_contains(ids[i])) {
            log_warn("process %s was in wait without a queue entry: queued again", log_id(ids[i]));
            queue_push(ids[i]);
        }
    }
    free_ids(ids);
    /* Delivered (or abandoned) callbacks are history. */
    static const char sql_cb[] = "DELETE FROM callbacks WHERE done = 1";
    sqlite3_stmt *st = db_stmt(sql_cb, &err);
    if (st) {
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    if (err.code)
        log_warn("reaper: %s", err.msg);
}

static void *reaper_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&reaper_lock);
    while (!engine_stopping) {
        pthread_mutex_unlock(&reaper_lock);
        reap_once();
        pthread_mutex_lock(&reaper_lock);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        if (!engine_stopping)
            pthread_cond_timedwait(&reaper_cond, &reaper_lock, &ts);
    }
    pthread_mutex_unlock(&reaper_lock);
    db_thread_close();
    return NULL;
}

/* spec "Lifetimes and restarts": processes in wait are queued again; those waiting for an
 * upload keep their URL; input (download), convert and output run again (at most
 * MAX_ATTEMPTS in all) or end in error. None stays in a non-final step. */
static int recover(struct err *err)
{
    static const char sql[] =
        "SELECT id, step, attempt, json_extract(job, '$.input'), "
        "json_array_length(job, '$.inputs'), json_type(job, '$.remote_output') FROM processes "
        "WHERE step IN ('input', 'wait', 'convert', 'output') AND started = 1 ORDER BY "
        "starttime";
    static const char sql_requeue[] =
        "UPDATE processes SET step = 'wait', percent = 0, message = 'Waiting for a free "
        "worker' WHERE id = ?";
    sqlite3_stmt *st = db_stmt(sql, err);
    if (!st)
        return -1;
    size_t n = 0, cap = 0;
    struct rec {
        char *id, *step, *input;
        int attempt, n_inputs;
        bool remote_output;
    } *recs = NULL;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            recs = xrealloc(recs, cap * sizeof *recs);
        }
        recs[n].id = col_text(st, 0);
        recs[n].step = col_text(st, 1);
        recs[n].attempt = sqlite3_column_int(st, 2);
        recs[n].input = col_text(st, 3);
        recs[n].n_inputs = sqlite3_column_int(st, 4);
        recs[n].remote_output = sqlite3_column_type(st, 5) != SQLITE_NULL;
        n++;
    }
    sqlite3_reset(st);
    for (size_t i = 0; i < n; i++) {
        const char *id = recs[i].id;
        enum process_step step = (enum process_step)process_step_from_name(recs[i].step);
        if (recs[i].remote_output) {
            /* Its storage credentials were kept in memory only (spec "Storage parameters"):
             * converting again could not deliver the result. */
            fail_process(id, 422, "interrupted by restart");
            continue;
        }
        if (step == STEP_INPUT && recs[i].n_inputs > 0) {
            /* The input arrived but the process was not queued yet. */
            advance(id, STEP_INPUT, STEP_WAIT, "Waiting for a free worker");
            queue_push(id);
            continue;
        }
        if (step == STEP_INPUT) {
            if (!recs[i].input || strcmp(recs[i].input, "upload") == 0) {
                /* An upload keeps waiting for its file; a half-received one starts over. Of
                 * several listed files, those claimed but not in place are open again. */
                static const char sql_up[] =
                    "UPDATE processes SET job = CASE WHEN json_type(job, '$.expect') = 'array' "
                    "THEN json_set(json_remove(job, '$.uploading'), '$.claimed', "
                    "json(json_extract(job, '$.arrived'))) ELSE json_remove(job, '$.uploading') "
                    "END WHERE id = ?";
                sqlite3_stmt *u = db_stmt(sql_up, err);
                if (u) {
                    sqlite3_bind_text(u, 1, id, -1, SQLITE_STATIC);
                    sqlite3_step(u);
                    sqlite3_reset(u);
                }
                continue;
            }
            if (strcmp(recs[i].input, "download") == 0) {
                struct active *a = active_claim(id);
                pthread_t t;
                if (a && pthread_create(&t, NULL, download_thread, a) == 0)
                    pthread_detach(t);
                else if (a)
                    active_release(a);
            } else {
                fail_process(id, 422, "interrupted by restart");
            }
            continue;
        }
        if ((step == STEP_CONVERT || step == STEP_OUTPUT) && recs[i].attempt >= MAX_ATTEMPTS) {
            fail_process(id, 422, "interrupted by restart");
            continue;
        }
        if (step != STEP_WAIT) {
            char *out = job_path(id, "out");
            char *tmp = job_path(id, "out.tmp");
            fsx_rm_rf(out);
            fsx_rm_rf(tmp);
            free(out);
            free(tmp);
            static const char sql_out[] = "DELETE FROM outputs WHERE process_id = ?";
            sqlite3_stmt *d = db_stmt(sql_out, err);
            if (d) {
                sqlite3_bind_text(d, 1, id, -1, SQLITE_STATIC);
                sqlite3_step(d);
                sqlite3_reset(d);
            }
            sqlite3_stmt *u = db_stmt(sql_requeue, err);
            if (u) {
                sqlite3_bind_text(u, 1, id, -1, SQLITE_STATIC);
                sqlite3_step(u);
                sqlite3_reset(u);
            }
        }
        log_info("process %s queued again after restart", log_id(id));
        queue_push(id);
    }
    for (size_t i = 0; i < n; i++) {
        free(recs[i].id);
        free(recs[i].step);
        free(recs[i].input);
    }
    free(recs);
    return 0;
}

/* Job folders without a process row (deleted while the server was down) and partial
 * uploads are removed at start-up (SEC-24). */
static void remove_orphans(void)
{
    static const char sql[] = "SELECT 1 FROM processes WHERE id = ?";
    struct err err = ERR_INIT;
    char *jobs = xasprintf("%s/jobs", g_config->data_dir);
    DIR *d = opendir(jobs);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        sqlite3_stmt *st = db_stmt(sql, &err);
        if (!st)
            break;
        sqlite3_bind_text(st, 1, e->d_name, -1, SQLITE_TRANSIENT);
        bool exists = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_reset(st);
        if (!exists) {
            char *path = xasprintf("%s/%s", jobs, e->d_name);
            fsx_rm_rf(path);
            free(path);
        }
    }
    if (d)
        closedir(d);
    free(jobs);
    fsx_rm_rf(process_incoming_dir());
}

int engine_start(struct err *err)
{
    char *jobs = xasprintf("%s/jobs", g_config->data_dir);
    int rc = fsx_mkdir_p(jobs, err);
    uid_t uid;
    gid_t gid;
    /* Workers of their own account pass through to their job folder, without listing. */
    if (rc == 0 && worker_job_owner(&uid, &gid))
        chmod(jobs, 0711);
    free(jobs);
    if (rc < 0)
        return -1;
    remove_orphans();
    if (fsx_mkdir_p(process_incoming_dir(), err) < 0)
        return -1;
    engine_stopping = false;
    if (recover(err) < 0)
        return -1;
    n_runners = g_config->workers > 0 ? g_config->workers : 1;
    runners = xcalloc((size_t)n_runners, sizeof *runners);
    for (int i = 0; i < n_runners; i++)
        if (pthread_create(&runners[i], NULL, runner_thread, NULL) != 0)
            return err_set(err, ERR_INTERNAL, "cannot start runner threads");
    if (pthread_create(&reaper, NULL, reaper_thread, NULL) != 0)
        return err_set(err, ERR_INTERNAL, "cannot start the reaper thread");
    return 0;
}

void engine_stop(void)
{
    pthread_mutex_lock(&queue_lock);
    engine_stopping = true;
    pthread_cond_broadcast(&queue_cond);
    pthread_mutex_unlock(&queue_lock);
    pthread_mutex_lock(&reaper_lock);
    pthread_cond_broadcast(&reaper_cond);
    pthread_mutex_unlock(&reaper_lock);
    pthread_mutex_lock(&active_lock);
    for (struct active *a = active_list; a; a = a->next)
        a->cancel = true;
    pthread_mutex_unlock(&active_lock);
    /* The caller stops the worker pool first, so running conversions have returned. */
    for (int i = 0; i < n_runners; i++)
        pthread_join(runners[i], NULL);
    pthread_join(reaper, NULL);
    free(runners);
    runners = NULL;
    n_runners = 0;
}
