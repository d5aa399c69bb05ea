/* SPDX-License-Identifier: MIT */
/* test_fetch.c - the outbound client against a libmicrohttpd server inside the test
 * (SEC-01..04), and the ZIP writer read back with libarchive. */
#include <archive.h>
#include <archive_entry.h>
#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fsx.h"
#include "common/mem.h"
#include "storage/addr.h"
#include "storage/fetch.h"
#include "storage/zip.h"

#define SMALL_LEN 1000
#define BIG_LEN   (2 * 1024 * 1024)

static struct MHD_Daemon *srv;
static int port;
static char *tmpdir;
static char *dl_path;
static unsigned char small_body[SMALL_LEN];
static unsigned char *big_body;
static struct addr_allow *allow;

/* Byte i of every body the server sends: not constant, so an offset error shows. */
static unsigned char body_byte(size_t i)
{
    return (unsigned char)((i * 7 + i / 251) & 0xff);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const void *data,
                             size_t len, const char *hname, const char *hvalue)
{
    struct MHD_Response *r;
    enum MHD_Result ret;

    r = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return MHD_NO;
    if (hname != NULL && MHD_add_response_header(r, hname, hvalue) != MHD_YES) {
        MHD_destroy_response(r);
        return MHD_NO;
    }
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Body of unknown length, so MHD sends it chunked and no Content-Length warns curl. */
static ssize_t chunked_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    size_t n;

    (void)cls;
    if (pos >= BIG_LEN)
        return MHD_CONTENT_READER_END_OF_STREAM;
    n = BIG_LEN - (size_t)pos < max ? BIG_LEN - (size_t)pos : max;
    memcpy(buf, big_body + pos, n);
    return (ssize_t)n;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
    static const char err_body[] = "error page";

    (void)cls, (void)method, (void)version, (void)upload_data, (void)upload_data_size;
    (void)req_cls;
    if (strcmp(url, "/file.png") == 0 || strncmp(url, "/dl/", 4) == 0 || strcmp(url, "/") == 0)
        return reply(conn, 200, small_body, SMALL_LEN, NULL, NULL);
    if (strcmp(url, "/big") == 0)
        return reply(conn, 200, big_body, BIG_LEN, NULL, NULL);
    if (strcmp(url, "/bigchunked") == 0) {
        struct MHD_Response *r;
        enum MHD_Result ret;

        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, chunked_reader, NULL,
                                              NULL);
        ret = MHD_queue_response(conn, 200, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (strcmp(url, "/404") == 0)
        return reply(conn, 404, err_body, sizeof err_body - 1, NULL, NULL);
    if (strcmp(url, "/500") == 0)
        return reply(conn, 500, err_body, sizeof err_body - 1, NULL, NULL);
    if (strcmp(url, "/redirect") == 0)
        return reply(conn, 302, "", 0, "Location", "/file.png");
    if (strcmp(url, "/loop") == 0)
        return reply(conn, 302, "", 0, "Location", "/loop");
    /* A redirect to a loopback port nobody allowed: checked again on the second hop. */
    if (strcmp(url, "/redirect-other-port") == 0)
        return reply(conn, 302, "", 0, "Location", "http://127.0.0.1:1/file.png");
    if (strcmp(url, "/redirect-file") == 0)
        return reply(conn, 302, "", 0, "Location", "file:///etc/passwd");
    if (strcmp(url, "/cd") == 0)
        return reply(conn, 200, small_body, SMALL_LEN, "Content-Disposition",
                     "attachment; filename=\"named.bin\"");
    if (strcmp(url, "/cdstar") == 0)
        return reply(conn, 200, small_body, SMALL_LEN, "Content-Disposition",
                     "attachment; filename=\"fallback.bin\"; "
                     "filename*=UTF-8''na%C3%AFve%20file.bin");
    if (strcmp(url, "/cdredirect") == 0) {
        /* The redirect's own Content-Disposition must not name the final file. */
        struct MHD_Response *r;
        enum MHD_Result ret = MHD_NO;

        r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        if (MHD_add_response_header(r, "Location", "/file.png") == MHD_YES &&
            MHD_add_response_header(r, "Content-Disposition",
                                    "attachment; filename=\"stale.bin\"") == MHD_YES)
            ret = MHD_queue_response(conn, 302, r);
        MHD_destroy_response(r);
        return ret;
    }
    return reply(conn, 404, err_body, sizeof err_body - 1, NULL, NULL);
}

/* Checked fixture: runs in each test's own process, so the server thread is there too. */
static void setup(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    const union MHD_DaemonInfo *info;
    char tmpl[] = "/tmp/test_fetch.XXXXXX";

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (size_t i = 0; i < SMALL_LEN; i++)
        small_body[i] = body_byte(i);
    big_body = xmalloc(BIG_LEN);
    for (size_t i = 0; i < BIG_LEN; i++)
        big_body[i] = body_byte(i);
    srv = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handle, NULL,
                           MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin, MHD_OPTION_END);
    ck_assert_ptr_nonnull(srv);
    info = MHD_get_daemon_info(srv, MHD_DAEMON_INFO_BIND_PORT);
    ck_assert_ptr_nonnull(info);
    port = info->port;
    ck_assert_int_gt(port, 0);
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    tmpdir = xstrdup(tmpl);
    dl_path = xasprintf("%s/input", tmpdir);
    allow = NULL;
    fetch_set_policy(false, NULL);
}

static void teardown(void)
{
    MHD_stop_daemon(srv);
    fsx_rm_rf(tmpdir);
    free(tmpdir);
    free(dl_path);
    free(big_body);
    addr_allow_free(allow);
}

static char *url_for(const char *path)
{
    return xasprintf("http://127.0.0.1:%d%s", port, path);
}

static bool file_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

/* Fetch path from the test server into dl_path. */
static int fetch_path(const char *path, int64_t max, struct fetch_result *res, struct err *err)
{
    char *url = url_for(path);
    int rc = fetch_to_file(url, dl_path, max, NULL, res, err);

    free(url);
    return rc;
}

static void assert_file_is(const char *path, const unsigned char *want, size_t len)
{
    size_t got_len = 0;
    struct err err = ERR_INIT;
    char *got = fsx_read_file(path, 16 * 1024 * 1024, &got_len, &err);

    ck_assert_msg(got != NULL, "%s: %s", path, err.msg);
    ck_assert_uint_eq(got_len, len);
    ck_assert(memcmp(got, want, len) == 0);
    free(got);
}

START_TEST(test_loopback_refused_by_default)
{
    struct fetch_result res;
    struct err err = ERR_INIT;

    ck_assert_int_eq(fetch_path("/file.png", 1 << 20, &res, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_str_eq(err.msg, "input URL not allowed");
    ck_assert(!file_exists(dl_path));
    ck_assert_ptr_null(res.filename);
}
END_TEST

START_TEST(test_allow_private)
{
    struct fetch_result res;
    struct err err = ERR_INIT;

    fetch_set_policy(true, NULL);
    ck_assert_msg(fetch_path("/file.png", 1 << 20, &res, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(res.http_status, 200);
    ck_assert_int_eq(res.size, SMALL_LEN);
    ck_assert_str_eq(res.filename, "file.png");
    assert_file_is(dl_path, small_body, SMALL_LEN);
    ck_assert_int_eq(fsx_file_size(dl_path), SMALL_LEN);
    fetch_result_fini(&res);
    ck_assert_ptr_null(res.filename);
}
END_TEST

START_TEST(test_allow_list_entry)
{
    struct fetch_result res;
    struct err err = ERR_INIT;
    char *spec = xasprintf("127.0.0.1:%d", port);

    ck_assert_int_eq(addr_allow_add(&allow, spec, &err), 0);
    fetch_set_policy(false, allow);
    ck_assert_msg(fetch_path("/file.png", 1 << 20, &res, &err) == 0, "%s", err.msg);
    assert_file_is(dl_path, small_body, SMALL_LEN);
    fetch_result_fini(&res);
    free(spec);
}
END_TEST

START_TEST(test_allow_list_other_port)
{
    struct fetch_result res;
    struct err err = ERR_INIT;
    char *spec = xasprintf("127.0.0.1:%d", port == 65535 ? 1 : port + 1);

    ck_assert_int_eq(addr_allow_add(&allow, spec, &err), 0);
    fetch_set_policy(false, allow);
    ck_assert_int_eq(fetch_path("/file.png", 1 << 20, &res, &err), -1);
    ck_assert_str_eq(err.msg, "input URL not allowed");
    ck_assert(!file_exists(dl_path));
    free(spec);
}
END_TEST

/* "localhost" may resolve to ::1 first: that address is refused, 127.0.0.1 serves. */
START_TEST(test_allow_list_by_name)
{
    struct fetch_result res;
    struct err err = ERR_INIT;
    char *spec = xasprintf("127.0.0.1:%d", port);
    char *url = xasprintf("http://localhost:%d/file.png", port);

    ck_assert_int_eq(addr_allow_add(&allow, spec, &err), 0);
    fetch_set_policy(false, allow);
    ck_assert_msg(fetch_to_file(url, dl_path, 1 << 20, NULL, &res, &err) == 0, "%s", err.msg);
    assert_file_is(dl_path, small_body, SMALL_LEN);
    fetch_result_fini(&res);
    free(url);
    free(spec);
}
END_TEST

START_TEST(test_redirect_rechecked)
{
    struct fetch_result res;
    struct err err = ERR_INIT;
    char *spec = xasprintf("127.0.0.1:%d", port);

    ck_assert_int_eq(addr_allow_add(&allow, spec, &err), 0);
    fetch_set_policy(false, allow);
    ck_assert_int_eq(fetch_path("/redirect-other-port", 1 << 20, &res, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_str_eq(err.msg, "input URL not allowed");
    ck_assert(!file_exists(dl_path));
    free(spec);
}
END_TEST

START_TEST(test_redirect_followed)
{
    struct fetch_result res;
    struct err err = ERR_INIT;

    fetch_set_policy(true, NULL);
    ck_assert_msg(fetch_path("/redirect", 1 << 20, &res, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(res.http_status, 200);
    ck_assert_str_eq(res.filename, "file.png"); /* from the effective URL */
    assert_file_is(dl_path, small_body, SMALL_LEN);
    fetch_result_fini(&res);
}
END_TEST

START_TEST(test_redirect_loop)
{
    struct fetch_result res;
    struct err err = ERR_INIT;

    fetch_set_policy(true, NULL);
    ck_assert_int_eq(fetch_path("/loop", 1 << 20, &res, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_msg(strncmp(err.msg, "input download failed: ", 23) == 0, "%s", err.msg);
    ck_assert(!file_exists(dl_path));
}
END_TEST

START_TEST(test_redirect_to_file_scheme)
{
    struct fetch_result res;
    struct err err = ERR_INIT;

    fetch_set_policy(true, NULL);
    ck_assert_int_eq(fetch_path("/redirect-file", 1 << 20, &res, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert(!file_exists(dl_path));
}
END_TEST

static const struct {
    const char *path;
    const char *msg;
} status_cases[] = {
    {"/404", "input download failed: HTTP 404"},
    {"/500", "input download failed: HTTP 500"},
};

START_TEST(test_http_error)
{
    struct fetch_result res;
    struct err err = ERR_INIT;

    fetch_set_policy(true, NULL);
    ck_assert_int_eq(fetch_path(status_cases[_i].path, 1 << 20, &res, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_str_eq(err.msg, status_cases[_i].msg);
    ck_assert(!file_exists(dl_path));
}
END_TEST

/* /big announces its length (refused up front); /bigchunked does not (cut while
 * writing). */
static const char *const big_paths[] = {"/big", "/bigchunked"};

START_TEST(test_too_big)
{
    struct fetch_result res;
    struct err err = ERR_INIT;

    fetch_set_policy(true, NULL);
    ck_assert_int_eq(fetch_path(big_paths[_i], BIG_LEN / 2, &res, &err), -1);
    ck_assert_int_eq(err.code, ERR_TOOBIG);
    ck_assert_str_eq(err.msg, "input too large");
    ck_assert(!file_exists(dl_path));
}
END_TEST

START_TEST(test_big_fits)
{
    struct fetch_result res;
    struct err err = ERR_INIT;

    fetch_set_policy(true, NULL);
    /* Exactly the limit is allowed. */
    ck_assert_msg(fetch_path(big_paths[_i], BIG_LEN, &res, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(res.size, BIG_LEN);
    assert_file_is(dl_path, big_body, BIG_LEN);
    fetch_result_fini(&res);
}
END_TEST

static const struct {
    const char *path;
    const char *filename; /* NULL: none */
} name_cases[] = {
    {"/cd", "named.bin"},
    {"/cdstar", "na\xc3\xafve file.bin"}, /* filename* wins over filename */
    {"/file.png", "file.png"},
    {"/cdredirect", "file.png"},
    {"/dl/report%20final.pdf?x=1&y=a/b", "report final.pdf"},
    {"/dl/a%2Fb.txt", "a/b.txt"}, /* split before decoding; callers sanitise */
    {"/dl/bad%zz%4", "bad%zz%4"},
    {"/", NULL},
};

START_TEST(test_filename)
{
    struct fetch_result res;
    struct err err = ERR_INIT;

    fetch_set_policy(true, NULL);
    ck_assert_msg(fetch_path(name_cases[_i].path, 1 << 20, &res, &err) == 0, "%s", err.msg);
    if (name_cases[_i].filename == NULL)
        ck_assert_ptr_null(res.filename);
    else
        ck_assert_str_eq(res.filename, name_cases[_i].filename);
    fetch_result_fini(&res);
}
END_TEST

START_TEST(test_cancelled)
{
    struct fetch_result res;
    struct err err = ERR_INIT;
    char *url = url_for("/big");
    volatile bool cancel = true;

    fetch_set_policy(true, NULL);
    ck_assert_int_eq(fetch_to_file(url, dl_path, BIG_LEN, &cancel, &res, &err), -1);
    ck_assert_int_eq(err.code, ERR_CANCELLED);
    ck_assert(!file_exists(dl_path));
    free(url);
}
END_TEST

START_TEST(test_bad_url_no_file)
{
    struct fetch_result res;
    struct err err = ERR_INIT;

    fetch_set_policy(true, NULL);
    ck_assert_int_eq(fetch_to_file("file:///etc/passwd", dl_path, 1 << 20, NULL, &res, &err), -1);
    ck_assert_str_eq(err.msg, "input URL not allowed");
    ck_assert(!file_exists(dl_path));
}
END_TEST

START_TEST(test_ping_status)
{
    struct err err = ERR_INIT;
    char *url = url_for("/500");
    long status = 0;

    fetch_set_policy(true, NULL);
    ck_assert_msg(fetch_ping(url, 10, &status, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(status, 500);
    free(url);
}
END_TEST

START_TEST(test_ping_no_redirect)
{
    struct err err = ERR_INIT;
    char *url = url_for("/redirect");
    long status = 0;

    fetch_set_policy(true, NULL);
    ck_assert_msg(fetch_ping(url, 10, &status, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(status, 302);
    free(url);
}
END_TEST

/* A body longer than a ping reads is not an error: the status arrived. */
START_TEST(test_ping_big_body)
{
    struct err err = ERR_INIT;
    char *url = url_for("/bigchunked");
    long status = 0;

    fetch_set_policy(true, NULL);
    ck_assert_msg(fetch_ping(url, 10, &status, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(status, 200);
    free(url);
}
END_TEST

START_TEST(test_ping_blocked)
{
    struct err err = ERR_INIT;
    char *url = url_for("/500");
    long status = 0;

    ck_assert_int_eq(fetch_ping(url, 10, &status, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_ptr_null(strstr(err.msg, "127.0.0.1"));
    ck_assert_ptr_nonnull(strstr(err.msg, "not allowed"));
    free(url);
}
END_TEST

START_TEST(test_ping_closed_port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof sin;
    struct err err = ERR_INIT;
    long status = 0;
    char *url;
    int fd;

    /* A port that was just free: bind to 0, read the port, close. */
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    close(fd);
    url = xasprintf("http://127.0.0.1:%d/", ntohs(sin.sin_port));
    fetch_set_policy(true, NULL);
    ck_assert_int_eq(fetch_ping(url, 10, &status, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_ptr_null(strstr(err.msg, "127.0.0.1"));
    free(url);
}
END_TEST

static const struct {
    const char *url;
    bool ok;
} syntax_cases[] = {
    {"https://example.com/x?y", true},
    {"http://example.com", true},
    {"HTTP://example.com/a", true},
    {"http://user:pw@example.com:8080/a#frag", true},
    {"http://[::1]:80/", true},
    {"ftp://example.com/x", false},
    {"http://", false},
    {"http://a b", false},
    {"http://a/b c", false},
    {"http://a/\tb", false},
    {"http://a/b\r\nX: y", false},
    {"http://a/\x7f", false},
    {" http://a/", false},
    {"file:///etc/passwd", false},
    {"gopher://x", false},
    {"dict://x:11211/", false},
    {"example.com/x", false},
    {"//example.com/x", false},
    {"", false},
    {"http:///path", false},
    {"http:/example.com", false},
    {"https:example.com", false},
    {"http:/x?y=a://b", false},
};

START_TEST(test_url_syntax)
{
    ck_assert_msg(fetch_url_syntax_ok(syntax_cases[_i].url) == syntax_cases[_i].ok, "\"%s\"",
                  syntax_cases[_i].url);
}
END_TEST

START_TEST(test_url_syntax_null)
{
    ck_assert(!fetch_url_syntax_ok(NULL));
}
END_TEST

/* fetch.c's static parser, reachable through UNITTEST. */
char *content_disposition_filename(const char *value);

static const struct {
    const char *value;
    const char *filename; /* NULL: none */
} cd_cases[] = {
    {" attachment; filename=\"named.bin\"\r\n", "named.bin"},
    {" attachment; filename=plain.txt\r\n", "plain.txt"},
    {"attachment; filename*=UTF-8''a%20b.txt; filename=\"x\"", "a b.txt"},
    {"attachment; filename=\"x\"; filename*=utf-8'en'%E2%82%AC.txt", "\xe2\x82\xac.txt"},
    {"attachment; FILENAME=\"Q.bin\"", "Q.bin"},
    {"attachment; filename = \"spaced.bin\"", "spaced.bin"},
    {"attachment; filename=\"a\\\"b.txt\"", "a\"b.txt"},
    {"attachment; filename=\"semi;colon.bin\"", "semi;colon.bin"},
    {"attachment; name=\"x\"; filename=\"f.bin\"", "f.bin"},
    {"attachment; filename*=ISO-8859-1''x.txt; filename=\"y.txt\"", "y.txt"},
    {"attachment; filename*=UTF-8''", NULL},
    {"attachment; filename=\"\"", NULL},
    {"attachment", NULL},
    {"inline; size=3", NULL},
};

START_TEST(test_content_disposition)
{
    char *got = content_disposition_filename(cd_cases[_i].value);

    if (cd_cases[_i].filename == NULL)
        ck_assert_msg(got == NULL, "%s: got %s", cd_cases[_i].value, got);
    else
        ck_assert_msg(got != NULL && strcmp(got, cd_cases[_i].filename) == 0, "%s: got %s",
                      cd_cases[_i].value, got ? got : "(null)");
    free(got);
}
END_TEST

/* The zip writer: three files in, the same names and bytes out. */
static const char *const zip_names[] = {"a.txt", "b.png", "c.bin", NULL};

static size_t zip_len(size_t idx)
{
    static const size_t lens[] = {5000, 1234, 200 * 1024 + 17}; /* c.bin spans several reads */
    return lens[idx];
}

static unsigned char zip_byte(size_t idx, size_t i)
{
    /* a.txt repeats (compressible), the others do not. */
    return idx == 0 ? (unsigned char)("hello zip "[i % 10]) : (unsigned char)(body_byte(i) ^ idx);
}

START_TEST(test_zip_roundtrip)
{
    struct err err = ERR_INIT;
    struct archive *a;
    struct archive_entry *e;
    char *zip_path = xasprintf("%s/out.zip", tmpdir);
    char *tmp_path = xasprintf("%s/out.zip.tmp", tmpdir);
    size_t n = 0;

    for (size_t f = 0; zip_names[f]; f++) {
        size_t len = zip_len(f);
        unsigned char *data = xmalloc(len);
        char *path = xasprintf("%s/%s", tmpdir, zip_names[f]);

        for (size_t i = 0; i < len; i++)
            data[i] = zip_byte(f, i);
        ck_assert_int_eq(fsx_write_atomic(path, data, len, &err), 0);
        free(data);
        free(path);
    }
    ck_assert_msg(zip_write(zip_path, tmpdir, zip_names, &err) == 0, "%s", err.msg);
    ck_assert(!file_exists(tmp_path));

    a = archive_read_new();
    archive_read_support_format_zip(a);
    ck_assert_int_eq(archive_read_open_filename(a, zip_path, 16384), ARCHIVE_OK);
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        size_t len, got = 0;
        unsigned char *data;
        la_ssize_t r;

        ck_assert_msg(zip_names[n] != NULL, "extra entry %s", archive_entry_pathname(e));
        ck_assert_str_eq(archive_entry_pathname(e), zip_names[n]);
        len = zip_len(n);
        data = xmalloc(len + 1);
        while ((r = archive_read_data(a, data + got, len + 1 - got)) > 0)
            got += (size_t)r;
        ck_assert_int_eq(r, 0);
        ck_assert_uint_eq(got, len);
        for (size_t i = 0; i < len; i++)
            ck_assert_msg(data[i] == zip_byte(n, i), "%s byte %zu", zip_names[n], i);
        free(data);
        n++;
    }
    ck_assert_uint_eq(n, 3);
    archive_read_free(a);
    free(zip_path);
    free(tmp_path);
}
END_TEST

START_TEST(test_zip_missing_file)
{
    static const char *const names[] = {"present.txt", "missing.txt", NULL};
    struct err err = ERR_INIT;
    char *zip_path = xasprintf("%s/out.zip", tmpdir);
    char *tmp_path = xasprintf("%s/out.zip.tmp", tmpdir);
    char *present = xasprintf("%s/present.txt", tmpdir);

    ck_assert_int_eq(fsx_write_atomic(present, "x", 1, &err), 0);
    ck_assert_int_eq(zip_write(zip_path, tmpdir, names, &err), -1);
    ck_assert_int_ne(err.code, ERR_OK);
    ck_assert(!file_exists(zip_path));
    ck_assert(!file_exists(tmp_path));
    free(present);
    free(zip_path);
    free(tmp_path);
}
END_TEST

/* Each name exists as a file (where the file system allows it), so only the name check
 * can refuse it. */
static const char *const unsafe_names[] = {".hidden", "..", "back\\slash", "ctl\x01.txt", ""};

START_TEST(test_zip_unsafe_name)
{
    const char *names[] = {"ok.txt", unsafe_names[_i], NULL};
    struct err err = ERR_INIT;
    char *zip_path = xasprintf("%s/out.zip", tmpdir);
    char *ok = xasprintf("%s/ok.txt", tmpdir);
    char *bad = xasprintf("%s/%s", tmpdir, unsafe_names[_i]);

    ck_assert_int_eq(fsx_write_atomic(ok, "x", 1, &err), 0);
    if (unsafe_names[_i][0] != '\0' && strcmp(unsafe_names[_i], "..") != 0)
        ck_assert_int_eq(fsx_write_atomic(bad, "x", 1, &err), 0);
    ck_assert_int_eq(zip_write(zip_path, tmpdir, names, &err), -1);
    ck_assert_str_eq(err.msg, "zip: unsafe entry name");
    ck_assert(!file_exists(zip_path));
    free(bad);
    free(ok);
    free(zip_path);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *fetch_suite(void)
{
    Suite *s = suite_create("fetch");
    TCase *tc;

    tc = tcase_create("policy");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_loopback_refused_by_default);
    tcase_add_test(tc, test_allow_private);
    tcase_add_test(tc, test_allow_list_entry);
    tcase_add_test(tc, test_allow_list_other_port);
    tcase_add_test(tc, test_allow_list_by_name);
    tcase_add_test(tc, test_redirect_rechecked);
    suite_add_tcase(s, tc);

    tc = tcase_create("download");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_redirect_followed);
    tcase_add_test(tc, test_redirect_loop);
    tcase_add_test(tc, test_redirect_to_file_scheme);
    tcase_add_loop_test(tc, test_http_error, 0, N(status_cases));
    tcase_add_loop_test(tc, test_too_big, 0, N(big_paths));
    tcase_add_loop_test(tc, test_big_fits, 0, N(big_paths));
    tcase_add_loop_test(tc, test_filename, 0, N(name_cases));
    tcase_add_test(tc, test_cancelled);
    tcase_add_test(tc, test_bad_url_no_file);
    suite_add_tcase(s, tc);

    tc = tcase_create("ping");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_ping_status);
    tcase_add_test(tc, test_ping_no_redirect);
    tcase_add_test(tc, test_ping_big_body);
    tcase_add_test(tc, test_ping_blocked);
    tcase_add_test(tc, test_ping_closed_port);
    suite_add_tcase(s, tc);

    tc = tcase_create("syntax");
    tcase_add_loop_test(tc, test_url_syntax, 0, N(syntax_cases));
    tcase_add_test(tc, test_url_syntax_null);
    suite_add_tcase(s, tc);

    tc = tcase_create("content_disposition");
    tcase_add_loop_test(tc, test_content_disposition, 0, N(cd_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("zip");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_zip_roundtrip);
    tcase_add_test(tc, test_zip_missing_file);
    tcase_add_loop_test(tc, test_zip_unsafe_name, 0, N(unsafe_names));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return EXIT_FAILURE;
    sr = srunner_create(fetch_suite());
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
