/* SPDX-License-Identifier: MIT */
/* migrate.h - the schema as an append-only list of migrations indexed by user_version. */
#ifndef CONVERTD_DB_MIGRATE_H
#define CONVERTD_DB_MIGRATE_H

#include <sqlite3.h>

#include "common/err.h"

/* Apply every pending migration and the new user_version in one BEGIN IMMEDIATE
 * transaction. */
int migrate_apply(sqlite3 *db, struct err *err);

/* The user_version a fully migrated database has. */
int migrate_latest(void);

#endif
