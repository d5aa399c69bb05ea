/* SPDX-License-Identifier: MIT */
/* baseline_mhd.c - the bare libmicrohttpd servers the benchmarks compare convertd with:
 *   baseline_mhd json PORT DB     GET → a ~500-byte JSON text read from SQLite per request
 *   baseline_mhd upload PORT DIR  PUT → the body streamed to a file in DIR
 * Same thread pool size and connection memory as convertd, nothing else. */
#include <fcntl.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *db_path, *dir;
static __thread sqlite3 *db;
static __thread sqlite3_stmt *st;

static enum MHD_Result json_handler(void *cls, struct MHD_Connection *c, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *size, void **ctx)
{
    (void)cls, (void)url, (void)method, (void)version, (void)upload_data, (void)size;
    /* Answer on the second call, as convertd does (MHD 0.9.75 keep-alive quirk). */
    if (!*ctx) {
        *ctx = (void *)1;
        return MHD_YES;
    }
    if (!db) {
        sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL);
        sqlite3_prepare_v2(db, "SELECT doc FROM docs WHERE id = 1", -1, &st, NULL);
    }
    sqlite3_step(st);
    const char *text = (const char *)sqlite3_column_text(st, 0);
    size_t len = (size_t)sqlite3_column_bytes(st, 0);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
    sqlite3_reset(st);
    MHD_add_response_header(r, "Content-Type", "application/json; charset=utf-8");
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result upload_handler(void *cls, struct MHD_Connection *c, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *size, void **ctx)
{
    (void)cls, (void)url, (void)method, (void)version;
    if (!*ctx) {
        char path[4096];
        snprintf(path, sizeof path, "%s/upload-%ld", dir, random());
        int *fd = malloc(sizeof *fd);
        *fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        unlink(path);
        *ctx = fd;
        return MHD_YES;
    }
    int *fd = *ctx;
    if (*size) {
        if (write(*fd, upload_data, *size) < 0)
            return MHD_NO;
        *size = 0;
        return MHD_YES;
    }
    close(*fd);
    free(fd);
    *ctx = NULL;
    static const char body[] = "{\"message\":\"File saved.\"}";
    struct MHD_Response *r =
        MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    int port = atoi(argv[2]);
    bool upload = strcmp(argv[1], "upload") == 0;
    if (upload) {
        dir = argv[3];
    } else {
        db_path = argv[3];
        sqlite3 *init;
        sqlite3_open(db_path, &init);
        char json[600];
        memset(json, 'x', sizeof json);
        snprintf(json, sizeof json, "{\"id\":\"x\",\"pad\":\"%0480d\"}", 0);
        sqlite3_exec(init,
                     "CREATE TABLE IF NOT EXISTS docs (id INTEGER PRIMARY KEY, doc TEXT);"
                     "PRAGMA journal_mode=WAL",
                     NULL, NULL, NULL);
        char *sql = sqlite3_mprintf("INSERT OR REPLACE INTO docs VALUES (1, %Q)", json);
        sqlite3_exec(init, sql, NULL, NULL, NULL);
        sqlite3_free(sql);
        sqlite3_close(init);
    }
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, (uint16_t)port, NULL, NULL,
                         upload ? upload_handler : json_handler, NULL, MHD_OPTION_THREAD_POOL_SIZE,
                         4u, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
                         MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_END);
    if (!d)
        return 1;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sig;
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    return 0;
}
