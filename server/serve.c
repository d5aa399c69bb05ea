/* SPDX-License-Identifier: MIT */
/* serve.c - `convertd serve`: modules start in dependency order and stop in reverse on
 * SIGTERM or SIGINT. */
#include "server/serve.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsx.h"
#include "common/log.h"
#include "common/mem.h"
#include "converters/registry.h"
#include "db/db.h"
#include "db/key_store.h"
#include "server/engine/callback.h"
#include "server/engine/notify.h"
#include "server/engine/process.h"
#include "server/engine/waiters.h"
#include "server/engine/worker.h"
#include "server/http/http.h"
#include "storage/fetch.h"

/* True when uid exists in this user namespace (a root inside `unshare -r` has only itself). */
static bool uid_is_mapped(uid_t uid)
{
    FILE *f = fopen("/proc/self/uid_map", "r");
    if (!f)
        return true; /* no user namespaces: every uid exists */
    unsigned long inside, outside, count;
    bool mapped = false;
    while (!mapped && fscanf(f, "%lu %lu %lu", &inside, &outside, &count) == 3)
        mapped = uid >= inside && uid - inside < count;
    fclose(f);
    return mapped;
}

/* True when an account with uid/gid may pass through every folder from / down to dir
 * (dir is absolute). Else false, with the first folder that stops it in blocker. */
static bool dir_reachable_by(const char *dir, uid_t uid, gid_t gid, char *blocker, size_t n)
{
    char path[PATH_MAX];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof path)
        return true; /* nothing to check: the open itself will say what is wrong */
    memcpy(path, dir, len + 1);
    for (size_t end = 1; end <= len; end++) {
        if (end < len && path[end] != '/')
            continue;
        char saved = path[end];
        path[end] = '\0';
        struct stat st;
        bool ok = stat(path, &st) < 0 || (st.st_uid == uid   ? (st.st_mode & S_IXUSR) != 0
                                          : st.st_gid == gid ? (st.st_mode & S_IXGRP) != 0
                                                             : (st.st_mode & S_IXOTH) != 0);
        if (!ok)
            snprintf(blocker, n, "%s (mode %03o)", path, (unsigned)(st.st_mode & 0777));
        path[end] = saved;
        if (!ok)
            return false;
    }
    return true;
}

/* At first start there is no key: make one so `make run` is usable at once. */
static int ensure_dev_key(struct err *err)
{
    json_t *keys = key_store_list(err);
    if (!keys)
        return -1;
    size_t n = json_array_size(keys);
    json_decref(keys);
    if (n > 0)
        return 0;
    char *key = NULL;
    if (key_store_add(NULL, NULL, &key, err) < 0)
        return -1;
    printf("dev API key: %s\n", key);
    fflush(stdout);
    free(key);
    return 0;
}

static int write_port_file(const char *path, int port, struct err *err)
{
    char text[16];
    int n = snprintf(text, sizeof text, "%d\n", port);
    return fsx_write_atomic(path, text, (size_t)n, err);
}

int serve_main(const struct config *cfg)
{
    struct err err = ERR_INIT;
    sigset_t set;
    int sig = 0;
    char exe[PATH_MAX];
    char *db_path = NULL;
    bool pool = false, engine = false, callbacks = false, waiters = false, http = false;
    int status = 1;

    log_set_name("server");
    /* Signals are taken by sigwait() below; every thread inherits the mask. SIGPIPE from a
     * dead worker's socket must not kill the server. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Files of the server (the database above all) are its own. */
    umask(077);
    if (fsx_mkdir_p(cfg->data_dir, &err) < 0)
        goto out;
    db_path = xasprintf("%s/convertd.db", cfg->data_dir);
    chmod(db_path, 0600);
    if (db_init(db_path, &err) < 0 || ensure_dev_key(&err) < 0)
        goto out;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    fetch_set_policy(cfg->allow_private_urls, cfg->allow);
    registry_enable_test_converters(cfg->test_converters);

    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        err_set(&err, ERR_INTERNAL, "cannot find the convertd binary");
        goto out;
    }
    exe[n] = '\0';
    struct worker_config wc = {
        .exe = exe,
        .count = cfg->workers,
        .test_converters = cfg->test_converters,
        .mem_limit_bytes = cfg->worker_mem_bytes,
        .max_output_bytes = cfg->max_output_bytes,
        .limits = {.max_pixels = cfg->max_pixels,
                   .max_side = cfg->max_side,
                   .max_pages = cfg->max_pages},
    };
    if (geteuid() == 0) {
        /* Workers never keep root: they run as nobody and reach only their job folder
         * (the data folder lets them pass through, not list). */
        struct passwd *pw = getpwnam("nobody");
        uid_t uid = pw ? pw->pw_uid : 65534;
        if (!uid_is_mapped(uid)) {
            log_warn("workers keep this root account: uid %ld does not exist in this user "
                     "namespace",
                     (long)uid);
        } else {
            gid_t gid = pw ? pw->pw_gid : 65534;
            char blocker[4096];
            if (chmod(cfg->data_dir, 0711) < 0)
                log_warn("cannot open %s to the worker account: %s", cfg->data_dir,
                         strerror(errno));
            if (dir_reachable_by(cfg->data_dir, uid, gid, blocker, sizeof blocker)) {
                wc.run_uid = uid;
                wc.run_gid = gid;
            } else {
                /* Every job would fail with "Permission denied". The other fences (network
                 * namespace, seccomp, limits, no_new_privs) stay. */
                log_warn("workers keep this root account: uid %ld cannot pass through %s to "
                         "reach the data folder (put it under a folder others may enter)",
                         (long)uid, blocker);
            }
        }
    }
    if (worker_pool_start(&wc, &err) < 0)
        goto out;
    pool = true;
    if (engine_start(&err) < 0)
        goto out;
    engine = true;
    if (callback_start() < 0) {
        err_set(&err, ERR_INTERNAL, "cannot start the callback dispatcher");
        goto out;
    }
    callbacks = true;
    /* Email notifications (a no-op without --smtp-url). */
    notify_email_start(cfg);
    if (waiters_start() < 0) {
        err_set(&err, ERR_INTERNAL, "cannot start the waiters timer");
        goto out;
    }
    waiters = true;
    if (http_start(&err) < 0)
        goto out;
    http = true;
    if (cfg->port_file && write_port_file(cfg->port_file, http_port(), &err) < 0)
        goto out;
    log_info("listening on %s:%d with %d workers, data in %s", cfg->listen_host, http_port(),
             cfg->workers, cfg->data_dir);
    sigwait(&set, &sig);
    log_info("stopping (signal %d)", sig);
    status = 0;
out:
    if (err.code) {
        log_error("%s", err.msg);
        fprintf(stderr, "convertd: %s\n", err.msg);
    }
    if (http)
        http_stop();
    else if (waiters)
        waiters_stop();
    if (pool)
        worker_pool_stop();
    if (engine)
        engine_stop();
    notify_email_stop();
    if (callbacks)
        callback_stop();
    db_thread_close();
    free(db_path);
    return status;
}
