/* SPDX-License-Identifier: MIT */
/* zip.c - several output files into one ZIP with libarchive, written atomically. */
#include "storage/zip.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fsx.h"
#include "common/mem.h"

/* Formats that are compressed already: deflating them again costs CPU and gains nothing. */
static const char *const stored_exts[] = {
    "png",  "jpg",  "jpeg", "gif",  "webp", "avif", "heic", "jxl", "mp4",  "m4a",
    "m4v",  "mov",  "mkv",  "webm", "mp3",  "ogg",  "oga",  "ogv", "opus", "flac",
    "aac",  "zip",  "gz",   "tgz",  "bz2",  "xz",   "zst",  "7z",  "rar",  "docx",
    "xlsx", "pptx", "odt",  "ods",  "odp",  "epub", NULL,
};

static bool is_compressed(const char *name)
{
    const char *dot = strrchr(name, '.');

    if (dot == NULL)
        return false;
    for (size_t i = 0; stored_exts[i]; i++) {
        if (strcasecmp(dot + 1, stored_exts[i]) == 0)
            return true;
    }
    return false;
}

/* spec SEC-16: a client that unzips our output must not be zip-slipped. Names are
 * server-generated, so a failure here is a bug upstream; refusing is the last guard. */
static bool is_safe_entry_name(const char *name)
{
    size_t len = strlen(name);

    if (len == 0 || len > 255 || name[0] == '.')
        return false;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p < 0x20 || *p == 0x7f || *p == '/' || *p == '\\')
            return false;
    }
    return true;
}

int zip_add_file(struct archive *a, const char *path, const char *name, long long mtime,
                 char *chunk, zip_block_fn block, void *opaque, const char *what, struct err *err)
{
    struct archive_entry *e = NULL;
    struct stat st;
    int fd = -1, rc = -1;
    ssize_t n;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &st) != 0) {
        err_set(err, ERR_CONVERT, "%s: cannot open %s: %s", what, name, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        err_set(err, ERR_CONVERT, "%s: %s is not a regular file", what, name);
        goto out;
    }
    e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, st.st_size);
    if (mtime >= 0)
        archive_entry_set_mtime(e, (time_t)mtime, 0);
    else
        archive_entry_set_mtime(e, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    if (archive_write_header(a, e) != ARCHIVE_OK) {
        err_set(err, ERR_CONVERT, "%s: %s: %s", what, name, archive_error_string(a));
        goto out;
    }
    while ((n = read(fd, chunk, ZIP_CHUNK)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            err_set(err, ERR_CONVERT, "%s: cannot read %s: %s", what, name, strerror(errno));
            goto out;
        }
        for (ssize_t off = 0; off < n;) {
            la_ssize_t w = archive_write_data(a, chunk + off, (size_t)(n - off));
            if (w <= 0) {
                err_set(err, ERR_CONVERT, "%s: %s: %s", what, name, archive_error_string(a));
                goto out;
            }
            off += w;
        }
        if (block && block(opaque, (size_t)n)) {
            err_set(err, ERR_CANCELLED, "cancelled");
            goto out;
        }
    }
    if (archive_write_finish_entry(a) != ARCHIVE_OK) {
        err_set(err, ERR_CONVERT, "%s: %s: %s", what, name, archive_error_string(a));
        goto out;
    }
    rc = 0;
out:
    archive_entry_free(e);
    if (fd >= 0)
        close(fd);
    return rc;
}

int zip_write(const char *zip_path, const char *dir, const char *const *names, struct err *err)
{
    struct archive *a = NULL;
    char *tmp = xasprintf("%s.tmp", zip_path);
    char *chunk = xmalloc(ZIP_CHUNK);
    char *parent = NULL;
    const char *slash;
    int fd = -1, rc = -1;

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        err_set(err, ERR_CONVERT, "zip: cannot create output: %s", strerror(errno));
        goto out;
    }
    a = archive_write_new();
    if (archive_write_set_format_zip(a) != ARCHIVE_OK ||
        archive_write_open_fd(a, fd) != ARCHIVE_OK) {
        err_set(err, ERR_INTERNAL, "zip: %s", archive_error_string(a));
        goto out;
    }
    for (size_t i = 0; names[i]; i++) {
        if (!is_safe_entry_name(names[i])) {
            err_set(err, ERR_INTERNAL, "zip: unsafe entry name");
            goto out;
        }
        /* Pages and frames are compressed already: deflating them again gains nothing. */
        if (is_compressed(names[i]))
            archive_write_zip_set_compression_store(a);
        else
            archive_write_zip_set_compression_deflate(a);
        char *path = xasprintf("%s/%s", dir, names[i]);
        int r = zip_add_file(a, path, names[i], -1, chunk, NULL, NULL, "zip", err);
        free(path);
        if (r < 0)
            goto out;
    }
    /* Closing writes the central directory: a full disk can show up only here. On the
     * failure paths above, archive_write_free() closes into a file that is unlinked. */
    if (archive_write_close(a) != ARCHIVE_OK) {
        err_set(err, ERR_CONVERT, "zip: cannot write output: %s", archive_error_string(a));
        goto out;
    }
    /* spec SEC-23: data on disk before the name points at it. */
    if (fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        err_set(err, ERR_CONVERT, "zip: cannot write output: %s", strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, zip_path) != 0) {
        err_set(err, ERR_INTERNAL, "zip: cannot rename output: %s", strerror(errno));
        goto out;
    }
    slash = strrchr(zip_path, '/');
    parent = slash ? xstrndup(zip_path, slash == zip_path ? 1 : (size_t)(slash - zip_path))
                   : xstrdup(".");
    if (fsx_fsync_dir(parent, err) < 0)
        goto out;
    rc = 0;
out:
    if (a != NULL)
        archive_write_free(a);
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        unlink(tmp);
    free(parent);
    free(chunk);
    free(tmp);
    return rc;
}
