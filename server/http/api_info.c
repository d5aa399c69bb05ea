/* SPDX-License-Identifier: MIT */
/* api_info.c - GET /conversiontypes (from the compiled-in converters: it never lies),
 * GET|POST /processes and GET /user. */
#include "server/http/api.h"

#include <stdlib.h>
#include <string.h>

#include "common/jsonx.h"
#include "common/mem.h"
#include "common/timefmt.h"
#include "converters/formats.h"
#include "converters/options.h"
#include "converters/registry.h"
#include "db/db.h"
#include "server/http/auth.h"
#include "server/http/http.h"
#include "server/http/reply.h"

#define UNLIMITED_MINUTES 999999

/* A filter parameter: canonical name, or NULL for "no filter" (absent or empty, compat J2). */
static char *filter_param(const json_t *params, const char *name)
{
    const char *v = jsonx_str(json_object_get(params, name));
    if (!v)
        return NULL;
    char *f = format_canonical(v);
    /* A name no format can have matches nothing (not everything). */
    return f ? f : xstrdup("-");
}

static bool pair_listed(json_t *list, const char *in, const char *out)
{
    size_t i;
    json_t *v;
    json_array_foreach (list, i, v) {
        if (strcmp(json_string_value(json_object_get(v, "inputformat")), in) == 0 &&
            strcmp(json_string_value(json_object_get(v, "outputformat")), out) == 0)
            return true;
    }
    return false;
}

/* True when some converter names this format itself (not through "*"): only such a
 * format stands in for a "*" of a pair, so an unknown format still lists nothing. */
static bool format_named(const char *name, bool as_output)
{
    for (const struct converter *const *cv = registry_list(); *cv; cv++)
        for (const struct conv_pair *pr = (*cv)->pairs; pr && pr->in; pr++)
            if (strcmp(as_output ? pr->out : pr->in, name) == 0)
                return true;
    return false;
}

enum MHD_Result api_conversiontypes(struct MHD_Connection *c, struct request *r)
{
    char *in = filter_param(r->params, "inputformat");
    char *out = filter_param(r->params, "outputformat");
    json_t *list = json_array();
    /* Best converter first: a pair offered by two converters is listed once, by the one a
     * conversion (mode convert) would use; converters of other modes only (merging) list
     * the pairs no converter converts. */
    for (int pass = 0; pass < 2; pass++) {
        for (const struct converter *const *cv = registry_list(); *cv; cv++) {
            const struct converter *conv = *cv;
            if (((conv->modes & CONV_MODE_CONVERT) != 0) != (pass == 0))
                continue;
            json_t *defaults = NULL;
            for (const struct conv_pair *pr = conv->pairs; pr && pr->in; pr++) {
                bool any_in = strcmp(pr->in, "*") == 0, any_out = strcmp(pr->out, "*") == 0;
                if ((in && !any_in && strcmp(in, pr->in) != 0) ||
                    (out && !any_out && strcmp(out, pr->out) != 0))
                    continue;
                if ((any_in && in && !format_named(in, false)) ||
                    (any_out && out && !format_named(out, true)))
                    continue;
                /* "*" (any format) is shown as the format asked for, when one was */
                const char *row_in = any_in && in ? in : pr->in;
                const char *row_out = any_out && out ? out : pr->out;
                if (pair_listed(list, row_in, row_out))
                    continue;
                if (!defaults)
                    defaults = options_defaults_json(conv);
                json_array_append_new(
                    list, json_pack("{s:s, s:s, s:s, s:s, s:s, s:O}", "inputformat", row_in,
                                    "outputformat", row_out, "converter", conv->name, "group",
                                    pr->group ? pr->group : "", "note",
                                    conv->note ? conv->note : "", "converteroptions", defaults));
            }
            json_decref(defaults);
        }
    }
    free(in);
    free(out);
    return reply_json(c, MHD_HTTP_OK, list);
}

enum MHD_Result api_processes(struct MHD_Connection *c, struct request *r)
{
    static const char sql[] =
        "SELECT id, host, base, step, starttime, created, endtime FROM processes WHERE key_id = ? "
        "ORDER BY created DESC, rowid DESC LIMIT 1000";
    struct err err = ERR_INIT;
    int64_t key_id;
    if (auth_check(c, r->params, &key_id, NULL, &err) < 0)
        return reply_err(c, &err);
    sqlite3_stmt *st = db_stmt(sql, &err);
    if (!st)
        return reply_err(c, &err);
    sqlite3_bind_int64(st, 1, key_id);
    json_t *list = json_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
        char start[TIMEFMT_LEN + 1], end[TIMEFMT_LEN + 1];
        int64_t starttime = sqlite3_column_int64(st, 4);
        const char *step = (const char *)sqlite3_column_text(st, 3);
        bool final = strcmp(step, "finished") == 0 || strcmp(step, "error") == 0;
        time_utc_string(starttime ? starttime : sqlite3_column_int64(st, 5), start);
        /* compat J1: endtime is "0000-00-00 00:00:00" while running */
        time_utc_string(final ? sqlite3_column_int64(st, 6) : 0, end);
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "id", sqlite3_column_text(st, 0),
                            "host", sqlite3_column_text(st, 1), "step", step, "starttime", start,
                            "endtime", end, "url",
                            json_sprintf("%s/process/%s", sqlite3_column_text(st, 2),
                                         sqlite3_column_text(st, 0))));
    }
    sqlite3_reset(st);
    return reply_json(c, MHD_HTTP_OK, list);
}

enum MHD_Result api_user(struct MHD_Connection *c, struct request *r)
{
    struct err err = ERR_INIT;
    int64_t key_id;
    char *email = NULL;
    if (auth_check(c, r->params, &key_id, &email, &err) < 0)
        return reply_err(c, &err);
    json_t *user = json_pack("{s:I, s:i}", "id", (json_int_t)key_id, "minutes", UNLIMITED_MINUTES);
    if (email)
        json_object_set_new(user, "email", json_string(email));
    free(email);
    return reply_json(c, MHD_HTTP_OK, user);
}
