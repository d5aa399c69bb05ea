/* SPDX-License-Identifier: MIT */
/* config.h - flags + environment + config file → one struct config, immutable after start.
 *
 * Every flag --NAME is also the environment variable CONVERTD_NAME (upper-cased, '-' → '_')
 * and a line `NAME = value` in the --config file. Precedence: flag > environment > file >
 * built-in default. Boolean flags take no value on the command line (`--allow-private-urls`)
 * or an explicit one (`--allow-private-urls=false`); in env/file: true/false/1/0/yes/no. */
#ifndef CONVERTD_SERVER_CONFIG_H
#define CONVERTD_SERVER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

struct addr_allow;

struct config {
    /* serve */
    char *listen_host;        /* --listen HOST:PORT, default 127.0.0.1:8080 */
    int listen_port;          /* 0 picks a free one */
    char *port_file;          /* --port-file: write the bound port here */
    char *public_scheme;      /* from --public-url: "http"/"https", or NULL (protocol-relative) */
    char *public_host;        /* from --public-url: HOST[:PORT], or NULL (use the Host header) */
    char *data_dir;           /* --data-dir, default ./var; made absolute */
    int workers;              /* --workers, default: number of cores */
    int64_t max_upload_bytes; /* --max-upload-bytes, default 10 GiB */
    int64_t max_body_bytes;   /* --max-body-bytes, default 100 MiB */
    int max_queue;            /* --max-queue, default 1000 */
    int default_timeout;      /* --default-timeout seconds, default 600 */
    int upload_timeout;       /* --upload-timeout seconds, default 3600 */
    int64_t expire_seconds;   /* --expire-seconds, default 86400 */
    int callback_retry_delay; /* --callback-retry-delay seconds, default 5 */
    bool allow_private_urls;  /* --allow-private-urls, default false */
    struct addr_allow
        *allow;           /* --allow-url CIDR|HOST:PORT (repeatable; comma-separated in env/file) */
    bool test_converters; /* --test-converters */
    int64_t max_pixels;   /* --max-pixels, default 100000000 */
    int max_side;         /* --max-side, default 32768 */
    int max_pages;        /* --max-pages, default 1000 */
    int64_t worker_mem_bytes;  /* --worker-memory, default 2 GiB */
    int64_t max_output_bytes;  /* --max-output-bytes, default 4 GiB */
    int http_threads;          /* --http-threads, default 4 */
    int connection_limit;      /* --connection-limit, default 1024 */
    int connection_timeout;    /* --connection-timeout seconds, default 30 */
    int rate_limit;            /* --rate-limit requests per minute per key, 0 = off */
    char *smtp_url;            /* --smtp-url smtp[s]://HOST[:PORT]; NULL: no email notifications */
    char *smtp_user;           /* --smtp-user, NULL: no AUTH */
    char *smtp_password;       /* --smtp-password; never printed or logged */
    char *smtp_from;           /* --smtp-from, default convertd@HOSTNAME (convertd@localhost) */
    char *dropbox_content_url; /* --dropbox-content-url, https://content.dropboxapi.com */
    char *gdrive_api_url;      /* --gdrive-api-url, https://www.googleapis.com */
    char *log_level;           /* --log-level debug|info|warn|error, default info */
    char *config_file;         /* --config */

    /* keys / presets subcommands */
    char *email;   /* --email */
    char *key;     /* --key */
    char *id;      /* --id */
    char *options; /* --options JSON */
};

/* Parse argv[first..argc-1] (flags only; anything else → ERR_BADPARAM naming it), the
 * environment and the --config file into cfg, filling defaults. 0 or -1 with err. */
int config_load(struct config *cfg, int argc, char **argv, int first, struct err *err);
void config_fini(struct config *cfg);

/* The usage text listing every flag. */
const char *config_usage(void);

/* The loaded configuration of this process (set by main after config_load). */
extern const struct config *g_config;

#endif
