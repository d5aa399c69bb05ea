/* SPDX-License-Identifier: MIT */
/* office.c - office documents through a LibreOffice kept warm by the worker process.
 *
 * DESIGN. Starting LibreOffice costs seconds; converting a small document with a running
 * one costs a fraction of that. So each worker keeps one "bridge" across jobs: the Python
 * program office_bridge.py (embedded at build time, run as /usr/bin/python3 -I -c TEXT),
 * which starts soffice.bin as its own child and drives it over a private UNO pipe. The
 * worker talks to the bridge over a socketpair (its fds 0 and 1), one JSON line each way
 * per request. Neither is linked into convertd: LibreOffice's licence stays apart, and a
 * document that crashes it takes down only the bridge. The bridge is started lazily by the
 * first office job, checked with a ping before every job (a killed office is replaced before
 * the document is sent), replaced after a crash, a garbage reply or BRIDGE_MAX_JOBS jobs
 * (SEC-22), and stopped by the converter's cleanup hook. Its profile folder lives in /tmp
 * (it outlives job folders) and is removed whenever the bridge stops.
 *
 * Both stay in the worker's process group: the server's timeout is a SIGKILL of that group,
 * which ends them with the job. The worker's per-job RLIMIT_CPU counts a process's whole
 * life, so the bridge's soft limits are raised to the hard ones before it execs.
 *
 * Images (png, jpg) go by way of PDF: LibreOffice writes a PDF into the job's temp folder
 * and the ghostscript converter renders its pages with the page options of this table. */
#include "convertd-config.h"

#include "converters/converter.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <jansson.h>

#include "common/buf.h"
#include "common/fsx.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/mem.h"
#include "converters/helper.h"
#include "converters/options.h"
#include "converters/registry.h"
#if HAVE_QPDF
#include "converters/pdf.h"
#endif

#include "office_bridge.h"

/* Absolute paths and no PATH lookup, as for gs (SEC-11). */
#define PYTHON_PATH  "/usr/bin/python3"
#define SOFFICE_PATH "/usr/lib/libreoffice/program/soffice.bin"
#define PYUNO_PATH   "/usr/lib/python3/dist-packages/uno.py"

#define BRIDGE_MAX_JOBS 200   /* SEC-22: recycle a long-lived helper */
#define READY_SECONDS   60    /* python start + the bridge's own 30 s connect window */
#define PING_SECONDS    10    /* a healthy office answers a ping in milliseconds */
#define STOP_MS         3000  /* a graceful stop, then SIGKILL */
#define REPLY_MAX       65536 /* one reply line; more is garbage */

/* ---- facts ------------------------------------------------------------------------- */

enum app { APP_WRITER, APP_CALC, APP_IMPRESS };

/* One office format: how LibreOffice reads and writes it. The import filter is always
 * given explicitly, so a file is read as what the client said it is (a garbage .docx fails
 * instead of being imported as plain text). */
struct office_format {
    const char *name;
    enum app app;
    const char *filter;         /* import and export filter */
    const char *filter_options; /* import FilterOptions, or NULL */
    const char *export_options; /* export FilterOptions, or NULL */
};

static const struct office_format formats[] = {
    {"doc", APP_WRITER, "MS Word 97", NULL, NULL},
    {"docx", APP_WRITER, "MS Word 2007 XML", NULL, NULL},
    {"odt", APP_WRITER, "writer8", NULL, NULL},
    {"rtf", APP_WRITER, "Rich Text Format", NULL, NULL},
    /* Text in and out as UTF-8 whatever the locale. */
    {"txt", APP_WRITER, "Text (encoded)", "UTF8", "UTF8"},
    {"xls", APP_CALC, "MS Excel 97", NULL, NULL},
    {"xlsx", APP_CALC, "Calc MS Excel 2007 XML", NULL, NULL},
    {"ods", APP_CALC, "calc8", NULL, NULL},
    /* Comma, double quote, UTF-8 (76), from line 1. Written back the same way, text quoted
     * only where needed (token 7 false) and numbers as shown (token 9). */
    {"csv", APP_CALC, "Text - txt - csv (StarCalc)", "44,34,76,1", "44,34,76,1,,0,false,true,true"},
    {"ppt", APP_IMPRESS, "MS PowerPoint 97", NULL, NULL},
    {"pptx", APP_IMPRESS, "Impress MS PowerPoint 2007 XML", NULL, NULL},
    {"odp", APP_IMPRESS, "impress8", NULL, NULL},
};

static const char *const pdf_filters[] = {
    [APP_WRITER] = "writer_pdf_Export",
    [APP_CALC] = "calc_pdf_Export",
    [APP_IMPRESS] = "impress_pdf_Export",
};

/* The page options of the ghostscript converter for png/jpg, same names, same meaning:
 * they are handed to it for the PDF → image step. Ignored for other outputs. */
static const struct conv_option options[] = {
    {.name = "page_range", .type = CONV_OPT_STRING, .def = NULL, .valid = options_page_range_valid},
    {.name = "density", .type = CONV_OPT_INT, .def = "150", .min = 1, .max = 1200},
    {.name = "quality", .type = CONV_OPT_INT, .def = "90", .min = 1, .max = 100},
    {.name = "grayscale", .type = CONV_OPT_BOOL, .def = "false"},
    {.name = "text_antialiasing", .type = CONV_OPT_BOOL, .def = "true"},
    {.name = "graphics_antialiasing", .type = CONV_OPT_BOOL, .def = "true"},
    {0},
};

/* clang-format off */
#if HAVE_QPDF
#define IMAGES(in) {in, "png", "document"}, {in, "jpg", "document"},
#else
#define IMAGES(in)
#endif
#define WRITER(in, a, b, c, d)                                                                   \
    {in, "pdf", "document"}, IMAGES(in)                                                          \
    {in, a, "document"}, {in, b, "document"}, {in, c, "document"}, {in, d, "document"}
#define CALC(in, a, b, c)                                                                        \
    {in, "pdf", "document"}, IMAGES(in)                                                          \
    {in, a, "document"}, {in, b, "document"}, {in, c, "document"}
#define IMPRESS(in, a, b)                                                                        \
    {in, "pdf", "document"}, IMAGES(in) {in, a, "document"}, {in, b, "document"}

static const struct conv_pair pairs[] = {
    WRITER("docx", "odt", "doc", "rtf", "txt"),
    WRITER("doc", "docx", "odt", "rtf", "txt"),
    WRITER("odt", "docx", "doc", "rtf", "txt"),
    WRITER("rtf", "docx", "odt", "doc", "txt"),
    WRITER("txt", "docx", "odt", "doc", "rtf"),
    CALC("xlsx", "ods", "xls", "csv"),
    CALC("xls", "xlsx", "ods", "csv"),
    CALC("ods", "xlsx", "xls", "csv"),
    CALC("csv", "xlsx", "ods", "xls"),
    IMPRESS("pptx", "odp", "ppt"),
    IMPRESS("ppt", "pptx", "odp"),
    IMPRESS("odp", "pptx", "ppt"),
    {0},
};
/* clang-format on */

static const struct office_format *find_format(const char *name)
{
    for (size_t i = 0; name && i < sizeof formats / sizeof formats[0]; i++)
        if (strcmp(formats[i].name, name) == 0)
            return &formats[i];
    return NULL;
}

/* ---- the bridge -------------------------------------------------------------------- */

struct bridge {
    pid_t pid;     /* the python bridge, -1 when none */
    int fd;        /* our end of its stdin/stdout socketpair */
    pid_t soffice; /* its soffice.bin, for logs and tests */
    char *profile; /* /tmp/convertd-office-<worker>-XXXXXX */
    int jobs;      /* documents sent to this bridge */
    struct buf in; /* bytes read past the last reply line */
};

static struct bridge bridge = {.pid = -1, .fd = -1, .soffice = -1};
static bool available;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reap the bridge within ms milliseconds; true when it is gone. */
static bool reap(pid_t pid, int ms)
{
    int64_t end = now_ms() + ms;
    for (;;) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD))
            return true;
        if (now_ms() >= end)
            return false;
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* True while pid runs. A zombie counts as gone: the office is reparented when its bridge
 * dies, and a container's init may never reap it. */
static bool process_alive(pid_t pid)
{
    char path[64], line[256];
    FILE *f;
    bool alive = false;

    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    f = fopen(path, "re");
    if (!f)
        return kill(pid, 0) == 0;
    if (fgets(line, sizeof line, f)) {
        const char *p = strrchr(line, ')');
        alive = p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X' && p[2] != 'x';
    }
    fclose(f);
    return alive;
}

/* Stop the bridge. graceful: close its stdin and let it close the office; otherwise (a
 * crash, garbage) SIGKILL at once. soffice.bin dies with it (PR_SET_PDEATHSIG). */
static void bridge_stop(bool graceful)
{
    if (bridge.fd >= 0)
        close(bridge.fd);
    bridge.fd = -1;
    if (bridge.pid > 0) {
        if (!graceful || !reap(bridge.pid, STOP_MS)) {
            kill(bridge.pid, SIGKILL);
            reap(bridge.pid, STOP_MS);
        }
    }
    /* The office goes with the bridge, but asynchronously: wait for it before removing the
     * profile it may still write to. */
    if (bridge.soffice > 0) {
        int64_t end = now_ms() + STOP_MS;
        while (process_alive(bridge.soffice) && now_ms() < end) {
            struct timespec ts = {0, 20 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    if (bridge.profile) {
        fsx_rm_rf(bridge.profile);
        free(bridge.profile);
    }
    buf_fini(&bridge.in);
    bridge.pid = -1;
    bridge.soffice = -1;
    bridge.profile = NULL;
    bridge.jobs = 0;
}

/* Read one reply line from the bridge, waiting up to timeout_s seconds (0: as long as it
 * takes; the server's deadline bounds the job) with a 1-second tick that reports progress.
 * Returns a new JSON object, or NULL with err set (the bridge is then stopped). */
static json_t *bridge_read(const struct conv_job *job, double percent, const char *message,
                           int timeout_s, struct err *err)
{
    int64_t start = now_ms();

    for (;;) {
        char *nl = bridge.in.data ? memchr(bridge.in.data, '\n', bridge.in.len) : NULL;
        if (nl) {
            size_t len = (size_t)(nl - bridge.in.data);
            json_t *reply = json_loadb(bridge.in.data, len, 0, NULL);
            size_t rest = bridge.in.len - len - 1;
            memmove(bridge.in.data, nl + 1, rest);
            bridge.in.len = rest;
            if (!json_is_object(reply)) {
                json_decref(reply);
                log_warn("office: the bridge answered garbage; restarting it");
                bridge_stop(false);
                err_set(err, ERR_CONVERT, "LibreOffice crashed on this document");
                return NULL;
            }
            return reply;
        }
        if (bridge.in.len > REPLY_MAX) {
            bridge_stop(false);
            err_set(err, ERR_CONVERT, "LibreOffice crashed on this document");
            return NULL;
        }
        if (timeout_s > 0 && now_ms() - start > (int64_t)timeout_s * 1000) {
            log_warn("office: no answer from LibreOffice within %d s; restarting it", timeout_s);
            bridge_stop(false);
            err_set(err, ERR_CONVERT, "LibreOffice did not answer within %d s", timeout_s);
            return NULL;
        }
        struct pollfd pf = {.fd = bridge.fd, .events = POLLIN};
        int r = poll(&pf, 1, 1000);
        if (r < 0 && errno != EINTR) {
            bridge_stop(false);
            err_set(err, ERR_INTERNAL, "office: poll: %s", strerror(errno));
            return NULL;
        }
        if (r > 0) {
            char data[4096];
            ssize_t n = recv(bridge.fd, data, sizeof data, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                log_warn("office: the bridge exited; restarting it for the next job");
                bridge_stop(false);
                err_set(err, ERR_CONVERT, "LibreOffice crashed on this document");
                return NULL;
            }
            buf_append(&bridge.in, data, (size_t)n);
            continue;
        }
        if (job && job->progress && job->progress(job->progress_opaque, percent, message)) {
            bridge_stop(false);
            err_set(err, ERR_CANCELLED, "cancelled");
            return NULL;
        }
    }
}

/* Profile folders of workers that were killed (the server's timeout kills the whole group,
 * so no cleanup hook ran): /tmp/convertd-office-<pid>-XXXXXX whose pid is gone. */
static void sweep_stale_profiles(void)
{
    DIR *d = opendir("/tmp");
    struct dirent *e;

    if (!d)
        return;
    while ((e = readdir(d))) {
        char *end;
        if (strncmp(e->d_name, "convertd-office-", 16) != 0)
            continue;
        errno = 0;
        long pid = strtol(e->d_name + 16, &end, 10);
        if (errno || end == e->d_name + 16 || *end != '-' || pid <= 0 || pid > INT_MAX)
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char *path = xasprintf("/tmp/%s", e->d_name);
        log_debug("office: removing %s, left by a worker that was killed", path);
        fsx_rm_rf(path);
        free(path);
    }
    closedir(d);
}

/* Start the bridge and wait for its ready line. */
static int bridge_start(const struct conv_job *job, struct err *err)
{
    static const char exec_failed[] = "convertd: cannot execute " PYTHON_PATH "\n";
    char *argv[] = {(char *)PYTHON_PATH,      (char *)"-I", (char *)"-c",
                    (char *)office_bridge_py, NULL,         NULL};
    char *env[5] = {0};
    char *home = NULL, *tmp = NULL;
    int sv[2] = {-1, -1};
    json_t *ready = NULL;
    pid_t parent = getpid();
    sigset_t none;
    int rc = -1;

    sigemptyset(&none);
    sweep_stale_profiles();
    bridge.profile = xasprintf("/tmp/convertd-office-%ld-XXXXXX", (long)parent);
    if (!mkdtemp(bridge.profile)) {
        err_set(err, ERR_INTERNAL, "office: cannot create a profile folder in /tmp: %s",
                strerror(errno));
        free(bridge.profile);
        bridge.profile = NULL;
        goto out;
    }
    home = xasprintf("%s/home", bridge.profile);
    tmp = xasprintf("%s/tmp", bridge.profile);
    if (mkdir(home, 0700) < 0 || mkdir(tmp, 0700) < 0) {
        err_set(err, ERR_INTERNAL, "office: cannot create %s: %s", home, strerror(errno));
        goto out;
    }
    argv[4] = bridge.profile;
    env[0] = xstrdup("PATH=/usr/bin:/bin");
    env[1] = xasprintf("HOME=%s", home);
    env[2] = xasprintf("TMPDIR=%s", tmp);
    env[3] = xstrdup("LANG=C.UTF-8");
    /* A socket rather than pipes: send() with MSG_NOSIGNAL to a dead bridge is an EPIPE,
     * where a pipe write would SIGPIPE the worker. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        err_set(err, ERR_INTERNAL, "office: socketpair: %s", strerror(errno));
        goto out;
    }
    pid_t pid = fork();
    if (pid < 0) {
        err_set(err, ERR_CONVERT, "cannot start LibreOffice: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        /* Async-signal-safe calls only until execve. */
        struct rlimit rl;
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        if (dup2(sv[1], 0) < 0 || dup2(sv[1], 1) < 0)
            _exit(127);
        if (close_range(3, ~0U, 0) < 0)
            for (int fd = 3; fd < 4096; fd++)
                close(fd);
        if (chdir(bridge.profile) < 0)
            _exit(127);
        /* The worker's CPU limit was set for the job that happens to start us and counts a
         * process's whole life; the bridge and its office serve many jobs, each bounded by
         * the server's wall-clock deadline. Unlimited when the worker may raise limits (it
         * then set a per-job hard limit), else soft = hard. */
        rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;
        if (setrlimit(RLIMIT_CPU, &rl) < 0 && getrlimit(RLIMIT_CPU, &rl) == 0) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_CPU, &rl);
        }
        if (getrlimit(RLIMIT_FSIZE, &rl) == 0) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_FSIZE, &rl);
        }
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve(argv[0], argv, env);
        if (write(2, exec_failed, sizeof exec_failed - 1) < 0)
            _exit(127);
        _exit(127);
    }
    bridge.pid = pid;
    bridge.fd = sv[0];
    sv[0] = -1;
    bridge.jobs = 0;
    buf_init(&bridge.in);

    ready = bridge_read(job, 5, "Starting LibreOffice", READY_SECONDS, err);
    if (!ready)
        goto out;
    json_int_t soffice = json_integer_value(jsonx_get(ready, "soffice_pid"));
    if (!json_is_true(jsonx_get(ready, "ready")) || soffice <= 0) {
        const char *why = jsonx_str(jsonx_get(ready, "error"));
        log_warn("office: the bridge did not start: %s", why ? why : "no ready line");
        err_set(err, ERR_CONVERT, "LibreOffice could not be started%s%s", why ? ": " : "",
                why ? why : "");
        goto out;
    }
    bridge.soffice = (pid_t)soffice;
    log_debug("office: LibreOffice ready (bridge %ld, soffice.bin %ld)", (long)bridge.pid,
              (long)bridge.soffice);
    rc = 0;
out:
    if (rc < 0)
        bridge_stop(false);
    json_decref(ready);
    for (size_t i = 0; i < sizeof env / sizeof env[0]; i++)
        free(env[i]);
    free(home);
    free(tmp);
    if (sv[0] >= 0)
        close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    return rc;
}

static int bridge_send(json_t *req, struct err *err)
{
    char *text = json_dumps(req, JSON_COMPACT);
    size_t len, off = 0;
    int rc = -1;

    if (!text)
        return err_set(err, ERR_INTERNAL, "office: cannot encode a request");
    len = strlen(text);
    text[len++] = '\n'; /* replaces the NUL: json_dumps allocated len + 1 bytes */
    while (off < len) {
        ssize_t n = send(bridge.fd, text + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto out;
        off += (size_t)n;
    }
    rc = 0;
out:
    free(text);
    return rc;
}

/* One request and its reply; -1 with err when the bridge is gone (it is then stopped). */
static json_t *bridge_call(const struct conv_job *job, json_t *req, double percent,
                           const char *message, int timeout_s, struct err *err)
{
    if (bridge_send(req, err) < 0) {
        log_warn("office: the bridge is gone; restarting it for the next job");
        bridge_stop(false);
        err_set(err, ERR_CONVERT, "LibreOffice crashed on this document");
        return NULL;
    }
    return bridge_read(job, percent, message, timeout_s, err);
}

/* A bridge whose office answers, started or replaced as needed. */
static int bridge_ensure(const struct conv_job *job, struct err *err)
{
    if (bridge.pid > 0 && bridge.jobs >= BRIDGE_MAX_JOBS) {
        log_debug("office: %d jobs done; starting a fresh LibreOffice", bridge.jobs);
        bridge_stop(true);
    }
    if (bridge.pid > 0) {
        struct err why = ERR_INIT;
        json_t *req = json_pack("{s:b}", "ping", 1);
        json_t *reply = bridge_call(job, req, 5, "Starting LibreOffice", PING_SECONDS, &why);
        json_decref(req);
        bool ok = reply && json_is_true(jsonx_get(reply, "ok"));
        json_decref(reply);
        if (!ok && bridge.pid > 0) {
            log_warn("office: LibreOffice stopped answering between jobs; restarting it");
            bridge_stop(false);
        }
    }
    if (bridge.pid <= 0)
        return bridge_start(job, err);
    return 0;
}

/* The soffice.bin pid of this worker's bridge, -1 when none is running (for tests). */
UNITTEST __attribute__((unused)) pid_t office_soffice_pid(void);
UNITTEST pid_t office_soffice_pid(void)
{
    return bridge.pid > 0 ? bridge.soffice : -1;
}

/* ---- convert ----------------------------------------------------------------------- */

/* LibreOffice reads `in` as `from` and writes `out` as `to` (an office format, or pdf). */
static int office_run(const struct conv_job *job, const struct office_format *from,
                      const struct office_format *to, const char *in, const char *out,
                      double percent, struct err *err)
{
    json_t *req = NULL, *reply = NULL, *opts;
    const char *filter;
    int rc = -1;

    if (bridge_ensure(job, err) < 0)
        return -1;
    filter = to ? to->filter : pdf_filters[from->app];
    opts = json_pack("{s:s}", "in_filter", from->filter);
    if (from->filter_options)
        json_object_set_new(opts, "in_filter_options", json_string(from->filter_options));
    if (to && to->export_options)
        json_object_set_new(opts, "out_filter_options", json_string(to->export_options));
    req =
        json_pack("{s:s, s:s, s:s, s:o}", "in", in, "out", out, "filter", filter, "options", opts);
    if (!req) {
        err_set(err, ERR_INTERNAL, "office: cannot encode a request (file name not UTF-8?)");
        goto out;
    }
    bridge.jobs++;
    reply = bridge_call(job, req, percent, "Converting with LibreOffice", 0, err);
    if (!reply)
        goto out;
    if (!json_is_true(jsonx_get(reply, "ok"))) {
        const char *why = jsonx_str(jsonx_get(reply, "error"));
        err_set(err, ERR_CONVERT, "%s", why && why[0] ? why : "LibreOffice failed");
        goto out;
    }
    struct stat st;
    if (stat(out, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
        err_set(err, ERR_CONVERT, "LibreOffice wrote no output");
        goto out;
    }
    rc = 0;
out:
    if (rc < 0)
        unlink(out);
    json_decref(req);
    json_decref(reply);
    return rc;
}

/* The ghostscript step's progress is the second half of ours. */
struct half {
    const struct conv_job *job;
};

static bool half_progress(void *opaque, double percent, const char *message)
{
    const struct half *h = opaque;
    if (!h->job->progress)
        return false;
    return h->job->progress(h->job->progress_opaque, percent < 0 ? -1 : 50 + percent / 2, message);
}

/* PDF → pages through the ghostscript converter, with its defaults filled in for the page
 * options the client gave us. */
static int render_pdf(const struct conv_job *job, const char *pdf, struct err *err)
{
    const struct converter *gs = registry_find("pdf", job->out_format, CONV_MODE_CONVERT);
    json_t *given = json_object(), *effective = NULL, *echo = NULL;
    const char *inputs[] = {pdf, NULL};
    struct half h = {.job = job};
    struct conv_result res = {0};
    int rc = -1;

    if (!gs) {
        err_set(err, ERR_CONVERT, "no converter for pdf → %s on this server", job->out_format);
        goto out;
    }
    for (const struct conv_option *o = options; o->name; o++) {
        json_t *v = jsonx_get(job->options, o->name);
        if (jsonx_is_given(v))
            json_object_set(given, o->name, v);
    }
    if (options_apply(gs, given, &effective, &echo, err) < 0)
        goto out;
    struct conv_job sub = {
        .mode = CONV_MODE_CONVERT,
        .inputs = inputs,
        .output_dir = job->output_dir,
        .in_format = "pdf",
        .out_format = job->out_format,
        .options = effective,
        .limits = job->limits,
        .progress = half_progress,
        .progress_opaque = &h,
        .threads = job->threads,
    };
    rc = gs->convert(&sub, &res, err);
    json_decref(res.info);
out:
    json_decref(given);
    json_decref(effective);
    json_decref(echo);
    return rc;
}

static int convert(const struct conv_job *job, struct conv_result *res, struct err *err)
{
    const struct office_format *from, *to = NULL;
    char *work = NULL, *in = NULL, *out = NULL, *abs_out_dir = NULL;
    bool image;
    int rc = -1;

    (void)res;
    if (!available)
        return err_set(err, ERR_CONVERT, "LibreOffice is not available on this server");
    if (job->mode != CONV_MODE_CONVERT || !job->inputs || !job->inputs[0] || !job->out_format)
        return err_set(err, ERR_CONVERT, "office: nothing to convert");
    from = find_format(job->in_format);
    if (!from)
        return err_set(err, ERR_CONVERT, "office: cannot read %s", job->in_format);
    image = strcmp(job->out_format, "png") == 0 || strcmp(job->out_format, "jpg") == 0;
    if (!image && strcmp(job->out_format, "pdf") != 0) {
        to = find_format(job->out_format);
        if (!to || to->app != from->app)
            return err_set(err, ERR_CONVERT, "office: cannot write %s from %s", job->out_format,
                           job->in_format);
    }
    if (job->progress && job->progress(job->progress_opaque, 0, "Reading the document"))
        return err_set(err, ERR_CANCELLED, "cancelled");

    /* SEC-12: the worker points TMPDIR at the job's own folder. */
    const char *base = getenv("TMPDIR");
    if (!base || base[0] != '/')
        base = "/tmp";
    work = xasprintf("%s/convertd-office-XXXXXX", base);
    if (!mkdtemp(work)) {
        err_set(err, ERR_INTERNAL, "office: cannot create a work folder in %s: %s", base,
                strerror(errno));
        free(work);
        work = NULL;
        goto out;
    }
    in = xasprintf("%s/in.%s", work, from->name);
    if (helper_link_input(job->inputs[0], in, "office", err) < 0)
        goto out;
    if (image) {
        out = xasprintf("%s/out.pdf", work);
    } else {
        /* LibreOffice runs elsewhere: it needs an absolute path. */
        if (job->output_dir[0] != '/') {
            char cwd[PATH_MAX];
            if (!getcwd(cwd, sizeof cwd)) {
                err_set(err, ERR_INTERNAL, "office: getcwd: %s", strerror(errno));
                goto out;
            }
            abs_out_dir = xasprintf("%s/%s", cwd, job->output_dir);
        }
        out = xasprintf("%s/out.%s", abs_out_dir ? abs_out_dir : job->output_dir,
                        to ? to->name : "pdf");
    }
    if (office_run(job, from, to, in, out, image ? 10 : 20, err) < 0)
        goto out;
#if HAVE_QPDF
    /* SEC-09: an office file's page count is only known once laid out. A PDF result over
     * the limit fails here (pages for images are checked by ghostscript). */
    if (!image && !to && job->limits && job->limits->max_pages > 0) {
        struct pdf_facts f = {0};
        int r = pdf_read_facts(out, job->limits->max_pages, &f, err);
        pdf_facts_fini(&f);
        if (r < 0) {
            unlink(out);
            goto out;
        }
    }
#endif
    if (image) {
        if (job->progress && job->progress(job->progress_opaque, 50, "Rendering the pages"))
            err_set(err, ERR_CANCELLED, "cancelled");
        else if (render_pdf(job, out, err) == 0)
            rc = 0;
        goto out;
    }
    rc = 0;
out:
    if (rc == 0 && job->progress)
        job->progress(job->progress_opaque, 100, "Converted");
    if (work)
        fsx_rm_rf(work);
    free(work);
    free(in);
    free(out);
    free(abs_out_dir);
    return rc;
}

/* ---- init -------------------------------------------------------------------------- */

static int init(struct err *err)
{
    available = false;
    if (access(SOFFICE_PATH, X_OK) < 0)
        return err_set(err, ERR_INTERNAL,
                       "office: %s: %s (install libreoffice-core for office documents)",
                       SOFFICE_PATH, strerror(errno));
    if (access(PYTHON_PATH, X_OK) < 0)
        return err_set(err, ERR_INTERNAL, "office: %s: %s", PYTHON_PATH, strerror(errno));
    if (access(PYUNO_PATH, R_OK) < 0)
        return err_set(err, ERR_INTERNAL,
                       "office: %s: %s (install python3-uno for office documents)", PYUNO_PATH,
                       strerror(errno));
    available = true;
    return 0;
}

static void cleanup(void)
{
    if (bridge.pid > 0)
        bridge_stop(true);
}

const struct converter converter_office = {
    .name = "office",
    .modes = CONV_MODE_CONVERT,
    /* The only converter for these inputs; below ghostscript, which never lists them. */
    .priority = 40,
    .pairs = pairs,
    .options = options,
    .note = NULL,
    .init = init,
    .cleanup = cleanup,
    .convert = convert,
};
