/* SPDX-License-Identifier: MIT */
/* api_download.c - GET/HEAD /download/TOKEN[/NAME] (spec "Downloads"): blocks until the
 * output exists, serves the ZIP of several files or one member, Range requests, and one-time
 * claims unless the process was started with save. */
#include "server/http/api.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsx.h"
#include "common/jsonx.h"
#include "common/mem.h"
#include "common/timefmt.h"
#include "server/config.h"
#include "server/engine/process.h"
#include "server/engine/waiters.h"
#include "server/http/http.h"
#include "server/http/reply.h"

enum { DL_INITIAL = 0, DL_WAITING = 1 };

/* Parse "bytes=A-B", "bytes=A-" or "bytes=-N" against size. false: serve the whole file. */
static bool parse_range(const char *h, int64_t size, int64_t *from, int64_t *to)
{
    if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ',') || size <= 0)
        return false;
    const char *p = h + 6;
    char *end;
    errno = 0;
    if (*p == '-') {
        long long n = strtoll(p + 1, &end, 10);
        if (errno || *end || n <= 0)
            return false;
        *from = n >= size ? 0 : size - n;
        *to = size - 1;
        return true;
    }
    long long a = strtoll(p, &end, 10);
    if (errno || *end != '-' || a < 0 || a >= size)
        return false;
    p = end + 1;
    long long b = size - 1;
    if (*p) {
        b = strtoll(p, &end, 10);
        if (errno || *end || b < a)
            return false;
        if (b >= size)
            b = size - 1;
    }
    *from = a;
    *to = b;
    return true;
}

/* Which stored output the request names: "" for the ZIP of several, else a file name.
 * *display gets the name to show (borrowed from p->doc). NULL → 404. */
static const char *pick_output(const struct process *p, const char *requested, const char **display)
{
    json_t *output = json_object_get(p->doc, "output");
    const char *filename = jsonx_str(json_object_get(output, "filename"));
    json_t *files = json_object_get(output, "files");
    if (!filename)
        return NULL;
    if (!requested || !*requested) {
        *display = filename;
        return json_is_array(files) ? "" : filename;
    }
    size_t i;
    json_t *v;
    json_array_foreach (files, i, v) {
        if (strcmp(json_string_value(v), requested) == 0) {
            *display = json_string_value(v);
            return *display;
        }
    }
    if (!json_is_array(files) && strcmp(filename, requested) == 0) {
        *display = filename;
        return filename;
    }
    return NULL;
}

enum MHD_Result api_download(struct MHD_Connection *c, struct request *r)
{
    struct err err = ERR_INIT;
    struct process p;
    enum MHD_Result ret;
    if (r->state == DL_WAITING && http_peer_gone(c))
        return MHD_NO;
    if (process_load_by_token("download", r->m.id, &p, &err) < 0)
        return reply_err(c, &err);
    if (!process_is_final(&p) && !r->wait_expired) {
        /* spec "Downloads": requested before the output exists → block until it does. */
        r->state = DL_WAITING;
        ret = api_suspend(c, r, &p);
        goto out;
    }
    if (p.step != STEP_FINISHED) {
        /* Failed (the hosted API answered the failed status here too) or still running after
         * the wait deadline. */
        ret = p.step == STEP_ERROR ? api_reply_status(c, &p)
                                   : reply_error(c, MHD_HTTP_NOT_FOUND, "File not ready");
        goto out;
    }
    const char *display = NULL;
    const char *name = pick_output(&p, r->m.name, &display);
    if (!name) {
        ret = reply_error(c, MHD_HTTP_NOT_FOUND, "File not found");
        goto out;
    }
    int64_t size = 0, from = 0, to = 0;
    const char *range_h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
    /* A bare ?inline arrives as "true"; ?inline=false turns it off. */
    bool inline_disp = false;
    if (jsonx_bool(json_object_get(r->params, "inline"), false, false, &inline_disp) < 0)
        inline_disp = true;
    int fd = process_output_open(&p, name, &size, &err);
    if (fd < 0) {
        ret = reply_err(c, &err);
        goto out;
    }
    bool ranged = parse_range(range_h, size, &from, &to);
    /* spec "Downloads": a GET, or a Range ending at the last byte, claims a one-time file;
     * HEAD never counts. */
    bool claim = !p.save && !r->head && (!ranged || to == size - 1);
    if (claim && process_output_claim(p.id, name, &err) < 0) {
        close(fd);
        ret = reply_err(c, &err);
        goto out;
    }
    if (!ranged) {
        from = 0;
        to = size - 1;
    }
    char *ext = NULL, *stem = NULL;
    fsx_split_name(display, &stem, &ext);
    uint64_t len = size > 0 ? (uint64_t)(to - from + 1) : 0;
    ret = reply_file(c, ranged ? MHD_HTTP_PARTIAL_CONTENT : MHD_HTTP_OK, fd, (uint64_t)from, len,
                     (uint64_t)size, display, ext, inline_disp);
    free(ext);
    free(stem);
    if (ret == MHD_YES && !r->head) {
        r->dl_active = true;
        r->dl_claimed = claim;
        r->dl_id = xstrdup(p.id);
        r->dl_name = xstrdup(name);
    } else if (claim) {
        process_output_release(p.id, name);
    }
out:
    process_fini(&p);
    return ret;
}
