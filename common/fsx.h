/* SPDX-License-Identifier: MIT */
/* fsx.h - file helpers: safe names, mkdir -p, atomic writes, rm -r of a job directory. */
#ifndef CONVERTD_COMMON_FSX_H
#define CONVERTD_COMMON_FSX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Make a directory and its parents (mode 0700). 0 or -1 with err. */
int fsx_mkdir_p(const char *path, struct err *err);

/* Remove a file or a directory tree. Missing is not an error. Never follows symlinks. */
int fsx_rm_rf(const char *path);

/* True when dir holds no entry but . and .. (or cannot be read). */
bool fsx_dir_is_empty(const char *dir);

/* fsync a file by path and then its directory. */
int fsx_fsync_path(const char *path, struct err *err);
int fsx_fsync_dir(const char *dir, struct err *err);

/* Write data to path through path.tmp + fsync + rename + directory fsync. */
int fsx_write_atomic(const char *path, const void *data, size_t len, struct err *err);

/* Read a whole (small) file; *len gets its size. NULL with err on failure or when the file
 * is bigger than max. The result is NUL-terminated. */
char *fsx_read_file(const char *path, size_t max, size_t *len, struct err *err);

/* Size of a file in bytes, or -1. */
int64_t fsx_file_size(const char *path);

/* Make a client-supplied file name safe to use as a single path component and as a ZIP
 * entry name: drop any directory part (after the last / or \), replace control characters,
 * quotes, backslashes and the Unicode bidi overrides with '_', strip leading dots, dashes and
 * spaces, cut to at most 200 bytes on a UTF-8 boundary, and fall back to "file" when nothing
 * is left. Invalid UTF-8 bytes become '_'. Returns a new string. */
char *fsx_safe_name(const char *name);

/* Split a (safe) file name into base and lower-cased extension without the dot
 * ("a b.FLV" -> "a b", "flv"; "noext" -> "noext", ""). Both new strings. */
void fsx_split_name(const char *name, char **base, char **ext);

#endif
