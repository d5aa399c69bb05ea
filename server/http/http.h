/* SPDX-License-Identifier: MIT */
/* http.h - the libmicrohttpd front end: start/stop, and the per-request context the endpoint
 * handlers (api_*.c) share. */
#ifndef CONVERTD_SERVER_HTTP_HTTP_H
#define CONVERTD_SERVER_HTTP_HTTP_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <microhttpd.h>

#include "common/buf.h"
#include "common/err.h"
#include "server/http/router.h"

struct multipart;

/* A file that arrived in the request body (PUT body or a multipart file part), streamed to
 * a temporary file in the incoming folder. */
struct upfile {
    char *path; /* temporary file; NULL once moved away */
    char *name; /* client-given name (multipart filename), may be NULL */
    int64_t size;
};

#define MAX_UPFILES 16

enum body_kind { BODY_NONE, BODY_JSON, BODY_FORM, BODY_MULTIPART, BODY_FILE, BODY_DISCARD };

struct request {
    struct route_match m;
    bool head;
    int64_t start_ms;

    /* body */
    enum body_kind kind;
    struct buf body; /* JSON/urlencoded text, or the current multipart field */
    int64_t body_bytes;
    int64_t body_limit;
    bool files_allowed; /* file parts are kept (start, convert, upload) */
    struct multipart *mp;
    json_t *form; /* multipart fields */
    bool in_file_part;
    int64_t field_bytes; /* multipart text bytes so far */
    char *part_name;
    int fd;          /* current file being written, -1 */
    struct buf wbuf; /* small writes gathered for fd */
    struct upfile files[MAX_UPFILES];
    int n_files;
    bool body_done;
    struct err err; /* an error found while reading the body: answered at the end */

    /* handler state, kept across suspend/resume */
    json_t *params;
    char *wait_id; /* the process a suspended request waits on */
    int state;
    bool wait_expired;
    int64_t wait_deadline_ms;

    /* one-time download bookkeeping for the completion callback */
    char *dl_id;
    char *dl_name;
    bool dl_claimed;
    bool dl_active;
};

int http_start(struct err *err);
/* The port actually bound (after http_start). */
int http_port(void);
void http_stop(void);

/* True when the client of a (resumed) connection has closed its side: a suspended request
 * whose client left is not answered, so a one-time download is not spent on nobody. */
bool http_peer_gone(struct MHD_Connection *c);

/* The request's Host header, validated; NULL when missing or unsafe. */
const char *http_host_header(struct MHD_Connection *c);

#endif
