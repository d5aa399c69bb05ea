/* SPDX-License-Identifier: MIT */
/* fetch.c - the one outbound HTTP(S) client: input downloads and callback pings.
 *
 * Both entry points build their easy handle in handle_new(), so the SEC-01 option list
 * exists once. The guard is open_socket(): curl calls it for every connection it makes
 * (first hop, each redirect, every address it tries), with the address it is about to
 * connect to, so a name that resolves to a private address - or starts to after a DNS
 * change - is refused where it matters. Messages never carry the address (SEC-04): curl's
 * error buffer does ("Failed to connect to 10.0.0.1 port 80"), so only
 * curl_easy_strerror() texts are used. */
#include "storage/fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/mem.h"
#include "common/text.h"
#include "storage/addr.h"

/* Set once before any fetch (fetch.h), read-only afterwards: no lock needed. */
static bool policy_allow_private;
static const struct addr_allow *policy_allow;

/* A callback receiver's answer is read only this far; the status is what counts. */
#define PING_BODY_MAX (64 * 1024)

/* Per-transfer state shared by the callbacks. */
struct transfer {
    CURL *curl;
    int fd;            /* download target; -1 for a ping (body discarded) */
    int64_t max_bytes; /* body cap */
    int64_t written;
    const volatile bool *cancel;
    char *cd_filename;        /* from the current response's Content-Disposition */
    struct fetch_guard guard; /* .blocked: open_socket refused an address */
    bool too_big;
    bool http_error; /* download stopped at a >= 400 status */
    bool body_cut;   /* ping stopped reading at PING_BODY_MAX: not an error */
    bool cancelled;
    int write_errno;
};

void fetch_set_policy(bool allow_private, const struct addr_allow *allow)
{
    policy_allow_private = allow_private;
    policy_allow = allow;
}

bool fetch_address_allowed(const struct sockaddr *sa)
{
    return policy_allow_private || addr_allow_match(policy_allow, sa) || addr_is_public(sa);
}

static bool has_space_or_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p <= 0x20 || *p == 0x7f)
            return true;
    }
    return false;
}

bool fetch_url_syntax_ok(const char *url)
{
    CURLU *u = NULL;
    char *scheme = NULL, *host = NULL;
    bool ok = false;

    if (url == NULL || has_space_or_control(url))
        return false;
    /* curl_url() forgives "http:/host" and "http:///host" (it reads "host" as the host);
     * a URL a client sends us has exactly two slashes before the authority. */
    size_t scheme_len = strspn(url, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
    if (strncmp(url + scheme_len, "://", 3) != 0 || url[scheme_len + 3] == '/')
        return false;
    u = curl_url();
    if (u == NULL)
        return false;
    /* curl_url() alone refuses schemes curl does not know, but it knows gopher, file,
     * dict...: the scheme is checked by name below. */
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
        goto out;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
        goto out;
    if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)
        goto out;
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0')
        goto out;
    ok = true;
out:
    curl_free(host);
    curl_free(scheme);
    curl_url_cleanup(u);
    return ok;
}

bool fetch_base_url_ok(const char *url, bool path_allowed)
{
    CURLU *u = NULL;
    char *part = NULL;
    bool ok = false;

    if (!fetch_url_syntax_ok(url))
        return false;
    u = curl_url();
    if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
        goto out;
    if (curl_url_get(u, CURLUPART_USER, &part, 0) != CURLUE_NO_USER ||
        curl_url_get(u, CURLUPART_QUERY, &part, 0) != CURLUE_NO_QUERY ||
        curl_url_get(u, CURLUPART_FRAGMENT, &part, 0) != CURLUE_NO_FRAGMENT)
        goto out;
    if (path_allowed) {
        ok = true;
        goto out;
    }
    if (curl_url_get(u, CURLUPART_PATH, &part, 0) != CURLUE_OK)
        goto out;
    ok = strcmp(part, "/") == 0 || part[0] == '\0';
out:
    curl_free(part);
    curl_url_cleanup(u);
    return ok;
}

static curl_socket_t open_socket(void *opaque, curlsocktype purpose, struct curl_sockaddr *addr)
{
    struct fetch_guard *g = opaque;

    (void)purpose;
    if (!fetch_address_allowed(&addr->addr)) {
        g->blocked = true;
        return CURL_SOCKET_BAD;
    }
    /* CLOEXEC: the server fork+execs workers; a socket must not leak into them. */
    return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

static size_t write_body(char *data, size_t size, size_t nmemb, void *opaque)
{
    struct transfer *t = opaque;
    size_t len = size * nmemb;
    long status = 0;

    if (t->fd < 0) {
        if (t->written + (int64_t)len > t->max_bytes) {
            t->body_cut = true;
            return 0;
        }
        t->written += (int64_t)len;
        return len;
    }
    /* Stop at once on an error status instead of downloading an error page we throw
     * away (FAILONERROR is off so the status can still be reported). */
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 400) {
        t->http_error = true;
        return 0;
    }
    if (t->written + (int64_t)len > t->max_bytes) {
        t->too_big = true;
        return 0;
    }
    for (size_t off = 0; off < len;) {
        ssize_t n = write(t->fd, data + off, len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            t->write_errno = errno;
            return 0;
        }
        off += (size_t)n;
    }
    t->written += (int64_t)len;
    return len;
}

static int xfer_info(void *opaque, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                     curl_off_t ulnow)
{
    struct transfer *t = opaque;

    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    if (t->cancel != NULL && *t->cancel) {
        t->cancelled = true;
        return 1;
    }
    return 0;
}

/* Decode %XX escapes into a new string; NULL when the result is empty. "+" stays "+"
 * (this is a path or an RFC 8187 value, not a form). A malformed escape is kept as text;
 * %00 is dropped rather than cutting the name short. */
static char *percent_decode(const char *s, size_t len)
{
    char *out = xmalloc(len + 1);
    size_t n = text_percent_decode(s, len, out, false), k = 0;

    /* s is a C string, so every NUL in out came from a %00. */
    for (size_t i = 0; i < n; i++) {
        if (out[i] != '\0')
            out[k++] = out[i];
    }
    out[k] = '\0';
    if (k == 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* One parameter value of Content-Disposition starting at p (after "name="): a quoted
 * string with backslash escapes or a token. *end is set past it. New string. */
static char *param_value(const char *p, const char **end)
{
    struct buf b = BUF_INIT;

    if (*p == '"') {
        for (p++; *p && *p != '"'; p++) {
            if (*p == '\\' && p[1])
                p++;
            buf_append(&b, p, 1);
        }
        if (*p == '"')
            p++;
    } else {
        const char *s = p;
        while (*p && *p != ';' && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
            p++;
        buf_append(&b, s, (size_t)(p - s));
    }
    *end = p;
    return buf_steal(&b);
}

/* RFC 8187 ext-value "UTF-8'lang'pct-encoded"; other charsets are ignored. */
static char *ext_value(const char *v)
{
    const char *q1 = strchr(v, '\''), *q2;

    if (q1 == NULL || (size_t)(q1 - v) != 5 || strncasecmp(v, "UTF-8", 5) != 0)
        return NULL;
    q2 = strchr(q1 + 1, '\'');
    if (q2 == NULL)
        return NULL;
    return percent_decode(q2 + 1, strlen(q2 + 1));
}

/* The file name of a Content-Disposition value (RFC 6266): filename* wins over filename.
 * New string or NULL. */
UNITTEST char *content_disposition_filename(const char *value);
UNITTEST char *content_disposition_filename(const char *value)
{
    char *plain = NULL, *ext = NULL;
    const char *p = strchr(value, ';');

    while (p != NULL && *p) {
        const char *name, *eq, *end;
        size_t nlen;

        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        name = p;
        eq = strchr(p, '=');
        if (eq == NULL)
            break;
        nlen = (size_t)(eq - name);
        while (nlen > 0 && (name[nlen - 1] == ' ' || name[nlen - 1] == '\t'))
            nlen--;
        p = eq + 1;
        while (*p == ' ' || *p == '\t')
            p++;
        char *v = param_value(p, &end);
        p = strchr(end, ';');
        if (nlen == 9 && strncasecmp(name, "filename*", 9) == 0 && ext == NULL) {
            ext = ext_value(v);
        } else if (nlen == 8 && strncasecmp(name, "filename", 8) == 0 && plain == NULL &&
                   v[0] != '\0') {
            plain = v;
            v = NULL;
        }
        free(v);
    }
    if (ext != NULL) {
        free(plain);
        return ext;
    }
    return plain;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *opaque)
{
    struct transfer *t = opaque;
    size_t len = size * nmemb;
    static const char cd[] = "content-disposition:";

    /* A new status line starts a new response (after a redirect): forget the old one's
     * headers. */
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        free(t->cd_filename);
        t->cd_filename = NULL;
    } else if (len > sizeof cd - 1 && strncasecmp(data, cd, sizeof cd - 1) == 0) {
        char *value = xstrndup(data + sizeof cd - 1, len - (sizeof cd - 1));
        free(t->cd_filename);
        t->cd_filename = content_disposition_filename(value);
        free(value);
    }
    return len;
}

/* The last path segment of url, percent-decoded; NULL when there is none. */
static char *url_filename(const char *url)
{
    CURLU *u = curl_url();
    char *path = NULL, *name = NULL;

    if (u == NULL)
        return NULL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK) {
        /* Split before decoding, so "%2F" stays inside the name. */
        const char *slash = strrchr(path, '/');
        const char *seg = slash ? slash + 1 : path;
        name = percent_decode(seg, strlen(seg));
    }
    curl_free(path);
    curl_url_cleanup(u);
    return name;
}

CURLcode fetch_guard_handle(CURL *c, struct fetch_guard *g, const char *protocols)
{
    CURLcode rc = CURLE_OK;

    g->blocked = false;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(c, opt, val);                                                    \
    } while (0)
    SET(CURLOPT_PROTOCOLS_STR, protocols);
    SET(CURLOPT_REDIR_PROTOCOLS_STR, protocols);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_CONNECTTIMEOUT, 10L);
    /* A peer that trickles one byte a minute would otherwise hold a worker for an hour. */
    SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
    SET(CURLOPT_LOW_SPEED_TIME, 60L);
    SET(CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
    /* With a proxy, open_socket would see the proxy's address, not the target's. */
    SET(CURLOPT_PROXY, "");
    SET(CURLOPT_NOSIGNAL, 1L);
    /* FTP: the data connection goes to the control connection's address, never to one the
     * server names in its PASV reply. */
    SET(CURLOPT_FTP_SKIP_PASV_IP, 1L);
    SET(CURLOPT_USERAGENT, "convertd");
    SET(CURLOPT_OPENSOCKETFUNCTION, open_socket);
    SET(CURLOPT_OPENSOCKETDATA, g);
#undef SET
    return rc;
}

/* The easy handle both entry points use: spec SEC-01's option list, in one place. */
static CURL *handle_new(const char *url, struct transfer *t, bool follow, long timeout_s)
{
    CURL *c = curl_easy_init();
    CURLcode rc;

    if (c == NULL)
        return NULL;
    t->curl = c;
    rc = fetch_guard_handle(c, &t->guard, "http,https");
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(c, opt, val);                                                    \
    } while (0)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_FOLLOWLOCATION, follow ? 1L : 0L);
    SET(CURLOPT_MAXREDIRS, 5L);
    SET(CURLOPT_TIMEOUT, timeout_s);
    SET(CURLOPT_FAILONERROR, 0L);
    SET(CURLOPT_WRITEFUNCTION, write_body);
    SET(CURLOPT_WRITEDATA, t);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, t);
    SET(CURLOPT_NOPROGRESS, 0L);
    SET(CURLOPT_XFERINFOFUNCTION, xfer_info);
    SET(CURLOPT_XFERINFODATA, t);
#undef SET
    if (rc != CURLE_OK) {
        curl_easy_cleanup(c);
        t->curl = NULL;
        return NULL;
    }
    return c;
}

/* Turn a finished transfer into 0 or an error. what names the request in messages
 * ("input", "callback"); failed is the prefix of a transport failure. */
static int transfer_result(const struct transfer *t, CURLcode rc, const char *what,
                           const char *failed, struct err *err)
{
    if (t->cancelled)
        return err_set(err, ERR_CANCELLED, "cancelled");
    if (t->too_big || rc == CURLE_FILESIZE_EXCEEDED)
        return err_set(err, ERR_TOOBIG, "input too large");
    if (t->write_errno != 0)
        return err_set(err, ERR_CONVERT, "cannot write input file: %s", strerror(t->write_errno));
    if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && (t->http_error || t->body_cut)))
        return 0;
    /* Checked after the success case: with several addresses for a name, one may be
     * refused while another one serves the request. spec SEC-04: no address, no body. */
    if (t->guard.blocked)
        return err_set(err, ERR_CONVERT, "%s URL not allowed", what);
    return err_set(err, ERR_CONVERT, "%s: %s", failed, curl_easy_strerror(rc));
}

int fetch_to_file(const char *url, const char *path, int64_t max_bytes, const volatile bool *cancel,
                  struct fetch_result *res, struct err *err)
{
    struct transfer t = {.fd = -1, .max_bytes = max_bytes, .cancel = cancel};
    CURL *c = NULL;
    CURLcode rc;
    char *eff = NULL;
    int ret = -1;

    memset(res, 0, sizeof *res);
    if (!fetch_url_syntax_ok(url))
        return err_set(err, ERR_CONVERT, "input URL not allowed");
    t.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (t.fd < 0)
        return err_set(err, ERR_INTERNAL, "cannot create input file: %s", strerror(errno));
    /* An input is a file we write, so the overall limit is generous; LOW_SPEED catches
     * stalls. */
    c = handle_new(url, &t, true, 3600L);
    if (c == NULL) {
        err_set(err, ERR_INTERNAL, "cannot set up the download");
        goto out;
    }
    /* Refuse up front when Content-Length already says too much. */
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_bytes);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->http_status);
    if (transfer_result(&t, rc, "input", "input download failed", err) < 0)
        goto out;
    if (res->http_status >= 400) {
        err_set(err, ERR_CONVERT, "input download failed: HTTP %ld", res->http_status);
        goto out;
    }
    if (close(t.fd) != 0) {
        t.fd = -1;
        err_set(err, ERR_CONVERT, "cannot write input file: %s", strerror(errno));
        goto out;
    }
    t.fd = -1;
    res->size = t.written;
    if (t.cd_filename != NULL) {
        res->filename = t.cd_filename;
        t.cd_filename = NULL;
    } else if (curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff) {
        res->filename = url_filename(eff);
    }
    ret = 0;
out:
    if (t.fd >= 0)
        close(t.fd);
    if (ret < 0) {
        unlink(path);
        fetch_result_fini(res);
        res->size = 0;
    }
    free(t.cd_filename);
    if (c != NULL)
        curl_easy_cleanup(c);
    return ret;
}

int fetch_ping(const char *url, long timeout_s, long *http_status, struct err *err)
{
    struct transfer t = {.fd = -1, .max_bytes = PING_BODY_MAX};
    CURL *c = NULL;
    CURLcode rc;
    int ret = -1;

    *http_status = 0;
    if (!fetch_url_syntax_ok(url))
        return err_set(err, ERR_CONVERT, "callback URL not allowed");
    /* spec SEC-03: callbacks do not follow redirects. */
    c = handle_new(url, &t, false, timeout_s);
    if (c == NULL)
        return err_set(err, ERR_INTERNAL, "cannot set up the callback");
    rc = curl_easy_perform(c);
    if (transfer_result(&t, rc, "callback", "callback failed", err) < 0)
        goto out;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, http_status);
    ret = 0;
out:
    free(t.cd_filename);
    curl_easy_cleanup(c);
    return ret;
}

void fetch_result_fini(struct fetch_result *res)
{
    if (res == NULL)
        return;
    free(res->filename);
    res->filename = NULL;
}
