/* SPDX-License-Identifier: MIT */
/* remote.c - S3 and FTP targets of a process: parsing, keeping in memory, transfers. */
#include "server/engine/remote.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "common/jsonx.h"
#include "common/mem.h"
#include "converters/formats.h"
#include "server/config.h"
#include "storage/cloud.h"
#include "storage/ftp.h"
#include "storage/s3.h"

enum remote_kind { REMOTE_S3, REMOTE_FTP, REMOTE_DROPBOX, REMOTE_GDRIVE };

struct remote {
    enum remote_kind kind;
    /* S3 */
    char *access_key_id, *secret_access_key, *session_token, *bucket, *region, *endpoint, *acl;
    /* FTP */
    char *host, *user, *password;
    int port;
    /* Dropbox, Google Drive (outputs) */
    char *access_token, *folder_id;
    /* both: the output path ("" when none) */
    char *path;
};

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

void remote_free(struct remote *r)
{
    if (!r)
        return;
    char *secrets[] = {r->secret_access_key, r->session_token, r->password, r->access_token};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        if (secrets[i])
            explicit_bzero(secrets[i], strlen(secrets[i]));
    free(r->access_key_id);
    free(r->secret_access_key);
    free(r->session_token);
    free(r->bucket);
    free(r->region);
    free(r->endpoint);
    free(r->acl);
    free(r->host);
    free(r->user);
    free(r->password);
    free(r->access_token);
    free(r->folder_id);
    free(r->path);
    free(r);
}

static struct remote *remote_dup(const struct remote *r)
{
    struct remote *c = xcalloc(1, sizeof *c);
    c->kind = r->kind;
    c->access_key_id = dup_or_null(r->access_key_id);
    c->secret_access_key = dup_or_null(r->secret_access_key);
    c->session_token = dup_or_null(r->session_token);
    c->bucket = dup_or_null(r->bucket);
    c->region = dup_or_null(r->region);
    c->endpoint = dup_or_null(r->endpoint);
    c->acl = dup_or_null(r->acl);
    c->host = dup_or_null(r->host);
    c->user = dup_or_null(r->user);
    c->password = dup_or_null(r->password);
    c->port = r->port;
    c->access_token = dup_or_null(r->access_token);
    c->folder_id = dup_or_null(r->folder_id);
    c->path = dup_or_null(r->path);
    return c;
}

const char *remote_kind(const struct remote *r)
{
    static const char *const names[] = {[REMOTE_S3] = "s3",
                                        [REMOTE_FTP] = "ftp",
                                        [REMOTE_DROPBOX] = "dropbox",
                                        [REMOTE_GDRIVE] = "googledrive"};
    return names[r->kind];
}

/* A string parameter: NULL when absent or empty; -1 when present but not a string. */
static int get_str(const json_t *o, const char *role, const char *kind, const char *name,
                   bool required, char **out, struct err *err)
{
    const json_t *v = json_object_get(o, name);
    *out = NULL;
    if (!jsonx_is_given(v) || (json_is_string(v) && json_string_length(v) == 0)) {
        if (required)
            return err_set(err, ERR_BADPARAM, "%s[%s][%s] is missing", role, kind, name);
        return 0;
    }
    if (!json_is_string(v) || jsonx_has_nul(v))
        return err_set(err, ERR_BADPARAM, "%s[%s][%s] must be a string", role, kind, name);
    *out = xstrdup(json_string_value(v));
    return 0;
}

static int parse_s3(const json_t *o, const char *role, struct remote *r, struct err *err)
{
    struct s3_target t;
    if (get_str(o, role, "s3", "accesskeyid", true, &r->access_key_id, err) < 0 ||
        get_str(o, role, "s3", "secretaccesskey", true, &r->secret_access_key, err) < 0 ||
        get_str(o, role, "s3", "sessiontoken", false, &r->session_token, err) < 0 ||
        get_str(o, role, "s3", "bucket", true, &r->bucket, err) < 0 ||
        get_str(o, role, "s3", "region", false, &r->region, err) < 0 ||
        get_str(o, role, "s3", "endpoint", false, &r->endpoint, err) < 0 ||
        get_str(o, role, "s3", "path", false, &r->path, err) < 0 ||
        get_str(o, role, "s3", "acl", false, &r->acl, err) < 0)
        return -1;
    if (!r->region)
        r->region = xstrdup("us-east-1");
    t = (struct s3_target){.access_key_id = r->access_key_id,
                           .secret_access_key = r->secret_access_key,
                           .session_token = r->session_token,
                           .bucket = r->bucket,
                           .region = r->region,
                           .endpoint = r->endpoint};
    struct err why = ERR_INIT;
    if (!s3_target_valid(&t, &why))
        return err_set(err, ERR_BADPARAM, "%s[s3]: %s", role, why.msg);
    return 0;
}

static int parse_ftp(const json_t *o, const char *role, struct remote *r, struct err *err)
{
    const json_t *port = json_object_get(o, "port");
    int64_t n = 21;
    if (get_str(o, role, "ftp", "host", true, &r->host, err) < 0 ||
        get_str(o, role, "ftp", "user", true, &r->user, err) < 0 ||
        get_str(o, role, "ftp", "password", true, &r->password, err) < 0 ||
        get_str(o, role, "ftp", "path", false, &r->path, err) < 0)
        return -1;
    if (jsonx_is_given(port) && (jsonx_int(port, 21, &n) < 0 || n < 1 || n > 65535))
        return err_set(err, ERR_BADPARAM, "%s[ftp][port] must be a port number from 1 to 65535",
                       role);
    r->port = (int)n;
    struct ftp_target t = {
        .host = r->host, .port = r->port, .user = r->user, .password = r->password};
    struct err why = ERR_INIT;
    if (!ftp_target_valid(&t, &why))
        return err_set(err, ERR_BADPARAM, "%s[ftp]: %s", role, why.msg);
    return 0;
}

/* Dropbox and Google Drive take outputs only. */
static int parse_cloud(const json_t *o, const char *role, const char *kind, struct remote *r,
                       struct err *err)
{
    if (strcmp(role, "output") != 0)
        return err_set(err, ERR_BADPARAM, "%s %s is not supported by this server", role, kind);
    if (get_str(o, role, kind, "access_token", true, &r->access_token, err) < 0)
        return -1;
    if (r->kind == REMOTE_DROPBOX)
        return get_str(o, role, kind, "path", false, &r->path, err);
    return get_str(o, role, kind, "folder_id", false, &r->folder_id, err);
}

int remote_parse(const json_t *spec, const char *role, struct remote **out, struct err *err)
{
    *out = NULL;
    if (!json_is_object(spec) || json_object_size(spec) != 1)
        return err_set(err, ERR_BADPARAM,
                       "%s must be an object with one storage, like {\"s3\": {...}}", role);
    void *it = json_object_iter((json_t *)spec);
    const char *kind = json_object_iter_key(it);
    const json_t *o = json_object_iter_value(it);
    struct remote *r = xcalloc(1, sizeof *r);
    int rc;
    if (strcasecmp(kind, "s3") == 0) {
        r->kind = REMOTE_S3;
        rc = json_is_object(o) ? parse_s3(o, role, r, err)
                               : err_set(err, ERR_BADPARAM, "%s[s3] must be an object", role);
    } else if (strcasecmp(kind, "ftp") == 0) {
        r->kind = REMOTE_FTP;
        rc = json_is_object(o) ? parse_ftp(o, role, r, err)
                               : err_set(err, ERR_BADPARAM, "%s[ftp] must be an object", role);
    } else if (strcasecmp(kind, "dropbox") == 0 || strcasecmp(kind, "googledrive") == 0) {
        bool dropbox = strcasecmp(kind, "dropbox") == 0;
        r->kind = dropbox ? REMOTE_DROPBOX : REMOTE_GDRIVE;
        const char *name = dropbox ? "dropbox" : "googledrive";
        rc = json_is_object(o) ? parse_cloud(o, role, name, r, err)
                               : err_set(err, ERR_BADPARAM, "%s[%s] must be an object", role, name);
    } else {
        rc = err_set(err, ERR_BADPARAM, "%s %.40s is not supported by this server", role, kind);
    }
    if (rc < 0) {
        remote_free(r);
        return -1;
    }
    if (!r->path)
        r->path = xstrdup("");
    *out = r;
    return 0;
}

/* ---- in memory, by process ----------------------------------------------------------- */

struct kept {
    char *id;
    char *role;
    struct remote *r;
    struct kept *next;
};

static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kept *kept_list;

void remote_keep(const char *id, const char *role, const struct remote *r)
{
    struct kept *k = xcalloc(1, sizeof *k);
    k->id = xstrdup(id);
    k->role = xstrdup(role);
    k->r = remote_dup(r);
    pthread_mutex_lock(&kept_lock);
    k->next = kept_list;
    kept_list = k;
    pthread_mutex_unlock(&kept_lock);
}

struct remote *remote_find(const char *id, const char *role)
{
    struct remote *found = NULL;
    pthread_mutex_lock(&kept_lock);
    for (struct kept *k = kept_list; k && !found; k = k->next)
        if (strcmp(k->id, id) == 0 && strcmp(k->role, role) == 0)
            found = remote_dup(k->r);
    pthread_mutex_unlock(&kept_lock);
    return found;
}

void remote_forget(const char *id)
{
    struct kept *gone = NULL;
    pthread_mutex_lock(&kept_lock);
    for (struct kept **pp = &kept_list; *pp;) {
        struct kept *k = *pp;
        if (strcmp(k->id, id) == 0) {
            *pp = k->next;
            k->next = gone;
            gone = k;
        } else {
            pp = &k->next;
        }
    }
    pthread_mutex_unlock(&kept_lock);
    while (gone) {
        struct kept *next = gone->next;
        remote_free(gone->r);
        free(gone->id);
        free(gone->role);
        free(gone);
        gone = next;
    }
}

/* ---- transfers ------------------------------------------------------------------------ */

static struct s3_target s3_of(const struct remote *r)
{
    return (struct s3_target){.access_key_id = r->access_key_id,
                              .secret_access_key = r->secret_access_key,
                              .session_token = r->session_token,
                              .bucket = r->bucket,
                              .region = r->region,
                              .endpoint = r->endpoint};
}

static struct ftp_target ftp_of(const struct remote *r)
{
    return (struct ftp_target){
        .host = r->host, .port = r->port, .user = r->user, .password = r->password};
}

int remote_get(const struct remote *r, const char *file, const char *dest, int64_t max_bytes,
               const volatile bool *cancel, struct err *err)
{
    if (r->kind == REMOTE_DROPBOX || r->kind == REMOTE_GDRIVE)
        return err_set(err, ERR_INTERNAL, "%s takes outputs only", remote_kind(r));
    if (r->kind == REMOTE_S3) {
        struct s3_target t = s3_of(r);
        return s3_get(&t, file, dest, max_bytes, cancel, err);
    }
    struct ftp_target t = ftp_of(r);
    return ftp_get(&t, file, dest, max_bytes, cancel, err);
}

int remote_put(const struct remote *r, const char *local, const char *name, bool several,
               char **where, const volatile bool *cancel, struct err *err)
{
    size_t len = strlen(r->path);
    char *dest;
    /* spec "Storage parameters": a path ending with '/' is a folder; several files always go
     * into the path as a folder. */
    if (len == 0)
        dest = xstrdup(name);
    else if (r->path[len - 1] == '/')
        dest = xasprintf("%s%s", r->path, name);
    else if (several)
        dest = xasprintf("%s/%s", r->path, name);
    else
        dest = xstrdup(r->path);
    int rc;
    char *reported = NULL;
    switch (r->kind) {
    case REMOTE_S3: {
        struct s3_target t = s3_of(r);
        rc = s3_put(&t, dest, local, r->acl, NULL, cancel, err);
        break;
    }
    case REMOTE_FTP: {
        struct ftp_target t = ftp_of(r);
        rc = ftp_put(&t, dest, local, cancel, err);
        break;
    }
    case REMOTE_DROPBOX: {
        /* Dropbox paths are absolute */
        char *abs = dest[0] == '/' ? xstrdup(dest) : xasprintf("/%s", dest);
        rc = dropbox_upload(g_config->dropbox_content_url, r->access_token, abs, local, cancel,
                            &reported, err);
        free(abs);
        break;
    }
    case REMOTE_GDRIVE: {
        const char *dot = strrchr(name, '.');
        rc = gdrive_upload(g_config->gdrive_api_url, r->access_token, r->folder_id, name, local,
                           dot ? format_mime_type(dot + 1) : NULL, cancel, &reported, err);
        break;
    }
    default:
        rc = err_set(err, ERR_INTERNAL, "unknown storage");
    }
    if (rc < 0) {
        free(dest);
        free(reported);
        return -1;
    }
    if (reported) {
        free(dest);
        dest = reported;
    }
    *where = dest;
    return 0;
}

json_t *remote_public(const struct remote *r, const char *path)
{
    switch (r->kind) {
    case REMOTE_S3:
        return json_pack("{s:{s:s, s:s, s:s}}", "s3", "bucket", r->bucket, "path", path, "region",
                         r->region);
    case REMOTE_FTP:
        return json_pack("{s:{s:s, s:s}}", "ftp", "host", r->host, "path", path);
    case REMOTE_DROPBOX:
        return json_pack("{s:{s:s}}", "dropbox", "path", path);
    case REMOTE_GDRIVE:
        break;
    }
    return json_pack("{s:{s:s}}", "googledrive", "file_id", path);
}
