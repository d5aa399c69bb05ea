/* SPDX-License-Identifier: MIT */
/* http.c - libmicrohttpd glue: the daemon, the three-phase access handler, body streaming and
 * request cleanup.
 *
 * DESIGN
 * MHD runs an internal polling thread with a thread pool and suspend/resume. Each request
 * gets a struct request on its first handler call (headers complete, no body read): there
 * the route is matched and limits are checked so oversized or misrouted bodies are refused
 * before they are read (413/404/405 at once; MHD then closes the connection). Body chunks
 * are streamed: JSON and urlencoded text into a bounded buffer, files (PUT bodies and
 * multipart file parts) straight to a temporary file. On the final call the parameters are
 * merged and the endpoint handler runs; it may suspend the connection (waiters.c), in which
 * case MHD calls the handler again after the resume. A GET answered on the very first call
 * makes libmicrohttpd 0.9.75 close a keep-alive connection, so answers wait for the second
 * call unless a body must not be read.
 */
#include "server/http/http.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/fsx.h"
#include "common/id.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/text.h"
#include "common/timefmt.h"
#include "server/config.h"
#include "server/engine/process.h"
#include "server/engine/waiters.h"
#include "server/http/api.h"
#include "server/http/multipart.h"
#include "server/http/params.h"
#include "server/http/reply.h"

#define MIN_BODY_RATE (16 * 1024) /* bytes/s a body must average after its first 30 s */

#define WRITE_CHUNK        (256 * 1024)
#define HEADER_DEADLINE_MS 10000 /* SEC-19: a request's headers complete within 10 s */

static struct MHD_Daemon *daemon_;
static int bound_port;

/* ------------------------------------------------------------------ header deadline
 * libmicrohttpd only knows an idle timeout, so a client sending one header line every few
 * seconds could hold a connection forever. Every connection is watched from accept (and
 * again after each answered request, for keep-alive) until its next request's headers are
 * complete; past the deadline a watchdog thread shuts the socket down, which libmicrohttpd
 * then cleans up as a dead connection. The list entry is removed when libmicrohttpd
 * reports the connection closed, which happens before it closes the socket. */

struct conn_watch {
    struct conn_watch *next, **pprev;
    int fd;
    int64_t since_ms;
    bool in_request;
};

static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watch_cond = PTHREAD_COND_INITIALIZER;
static struct conn_watch *watch_list;
static pthread_t watch_thread;
static bool watch_stopping, watch_running;

static struct conn_watch *conn_watch_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

static void conn_watch_set(struct MHD_Connection *c, bool in_request)
{
    struct conn_watch *w = conn_watch_of(c);
    if (!w)
        return;
    pthread_mutex_lock(&watch_lock);
    w->in_request = in_request;
    w->since_ms = time_mono_ms();
    pthread_mutex_unlock(&watch_lock);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!info)
            return;
        struct conn_watch *w = xcalloc(1, sizeof *w);
        w->fd = info->connect_fd;
        w->since_ms = time_mono_ms();
        pthread_mutex_lock(&watch_lock);
        w->next = watch_list;
        if (watch_list)
            watch_list->pprev = &w->next;
        w->pprev = &watch_list;
        watch_list = w;
        pthread_mutex_unlock(&watch_lock);
        *socket_context = w;
    } else if (*socket_context) {
        struct conn_watch *w = *socket_context;
        pthread_mutex_lock(&watch_lock);
        *w->pprev = w->next;
        if (w->next)
            w->next->pprev = w->pprev;
        pthread_mutex_unlock(&watch_lock);
        free(w);
        *socket_context = NULL;
    }
}

static void *watchdog(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&watch_lock);
    while (!watch_stopping) {
        int64_t now = time_mono_ms();
        for (struct conn_watch *w = watch_list; w; w = w->next) {
            if (!w->in_request && now - w->since_ms > HEADER_DEADLINE_MS) {
                shutdown(w->fd, SHUT_RDWR);
                w->since_ms = INT64_MAX / 2; /* once is enough */
            }
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&watch_cond, &watch_lock, &ts);
    }
    pthread_mutex_unlock(&watch_lock);
    return NULL;
}

const char *http_host_header(struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (!h || !*h || strlen(h) > 255)
        return NULL;
    /* HOST is a name ([A-Za-z0-9.-_]) or a bracketed IPv6 literal, then an optional port. */
    const char *p = h;
    if (*p == '[') {
        p += strspn(p + 1, "0123456789abcdefABCDEF:.") + 1;
        if (*p != ']' || p == h + 1)
            return NULL;
        p++;
    } else {
        p += strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_");
        if (p == h)
            return NULL;
    }
    if (*p == ':') {
        char *end;
        errno = 0;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || *end || errno || port < 1 || port > 65535 || p[1] == '+' || p[1] == '-')
            return NULL;
        return h;
    }
    return *p ? NULL : h;
}

bool http_peer_gone(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!info)
        return false;
    char byte;
    ssize_t n = recv(info->connect_fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* ------------------------------------------------------------------ body sinks */

static int file_open(struct request *r, const char *name, struct err *err)
{
    if (r->n_files >= MAX_UPFILES)
        return err_set(err, ERR_BADPARAM, "too many files in one request (at most %d)",
                       MAX_UPFILES);
    char rnd[ID_LEN + 1];
    id_new(rnd);
    struct upfile *f = &r->files[r->n_files];
    f->path = xasprintf("%s/%s", process_incoming_dir(), rnd);
    f->name = name ? xstrdup(name) : NULL;
    f->size = 0;
    r->fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (r->fd < 0 && errno == ENOENT && fsx_mkdir_p(process_incoming_dir(), err) == 0)
        r->fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (r->fd < 0) {
        free(f->path);
        free(f->name);
        f->path = f->name = NULL;
        return err_set(err, ERR_INTERNAL, "cannot store upload: %s", strerror(errno));
    }
    r->n_files++;
    return 0;
}

static int write_all(int fd, const char *data, size_t len, struct err *err)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            /* A full disk is the client's 413-like problem only in size; say what it is. */
            return err_set(err, errno == ENOSPC ? ERR_TOOBIG : ERR_INTERNAL,
                           "cannot store upload: %s", strerror(errno));
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static int file_flush(struct request *r, struct err *err)
{
    int rc = r->wbuf.len ? write_all(r->fd, r->wbuf.data, r->wbuf.len, err) : 0;
    buf_reset(&r->wbuf);
    return rc;
}

/* The multipart parser hands over file bytes between line breaks, which in binary data come
 * every ~128 bytes: small pieces are gathered into WRITE_CHUNK before they reach write(2)
 * (a 33 MB multipart upload: 375 ms → the speed of a PUT). */
static int file_write(struct request *r, const char *data, size_t len, struct err *err)
{
    struct upfile *f = &r->files[r->n_files - 1];
    if (f->size + (int64_t)len > g_config->max_upload_bytes)
        return err_set(err, ERR_TOOBIG, "upload is larger than the limit of %lld bytes",
                       (long long)g_config->max_upload_bytes);
    f->size += (int64_t)len;
    if (r->wbuf.len + len > WRITE_CHUNK && file_flush(r, err) < 0)
        return -1;
    if (len >= WRITE_CHUNK)
        return write_all(r->fd, data, len, err);
    buf_append(&r->wbuf, data, len);
    return 0;
}

static int file_close(struct request *r, struct err *err)
{
    if (r->fd < 0)
        return 0;
    int flushed = file_flush(r, err);
    int rc = close(r->fd);
    r->fd = -1;
    if (flushed < 0)
        return -1;
    if (rc < 0)
        return err_set(err, ERR_INTERNAL, "cannot store upload: %s", strerror(errno));
    return 0;
}

static int part_begin(void *opaque, const char *name, const char *filename, struct err *err)
{
    struct request *r = opaque;
    free(r->part_name);
    r->part_name = xstrdup(name);
    buf_reset(&r->body);
    r->in_file_part = filename != NULL;
    if (!r->in_file_part)
        return 0;
    if (!r->files_allowed)
        return 0; /* discarded: this endpoint takes no files */
    return file_open(r, *filename ? filename : NULL, err);
}

static int part_data(void *opaque, const char *data, size_t len, struct err *err)
{
    struct request *r = opaque;
    if (r->in_file_part)
        return r->files_allowed ? file_write(r, data, len, err) : 0;
    /* Text fields are held in memory: all of them together stay under --max-body-bytes. */
    r->field_bytes += (int64_t)len;
    if (r->field_bytes > g_config->max_body_bytes)
        return err_set(err, ERR_TOOBIG, "form fields are larger than the limit of %lld bytes",
                       (long long)g_config->max_body_bytes);
    buf_append(&r->body, data, len);
    return 0;
}

static int part_end(void *opaque, struct err *err)
{
    struct request *r = opaque;
    if (r->in_file_part) {
        r->in_file_part = false;
        if (!r->files_allowed)
            return 0;
        if (file_close(r, err) < 0)
            return -1;
        /* A browser form with no file chosen sends filename="" and no bytes: no file. */
        struct upfile *f = &r->files[r->n_files - 1];
        if (f->size == 0 && !f->name) {
            unlink(f->path);
            free(f->path);
            f->path = NULL;
            r->n_files--;
        }
        return 0;
    }
    if (!r->form)
        r->form = json_object();
    /* NUL inside a field would silently cut it; refuse instead (SEC-18). */
    if (r->body.len && memchr(r->body.data, '\0', r->body.len))
        return err_set(err, ERR_BADPARAM, "form field %s contains a NUL byte", r->part_name);
    return params_put(r->form, r->part_name, r->body.data ? r->body.data : "", err);
}

static const struct multipart_cb mp_cb = {part_begin, part_data, part_end};

static bool content_type_is(const char *ct, const char *what)
{
    size_t n = strlen(what);
    if (!ct)
        return false;
    while (*ct == ' ')
        ct++;
    return strncasecmp(ct, what, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static bool has_body(struct MHD_Connection *c)
{
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    return (cl && strcmp(cl, "0") != 0) || te;
}

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    (void)value;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
        ++*(int *)cls;
    return MHD_YES;
}

/* Framing a request smuggler could play with: several Content-Length headers (RFC 9112:
 * 400), and transfer codings other than chunked (501; libmicrohttpd would wait for a body
 * it cannot find the end of). 0 or the status to answer. */
static unsigned check_framing(struct MHD_Connection *c)
{
    int n = 0;
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_header, &n);
    if (n > 1)
        return MHD_HTTP_BAD_REQUEST;
    const char *te =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (te && strcasecmp(te, "chunked") != 0)
        return MHD_HTTP_NOT_IMPLEMENTED;
    return 0;
}

/* First call: choose the body sink and refuse what must not be read. -1 → answer r->err now. */
static int setup_body(struct MHD_Connection *c, struct request *r, const char *method)
{
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    enum route_id route = r->m.route;
    bool is_upload = route == ROUTE_UPLOAD;
    r->files_allowed = is_upload || route == ROUTE_START || route == ROUTE_CONVERT;
    r->body_limit = r->files_allowed && content_type_is(ct, "multipart/form-data")
                        ? g_config->max_upload_bytes + g_config->max_body_bytes
                        : g_config->max_body_bytes;
    if (is_upload && strcmp(method, "PUT") == 0)
        r->body_limit = g_config->max_upload_bytes;
    if (cl) {
        char *end;
        errno = 0;
        long long n = strtoll(cl, &end, 10);
        /* A length too large for 64 bits is too large for any limit. */
        if ((errno == ERANGE || (errno == 0 && *end == '\0')) && n > r->body_limit)
            return err_set(&r->err, ERR_TOOBIG,
                           "request body is larger than the limit of %lld "
                           "bytes",
                           (long long)r->body_limit);
    }
    if (is_upload) {
        if (api_upload_precheck(c, r, &r->err) < 0)
            return -1;
        if (strcmp(method, "PUT") == 0) {
            r->kind = BODY_FILE;
            return file_open(r, NULL, &r->err);
        }
    }
    if (!has_body(c)) {
        r->kind = BODY_NONE;
        return 0;
    }
    if (content_type_is(ct, "multipart/form-data")) {
        r->kind = BODY_MULTIPART;
        r->mp = multipart_new(ct, &mp_cb, r, &r->err);
        return r->mp ? 0 : -1;
    }
    if (is_upload) {
        /* POST to an upload URL must be a form (spec "Uploads"). */
        return err_set(&r->err, ERR_BADPARAM,
                       "POST to an upload URL must be multipart/form-data "
                       "with the file in field \"file\"; or PUT the raw bytes");
    }
    /* Any other type is read as JSON, or as a form when it does not look like JSON
     * (finish_body): clients send JSON as text/plain or with no type at all. */
    r->kind = content_type_is(ct, "application/x-www-form-urlencoded") ? BODY_FORM : BODY_JSON;
    return 0;
}

static int feed_body(struct request *r, const char *data, size_t len)
{
    r->body_bytes += (int64_t)len;
    int64_t elapsed = time_mono_ms() - r->start_ms;
    /* SEC-19: after 30 s a body must keep a minimum average rate. */
    if (elapsed > 30000 && r->body_bytes < MIN_BODY_RATE * (elapsed / 1000))
        return err_set(&r->err, ERR_BADPARAM, "request body is arriving too slowly");
    if (r->body_bytes > r->body_limit)
        return err_set(&r->err, ERR_TOOBIG, "request body is larger than the limit of %lld bytes",
                       (long long)r->body_limit);
    switch (r->kind) {
    case BODY_FILE:
        return file_write(r, data, len, &r->err);
    case BODY_MULTIPART:
        return multipart_feed(r->mp, data, len, &r->err);
    case BODY_JSON:
    case BODY_FORM:
        buf_append(&r->body, data, len);
        return 0;
    case BODY_NONE:
    case BODY_DISCARD:
        break;
    }
    return 0;
}

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    struct request *r = cls;
    if (r->err.code)
        return MHD_NO;
    /* A bare flag (?wait) is true; "?wait=" is the empty string, which means "not given"
     * (spec "Conventions", compat C3/C4). */
    if (params_put(r->params, key, value ? value : "true", &r->err) < 0)
        return MHD_NO;
    return MHD_YES;
}

/* Final call, once: finish the body and build r->params. */
static int finish_body(struct MHD_Connection *c, struct request *r)
{
    json_t *body = NULL;
    r->params = json_object();
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_query, r);
    if (r->err.code)
        return -1;
    switch (r->kind) {
    case BODY_FILE:
        if (file_close(r, &r->err) < 0)
            return -1;
        break;
    case BODY_MULTIPART:
        if (multipart_finish(r->mp, &r->err) < 0)
            return -1;
        if (r->fd >= 0 && file_close(r, &r->err) < 0)
            return -1;
        body = r->form ? json_incref(r->form) : json_object();
        break;
    case BODY_FORM:
        body = json_object();
        if (params_parse_urlencoded(body, r->body.data ? r->body.data : "", r->body.len, &r->err) <
            0) {
            json_decref(body);
            return -1;
        }
        break;
    case BODY_JSON: {
        const char *text = r->body.data ? r->body.data : "";
        size_t i = 0;
        while (i < r->body.len && strchr(" \t\r\n", text[i]))
            i++;
        /* A body that is not JSON but looks like a form (a client that forgot its
         * Content-Type) is read as a form. */
        if (i < r->body.len && text[i] != '{' && text[i] != '[' && strchr(text, '=')) {
            body = json_object();
            if (params_parse_urlencoded(body, text, r->body.len, &r->err) < 0) {
                json_decref(body);
                return -1;
            }
        } else {
            body = params_parse_json(text, r->body.len, &r->err);
            if (!body)
                return -1;
        }
        break;
    }
    case BODY_NONE:
    case BODY_DISCARD:
        break;
    }
    if (body) {
        json_t *merged = params_merge(r->params, body);
        json_decref(body);
        json_decref(r->params);
        r->params = merged;
    }
    params_finish(r->params);
    return 0;
}

static enum MHD_Result dispatch(struct MHD_Connection *c, struct request *r)
{
    switch (r->m.route) {
    case ROUTE_CREATE:
        return api_create(c, r);
    case ROUTE_STATUS:
        return api_status(c, r);
    case ROUTE_START:
        return api_start(c, r);
    case ROUTE_DELETE:
        return api_delete(c, r);
    case ROUTE_CONVERT:
        return api_convert(c, r);
    case ROUTE_UPLOAD:
        return api_upload(c, r);
    case ROUTE_DOWNLOAD:
        return api_download(c, r);
    case ROUTE_PROCESSES:
        return api_processes(c, r);
    case ROUTE_CONVERSIONTYPES:
        return api_conversiontypes(c, r);
    case ROUTE_USER:
        return api_user(c, r);
    case ROUTE_NONE:
        break;
    }
    return reply_error(c, MHD_HTTP_NOT_FOUND, "Not found");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)cls;
    (void)version;
    struct request *r = *con_cls;
    if (!r) {
        r = xcalloc(1, sizeof *r);
        r->fd = -1;
        r->start_ms = time_mono_ms();
        *con_cls = r;
        r->head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
        conn_watch_set(c, true);
        unsigned bad = check_framing(c);
        if (bad == MHD_HTTP_BAD_REQUEST)
            return reply_error(c, bad, "several Content-Length headers");
        if (bad)
            return reply_error(c, bad, "only the chunked transfer coding is supported");
        router_match(method, url, &r->m);
        if (r->m.route == ROUTE_NONE)
            err_set(&r->err, ERR_NOTFOUND, "Not found");
        else if (!r->m.method_allowed)
            err_set(&r->err, ERR_METHOD, "Method %s is not allowed here", method);
        else
            setup_body(c, r, method);
        /* Refuse now rather than read a body we will not use. */
        if (r->err.code && has_body(c))
            return reply_err(c, &r->err);
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t len = *upload_data_size;
        *upload_data_size = 0;
        if (r->err.code) {
            /* libmicrohttpd 0.9.75 cannot queue a response in the middle of a body: drain
             * what is on its way and answer at the end; a client that keeps sending far
             * beyond the limit is cut off. */
            r->body_bytes += (int64_t)len;
            return r->body_bytes > r->body_limit + (16 << 20) ? MHD_NO : MHD_YES;
        }
        feed_body(r, upload_data, len);
        return MHD_YES;
    }
    if (!r->body_done) {
        r->body_done = true;
        if (!r->err.code)
            finish_body(c, r);
    }
    if (r->err.code)
        return reply_err(c, &r->err);
    return dispatch(c, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    struct request *r = *con_cls;
    conn_watch_set(c, false);
    if (!r)
        return;
    waiters_forget(c);
    if (r->dl_active) {
        if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
            process_output_served(r->dl_id, r->dl_name, r->dl_claimed);
        else if (r->dl_claimed)
            /* spec "Downloads": the claim is released if the transfer aborts. */
            process_output_release(r->dl_id, r->dl_name);
    }
    if (r->fd >= 0)
        close(r->fd);
    for (int i = 0; i < r->n_files; i++) {
        if (r->files[i].path)
            unlink(r->files[i].path);
        free(r->files[i].path);
        free(r->files[i].name);
    }
    multipart_free(r->mp);
    json_decref(r->form);
    json_decref(r->params);
    buf_fini(&r->body);
    buf_fini(&r->wbuf);
    free(r->part_name);
    free(r->dl_id);
    free(r->dl_name);
    free(r->wait_id);
    route_match_fini(&r->m);
    free(r);
    *con_cls = NULL;
}

/* Percent-decoding of the path and the query, in place. %00 stays as the literal text "%00":
 * a decoded NUL would silently cut a name short ("evil.sh%00.png" → "evil.sh", SEC-18). */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    char *o = s;
    for (const char *p = s; *p; p++) {
        int hi, lo;
        if (*p == '%' && (hi = text_hexval(p[1])) >= 0 && (lo = text_hexval(p[2])) >= 0 &&
            (hi | lo) != 0) {
            *o++ = (char)(hi << 4 | lo);
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return (size_t)(o - s);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    log_debug("http: %s", line);
}

int http_start(struct err *err)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    const char *host = g_config->listen_host;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    /* poll(), not epoll (what MHD_USE_AUTO picks): libmicrohttpd 0.9.75's edge-triggered epoll
     * can miss a client's FIN that arrives right behind the last body bytes, and a half-closed
     * connection with an unfinished body then hangs until the connection timeout. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | MHD_USE_POLL;
    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)g_config->listen_port);
        len = sizeof *sin;
    } else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)g_config->listen_port);
        len = sizeof *sin6;
        flags |= MHD_USE_IPv6;
    } else {
        return err_set(err, ERR_BADPARAM, "listen address %s is not a numeric IP address", host);
    }
    (void)len;
    /* 256 KiB per connection: headers up to 16 KiB reach the handler (spec "Errors") and
     * uploads are read in large chunks. */
    daemon_ = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)g_config->http_threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)g_config->connection_limit, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)g_config->connection_timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)(256 * 1024), MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL, MHD_OPTION_UNESCAPE_CALLBACK, unescape,
        NULL, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        MHD_OPTION_END);
    if (!daemon_)
        return err_set(err, ERR_INTERNAL, "cannot listen on %s:%d", host, g_config->listen_port);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
    bound_port = info ? info->port : g_config->listen_port;
    watch_stopping = false;
    if (pthread_create(&watch_thread, NULL, watchdog, NULL) != 0)
        return err_set(err, ERR_INTERNAL, "cannot start the connection watchdog");
    watch_running = true;
    return 0;
}

int http_port(void)
{
    return bound_port;
}

void http_stop(void)
{
    if (!daemon_)
        return;
    MHD_quiesce_daemon(daemon_);
    /* MHD requires every suspended connection to be resumed before the daemon stops. */
    waiters_stop();
    MHD_stop_daemon(daemon_);
    daemon_ = NULL;
    if (watch_running) {
        pthread_mutex_lock(&watch_lock);
        watch_stopping = true;
        pthread_cond_signal(&watch_cond);
        pthread_mutex_unlock(&watch_lock);
        pthread_join(watch_thread, NULL);
        watch_running = false;
    }
}
