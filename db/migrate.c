/* SPDX-License-Identifier: MIT */
/* migrate.c - schema migrations, applied by PRAGMA user_version. Never edit a migration
 * that has shipped; append a new one. */
#include "db/migrate.h"

#include <stdio.h>

struct migration {
    const char *sql;
};

static const struct migration migrations[] = {
    {.sql = "CREATE TABLE keys ("
            "  id INTEGER PRIMARY KEY,"
            "  prefix TEXT NOT NULL,"      /* first characters, for listing only */
            "  hash BLOB NOT NULL UNIQUE," /* SHA-256 of the key */
            "  email TEXT,"
            "  created INTEGER NOT NULL);"
            "CREATE TABLE presets ("
            "  key_id INTEGER NOT NULL REFERENCES keys(id) ON DELETE CASCADE,"
            "  name TEXT NOT NULL,"
            "  options TEXT NOT NULL,"
            "  PRIMARY KEY (key_id, name));"
            "CREATE TABLE processes ("
            "  id TEXT PRIMARY KEY,"
            "  key_id INTEGER NOT NULL,"
            "  base TEXT NOT NULL," /* URL prefix: //host or http(s)://host */
            "  host TEXT NOT NULL,"
            "  upload_token TEXT UNIQUE,"
            "  download_token TEXT UNIQUE,"
            "  mode TEXT NOT NULL DEFAULT 'convert',"
            "  inputformat TEXT NOT NULL,"
            "  outputformat TEXT,"
            "  step TEXT NOT NULL,"
            "  started INTEGER NOT NULL DEFAULT 0,"
            "  percent REAL NOT NULL DEFAULT 0,"
            "  message TEXT NOT NULL DEFAULT '',"
            "  code INTEGER NOT NULL DEFAULT 0," /* 400 or 422 in step error */
            "  created INTEGER NOT NULL,"
            "  starttime INTEGER,"
            "  endtime INTEGER,"
            "  expire INTEGER NOT NULL,"
            "  doc TEXT NOT NULL DEFAULT '{}'," /* tag, input, converter, output, info */
            "  job TEXT,"                       /* what the engine needs to run it */
            "  attempt INTEGER NOT NULL DEFAULT 0,"
            "  save INTEGER NOT NULL DEFAULT 0,"
            "  downloads INTEGER NOT NULL DEFAULT 0,"
            "  callback TEXT);"
            "CREATE INDEX processes_key ON processes(key_id, created);"
            "CREATE INDEX processes_step ON processes(step);"
            "CREATE INDEX processes_expire ON processes(expire);"
            "CREATE TABLE outputs ("
            "  process_id TEXT NOT NULL REFERENCES processes(id) ON DELETE CASCADE,"
            "  name TEXT NOT NULL," /* '' is the ZIP of several files */
            "  size INTEGER NOT NULL,"
            "  state INTEGER NOT NULL DEFAULT 0," /* 0 ready, 1 being sent, 2 gone */
            "  PRIMARY KEY (process_id, name));"
            "CREATE TABLE callbacks ("
            "  id INTEGER PRIMARY KEY,"
            "  process_id TEXT NOT NULL,"
            "  url TEXT NOT NULL,"
            "  step TEXT NOT NULL,"
            "  attempts INTEGER NOT NULL DEFAULT 0,"
            "  next_at INTEGER NOT NULL,"
            "  done INTEGER NOT NULL DEFAULT 0,"
            "  last_status INTEGER);"
            "CREATE INDEX callbacks_due ON callbacks(done, next_at);"},
};

#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

int migrate_latest(void)
{
    return N_MIGRATIONS;
}

int migrate_apply(sqlite3 *db, struct err *err)
{
    sqlite3_stmt *st = NULL;
    int version = 0;
    char *errmsg = NULL;
    int rc = -1;

    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &errmsg) != SQLITE_OK)
        goto fail;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        goto fail;
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (version > N_MIGRATIONS) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return err_set(err, ERR_INTERNAL, "db: schema version %d is newer than this convertd (%d)",
                       version, N_MIGRATIONS);
    }
    for (int i = version; i < N_MIGRATIONS; i++) {
        if (sqlite3_exec(db, migrations[i].sql, NULL, NULL, &errmsg) != SQLITE_OK)
            goto fail;
    }
    if (version < N_MIGRATIONS) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", N_MIGRATIONS);
        if (sqlite3_exec(db, sql, NULL, NULL, &errmsg) != SQLITE_OK)
            goto fail;
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, &errmsg) != SQLITE_OK)
        goto fail;
    rc = 0;
    return rc;
fail:
    err_set(err, ERR_INTERNAL, "db: migration failed: %s", errmsg ? errmsg : sqlite3_errmsg(db));
    sqlite3_free(errmsg);
    sqlite3_finalize(st);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}
