/* SPDX-License-Identifier: MIT */
/* worker_main.c - `convertd worker`: one sandboxed process that runs conversions from fd 3.
 *
 * Started only by the server's pool (worker.c) with its end of a socketpair as fd 3; the
 * protocol is in worker_proto.h. The worker locks itself down before it reads anything
 * (sandbox.c), initialises the converters once, says it is ready, then runs one job at a time
 * until fd 3 reaches EOF. A converter error is a result line, never an exit: only a crash or
 * a kill ends a worker, and the server then starts a new one.
 */
#include "server/engine/worker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/timefmt.h"
#include "converters/registry.h"
#include "server/engine/sandbox.h"
#include "server/engine/worker_proto.h"

/* Progress lines: at most one per PROGRESS_INTERVAL_MS unless the percentage moved by at
 * least 1, and the last one is always sent before the result. */
#define PROGRESS_INTERVAL_MS 200

struct progress {
    const struct conv_result *res; /* its duration rides along once known */
    bool sent_any;
    int64_t sent_ms;
    double sent_percent;
    bool pending;
    double percent;
    char *message;
};

/* A JSON string for text that may not be valid UTF-8 (a file name in an error message, a
 * message cut inside a character by err_set): non-ASCII bytes become '?' then. */
static json_t *text_json(const char *s)
{
    json_t *j;
    char *copy;

    if (s == NULL)
        return json_null();
    j = json_string(s);
    if (j != NULL)
        return j;
    copy = xstrdup(s);
    for (char *p = copy; *p; p++) {
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    }
    j = json_string(copy);
    free(copy);
    return j;
}

/* Write one message and '\n' to the server. Steals msg. A server that went away ends the
 * worker: there is nobody left to report to. */
static void send_msg(json_t *msg)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    size_t len, off = 0;

    json_decref(msg);
    if (text == NULL) {
        log_error("cannot encode a protocol message");
        _exit(1);
    }
    len = strlen(text);
    text[len++] = '\n'; /* replaces the NUL: json_dumps allocated len + 1 bytes */
    while (off < len) {
        ssize_t n = send(PROTO_FD, text + off, len - off, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            log_debug("server gone (%s), exiting", n < 0 ? strerror(errno) : "EOF");
            _exit(0);
        }
        off += (size_t)n;
    }
    free(text);
}

static void progress_send(struct progress *p)
{
    json_t *msg = json_object();

    json_object_set_new(msg, "progress", json_real(p->percent));
    json_object_set_new(msg, "message", text_json(p->message));
    if (p->res && p->res->duration > 0 && isfinite(p->res->duration))
        json_object_set_new(msg, "duration", json_real(p->res->duration));
    send_msg(msg);
    p->sent_any = true;
    p->sent_ms = time_mono_ms();
    p->sent_percent = p->percent;
    p->pending = false;
}

static bool on_progress(void *opaque, double percent, const char *message)
{
    struct progress *p = opaque;
    int64_t now = time_mono_ms();

    p->percent = isfinite(percent) ? percent : -1;
    free(p->message);
    p->message = message ? xstrdup(message) : NULL;
    p->pending = true;
    if (!p->sent_any || now - p->sent_ms >= PROGRESS_INTERVAL_MS ||
        fabs(p->percent - p->sent_percent) >= 1.0)
        progress_send(p);
    /* Cancel and timeout arrive as SIGKILL from the server, never through this flag. */
    return false;
}

/* SEC-23: outputs are on disk before the server records them as finished. */
static int fsync_outputs(const char *dir, struct err *err)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int rc = -1;

    if (d == NULL)
        return err_set(err, ERR_INTERNAL, "cannot open the output folder: %s", strerror(errno));
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        int fd;

        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 || fsync(fd) < 0) {
            err_set(err, ERR_INTERNAL, "cannot sync output %s: %s", de->d_name, strerror(errno));
            if (fd >= 0)
                close(fd);
            goto out;
        }
        close(fd);
    }
    if (fsync(dirfd(d)) < 0) {
        err_set(err, ERR_INTERNAL, "cannot sync the output folder: %s", strerror(errno));
        goto out;
    }
    rc = 0;
out:
    closedir(d);
    return rc;
}

static int enter_job_dir(const char *job_dir, struct err *err)
{
    char *tmp = NULL;
    int rc = -1;

    if (chdir(job_dir) < 0) {
        err_set(err, ERR_INTERNAL, "cannot enter the job folder: %s", strerror(errno));
        goto out;
    }
    /* Library temp files (libvips, helpers) land in the job folder and go with it. */
    tmp = xasprintf("%s/tmp", job_dir);
    if (mkdir(tmp, 0700) < 0 && errno != EEXIST) {
        err_set(err, ERR_INTERNAL, "cannot create the job temp folder: %s", strerror(errno));
        goto out;
    }
    setenv("TMPDIR", tmp, 1);
    rc = 0;
out:
    free(tmp);
    return rc;
}

/* Run one job line. Returns the result message (new). */
static json_t *run_job(const char *line)
{
    struct err err = ERR_INIT;
    struct progress prog = {0};
    struct conv_result res = {0};
    struct conv_limits limits = {0};
    struct conv_job cj = {.limits = &limits, .progress = on_progress, .progress_opaque = &prog};
    json_int_t threads;
    const char **inputs = NULL;
    json_t *job, *arr, *lim, *result;
    const struct converter *conv;
    const char *id, *in, *out, *job_dir, *output_dir;
    json_int_t timeout, max_output;
    unsigned mode;
    size_t n;

    job = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
    id = jsonx_str(jsonx_get(job, "id"));
    mode = proto_mode_from_name(jsonx_str(jsonx_get(job, "mode")));
    in = jsonx_str(jsonx_get(job, "in"));
    out = jsonx_str(jsonx_get(job, "out"));
    job_dir = jsonx_str(jsonx_get(job, "job_dir"));
    output_dir = jsonx_str(jsonx_get(job, "output_dir"));
    arr = jsonx_get(job, "inputs");
    timeout = json_integer_value(jsonx_get(job, "timeout"));
    max_output = json_integer_value(jsonx_get(job, "max_output"));
    threads = json_integer_value(jsonx_get(job, "threads"));
    lim = jsonx_get(job, "limits");
    if (mode == 0 || in == NULL || (out == NULL && mode != CONV_MODE_INFO) || job_dir == NULL ||
        job_dir[0] != '/' || output_dir == NULL || !json_is_array(arr)) {
        err_set(&err, ERR_INTERNAL, "bad job message from the server");
        goto out;
    }
    limits.max_pixels = json_integer_value(jsonx_get(lim, "max_pixels"));
    limits.max_side = (int)json_integer_value(jsonx_get(lim, "max_side"));
    limits.max_pages = (int)json_integer_value(jsonx_get(lim, "max_pages"));
    n = json_array_size(arr);
    inputs = xcalloc(n + 1, sizeof *inputs);
    for (size_t i = 0; i < n; i++) {
        inputs[i] = jsonx_str(json_array_get(arr, i));
        if (inputs[i] == NULL) {
            err_set(&err, ERR_INTERNAL, "bad job message from the server");
            goto out;
        }
    }

    conv = registry_find(in, out, mode);
    if (conv == NULL) {
        if (mode == CONV_MODE_INFO)
            err_set(&err, ERR_BADPARAM, "no converter for %s (info)", in);
        else
            err_set(&err, ERR_BADPARAM, "no converter for %s → %s", in, out);
        goto out;
    }
    cj.threads = threads > 0 && threads <= 1024 ? (int)threads : 1;
    cj.proxy_fd = fcntl(PROTO_PROXY_FD, F_GETFD) >= 0 ? PROTO_PROXY_FD : 0;
    if (enter_job_dir(job_dir, &err) < 0 ||
        sandbox_apply_job(max_output, timeout > INT32_MAX ? INT32_MAX : (int)timeout, cj.threads,
                          &err) < 0)
        goto out;

    cj.mode = (enum conv_mode)mode;
    cj.inputs = inputs;
    cj.output_dir = output_dir;
    cj.in_format = in;
    cj.out_format = mode == CONV_MODE_INFO ? NULL : out;
    cj.options = jsonx_get(job, "options");
    prog.res = &res;
    log_debug("job %s: %s %s -> %s with %s", id ? log_id(id) : "-", proto_mode_name(cj.mode), in,
              cj.out_format ? cj.out_format : "-", conv->name);
    if (conv->convert(&cj, &res, &err) < 0) {
        err_set(&err, ERR_CONVERT, "conversion failed"); /* a converter that set nothing */
        goto out;
    }
    if (fsync_outputs(output_dir, &err) < 0)
        goto out;
out:
    if (prog.pending)
        progress_send(&prog);
    free(prog.message);
    result = json_object();
    if (err.code == ERR_OK) {
        json_object_set_new(result, "ok", json_true());
        json_object_set(result, "info", res.info ? res.info : json_null());
    } else {
        json_object_set_new(result, "ok", json_false());
        json_object_set_new(result, "code", json_string(err_code_name(err.code)));
        json_object_set_new(result, "error", text_json(err.msg));
    }
    json_decref(res.info);
    free(inputs);
    json_decref(job);
    /* Leave the job folder so the server can delete it; TMPDIR goes back to nothing. */
    if (chdir("/") < 0)
        log_warn("cannot leave the job folder: %s", strerror(errno));
    unsetenv("TMPDIR");
    return result;
}

static int parse_args(int argc, char **argv, struct sandbox_config *sb, bool *test_converters)
{
    /* argv[0] is the subcommand ("worker"): main() passes argc - 1, argv + 1. A caller that
     * passes its whole argv is tolerated. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *end;
        long long v;

        if (i == 1 && strcmp(a, "worker") == 0)
            continue;

        if (strcmp(a, "--test-converters") == 0) {
            *test_converters = true;
            continue;
        }
        if (i + 1 >= argc || (strcmp(a, "--mem-limit") != 0 && strcmp(a, "--max-output") != 0 &&
                              strcmp(a, "--parent-pid") != 0 && strcmp(a, "--uid") != 0 &&
                              strcmp(a, "--gid") != 0)) {
            log_error("unknown worker argument %s", a);
            return -1;
        }
        errno = 0;
        v = strtoll(argv[++i], &end, 10);
        if (errno != 0 || *end != '\0' || end == argv[i] || v < 0) {
            log_error("bad value for %s", a);
            return -1;
        }
        if (strcmp(a, "--mem-limit") == 0)
            sb->mem_limit_bytes = v;
        else if (strcmp(a, "--max-output") == 0)
            sb->max_output_bytes = v;
        else if (strcmp(a, "--uid") == 0)
            sb->uid = (uid_t)v;
        else if (strcmp(a, "--gid") == 0)
            sb->gid = (gid_t)v;
        else
            sb->parent_pid = (pid_t)v;
    }
    return 0;
}

int worker_main(int argc, char **argv)
{
    struct sandbox_config sb = {0};
    struct proto_reader rd = {BUF_INIT, 0};
    struct err err = ERR_INIT;
    bool test_converters = false;
    unsigned features = 0;
    json_t *ready;

    log_set_name("worker");
    if (parse_args(argc, argv, &sb, &test_converters) < 0)
        return 2;
    if (fcntl(PROTO_FD, F_GETFD) < 0) {
        log_error("fd %d is not open: `convertd worker` is started by the server", PROTO_FD);
        return 2;
    }
    /* SEC-21: before any input, and while still single-threaded. */
    if (sandbox_apply_worker(&sb, &features, &err) < 0) {
        log_error("%s", err.msg);
        return 1;
    }
    registry_enable_test_converters(test_converters);
    registry_init_all();

    ready = json_object();
    json_object_set_new(ready, "ready", json_true());
    json_object_set_new(ready, "netns", json_boolean(features & SANDBOX_NETNS));
    json_object_set_new(ready, "seccomp", json_boolean(features & SANDBOX_SECCOMP));
    json_t *disabled = json_array();
    for (const char *const *name = registry_disabled_names(); *name; name++)
        json_array_append_new(disabled, json_string(*name));
    json_object_set_new(ready, "disabled", disabled);
    send_msg(ready);

    for (;;) {
        char *line;
        int r = proto_reader_line(&rd, PROTO_MAX_LINE, &line);
        ssize_t n;

        if (r > 0) {
            send_msg(run_job(line));
            continue;
        }
        if (r < 0) {
            log_error("job message longer than %zu bytes", PROTO_MAX_LINE);
            return 1;
        }
        n = proto_reader_fill(&rd, PROTO_FD);
        if (n == 0)
            break; /* the server closed our socket: stop quietly */
        if (n < 0) {
            log_error("reading jobs: %s", strerror(errno));
            return 1;
        }
    }
    proto_reader_fini(&rd);
    return 0;
}
