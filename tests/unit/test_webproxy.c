/* SPDX-License-Identifier: MIT */
/* test_webproxy.c - the address-guarded proxy over real sockets: an origin server and an echo
 * server on 127.0.0.1, a simulated forwarder handing connections over a SOCK_SEQPACKET pair. */
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/mem.h"
#include "storage/addr.h"
#include "storage/fetch.h"
#include "storage/webproxy.h"

#define N(a)         (sizeof(a) / sizeof((a)[0]))
#define BIG_LEN      (1024 * 1024)
#define POST_LEN     40000
#define MAX_LIVE     256 /* webproxy.c's limit */
#define RECORD_MAX   (64 * 1024)
#define IO_TIMEOUT_S 10

/* A listening socket served by one thread. */
struct server {
    int fd;
    int port;
    pthread_t thread;
};

static struct server origin, echo_srv;
static int fwd_listen = -1; /* the simulated worker forwarder */
static int fwd_port;
static int channel = -1; /* the worker's end of the hand-over socket */
static struct addr_allow *allow;
static int baseline_threads;

/* What the origin received last, and how many connections it accepted. */
static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static char rec_head[RECORD_MAX];
static char rec_body[RECORD_MAX];
static size_t rec_body_len;
static atomic_int origin_conns;

static int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.')
            n++;
    }
    closedir(d);
    return n;
}

/* Wait up to 5 s for the process to have want threads. */
static bool threads_settle(int want)
{
    for (int i = 0; i < 500; i++) {
        if (count_threads() == want)
            return true;
        usleep(10000);
    }
    return false;
}

static void set_timeouts(int fd)
{
    struct timeval tv = {.tv_sec = IO_TIMEOUT_S};

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int listen_local(int *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(fd, 512), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static int connect_local(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                             .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    set_timeouts(fd);
    return fd;
}

static void send_all(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        ck_assert_int_gt(n, 0);
        p += n;
        len -= (size_t)n;
    }
}

/* Read until EOF (or timeout/error) into a new NUL-terminated string. */
static char *read_all(int fd, size_t *out_len)
{
    size_t cap = 4096, len = 0;
    char *b = xmalloc(cap + 1);

    for (;;) {
        ssize_t n;

        if (len == cap) {
            cap *= 2;
            b = xrealloc(b, cap + 1);
        }
        n = recv(fd, b + len, cap - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    b[len] = '\0';
    if (out_len != NULL)
        *out_len = len;
    return b;
}

/* Read exactly len bytes; false on EOF/timeout first. */
static bool read_exact(int fd, void *buf, size_t len)
{
    char *p = buf;

    while (len > 0) {
        ssize_t n = recv(fd, p, len, 0);
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* Read a head up to and including the blank line (byte by byte: nothing after it is eaten). */
static void read_head(int fd, char *buf, size_t cap)
{
    size_t len = 0;

    while (len + 1 < cap) {
        ck_assert_msg(recv(fd, buf + len, 1, 0) == 1, "head cut short");
        len++;
        buf[len] = '\0';
        if (len >= 4 && memcmp(buf + len - 4, "\r\n\r\n", 4) == 0)
            return;
    }
    ck_abort_msg("head too long");
}

static void *origin_main(void *arg)
{
    (void)arg;
    for (;;) {
        char head[RECORD_MAX], body[RECORD_MAX], line[512], echo[256] = "";
        size_t body_len = 0;
        char *cl, *xe;
        int c = accept4(origin.fd, NULL, NULL, SOCK_CLOEXEC);

        if (c < 0)
            break;
        atomic_fetch_add(&origin_conns, 1);
        set_timeouts(c);
        read_head(c, head, sizeof(head));
        cl = strcasestr(head, "\r\nContent-Length: ");
        if (cl != NULL) {
            body_len = strtoul(cl + 18, NULL, 10);
            if (body_len > sizeof(body) || !read_exact(c, body, body_len))
                body_len = 0;
        }
        xe = strcasestr(head, "\r\nX-Echo: ");
        if (xe != NULL)
            snprintf(echo, sizeof(echo), "%.*s", (int)strcspn(xe + 10, "\r"), xe + 10);
        snprintf(line, sizeof(line), "%.*s", (int)strcspn(head, "\r"), head);

        pthread_mutex_lock(&rec_lock);
        memcpy(rec_head, head, sizeof(rec_head));
        memcpy(rec_body, body, body_len);
        rec_body_len = body_len;
        pthread_mutex_unlock(&rec_lock);

        char reply[1024], text[900];
        int tn = snprintf(text, sizeof(text), "hello from origin\n%s\n%s\nbody %zu\n", line, echo,
                          body_len);
        int rn = snprintf(reply, sizeof(reply),
                          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                          "Connection: close\r\n\r\n%s",
                          tn, text);
        send_all(c, reply, (size_t)rn);
        close(c);
    }
    return NULL;
}

static void *echo_conn(void *arg)
{
    int c = (int)(intptr_t)arg;
    char buf[16384];
    ssize_t n;

    while ((n = recv(c, buf, sizeof(buf), 0)) > 0) {
        if (send(c, buf, (size_t)n, MSG_NOSIGNAL) != n)
            break;
    }
    close(c);
    return NULL;
}

static void *echo_main(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_t t;
        int c = accept4(echo_srv.fd, NULL, NULL, SOCK_CLOEXEC);

        if (c < 0)
            break;
        set_timeouts(c);
        ck_assert_int_eq(pthread_create(&t, NULL, echo_conn, (void *)(intptr_t)c), 0);
        pthread_detach(t);
    }
    return NULL;
}

static void server_start(struct server *s, void *(*fn)(void *))
{
    s->fd = listen_local(&s->port);
    ck_assert_int_eq(pthread_create(&s->thread, NULL, fn, NULL), 0);
}

static void server_stop(struct server *s)
{
    /* shutdown() wakes a thread blocked in accept(); close() alone does not. */
    shutdown(s->fd, SHUT_RDWR);
    pthread_join(s->thread, NULL);
    close(s->fd);
}

/* A new hand-over channel served by the proxy; returns the worker's end. */
static int new_channel(void)
{
    struct err err = ERR_INIT;
    int sv[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    ck_assert_msg(webproxy_attach(sv[1], &err) == 0, "%s", err.msg);
    return sv[0];
}

/* What the forwarder does: accept a connection from the page and hand it over. */
static int proxy_connect_via(int ch)
{
    int c = connect_local(fwd_port);
    int a = accept4(fwd_listen, NULL, NULL, SOCK_CLOEXEC);

    ck_assert_int_ge(a, 0);
    ck_assert_int_eq(webproxy_handoff(ch, a), 0);
    close(a);
    return c;
}

static int proxy_connect(void)
{
    return proxy_connect_via(channel);
}

/* Send a request through the proxy and read the whole answer. */
static char *exchange(const char *req, size_t req_len, size_t *out_len)
{
    int c = proxy_connect();
    char *res;

    send_all(c, req, req_len);
    res = read_all(c, out_len);
    close(c);
    return res;
}

static char *get_via_proxy(const char *host, int port)
{
    char req[512];
    int n = snprintf(req, sizeof(req),
                     "GET http://%s:%d/hello?x=1 HTTP/1.1\r\nHost: %s:%d\r\n"
                     "Proxy-Connection: keep-alive\r\nX-Echo: ping-42\r\n\r\n",
                     host, port, host, port);
    return exchange(req, (size_t)n, NULL);
}

static void setup(void)
{
    origin_conns = 0;
    fetch_set_policy(true, NULL);
    server_start(&origin, origin_main);
    server_start(&echo_srv, echo_main);
    fwd_listen = listen_local(&fwd_port);
    baseline_threads = count_threads();
    channel = new_channel();
}

static void teardown(void)
{
    if (channel >= 0)
        close(channel);
    channel = -1;
    /* Every proxy and echo thread must be gone before the process exits, or the leak
     * checker of the sanitizer build sees their buffers. */
    ck_assert_msg(threads_settle(baseline_threads), "proxy threads still running");
    server_stop(&origin);
    server_stop(&echo_srv);
    close(fwd_listen);
    fetch_set_policy(false, NULL);
    addr_allow_free(allow);
    allow = NULL;
}

static int status_of(const char *res)
{
    int code = 0;

    if (sscanf(res, "HTTP/1.1 %d ", &code) != 1)
        return -1;
    return code;
}

START_TEST(test_get)
{
    char *res = get_via_proxy("127.0.0.1", origin.port);

    ck_assert_int_eq(status_of(res), 200);
    ck_assert_ptr_nonnull(strstr(res, "\r\n\r\nhello from origin\n"));
    ck_assert_ptr_nonnull(strstr(res, "\nGET /hello?x=1 HTTP/1.1\n"));
    ck_assert_ptr_nonnull(strstr(res, "\nping-42\n"));
    ck_assert_int_eq(origin_conns, 1);
    pthread_mutex_lock(&rec_lock);
    ck_assert_ptr_nonnull(strstr(rec_head, "\r\nConnection: close\r\n"));
    ck_assert_ptr_null(strcasestr(rec_head, "proxy-connection"));
    ck_assert_ptr_null(strcasestr(rec_head, "keep-alive"));
    pthread_mutex_unlock(&rec_lock);
    free(res);
}
END_TEST

/* Hop-by-hop fields go, Host is the target's, everything else passes unchanged. */
START_TEST(test_fields_rewritten)
{
    char req[512];
    int n = snprintf(req, sizeof(req),
                     "GET http://127.0.0.1:%d HTTP/1.0\r\nHost: evil.example\r\n"
                     "Proxy-Authorization: Basic eDp5\r\nConnection: keep-alive, X-Hop\r\n"
                     "Keep-Alive: timeout=5\r\nX-Hop: 1\r\nAccept: */*\r\n\r\n",
                     origin.port);
    char *res = exchange(req, (size_t)n, NULL);
    char host[64];

    ck_assert_int_eq(status_of(res), 200);
    snprintf(host, sizeof(host), "\r\nHost: 127.0.0.1:%d\r\n", origin.port);
    pthread_mutex_lock(&rec_lock);
    ck_assert_msg(strncmp(rec_head, "GET / HTTP/1.0\r\n", 16) == 0, "%s", rec_head);
    ck_assert_ptr_nonnull(strstr(rec_head, host));
    ck_assert_ptr_nonnull(strstr(rec_head, "\r\nAccept: */*\r\n"));
    ck_assert_ptr_nonnull(strstr(rec_head, "\r\nConnection: close\r\n"));
    ck_assert_ptr_null(strstr(rec_head, "evil.example"));
    ck_assert_ptr_null(strcasestr(rec_head, "proxy-authorization"));
    ck_assert_ptr_null(strcasestr(rec_head, "keep-alive"));
    ck_assert_ptr_null(strcasestr(rec_head, "x-hop"));
    pthread_mutex_unlock(&rec_lock);
    free(res);
}
END_TEST

START_TEST(test_post_body)
{
    struct buf_req {
        char head[256];
        char body[POST_LEN];
    } *r = xmalloc(sizeof(*r));
    int hn = snprintf(r->head, sizeof(r->head),
                      "POST http://127.0.0.1:%d/upload HTTP/1.1\r\nContent-Length: %d\r\n\r\n",
                      origin.port, POST_LEN);
    int c = proxy_connect();
    char *res;

    for (size_t i = 0; i < POST_LEN; i++)
        r->body[i] = (char)((i * 7 + i / 251) & 0xff);
    /* Head and the first body bytes in one write, the rest later: both paths are used. */
    send_all(c, r->head, (size_t)hn);
    send_all(c, r->body, 100);
    usleep(50000);
    send_all(c, r->body + 100, POST_LEN - 100);
    res = read_all(c, NULL);
    close(c);

    ck_assert_int_eq(status_of(res), 200);
    ck_assert_ptr_nonnull(strstr(res, "\nPOST /upload HTTP/1.1\n"));
    pthread_mutex_lock(&rec_lock);
    ck_assert_uint_eq(rec_body_len, POST_LEN);
    ck_assert(memcmp(rec_body, r->body, POST_LEN) == 0);
    pthread_mutex_unlock(&rec_lock);
    free(res);
    free(r);
}
END_TEST

START_TEST(test_blocked_then_allowed)
{
    struct err err = ERR_INIT;
    char *res;

    fetch_set_policy(false, NULL);
    res = get_via_proxy("127.0.0.1", origin.port);
    ck_assert_int_eq(status_of(res), 403);
    ck_assert_ptr_nonnull(strstr(res, "\r\n\r\nconvertd proxy: address not allowed\n"));
    ck_assert_ptr_nonnull(strstr(res, "\r\nConnection: close\r\n"));
    ck_assert_ptr_null(strstr(res, "127.0.0.1"));
    ck_assert_int_eq(origin_conns, 0);
    free(res);

    /* Through a name too: the check is on the address, not the name. */
    res = get_via_proxy("localhost", origin.port);
    ck_assert_int_eq(status_of(res), 403);
    ck_assert_int_eq(origin_conns, 0);
    free(res);

    ck_assert_int_eq(addr_allow_add(&allow, "127.0.0.1/32", &err), 0);
    fetch_set_policy(false, allow);
    res = get_via_proxy("127.0.0.1", origin.port);
    ck_assert_int_eq(status_of(res), 200);
    ck_assert_ptr_nonnull(strstr(res, "hello from origin"));
    ck_assert_int_eq(origin_conns, 1);
    free(res);
}
END_TEST

static int connect_tunnel(const char *authority, const char *early, size_t early_len)
{
    static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
    char req[512 + 64], head[1024];
    int n = snprintf(req, 512, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", authority, authority);
    int c = proxy_connect();

    ck_assert_uint_le(early_len, 64);
    memcpy(req + n, early, early_len);
    send_all(c, req, (size_t)n + early_len);
    read_head(c, head, sizeof(head));
    ck_assert_str_eq(head, ok);
    return c;
}

START_TEST(test_connect_echo)
{
    char auth[64], buf[64];
    int c;

    snprintf(auth, sizeof(auth), "127.0.0.1:%d", echo_srv.port);
    c = connect_tunnel(auth, "early bytes", 11);
    ck_assert(read_exact(c, buf, 11));
    ck_assert(memcmp(buf, "early bytes", 11) == 0);
    send_all(c, "second", 6);
    ck_assert(read_exact(c, buf, 6));
    ck_assert(memcmp(buf, "second", 6) == 0);
    /* Half-close passes through: the echo server sees EOF, closes, and so do we. */
    shutdown(c, SHUT_WR);
    ck_assert_int_eq(recv(c, buf, sizeof(buf), 0), 0);
    close(c);
}
END_TEST

/* Write out and read in at the same time (a tunnel buffers only a little). */
static void pump(int fd, const unsigned char *out, size_t out_len, unsigned char *in, size_t in_len)
{
    size_t sent = 0, got = 0;

    while (got < in_len) {
        struct pollfd p = {.fd = fd, .events = POLLIN | (sent < out_len ? POLLOUT : 0)};

        ck_assert_int_gt(poll(&p, 1, IO_TIMEOUT_S * 1000), 0);
        if ((p.revents & POLLOUT) && sent < out_len) {
            ssize_t n = send(fd, out + sent, out_len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            ck_assert(n > 0 || errno == EAGAIN);
            if (n > 0)
                sent += (size_t)n;
            if (sent == out_len)
                shutdown(fd, SHUT_WR);
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = recv(fd, in + got, in_len - got, MSG_DONTWAIT);
            ck_assert_msg(n > 0 || (n < 0 && errno == EAGAIN), "tunnel ended at %zu", got);
            if (n > 0)
                got += (size_t)n;
        }
    }
}

START_TEST(test_connect_big)
{
    unsigned char *out = xmalloc(BIG_LEN), *in = xmalloc(BIG_LEN);
    char auth[64];
    int c;

    for (size_t i = 0; i < BIG_LEN; i++)
        out[i] = (unsigned char)((i * 13 + i / 509) & 0xff);
    snprintf(auth, sizeof(auth), "127.0.0.1:%d", echo_srv.port);
    c = connect_tunnel(auth, "", 0);
    pump(c, out, BIG_LEN, in, BIG_LEN);
    ck_assert(memcmp(in, out, BIG_LEN) == 0);
    ck_assert_int_eq(recv(c, in, 1, 0), 0);
    close(c);
    free(out);
    free(in);
}
END_TEST

START_TEST(test_connect_closed_port)
{
    int port, fd = listen_local(&port);
    char req[128];
    int n;
    char *res;

    close(fd);
    n = snprintf(req, sizeof(req), "CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\n", port);
    res = exchange(req, (size_t)n, NULL);
    ck_assert_int_eq(status_of(res), 502);
    ck_assert_ptr_nonnull(strstr(res, "\r\n\r\nconvertd proxy: "));
    free(res);
}
END_TEST

START_TEST(test_localhost)
{
    char auth[64], buf[8];
    char *res;
    int c;

    snprintf(auth, sizeof(auth), "localhost:%d", echo_srv.port);
    c = connect_tunnel(auth, "ping", 4);
    ck_assert(read_exact(c, buf, 4));
    ck_assert(memcmp(buf, "ping", 4) == 0);
    close(c);

    res = get_via_proxy("localhost", origin.port);
    ck_assert_int_eq(status_of(res), 200);
    ck_assert_ptr_nonnull(strstr(res, "hello from origin"));
    free(res);
}
END_TEST

START_TEST(test_unknown_host)
{
    static const char *const reqs[] = {
        "CONNECT nonexistent.invalid:443 HTTP/1.1\r\n\r\n",
        "GET http://nonexistent.invalid/ HTTP/1.1\r\n\r\n",
    };
    char *res = exchange(reqs[_i], strlen(reqs[_i]), NULL);

    ck_assert_int_eq(status_of(res), 502);
    free(res);
}
END_TEST

/* Not proxy requests, or malformed ones: all 400, and the origin never hears of them. */
static const char *const bad_requests[] = {
    "hello\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    "GET https://127.0.0.1/ HTTP/1.1\r\n\r\n",
    "GET ftp://127.0.0.1/ HTTP/1.1\r\n\r\n",
    "GET http:///x HTTP/1.1\r\n\r\n",
    "GET http://user@127.0.0.1/ HTTP/1.1\r\n\r\n",
    "GET http://127.0.0.1:0/ HTTP/1.1\r\n\r\n",
    "GET http://127.0.0.1/ HTTP/2.0\r\n\r\n",
    "GET http://127.0.0.1/  HTTP/1.1\r\n\r\n",
    "GET http://127.0.0.1/ HTTP/1.1\r\n folded: x\r\n\r\n",
    "GET http://127.0.0.1/ HTTP/1.1\r\nno colon here\r\n\r\n",
    "G(T http://127.0.0.1/ HTTP/1.1\r\n\r\n",
    "CONNECT 127.0.0.1 HTTP/1.1\r\n\r\n",
    "CONNECT 127.0.0.1:99999 HTTP/1.1\r\n\r\n",
    "CONNECT 127.0.0.1:80x HTTP/1.1\r\n\r\n",
    "CONNECT [::1:80 HTTP/1.1\r\n\r\n",
    "CONNECT [::1]x80 HTTP/1.1\r\n\r\n",
    "CONNECT a\001b:80 HTTP/1.1\r\n\r\n",
    "CONNECT a%2fb:80 HTTP/1.1\r\n\r\n",
    "\r\n\r\n",
};

START_TEST(test_bad_request)
{
    char *res = exchange(bad_requests[_i], strlen(bad_requests[_i]), NULL);

    ck_assert_msg(status_of(res) == 400, "request %d: %s", _i, res);
    ck_assert_ptr_nonnull(strstr(res, "\r\nContent-Type: text/plain\r\n"));
    ck_assert_int_eq(origin_conns, 0);
    free(res);
}
END_TEST

/* The 400 body length matches Content-Length. */
START_TEST(test_error_shape)
{
    static const char body[] = "convertd proxy: not a proxy request\n";
    char want[256];
    size_t len;
    char *res = exchange("GET / HTTP/1.1\r\n\r\n", 18, &len);

    snprintf(want, sizeof(want),
             "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n%s",
             sizeof(body) - 1, body);
    ck_assert_str_eq(res, want);
    ck_assert_uint_eq(len, strlen(want));
    free(res);
}
END_TEST

START_TEST(test_head_too_long)
{
    struct buf_req {
        char data[20 * 1024];
    } *r = xmalloc(sizeof(*r));
    size_t len = 0;
    char *res;
    int n;

    n = snprintf(r->data, sizeof(r->data), "GET http://127.0.0.1:%d/ HTTP/1.1\r\n", origin.port);
    len = (size_t)n;
    while (len + 40 < sizeof(r->data)) {
        memcpy(r->data + len, "X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", 38);
        len += 38;
    }
    memcpy(r->data + len, "\r\n", 2);
    len += 2;
    res = exchange(r->data, len, NULL);
    ck_assert_int_eq(status_of(res), 400);
    ck_assert_int_eq(origin_conns, 0);
    free(res);
    free(r);
}
END_TEST

/* A client that goes away before its head is complete gets nothing and costs nothing. */
START_TEST(test_client_gone)
{
    int c = proxy_connect();

    send_all(c, "GET http://127", 14);
    ck_assert(threads_settle(baseline_threads + 2)); /* channel + connection thread */
    close(c);
    /* Well before the 10 s head timeout: the EOF ends the thread. */
    ck_assert(threads_settle(baseline_threads + 1));
    ck_assert_int_eq(origin_conns, 0);
}
END_TEST

START_TEST(test_channel_close_ends_thread)
{
    char byte;
    int c;

    /* The channel thread is running. */
    ck_assert_int_eq(count_threads(), baseline_threads + 1);
    close(channel);
    channel = -1;
    ck_assert(threads_settle(baseline_threads));

    /* Observable from the worker side as well: after a shutdown of the worker's end, the
     * server closes its end, so the worker reads EOF instead of waiting forever. */
    channel = new_channel();
    ck_assert(threads_settle(baseline_threads + 1));
    ck_assert_int_eq(shutdown(channel, SHUT_WR), 0);
    set_timeouts(channel);
    ck_assert_int_eq(recv(channel, &byte, 1, 0), 0);
    ck_assert(threads_settle(baseline_threads));

    /* A connection handed over just before the channel closes is still served. */
    close(channel);
    channel = new_channel();
    c = proxy_connect();
    close(channel);
    channel = -1;
    {
        char req[128];
        int n = snprintf(req, sizeof(req), "GET http://127.0.0.1:%d/late HTTP/1.1\r\n\r\n",
                         origin.port);
        char *res;

        send_all(c, req, (size_t)n);
        res = read_all(c, NULL);
        ck_assert_int_eq(status_of(res), 200);
        free(res);
    }
    close(c);
}
END_TEST

START_TEST(test_handoff_errors)
{
    int sv[2], fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    close(sv[1]);
    errno = 0;
    ck_assert_int_eq(webproxy_handoff(sv[0], fd), -1);
    ck_assert_msg(errno == EPIPE || errno == ECONNREFUSED || errno == ECONNRESET, "%d", errno);
    close(sv[0]);
    errno = 0;
    ck_assert_int_eq(webproxy_handoff(sv[0], fd), -1);
    ck_assert_int_eq(errno, EBADF);
    close(fd);
}
END_TEST

START_TEST(test_attach_bad_fd)
{
    struct err err = ERR_INIT;

    ck_assert_int_eq(webproxy_attach(-1, &err), -1);
    ck_assert_int_eq(err.code, ERR_INTERNAL);
}
END_TEST

/* Something other than a stream socket handed over is closed, not served: the worker is the
 * less trusted side. If the proxy kept it, the peer would not read EOF. */
START_TEST(test_not_a_stream)
{
    int sv[2];
    char byte;

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    set_timeouts(sv[0]);
    ck_assert_int_eq(webproxy_handoff(channel, sv[1]), 0);
    close(sv[1]);
    ck_assert_int_eq(recv(sv[0], &byte, 1, 0), 0);
    close(sv[0]);
}
END_TEST

START_TEST(test_two_channels)
{
    int ch2 = new_channel();
    char auth[64], buf[8];
    int a, b;
    char *res;

    snprintf(auth, sizeof(auth), "127.0.0.1:%d", echo_srv.port);
    a = connect_tunnel(auth, "", 0);
    {
        int tmp = channel;
        channel = ch2;
        b = connect_tunnel(auth, "", 0);
        channel = tmp;
    }
    send_all(b, "bbbb", 4);
    send_all(a, "aaaa", 4);
    ck_assert(read_exact(a, buf, 4));
    ck_assert(memcmp(buf, "aaaa", 4) == 0);
    ck_assert(read_exact(b, buf, 4));
    ck_assert(memcmp(buf, "bbbb", 4) == 0);
    close(a);

    /* Closing one channel leaves the other working. */
    close(channel);
    channel = ch2;
    send_all(b, "cc", 2);
    ck_assert(read_exact(b, buf, 2));
    ck_assert(memcmp(buf, "cc", 2) == 0);
    close(b);
    res = get_via_proxy("127.0.0.1", origin.port);
    ck_assert_int_eq(status_of(res), 200);
    free(res);
}
END_TEST

START_TEST(test_too_many)
{
    int *conns = xmalloc(sizeof(int) * MAX_LIVE);
    char *res;
    int c;

    /* MAX_LIVE connections that have not sent their head yet hold their slots. */
    for (int i = 0; i < MAX_LIVE; i++)
        conns[i] = proxy_connect();
    ck_assert(threads_settle(baseline_threads + 1 + MAX_LIVE));
    c = proxy_connect();
    res = read_all(c, NULL);
    ck_assert_int_eq(status_of(res), 503);
    ck_assert_ptr_nonnull(strstr(res, "convertd proxy: too many connections\n"));
    free(res);
    close(c);

    /* Freed slots are usable again. */
    for (int i = 0; i < MAX_LIVE; i++)
        close(conns[i]);
    ck_assert(threads_settle(baseline_threads + 1));
    res = get_via_proxy("127.0.0.1", origin.port);
    ck_assert_int_eq(status_of(res), 200);
    free(res);
    free(conns);
}
END_TEST

static Suite *webproxy_suite(void)
{
    Suite *s = suite_create("webproxy");
    TCase *tc;

    tc = tcase_create("http");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_get);
    tcase_add_test(tc, test_fields_rewritten);
    tcase_add_test(tc, test_post_body);
    tcase_add_test(tc, test_blocked_then_allowed);
    tcase_add_test(tc, test_localhost);
    tcase_add_loop_test(tc, test_unknown_host, 0, 2);
    suite_add_tcase(s, tc);

    tc = tcase_create("connect");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_connect_echo);
    tcase_add_test(tc, test_connect_big);
    tcase_add_test(tc, test_connect_closed_port);
    suite_add_tcase(s, tc);

    tc = tcase_create("refusals");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_bad_request, 0, (int)N(bad_requests));
    tcase_add_test(tc, test_error_shape);
    tcase_add_test(tc, test_head_too_long);
    tcase_add_test(tc, test_client_gone);
    tcase_add_test(tc, test_too_many);
    suite_add_tcase(s, tc);

    tc = tcase_create("channel");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_channel_close_ends_thread);
    tcase_add_test(tc, test_handoff_errors);
    tcase_add_test(tc, test_attach_bad_fd);
    tcase_add_test(tc, test_not_a_stream);
    tcase_add_test(tc, test_two_channels);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(webproxy_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
