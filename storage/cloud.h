/* SPDX-License-Identifier: MIT */
/* cloud.h - outputs to Dropbox and Google Drive through their HTTP upload APIs, with libcurl,
 * streamed from files. The base URLs are configurable so tests (and on-premise stand-ins)
 * can serve them; every connection passes the address guard of fetch.h. Messages name the
 * service's answer ("Dropbox: path/conflict/file", "Google Drive: 401 Invalid Credentials")
 * and never the access token. */
#ifndef CONVERTD_STORAGE_CLOUD_H
#define CONVERTD_STORAGE_CLOUD_H

#include <stdbool.h>

#include "common/err.h"

/* Upload the file at src to Dropbox as `path` (absolute, "/folder/name.ext"), overwriting.
 * content_url: "https://content.dropboxapi.com" or a stand-in. Files up to 150 MB in one
 * POST /2/files/upload; larger ones through an upload session (upload_session/start,
 * append_v2, finish) in chunks of 128 MiB. *path_display (new string) gets the path Dropbox
 * reports. ERR_CONVERT "Dropbox: <error_summary>" / "Dropbox: HTTP <n>", "Dropbox server not
 * allowed" for a guarded address. */
int dropbox_upload(const char *content_url, const char *access_token, const char *path,
                   const char *src, const volatile bool *cancel, char **path_display,
                   struct err *err);

/* Upload the file at src to Google Drive as `name` in folder folder_id (NULL: the root) with
 * a resumable upload: POST API_URL/upload/drive/v3/files?uploadType=resumable with the JSON
 * metadata {"name", "parents"}, then PUT the bytes to the session URI it returns (which must
 * be on the same scheme, host and port as api_url). api_url: "https://www.googleapis.com" or
 * a stand-in. *file_id (new string) gets the new file's id. ERR_CONVERT "Google Drive:
 * <error.message>" / "Google Drive: HTTP <n>", "Google Drive server not allowed". */
int gdrive_upload(const char *api_url, const char *access_token, const char *folder_id,
                  const char *name, const char *src, const char *content_type,
                  const volatile bool *cancel, char **file_id, struct err *err);

#endif
