/* SPDX-License-Identifier: MIT */
/* worker_proto.h - the line protocol between the server and its workers (private to
 * server/engine: worker.c is the server side, worker_main.c the worker side).
 *
 * fd 3 of a worker is one end of a SOCK_STREAM socketpair. Every message is one compact JSON
 * object and '\n' (jansson escapes newlines inside strings, so a line is a message):
 *
 *   worker -> server, once, when its libraries are initialised:
 *       {"ready":true,"netns":BOOL,"seccomp":BOOL}
 *   server -> worker, one per job, only while the worker is idle:
 *       {"id":S,"mode":"convert"|"info"|"combine"|"archive"|"extract","in":S,"out":S|null,
 *        "options":{effective},"job_dir":S,"inputs":[S,...],"output_dir":S,"timeout":SECONDS,
 *        "threads":CORES,"max_output":BYTES,"limits":{"max_pixels":N,"max_side":N,
 *        "max_pages":N}}
 *   worker -> server, any number while a job runs (throttled by the worker):
 *       {"progress":PERCENT,"message":S|null[,"duration":SECONDS]}
 *   worker -> server, exactly one per job, last:
 *       {"ok":true,"info":{...}|null}  or  {"ok":false,"code":ERR_NAME,"error":S}
 *
 * ERR_NAME is err_code_name(); the server maps it back with err_code_from_name(). Anything
 * else (a line that is not JSON, a line longer than PROTO_MAX_LINE, output while idle) is a
 * broken worker: the server kills and replaces it.
 */
#ifndef CONVERTD_SERVER_ENGINE_WORKER_PROTO_H
#define CONVERTD_SERVER_ENGINE_WORKER_PROTO_H

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "converters/converter.h"

/* The worker's end of the socketpair. */
#define PROTO_FD 3
/* The worker's end of the web proxy hand-over socket (storage/webproxy.h). */
#define PROTO_PROXY_FD 4

/* A job line carries every input path of an archive job, a result line a whole info object. */
#define PROTO_MAX_LINE ((size_t)16 * 1024 * 1024)

static inline const char *proto_mode_name(enum conv_mode mode)
{
    switch (mode) {
    case CONV_MODE_CONVERT:
        return "convert";
    case CONV_MODE_INFO:
        return "info";
    case CONV_MODE_COMBINE:
        return "combine";
    case CONV_MODE_ARCHIVE:
        return "archive";
    case CONV_MODE_EXTRACT:
        return "extract";
    }
    return NULL;
}

/* The mode bit for a name, or 0 when unknown. */
static inline unsigned proto_mode_from_name(const char *name)
{
    static const enum conv_mode modes[] = {CONV_MODE_CONVERT, CONV_MODE_INFO, CONV_MODE_COMBINE,
                                           CONV_MODE_ARCHIVE, CONV_MODE_EXTRACT};

    if (name == NULL)
        return 0;
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        if (strcmp(proto_mode_name(modes[i]), name) == 0)
            return modes[i];
    }
    return 0;
}

/* Splits the bytes read from a stream into lines. */
struct proto_reader {
    struct buf buf;
    size_t start; /* first byte not yet returned as a line */
};

static inline void proto_reader_reset(struct proto_reader *r)
{
    buf_reset(&r->buf);
    r->start = 0;
}

static inline void proto_reader_fini(struct proto_reader *r)
{
    buf_fini(&r->buf);
    r->start = 0;
}

/* One read(2) into the reader: >0 bytes read, 0 at EOF, -1 with errno (EAGAIN included). */
static inline ssize_t proto_reader_fill(struct proto_reader *r, int fd)
{
    char chunk[16384];
    ssize_t n;

    do {
        n = read(fd, chunk, sizeof chunk);
    } while (n < 0 && errno == EINTR);
    if (n > 0)
        buf_append(&r->buf, chunk, (size_t)n);
    return n;
}

/* The next complete line, without its '\n', NUL-terminated, in *line (borrowed: valid until
 * the next call on r). Returns 1 for a line, 0 when more bytes are needed, -1 when the
 * pending line is longer than max. */
static inline int proto_reader_line(struct proto_reader *r, size_t max, char **line)
{
    char *nl;
    size_t pending = r->buf.len - r->start;

    nl = pending > 0 ? memchr(r->buf.data + r->start, '\n', pending) : NULL;
    if (nl != NULL) {
        *nl = '\0';
        *line = r->buf.data + r->start;
        r->start = (size_t)(nl - r->buf.data) + 1;
        return (size_t)(nl - *line) > max ? -1 : 1;
    }
    /* No full line: drop what was returned so the buffer holds one line at most. */
    if (r->start > 0) {
        memmove(r->buf.data, r->buf.data + r->start, pending);
        r->buf.len = pending;
        r->buf.data[pending] = '\0';
        r->start = 0;
    }
    return pending > max ? -1 : 0;
}

#endif
