/* SPDX-License-Identifier: MIT */
/* api_upload.c - PUT /upload/TOKEN/NAME and multipart POST /upload/TOKEN (spec "Uploads").
 * The body is streamed to a temporary file by http.c; here the token is checked before the
 * body is read, and the finished file is handed to the process. */
#include "server/http/api.h"

#include <stdlib.h>
#include <string.h>

#include "common/fsx.h"
#include "common/jsonx.h"
#include "common/mem.h"
#include "server/engine/process.h"
#include "server/http/http.h"
#include "server/http/reply.h"

/* Only a started upload process that has no file yet takes one. */
static int check_waiting(const struct process *p, struct err *err)
{
    if (!p->started)
        return err_set(err, ERR_BADPARAM,
                       "Process not started yet: start it with input=upload "
                       "first");
    const char *input = jsonx_str(json_object_get(p->job, "input"));
    if (p->step != STEP_INPUT || !input || strcmp(input, "upload") != 0 ||
        json_array_size(json_object_get(p->job, "inputs")) > 0)
        return err_set(err, ERR_BADPARAM,
                       "This process does not accept an upload (already "
                       "uploaded or not waiting for one)");
    return 0;
}

int api_upload_precheck(struct MHD_Connection *c, struct request *r, struct err *err)
{
    (void)c;
    struct process p;
    if (process_load_by_token("upload", r->m.id, &p, err) < 0)
        return -1;
    int rc = check_waiting(&p, err);
    process_fini(&p);
    return rc;
}

enum MHD_Result api_upload(struct MHD_Connection *c, struct request *r)
{
    struct err err = ERR_INIT;
    struct process p;
    if (process_load_by_token("upload", r->m.id, &p, &err) < 0)
        return reply_err(c, &err);
    enum MHD_Result ret;
    if (check_waiting(&p, &err) < 0) {
        ret = reply_err(c, &err);
        goto out;
    }
    if (r->n_files == 0 || !r->files[0].path) {
        ret = reply_error(c, MHD_HTTP_BAD_REQUEST,
                          "no file in the upload: PUT the bytes or POST a multipart field "
                          "\"file\"");
        goto out;
    }
    if (json_is_array(json_object_get(p.job, "expect")) && !r->m.name && r->n_files > 1) {
        /* spec "Uploads": several parts in one POST, each one of the listed files */
        for (int i = 1; i < r->n_files; i++) {
            char *part = r->files[i].name ? fsx_safe_name(r->files[i].name) : xstrdup("");
            int rc = process_upload_done(&p, r->files[i].path, part, r->files[i].size, &err);
            free(part);
            if (rc < 0) {
                ret = reply_err(c, &err);
                goto out;
            }
            free(r->files[i].path);
            r->files[i].path = NULL;
        }
    }
    /* spec "Uploads": the name is percent-decoded (MHD decodes the path) and becomes
     * input.filename; a multipart part's filename is used when the URL has none. */
    const char *given = r->m.name ? r->m.name : r->files[0].name;
    char *name = given ? fsx_safe_name(given) : xasprintf("file.%s", p.inputformat);
    int64_t size = r->files[0].size;
    if (process_upload_done(&p, r->files[0].path, name, size, &err) < 0) {
        free(name);
        ret = reply_err(c, &err);
        goto out;
    }
    free(r->files[0].path);
    r->files[0].path = NULL;
    ret = reply_json(c, MHD_HTTP_OK,
                     json_pack("{s:s, s:I, s:s}", "file", name, "size", (json_int_t)size, "message",
                               "File saved."));
    free(name);
out:
    process_fini(&p);
    return ret;
}
