/* SPDX-License-Identifier: MIT */
/* converter.h - the contract between the worker and a conversion backend.
 *
 * A converter is a const table of facts (which format pairs, which options) plus one
 * convert() callback. registry.c lists the converters compiled in; /conversiontypes is
 * generated from that list, so it never lies.
 *
 * Output files: convert() writes only into job->output_dir. One output file may have any
 * name ("out.png"); the server renames it NAME.EXT. Several files are named "N.EXT", N being
 * the 1-based page or frame number in the input (or the position for thumbnails), plus at
 * most one "main.EXT" (the converted file next to its thumbnails). The server turns these
 * into NAME-N.EXT and NAME.EXT.
 */
#ifndef CONVERTD_CONVERTERS_CONVERTER_H
#define CONVERTD_CONVERTERS_CONVERTER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

typedef struct json_t json_t; /* jansson's type; C11 allows repeating the typedef */

enum conv_mode {
    CONV_MODE_CONVERT = 1 << 0,
    CONV_MODE_INFO = 1 << 1,
    CONV_MODE_COMBINE = 1 << 2,
    CONV_MODE_ARCHIVE = 1 << 3,
    CONV_MODE_EXTRACT = 1 << 4,
};

enum conv_opt_type { CONV_OPT_BOOL, CONV_OPT_INT, CONV_OPT_NUMBER, CONV_OPT_STRING, CONV_OPT_ENUM };

/* One converteroptions key. Tables end with an all-zero entry. */
struct conv_option {
    const char *name; /* JSON key, e.g. "quality" */
    enum conv_opt_type type;
    const char *def;            /* default as JSON text: "75", "\"auto\""; NULL = null */
    double min, max;            /* INT and NUMBER only; min == max means unbounded */
    const char *const *choices; /* ENUM only, NULL-terminated, lower-case; matched ignoring case */
    /* STRING only, optional: true when the value is acceptable. */
    bool (*valid)(const char *value);
};

/* One inputformat -> outputformat pair. Tables end with an all-zero entry. In INFO mode
 * the pair's out is ignored: a converter offers info for every input it lists. "*" as in
 * or out matches every format (an archive takes any file; an archive's members are any). */
struct conv_pair {
    const char *in;
    const char *out;
    const char *group; /* "image", "video", "audio", "document", "archive" */
};

/* Limits a converter must check from headers before decoding (security.md SEC-09). */
struct conv_limits {
    int64_t max_pixels; /* width * height * pages */
    int max_side;       /* either side */
    int max_pages;      /* pages or frames */
};

/* Called in the worker process. percent is 0..100 (or -1 for unknown). Returns true when
 * the job was cancelled: the converter then stops at the next safe point and fails with
 * ERR_CANCELLED. */
typedef bool (*conv_progress_fn)(void *opaque, double percent, const char *message);

/* One conversion. Owned by the worker; convert() borrows it until it returns. */
struct conv_job {
    enum conv_mode mode;
    const char *const *inputs; /* NULL-terminated paths; exactly one unless COMBINE/ARCHIVE */
    const char *output_dir;    /* write results here and nowhere else */
    const char *in_format;     /* canonical names (formats.h) */
    const char *out_format;    /* NULL in INFO mode */
    const json_t *options;     /* borrowed; validated, typed, defaults filled in (options.h) */
    const struct conv_limits *limits;
    conv_progress_fn progress;
    void *progress_opaque;
    int threads; /* cores this job may use (≥ 1); see converter.cores */
    /* The worker's hand-over socket to the server's web proxy (storage/webproxy.h), or 0 when
     * there is none (fd 0 is never one). */
    int proxy_fd;
};

/* The limits a converter applies: the job's, each one a caller left at 0 (a unit test's job)
 * replaced by the server's default (--max-pixels, --max-side, --max-pages). */
#define CONV_DEFAULT_PIXELS ((int64_t)100000000)
#define CONV_DEFAULT_SIDE   32768
#define CONV_DEFAULT_PAGES  1000

static inline struct conv_limits conv_limits_of(const struct conv_job *job)
{
    const struct conv_limits *j = job->limits;
    struct conv_limits l = {
        .max_pixels = j && j->max_pixels > 0 ? j->max_pixels : CONV_DEFAULT_PIXELS,
        .max_side = j && j->max_side > 0 ? j->max_side : CONV_DEFAULT_SIDE,
        .max_pages = j && j->max_pages > 0 ? j->max_pages : CONV_DEFAULT_PAGES,
    };
    return l;
}

struct conv_result {
    json_t *info; /* INFO mode: new reference set by convert(), freed by the worker */
    /* Media duration in seconds (audio/video inputs), set as soon as it is known: the worker
     * sends it with the next progress call and it becomes converter.duration. */
    double duration;
};

struct converter {
    const char *name; /* shown as converter.type in process status */
    unsigned modes;   /* CONV_MODE_* bits */
    int priority;     /* higher wins when two converters offer the same pair */
    const struct conv_pair *pairs;
    const struct conv_option *options;
    const char *note; /* shown as "note" in /conversiontypes; may be NULL */

    /* Optional; once per worker process at startup. Return -1 to disable this converter
     * without failing the whole worker. */
    int (*init)(struct err *err);
    void (*cleanup)(void);

    /* Optional, in the server before a job is queued: refuse option combinations that
     * options_apply() cannot see (a codec the container cannot hold). -1 with ERR_BADPARAM
     * and a message naming the option. `options` are the effective options. */
    int (*check)(const char *in, const char *out, enum conv_mode mode, const json_t *options,
                 struct err *err);

    /* Optional: how many of the machine's `cores` one job wants. The engine counts a job as
     * that many worker slots' worth of CPU and passes it as conv_job.threads. NULL or a
     * result < 1: its share, cores / workers. */
    int (*cores)(const char *in, const char *out, enum conv_mode mode, int cores);

    /* 0 on success; -1 with err->code ERR_CONVERT or ERR_CANCELLED. */
    int (*convert)(const struct conv_job *job, struct conv_result *res, struct err *err);
};

#endif
