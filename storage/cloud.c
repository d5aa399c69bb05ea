/* SPDX-License-Identifier: MIT */
/* cloud.c - uploads to Dropbox and Google Drive through their HTTP APIs with libcurl,
 * streamed from files.
 *
 * The shape follows s3.c: one request at a time in a struct cloud_req whose callbacks
 * (xfer.h) read the file (pread at an offset, so a chunk of an upload session is a window of
 * the file), collect a capped reply body and poll the cancel flag. Every handle goes through
 * fetch_guard_handle() (SEC-01/02), the Drive session URI included, and that URI must point
 * back at the configured server: a reply cannot send the file (and our token) elsewhere.
 * Messages carry the service's error text, libcurl's generic reason or our own words, never
 * the access token; nothing here logs. */
#include "storage/cloud.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/mem.h"
#include "common/text.h"
#include "storage/fetch.h"
#include "storage/xfer.h"

/* A reply body is read this far; longer ones are cut off (an upload's answer is small). */
#define BODY_MAX (64 * 1024)
/* Requests without the file's bytes end within this; transfers have no overall limit, the
 * guard's low-speed limit catches stalls. */
#define SHORT_TIMEOUT_S 120L
/* A reply text that is not the service's JSON goes into a message up to this length. */
#define SHORT_TEXT_MAX 120
/* Dropbox's limit for one /2/files/upload, and the chunk size of an upload session (a
 * multiple of 4 MiB, as Dropbox asks of session chunks). */
#define DROPBOX_SINGLE_MAX ((int64_t)150 * 1024 * 1024)
#define DROPBOX_CHUNK      ((int64_t)128 * 1024 * 1024)

/* Tests lower these to send a few KB through an upload session. */
UNITTEST int64_t dropbox_single_max = DROPBOX_SINGLE_MAX;
UNITTEST int64_t dropbox_chunk_size = DROPBOX_CHUNK;

enum service { DROPBOX, GDRIVE };

static const char *const service_name[] = {[DROPBOX] = "Dropbox", [GDRIVE] = "Google Drive"};

/* One request and its callbacks' state. */
struct cloud_req {
    /* The reply body goes into xfer.body; the request body comes from xfer.in_fd or
     * xfer.mem. */
    struct xfer x;
    struct fetch_guard guard;
    char *location; /* the reply's Location header */
    long status;
};

static void req_init(struct cloud_req *r, const volatile bool *cancel)
{
    memset(r, 0, sizeof *r);
    xfer_init(&r->x, cancel, BODY_MAX);
}

static void req_fini(struct cloud_req *r)
{
    xfer_fini(&r->x);
    free(r->location);
    r->location = NULL;
}

static bool is_empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}

/* base (without its trailing slashes) + path. */
static char *join_url(const char *base, const char *path)
{
    size_t n = strlen(base);

    while (n > 0 && base[n - 1] == '/')
        n--;
    return xasprintf("%.*s%s", (int)n, base, path);
}

/* The checks common to both services, before anything connects. */
static int check_common(enum service svc, const char *base, const char *token, const char *src,
                        struct err *err)
{
    const char *name = service_name[svc];

    if (is_empty(base) || !fetch_base_url_ok(base, true))
        return err_set(err, ERR_BADPARAM, "invalid %s URL", name);
    if (is_empty(token))
        return err_set(err, ERR_BADPARAM, "%s access token missing", name);
    /* It becomes a header value: it must not be able to end the line. */
    if (xfer_has_control(token))
        return err_set(err, ERR_BADPARAM, "invalid %s access token", name);
    if (is_empty(src))
        return err_set(err, ERR_INTERNAL, "no output file to upload");
    return 0;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *opaque)
{
    struct cloud_req *r = opaque;
    size_t len = size * nmemb;
    char *location;

    if (xfer_status_line(data, len)) {
        free(r->location);
        r->location = NULL;
        return len;
    }
    location = xfer_header_value(data, len, "location:");
    if (location != NULL) {
        free(r->location);
        r->location = location;
    }
    return len;
}

/* A copy of s fit for a one-line message: control characters blanked, invalid UTF-8
 * replaced; NULL when s is empty or holds the token (a reply that echoes it must not carry
 * it into a message). */
static char *message_text(const char *s, size_t n, const char *token)
{
    char *t;

    while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
        s++, n--;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    if (n == 0)
        return NULL;
    t = xstrndup(s, n);
    if (strstr(t, token) != NULL) {
        free(t);
        return NULL;
    }
    for (char *p = t; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    }
    text_utf8_clean(t);
    return t;
}

/* The service's answer to a failed request as an error. Dropbox: a 409 (an endpoint's own
 * error) is "Dropbox: <error_summary>", anything else "Dropbox: HTTP <n>" and the summary
 * or a short body. Drive: "Google Drive: <error.message>", else "Google Drive: HTTP <n>". */
static int service_error(enum service svc, const struct cloud_req *r, const char *token,
                         struct err *err)
{
    const char *name = service_name[svc];
    const char *data = r->x.body.data != NULL ? r->x.body.data : "";
    json_t *doc = json_loadb(data, r->x.body.len, 0, NULL);
    const char *s = NULL;
    char *text = NULL;

    if (svc == DROPBOX)
        s = json_string_value(json_object_get(doc, "error_summary"));
    else
        s = json_string_value(json_object_get(json_object_get(doc, "error"), "message"));
    if (s != NULL)
        text = message_text(s, strlen(s), token);
    if (text != NULL && (svc == GDRIVE || r->status == 409)) {
        err_set(err, ERR_CONVERT, "%s: %s", name, text);
        goto out;
    }
    if (text == NULL && doc == NULL && !r->x.body_cut && r->x.body.len <= SHORT_TEXT_MAX)
        text = message_text(data, r->x.body.len, token);
    if (text != NULL)
        err_set(err, ERR_CONVERT, "%s: HTTP %ld: %s", name, r->status, text);
    else
        err_set(err, ERR_CONVERT, "%s: HTTP %ld", name, r->status);
out:
    free(text);
    json_decref(doc);
    return -1;
}

/* One POST (body from r->x.in_fd or r->x.mem) or PUT (from r->x.in_fd) to url with the headers
 * (borrowed). 0 for a 2xx answer, else -1 with err. */
static int perform(enum service svc, const char *method, const char *url,
                   const struct curl_slist *headers, const char *token, long timeout_s,
                   struct cloud_req *r, struct err *err)
{
    const char *name = service_name[svc];
    curl_off_t len = (curl_off_t)(r->x.mem != NULL ? (int64_t)r->x.mem_len : r->x.in_left);
    CURL *c;
    CURLcode rc;
    int ret = -1;

    if (r->x.cancel != NULL && *r->x.cancel)
        return err_set(err, ERR_CANCELLED, "cancelled");
    c = curl_easy_init();
    if (c == NULL)
        return err_set(err, ERR_INTERNAL, "cannot set up the %s request", name);
    rc = fetch_guard_handle(c, &r->guard, "http,https");
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(c, opt, val);                                                    \
    } while (0)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_HTTPHEADER, headers);
    SET(CURLOPT_TIMEOUT, timeout_s);
    SET(CURLOPT_FAILONERROR, 0L);
    if (rc == CURLE_OK)
        rc = xfer_install(c, &r->x);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, r);
    if (strcmp(method, "PUT") == 0) {
        SET(CURLOPT_UPLOAD, 1L);
        SET(CURLOPT_INFILESIZE_LARGE, len);
    } else {
        /* POST through the read callback: no POSTFIELDS, the size given so that the body
         * goes with a Content-Length rather than chunked. */
        SET(CURLOPT_POST, 1L);
        SET(CURLOPT_POSTFIELDSIZE_LARGE, len);
    }
#undef SET
    if (rc != CURLE_OK) {
        err_set(err, ERR_INTERNAL, "cannot set up the %s request", name);
        goto out;
    }
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    if (xfer_local_error(&r->x, rc, err) < 0)
        goto out;
    if (xfer_curl_failed(&r->x, rc)) {
        /* As in fetch.c: curl's error buffer would name the address (SEC-04). */
        if (r->guard.blocked)
            err_set(err, ERR_CONVERT, "%s server not allowed", name);
        else
            err_set(err, ERR_CONVERT, "%s: %s", name, curl_easy_strerror(rc));
        goto out;
    }
    if (r->status < 200 || r->status >= 300) {
        service_error(svc, r, token, err);
        goto out;
    }
    ret = 0;
out:
    curl_easy_cleanup(c);
    r->x.curl = NULL;
    return ret;
}

/* The JSON reply of a successful request; NULL with err when it is not an object. */
static json_t *reply_json(enum service svc, const struct cloud_req *r, struct err *err)
{
    json_t *doc = NULL;

    if (!r->x.body_cut && r->x.body.data != NULL)
        doc = json_loadb(r->x.body.data, r->x.body.len, 0, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        err_set(err, ERR_CONVERT, "%s: unexpected reply", service_name[svc]);
        return NULL;
    }
    return doc;
}

/* A string member of a reply, copied; NULL with err when missing or empty. */
static char *reply_string(enum service svc, const struct cloud_req *r, const char *key,
                          struct err *err)
{
    json_t *doc = reply_json(svc, r, err);
    const char *s = json_string_value(json_object_get(doc, key));
    char *copy = NULL;

    if (doc == NULL)
        return NULL;
    if (is_empty(s))
        err_set(err, ERR_CONVERT, "%s: unexpected reply", service_name[svc]);
    else
        copy = xstrdup(s);
    json_decref(doc);
    return copy;
}

/* json as one line of ASCII (Dropbox wants header values so: anything else as \uXXXX). */
static char *dump_ascii(json_t *json)
{
    char *s = json_dumps(json, JSON_COMPACT | JSON_ENSURE_ASCII);

    /* json_dumps() fails only on allocation. */
    if (s == NULL)
        abort();
    return s;
}

/* ---- Dropbox ------------------------------------------------------------------------- */

static struct curl_slist *dropbox_headers(const char *token, const char *arg)
{
    struct curl_slist *h = NULL;

    h = xfer_header_add(h, "Authorization: Bearer %s", token);
    h = xfer_header_add(h, "Content-Type: %s", "application/octet-stream");
    return xfer_header_add(h, "Dropbox-API-Arg: %s", arg);
}

/* One POST of content_url + endpoint with the Dropbox-API-Arg `arg` and len bytes of fd from
 * off as the body; the reply is left in r. */
static int dropbox_call(const char *content_url, const char *endpoint, const char *token,
                        json_t *arg, int fd, int64_t off, int64_t len, struct cloud_req *r,
                        struct err *err)
{
    char *url = join_url(content_url, endpoint), *a = dump_ascii(arg);
    struct curl_slist *h = dropbox_headers(token, a);
    int ret;

    r->x.in_fd = fd;
    r->x.in_off = off;
    r->x.in_left = len;
    ret = perform(DROPBOX, "POST", url, h, token, 0L, r, err);
    curl_slist_free_all(h);
    free(a);
    free(url);
    return ret;
}

static json_t *dropbox_commit(const char *path)
{
    return json_pack("{s:s, s:s, s:b, s:b}", "path", path, "mode", "overwrite", "autorename", 0,
                     "mute", 1);
}

static int dropbox_session(const char *content_url, const char *token, const char *path, int fd,
                           int64_t size, const volatile bool *cancel, struct cloud_req *r,
                           struct err *err)
{
    int64_t chunk = dropbox_chunk_size > 0 ? dropbox_chunk_size : DROPBOX_CHUNK;
    int64_t first = size < chunk ? size : chunk, off;
    char *session_id = NULL;
    json_t *arg;
    int ret = -1;

    /* The first chunk goes with start, the last with finish, the rest with append_v2. */
    arg = json_pack("{s:b}", "close", 0);
    if (dropbox_call(content_url, "/2/files/upload_session/start", token, arg, fd, 0, first, r,
                     err) < 0)
        goto out;
    session_id = reply_string(DROPBOX, r, "session_id", err);
    if (session_id == NULL)
        goto out;
    for (off = first; size - off > chunk; off += chunk) {
        json_decref(arg);
        arg = json_pack("{s:{s:s, s:I}, s:b}", "cursor", "session_id", session_id, "offset",
                        (json_int_t)off, "close", 0);
        req_fini(r);
        req_init(r, cancel);
        if (dropbox_call(content_url, "/2/files/upload_session/append_v2", token, arg, fd, off,
                         chunk, r, err) < 0)
            goto out;
    }
    json_decref(arg);
    arg = json_pack("{s:{s:s, s:I}, s:o}", "cursor", "session_id", session_id, "offset",
                    (json_int_t)off, "commit", dropbox_commit(path));
    req_fini(r);
    req_init(r, cancel);
    ret = dropbox_call(content_url, "/2/files/upload_session/finish", token, arg, fd, off,
                       size - off, r, err);
out:
    json_decref(arg);
    free(session_id);
    return ret;
}

int dropbox_upload(const char *content_url, const char *access_token, const char *path,
                   const char *src, const volatile bool *cancel, char **path_display,
                   struct err *err)
{
    struct cloud_req r;
    struct stat st;
    json_t *arg = NULL;
    int fd = -1, ret = -1;

    *path_display = NULL;
    if (check_common(DROPBOX, content_url, access_token, src, err) < 0)
        return -1;
    /* Absolute and valid UTF-8 (json_string() refuses anything else); control characters
     * are escaped in the header. */
    if (is_empty(path) || path[0] != '/' || strlen(path) > 4096 ||
        !text_utf8_valid(path, strlen(path)))
        return err_set(err, ERR_BADPARAM, "invalid Dropbox path");
    req_init(&r, cancel);
    fd = open(src, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        err_set(err, ERR_INTERNAL, "cannot open output file: %s", strerror(errno));
        goto out;
    }
    if ((int64_t)st.st_size > dropbox_single_max) {
        if (dropbox_session(content_url, access_token, path, fd, (int64_t)st.st_size, cancel, &r,
                            err) < 0)
            goto out;
    } else {
        arg = dropbox_commit(path);
        if (dropbox_call(content_url, "/2/files/upload", access_token, arg, fd, 0,
                         (int64_t)st.st_size, &r, err) < 0)
            goto out;
    }
    *path_display = reply_string(DROPBOX, &r, "path_display", err);
    ret = *path_display != NULL ? 0 : -1;
out:
    json_decref(arg);
    if (fd >= 0)
        close(fd);
    req_fini(&r);
    return ret;
}

/* ---- Google Drive -------------------------------------------------------------------- */

/* location resolved against api_url when it is on the same scheme, host and port; NULL
 * otherwise. The upload carries the token and the file: only to the server we were given. */
static char *session_uri(const char *api_url, const char *location)
{
    static const CURLUPart parts[] = {CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PORT};
    CURLU *base = curl_url(), *loc = NULL;
    char *a = NULL, *b = NULL, *uri = NULL;
    bool same = true;

    if (base == NULL || curl_url_set(base, CURLUPART_URL, api_url, 0) != CURLUE_OK)
        goto out;
    loc = curl_url_dup(base);
    /* Set on a copy of the base: a relative Location resolves against it. */
    if (loc == NULL || curl_url_set(loc, CURLUPART_URL, location, 0) != CURLUE_OK)
        goto out;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0] && same; i++) {
        unsigned flags = parts[i] == CURLUPART_PORT ? CURLU_DEFAULT_PORT : 0;

        if (curl_url_get(base, parts[i], &a, flags) != CURLUE_OK ||
            curl_url_get(loc, parts[i], &b, flags) != CURLUE_OK || strcasecmp(a, b) != 0)
            same = false;
        curl_free(a);
        curl_free(b);
        a = b = NULL;
    }
    if (same && curl_url_get(loc, CURLUPART_URL, &a, 0) == CURLUE_OK && fetch_url_syntax_ok(a))
        uri = xstrdup(a);
out:
    curl_free(a);
    curl_url_cleanup(loc);
    curl_url_cleanup(base);
    return uri;
}

int gdrive_upload(const char *api_url, const char *access_token, const char *folder_id,
                  const char *name, const char *src, const char *content_type,
                  const volatile bool *cancel, char **file_id, struct err *err)
{
    struct curl_slist *h = NULL;
    struct cloud_req r;
    struct stat st;
    json_t *meta = NULL;
    char *url = NULL, *body = NULL, *uri = NULL, *len = NULL;
    int fd = -1, ret = -1;

    *file_id = NULL;
    if (check_common(GDRIVE, api_url, access_token, src, err) < 0)
        return -1;
    if (content_type == NULL)
        content_type = "application/octet-stream";
    if (content_type[0] == '\0' || xfer_has_control(content_type))
        return err_set(err, ERR_BADPARAM, "invalid content type");
    if (is_empty(name) || !text_utf8_valid(name, strlen(name)))
        return err_set(err, ERR_BADPARAM, "invalid Google Drive file name");
    if (folder_id != NULL &&
        (folder_id[0] == '\0' || !text_utf8_valid(folder_id, strlen(folder_id))))
        return err_set(err, ERR_BADPARAM, "invalid Google Drive folder id");
    req_init(&r, cancel);
    fd = open(src, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        err_set(err, ERR_INTERNAL, "cannot open output file: %s", strerror(errno));
        goto out;
    }
    meta = json_pack("{s:s}", "name", name);
    if (folder_id != NULL)
        json_object_set_new(meta, "parents", json_pack("[s]", folder_id));
    body = dump_ascii(meta);
    len = xasprintf("%" PRId64, (int64_t)st.st_size);
    h = xfer_header_add(h, "Authorization: Bearer %s", access_token);
    h = xfer_header_add(h, "Content-Type: %s", "application/json; charset=UTF-8");
    h = xfer_header_add(h, "X-Upload-Content-Type: %s", content_type);
    h = xfer_header_add(h, "X-Upload-Content-Length: %s", len);
    url = join_url(api_url, "/upload/drive/v3/files?uploadType=resumable");
    r.x.mem = body;
    r.x.mem_len = strlen(body);
    if (perform(GDRIVE, "POST", url, h, access_token, SHORT_TIMEOUT_S, &r, err) < 0)
        goto out;
    if (r.location == NULL) {
        err_set(err, ERR_CONVERT, "Google Drive: no upload location in the reply");
        goto out;
    }
    uri = session_uri(api_url, r.location);
    if (uri == NULL) {
        err_set(err, ERR_CONVERT, "Google Drive: unexpected upload location");
        goto out;
    }
    /* The session URI is the upload's credential; the token goes along to the same server as
     * Google's own clients send it. */
    curl_slist_free_all(h);
    h = xfer_header_add(NULL, "Authorization: Bearer %s", access_token);
    h = xfer_header_add(h, "Content-Type: %s", content_type);
    req_fini(&r);
    req_init(&r, cancel);
    r.x.in_fd = fd;
    r.x.in_left = (int64_t)st.st_size;
    if (perform(GDRIVE, "PUT", uri, h, access_token, 0L, &r, err) < 0)
        goto out;
    *file_id = reply_string(GDRIVE, &r, "id", err);
    ret = *file_id != NULL ? 0 : -1;
out:
    curl_slist_free_all(h);
    json_decref(meta);
    if (fd >= 0)
        close(fd);
    req_fini(&r);
    free(len);
    free(uri);
    free(url);
    free(body);
    return ret;
}
