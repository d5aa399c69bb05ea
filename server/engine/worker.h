/* SPDX-License-Identifier: MIT */
/* worker.h - the pool of sandboxed `convertd worker` processes that run conversions.
 *
 * The server keeps N long-lived workers, each started by fork+exec of convertd itself with
 * one end of a socketpair as fd 3. A job goes in as one JSON line; progress lines and one
 * result line come back. A worker that crashes, hangs past the deadline or is cancelled is
 * killed with its process group and replaced; its job fails and nothing else notices. */
#ifndef CONVERTD_SERVER_ENGINE_WORKER_H
#define CONVERTD_SERVER_ENGINE_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#include "common/err.h"
#include "converters/converter.h"

struct worker_config {
    const char *exe;          /* absolute path of the convertd binary (/proc/self/exe) */
    int count;                /* number of worker processes */
    bool test_converters;     /* pass --test-converters to workers */
    int64_t mem_limit_bytes;  /* RLIMIT_AS per worker */
    int64_t max_output_bytes; /* RLIMIT_FSIZE per job */
    struct conv_limits limits;
    /* A server running as root starts its workers as this unprivileged account (run_uid > 0);
     * the engine hands each job folder to it. 0: workers keep the server's account. */
    uid_t run_uid;
    gid_t run_gid;
};

struct worker_job {
    const char *process_id; /* for cancel and logs */
    enum conv_mode mode;
    const char *in_format;
    const char *out_format;    /* NULL in INFO mode */
    const json_t *options;     /* effective options (options_apply) */
    const char *job_dir;       /* absolute; the worker chdirs and sets TMPDIR here */
    const char *const *inputs; /* absolute paths, NULL-terminated */
    const char *output_dir;    /* absolute, existing and empty */
    int timeout_s;             /* wall-clock limit of the conversion */
};

/* Progress from the worker, already throttled by nobody: called for every line. duration is
 * the media duration in seconds once the converter knows it, else 0. */
typedef void (*worker_progress_fn)(void *opaque, double percent, const char *message,
                                   double duration);

int worker_pool_start(const struct worker_config *cfg, struct err *err);

/* The account workers run as, when it is not the server's own: true and *uid, *gid set. */
bool worker_job_owner(uid_t *uid, gid_t *gid);
/* Kill every worker and wait for them. Running worker_run() calls fail with ERR_CANCELLED. */
void worker_pool_stop(void);

/* Run one job, blocking until a worker is free and the job ends. 0 on success with *info
 * set in INFO mode (new ref, else NULL); -1 with err: ERR_CONVERT and the converter's
 * message, "conversion crashed (signal N)", "time limit exceeded", or ERR_CANCELLED after
 * worker_cancel(). */
int worker_run(const struct worker_job *job, worker_progress_fn progress, void *opaque,
               json_t **info, struct err *err);

/* Cancel the job of that process if it is running or waiting for a worker. */
void worker_cancel(const char *process_id);

/* `convertd worker [--test-converters]`: the worker process itself (never returns to the
 * caller's main loop; returns the exit status). */
int worker_main(int argc, char **argv);

#endif
