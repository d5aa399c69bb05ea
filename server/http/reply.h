/* SPDX-License-Identifier: MIT */
/* reply.h - every response convertd sends: JSON bodies, {"error","code"} errors, redirects
 * and files, all with the headers the contract and security.md ask for. */
#ifndef CONVERTD_SERVER_HTTP_REPLY_H
#define CONVERTD_SERVER_HTTP_REPLY_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <microhttpd.h>

#include "common/err.h"

/* Queue a JSON body (steals the reference to body). */
enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, json_t *body);

/* Queue JSON text (takes ownership of text, a malloc'd string). */
enum MHD_Result reply_json_text(struct MHD_Connection *c, unsigned status, char *text);

/* {"error": msg, "code": status}. */
enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *msg);

/* reply_error with the status of err->code; adds Retry-After for 429/503. */
enum MHD_Result reply_err(struct MHD_Connection *c, const struct err *err);

/* 303 See Other to an absolute URL, text/plain body "See Other. Redirecting to URL". */
enum MHD_Result reply_see_other(struct MHD_Connection *c, const char *url);

/* Serve [offset, offset+len) of the open file fd (the response takes the fd and closes it).
 * status 200 or 206 (then total gives Content-Range); name gives Content-Disposition
 * (attachment unless inline; SVG/HTML are never inline); ext gives Content-Type. */
enum MHD_Result reply_file(struct MHD_Connection *c, unsigned status, int fd, uint64_t offset,
                           uint64_t len, uint64_t total, const char *name, const char *ext,
                           bool inline_disp);

/* Content-Disposition value for name (RFC 6266 + 8187): ASCII fallback with
 * [^A-Za-z0-9._-] replaced by '_' and filename*=UTF-8''percent-encoded. New string. */
char *reply_content_disposition(const char *name, bool inline_disp);

#endif
