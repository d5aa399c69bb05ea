/* SPDX-License-Identifier: MIT */
/* key_store.c - API keys stored as SHA-256 and compared in constant time (security.md
 * SEC-26), and the presets of each key. */
#include "db/key_store.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "common/id.h"
#include "common/mem.h"
#include "common/timefmt.h"
#include "db/db.h"

#define KEY_MIN        8
#define KEY_MAX        256
#define KEY_GEN_BYTES  32
#define KEY_PREFIX_LEN 6

static const char sql_key_insert[] =
    "INSERT INTO keys (prefix, hash, email, created) VALUES (?1, ?2, ?3, ?4)";
static const char sql_key_list[] = "SELECT id, prefix, email, created FROM keys ORDER BY id";
static const char sql_key_by_hash[] = "SELECT id, hash, email FROM keys WHERE hash = ?1";
static const char sql_preset_put[] =
    "INSERT INTO presets (key_id, name, options) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (key_id, name) DO UPDATE SET options = excluded.options";
static const char sql_preset_get[] = "SELECT options FROM presets WHERE key_id = ?1 AND name = ?2";
static const char sql_preset_list[] =
    "SELECT k.prefix, p.name, p.options FROM presets p JOIN keys k ON k.id = p.key_id "
    "ORDER BY k.id, p.name";

/* 8..256 (or 1..256 for a presented key) printable ASCII characters. */
static bool key_is_wellformed(const char *key, size_t min)
{
    size_t n;

    if (key == NULL)
        return false;
    n = strnlen(key, KEY_MAX + 1);
    if (n < min || n > KEY_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (key[i] < 0x20 || key[i] > 0x7e)
            return false;
    }
    return true;
}

static int db_fail(struct err *err)
{
    return err_set(err, ERR_INTERNAL, "db: %s", sqlite3_errmsg(db_conn(NULL)));
}

int key_store_add(const char *key, const char *email, char **key_out, struct err *err)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    sqlite3_stmt *st = NULL;
    char *k = NULL;
    int rc = -1, step;

    if (key == NULL) {
        unsigned char raw[KEY_GEN_BYTES];
        /* SEC-26: at least 32 random bytes; URL-safe so it fits a query string as is. */
        k = xmalloc((KEY_GEN_BYTES + 2) / 3 * 4 + 1);
        id_random_bytes(raw, sizeof raw);
        id_base64url(raw, sizeof raw, k);
        OPENSSL_cleanse(raw, sizeof raw);
    } else if (!key_is_wellformed(key, KEY_MIN)) {
        return err_set(err, ERR_BADPARAM, "key must be %d to %d printable ASCII characters",
                       KEY_MIN, KEY_MAX);
    } else {
        k = xstrdup(key);
    }
    SHA256((const unsigned char *)k, strlen(k), digest);
    st = db_stmt(sql_key_insert, err);
    if (st == NULL)
        goto out;
    sqlite3_bind_text(st, 1, k, KEY_PREFIX_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, digest, sizeof digest, SQLITE_STATIC);
    if (email != NULL)
        sqlite3_bind_text(st, 3, email, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, time_now());
    step = sqlite3_step(st);
    if (step == SQLITE_CONSTRAINT_UNIQUE) {
        err_set(err, ERR_BADPARAM, "key already exists");
        goto out;
    }
    if (step != SQLITE_DONE) {
        db_fail(err);
        goto out;
    }
    if (key_out != NULL) {
        *key_out = k;
        k = NULL;
    }
    rc = 0;
out:
    if (st != NULL) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    if (k != NULL) {
        OPENSSL_cleanse(k, strlen(k));
        free(k);
    }
    return rc;
}

json_t *key_store_list(struct err *err)
{
    sqlite3_stmt *st = db_stmt(sql_key_list, err);
    json_t *list = NULL;
    int step;

    if (st == NULL)
        return NULL;
    list = json_array();
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        char created[TIMEFMT_LEN + 1];
        const char *email = (const char *)sqlite3_column_text(st, 2);

        time_utc_string(sqlite3_column_int64(st, 3), created);
        json_array_append_new(
            list, json_pack("{s:I, s:s, s:o, s:s}", "id", (json_int_t)sqlite3_column_int64(st, 0),
                            "prefix", (const char *)sqlite3_column_text(st, 1), "email",
                            email ? json_string(email) : json_null(), "created", created));
    }
    if (step != SQLITE_DONE) {
        db_fail(err);
        json_decref(list);
        list = NULL;
    }
    sqlite3_reset(st);
    return list;
}

int key_store_check(const char *key, int64_t *key_id, char **email, struct err *err)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    sqlite3_stmt *st = NULL;
    int rc = -1, step;

    /* Malformed and unknown keys get the same answer: nothing to probe (spec "Auth"). */
    if (!key_is_wellformed(key, 1))
        return err_set(err, ERR_AUTH, "Invalid API Key provided!");
    SHA256((const unsigned char *)key, strlen(key), digest);
    st = db_stmt(sql_key_by_hash, err);
    if (st == NULL)
        goto out;
    sqlite3_bind_blob(st, 1, digest, sizeof digest, SQLITE_STATIC);
    step = sqlite3_step(st);
    if (step == SQLITE_DONE) {
        err_set(err, ERR_AUTH, "Invalid API Key provided!");
        goto out;
    }
    if (step != SQLITE_ROW) {
        db_fail(err);
        goto out;
    }
    /* SEC-26: the index found the row; the digest itself is compared in constant time. */
    if (sqlite3_column_bytes(st, 1) != (int)sizeof digest ||
        CRYPTO_memcmp(sqlite3_column_blob(st, 1), digest, sizeof digest) != 0) {
        err_set(err, ERR_AUTH, "Invalid API Key provided!");
        goto out;
    }
    if (key_id != NULL)
        *key_id = sqlite3_column_int64(st, 0);
    if (email != NULL) {
        const char *e = (const char *)sqlite3_column_text(st, 2);
        *email = e ? xstrdup(e) : NULL;
    }
    rc = 0;
out:
    if (st != NULL) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    return rc;
}

int preset_store_add(const char *key, const char *id, const json_t *options, struct err *err)
{
    sqlite3_stmt *st = NULL;
    char *text = NULL;
    int64_t key_id;
    int rc = -1;

    if (id == NULL || *id == '\0')
        return err_set(err, ERR_BADPARAM, "preset id is missing");
    if (options == NULL || !json_is_object(options))
        return err_set(err, ERR_BADPARAM, "preset options must be a JSON object");
    if (key_store_check(key, &key_id, NULL, err) != 0)
        return -1;
    text = json_dumps(options, JSON_COMPACT);
    if (text == NULL) {
        err_set(err, ERR_INTERNAL, "cannot serialise preset options");
        goto out;
    }
    st = db_stmt(sql_preset_put, err);
    if (st == NULL)
        goto out;
    sqlite3_bind_int64(st, 1, key_id);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        db_fail(err);
        goto out;
    }
    rc = 0;
out:
    if (st != NULL) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    free(text);
    return rc;
}

json_t *preset_store_get(int64_t key_id, const char *id, struct err *err)
{
    sqlite3_stmt *st = NULL;
    json_t *options = NULL;
    json_error_t jerr;
    int step;

    if (id == NULL)
        id = "";
    st = db_stmt(sql_preset_get, err);
    if (st == NULL)
        return NULL;
    sqlite3_bind_int64(st, 1, key_id);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    step = sqlite3_step(st);
    if (step == SQLITE_DONE) {
        /* spec "POST /process": unknown id → 400 "preset ID not found" */
        err_set(err, ERR_BADPARAM, "preset %s not found", id);
    } else if (step != SQLITE_ROW) {
        db_fail(err);
    } else {
        options =
            json_loads((const char *)sqlite3_column_text(st, 0), JSON_REJECT_DUPLICATES, &jerr);
        if (options == NULL)
            err_set(err, ERR_INTERNAL, "preset %s: stored options unreadable: %s", id, jerr.text);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return options;
}

json_t *preset_store_list(struct err *err)
{
    sqlite3_stmt *st = db_stmt(sql_preset_list, err);
    json_t *list = NULL;
    int step;

    if (st == NULL)
        return NULL;
    list = json_array();
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *options = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);

        json_array_append_new(list, json_pack("{s:s, s:s, s:o}", "key_prefix",
                                              (const char *)sqlite3_column_text(st, 0), "id",
                                              (const char *)sqlite3_column_text(st, 1), "options",
                                              options ? options : json_null()));
    }
    if (step != SQLITE_DONE) {
        db_fail(err);
        json_decref(list);
        list = NULL;
    }
    sqlite3_reset(st);
    return list;
}

int key_store_email(int64_t key_id, char **email, struct err *err)
{
    static const char sql[] = "SELECT email FROM keys WHERE id = ?";
    sqlite3_stmt *st = db_stmt(sql, err);
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, key_id);
    *email = NULL;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) && *sqlite3_column_text(st, 0))
        *email = xstrdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    return 0;
}
