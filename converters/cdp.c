/* SPDX-License-Identifier: MIT */
/* cdp.c - a minimal Chrome DevTools Protocol client over --remote-debugging-pipe. */
#include "converters/cdp.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <jansson.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/timefmt.h"

#define READ_CHUNK    (1024 * 1024)
#define SEND_LIMIT_MS 30000 /* a browser that takes no command for this long is stuck */

struct cdp {
    int fd;
    size_t max;
    struct buf in;  /* bytes read, not yet a whole message */
    size_t scanned; /* in.data[0..scanned) holds no '\0' */
    int next_id;
    cdp_event_fn on_event;
    cdp_tick_fn tick;
    void *opaque;
    /* cdp_call()s under way, innermost last (an event handler may make one), and the
     * replies that came for them */
    int want[CDP_MAX_DEPTH];
    int depth;
    json_t *replies; /* {"ID": reply} */
};

struct cdp *cdp_new(int fd, size_t max_message)
{
    struct cdp *c = xcalloc(1, sizeof *c);
    c->fd = fd;
    c->max = max_message;
    c->next_id = 1;
    c->replies = json_object();
    buf_init(&c->in);
    /* Non-blocking: every wait is a poll() with ticks, so a stuck browser never blocks us. */
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    return c;
}

void cdp_free(struct cdp *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    buf_fini(&c->in);
    json_decref(c->replies);
    free(c);
}

void cdp_set_handlers(struct cdp *c, cdp_event_fn on_event, cdp_tick_fn tick, void *opaque)
{
    c->on_event = on_event;
    c->tick = tick;
    c->opaque = opaque;
}

static bool ticked_cancel(struct cdp *c)
{
    return c->tick && c->tick(c->opaque);
}

static int send_all(struct cdp *c, const char *data, size_t len, struct err *err)
{
    int64_t deadline = time_mono_ms() + SEND_LIMIT_MS;
    size_t off = 0;

    while (off < len) {
        ssize_t n = send(c->fd, data + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int64_t left = deadline - time_mono_ms();
            if (left <= 0)
                return err_set(err, ERR_CONVERT, "Chromium stopped taking commands");
            struct pollfd pf = {.fd = c->fd, .events = POLLOUT};
            if (poll(&pf, 1, left < CDP_TICK_MS ? (int)left : CDP_TICK_MS) < 0 && errno != EINTR)
                return err_set(err, ERR_INTERNAL, "chromium: poll: %s", strerror(errno));
            if (ticked_cancel(c))
                return err_set(err, ERR_CANCELLED, "cancelled");
            continue;
        }
        return err_set(err, ERR_CONVERT, "Chromium has exited");
    }
    return 0;
}

int cdp_send(struct cdp *c, const char *session, const char *method, json_t *params,
             struct err *err)
{
    json_t *msg = json_object();
    int id = c->next_id++;

    json_object_set_new(msg, "id", json_integer(id));
    json_object_set_new(msg, "method", json_string(method));
    if (session)
        json_object_set_new(msg, "sessionId", json_string(session));
    json_object_set_new(msg, "params", params ? params : json_object());
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (!text)
        return err_set(err, ERR_INTERNAL, "chromium: cannot encode %s", method);
    /* The terminating NUL that json_dumps wrote is the protocol's message separator. */
    int rc = send_all(c, text, strlen(text) + 1, err);
    free(text);
    return rc < 0 ? -1 : id;
}

/* One complete message: a reply (kept when awaited) or an event (dispatched). */
static void dispatch(struct cdp *c, json_t *msg)
{
    json_t *id = json_object_get(msg, "id");
    if (json_is_integer(id)) {
        for (int i = 0; i < c->depth; i++) {
            if (json_integer_value(id) == c->want[i]) {
                char key[24];
                snprintf(key, sizeof key, "%d", c->want[i]);
                json_object_set(c->replies, key, msg);
                return;
            }
        }
        /* A command sent without waiting: only its failure is worth a line. */
        json_t *e = json_object_get(msg, "error");
        if (e)
            log_debug("chromium: command %lld failed: %s", (long long)json_integer_value(id),
                      json_string_value(json_object_get(e, "message")));
        return;
    }
    const char *method = json_string_value(json_object_get(msg, "method"));
    if (method && c->on_event)
        c->on_event(c->opaque, json_string_value(json_object_get(msg, "sessionId")), method,
                    json_object_get(msg, "params"));
}

/* Dispatch the complete messages in the buffer. Returns how many. Each message leaves the
 * buffer before it is dispatched: an event handler's own cdp_call() reads into it again. */
static int dispatch_buffered(struct cdp *c)
{
    int n = 0;

    while (c->scanned < c->in.len) {
        char *z = memchr(c->in.data + c->scanned, '\0', c->in.len - c->scanned);
        if (!z) {
            c->scanned = c->in.len;
            break;
        }
        size_t end = (size_t)(z - c->in.data);
        json_error_t jerr;
        json_t *msg = json_loadb(c->in.data, end, 0, &jerr);
        memmove(c->in.data, c->in.data + end + 1, c->in.len - end - 1);
        c->in.len -= end + 1;
        c->in.data[c->in.len] = '\0';
        c->scanned = 0;
        if (json_is_object(msg))
            dispatch(c, msg);
        else
            log_debug("chromium: unreadable DevTools message: %s", jerr.text);
        json_decref(msg);
        n++;
    }
    return n;
}

int cdp_pump(struct cdp *c, int timeout_ms, struct err *err)
{
    int64_t deadline = time_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);

    for (;;) {
        int64_t left = deadline - time_mono_ms();
        struct pollfd pf = {.fd = c->fd, .events = POLLIN};
        int r = poll(&pf, 1, left <= 0 ? 0 : left < CDP_TICK_MS ? (int)left : CDP_TICK_MS);
        if (r < 0 && errno != EINTR)
            return err_set(err, ERR_INTERNAL, "chromium: poll: %s", strerror(errno));
        if (r > 0) {
            char chunk[65536];
            int got = 0;
            /* Drain what is there (a screenshot is megabytes), then hand out messages. */
            for (int i = 0; i < READ_CHUNK / (int)sizeof chunk; i++) {
                ssize_t n = recv(c->fd, chunk, sizeof chunk, 0);
                if (n > 0) {
                    buf_append(&c->in, chunk, (size_t)n);
                    got = 1;
                    continue;
                }
                if (n < 0 && errno == EINTR)
                    continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                    break;
                if (dispatch_buffered(c) > 0 && json_object_size(c->replies) > 0)
                    return 1; /* the last words before exiting still count */
                return err_set(err, ERR_CONVERT, "Chromium has exited");
            }
            if (got) {
                int n = dispatch_buffered(c);
                if (c->in.len > c->max)
                    return err_set(err, ERR_CONVERT,
                                   "Chromium sent a message larger than %zu MiB, the limit",
                                   c->max >> 20);
                if (n > 0)
                    return 1;
            }
        }
        if (ticked_cancel(c))
            return err_set(err, ERR_CANCELLED, "cancelled");
        if (time_mono_ms() >= deadline)
            return 0;
    }
}

int cdp_call(struct cdp *c, const char *session, const char *method, json_t *params, int timeout_ms,
             json_t **result, struct err *err)
{
    int64_t deadline = time_mono_ms() + timeout_ms;
    json_t *reply = NULL;
    char key[24];
    int rc = -1;

    if (result)
        *result = NULL;
    if (c->depth >= CDP_MAX_DEPTH) {
        json_decref(params);
        return err_set(err, ERR_INTERNAL, "chromium: DevTools calls nested too deep (%s)", method);
    }
    int id = cdp_send(c, session, method, params, err);
    if (id < 0)
        return -1;
    snprintf(key, sizeof key, "%d", id);
    c->want[c->depth++] = id;
    while (!(reply = json_object_get(c->replies, key))) {
        int64_t left = deadline - time_mono_ms();
        if (left <= 0) {
            err_set(err, ERR_CONVERT, "Chromium did not answer %s within %d s", method,
                    timeout_ms / 1000);
            goto out;
        }
        if (cdp_pump(c, (int)left, err) < 0)
            goto out;
    }
    json_t *e = json_object_get(reply, "error");
    if (e) {
        const char *m = json_string_value(json_object_get(e, "message"));
        err_set(err, ERR_CONVERT, "Chromium refused %s: %s", method, m ? m : "unknown error");
        goto out;
    }
    if (result) {
        *result = json_object_get(reply, "result");
        json_incref(*result);
    }
    rc = 0;
out:
    /* Calls end innermost first: this one is the last of the stack. */
    c->depth--;
    json_object_del(c->replies, key);
    return rc;
}
