/* SPDX-License-Identifier: MIT */
/* waiters.c - suspended connections and their wake-ups.
 *
 * DESIGN
 * A waiter is added and its connection suspended under one mutex, and notify resumes under
 * the same mutex, so a resume can never reach a connection that is not suspended yet. The
 * handler re-checks the process after adding itself and notifies itself if the process
 * became final in between (no lost wake-up). A timer thread resumes waiters whose deadline
 * passed; MHD then calls the handler again, which answers the current status.
 */
#include "server/engine/waiters.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/id.h"
#include "common/mem.h"
#include "common/timefmt.h"

struct waiter {
    struct waiter *next;
    struct MHD_Connection *conn;
    char id[ID_LEN + 1];
    int64_t deadline_ms;
    bool *expired;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct waiter *list;
static pthread_t timer;
static atomic_bool stopping;
static bool started;

void waiters_add(struct MHD_Connection *c, const char *process_id, int64_t deadline_ms,
                 bool *expired)
{
    struct waiter *w = xcalloc(1, sizeof *w);
    w->conn = c;
    snprintf(w->id, sizeof w->id, "%s", process_id);
    w->deadline_ms = deadline_ms;
    w->expired = expired;
    *expired = false;
    pthread_mutex_lock(&lock);
    MHD_suspend_connection(c);
    if (stopping) {
        /* Shutting down: answer at once. */
        *expired = true;
        MHD_resume_connection(c);
        free(w);
    } else {
        w->next = list;
        list = w;
        pthread_cond_signal(&cond);
    }
    pthread_mutex_unlock(&lock);
}

void waiters_notify(const char *process_id)
{
    pthread_mutex_lock(&lock);
    for (struct waiter **pp = &list; *pp;) {
        struct waiter *w = *pp;
        if (strcmp(w->id, process_id) == 0) {
            *pp = w->next;
            MHD_resume_connection(w->conn);
            free(w);
        } else {
            pp = &w->next;
        }
    }
    pthread_mutex_unlock(&lock);
}

void waiters_forget(struct MHD_Connection *c)
{
    pthread_mutex_lock(&lock);
    for (struct waiter **pp = &list; *pp; pp = &(*pp)->next) {
        if ((*pp)->conn == c) {
            struct waiter *w = *pp;
            *pp = w->next;
            free(w);
            break;
        }
    }
    pthread_mutex_unlock(&lock);
}

static void *timer_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    while (!stopping) {
        int64_t now = time_mono_ms(), next = now + 1000;
        for (struct waiter **pp = &list; *pp;) {
            struct waiter *w = *pp;
            if (w->deadline_ms <= now) {
                *pp = w->next;
                *w->expired = true;
                MHD_resume_connection(w->conn);
                free(w);
            } else {
                if (w->deadline_ms < next)
                    next = w->deadline_ms;
                pp = &w->next;
            }
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wait_ms = next - now;
        ts.tv_sec += wait_ms / 1000;
        ts.tv_nsec += (wait_ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&cond, &lock, &ts);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

int waiters_start(void)
{
    stopping = false;
    if (pthread_create(&timer, NULL, timer_thread, NULL) != 0)
        return -1;
    started = true;
    return 0;
}

void waiters_stop(void)
{
    pthread_mutex_lock(&lock);
    stopping = true;
    while (list) {
        struct waiter *w = list;
        list = w->next;
        *w->expired = true;
        MHD_resume_connection(w->conn);
        free(w);
    }
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    if (started)
        pthread_join(timer, NULL);
    started = false;
}
