/* SPDX-License-Identifier: MIT */
/* s3.c - S3 objects through libcurl and its AWS Signature V4 signing, streamed to and from
 * files.
 *
 * libcurl signs every header we give it (CURLOPT_AWS_SIGV4) and takes the payload hash from
 * our x-amz-content-sha256 header, so a streamed body goes up as "UNSIGNED-PAYLOAD" and no
 * SHA-256 of a file is ever computed. Its canonical request uses the path and query exactly as
 * written, so both are written here in canonical form already: keys percent-encoded per
 * segment the way S3 encodes them, query parameters sorted and always with "=".
 *
 * Every handle goes through fetch_guard_handle() (SEC-01/02). Messages carry the store's
 * <Code> and <Message>, libcurl's generic reason or our own text, never the keys, the token
 * or a signed value; nothing here logs. */
#include "storage/s3.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/mem.h"
#include "storage/fetch.h"
#include "storage/xfer.h"

/* An error document or a multipart reply is read this far; longer ones are cut off. */
#define BODY_MAX (64 * 1024)
/* S3's limit on the parts of one upload. */
#define MAX_PARTS 10000
/* SHA-256 of an empty body: the payload hash of requests without one. */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/* Small requests (create, abort) end within this; transfers have no overall limit, the
 * guard's low-speed limit catches stalls. */
#define SHORT_TIMEOUT_S 120L
/* The characters of host-safe bucket names and of region names. */
#define LOWER_DIGITS_DASH "abcdefghijklmnopqrstuvwxyz0123456789-"

/* Size of the parts of a multipart upload, and the file size above which one is used.
 * Tests lower it to send a few MB in parts. */
UNITTEST int64_t s3_part_size = S3_PART_SIZE;

/* One request and its callbacks' state. */
struct s3_req {
    /* A 2xx body goes to xfer.out_fd when it is >= 0, anything else into xfer.body; the
     * request body comes from xfer.in_fd or xfer.mem. */
    struct xfer x;
    struct fetch_guard guard;
    char *etag; /* the response's ETag header, quotes included */
    long status;
};

static void req_init(struct s3_req *r, const volatile bool *cancel)
{
    memset(r, 0, sizeof *r);
    xfer_init(&r->x, cancel, BODY_MAX);
    r->x.http_status = true;
}

static void req_fini(struct s3_req *r)
{
    xfer_fini(&r->x);
    free(r->etag);
    r->etag = NULL;
}

static bool is_empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}

static const char *region_of(const struct s3_target *t)
{
    return is_empty(t->region) ? "us-east-1" : t->region;
}

/* Virtual-hosted addressing needs a bucket that is one DNS label-safe name; dots would break
 * the TLS wildcard *.s3.REGION.amazonaws.com, old upper-case names are not host names. */
static bool bucket_host_safe(const char *b)
{
    return strspn(b, LOWER_DIGITS_DASH) == strlen(b);
}

static bool region_ok(const char *region)
{
    size_t n = strlen(region);

    /* It goes into a host name and into CURLOPT_AWS_SIGV4's "aws:amz:REGION:s3". */
    return n >= 1 && n <= 32 && strspn(region, LOWER_DIGITS_DASH) == n;
}

bool s3_target_valid(const struct s3_target *t, struct err *err)
{
    size_t n = t->bucket ? strlen(t->bucket) : 0;

    if (n < 3 || n > 63 ||
        strspn(t->bucket, LOWER_DIGITS_DASH ".ABCDEFGHIJKLMNOPQRSTUVWXYZ_") != n) {
        err_set(err, ERR_BADPARAM, "invalid S3 bucket name");
        return false;
    }
    if (!is_empty(t->region) && !region_ok(t->region)) {
        err_set(err, ERR_BADPARAM, "invalid S3 region");
        return false;
    }
    if (!is_empty(t->endpoint) && !fetch_base_url_ok(t->endpoint, false)) {
        err_set(err, ERR_BADPARAM, "invalid S3 endpoint");
        return false;
    }
    return true;
}

/* What every request needs before anything connects. Strings that become header values must
 * not be able to end a header line. */
static int check_request(const struct s3_target *t, const char *key, struct err *err)
{
    if (!s3_target_valid(t, err))
        return -1;
    if (is_empty(t->access_key_id) || is_empty(t->secret_access_key))
        return err_set(err, ERR_BADPARAM, "S3 credentials missing");
    if (xfer_has_control(t->access_key_id) || xfer_has_control(t->secret_access_key) ||
        (t->session_token != NULL && xfer_has_control(t->session_token)))
        return err_set(err, ERR_BADPARAM, "invalid S3 credentials");
    if (is_empty(key))
        return err_set(err, ERR_BADPARAM, "empty S3 key");
    if (strlen(key) > 1024)
        return err_set(err, ERR_BADPARAM, "S3 key too long");
    return 0;
}

/* S3's URI encoding: unreserved characters stay, every other byte becomes %XX (upper case),
 * '/' stays when keep_slash. */
static void append_encoded(struct buf *b, const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~' || (keep_slash && *p == '/')) {
            buf_append(b, p, 1);
        } else {
            char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            buf_append(b, esc, 3);
        }
    }
}

static char *encoded(const char *s)
{
    struct buf b = BUF_INIT;

    append_encoded(&b, s, false);
    return buf_steal(&b);
}

/* The object's URL; query (without '?') is already canonical. */
static char *object_url(const struct s3_target *t, const char *key, const char *query)
{
    struct buf b = BUF_INIT;

    if (is_empty(t->endpoint)) {
        if (bucket_host_safe(t->bucket))
            buf_printf(&b, "https://%s.s3.%s.amazonaws.com/", t->bucket, region_of(t));
        else
            buf_printf(&b, "https://s3.%s.amazonaws.com/%s/", region_of(t), t->bucket);
    } else {
        size_t n = strlen(t->endpoint);

        while (n > 0 && t->endpoint[n - 1] == '/')
            n--;
        buf_append(&b, t->endpoint, n);
        /* Bucket names are [A-Za-z0-9._-]: nothing to encode. */
        buf_printf(&b, "/%s/", t->bucket);
    }
    append_encoded(&b, key, true);
    if (query != NULL)
        buf_printf(&b, "?%s", query);
    return buf_steal(&b);
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *opaque)
{
    struct s3_req *r = opaque;
    size_t len = size * nmemb;
    long status = 0;
    char *etag;

    if (xfer_status_line(data, len)) {
        free(r->etag);
        r->etag = NULL;
        return len;
    }
    etag = xfer_header_value(data, len, "etag:");
    if (etag != NULL) {
        free(r->etag);
        r->etag = etag;
    } else if (r->x.out_fd >= 0 && len > 15 && strncasecmp(data, "content-length:", 15) == 0) {
        /* Refuse an object that is too large before its first byte (an error document's
         * length does not count). */
        curl_easy_getinfo(r->x.curl, CURLINFO_RESPONSE_CODE, &status);
        char *end;
        long long n = strtoll(data + 15, &end, 10);
        if (status >= 200 && status < 300 && n > r->x.max_bytes) {
            r->x.too_big = true;
            return 0;
        }
    }
    return len;
}

/* The text of the first <tag>...</tag> in xml with the five XML entities decoded and control
 * characters blanked (it goes into a one-line message); NULL when there is none. */
static char *xml_text(const char *xml, const char *tag)
{
    char *open = xasprintf("<%s>", tag), *close_tag = xasprintf("</%s>", tag);
    const char *s = xml ? strstr(xml, open) : NULL, *e = NULL;
    struct buf b = BUF_INIT;
    static const struct {
        const char *ent;
        char c;
    } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};

    if (s != NULL) {
        s += strlen(open);
        e = strstr(s, close_tag);
    }
    free(open);
    free(close_tag);
    if (e == NULL)
        return NULL;
    while (s < e) {
        size_t i, n = sizeof ents / sizeof ents[0];

        for (i = 0; i < n; i++) {
            size_t elen = strlen(ents[i].ent);
            if ((size_t)(e - s) >= elen && strncmp(s, ents[i].ent, elen) == 0) {
                buf_append(&b, &ents[i].c, 1);
                s += elen;
                break;
            }
        }
        if (i < n)
            continue;
        char c = (unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s;
        buf_append(&b, &c, 1);
        s++;
    }
    return buf_steal(&b);
}

/* The store's answer as an error: "S3: <Code>: <Message>", "S3: <Code>", or the status. */
static int store_error(const struct s3_req *r, struct err *err)
{
    char *code = xml_text(r->x.body.data, "Code");
    char *msg = xml_text(r->x.body.data, "Message");

    if (code != NULL && code[0] != '\0' && msg != NULL && msg[0] != '\0')
        err_set(err, ERR_CONVERT, "S3: %s: %s", code, msg);
    else if (code != NULL && code[0] != '\0')
        err_set(err, ERR_CONVERT, "S3: %s", code);
    else
        err_set(err, ERR_CONVERT, "S3: HTTP %ld", r->status);
    free(code);
    free(msg);
    return -1;
}

/* One request. method is GET (body to r->x.out_fd), PUT (body from r->x.in_fd or r->x.mem), POST
 * (body r->x.mem) or DELETE; payload_hash is the x-amz-content-sha256 value; extra holds more
 * headers (borrowed). 0 for a 2xx answer, else -1 with err. */
static int perform(const struct s3_target *t, const char *method, const char *key,
                   const char *query, const char *payload_hash, const struct curl_slist *extra,
                   long timeout_s, struct s3_req *r, struct err *err)
{
    char *url = object_url(t, key, query);
    char *sigv4 = xasprintf("aws:amz:%s:s3", region_of(t));
    struct curl_slist *headers = NULL;
    CURL *c = curl_easy_init();
    CURLcode rc;
    int ret = -1;

    if (c == NULL) {
        err_set(err, ERR_INTERNAL, "cannot set up the S3 request");
        goto out;
    }
    headers = xfer_header_add(headers, "x-amz-content-sha256: %s", payload_hash);
    if (!is_empty(t->session_token))
        headers = xfer_header_add(headers, "x-amz-security-token: %s", t->session_token);
    for (const struct curl_slist *l = extra; l != NULL; l = l->next)
        headers = xfer_header_add(headers, "%s", l->data);
    rc = fetch_guard_handle(c, &r->guard, "http,https");
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(c, opt, val);                                                    \
    } while (0)
    SET(CURLOPT_URL, url);
    /* The path must reach the store (and the signature) exactly as written: a key may hold
     * "." and ".." segments. */
    SET(CURLOPT_PATH_AS_IS, 1L);
    SET(CURLOPT_AWS_SIGV4, sigv4);
    /* Separately, not as USERPWD: an access key may contain ':'. */
    SET(CURLOPT_USERNAME, t->access_key_id);
    SET(CURLOPT_PASSWORD, t->secret_access_key);
    SET(CURLOPT_HTTPHEADER, headers);
    SET(CURLOPT_TIMEOUT, timeout_s);
    SET(CURLOPT_FAILONERROR, 0L);
    if (rc == CURLE_OK)
        rc = xfer_install(c, &r->x);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, r);
    if (strcmp(method, "PUT") == 0) {
        SET(CURLOPT_UPLOAD, 1L);
        SET(CURLOPT_INFILESIZE_LARGE,
            (curl_off_t)(r->x.mem != NULL ? (int64_t)r->x.mem_len : r->x.in_left));
    } else if (strcmp(method, "POST") == 0) {
        SET(CURLOPT_POST, 1L);
        SET(CURLOPT_POSTFIELDS, r->x.mem != NULL ? r->x.mem : "");
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(r->x.mem != NULL ? r->x.mem_len : 0));
    } else if (strcmp(method, "DELETE") == 0) {
        SET(CURLOPT_CUSTOMREQUEST, "DELETE");
    }
#undef SET
    if (rc != CURLE_OK) {
        err_set(err, ERR_INTERNAL, "cannot set up the S3 request");
        goto out;
    }
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    if (xfer_local_error(&r->x, rc, err) < 0)
        goto out;
    if (xfer_curl_failed(&r->x, rc)) {
        /* As in fetch.c: curl's error buffer would name the address (SEC-04). */
        if (r->guard.blocked)
            err_set(err, ERR_CONVERT, "S3 endpoint not allowed");
        else
            err_set(err, ERR_CONVERT, "S3: %s", curl_easy_strerror(rc));
        goto out;
    }
    if (r->status < 200 || r->status >= 300) {
        store_error(r, err);
        goto out;
    }
    ret = 0;
out:
    if (c != NULL)
        curl_easy_cleanup(c);
    r->x.curl = NULL;
    curl_slist_free_all(headers);
    free(sigv4);
    free(url);
    return ret;
}

int s3_get(const struct s3_target *t, const char *key, const char *path, int64_t max_bytes,
           const volatile bool *cancel, struct err *err)
{
    struct s3_req r;
    int ret = -1;

    if (check_request(t, key, err) < 0)
        return -1;
    req_init(&r, cancel);
    r.x.max_bytes = max_bytes;
    r.x.out_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (r.x.out_fd < 0) {
        err_set(err, ERR_INTERNAL, "cannot create input file: %s", strerror(errno));
        req_fini(&r);
        return -1;
    }
    if (perform(t, "GET", key, NULL, EMPTY_SHA256, NULL, 0L, &r, err) < 0)
        goto out;
    if (close(r.x.out_fd) != 0) {
        r.x.out_fd = -1;
        err_set(err, ERR_CONVERT, "cannot write input file: %s", strerror(errno));
        goto out;
    }
    r.x.out_fd = -1;
    ret = 0;
out:
    if (r.x.out_fd >= 0)
        close(r.x.out_fd);
    if (ret < 0)
        unlink(path);
    req_fini(&r);
    return ret;
}

/* Headers of a new object: its ACL and type. */
static struct curl_slist *object_headers(const char *acl, const char *content_type)
{
    struct curl_slist *h = NULL;

    h = xfer_header_add(h, "x-amz-acl: %s", acl);
    return xfer_header_add(h, "Content-Type: %s", content_type);
}

static int put_single(const struct s3_target *t, const char *key, int fd, int64_t size,
                      const char *acl, const char *content_type, const volatile bool *cancel,
                      struct err *err)
{
    struct curl_slist *h = object_headers(acl, content_type);
    struct s3_req r;
    int ret;

    req_init(&r, cancel);
    r.x.in_fd = fd;
    r.x.in_left = size;
    ret = perform(t, "PUT", key, NULL, "UNSIGNED-PAYLOAD", h, 0L, &r, err);
    req_fini(&r);
    curl_slist_free_all(h);
    return ret;
}

/* Best effort: the parts of a failed upload would otherwise be stored (and billed). Not
 * cancellable, with its own error: the first failure is the one to report. */
static void abort_upload(const struct s3_target *t, const char *key, const char *enc_id)
{
    struct err ignored = ERR_INIT;
    struct s3_req r;
    char *query = xasprintf("uploadId=%s", enc_id);

    req_init(&r, NULL);
    perform(t, "DELETE", key, query, EMPTY_SHA256, NULL, SHORT_TIMEOUT_S, &r, &ignored);
    req_fini(&r);
    free(query);
}

static int put_multipart(const struct s3_target *t, const char *key, int fd, int64_t size,
                         const char *acl, const char *content_type, const volatile bool *cancel,
                         struct err *err)
{
    int64_t part = s3_part_size, nparts = (size + part - 1) / part;
    struct curl_slist *h = NULL;
    char **etags = NULL, *upload_id = NULL, *enc_id = NULL, *query = NULL, *xml = NULL;
    struct buf b = BUF_INIT;
    struct s3_req r;
    int ret = -1;

    req_init(&r, cancel);
    if (nparts > MAX_PARTS) {
        err_set(err, ERR_TOOBIG, "output too large for S3");
        goto out;
    }
    etags = xcalloc((size_t)nparts, sizeof *etags);
    h = object_headers(acl, content_type);
    if (perform(t, "POST", key, "uploads=", EMPTY_SHA256, h, SHORT_TIMEOUT_S, &r, err) < 0)
        goto out;
    upload_id = xml_text(r.x.body.data, "UploadId");
    if (upload_id == NULL || upload_id[0] == '\0') {
        err_set(err, ERR_CONVERT, "S3: no UploadId in the reply");
        goto out;
    }
    enc_id = encoded(upload_id);
    for (int64_t i = 0; i < nparts; i++) {
        req_fini(&r);
        req_init(&r, cancel);
        if (cancel != NULL && *cancel) {
            err_set(err, ERR_CANCELLED, "cancelled");
            goto out;
        }
        r.x.in_fd = fd;
        r.x.in_off = i * part;
        r.x.in_left = size - r.x.in_off < part ? size - r.x.in_off : part;
        free(query);
        /* Parameters in canonical (sorted) order. */
        query = xasprintf("partNumber=%" PRId64 "&uploadId=%s", i + 1, enc_id);
        if (perform(t, "PUT", key, query, "UNSIGNED-PAYLOAD", NULL, 0L, &r, err) < 0)
            goto out;
        if (r.etag == NULL) {
            err_set(err, ERR_CONVERT, "S3: no ETag for part %" PRId64, i + 1);
            goto out;
        }
        etags[i] = r.etag;
        r.etag = NULL;
    }
    buf_appends(&b, "<CompleteMultipartUpload>");
    for (int64_t i = 0; i < nparts; i++) {
        buf_printf(&b, "<Part><PartNumber>%" PRId64 "</PartNumber><ETag>", i + 1);
        for (const char *p = etags[i]; *p; p++) {
            if (*p == '&')
                buf_appends(&b, "&amp;");
            else if (*p == '<')
                buf_appends(&b, "&lt;");
            else if (*p == '>')
                buf_appends(&b, "&gt;");
            else
                buf_append(&b, p, 1);
        }
        buf_appends(&b, "</ETag></Part>");
    }
    buf_appends(&b, "</CompleteMultipartUpload>");
    xml = buf_steal(&b);
    req_fini(&r);
    req_init(&r, cancel);
    r.x.mem = xml;
    r.x.mem_len = strlen(xml);
    curl_slist_free_all(h);
    h = xfer_header_add(NULL, "Content-Type: %s", "application/xml");
    free(query);
    query = xasprintf("uploadId=%s", enc_id);
    if (perform(t, "POST", key, query, "UNSIGNED-PAYLOAD", h, 0L, &r, err) < 0)
        goto out;
    /* S3 may fail the completion after it answered 200 (it sends spaces while it works). */
    if (r.x.body.data != NULL && strstr(r.x.body.data, "<Error>") != NULL) {
        store_error(&r, err);
        goto out;
    }
    ret = 0;
out:
    if (ret < 0 && enc_id != NULL)
        abort_upload(t, key, enc_id);
    req_fini(&r);
    if (etags != NULL) {
        for (int64_t i = 0; i < nparts; i++)
            free(etags[i]);
        free(etags);
    }
    curl_slist_free_all(h);
    buf_fini(&b);
    free(xml);
    free(query);
    free(enc_id);
    free(upload_id);
    return ret;
}

int s3_put(const struct s3_target *t, const char *key, const char *path, const char *acl,
           const char *content_type, const volatile bool *cancel, struct err *err)
{
    struct stat st;
    int fd, ret = -1;

    if (check_request(t, key, err) < 0)
        return -1;
    if (acl == NULL)
        acl = "private";
    if (content_type == NULL)
        content_type = "application/octet-stream";
    /* Canned ACLs are words like "public-read"; both become header values. */
    if (acl[0] == '\0' || strspn(acl, "abcdefghijklmnopqrstuvwxyz-") != strlen(acl))
        return err_set(err, ERR_BADPARAM, "invalid S3 acl");
    if (content_type[0] == '\0' || xfer_has_control(content_type))
        return err_set(err, ERR_BADPARAM, "invalid content type");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(err, ERR_INTERNAL, "cannot open output file: %s", strerror(errno));
    if (fstat(fd, &st) != 0) {
        err_set(err, ERR_INTERNAL, "cannot open output file: %s", strerror(errno));
        goto out;
    }
    if ((int64_t)st.st_size > s3_part_size)
        ret = put_multipart(t, key, fd, (int64_t)st.st_size, acl, content_type, cancel, err);
    else
        ret = put_single(t, key, fd, (int64_t)st.st_size, acl, content_type, cancel, err);
out:
    close(fd);
    return ret;
}
