/* SPDX-License-Identifier: MIT */
/* fake.c - deterministic test converter: fixed progress steps, then copy, fail, crash or hang
 * on request (libratbag's driver-test.c). Registered only by `serve --test-converters`. */
#include "converters/converter.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "common/jsonx.h"

static const char *const action_choices[] = {"ok", "fail", "crash", "hang", "abort", "sleep", NULL};

static const struct conv_option options[] = {
    {.name = "action", .type = CONV_OPT_ENUM, .def = "\"ok\"", .choices = action_choices},
    {.name = "seconds", .type = CONV_OPT_NUMBER, .def = "1", .min = 0, .max = 3600},
    {.name = "files", .type = CONV_OPT_INT, .def = "1", .min = 1, .max = 100},
    {.name = "percent_steps", .type = CONV_OPT_INT, .def = "4", .min = 0, .max = 100},
    /* > 0: the output is this many bytes of a pattern (byte i is i % 251) instead of a copy
     * of the input: large outputs without large uploads. */
    {.name = "output_bytes", .type = CONV_OPT_INT, .def = "0", .min = 0, .max = 1e13},
    {0},
};

static const struct conv_pair pairs[] = {
    {"fake", "fake", "test"},
    {"fake", "txt", "test"},
    {"fake", "heavy", "test"}, /* wants every core; the output holds conv_job.threads */
    {0},
};

static void sleep_seconds(double s)
{
    if (!(s > 0))
        return;
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - floor(s)) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Copy from into to; append instead of replacing when append is set. */
static int copy_file(const char *from, const char *to, bool append, struct err *err)
{
    int in = -1, out = -1, rc = -1;
    char buf[65536];

    in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        err_set(err, ERR_CONVERT, "fake: cannot open input: %s", strerror(errno));
        goto out;
    }
    out = open(to, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC) | O_CLOEXEC, 0644);
    if (out < 0) {
        err_set(err, ERR_CONVERT, "fake: cannot create output: %s", strerror(errno));
        goto out;
    }
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err_set(err, ERR_CONVERT, "fake: read: %s", strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                err_set(err, ERR_CONVERT, "fake: write: %s", strerror(errno));
                goto out;
            }
            off += w;
        }
    }
    if (close(out) < 0) {
        out = -1;
        err_set(err, ERR_CONVERT, "fake: write: %s", strerror(errno));
        goto out;
    }
    out = -1;
    rc = 0;
out:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return rc;
}

/* out.EXT of n bytes, byte i being i % 251 (a length no power of two divides). */
static int write_pattern(const char *dir, const char *ext, int64_t n, struct err *err)
{
    static unsigned char block[251 * 4096];
    char path[4096];
    int rc = -1;

    for (size_t i = 0; i < sizeof block; i++)
        block[i] = (unsigned char)(i % 251);
    snprintf(path, sizeof path, "%s/out.%s", dir, ext);
    FILE *f = fopen(path, "wb");
    if (!f)
        return err_set(err, ERR_CONVERT, "fake: cannot create output: %s", strerror(errno));
    for (int64_t done = 0; done < n;) {
        size_t chunk = n - done < (int64_t)sizeof block ? (size_t)(n - done) : sizeof block;
        if (fwrite(block, 1, chunk, f) != chunk) {
            err_set(err, ERR_CONVERT, "fake: write failed: %s", strerror(errno));
            goto out;
        }
        done += (int64_t)chunk;
    }
    rc = 0;
out:
    if (fclose(f) != 0 && rc == 0)
        rc = err_set(err, ERR_CONVERT, "fake: write failed: %s", strerror(errno));
    return rc;
}

static int convert(const struct conv_job *job, struct conv_result *res, struct err *err)
{
    const char *action = jsonx_str(jsonx_get(job->options, "action"));
    double seconds = 1;
    int64_t files = 1, steps = 4;
    double percent = 0;

    if (!action)
        action = "ok";
    if (jsonx_number(jsonx_get(job->options, "seconds"), 1, &seconds) < 0 || seconds < 0)
        seconds = 1;
    if (jsonx_int(jsonx_get(job->options, "files"), 1, &files) < 0 || files < 1 || files > 100)
        files = 1;
    if (jsonx_int(jsonx_get(job->options, "percent_steps"), 4, &steps) < 0 || steps < 0 ||
        steps > 100)
        steps = 4;
    if (!job->inputs || !job->inputs[0])
        return err_set(err, ERR_CONVERT, "fake: no input");

    bool sleeping = strcmp(action, "sleep") == 0;
    if (sleeping && steps == 0)
        sleep_seconds(seconds);
    for (int64_t i = 1; i <= steps; i++) {
        if (sleeping)
            sleep_seconds(seconds / (double)steps);
        percent = 100.0 * (double)i / (double)steps;
        if (job->progress && job->progress(job->progress_opaque, percent, "Converting"))
            return err_set(err, ERR_CANCELLED, "cancelled");
    }

    if (strcmp(action, "fail") == 0)
        return err_set(err, ERR_CONVERT, "fake failure requested");
    if (strcmp(action, "crash") == 0) {
        /* Die by the signal even where a handler is installed (ASan, a crash reporter). */
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
        return err_set(err, ERR_CONVERT, "fake: SIGSEGV did not end the process");
    }
    if (strcmp(action, "abort") == 0)
        abort();
    if (strcmp(action, "hang") == 0) {
        /* Hangs until the worker is killed; a cancel seen through progress also ends it. */
        for (;;) {
            if (job->progress && job->progress(job->progress_opaque, percent, "Hanging"))
                return err_set(err, ERR_CANCELLED, "cancelled");
            sleep(1);
        }
    }

    if (job->mode == CONV_MODE_INFO) {
        struct stat st;
        if (stat(job->inputs[0], &st) < 0)
            return err_set(err, ERR_CONVERT, "fake: cannot stat input: %s", strerror(errno));
        res->info = json_pack("{s:s, s:I}", "format", "fake", "size", (json_int_t)st.st_size);
        return 0;
    }

    const char *ext = job->out_format ? job->out_format : "fake";
    if (job->mode == CONV_MODE_COMBINE || job->mode == CONV_MODE_ARCHIVE) {
        /* every input, in order, one after the other */
        char path[4096];
        snprintf(path, sizeof path, "%s/out.%s", job->output_dir, ext);
        for (size_t i = 0; job->inputs[i]; i++)
            if (copy_file(job->inputs[i], path, i > 0, err) < 0)
                return -1;
        return 0;
    }
    int64_t out_bytes = 0;
    if (jsonx_int(jsonx_get(job->options, "output_bytes"), 0, &out_bytes) == 0 && out_bytes > 0)
        return write_pattern(job->output_dir, ext, out_bytes, err);
    if (strcmp(ext, "heavy") == 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/out.heavy", job->output_dir);
        FILE *f = fopen(path, "w");
        if (!f)
            return err_set(err, ERR_CONVERT, "fake: cannot create output: %s", strerror(errno));
        fprintf(f, "%d\n", job->threads);
        return fclose(f) == 0 ? 0 : err_set(err, ERR_CONVERT, "fake: write failed");
    }
    for (int64_t i = 1; i <= files; i++) {
        char path[4096];
        if (files == 1)
            snprintf(path, sizeof path, "%s/out.%s", job->output_dir, ext);
        else
            snprintf(path, sizeof path, "%s/%lld.%s", job->output_dir, (long long)i, ext);
        if (copy_file(job->inputs[0], path, false, err) < 0)
            return -1;
    }
    return 0;
}

static int cores(const char *in, const char *out, enum conv_mode mode, int machine_cores)
{
    return out && strcmp(out, "heavy") == 0 ? machine_cores : 0;
}

/* The engine tests stand in for a converter whose helper program is missing: with
 * CONVERTD_FAKE_INIT_FAIL set, the fake converter cannot start in a worker. */
static int init(struct err *err)
{
    if (getenv("CONVERTD_FAKE_INIT_FAIL"))
        return err_set(err, ERR_INTERNAL, "CONVERTD_FAKE_INIT_FAIL is set");
    return 0;
}

const struct converter converter_fake = {
    .name = "fake",
    .modes = CONV_MODE_CONVERT | CONV_MODE_INFO | CONV_MODE_COMBINE | CONV_MODE_ARCHIVE,
    /* Below every real converter: it offers only its own "fake" format anyway. */
    .priority = 0,
    .pairs = pairs,
    .options = options,
    .note = "deterministic test converter",
    .init = init,
    .cores = cores,
    .convert = convert,
};
