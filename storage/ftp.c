/* SPDX-License-Identifier: MIT */
/* ftp.c - FTP get/put through libcurl: passive mode, explicit TLS when offered, streamed.
 *
 * Paths. The caller's path is split at '/' and every segment percent-encoded on its own,
 * so a name with spaces, '#', '?', '%' or UTF-8 reaches the server as it was written. A
 * relative path ("out/a.pdf") is relative to the login folder: ftp://HOST:PORT/out/a.pdf. An
 * absolute path ("/srv/out/a.pdf") becomes ftp://HOST:PORT/%2Fsrv/out/a.pdf: curl's first
 * CWD is then "/" (RFC 1738's rule), so the path is absolute on the server too. Empty
 * segments ("a//b") are dropped. Control characters are refused everywhere: an FTP command
 * is a line, and a CR or LF in a path or a login would start a new one.
 *
 * Messages name the server's last reply code with a fixed text of ours; the server's own
 * words are not copied, so nothing it echoes (or that curl's error buffer holds, such as
 * the address) reaches a client. The password is never part of a URL or a message. */
#include "storage/ftp.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/mem.h"
#include "storage/fetch.h"
#include "storage/xfer.h"

/* Tests talk to a server with a self-signed certificate; everything else verifies. */
UNITTEST bool ftp_tls_insecure;
UNITTEST bool ftp_tls_insecure = false;

/* Per-transfer state: the callbacks' (xfer.h) and the address guard's. */
struct ftp_xfer {
    struct xfer x; /* out_fd: download target; in_fd: upload source, read to its end */
    struct fetch_guard guard;
};

bool ftp_target_valid(const struct ftp_target *t, struct err *err)
{
    const char *h = t->host;

    if (h == NULL || h[0] == '\0') {
        err_set(err, ERR_BADPARAM, "FTP host missing");
        return false;
    }
    /* Beyond the header's list, '?', '#' and '\\' are refused too: none is part of a host
     * name, and each would change how the URL is read. */
    for (const unsigned char *p = (const unsigned char *)h; *p; p++) {
        if (*p <= 0x20 || *p == 0x7f || strchr("/@?#\\", *p) != NULL) {
            err_set(err, ERR_BADPARAM, "FTP host invalid");
            return false;
        }
    }
    if (h[0] == '[' && h[strlen(h) - 1] != ']') {
        err_set(err, ERR_BADPARAM, "FTP host invalid");
        return false;
    }
    if (t->port < 0 || t->port > 65535) {
        err_set(err, ERR_BADPARAM, "FTP port invalid");
        return false;
    }
    return true;
}

/* Append s[0..n) percent-encoded: only RFC 3986's unreserved characters stay as they are. */
static void append_encoded(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            buf_append(b, &s[i], 1);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            buf_append(b, esc, 3);
        }
    }
}

/* The URL of path on the target (rule in the file header), or NULL with err. */
UNITTEST char *ftp_url(const struct ftp_target *t, const char *path, struct err *err);
UNITTEST char *ftp_url(const struct ftp_target *t, const char *path, struct err *err)
{
    struct buf b = BUF_INIT;
    const char *p = path, *last = NULL;
    bool ipv6, first = true;

    if (!ftp_target_valid(t, err))
        return NULL;
    if (path == NULL || xfer_has_control(path)) {
        err_set(err, ERR_BADPARAM, "FTP path invalid");
        return NULL;
    }
    /* A bare IPv6 literal needs its brackets in a URL. */
    ipv6 = strchr(t->host, ':') != NULL && t->host[0] != '[';
    buf_printf(&b, "ftp://%s%s%s:%d/", ipv6 ? "[" : "", t->host, ipv6 ? "]" : "",
               t->port == 0 ? 21 : t->port);
    if (*p == '/')
        buf_appends(&b, "%2F");
    while (*p) {
        size_t n;

        while (*p == '/')
            p++;
        n = strcspn(p, "/");
        if (n == 0)
            break;
        if (!first)
            buf_appends(&b, "/");
        first = false;
        append_encoded(&b, p, n);
        last = p;
        p += n;
    }
    /* The path names a file: a trailing '/' or nothing at all names a folder. */
    if (last == NULL || path[strlen(path) - 1] == '/') {
        buf_fini(&b);
        err_set(err, ERR_BADPARAM, "FTP path must name a file");
        return NULL;
    }
    return buf_steal(&b);
}

/* Our words for the server's reply codes (RFC 959); `put` picks the upload reading. */
static const char *reply_text(long code, bool put)
{
    switch (code) {
    case 421:
        return "service not available";
    case 425:
        return "cannot open data connection";
    case 426:
        return "transfer aborted";
    case 430:
    case 530:
        return "login failed";
    case 450:
        return "file busy";
    case 451:
        return "local error on the server";
    case 452:
    case 552:
        return "no space left on the server";
    case 532:
        return "account required";
    case 534:
        return "TLS required by the server";
    case 550:
        return put ? "cannot create file or folder" : "no such file or folder";
    case 553:
        return "file name not allowed";
    default:
        return NULL;
    }
}

/* A handle with the guard, the URL, the callbacks and the options both directions share; NULL
 * with err. */
static CURL *ftp_handle(const struct ftp_target *t, const char *url, struct ftp_xfer *x,
                        struct err *err)
{
    CURL *c = curl_easy_init();
    CURLcode rc;

    if (c == NULL) {
        err_set(err, ERR_INTERNAL, "cannot set up the FTP transfer");
        return NULL;
    }
    rc = fetch_guard_handle(c, &x->guard, "ftp,ftps");
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(c, opt, val);                                                    \
    } while (0)
    SET(CURLOPT_URL, url);
    /* Login by option: a password in the URL could end up in a log line. */
    SET(CURLOPT_USERNAME, t->user != NULL ? t->user : "anonymous");
    SET(CURLOPT_PASSWORD, t->password != NULL ? t->password : "");
    SET(CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
    if (ftp_tls_insecure) {
        SET(CURLOPT_SSL_VERIFYPEER, 0L);
        SET(CURLOPT_SSL_VERIFYHOST, 0L);
    }
    /* Passive (EPSV, then PASV) is curl's default; said here so nobody adds FTPPORT. */
    SET(CURLOPT_FTP_USE_EPSV, 1L);
    /* A server that stops answering a command must not hold a worker until LOW_SPEED. */
    SET(CURLOPT_SERVER_RESPONSE_TIMEOUT, 60L);
#undef SET
    if (rc == CURLE_OK)
        rc = xfer_install(c, &x->x);
    if (rc != CURLE_OK) {
        curl_easy_cleanup(c);
        err_set(err, ERR_INTERNAL, "cannot set up the FTP transfer");
        return NULL;
    }
    return c;
}

/* curl's words for rc, without the "FTP: " some of them start with (we add our own). */
static const char *curl_reason(CURLcode rc)
{
    const char *s = curl_easy_strerror(rc);

    return strncmp(s, "FTP: ", 5) == 0 ? s + 5 : s;
}

/* Turn a finished transfer into 0 or an error (messages in the file header). */
static int ftp_result(CURL *c, const struct ftp_xfer *x, CURLcode rc, bool put, struct err *err)
{
    long code = 0;
    const char *text;
    /* Only the read callback of an upload and the write callback of a download run. */
    int io_errno = put ? x->x.read_errno : x->x.write_errno;

    if (x->x.cancelled)
        return err_set(err, ERR_CANCELLED, "cancelled");
    if (x->x.too_big || rc == CURLE_FILESIZE_EXCEEDED)
        return err_set(err, ERR_TOOBIG, "input too large");
    if (io_errno != 0)
        return err_set(err, ERR_CONVERT, "FTP: cannot %s the local file: %s",
                       put ? "read" : "write", strerror(io_errno));
    if (rc == CURLE_OK)
        return 0;
    if (x->guard.blocked)
        return err_set(err, ERR_CONVERT, "FTP server not allowed");
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 400) {
        text = reply_text(code, put);
        if (text != NULL)
            return err_set(err, ERR_CONVERT, "FTP: %ld %s", code, text);
        return err_set(err, ERR_CONVERT, "FTP: %ld %s", code, curl_reason(rc));
    }
    return err_set(err, ERR_CONVERT, "FTP: %s", curl_reason(rc));
}

/* CR or LF in a login would end the USER or PASS command early. */
static int login_ok(const struct ftp_target *t, struct err *err)
{
    if ((t->user != NULL && xfer_has_control(t->user)) ||
        (t->password != NULL && xfer_has_control(t->password)))
        return err_set(err, ERR_BADPARAM, "FTP user or password invalid");
    return 0;
}

int ftp_get(const struct ftp_target *t, const char *path, const char *dest, int64_t max_bytes,
            const volatile bool *cancel, struct err *err)
{
    struct ftp_xfer x = {.guard.blocked = false};
    CURL *c = NULL;
    CURLcode rc;
    char *url;
    int ret = -1;

    if (login_ok(t, err) < 0)
        return -1;
    url = ftp_url(t, path, err);
    if (url == NULL)
        return -1;
    /* Nothing arrives but the file: no reply body to keep. */
    xfer_init(&x.x, cancel, 0);
    x.x.max_bytes = max_bytes;
    x.x.out_fd = open(dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (x.x.out_fd < 0) {
        /* Nothing of ours to remove: return before the cleanup that unlinks dest. */
        err_set(err, ERR_INTERNAL, "cannot create input file: %s", strerror(errno));
        xfer_fini(&x.x);
        free(url);
        return -1;
    }
    c = ftp_handle(t, url, &x, err);
    if (c == NULL)
        goto out;
    /* Refuse up front when the server's SIZE answer already says too much. */
    if (curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_bytes) != CURLE_OK) {
        err_set(err, ERR_INTERNAL, "cannot set up the FTP transfer");
        goto out;
    }
    rc = curl_easy_perform(c);
    if (ftp_result(c, &x, rc, false, err) < 0)
        goto out;
    if (close(x.x.out_fd) != 0) {
        x.x.out_fd = -1;
        err_set(err, ERR_CONVERT, "FTP: cannot write the local file: %s", strerror(errno));
        goto out;
    }
    x.x.out_fd = -1;
    ret = 0;
out:
    if (x.x.out_fd >= 0)
        close(x.x.out_fd);
    if (ret < 0)
        unlink(dest);
    if (c != NULL)
        curl_easy_cleanup(c);
    xfer_fini(&x.x);
    free(url);
    return ret;
}

int ftp_put(const struct ftp_target *t, const char *path, const char *src,
            const volatile bool *cancel, struct err *err)
{
    struct ftp_xfer x = {.guard.blocked = false};
    CURL *c = NULL;
    CURLcode rc = CURLE_OK;
    struct stat st;
    char *url;
    int ret = -1;

    if (login_ok(t, err) < 0)
        return -1;
    url = ftp_url(t, path, err);
    if (url == NULL)
        return -1;
    xfer_init(&x.x, cancel, 0);
    /* No window: the file is sent to its end, as it is when the transfer reads it. */
    x.x.in_left = -1;
    x.x.in_fd = open(src, O_RDONLY | O_CLOEXEC);
    if (x.x.in_fd < 0 || fstat(x.x.in_fd, &st) != 0) {
        err_set(err, ERR_INTERNAL, "cannot read output file: %s", strerror(errno));
        goto out;
    }
    c = ftp_handle(t, url, &x, err);
    if (c == NULL)
        goto out;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(c, opt, val);                                                    \
    } while (0)
    SET(CURLOPT_UPLOAD, 1L);
    SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size);
    /* RETRY: a folder another upload created in the meantime is not an error. */
    SET(CURLOPT_FTP_CREATE_MISSING_DIRS, (long)CURLFTP_CREATE_DIR_RETRY);
#undef SET
    if (rc != CURLE_OK) {
        err_set(err, ERR_INTERNAL, "cannot set up the FTP transfer");
        goto out;
    }
    rc = curl_easy_perform(c);
    if (ftp_result(c, &x, rc, true, err) < 0)
        goto out;
    ret = 0;
out:
    if (x.x.in_fd >= 0)
        close(x.x.in_fd);
    if (c != NULL)
        curl_easy_cleanup(c);
    xfer_fini(&x.x);
    free(url);
    return ret;
}
