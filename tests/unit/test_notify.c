/* SPDX-License-Identifier: MIT */
/* test_notify.c - notify_email() end to end: messages through a real SMTP sink
 * (tests/lib/smtpsink.py, aiosmtpd), and against relays that refuse or never answer, with the
 * log (stderr) captured to a file and read back. */
#include "server/engine/notify.h"

#include <check.h>
#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/fsx.h"
#include "common/mem.h"
#include "server/config.h"
#include "fixture.h"

/* notify.c's test hook (UNITTEST). */
extern int notify_retry_delay_ms;

#define FROM     "convertd@example.org"
#define RCPT     "someone@example.net"
#define PASSWORD "Relay-Pw-9876"
#define PID      "pr0c3ss1d0123456789abcdef"
#define NO_RELAY "email requested but no --smtp-url is configured"

static char *tmpdir;
static char *sink_dir;
static struct fixture sink = FIXTURE_INIT;

static double now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
}

static void sleep_ms(long ms)
{
    struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    nanosleep(&t, NULL);
}

/* Messages the sink has stored so far (its N.json files). */
static int stored(void)
{
    DIR *d = opendir(sink_dir);
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

/* Wait up to 10 s for the sink to hold want messages. */
static void wait_stored(int want)
{
    for (int i = 0; i < 1000 && stored() < want; i++)
        sleep_ms(10);
    ck_assert_int_eq(stored(), want);
}

/* File N.ext of the sink; aborts the test when it is missing. */
static char *stored_file(int n, const char *ext)
{
    struct err err = ERR_INIT;
    char *path = xasprintf("%s/%d.%s", sink_dir, n, ext);
    char *data = fsx_read_file(path, 1024 * 1024, NULL, &err);

    ck_assert_msg(data != NULL, "%s: %s", path, err.msg);
    free(path);
    return data;
}

/* The value of header name in msg (not folded: ours are short). New string. */
static char *header(const char *msg, const char *name)
{
    size_t nlen = strlen(name);

    for (const char *p = msg; *p && !(p[0] == '\r' && p[1] == '\n');) {
        const char *eol = strstr(p, "\r\n");
        ck_assert_ptr_nonnull(eol);
        if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':' && p[nlen + 1] == ' ')
            return xstrndup(p + nlen + 2, (size_t)(eol - p - nlen - 2));
        p = eol + 2;
    }
    ck_abort_msg("no %s header", name);
    return NULL;
}

static const char *body_of(const char *msg)
{
    const char *b = strstr(msg, "\r\n\r\n");

    ck_assert_ptr_nonnull(b);
    return b + 4;
}

static struct config sink_config(char *url)
{
    struct config cfg = {0};

    cfg.smtp_url = url;
    cfg.smtp_from = FROM;
    return cfg;
}

static char *sink_url(void)
{
    return xasprintf("smtp://127.0.0.1:%d", fixture_port(&sink));
}

/* ---- the log: stderr into a file ------------------------------------------------------ */

static char *log_path;

static void log_capture(void)
{
    int fd;

    free(log_path);
    log_path = xasprintf("%s/log.%d", tmpdir, (int)getpid());
    fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(dup2(fd, 2), 2);
    close(fd);
}

static char *log_text(void)
{
    struct err err = ERR_INIT;
    char *text = fsx_read_file(log_path, 4 * 1024 * 1024, NULL, &err);

    ck_assert_msg(text != NULL, "%s", err.msg);
    return text;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* Wait up to 10 s for needle in the log. */
static bool log_wait(const char *needle)
{
    for (int i = 0; i < 1000; i++) {
        char *t = log_text();
        bool found = strstr(t, needle) != NULL;
        free(t);
        if (found)
            return true;
        sleep_ms(10);
    }
    return false;
}

/* ---- relays that do not relay --------------------------------------------------------- */

/* A listening socket on 127.0.0.1; *port gets its port. */
static int listener(int *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(fd, 16), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static atomic_int connections;

/* Accept and hang up at once: every attempt fails, and each one is counted. */
static void *refuse_all(void *arg)
{
    int lfd = *(int *)arg, c;

    while ((c = accept(lfd, NULL, NULL)) >= 0) {
        atomic_fetch_add(&connections, 1);
        close(c);
    }
    return NULL;
}

/* ---- delivery -------------------------------------------------------------------------- */

START_TEST(test_finished)
{
    char *url = sink_url();
    struct config cfg = sink_config(url);
    int n = stored();
    double t0;
    char *json, *msg, *v;

    notify_email_start(&cfg);
    t0 = now_ms();
    notify_email(RCPT, PID, "finished", "ignored when finished",
                 "https://conv.example/download/t0k3n/out.png");
    ck_assert_double_lt(now_ms() - t0, 50.0);
    /* Sent in the background, before any stop. */
    wait_stored(n + 1);
    json = stored_file(n + 1, "json");
    ck_assert_msg(strstr(json, "\"from\": \"" FROM "\"") != NULL, "%s", json);
    ck_assert_msg(strstr(json, "\"to\": [\"" RCPT "\"]") != NULL, "%s", json);
    msg = stored_file(n + 1, "eml");
    v = header(msg, "To");
    ck_assert_str_eq(v, RCPT);
    free(v);
    v = header(msg, "From");
    ck_assert_str_eq(v, FROM);
    free(v);
    v = header(msg, "Subject");
    ck_assert_str_eq(v, "convertd: process " PID " finished");
    free(v);
    ck_assert_str_eq(body_of(msg), "Process: " PID "\r\n"
                                   "Step: finished\r\n"
                                   "Download: https://conv.example/download/t0k3n/out.png\r\n");
    notify_email_stop();
    free(msg);
    free(json);
    free(url);
}
END_TEST

static const struct {
    const char *step, *message, *download;
    const char *subject, *body;
} body_cases[] = {
    {"error", "Conversion failed:\nunsupported\tcodec", "https://x.example/download/t",
     "convertd: process " PID " failed",
     "Process: " PID "\r\nStep: error\r\nMessage: Conversion failed: unsupported codec\r\n"},
    {"error", NULL, NULL, "convertd: process " PID " failed",
     "Process: " PID "\r\nStep: error\r\n"},
    {"finished", NULL, "//conv.example:8080/download/t/a.pdf", "convertd: process " PID " finished",
     "Process: " PID
     "\r\nStep: finished\r\nDownload: http://conv.example:8080/download/t/a.pdf\r\n"},
    {"finished", NULL, NULL, "convertd: process " PID " finished",
     "Process: " PID "\r\nStep: finished\r\n"},
    {"finished", NULL, "", "convertd: process " PID " finished",
     "Process: " PID "\r\nStep: finished\r\n"},
};

START_TEST(test_bodies)
{
    char *url = sink_url();
    struct config cfg = sink_config(url);
    int n = stored();
    char *msg, *v;

    notify_email_start(&cfg);
    notify_email(RCPT, PID, body_cases[_i].step, body_cases[_i].message, body_cases[_i].download);
    wait_stored(n + 1);
    msg = stored_file(n + 1, "eml");
    v = header(msg, "Subject");
    ck_assert_str_eq(v, body_cases[_i].subject);
    free(v);
    ck_assert_str_eq(body_of(msg), body_cases[_i].body);
    notify_email_stop();
    free(msg);
    free(url);
}
END_TEST

/* Stop sends what is queued before it returns. */
START_TEST(test_stop_drains)
{
    char *url = sink_url();
    struct config cfg = sink_config(url);
    int n = stored();
    double t0;

    notify_email_start(&cfg);
    for (int i = 0; i < 5; i++)
        notify_email(RCPT, PID, "finished", NULL, NULL);
    t0 = now_ms();
    notify_email_stop();
    ck_assert_double_lt(now_ms() - t0, 5500.0);
    ck_assert_int_eq(stored(), n + 5);
    /* Stopped: later ones go nowhere, quietly. */
    notify_email(RCPT, PID, "finished", NULL, NULL);
    sleep_ms(200);
    ck_assert_int_eq(stored(), n + 5);
    free(url);
}
END_TEST

/* A recipient mail_send() refuses is not tried again. */
START_TEST(test_bad_recipient)
{
    char *url = sink_url();
    struct config cfg = sink_config(url);
    int n = stored();
    char *log;

    log_capture();
    notify_retry_delay_ms = 3000;
    notify_email_start(&cfg);
    notify_email("two words@example.net", PID, "finished", NULL, NULL);
    ck_assert(log_wait("not sent after 1 attempt: email: invalid recipient"));
    notify_email_stop();
    log = log_text();
    ck_assert_msg(strstr(log, "pr0c3s") != NULL && strstr(log, PID) == NULL, "%s", log);
    free(log);
    ck_assert_int_eq(stored(), n);
    free(url);
}
END_TEST

/* ---- no relay, a relay that is down, a relay that hangs -------------------------------- */

/* Before start, with no --smtp-url at start, after stop: nothing sent, no crash, and the
 * warning said once for the whole process. */
START_TEST(test_not_configured)
{
    struct config cfg = {.smtp_from = FROM};
    char *log;

    log_capture();
    notify_email(RCPT, PID, "finished", NULL, NULL);
    notify_email_start(&cfg);
    notify_email(RCPT, PID, "finished", NULL, NULL);
    notify_email(RCPT, PID, "error", "x", NULL);
    notify_email_stop();
    notify_email(RCPT, PID, "finished", NULL, NULL);
    log = log_text();
    ck_assert_msg(count(log, NO_RELAY) == 1, "%s", log);
    ck_assert_msg(strstr(log, "WARN") != NULL, "%s", log);
    free(log);
}
END_TEST

START_TEST(test_relay_down)
{
    int port, lfd = listener(&port);
    char *url = xasprintf("smtp://127.0.0.1:%d", port);
    struct config cfg = {
        .smtp_url = url, .smtp_user = "relayuser", .smtp_password = PASSWORD, .smtp_from = FROM};
    pthread_t t;
    double t0, took;
    char *log;

    log_capture();
    ck_assert_int_eq(pthread_create(&t, NULL, refuse_all, &lfd), 0);
    notify_retry_delay_ms = 300;
    notify_email_start(&cfg);
    t0 = now_ms();
    notify_email(RCPT, PID, "error", "boom", NULL);
    took = now_ms() - t0;
    ck_assert_msg(took < 50.0, "notify_email took %.1f ms", took);
    ck_assert(log_wait("not sent after 3 attempts"));
    ck_assert_int_eq(atomic_load(&connections), 3);
    /* 3 attempts take two pauses. */
    ck_assert_double_ge(now_ms() - t0, 600.0);
    t0 = now_ms();
    notify_email_stop();
    ck_assert_double_lt(now_ms() - t0, 1000.0);
    log = log_text();
    ck_assert_msg(strstr(log, "WARN") != NULL && strstr(log, "email for process pr0c3s") != NULL,
                  "%s", log);
    ck_assert_ptr_null(strstr(log, PASSWORD));
    ck_assert_ptr_null(strstr(log, PID));
    free(log);
    shutdown(lfd, SHUT_RDWR);
    pthread_join(t, NULL);
    close(lfd);
    free(url);
}
END_TEST

/* A relay that accepts the connection and never says a word: mail_send() would wait 30 s.
 * Meanwhile the queue fills up and drops, and stop still returns after about 5 s. */
START_TEST(test_relay_hangs)
{
    int port, lfd = listener(&port);
    char *url = xasprintf("smtp://127.0.0.1:%d", port);
    struct config cfg = sink_config(url);
    double t0, worst = 0, took;
    char *log;

    log_capture();
    notify_email_start(&cfg);
    for (int i = 0; i < 1005; i++) {
        t0 = now_ms();
        notify_email(RCPT, PID, "finished", NULL, "https://x.example/download/t");
        took = now_ms() - t0;
        if (took > worst)
            worst = took;
    }
    ck_assert_msg(worst < 50.0, "notify_email took %.1f ms", worst);
    log = log_text();
    ck_assert_msg(count(log, "dropping new ones") == 1, "%s", log);
    free(log);
    t0 = now_ms();
    notify_email_stop();
    took = now_ms() - t0;
    ck_assert_msg(took > 4500.0 && took < 7000.0, "stop took %.0f ms", took);
    log = log_text();
    ck_assert_msg(strstr(log, "still busy") != NULL, "%s", log);
    free(log);
    /* The notifier can start again while the old thread still waits on the relay. */
    notify_email_start(&cfg);
    notify_email_stop();
    close(lfd);
    free(url);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *notify_suite(bool have_sink)
{
    Suite *s = suite_create("notify");
    TCase *tc;

    if (have_sink) {
        tc = tcase_create("send");
        tcase_set_timeout(tc, 40);
        tcase_add_test(tc, test_finished);
        tcase_add_loop_test(tc, test_bodies, 0, N(body_cases));
        tcase_add_test(tc, test_stop_drains);
        tcase_add_test(tc, test_bad_recipient);
        suite_add_tcase(s, tc);
    }
    tc = tcase_create("offline");
    tcase_set_timeout(tc, 40);
    tcase_add_test(tc, test_not_configured);
    tcase_add_test(tc, test_relay_down);
    tcase_add_test(tc, test_relay_hangs);
    suite_add_tcase(s, tc);
    return s;
}

/* The sink for the whole program; false when it cannot run (*failed when it should have). */
static bool sink_start(bool *failed)
{
    *failed = false;
    if (!fixture_python_has("aiosmtpd")) {
        printf("# SKIP SMTP delivery: python3 module aiosmtpd (python3-aiosmtpd) is not "
               "installed\n");
        return false;
    }
    *failed = true;
    sink_dir = xasprintf("%s/sink", tmpdir);
    if (mkdir(sink_dir, 0700) != 0)
        return false;
    {
        const char *args[] = {sink_dir, NULL};

        if (fixture_start(&sink, "smtpsink.py", args) != 0)
            return false;
    }
    *failed = false;
    return true;
}

int main(void)
{
    char tmpl[] = "/tmp/test_notify.XXXXXX";
    SRunner *sr;
    bool have_sink, start_failed;
    int failed = 1;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || mkdtemp(tmpl) == NULL)
        return EXIT_FAILURE;
    tmpdir = xstrdup(tmpl);
    /* A relay that hangs up makes curl write to a dead socket. */
    signal(SIGPIPE, SIG_IGN);
    have_sink = sink_start(&start_failed);
    /* Before the forks of srunner_run_all(), or each test would print it again. */
    fflush(stdout);
    if (!start_failed) {
        sr = srunner_create(notify_suite(have_sink));
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
    }
    fixture_stop(&sink);
    free(sink_dir);
    fsx_rm_rf(tmpdir);
    free(tmpdir);
    free(log_path);
    curl_global_cleanup();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
