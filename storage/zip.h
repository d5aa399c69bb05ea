/* SPDX-License-Identifier: MIT */
/* zip.h - several output files into one ZIP (libarchive), written once when a process
 * finishes. */
#ifndef CONVERTD_STORAGE_ZIP_H
#define CONVERTD_STORAGE_ZIP_H

#include "common/err.h"

/* Write a ZIP at zip_path holding the files dir/names[i] as entries names[i] (names are
 * server-generated and safe), streaming each file. Written to zip_path.tmp, fsync'd and
 * renamed. */
int zip_write(const char *zip_path, const char *dir, const char *const *names, struct err *err);

#endif
