/* SPDX-License-Identifier: MIT */
/* xfer.h - the libcurl transfer pieces the storage modules share (S3, FTP, Dropbox, Google
 * Drive): a request body streamed from a window of a file or from memory, a reply body into a
 * file with a byte cap or into a capped buffer, and cancel through the progress callback.
 *
 * A module keeps a struct xfer in its own per-request state, fills in the sources and targets,
 * and calls xfer_install() on its easy handle; after curl_easy_perform() the flags say what
 * went wrong on our side. Nothing here logs or sets err except xfer_local_error(). */
#ifndef CONVERTD_STORAGE_XFER_H
#define CONVERTD_STORAGE_XFER_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

/* One transfer's sources, targets and what its callbacks saw. */
struct xfer {
    CURL *curl; /* set by xfer_install() */
    const volatile bool *cancel;
    /* Reply body: to out_fd when it is >= 0, at most max_bytes (too_big), else into body, at
     * most body_max (body_cut). With http_status, a reply that is not 2xx goes into body even
     * when out_fd >= 0 (an error document, not the object). */
    int out_fd;
    int64_t max_bytes;
    int64_t written;
    bool http_status;
    struct buf body;
    size_t body_max;
    /* Request body: mem_len bytes of mem when mem is set, else in_left bytes of in_fd from
     * in_off; in_left < 0 reads in_fd from in_off to its end. */
    int in_fd;
    int64_t in_off;
    int64_t in_left;
    const char *mem;
    size_t mem_len;
    bool cancelled;
    bool too_big;
    bool body_cut;
    bool file_short; /* the file shrank while it was read */
    int write_errno;
    int read_errno;
};

/* Zeroed, no files, an empty body capped at body_max; *cancel is polled when not NULL. */
void xfer_init(struct xfer *x, const volatile bool *cancel, size_t body_max);

/* Frees the body; the files are the caller's. */
void xfer_fini(struct xfer *x);

/* The write, read and progress callbacks with x as their data, and progress switched on.
 * CURLE_OK, or the code of the first option that failed. */
CURLcode xfer_install(CURL *c, struct xfer *x);

/* Our side's failure after a perform, in this order: "cancelled" (ERR_CANCELLED), "input too
 * large" (ERR_TOOBIG, also for CURLE_FILESIZE_EXCEEDED), "cannot write input file: ...",
 * "cannot read output file: ...", "output file changed during the upload" (ERR_CONVERT).
 * -1 with err, or 0 when none happened. */
int xfer_local_error(const struct xfer *x, CURLcode rc, struct err *err);

/* True when rc is a failure of the transfer: a reply body cut at body_max is not one. */
bool xfer_curl_failed(const struct xfer *x, CURLcode rc);

/* True when s holds a control character: it could end a header line or an FTP command. */
bool xfer_has_control(const char *s);

/* curl_slist_append() of fmt with its one %s as value; aborts on allocation failure. */
struct curl_slist *xfer_header_add(struct curl_slist *list, const char *fmt, const char *value);

/* For a header callback's line: true for a status line ("HTTP/..."), which starts a new
 * response (after "100 Continue" too). */
bool xfer_status_line(const char *data, size_t len);

/* The value of the header line data[0..len) when it is `name` ("etag:", any case), without
 * the blanks around it and the line end; new string, or NULL for another header. */
char *xfer_header_value(const char *data, size_t len, const char *name);

#endif
