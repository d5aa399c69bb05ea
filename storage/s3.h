/* SPDX-License-Identifier: MIT */
/* s3.h - objects in S3 and S3-compatible stores, through libcurl (its AWS Signature V4
 * signing), streamed from and to files: never a whole object in memory.
 *
 * Every connection passes the address guard of fetch.h (fetch_guard_handle()): a client
 * cannot aim a store at an internal host unless the operator allows it. Messages name the
 * store's answer ("S3: NoSuchBucket: The specified bucket does not exist") and never carry
 * the secret key, the session token or a signed URL. */
#ifndef CONVERTD_STORAGE_S3_H
#define CONVERTD_STORAGE_S3_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

/* Where and as whom. Borrowed strings. */
struct s3_target {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token; /* NULL: none (x-amz-security-token is then not sent) */
    const char *bucket;
    const char *region; /* NULL or "": us-east-1 */
    /* NULL or "": AWS itself, https://BUCKET.s3.REGION.amazonaws.com/KEY (virtual-hosted).
     * Otherwise the base URL of an S3-compatible server ("http://127.0.0.1:9000"), addressed
     * path-style: ENDPOINT/BUCKET/KEY. */
    const char *endpoint;
};

/* True when the bucket name and endpoint are acceptable before anything connects: bucket
 * 3..63 characters of [a-z0-9.-] (and [A-Z_] for older buckets), endpoint NULL/"" or an
 * http(s) URL with a host and no path, query or user info. */
bool s3_target_valid(const struct s3_target *t, struct err *err);

/* GET the object `key` into the file at path (created 0600, truncated), at most max_bytes
 * (ERR_TOOBIG "input too large"). *cancel, when not NULL, is polled (ERR_CANCELLED).
 * Errors ERR_CONVERT: "S3: <Code>: <Message>" from the store's XML error, "S3: HTTP <n>"
 * without one, "S3 endpoint not allowed" for a guarded address, "S3: <curl reason>"
 * otherwise. The partial file is removed on failure. */
int s3_get(const struct s3_target *t, const char *key, const char *path, int64_t max_bytes,
           const volatile bool *cancel, struct err *err);

/* PUT the file at path as object `key`, with x-amz-acl `acl` (NULL: "private") and
 * Content-Type content_type (NULL: application/octet-stream). Files larger than
 * S3_PART_SIZE go up as a multipart upload (parts of S3_PART_SIZE, aborted on failure).
 * Errors as s3_get(). */
int s3_put(const struct s3_target *t, const char *key, const char *path, const char *acl,
           const char *content_type, const volatile bool *cancel, struct err *err);

#define S3_PART_SIZE ((int64_t)64 * 1024 * 1024)

#endif
