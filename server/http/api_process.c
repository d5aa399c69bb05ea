/* SPDX-License-Identifier: MIT */
/* api_process.c - POST/GET /process (create), POST /process/ID (start), POST/GET /convert,
 * GET /process/ID (status, ?wait) and DELETE /process/ID. */
#include "server/http/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "common/fsx.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/timefmt.h"
#include "converters/formats.h"
#include "converters/options.h"
#include "converters/registry.h"
#include "db/key_store.h"
#include "server/config.h"
#include "server/engine/process.h"
#include "server/engine/remote.h"
#include "server/engine/waiters.h"
#include "server/http/auth.h"
#include "server/http/http.h"
#include "server/http/reply.h"
#include "storage/fetch.h"

/* What a suspended request answers when its process ends. */
enum wait_kind { WAIT_NONE, WAIT_STATUS, WAIT_REDIRECT, WAIT_REDIRECT_INLINE };

#define UNLIMITED_MINUTES 999999

static const char *const modes[] = {"convert", "info", "combine", "archive", "extract", NULL};

static unsigned mode_bit(const char *mode)
{
    for (int i = 0; modes[i]; i++)
        if (strcmp(modes[i], mode) == 0)
            return 1u << i;
    return 0;
}

/* The URL prefix of new processes: the configured public URL, else "//" + Host header. */
static char *url_base(struct MHD_Connection *c, char **host_out)
{
    const char *host = g_config->public_host;
    char fallback[300];
    if (!host)
        host = http_host_header(c);
    if (!host) {
        snprintf(fallback, sizeof fallback,
                 strchr(g_config->listen_host, ':') ? "[%s]:%d" : "%s:%d", g_config->listen_host,
                 http_port());
        host = fallback;
    }
    *host_out = xstrdup(host);
    if (g_config->public_scheme)
        return xasprintf("%s://%s", g_config->public_scheme, host);
    return xasprintf("//%s", host);
}

/* Location headers are always absolute (compat A5). */
static char *absolute_url(const char *url)
{
    if (strncmp(url, "//", 2) == 0)
        return xasprintf("%s:%s", g_config->public_scheme ? g_config->public_scheme : "http", url);
    return xstrdup(url);
}

enum MHD_Result api_reply_status(struct MHD_Connection *c, const struct process *p)
{
    return reply_json_text(c, (unsigned)process_http_status(p), process_status_text(p, true));
}

/* Canonical format from a parameter; NULL when absent. -1 with err when malformed. */
static int format_param(const json_t *params, const char *name, char **out, struct err *err)
{
    *out = NULL;
    const json_t *v = json_object_get(params, name);
    if (!jsonx_is_given(v))
        return 0;
    if (!json_is_string(v) || jsonx_has_nul(v))
        return err_set(err, ERR_BADPARAM, "%s must be a format name", name);
    *out = format_canonical(json_string_value(v));
    if (!*out)
        return err_set(err, ERR_BADPARAM, "%s \"%s\" is not a valid format name", name,
                       json_string_value(v));
    return 0;
}

static int mode_param(const json_t *params, const char *def, const char **out, struct err *err)
{
    const json_t *v = json_object_get(params, "mode");
    *out = def;
    if (!jsonx_is_given(v))
        return 0;
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    for (int i = 0; modes[i]; i++) {
        if (strcasecmp(modes[i], s) == 0) {
            *out = modes[i];
            return 0;
        }
    }
    return err_set(err, ERR_BADPARAM,
                   "mode must be one of convert, info, combine, archive, "
                   "extract");
}

/* ------------------------------------------------------------------ create */

static int create_process(struct MHD_Connection *c, struct request *r, int64_t key_id,
                          struct process *p, struct err *err)
{
    char *in = NULL, *out = NULL, *host = NULL, *base = NULL;
    const char *mode;
    int rc = -1;
    if (format_param(r->params, "inputformat", &in, err) < 0 ||
        format_param(r->params, "outputformat", &out, err) < 0 ||
        mode_param(r->params, "convert", &mode, err) < 0)
        goto out;
    if (!in) {
        err_set(err, ERR_BADPARAM, "inputformat is missing");
        goto out;
    }
    unsigned bit = mode_bit(mode);
    bool ok = out && bit != CONV_MODE_INFO ? registry_find(in, out, bit) != NULL
                                           : registry_has_input(in, bit);
    if (!ok) {
        /* compat D4: php's test looks for exactly this sentence. */
        err_set(err, ERR_BADPARAM, "This conversiontype is not supported! (%s → %s)", in,
                bit == CONV_MODE_INFO ? "info"
                : out                 ? out
                                      : "?");
        goto out;
    }
    base = url_base(c, &host);
    rc = process_create(key_id, base, host, mode, in, bit == CONV_MODE_INFO ? NULL : out, p, err);
out:
    free(in);
    free(out);
    free(host);
    free(base);
    return rc;
}

static json_t *create_reply(const struct process *p)
{
    char expires[TIMEFMT_LEN + 1];
    time_utc_string(p->expire, expires);
    return json_pack(
        "{s:o, s:s, s:s, s:s, s:I, s:i, s:i, s:i}", "url",
        json_sprintf("%s/process/%s", p->base, p->id), "id", p->id, "host", p->host, "expires",
        expires, "maxsize", (json_int_t)(g_config->max_upload_bytes / (1024 * 1024)), "maxtime",
        g_config->default_timeout, "concurrent", g_config->workers, "minutes", UNLIMITED_MINUTES);
}

enum MHD_Result api_create(struct MHD_Connection *c, struct request *r)
{
    struct err err = ERR_INIT;
    int64_t key_id;
    struct process p;
    /* spec "Auth": the key is checked before any other validation. */
    if (auth_check(c, r->params, &key_id, NULL, &err) < 0)
        return reply_err(c, &err);
    if (create_process(c, r, key_id, &p, &err) < 0)
        return reply_err(c, &err);
    enum MHD_Result ret = reply_json(c, MHD_HTTP_OK, create_reply(&p));
    process_fini(&p);
    return ret;
}

/* ------------------------------------------------------------------ start */

/* Everything a start plan borrows, owned here. */
struct plan_store {
    char *inputformat, *outputformat;
    json_t *effective, *echo;
    char *content;
    size_t content_len;
    struct plan_file *files;
    struct remote *input_remote, *output_remote;
    char *email;
};

static void plan_store_fini(struct plan_store *s)
{
    remote_free(s->input_remote);
    remote_free(s->output_remote);
    free(s->email);
    free(s->inputformat);
    free(s->outputformat);
    json_decref(s->effective);
    json_decref(s->echo);
    free(s->content);
    free(s->files);
}

/* Most inputs of one combine or archive process. */
#define MAX_PLAN_FILES 1000

/* Modes combine and archive: the inputs from `files` (or `file` as an array), each a string
 * or {"file": URL, "filename": NAME} (compat L2), or the file parts of this request. */
static int plan_files(const json_t *params, struct request *r, struct start_plan *plan,
                      struct plan_store *s, struct err *err)
{
    const json_t *list = json_object_get(params, "files");
    const char *what = "files";
    if (!jsonx_is_given(list) && json_is_array(json_object_get(params, "file"))) {
        list = json_object_get(params, "file");
        what = "file";
    }
    if (plan->input == INPUT_UPLOAD && r->n_files > 1) {
        /* spec "Uploads": a multipart start with several file parts, in their order */
        s->files = xcalloc((size_t)r->n_files, sizeof *s->files);
        for (int i = 0; i < r->n_files; i++) {
            s->files[i].path = r->files[i].path;
            s->files[i].filename = r->files[i].name;
        }
        plan->files = s->files;
        plan->n_files = (size_t)r->n_files;
        return 0;
    }
    if (!jsonx_is_given(list))
        return 0; /* one input, the usual way */
    if (plan->input != INPUT_DOWNLOAD && plan->input != INPUT_UPLOAD)
        return err_set(err, ERR_BADPARAM, "%s: a list of inputs needs input=download or upload",
                       what);
    if (!json_is_array(list) || json_array_size(list) == 0)
        return err_set(err, ERR_BADPARAM, "%s must be a list of URLs or {\"file\", \"filename\"}",
                       what);
    size_t n = json_array_size(list);
    if (n > MAX_PLAN_FILES)
        return err_set(err, ERR_BADPARAM, "%s: at most %d inputs", what, MAX_PLAN_FILES);
    s->files = xcalloc(n, sizeof *s->files);
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(list, i);
        const json_t *url = json_is_object(e) ? json_object_get(e, "file") : e;
        const json_t *name = json_is_object(e) ? json_object_get(e, "filename") : NULL;
        if (jsonx_has_nul(url) || jsonx_has_nul(name))
            return err_set(err, ERR_BADPARAM, "%s[%zu] contains a NUL byte", what, i);
        if (jsonx_is_given(name) && (!json_is_string(name) || json_string_length(name) > 1024))
            return err_set(err, ERR_BADPARAM, "%s[%zu].filename must be a file name", what, i);
        s->files[i].filename = jsonx_str(name);
        if (plan->input == INPUT_DOWNLOAD) {
            if (!json_is_string(url) || !fetch_url_syntax_ok(json_string_value(url)))
                return err_set(err, ERR_BADPARAM, "%s[%zu] must be an http or https URL", what, i);
            s->files[i].url = json_string_value(url);
        } else if (!s->files[i].filename) {
            /* uploads to come: a string is the name the upload URL will accept */
            if (!json_is_string(url) || json_string_length(url) == 0 ||
                json_string_length(url) > 1024)
                return err_set(err, ERR_BADPARAM, "%s[%zu] must be the name of a file to upload",
                               what, i);
            s->files[i].filename = json_string_value(url);
        }
    }
    if (plan->input == INPUT_UPLOAD) {
        /* each name is one PUT: a name listed twice could never be told apart */
        for (size_t i = 0; i < n; i++) {
            char *a = fsx_safe_name(s->files[i].filename);
            for (size_t j = 0; j < i; j++) {
                char *b = fsx_safe_name(s->files[j].filename);
                bool same = strcmp(a, b) == 0;
                free(b);
                if (same) {
                    err_set(err, ERR_BADPARAM, "%s[%zu]: %s is listed twice", what, i, a);
                    free(a);
                    return -1;
                }
            }
            free(a);
        }
    }
    plan->files = s->files;
    plan->n_files = n;
    return 0;
}

static int decode_base64(const char *in, char **out, size_t *out_len, struct err *err)
{
    unsigned char *buf = base64_decode_loose(in, strlen(in), out_len);
    if (buf == NULL)
        return err_set(err, ERR_BADPARAM, "file is not valid base64");
    *out = (char *)buf;
    return 0;
}

/* Storage backends named in the contract that this server does not have yet. */
static int unsupported_storage(const char *what, const json_t *v, struct err *err)
{
    const char *key = NULL;
    if (json_is_object(v)) {
        void *it = json_object_iter((json_t *)v);
        key = it ? json_object_iter_key(it) : "?";
    } else {
        key = json_string_value(v);
    }
    return err_set(err, ERR_BADPARAM, "%s %s is not supported by this server", what,
                   key ? key : "?");
}

/* Validate a start request against process p into plan. Messages name the parameter. */
static int build_plan(const struct process *p, struct request *r, struct start_plan *plan,
                      struct plan_store *s, struct err *err)
{
    const json_t *params = r->params;
    memset(plan, 0, sizeof *plan);
    memset(s, 0, sizeof *s);
    const char *mode;
    if (mode_param(params, p->mode, &mode, err) < 0)
        return -1;
    if (format_param(params, "inputformat", &s->inputformat, err) < 0 ||
        format_param(params, "outputformat", &s->outputformat, err) < 0)
        return -1;
    if (!s->inputformat)
        s->inputformat = xstrdup(p->inputformat);
    /* spec "Start": the start's outputformat wins over create's (compat D2). */
    if (!s->outputformat && p->outputformat)
        s->outputformat = xstrdup(p->outputformat);
    unsigned bit = mode_bit(mode);
    if (bit == CONV_MODE_INFO) {
        free(s->outputformat);
        s->outputformat = NULL;
    } else if (!s->outputformat) {
        return err_set(err, ERR_BADPARAM, "outputformat is missing");
    }
    const struct converter *conv = registry_find(s->inputformat, s->outputformat, bit);
    if (!conv)
        return err_set(err, ERR_BADPARAM, "This conversiontype is not supported! (%s → %s)",
                       s->inputformat, s->outputformat ? s->outputformat : "info");

    /* converteroptions, with a preset's options merged under them */
    const json_t *given = json_object_get(params, "converteroptions");
    json_t *opts = NULL;
    if (json_is_string(given) && *json_string_value(given)) {
        opts = json_loads(json_string_value(given), 0, NULL);
        if (!json_is_object(opts)) {
            json_decref(opts);
            return err_set(err, ERR_BADPARAM, "converteroptions must be an object");
        }
    } else if (json_is_object(given)) {
        opts = json_deep_copy(given);
    } else if (jsonx_is_given(given)) {
        return err_set(err, ERR_BADPARAM, "converteroptions must be an object");
    } else {
        opts = json_object();
    }
    const json_t *preset_v = json_object_get(params, "preset");
    if (jsonx_is_given(preset_v) && !json_is_string(preset_v)) {
        json_decref(opts);
        return err_set(err, ERR_BADPARAM, "preset must be a string (the id of a preset)");
    }
    const char *preset = jsonx_str(preset_v);
    if (preset) {
        /* Given options override the preset's; a given null or "" means "not given"
         * (compat C4), so it does not erase the preset's value. */
        const char *k;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(opts, tmp, k, v)
        {
            if (!jsonx_is_given(v))
                json_object_del(opts, k);
        }
        json_t *base = preset_store_get(p->key_id, preset, err);
        if (!base) {
            json_decref(opts);
            return -1;
        }
        json_object_update(base, opts);
        json_decref(opts);
        opts = base;
    }
    int rc = options_apply(conv, opts, &s->effective, &s->echo, err);
    json_decref(opts);
    if (rc < 0)
        return -1;
    if (conv->check &&
        conv->check(s->inputformat, s->outputformat, (enum conv_mode)bit, s->effective, err) < 0)
        return -1;

    /* input method (spec "Start", compat E1: missing means upload) */
    const json_t *input = json_object_get(params, "input");
    plan->input = INPUT_UPLOAD;
    if (json_is_object(input)) {
        /* spec "Storage parameters": {"s3": {...}} or {"ftp": {...}}; file is the key or path */
        if (remote_parse(input, "input", &s->input_remote, err) < 0)
            return -1;
        plan->input = INPUT_REMOTE;
        plan->input_remote = s->input_remote;
    } else if (jsonx_is_given(input)) {
        const char *in = json_is_string(input) ? json_string_value(input) : "";
        if (strcasecmp(in, "upload") == 0)
            plan->input = INPUT_UPLOAD;
        else if (strcasecmp(in, "download") == 0 || strcasecmp(in, "url") == 0)
            plan->input = INPUT_DOWNLOAD;
        else if (strcasecmp(in, "raw") == 0)
            plan->input = INPUT_RAW;
        else if (strcasecmp(in, "base64") == 0)
            plan->input = INPUT_BASE64;
        else if (!strcasecmp(in, "s3") || !strcasecmp(in, "ftp"))
            return err_set(err, ERR_BADPARAM, "input %s needs its parameters: input[%s][...]", in,
                           in);
        else if (!strcasecmp(in, "openstack") || !strcasecmp(in, "azure") ||
                 !strcasecmp(in, "googlecloud"))
            return unsupported_storage("input", input, err);
        else
            return err_set(err, ERR_BADPARAM, "input must be upload, download, raw or base64");
    }
    const json_t *file = json_object_get(params, "file");
    if (jsonx_has_nul(json_object_get(params, "filename")))
        return err_set(err, ERR_BADPARAM, "filename contains a NUL byte");
    const char *filename = jsonx_str(json_object_get(params, "filename"));
    if (filename && (strlen(filename) > 1024))
        return err_set(err, ERR_BADPARAM, "filename is too long");
    plan->filename = filename;
    if ((bit == CONV_MODE_COMBINE || bit == CONV_MODE_ARCHIVE) && plan->input != INPUT_REMOTE &&
        plan_files(params, r, plan, s, err) < 0)
        return -1;
    switch (plan->n_files > 0 ? INPUT_UPLOAD : plan->input) {
    case INPUT_REMOTE:
        if (!json_is_string(file) || !*json_string_value(file) || jsonx_has_nul(file))
            return err_set(err, ERR_BADPARAM, "file is missing: input[%s] needs the %s of the file",
                           remote_kind(s->input_remote),
                           strcmp(remote_kind(s->input_remote), "s3") == 0 ? "key" : "path");
        plan->file = json_string_value(file);
        break;
    case INPUT_UPLOAD:
        if (plan->n_files > 0)
            break;
        /* compat E3/E4: a file part of this request is the upload; a string file is ignored */
        if (r->n_files > 0 && r->files[0].path) {
            plan->upload_path = r->files[0].path;
            plan->upload_size = r->files[0].size;
            if (!plan->filename)
                plan->filename = r->files[0].name;
        }
        break;
    case INPUT_DOWNLOAD:
        if (!jsonx_is_given(file))
            return err_set(err, ERR_BADPARAM,
                           "file is missing: input=download needs the URL "
                           "of the file");
        if (!json_is_string(file) || !fetch_url_syntax_ok(json_string_value(file)))
            return err_set(err, ERR_BADPARAM, "file must be an http or https URL");
        plan->file = json_string_value(file);
        break;
    case INPUT_RAW:
    case INPUT_BASE64:
        if (!json_is_string(file) || !*json_string_value(file))
            return err_set(err, ERR_BADPARAM, "file is missing: input=%s needs the file content",
                           plan->input == INPUT_RAW ? "raw" : "base64");
        if (!plan->filename)
            return err_set(err, ERR_BADPARAM, "filename is missing: input=%s needs it",
                           plan->input == INPUT_RAW ? "raw" : "base64");
        if (plan->input == INPUT_RAW) {
            s->content_len = json_string_length(file);
            s->content = xmalloc(s->content_len + 1);
            memcpy(s->content, json_string_value(file), s->content_len);
        } else if (decode_base64(json_string_value(file), &s->content, &s->content_len, err) < 0) {
            return -1;
        }
        plan->content = s->content;
        plan->content_len = s->content_len;
        break;
    }

    int64_t timeout;
    if (jsonx_int(json_object_get(params, "timeout"), g_config->default_timeout, &timeout) < 0 ||
        timeout < 1 || timeout > 7 * 86400)
        return err_set(err, ERR_BADPARAM, "timeout must be a number of seconds from 1 to 604800");
    plan->timeout = (int)timeout;
    bool flag;
    if (jsonx_bool(json_object_get(params, "save"), false, false, &flag) < 0)
        return err_set(err, ERR_BADPARAM, "save must be true or false");
    plan->save = flag;
    const json_t *cb = json_object_get(params, "callback");
    if (jsonx_is_given(cb)) {
        if (!json_is_string(cb) || !fetch_url_syntax_ok(json_string_value(cb)))
            return err_set(err, ERR_BADPARAM, "callback must be an http or https URL");
        plan->callback = json_string_value(cb);
    }
    if (jsonx_bool(json_object_get(params, "email"), false, false, &flag) < 0)
        return err_set(err, ERR_BADPARAM, "email must be true or false");
    if (flag) {
        if (key_store_email(p->key_id, &s->email, err) < 0)
            return -1;
        if (!s->email)
            return err_set(err, ERR_BADPARAM, "email: this API key has no email address");
        plan->email = s->email;
    }
    const json_t *output = json_object_get(params, "output");
    if (jsonx_is_given(output) && !json_is_object(output))
        return err_set(err, ERR_BADPARAM, "output must be an object like {\"s3\": {...}}");
    if (json_is_object(output) && json_object_size(output) > 0) {
        if (remote_parse(output, "output", &s->output_remote, err) < 0)
            return -1;
        plan->output_remote = s->output_remote;
    }
    plan->mode = mode;
    plan->inputformat = s->inputformat;
    plan->outputformat = s->outputformat;
    plan->conv = conv;
    plan->group = registry_pair_group(conv, s->inputformat,
                                      s->outputformat ? s->outputformat : s->inputformat);
    plan->options = s->effective;
    plan->options_echo = s->echo;
    plan->tag = json_object_get(params, "tag");
    return 0;
}

/* wait / download flags of a start request. */
static int wait_kind_of(const json_t *params, enum wait_kind *kind, struct err *err)
{
    bool wait = false, download = false;
    *kind = WAIT_NONE;
    const json_t *dl = json_object_get(params, "download");
    if (json_is_string(dl) && strcasecmp(json_string_value(dl), "inline") == 0) {
        *kind = WAIT_REDIRECT_INLINE;
        return 0;
    }
    if (jsonx_bool(dl, false, false, &download) < 0)
        return err_set(err, ERR_BADPARAM, "download must be true, false or inline");
    if (download) {
        *kind = WAIT_REDIRECT;
        return 0;
    }
    if (jsonx_bool(json_object_get(params, "wait"), false, false, &wait) < 0)
        return err_set(err, ERR_BADPARAM, "wait must be true or false");
    if (wait)
        *kind = WAIT_STATUS;
    return 0;
}

enum MHD_Result api_suspend(struct MHD_Connection *c, struct request *r, const struct process *p)
{
    struct err err = ERR_INIT;
    struct process q;
    /* spec: a wait lasts until the process timeout + 60 s (plus the upload time while the
     * process still waits for its file), then answers the current status. */
    if (!r->wait_deadline_ms) {
        int64_t timeout = json_integer_value(json_object_get(p->job, "timeout"));
        if (timeout <= 0)
            timeout = g_config->default_timeout;
        if (p->step == STEP_INPUT)
            timeout += g_config->upload_timeout;
        r->wait_deadline_ms = time_mono_ms() + (timeout + 60) * 1000;
    }
    waiters_add(c, p->id, r->wait_deadline_ms, &r->wait_expired);
    /* The process may have ended between the caller's load and the registration. */
    if (process_load_status(p->id, &q, &err) < 0 || process_is_final(&q))
        waiters_notify(p->id);
    process_fini(&q);
    return MHD_YES;
}

/* Answer a request waiting on process r->wait_id, or suspend it until the process ends
 * (spec "Status": ?wait blocks until the process timeout + 60 s, then answers the current
 * status). */
static enum MHD_Result answer_or_wait(struct MHD_Connection *c, struct request *r)
{
    struct err err = ERR_INIT;
    struct process p;
    /* Resumed after a wait: a client that left gets no answer. */
    if (r->wait_deadline_ms && http_peer_gone(c))
        return MHD_NO;
    if (process_load(r->wait_id, &p, &err) < 0)
        return reply_err(c, &err);
    enum MHD_Result ret;
    if (!process_is_final(&p) && !r->wait_expired) {
        ret = api_suspend(c, r, &p);
        process_fini(&p);
        return ret;
    }
    if ((r->state == WAIT_REDIRECT || r->state == WAIT_REDIRECT_INLINE) &&
        p.step == STEP_FINISHED) {
        /* compat E7: 303 with an absolute Location of the output URL */
        const char *url = jsonx_str(json_object_get(json_object_get(p.doc, "output"), "url"));
        char *abs = absolute_url(url ? url : "");
        char *loc = r->state == WAIT_REDIRECT_INLINE ? xasprintf("%s?inline", abs) : xstrdup(abs);
        ret = reply_see_other(c, loc);
        free(abs);
        free(loc);
    } else {
        ret = api_reply_status(c, &p);
    }
    process_fini(&p);
    return ret;
}

/* Start process p with r's parameters and answer (or suspend for wait/download). */
static enum MHD_Result start_process(struct MHD_Connection *c, struct request *r, struct process *p)
{
    struct err err = ERR_INIT;
    struct start_plan plan = {0};
    struct plan_store store = {0};
    enum wait_kind kind;
    enum MHD_Result ret;
    if (p->started) {
        /* spec "Start": the process is unchanged. */
        return reply_error(c, MHD_HTTP_BAD_REQUEST, "Process already started");
    }
    if (wait_kind_of(r->params, &kind, &err) < 0 || build_plan(p, r, &plan, &store, &err) < 0) {
        /* spec "Start" (compat E5): a failed start puts the process into step error. */
        process_reject(p->id, err.msg, &err);
        plan_store_fini(&store);
        struct process q;
        struct err lerr = ERR_INIT;
        if (process_load(p->id, &q, &lerr) < 0)
            return reply_err(c, &lerr);
        ret = api_reply_status(c, &q);
        process_fini(&q);
        return ret;
    }
    int rc = process_begin(p, &plan, &err);
    plan_store_fini(&store);
    if (rc < 0)
        return reply_err(c, &err);
    if (kind == WAIT_NONE)
        return api_reply_status(c, p);
    r->state = (int)kind;
    r->wait_id = xstrdup(p->id);
    return answer_or_wait(c, r);
}

enum MHD_Result api_start(struct MHD_Connection *c, struct request *r)
{
    if (r->state != WAIT_NONE)
        return answer_or_wait(c, r);
    struct err err = ERR_INIT;
    struct process p;
    if (process_load(r->m.id, &p, &err) < 0)
        return reply_err(c, &err);
    enum MHD_Result ret = start_process(c, r, &p);
    process_fini(&p);
    return ret;
}

enum MHD_Result api_convert(struct MHD_Connection *c, struct request *r)
{
    if (r->state != WAIT_NONE)
        return answer_or_wait(c, r);
    struct err err = ERR_INIT;
    int64_t key_id;
    struct process p;
    if (auth_check(c, r->params, &key_id, NULL, &err) < 0)
        return reply_err(c, &err);
    if (create_process(c, r, key_id, &p, &err) < 0)
        return reply_err(c, &err);
    enum MHD_Result ret = start_process(c, r, &p);
    process_fini(&p);
    return ret;
}

/* ------------------------------------------------------------------ status, delete */

enum MHD_Result api_status(struct MHD_Connection *c, struct request *r)
{
    if (r->state != WAIT_NONE)
        return answer_or_wait(c, r);
    bool wait = false;
    struct err err = ERR_INIT;
    if (jsonx_bool(json_object_get(r->params, "wait"), false, false, &wait) < 0)
        wait = false;
    if (wait) {
        r->state = WAIT_STATUS;
        r->wait_id = xstrdup(r->m.id);
        return answer_or_wait(c, r);
    }
    struct process p;
    if (process_load_status(r->m.id, &p, &err) < 0)
        return reply_err(c, &err);
    enum MHD_Result ret = api_reply_status(c, &p);
    process_fini(&p);
    return ret;
}

enum MHD_Result api_delete(struct MHD_Connection *c, struct request *r)
{
    /* spec "DELETE": 200 also when already deleted (compat I3). */
    struct err err = ERR_INIT;
    if (process_delete(r->m.id, &err) < 0)
        return reply_err(c, &err);
    return reply_json(c, MHD_HTTP_OK, json_pack("{s:s}", "message", "Process was deleted"));
}
