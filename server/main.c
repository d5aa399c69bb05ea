/* SPDX-License-Identifier: MIT */
/* main.c - the convertd command: serve, worker, keys, presets, help, version. */

/* The generated build header. A plain "config.h" would find server/config.h beside this
 * file first (the compiler looks in the including file's folder before -I paths). */
#include "convertd-config.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "db/db.h"
#include "db/key_store.h"
#include "server/config.h"
#include "server/engine/worker.h"
#include "server/serve.h"

/* Exit statuses: 1 for a failure while doing the work, 2 for a command line we cannot
 * act on (the usual convention of getopt-based tools). */
enum { EXIT_USAGE = 2 };

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The message, then the usage text, on stderr. Returns EXIT_USAGE. */
static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("convertd: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n\n", stderr);
    fputs(config_usage(), stderr);
    return EXIT_USAGE;
}

static bool wants_help(int argc, char **argv, int first)
{
    for (int i = first; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

static void apply_log_level(const char *name)
{
    static const struct {
        const char *name;
        enum log_level level;
    } levels[] = {
        {"debug", LOG_DEBUG}, {"info", LOG_INFO}, {"warn", LOG_WARN}, {"error", LOG_ERROR}};

    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        if (name != NULL && strcmp(name, levels[i].name) == 0)
            log_set_level(levels[i].level);
}

/* config_load for a subcommand whose flags start at argv[first]. 0, or an exit status. */
static int load_config(struct config *cfg, int argc, char **argv, int first)
{
    struct err err = ERR_INIT;

    if (config_load(cfg, argc, argv, first, &err) != 0) {
        fprintf(stderr, "convertd: %s\n", err.msg);
        return EXIT_USAGE;
    }
    apply_log_level(cfg->log_level);
    g_config = cfg;
    return 0;
}

/* The database every subcommand shares with a running server: WAL lets `keys add` write while
 * the server reads, so a new key or preset works at once. */
static int open_db(const struct config *cfg, struct err *err)
{
    char *path = xasprintf("%s/convertd.db", cfg->data_dir);
    int rc = db_init(path, err);

    free(path);
    return rc;
}

static int print_json(json_t *v)
{
    int rc = json_dumpf(v, stdout, JSON_INDENT(2)) == 0 && fputc('\n', stdout) != EOF ? 0 : -1;

    json_decref(v);
    return rc;
}

static int cmd_keys(int argc, char **argv)
{
    struct config cfg = {0};
    struct err err = ERR_INIT;
    const char *action = argc > 2 ? argv[2] : NULL;
    char *key = NULL;
    json_t *list = NULL;
    int rc;

    if (action == NULL || (strcmp(action, "add") != 0 && strcmp(action, "list") != 0))
        return usage_error("keys: want `keys add` or `keys list`, got \"%s\"",
                           action ? action : "");
    if (wants_help(argc, argv, 3)) {
        fputs(config_usage(), stdout);
        return EXIT_SUCCESS;
    }
    rc = load_config(&cfg, argc, argv, 3);
    if (rc != 0)
        return rc;
    rc = EXIT_FAILURE;
    if (open_db(&cfg, &err) != 0)
        goto out;
    if (strcmp(action, "add") == 0) {
        if (key_store_add(cfg.key, cfg.email, &key, &err) != 0)
            goto out;
        /* The key alone on its line, so scripts can capture it with $(...). */
        if (printf("%s\n", key) < 0 || fflush(stdout) != 0) {
            err_set(&err, ERR_INTERNAL, "cannot write to stdout");
            goto out;
        }
    } else {
        list = key_store_list(&err);
        if (list == NULL || print_json(list) != 0) {
            err_set(&err, ERR_INTERNAL, "cannot list keys");
            goto out;
        }
    }
    rc = EXIT_SUCCESS;
out:
    if (rc != EXIT_SUCCESS)
        fprintf(stderr, "convertd: keys %s: %s\n", action, err.msg);
    free(key);
    config_fini(&cfg);
    return rc;
}

static int cmd_presets(int argc, char **argv)
{
    struct config cfg = {0};
    struct err err = ERR_INIT;
    const char *action = argc > 2 ? argv[2] : NULL;
    json_t *options = NULL, *list = NULL;
    json_error_t jerr;
    int rc;

    if (action == NULL || (strcmp(action, "add") != 0 && strcmp(action, "list") != 0))
        return usage_error("presets: want `presets add` or `presets list`, got \"%s\"",
                           action ? action : "");
    if (wants_help(argc, argv, 3)) {
        fputs(config_usage(), stdout);
        return EXIT_SUCCESS;
    }
    rc = load_config(&cfg, argc, argv, 3);
    if (rc != 0)
        return rc;
    if (strcmp(action, "add") == 0) {
        const char *missing = cfg.key == NULL       ? "--key"
                              : cfg.id == NULL      ? "--id"
                              : cfg.options == NULL ? "--options"
                                                    : NULL;
        if (missing != NULL) {
            config_fini(&cfg);
            return usage_error("presets add: %s is required", missing);
        }
        options = json_loads(cfg.options, JSON_REJECT_DUPLICATES, &jerr);
        if (options == NULL || !json_is_object(options)) {
            fprintf(stderr, "convertd: presets add: --options must be a JSON object%s%s\n",
                    options == NULL ? ": " : "", options == NULL ? jerr.text : "");
            json_decref(options);
            config_fini(&cfg);
            return EXIT_USAGE;
        }
    }
    rc = EXIT_FAILURE;
    if (open_db(&cfg, &err) != 0)
        goto out;
    if (options != NULL) {
        if (preset_store_add(cfg.key, cfg.id, options, &err) != 0)
            goto out;
    } else {
        list = preset_store_list(&err);
        if (list == NULL || print_json(list) != 0) {
            err_set(&err, ERR_INTERNAL, "cannot list presets");
            goto out;
        }
    }
    rc = EXIT_SUCCESS;
out:
    if (rc != EXIT_SUCCESS)
        fprintf(stderr, "convertd: presets %s: %s\n", action, err.msg);
    json_decref(options);
    config_fini(&cfg);
    return rc;
}

static int cmd_serve(int argc, char **argv)
{
    struct config cfg = {0};
    int rc;

    if (wants_help(argc, argv, 2)) {
        fputs(config_usage(), stdout);
        return EXIT_SUCCESS;
    }
    rc = load_config(&cfg, argc, argv, 2);
    if (rc != 0)
        return rc;
    rc = serve_main(&cfg);
    g_config = NULL;
    config_fini(&cfg);
    return rc;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : NULL;

    if (cmd == NULL)
        return usage_error("a command is required");
    /* First, before anything else runs in this process: a worker starts from a clean slate
     * (it closes inherited descriptors and sandboxes itself) and reads no configuration;
     * worker_main gets argv from "worker" on. */
    if (strcmp(cmd, "worker") == 0)
        return worker_main(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(argc, argv);
    if (strcmp(cmd, "keys") == 0)
        return cmd_keys(argc, argv);
    if (strcmp(cmd, "presets") == 0)
        return cmd_presets(argc, argv);
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(config_usage(), stdout);
        return EXIT_SUCCESS;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("convertd %s\n", CONVERTD_VERSION);
        return EXIT_SUCCESS;
    }
    return usage_error("unknown command \"%s\"", cmd);
}
