/* SPDX-License-Identifier: MIT */
/* webproxy.h - the address-guarded HTTP proxy that every request of a web-page render passes
 * (security.md SEC-01/02/21).
 *
 * Chromium runs in a worker's private network namespace, where the only listener is the
 * worker's forwarder on 127.0.0.1. The forwarder hands each TCP connection it accepts to the
 * server over the worker's hand-over socket (a SOCK_SEQPACKET unix socket, one descriptor per
 * message as SCM_RIGHTS). The server speaks HTTP proxy on that connection: `CONNECT host:port`
 * (https, websockets) and absolute-form requests (`GET http://host/path HTTP/1.1`). Host
 * names are resolved here, every candidate address is checked with fetch_address_allowed()
 * and only a checked address is connected to, so a page can reach nothing a download could
 * not. Refusals answer 403 (address not allowed), 400 (not a proxy request), 502 (no such
 * host, connect failed), 503 (too many connections) with a one-line text body.
 */
#ifndef CONVERTD_STORAGE_WEBPROXY_H
#define CONVERTD_STORAGE_WEBPROXY_H

#include "common/err.h"

/* Serve one worker's hand-over socket (the server's end) on a detached thread until the
 * worker closes its end or dies; each connection handed over gets its own detached thread.
 * Takes ownership of fd (closed when the worker goes). 0, or -1 with err (ERR_INTERNAL). */
int webproxy_attach(int fd, struct err *err);

/* Worker side: pass one accepted connection to the server over the hand-over socket. The
 * caller still owns conn_fd and closes it afterwards. 0, or -1 with errno set. */
int webproxy_handoff(int channel_fd, int conn_fd);

#endif
