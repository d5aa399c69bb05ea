/* SPDX-License-Identifier: MIT */
/* fetch.h - the one outbound HTTP(S) client (security.md SEC-01..04). Input downloads and
 * callbacks both go through it; every connection's address is checked by
 * CURLOPT_OPENSOCKETFUNCTION against addr.h unless private URLs are allowed. */
#ifndef CONVERTD_STORAGE_FETCH_H
#define CONVERTD_STORAGE_FETCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "common/err.h"

struct addr_allow;

/* Process-wide policy; call once before any fetch (after curl_global_init). The allow
 * list is borrowed for the life of the process. */
void fetch_set_policy(bool allow_private, const struct addr_allow *allow);

/* The policy's decision for one socket address (AF_INET or AF_INET6): true when a fetch may
 * connect to it. The web proxy (webproxy.h) asks the same question. */
bool fetch_address_allowed(const struct sockaddr *sa);

/* Set on a handle by fetch_guard_handle(); owned by the caller for the transfer's life. */
struct fetch_guard {
    bool blocked; /* the address check refused a connection: report "... not allowed" */
};

/* SEC-01's options for a libcurl easy handle of any storage module (S3, FTP, SMTP ...): the
 * address check on every socket (CURLOPT_OPENSOCKETFUNCTION with fetch_address_allowed(),
 * recording g->blocked), only `protocols` ("http,https", "ftp,ftps"), no redirects, no proxy,
 * no .netrc, NOSIGNAL, a 10 s connect timeout and a low-speed limit, FTP data connections to
 * the control connection's address only. Set the URL and the rest afterwards. CURLE_OK, or
 * the code of the first option that failed. */
CURLcode fetch_guard_handle(CURL *c, struct fetch_guard *g, const char *protocols);

/* True for an absolute http:// or https:// URL with a host and no spaces or control
 * characters (checked at create/start, before any connection). */
bool fetch_url_syntax_ok(const char *url);

/* The base URL of a service (an S3 endpoint, a Dropbox or Drive stand-in): fetch_url_syntax_ok()
 * and no user info, query or fragment; a path only when path_allowed. */
bool fetch_base_url_ok(const char *url, bool path_allowed);

struct fetch_result {
    long http_status;
    int64_t size;
    char *filename; /* from Content-Disposition, else the last path segment (percent-decoded),
                       else NULL; new string, caller frees */
};

/* GET url into the file at path (created 0600, truncated), following at most 5 redirects
 * (http/https only), at most max_bytes (ERR_TOOBIG "input too large"). *cancel, when not
 * NULL, is polled and aborts the transfer (ERR_CANCELLED). Errors (ERR_CONVERT):
 * "input URL not allowed" for a blocked address, "input download failed: HTTP 404" for an
 * HTTP error status, "input download failed: <curl reason>" otherwise; never the resolved
 * address or the body. On failure the partial file is removed. */
int fetch_to_file(const char *url, const char *path, int64_t max_bytes, const volatile bool *cancel,
                  struct fetch_result *res, struct err *err);

/* One callback attempt: GET url without following redirects, timeout_s overall.
 * Returns 0 when an HTTP response arrived (*http_status set, whatever it is), -1 with err
 * on a blocked address, connect/TLS error or timeout (ERR_CONVERT). */
int fetch_ping(const char *url, long timeout_s, long *http_status, struct err *err);

void fetch_result_fini(struct fetch_result *res);

#endif
