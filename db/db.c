/* SPDX-License-Identifier: MIT */
/* db.c - the SQLite database: per-thread connections and their statement caches.
 *
 * DESIGN: one database file, set once by db_init() before any other thread starts. Every
 * thread that touches the database gets its own connection, opened lazily on its first
 * db_conn() and kept in a thread-local struct together with the statements it prepared.
 * Connections are opened SQLITE_OPEN_NOMUTEX: no connection is ever shared, so SQLite's
 * per-connection mutex would be pure cost; threads serialise in the file locks instead
 * (WAL: readers never block the writer, and busy_timeout absorbs writer contention).
 * Statements are cached by the address of their SQL text, which callers pass as string
 * literals or static const arrays, so a lookup is a pointer comparison. A pthread key's
 * destructor closes the connection of a thread that exits without db_thread_close(). */
#include "db/db.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "db/migrate.h"

struct cached_stmt {
    const char *sql; /* key: the caller's pointer, not a copy */
    sqlite3_stmt *st;
};

struct conn {
    sqlite3 *db;
    struct cached_stmt *stmts;
    size_t n_stmts, cap_stmts;
};

static char *db_path;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t conn_key;
static _Thread_local struct conn *tls_conn;

static void conn_free(struct conn *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n_stmts; i++)
        sqlite3_finalize(c->stmts[i].st);
    /* Every statement is finalized above, so close cannot be left pending. */
    sqlite3_close(c->db);
    free(c->stmts);
    free(c);
}

/* Thread exit: the thread-local pointer is already gone, the key's value is not. */
static void conn_destructor(void *p)
{
    conn_free(p);
}

static void make_key(void)
{
    if (pthread_key_create(&conn_key, conn_destructor) != 0)
        abort(); /* only at startup, and only when the process is out of keys */
}

int db_init(const char *path, struct err *err)
{
    sqlite3 *db;

    pthread_once(&key_once, make_key);
    /* Tests re-initialise with a new file; the server does this once before its threads. */
    db_thread_close();
    free(db_path);
    db_path = xstrdup(path);
    db = db_conn(err);
    if (db == NULL)
        return -1;
    return migrate_apply(db, err);
}

sqlite3 *db_conn(struct err *err)
{
    struct conn *c = NULL;
    sqlite3 *db = NULL;
    char *errmsg = NULL;
    int rc;

    if (tls_conn != NULL)
        return tls_conn->db;
    if (db_path == NULL) {
        err_set(err, ERR_INTERNAL, "db: not initialised");
        return NULL;
    }
    rc = sqlite3_open_v2(db_path, &db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        err_set(err, ERR_INTERNAL, "db: cannot open %s: %s", db_path,
                db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(db, 1);
    /* Before the pragmas: switching to WAL itself needs a lock another thread may hold. */
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
                     NULL, NULL, &errmsg) != SQLITE_OK) {
        err_set(err, ERR_INTERNAL, "db: cannot configure %s: %s", db_path,
                errmsg ? errmsg : sqlite3_errmsg(db));
        goto fail;
    }
    c = xcalloc(1, sizeof *c);
    c->db = db;
    tls_conn = c;
    pthread_once(&key_once, make_key);
    pthread_setspecific(conn_key, c);
    return db;
fail:
    sqlite3_free(errmsg);
    sqlite3_close(db);
    return NULL;
}

sqlite3_stmt *db_stmt(const char *sql, struct err *err)
{
    struct conn *c;
    sqlite3_stmt *st = NULL;

    if (db_conn(err) == NULL)
        return NULL;
    c = tls_conn;
#ifndef NDEBUG
    /* A statement left unreset keeps its read snapshot open, and this thread would then never
     * see other threads' commits (a ?wait that never ends). Catch that in test builds. */
    if (sqlite3_get_autocommit(c->db)) {
        for (sqlite3_stmt *o = sqlite3_next_stmt(c->db, NULL); o; o = sqlite3_next_stmt(c->db, o))
            if (sqlite3_stmt_busy(o))
                log_warn("db: statement left unreset: %s", sqlite3_sql(o));
    }
#endif
    for (size_t i = 0; i < c->n_stmts; i++) {
        if (c->stmts[i].sql == sql) {
            st = c->stmts[i].st;
            /* The return value repeats the last step's error, which its caller handled. */
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            return st;
        }
    }
    if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        err_set(err, ERR_INTERNAL, "db: %s", sqlite3_errmsg(c->db));
        sqlite3_finalize(st);
        return NULL;
    }
    if (st == NULL) {
        err_set(err, ERR_INTERNAL, "db: empty statement");
        return NULL;
    }
    if (c->n_stmts == c->cap_stmts) {
        c->cap_stmts = c->cap_stmts ? c->cap_stmts * 2 : 32;
        c->stmts = xrealloc(c->stmts, c->cap_stmts * sizeof *c->stmts);
    }
    c->stmts[c->n_stmts].sql = sql;
    c->stmts[c->n_stmts].st = st;
    c->n_stmts++;
    return st;
}

int db_exec(const char *sql, struct err *err)
{
    sqlite3 *db = db_conn(err);
    char *errmsg = NULL;

    if (db == NULL)
        return -1;
    if (sqlite3_exec(db, sql, NULL, NULL, &errmsg) != SQLITE_OK) {
        err_set(err, ERR_INTERNAL, "db: %s", errmsg ? errmsg : sqlite3_errmsg(db));
        sqlite3_free(errmsg);
        return -1;
    }
    return 0;
}

int db_begin(struct err *err)
{
    /* IMMEDIATE takes the write lock now: a deferred transaction that later writes can
     * fail with SQLITE_BUSY at once in WAL mode, without the busy handler helping. */
    return db_exec("BEGIN IMMEDIATE", err);
}

int db_commit(struct err *err)
{
    if (db_exec("COMMIT", err) == 0)
        return 0;
    /* Do not leave the connection inside a transaction its caller thinks is over. */
    db_rollback();
    return -1;
}

void db_rollback(void)
{
    if (tls_conn == NULL || sqlite3_get_autocommit(tls_conn->db))
        return;
    sqlite3_exec(tls_conn->db, "ROLLBACK", NULL, NULL, NULL);
}

void db_thread_close(void)
{
    struct conn *c = tls_conn;

    if (c == NULL)
        return;
    tls_conn = NULL;
    pthread_setspecific(conn_key, NULL);
    conn_free(c);
}
