/* SPDX-License-Identifier: MIT */
/* test_db.c - unit tests of db/: migrations, connections and the statement cache, API keys
 * and presets, on a database file in a temporary directory. */
#include <check.h>
#include <pthread.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/sha.h>

#include "common/buf.h"
#include "common/fsx.h"
#include "common/mem.h"
#include "common/timefmt.h"
#include "db/db.h"
#include "db/key_store.h"
#include "db/migrate.h"

static char tmpdir[64];
static char *db_file;

static void db_setup(void)
{
    struct err err = ERR_INIT;

    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_db.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    db_file = xasprintf("%s/convertd.db", tmpdir);
    ck_assert_msg(db_init(db_file, &err) == 0, "%s", err.msg);
}

static void db_teardown(void)
{
    db_thread_close();
    fsx_rm_rf(tmpdir);
    free(db_file);
    db_file = NULL;
}

static int64_t query_int(const char *sql)
{
    struct err err = ERR_INIT;
    sqlite3_stmt *st = NULL;
    int64_t v;

    ck_assert_int_eq(sqlite3_prepare_v2(db_conn(&err), sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static char *query_text(const char *sql)
{
    struct err err = ERR_INIT;
    sqlite3_stmt *st = NULL;
    char *v;

    ck_assert_int_eq(sqlite3_prepare_v2(db_conn(&err), sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    v = xstrdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return v;
}

/* ---- db ---- */

START_TEST(test_migrations)
{
    static const char *const tables[] = {"keys", "presets", "processes", "outputs", "callbacks"};
    struct err err = ERR_INIT;
    char *mode;

    ck_assert_int_ge(migrate_latest(), 1);
    ck_assert_int_eq(query_int("PRAGMA user_version"), migrate_latest());
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        char *sql = xasprintf("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                              "name = '%s'",
                              tables[i]);
        ck_assert_msg(query_int(sql) == 1, "table %s", tables[i]);
        free(sql);
    }
    mode = query_text("PRAGMA journal_mode");
    ck_assert_str_eq(mode, "wal");
    free(mode);
    ck_assert_int_eq(query_int("PRAGMA foreign_keys"), 1);
    ck_assert_int_eq(query_int("PRAGMA synchronous"), 1); /* NORMAL */

    /* A second start on the same file applies nothing and keeps the data. */
    ck_assert_int_eq(
        db_exec("INSERT INTO keys (prefix, hash, created) VALUES ('p', x'00', 1)", &err), 0);
    ck_assert_int_eq(db_init(db_file, &err), 0);
    ck_assert_int_eq(query_int("PRAGMA user_version"), migrate_latest());
    ck_assert_int_eq(query_int("SELECT count(*) FROM keys"), 1);

    /* A database from a newer convertd is refused. */
    ck_assert_int_eq(db_exec("PRAGMA user_version = 9999", &err), 0);
    ck_assert_int_eq(db_init(db_file, &err), -1);
    ck_assert_int_eq(err.code, ERR_INTERNAL);
}
END_TEST

static const char sql_count[] = "SELECT count(*) FROM keys WHERE created >= ?1";
static const char sql_count_copy[] = "SELECT count(*) FROM keys WHERE created >= ?1";
static const char sql_echo[] = "SELECT ?1";

START_TEST(test_stmt_cache)
{
    struct err err = ERR_INIT;
    sqlite3_stmt *a, *b, *c;

    a = db_stmt(sql_count, &err);
    ck_assert_ptr_nonnull(a);
    b = db_stmt(sql_count, &err);
    ck_assert_ptr_eq(a, b);
    /* keyed by address: equal text elsewhere is a statement of its own */
    c = db_stmt(sql_count_copy, &err);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_ne(a, c);
    ck_assert_ptr_eq(db_stmt(sql_count, &err), a);

    /* bindings are cleared */
    a = db_stmt(sql_echo, &err);
    sqlite3_bind_int(a, 1, 42);
    ck_assert_int_eq(sqlite3_step(a), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(a, 0), 42);
    a = db_stmt(sql_echo, &err);
    ck_assert_int_eq(sqlite3_step(a), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_type(a, 0), SQLITE_NULL);

    /* and a half-read statement starts again from its first row */
    a = db_stmt("SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3", &err);
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(sqlite3_step(a), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_step(a), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(a, 0), 2);

    /* many statements: the cache grows past its first allocation */
    for (int i = 0; i < 100; i++) {
        static char texts[100][48];
        snprintf(texts[i], sizeof texts[i], "SELECT %d", i);
        b = db_stmt(texts[i], &err);
        ck_assert_ptr_nonnull(b);
        ck_assert_int_eq(sqlite3_step(b), SQLITE_ROW);
        ck_assert_int_eq(sqlite3_column_int(b, 0), i);
    }

    /* a bad statement is an ERR_INTERNAL with SQLite's message */
    ck_assert_ptr_null(db_stmt("SELECT * FROM no_such_table", &err));
    ck_assert_int_eq(err.code, ERR_INTERNAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "no_such_table"));
}
END_TEST

START_TEST(test_transactions)
{
    static const char ins[] = "INSERT INTO keys (prefix, hash, created) VALUES ('p', ?1, 1)";
    struct err err = ERR_INIT;
    sqlite3_stmt *st;

    ck_assert_int_eq(db_begin(&err), 0);
    st = db_stmt(ins, &err);
    sqlite3_bind_blob(st, 1, "a", 1, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
    db_rollback();
    ck_assert_int_eq(query_int("SELECT count(*) FROM keys"), 0);

    ck_assert_int_eq(db_begin(&err), 0);
    /* a transaction does not nest */
    ck_assert_int_eq(db_begin(&err), -1);
    err_clear(&err);
    st = db_stmt(ins, &err);
    sqlite3_bind_blob(st, 1, "b", 1, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
    ck_assert_int_eq(db_commit(&err), 0);
    ck_assert_int_eq(query_int("SELECT count(*) FROM keys"), 1);
    /* commit without a transaction fails and leaves the connection usable */
    ck_assert_int_eq(db_commit(&err), -1);
    ck_assert_int_eq(err.code, ERR_INTERNAL);
    db_rollback(); /* harmless outside a transaction */
    ck_assert_int_eq(query_int("SELECT count(*) FROM keys"), 1);
}
END_TEST

/* Two threads at once: each gets a connection of its own, and both can write. */
struct thread_result {
    pthread_barrier_t *barrier;
    sqlite3 *conn;
    int added;
    int failed;
};

static void *thread_main(void *arg)
{
    struct thread_result *r = arg;
    struct err err = ERR_INIT;

    r->conn = db_conn(&err);
    /* both connections exist at the same time, so their addresses must differ */
    pthread_barrier_wait(r->barrier);
    for (int i = 0; i < 20; i++) {
        char *key = NULL;
        err_clear(&err);
        if (key_store_add(NULL, NULL, &key, &err) == 0 &&
            key_store_check(key, NULL, NULL, &err) == 0)
            r->added++;
        else
            r->failed++;
        free(key);
    }
    /* no db_thread_close(): the key destructor must release the connection */
    return NULL;
}

START_TEST(test_threads)
{
    struct err err = ERR_INIT;
    sqlite3 *mine = db_conn(&err);
    pthread_barrier_t barrier;
    struct thread_result r[2] = {{.barrier = &barrier}, {.barrier = &barrier}};
    pthread_t t[2];

    ck_assert_ptr_nonnull(mine);
    ck_assert_ptr_eq(db_conn(&err), mine);
    pthread_barrier_init(&barrier, NULL, 2);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, thread_main, &r[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&barrier);
    ck_assert_ptr_nonnull(r[0].conn);
    ck_assert_ptr_nonnull(r[1].conn);
    ck_assert_ptr_ne(r[0].conn, mine);
    ck_assert_ptr_ne(r[1].conn, mine);
    ck_assert_ptr_ne(r[0].conn, r[1].conn);
    ck_assert_int_eq(r[0].failed + r[1].failed, 0);
    ck_assert_int_eq(r[0].added + r[1].added, 40);
    ck_assert_int_eq(query_int("SELECT count(*) FROM keys"), 40);
}
END_TEST

/* ---- keys ---- */

static bool url_safe(const char *s)
{
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
           strlen(s);
}

START_TEST(test_key_generated)
{
    struct err err = ERR_INIT;
    char *k1 = NULL, *k2 = NULL, *email = NULL, *dump;
    int64_t id1 = 0, id2 = 0;
    json_t *list, *row;
    regex_t re;

    ck_assert_int_eq(key_store_add(NULL, "ops@example.com", &k1, &err), 0);
    ck_assert_int_eq(key_store_add(NULL, NULL, &k2, &err), 0);
    ck_assert_uint_eq(strlen(k1), 43);
    ck_assert_uint_eq(strlen(k2), 43);
    ck_assert(url_safe(k1));
    ck_assert(url_safe(k2));
    ck_assert_str_ne(k1, k2);

    ck_assert_int_eq(key_store_check(k1, &id1, &email, &err), 0);
    ck_assert_str_eq(email, "ops@example.com");
    free(email);
    {
        char *sentinel = xstrdup("sentinel");
        email = sentinel;
        ck_assert_int_eq(key_store_check(k2, &id2, &email, &err), 0);
        ck_assert_ptr_null(email);
        free(sentinel);
    }
    ck_assert_int_ne(id1, id2);

    list = key_store_list(&err);
    ck_assert_ptr_nonnull(list);
    ck_assert_uint_eq(json_array_size(list), 2);
    row = json_array_get(list, 0);
    ck_assert_int_eq(json_integer_value(json_object_get(row, "id")), id1);
    ck_assert_uint_eq(strlen(json_string_value(json_object_get(row, "prefix"))), 6);
    ck_assert_int_eq(strncmp(json_string_value(json_object_get(row, "prefix")), k1, 6), 0);
    ck_assert_str_eq(json_string_value(json_object_get(row, "email")), "ops@example.com");
    ck_assert(json_is_null(json_object_get(json_array_get(list, 1), "email")));
    ck_assert_int_eq(regcomp(&re, "^20[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    ck_assert_int_eq(regexec(&re, json_string_value(json_object_get(row, "created")), 0, NULL, 0),
                     0);
    regfree(&re);
    /* never the key itself */
    dump = json_dumps(list, 0);
    ck_assert_ptr_null(strstr(dump, k1));
    ck_assert_ptr_null(strstr(dump, k2));
    free(dump);
    json_decref(list);
    free(k1);
    free(k2);
}
END_TEST

START_TEST(test_key_randomness)
{
    struct err err = ERR_INIT;
    int counts[64] = {0};
    int total = 0;
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    /* 50 keys x 42 full characters: ~33 per symbol; a fixed or biased generator shows. */
    for (int i = 0; i < 50; i++) {
        char *k = NULL;
        ck_assert_int_eq(key_store_add(NULL, NULL, &k, &err), 0);
        for (int j = 0; j < 42; j++) {
            counts[strchr(alphabet, k[j]) - alphabet]++;
            total++;
        }
        free(k);
    }
    for (int c = 0; c < 64; c++) {
        ck_assert_int_gt(counts[c], 5);
        ck_assert_int_lt(counts[c], 90);
    }
    ck_assert_int_eq(total, 50 * 42);
    ck_assert_int_eq(query_int("SELECT count(DISTINCT hash) FROM keys"), 50);
}
END_TEST

static const struct {
    int len; /* 0: use text */
    const char *text;
    int rc;
} given_table[] = {
    {0, "abcdefg", -1}, /* 7 */
    {0, "abcdefgh", 0}, /* 8 */
    {0, "with space ok", 0},
    {0, "tab\tinside", -1},
    {0, "newline\nkey", -1},
    {0, "r\xc3\xa9sum\xc3\xa9key", -1},
    {0, "", -1},
    {256, NULL, 0},
    {257, NULL, -1},
};

START_TEST(test_key_given)
{
    for (size_t i = 0; i < sizeof(given_table) / sizeof(given_table[0]); i++) {
        struct err err = ERR_INIT;
        char *key, *out = NULL;
        int64_t id;

        if (given_table[i].len) {
            key = xmalloc((size_t)given_table[i].len + 1);
            memset(key, 'k', (size_t)given_table[i].len);
            key[given_table[i].len] = '\0';
        } else {
            key = xstrdup(given_table[i].text);
        }
        ck_assert_msg(key_store_add(key, NULL, &out, &err) == given_table[i].rc, "case %zu", i);
        if (given_table[i].rc == 0) {
            ck_assert_str_eq(out, key);
            ck_assert_int_eq(key_store_check(key, &id, NULL, &err), 0);
        } else {
            ck_assert_int_eq(err.code, ERR_BADPARAM);
            ck_assert_ptr_null(out);
        }
        free(out);
        free(key);
    }
}
END_TEST

START_TEST(test_key_duplicate)
{
    struct err err = ERR_INIT;

    ck_assert_int_eq(key_store_add("my-operator-key", NULL, NULL, &err), 0);
    ck_assert_int_eq(key_store_add("my-operator-key", "x@y", NULL, &err), -1);
    ck_assert_int_eq(err.code, ERR_BADPARAM);
    ck_assert_str_eq(err.msg, "key already exists");
    ck_assert_int_eq(query_int("SELECT count(*) FROM keys"), 1);
}
END_TEST

START_TEST(test_key_stored_hashed)
{
    static const char key[] = "plain-text-operator-key";
    unsigned char digest[SHA256_DIGEST_LENGTH];
    struct err err = ERR_INIT;
    sqlite3_stmt *st = NULL;

    ck_assert_int_eq(key_store_add(key, NULL, NULL, &err), 0);
    SHA256((const unsigned char *)key, strlen(key), digest);
    ck_assert_int_eq(
        sqlite3_prepare_v2(db_conn(&err), "SELECT prefix, hash FROM keys", -1, &st, NULL),
        SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "plain-");
    ck_assert_int_eq(sqlite3_column_bytes(st, 1), SHA256_DIGEST_LENGTH);
    ck_assert_int_eq(memcmp(sqlite3_column_blob(st, 1), digest, sizeof digest), 0);
    sqlite3_finalize(st);
}
END_TEST

START_TEST(test_key_wrong)
{
    struct err err = ERR_INIT;
    char *good = NULL, *bad, *huge;
    int64_t id = -7;

    ck_assert_int_eq(key_store_add(NULL, NULL, &good, &err), 0);
    bad = xstrdup(good);
    bad[42] = bad[42] == 'A' ? 'B' : 'A';
    huge = xmalloc(301);
    memset(huge, 'a', 300);
    huge[300] = '\0';
    {
        const char *cases[] = {bad, "", "unknown-key", huge, "ctl\x01key-xx", "key\x7f-zzzz", NULL};
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            err_clear(&err);
            ck_assert_msg(key_store_check(cases[i], &id, NULL, &err) == -1, "case %zu", i);
            ck_assert_int_eq(err.code, ERR_AUTH);
            ck_assert_str_eq(err.msg, "Invalid API Key provided!");
            ck_assert_int_eq(id, -7);
        }
    }
    /* the good key still works after all that */
    err_clear(&err);
    ck_assert_int_eq(key_store_check(good, &id, NULL, &err), 0);
    ck_assert_int_ne(id, -7);
    free(good);
    free(bad);
    free(huge);
}
END_TEST

/* ---- presets ---- */

START_TEST(test_presets)
{
    struct err err = ERR_INIT;
    char *k1 = NULL, *k2 = NULL;
    int64_t id1, id2;
    json_t *opts, *got, *list;

    ck_assert_int_eq(key_store_add("first-key-123", NULL, &k1, &err), 0);
    ck_assert_int_eq(key_store_add("second-key-456", NULL, &k2, &err), 0);
    ck_assert_int_eq(key_store_check(k1, &id1, NULL, &err), 0);
    ck_assert_int_eq(key_store_check(k2, &id2, NULL, &err), 0);

    opts = json_pack("{s:i, s:s}", "resize", 100, "quality", "80");
    ck_assert_int_eq(preset_store_add(k1, "thumb", opts, &err), 0);
    got = preset_store_get(id1, "thumb", &err);
    ck_assert_ptr_nonnull(got);
    ck_assert(json_equal(got, opts));
    json_decref(got);
    json_decref(opts);

    /* replace */
    opts = json_pack("{s:b}", "strip", 1);
    ck_assert_int_eq(preset_store_add(k1, "thumb", opts, &err), 0);
    got = preset_store_get(id1, "thumb", &err);
    ck_assert(json_equal(got, opts));
    json_decref(got);

    /* presets belong to their key */
    ck_assert_ptr_null(preset_store_get(id2, "thumb", &err));
    ck_assert_int_eq(err.code, ERR_BADPARAM);
    ck_assert_ptr_nonnull(strstr(err.msg, "preset"));
    ck_assert_ptr_nonnull(strstr(err.msg, "thumb"));
    err_clear(&err);
    ck_assert_ptr_null(preset_store_get(id1, "nosuch-preset-77", &err));
    ck_assert_int_eq(err.code, ERR_BADPARAM);
    ck_assert_str_eq(err.msg, "preset nosuch-preset-77 not found");
    err_clear(&err);

    /* unknown key, options that are not an object */
    ck_assert_int_eq(preset_store_add("not-a-stored-key", "x", opts, &err), -1);
    ck_assert_int_eq(err.code, ERR_AUTH);
    err_clear(&err);
    json_decref(opts);
    opts = json_pack("[i]", 1);
    ck_assert_int_eq(preset_store_add(k1, "x", opts, &err), -1);
    ck_assert_int_eq(err.code, ERR_BADPARAM);
    err_clear(&err);
    json_decref(opts);

    opts = json_object();
    ck_assert_int_eq(preset_store_add(k2, "empty", opts, &err), 0);
    json_decref(opts);
    list = preset_store_list(&err);
    ck_assert_ptr_nonnull(list);
    ck_assert_uint_eq(json_array_size(list), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "key_prefix")),
                     "first-");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "id")), "thumb");
    ck_assert(json_is_true(
        json_object_get(json_object_get(json_array_get(list, 0), "options"), "strip")));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 1), "key_prefix")),
                     "second");
    ck_assert(json_is_object(json_object_get(json_array_get(list, 1), "options")));
    json_decref(list);
    free(k1);
    free(k2);
}
END_TEST

static Suite *db_suite(void)
{
    Suite *s = suite_create("db");
    TCase *tc;

    tc = tcase_create("db");
    tcase_add_checked_fixture(tc, db_setup, db_teardown);
    tcase_add_test(tc, test_migrations);
    tcase_add_test(tc, test_stmt_cache);
    tcase_add_test(tc, test_transactions);
    tcase_add_test(tc, test_threads);
    suite_add_tcase(s, tc);

    tc = tcase_create("keys");
    tcase_add_checked_fixture(tc, db_setup, db_teardown);
    tcase_add_test(tc, test_key_generated);
    tcase_add_test(tc, test_key_randomness);
    tcase_add_test(tc, test_key_given);
    tcase_add_test(tc, test_key_duplicate);
    tcase_add_test(tc, test_key_stored_hashed);
    tcase_add_test(tc, test_key_wrong);
    suite_add_tcase(s, tc);

    tc = tcase_create("presets");
    tcase_add_checked_fixture(tc, db_setup, db_teardown);
    tcase_add_test(tc, test_presets);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(db_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
