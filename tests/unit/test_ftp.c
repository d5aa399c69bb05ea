/* SPDX-License-Identifier: MIT */
/* test_ftp.c - ftp_get()/ftp_put() against real FTP servers on 127.0.0.1 (pyftpdlib, started
 * once for the whole program by tests/lib/ftpserver.py): a plain one and an FTPS-only one. */
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fsx.h"
#include "common/mem.h"
#include "storage/fetch.h"
#include "storage/ftp.h"
#include "fixture.h"

/* ftp.c's test hooks (UNITTEST). */
extern bool ftp_tls_insecure;
char *ftp_url(const struct ftp_target *t, const char *path, struct err *err);

#define USER      "conv"
#define PASSWORD  "s3cret-Pw!x"
#define SMALL_LEN 1024
#define BIG_LEN   (5 * 1024 * 1024)

static char *tmpdir, *root, *root_tls, *work;
static struct fixture plain_srv = FIXTURE_INIT, tls_srv = FIXTURE_INIT;

static unsigned char pattern(size_t i)
{
    return (unsigned char)((i * 13 + i / 509) & 0xff);
}

static void write_pattern(const char *path, size_t len)
{
    unsigned char *data = xmalloc(len);
    struct err err = ERR_INIT;

    for (size_t i = 0; i < len; i++)
        data[i] = pattern(i);
    ck_assert_msg(fsx_write_atomic(path, data, len, &err) == 0, "%s", err.msg);
    free(data);
}

static void assert_pattern(const char *path, size_t len)
{
    struct err err = ERR_INIT;
    size_t got_len = 0;
    char *got = fsx_read_file(path, BIG_LEN * 2, &got_len, &err);

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

static struct ftp_target target(const struct fixture *f, const char *password)
{
    return (struct ftp_target){
        .host = "127.0.0.1", .port = fixture_port(f), .user = USER, .password = password};
}

static char *work_path(const char *name)
{
    return xasprintf("%s/%s", work, name);
}

/* ---- transfers against the plain server ------------------------------------------- */

static const size_t rt_sizes[] = {SMALL_LEN, BIG_LEN};

START_TEST(test_roundtrip)
{
    struct ftp_target t = target(&plain_srv, PASSWORD);
    struct err err = ERR_INIT;
    char *src = work_path("src.bin"), *dst = work_path("dst.bin");
    char *rpath = xasprintf("rt/%zu.bin", rt_sizes[_i]);
    char *on_server = xasprintf("%s/%s", root, rpath);

    write_pattern(src, rt_sizes[_i]);
    ck_assert_msg(ftp_put(&t, rpath, src, NULL, &err) == 0, "%s", err.msg);
    assert_pattern(on_server, rt_sizes[_i]);
    ck_assert_msg(ftp_get(&t, rpath, dst, BIG_LEN, NULL, &err) == 0, "%s", err.msg);
    assert_pattern(dst, rt_sizes[_i]);
    free(on_server);
    free(rpath);
    free(dst);
    free(src);
}
END_TEST

START_TEST(test_put_creates_folders)
{
    struct ftp_target t = target(&plain_srv, PASSWORD);
    struct err err = ERR_INIT;
    char *src = work_path("src.bin");
    char *on_server = xasprintf("%s/new/deeper/still/x.bin", root);

    write_pattern(src, 100);
    ck_assert(!exists(on_server));
    ck_assert_msg(ftp_put(&t, "new/deeper/still/x.bin", src, NULL, &err) == 0, "%s", err.msg);
    assert_pattern(on_server, 100);
    free(on_server);
    free(src);
}
END_TEST

/* pyftpdlib shows the user's root as "/", so an absolute path lands under root: the
 * "/%2F" rule made the path absolute on the server. */
START_TEST(test_absolute_path)
{
    struct ftp_target t = target(&plain_srv, PASSWORD);
    struct err err = ERR_INIT;
    char *src = work_path("src.bin"), *dst = work_path("abs.bin");
    char *on_server = xasprintf("%s/abs/dir/a.bin", root);

    write_pattern(src, 300);
    ck_assert_msg(ftp_put(&t, "/abs/dir/a.bin", src, NULL, &err) == 0, "%s", err.msg);
    assert_pattern(on_server, 300);
    ck_assert_msg(ftp_get(&t, "/abs/dir/a.bin", dst, 1000, NULL, &err) == 0, "%s", err.msg);
    assert_pattern(dst, 300);
    free(on_server);
    free(dst);
    free(src);
}
END_TEST

static const char *const odd_names[] = {
    "dir with space/naïve ü file.txt",
    "ünï/日本語 #1 ?%20.txt",
    "a+b;c=d&e/[x] 'q'.bin",
};

START_TEST(test_odd_names)
{
    struct ftp_target t = target(&plain_srv, PASSWORD);
    struct err err = ERR_INIT;
    char *src = work_path("src.bin"), *dst = work_path("odd.bin");
    char *on_server = xasprintf("%s/%s", root, odd_names[_i]);

    write_pattern(src, 777);
    ck_assert_msg(ftp_put(&t, odd_names[_i], src, NULL, &err) == 0, "%s", err.msg);
    /* The exact name on the server's disk: nothing was left encoded. */
    assert_pattern(on_server, 777);
    ck_assert_msg(ftp_get(&t, odd_names[_i], dst, 1000, NULL, &err) == 0, "%s", err.msg);
    assert_pattern(dst, 777);
    free(on_server);
    free(dst);
    free(src);
}
END_TEST

START_TEST(test_wrong_password)
{
    struct ftp_target t = target(&plain_srv, "wrong-Secret-42");
    struct err err = ERR_INIT;
    char *src = work_path("src.bin"), *dst = work_path("dst.bin");

    ck_assert_int_eq(ftp_get(&t, "anything.bin", dst, 1000, NULL, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_msg(strstr(err.msg, "530") != NULL, "%s", err.msg);
    ck_assert_ptr_null(strstr(err.msg, "wrong-Secret-42"));
    ck_assert(!exists(dst));

    err_clear(&err);
    write_pattern(src, 10);
    ck_assert_int_eq(ftp_put(&t, "x.bin", src, NULL, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_str_eq(err.msg, "FTP: 530 login failed");
    free(dst);
    free(src);
}
END_TEST

static const char *const missing_paths[] = {"missing.bin", "no/such/folder/x.bin", "/nope.bin"};

START_TEST(test_missing_file)
{
    struct ftp_target t = target(&plain_srv, PASSWORD);
    struct err err = ERR_INIT;
    char *dst = work_path("missing.out");

    /* A file already there is replaced by nothing, not left half-written. */
    write_pattern(dst, 50);
    ck_assert_int_eq(ftp_get(&t, missing_paths[_i], dst, 1000, NULL, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_str_eq(err.msg, "FTP: 550 no such file or folder");
    ck_assert(!exists(dst));
    free(dst);
}
END_TEST

START_TEST(test_too_big)
{
    struct ftp_target t = target(&plain_srv, PASSWORD);
    struct err err = ERR_INIT;
    char *on_server = xasprintf("%s/big.bin", root), *dst = work_path("big.out");

    write_pattern(on_server, 200000);
    ck_assert_int_eq(ftp_get(&t, "big.bin", dst, 199999, NULL, &err), -1);
    ck_assert_int_eq(err.code, ERR_TOOBIG);
    ck_assert_str_eq(err.msg, "input too large");
    ck_assert(!exists(dst));
    err_clear(&err);
    ck_assert_msg(ftp_get(&t, "big.bin", dst, 200000, NULL, &err) == 0, "%s", err.msg);
    assert_pattern(dst, 200000);
    free(dst);
    free(on_server);
}
END_TEST

START_TEST(test_not_allowed)
{
    struct ftp_target t = target(&plain_srv, PASSWORD);
    struct err err = ERR_INIT;
    char *src = work_path("src.bin"), *dst = work_path("dst.bin");
    char *on_server = xasprintf("%s/blocked.bin", root);

    fetch_set_policy(false, NULL);
    write_pattern(src, 10);
    ck_assert_int_eq(ftp_put(&t, "blocked.bin", src, NULL, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_str_eq(err.msg, "FTP server not allowed");
    ck_assert(!exists(on_server));
    err_clear(&err);
    ck_assert_int_eq(ftp_get(&t, "blocked.bin", dst, 100, NULL, &err), -1);
    ck_assert_str_eq(err.msg, "FTP server not allowed");
    ck_assert(!exists(dst));
    fetch_set_policy(true, NULL);
    free(on_server);
    free(dst);
    free(src);
}
END_TEST

START_TEST(test_cancelled)
{
    struct ftp_target t = target(&plain_srv, PASSWORD);
    struct err err = ERR_INIT;
    volatile bool cancel = true;
    char *src = work_path("src.bin"), *dst = work_path("dst.bin");

    write_pattern(src, SMALL_LEN);
    ck_assert_int_eq(ftp_put(&t, "cancelled.bin", src, &cancel, &err), -1);
    ck_assert_int_eq(err.code, ERR_CANCELLED);
    err_clear(&err);
    ck_assert_int_eq(ftp_get(&t, "whatever.bin", dst, 100, &cancel, &err), -1);
    ck_assert_int_eq(err.code, ERR_CANCELLED);
    ck_assert(!exists(dst));
    free(dst);
    free(src);
}
END_TEST

static const struct {
    const char *path;
    const char *user;
    const char *password;
} bad_inputs[] = {
    {"a\r\nDELE b", USER, PASSWORD},        {"dir/", USER, PASSWORD},     {"", USER, PASSWORD},
    {"ok.bin", "conv\r\nSITE x", PASSWORD}, {"ok.bin", USER, "pw\nQUIT"},
};

START_TEST(test_bad_input)
{
    struct ftp_target t = target(&plain_srv, bad_inputs[_i].password);
    struct err err = ERR_INIT;
    char *dst = work_path("bad.out");

    t.user = bad_inputs[_i].user;
    ck_assert_int_eq(ftp_get(&t, bad_inputs[_i].path, dst, 100, NULL, &err), -1);
    ck_assert_int_eq(err.code, ERR_BADPARAM);
    ck_assert_ptr_null(strstr(err.msg, "QUIT"));
    ck_assert(!exists(dst));
    free(dst);
}
END_TEST

/* ---- FTPS ----------------------------------------------------------------------------- */

/* The server refuses plain logins and plain data connections (tls_*_required), so these
 * transfers only work when AUTH TLS and PROT P were negotiated. */
START_TEST(test_tls_roundtrip)
{
    struct ftp_target t = target(&tls_srv, PASSWORD);
    struct err err = ERR_INIT;
    char *src = work_path("src.bin"), *dst = work_path("dst.bin");
    char *on_server = xasprintf("%s/tls/a.bin", root_tls);

    ftp_tls_insecure = true;
    write_pattern(src, 100000);
    ck_assert_msg(ftp_put(&t, "tls/a.bin", src, NULL, &err) == 0, "%s", err.msg);
    assert_pattern(on_server, 100000);
    ck_assert_msg(ftp_get(&t, "tls/a.bin", dst, 100000, NULL, &err) == 0, "%s", err.msg);
    assert_pattern(dst, 100000);
    /* Back to the default, for a run without forks (CK_FORK=no). */
    ftp_tls_insecure = false;
    free(on_server);
    free(dst);
    free(src);
}
END_TEST

/* Verification is on unless a test turns it off: a self-signed certificate fails. */
START_TEST(test_tls_verified)
{
    struct ftp_target t = target(&tls_srv, PASSWORD);
    struct err err = ERR_INIT;
    char *dst = work_path("dst.bin");
    char *on_server = xasprintf("%s/verified.bin", root_tls);

    write_pattern(on_server, 10);
    ck_assert(!ftp_tls_insecure);
    ck_assert_int_eq(ftp_get(&t, "verified.bin", dst, 100, NULL, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_msg(strncmp(err.msg, "FTP: ", 5) == 0, "%s", err.msg);
    ck_assert_ptr_null(strstr(err.msg, PASSWORD));
    ck_assert(!exists(dst));
    free(on_server);
    free(dst);
}
END_TEST

/* ---- syntax ------------------------------------------------------------------------- */

static const struct {
    const char *host;
    int port;
    bool ok;
} target_cases[] = {
    {"ftp.example.com", 21, true},
    {"127.0.0.1", 0, true},
    {"[::1]", 65535, true},
    {"::1", 2121, true},
    {"xn--bcher-kva.example", 1, true},
    {NULL, 21, false},
    {"", 21, false},
    {"a b", 21, false},
    {"a/b", 21, false},
    {"user@host", 21, false},
    {"host\r\n", 21, false},
    {"ho\x01st", 21, false},
    {"host?x", 21, false},
    {"[::1", 21, false},
    {"host", -1, false},
    {"host", 65536, false},
};

START_TEST(test_target_valid)
{
    struct ftp_target t = {.host = target_cases[_i].host, .port = target_cases[_i].port};
    struct err err = ERR_INIT;
    bool ok = ftp_target_valid(&t, &err);

    ck_assert_msg(ok == target_cases[_i].ok, "case %d", _i);
    ck_assert_int_eq(err.code, ok ? ERR_OK : ERR_BADPARAM);
}
END_TEST

static const struct {
    const char *host;
    const char *path;
    const char *url; /* NULL: refused */
} url_cases[] = {
    {"h", "a.txt", "ftp://h:21/a.txt"},
    {"h", "out/a b.pdf", "ftp://h:21/out/a%20b.pdf"},
    {"h", "/srv/out/a.pdf", "ftp://h:21/%2Fsrv/out/a.pdf"},
    {"h", "//srv//x", "ftp://h:21/%2Fsrv/x"},
    {"h", "x//y/\xc3\xbc.txt", "ftp://h:21/x/y/%C3%BC.txt"},
    {"h", "a#b?c%d;e", "ftp://h:21/a%23b%3Fc%25d%3Be"},
    {"::1", "f", "ftp://[::1]:21/f"},
    {"[::1]", "f", "ftp://[::1]:21/f"},
    {"h", "", NULL},
    {"h", "/", NULL},
    {"h", "dir/", NULL},
    {"h", "a\nb", NULL},
    {"h", "a\x7f", NULL},
};

START_TEST(test_url)
{
    struct ftp_target t = {.host = url_cases[_i].host};
    struct err err = ERR_INIT;
    char *url = ftp_url(&t, url_cases[_i].path, &err);

    if (url_cases[_i].url == NULL) {
        ck_assert_ptr_null(url);
        ck_assert_int_eq(err.code, ERR_BADPARAM);
    } else {
        ck_assert_msg(url != NULL, "%s", err.msg);
        ck_assert_str_eq(url, url_cases[_i].url);
    }
    free(url);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *ftp_suite(bool servers)
{
    Suite *s = suite_create("ftp");
    TCase *tc;

    if (servers) {
        tc = tcase_create("transfer");
        tcase_set_timeout(tc, 30);
        tcase_add_loop_test(tc, test_roundtrip, 0, N(rt_sizes));
        tcase_add_test(tc, test_put_creates_folders);
        tcase_add_test(tc, test_absolute_path);
        tcase_add_loop_test(tc, test_odd_names, 0, N(odd_names));
        tcase_add_test(tc, test_wrong_password);
        tcase_add_loop_test(tc, test_missing_file, 0, N(missing_paths));
        tcase_add_test(tc, test_too_big);
        tcase_add_test(tc, test_not_allowed);
        tcase_add_test(tc, test_cancelled);
        tcase_add_loop_test(tc, test_bad_input, 0, N(bad_inputs));
        suite_add_tcase(s, tc);

        tc = tcase_create("tls");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_tls_roundtrip);
        tcase_add_test(tc, test_tls_verified);
        suite_add_tcase(s, tc);
    }

    tc = tcase_create("syntax");
    tcase_add_loop_test(tc, test_target_valid, 0, N(target_cases));
    tcase_add_loop_test(tc, test_url, 0, N(url_cases));
    suite_add_tcase(s, tc);
    return s;
}

/* Both servers for the whole program; false (reason printed) when they cannot run here. */
static bool servers_start(void)
{
    char tmpl[] = "/tmp/test_ftp.XXXXXX";
    char *log = NULL;
    bool ok = false;

    if (!fixture_python_has("pyftpdlib") || !fixture_python_has("OpenSSL")) {
        printf("# SKIP FTP transfers: python3 modules pyftpdlib and OpenSSL "
               "(python3-pyftpdlib, python3-openssl) are not installed\n");
        goto out;
    }
    if (mkdtemp(tmpl) == NULL)
        goto out;
    tmpdir = xstrdup(tmpl);
    root = xasprintf("%s/root", tmpdir);
    root_tls = xasprintf("%s/root-tls", tmpdir);
    work = xasprintf("%s/work", tmpdir);
    log = xasprintf("%s/ftps.log", tmpdir);
    if (mkdir(root, 0700) != 0 || mkdir(root_tls, 0700) != 0 || mkdir(work, 0700) != 0)
        goto out;
    {
        const char *plain_args[] = {root, USER, PASSWORD, NULL};
        const char *tls_args[] = {root_tls, USER, PASSWORD, "--tls", "--log", log, NULL};

        if (fixture_start(&plain_srv, "ftpserver.py", plain_args) != 0 ||
            fixture_start(&tls_srv, "ftpserver.py", tls_args) != 0)
            goto out;
    }
    ok = true;
out:
    free(log);
    return ok;
}

int main(void)
{
    SRunner *sr;
    bool servers;
    int failed;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return EXIT_FAILURE;
    /* The servers are on 127.0.0.1; test_not_allowed turns this off in its own process. */
    fetch_set_policy(true, NULL);
    servers = servers_start();
    /* Before the forks of srunner_run_all(), or each test would print it again. */
    fflush(stdout);
    if (!servers && tmpdir != NULL) {
        /* The modules are there but the servers did not start: that is a failure. */
        fixture_stop(&plain_srv);
        fixture_stop(&tls_srv);
        return EXIT_FAILURE;
    }
    sr = srunner_create(ftp_suite(servers));
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    fixture_stop(&plain_srv);
    fixture_stop(&tls_srv);
    if (tmpdir != NULL)
        fsx_rm_rf(tmpdir);
    free(tmpdir);
    free(root);
    free(root_tls);
    free(work);
    curl_global_cleanup();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
