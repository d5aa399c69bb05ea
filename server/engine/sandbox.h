/* SPDX-License-Identifier: MIT */
/* sandbox.h - the limits a worker process puts on itself (security.md SEC-21): once at start,
 * before any input is read, and again per job. */
#ifndef CONVERTD_SERVER_ENGINE_SANDBOX_H
#define CONVERTD_SERVER_ENGINE_SANDBOX_H

#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"

struct sandbox_config {
    pid_t parent_pid;         /* the server; 0 = whatever getppid() says now */
    int64_t mem_limit_bytes;  /* RLIMIT_AS; <= 0 gives SANDBOX_DEFAULT_MEM */
    int64_t max_output_bytes; /* hard RLIMIT_FSIZE for the worker's life; <= 0: none */
    uid_t uid;                /* > 0: drop to this account (a worker started by root) */
    gid_t gid;
};

/* Descriptors 0-2, the protocol socket (3) and the web proxy hand-over socket (4) survive
 * sandbox_apply_worker(); everything from here up is closed. */
#define SANDBOX_FIRST_CLOSED_FD 5

#define SANDBOX_DEFAULT_MEM ((int64_t)2 * 1024 * 1024 * 1024)

/* Which of the optional layers took effect (the others are mandatory). */
enum sandbox_feature {
    SANDBOX_NETNS = 1 << 0,   /* a private network namespace: no interface but lo */
    SANDBOX_USERNS = 1 << 1,  /* ... obtained through a user namespace (not root) */
    SANDBOX_SECCOMP = 1 << 2, /* the syscall filter is loaded */
};

/* Lock the calling process down for the rest of its life. Call it while the process is
 * still single-threaded (unshare(CLONE_NEWUSER) refuses threaded callers), before any library
 * that starts threads is initialised. It:
 *   - resets signal dispositions and unblocks every signal; SIGXFSZ is ignored so a write
 *     past RLIMIT_FSIZE fails with EFBIG instead of killing the worker;
 *   - makes the process a group leader (the server kills the group);
 *   - sets PR_SET_PDEATHSIG=SIGKILL and fails if the parent already changed;
 *   - closes every fd but 1 to 4 and points 0 at /dev/null;
 *   - moves into a new network namespace (directly, else through a user namespace) and
 *     brings its loopback interface up;
 *   - sets RLIMIT_CORE 0, RLIMIT_DATA, soft RLIMIT_AS, RLIMIT_NOFILE 256, RLIMIT_FSIZE (hard),
 *     RLIMIT_NPROC
 *     (not as root: it counts every task of the uid, and root ignores it anyway);
 *   - PR_SET_NO_NEW_PRIVS, PR_SET_DUMPABLE 0 and a seccomp filter (when built with it).
 * Returns 0 and the SANDBOX_* bits that took effect in *features (may be NULL), or -1 with
 * err (ERR_INTERNAL) when a mandatory step failed: the worker must then exit. The network
 * namespace and seccomp are optional (a container may forbid them): their absence is only
 * reported in *features. */
int sandbox_apply_worker(const struct sandbox_config *cfg, unsigned *features, struct err *err);

/* Per job, in the worker: soft RLIMIT_FSIZE = max_output_bytes (capped by the hard limit of
 * sandbox_apply_worker), RLIMIT_CPU = CPU seconds used so far + timeout_s × threads + 5
 * (RLIMIT_CPU counts the process's whole life and every thread of it), hard 5 s above where
 * the process may still raise it later. 0, or -1 with err (ERR_INTERNAL). */
int sandbox_apply_job(int64_t max_output_bytes, int timeout_s, int threads, struct err *err);

#endif
