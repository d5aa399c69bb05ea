/* SPDX-License-Identifier: MIT */
/* archive.c - mode archive (inputs -> zip, tar, tar.gz, 7z) and mode extract (members of zip,
 * tar, 7z, rar -> files) through libarchive, with the limits of security.md SEC-15/16. */
#include "converters/converter.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fsx.h"
#include "common/mem.h"
#include "storage/zip.h"

#define CHUNK (64 * 1024)
/* SEC-15: caps on what one extraction may write, counted as bytes actually written. */
#define MAX_EXTRACT_BYTES ((int64_t)1 << 30)
#define MAX_RATIO         100
#define RATIO_FLOOR       ((int64_t)100 << 20) /* small archives may expand freely up to this */
#define DEFAULT_ENTRIES   1000
#define MAX_EXT           10

static const struct conv_option options[] = {
    {0},
};

/* "*" matches every format (registry.c). The first four are mode ARCHIVE's, the rest mode
 * EXTRACT's; the registry matches any of them in either mode, so check() keeps each mode to
 * its own half. */
static const struct conv_pair pairs[] = {
    {"*", "zip", "archive"},
    {"*", "tar", "archive"},
    {"*", "tar.gz", "archive"},
    {"*", "7z", "archive"},
    {"zip", "*", "archive"},
    {"tar", "*", "archive"},
    {"tar.gz", "*", "archive"},
    {"tgz", "*", "archive"},
    {"7z", "*", "archive"},
    {"rar", "*", "archive"},
    {0},
};

static const char *const write_formats[] = {"zip", "tar", "tar.gz", "7z", NULL};
static const char *const read_formats[] = {"zip", "tar", "tar.gz", "tgz", "7z", "rar", NULL};

static bool one_of(const char *s, const char *const *list)
{
    for (size_t i = 0; s && list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

/* The registry matches "*" against any format in either mode, so archive mode would also
 * take "zip -> png" (through an extract pair) and extract mode "pdf -> zip": refuse those
 * before the job is queued. */
static int check(const char *in, const char *out, enum conv_mode mode, const json_t *opts,
                 struct err *err)
{
    (void)opts;
    if (mode == CONV_MODE_ARCHIVE && !one_of(out, write_formats))
        return err_set(err, ERR_BADPARAM,
                       "outputformat %s is not an archive format (zip, tar, "
                       "tar.gz, 7z)",
                       out ? out : "");
    if (mode == CONV_MODE_EXTRACT && !one_of(in, read_formats))
        return err_set(err, ERR_BADPARAM,
                       "inputformat %s is not an archive this server can "
                       "extract (zip, tar, tar.gz, 7z, rar)",
                       in ? in : "");
    return 0;
}

/* Throttled progress: only when the whole percent moves, so a 1 GiB job makes ~100 calls. */
struct meter {
    const struct conv_job *job;
    int last;
};

static bool meter_cancelled(struct meter *m, double percent, const char *message)
{
    if (!m->job->progress)
        return false;
    if (percent > 100)
        percent = 100;
    if ((int)percent <= m->last)
        return false;
    m->last = (int)percent;
    return m->job->progress(m->job->progress_opaque, percent, message);
}

/* ---- mode archive ------------------------------------------------------------------- */

/* Entry name for an input path (SEC-16): its safe base name, made unique among `taken`
 * (ignoring case, for clients on case-insensitive file systems) by a "-N" before the
 * extension. Returns a new string. */
UNITTEST char *arch_entry_name(const char *path, char *const *taken, size_t n_taken);
UNITTEST char *arch_entry_name(const char *path, char *const *taken, size_t n_taken)
{
    char *safe = fsx_safe_name(path);
    char *name = xstrdup(safe);
    const char *dot = strrchr(safe, '.');
    size_t stem = dot && dot != safe ? (size_t)(dot - safe) : strlen(safe);

    for (int n = 2;; n++) {
        bool clash = false;
        for (size_t i = 0; i < n_taken && !clash; i++)
            clash = strcasecmp(taken[i], name) == 0;
        if (!clash)
            break;
        free(name);
        name = xasprintf("%.*s-%d%s", (int)stem, safe, n, safe + stem);
    }
    free(safe);
    return name;
}

static int set_format(struct archive *a, const char *ext, struct err *err)
{
    int r;

    if (strcmp(ext, "zip") == 0)
        r = archive_write_set_format_zip(a);
    else if (strcmp(ext, "tar") == 0)
        r = archive_write_set_format_pax_restricted(a);
    else if (strcmp(ext, "tar.gz") == 0) {
        r = archive_write_set_format_pax_restricted(a);
        if (r == ARCHIVE_OK)
            r = archive_write_add_filter_gzip(a);
    } else if (strcmp(ext, "7z") == 0)
        r = archive_write_set_format_7zip(a);
    else
        return err_set(err, ERR_CONVERT, "archive: cannot write %s archives", ext);
    if (r != ARCHIVE_OK)
        return err_set(err, ERR_INTERNAL, "archive: %s", archive_error_string(a));
    return 0;
}

/* Progress of pack(): bytes copied so far against the inputs' total. */
struct pack_progress {
    struct meter *m;
    int64_t done, total;
};

static bool pack_block(void *opaque, size_t bytes)
{
    struct pack_progress *p = opaque;
    p->done += (int64_t)bytes;
    return meter_cancelled(p->m, p->total > 0 ? 100.0 * (double)p->done / (double)p->total : 0,
                           "Archiving");
}

static int pack(const struct conv_job *job, struct err *err)
{
    struct meter m = {.job = job, .last = -1};
    struct archive *a = NULL;
    char *path = NULL, *chunk = NULL, **names = NULL;
    size_t n = 0;
    struct pack_progress pp = {.m = &m};
    int fd = -1, rc = -1;

    if (!job->out_format)
        return err_set(err, ERR_CONVERT, "archive: no output format");
    while (job->inputs[n])
        n++;
    for (size_t i = 0; i < n; i++) {
        int64_t size = fsx_file_size(job->inputs[i]);
        pp.total += size > 0 ? size : 0;
    }
    if (meter_cancelled(&m, 0, "Archiving"))
        return err_set(err, ERR_CANCELLED, "cancelled");

    path = xasprintf("%s/out.%s", job->output_dir, job->out_format);
    chunk = xmalloc(ZIP_CHUNK);
    names = xcalloc(n + 1, sizeof *names);
    a = archive_write_new();
    if (set_format(a, job->out_format, err) < 0)
        goto out;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        err_set(err, ERR_CONVERT, "archive: cannot create output: %s", strerror(errno));
        goto out;
    }
    if (archive_write_open_fd(a, fd) != ARCHIVE_OK) {
        err_set(err, ERR_CONVERT, "archive: %s", archive_error_string(a));
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        names[i] = arch_entry_name(job->inputs[i], names, i);
        if (zip_add_file(a, job->inputs[i], names[i], (long long)time(NULL), chunk, pack_block, &pp,
                         "archive", err) < 0)
            goto out;
    }
    /* Closing writes the zip central directory or the whole 7z stream: errors show here. */
    if (archive_write_close(a) != ARCHIVE_OK) {
        err_set(err, ERR_CONVERT, "archive: cannot write output: %s", archive_error_string(a));
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        err_set(err, ERR_CONVERT, "archive: cannot write output: %s", strerror(errno));
        goto out;
    }
    fd = -1;
    if (job->progress && job->progress(job->progress_opaque, 100, "Archived")) {
        err_set(err, ERR_CANCELLED, "cancelled");
        goto out;
    }
    rc = 0;
out:
    if (a)
        archive_write_free(a);
    if (fd >= 0)
        close(fd);
    if (rc < 0 && path)
        unlink(path);
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
    free(chunk);
    free(path);
    return rc;
}

/* ---- mode extract ------------------------------------------------------------------- */

/* Output extension for a member name: the last component's extension, lower-cased, only
 * [a-z0-9], at most MAX_EXT characters; "bin" when nothing is left. Returns a new string. */
UNITTEST char *arch_member_ext(const char *name);
UNITTEST char *arch_member_ext(const char *name)
{
    const char *base = name, *dot;
    char ext[MAX_EXT + 1];
    size_t len = 0;

    for (const char *p = name; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    dot = strrchr(base, '.');
    if (dot && dot != base) {
        for (const char *p = dot + 1; *p && len < MAX_EXT; p++) {
            char c = *p;
            if (c >= 'A' && c <= 'Z')
                c = (char)(c - 'A' + 'a');
            if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
                ext[len++] = c;
        }
    }
    ext[len] = '\0';
    return xstrdup(len ? ext : "bin");
}

static bool mentions_encryption(const char *msg)
{
    return msg && (strcasestr(msg, "encrypt") || strcasestr(msg, "passphrase") ||
                   strcasestr(msg, "password"));
}

struct unpack {
    const struct conv_job *job;
    struct archive *a;
    struct meter m;
    int dirfd;
    int64_t in_size;
    int64_t written;
    char **names; /* written so far, to rename or remove */
    size_t n_names;
    char *chunk;
};

static int read_failed(struct unpack *u, struct err *err)
{
    const char *msg = archive_error_string(u->a);

    if (mentions_encryption(msg))
        return err_set(err, ERR_CONVERT, "the archive is password protected");
    return err_set(err, ERR_CONVERT, "cannot read the archive: %s", msg ? msg : "unknown error");
}

/* Stream the current entry's data into a new file "N.EXT" in the output folder. */
static int write_member(struct unpack *u, struct archive_entry *e, struct err *err)
{
    char *ext = arch_member_ext(archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
    char *name = xasprintf("%zu.%s", u->n_names + 1, ext);
    int fd = -1, rc = -1;

    /* SEC-15: the path is ours, never the member's; O_EXCL | O_NOFOLLOW refuse anything
     * that is already there. */
    fd = openat(u->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        err_set(err, ERR_CONVERT, "archive: cannot create %s: %s", name, strerror(errno));
        goto out;
    }
    u->names = xrealloc(u->names, (u->n_names + 1) * sizeof *u->names);
    u->names[u->n_names++] = name;
    name = NULL;
    for (;;) {
        la_ssize_t n = archive_read_data(u->a, u->chunk, CHUNK);
        if (n == 0)
            break;
        if (n < 0) {
            read_failed(u, err);
            goto out;
        }
        u->written += n;
        if (u->written > MAX_EXTRACT_BYTES) {
            err_set(err, ERR_CONVERT, "the archive expands to more than 1 GiB");
            goto out;
        }
        if (u->written > RATIO_FLOOR && u->written > MAX_RATIO * u->in_size) {
            err_set(err, ERR_CONVERT, "the archive expands more than %d times (a zip bomb?)",
                    MAX_RATIO);
            goto out;
        }
        for (la_ssize_t off = 0; off < n;) {
            ssize_t w = write(fd, u->chunk + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                err_set(err, ERR_CONVERT, "archive: cannot write %s: %s", u->names[u->n_names - 1],
                        strerror(errno));
                goto out;
            }
            off += w;
        }
        double read = (double)archive_filter_bytes(u->a, -1);
        if (meter_cancelled(&u->m, u->in_size > 0 ? 100.0 * read / (double)u->in_size : 0,
                            "Extracting")) {
            err_set(err, ERR_CANCELLED, "cancelled");
            goto out;
        }
    }
    if (close(fd) != 0) {
        fd = -1;
        err_set(err, ERR_CONVERT, "archive: cannot write output: %s", strerror(errno));
        goto out;
    }
    fd = -1;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    free(name);
    free(ext);
    return rc;
}

static int unpack(const struct conv_job *job, struct err *err)
{
    struct unpack u = {.job = job, .m = {.job = job, .last = -1}, .dirfd = -1};
    struct archive_entry *e;
    struct stat st;
    int max = job->limits && job->limits->max_pages > 0 ? job->limits->max_pages : DEFAULT_ENTRIES;
    int in = -1, entries = 0, skipped = 0, rc = -1, r;

    if (meter_cancelled(&u.m, 0, "Extracting"))
        return err_set(err, ERR_CANCELLED, "cancelled");
    u.chunk = xmalloc(CHUNK);
    u.dirfd = open(job->output_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (u.dirfd < 0) {
        err_set(err, ERR_INTERNAL, "archive: cannot open the output folder: %s", strerror(errno));
        goto out;
    }
    in = open(job->inputs[0], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (in < 0 || fstat(in, &st) != 0) {
        err_set(err, ERR_CONVERT, "archive: cannot open input: %s", strerror(errno));
        goto out;
    }
    u.in_size = st.st_size;
    u.a = archive_read_new();
    archive_read_support_format_zip(u.a);
    archive_read_support_format_tar(u.a);
    archive_read_support_format_7zip(u.a);
    archive_read_support_format_rar(u.a);
    archive_read_support_format_rar5(u.a);
    /* Not archive_read_support_filter_all(): lrzip, lzop and grzip would run an external
     * program on client data. These are all in-process (zlib, bz2, liblzma, lz4, zstd). */
    archive_read_support_filter_gzip(u.a);
    archive_read_support_filter_bzip2(u.a);
    archive_read_support_filter_xz(u.a);
    archive_read_support_filter_lzma(u.a);
    archive_read_support_filter_lz4(u.a);
    archive_read_support_filter_zstd(u.a);
    archive_read_support_filter_compress(u.a);
    if (archive_read_open_fd(u.a, in, CHUNK) != ARCHIVE_OK) {
        read_failed(&u, err);
        goto out;
    }
    while ((r = archive_read_next_header(u.a, &e)) != ARCHIVE_EOF) {
        if (r < ARCHIVE_WARN) {
            read_failed(&u, err);
            goto out;
        }
        if (++entries > max) {
            err_set(err, ERR_CONVERT, "the archive has more than %d entries", max);
            goto out;
        }
        mode_t type = archive_entry_filetype(e);
        if (type == AE_IFDIR)
            continue;
        /* SEC-15: links and devices are never created; a tar hard link is a "regular"
         * entry that names another member. */
        if (type != AE_IFREG || archive_entry_hardlink(e) || archive_entry_symlink(e)) {
            skipped++;
            continue;
        }
        if (archive_entry_is_encrypted(e)) {
            err_set(err, ERR_CONVERT, "the archive is password protected");
            goto out;
        }
        /* Depth 1: a member that is itself an archive is written as it is, never opened. */
        if (write_member(&u, e, err) < 0)
            goto out;
    }
    if (u.n_names == 0) {
        err_set(err, ERR_CONVERT, "the archive holds no files");
        goto out;
    }
    if (u.n_names == 1) {
        const char *dot = strchr(u.names[0], '.');
        char *single = xasprintf("out%s", dot);
        r = renameat(u.dirfd, u.names[0], u.dirfd, single);
        if (r == 0) {
            free(u.names[0]);
            u.names[0] = single;
        } else {
            free(single);
            err_set(err, ERR_INTERNAL, "archive: rename: %s", strerror(errno));
            goto out;
        }
    }
    char message[128];
    if (skipped)
        snprintf(message, sizeof message,
                 "Extracted %zu file%s (%d links or special files "
                 "skipped)",
                 u.n_names, u.n_names == 1 ? "" : "s", skipped);
    else
        snprintf(message, sizeof message, "Extracted %zu file%s", u.n_names,
                 u.n_names == 1 ? "" : "s");
    if (job->progress && job->progress(job->progress_opaque, 100, message)) {
        err_set(err, ERR_CANCELLED, "cancelled");
        goto out;
    }
    rc = 0;
out:
    if (u.a)
        archive_read_free(u.a);
    if (in >= 0)
        close(in);
    for (size_t i = 0; i < u.n_names; i++) {
        if (rc < 0)
            unlinkat(u.dirfd, u.names[i], 0);
        free(u.names[i]);
    }
    free(u.names);
    if (u.dirfd >= 0)
        close(u.dirfd);
    free(u.chunk);
    return rc;
}

static int convert(const struct conv_job *job, struct conv_result *res, struct err *err)
{
    (void)res;
    if (!job->inputs || !job->inputs[0])
        return err_set(err, ERR_CONVERT, "archive: no input");
    if (job->mode == CONV_MODE_ARCHIVE)
        return pack(job, err);
    if (job->mode == CONV_MODE_EXTRACT)
        return unpack(job, err);
    return err_set(err, ERR_CONVERT, "archive: unsupported mode");
}

const struct converter converter_archive = {
    .name = "archive",
    .modes = CONV_MODE_ARCHIVE | CONV_MODE_EXTRACT,
    /* Low: any specialised extractor (pages of a PDF, frames of a video) should win. */
    .priority = 10,
    .pairs = pairs,
    .options = options,
    .check = check,
    .note = "libarchive: zip, tar, tar.gz, 7z archives of the inputs; members of zip, tar, 7z, "
            "rar",
    .convert = convert,
};
