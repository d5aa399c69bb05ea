/* SPDX-License-Identifier: MIT */
/* serve.h - `convertd serve`: start the database, worker pool, engine and HTTP front end,
 * run until SIGTERM/SIGINT, stop in reverse order. */
#ifndef CONVERTD_SERVER_SERVE_H
#define CONVERTD_SERVER_SERVE_H

#include "server/config.h"

/* Runs the server with cfg (already loaded; g_config points at it). Returns the process exit
 * status. At first start (no key in the database) it creates a dev API key and prints
 * "dev API key: KEY" on stdout. */
int serve_main(const struct config *cfg);

#endif
