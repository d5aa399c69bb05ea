/* SPDX-License-Identifier: MIT */
/* test_s3.c - the S3 client against a real Signature V4 checker: OpenStack Swift with its
 * s3api middleware, started once for the suite by tests/lib/swift_s3.py. */
#include <check.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/fsx.h"
#include "common/mem.h"
#include "storage/fetch.h"
#include "storage/s3.h"
#include "fixture.h"

#define MIB              (1024 * 1024)
#define BUCKET           "convertd-test"
#define EMPTY_SHA256     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SWIFT_PROXY_PATH "/usr/bin/swift-proxy-server"

/* s3.c's test hook: the multipart threshold and part size. */
extern int64_t s3_part_size;

/* From swift_s3.py's first line, which stays alive until the end. */
static struct fixture swift = FIXTURE_INIT;
static const char *endpoint, *access_key, *secret_key, *region;
static char *tmpdir;

static struct s3_target target(const char *bucket)
{
    struct s3_target t = {
        .access_key_id = access_key,
        .secret_access_key = secret_key,
        .bucket = bucket,
        .region = region,
        .endpoint = endpoint,
    };
    return t;
}

/* Byte i of every test file: not constant, so a lost or repeated part shows. */
static unsigned char body_byte(size_t i, unsigned seed)
{
    return (unsigned char)((i * 7 + i / 251 + seed) & 0xff);
}

static char *make_file(const char *name, size_t len, unsigned seed)
{
    char *path = xasprintf("%s/%s", tmpdir, name);
    unsigned char *data = xmalloc(len ? len : 1);
    struct err err = ERR_INIT;

    for (size_t i = 0; i < len; i++)
        data[i] = body_byte(i, seed);
    ck_assert_msg(fsx_write_atomic(path, data, len, &err) == 0, "%s", err.msg);
    free(data);
    return path;
}

static void assert_file_is(const char *path, size_t len, unsigned seed)
{
    size_t got_len = 0;
    struct err err = ERR_INIT;
    unsigned char *got = (unsigned char *)fsx_read_file(path, 64 * MIB, &got_len, &err);

    ck_assert_msg(got != NULL, "%s: %s", path, err.msg);
    ck_assert_uint_eq(got_len, len);
    for (size_t i = 0; i < len; i++) {
        if (got[i] != body_byte(i, seed))
            ck_abort_msg("byte %zu differs", i);
    }
    free(got);
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool file_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

static size_t keep_etag(char *data, size_t size, size_t nmemb, void *opaque)
{
    char **etag = opaque;
    size_t len = size * nmemb;

    if (len > 5 && strncasecmp(data, "etag:", 5) == 0) {
        free(*etag);
        *etag = xstrndup(data + 5, strcspn(data + 5, "\r\n"));
    }
    return len;
}

static size_t keep_body(char *data, size_t size, size_t nmemb, void *opaque)
{
    struct buf *body = opaque;

    if (body != NULL)
        buf_append(body, data, size * nmemb);
    return size * nmemb;
}

/* A signed request outside s3.c, for what s3.h does not offer (make a bucket, HEAD an
 * object, list uploads): the HTTP status, the ETag when etag is not NULL, the body when body
 * is not NULL. */
static long raw_request_body(const char *method, const char *path, char **etag, struct buf *body)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "x-amz-content-sha256: " EMPTY_SHA256);
    char *url = xasprintf("%s%s", endpoint, path);
    char *sigv4 = xasprintf("aws:amz:%s:s3", region);
    long status = 0;

    if (c == NULL || h == NULL)
        abort();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
    curl_easy_setopt(c, CURLOPT_USERNAME, access_key);
    curl_easy_setopt(c, CURLOPT_PASSWORD, secret_key);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_NOBODY, strcmp(method, "HEAD") == 0 ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, keep_etag);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, etag);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    free(sigv4);
    free(url);
    return status;
}

static long raw_request(const char *method, const char *path, char **etag)
{
    return raw_request_body(method, path, etag, NULL);
}

static void setup(void)
{
    fetch_set_policy(true, NULL);
    s3_part_size = S3_PART_SIZE;
}

static void put_get(const char *key, size_t len, unsigned seed)
{
    struct s3_target t = target(BUCKET);
    struct err err = ERR_INIT;
    char *src = make_file("src", len, seed);
    char *dst = xasprintf("%s/dst", tmpdir);

    ck_assert_msg(s3_put(&t, key, src, NULL, "text/plain", NULL, &err) == 0, "put: %s", err.msg);
    ck_assert_msg(s3_get(&t, key, dst, 64 * MIB, NULL, &err) == 0, "get: %s", err.msg);
    assert_file_is(dst, len, seed);
    free(src);
    free(dst);
}

static const struct {
    const char *key;
    size_t len;
} roundtrips[] = {
    {"small.bin", 1024},
    {"dir/big.bin", 5 * MIB},
    {"empty", 0},
    {"folder one/na\xc3\xafve file+1 (x)&=?#.txt", 1024},
    {"\xe6\x97\xa5\xe6\x9c\xac/~a b/./c%20d", 100},
};

START_TEST(test_roundtrip)
{
    put_get(roundtrips[_i].key, roundtrips[_i].len, (unsigned)_i);
}
END_TEST

START_TEST(test_multipart)
{
    struct s3_target t = target(BUCKET);
    struct err err = ERR_INIT;
    size_t len = 12 * MIB;
    char *src = make_file("mp-src", len, 3);
    char *dst = xasprintf("%s/mp-dst", tmpdir);
    char *etag = NULL;

    s3_part_size = 5 * MIB;
    ck_assert_msg(s3_put(&t, "multi part/obj.bin", src, "public-read", NULL, NULL, &err) == 0,
                  "put: %s", err.msg);
    ck_assert_msg(s3_get(&t, "multi part/obj.bin", dst, 64 * MIB, NULL, &err) == 0, "get: %s",
                  err.msg);
    assert_file_is(dst, len, 3);
    /* A multipart object's ETag ends in "-<number of parts>". */
    ck_assert_int_eq(raw_request("HEAD", "/" BUCKET "/multi%20part/obj.bin", &etag), 200);
    ck_assert_ptr_nonnull(etag);
    ck_assert_msg(strstr(etag, "-3\"") != NULL, "etag %s", etag);
    free(etag);
    free(src);
    free(dst);
}
END_TEST

/* A part below the store's 5 MiB minimum makes the completion fail: the error is the
 * store's, and the upload is aborted (no object appears). */
START_TEST(test_multipart_fails)
{
    struct s3_target t = target(BUCKET);
    struct err err = ERR_INIT;
    char *src = make_file("mp-small", 3 * MIB, 4);
    char *dst = xasprintf("%s/mp-small-dst", tmpdir);
    struct buf list = BUF_INIT;

    s3_part_size = 1 * MIB;
    ck_assert_int_eq(s3_put(&t, "too-small-parts", src, NULL, NULL, NULL, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_msg(starts_with(err.msg, "S3: EntityTooSmall"), "%s", err.msg);
    err_clear(&err);
    ck_assert_int_eq(s3_get(&t, "too-small-parts", dst, MIB, NULL, &err), -1);
    ck_assert_msg(starts_with(err.msg, "S3: NoSuchKey"), "%s", err.msg);
    /* Its parts are gone too: no upload of that key is pending. */
    ck_assert_int_eq(raw_request_body("GET", "/" BUCKET "?uploads=", NULL, &list), 200);
    ck_assert_ptr_nonnull(list.data);
    ck_assert_ptr_nonnull(strstr(list.data, "ListMultipartUploadsResult"));
    ck_assert_ptr_null(strstr(list.data, "too-small-parts"));
    buf_fini(&list);
    free(src);
    free(dst);
}
END_TEST

/* The token header is sent and signed along (the test store accepts and ignores it). */
START_TEST(test_session_token)
{
    struct s3_target t = target(BUCKET);
    struct err err = ERR_INIT;
    char *src = make_file("tok", 100, 11);

    t.session_token = "FwoGZXIvYXdzEBYaDBogus+Token/Value==";
    ck_assert_msg(s3_put(&t, "with-token", src, NULL, NULL, NULL, &err) == 0, "%s", err.msg);
    t.session_token = "bad\r\nx-evil: 1";
    ck_assert_int_eq(s3_put(&t, "with-token", src, NULL, NULL, NULL, &err), -1);
    ck_assert_int_eq(err.code, ERR_BADPARAM);
    free(src);
}
END_TEST

START_TEST(test_acl)
{
    struct s3_target t = target(BUCKET);
    struct err err = ERR_INIT;
    char *src = make_file("acl", 10, 5);

    ck_assert_msg(s3_put(&t, "public", src, "public-read", NULL, NULL, &err) == 0, "%s", err.msg);
    /* The store sees the header: an unknown canned ACL is refused by it. */
    ck_assert_int_eq(s3_put(&t, "bogus", src, "no-such-acl", NULL, NULL, &err), -1);
    ck_assert_msg(starts_with(err.msg, "S3: InvalidArgument"), "%s", err.msg);
    err_clear(&err);
    /* A value that could end the header line never leaves. */
    ck_assert_int_eq(s3_put(&t, "bogus", src, "private\r\nx-evil: 1", NULL, NULL, &err), -1);
    ck_assert_int_eq(err.code, ERR_BADPARAM);
    free(src);
}
END_TEST

START_TEST(test_wrong_secret)
{
    static const char wrong[] = "Wr0ngSecretKeyValue";
    struct s3_target t = target(BUCKET);
    struct err err = ERR_INIT;
    char *src = make_file("ws", 10, 6);
    char *dst = xasprintf("%s/ws-dst", tmpdir);

    t.secret_access_key = wrong;
    ck_assert_int_eq(s3_put(&t, "small.bin", src, NULL, NULL, NULL, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_msg(starts_with(err.msg, "S3: SignatureDoesNotMatch: "), "%s", err.msg);
    ck_assert_ptr_null(strstr(err.msg, wrong));
    ck_assert_ptr_null(strstr(err.msg, "Signature="));
    err_clear(&err);
    ck_assert_int_eq(s3_get(&t, "small.bin", dst, MIB, NULL, &err), -1);
    ck_assert_msg(starts_with(err.msg, "S3: SignatureDoesNotMatch: "), "%s", err.msg);
    ck_assert_ptr_null(strstr(err.msg, wrong));
    ck_assert(!file_exists(dst));
    free(src);
    free(dst);
}
END_TEST

START_TEST(test_no_such_bucket)
{
    struct s3_target t = target("no-such-bucket-here");
    struct err err = ERR_INIT;
    char *src = make_file("nb", 10, 7);
    char *dst = xasprintf("%s/nb-dst", tmpdir);

    ck_assert_int_eq(s3_get(&t, "x", dst, MIB, NULL, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_msg(starts_with(err.msg, "S3: NoSuchBucket: "), "%s", err.msg);
    ck_assert(!file_exists(dst));
    err_clear(&err);
    ck_assert_int_eq(s3_put(&t, "x", src, NULL, NULL, NULL, &err), -1);
    ck_assert_msg(starts_with(err.msg, "S3: NoSuchBucket: "), "%s", err.msg);
    free(src);
    free(dst);
}
END_TEST

START_TEST(test_no_such_key)
{
    struct s3_target t = target(BUCKET);
    struct err err = ERR_INIT;
    char *dst = xasprintf("%s/nk-dst", tmpdir);

    ck_assert_int_eq(s3_get(&t, "no/such key", dst, MIB, NULL, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_msg(starts_with(err.msg, "S3: NoSuchKey: "), "%s", err.msg);
    ck_assert(!file_exists(dst));
    free(dst);
}
END_TEST

START_TEST(test_not_allowed)
{
    struct s3_target t = target(BUCKET);
    struct err err = ERR_INIT;
    char *src = make_file("na", 10, 8);
    char *dst = xasprintf("%s/na-dst", tmpdir);

    fetch_set_policy(false, NULL);
    ck_assert_int_eq(s3_put(&t, "guarded", src, NULL, NULL, NULL, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_str_eq(err.msg, "S3 endpoint not allowed");
    err_clear(&err);
    ck_assert_int_eq(s3_get(&t, "small.bin", dst, MIB, NULL, &err), -1);
    ck_assert_str_eq(err.msg, "S3 endpoint not allowed");
    ck_assert(!file_exists(dst));
    /* The store never saw the PUT. */
    fetch_set_policy(true, NULL);
    ck_assert_int_eq(raw_request("HEAD", "/" BUCKET "/guarded", NULL), 404);
    free(src);
    free(dst);
}
END_TEST

START_TEST(test_too_big)
{
    struct s3_target t = target(BUCKET);
    struct err err = ERR_INIT;
    char *src = make_file("tb", 4096, 9);
    char *dst = xasprintf("%s/tb-dst", tmpdir);

    ck_assert_msg(s3_put(&t, "four-k", src, NULL, NULL, NULL, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(s3_get(&t, "four-k", dst, 4095, NULL, &err), -1);
    ck_assert_int_eq(err.code, ERR_TOOBIG);
    ck_assert_str_eq(err.msg, "input too large");
    ck_assert(!file_exists(dst));
    err_clear(&err);
    /* Exactly the limit is fine; and a small limit does not hide a store error. */
    ck_assert_msg(s3_get(&t, "four-k", dst, 4096, NULL, &err) == 0, "%s", err.msg);
    assert_file_is(dst, 4096, 9);
    ck_assert_int_eq(s3_get(&t, "absent", dst, 1, NULL, &err), -1);
    ck_assert_msg(starts_with(err.msg, "S3: NoSuchKey"), "%s", err.msg);
    free(src);
    free(dst);
}
END_TEST

START_TEST(test_cancel)
{
    static const volatile bool cancel = true;
    struct s3_target t = target(BUCKET);
    struct err err = ERR_INIT;
    char *src = make_file("cn", 2 * MIB, 10);
    char *dst = xasprintf("%s/cn-dst", tmpdir);

    ck_assert_int_eq(s3_put(&t, "cancelled", src, NULL, NULL, &cancel, &err), -1);
    ck_assert_int_eq(err.code, ERR_CANCELLED);
    err_clear(&err);
    ck_assert_int_eq(raw_request("HEAD", "/" BUCKET "/cancelled", NULL), 404);
    ck_assert_int_eq(s3_get(&t, "small.bin", dst, MIB, &cancel, &err), -1);
    ck_assert_int_eq(err.code, ERR_CANCELLED);
    ck_assert(!file_exists(dst));
    free(src);
    free(dst);
}
END_TEST

static const struct {
    const char *bucket;
    const char *region;
    const char *endpoint;
    bool ok;
} valid_cases[] = {
    {"abc", NULL, NULL, true},
    {"my-bucket.example", "eu-west-1", "", true},
    {"Old_Bucket", NULL, "http://127.0.0.1:9000", true},
    {"b12", "", "https://minio.example.com:9000/", true},
    {"ab", NULL, NULL, false},
    {"a123456789012345678901234567890123456789012345678901234567890123", NULL, NULL, false},
    {"has space", NULL, NULL, false},
    {"slash/bucket", NULL, NULL, false},
    {"b?x", NULL, NULL, false},
    {NULL, NULL, NULL, false},
    {"good", "us-east-1:x", NULL, false},
    {"good", "evil.com/", NULL, false},
    {"good", NULL, "ftp://host", false},
    {"good", NULL, "http://host/path", false},
    {"good", NULL, "http://host?x=1", false},
    {"good", NULL, "http://user:pw@host", false},
    {"good", NULL, "http://host#frag", false},
    {"good", NULL, "host:9000", false},
    {"good", NULL, "http:///x", false},
    {"good", NULL, "http://ho st", false},
};

START_TEST(test_target_valid)
{
    struct s3_target t = {
        .access_key_id = "a",
        .secret_access_key = "b",
        .bucket = valid_cases[_i].bucket,
        .region = valid_cases[_i].region,
        .endpoint = valid_cases[_i].endpoint,
    };
    struct err err = ERR_INIT;
    bool ok = s3_target_valid(&t, &err);

    ck_assert_msg(ok == valid_cases[_i].ok, "case %d", _i);
    if (!ok)
        ck_assert_int_eq(err.code, ERR_BADPARAM);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *s3_suite(void)
{
    Suite *s = suite_create("s3");
    TCase *tc = tcase_create("store");

    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_loop_test(tc, test_roundtrip, 0, N(roundtrips));
    tcase_add_test(tc, test_multipart);
    tcase_add_test(tc, test_multipart_fails);
    tcase_add_test(tc, test_session_token);
    tcase_add_test(tc, test_acl);
    tcase_add_test(tc, test_wrong_secret);
    tcase_add_test(tc, test_no_such_bucket);
    tcase_add_test(tc, test_no_such_key);
    tcase_add_test(tc, test_not_allowed);
    tcase_add_test(tc, test_too_big);
    tcase_add_test(tc, test_cancel);
    suite_add_tcase(s, tc);

    tc = tcase_create("valid");
    tcase_add_loop_test(tc, test_target_valid, 0, N(valid_cases));
    suite_add_tcase(s, tc);
    return s;
}

/* The fields of swift_s3.py's first line, false when one is missing. */
static bool swift_info(void)
{
    endpoint = json_string_value(json_object_get(swift.info, "endpoint"));
    access_key = json_string_value(json_object_get(swift.info, "access_key"));
    secret_key = json_string_value(json_object_get(swift.info, "secret_key"));
    region = json_string_value(json_object_get(swift.info, "region"));
    return endpoint != NULL && access_key != NULL && secret_key != NULL && region != NULL;
}

int main(void)
{
    char tmpl[] = "/tmp/test_s3.XXXXXX";
    char *folder;
    int failed = 1;
    SRunner *sr;

    if (access(SWIFT_PROXY_PATH, X_OK) != 0) {
        printf("1..0 # SKIP OpenStack Swift is not installed (apt-get install swift swift-proxy "
               "swift-account swift-container swift-object)\n");
        return EXIT_SUCCESS;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || mkdtemp(tmpl) == NULL)
        return EXIT_FAILURE;
    tmpdir = xstrdup(tmpl);
    folder = xasprintf("%s/swift", tmpdir);
    if (mkdir(folder, 0700) != 0)
        goto out;
    {
        const char *args[] = {folder, NULL};

        if (fixture_start(&swift, "swift_s3.py", args) != 0 || !swift_info()) {
            fprintf(stderr, "test_s3: swift_s3.py did not start (log in %s)\n", folder);
            goto out;
        }
    }
    fetch_set_policy(true, NULL);
    /* Swift's account and container servers may still be settling right after start: a 503
     * ("Please reduce your request rate") means try again. */
    long made = 503;
    for (int i = 0; i < 80 && made == 503; i++) {
        made = raw_request("PUT", "/" BUCKET, NULL);
        if (made == 503)
            usleep(250 * 1000);
    }
    if (made != 200) {
        fprintf(stderr, "test_s3: cannot create the bucket\n");
    } else {
        sr = srunner_create(s3_suite());
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
    }
out:
    fixture_stop(&swift);
    if (failed == 0)
        fsx_rm_rf(tmpdir);
    free(folder);
    free(tmpdir);
    curl_global_cleanup();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
