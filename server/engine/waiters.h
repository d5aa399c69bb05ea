/* SPDX-License-Identifier: MIT */
/* waiters.h - suspended HTTP connections waiting on a process (?wait, a download requested
 * before its output exists, start with wait or download). When the process reaches
 * finished or error, or is deleted, every waiter of it is resumed; a timer thread resumes
 * those whose own deadline passed (suspended connections do not time out by themselves). */
#ifndef CONVERTD_SERVER_ENGINE_WAITERS_H
#define CONVERTD_SERVER_ENGINE_WAITERS_H

#include <stdbool.h>
#include <stdint.h>
#include <microhttpd.h>

/* Suspend connection c until process_id changes or deadline_ms (time_mono_ms) passes.
 * *expired is set to true (before the resume) when the deadline was the reason. Call from
 * the access handler only. */
void waiters_add(struct MHD_Connection *c, const char *process_id, int64_t deadline_ms,
                 bool *expired);

/* Resume every waiter of process_id. */
void waiters_notify(const char *process_id);

/* Remove the waiter of c if any (connection closed while suspended is not possible in MHD:
 * this is for cleanup paths). */
void waiters_forget(struct MHD_Connection *c);

int waiters_start(void);
/* Resume everyone (before MHD_stop_daemon) and stop the timer thread. */
void waiters_stop(void);

#endif
