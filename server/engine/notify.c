/* SPDX-License-Identifier: MIT */
/* notify.c - email=true notifications, sent by one thread from a bounded queue.
 *
 * notify_email() only builds the message and queues it under a mutex that is never held
 * across network I/O, so an HTTP or engine thread never waits on the relay. The sender
 * thread makes up to 3 attempts 5 s apart. At stop it keeps sending for up to 5 s; a send
 * still stuck on a slow relay after that (mail_send() may take 30 s) is left to finish on a
 * detached thread that frees its own state, so that shutdown is not held up. */
#include "server/engine/notify.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "server/config.h"
#include "storage/mail.h"

#define QUEUE_MAX   1000
#define ATTEMPTS    3
#define DRAIN_MS    5000
#define MESSAGE_MAX 2000 /* bytes of an error message shown in the body */

/* Pause between attempts; tests shorten it. */
UNITTEST int notify_retry_delay_ms;
UNITTEST int notify_retry_delay_ms = 5000;

struct note {
    struct note *next;
    char *to;
    char *id;
    char *subject;
    char *body;
};

struct sender {
    pthread_t thread;
    pthread_cond_t wake;    /* a note was queued, or stop began */
    pthread_cond_t done_cv; /* the thread is about to end */
    struct note *head, *tail;
    int queued;
    bool full_warned;         /* one warning per spell of a full queue */
    bool stopping;            /* stop began: send until deadline, then drop */
    struct timespec deadline; /* CLOCK_MONOTONIC */
    bool done;
    bool orphaned; /* stop stopped waiting: the detached thread frees this itself */
    char *url, *user, *password, *from;
};

/* One lock for the pointer below and every sender's fields: it is static, so a detached
 * sender can still use it after stop returned. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct sender *cur;       /* the running sender, NULL when none */
static bool configured;          /* start saw an --smtp-url */
static bool warned_unconfigured; /* "no --smtp-url" is said once per process */

static struct timespec after_ms(long ms)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static bool ts_before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static bool past(const struct timespec *t)
{
    struct timespec now = after_ms(0);

    return !ts_before(&now, t);
}

static void note_free(struct note *n)
{
    if (n == NULL)
        return;
    free(n->to);
    free(n->id);
    free(n->subject);
    free(n->body);
    free(n);
}

static void sender_free(struct sender *s)
{
    while (s->head != NULL) {
        struct note *n = s->head;
        s->head = n->next;
        note_free(n);
    }
    pthread_cond_destroy(&s->wake);
    pthread_cond_destroy(&s->done_cv);
    free(s->url);
    free(s->user);
    if (s->password != NULL)
        explicit_bzero(s->password, strlen(s->password));
    free(s->password);
    free(s->from);
    free(s);
}

/* s on one line: control characters (a converter's multi-line message) become blanks; cut
 * at max bytes, on a character boundary. */
static void append_line(struct buf *b, const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char out = c < 0x20 || c == 0x7f ? ' ' : (char)c;
        buf_append(b, &out, 1);
    }
    buf_appends(b, "\n");
}

static struct note *note_build(const char *to, const char *id, const char *step,
                               const char *message, const char *download_url)
{
    struct note *n = xcalloc(1, sizeof *n);
    struct buf body = BUF_INIT;
    bool finished = strcmp(step, "finished") == 0;

    n->to = xstrdup(to);
    n->id = xstrdup(id);
    n->subject = xasprintf("convertd: process %s %s", id, finished ? "finished" : "failed");
    buf_appends(&body, "Process: ");
    append_line(&body, id, 200);
    buf_appends(&body, "Step: ");
    append_line(&body, step, 40);
    if (!finished && message != NULL && message[0] != '\0') {
        buf_appends(&body, "Message: ");
        append_line(&body, message, MESSAGE_MAX);
    }
    if (finished && download_url != NULL && download_url[0] != '\0') {
        /* A protocol-relative URL (no --public-url scheme) is no link in a mail reader. */
        buf_appends(&body, strncmp(download_url, "//", 2) == 0 ? "Download: http:" : "Download: ");
        append_line(&body, download_url, 4000);
    }
    n->body = buf_steal(&body);
    return n;
}

/* Wait before the next attempt. False when stop's deadline passed: give up. */
static bool pause_retry(struct sender *s)
{
    struct timespec until = after_ms(notify_retry_delay_ms);
    bool go_on;

    pthread_mutex_lock(&mu);
    for (;;) {
        const struct timespec *t =
            s->stopping && ts_before(&s->deadline, &until) ? &s->deadline : &until;
        if (past(t))
            break;
        pthread_cond_timedwait(&s->wake, &mu, t);
    }
    go_on = !(s->stopping && past(&s->deadline));
    pthread_mutex_unlock(&mu);
    return go_on;
}

static void deliver(struct sender *s, const struct note *n)
{
    struct mail_relay relay = {
        .url = s->url, .user = s->user, .password = s->password, .from = s->from};
    struct err err = ERR_INIT;
    int attempt;

    for (attempt = 1;; attempt++) {
        err_clear(&err);
        if (mail_send(&relay, n->to, n->subject, n->body, &err) == 0) {
            log_debug("email for process %s sent", log_id(n->id));
            return;
        }
        /* A refused recipient stays refused. */
        if (attempt >= ATTEMPTS || err.code == ERR_BADPARAM || !pause_retry(s))
            break;
    }
    /* err.msg comes from mail_send(), which never puts the password in it. */
    log_warn("email for process %s not sent after %d attempt%s: %s", log_id(n->id), attempt,
             attempt == 1 ? "" : "s", err.msg);
}

static void *run(void *arg)
{
    struct sender *s = arg;
    int dropped;
    bool orphaned;

    pthread_mutex_lock(&mu);
    for (;;) {
        struct note *n;

        while (s->head == NULL && !s->stopping)
            pthread_cond_wait(&s->wake, &mu);
        if (s->head == NULL || (s->stopping && past(&s->deadline)))
            break;
        n = s->head;
        s->head = n->next;
        if (s->head == NULL)
            s->tail = NULL;
        if (--s->queued == 0)
            s->full_warned = false;
        pthread_mutex_unlock(&mu);
        deliver(s, n);
        note_free(n);
        pthread_mutex_lock(&mu);
    }
    dropped = s->queued;
    s->done = true;
    orphaned = s->orphaned;
    pthread_cond_signal(&s->done_cv);
    pthread_mutex_unlock(&mu);
    if (dropped > 0)
        log_warn("email: %d queued notification%s dropped at shutdown", dropped,
                 dropped == 1 ? "" : "s");
    if (orphaned)
        sender_free(s);
    return NULL;
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? xstrdup(s) : NULL;
}

void notify_email_start(const struct config *cfg)
{
    struct sender *s;
    pthread_condattr_t ca;

    pthread_mutex_lock(&mu);
    if (cur != NULL) {
        pthread_mutex_unlock(&mu);
        log_warn("email: notifications already started");
        return;
    }
    configured = cfg != NULL && cfg->smtp_url != NULL;
    pthread_mutex_unlock(&mu);
    if (!configured)
        return;

    s = xcalloc(1, sizeof *s);
    s->url = xstrdup(cfg->smtp_url);
    s->user = dup_or_null(cfg->smtp_user);
    s->password = dup_or_null(cfg->smtp_password);
    s->from = dup_or_null(cfg->smtp_from != NULL ? cfg->smtp_from : "convertd@localhost");
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &ca);
    pthread_cond_init(&s->done_cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&s->thread, NULL, run, s) != 0) {
        log_error("email: cannot start the sender thread; notifications will be dropped");
        sender_free(s);
        return;
    }
    pthread_mutex_lock(&mu);
    cur = s;
    pthread_mutex_unlock(&mu);
}

void notify_email_stop(void)
{
    struct sender *s;
    struct timespec give_up;
    bool done;

    pthread_mutex_lock(&mu);
    s = cur;
    cur = NULL;
    if (s == NULL) {
        pthread_mutex_unlock(&mu);
        return;
    }
    s->stopping = true;
    s->deadline = after_ms(DRAIN_MS);
    /* A little past the deadline, for the thread to notice it between two sends. */
    give_up = after_ms(DRAIN_MS + 500);
    pthread_cond_signal(&s->wake);
    while (!s->done && !past(&give_up))
        pthread_cond_timedwait(&s->done_cv, &mu, &give_up);
    done = s->done;
    if (!done)
        s->orphaned = true;
    pthread_mutex_unlock(&mu);
    if (done) {
        pthread_join(s->thread, NULL);
        sender_free(s);
        return;
    }
    pthread_detach(s->thread);
    log_warn("email: the relay is still busy after %d s; queued notifications are dropped",
             DRAIN_MS / 1000);
}

void notify_email(const char *to, const char *process_id, const char *step, const char *message,
                  const char *download_url)
{
    struct note *n;
    bool warn = false, full = false;

    if (to == NULL || process_id == NULL || step == NULL)
        return;
    pthread_mutex_lock(&mu);
    if (cur == NULL) {
        warn = !configured && !warned_unconfigured;
        if (warn)
            warned_unconfigured = true;
        pthread_mutex_unlock(&mu);
        if (warn)
            log_warn("email requested but no --smtp-url is configured");
        else if (configured)
            log_debug("email for process %s dropped: shutting down", log_id(process_id));
        return;
    }
    pthread_mutex_unlock(&mu);

    /* Built outside the lock; the sender may stop meanwhile, which the second look sees. */
    n = note_build(to, process_id, step, message, download_url);
    pthread_mutex_lock(&mu);
    if (cur == NULL) {
        pthread_mutex_unlock(&mu);
        note_free(n);
        return;
    }
    if (cur->queued >= QUEUE_MAX) {
        warn = !cur->full_warned;
        cur->full_warned = true;
        full = true;
    } else {
        if (cur->tail != NULL)
            cur->tail->next = n;
        else
            cur->head = n;
        cur->tail = n;
        cur->queued++;
        pthread_cond_signal(&cur->wake);
    }
    pthread_mutex_unlock(&mu);
    if (full) {
        if (warn)
            log_warn("email: %d notifications waiting for the relay; dropping new ones", QUEUE_MAX);
        note_free(n);
    }
}
