/* SPDX-License-Identifier: MIT */
/* webproxy.c - the address-guarded HTTP proxy behind every web-page render (SEC-01/02/21).
 *
 * One detached thread per worker channel receives connection descriptors (SCM_RIGHTS); one
 * detached thread per connection reads the request head, resolves the host, keeps only the
 * addresses fetch_address_allowed() accepts, connects to the first that answers and relays
 * bytes both ways with poll(). The decision is made on the address actually connected to,
 * never on the name, exactly as fetch.c's open_socket() does for downloads. Error replies
 * name what went wrong but never a resolved address (SEC-04). */
#include "storage/webproxy.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/mem.h"
#include "storage/fetch.h"

#define HEAD_MAX           (16 * 1024)
#define HEAD_TIMEOUT_MS    10000
#define CONNECT_TIMEOUT_MS 10000
#define IDLE_TIMEOUT_MS    120000
#define REPLY_TIMEOUT_MS   10000
#define RELAY_BUF          (16 * 1024)
#define MAX_LIVE           256
#define THREAD_STACK       (256 * 1024)
/* After an error reply the client may still be sending (a long head, a body): closing with
 * unread bytes makes the kernel send RST, which can destroy the reply before the client reads
 * it. So read and discard a little first (Apache's lingering close). */
#define LINGER_MS    1000
#define LINGER_BYTES (256 * 1024)

/* Connections being served, server-wide (channel threads increment, connection threads
 * decrement on exit). */
static atomic_int live;

struct request {
    bool tunnel; /* CONNECT */
    char method[32];
    char host[256]; /* without brackets */
    bool host_literal_v6;
    char port[6];
    const char *authority; /* as written in the target: the new Host header */
    size_t authority_len;
    const char *path; /* absolute-form only: origin-form target (may lack the leading "/") */
    size_t path_len;
    const char *version; /* "HTTP/1.x", 8 bytes */
    const char *fields;  /* header lines after the request line, up to the blank line */
    size_t fields_len;
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* poll() one fd until it is ready, the deadline (absolute, now_ms()) passes or it fails.
 * 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = events};

    for (;;) {
        int64_t left = deadline - now_ms();
        int rc;

        if (left <= 0)
            return 0;
        rc = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
        if (rc > 0)
            return 1;
        if (rc == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

static int set_nonblock(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -1;
    return 0;
}

/* Send all of data on a non-blocking socket. MSG_NOSIGNAL: a vanished peer is an error here,
 * not a SIGPIPE that kills the server. 0 or -1. */
static int send_all(int fd, const char *data, size_t len, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;

    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

        if (n > 0) {
            data += n;
            len -= (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(fd, POLLOUT, deadline) != 1)
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

static void linger_close(int fd)
{
    int64_t deadline = now_ms() + LINGER_MS;
    size_t drained = 0;
    char sink[4096];

    shutdown(fd, SHUT_WR);
    while (drained < LINGER_BYTES && wait_fd(fd, POLLIN, deadline) == 1) {
        ssize_t n = recv(fd, sink, sizeof(sink), 0);

        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        if (n <= 0)
            break;
        drained += (size_t)n;
    }
    close(fd);
}

static const char *reason(int code)
{
    switch (code) {
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

/* The one error reply shape; closes fd. what is a fixed text, never an address. */
static void reply_error(int fd, int code, const char *what)
{
    struct buf body = BUF_INIT, head = BUF_INIT;

    buf_printf(&body, "convertd proxy: %s\n", what);
    buf_printf(&head,
               "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
               "Connection: close\r\n\r\n%s",
               code, reason(code), body.len, body.data);
    send_all(fd, head.data, head.len, REPLY_TIMEOUT_MS);
    linger_close(fd);
    buf_fini(&head);
    buf_fini(&body);
}

/* Length of the head (request line, fields and the blank line) in b[0..len), or 0 when the
 * blank line has not arrived yet. Bare LF line ends are accepted as well (RFC 9112 2.2). */
static size_t head_length(const char *b, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (b[i] != '\n')
            continue;
        if (i + 1 < len && b[i + 1] == '\n')
            return i + 2;
        if (i + 2 < len && b[i + 1] == '\r' && b[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* Read until the head is complete. 0 with *head_len set, 400 when it is too long or slow,
 * -1 when the client went away (nothing to answer). */
static int read_head(int fd, char *b, size_t *len, size_t *head_len)
{
    int64_t deadline = now_ms() + HEAD_TIMEOUT_MS;

    *len = 0;
    for (;;) {
        ssize_t n;
        int rc;

        if (*len == HEAD_MAX)
            return 400;
        rc = wait_fd(fd, POLLIN, deadline);
        if (rc == 0)
            return 400;
        if (rc < 0)
            return -1;
        n = recv(fd, b + *len, HEAD_MAX - *len, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        if (n <= 0)
            return -1;
        /* Rescan a little before the new bytes: the blank line may straddle two reads. */
        size_t from = *len > 3 ? *len - 3 : 0;
        *len += (size_t)n;
        size_t h = head_length(b + from, *len - from);
        if (h > 0) {
            *head_len = from + h;
            return 0;
        }
    }
}

static bool is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* host[:port] or [v6][:port] from s[0..n) into rq. Only characters a DNS name or an address
 * literal can hold: nothing odd reaches getaddrinfo(). */
static bool parse_authority(const char *s, size_t n, bool need_port, struct request *rq)
{
    const char *host, *port = NULL;
    size_t host_len, port_len = 0;
    const char *allowed;

    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);

        if (close == NULL)
            return false;
        host = s + 1;
        host_len = (size_t)(close - host);
        if (close + 1 < s + n) {
            if (close[1] != ':')
                return false;
            port = close + 2;
            port_len = (size_t)(s + n - port);
        }
        allowed = "0123456789abcdefABCDEF:.";
        rq->host_literal_v6 = true;
    } else {
        const char *colon = memchr(s, ':', n);

        host = s;
        host_len = colon ? (size_t)(colon - s) : n;
        if (colon != NULL) {
            port = colon + 1;
            port_len = (size_t)(s + n - port);
        }
        allowed = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_";
    }
    if (host_len == 0 || host_len >= sizeof(rq->host))
        return false;
    for (size_t i = 0; i < host_len; i++) {
        if (strchr(allowed, host[i]) == NULL || host[i] == '\0')
            return false;
    }
    memcpy(rq->host, host, host_len);
    rq->host[host_len] = '\0';

    if (port == NULL) {
        if (need_port)
            return false;
        memcpy(rq->port, "80", 3);
    } else {
        long value = 0;

        if (port_len == 0 || port_len > 5)
            return false;
        for (size_t i = 0; i < port_len; i++) {
            if (port[i] < '0' || port[i] > '9')
                return false;
            value = value * 10 + (port[i] - '0');
        }
        if (value < 1 || value > 65535)
            return false;
        memcpy(rq->port, port, port_len);
        rq->port[port_len] = '\0';
    }
    rq->authority = s;
    rq->authority_len = n;
    return true;
}

/* Parse the head's request line. Only CONNECT host:port and absolute-form http:// targets
 * are proxy requests; origin-form and https:// in absolute form are not. */
static bool parse_request(const char *head, size_t head_len, struct request *rq)
{
    const char *eol = memchr(head, '\n', head_len);
    const char *sp1, *sp2, *target, *end;
    size_t line_len, target_len, method_len;

    memset(rq, 0, sizeof(*rq));
    if (eol == NULL)
        return false;
    line_len = (size_t)(eol - head);
    if (line_len > 0 && head[line_len - 1] == '\r')
        line_len--;
    for (size_t i = 0; i < line_len; i++) {
        unsigned char c = (unsigned char)head[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    end = head + line_len;
    sp1 = memchr(head, ' ', line_len);
    if (sp1 == NULL)
        return false;
    sp2 = memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1));
    if (sp2 == NULL || memchr(sp2 + 1, ' ', (size_t)(end - sp2 - 1)) != NULL)
        return false;

    method_len = (size_t)(sp1 - head);
    if (method_len == 0 || method_len >= sizeof(rq->method))
        return false;
    for (size_t i = 0; i < method_len; i++) {
        if (!is_tchar((unsigned char)head[i]))
            return false;
    }
    memcpy(rq->method, head, method_len);
    rq->method[method_len] = '\0';

    rq->version = sp2 + 1;
    if (end - rq->version != 8 ||
        (memcmp(rq->version, "HTTP/1.1", 8) != 0 && memcmp(rq->version, "HTTP/1.0", 8) != 0))
        return false;

    target = sp1 + 1;
    target_len = (size_t)(sp2 - target);
    if (target_len == 0)
        return false;
    rq->fields = eol + 1;
    rq->fields_len = head_len - (size_t)(rq->fields - head);

    if (strcmp(rq->method, "CONNECT") == 0) {
        rq->tunnel = true;
        return parse_authority(target, target_len, true, rq);
    }
    if (target_len < 7 || strncasecmp(target, "http://", 7) != 0)
        return false;
    target += 7;
    target_len -= 7;
    size_t auth_len = 0;
    while (auth_len < target_len && strchr("/?#", target[auth_len]) == NULL)
        auth_len++;
    /* userinfo in a proxy request is a confusion attempt, not something a browser sends. */
    if (memchr(target, '@', auth_len) != NULL)
        return false;
    if (!parse_authority(target, auth_len, false, rq))
        return false;
    rq->path = target + auth_len;
    const char *hash = memchr(rq->path, '#', target_len - auth_len);
    rq->path_len = hash ? (size_t)(hash - rq->path) : target_len - auth_len;
    return true;
}

/* True when the comma-separated list holds token (case-insensitive, spaces trimmed). */
static bool list_has_token(const char *list, const char *token, size_t token_len)
{
    const char *p = list;

    while (*p) {
        size_t n;

        p += strspn(p, " \t,");
        n = strcspn(p, ",");
        size_t t = n;
        while (t > 0 && (p[t - 1] == ' ' || p[t - 1] == '\t'))
            t--;
        if (t == token_len && t > 0 && strncasecmp(p, token, t) == 0)
            return true;
        p += n;
    }
    return false;
}

static bool name_is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

/* Fields that concern only the client-proxy hop, and Host, which rewrite_head() sets. */
static bool is_dropped(const char *name, size_t len)
{
    static const char *const names[] = {"proxy-connection", "proxy-authorization", "connection",
                                        "keep-alive", "host"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (name_is(name, len, names[i]))
            return true;
    }
    return false;
}

/* The upstream request head: origin-form request line, the client's fields minus the
 * hop-by-hop ones (those named in Connection too, RFC 9110 7.6.1), the Host of the target
 * (RFC 9112 3.2.2: a proxy replaces it) and "Connection: close", which makes the upstream
 * end the connection after one response so the relay knows when to stop. 0, or 400 for a
 * malformed field line. */
static int rewrite_head(const struct request *rq, struct buf *out)
{
    struct buf conn_tokens = BUF_INIT;
    int ret = 400;

    buf_appends(&conn_tokens, ""); /* a string even when no Connection field comes */
    for (int pass = 0; pass < 2; pass++) {
        const char *p = rq->fields, *end = rq->fields + rq->fields_len;

        while (p < end) {
            const char *eol = memchr(p, '\n', (size_t)(end - p));
            size_t len = eol ? (size_t)(eol - p) : (size_t)(end - p);
            const char *next = eol ? eol + 1 : end;

            if (len > 0 && p[len - 1] == '\r')
                len--;
            if (len == 0)
                break; /* the blank line */
            /* obs-fold: RFC 9112 5.2 lets a proxy reject it, which keeps filtering simple. */
            if (p[0] == ' ' || p[0] == '\t')
                goto out;
            const char *colon = memchr(p, ':', len);
            if (colon == NULL || colon == p)
                goto out;
            size_t name_len = (size_t)(colon - p);
            for (size_t i = 0; i < name_len; i++) {
                if (!is_tchar((unsigned char)p[i]))
                    goto out;
            }
            for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)p[i];
                if ((c < 0x20 && c != '\t') || c == 0x7f)
                    goto out;
            }
            if (pass == 0) {
                if (name_is(p, name_len, "connection")) {
                    buf_append(&conn_tokens, colon + 1, len - name_len - 1);
                    buf_appends(&conn_tokens, ",");
                }
            } else if (!is_dropped(p, name_len) && !list_has_token(conn_tokens.data, p, name_len)) {
                buf_append(out, p, len);
                buf_appends(out, "\r\n");
            }
            p = next;
        }
        if (pass == 0) {
            buf_appends(out, rq->method);
            buf_appends(out, " ");
            if (rq->path_len == 0 || rq->path[0] != '/')
                buf_appends(out, "/");
            buf_append(out, rq->path, rq->path_len);
            buf_appends(out, " ");
            buf_append(out, rq->version, 8);
            buf_appends(out, "\r\n");
        }
    }
    buf_appends(out, "Host: ");
    buf_append(out, rq->authority, rq->authority_len);
    buf_appends(out, "\r\nConnection: close\r\n\r\n");
    ret = 0;
out:
    buf_fini(&conn_tokens);
    return ret;
}

/* Non-blocking connect with a deadline. 0 when connected. */
static int connect_one(int fd, const struct sockaddr *sa, socklen_t len)
{
    int soerr = 0;
    socklen_t soerr_len = sizeof(soerr);

    if (connect(fd, sa, len) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EINTR)
        return -1;
    if (wait_fd(fd, POLLOUT, now_ms() + CONNECT_TIMEOUT_MS) != 1)
        return -1;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &soerr_len) < 0 || soerr != 0)
        return -1;
    return 0;
}

/* Resolve and connect to the first allowed address that answers. The fd, or -403 (every
 * address refused by policy) / -502 (no such host, or nothing answered). */
static int open_upstream(const struct request *rq)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    bool any_allowed = false;
    int fd = -502;

    hints.ai_flags = AI_NUMERICSERV | (rq->host_literal_v6 ? AI_NUMERICHOST : 0);
    if (getaddrinfo(rq->host, rq->port, &hints, &res) != 0 || res == NULL)
        goto out;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            !fetch_address_allowed(ai->ai_addr))
            continue;
        any_allowed = true;
        int s =
            socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (s < 0)
            continue;
        if (connect_one(s, ai->ai_addr, ai->ai_addrlen) == 0) {
            fd = s;
            goto out;
        }
        close(s);
    }
    fd = any_allowed ? -502 : -403;
out:
    if (res != NULL)
        freeaddrinfo(res);
    return fd;
}

/* One direction of the relay. */
struct flow {
    int from, to;
    char *data;
    size_t cap, len, off; /* pending bytes are data[off..len) */
    bool eof;             /* from sent EOF */
};

static bool flow_done(const struct flow *f)
{
    return f->eof && f->off == f->len;
}

/* Move bytes for one direction after poll(). -1 on a socket error. */
static int flow_step(struct flow *f, short from_revents, short to_revents)
{
    if (f->off < f->len && to_revents != 0) {
        ssize_t n = send(f->to, f->data + f->off, f->len - f->off, MSG_NOSIGNAL);

        if (n > 0) {
            f->off += (size_t)n;
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            return -1;
        }
        if (f->off == f->len)
            f->off = f->len = 0;
    } else if (!f->eof && f->off == f->len && from_revents != 0) {
        ssize_t n = recv(f->from, f->data, f->cap, 0);

        if (n > 0) {
            f->off = 0;
            f->len = (size_t)n;
        } else if (n == 0) {
            f->eof = true;
            shutdown(f->to, SHUT_WR);
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            return -1;
        }
    }
    return 0;
}

/* Relay until both directions have ended (half-close passed on), a socket fails, nothing
 * moves for IDLE_TIMEOUT_MS, or - when stop_on_upstream_eof - the upstream has sent its
 * whole response. initial[0..initial_len) goes upstream first. */
static void relay(int client, int upstream, const char *initial, size_t initial_len,
                  bool stop_on_upstream_eof)
{
    struct flow up = {.from = client, .to = upstream}, down = {.from = upstream, .to = client};

    up.cap = initial_len > RELAY_BUF ? initial_len : RELAY_BUF;
    up.data = xmalloc(up.cap);
    memcpy(up.data, initial, initial_len);
    up.len = initial_len;
    down.cap = RELAY_BUF;
    down.data = xmalloc(down.cap);

    while (!(flow_done(&up) && flow_done(&down))) {
        struct pollfd p[2] = {{.fd = client}, {.fd = upstream}};
        int rc;

        if (stop_on_upstream_eof && flow_done(&down))
            break;
        if (!flow_done(&up))
            p[up.off < up.len ? 1 : 0].events |= up.off < up.len ? POLLOUT : POLLIN;
        if (!flow_done(&down))
            p[down.off < down.len ? 0 : 1].events |= down.off < down.len ? POLLOUT : POLLIN;
        /* A socket nobody waits on may still report POLLHUP/POLLERR, which would spin:
         * leave it out of the set until a direction needs it again. */
        for (int i = 0; i < 2; i++) {
            if (p[i].events == 0)
                p[i].fd = -1;
        }
        rc = poll(p, 2, IDLE_TIMEOUT_MS);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            break;
        if (flow_step(&up, p[0].revents, p[1].revents) < 0 ||
            flow_step(&down, p[1].revents, p[0].revents) < 0)
            break;
    }
    free(up.data);
    free(down.data);
}

static void serve(int client)
{
    static const char established[] = "HTTP/1.1 200 Connection established\r\n\r\n";
    struct request rq;
    struct buf out = BUF_INIT;
    char *head = xmalloc(HEAD_MAX);
    size_t len = 0, head_len = 0;
    int upstream = -1, rc;

    if (set_nonblock(client) < 0) {
        close(client);
        goto out;
    }
    rc = read_head(client, head, &len, &head_len);
    if (rc < 0) {
        close(client);
        goto out;
    }
    if (rc != 0) {
        log_debug("webproxy: request head too long or too slow");
        reply_error(client, 400, "bad request head");
        goto out;
    }
    if (!parse_request(head, head_len, &rq) || (!rq.tunnel && rewrite_head(&rq, &out) != 0)) {
        log_debug("webproxy: not a proxy request");
        reply_error(client, 400, "not a proxy request");
        goto out;
    }
    upstream = open_upstream(&rq);
    if (upstream < 0) {
        log_debug("webproxy: %s %s port %s refused (%d)", rq.method, rq.host, rq.port, -upstream);
        reply_error(client, -upstream,
                    upstream == -403 ? "address not allowed" : "cannot reach host");
        upstream = -1;
        goto out;
    }
    log_debug("webproxy: %s %s port %s", rq.method, rq.host, rq.port);
    if (rq.tunnel) {
        if (send_all(client, established, sizeof(established) - 1, REPLY_TIMEOUT_MS) == 0)
            relay(client, upstream, head + head_len, len - head_len, false);
    } else {
        buf_append(&out, head + head_len, len - head_len);
        relay(client, upstream, out.data, out.len, true);
    }
    close(client);
out:
    if (upstream >= 0)
        close(upstream);
    buf_fini(&out);
    free(head);
}

static void *conn_main(void *arg)
{
    serve((int)(intptr_t)arg);
    atomic_fetch_sub(&live, 1);
    return NULL;
}

static int spawn_detached(void *(*fn)(void *), int fd)
{
    pthread_attr_t attr;
    pthread_t tid;
    int rc;

    rc = pthread_attr_init(&attr);
    if (rc != 0)
        return rc;
    /* Hundreds of these may live at once; the deepest frame is getaddrinfo(). */
    rc = pthread_attr_setstacksize(&attr, THREAD_STACK);
    if (rc == 0)
        rc = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (rc == 0)
        rc = pthread_create(&tid, &attr, fn, (void *)(intptr_t)fd);
    pthread_attr_destroy(&attr);
    return rc;
}

/* One received descriptor: start its thread, or refuse it when the server is full. The
 * refusal runs on the channel thread (the point is not to start another) and may hold it for
 * the lingering close; under overload, slowing the worker's hand-over is what we want. */
static void accept_conn(int fd)
{
    int type = 0;
    socklen_t type_len = sizeof(type);

    /* The worker is the less trusted side: take nothing but a stream socket from it. */
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_len) < 0 || type != SOCK_STREAM) {
        log_debug("webproxy: handed-over descriptor is not a stream socket");
        close(fd);
        return;
    }
    if (atomic_fetch_add(&live, 1) >= MAX_LIVE) {
        atomic_fetch_sub(&live, 1);
        log_debug("webproxy: too many connections");
        if (set_nonblock(fd) == 0)
            reply_error(fd, 503, "too many connections");
        else
            close(fd);
        return;
    }
    if (spawn_detached(conn_main, fd) != 0) {
        atomic_fetch_sub(&live, 1);
        log_debug("webproxy: cannot start a connection thread");
        close(fd);
    }
}

static void *channel_main(void *arg)
{
    int ch = (int)(intptr_t)arg;

    for (;;) {
        char byte;
        /* Room for a few descriptors: a message that carries more than the one the contract
         * allows must not leave the extras open (MSG_CTRUNC would drop them silently). */
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(int) * 8)];
        } ctl;
        struct iovec iov = {.iov_base = &byte, .iov_len = 1};
        struct msghdr msg = {
            .msg_iov = &iov,
            .msg_iovlen = 1,
            .msg_control = ctl.buf,
            .msg_controllen = sizeof(ctl.buf),
        };
        ssize_t n = recvmsg(ch, &msg, MSG_CMSG_CLOEXEC);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
            size_t count;

            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                continue;
            count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < count; i++) {
                int fd;

                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                if (i == 0)
                    accept_conn(fd);
                else
                    close(fd);
            }
        }
    }
    log_debug("webproxy: worker channel closed");
    close(ch);
    return NULL;
}

int webproxy_attach(int fd, struct err *err)
{
    int flags, rc;

    if (fd < 0)
        return err_set(err, ERR_INTERNAL, "webproxy: invalid channel descriptor");
    /* The server fork+execs workers: this end must not leak into them. The channel thread
     * blocks in recvmsg(), so the descriptor must not be non-blocking. */
    flags = fcntl(fd, F_GETFL);
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 || flags < 0 ||
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
        close(fd);
        return err_set(err, ERR_INTERNAL, "webproxy: cannot configure the channel");
    }
    rc = spawn_detached(channel_main, fd);
    if (rc != 0) {
        close(fd);
        return err_set(err, ERR_INTERNAL, "webproxy: cannot start the channel thread");
    }
    return 0;
}

int webproxy_handoff(int channel_fd, int conn_fd)
{
    char byte = 'c';
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = ctl.buf,
        .msg_controllen = sizeof(ctl.buf),
    };
    struct cmsghdr *c;

    memset(ctl.buf, 0, sizeof(ctl.buf));
    c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &conn_fd, sizeof(int));
    for (;;) {
        ssize_t n = sendmsg(channel_fd, &msg, MSG_NOSIGNAL);

        if (n == 1)
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n >= 0)
            errno = EIO;
        return -1;
    }
}
