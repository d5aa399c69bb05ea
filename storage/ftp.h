/* SPDX-License-Identifier: MIT */
/* ftp.h - files on FTP servers, through libcurl: passive mode, explicit TLS (FTPS) whenever
 * the server offers it, streamed from and to files.
 *
 * Every connection passes the address guard of fetch.h (fetch_guard_handle()); the data
 * connection goes to the control connection's address only. Messages name the server's
 * answer ("FTP: 530 Login incorrect", "FTP: 550 No such file") and never the password. */
#ifndef CONVERTD_STORAGE_FTP_H
#define CONVERTD_STORAGE_FTP_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

/* Where and as whom. Borrowed strings. */
struct ftp_target {
    const char *host; /* a name or a literal address ([v6] allowed) */
    int port;         /* 0: 21 */
    const char *user;
    const char *password;
};

/* True when host and port are acceptable before anything connects (a host name or
 * address without spaces, '/', '@' or control characters; port 1..65535 or 0). */
bool ftp_target_valid(const struct ftp_target *t, struct err *err);

/* Download `path` (absolute or relative to the login folder) into the file at dest (created
 * 0600), at most max_bytes (ERR_TOOBIG "input too large"). *cancel is polled when not NULL.
 * Errors ERR_CONVERT as above; "FTP server not allowed" for a guarded address. The partial
 * file is removed on failure. */
int ftp_get(const struct ftp_target *t, const char *path, const char *dest, int64_t max_bytes,
            const volatile bool *cancel, struct err *err);

/* Upload the file at src as `path`, creating missing folders. Errors as ftp_get(). */
int ftp_put(const struct ftp_target *t, const char *path, const char *src,
            const volatile bool *cancel, struct err *err);

#endif
