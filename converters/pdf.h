/* SPDX-License-Identifier: MIT */
/* pdf.h - what convertd reads and writes of PDF files through libqpdf (Apache-2.0, linked):
 * the facts a renderer must check before it starts (pages, page sizes), the info object of
 * mode info, merging, image pages, and the embedded images of mode extract. Rendering is
 * Ghostscript's job (ghostscript.c), as a program.
 *
 * Runs in the sandboxed worker. libqpdf throws C++ exceptions inside; its C API turns them
 * into error codes, which become ERR_CONVERT with qpdf's message. */
#ifndef CONVERTD_CONVERTERS_PDF_H
#define CONVERTD_CONVERTERS_PDF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef struct json_t json_t;

struct pdf_page_size {
    double width_pt, height_pt; /* the page's MediaBox (CropBox when set) × UserUnit, rotated */
};

struct pdf_facts {
    int pages;
    struct pdf_page_size *sizes; /* pages entries, or NULL when pages > the caller's cap */
    char *title, *author;        /* from the Info dictionary, UTF-8; NULL when absent */
    char *version;               /* "1.7" */
    bool encrypted;              /* opened (empty user password) but encrypted */
};

/* Read the facts of the PDF at path without rendering anything. More than max_pages pages
 * (max_pages > 0) → -1 with ERR_CONVERT "the PDF has 20000 pages, more than the limit of
 * 1000". A file qpdf cannot read (even after its repairs), or one that needs a password →
 * -1 with ERR_CONVERT naming why ("cannot read the PDF: ...", "the PDF is password
 * protected"). */
int pdf_read_facts(const char *path, int max_pages, struct pdf_facts *facts, struct err *err);
void pdf_facts_fini(struct pdf_facts *facts);

/* The contract's info object for a PDF: format "pdf", size (file_size), pages, page_sizes
 * [{"width_pt","height_pt"}] (numbers, 2 decimals), title, author, pdf_version — only the
 * keys that apply. New reference. */
json_t *pdf_info_json(const struct pdf_facts *facts, int64_t file_size);

/* Merge the inputs, in order, into one PDF at out_path: every page of each, in page order;
 * the document outline (bookmarks) of each input kept where qpdf allows. At most max_pages
 * pages in all (0 = no limit). -1 with ERR_CONVERT naming the input that failed
 * ("input 2: cannot read the PDF: ..."); out_path is removed then. */
int pdf_merge(const char *const *inputs, const char *out_path, int max_pages, struct err *err);

/* One page of pdf_write_images(): 8-bit pixels, or the bytes of a baseline JPEG file that
 * is embedded as it is (DCTDecode, no re-encoding). */
struct pdf_image {
    int width, height;
    int bands;                 /* 1 (gray) or 3 (sRGB); alpha is flattened by the caller */
    const unsigned char *data; /* width × height × bands bytes, rows top to bottom */
    const unsigned char *jpeg; /* or a JPEG file's bytes (data NULL) */
    size_t jpeg_len;
    double dpi; /* page size = pixels / dpi inches; <= 0 means 72 */
};

/* Write a PDF with one page per image, each page exactly the image's size; pixels are
 * stored losslessly (FlateDecode). -1 with ERR_CONVERT; out_path is removed then. */
int pdf_write_images(const struct pdf_image *images, size_t n, const char *out_path,
                     struct err *err);

/* Cancellation check of pdf_extract_images(): the same shape as the converters' progress
 * callback. percent 0..100; true when the job was cancelled. */
typedef bool (*pdf_progress_fn)(void *opaque, double percent, const char *message);

/* Limits of pdf_extract_images(), checked from the image dictionaries before any decoding
 * (security.md SEC-09). 0 or less: no limit. */
struct pdf_extract_limits {
    int max_images;     /* files written at most */
    int64_t max_pixels; /* width × height of one image */
    int max_side;       /* either side of one image */
};

/* Write the image XObjects of the PDF at path into out_dir as "1.EXT", "2.EXT"... in the
 * order of the pages and of their resources (forms included, 8 levels deep); an image used
 * several times is written once. Inline images are ignored. out_format "jpg": a DCTDecode
 * image is written as its JPEG bytes, others are encoded at quality (1..100); "png":
 * everything is decoded and written as PNG. Images this cannot decode (JPX, JBIG2, CCITT;
 * Lab, Separation, DeviceN; damaged data) are skipped. Returns the number written, or -1
 * with ERR_CONVERT (none extractable, an image over a limit, more images than allowed,
 * unreadable PDF) or ERR_CANCELLED; out_dir then holds none of the files. */
int pdf_extract_images(const char *path, const char *out_dir, const char *out_format, int quality,
                       const struct pdf_extract_limits *limits, pdf_progress_fn progress,
                       void *opaque, struct err *err);

#endif
