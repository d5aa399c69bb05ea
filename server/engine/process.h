/* SPDX-License-Identifier: MIT */
/* process.h - a conversion process: its row in the database, the step machine, and the
 * engine that moves started processes through input → wait → convert → output →
 * finished | error.
 *
 * Only process.c changes a process's step, always through the allowed-transition table
 * and with a compare-and-set on the old step in SQL, so a DELETE racing a finishing
 * conversion can never resurrect a process. */
#ifndef CONVERTD_SERVER_ENGINE_PROCESS_H
#define CONVERTD_SERVER_ENGINE_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "common/err.h"
#include "common/id.h"

struct converter;

enum process_step {
    STEP_INPUT,
    STEP_WAIT,
    STEP_CONVERT,
    STEP_OUTPUT,
    STEP_FINISHED,
    STEP_ERROR,
    STEP_N
};

const char *process_step_name(enum process_step step);
/* -1 for an unknown name. */
int process_step_from_name(const char *name);
bool process_step_allowed(enum process_step from, enum process_step to);

/* One row of the processes table. */
struct process {
    char *id;
    int64_t key_id;
    char *base; /* URL prefix: "//host" or "http://host" */
    char *host;
    char *upload_token;
    char *download_token;
    char *mode;
    char *inputformat;
    char *outputformat; /* NULL until known */
    enum process_step step;
    bool started;
    double percent;
    char *message;
    int code; /* 400 or 422 in step error */
    int64_t created, starttime, endtime, expire;
    int save;
    int64_t downloads;
    json_t *doc;    /* tag, input, converter, output, info, group */
    char *doc_text; /* process_load_status only: doc as text (doc and job stay NULL) */
    json_t *job;    /* engine-only: what is needed to run it */
};

void process_fini(struct process *p);

/* Load by id, or by "upload" / "download" token. -1 with ERR_NOTFOUND "Process not found". */
int process_load(const char *id, struct process *p, struct err *err);
int process_load_by_token(const char *kind, const char *token, struct process *p, struct err *err);

/* Load only what the status shows (the fast path of GET /process/ID). */
int process_load_status(const char *id, struct process *p, struct err *err);

/* The status object of the contract as JSON text; with_code adds "code" and "error" to a
 * failed process (its HTTP answer). New string. */
char *process_status_text(const struct process *p, bool with_code);
/* 200, or 400/422 for a failed process. */
int process_http_status(const struct process *p);
bool process_is_final(const struct process *p);

/* Create a process (step input, not started). mode/out may be NULL. */
int process_create(int64_t key_id, const char *base, const char *host, const char *mode,
                   const char *inputformat, const char *outputformat, struct process *out,
                   struct err *err);

enum input_type { INPUT_UPLOAD, INPUT_DOWNLOAD, INPUT_RAW, INPUT_BASE64, INPUT_REMOTE };

struct remote;

/* A validated start request (api_process.c builds it). Everything borrowed. */
/* One input of a combine or archive process (spec "Modes", "Uploads", compat L2). */
struct plan_file {
    const char *url;      /* input=download: the URL */
    const char *filename; /* the client's name for it, or NULL */
    const char *path;     /* a file part of the start request, already on disk */
};

struct start_plan {
    const char *mode;
    const char *inputformat;
    const char *outputformat; /* NULL in info mode */
    const struct converter *conv;
    const char *group;
    const json_t *options;      /* effective (typed, defaults filled) */
    const json_t *options_echo; /* converter.options of the status */
    enum input_type input;
    const char *file;                   /* download: URL; remote: the S3 key or FTP path */
    const struct remote *input_remote;  /* input=remote: where from (kept in memory only) */
    const struct remote *output_remote; /* NULL: outputs stay for download only */
    const char *filename;               /* client-given input file name, or NULL */
    const char *content;                /* raw/base64: decoded bytes */
    size_t content_len;
    const char *upload_path; /* a file part of the start request, already on disk */
    int64_t upload_size;
    /* Modes combine and archive: every input, in order — URLs to download, file parts of
     * the start request, or (upload, no parts) the names the upload URL will accept, one
     * PUT each. n_files 0: the single input of the fields above. */
    const struct plan_file *files;
    size_t n_files;
    int timeout;
    bool save;
    const char *callback;
    const char *email; /* email=true: the key's address, notified at the end; else NULL */
    const json_t *tag;
};

/* Start p with plan: persist everything, then begin the input step (download thread,
 * file moves, or wait for the upload). p is reloaded with the new state. 503 (ERR_BUSY) when
 * the queue is full and the process needs a queue slot now: nothing changed then. */
int process_begin(struct process *p, const struct start_plan *plan, struct err *err);

/* A start request that failed validation: the process goes to step error with code 400
 * and the message (spec "Start"). */
int process_reject(const char *id, const char *message, struct err *err);

/* An upload for the process whose upload token is p->upload_token arrived at tmp_path
 * (same file system as the data dir). Moves it into the job, starts the conversion. */
int process_upload_done(const struct process *p, const char *tmp_path, const char *filename,
                        int64_t size, struct err *err);

/* Delete the process's row, cancel anything running for it and delete its files. Unknown →
 * 0. Pending callbacks of a process that already ended are still delivered. */
int process_delete(const char *id, struct err *err);

/* Output files (name "" is the ZIP). process_output_open returns an fd (O_RDONLY) of an
 * output that is still there, and its size; -1 with ERR_NOTFOUND. process_output_claim takes
 * a one-time file for one download (atomically: a second claim fails with ERR_NOTFOUND);
 * release gives the claim back (aborted transfer); served counts a completed download and
 * deletes a claimed file. */
int process_output_open(const struct process *p, const char *name, int64_t *size, struct err *err);
int process_output_claim(const char *id, const char *name, struct err *err);
void process_output_release(const char *id, const char *name);
void process_output_served(const char *id, const char *name, bool claimed);

/* The data-dir folder holding incoming uploads before they are moved into a job. */
const char *process_incoming_dir(void);

/* Start the engine (recovery of in-flight processes, runner threads, reaper); stop it. */
int engine_start(struct err *err);
void engine_stop(void);

#endif
