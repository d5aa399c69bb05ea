/* SPDX-License-Identifier: MIT */
/* fsx.c - file helpers: safe names, mkdir -p, atomic writes, rm -r of a job directory. */
#include "common/fsx.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/mem.h"
#include "common/text.h"

#define SAFE_NAME_MAX 200
/* An extension this short is kept when a long name is cut, so the format stays known. */
#define SAFE_EXT_KEEP 16
/* Job trees are made by us and by archive extraction, which limits depth; one fd per level. */
#define RM_MAX_DEPTH 256

int fsx_mkdir_p(const char *path, struct err *err)
{
    char *p = xstrdup(path);
    struct stat st;
    int rc = -1;

    if (*path == '\0') {
        free(p);
        return err_set(err, ERR_INTERNAL, "cannot create a directory with an empty name");
    }
    for (char *s = p + 1;; s++) {
        bool last = *s == '\0';
        if (*s != '/' && !last)
            continue;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            err_set(err, ERR_INTERNAL, "cannot create directory %s: %s", p, strerror(errno));
            goto out;
        }
        if (last)
            break;
        *s = '/';
    }
    /* EEXIST also covers a file or a dangling symlink in the way. */
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        err_set(err, ERR_INTERNAL, "cannot create directory %s: not a directory", path);
        goto out;
    }
    rc = 0;
out:
    free(p);
    return rc;
}

/* Empty the directory open as dfd (which this function closes). Entries are unlinked
 * through the parent's fd and directories opened with O_NOFOLLOW, so a symlink swapped in
 * by anyone is removed itself and never followed. */
static int rm_dir_contents(int dfd, int depth)
{
    DIR *d = NULL;
    struct dirent *de;
    int rc = 0;

    if (depth > RM_MAX_DEPTH) {
        close(dfd);
        return -1;
    }
    d = fdopendir(dfd);
    if (d == NULL) {
        close(dfd);
        return -1;
    }
    while ((errno = 0, de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        int sub;

        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        if (de->d_type != DT_DIR) {
            if (unlinkat(dirfd(d), name, 0) == 0 || errno == ENOENT)
                continue;
            /* unlink(2) of a directory gives EISDIR on Linux (EPERM per POSIX). */
            if (errno != EISDIR && errno != EPERM) {
                rc = -1;
                continue;
            }
        }
        sub = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) {
            if (errno == ENOTDIR || errno == ELOOP) {
                if (unlinkat(dirfd(d), name, 0) != 0 && errno != ENOENT)
                    rc = -1;
            } else if (errno != ENOENT) {
                rc = -1;
            }
            continue;
        }
        if (rm_dir_contents(sub, depth + 1) != 0)
            rc = -1;
        if (unlinkat(dirfd(d), name, AT_REMOVEDIR) != 0 && errno != ENOENT)
            rc = -1;
    }
    if (errno != 0)
        rc = -1;
    closedir(d);
    return rc;
}

bool fsx_dir_is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    bool empty = true;

    if (d == NULL)
        return true;
    while (empty && (e = readdir(d)) != NULL)
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(d);
    return empty;
}

int fsx_rm_rf(const char *path)
{
    int dfd;

    if (unlink(path) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return -1;
    dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return errno == ENOENT ? 0 : -1;
    if (rm_dir_contents(dfd, 0) != 0)
        return -1;
    if (rmdir(path) != 0 && errno != ENOENT)
        return -1;
    return 0;
}

int fsx_fsync_dir(const char *dir, struct err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = -1;

    if (fd < 0)
        return err_set(err, ERR_INTERNAL, "cannot open directory %s: %s", dir, strerror(errno));
    /* Some file systems cannot sync a directory; that is not our failure. */
    if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS) {
        err_set(err, ERR_INTERNAL, "cannot sync directory %s: %s", dir, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    close(fd);
    return rc;
}

/* The directory part of path ("." when there is none). New string. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL)
        return xstrdup(".");
    if (slash == path)
        return xstrdup("/");
    return xstrndup(path, (size_t)(slash - path));
}

int fsx_fsync_path(const char *path, struct err *err)
{
    char *dir = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = -1;

    if (fd < 0)
        return err_set(err, ERR_INTERNAL, "cannot open %s: %s", path, strerror(errno));
    if (fsync(fd) != 0 && errno != EINVAL) {
        err_set(err, ERR_INTERNAL, "cannot sync %s: %s", path, strerror(errno));
        goto out;
    }
    dir = dir_of(path);
    if (fsx_fsync_dir(dir, err) != 0)
        goto out;
    rc = 0;
out:
    close(fd);
    free(dir);
    return rc;
}

int fsx_write_atomic(const char *path, const void *data, size_t len, struct err *err)
{
    char *tmp = xasprintf("%s.tmp", path);
    char *dir = NULL;
    const char *p = data;
    int fd = -1, rc = -1;
    bool made = false;

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        err_set(err, ERR_INTERNAL, "cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    made = true;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            err_set(err, ERR_INTERNAL, "cannot write %s: %s", tmp, strerror(errno));
            goto out;
        }
        p += w;
        len -= (size_t)w;
    }
    if (fsync(fd) != 0) {
        err_set(err, ERR_INTERNAL, "cannot sync %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        err_set(err, ERR_INTERNAL, "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        err_set(err, ERR_INTERNAL, "cannot rename %s: %s", tmp, strerror(errno));
        goto out;
    }
    made = false;
    dir = dir_of(path);
    if (fsx_fsync_dir(dir, err) != 0)
        goto out;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (made)
        unlink(tmp);
    free(tmp);
    free(dir);
    return rc;
}

char *fsx_read_file(const char *path, size_t max, size_t *len, struct err *err)
{
    struct buf b = BUF_INIT;
    char chunk[8192];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *res = NULL;

    if (fd < 0) {
        err_set(err, errno == ENOENT ? ERR_NOTFOUND : ERR_INTERNAL, "cannot open %s: %s", path,
                strerror(errno));
        return NULL;
    }
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err_set(err, ERR_INTERNAL, "cannot read %s: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        /* Reading on (instead of trusting st_size) also bounds files that grow. */
        if ((size_t)r > max - b.len) {
            err_set(err, ERR_TOOBIG, "%s is bigger than %zu bytes", path, max);
            goto out;
        }
        buf_append(&b, chunk, (size_t)r);
    }
    if (len != NULL)
        *len = b.len;
    res = buf_steal(&b);
out:
    close(fd);
    buf_fini(&b);
    return res;
}

int64_t fsx_file_size(const char *path)
{
    struct stat st;

    if (stat(path, &st) != 0)
        return -1;
    return (int64_t)st.st_size;
}

/* Code points that must not appear in a name: controls (C0, DEL, C1), quotes, backslash,
 * and the bidi controls that make "gnp.exe" display as "exe.png" (and line separators). */
static bool is_unsafe_cp(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == '"' || cp == '\\' || cp == '/' ||
           cp == 0x061c || cp == 0x200e || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

/* Longest prefix of s[0..n) that does not end inside a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t n)
{
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return n;
}

char *fsx_safe_name(const char *name)
{
    struct buf out = BUF_INIT;
    const char *base;
    const char *s;
    char *res = NULL;
    size_t n, i = 0, start;

    if (name == NULL)
        return xstrdup("file");
    /* SEC-16: only the last component, whichever separator the client's OS uses. */
    base = name;
    for (const char *p = name; *p; p++) {
        if (*p == '/' || *p == '\\')
            base = p + 1;
    }
    n = strlen(base);
    while (i < n) {
        uint32_t cp = 0;
        size_t len = text_utf8_decode(base + i, n - i, &cp);
        if (len == 0) {
            buf_append(&out, "_", 1);
            i++;
        } else if (is_unsafe_cp(cp)) {
            buf_append(&out, "_", 1);
            i += len;
        } else {
            buf_append(&out, base + i, len);
            i += len;
        }
    }
    s = out.data ? out.data : "";
    /* No hidden files, no names that read as options, no ".." */
    start = strspn(s, ".- ");
    n = strlen(s + start);
    if (n == 0) {
        res = xstrdup("file");
    } else if (n > SAFE_NAME_MAX) {
        const char *dot = strrchr(s + start, '.');
        size_t ext = dot ? strlen(dot) : 0;
        size_t keep;

        if (ext > SAFE_EXT_KEEP)
            ext = 0;
        keep = utf8_cut(s + start, SAFE_NAME_MAX - ext);
        res = xmalloc(keep + ext + 1);
        memcpy(res, s + start, keep);
        memcpy(res + keep, s + start + n - ext, ext + 1);
    } else {
        res = xstrdup(s + start);
    }
    buf_fini(&out);
    return res;
}

void fsx_split_name(const char *name, char **base, char **ext)
{
    const char *dot = strrchr(name, '.');

    /* A leading dot starts a name, not an extension. */
    if (dot == NULL || dot == name) {
        *base = xstrdup(name);
        *ext = xstrdup("");
        return;
    }
    *base = xstrndup(name, (size_t)(dot - name));
    *ext = xstrdup(dot + 1);
    for (char *p = *ext; *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    }
}
