/* SPDX-License-Identifier: MIT */
/* zip.h - several output files into one ZIP (libarchive), written once when a process
 * finishes. */
#ifndef CONVERTD_STORAGE_ZIP_H
#define CONVERTD_STORAGE_ZIP_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

struct archive;

/* Called after each block written into an entry with its size; true stops the copy. */
typedef bool (*zip_block_fn)(void *opaque, size_t bytes);

/* Append the regular file at path to an open libarchive writer (zip, tar, 7z …) as entry
 * `name`: mode 0644, modification time `mtime` (< 0: the file's own), streamed through
 * `chunk` (ZIP_CHUNK bytes). Errors name the entry after `what` ("zip: a.png: ..."); a
 * file that is not regular → ERR_CONVERT; block() returning true → ERR_CANCELLED. */
#define ZIP_CHUNK (64 * 1024)
int zip_add_file(struct archive *a, const char *path, const char *name, long long mtime,
                 char *chunk, zip_block_fn block, void *opaque, const char *what, struct err *err);

/* Write a ZIP at zip_path holding the files dir/names[i] as entries names[i] (names are
 * server-generated and safe), streaming each file. Written to zip_path.tmp, fsync'd and
 * renamed. */
int zip_write(const char *zip_path, const char *dir, const char *const *names, struct err *err);

#endif
