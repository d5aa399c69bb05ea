/* SPDX-License-Identifier: MIT */
/* test_mail.c - mail_send() against real SMTP sinks on 127.0.0.1 (aiosmtpd, started once for
 * the whole program by tests/lib/smtpsink.py): a plain one, one requiring AUTH and one
 * requiring STARTTLS. Each keeps the messages it received as files, read back here. */
#include <check.h>
#include <curl/curl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/fsx.h"
#include "common/mem.h"
#include "storage/mail.h"
#include "fixture.h"

/* mail.c's test hooks (UNITTEST). */
extern bool mail_tls_insecure;
char *mail_encode_subject(const char *subject);

#define FROM     "convertd@example.org"
#define RCPT     "someone@example.net"
#define USER     "relayuser"
#define PASSWORD "Relay-Pw-9876"

enum { SINK_PLAIN, SINK_AUTH, SINK_TLS, SINK_COUNT };

static char *tmpdir;
static char *sink_dir[SINK_COUNT];
static struct fixture sink[SINK_COUNT] = {FIXTURE_INIT, FIXTURE_INIT, FIXTURE_INIT};

/* Messages a sink has stored so far (its N.json files). */
static int stored(int which)
{
    DIR *d = opendir(sink_dir[which]);
    struct dirent *e;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0)
            n++;
    }
    closedir(d);
    return n;
}

/* File N.ext of a sink; aborts the test when it is missing. */
static char *stored_file(int which, int n, const char *ext)
{
    struct err err = ERR_INIT;
    char *path = xasprintf("%s/%d.%s", sink_dir[which], n, ext);
    char *data = fsx_read_file(path, 1024 * 1024, NULL, &err);

    ck_assert_msg(data != NULL, "%s: %s", path, err.msg);
    free(path);
    return data;
}

static char *relay_url(int which)
{
    return xasprintf("smtp://127.0.0.1:%d", fixture_port(&sink[which]));
}

/* Send one message through a sink; returns mail_send()'s answer. */
static int send_via(int which, const char *user, const char *password, const char *to,
                    const char *subject, const char *body, struct err *err)
{
    char *url = relay_url(which);
    struct mail_relay r = {.url = url, .user = user, .password = password, .from = FROM};
    int rc = mail_send(&r, to, subject, body, err);

    free(url);
    return rc;
}

/* The value of header name in msg, unfolded (continuation lines joined). New string. */
static char *header(const char *msg, const char *name)
{
    struct buf b = BUF_INIT;
    size_t nlen = strlen(name);
    const char *p = msg;

    while (*p && !(p[0] == '\r' && p[1] == '\n')) {
        const char *eol = strstr(p, "\r\n");
        ck_assert_ptr_nonnull(eol);
        if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            const char *v = p + nlen + 1;
            while (*v == ' ')
                v++;
            buf_append(&b, v, (size_t)(eol - v));
            for (p = eol + 2; *p == ' ' || *p == '\t'; p = eol + 2) {
                eol = strstr(p, "\r\n");
                ck_assert_ptr_nonnull(eol);
                buf_append(&b, p, (size_t)(eol - p));
            }
            return buf_steal(&b);
        }
        p = eol + 2;
    }
    ck_abort_msg("no %s header", name);
    return NULL;
}

static int b64val(char c)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c != '\0' ? strchr(tbl, c) : NULL;

    return p != NULL ? (int)(p - tbl) : -1;
}

/* Decode an unfolded header value made of RFC 2047 "=?UTF-8?B?...?=" words (whitespace
 * between words ignored, as RFC 2047 6.2 says); plain text is kept. New string. */
static char *decode_2047(const char *v)
{
    struct buf b = BUF_INIT;

    while (*v) {
        if (strncmp(v, "=?UTF-8?B?", 10) == 0) {
            const char *end = strstr(v + 10, "?=");
            unsigned acc = 0;
            int bits = 0;

            ck_assert_ptr_nonnull(end);
            ck_assert_int_le((int)(end + 2 - v), 75);
            for (const char *q = v + 10; q < end && *q != '='; q++) {
                int x = b64val(*q);
                ck_assert_int_ge(x, 0);
                acc = (acc << 6) | (unsigned)x;
                bits += 6;
                if (bits >= 8) {
                    char c = (char)((acc >> (bits - 8)) & 0xff);
                    buf_append(&b, &c, 1);
                    bits -= 8;
                }
            }
            v = end + 2;
            while (*v == ' ' || *v == '\t')
                v++;
        } else {
            buf_append(&b, v, 1);
            v++;
        }
    }
    return buf_steal(&b);
}

/* ---- delivery ---------------------------------------------------------------------- */

START_TEST(test_delivered)
{
    struct err err = ERR_INIT;
    int n = stored(SINK_PLAIN);
    char *json, *msg, *v;
    const char *body_start;
    struct tm tm = {0};
    time_t now = time(NULL), when;

    ck_assert_msg(send_via(SINK_PLAIN, NULL, NULL, RCPT, "Your file is ready",
                           "Hello,\nline two\r\n.starts with a dot\n..two dots\r.\nlast",
                           &err) == 0,
                  "%s", err.msg);
    ck_assert_int_eq(stored(SINK_PLAIN), n + 1);
    json = stored_file(SINK_PLAIN, n + 1, "json");
    ck_assert_msg(strstr(json, "\"from\": \"" FROM "\"") != NULL, "%s", json);
    ck_assert_msg(strstr(json, "\"to\": [\"" RCPT "\"]") != NULL, "%s", json);
    ck_assert_msg(strstr(json, "\"tls\": false") != NULL, "%s", json);
    msg = stored_file(SINK_PLAIN, n + 1, "eml");

    v = header(msg, "From");
    ck_assert_str_eq(v, FROM);
    free(v);
    v = header(msg, "To");
    ck_assert_str_eq(v, RCPT);
    free(v);
    v = header(msg, "Subject");
    ck_assert_str_eq(v, "Your file is ready");
    free(v);
    v = header(msg, "MIME-Version");
    ck_assert_str_eq(v, "1.0");
    free(v);
    v = header(msg, "Content-Type");
    ck_assert_str_eq(v, "text/plain; charset=utf-8");
    free(v);
    v = header(msg, "Content-Transfer-Encoding");
    ck_assert_str_eq(v, "8bit");
    free(v);

    /* RFC 5322 date, in UTC, within a minute of now. */
    v = header(msg, "Date");
    {
        const char *rest = strptime(v, "%a, %d %b %Y %H:%M:%S +0000", &tm);
        ck_assert_msg(rest != NULL && *rest == '\0', "Date: %s", v);
    }
    when = timegm(&tm);
    ck_assert_int_le(labs((long)(when - now)), 60);
    free(v);

    v = header(msg, "Message-ID");
    ck_assert_uint_eq(strlen(v), 1 + 32 + strlen("@convertd>"));
    ck_assert_int_eq(v[0], '<');
    ck_assert_uint_eq(strspn(v + 1, "0123456789abcdef"), 32);
    ck_assert_str_eq(v + 33, "@convertd>");
    free(v);

    /* Every line ends in CRLF; the dots survived curl's stuffing and the sink's unstuffing. */
    for (const char *p = msg; (p = strchr(p, '\n')) != NULL; p++)
        ck_assert_msg(p > msg && p[-1] == '\r', "bare LF at %td", p - msg);
    body_start = strstr(msg, "\r\n\r\n");
    ck_assert_ptr_nonnull(body_start);
    ck_assert_str_eq(body_start + 4,
                     "Hello,\r\nline two\r\n.starts with a dot\r\n..two dots\r\n.\r\nlast\r\n");
    free(msg);
    free(json);
}
END_TEST

/* Two messages never share a Message-ID. */
START_TEST(test_message_id_unique)
{
    struct err err = ERR_INIT;
    int n = stored(SINK_PLAIN);
    char *a, *b, *ida, *idb;

    ck_assert_msg(send_via(SINK_PLAIN, NULL, NULL, RCPT, "one", "1", &err) == 0, "%s", err.msg);
    ck_assert_msg(send_via(SINK_PLAIN, NULL, NULL, RCPT, "two", "2", &err) == 0, "%s", err.msg);
    a = stored_file(SINK_PLAIN, n + 1, "eml");
    b = stored_file(SINK_PLAIN, n + 2, "eml");
    ida = header(a, "Message-ID");
    idb = header(b, "Message-ID");
    ck_assert_str_ne(ida, idb);
    free(idb);
    free(ida);
    free(b);
    free(a);
}
END_TEST

static const char *const subjects[] = {
    "Konvertierung fertig: Größe 3 MB \xe2\x9c\x93",
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe4\xbb\xb6\xe5\x90\x8d",
    "A long subject with accents \xc3\xa9\xc3\xa8\xc3\xa0 that needs several encoded words, "
    "since one word holds at most 75 characters \xf0\x9f\x98\x80 and this is much longer",
    "looks like =?UTF-8?B?eA==?= but is plain",
    "tab\there",
};

START_TEST(test_utf8_subject)
{
    struct err err = ERR_INIT;
    int n = stored(SINK_PLAIN);
    char *msg, *raw, *decoded;

    ck_assert_msg(send_via(SINK_PLAIN, NULL, NULL, RCPT, subjects[_i], "x", &err) == 0, "%s",
                  err.msg);
    msg = stored_file(SINK_PLAIN, n + 1, "eml");
    /* The header itself is ASCII. */
    for (const char *p = msg; *p && !(p[0] == '\r' && p[1] == '\n' && p[2] == '\r'); p++)
        ck_assert_msg((unsigned char)*p < 0x80, "8-bit header byte at %td", p - msg);
    raw = header(msg, "Subject");
    ck_assert_msg(strncmp(raw, "=?UTF-8?B?", 10) == 0, "%s", raw);
    decoded = decode_2047(raw);
    ck_assert_str_eq(decoded, subjects[_i]);
    free(decoded);
    free(raw);
    free(msg);
}
END_TEST

/* ---- AUTH and STARTTLS ------------------------------------------------------------- */

START_TEST(test_auth)
{
    struct err err = ERR_INIT;
    int n = stored(SINK_AUTH);
    char *json;

    ck_assert_msg(send_via(SINK_AUTH, USER, PASSWORD, RCPT, "auth", "body", &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(stored(SINK_AUTH), n + 1);
    json = stored_file(SINK_AUTH, n + 1, "json");
    ck_assert_msg(strstr(json, "\"login\": \"" USER "\"") != NULL, "%s", json);
    free(json);
}
END_TEST

START_TEST(test_auth_wrong_password)
{
    struct err err = ERR_INIT;
    int n = stored(SINK_AUTH);

    ck_assert_int_eq(send_via(SINK_AUTH, USER, "Wrong-Pw-5555", RCPT, "auth", "body", &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    /* The relay's answer, without the password. */
    ck_assert_msg(strncmp(err.msg, "email: 535", 10) == 0, "%s", err.msg);
    ck_assert_ptr_null(strstr(err.msg, "Wrong-Pw-5555"));
    ck_assert_int_eq(stored(SINK_AUTH), n);
}
END_TEST

/* The sink really requires AUTH: without a user the relay refuses the message. */
START_TEST(test_auth_required)
{
    struct err err = ERR_INIT;
    int n = stored(SINK_AUTH);

    ck_assert_int_eq(send_via(SINK_AUTH, NULL, NULL, RCPT, "noauth", "body", &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_msg(strstr(err.msg, "530") != NULL, "%s", err.msg);
    ck_assert_int_eq(stored(SINK_AUTH), n);
}
END_TEST

/* The sink refuses every command before STARTTLS, and records the TLS state. */
START_TEST(test_starttls)
{
    struct err err = ERR_INIT;
    int n = stored(SINK_TLS);
    char *json, *msg;

    mail_tls_insecure = true;
    ck_assert_msg(send_via(SINK_TLS, NULL, NULL, RCPT, "over TLS", "secret body", &err) == 0, "%s",
                  err.msg);
    json = stored_file(SINK_TLS, n + 1, "json");
    ck_assert_msg(strstr(json, "\"tls\": true") != NULL, "%s", json);
    msg = stored_file(SINK_TLS, n + 1, "eml");
    ck_assert_ptr_nonnull(strstr(msg, "\r\n\r\nsecret body\r\n"));
    free(msg);
    free(json);
    /* Back to the default, for a run without forks (CK_FORK=no). */
    mail_tls_insecure = false;
}
END_TEST

/* Verification stays on unless a test turns it off: the self-signed certificate fails. */
START_TEST(test_starttls_verified)
{
    struct err err = ERR_INIT;
    int n = stored(SINK_TLS);

    ck_assert(!mail_tls_insecure);
    ck_assert_int_eq(send_via(SINK_TLS, NULL, NULL, RCPT, "x", "y", &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_msg(strncmp(err.msg, "email: ", 7) == 0, "%s", err.msg);
    ck_assert_int_eq(stored(SINK_TLS), n);
}
END_TEST

/* ---- refusals ------------------------------------------------------------------------ */

static const struct {
    const char *to;
    const char *subject;
} injections[] = {
    {RCPT "\r\nBcc: victim@example.com", "s"},
    {RCPT "\n", "s"},
    {"\r" RCPT, "s"},
    {RCPT, "hello\r\nBcc: victim@example.com"},
    {RCPT, "hello\n"},
    {RCPT, "hel\rlo"},
    {"", "s"},
    {"a@b.c, other@example.com", "s"},
};

START_TEST(test_injection_refused)
{
    struct err err = ERR_INIT;
    int n = stored(SINK_PLAIN);

    ck_assert_int_eq(
        send_via(SINK_PLAIN, NULL, NULL, injections[_i].to, injections[_i].subject, "body", &err),
        -1);
    ck_assert_int_eq(err.code, ERR_BADPARAM);
    ck_assert_int_eq(stored(SINK_PLAIN), n);
}
END_TEST

/* A relay that is not there: a curl reason, quickly. */
START_TEST(test_relay_down)
{
    struct mail_relay r = {.url = "smtp://127.0.0.1:1", .from = FROM};
    struct err err = ERR_INIT;

    ck_assert_int_eq(mail_send(&r, RCPT, "s", "b", &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_str_eq(err.msg, "email: Couldn't connect to server");
}
END_TEST

/* ---- subject encoding ---------------------------------------------------------------- */

static const struct {
    const char *in;
    const char *out;
} encode_cases[] = {
    {"Plain ASCII subject", "Plain ASCII subject"},
    {"", ""},
    {"\xc3\xa9", "=?UTF-8?B?w6k=?="},
    {"=?", "=?UTF-8?B?PT8=?="},
    /* An invalid byte becomes '?' rather than an encoded word a reader cannot decode. */
    {"a\xff", "=?UTF-8?B?YT8=?="},
};

START_TEST(test_encode_subject)
{
    char *got = mail_encode_subject(encode_cases[_i].in);

    ck_assert_str_eq(got, encode_cases[_i].out);
    free(got);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *mail_suite(bool sinks)
{
    Suite *s = suite_create("mail");
    TCase *tc;

    if (sinks) {
        tc = tcase_create("send");
        tcase_set_timeout(tc, 40);
        tcase_add_test(tc, test_delivered);
        tcase_add_test(tc, test_message_id_unique);
        tcase_add_loop_test(tc, test_utf8_subject, 0, N(subjects));
        tcase_add_test(tc, test_auth);
        tcase_add_test(tc, test_auth_wrong_password);
        tcase_add_test(tc, test_auth_required);
        tcase_add_test(tc, test_starttls);
        tcase_add_test(tc, test_starttls_verified);
        tcase_add_loop_test(tc, test_injection_refused, 0, N(injections));
        suite_add_tcase(s, tc);
    }

    tc = tcase_create("offline");
    tcase_set_timeout(tc, 40);
    tcase_add_test(tc, test_relay_down);
    tcase_add_loop_test(tc, test_encode_subject, 0, N(encode_cases));
    suite_add_tcase(s, tc);
    return s;
}

/* The three sinks for the whole program; false (reason printed) when they cannot run. */
static bool sinks_start(bool *failed)
{
    char tmpl[] = "/tmp/test_mail.XXXXXX";
    static const char *const names[SINK_COUNT] = {"plain", "auth", "tls"};

    *failed = false;
    if (!fixture_python_has("aiosmtpd")) {
        printf("# SKIP SMTP delivery: python3 module aiosmtpd (python3-aiosmtpd) is not "
               "installed\n");
        return false;
    }
    *failed = true;
    if (mkdtemp(tmpl) == NULL)
        return false;
    tmpdir = xstrdup(tmpl);
    for (int i = 0; i < SINK_COUNT; i++) {
        sink_dir[i] = xasprintf("%s/%s", tmpdir, names[i]);
        if (mkdir(sink_dir[i], 0700) != 0)
            return false;
    }
    {
        const char *plain[] = {sink_dir[SINK_PLAIN], NULL};
        const char *auth[] = {sink_dir[SINK_AUTH], "--auth", USER, PASSWORD, NULL};
        const char *tls[] = {sink_dir[SINK_TLS], "--starttls", NULL};

        if (fixture_start(&sink[SINK_PLAIN], "smtpsink.py", plain) != 0 ||
            fixture_start(&sink[SINK_AUTH], "smtpsink.py", auth) != 0 ||
            fixture_start(&sink[SINK_TLS], "smtpsink.py", tls) != 0)
            return false;
    }
    *failed = false;
    return true;
}

int main(void)
{
    SRunner *sr;
    bool sinks, start_failed;
    int failed = 1;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return EXIT_FAILURE;
    sinks = sinks_start(&start_failed);
    /* Before the forks of srunner_run_all(), or each test would print it again. */
    fflush(stdout);
    if (!start_failed) {
        sr = srunner_create(mail_suite(sinks));
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
    }
    for (int i = 0; i < SINK_COUNT; i++) {
        fixture_stop(&sink[i]);
        free(sink_dir[i]);
    }
    if (tmpdir != NULL)
        fsx_rm_rf(tmpdir);
    free(tmpdir);
    curl_global_cleanup();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
