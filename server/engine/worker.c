/* SPDX-License-Identifier: MIT */
/* worker.c - the pool of sandboxed `convertd worker` processes: spawn, feed, supervise, replace.
 *
 * DESIGN
 * The pool is one static object: N slots, each holding at most one worker process and the
 * server's end of its socketpair (non-blocking). A slot is EMPTY (no process), STARTING
 * (spawned, its ready line not yet read), IDLE or BUSY. One mutex guards every slot's state
 * and pid, the list of worker_run() calls, and the flags; one condition variable announces
 * "a slot became idle", "a job was cancelled" and "the pool is stopping".
 *
 * Two kinds of threads touch slots, never the same slot at once:
 *   - The supervisor thread (started by worker_pool_start, joined by worker_pool_stop) owns
 *     EMPTY, STARTING and IDLE slots. It alone spawns workers: PR_SET_PDEATHSIG fires when the
 *     *thread* that forked a child exits, so workers must come from a thread that lives as
 *     long as the pool (the worker also re-checks getppid() against --parent-pid). It reads
 *     ready lines, watches idle workers (any byte or EOF from an idle worker means it died or
 *     went mad: kill and replace), and respawns with a backoff when starts keep failing.
 *   - A worker_run() call waits on the condition variable for an IDLE slot (first come, first
 *     served), marks it BUSY and owns it until the job ends: it writes the job line, reads
 *     progress and the result with poll() against the wall-clock deadline, and on a timeout,
 *     crash or bad message kills the worker's process group, reaps it and hands the slot back
 *     EMPTY, which makes the supervisor start a replacement. The caller's job folder is not
 *     touched, except that the output folder is emptied on failure.
 * worker_cancel() and worker_pool_stop() only flag and SIGKILL under the mutex; the owner of
 * the slot notices EOF and does the rest. A slot's pid stays > 0 until its owner reaps it,
 * and its owner clears it under the mutex before waitpid(), so kill(-pid) under the mutex
 * never reaches a recycled process group.
 */
#include "server/engine/worker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "common/fsx.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/timefmt.h"
#include "converters/registry.h"
#include "storage/webproxy.h"
#include "server/engine/worker_proto.h"

#define READY_TIMEOUT_MS  60000 /* from spawn to the ready line */
#define START_WAIT_MS     30000 /* worker_pool_start waits this long for every worker */
#define MAX_BACKOFF_MS    30000 /* between failed starts of one slot */
#define BROKEN_AFTER      3     /* failed starts in a row, on every slot, fail waiting jobs */
#define DEFAULT_TIMEOUT_S 600   /* a job without a timeout is a caller bug; do not hang */

enum slot_state { SLOT_EMPTY, SLOT_STARTING, SLOT_IDLE, SLOT_BUSY };

struct job;

struct slot {
    int index;
    enum slot_state state;
    pid_t pid; /* > 0 while unreaped: the group may be killed under the mutex */
    int fd;    /* server end of the socketpair; -1 when none */
    struct proto_reader rd;
    int64_t ready_deadline_ms; /* STARTING */
    int64_t respawn_ms;        /* EMPTY: start a worker at this time */
    int start_failures;        /* in a row */
    bool killed;               /* worker_cancel() or worker_pool_stop() sent SIGKILL */
    struct job *job;           /* BUSY */
};

/* One worker_run() call, waiting or running. Lives on its caller's stack. */
struct job {
    const char *process_id;
    int cpus; /* cores it uses: counted against pool.cpu_total while it holds a slot */
    bool cancelled;
    struct slot *slot;
    struct job *next;
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool running;  /* between worker_pool_start and the end of worker_pool_stop */
    bool stopping; /* worker_pool_stop has begun */
    bool broken;   /* every slot keeps failing to start */
    char *exe;
    bool test_converters;
    int64_t mem_limit;
    int64_t max_output;
    struct conv_limits limits;
    uid_t run_uid; /* > 0: workers drop to this account */
    gid_t run_gid;
    int count;
    /* A video encode uses every core: a job counts as the cores it uses, and jobs start
     * only while the running ones leave enough (max(cores, workers) in all). */
    int cores;
    int cpu_total;
    int cpu_used;
    struct slot *slots;
    struct job *jobs; /* in arrival order */
    int callers;      /* worker_run() calls inside the pool */
    int wake_fd;      /* eventfd: makes the supervisor look at the slots again */
    pthread_t supervisor;
    bool warned_netns, warned_seccomp;
    char start_error[200];
} pool = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
    .wake_fd = -1,
};

static void poke_supervisor(void)
{
    uint64_t one = 1;

    if (pool.wake_fd >= 0 && write(pool.wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        log_warn("worker pool: cannot wake the supervisor: %s", strerror(errno));
}

/* Fork+exec one worker with the socketpair's other end as fd 3. Called by the supervisor
 * thread without the mutex; pool.exe and the limits do not change while the pool runs. */
static int spawn_worker(pid_t *pid_out, int *fd_out, struct err *err)
{
    char mem[32], out[32], ppid[32], uid[32], gid[32];
    char *argv[14];
    int argc = 0, sv[2], px[2], saved;
    struct err perr = ERR_INIT;
    sigset_t all, old;
    pid_t pid;

    snprintf(mem, sizeof mem, "%" PRId64, pool.mem_limit);
    snprintf(out, sizeof out, "%" PRId64, pool.max_output);
    snprintf(ppid, sizeof ppid, "%ld", (long)getpid());
    argv[argc++] = pool.exe;
    argv[argc++] = "worker";
    argv[argc++] = "--mem-limit";
    argv[argc++] = mem;
    argv[argc++] = "--max-output";
    argv[argc++] = out;
    argv[argc++] = "--parent-pid";
    argv[argc++] = ppid;
    if (pool.test_converters)
        argv[argc++] = "--test-converters";
    if (pool.run_uid > 0) {
        snprintf(uid, sizeof uid, "%ld", (long)pool.run_uid);
        snprintf(gid, sizeof gid, "%ld", (long)pool.run_gid);
        argv[argc++] = "--uid";
        argv[argc++] = uid;
        argv[argc++] = "--gid";
        argv[argc++] = gid;
    }
    argv[argc] = NULL;

    /* CLOEXEC on both ends: a process another thread spawns meanwhile inherits neither. The
     * second pair carries the connections of web-page renders to the proxy (webproxy.h). */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return err_set(err, ERR_INTERNAL, "socketpair: %s", strerror(errno));
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, px) < 0) {
        saved = errno;
        close(sv[0]);
        close(sv[1]);
        return err_set(err, ERR_INTERNAL, "socketpair: %s", strerror(saved));
    }
    /* No signal handler of the server may run in the child between fork and exec. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid = fork();
    if (pid == 0) {
        /* The server is multithreaded: only async-signal-safe calls until execv (SEC-20).
         * Both ends move above the target numbers first so neither dup2 can clobber the
         * other; dup2 clears CLOEXEC on fds 3 and 4. */
        int proto = fcntl(sv[1], F_DUPFD_CLOEXEC, 16);
        int proxy = fcntl(px[1], F_DUPFD_CLOEXEC, 16);

        if (proto < 0 || proxy < 0 || dup2(proto, PROTO_FD) < 0 || dup2(proxy, PROTO_PROXY_FD) < 0)
            _exit(127);
        setpgid(0, 0);
        execv(argv[0], argv);
        _exit(127);
    }
    saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(sv[1]);
    close(px[1]);
    if (pid < 0) {
        close(sv[0]);
        close(px[0]);
        return err_set(err, ERR_INTERNAL, "fork: %s", strerror(saved));
    }
    /* Both sides set the group, so kill(-pid) works whichever runs first (the shells' idiom);
     * EACCES once the child has exec'd is fine. */
    setpgid(pid, pid);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    /* The proxy thread ends by itself when the worker's end closes (exit or kill). */
    if (webproxy_attach(px[0], &perr) < 0)
        log_warn("worker pool: web pages will not load: %s", perr.msg);
    *pid_out = pid;
    *fd_out = sv[0];
    return 0;
}

static void describe_status(int status, char *out, size_t size)
{
    if (WIFSIGNALED(status))
        snprintf(out, size, "killed by signal %d (%s)", WTERMSIG(status),
                 sigdescr_np(WTERMSIG(status)) ? sigdescr_np(WTERMSIG(status)) : "?");
    else if (WIFEXITED(status))
        snprintf(out, size, "exited with status %d", WEXITSTATUS(status));
    else
        snprintf(out, size, "ended (status 0x%x)", (unsigned)status);
}

/* Kill, reap and empty a slot the supervisor owns. Called with the mutex held; drops it
 * around waitpid(). */
/* What a killed worker could not clean up itself: the warm LibreOffice's profile folder
 * (office.c names it after the worker's pid). fsx_rm_rf never follows a symlink. */
static void remove_worker_leftovers(pid_t pid)
{
    char pattern[64];
    glob_t g;

    snprintf(pattern, sizeof pattern, "/tmp/convertd-office-%ld-*", (long)pid);
    if (glob(pattern, GLOB_NOSORT, NULL, &g) != 0)
        return;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        if (fsx_rm_rf(g.gl_pathv[i]) < 0)
            log_warn("cannot remove %s: %s", g.gl_pathv[i], strerror(errno));
    }
    globfree(&g);
}

static void retire_slot(struct slot *s, bool start_failure, const char *why)
{
    pid_t pid = s->pid;
    int status = 0;
    pid_t r = 0;
    char how[96] = "";

    if (pid > 0)
        kill(-pid, SIGKILL);
    s->pid = 0;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    proto_reader_reset(&s->rd);
    s->state = SLOT_EMPTY;
    s->killed = false;
    if (pid > 0) {
        pthread_mutex_unlock(&pool.mu);
        do {
            r = waitpid(pid, &status, 0);
        } while (r < 0 && errno == EINTR);
        remove_worker_leftovers(pid);
        pthread_mutex_lock(&pool.mu);
        if (r == pid)
            describe_status(status, how, sizeof how);
        else
            snprintf(how, sizeof how, "gone (%s)", strerror(errno));
    }
    if (start_failure) {
        int64_t backoff = 1000;

        for (int i = 1; i < s->start_failures && backoff < MAX_BACKOFF_MS; i++)
            backoff *= 2;
        s->start_failures++;
        s->respawn_ms = time_mono_ms() + (s->start_failures > 1 ? backoff : 0);
        snprintf(pool.start_error, sizeof pool.start_error, "worker %s %s", why, how);
        log_error("worker %d (pid %ld) %s %s", s->index, (long)pid, why, how);
        pool.broken = true;
        for (int i = 0; i < pool.count; i++) {
            if (pool.slots[i].start_failures < BROKEN_AFTER)
                pool.broken = false;
        }
        /* worker_pool_start waits for this, and waiting jobs for pool.broken. */
        pthread_cond_broadcast(&pool.cond);
    } else {
        s->respawn_ms = 0;
        if (!pool.stopping)
            log_warn("worker %d (pid %ld) %s %s", s->index, (long)pid, why, how);
    }
}

/* The supervisor starts a worker in an EMPTY slot. Drops the mutex around the fork. */
static void start_slot(struct slot *s)
{
    struct err err = ERR_INIT;
    pid_t pid = 0;
    int fd = -1;
    int rc;

    s->state = SLOT_STARTING;
    pthread_mutex_unlock(&pool.mu);
    rc = spawn_worker(&pid, &fd, &err);
    pthread_mutex_lock(&pool.mu);
    if (rc < 0) {
        s->state = SLOT_EMPTY;
        retire_slot(s, true, err.msg); /* "fork: ..." */
        return;
    }
    s->pid = pid;
    s->fd = fd;
    proto_reader_reset(&s->rd);
    s->ready_deadline_ms = time_mono_ms() + READY_TIMEOUT_MS;
    log_debug("worker %d started (pid %ld)", s->index, (long)pid);
}

/* Bytes from a STARTING slot: its ready line, or the reason it died. Mutex held. */
static void read_ready(struct slot *s)
{
    ssize_t n = proto_reader_fill(&s->rd, s->fd);
    json_t *msg;
    char *line;
    int r;

    if (n < 0 && errno == EAGAIN)
        return;
    if (n <= 0) {
        retire_slot(s, true, "exited before it was ready:");
        return;
    }
    r = proto_reader_line(&s->rd, 4096, &line);
    if (r == 0)
        return;
    msg = r > 0 ? json_loads(line, 0, NULL) : NULL;
    if (!json_is_true(jsonx_get(msg, "ready")) || s->rd.start != s->rd.buf.len) {
        json_decref(msg);
        retire_slot(s, true, "sent a bad ready line and was");
        return;
    }
    /* What a worker cannot run (a helper program missing), the server does not offer. */
    const json_t *disabled = jsonx_get(msg, "disabled");
    for (size_t i = 0; i < json_array_size(disabled); i++) {
        const char *name = jsonx_str(json_array_get(disabled, i));
        if (registry_disable(name))
            log_warn("converter %s is not offered: the workers cannot run it", name);
    }
    /* SEC-21 falls back cleanly where a container forbids a layer: say so once. */
    if (!json_is_true(jsonx_get(msg, "netns")) && !pool.warned_netns) {
        log_warn("workers run without a private network namespace (unshare refused here); "
                 "seccomp still denies them IP sockets, so web pages cannot load");
        pool.warned_netns = true;
    }
    if (!json_is_true(jsonx_get(msg, "seccomp")) && !pool.warned_seccomp) {
        log_warn("workers run without a seccomp filter (not built in or refused here)");
        pool.warned_seccomp = true;
    }
    json_decref(msg);
    proto_reader_reset(&s->rd);
    s->state = SLOT_IDLE;
    s->start_failures = 0;
    pool.broken = false;
    pthread_cond_broadcast(&pool.cond);
}

/* An IDLE worker spoke or hung up: it has no business doing either. Mutex held. */
static void check_idle(struct slot *s)
{
    char c;
    ssize_t n = recv(s->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return; /* readiness left over from the job that just ended */
    retire_slot(s, false, n == 0 ? "exited while idle:" : "wrote while idle and was");
    /* Not after a job's crash (that respawn is immediate), but a worker that keeps dying on
     * its own must not make the supervisor spin. */
    s->respawn_ms = time_mono_ms() + 1000;
}

static void *supervise(void *arg)
{
    struct pollfd *pfds = xcalloc((size_t)pool.count + 1, sizeof *pfds);
    struct slot **polled = xcalloc((size_t)pool.count + 1, sizeof *polled);
    enum slot_state *was = xcalloc((size_t)pool.count + 1, sizeof *was);

    (void)arg;
    pthread_mutex_lock(&pool.mu);
    while (!pool.stopping) {
        int64_t now = time_mono_ms(), next = INT64_MAX;
        int n = 1, timeout;

        for (int i = 0; i < pool.count && !pool.stopping; i++) {
            if (pool.slots[i].state == SLOT_EMPTY && pool.slots[i].respawn_ms <= now) {
                start_slot(&pool.slots[i]);
                now = time_mono_ms();
            }
        }
        if (pool.stopping)
            break;
        pfds[0] = (struct pollfd){.fd = pool.wake_fd, .events = POLLIN};
        for (int i = 0; i < pool.count; i++) {
            struct slot *s = &pool.slots[i];

            if (s->state == SLOT_EMPTY && s->respawn_ms < next)
                next = s->respawn_ms;
            if (s->state == SLOT_STARTING && s->ready_deadline_ms < next)
                next = s->ready_deadline_ms;
            if ((s->state == SLOT_STARTING || s->state == SLOT_IDLE) && s->fd >= 0) {
                pfds[n] = (struct pollfd){.fd = s->fd, .events = POLLIN};
                polled[n] = s;
                was[n] = s->state;
                n++;
            }
        }
        if (next == INT64_MAX)
            timeout = -1;
        else
            timeout = next <= now ? 0 : next - now > INT_MAX ? INT_MAX : (int)(next - now);
        pthread_mutex_unlock(&pool.mu);
        if (poll(pfds, (nfds_t)n, timeout) < 0 && errno != EINTR)
            log_error("worker pool: poll: %s", strerror(errno));
        pthread_mutex_lock(&pool.mu);
        if (pfds[0].revents) {
            uint64_t v;

            if (read(pool.wake_fd, &v, sizeof v) < 0 && errno != EAGAIN)
                log_warn("worker pool: eventfd: %s", strerror(errno));
        }
        for (int j = 1; j < n && !pool.stopping; j++) {
            struct slot *s = polled[j];

            /* A worker_run() may have taken (and even finished with) the slot meanwhile;
             * only the supervisor spawns, so a same-state, same-fd slot is the one polled. */
            if (pfds[j].revents == 0 || s->state != was[j] || s->fd != pfds[j].fd)
                continue;
            if (s->state == SLOT_STARTING)
                read_ready(s);
            else
                check_idle(s);
        }
        now = time_mono_ms();
        for (int i = 0; i < pool.count && !pool.stopping; i++) {
            struct slot *s = &pool.slots[i];

            if (s->state == SLOT_STARTING && s->pid > 0 && s->ready_deadline_ms <= now)
                retire_slot(s, true, "was not ready in time and was");
        }
    }
    /* Stopping: reap every worker not owned by a worker_run() call (those reap their own). */
    for (int i = 0; i < pool.count; i++) {
        if (pool.slots[i].state != SLOT_BUSY && pool.slots[i].pid > 0)
            retire_slot(&pool.slots[i], false, "stopped:");
    }
    pthread_mutex_unlock(&pool.mu);
    free(pfds);
    free(polled);
    free(was);
    return NULL;
}

static bool all_ready(void)
{
    for (int i = 0; i < pool.count; i++) {
        if (pool.slots[i].state != SLOT_IDLE)
            return false;
    }
    return true;
}

static bool any_start_failure(void)
{
    for (int i = 0; i < pool.count; i++) {
        if (pool.slots[i].start_failures > 0)
            return true;
    }
    return false;
}

static void free_pool(void)
{
    for (int i = 0; i < pool.count; i++)
        proto_reader_fini(&pool.slots[i].rd);
    free(pool.slots);
    pool.slots = NULL;
    free(pool.exe);
    pool.exe = NULL;
    if (pool.wake_fd >= 0)
        close(pool.wake_fd);
    pool.wake_fd = -1;
    pool.count = 0;
}

int worker_pool_start(const struct worker_config *cfg, struct err *err)
{
    struct timespec until;
    sigset_t all, old;
    bool ready;
    int rc;

    if (cfg->count < 1)
        return err_set(err, ERR_INTERNAL, "worker pool: need at least one worker");
    if (cfg->exe == NULL || cfg->exe[0] != '/' || access(cfg->exe, X_OK) < 0)
        return err_set(err, ERR_INTERNAL, "worker pool: %s is not an executable absolute path",
                       cfg->exe ? cfg->exe : "(null)");
    pthread_mutex_lock(&pool.mu);
    if (pool.running) {
        pthread_mutex_unlock(&pool.mu);
        return err_set(err, ERR_INTERNAL, "worker pool: already running");
    }
    pool.exe = xstrdup(cfg->exe);
    pool.test_converters = cfg->test_converters;
    pool.mem_limit = cfg->mem_limit_bytes;
    pool.max_output = cfg->max_output_bytes;
    pool.limits = cfg->limits;
    pool.run_uid = cfg->run_uid;
    pool.run_gid = cfg->run_gid;
    pool.count = cfg->count;
    {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        pool.cores = n > 0 ? (n < 1024 ? (int)n : 1024) : 1;
        pool.cpu_total = pool.cores > pool.count ? pool.cores : pool.count;
        pool.cpu_used = 0;
    }
    pool.slots = xcalloc((size_t)cfg->count, sizeof *pool.slots);
    for (int i = 0; i < pool.count; i++) {
        pool.slots[i].index = i;
        pool.slots[i].fd = -1;
        buf_init(&pool.slots[i].rd.buf);
    }
    pool.jobs = NULL;
    pool.callers = 0;
    pool.stopping = false;
    pool.broken = false;
    pool.start_error[0] = '\0';
    pool.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (pool.wake_fd < 0) {
        err_set(err, ERR_INTERNAL, "worker pool: eventfd: %s", strerror(errno));
        free_pool();
        pthread_mutex_unlock(&pool.mu);
        return -1;
    }
    /* The supervisor blocks every signal: the server's handlers run on its own threads, and
     * workers inherit (then reset) this mask across fork+exec. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&pool.supervisor, NULL, supervise, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        err_set(err, ERR_INTERNAL, "worker pool: pthread_create: %s", strerror(rc));
        free_pool();
        pthread_mutex_unlock(&pool.mu);
        return -1;
    }
    pool.running = true;

    /* Fail the server's start when workers cannot start at all (bad binary, a sandbox step
     * refused) rather than queue jobs that never run. */
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += START_WAIT_MS / 1000;
    while (!all_ready() && !any_start_failure()) {
        if (pthread_cond_clockwait(&pool.cond, &pool.mu, CLOCK_MONOTONIC, &until) == ETIMEDOUT)
            break;
    }
    ready = all_ready();
    pthread_mutex_unlock(&pool.mu);
    if (ready) {
        log_info("%d conversion workers ready", cfg->count);
        return 0;
    }
    pthread_mutex_lock(&pool.mu);
    err_set(err, ERR_INTERNAL, "worker pool: %s",
            pool.start_error[0] ? pool.start_error : "workers were not ready in time");
    pthread_mutex_unlock(&pool.mu);
    worker_pool_stop();
    return -1;
}

void worker_pool_stop(void)
{
    pthread_mutex_lock(&pool.mu);
    if (!pool.running || pool.stopping) {
        pthread_mutex_unlock(&pool.mu);
        return;
    }
    pool.stopping = true;
    for (int i = 0; i < pool.count; i++) {
        if (pool.slots[i].pid > 0) {
            kill(-pool.slots[i].pid, SIGKILL);
            pool.slots[i].killed = true;
        }
    }
    pthread_cond_broadcast(&pool.cond);
    poke_supervisor();
    pthread_mutex_unlock(&pool.mu);

    pthread_join(pool.supervisor, NULL);

    pthread_mutex_lock(&pool.mu);
    while (pool.callers > 0)
        pthread_cond_wait(&pool.cond, &pool.mu);
    free_pool();
    pool.running = false;
    pool.stopping = false;
    pthread_mutex_unlock(&pool.mu);
}

void worker_cancel(const char *process_id)
{
    if (process_id == NULL)
        return;
    pthread_mutex_lock(&pool.mu);
    for (struct job *j = pool.jobs; j != NULL; j = j->next) {
        if (j->process_id == NULL || strcmp(j->process_id, process_id) != 0)
            continue;
        j->cancelled = true;
        /* The converter cannot be trusted to notice a flag: kill its group. worker_run()
         * sees EOF, reaps and reports ERR_CANCELLED. */
        if (j->slot != NULL && j->slot->pid > 0) {
            kill(-j->slot->pid, SIGKILL);
            j->slot->killed = true;
        }
    }
    pthread_cond_broadcast(&pool.cond);
    pthread_mutex_unlock(&pool.mu);
}

/* Test hook: the pid of each slot's worker (0 when none). Returns how many were written. */
UNITTEST int worker_pool_pids(pid_t *pids, int max) __attribute__((unused));
UNITTEST int worker_pool_pids(pid_t *pids, int max)
{
    int n = 0;

    pthread_mutex_lock(&pool.mu);
    for (; n < pool.count && n < max; n++)
        pids[n] = pool.slots[n].pid;
    pthread_mutex_unlock(&pool.mu);
    return n;
}

/* The cores one job may use: what its converter asks for, else its share of the machine. */
static int job_cpus(const struct worker_job *job)
{
    const struct converter *conv = registry_find(job->in_format, job->out_format, job->mode);
    int share = pool.cores / (pool.count > 0 ? pool.count : 1);
    int n = conv && conv->cores
                ? conv->cores(job->in_format, job->out_format, job->mode, pool.cores)
                : 0;

    if (n < 1)
        n = share > 0 ? share : 1;
    return n < pool.cpu_total ? n : pool.cpu_total;
}

/* The job as its protocol line, '\n' included. NULL with err when a path is not UTF-8. */
static char *job_line(const struct worker_job *job, int timeout_s, int threads, size_t *len,
                      struct err *err)
{
    json_t *msg = json_object(), *inputs = json_array(), *limits = json_object();
    char *text = NULL, *line = NULL;
    bool ok = true;

    for (const char *const *p = job->inputs; p && *p; p++)
        ok &= json_array_append_new(inputs, json_string(*p)) == 0;
    json_object_set_new(limits, "max_pixels", json_integer(pool.limits.max_pixels));
    json_object_set_new(limits, "max_side", json_integer(pool.limits.max_side));
    json_object_set_new(limits, "max_pages", json_integer(pool.limits.max_pages));
    ok &= json_object_set_new(msg, "id", json_string(job->process_id ? job->process_id : "")) == 0;
    ok &= json_object_set_new(msg, "mode", json_string(proto_mode_name(job->mode))) == 0;
    ok &= json_object_set_new(msg, "in", json_string(job->in_format)) == 0;
    ok &= json_object_set_new(msg, "out",
                              job->out_format ? json_string(job->out_format) : json_null()) == 0;
    ok &= json_object_set_new(msg, "options",
                              job->options ? json_deep_copy(job->options) : json_object()) == 0;
    ok &= json_object_set_new(msg, "job_dir", json_string(job->job_dir)) == 0;
    ok &= json_object_set_new(msg, "inputs", inputs) == 0;
    ok &= json_object_set_new(msg, "output_dir", json_string(job->output_dir)) == 0;
    ok &= json_object_set_new(msg, "timeout", json_integer(timeout_s)) == 0;
    ok &= json_object_set_new(msg, "threads", json_integer(threads)) == 0;
    ok &= json_object_set_new(msg, "max_output", json_integer(pool.max_output)) == 0;
    ok &= json_object_set_new(msg, "limits", limits) == 0;
    if (!ok || (text = json_dumps(msg, JSON_COMPACT)) == NULL) {
        /* json_string() refuses what is not UTF-8; every other field is ours. */
        err_set(err, ERR_INTERNAL, "cannot encode the job for the worker (a path is not UTF-8?)");
        goto out;
    }
    line = xasprintf("%s\n", text);
    *len = strlen(line);
out:
    free(text);
    json_decref(msg);
    return line;
}

/* CPU seconds (user + system) a live process has used, from /proc; 0 when unreadable. */
static double proc_cpu_seconds(pid_t pid)
{
    char path[64], text[1024], *p;
    unsigned long long utime = 0, stime = 0;
    ssize_t n;
    int fd;

    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0)
        return 0;
    text[n] = '\0';
    /* Fields after the ")" that ends the command name: state is field 3, utime 14, stime 15. */
    p = strrchr(text, ')');
    if (p == NULL || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                            &stime) != 2)
        return 0;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

enum outcome { GOT_RESULT, WORKER_GONE, TIMED_OUT, BAD_MESSAGE };

/* Send the job line and read progress until the result line, EOF or the deadline. */
static enum outcome talk(struct slot *s, const char *line, size_t len, int64_t deadline,
                         worker_progress_fn progress, void *opaque, json_t **result)
{
    size_t off = 0;

    for (;;) {
        struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
        int64_t left;
        char *text;
        int r, n;

        while ((r = proto_reader_line(&s->rd, PROTO_MAX_LINE, &text)) != 0) {
            json_t *msg = r > 0 ? json_loads(text, 0, NULL) : NULL;
            json_t *pct = jsonx_get(msg, "progress");

            if (json_is_boolean(jsonx_get(msg, "ok"))) {
                *result = msg;
                return GOT_RESULT;
            }
            if (!json_is_number(pct)) {
                json_decref(msg);
                return BAD_MESSAGE;
            }
            if (progress)
                progress(opaque, json_number_value(pct), jsonx_str(jsonx_get(msg, "message")),
                         json_number_value(jsonx_get(msg, "duration")));
            json_decref(msg);
        }
        left = deadline - time_mono_ms();
        if (left <= 0)
            return TIMED_OUT;
        if (off < len)
            pfd.events |= POLLOUT;
        n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (n < 0 && errno != EINTR) {
            log_error("worker %d: poll: %s", s->index, strerror(errno));
            return WORKER_GONE;
        }
        if (n <= 0)
            continue;
        if (off < len && (pfd.revents & POLLOUT)) {
            ssize_t w = send(s->fd, line + off, len - off, MSG_NOSIGNAL);

            if (w > 0)
                off += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EINTR)
                return WORKER_GONE; /* EPIPE: it died; EOF below tells how */
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t got = proto_reader_fill(&s->rd, s->fd);

            if (got == 0 || (got < 0 && errno != EAGAIN))
                return WORKER_GONE;
        }
    }
}

/* Kill the group of the slot this worker_run() owns and reap it. Returns the wait status,
 * or -1 when the process had already been reaped by someone else. */
static int kill_owned(struct slot *s, struct rusage *ru)
{
    pid_t pid, r;
    int status = 0;

    pthread_mutex_lock(&pool.mu);
    pid = s->pid;
    if (pid > 0)
        kill(-pid, SIGKILL); /* the group: helper programs die with the worker */
    s->pid = 0;
    pthread_mutex_unlock(&pool.mu);
    close(s->fd);
    s->fd = -1;
    proto_reader_reset(&s->rd);
    if (pid <= 0)
        return -1;
    do {
        r = wait4(pid, &status, 0, ru);
    } while (r < 0 && errno == EINTR);
    return r == pid ? status : -1;
}

/* True when an idle worker has neither hung up nor written anything. */
static bool is_alive(struct slot *s)
{
    char c;
    ssize_t n = recv(s->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

    return n < 0 && (errno == EAGAIN || errno == EINTR);
}

/* Remove everything inside dir, keeping dir: no half-written output survives a failure. */
static void empty_dir(const char *dir)
{
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *de;

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        char *path;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        path = xasprintf("%s/%s", dir, de->d_name);
        if (fsx_rm_rf(path) < 0)
            log_warn("cannot remove partial output %s", path);
        free(path);
    }
    closedir(d);
}

/* Why a worker died during a job, as the client will read it. status is from waitpid(), or
 * -1 when the process could not be reaped. */
UNITTEST void explain_death(int status, double job_cpu, int timeout_s, struct err *err);
UNITTEST void explain_death(int status, double job_cpu, int timeout_s, struct err *err)
{
    int sig;

    if (status < 0) {
        err_set(err, ERR_CONVERT, "conversion crashed (worker vanished)");
        return;
    }
    if (WIFEXITED(status)) {
        err_set(err, ERR_CONVERT, "conversion failed: worker exited with status %d",
                WEXITSTATUS(status));
        return;
    }
    sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    if (sig == SIGXCPU) {
        err_set(err, ERR_CONVERT, "time limit exceeded (%d s of CPU time)", timeout_s);
    } else if (sig == SIGKILL) {
        /* Not our kill: the kernel's OOM killer, or RLIMIT_CPU's hard limit when SIGXCPU did
         * not end it. The job's CPU time tells which. */
        if (job_cpu >= timeout_s)
            err_set(err, ERR_CONVERT, "time limit exceeded (%d s of CPU time)", timeout_s);
        else
            err_set(err, ERR_CONVERT, "memory limit exceeded");
    } else {
        err_set(err, ERR_CONVERT, "conversion crashed (signal %d, %s)", sig,
                sigdescr_np(sig) ? sigdescr_np(sig) : "unknown signal");
    }
}

int worker_run(const struct worker_job *job, worker_progress_fn progress, void *opaque,
               json_t **info, struct err *err)
{
    struct job me = {.process_id = job->process_id};
    int timeout_s = job->timeout_s > 0 ? job->timeout_s : DEFAULT_TIMEOUT_S;
    struct slot *s = NULL;
    json_t *result = NULL;
    enum outcome outcome;
    struct rusage ru = {0};
    double cpu_start;
    char *line;
    size_t len = 0;
    bool dead = false;
    int status = 0, rc = -1;

    if (info)
        *info = NULL;
    me.cpus = job_cpus(job);
    line = job_line(job, timeout_s, me.cpus, &len, err);
    if (line == NULL)
        return -1;

    pthread_mutex_lock(&pool.mu);
    if (!pool.running || pool.stopping) {
        pthread_mutex_unlock(&pool.mu);
        free(line);
        return err_set(err, ERR_CANCELLED, "the worker pool is not running");
    }
    pool.callers++;
    {
        struct job **tail = &pool.jobs;

        while (*tail)
            tail = &(*tail)->next;
        *tail = &me;
    }
wait:
    for (;;) {
        bool first = true;

        if (me.cancelled || pool.stopping) {
            err_set(err, ERR_CANCELLED, me.cancelled ? "cancelled" : "server shutting down");
            goto unlock_out;
        }
        if (pool.broken) {
            err_set(err, ERR_INTERNAL, "no conversion worker could be started: %s",
                    pool.start_error);
            goto unlock_out;
        }
        /* First come, first served: only the oldest waiting call takes a slot. */
        for (struct job *j = pool.jobs; j != &me; j = j->next) {
            if (j->slot == NULL && !j->cancelled)
                first = false;
        }
        for (int i = 0; first && pool.cpu_used + me.cpus <= pool.cpu_total && i < pool.count; i++) {
            if (pool.slots[i].state == SLOT_IDLE) {
                s = &pool.slots[i];
                break;
            }
        }
        if (s != NULL)
            break;
        pthread_cond_wait(&pool.cond, &pool.mu);
    }
    s->state = SLOT_BUSY;
    s->job = &me;
    s->killed = false;
    me.slot = s;
    pool.cpu_used += me.cpus;
    /* The next waiter may be first now, and the supervisor must stop watching this fd. */
    pthread_cond_broadcast(&pool.cond);
    poke_supervisor();
    pthread_mutex_unlock(&pool.mu);
    if (!is_alive(s)) {
        /* It died while idle and the supervisor has not noticed yet: not this job's fault.
         * Hand the slot back for a respawn and wait again. */
        kill_owned(s, NULL);
        pthread_mutex_lock(&pool.mu);
        s->state = SLOT_EMPTY;
        s->respawn_ms = 0;
        s->job = NULL;
        s->killed = false;
        me.slot = NULL;
        pool.cpu_used -= me.cpus;
        s = NULL;
        poke_supervisor();
        goto wait;
    }

    proto_reader_reset(&s->rd);
    cpu_start = proc_cpu_seconds(s->pid);
    outcome =
        talk(s, line, len, time_mono_ms() + (int64_t)timeout_s * 1000, progress, opaque, &result);
    if (outcome != GOT_RESULT || s->rd.start != s->rd.buf.len) {
        /* Timeout, crash, EOF or a line that breaks the protocol: this worker is done. */
        dead = true;
        status = kill_owned(s, &ru);
    }

    pthread_mutex_lock(&pool.mu);
    if (me.cancelled || pool.stopping) {
        err_set(err, ERR_CANCELLED, me.cancelled ? "cancelled" : "server shutting down");
    } else if (outcome == TIMED_OUT) {
        err_set(err, ERR_CONVERT, "time limit exceeded (%d s)", timeout_s);
    } else if (outcome == BAD_MESSAGE) {
        err_set(err, ERR_CONVERT, "conversion failed: bad message from the worker");
    } else if (outcome == WORKER_GONE) {
        double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                     (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;

        explain_death(status, cpu - cpu_start, timeout_s * me.cpus, err);
    } else if (json_is_true(jsonx_get(result, "ok"))) {
        json_t *got = jsonx_get(result, "info");

        if (info && job->mode == CONV_MODE_INFO && json_is_object(got))
            *info = json_incref(got);
        rc = 0;
    } else {
        enum err_code code = err_code_from_name(jsonx_str(jsonx_get(result, "code")));
        const char *msg = jsonx_str(jsonx_get(result, "error"));

        err_set(err, code, "%s", msg ? msg : "conversion failed");
    }
    if (!dead && s->killed) {
        /* Cancel or stop raced with the result: the worker is being killed anyway. */
        pthread_mutex_unlock(&pool.mu);
        kill_owned(s, NULL);
        pthread_mutex_lock(&pool.mu);
        dead = true;
    }
    if (dead) {
        log_info("job %s: worker %d replaced: %s", job->process_id ? log_id(job->process_id) : "-",
                 s->index, err->msg);
        s->state = SLOT_EMPTY;
        s->respawn_ms = 0;
    } else {
        s->state = SLOT_IDLE;
    }
    s->job = NULL;
    s->killed = false;
    me.slot = NULL;
    pool.cpu_used -= me.cpus;
    poke_supervisor();

unlock_out:
    for (struct job **p = &pool.jobs; *p; p = &(*p)->next) {
        if (*p == &me) {
            *p = me.next;
            break;
        }
    }
    pool.callers--;
    pthread_cond_broadcast(&pool.cond);
    pthread_mutex_unlock(&pool.mu);

    if (rc < 0)
        empty_dir(job->output_dir);
    json_decref(result);
    free(line);
    return rc;
}

bool worker_job_owner(uid_t *uid, gid_t *gid)
{
    if (pool.run_uid <= 0)
        return false;
    *uid = pool.run_uid;
    *gid = pool.run_gid;
    return true;
}
