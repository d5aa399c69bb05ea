/* SPDX-License-Identifier: MIT */
/* sandbox.c - the limits a worker process puts on itself (security.md SEC-21). */
#include "convertd-config.h"

#include "server/engine/sandbox.h"

#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <net/if.h>
#include <linux/capability.h>

#if HAVE_SECCOMP
#include <seccomp.h>
#endif

#include "common/log.h"

/* True when this process may raise hard limits again (CAP_SYS_RESOURCE in the initial user
 * namespace), so per-job hard limits can move both ways. */
static bool can_raise_limits;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                         \
    __has_feature(memory_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif

static int write_file(const char *path, const char *text)
{
    size_t len = strlen(text);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -1;
    n = write(fd, text, len);
    close(fd);
    return n == (ssize_t)len ? 0 : -1;
}

static void reset_signals(void)
{
    sigset_t none;

    /* Handlers were reset by execve, but ignored signals stay ignored and the mask is the
     * server thread's: start from the defaults. */
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL); /* fails harmlessly for glibc's internal signals */
    }
    /* A write past RLIMIT_FSIZE then fails with EFBIG, which a converter reports as an error,
     * instead of killing the worker. */
    signal(SIGXFSZ, SIG_IGN);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static int close_inherited_fds(struct err *err)
{
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);

    if (null < 0)
        return err_set(err, ERR_INTERNAL, "sandbox: cannot open /dev/null: %s", strerror(errno));
    if (null != 0) {
        if (dup2(null, 0) < 0) {
            close(null);
            return err_set(err, ERR_INTERNAL, "sandbox: dup2 stdin: %s", strerror(errno));
        }
        close(null);
    }
    /* 1 and 2 carry the logs, 3 the protocol, 4 the web proxy hand-over socket. Everything
     * else the server had open without O_CLOEXEC (its SQLite handle, MHD's sockets) goes. */
    if (close_range(SANDBOX_FIRST_CLOSED_FD, ~0U, 0) < 0) {
        struct rlimit rl;
        int max = 65536;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
            rl.rlim_cur < (rlim_t)max)
            max = (int)rl.rlim_cur;
        for (int fd = SANDBOX_FIRST_CLOSED_FD; fd < max; fd++)
            close(fd);
    }
    return 0;
}

/* Bring the namespace's loopback interface up. Nothing listens on it but what the worker
 * itself opens there (the web-page forwarder, whose only way out is the server's guarded
 * proxy). Needs CAP_NET_ADMIN in the namespace, which the unsharing process holds now. */
static void loopback_up(void)
{
    struct ifreq ifr = {0};
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return;
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
            log_debug("sandbox: cannot bring lo up: %s", strerror(errno));
    }
    close(fd);
}

/* A private network namespace holds only a loopback interface: converters reach no network
 * but what the worker opens on it. Optional: a container may forbid both ways. */
static unsigned enter_netns(void)
{
    uid_t uid = geteuid();
    gid_t gid = getegid();
    char map[64];

    if (unshare(CLONE_NEWNET) == 0) {
        loopback_up();
        return SANDBOX_NETNS;
    }
    if (unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0)
        return 0;
    /* Map our own ids so files we create inside show their real owner. Best effort: an
     * unmapped id still owns its files as seen from outside. */
    write_file("/proc/self/setgroups", "deny");
    snprintf(map, sizeof map, "%u %u 1\n", (unsigned)uid, (unsigned)uid);
    write_file("/proc/self/uid_map", map);
    snprintf(map, sizeof map, "%u %u 1\n", (unsigned)gid, (unsigned)gid);
    write_file("/proc/self/gid_map", map);
    loopback_up();
    return SANDBOX_NETNS | SANDBOX_USERNS;
}

/* Lower a limit; never raises the hard limit above what the process already has. */
static int lower_limit(int resource, const char *name, rlim_t value, struct err *err)
{
    struct rlimit rl;

    if (getrlimit(resource, &rl) < 0)
        return err_set(err, ERR_INTERNAL, "sandbox: getrlimit %s: %s", name, strerror(errno));
    if (rl.rlim_max == RLIM_INFINITY || value < rl.rlim_max)
        rl.rlim_max = value;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(resource, &rl) < 0)
        return err_set(err, ERR_INTERNAL, "sandbox: setrlimit %s: %s", name, strerror(errno));
    return 0;
}

#ifndef UNDER_SANITIZER
/* Lower only the soft limit. */
static int lower_soft_limit(int resource, const char *name, rlim_t value, struct err *err)
{
    struct rlimit rl;

    if (getrlimit(resource, &rl) < 0)
        return err_set(err, ERR_INTERNAL, "sandbox: getrlimit %s: %s", name, strerror(errno));
    if (rl.rlim_max != RLIM_INFINITY && value > rl.rlim_max)
        value = rl.rlim_max;
    rl.rlim_cur = value;
    if (setrlimit(resource, &rl) < 0)
        return err_set(err, ERR_INTERNAL, "sandbox: setrlimit %s: %s", name, strerror(errno));
    return 0;
}
#endif

static int set_limits(const struct sandbox_config *cfg, struct err *err)
{
    int64_t mem = cfg->mem_limit_bytes > 0 ? cfg->mem_limit_bytes : SANDBOX_DEFAULT_MEM;

    if (lower_limit(RLIMIT_CORE, "RLIMIT_CORE", 0, err) < 0)
        return -1;
#ifdef UNDER_SANITIZER
    /* ASan and TSan reserve terabytes of shadow memory at start: any RLIMIT_AS would make
     * every later mapping fail. Sanitizer builds are for tests only. */
    (void)mem;
#else
    /* Memory is bounded by RLIMIT_DATA (private writable mappings: heaps, anonymous memory).
     * RLIMIT_AS also counts address space that is only reserved, which Chromium's V8 reserves
     * by the tens of gigabytes: the soft limit stays at `mem` for the worker and the libraries
     * it runs, the hard limit is left where it is so Chromium can lift its own soft limit. */
    if (lower_limit(RLIMIT_DATA, "RLIMIT_DATA", (rlim_t)mem, err) < 0 ||
        lower_soft_limit(RLIMIT_AS, "RLIMIT_AS", (rlim_t)mem, err) < 0)
        return -1;
#endif
    if (lower_limit(RLIMIT_NOFILE, "RLIMIT_NOFILE", 256, err) < 0)
        return -1;
    if (cfg->max_output_bytes > 0 &&
        lower_limit(RLIMIT_FSIZE, "RLIMIT_FSIZE", (rlim_t)cfg->max_output_bytes, err) < 0)
        return -1;
    if (geteuid() != 0) {
        /* RLIMIT_NPROC counts every task (threads included) of the real uid, the server's and
         * the other workers' too, so it cannot be a per-worker budget: it is a ceiling that
         * stops a fork bomb. Sized for N workers of about ncpu threads each. Root ignores
         * it, so it is only set for other users. */
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        rlim_t nproc;

        if (ncpu < 1)
            ncpu = 1;
        nproc = (rlim_t)(1024 + 2 * ncpu * (ncpu + 8));
        if (lower_limit(RLIMIT_NPROC, "RLIMIT_NPROC", nproc, err) < 0)
            return -1;
    }
    return 0;
}

#if HAVE_SECCOMP
/* A deny-list on top of the other layers (default ALLOW): what a converter never needs and an
 * exploited decoder would reach for first. Denied calls fail with EPERM rather than kill, so
 * a library that merely probes (getifaddrs over netlink, io_uring detection) degrades.
 * execve stays allowed: Ghostscript, LibreOffice and Chromium run as helper programs started
 * by the worker (a filter cannot read the path it is given).
 * Sockets: unix ones always; IP ones only inside the worker's own network namespace
 * (`in_netns`), where the loopback interface holds nothing but the worker's forwarder to the
 * server's address-guarded proxy, so Chromium can reach it. connect() is allowed: LibreOffice's
 * UNO bridge and Chromium's proxy connection need it; what it can reach is that forwarder and
 * the unix sockets the worker's account may open. */
static int load_seccomp(bool in_netns)
{
    static const int denied[] = {
        SCMP_SYS(ptrace),
        SCMP_SYS(process_vm_readv),
        SCMP_SYS(process_vm_writev),
        SCMP_SYS(mount),
        SCMP_SYS(umount2),
        SCMP_SYS(pivot_root),
        SCMP_SYS(chroot),
        SCMP_SYS(setns),
        SCMP_SYS(unshare),
        SCMP_SYS(keyctl),
        SCMP_SYS(add_key),
        SCMP_SYS(request_key),
        SCMP_SYS(bpf),
        SCMP_SYS(perf_event_open),
        SCMP_SYS(userfaultfd),
        SCMP_SYS(kexec_load),
        SCMP_SYS(kexec_file_load),
        SCMP_SYS(init_module),
        SCMP_SYS(finit_module),
        SCMP_SYS(delete_module),
        SCMP_SYS(open_by_handle_at),
        SCMP_SYS(io_uring_setup),
        SCMP_SYS(io_uring_enter),
        SCMP_SYS(io_uring_register),
        /* A worker running as root keeps root's capabilities: refuse the admin calls. */
        SCMP_SYS(reboot),
        SCMP_SYS(swapon),
        SCMP_SYS(swapoff),
        SCMP_SYS(sethostname),
        SCMP_SYS(setdomainname),
        SCMP_SYS(settimeofday),
        SCMP_SYS(clock_settime),
        SCMP_SYS(clock_adjtime),
        SCMP_SYS(adjtimex),
        SCMP_SYS(acct),
        SCMP_SYS(syslog),
        SCMP_SYS(quotactl),
        SCMP_SYS(iopl),
        SCMP_SYS(ioperm),
        SCMP_SYS(fanotify_init),
    };
    static const unsigned long ns_flags[] = {CLONE_NEWUSER,  CLONE_NEWNS,  CLONE_NEWNET,
                                             CLONE_NEWPID,   CLONE_NEWIPC, CLONE_NEWUTS,
                                             CLONE_NEWCGROUP};
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    int rc = -1;

    if (ctx == NULL)
        return -1;
    for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) {
        if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), denied[i], 0) < 0)
            goto out;
    }
    /* Sockets: AF_UNIX, plus AF_INET/AF_INET6 inside our own network namespace (no packet,
     * netlink, AF_ALG, vsock ...). The kernel reads the domain as an int, so compare 32 bits:
     * high garbage cannot slip past. One rule may compare an argument only once, hence the
     * ranges: AF_UNIX is 1, AF_INET 2, AF_INET6 10. */
    if (in_netns) {
        if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 1,
                             SCMP_A0_32(SCMP_CMP_GT, AF_INET6)) < 0 ||
            seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 1,
                             SCMP_A0_32(SCMP_CMP_EQ, AF_UNSPEC)) < 0)
            goto out;
        for (int family = AF_INET + 1; family < AF_INET6; family++) {
            if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 1,
                                 SCMP_A0_32(SCMP_CMP_EQ, (unsigned)family)) < 0)
                goto out;
        }
    } else if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 1,
                                SCMP_A0_32(SCMP_CMP_NE, AF_UNIX)) < 0) {
        goto out;
    }
    if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socketpair), 1,
                         SCMP_A0_32(SCMP_CMP_NE, AF_UNIX)) < 0)
        goto out;
    /* sendto() with an address reaches a datagram socket by path without connect();
     * send() is sendto() with a NULL address and stays allowed. */
    if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(sendto), 1,
                         SCMP_A4_64(SCMP_CMP_NE, 0)) < 0)
        goto out;
    /* unshare() is denied above; clone() must not make namespaces either. clone3() passes
     * its flags in memory the filter cannot read: ENOSYS makes glibc fall back to clone(). */
    for (size_t i = 0; i < sizeof ns_flags / sizeof ns_flags[0]; i++) {
#if defined(__s390__) || defined(__s390x__)
        struct scmp_arg_cmp flags = SCMP_A1_64(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]);
#else
        struct scmp_arg_cmp flags = SCMP_A0_64(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]);
#endif
        if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1, flags) < 0)
            goto out;
    }
    if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) < 0)
        goto out;
    /* personality(0xffffffff) only reads the persona; changing it (ADDR_NO_RANDOMIZE ...)
     * weakens ASLR for the exploit's next stage. */
    if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(personality), 1,
                         SCMP_A0_32(SCMP_CMP_NE, 0xffffffffu)) < 0)
        goto out;
    if (seccomp_load(ctx) < 0)
        goto out;
    rc = 0;
out:
    seccomp_release(ctx);
    return rc;
}
#endif

static bool has_sys_resource(void)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &hdr, data) < 0)
        return false;
    return (data[CAP_TO_INDEX(CAP_SYS_RESOURCE)].effective & CAP_TO_MASK(CAP_SYS_RESOURCE)) != 0;
}

int sandbox_apply_worker(const struct sandbox_config *cfg, unsigned *features, struct err *err)
{
    unsigned got = 0;

    if (features)
        *features = 0;
    reset_signals();
    /* The server kills the whole group (helpers included) with kill(-pid, SIGKILL). The
     * server already called setpgid() in the child; this covers a manual start. */
    if (getpgrp() != getpid() && setpgid(0, 0) < 0)
        return err_set(err, ERR_INTERNAL, "sandbox: setpgid: %s", strerror(errno));
    /* The server spawns workers only from its long-lived supervisor thread, because the
     * death signal fires when the *thread* that forked us exits. The getppid() check closes
     * the window where the server died before the prctl. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        return err_set(err, ERR_INTERNAL, "sandbox: PR_SET_PDEATHSIG: %s", strerror(errno));
    if (cfg->parent_pid > 0 && getppid() != cfg->parent_pid)
        return err_set(err, ERR_INTERNAL, "sandbox: the server exited");
    if (close_inherited_fds(err) < 0)
        return -1;
    /* Before seccomp (which denies unshare) and before any thread exists. */
    got |= enter_netns();
    /* A worker started by root gives root up for good once the namespace exists: a decoder
     * exploit then owns an account that can read nothing but its job folder. */
    if (cfg->uid > 0 && geteuid() == 0) {
        if (setgroups(0, NULL) < 0 || setgid(cfg->gid) < 0 || setuid(cfg->uid) < 0)
            return err_set(err, ERR_INTERNAL, "sandbox: cannot drop to uid %ld: %s", (long)cfg->uid,
                           strerror(errno));
        if (setuid(0) == 0)
            return err_set(err, ERR_INTERNAL, "sandbox: root could be regained");
    }
    /* Capabilities held inside a new user namespace do not count for rlimits. */
    can_raise_limits = !(got & SANDBOX_USERNS) && has_sys_resource();
    if (set_limits(cfg, err) < 0)
        return -1;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return err_set(err, ERR_INTERNAL, "sandbox: PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
    /* No core dumps (a core_pattern pipe ignores RLIMIT_CORE) and no ptrace attach by other
     * processes of the same uid. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        return err_set(err, ERR_INTERNAL, "sandbox: PR_SET_DUMPABLE: %s", strerror(errno));
#if HAVE_SECCOMP
    if (load_seccomp(got & SANDBOX_NETNS) == 0)
        got |= SANDBOX_SECCOMP;
#endif
    if (features)
        *features = got;
    return 0;
}

int sandbox_apply_job(int64_t max_output_bytes, int timeout_s, int threads, struct err *err)
{
    struct rlimit rl;
    struct rusage ru;
    rlim_t want;

    if (getrlimit(RLIMIT_FSIZE, &rl) < 0)
        return err_set(err, ERR_INTERNAL, "sandbox: getrlimit RLIMIT_FSIZE: %s", strerror(errno));
    /* Only the soft limit moves, so the next job may raise it again up to the hard limit
     * fixed at start. */
    rl.rlim_cur = rl.rlim_max;
    if (max_output_bytes > 0 &&
        (rl.rlim_max == RLIM_INFINITY || (rlim_t)max_output_bytes < rl.rlim_max))
        rl.rlim_cur = (rlim_t)max_output_bytes;
    if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
        return err_set(err, ERR_INTERNAL, "sandbox: setrlimit RLIMIT_FSIZE: %s", strerror(errno));

    if (timeout_s <= 0)
        return 0;
    if (getrusage(RUSAGE_SELF, &ru) < 0)
        return err_set(err, ERR_INTERNAL, "sandbox: getrusage: %s", strerror(errno));
    /* A job given several cores may burn that many CPU seconds per second of its time. */
    want = (rlim_t)ru.ru_utime.tv_sec + (rlim_t)ru.ru_stime.tv_sec + 1 +
           (rlim_t)timeout_s * (rlim_t)(threads > 1 ? threads : 1) + 5;
    if (getrlimit(RLIMIT_CPU, &rl) < 0)
        return err_set(err, ERR_INTERNAL, "sandbox: getrlimit RLIMIT_CPU: %s", strerror(errno));
    if (can_raise_limits) {
        rl.rlim_cur = want;
        rl.rlim_max = want + 5;
    } else {
        /* A lowered hard limit could not be raised for the next job: only the soft limit
         * moves, and the server's wall-clock deadline is the hard stop. */
        rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max ? rl.rlim_max : want;
    }
    if (setrlimit(RLIMIT_CPU, &rl) < 0)
        return err_set(err, ERR_INTERNAL, "sandbox: setrlimit RLIMIT_CPU: %s", strerror(errno));
    return 0;
}
