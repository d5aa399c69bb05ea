/* SPDX-License-Identifier: MIT */
/* config.c - the flag table, and flags + environment + config file -> struct config. */
#include "server/config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fsx.h"
#include "common/mem.h"
#include "storage/addr.h"

const struct config *g_config;

enum cfg_type {
    CFG_STRING, /* char *; "" means NULL unless choices are given */
    CFG_INT,    /* int within [min, max] */
    CFG_INT64,  /* int64_t within [min, max] */
    CFG_SIZE,   /* int64_t bytes within [min, max]; K/M/G/T suffixes (powers of 1024) */
    CFG_BOOL,   /* bool: bare flag, or true/false/1/0/yes/no/on/off */
    CFG_LIST,   /* --allow-url entries: repeatable, comma-separated */
    CFG_LISTEN, /* HOST:PORT -> listen_host + listen_port */
    CFG_URL,    /* [SCHEME://]HOST[:PORT] -> public_scheme + public_host */
    CFG_SMTP,   /* char *; smtp[s]://HOST[:PORT], "" means NULL */
    CFG_BASE,   /* char *; http[s]://HOST[:PORT], the base of a service's API */
    CFG_EMAIL,  /* char *; one plain address LOCAL@DOMAIN, "" means NULL */
};

/* Where a setting may come from. The subcommand arguments (--key, --options, ...) are
 * command-line only: a CONVERTD_KEY in the environment (a test harness might well hold an
 * API key there) must never turn into a `keys add --key`. */
enum {
    FROM_FLAG = 1 << 0,
    FROM_ENV = 1 << 1,
    FROM_FILE = 1 << 2,
    FROM_ALL = FROM_FLAG | FROM_ENV | FROM_FILE,
};

/* Precedence order: a setting from a higher source replaces one from a lower source. */
enum source { SRC_NONE, SRC_DEFAULT, SRC_FILE, SRC_ENV, SRC_FLAG };

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};

struct flag {
    const char *name; /* without "--" */
    enum cfg_type type;
    size_t offset;       /* into struct config */
    const char *def;     /* default as text, parsed like any value; NULL = none */
    const char *metavar; /* shown in the usage; NULL for booleans */
    const char *help;
    int64_t min, max; /* numbers only */
    const char *const *choices;
    unsigned from;
};

#define OFF(field) offsetof(struct config, field)
#define KiB        ((int64_t)1024)
#define MiB        (KiB * 1024)
#define GiB        (MiB * 1024)
#define TiB        (GiB * 1024)
#define DAY        (24 * 3600)

static const struct flag flags[] = {
    {"listen", CFG_LISTEN, OFF(listen_host), "127.0.0.1:8080", "HOST:PORT",
     "address to listen on; port 0 picks a free one; IPv6 as [::1]:8080", 0, 0, NULL, FROM_ALL},
    {"port-file", CFG_STRING, OFF(port_file), NULL, "FILE", "write the bound port to FILE", 0, 0,
     NULL, FROM_ALL},
    {"public-url", CFG_URL, OFF(public_host), NULL, "[SCHEME://]HOST[:PORT]",
     "host of the URLs we return; with a scheme they are absolute, without it protocol-relative "
     "(default: the request's Host header)",
     0, 0, NULL, FROM_ALL},
    {"data-dir", CFG_STRING, OFF(data_dir), "./var", "DIR",
     "database, uploads and outputs (created if missing)", 0, 0, NULL, FROM_ALL},
    {"workers", CFG_INT, OFF(workers), NULL, "N",
     "conversion worker processes (default: number of cores)", 1, 1024, NULL, FROM_ALL},
    {"max-upload-bytes", CFG_SIZE, OFF(max_upload_bytes), "10G", "BYTES",
     "largest upload (K/M/G/T suffixes allowed)", 1, 1024 * TiB, NULL, FROM_ALL},
    {"max-body-bytes", CFG_SIZE, OFF(max_body_bytes), "100M", "BYTES",
     "largest JSON/form/multipart request body", 1, 64 * GiB, NULL, FROM_ALL},
    {"max-queue", CFG_INT, OFF(max_queue), "1000", "N",
     "jobs waiting for a worker before new ones get 503", 1, 10000000, NULL, FROM_ALL},
    {"default-timeout", CFG_INT, OFF(default_timeout), "600", "SECONDS",
     "conversion time limit when a request sets none (\"maxtime\")", 1, 30 * DAY, NULL, FROM_ALL},
    {"upload-timeout", CFG_INT, OFF(upload_timeout), "3600", "SECONDS",
     "how long a process waits for its upload", 1, 30 * DAY, NULL, FROM_ALL},
    {"expire-seconds", CFG_INT64, OFF(expire_seconds), "86400", "SECONDS",
     "how long processes and their outputs are kept", 1, 3650 * (int64_t)DAY, NULL, FROM_ALL},
    {"callback-retry-delay", CFG_INT, OFF(callback_retry_delay), "5", "SECONDS",
     "pause between callback attempts", 0, DAY, NULL, FROM_ALL},
    {"allow-private-urls", CFG_BOOL, OFF(allow_private_urls), "false", NULL,
     "let downloads, callbacks, web pages and storage transfers reach private, loopback and "
     "link-local addresses",
     0, 0, NULL, FROM_ALL},
    {"allow-url", CFG_LIST, OFF(allow), NULL, "CIDR|HOST:PORT",
     "let downloads, callbacks, web pages and storage transfers reach this range or address "
     "(repeatable)",
     0, 0, NULL, FROM_ALL},
    {"test-converters", CFG_BOOL, OFF(test_converters), "false", NULL,
     "register the deterministic test converter (tests only)", 0, 0, NULL, FROM_ALL},
    {"max-pixels", CFG_INT64, OFF(max_pixels), "100000000", "N",
     "largest image (width x height) a converter decodes", 1, (int64_t)1 << 40, NULL, FROM_ALL},
    {"max-side", CFG_INT, OFF(max_side), "32768", "N", "largest image width or height", 1, 1 << 20,
     NULL, FROM_ALL},
    {"max-pages", CFG_INT, OFF(max_pages), "1000", "N", "most pages or frames read from an input",
     1, 1000000, NULL, FROM_ALL},
    {"worker-memory", CFG_SIZE, OFF(worker_mem_bytes), "2G", "BYTES",
     "address-space limit of each worker process", 64 * MiB, 1024 * TiB, NULL, FROM_ALL},
    {"max-output-bytes", CFG_SIZE, OFF(max_output_bytes), "4G", "BYTES",
     "largest file one conversion may write", 1, 1024 * TiB, NULL, FROM_ALL},
    {"http-threads", CFG_INT, OFF(http_threads), "4", "N", "HTTP thread pool size", 1, 1024, NULL,
     FROM_ALL},
    {"connection-limit", CFG_INT, OFF(connection_limit), "1024", "N",
     "most simultaneous HTTP connections", 1, 1000000, NULL, FROM_ALL},
    {"connection-timeout", CFG_INT, OFF(connection_timeout), "30", "SECONDS",
     "idle HTTP connection timeout", 1, DAY, NULL, FROM_ALL},
    {"rate-limit", CFG_INT, OFF(rate_limit), "0", "N",
     "requests per minute per API key, 0 = no limit", 0, 100000000, NULL, FROM_ALL},
    {"smtp-url", CFG_SMTP, OFF(smtp_url), NULL, "smtp[s]://HOST[:PORT]",
     "SMTP relay for email=true notifications (STARTTLS when offered; smtps: TLS from the start); "
     "unset: none are sent",
     0, 0, NULL, FROM_ALL},
    {"smtp-user", CFG_STRING, OFF(smtp_user), NULL, "USER", "log in to the relay as USER", 0, 0,
     NULL, FROM_ALL},
    /* A flag shows in ps: the help points to the safer places. */
    {"smtp-password", CFG_STRING, OFF(smtp_password), NULL, "PASSWORD",
     "password of --smtp-user (better in the environment or the config file)", 0, 0, NULL,
     FROM_ALL},
    {"smtp-from", CFG_EMAIL, OFF(smtp_from), NULL, "ADDRESS",
     "sender of notifications (default: convertd@ and this host's name)", 0, 0, NULL, FROM_ALL},
    {"dropbox-content-url", CFG_BASE, OFF(dropbox_content_url), "https://content.dropboxapi.com",
     "http[s]://HOST[:PORT]", "Dropbox's content API (output dropbox uploads go there)", 0, 0, NULL,
     FROM_ALL},
    {"gdrive-api-url", CFG_BASE, OFF(gdrive_api_url), "https://www.googleapis.com",
     "http[s]://HOST[:PORT]", "Google Drive's API (output googledrive uploads go there)", 0, 0,
     NULL, FROM_ALL},
    {"log-level", CFG_STRING, OFF(log_level), "info", "LEVEL", "debug, info, warn or error", 0, 0,
     log_levels, FROM_ALL},
    /* A config file naming another config file would be a loop to define; not allowed. */
    {"config", CFG_STRING, OFF(config_file), NULL, "FILE",
     "read `name = value` lines from FILE (flag > environment > file)", 0, 0, NULL,
     FROM_FLAG | FROM_ENV},
    {"email", CFG_STRING, OFF(email), NULL, "E", "keys add: the key owner's e-mail address", 0, 0,
     NULL, FROM_FLAG},
    {"key", CFG_STRING, OFF(key), NULL, "K", "keys add: store this key; presets add: its key", 0, 0,
     NULL, FROM_FLAG},
    {"id", CFG_STRING, OFF(id), NULL, "ID", "presets add: the preset name", 0, 0, NULL, FROM_FLAG},
    {"options", CFG_STRING, OFF(options), NULL, "JSON",
     "presets add: converteroptions as a JSON object", 0, 0, NULL, FROM_FLAG},
};

#define N_FLAGS (sizeof flags / sizeof flags[0])

struct loader {
    struct config *cfg;
    enum source src[N_FLAGS]; /* the source that last set each entry */
};

static const struct flag *flag_find(const char *name, size_t len)
{
    for (size_t i = 0; i < N_FLAGS; i++) {
        const char *n = flags[i].name;
        size_t j;
        if (strlen(n) != len)
            continue;
        /* Config files and habits from other tools write max_queue as often as max-queue. */
        for (j = 0; j < len; j++) {
            char c = name[j] == '_' ? '-' : name[j];
            if (c != n[j])
                break;
        }
        if (j == len)
            return &flags[i];
    }
    return NULL;
}

static void *field(struct config *cfg, const struct flag *f)
{
    return (char *)cfg + f->offset;
}

static void set_string(char **dst, const char *v)
{
    free(*dst);
    *dst = v != NULL ? xstrdup(v) : NULL;
}

static bool parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};

    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* Decimal integer, optionally with a K/M/G/T suffix (KiB...; "10G", "10GiB", "10gb"). strtoll
 * alone would also take leading blanks, a '+' and hex-looking input. */
static bool parse_number(const char *v, bool suffixes, int64_t *out)
{
    char *end;
    long long n;
    int64_t mult = 1;

    if (!isdigit((unsigned char)v[0]) && !(v[0] == '-' && isdigit((unsigned char)v[1])))
        return false;
    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno != 0)
        return false;
    if (*end != '\0' && suffixes) {
        switch (tolower((unsigned char)*end)) {
        case 'k':
            mult = KiB;
            break;
        case 'm':
            mult = MiB;
            break;
        case 'g':
            mult = GiB;
            break;
        case 't':
            mult = TiB;
            break;
        default:
            return false;
        }
        end++;
        if (strcasecmp(end, "ib") == 0 || strcasecmp(end, "b") == 0)
            end += strlen(end);
    }
    if (*end != '\0')
        return false;
    if (n > INT64_MAX / mult || n < INT64_MIN / mult)
        return false;
    *out = (int64_t)n * mult;
    return true;
}

static bool is_host_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '.';
}

/* HOST (a name or IPv4 literal) or [IPv6]. host_out gets the name without brackets. */
static bool parse_host(const char *s, size_t len, char **host_out)
{
    if (len == 0)
        return false;
    if (s[0] == '[') {
        struct in6_addr a6;
        char tmp[INET6_ADDRSTRLEN + 1];
        if (len < 3 || s[len - 1] != ']' || len - 2 > INET6_ADDRSTRLEN)
            return false;
        memcpy(tmp, s + 1, len - 2);
        tmp[len - 2] = '\0';
        if (inet_pton(AF_INET6, tmp, &a6) != 1)
            return false;
        *host_out = xstrdup(tmp);
        return true;
    }
    for (size_t i = 0; i < len; i++)
        if (!is_host_char(s[i]))
            return false;
    if (s[0] == '-' || s[0] == '.')
        return false;
    *host_out = xstrndup(s, len);
    return true;
}

/* PORT: 1 to 5 digits, at most 65535; min is 0 for --listen, 1 for --public-url. */
static bool parse_port(const char *s, int min, int *port)
{
    int n = 0;
    size_t len = strlen(s);

    if (len == 0 || len > 5)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        n = n * 10 + (s[i] - '0');
    }
    if (n < min || n > 65535)
        return false;
    *port = n;
    return true;
}

/* HOST:PORT, [V6]:PORT. The colon that separates the port is the last one; an unbracketed
 * host with a colon in it is an IPv6 address without brackets, which we refuse rather than
 * guess where the address ends. */
static bool parse_listen(const char *v, char **host, int *port)
{
    const char *colon = strrchr(v, ':');
    char *h = NULL;

    if (colon == NULL || !parse_port(colon + 1, 0, port))
        return false;
    if (v[0] != '[' && memchr(v, ':', (size_t)(colon - v)) != NULL)
        return false;
    if (!parse_host(v, (size_t)(colon - v), &h))
        return false;
    free(*host);
    *host = h;
    return true;
}

/* HOST[:PORT] of len bytes at auth, HOST a name, an IPv4 literal or [IPv6], PORT 1-65535. */
static bool parse_authority(const char *auth, size_t len)
{
    /* The port's colon follows the host (after the brackets of an IPv6 literal). */
    const char *close = auth[0] == '[' ? memchr(auth, ']', len) : NULL;
    const char *from = close != NULL ? close : auth;
    const char *colon = memchr(from, ':', len - (size_t)(from - auth));
    size_t hlen = colon != NULL ? (size_t)(colon - auth) : len;
    char *h = NULL;
    int port;

    if (auth[0] == '[' && close == NULL)
        return false;
    if (!parse_host(auth, hlen, &h))
        return false;
    free(h);
    if (colon != NULL) {
        char pbuf[8];
        size_t plen = len - hlen - 1;
        if (plen == 0 || plen >= sizeof pbuf)
            return false;
        memcpy(pbuf, colon + 1, plen);
        pbuf[plen] = '\0';
        if (!parse_port(pbuf, 1, &port))
            return false;
    }
    return true;
}

/* [SCHEME://]HOST[:PORT]. spec "Conventions": HOST (and the scheme, when given) go into every
 * URL we return, so anything that is not exactly an authority is refused: a path, query,
 * user info or blank would end up inside those URLs. A lone trailing '/' is the same URL
 * and is dropped. */
static bool parse_public_url(const char *v, char **scheme_out, char **host_out)
{
    const char *sep = strstr(v, "://");
    const char *auth = v;
    char *scheme = NULL;
    size_t len;
    bool ok = false;

    if (*v == '\0') {
        set_string(scheme_out, NULL);
        set_string(host_out, NULL);
        return true;
    }
    if (sep != NULL) {
        if ((size_t)(sep - v) == 4 && strncasecmp(v, "http", 4) == 0)
            scheme = xstrdup("http");
        else if ((size_t)(sep - v) == 5 && strncasecmp(v, "https", 5) == 0)
            scheme = xstrdup("https");
        else
            goto out;
        auth = sep + 3;
    } else if (strncmp(v, "//", 2) == 0) {
        auth = v + 2; /* already protocol-relative */
    }
    len = strlen(auth);
    if (len > 0 && auth[len - 1] == '/')
        len--;
    if (len == 0 || len > 255 || !parse_authority(auth, len))
        goto out;
    free(*scheme_out);
    *scheme_out = scheme;
    scheme = NULL;
    free(*host_out);
    *host_out = xstrndup(auth, len);
    ok = true;
out:
    free(scheme);
    return ok;
}

/* SCHEME://HOST[:PORT] or SCHEMEs://HOST[:PORT] (scheme "smtp" or "http"), a lone trailing '/'
 * allowed. No user info: credentials have flags of their own, which keeps them out of anything
 * that shows the URL. */
static bool check_base(const char *v, const char *scheme)
{
    size_t n = strlen(scheme);
    const char *auth;
    size_t len;

    if (strncasecmp(v, scheme, n) != 0)
        return false;
    auth = v + n;
    if (*auth == 's' || *auth == 'S')
        auth++;
    if (strncmp(auth, "://", 3) != 0)
        return false;
    auth += 3;
    len = strlen(auth);
    if (len > 0 && auth[len - 1] == '/')
        len--;
    return len > 0 && len <= 255 && parse_authority(auth, len);
}

/* One plain address LOCAL@DOMAIN, as mail_send() takes it: no display name, no blanks, nothing
 * an SMTP command or a header would read as syntax. */
static bool check_address(const char *v)
{
    const char *at = strrchr(v, '@');

    if (at == NULL || at == v || at[1] == '\0' || strlen(v) > 254)
        return false;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p <= 0x20 || *p == 0x7f || strchr("<>,;\"()[]\\", *p) != NULL)
            return false;
    return true;
}

/* Apply one value from source src. `where` names the setting for messages: "--workers",
 * "CONVERTD_WORKERS" or "FILE:LINE: workers". A higher source replaces a lower one; within
 * one source the last value wins, except that list entries accumulate. */
static int set_value(struct loader *ld, const struct flag *f, const char *v, enum source src,
                     const char *where, struct err *err)
{
    struct config *cfg = ld->cfg;
    size_t idx = (size_t)(f - flags);
    void *p = field(cfg, f);
    int64_t n;

    if (src < ld->src[idx])
        return 0;
    switch (f->type) {
    case CFG_STRING:
        if (f->choices != NULL) {
            size_t i;
            for (i = 0; f->choices[i] != NULL; i++)
                if (strcasecmp(v, f->choices[i]) == 0)
                    break;
            if (f->choices[i] == NULL)
                return err_set(err, ERR_BADPARAM, "%s: unknown value \"%.64s\"", where, v);
            set_string(p, f->choices[i]);
        } else {
            set_string(p, *v != '\0' ? v : NULL);
        }
        break;
    case CFG_SMTP:
    case CFG_EMAIL:
        /* The value is not repeated: a URL may carry user info with a password in it. */
        if (*v != '\0' && !(f->type == CFG_SMTP ? check_base(v, "smtp") : check_address(v)))
            return err_set(err, ERR_BADPARAM, "%s: want %s", where, f->metavar);
        set_string(p, *v != '\0' ? v : NULL);
        break;
    case CFG_BASE:
        if (!check_base(v, "http"))
            return err_set(err, ERR_BADPARAM, "%s: want %s", where, f->metavar);
        set_string(p, v);
        break;
    case CFG_INT:
    case CFG_INT64:
    case CFG_SIZE:
        if (!parse_number(v, f->type == CFG_SIZE, &n) || n < f->min || n > f->max)
            return err_set(err, ERR_BADPARAM, "%s: want %s from %lld to %lld, got \"%.64s\"", where,
                           f->type == CFG_SIZE ? "a byte count" : "a whole number",
                           (long long)f->min, (long long)f->max, v);
        if (f->type == CFG_INT)
            *(int *)p = (int)n;
        else
            *(int64_t *)p = n;
        break;
    case CFG_BOOL:
        if (!parse_bool(v, p))
            return err_set(err, ERR_BADPARAM, "%s: want true or false, got \"%.64s\"", where, v);
        break;
    case CFG_LIST: {
        struct addr_allow **list = p;
        char *copy = xstrdup(v), *item = copy;
        int rc = 0;

        if (ld->src[idx] < src) {
            addr_allow_free(*list);
            *list = NULL;
        }
        /* Entries never contain commas, so commas separate them wherever they come from. */
        while (item != NULL && rc == 0) {
            char *comma = strchr(item, ',');
            char *end;
            if (comma != NULL)
                *comma = '\0';
            while (isspace((unsigned char)*item))
                item++;
            end = item + strlen(item);
            while (end > item && isspace((unsigned char)end[-1]))
                *--end = '\0';
            if (*item != '\0') {
                struct err e = ERR_INIT;
                if (addr_allow_add(list, item, &e) != 0)
                    rc = err_set(err, ERR_BADPARAM, "%s: %s", where, e.msg);
            }
            item = comma != NULL ? comma + 1 : NULL;
        }
        free(copy);
        if (rc != 0)
            return rc;
        break;
    }
    case CFG_LISTEN:
        if (!parse_listen(v, &cfg->listen_host, &cfg->listen_port))
            return err_set(err, ERR_BADPARAM,
                           "%s: want HOST:PORT (IPv6 as [::1]:8080), got \"%.64s\"", where, v);
        break;
    case CFG_URL:
        if (!parse_public_url(v, &cfg->public_scheme, &cfg->public_host))
            return err_set(err, ERR_BADPARAM,
                           "%s: want [http[s]://]HOST[:PORT] without a path, got \"%.64s\"", where,
                           v);
        break;
    }
    ld->src[idx] = src;
    return 0;
}

static void apply_defaults(struct loader *ld)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);

    for (size_t i = 0; i < N_FLAGS; i++) {
        struct err e = ERR_INIT;
        if (flags[i].def == NULL)
            continue;
        /* The defaults go through the same parser: a default it rejects is a bug here. */
        if (set_value(ld, &flags[i], flags[i].def, SRC_DEFAULT, "default", &e) != 0)
            assert(!"config default rejected by its own parser");
    }
    ld->cfg->workers = cores > 0 ? (cores < 1024 ? (int)cores : 1024) : 1;
}

/* Value part of a config file line: a "quoted" string, or text up to a '#' that follows a
 * blank (so `workers = 4  # per core` works and a '#' inside a value does not need quotes).
 * Modifies s in place; NULL when a quote is not closed or is followed by anything else. */
static char *file_value(char *s)
{
    char *end;

    if (*s == '"') {
        char *close = strchr(s + 1, '"');
        if (close == NULL)
            return NULL;
        *close = '\0';
        for (end = close + 1; isspace((unsigned char)*end); end++)
            ;
        if (*end != '\0' && *end != '#')
            return NULL;
        return s + 1;
    }
    for (end = s; *end != '\0'; end++) {
        if (*end == '#' && (end == s || isspace((unsigned char)end[-1]))) {
            *end = '\0';
            break;
        }
    }
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

static int load_file(struct loader *ld, const char *path, struct err *err)
{
    FILE *fp = NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int lineno = 0, rc = -1;

    fp = fopen(path, "re");
    if (fp == NULL)
        return err_set(err, ERR_BADPARAM, "--config: cannot read %.150s: %s", path,
                       strerror(errno));
    while ((got = getline(&line, &cap, fp)) >= 0) {
        char *s = line, *eq, *name_end, *value, where[200];
        const struct flag *f;

        lineno++;
        if ((size_t)got != strlen(line)) {
            err_set(err, ERR_BADPARAM, "%.150s:%d: NUL byte in line", path, lineno);
            goto out;
        }
        while (isspace((unsigned char)*s))
            s++;
        if (*s == '\0' || *s == '#')
            continue;
        eq = strchr(s, '=');
        if (eq == NULL) {
            err_set(err, ERR_BADPARAM, "%.150s:%d: expected `name = value`", path, lineno);
            goto out;
        }
        for (name_end = eq; name_end > s && isspace((unsigned char)name_end[-1]); name_end--)
            ;
        f = flag_find(s, (size_t)(name_end - s));
        if (f == NULL || !(f->from & FROM_FILE)) {
            err_set(err, ERR_BADPARAM, "%.150s:%d: unknown setting \"%.*s\"", path, lineno,
                    (int)(name_end - s > 64 ? 64 : name_end - s), s);
            goto out;
        }
        for (value = eq + 1; isspace((unsigned char)*value); value++)
            ;
        value = file_value(value);
        if (value == NULL) {
            err_set(err, ERR_BADPARAM, "%.150s:%d: %s: unterminated or trailing quote", path,
                    lineno, f->name);
            goto out;
        }
        snprintf(where, sizeof where, "%.150s:%d: %s", path, lineno, f->name);
        if (set_value(ld, f, value, SRC_FILE, where, err) != 0)
            goto out;
    }
    if (ferror(fp)) {
        err_set(err, ERR_BADPARAM, "%.150s: read error: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    free(line);
    fclose(fp);
    return rc;
}

static void env_name(const struct flag *f, char *out, size_t size)
{
    size_t n = (size_t)snprintf(out, size, "CONVERTD_%s", f->name);

    for (size_t i = 9; i < n && i < size; i++)
        out[i] = out[i] == '-' ? '_' : (char)toupper((unsigned char)out[i]);
}

static int load_env(struct loader *ld, struct err *err)
{
    for (size_t i = 0; i < N_FLAGS; i++) {
        char name[64];
        const char *v;

        if (!(flags[i].from & FROM_ENV))
            continue;
        env_name(&flags[i], name, sizeof name);
        v = getenv(name);
        /* An empty variable is how shells and compose files say "not set". */
        if (v == NULL || *v == '\0')
            continue;
        if (set_value(ld, &flags[i], v, SRC_ENV, name, err) != 0)
            return -1;
    }
    return 0;
}

/* One command-line setting, collected before anything is applied: the file to read comes
 * from --config, and flags must be applied after the file and the environment. */
struct arg {
    const struct flag *f;
    const char *value;
};

static int parse_args(int argc, char **argv, int first, struct arg *out, int *n_out,
                      struct err *err)
{
    int n = 0;

    for (int i = first; i < argc; i++) {
        const char *a = argv[i], *eq;
        const struct flag *f;
        size_t len;

        if (strncmp(a, "--", 2) != 0 || a[2] == '\0')
            return err_set(err, ERR_BADPARAM, "unexpected argument \"%.64s\"", a);
        eq = strchr(a + 2, '=');
        len = eq != NULL ? (size_t)(eq - a - 2) : strlen(a + 2);
        f = flag_find(a + 2, len);
        if (f == NULL || !(f->from & FROM_FLAG))
            return err_set(err, ERR_BADPARAM, "unknown flag --%.*s", (int)(len > 64 ? 64 : len),
                           a + 2);
        out[n].f = f;
        if (eq != NULL) {
            out[n].value = eq + 1;
        } else if (f->type == CFG_BOOL) {
            out[n].value = "true";
        } else {
            if (i + 1 >= argc)
                return err_set(err, ERR_BADPARAM, "--%s needs a value (%s)", f->name, f->metavar);
            out[n].value = argv[++i];
        }
        n++;
    }
    *n_out = n;
    return 0;
}

/* data_dir becomes absolute and canonical: the job directories, and the checks that a path
 * stays under them, all start from it. Creating it here lets every subcommand rely on it. */
static int finish_data_dir(struct config *cfg, struct err *err)
{
    struct err e = ERR_INIT;
    char *abs;

    if (cfg->data_dir == NULL)
        return err_set(err, ERR_BADPARAM, "--data-dir: must not be empty");
    if (fsx_mkdir_p(cfg->data_dir, &e) != 0)
        return err_set(err, ERR_BADPARAM, "--data-dir: %s", e.msg);
    abs = realpath(cfg->data_dir, NULL);
    if (abs == NULL)
        return err_set(err, ERR_BADPARAM, "--data-dir: %.150s: %s", cfg->data_dir, strerror(errno));
    free(cfg->data_dir);
    cfg->data_dir = abs;
    return 0;
}

/* The default sender: convertd@ and the host name when it is a plain DNS name. */
static void finish_smtp_from(struct config *cfg)
{
    char host[256] = "";
    size_t len;

    if (cfg->smtp_from != NULL)
        return;
    if (gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    host[sizeof host - 1] = '\0';
    len = strlen(host);
    for (size_t i = 0; i < len; i++)
        if (!is_host_char(host[i]))
            len = 0;
    if (len == 0 || host[0] == '-' || host[0] == '.')
        cfg->smtp_from = xstrdup("convertd@localhost");
    else
        cfg->smtp_from = xasprintf("convertd@%s", host);
}

int config_load(struct config *cfg, int argc, char **argv, int first, struct err *err)
{
    struct loader ld = {.cfg = cfg};
    struct arg *args = NULL;
    const char *file = NULL;
    int n_args = 0, rc = -1;

    memset(cfg, 0, sizeof *cfg);
    apply_defaults(&ld);
    args = xcalloc(argc > first ? (size_t)(argc - first) : 1, sizeof *args);
    if (parse_args(argc, argv, first, args, &n_args, err) != 0)
        goto out;

    for (int i = 0; i < n_args; i++)
        if (strcmp(args[i].f->name, "config") == 0)
            file = args[i].value;
    if (file == NULL)
        file = getenv("CONVERTD_CONFIG");
    if (file != NULL && *file != '\0' && load_file(&ld, file, err) != 0)
        goto out;
    if (load_env(&ld, err) != 0)
        goto out;
    for (int i = 0; i < n_args; i++) {
        char where[80];
        snprintf(where, sizeof where, "--%s", args[i].f->name);
        if (set_value(&ld, args[i].f, args[i].value, SRC_FLAG, where, err) != 0)
            goto out;
    }
    if (finish_data_dir(cfg, err) != 0)
        goto out;
    finish_smtp_from(cfg);
    rc = 0;
out:
    free(args);
    if (rc != 0)
        config_fini(cfg);
    return rc;
}

void config_fini(struct config *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->listen_host);
    free(cfg->port_file);
    free(cfg->public_scheme);
    free(cfg->public_host);
    free(cfg->data_dir);
    addr_allow_free(cfg->allow);
    free(cfg->dropbox_content_url);
    free(cfg->gdrive_api_url);
    free(cfg->smtp_url);
    free(cfg->smtp_user);
    free(cfg->smtp_password);
    free(cfg->smtp_from);
    free(cfg->log_level);
    free(cfg->config_file);
    free(cfg->email);
    free(cfg->key);
    free(cfg->id);
    free(cfg->options);
    memset(cfg, 0, sizeof *cfg);
}

/* "  --name METAVAR   help [default]", the help wrapped at 100 columns under itself. */
static void usage_flag(struct buf *b, const struct flag *f)
{
    enum { HELP_COL = 34, WIDTH = 100 };
    char left[64], tail[48] = "";
    char *text;
    const char *word;
    size_t col;
    long cores;

    if (f->metavar != NULL)
        snprintf(left, sizeof left, "--%s %s", f->name, f->metavar);
    else
        snprintf(left, sizeof left, "--%s", f->name);
    if (strcmp(f->name, "workers") == 0) {
        cores = sysconf(_SC_NPROCESSORS_ONLN);
        snprintf(tail, sizeof tail, " [%ld here]", cores > 0 ? cores : 1);
    } else if (f->def != NULL) {
        snprintf(tail, sizeof tail, " [%s]", f->def);
    }
    buf_printf(b, "  %s", left);
    col = 2 + strlen(left);
    if (col >= HELP_COL) {
        buf_appends(b, "\n");
        col = 0;
    }
    text = xasprintf("%s%s", f->help, tail);
    for (word = text; *word != '\0'; word += strspn(word, " ")) {
        size_t len = strcspn(word, " ");
        if (col >= HELP_COL && col + 1 + len > WIDTH) {
            buf_appends(b, "\n");
            col = 0;
        }
        if (col < HELP_COL) {
            buf_printf(b, "%*s", (int)(HELP_COL - col), "");
            col = HELP_COL;
        } else {
            buf_appends(b, " ");
            col++;
        }
        buf_append(b, word, len);
        col += len;
        word += len;
    }
    buf_appends(b, "\n");
    free(text);
}

const char *config_usage(void)
{
    /* Built once, by main, before any thread exists. */
    static char *text;
    struct buf b = BUF_INIT;

    if (text != NULL)
        return text;
    buf_appends(&b,
                "usage: convertd serve [FLAGS]\n"
                "       convertd keys add [--email E] [--key K] | keys list [FLAGS]\n"
                "       convertd presets add --key K --id ID --options JSON | presets list"
                " [FLAGS]\n"
                "       convertd worker [--test-converters]   (started by the server)\n"
                "       convertd --help | --version\n"
                "\n"
                "Every flag --NAME is also the environment variable CONVERTD_NAME (upper-case,\n"
                "'-' as '_') and a line `NAME = value` in the --config file.\n"
                "Precedence: flag > environment > file > default [shown in brackets].\n"
                "\n"
                "Flags:\n");
    for (size_t i = 0; i < N_FLAGS; i++)
        if (flags[i].from & FROM_ENV)
            usage_flag(&b, &flags[i]);
    buf_appends(&b, "\nkeys and presets (command line only):\n");
    for (size_t i = 0; i < N_FLAGS; i++)
        if (!(flags[i].from & FROM_ENV))
            usage_flag(&b, &flags[i]);
    text = buf_steal(&b);
    return text;
}
