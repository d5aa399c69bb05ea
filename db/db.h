/* SPDX-License-Identifier: MIT */
/* db.h - the SQLite database: one file under the data dir, WAL, one connection per thread
 * opened lazily, statements prepared once per connection and cached by their SQL text's
 * address (pass string literals or static const strings). */
#ifndef CONVERTD_DB_DB_H
#define CONVERTD_DB_DB_H

#include <sqlite3.h>

#include "common/err.h"

/* Set the database file and apply pending migrations. Once per process, before db_conn().*/
int db_init(const char *path, struct err *err);

/* This thread's connection (journal_mode=WAL, synchronous=NORMAL, foreign_keys=ON,
 * busy_timeout 5000). NULL with err on failure. */
sqlite3 *db_conn(struct err *err);

/* A prepared statement for sql on this thread's connection, reset and with bindings
 * cleared. NULL with err. Never finalize it. */
sqlite3_stmt *db_stmt(const char *sql, struct err *err);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK on this thread's connection. */
int db_begin(struct err *err);
int db_commit(struct err *err);
void db_rollback(void);

/* Run SQL without results (schema, pragmas). */
int db_exec(const char *sql, struct err *err);

/* Close this thread's connection (thread exit). */
void db_thread_close(void);

#endif
