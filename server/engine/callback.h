/* SPDX-License-Identifier: MIT */
/* callback.h - callback delivery: rows inserted with the final step (a transactional outbox)
 * and sent by one dispatcher thread through the guarded fetcher, retried on connect/TLS
 * errors, timeouts, 5xx and 429 up to 5 times, --callback-retry-delay apart. */
#ifndef CONVERTD_SERVER_ENGINE_CALLBACK_H
#define CONVERTD_SERVER_ENGINE_CALLBACK_H

#include "common/err.h"

/* The full callback URL: url + ('?' or '&') + id=ID&url=PROCESS_URL&step=STEP. New string. */
char *callback_url(const char *url, const char *id, const char *process_url, const char *step);

/* Queue a callback inside the caller's open transaction. */
int callback_insert(const char *process_id, const char *full_url, const char *step,
                    struct err *err);

/* Wake the dispatcher (after the transaction that inserted rows committed). */
void callback_kick(void);

int callback_start(void);
void callback_stop(void);

#endif
