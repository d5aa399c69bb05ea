/* SPDX-License-Identifier: MIT */
/* test_config.c - flags, environment and config file -> struct config. */
#include "server/config.h"

#include <arpa/inet.h>
#include <check.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/addr.h"

extern char **environ;

static char tmpdir[PATH_MAX];
static char origdir[PATH_MAX];

/* Every test runs in a fresh empty directory (so the default ./var lands there) with no
 * CONVERTD_* variable inherited from whoever runs the tests. */
static void setup(void)
{
    char tmpl[] = "/tmp/test_config.XXXXXX";
    char *names[256];
    size_t n = 0;

    ck_assert_ptr_nonnull(getcwd(origdir, sizeof origdir));
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    ck_assert_ptr_nonnull(realpath(tmpl, tmpdir));
    ck_assert_int_eq(chdir(tmpdir), 0);
    for (char **e = environ; *e != NULL && n < 256; e++)
        if (strncmp(*e, "CONVERTD_", 9) == 0)
            names[n++] = strndup(*e, strcspn(*e, "="));
    for (size_t i = 0; i < n; i++) {
        unsetenv(names[i]);
        free(names[i]);
    }
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void teardown(void)
{
    ck_assert_int_eq(chdir(origdir), 0);
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* config_load on "convertd serve ARGS..." (NULL-terminated). */
static int load(struct config *cfg, struct err *err, ...)
{
    char *argv[32] = {"convertd", "serve"};
    int argc = 2;
    va_list ap;
    const char *a;

    va_start(ap, err);
    while ((a = va_arg(ap, const char *)) != NULL && argc < 31)
        argv[argc++] = (char *)a;
    va_end(ap);
    return config_load(cfg, argc, argv, 2, err);
}

/* config_load on a NULL-terminated argument array. */
static int load_vec(struct config *cfg, struct err *err, const char *const *args)
{
    char *argv[32] = {"convertd", "serve"};
    int argc = 2;

    for (size_t i = 0; args[i] != NULL && argc < 31; i++)
        argv[argc++] = (char *)args[i];
    return config_load(cfg, argc, argv, 2, err);
}

static void write_file(const char *name, const char *text)
{
    FILE *fp = fopen(name, "w");
    ck_assert_ptr_nonnull(fp);
    ck_assert_int_ge(fputs(text, fp), 0);
    ck_assert_int_eq(fclose(fp), 0);
}

static struct sockaddr_storage sa_make(const char *ip, int port)
{
    struct sockaddr_storage ss;

    memset(&ss, 0, sizeof ss);
    if (strchr(ip, ':') != NULL) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        ck_assert_int_eq(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        ck_assert_int_eq(inet_pton(AF_INET, ip, &in->sin_addr), 1);
    }
    return ss;
}

static bool allowed(const struct config *cfg, const char *ip, int port)
{
    struct sockaddr_storage ss = sa_make(ip, port);
    return addr_allow_match(cfg->allow, (const struct sockaddr *)&ss);
}

START_TEST(test_defaults)
{
    struct config cfg;
    struct err err = ERR_INIT;
    char want_dir[PATH_MAX + 8];
    struct stat st;

    ck_assert_int_eq(load(&cfg, &err, NULL), 0);
    ck_assert_str_eq(cfg.listen_host, "127.0.0.1");
    ck_assert_int_eq(cfg.listen_port, 8080);
    ck_assert_ptr_null(cfg.port_file);
    ck_assert_ptr_null(cfg.public_scheme);
    ck_assert_ptr_null(cfg.public_host);
    snprintf(want_dir, sizeof want_dir, "%s/var", tmpdir);
    ck_assert_str_eq(cfg.data_dir, want_dir);
    ck_assert_int_eq(stat(cfg.data_dir, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_int_eq(cfg.workers, (int)sysconf(_SC_NPROCESSORS_ONLN));
    ck_assert_int_eq(cfg.max_upload_bytes, (int64_t)10 << 30);
    ck_assert_int_eq(cfg.max_body_bytes, (int64_t)100 << 20);
    ck_assert_int_eq(cfg.max_queue, 1000);
    ck_assert_int_eq(cfg.default_timeout, 600);
    ck_assert_int_eq(cfg.upload_timeout, 3600);
    ck_assert_int_eq(cfg.expire_seconds, 86400);
    ck_assert_int_eq(cfg.callback_retry_delay, 5);
    ck_assert(!cfg.allow_private_urls);
    ck_assert_ptr_null(cfg.allow);
    ck_assert(!cfg.test_converters);
    ck_assert_int_eq(cfg.max_pixels, 100000000);
    ck_assert_int_eq(cfg.max_side, 32768);
    ck_assert_int_eq(cfg.max_pages, 1000);
    ck_assert_int_eq(cfg.worker_mem_bytes, (int64_t)2 << 30);
    ck_assert_int_eq(cfg.max_output_bytes, (int64_t)4 << 30);
    ck_assert_int_eq(cfg.http_threads, 4);
    ck_assert_int_eq(cfg.connection_limit, 1024);
    ck_assert_int_eq(cfg.connection_timeout, 30);
    ck_assert_int_eq(cfg.rate_limit, 0);
    ck_assert_str_eq(cfg.log_level, "info");
    ck_assert_ptr_null(cfg.smtp_url);
    ck_assert_ptr_null(cfg.smtp_user);
    ck_assert_ptr_null(cfg.smtp_password);
    ck_assert_ptr_nonnull(cfg.smtp_from);
    ck_assert_ptr_null(cfg.config_file);
    ck_assert_ptr_null(cfg.key);
    ck_assert_ptr_null(cfg.email);
    ck_assert_ptr_null(cfg.id);
    ck_assert_ptr_null(cfg.options);
    config_fini(&cfg);
    ck_assert_ptr_null(cfg.listen_host);
    ck_assert_ptr_null(cfg.data_dir);
}
END_TEST

/* Each layer given or not: the highest one present wins. */
static const struct {
    const char *file, *env, *flag;
    int want;
} precedence_cases[] = {
    {NULL, NULL, NULL, 1000}, {"2", NULL, NULL, 2}, {NULL, "3", NULL, 3}, {NULL, NULL, "4", 4},
    {"2", "3", NULL, 3},      {"2", NULL, "4", 4},  {NULL, "3", "4", 4},  {"2", "3", "4", 4},
};

START_TEST(test_precedence)
{
    struct config cfg;
    struct err err = ERR_INIT;
    const char *args[8] = {NULL};
    size_t n = 0;
    char text[64], flag[64];

    if (precedence_cases[_i].file != NULL) {
        snprintf(text, sizeof text, "max-queue = %s\n", precedence_cases[_i].file);
        write_file("c.conf", text);
        args[n++] = "--config";
        args[n++] = "c.conf";
    }
    if (precedence_cases[_i].env != NULL)
        setenv("CONVERTD_MAX_QUEUE", precedence_cases[_i].env, 1);
    if (precedence_cases[_i].flag != NULL) {
        snprintf(flag, sizeof flag, "--max-queue=%s", precedence_cases[_i].flag);
        args[n++] = flag;
    }
    ck_assert_msg(load_vec(&cfg, &err, args) == 0, "case %d: %s", _i, err.msg);
    ck_assert_int_eq(cfg.max_queue, precedence_cases[_i].want);
    config_fini(&cfg);
}
END_TEST

/* Strings, the listen address and the public URL follow the same order. */
START_TEST(test_precedence_kinds)
{
    struct config cfg;
    struct err err = ERR_INIT;

    write_file("c.conf", "listen = 10.0.0.1:1\n"
                         "public-url = file.example\n"
                         "log-level = error\n"
                         "port-file = from-file\n"
                         "max-side = 7\n");
    setenv("CONVERTD_CONFIG", "c.conf", 1);
    setenv("CONVERTD_LISTEN", "10.0.0.2:2", 1);
    setenv("CONVERTD_PUBLIC_URL", "https://env.example", 1);
    setenv("CONVERTD_LOG_LEVEL", "warn", 1);
    ck_assert_msg(load(&cfg, &err, "--listen", "[::1]:3", "--log-level=debug", NULL) == 0, "%s",
                  err.msg);
    ck_assert_str_eq(cfg.listen_host, "::1");
    ck_assert_int_eq(cfg.listen_port, 3);
    ck_assert_str_eq(cfg.public_scheme, "https");
    ck_assert_str_eq(cfg.public_host, "env.example");
    ck_assert_str_eq(cfg.log_level, "debug");
    ck_assert_str_eq(cfg.port_file, "from-file");
    ck_assert_int_eq(cfg.max_side, 7);
    ck_assert_str_eq(cfg.config_file, "c.conf");
    config_fini(&cfg);

    /* A flag given twice: the last one wins. An empty variable counts as unset. */
    setenv("CONVERTD_MAX_SIDE", "", 1);
    ck_assert_int_eq(load(&cfg, &err, "--workers", "2", "--workers", "3", NULL), 0);
    ck_assert_int_eq(cfg.workers, 3);
    ck_assert_int_eq(cfg.max_side, 7);
    config_fini(&cfg);
}
END_TEST

static const struct {
    const char *env;  /* CONVERTD_TEST_CONVERTERS, or NULL */
    const char *file; /* test-converters = ..., or NULL */
    const char *args[3];
    bool want;
} bool_cases[] = {
    {NULL, NULL, {NULL}, false},
    {NULL, NULL, {"--test-converters"}, true},
    {NULL, NULL, {"--test-converters=true"}, true},
    {NULL, NULL, {"--test-converters=false"}, false},
    {NULL, NULL, {"--test-converters=1"}, true},
    {NULL, NULL, {"--test-converters=0"}, false},
    {NULL, NULL, {"--test-converters=YES"}, true},
    {NULL, NULL, {"--test-converters=no"}, false},
    {"1", NULL, {NULL}, true},
    {"false", NULL, {NULL}, false},
    {"true", NULL, {"--test-converters=false"}, false},
    {"0", NULL, {"--test-converters"}, true},
    {NULL, "yes", {NULL}, true},
    {"no", "true", {NULL}, false},
};

START_TEST(test_bool_forms)
{
    struct config cfg;
    struct err err = ERR_INIT;
    const char *args[6] = {NULL};
    size_t n = 0;
    char text[64];

    if (bool_cases[_i].env != NULL)
        setenv("CONVERTD_TEST_CONVERTERS", bool_cases[_i].env, 1);
    if (bool_cases[_i].file != NULL) {
        snprintf(text, sizeof text, "test-converters = %s\n", bool_cases[_i].file);
        write_file("c.conf", text);
        args[n++] = "--config=c.conf";
    }
    for (size_t i = 0; bool_cases[_i].args[i] != NULL; i++)
        args[n++] = bool_cases[_i].args[i];
    ck_assert_msg(load_vec(&cfg, &err, args) == 0, "case %d: %s", _i, err.msg);
    ck_assert_msg(cfg.test_converters == bool_cases[_i].want, "case %d", _i);
    config_fini(&cfg);
}
END_TEST

START_TEST(test_bool_bare_takes_no_value)
{
    struct config cfg;
    struct err err = ERR_INIT;

    /* A bare boolean must not swallow the next argument. */
    ck_assert_msg(load(&cfg, &err, "--allow-private-urls", "--workers", "3", NULL) == 0, "%s",
                  err.msg);
    ck_assert(cfg.allow_private_urls);
    ck_assert_int_eq(cfg.workers, 3);
    config_fini(&cfg);

    ck_assert_int_eq(load(&cfg, &err, "--allow-private-urls", "true", NULL), -1);
    ck_assert_int_eq(err.code, ERR_BADPARAM);
    ck_assert_ptr_nonnull(strstr(err.msg, "\"true\""));
}
END_TEST

/* Bad values: the message names where the value came from. */
static const struct {
    const char *args[4];
    const char *env_name, *env_value;
    const char *want; /* substring of the message */
} bad_cases[] = {
    {{"--workers", "0"}, NULL, NULL, "--workers"},
    {{"--workers", "abc"}, NULL, NULL, "--workers"},
    {{"--workers", "1025"}, NULL, NULL, "--workers"},
    {{"--workers", " 4"}, NULL, NULL, "--workers"},
    {{"--workers", "0x10"}, NULL, NULL, "--workers"},
    {{"--workers", "99999999999999999999"}, NULL, NULL, "--workers"},
    {{"--max-queue=-1"}, NULL, NULL, "--max-queue"},
    {{"--max-queue="}, NULL, NULL, "--max-queue"},
    {{"--default-timeout", "0"}, NULL, NULL, "--default-timeout"},
    {{"--max-upload-bytes", "10X"}, NULL, NULL, "--max-upload-bytes"},
    {{"--max-upload-bytes", "10Gx"}, NULL, NULL, "--max-upload-bytes"},
    {{"--max-upload-bytes", "9999999999T"}, NULL, NULL, "--max-upload-bytes"},
    {{"--worker-memory", "1M"}, NULL, NULL, "--worker-memory"},
    {{"--expire-seconds", "0"}, NULL, NULL, "--expire-seconds"},
    {{"--rate-limit", "-5"}, NULL, NULL, "--rate-limit"},
    {{"--log-level", "loud"}, NULL, NULL, "--log-level"},
    {{"--listen", "nohost"}, NULL, NULL, "--listen"},
    {{"--public-url", "ftp://x"}, NULL, NULL, "--public-url"},
    {{"--allow-url", "not an address"}, NULL, NULL, "--allow-url"},
    {{"--test-converters=maybe"}, NULL, NULL, "--test-converters"},
    {{"--smtp-url", "http://relay.example"}, NULL, NULL, "--smtp-url"},
    {{"--smtp-from", "no address"}, NULL, NULL, "--smtp-from"},
    {{NULL}, "CONVERTD_SMTP_URL", "relay.example:25", "CONVERTD_SMTP_URL"},
    {{NULL}, "CONVERTD_SMTP_FROM", "a@b\r\nBcc: c@d", "CONVERTD_SMTP_FROM"},
    {{"--port-file"}, NULL, NULL, "--port-file needs a value"},
    {{"--no-such-flag", "1"}, NULL, NULL, "unknown flag --no-such-flag"},
    {{"--no-such-flag=1"}, NULL, NULL, "unknown flag --no-such-flag"},
    {{"stray"}, NULL, NULL, "unexpected argument \"stray\""},
    {{"-w", "2"}, NULL, NULL, "unexpected argument \"-w\""},
    {{NULL}, "CONVERTD_WORKERS", "many", "CONVERTD_WORKERS"},
    {{NULL}, "CONVERTD_ALLOW_PRIVATE_URLS", "maybe", "CONVERTD_ALLOW_PRIVATE_URLS"},
    {{NULL}, "CONVERTD_ALLOW_URL", "10.0.0.0/8,bogus", "CONVERTD_ALLOW_URL"},
    {{NULL}, "CONVERTD_CONFIG", "does-not-exist.conf", "does-not-exist.conf"},
    {{"--config", "missing.conf"}, NULL, NULL, "missing.conf"},
};

START_TEST(test_bad_values)
{
    struct config cfg;
    struct err err = ERR_INIT;

    if (bad_cases[_i].env_name != NULL)
        setenv(bad_cases[_i].env_name, bad_cases[_i].env_value, 1);
    ck_assert_msg(load_vec(&cfg, &err, bad_cases[_i].args) == -1, "case %d accepted", _i);
    ck_assert_int_eq(err.code, ERR_BADPARAM);
    ck_assert_msg(strstr(err.msg, bad_cases[_i].want) != NULL, "case %d: \"%s\" lacks \"%s\"", _i,
                  err.msg, bad_cases[_i].want);
    /* A failed load leaves nothing behind to free. */
    ck_assert_ptr_null(cfg.listen_host);
    ck_assert_ptr_null(cfg.log_level);
    ck_assert_ptr_null(cfg.allow);
}
END_TEST

static const struct {
    const char *value;
    const char *host; /* NULL: must be rejected */
    int port;
} listen_cases[] = {
    {"127.0.0.1:8080", "127.0.0.1", 8080},
    {"127.0.0.1:0", "127.0.0.1", 0},
    {"0.0.0.0:65535", "0.0.0.0", 65535},
    {"[::1]:8080", "::1", 8080},
    {"[::1]:0", "::1", 0},
    {"[::]:80", "::", 80},
    {"[fe80::1:2]:443", "fe80::1:2", 443},
    {"localhost:9000", "localhost", 9000},
    {"127.0.0.1", NULL, 0},
    {":8080", NULL, 0},
    {"127.0.0.1:", NULL, 0},
    {"127.0.0.1:65536", NULL, 0},
    {"127.0.0.1:-1", NULL, 0},
    {"127.0.0.1:80x", NULL, 0},
    {"127.0.0.1:123456", NULL, 0},
    {"::1:8080", NULL, 0},
    {"[::1]", NULL, 0},
    {"[::1]8080", NULL, 0},
    {"[::1:8080", NULL, 0},
    {"[nothex]:80", NULL, 0},
    {"[]:80", NULL, 0},
    {"a b:80", NULL, 0},
    {"host/x:80", NULL, 0},
    {"", NULL, 0},
};

START_TEST(test_listen)
{
    struct config cfg;
    struct err err = ERR_INIT;
    int rc = load(&cfg, &err, "--listen", listen_cases[_i].value, NULL);

    if (listen_cases[_i].host == NULL) {
        ck_assert_msg(rc == -1, "\"%s\" accepted", listen_cases[_i].value);
        ck_assert_ptr_nonnull(strstr(err.msg, "--listen"));
        return;
    }
    ck_assert_msg(rc == 0, "\"%s\": %s", listen_cases[_i].value, err.msg);
    ck_assert_str_eq(cfg.listen_host, listen_cases[_i].host);
    ck_assert_int_eq(cfg.listen_port, listen_cases[_i].port);
    config_fini(&cfg);
}
END_TEST

static const struct {
    const char *value;
    bool ok;
    const char *scheme; /* NULL: protocol-relative */
    const char *host;
} url_cases[] = {
    {"example.com", true, NULL, "example.com"},
    {"example.com:8443", true, NULL, "example.com:8443"},
    {"127.0.0.1:8080", true, NULL, "127.0.0.1:8080"},
    {"//example.com", true, NULL, "example.com"},
    {"http://example.com", true, "http", "example.com"},
    {"https://conv.example.com", true, "https", "conv.example.com"},
    {"HTTPS://Conv.Example.com:444", true, "https", "Conv.Example.com:444"},
    {"http://example.com/", true, "http", "example.com"},
    {"http://[::1]:8080", true, "http", "[::1]:8080"},
    {"[2001:db8::1]", true, NULL, "[2001:db8::1]"},
    {"", true, NULL, NULL},
    {"ftp://example.com", false, NULL, NULL},
    {"https://", false, NULL, NULL},
    {"http:/example.com", false, NULL, NULL},
    {"http://example.com/path", false, NULL, NULL},
    {"example.com/path", false, NULL, NULL},
    {"example.com?x=1", false, NULL, NULL},
    {"example.com#frag", false, NULL, NULL},
    {"user@example.com", false, NULL, NULL},
    {"http://user:pw@example.com", false, NULL, NULL},
    {"http://example.com:0", false, NULL, NULL},
    {"http://example.com:99999", false, NULL, NULL},
    {"http://example.com:", false, NULL, NULL},
    {"http://example.com:80:81", false, NULL, NULL},
    {"exa mple.com", false, NULL, NULL},
    {"[::1", false, NULL, NULL},
    {"::1", false, NULL, NULL},
    {"//", false, NULL, NULL},
};

START_TEST(test_public_url)
{
    struct config cfg;
    struct err err = ERR_INIT;
    int rc = load(&cfg, &err, "--public-url", url_cases[_i].value, NULL);

    if (!url_cases[_i].ok) {
        ck_assert_msg(rc == -1, "\"%s\" accepted", url_cases[_i].value);
        ck_assert_ptr_nonnull(strstr(err.msg, "--public-url"));
        return;
    }
    ck_assert_msg(rc == 0, "\"%s\": %s", url_cases[_i].value, err.msg);
    if (url_cases[_i].scheme == NULL)
        ck_assert_ptr_null(cfg.public_scheme);
    else
        ck_assert_str_eq(cfg.public_scheme, url_cases[_i].scheme);
    if (url_cases[_i].host == NULL)
        ck_assert_ptr_null(cfg.public_host);
    else
        ck_assert_str_eq(cfg.public_host, url_cases[_i].host);
    config_fini(&cfg);
}
END_TEST

static const struct {
    const char *value;
    bool ok;
} smtp_url_cases[] = {
    {"smtp://relay.example", true},
    {"smtp://relay.example:25", true},
    {"smtps://relay.example:465", true},
    {"SMTP://Relay.Example:587/", true},
    {"smtp://127.0.0.1:2525", true},
    {"smtp://[::1]:25", true},
    {"http://relay.example", false},
    {"smtpx://relay.example", false},
    {"relay.example:25", false},
    {"//relay.example", false},
    {"smtp://", false},
    {"smtp:///", false},
    {"smtp://:25", false},
    {"smtp://relay.example:0", false},
    {"smtp://relay.example:65536", false},
    {"smtp://relay.example:", false},
    {"smtp://relay.example/helo.name", false},
    {"smtp://user:Secret-Pw-42@relay.example", false},
    {"smtp://relay example", false},
    {"smtp://[::1", false},
};

START_TEST(test_smtp_url)
{
    struct config cfg;
    struct err err = ERR_INIT;
    int rc = load(&cfg, &err, "--smtp-url", smtp_url_cases[_i].value, NULL);

    if (!smtp_url_cases[_i].ok) {
        ck_assert_msg(rc == -1, "\"%s\" accepted", smtp_url_cases[_i].value);
        ck_assert_int_eq(err.code, ERR_BADPARAM);
        ck_assert_msg(strstr(err.msg, "--smtp-url") != NULL, "%s", err.msg);
        /* The value is not repeated: it may carry a password. */
        ck_assert_ptr_null(strstr(err.msg, "Secret-Pw-42"));
        ck_assert_ptr_null(cfg.smtp_url);
        return;
    }
    ck_assert_msg(rc == 0, "\"%s\": %s", smtp_url_cases[_i].value, err.msg);
    ck_assert_str_eq(cfg.smtp_url, smtp_url_cases[_i].value);
    config_fini(&cfg);
}
END_TEST

/* The base URLs of the Dropbox and Google Drive APIs: defaults, stand-ins, refusals. */
START_TEST(test_cloud_urls)
{
    struct config cfg;
    struct err err = ERR_INIT;

    ck_assert_int_eq(load(&cfg, &err, NULL), 0);
    ck_assert_str_eq(cfg.dropbox_content_url, "https://content.dropboxapi.com");
    ck_assert_str_eq(cfg.gdrive_api_url, "https://www.googleapis.com");
    config_fini(&cfg);
    ck_assert_msg(load(&cfg, &err, "--dropbox-content-url", "http://127.0.0.1:8099",
                       "--gdrive-api-url", "https://drive.internal:8443/", NULL) == 0,
                  "%s", err.msg);
    ck_assert_str_eq(cfg.dropbox_content_url, "http://127.0.0.1:8099");
    ck_assert_str_eq(cfg.gdrive_api_url, "https://drive.internal:8443/");
    config_fini(&cfg);
    static const char *const bad[] = {"ftp://x.example", "http://", "http://x.example/path",
                                      "x.example", "http://x.example:99999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err_clear(&err);
        ck_assert_msg(load(&cfg, &err, "--gdrive-api-url", bad[i], NULL) == -1, "%s accepted",
                      bad[i]);
        ck_assert_msg(strstr(err.msg, "--gdrive-api-url") != NULL, "%s", err.msg);
    }
}
END_TEST

/* The four SMTP settings from each source; an empty flag unsets the URL again. */
START_TEST(test_smtp_sources)
{
    struct config cfg;
    struct err err = ERR_INIT;
    char host[256] = "", want[300];

    ck_assert_msg(load(&cfg, &err, "--smtp-url", "smtps://flag.example:465", "--smtp-user", "u1",
                       "--smtp-password=p1", "--smtp-from", "robot@flag.example", NULL) == 0,
                  "%s", err.msg);
    ck_assert_str_eq(cfg.smtp_url, "smtps://flag.example:465");
    ck_assert_str_eq(cfg.smtp_user, "u1");
    ck_assert_str_eq(cfg.smtp_password, "p1");
    ck_assert_str_eq(cfg.smtp_from, "robot@flag.example");
    config_fini(&cfg);

    write_file("c.conf", "smtp-url = smtp://file.example:25\n"
                         "smtp_user = fileuser\n"
                         "smtp-password = \"pw with # and spaces\"\n"
                         "smtp-from = files@file.example\n");
    setenv("CONVERTD_SMTP_USER", "envuser", 1);
    setenv("CONVERTD_SMTP_PASSWORD", "env-pw", 1);
    ck_assert_msg(load(&cfg, &err, "--config", "c.conf", NULL) == 0, "%s", err.msg);
    ck_assert_str_eq(cfg.smtp_url, "smtp://file.example:25");
    ck_assert_str_eq(cfg.smtp_user, "envuser");
    ck_assert_str_eq(cfg.smtp_password, "env-pw");
    ck_assert_str_eq(cfg.smtp_from, "files@file.example");
    config_fini(&cfg);

    unsetenv("CONVERTD_SMTP_PASSWORD");
    ck_assert_msg(load(&cfg, &err, "--config", "c.conf", "--smtp-url=", NULL) == 0, "%s", err.msg);
    ck_assert_ptr_null(cfg.smtp_url);
    ck_assert_str_eq(cfg.smtp_password, "pw with # and spaces");
    config_fini(&cfg);

    /* Without --smtp-from: convertd@ and the host name. */
    setenv("CONVERTD_SMTP_URL", "smtp://env.example", 1);
    ck_assert_msg(load(&cfg, &err, NULL) == 0, "%s", err.msg);
    ck_assert_str_eq(cfg.smtp_url, "smtp://env.example");
    ck_assert_int_eq(gethostname(host, sizeof host - 1), 0);
    snprintf(want, sizeof want, "convertd@%s", host[0] != '\0' ? host : "localhost");
    ck_assert_str_eq(cfg.smtp_from, want);
    config_fini(&cfg);
}
END_TEST

/* The password has no default, so the usage never shows one; nor does any error. */
START_TEST(test_smtp_password_not_shown)
{
    struct config cfg;
    struct err err = ERR_INIT;

    ck_assert_ptr_null(strstr(config_usage(), "Pw-Never-Shown"));
    setenv("CONVERTD_SMTP_PASSWORD", "Pw-Never-Shown", 1);
    ck_assert_int_eq(load(&cfg, &err, "--smtp-url", "smtp://x.example/path", NULL), -1);
    ck_assert_ptr_null(strstr(err.msg, "Pw-Never-Shown"));
    ck_assert_ptr_null(strstr(config_usage(), "Pw-Never-Shown"));
}
END_TEST

START_TEST(test_sizes)
{
    static const struct {
        const char *value;
        int64_t want;
    } cases[] = {
        {"100", 100},
        {"1k", 1024},
        {"1K", 1024},
        {"512M", 512 << 20},
        {"512MiB", 512 << 20},
        {"3G", (int64_t)3 << 30},
        {"2gb", (int64_t)2 << 30},
        {"1T", (int64_t)1 << 40},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct config cfg;
        struct err err = ERR_INIT;
        ck_assert_msg(load(&cfg, &err, "--max-upload-bytes", cases[i].value, NULL) == 0, "%s",
                      err.msg);
        ck_assert_int_eq(cfg.max_upload_bytes, cases[i].want);
        config_fini(&cfg);
    }
}
END_TEST

START_TEST(test_file_syntax)
{
    struct config cfg;
    struct err err = ERR_INIT;

    write_file("convertd.conf", "# convertd example\n"
                                "\n"
                                "   # indented comment\n"
                                "listen = [::1]:0\r\n"
                                "workers=3\n"
                                "  max_queue   =   12   # underscores work too\n"
                                "public-url = \"https://x.example\"  # quoted\n"
                                "port-file = \"a # b\"\n"
                                "data-dir = files/data\n"
                                "callback-retry-delay = 0\n"
                                "allow-url = 10.0.0.0/8\n"
                                "allow-url = 192.168.1.5:8080, fd00::/8\n"
                                "\t\n");
    ck_assert_msg(load(&cfg, &err, "--config", "convertd.conf", NULL) == 0, "%s", err.msg);
    ck_assert_str_eq(cfg.listen_host, "::1");
    ck_assert_int_eq(cfg.listen_port, 0);
    ck_assert_int_eq(cfg.workers, 3);
    ck_assert_int_eq(cfg.max_queue, 12);
    ck_assert_str_eq(cfg.public_scheme, "https");
    ck_assert_str_eq(cfg.public_host, "x.example");
    ck_assert_str_eq(cfg.port_file, "a # b");
    ck_assert_int_eq(cfg.callback_retry_delay, 0);
    ck_assert_ptr_nonnull(strstr(cfg.data_dir, "/files/data"));
    ck_assert(cfg.data_dir[0] == '/');
    ck_assert(access(cfg.data_dir, W_OK) == 0);
    /* File lines of a list accumulate. */
    ck_assert(allowed(&cfg, "10.9.8.7", 1));
    ck_assert(allowed(&cfg, "192.168.1.5", 8080));
    ck_assert(!allowed(&cfg, "192.168.1.5", 8081));
    ck_assert(allowed(&cfg, "fd00::5", 80));
    ck_assert(!allowed(&cfg, "172.16.0.1", 80));
    config_fini(&cfg);
}
END_TEST

static const struct {
    const char *text;
    const char *want; /* substring of the error */
} file_error_cases[] = {
    {"workers = 2\n# ok\nno-such-thing = 1\n", "bad.conf:3: unknown setting \"no-such-thing\""},
    {"\n\nworkers 2\n", "bad.conf:3: expected `name = value`"},
    {"workers = 2\nworkers = two\n", "bad.conf:2: workers"},
    {"config = other.conf\n", "bad.conf:1: unknown setting \"config\""},
    {"key = abcdefgh\n", "bad.conf:1: unknown setting \"key\""},
    {"public-url = \"https://x\n", "bad.conf:1: public-url"},
    {"public-url = \"https://x\" trailing\n", "bad.conf:1: public-url"},
    {"listen = 1.2.3.4\n", "bad.conf:1: listen"},
    {"smtp-url = smtp://relay.example/path\n", "bad.conf:1: smtp-url"},
    {" = 4\n", "bad.conf:1: unknown setting \"\""},
};

START_TEST(test_file_errors)
{
    struct config cfg;
    struct err err = ERR_INIT;

    write_file("bad.conf", file_error_cases[_i].text);
    ck_assert_int_eq(load(&cfg, &err, "--config", "bad.conf", NULL), -1);
    ck_assert_int_eq(err.code, ERR_BADPARAM);
    ck_assert_msg(strstr(err.msg, file_error_cases[_i].want) != NULL, "\"%s\" lacks \"%s\"",
                  err.msg, file_error_cases[_i].want);
}
END_TEST

START_TEST(test_allow_url)
{
    struct config cfg;
    struct err err = ERR_INIT;

    ck_assert_msg(load(&cfg, &err, "--allow-url", "10.0.0.0/8", "--allow-url=[::1]:9000", NULL) ==
                      0,
                  "%s", err.msg);
    ck_assert(allowed(&cfg, "10.1.2.3", 80));
    ck_assert(allowed(&cfg, "::1", 9000));
    ck_assert(!allowed(&cfg, "::1", 9001));
    ck_assert(!allowed(&cfg, "192.168.0.1", 80));
    config_fini(&cfg);

    /* Comma-separated in the environment. */
    setenv("CONVERTD_ALLOW_URL", "172.16.0.0/12, 127.0.0.1:5000", 1);
    ck_assert_msg(load(&cfg, &err, NULL) == 0, "%s", err.msg);
    ck_assert(allowed(&cfg, "172.20.0.1", 1));
    ck_assert(allowed(&cfg, "127.0.0.1", 5000));
    ck_assert(!allowed(&cfg, "127.0.0.1", 5001));
    config_fini(&cfg);

    /* Flags replace the environment's list rather than adding to it. */
    ck_assert_msg(load(&cfg, &err, "--allow-url", "10.0.0.0/8", NULL) == 0, "%s", err.msg);
    ck_assert(allowed(&cfg, "10.0.0.1", 1));
    ck_assert(!allowed(&cfg, "172.20.0.1", 1));
    config_fini(&cfg);
}
END_TEST

START_TEST(test_subcommand_args)
{
    struct config cfg;
    struct err err = ERR_INIT;

    /* Command line only: an API key in the environment never becomes --key. */
    setenv("CONVERTD_KEY", "from-the-environment", 1);
    setenv("CONVERTD_EMAIL", "env@example.com", 1);
    ck_assert_int_eq(load(&cfg, &err, NULL), 0);
    ck_assert_ptr_null(cfg.key);
    ck_assert_ptr_null(cfg.email);
    config_fini(&cfg);

    ck_assert_msg(load(&cfg, &err, "--key", "abcdefgh12", "--email=a@b.c", "--id", "p1",
                       "--options", "{\"quality\": 50}", NULL) == 0,
                  "%s", err.msg);
    ck_assert_str_eq(cfg.key, "abcdefgh12");
    ck_assert_str_eq(cfg.email, "a@b.c");
    ck_assert_str_eq(cfg.id, "p1");
    ck_assert_str_eq(cfg.options, "{\"quality\": 50}");
    config_fini(&cfg);
}
END_TEST

START_TEST(test_data_dir)
{
    struct config cfg;
    struct err err = ERR_INIT;
    char want[PATH_MAX + 16];

    /* Relative, with parents to create and a dot segment to resolve. */
    ck_assert_msg(load(&cfg, &err, "--data-dir", "./a/b/../c", NULL) == 0, "%s", err.msg);
    snprintf(want, sizeof want, "%s/a/c", tmpdir);
    ck_assert_str_eq(cfg.data_dir, want);
    ck_assert(access(want, W_OK) == 0);
    config_fini(&cfg);

    setenv("CONVERTD_DATA_DIR", "envdir", 1);
    ck_assert_int_eq(load(&cfg, &err, NULL), 0);
    snprintf(want, sizeof want, "%s/envdir", tmpdir);
    ck_assert_str_eq(cfg.data_dir, want);
    config_fini(&cfg);

    ck_assert_int_eq(load(&cfg, &err, "--data-dir", "", NULL), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "--data-dir"));

    /* A file where the folder should be. */
    write_file("plain", "x");
    err_clear(&err);
    ck_assert_int_eq(load(&cfg, &err, "--data-dir", "plain/sub", NULL), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "--data-dir"));
}
END_TEST

START_TEST(test_usage)
{
    static const char *const names[] = {
        "--listen HOST:PORT",
        "--port-file",
        "--public-url",
        "--data-dir",
        "--workers",
        "--max-upload-bytes",
        "--max-body-bytes",
        "--max-queue",
        "--default-timeout",
        "--upload-timeout",
        "--expire-seconds",
        "--callback-retry-delay",
        "--allow-private-urls",
        "--allow-url",
        "--test-converters",
        "--max-pixels",
        "--max-side",
        "--max-pages",
        "--worker-memory",
        "--max-output-bytes",
        "--http-threads",
        "--connection-limit",
        "--connection-timeout",
        "--rate-limit",
        "--log-level",
        "--smtp-url smtp[s]://HOST[:PORT]",
        "--smtp-user",
        "--smtp-password",
        "--smtp-from",
        "--config",
        "--email",
        "--key",
        "--id",
        "--options",
        "[127.0.0.1:8080]",
        "[10G]",
        "[100M]",
        "[86400]",
        "[./var]",
        "CONVERTD_",
    };
    const char *u = config_usage();

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        ck_assert_msg(strstr(u, names[i]) != NULL, "usage lacks %s", names[i]);
    ck_assert_ptr_eq(config_usage(), u);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc;

    tc = tcase_create("load");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_defaults);
    tcase_add_loop_test(tc, test_precedence, 0,
                        sizeof precedence_cases / sizeof precedence_cases[0]);
    tcase_add_test(tc, test_precedence_kinds);
    tcase_add_loop_test(tc, test_bool_forms, 0, sizeof bool_cases / sizeof bool_cases[0]);
    tcase_add_test(tc, test_bool_bare_takes_no_value);
    tcase_add_loop_test(tc, test_bad_values, 0, sizeof bad_cases / sizeof bad_cases[0]);
    tcase_add_test(tc, test_sizes);
    tcase_add_test(tc, test_subcommand_args);
    tcase_add_test(tc, test_data_dir);
    suite_add_tcase(s, tc);

    tc = tcase_create("listen");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_listen, 0, sizeof listen_cases / sizeof listen_cases[0]);
    suite_add_tcase(s, tc);

    tc = tcase_create("public_url");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_public_url, 0, sizeof url_cases / sizeof url_cases[0]);
    suite_add_tcase(s, tc);

    tc = tcase_create("smtp");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_smtp_url, 0, sizeof smtp_url_cases / sizeof smtp_url_cases[0]);
    tcase_add_test(tc, test_cloud_urls);
    tcase_add_test(tc, test_smtp_sources);
    tcase_add_test(tc, test_smtp_password_not_shown);
    suite_add_tcase(s, tc);

    tc = tcase_create("file");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_file_syntax);
    tcase_add_loop_test(tc, test_file_errors, 0,
                        sizeof file_error_cases / sizeof file_error_cases[0]);
    suite_add_tcase(s, tc);

    tc = tcase_create("allow_url");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_allow_url);
    suite_add_tcase(s, tc);

    tc = tcase_create("usage");
    tcase_add_test(tc, test_usage);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
