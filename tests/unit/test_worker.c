/* SPDX-License-Identifier: MIT */
/* test_worker.c - the worker pool against real worker processes (this very binary, run as
 * `test_worker worker ...`) and the fake converter; the sandbox in a forked child; the line
 * reader of the protocol. */
#include "convertd-config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <jansson.h>

#include "common/err.h"
#include "common/fsx.h"
#include "common/mem.h"
#include "common/timefmt.h"
#include "converters/options.h"
#include "converters/registry.h"
#include "server/engine/sandbox.h"
#include "server/engine/worker.h"
#include "server/engine/worker_proto.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif

/* worker.c's UNITTEST hooks. */
int worker_pool_pids(pid_t *pids, int max);
void explain_death(int status, double job_cpu, int timeout_s, struct err *err);

static char exe_path[PATH_MAX];

/* ---- helpers ---- */

struct space {
    char root[64];
    char *job_dir;
    char *output_dir;
    char *input;
    const char *inputs[2];
};

static void space_init(struct space *sp)
{
    struct err err = ERR_INIT;
    FILE *f;

    snprintf(sp->root, sizeof sp->root, "/tmp/test_worker.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(sp->root));
    sp->job_dir = xasprintf("%s/job", sp->root);
    sp->output_dir = xasprintf("%s/job/output", sp->root);
    sp->input = xasprintf("%s/job/input.fake", sp->root);
    ck_assert_int_eq(fsx_mkdir_p(sp->output_dir, &err), 0);
    f = fopen(sp->input, "w");
    ck_assert_ptr_nonnull(f);
    fputs("fake input\n", f);
    fclose(f);
    sp->inputs[0] = sp->input;
    sp->inputs[1] = NULL;
}

static void space_fini(struct space *sp)
{
    fsx_rm_rf(sp->root);
    free(sp->job_dir);
    free(sp->output_dir);
    free(sp->input);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    }
    closedir(d);
    return n;
}

static void start_pool(int count)
{
    struct worker_config cfg = {
        .exe = exe_path,
        .count = count,
        .test_converters = true,
        .mem_limit_bytes = SANDBOX_DEFAULT_MEM,
        .max_output_bytes = 64 * 1024 * 1024,
        .limits = {.max_pixels = 100000000, .max_side = 32768, .max_pages = 1000},
    };
    struct err err = ERR_INIT;

    ck_assert_msg(worker_pool_start(&cfg, &err) == 0, "pool start: %s", err.msg);
}

/* Effective options of the fake converter from a JSON text. New ref. */
static json_t *fake_options(const char *given_text)
{
    json_t *given = json_loads(given_text, 0, NULL), *eff = NULL, *echo = NULL;
    struct err err = ERR_INIT;

    ck_assert_ptr_nonnull(given);
    ck_assert_msg(options_apply(registry_by_name("fake"), given, &eff, &echo, &err) == 0,
                  "options: %s", err.msg);
    json_decref(given);
    json_decref(echo);
    return eff;
}

struct progress_log {
    double percent[256];
    int n;
    bool decreased;
};

static void record_progress(void *opaque, double percent, const char *message, double duration)
{
    struct progress_log *log = opaque;

    (void)message;
    if (log->n > 0 && percent < log->percent[log->n - 1])
        log->decreased = true;
    if (log->n < 256)
        log->percent[log->n++] = percent;
}

/* One fake job; returns worker_run's result and fills err, elapsed ms and info. */
struct run {
    const char *process_id;
    const char *options;
    const char *out_format; /* default "txt" */
    enum conv_mode mode;
    int timeout_s;
    struct space *sp;
    struct progress_log progress;
    json_t *info;
    struct err err;
    int rc;
    int64_t elapsed_ms;
};

static void run_job(struct run *r)
{
    json_t *opts = fake_options(r->options);
    struct worker_job job = {
        .process_id = r->process_id ? r->process_id : "test-process",
        .mode = r->mode ? r->mode : CONV_MODE_CONVERT,
        .in_format = "fake",
        .out_format = r->mode == CONV_MODE_INFO ? NULL
                      : r->out_format           ? r->out_format
                                                : "txt",
        .options = opts,
        .job_dir = r->sp->job_dir,
        .inputs = r->sp->inputs,
        .output_dir = r->sp->output_dir,
        .timeout_s = r->timeout_s ? r->timeout_s : 20,
    };
    int64_t t0 = time_mono_ms();

    err_clear(&r->err);
    r->rc = worker_run(&job, record_progress, &r->progress, &r->info, &r->err);
    r->elapsed_ms = time_mono_ms() - t0;
    json_decref(opts);
}

static void *run_thread(void *arg)
{
    run_job(arg);
    return NULL;
}

static void msleep(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ---- the pool ---- */

START_TEST(test_ok_job)
{
    struct space sp;
    struct run r = {.options = "{\"action\":\"ok\",\"percent_steps\":10}", .sp = &sp};
    char *out;
    struct stat st;

    space_init(&sp);
    start_pool(1);
    run_job(&r);
    ck_assert_msg(r.rc == 0, "ok job failed: %s", r.err.msg);
    ck_assert_ptr_null(r.info); /* CONVERT mode never hands out info */
    out = xasprintf("%s/out.txt", sp.output_dir);
    ck_assert_int_eq(stat(out, &st), 0);
    ck_assert_int_eq(st.st_size, (int64_t)strlen("fake input\n"));
    free(out);
    /* Throttled, but the last step always arrives, and nothing goes backwards. */
    ck_assert_int_ge(r.progress.n, 1);
    ck_assert(!r.progress.decreased);
    ck_assert_double_eq_tol(r.progress.percent[r.progress.n - 1], 100.0, 1e-9);

    /* The same worker takes the next job. */
    {
        pid_t before, after;
        struct run r2 = {.options = "{\"files\":3}", .sp = &sp};

        worker_pool_pids(&before, 1);
        run_job(&r2);
        worker_pool_pids(&after, 1);
        ck_assert_msg(r2.rc == 0, "second job: %s", r2.err.msg);
        ck_assert_int_eq(before, after);
        ck_assert_int_eq(count_entries(sp.output_dir), 4); /* out.txt + 1.txt .. 3.txt */
    }
    worker_pool_stop();
    space_fini(&sp);
}
END_TEST

START_TEST(test_info_job)
{
    struct space sp;
    struct run r = {.options = "{}", .mode = CONV_MODE_INFO, .sp = &sp};

    space_init(&sp);
    start_pool(1);
    run_job(&r);
    ck_assert_msg(r.rc == 0, "info job failed: %s", r.err.msg);
    ck_assert_ptr_nonnull(r.info);
    ck_assert_str_eq(json_string_value(json_object_get(r.info, "format")), "fake");
    ck_assert_int_eq(json_integer_value(json_object_get(r.info, "size")),
                     (json_int_t)strlen("fake input\n"));
    json_decref(r.info);
    worker_pool_stop();
    space_fini(&sp);
}
END_TEST

START_TEST(test_fail_empties_output)
{
    struct space sp;
    struct run r = {.options = "{\"action\":\"fail\"}", .sp = &sp};
    char *partial, *subdir;
    FILE *f;
    pid_t before, after;

    space_init(&sp);
    /* What a converter might leave behind before failing: a file and a folder. */
    partial = xasprintf("%s/out.txt", sp.output_dir);
    subdir = xasprintf("%s/pages", sp.output_dir);
    f = fopen(partial, "w");
    ck_assert_ptr_nonnull(f);
    fputs("half", f);
    fclose(f);
    ck_assert_int_eq(mkdir(subdir, 0700), 0);
    start_pool(1);
    worker_pool_pids(&before, 1);
    run_job(&r);
    worker_pool_pids(&after, 1);
    ck_assert_int_eq(r.rc, -1);
    ck_assert_int_eq(r.err.code, ERR_CONVERT);
    ck_assert_str_eq(r.err.msg, "fake failure requested");
    ck_assert_int_eq(count_entries(sp.output_dir), 0);
    ck_assert_int_eq(before, after); /* a converter error never costs the worker */
    free(partial);
    free(subdir);
    worker_pool_stop();
    space_fini(&sp);
}
END_TEST

static const struct {
    const char *action;
    const char *message;
} crash_table[] = {
    {"crash", "conversion crashed (signal 11, Segmentation fault)"},
    {"abort", "conversion crashed (signal 6, Aborted)"},
};

START_TEST(test_crash_replaced)
{
    struct space sp;
    char opts[64];
    struct run r = {.options = opts, .sp = &sp};
    struct run next = {.options = "{}", .sp = &sp};
    pid_t before, after;

    snprintf(opts, sizeof opts, "{\"action\":\"%s\",\"percent_steps\":2}", crash_table[_i].action);
    space_init(&sp);
    start_pool(1);
    worker_pool_pids(&before, 1);
    run_job(&r);
    ck_assert_int_eq(r.rc, -1);
    ck_assert_int_eq(r.err.code, ERR_CONVERT);
    ck_assert_str_eq(r.err.msg, crash_table[_i].message);
    ck_assert_int_eq(count_entries(sp.output_dir), 0);
    ck_assert_msg(kill(before, 0) < 0 && errno == ESRCH, "crashed worker %d not reaped", before);
    fprintf(stderr, "# %s reported after %lld ms\n", crash_table[_i].action,
            (long long)r.elapsed_ms);

    /* The slot gets a new worker and the next job runs on it. */
    run_job(&next);
    ck_assert_msg(next.rc == 0, "job after a crash: %s", next.err.msg);
    worker_pool_pids(&after, 1);
    ck_assert_int_ne(after, before);
    ck_assert_int_gt(after, 0);
    fprintf(stderr, "# next job after %s done in %lld ms (includes the respawn)\n",
            crash_table[_i].action, (long long)next.elapsed_ms);
    worker_pool_stop();
    space_fini(&sp);
}
END_TEST

START_TEST(test_hang_timeout)
{
    struct space sp;
    struct run r = {.options = "{\"action\":\"hang\"}", .timeout_s = 2, .sp = &sp};
    struct run next = {.options = "{}", .sp = &sp};
    pid_t before;

    space_init(&sp);
    start_pool(1);
    worker_pool_pids(&before, 1);
    ck_assert_int_gt(before, 0);
    run_job(&r);
    ck_assert_int_eq(r.rc, -1);
    ck_assert_int_eq(r.err.code, ERR_CONVERT);
    ck_assert_str_eq(r.err.msg, "time limit exceeded (2 s)");
    ck_assert_int_ge(r.elapsed_ms, 2000);
    ck_assert_int_le(r.elapsed_ms, 6000);
    ck_assert_msg(kill(before, 0) < 0 && errno == ESRCH, "hung worker %d still exists", before);
    fprintf(stderr, "# timeout of 2 s reported after %lld ms\n", (long long)r.elapsed_ms);
    run_job(&next);
    ck_assert_msg(next.rc == 0, "job after a timeout: %s", next.err.msg);
    worker_pool_stop();
    space_fini(&sp);
}
END_TEST

struct canceller {
    const char *process_id;
    int delay_ms;
};

static void *cancel_later(void *arg)
{
    struct canceller *c = arg;

    msleep(c->delay_ms);
    worker_cancel(c->process_id);
    return NULL;
}

START_TEST(test_cancel_running)
{
    struct space sp;
    struct run r = {
        .process_id = "p-cancel", .options = "{\"action\":\"sleep\",\"seconds\":10}", .sp = &sp};
    struct run other = {.process_id = "p-other", .options = "{}", .sp = &sp};
    struct canceller c = {"p-cancel", 500};
    pthread_t t;

    space_init(&sp);
    start_pool(1);
    pthread_create(&t, NULL, cancel_later, &c);
    run_job(&r);
    pthread_join(t, NULL);
    ck_assert_int_eq(r.rc, -1);
    ck_assert_int_eq(r.err.code, ERR_CANCELLED);
    ck_assert_int_lt(r.elapsed_ms, 2500);
    fprintf(stderr, "# cancel after 500 ms reported after %lld ms\n", (long long)r.elapsed_ms);
    /* Cancelling an unknown id is harmless, and the pool still works. */
    worker_cancel("p-nobody");
    run_job(&other);
    ck_assert_msg(other.rc == 0, "job after a cancel: %s", other.err.msg);
    worker_pool_stop();
    space_fini(&sp);
}
END_TEST

START_TEST(test_cancel_waiting)
{
    struct space sp1, sp2;
    struct run busy = {.process_id = "p-busy",
                       .options = "{\"action\":\"sleep\",\"seconds\":3,\"percent_steps\":3}",
                       .sp = &sp1};
    struct run waiting = {.process_id = "p-wait", .options = "{}", .sp = &sp2};
    struct canceller c = {"p-wait", 300};
    pthread_t t1, t2;

    space_init(&sp1);
    space_init(&sp2);
    start_pool(1);
    pthread_create(&t1, NULL, run_thread, &busy);
    msleep(200); /* busy holds the only worker */
    pthread_create(&t2, NULL, cancel_later, &c);
    run_job(&waiting);
    ck_assert_int_eq(waiting.rc, -1);
    ck_assert_int_eq(waiting.err.code, ERR_CANCELLED);
    ck_assert_int_lt(waiting.elapsed_ms, 1500);
    pthread_join(t2, NULL);
    pthread_join(t1, NULL);
    ck_assert_msg(busy.rc == 0, "busy job: %s", busy.err.msg);
    worker_pool_stop();
    space_fini(&sp1);
    space_fini(&sp2);
}
END_TEST

START_TEST(test_parallel)
{
    struct space sp1, sp2, sp3;
    const char *opts = "{\"action\":\"sleep\",\"seconds\":1}";
    struct run one = {.options = opts, .sp = &sp1};
    struct run a = {.process_id = "p-a", .options = opts, .sp = &sp2};
    struct run b = {.process_id = "p-b", .options = opts, .sp = &sp3};
    pthread_t ta, tb;
    int64_t t0, both;

    space_init(&sp1);
    space_init(&sp2);
    space_init(&sp3);
    start_pool(2);
    run_job(&one);
    ck_assert_msg(one.rc == 0, "single: %s", one.err.msg);
    t0 = time_mono_ms();
    pthread_create(&ta, NULL, run_thread, &a);
    pthread_create(&tb, NULL, run_thread, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    both = time_mono_ms() - t0;
    ck_assert_msg(a.rc == 0 && b.rc == 0, "parallel: %s / %s", a.err.msg, b.err.msg);
    ck_assert_msg(both < one.elapsed_ms * 16 / 10, "two jobs took %lld ms, one %lld ms",
                  (long long)both, (long long)one.elapsed_ms);
    worker_pool_stop();
    space_fini(&sp1);
    space_fini(&sp2);
    space_fini(&sp3);
}
END_TEST

/* A job that wants every core counts as that many slots: two of them run one after the
 * other on a two-worker pool, and each gets every core as its thread count. */
START_TEST(test_heavy_jobs_take_every_core)
{
    struct space sp1, sp2;
    const char *opts = "{\"action\":\"sleep\",\"seconds\":1}";
    struct run a = {.process_id = "p-a", .options = opts, .out_format = "heavy", .sp = &sp1};
    struct run b = {.process_id = "p-b", .options = opts, .out_format = "heavy", .sp = &sp2};
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    pthread_t ta, tb;
    int64_t t0, both;
    char *path, *text;
    size_t len;
    struct err err = ERR_INIT;

    space_init(&sp1);
    space_init(&sp2);
    start_pool(2);
    t0 = time_mono_ms();
    pthread_create(&ta, NULL, run_thread, &a);
    pthread_create(&tb, NULL, run_thread, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    both = time_mono_ms() - t0;
    ck_assert_msg(a.rc == 0 && b.rc == 0, "heavy: %s / %s", a.err.msg, b.err.msg);
    if (cores >= 2)
        ck_assert_msg(both >= 1900, "two jobs that want every core overlapped: %lld ms",
                      (long long)both);
    path = xasprintf("%s/out.heavy", sp1.output_dir);
    text = fsx_read_file(path, 64, &len, &err);
    ck_assert_msg(text != NULL, "no output: %s", err.msg);
    ck_assert_int_eq(strtol(text, NULL, 10), cores > 0 ? cores : 1);
    free(text);
    free(path);
    worker_pool_stop();
    space_fini(&sp1);
    space_fini(&sp2);
}
END_TEST

static void *stop_later(void *arg)
{
    msleep(*(int *)arg);
    worker_pool_stop();
    return NULL;
}

START_TEST(test_stop_cancels)
{
    struct space sp1, sp2;
    struct run running = {.process_id = "p-run", .options = "{\"action\":\"hang\"}", .sp = &sp1};
    struct run waiting = {.process_id = "p-wait", .options = "{}", .sp = &sp2};
    struct run after = {.options = "{}", .sp = &sp2};
    pthread_t t1, t2;
    int delay = 500;
    pid_t pid;

    space_init(&sp1);
    space_init(&sp2);
    start_pool(1);
    worker_pool_pids(&pid, 1);
    pthread_create(&t1, NULL, run_thread, &running);
    msleep(200);
    pthread_create(&t2, NULL, stop_later, &delay);
    run_job(&waiting);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    ck_assert_int_eq(running.err.code, ERR_CANCELLED);
    ck_assert_int_eq(waiting.err.code, ERR_CANCELLED);
    ck_assert_int_lt(running.elapsed_ms, 3000);
    ck_assert_msg(kill(pid, 0) < 0 && errno == ESRCH, "worker %d survived the stop", pid);
    /* A stopped pool refuses work, and may be started again. */
    run_job(&after);
    ck_assert_int_eq(after.rc, -1);
    ck_assert_int_eq(after.err.code, ERR_CANCELLED);
    start_pool(1);
    err_clear(&after.err);
    run_job(&after);
    ck_assert_msg(after.rc == 0, "restarted pool: %s", after.err.msg);
    worker_pool_stop();
    space_fini(&sp1);
    space_fini(&sp2);
}
END_TEST

START_TEST(test_start_failure)
{
    struct worker_config cfg = {.exe = "/bin/false", .count = 2};
    struct err err = ERR_INIT;
    int64_t t0 = time_mono_ms();

    ck_assert_int_eq(worker_pool_start(&cfg, &err), -1);
    ck_assert_int_eq(err.code, ERR_INTERNAL);
    ck_assert_msg(strstr(err.msg, "exited with status 1") != NULL, "message: %s", err.msg);
    ck_assert_int_lt(time_mono_ms() - t0, 5000);

    err_clear(&err);
    cfg.exe = "relative/convertd";
    ck_assert_int_eq(worker_pool_start(&cfg, &err), -1);
    /* A failed start leaves nothing running: a good start still works. */
    start_pool(1);
    worker_pool_stop();
}
END_TEST

/* ---- the sandbox, in a forked child (it closes fds and cannot be undone) ---- */

enum {
    SB_OK = 100, /* + SANDBOX_* bits */
    SB_APPLY_FAILED = 1,
    SB_NETWORK = 2,
    SB_CORE = 3,
    SB_FD_OPEN = 4,
    SB_NO_NEW_PRIVS = 5,
    SB_PGRP = 6,
    SB_SECCOMP_INEFFECTIVE = 7,
    SB_NETNS_INEFFECTIVE = 8,
    SB_FSIZE = 9,
    SB_CPU = 10,
    SB_NOTHING_ISOLATES = 11,
    SB_MEM = 12,
};

static int sandbox_child(pid_t parent)
{
    struct sandbox_config cfg = {
        .parent_pid = parent, .mem_limit_bytes = SANDBOX_DEFAULT_MEM, .max_output_bytes = 1 << 20};
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(9)};
    struct err err = ERR_INIT;
    unsigned features = 0;
    struct rlimit rl;
    char path[] = "/tmp/test_worker_fsize.XXXXXX";
    char block[4096] = {0};
    int leak = open("/dev/null", O_RDONLY); /* no O_CLOEXEC: like a leaked server fd */
    int fd, s;

    while (leak >= 0 && leak < SANDBOX_FIRST_CLOSED_FD)
        leak = dup(leak);
    if (sandbox_apply_worker(&cfg, &features, &err) < 0)
        return SB_APPLY_FAILED;

    /* No network, by whichever layer took effect: nothing routes out, and nothing listens
     * on the namespace's own loopback. */
    s = socket(AF_INET, SOCK_STREAM, 0);
    inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr);
    if (s >= 0 && (connect(s, (struct sockaddr *)&sin, sizeof sin) == 0 || errno != ENETUNREACH))
        return SB_NETWORK;
    if (s >= 0)
        close(s);
    if (!(features & (SANDBOX_NETNS | SANDBOX_SECCOMP)))
        return SB_NOTHING_ISOLATES;
    if (features & SANDBOX_NETNS) {
        s = socket(AF_INET, SOCK_STREAM, 0);
        inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
        if (s < 0 || connect(s, (struct sockaddr *)&sin, sizeof sin) == 0 || errno != ECONNREFUSED)
            return SB_NETWORK;
        close(s);
    }
    if (features & SANDBOX_SECCOMP) {
        /* IP sockets only inside the private namespace; raw-ish families never. */
        s = socket(AF_INET, SOCK_STREAM, 0);
        if ((features & SANDBOX_NETNS) ? s < 0 : (s >= 0 || errno != EPERM))
            return SB_SECCOMP_INEFFECTIVE;
        if (s >= 0)
            close(s);
        if (socket(AF_NETLINK, SOCK_RAW, 0) >= 0 || errno != EPERM)
            return SB_SECCOMP_INEFFECTIVE;
        if (socket(AF_PACKET, SOCK_RAW, 0) >= 0 || errno != EPERM)
            return SB_SECCOMP_INEFFECTIVE;
        if (mount("none", "/mnt", "tmpfs", 0, NULL) == 0 || errno != EPERM)
            return SB_SECCOMP_INEFFECTIVE;
        s = socket(AF_UNIX, SOCK_STREAM, 0);
        if (s < 0)
            return SB_SECCOMP_INEFFECTIVE; /* too much denied */
        close(s);
    }
    if (features & SANDBOX_NETNS) {
        /* /proc/self/net shows the namespace of the reader: only lo. */
        FILE *f = fopen("/proc/self/net/dev", "r");
        char line[256];
        int ifaces = 0, lo = 0;

        if (f == NULL)
            return SB_NETNS_INEFFECTIVE;
        while (fgets(line, sizeof line, f)) {
            if (strchr(line, ':') == NULL)
                continue;
            ifaces++;
            lo += strstr(line, "lo:") != NULL;
        }
        fclose(f);
        if (ifaces != 1 || lo != 1)
            return SB_NETNS_INEFFECTIVE;
    }
    if (getrlimit(RLIMIT_CORE, &rl) < 0 || rl.rlim_cur != 0 || rl.rlim_max != 0)
        return SB_CORE;
#ifndef UNDER_SANITIZER
    /* Memory: RLIMIT_DATA both ways; RLIMIT_AS soft only (Chromium lifts its own). Sanitizer
     * builds set neither (their shadow memory would not fit). */
    if (getrlimit(RLIMIT_DATA, &rl) < 0 || rl.rlim_cur != (rlim_t)SANDBOX_DEFAULT_MEM ||
        rl.rlim_max != (rlim_t)SANDBOX_DEFAULT_MEM)
        return SB_MEM;
    if (getrlimit(RLIMIT_AS, &rl) < 0 || rl.rlim_cur != (rlim_t)SANDBOX_DEFAULT_MEM)
        return SB_MEM;
#endif
    if (fcntl(leak, F_GETFD) >= 0 || errno != EBADF)
        return SB_FD_OPEN;
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
        return SB_NO_NEW_PRIVS;
    if (getpgrp() != getpid())
        return SB_PGRP;

    /* Per job: writes stop at max_output with EFBIG (SIGXFSZ ignored), CPU is capped. */
    if (sandbox_apply_job(6000, 2, 1, &err) < 0)
        return SB_FSIZE;
    fd = mkstemp(path);
    if (fd < 0 || write(fd, block, sizeof block) != (ssize_t)sizeof block)
        return SB_FSIZE;
    if (write(fd, block, sizeof block) != 6000 - (ssize_t)sizeof block)
        return SB_FSIZE;
    if (write(fd, block, 1) != -1 || errno != EFBIG)
        return SB_FSIZE;
    close(fd);
    unlink(path);
    if (getrlimit(RLIMIT_CPU, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur < 7 ||
        rl.rlim_cur > 60)
        return SB_CPU;
    return SB_OK + (int)features;
}

START_TEST(test_sandbox)
{
    pid_t self = getpid(), pid;
    int status;

    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(sandbox_child(self));
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status), "sandboxed child died (status 0x%x)", (unsigned)status);
    ck_assert_msg(WEXITSTATUS(status) >= SB_OK, "sandbox check %d failed", WEXITSTATUS(status));
    fprintf(stderr, "# sandbox here: netns %s%s, seccomp %s\n",
            (WEXITSTATUS(status) - SB_OK) & SANDBOX_NETNS ? "yes" : "no",
            (WEXITSTATUS(status) - SB_OK) & SANDBOX_USERNS ? " (via user namespace)" : "",
            (WEXITSTATUS(status) - SB_OK) & SANDBOX_SECCOMP ? "yes" : "no");
#if HAVE_SECCOMP
    ck_assert_msg((WEXITSTATUS(status) - SB_OK) & SANDBOX_SECCOMP,
                  "seccomp did not load (was sandbox.c built with HAVE_SECCOMP?)");
#endif
}
END_TEST

START_TEST(test_sandbox_parent_changed)
{
    pid_t pid;
    int status;

    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* Claim a parent that is not ours: the worker must refuse to run. */
        struct sandbox_config cfg = {.parent_pid = 1};
        struct err err = ERR_INIT;

        _exit(sandbox_apply_worker(&cfg, NULL, &err) < 0 ? 0 : 1);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

/* ---- the protocol's line reader ---- */

static const struct {
    const char *chunks[4];
    const char *lines[4];
    bool too_long;
} reader_table[] = {
    {{"{\"a\":1}\n", NULL}, {"{\"a\":1}", NULL}, false},
    {{"ab", "c\nde", "f\n", NULL}, {"abc", "def", NULL}, false},
    {{"x\ny\n\nz", NULL}, {"x", "y", "", NULL}, false},
    {{"0123456789", "0123456789", NULL}, {NULL}, true},
    {{"short\n", "0123456789abcdefghij\n", NULL}, {"short", NULL}, true},
};

START_TEST(test_reader)
{
    struct proto_reader rd = {BUF_INIT, 0};
    int sv[2], got = 0;
    bool too_long = false;
    char *line;

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    for (int c = 0; reader_table[_i].chunks[c]; c++) {
        const char *chunk = reader_table[_i].chunks[c];
        int r;

        ck_assert_int_eq(write(sv[1], chunk, strlen(chunk)), (ssize_t)strlen(chunk));
        ck_assert_int_gt(proto_reader_fill(&rd, sv[0]), 0);
        while ((r = proto_reader_line(&rd, 16, &line)) != 0) {
            if (r < 0) {
                too_long = true;
                break;
            }
            ck_assert_ptr_nonnull(reader_table[_i].lines[got]);
            ck_assert_str_eq(line, reader_table[_i].lines[got]);
            got++;
        }
        if (too_long)
            break;
    }
    ck_assert_ptr_null(reader_table[_i].lines[got]);
    ck_assert_int_eq(too_long, reader_table[_i].too_long);
    /* Nothing more to read: EAGAIN, not EOF. */
    if (!too_long) {
        ck_assert_int_eq(proto_reader_fill(&rd, sv[0]), -1);
        ck_assert_int_eq(errno, EAGAIN);
        close(sv[1]);
        ck_assert_int_eq(proto_reader_fill(&rd, sv[0]), 0);
    } else {
        close(sv[1]);
    }
    close(sv[0]);
    proto_reader_fini(&rd);
}
END_TEST

START_TEST(test_mode_names)
{
    static const enum conv_mode modes[] = {CONV_MODE_CONVERT, CONV_MODE_INFO, CONV_MODE_COMBINE,
                                           CONV_MODE_ARCHIVE, CONV_MODE_EXTRACT};

    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        ck_assert_uint_eq(proto_mode_from_name(proto_mode_name(modes[i])), modes[i]);
    ck_assert_uint_eq(proto_mode_from_name("thumbnail"), 0);
    ck_assert_uint_eq(proto_mode_from_name(NULL), 0);
}
END_TEST

/* Deaths the fake converter cannot stage (the OOM killer, RLIMIT_CPU), as wait statuses. */
static const struct {
    int status;
    double job_cpu;
    const char *message;
} death_table[] = {
    {SIGSEGV, 0.1, "conversion crashed (signal 11, Segmentation fault)"},
    {SIGBUS, 0.1, "conversion crashed (signal 7, Bus error)"},
    {SIGXCPU, 30.0, "time limit exceeded (30 s of CPU time)"},
    {SIGKILL, 31.0, "time limit exceeded (30 s of CPU time)"},
    {SIGKILL, 2.0, "memory limit exceeded"},
    {3 << 8, 0.1, "conversion failed: worker exited with status 3"},
    {0, 0.1, "conversion failed: worker exited with status 0"},
    {-1, 0.1, "conversion crashed (worker vanished)"},
};

START_TEST(test_explain_death)
{
    struct err err = ERR_INIT;

    explain_death(death_table[_i].status, death_table[_i].job_cpu, 30, &err);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_str_eq(err.msg, death_table[_i].message);
}
END_TEST

static Suite *worker_suite(void)
{
    Suite *s = suite_create("worker");
    TCase *tc;

    tc = tcase_create("pool");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_ok_job);
    tcase_add_test(tc, test_info_job);
    tcase_add_test(tc, test_fail_empties_output);
    tcase_add_loop_test(tc, test_crash_replaced, 0, sizeof crash_table / sizeof crash_table[0]);
    tcase_add_test(tc, test_hang_timeout);
    tcase_add_test(tc, test_cancel_running);
    tcase_add_test(tc, test_cancel_waiting);
    tcase_add_test(tc, test_parallel);
    tcase_add_test(tc, test_heavy_jobs_take_every_core);
    tcase_add_test(tc, test_stop_cancels);
    tcase_add_test(tc, test_start_failure);
    suite_add_tcase(s, tc);

    tc = tcase_create("sandbox");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_sandbox);
    tcase_add_test(tc, test_sandbox_parent_changed);
    suite_add_tcase(s, tc);

    tc = tcase_create("protocol");
    tcase_add_loop_test(tc, test_reader, 0, sizeof reader_table / sizeof reader_table[0]);
    tcase_add_test(tc, test_mode_names);
    tcase_add_loop_test(tc, test_explain_death, 0, sizeof death_table / sizeof death_table[0]);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    SRunner *sr;
    int failed;

    /* The pool execs this binary as its worker: `test_worker worker --mem-limit ...`. */
    if (argc > 1 && strcmp(argv[1], "worker") == 0)
        return worker_main(argc - 1, argv + 1);
    if (realpath("/proc/self/exe", exe_path) == NULL) {
        perror("realpath /proc/self/exe");
        return EXIT_FAILURE;
    }
    registry_enable_test_converters(true);
    sr = srunner_create(worker_suite());
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
