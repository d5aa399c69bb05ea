/* SPDX-License-Identifier: MIT */
/* test_cloud.c - dropbox_upload()/gdrive_upload() against tests/lib/cloudstub.py, a stand-in
 * for both upload APIs on 127.0.0.1 started once for the whole program. */
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fsx.h"
#include "common/mem.h"
#include "storage/cloud.h"
#include "storage/fetch.h"
#include "fixture.h"

/* cloud.c's test hooks (UNITTEST). */
extern int64_t dropbox_single_max;
extern int64_t dropbox_chunk_size;

#define TOKEN       "sl.TEST-token-Xyz123"
#define WRONG_TOKEN "wrong-Secret-Token-42"
#define MAX_LEN     (1024 * 1024)

static char *tmpdir, *root, *work, *base_url;
static struct fixture stub = FIXTURE_INIT;

static unsigned char pattern(size_t i)
{
    return (unsigned char)((i * 13 + i / 509) & 0xff);
}

static char *write_src(size_t len)
{
    char *path = xasprintf("%s/src-%zu.bin", work, len);
    unsigned char *data = xmalloc(len + 1);
    struct err err = ERR_INIT;

    for (size_t i = 0; i < len; i++)
        data[i] = pattern(i);
    ck_assert_msg(fsx_write_atomic(path, data, len, &err) == 0, "%s", err.msg);
    free(data);
    return path;
}

static void assert_pattern(const char *path, size_t len)
{
    struct err err = ERR_INIT;
    size_t got_len = 0;
    char *got = fsx_read_file(path, MAX_LEN, &got_len, &err);

    ck_assert_msg(got != NULL, "%s: %s", path, err.msg);
    ck_assert_uint_eq(got_len, len);
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)got[i] != pattern(i))
            ck_abort_msg("%s: byte %zu differs", path, i);
    }
    free(got);
}

static bool exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

/* The stub's request log, one parsed JSON object per request. */
static json_t *requests(void)
{
    char *path = xasprintf("%s/requests.log", root);
    json_t *all = json_array();
    FILE *fp = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;

    while (fp != NULL && getline(&line, &cap, fp) > 0) {
        json_t *r = json_loads(line, 0, NULL);

        ck_assert_ptr_nonnull(r);
        json_array_append_new(all, r);
    }
    if (fp != NULL)
        fclose(fp);
    free(line);
    free(path);
    return all;
}

static const char *req_header(const json_t *req, const char *name)
{
    return json_string_value(json_object_get(json_object_get(req, "headers"), name));
}

/* How many requests of the log went to path (query included). */
static size_t count_path(const char *path)
{
    json_t *all = requests(), *r;
    size_t i, n = 0;

    json_array_foreach (all, i, r) {
        if (strcmp(json_string_value(json_object_get(r, "path")), path) == 0)
            n++;
    }
    json_decref(all);
    return n;
}

static json_t *read_json(const char *path)
{
    json_t *j = json_load_file(path, 0, NULL);

    ck_assert_msg(j != NULL, "%s", path);
    return j;
}

/* ---- Dropbox ------------------------------------------------------------------------- */

START_TEST(test_dropbox_single)
{
    struct err err = ERR_INIT;
    char *src = write_src(5000), *shown = NULL;
    char *on_server = xasprintf("%s/dropbox/out/a.bin", root);

    ck_assert_msg(dropbox_upload(base_url, TOKEN, "/out/a.bin", src, NULL, &shown, &err) == 0, "%s",
                  err.msg);
    ck_assert_str_eq(shown, "/out/a.bin");
    assert_pattern(on_server, 5000);
    /* Overwritten by a second upload, not renamed. */
    free(shown);
    free(src);
    src = write_src(70);
    ck_assert_msg(dropbox_upload(base_url, TOKEN, "/out/a.bin", src, NULL, &shown, &err) == 0, "%s",
                  err.msg);
    assert_pattern(on_server, 70);
    free(on_server);
    free(shown);
    free(src);
}
END_TEST

START_TEST(test_dropbox_unicode)
{
    static const char path[] = "/\xc3\xbcn\xc3\xaf/\xe6\x97\xa5\xe6\x9c\xac \"q\" file.txt";
    struct err err = ERR_INIT;
    char *src = write_src(300), *shown = NULL;
    char *on_server = xasprintf("%s/dropbox%s", root, path);
    json_t *all, *r, *arg = NULL;
    size_t i;

    ck_assert_msg(dropbox_upload(base_url, TOKEN, path, src, NULL, &shown, &err) == 0, "%s",
                  err.msg);
    ck_assert_str_eq(shown, path);
    assert_pattern(on_server, 300);
    /* The header went as ASCII with \u escapes, and says what Dropbox expects. */
    all = requests();
    json_array_foreach (all, i, r) {
        const char *a = req_header(r, "Dropbox-API-Arg");

        /* jansson writes the hex digits in upper case, Dropbox reads either. */
        if (a == NULL || strcasestr(a, "\\u00fcn\\u00ef") == NULL)
            continue;
        ck_assert(json_is_true(json_object_get(r, "ascii_headers")));
        ck_assert_str_eq(json_string_value(json_object_get(r, "path")), "/2/files/upload");
        ck_assert_str_eq(req_header(r, "Content-Type"), "application/octet-stream");
        ck_assert_str_eq(req_header(r, "Authorization"), "Bearer " TOKEN);
        arg = json_loads(a, 0, NULL);
    }
    ck_assert_ptr_nonnull(arg);
    ck_assert_str_eq(json_string_value(json_object_get(arg, "path")), path);
    ck_assert_str_eq(json_string_value(json_object_get(arg, "mode")), "overwrite");
    ck_assert(json_is_false(json_object_get(arg, "autorename")));
    ck_assert(json_is_true(json_object_get(arg, "mute")));
    json_decref(arg);
    json_decref(all);
    free(on_server);
    free(shown);
    free(src);
}
END_TEST

/* Above the (lowered) threshold, in chunks: start with the first, one append_v2, finish with
 * the last. */
START_TEST(test_dropbox_session)
{
    struct err err = ERR_INIT;
    char *src = write_src(12000), *shown = NULL;
    char *on_server = xasprintf("%s/dropbox/big/s.bin", root);
    size_t start = count_path("/2/files/upload_session/start");
    size_t append = count_path("/2/files/upload_session/append_v2");
    size_t finish = count_path("/2/files/upload_session/finish");
    size_t single = count_path("/2/files/upload");

    dropbox_single_max = 10000;
    dropbox_chunk_size = 4096;
    ck_assert_msg(dropbox_upload(base_url, TOKEN, "/big/s.bin", src, NULL, &shown, &err) == 0, "%s",
                  err.msg);
    ck_assert_str_eq(shown, "/big/s.bin");
    assert_pattern(on_server, 12000);
    ck_assert_uint_eq(count_path("/2/files/upload_session/start"), start + 1);
    ck_assert_uint_eq(count_path("/2/files/upload_session/append_v2"), append + 1);
    ck_assert_uint_eq(count_path("/2/files/upload_session/finish"), finish + 1);
    ck_assert_uint_eq(count_path("/2/files/upload"), single);

    /* At the threshold: one plain upload. */
    free(shown);
    free(src);
    src = write_src(10000);
    ck_assert_msg(dropbox_upload(base_url, TOKEN, "/big/t.bin", src, NULL, &shown, &err) == 0, "%s",
                  err.msg);
    ck_assert_uint_eq(count_path("/2/files/upload"), single + 1);
    ck_assert_uint_eq(count_path("/2/files/upload_session/start"), start + 1);
    dropbox_single_max = 150 * 1024 * 1024;
    dropbox_chunk_size = 128 * 1024 * 1024;
    free(on_server);
    free(shown);
    free(src);
}
END_TEST

START_TEST(test_dropbox_conflict)
{
    struct err err = ERR_INIT;
    char *src = write_src(10), *shown = NULL;

    ck_assert_int_eq(dropbox_upload(base_url, TOKEN, "/conflict/x.bin", src, NULL, &shown, &err),
                     -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_str_eq(err.msg, "Dropbox: path/conflict/file/..");
    ck_assert_ptr_null(shown);
    free(src);
}
END_TEST

START_TEST(test_dropbox_wrong_token)
{
    struct err err = ERR_INIT;
    char *src = write_src(10), *shown = NULL;
    char *on_server = xasprintf("%s/dropbox/denied.bin", root);

    ck_assert_int_eq(dropbox_upload(base_url, WRONG_TOKEN, "/denied.bin", src, NULL, &shown, &err),
                     -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_str_eq(err.msg, "Dropbox: HTTP 401: invalid_access_token/..");
    ck_assert_ptr_null(strstr(err.msg, WRONG_TOKEN));
    ck_assert_ptr_null(shown);
    ck_assert(!exists(on_server));
    free(on_server);
    free(src);
}
END_TEST

START_TEST(test_dropbox_not_allowed)
{
    struct err err = ERR_INIT;
    char *src = write_src(10), *shown = NULL;
    char *on_server = xasprintf("%s/dropbox/blocked.bin", root);

    fetch_set_policy(false, NULL);
    ck_assert_int_eq(dropbox_upload(base_url, TOKEN, "/blocked.bin", src, NULL, &shown, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_str_eq(err.msg, "Dropbox server not allowed");
    ck_assert(!exists(on_server));
    fetch_set_policy(true, NULL);
    free(on_server);
    free(src);
}
END_TEST

/* ---- Google Drive -------------------------------------------------------------------- */

START_TEST(test_gdrive_upload)
{
    static const char name[] = "report \xc3\xbc \"1\".pdf";
    struct err err = ERR_INIT;
    char *src = write_src(9000), *id = NULL, *stored, *meta_path;
    json_t *meta, *parents;

    ck_assert_msg(gdrive_upload(base_url, TOKEN, "folder-123", name, src, "application/pdf", NULL,
                                &id, &err) == 0,
                  "%s", err.msg);
    ck_assert_ptr_nonnull(id);
    ck_assert_uint_gt(strlen(id), 0);
    stored = xasprintf("%s/gdrive/%s", root, id);
    meta_path = xasprintf("%s/gdrive/%s.json", root, id);
    assert_pattern(stored, 9000);
    meta = read_json(meta_path);
    ck_assert_str_eq(json_string_value(json_object_get(meta, "name")), name);
    ck_assert_str_eq(json_string_value(json_object_get(meta, "mimeType")), "application/pdf");
    parents = json_object_get(meta, "parents");
    ck_assert_uint_eq(json_array_size(parents), 1);
    ck_assert_str_eq(json_string_value(json_array_get(parents, 0)), "folder-123");
    json_decref(meta);
    free(meta_path);
    free(stored);
    free(id);
    free(src);
}
END_TEST

START_TEST(test_gdrive_no_folder)
{
    struct err err = ERR_INIT;
    char *src = write_src(0), *id = NULL, *stored, *meta_path;
    json_t *meta;

    ck_assert_msg(gdrive_upload(base_url, TOKEN, NULL, "empty.bin", src, NULL, NULL, &id, &err) ==
                      0,
                  "%s", err.msg);
    stored = xasprintf("%s/gdrive/%s", root, id);
    meta_path = xasprintf("%s/gdrive/%s.json", root, id);
    assert_pattern(stored, 0);
    meta = read_json(meta_path);
    ck_assert_str_eq(json_string_value(json_object_get(meta, "name")), "empty.bin");
    ck_assert_ptr_null(json_object_get(meta, "parents"));
    ck_assert_str_eq(json_string_value(json_object_get(meta, "mimeType")),
                     "application/octet-stream");
    json_decref(meta);
    free(meta_path);
    free(stored);
    free(id);
    free(src);
}
END_TEST

START_TEST(test_gdrive_wrong_token)
{
    struct err err = ERR_INIT;
    char *src = write_src(10), *id = NULL;

    ck_assert_int_eq(
        gdrive_upload(base_url, WRONG_TOKEN, NULL, "x.bin", src, NULL, NULL, &id, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_str_eq(err.msg, "Google Drive: Invalid Credentials");
    ck_assert_ptr_null(strstr(err.msg, WRONG_TOKEN));
    ck_assert_ptr_null(id);
    free(src);
}
END_TEST

/* The stub sends the session URI of this name to another host: the bytes and the token must
 * not follow it. */
START_TEST(test_gdrive_foreign_location)
{
    struct err err = ERR_INIT;
    char *src = write_src(10), *id = NULL;
    json_t *all, *r;
    size_t i, puts = 0;

    ck_assert_int_eq(
        gdrive_upload(base_url, TOKEN, NULL, "foreign-location.bin", src, NULL, NULL, &id, &err),
        -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_str_eq(err.msg, "Google Drive: unexpected upload location");
    ck_assert_ptr_null(id);
    all = requests();
    json_array_foreach (all, i, r) {
        if (strcmp(json_string_value(json_object_get(r, "method")), "PUT") == 0 &&
            strstr(req_header(r, "Host"), "other.invalid") != NULL)
            puts++;
    }
    ck_assert_uint_eq(puts, 0);
    json_decref(all);
    free(src);
}
END_TEST

START_TEST(test_gdrive_not_allowed)
{
    struct err err = ERR_INIT;
    char *src = write_src(10), *id = NULL;

    fetch_set_policy(false, NULL);
    ck_assert_int_eq(gdrive_upload(base_url, TOKEN, NULL, "x.bin", src, NULL, NULL, &id, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_str_eq(err.msg, "Google Drive server not allowed");
    ck_assert_ptr_null(id);
    fetch_set_policy(true, NULL);
    free(src);
}
END_TEST

/* ---- both ---------------------------------------------------------------------------- */

START_TEST(test_cancelled)
{
    struct err err = ERR_INIT;
    volatile bool cancel = true;
    char *src = write_src(100), *out = NULL;
    char *on_server = xasprintf("%s/dropbox/cancelled.bin", root);

    ck_assert_int_eq(dropbox_upload(base_url, TOKEN, "/cancelled.bin", src, &cancel, &out, &err),
                     -1);
    ck_assert_int_eq(err.code, ERR_CANCELLED);
    ck_assert(!exists(on_server));
    err_clear(&err);
    ck_assert_int_eq(gdrive_upload(base_url, TOKEN, NULL, "c.bin", src, NULL, &cancel, &out, &err),
                     -1);
    ck_assert_int_eq(err.code, ERR_CANCELLED);
    ck_assert_ptr_null(out);
    free(on_server);
    free(src);
}
END_TEST

static const struct {
    const char *url;
    const char *token;
    const char *path; /* Dropbox path and Drive name */
    const char *content_type;
} bad_inputs[] = {
    {NULL, TOKEN, "/a.bin", NULL},
    {"ftp://127.0.0.1/", TOKEN, "/a.bin", NULL},
    {"http://127.0.0.1:1/?q=1", TOKEN, "/a.bin", NULL},
    {"http://u:p@127.0.0.1:1", TOKEN, "/a.bin", NULL},
    {"http://127.0.0.1:1", "", "/a.bin", NULL},
    {"http://127.0.0.1:1", "tok\r\nX-Evil: 1", "/a.bin", NULL},
    {"http://127.0.0.1:1", TOKEN, "", NULL},
    {"http://127.0.0.1:1", TOKEN, "/bad\xff.bin", NULL},
    {"http://127.0.0.1:1", TOKEN, "/a.bin", "text/plain\r\nX-Evil: 1"},
};

/* Refused before anything connects (port 1 would fail otherwise, with ERR_CONVERT). */
START_TEST(test_bad_input)
{
    struct err err = ERR_INIT;
    char *src = write_src(10), *out = NULL;
    const char *name =
        bad_inputs[_i].path[0] == '/' ? bad_inputs[_i].path + 1 : bad_inputs[_i].path;

    if (bad_inputs[_i].content_type == NULL) {
        ck_assert_int_eq(dropbox_upload(bad_inputs[_i].url, bad_inputs[_i].token,
                                        bad_inputs[_i].path, src, NULL, &out, &err),
                         -1);
        ck_assert_int_eq(err.code, ERR_BADPARAM);
        ck_assert_ptr_null(out);
        ck_assert_ptr_null(strstr(err.msg, "Evil"));
        err_clear(&err);
    }
    ck_assert_int_eq(gdrive_upload(bad_inputs[_i].url, bad_inputs[_i].token, NULL, name, src,
                                   bad_inputs[_i].content_type, NULL, &out, &err),
                     -1);
    /* "/a.bin" is a fine Drive name: only the other fields make these fail. */
    ck_assert_int_eq(err.code, ERR_BADPARAM);
    ck_assert_ptr_null(out);
    ck_assert_ptr_null(strstr(err.msg, "Evil"));
    free(src);
}
END_TEST

/* A Dropbox path must be absolute. */
START_TEST(test_dropbox_relative_path)
{
    struct err err = ERR_INIT;
    char *src = write_src(10), *out = NULL;

    ck_assert_int_eq(dropbox_upload(base_url, TOKEN, "a.bin", src, NULL, &out, &err), -1);
    ck_assert_int_eq(err.code, ERR_BADPARAM);
    ck_assert_str_eq(err.msg, "invalid Dropbox path");
    free(src);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *cloud_suite(bool server)
{
    Suite *s = suite_create("cloud");
    TCase *tc;

    if (server) {
        tc = tcase_create("dropbox");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_dropbox_single);
        tcase_add_test(tc, test_dropbox_unicode);
        tcase_add_test(tc, test_dropbox_session);
        tcase_add_test(tc, test_dropbox_conflict);
        tcase_add_test(tc, test_dropbox_wrong_token);
        tcase_add_test(tc, test_dropbox_not_allowed);
        tcase_add_test(tc, test_dropbox_relative_path);
        suite_add_tcase(s, tc);

        tc = tcase_create("gdrive");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_gdrive_upload);
        tcase_add_test(tc, test_gdrive_no_folder);
        tcase_add_test(tc, test_gdrive_wrong_token);
        tcase_add_test(tc, test_gdrive_foreign_location);
        tcase_add_test(tc, test_gdrive_not_allowed);
        suite_add_tcase(s, tc);

        tc = tcase_create("both");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_cancelled);
        tcase_add_loop_test(tc, test_bad_input, 0, N(bad_inputs));
        suite_add_tcase(s, tc);
    }
    return s;
}

/* The stub for the whole program; false (reason printed) when it cannot run here. */
static bool server_start(void)
{
    char tmpl[] = "/tmp/test_cloud.XXXXXX";

    if (mkdtemp(tmpl) == NULL)
        return false;
    tmpdir = xstrdup(tmpl);
    root = xasprintf("%s/root", tmpdir);
    work = xasprintf("%s/work", tmpdir);
    if (mkdir(root, 0700) != 0 || mkdir(work, 0700) != 0)
        return false;
    {
        const char *args[] = {root, TOKEN, NULL};

        if (fixture_start(&stub, "cloudstub.py", args) != 0)
            return false;
    }
    base_url = xasprintf("http://127.0.0.1:%d", fixture_port(&stub));
    return true;
}

int main(void)
{
    SRunner *sr;
    bool server;
    int failed;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return EXIT_FAILURE;
    /* The stub is on 127.0.0.1; the not_allowed tests turn this off in their own process. */
    fetch_set_policy(true, NULL);
    server = server_start();
    /* Before the forks of srunner_run_all(), or each test would print it again. */
    fflush(stdout);
    if (!server) {
        /* python3 and its standard library are all the stub needs: not starting is a
         * failure, not a skip. */
        fixture_stop(&stub);
        if (tmpdir != NULL)
            fsx_rm_rf(tmpdir);
        return EXIT_FAILURE;
    }
    sr = srunner_create(cloud_suite(server));
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    fixture_stop(&stub);
    fsx_rm_rf(tmpdir);
    free(tmpdir);
    free(root);
    free(work);
    free(base_url);
    curl_global_cleanup();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
