/* SPDX-License-Identifier: MIT */
/* formats.h - format names: canonical lower-case extensions, aliases, file types from
 * magic bytes, and the Content-Type of an output extension. */
#ifndef CONVERTD_CONVERTERS_FORMATS_H
#define CONVERTD_CONVERTERS_FORMATS_H

#include <stdbool.h>
#include <stddef.h>

/* Canonical name of a client-supplied format: lower-cased, aliases mapped (jpeg->jpg,
 * tif->tiff, mpg->mpeg, htm->html, m4v->mp4, oga->ogg, heic stays heic). Returns a new
 * string, or NULL when name is empty or has characters outside [A-Za-z0-9._-]. */
char *format_canonical(const char *name);

/* The real type of a file from its first bytes (pass at least the first 4096 when the file
 * is that long), as a canonical format name ("png", "jpg", "gif", "webp", "tiff", "svg",
 * "heic", "avif", "jxl", "bmp", "ico", "pdf", "ps", "zip", "mp4", ...), or NULL when unknown. */
const char *format_sniff(const unsigned char *head, size_t len);

/* True when a file sniffed as `sniffed` (may be NULL) may be processed as `inputformat`.
 * Formats we cannot sniff reliably (text formats other than svg, unknown types) are
 * accepted unless the sniffed type is a different known binary format. */
bool format_sniff_matches(const char *inputformat, const char *sniffed);

/* Human name for messages ("PNG", "JPEG", ...): upper-cased extension when unknown.
 * Returns a static string or a thread-local buffer. */
const char *format_display_name(const char *format);

/* Content-Type for serving a file with this extension; never application/json (json is
 * served as application/octet-stream). Unknown → application/octet-stream. */
const char *format_mime_type(const char *ext);

#endif
