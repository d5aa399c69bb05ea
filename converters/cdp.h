/* SPDX-License-Identifier: MIT */
/* cdp.h - a minimal Chrome DevTools Protocol client over --remote-debugging-pipe.
 *
 * Chromium reads commands from its fd 3 and writes replies and events to its fd 4, each a
 * JSON text ended by '\0'. This client holds our end of that channel (one stream socket, so
 * that a browser gone away is EPIPE, never SIGPIPE), numbers commands, waits for their
 * replies and hands every event to one callback. Sessions are flattened: a command for a
 * page carries its "sessionId" beside "id" and "method".
 */
#ifndef CONVERTD_CONVERTERS_CDP_H
#define CONVERTD_CONVERTERS_CDP_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

typedef struct json_t json_t; /* jansson's type; C11 allows repeating the typedef */

struct cdp;

/* An event: method ("Page.loadEventFired"), its params (borrowed, may be NULL) and the
 * session it came from (NULL for the browser). It may call cdp_send() and cdp_call(); such
 * nested calls go at most CDP_MAX_DEPTH deep in all. */
typedef void (*cdp_event_fn)(void *opaque, const char *session, const char *method, json_t *params);

/* Called at least every CDP_TICK_MS while waiting; true stops the wait (ERR_CANCELLED). */
typedef bool (*cdp_tick_fn)(void *opaque);

#define CDP_TICK_MS   200
#define CDP_MAX_DEPTH 4

/* Take ownership of fd (our end of the channel). Messages longer than max_message bytes
 * are refused (the wait then fails with ERR_CONVERT). */
struct cdp *cdp_new(int fd, size_t max_message);

/* Close the channel and free everything. NULL is fine. */
void cdp_free(struct cdp *c);

void cdp_set_handlers(struct cdp *c, cdp_event_fn on_event, cdp_tick_fn tick, void *opaque);

/* Send one command without waiting; params is stolen (NULL: none). Returns its id (> 0),
 * or -1 with err (ERR_CONVERT when the browser is gone). */
int cdp_send(struct cdp *c, const char *session, const char *method, json_t *params,
             struct err *err);

/* Send one command and wait up to timeout_ms for its reply, dispatching events meanwhile.
 * 0 with *result (new reference, may be NULL when not wanted) set to the reply's "result";
 * -1 with err: ERR_CONVERT "METHOD: <protocol error message>", a timeout or a lost browser;
 * ERR_CANCELLED when the tick said so. */
int cdp_call(struct cdp *c, const char *session, const char *method, json_t *params, int timeout_ms,
             json_t **result, struct err *err);

/* Read and dispatch whatever arrives within timeout_ms (0: only what is already there).
 * Returns after the first read that gave complete messages, or at the timeout: 1 when
 * messages were dispatched, 0 when none, -1 with err as for cdp_call(). */
int cdp_pump(struct cdp *c, int timeout_ms, struct err *err);

#endif
