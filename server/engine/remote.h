/* SPDX-License-Identifier: MIT */
/* remote.h - a process's remote storage (spec "Storage parameters"): S3 and FTP targets
 * parsed from the start request, kept in memory only (credentials never reach the database,
 * a log line or a response), and the transfers through storage/s3.h and storage/ftp.h. */
#ifndef CONVERTD_SERVER_ENGINE_REMOTE_H
#define CONVERTD_SERVER_ENGINE_REMOTE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

typedef struct json_t json_t;

struct remote;

/* Parse `spec`, the object under `input` or `output` ({"s3": {...}} or {"ftp": {...}}).
 * `role` is "input" or "output" (output takes path and acl). -1 with ERR_BADPARAM naming the
 * parameter ("output[s3][bucket] is missing"); a storage we do not have → ERR_BADPARAM
 * "output dropbox is not supported by this server". */
int remote_parse(const json_t *spec, const char *role, struct remote **out, struct err *err);
void remote_free(struct remote *r);

/* "s3" or "ftp". */
const char *remote_kind(const struct remote *r);

/* Keep a copy of r for process id in memory (role "input" or "output"); find it again (a
 * new copy, NULL when none: the server restarted meanwhile); forget everything of a process
 * (final step, delete). */
void remote_keep(const char *id, const char *role, const struct remote *r);
struct remote *remote_find(const char *id, const char *role);
void remote_forget(const char *id);

/* Fetch `file` (the S3 key or FTP path) into dest, at most max_bytes. */
int remote_get(const struct remote *r, const char *file, const char *dest, int64_t max_bytes,
               const volatile bool *cancel, struct err *err);

/* Store the local file as output `name`: under the output path when it is a folder (ends
 * with '/', or several files go out), as the path itself for a single file, else as name.
 * *where gets the key or path used (new string). */
int remote_put(const struct remote *r, const char *local, const char *name, bool several,
               char **where, const volatile bool *cancel, struct err *err);

/* The status object of where the output went, never with credentials:
 * {"s3": {"bucket", "path", "region"}} or {"ftp": {"host", "path"}}. New reference. */
json_t *remote_public(const struct remote *r, const char *path);

#endif
