/* SPDX-License-Identifier: MIT */
/* ghostscript.c - PDF, PostScript, EPS and AI pages through the gs program, run by the worker
 * for each job (never linked: its AGPL stays apart) with -dSAFER (security.md SEC-10..13).
 *
 * Every page gs rasterises has been measured first: PDF (and AI, which is PDF inside) through
 * libqpdf (pdf_read_facts), PostScript by a first gs pass that only re-writes it as a PDF in
 * the job's temp folder (pdfwrite draws no pixels), measured the same way. A page range is
 * clamped to the measured count; the pixel size of each page at the requested density is
 * checked against the limits before gs draws anything.
 *
 * gs runs in a private work folder under TMPDIR (<job>/tmp in the worker): its own TMPDIR
 * and HOME there, the input linked in as in.pdf / in.ps, pages written to out/. Only when
 * every page is there are they moved into job->output_dir, so a failed job leaves nothing
 * behind. Several cores: the page range is cut into contiguous chunks, one gs process each
 * (gs spends much of its time in PNG compression, which its rendering threads do not share).
 *
 * Mode extract with converteroption extract "images" runs no gs at all: pdf.c writes the
 * images embedded in the PDF (pdf_extract_images). */
#include "convertd-config.h"

#include "converters/converter.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <jansson.h>

#include "common/buf.h"
#include "common/fsx.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/text.h"
#include "converters/helper.h"
#include "converters/options.h"
#include "converters/pdf.h"

/* ---- facts ------------------------------------------------------------------------- */

/* An absolute path and no PATH lookup (SEC-11); SEC-21's execve allow-list is to name it. */
#define GS_PATH    "/usr/bin/gs"
#define MAX_CHUNKS 8
#define POLL_MS    200
#define HEAD_MAX   4096 /* first bytes gs prints: its "Error: ..." line is there */
#define TAIL_MAX   2048 /* and the last ones, for errors without that line */

static const char *const preset_choices[] = {"screen", "ebook", "printer", "prepress", NULL};
/* Mode extract: the pages drawn by gs, or the images embedded in the PDF (pdf.c, no gs). */
static const char *const extract_choices[] = {"pages", "images", NULL};

static const struct conv_option options[] = {
    {.name = "page_range", .type = CONV_OPT_STRING, .def = NULL, .valid = options_page_range_valid},
    {.name = "density", .type = CONV_OPT_INT, .def = "150", .min = 1, .max = 1200},
    {.name = "quality", .type = CONV_OPT_INT, .def = "90", .min = 1, .max = 100},
    {.name = "grayscale", .type = CONV_OPT_BOOL, .def = "false"},
    {.name = "text_antialiasing", .type = CONV_OPT_BOOL, .def = "true"},
    {.name = "graphics_antialiasing", .type = CONV_OPT_BOOL, .def = "true"},
    {.name = "pdf_preset", .type = CONV_OPT_ENUM, .def = NULL, .choices = preset_choices},
    {.name = "pdfa", .type = CONV_OPT_BOOL, .def = "false"},
    {.name = "extract", .type = CONV_OPT_ENUM, .def = "\"pages\"", .choices = extract_choices},
    {0},
};

/* clang-format off */
#define ROW(in)                                                                                  \
    {in, "png", "document"}, {in, "jpg", "document"}, {in, "tiff", "document"},                 \
    {in, "pdf", "document"}

static const struct conv_pair pairs[] = {
    ROW("pdf"), ROW("ps"), ROW("eps"), ROW("ai"),
    {0},
};
/* clang-format on */

/* The allow-list of devices (SEC-11): the only -sDEVICE values this file can produce. */
struct device {
    const char *out;   /* output format */
    const char *color; /* gs device */
    const char *gray;
    bool raster;
};

static const struct device devices[] = {
    {"png", "png16m", "pnggray", true},
    {"jpg", "jpeg", "jpeggray", true},
    {"tiff", "tiff24nc", "tiffgray", true},
    {"pdf", "pdfwrite", "pdfwrite", false},
};

enum kind { KIND_PDF, KIND_PS, KIND_EPS };

/* PDF/A needs an output intent: an sRGB (or grey) ICC profile that gs embeds. Debian's
 * ghostscript package ships both; gs's own iccprofiles folder is a link to the first. */
static const char *const icc_rgb_paths[] = {
    "/usr/share/color/icc/ghostscript/srgb.icc",
    "/usr/share/color/icc/ghostscript/default_rgb.icc",
    NULL,
};
static const char *const icc_gray_paths[] = {
    "/usr/share/color/icc/ghostscript/sgray.icc",
    "/usr/share/color/icc/ghostscript/default_gray.icc",
    NULL,
};

static bool have_gs;
static const char *icc_rgb, *icc_gray;

/* ---- running gs -------------------------------------------------------------------- */

struct child {
    pid_t pid;  /* -1 once reaped */
    int fd;     /* read end of its stdout + stderr, -1 at EOF */
    int status; /* waitpid status once reaped */
    struct buf head;
    char tail[TAIL_MAX];
    size_t tail_len;
};

static void child_init(struct child *c)
{
    memset(c, 0, sizeof *c);
    c->pid = -1;
    c->fd = -1;
    buf_init(&c->head);
}

static void child_fini(struct child *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    buf_fini(&c->head);
}

static void child_take(struct child *c, const char *data, size_t n)
{
    if (c->head.len < HEAD_MAX)
        buf_append(&c->head, data, n < HEAD_MAX - c->head.len ? n : HEAD_MAX - c->head.len);
    if (n >= TAIL_MAX) {
        memcpy(c->tail, data + n - TAIL_MAX, TAIL_MAX);
        c->tail_len = TAIL_MAX;
        return;
    }
    size_t keep = c->tail_len < TAIL_MAX - n ? c->tail_len : TAIL_MAX - n;
    memmove(c->tail, c->tail + c->tail_len - keep, keep);
    memcpy(c->tail + keep, data, n);
    c->tail_len = keep + n;
}

/* Start argv[0] = GS_PATH in cwd with exactly envp, stdin /dev/null, stdout and stderr into
 * a pipe. gs stays in the worker's process group, so the worker's deadline (a kill of the
 * whole group) ends it too. */
static int child_start(struct child *c, char *const *argv, char *const *envp, const char *cwd,
                       struct err *err)
{
    static const char exec_failed[] = "convertd: cannot execute " GS_PATH "\n";
    int p[2] = {-1, -1};
    int devnull = -1, rc = -1;
    sigset_t none;
    pid_t parent = getpid();

    sigemptyset(&none);
    if (pipe2(p, O_CLOEXEC) < 0) {
        err_set(err, ERR_INTERNAL, "ghostscript: pipe: %s", strerror(errno));
        goto out;
    }
    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0) {
        err_set(err, ERR_INTERNAL, "ghostscript: /dev/null: %s", strerror(errno));
        goto out;
    }
    pid_t pid = fork();
    if (pid < 0) {
        err_set(err, ERR_CONVERT, "cannot start Ghostscript: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls from here to execve: the worker may hold library
         * threads whose locks a forked child would find taken. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        if (dup2(devnull, 0) < 0 || dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
            _exit(127);
        /* The worker's protocol pipe and anything a library left open stay ours. */
        if (close_range(3, ~0U, 0) < 0)
            for (int fd = 3; fd < 4096; fd++)
                close(fd);
        if (chdir(cwd) < 0)
            _exit(127);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve(argv[0], argv, envp);
        if (write(2, exec_failed, sizeof exec_failed - 1) < 0)
            _exit(127);
        _exit(127);
    }
    c->pid = pid;
    c->fd = p[0];
    p[0] = -1;
    rc = 0;
out:
    if (p[0] >= 0)
        close(p[0]);
    if (p[1] >= 0)
        close(p[1]);
    if (devnull >= 0)
        close(devnull);
    return rc;
}

static void child_reap(struct child *c, bool block)
{
    if (c->pid < 0)
        return;
    for (;;) {
        pid_t r = waitpid(c->pid, &c->status, block ? 0 : WNOHANG);
        if (r == c->pid || (r < 0 && errno != EINTR)) {
            if (r < 0)
                c->status = 127 << 8; /* ECHILD: someone reaped it; count it as failed */
            c->pid = -1;
            return;
        }
        if (r == 0)
            return;
    }
}

static void child_kill(struct child *c)
{
    if (c->pid > 0) {
        kill(c->pid, SIGKILL);
        child_reap(c, true);
    }
}

static void child_drain(struct child *c)
{
    char data[4096];
    while (c->fd >= 0) {
        ssize_t n = read(c->fd, data, sizeof data);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(c->fd);
            c->fd = -1;
            return;
        }
        child_take(c, data, (size_t)n);
        struct pollfd pf = {.fd = c->fd, .events = POLLIN};
        if (poll(&pf, 1, 0) <= 0)
            return;
    }
}

/* One line of what gs printed, cleaned up for an error message. */
static void copy_line(char *dst, size_t size, const char *line, size_t len)
{
    while (len > 0 && (*line == ' ' || *line == '\t')) {
        line++;
        len--;
    }
    while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\r'))
        len--;
    if (len >= size)
        len = size - 1;
    for (size_t i = 0; i < len; i++)
        dst[i] = (unsigned char)line[i] < 0x20 ? ' ' : line[i];
    dst[len] = '\0';
    text_utf8_clean(dst);
}

/* The most telling line gs printed: its first "Error: /name in ..." line (PostScript
 * errors), else the first line that mentions an error, else its last line. */
static void child_reason(const struct child *c, char *dst, size_t size)
{
    const char *text = c->head.data ? c->head.data : "";
    const char *found = NULL;
    size_t found_len = 0;

    dst[0] = '\0';
    for (int pass = 0; pass < 2 && !found; pass++) {
        for (const char *l = text; *l;) {
            const char *nl = strchr(l, '\n');
            size_t len = nl ? (size_t)(nl - l) : strlen(l);
            const char *t = l;
            while (t < l + len && (*t == ' ' || *t == '\t'))
                t++;
            bool hit = pass == 0 ? strncmp(t, "Error: ", 7) == 0
                                 : memmem(l, len, "rror", 4) != NULL &&
                                       memmem(l, len, "Unrecoverable error", 19) == NULL;
            if (hit) {
                found = l;
                found_len = len;
                break;
            }
            l = nl ? nl + 1 : l + len;
        }
    }
    if (found) {
        copy_line(dst, size, found, found_len);
        return;
    }
    /* The last non-empty line of the tail that is not gs's own closing line. */
    size_t end = c->tail_len;
    while (end > 0) {
        while (end > 0 && (c->tail[end - 1] == '\n' || c->tail[end - 1] == ' '))
            end--;
        size_t start = end;
        while (start > 0 && c->tail[start - 1] != '\n')
            start--;
        if (end > start && !memmem(c->tail + start, end - start, "Unrecoverable error", 19)) {
            copy_line(dst, size, c->tail + start, end - start);
            return;
        }
        end = start;
    }
}

/* What the loop reports while gs runs: pages counted in a folder, or a fixed message. */
struct watch {
    const struct conv_job *job;
    const char *dir; /* pages appear here; NULL: nothing to count */
    int pages;       /* expected in dir */
    const char *message;
    double last; /* last percent reported */
};

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;

    if (!d)
        return 0;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* True when the job was cancelled. */
static bool watch_report(struct watch *w, int running)
{
    const struct conv_job *job = w->job;
    char msg[64];
    double percent = w->last;
    const char *m = w->message;

    if (!job || !job->progress)
        return false;
    if (w->dir && w->pages > 0) {
        /* A file appears when gs starts writing its page: the newest one of each running
         * process is still being written. */
        int done = count_files(w->dir) - running;
        if (done < 0)
            done = 0;
        if (done > w->pages)
            done = w->pages;
        percent = 100.0 * done / w->pages;
        snprintf(msg, sizeof msg, "Converting page %d of %d", done < w->pages ? done + 1 : done,
                 w->pages);
        m = msg;
    }
    if (percent < w->last)
        percent = w->last;
    w->last = percent;
    return job->progress(job->progress_opaque, percent, m);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for all n children, reading their output and reporting progress. -1 with
 * ERR_CANCELLED when the job was cancelled, or with ERR_CONVERT naming the first child that
 * failed; the others are killed then. */
static int children_wait(struct child *c, int n, struct watch *w, struct err *err)
{
    int64_t last_report = 0;
    int failed = -1;

    for (;;) {
        struct pollfd pf[MAX_CHUNKS];
        int map[MAX_CHUNKS], np = 0, running = 0;

        for (int i = 0; i < n; i++) {
            child_reap(&c[i], false);
            if (c[i].pid > 0)
                running++;
            else if (failed < 0 && !(WIFEXITED(c[i].status) && WEXITSTATUS(c[i].status) == 0))
                failed = i;
        }
        if (failed >= 0 || running == 0)
            break;
        for (int i = 0; i < n; i++) {
            if (c[i].fd >= 0) {
                pf[np] = (struct pollfd){.fd = c[i].fd, .events = POLLIN};
                map[np++] = i;
            }
        }
        int r;
        if (np > 0) {
            r = poll(pf, (nfds_t)np, POLL_MS);
        } else {
            struct timespec ts = {0, POLL_MS * 1000000L};
            r = nanosleep(&ts, NULL) < 0 ? -1 : 0;
        }
        if (r < 0 && errno != EINTR) {
            err_set(err, ERR_INTERNAL, "ghostscript: poll: %s", strerror(errno));
            goto fail;
        }
        for (int k = 0; r > 0 && k < np; k++)
            if (pf[k].revents)
                child_drain(&c[map[k]]);
        int64_t now = now_ms();
        if (now - last_report >= POLL_MS) {
            last_report = now;
            if (watch_report(w, running)) {
                err_set(err, ERR_CANCELLED, "cancelled");
                goto fail;
            }
        }
    }
    for (int i = 0; i < n; i++) {
        if (i != failed)
            child_kill(&c[i]);
        child_drain(&c[i]);
    }
    if (failed < 0)
        return 0;

    char reason[200];
    int st = c[failed].status;
    child_reason(&c[failed], reason, sizeof reason);
    if (WIFSIGNALED(st))
        return err_set(err, ERR_CONVERT,
                       "cannot convert the document: Ghostscript was killed by signal %d (%s)%s%s",
                       WTERMSIG(st), strsignal(WTERMSIG(st)), reason[0] ? ": " : "", reason);
    if (reason[0])
        return err_set(err, ERR_CONVERT, "cannot convert the document: %s", reason);
    return err_set(err, ERR_CONVERT,
                   "cannot convert the document: Ghostscript exited with status %d",
                   WEXITSTATUS(st));
fail:
    for (int i = 0; i < n; i++)
        child_kill(&c[i]);
    return -1;
}

struct settings {
    bool has_range;
    int first, last; /* page_range as given */
    int dpi, quality;
    bool gray, text_aa, graphics_aa, pdfa;
    const char *preset; /* one of preset_choices, or NULL */
    bool images;        /* extract "images" */
};

static void read_settings(const json_t *o, struct settings *s)
{
    int64_t i;
    bool b;
    const char *str;

    memset(s, 0, sizeof *s);
    s->has_range = options_page_range(jsonx_str(jsonx_get(o, "page_range")), &s->first, &s->last);
    s->dpi = jsonx_int(jsonx_get(o, "density"), 150, &i) == 0 && i >= 1 && i <= 1200 ? (int)i : 150;
    s->quality =
        jsonx_int(jsonx_get(o, "quality"), 90, &i) == 0 && i >= 1 && i <= 100 ? (int)i : 90;
    s->gray = jsonx_bool(jsonx_get(o, "grayscale"), false, false, &b) == 0 && b;
    s->text_aa = jsonx_bool(jsonx_get(o, "text_antialiasing"), true, false, &b) == 0 ? b : true;
    s->graphics_aa =
        jsonx_bool(jsonx_get(o, "graphics_antialiasing"), true, false, &b) == 0 ? b : true;
    s->pdfa = jsonx_bool(jsonx_get(o, "pdfa"), false, false, &b) == 0 && b;
    str = jsonx_str(jsonx_get(o, "extract"));
    s->images = str && strcasecmp(str, "images") == 0;
    /* Our own copy of the name: nothing of the client's text reaches gs. */
    str = jsonx_str(jsonx_get(o, "pdf_preset"));
    for (const char *const *c = preset_choices; str && *c; c++)
        if (strcasecmp(*c, str) == 0)
            s->preset = *c;
}

/* One gs run: what to read, what to write, which pages. */
struct plan {
    const struct device *dev;
    const struct settings *s;
    enum kind kind;
    const char *input;  /* relative to the work folder */
    const char *output; /* relative, "%d" where gs numbers pages */
    int first, last;    /* pages of the input; 0 = from the start / to the end */
    bool plain;         /* PostScript → PDF for measuring: none of the options */
};

/* The whole argument vector, built from validated numbers and our own constant strings
 * only (SEC-11): no client text in any -d/-s, no path gs could read as %pipe%. */
static void build_argv(const struct plan *p, struct argv *a)
{
    const struct settings *s = p->s;
    bool pdf = !p->dev->raster;

    argv_add(a, "%s", GS_PATH);
    argv_add(a, "-dSAFER");
    argv_add(a, "-dBATCH");
    argv_add(a, "-dNOPAUSE");
    argv_add(a, "-dQUIET");
    argv_add(a, "-sDEVICE=%s", s->gray && !p->plain ? p->dev->gray : p->dev->color);
    if (pdf) {
        if (s->preset && !p->plain)
            argv_add(a, "-dPDFSETTINGS=/%s", s->preset);
        argv_add(a, "-dCompatibilityLevel=1.7");
        /* pdfwrite would otherwise turn pages to follow their text. */
        argv_add(a, "-dAutoRotatePages=/None");
        if (p->plain) {
            /* The measuring pass must not cost quality: images kept lossless (pdfwrite's
             * default picks JPEG for photos), and rendered from there. */
            argv_add(a, "-dAutoFilterColorImages=false");
            argv_add(a, "-dAutoFilterGrayImages=false");
            argv_add(a, "-dColorImageFilter=/FlateEncode");
            argv_add(a, "-dGrayImageFilter=/FlateEncode");
        }
        if (!p->plain && s->pdfa) {
            argv_add(a, "-dPDFA=2");
            argv_add(a, "-dPDFACompatibilityPolicy=1");
            argv_add(a, "--permit-file-read=%s", s->gray ? icc_gray : icc_rgb);
        }
        if (!p->plain && (s->gray || s->pdfa))
            argv_add(a, "-sColorConversionStrategy=%s", s->gray ? "Gray" : "RGB");
        if (!p->plain && s->gray)
            argv_add(a, "-dProcessColorModel=/DeviceGray");
    } else {
        argv_add(a, "-r%d", s->dpi);
        argv_add(a, "-dTextAlphaBits=%d", s->text_aa ? 4 : 1);
        argv_add(a, "-dGraphicsAlphaBits=%d", s->graphics_aa ? 4 : 1);
        if (strcmp(p->dev->out, "jpg") == 0)
            argv_add(a, "-dJPEGQ=%d", s->quality);
        if (strcmp(p->dev->out, "tiff") == 0)
            argv_add(a, "-sCompression=lzw");
    }
    /* Render the box that was measured (pdf.h: CropBox when set); pdfwrite keeps both. */
    if (p->kind == KIND_PDF && !pdf)
        argv_add(a, "-dUseCropBox");
    if (p->kind == KIND_EPS)
        argv_add(a, "-dEPSCrop");
    if (p->first > 0)
        argv_add(a, "-dFirstPage=%d", p->first);
    if (p->last > 0)
        argv_add(a, "-dLastPage=%d", p->last);
    argv_add(a, "-sOutputFile=%s", p->output);
    argv_add(a, "--permit-file-read=%s", p->input);
    if (pdf && !p->plain && s->pdfa) {
        /* The output intent PDF/A requires, as gs's PDFA_def.ps makes it, with the ICC
         * profile found at init. */
        argv_add(a, "-c");
        argv_add(a,
                 "[/_objdef {icc_PDFA} /type /stream /OBJ pdfmark "
                 "[{icc_PDFA} << /N %d >> /PUT pdfmark "
                 "[{icc_PDFA} (%s) (r) file /PUT pdfmark "
                 "[/_objdef {OutputIntent_PDFA} /type /dict /OBJ pdfmark "
                 "[{OutputIntent_PDFA} << /Type /OutputIntent /S /GTS_PDFA1 "
                 "/DestOutputProfile {icc_PDFA} /OutputConditionIdentifier (%s) >> /PUT pdfmark "
                 "[{Catalog} << /OutputIntents [ {OutputIntent_PDFA} ] >> /PUT pdfmark",
                 s->gray ? 1 : 3, s->gray ? icc_gray : icc_rgb, s->gray ? "sGray" : "sRGB");
    }
    argv_add(a, "-f");
    argv_add(a, "%s", p->input);
}

/* ---- the work folder --------------------------------------------------------------- */

struct work {
    char *dir;    /* <TMPDIR>/convertd-gs-XXXXXX */
    char *tmp;    /* gs's TMPDIR and HOME */
    char *out;    /* gs's pages */
    char *env[6]; /* its whole environment */
};

static void work_fini(struct work *w)
{
    if (w->dir)
        fsx_rm_rf(w->dir);
    free(w->dir);
    free(w->tmp);
    free(w->out);
    for (size_t i = 0; i < sizeof w->env / sizeof w->env[0]; i++)
        free(w->env[i]);
    memset(w, 0, sizeof *w);
}

static int work_init(struct work *w, struct err *err)
{
    const char *base = getenv("TMPDIR");

    memset(w, 0, sizeof *w);
    /* SEC-12: the worker points TMPDIR at the job's own folder. A private folder below it
     * all the same: -dSAFER lets a PostScript program write into gs's temp folder. */
    if (!base || base[0] != '/')
        base = "/tmp";
    char *dir = xasprintf("%s/convertd-gs-XXXXXX", base);
    if (!mkdtemp(dir)) {
        err_set(err, ERR_INTERNAL, "ghostscript: cannot create a work folder in %s: %s", base,
                strerror(errno));
        free(dir);
        return -1;
    }
    w->dir = dir;
    w->tmp = xasprintf("%s/tmp", dir);
    w->out = xasprintf("%s/out", dir);
    if (mkdir(w->tmp, 0700) < 0 || mkdir(w->out, 0700) < 0) {
        err_set(err, ERR_INTERNAL, "ghostscript: cannot create %s: %s", w->tmp, strerror(errno));
        work_fini(w);
        return -1;
    }
    w->env[0] = xasprintf("TMPDIR=%s", w->tmp);
    w->env[1] = xasprintf("TEMP=%s", w->tmp);
    w->env[2] = xasprintf("HOME=%s", w->tmp);
    w->env[3] = xstrdup("PATH=/usr/bin:/bin");
    w->env[4] = xstrdup("LANG=C");
    w->env[5] = NULL;
    return 0;
}

/* The input under a name of ours in the work folder: the client's file name may hold ':'
 * (gs's path-list separator in --permit-file-read), '%' or anything else. A hard link, else
 * a symbolic link (gs checks the name it is given). */
static int work_link_input(struct work *w, const char *input, const char *name, struct err *err)
{
    char *dst = xasprintf("%s/%s", w->dir, name);
    int rc = helper_link_input(input, dst, "ghostscript", err);

    free(dst);
    return rc;
}

static int run_one(struct work *w, const struct plan *p, struct watch *watch, struct err *err)
{
    struct argv a = {0};
    struct child c;
    int rc = -1;

    child_init(&c);
    build_argv(p, &a);
    argv_log(&a, "ghostscript");
    if (child_start(&c, a.v, w->env, w->dir, err) < 0)
        goto out;
    rc = children_wait(&c, 1, watch, err);
out:
    child_fini(&c);
    argv_fini(&a);
    return rc;
}

/* ---- output files ------------------------------------------------------------------ */

static int copy_file(const char *from, const char *to, struct err *err)
{
    char data[65536];
    int in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    int out = -1, rc = -1;

    if (in < 0)
        goto fail;
    out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (out < 0)
        goto fail;
    for (;;) {
        ssize_t n = read(in, data, sizeof data);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto fail;
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t k = write(out, data + off, (size_t)(n - off));
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0)
                goto fail;
            off += k;
        }
    }
    if (close(out) < 0) {
        out = -1;
        goto fail;
    }
    out = -1;
    unlink(from);
    rc = 0;
    goto out;
fail:
    err_set(err, ERR_CONVERT, "cannot write the output: %s", strerror(errno));
    if (out >= 0)
        unlink(to);
out:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return rc;
}

/* Move from → to, by copy when the work folder is on another file system. */
static int move_file(const char *from, const char *to, struct err *err)
{
    if (rename(from, to) == 0)
        return 0;
    if (errno == EXDEV)
        return copy_file(from, to, err);
    return err_set(err, ERR_CONVERT, "cannot write the output: %s", strerror(errno));
}

/* ---- init -------------------------------------------------------------------------- */

static const char *first_readable(const char *const *paths)
{
    for (const char *const *p = paths; *p; p++)
        if (access(*p, R_OK) == 0)
            return *p;
    return NULL;
}

static int init(struct err *err)
{
    char *const argv[] = {(char *)GS_PATH, (char *)"--version", NULL};
    char *const envp[] = {(char *)"PATH=/usr/bin:/bin", (char *)"LANG=C", NULL};
    struct child c;
    int major = 0, minor = 0, rc = -1;

    have_gs = false;
    if (access(GS_PATH, X_OK) < 0)
        return err_set(err, ERR_INTERNAL,
                       "ghostscript: %s: %s (install the ghostscript package for documents)",
                       GS_PATH, strerror(errno));
    child_init(&c);
    if (child_start(&c, argv, envp, "/", err) < 0)
        goto out;
    struct err why = ERR_INIT;
    if (children_wait(&c, 1, &(struct watch){0}, &why) < 0) {
        err_set(err, ERR_INTERNAL, "ghostscript: %s --version failed: %s", GS_PATH, why.msg);
        goto out;
    }
    /* --permit-file-read and a SAFER that holds came with 9.50. */
    if (!c.head.data || sscanf(c.head.data, "%d.%d", &major, &minor) != 2 ||
        major * 100 + minor < 950) {
        err_set(err, ERR_INTERNAL, "ghostscript: %s is version %.20s; 9.50 or later is needed",
                GS_PATH, c.head.data ? c.head.data : "unknown");
        goto out;
    }
    icc_rgb = first_readable(icc_rgb_paths);
    icc_gray = first_readable(icc_gray_paths);
    if (!icc_rgb || !icc_gray)
        log_warn("ghostscript: no sRGB/grey ICC profile in /usr/share/color/icc/ghostscript: "
                 "option pdfa is refused");
    have_gs = true;
    rc = 0;
out:
    child_fini(&c);
    return rc;
}

/* ---- convert ----------------------------------------------------------------------- */

static const struct device *find_device(const char *out)
{
    for (size_t i = 0; out && i < sizeof devices / sizeof devices[0]; i++)
        if (strcmp(devices[i].out, out) == 0)
            return &devices[i];
    return NULL;
}

/* What the input really is (SEC-14 again, here where gs is one step away): gs picks its
 * interpreter from the first bytes, so a "PDF" must start as one. */
static int input_kind(const char *path, const char *format, enum kind *kind, struct err *err)
{
    unsigned char head[8] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(err, ERR_CONVERT, "cannot open the input: %s", strerror(errno));
    ssize_t n = read(fd, head, sizeof head);
    close(fd);
    if (n < 0)
        return err_set(err, ERR_CONVERT, "cannot read the input: %s", strerror(errno));
    bool is_pdf = n >= 5 && memcmp(head, "%PDF-", 5) == 0;
    bool is_ps = (n >= 2 && memcmp(head, "%!", 2) == 0) ||
                 (n >= 4 && memcmp(head, "\xC5\xD0\xD3\xC6", 4) == 0);
    if (strcmp(format, "pdf") == 0 || strcmp(format, "ai") == 0) {
        /* Illustrator files before version 9 are EPS. */
        if (is_pdf)
            *kind = KIND_PDF;
        else if (strcmp(format, "ai") == 0 && is_ps)
            *kind = KIND_EPS;
        else
            return err_set(err, ERR_CONVERT, "the input is not a PDF file");
        return 0;
    }
    if (is_pdf)
        *kind = KIND_PDF;
    else
        *kind = strcmp(format, "eps") == 0 ? KIND_EPS : KIND_PS;
    return 0;
}

/* SEC-13: every page gs will draw, at the density asked for, within the limits. */
static int check_pages(const struct pdf_facts *f, int first, int last, int dpi,
                       const struct conv_limits *l, struct err *err)
{
    if (!f->sizes)
        return err_set(err, ERR_CONVERT, "cannot read the page sizes of the document");
    for (int i = first; i <= last; i++) {
        const struct pdf_page_size *ps = &f->sizes[i - 1];
        double w = ps->width_pt / 72.0 * dpi + 0.5, h = ps->height_pt / 72.0 * dpi + 0.5;
        if (!(w < 1e12 && h < 1e12))
            w = h = 1e12; /* NaN or absurd: refused below */
        int64_t pw = (int64_t)w, ph = (int64_t)h;
        if (pw < 1 || ph < 1)
            return err_set(err, ERR_CONVERT, "page %d is smaller than one pixel at %d dpi", i, dpi);
        if (pw > l->max_side || ph > l->max_side)
            return err_set(err, ERR_CONVERT,
                           "page %d is %lldx%lld pixels at %d dpi, larger than the limit of %d "
                           "pixels per side",
                           i, (long long)pw, (long long)ph, dpi, l->max_side);
        if (pw * ph > l->max_pixels)
            return err_set(err, ERR_CONVERT,
                           "page %d is %lldx%lld pixels at %d dpi, larger than the limit of %lld "
                           "pixels",
                           i, (long long)pw, (long long)ph, dpi, (long long)l->max_pixels);
    }
    return 0;
}

/* The page range against the page count: clamped at the end; wholly past it is an error. */
static int clamp_range(const struct settings *s, int pages, int *first, int *last, struct err *err)
{
    if (pages < 1)
        return err_set(err, ERR_CONVERT, "the document has no pages");
    *first = 1;
    *last = pages;
    if (!s->has_range)
        return 0;
    if (s->first > pages) {
        if (s->first == s->last)
            return err_set(err, ERR_CONVERT, "page_range %d is past the last page (%d)", s->first,
                           pages);
        return err_set(err, ERR_CONVERT, "page_range %d-%d is past the last page (%d)", s->first,
                       s->last, pages);
    }
    *first = s->first;
    *last = s->last < pages ? s->last : pages;
    return 0;
}

/* PostScript → in.pdf of the work folder: pdfwrite lays the pages out without drawing
 * pixels, and the result is measured like any PDF. At most max_pages + 1 pages (or up to the
 * end of the range asked for), so "too many pages" can still be told apart. */
static int ps_to_pdf(const struct conv_job *job, struct work *w, enum kind kind,
                     const struct settings *s, const struct conv_limits *l, const char *output,
                     bool plain, struct pdf_facts *f, struct err *err)
{
    struct watch watch = {.job = job, .message = "Reading the PostScript file", .last = 0};
    char *path = xasprintf("%s/%s", w->dir, output);
    int rc = -1;
    int last = l->max_pages + 1;
    if (plain && s->has_range && s->last < last)
        last = s->last;
    struct plan p = {
        .dev = find_device("pdf"),
        .s = s,
        .kind = kind,
        .input = kind == KIND_EPS ? "in.eps" : "in.ps",
        .output = output,
        .first = 0,
        .last = last,
        .plain = plain,
    };

    if (run_one(w, &p, &watch, err) < 0)
        goto out;
    /* No cap here: the run above stopped at max_pages + 1. */
    if (access(path, F_OK) < 0) {
        err_set(err, ERR_CONVERT, "cannot convert the document: the PostScript file made no pages");
        goto out;
    }
    if (pdf_read_facts(path, 0, f, err) < 0)
        goto out;
    if (f->pages > l->max_pages) {
        err_set(err, ERR_CONVERT, "the document has more than %d pages, the limit", l->max_pages);
        goto out;
    }
    if (f->pages < 1) {
        err_set(err, ERR_CONVERT, "cannot convert the document: the PostScript file made no pages");
        goto out;
    }
    rc = 0;
out:
    free(path);
    return rc;
}

/* Render pages first..last of the measured PDF "in.pdf" (work folder) with `chunks` gs
 * processes side by side, then move them into the output folder. */
static int render(const struct conv_job *job, struct work *w, const struct device *dev,
                  const struct settings *s, int first, int last, struct err *err)
{
    int count = last - first + 1;
    int chunks = job->threads > 1 ? job->threads : 1;
    struct child c[MAX_CHUNKS];
    struct argv a[MAX_CHUNKS];
    int start[MAX_CHUNKS + 1];
    char **moved = xcalloc((size_t)count, sizeof *moved);
    int nmoved = 0, rc = -1;

    if (chunks > MAX_CHUNKS)
        chunks = MAX_CHUNKS;
    if (chunks > count)
        chunks = count;
    for (int k = 0; k < chunks; k++) {
        child_init(&c[k]);
        memset(&a[k], 0, sizeof a[k]);
    }
    /* Contiguous chunks, the first ones a page longer when count does not divide. */
    start[0] = first;
    for (int k = 0; k < chunks; k++)
        start[k + 1] = start[k] + count / chunks + (k < count % chunks ? 1 : 0);

    for (int k = 0; k < chunks; k++) {
        char output[32];
        snprintf(output, sizeof output, "out/c%d-%%d.%s", k, dev->out);
        struct plan p = {
            .dev = dev,
            .s = s,
            .kind = KIND_PDF,
            .input = "in.pdf",
            .output = output,
            .first = start[k],
            .last = start[k + 1] - 1,
        };
        build_argv(&p, &a[k]);
        argv_log(&a[k], "ghostscript");
        if (child_start(&c[k], a[k].v, w->env, w->dir, err) < 0) {
            for (int j = 0; j < k; j++)
                child_kill(&c[j]);
            goto out;
        }
    }
    struct watch watch = {.job = job, .dir = w->out, .pages = count, .last = 0};
    if (children_wait(c, chunks, &watch, err) < 0)
        goto out;

    /* Exactly the pages asked for: one file per page, none missing, none extra. */
    int found = count_files(w->out);
    if (found != count) {
        err_set(err, ERR_CONVERT, "cannot convert the document: Ghostscript wrote %d of %d pages",
                found < count ? found : count, count);
        goto out;
    }
    for (int k = 0; k < chunks; k++) {
        for (int page = start[k]; page < start[k + 1]; page++) {
            char *from = xasprintf("%s/c%d-%d.%s", w->out, k, page - start[k] + 1, dev->out);
            char *to = count == 1 ? xasprintf("%s/out.%s", job->output_dir, dev->out)
                                  : xasprintf("%s/%d.%s", job->output_dir, page, dev->out);
            int r = move_file(from, to, err);
            free(from);
            if (r < 0) {
                free(to);
                goto out;
            }
            moved[nmoved++] = to;
        }
    }
    rc = 0;
out:
    for (int i = 0; i < nmoved; i++) {
        if (rc < 0)
            unlink(moved[i]);
        free(moved[i]);
    }
    free(moved);
    for (int k = 0; k < chunks; k++) {
        child_fini(&c[k]);
        argv_fini(&a[k]);
    }
    return rc;
}

/* pdfwrite of in.pdf (or in.ps / in.eps) pages first..last into the output folder. */
static int write_pdf(const struct conv_job *job, struct work *w, enum kind kind,
                     const struct settings *s, int first, int last, struct err *err)
{
    struct watch watch = {.job = job, .message = "Writing the PDF", .last = 0};
    char *from = xasprintf("%s/out/out.pdf", w->dir);
    char *to = xasprintf("%s/out.pdf", job->output_dir);
    struct plan p = {
        .dev = find_device("pdf"),
        .s = s,
        .kind = kind,
        .input = "in.pdf",
        .output = "out/out.pdf",
        .first = first,
        .last = last,
    };
    int rc = -1;

    if (run_one(w, &p, &watch, err) < 0)
        goto out;
    if (access(from, F_OK) < 0) {
        err_set(err, ERR_CONVERT, "cannot convert the document: Ghostscript wrote no PDF");
        goto out;
    }
    if (move_file(from, to, err) < 0)
        goto out;
    rc = 0;
out:
    free(from);
    free(to);
    return rc;
}

/* Mode extract with extract "images": the images embedded in the PDF as they are, by
 * libqpdf and libvips; gs draws nothing. */
static int extract_images(const struct conv_job *job, const struct settings *s,
                          const struct conv_limits *l, struct err *err)
{
    enum kind kind = KIND_PDF;
    if (strcmp(job->out_format, "png") != 0 && strcmp(job->out_format, "jpg") != 0)
        return err_set(err, ERR_CONVERT, "images are extracted as png or jpg");
    if (input_kind(job->inputs[0], job->in_format, &kind, err) < 0)
        return -1;
    if (kind != KIND_PDF)
        return err_set(err, ERR_CONVERT, "images are extracted from PDF files only");
    /* Each image is one output file, as a page is: max_pages counts them. */
    struct pdf_extract_limits pl = {
        .max_images = l->max_pages,
        .max_pixels = l->max_pixels,
        .max_side = l->max_side,
    };
    if (job->progress && job->progress(job->progress_opaque, 0, "Reading the document"))
        return err_set(err, ERR_CANCELLED, "cancelled");
    if (pdf_extract_images(job->inputs[0], job->output_dir, job->out_format, s->quality, &pl,
                           job->progress, job->progress_opaque, err) < 0)
        return -1;
    if (job->progress)
        job->progress(job->progress_opaque, 100, "Converted");
    return 0;
}

static int convert(const struct conv_job *job, struct conv_result *res, struct err *err)
{
    struct settings s;
    struct conv_limits l;
    struct work w = {0};
    struct pdf_facts f = {0};
    enum kind kind = KIND_PDF;
    int first = 0, last = 0, rc = -1;

    (void)res;
    if (!have_gs)
        return err_set(err, ERR_CONVERT, "Ghostscript is not available on this server");
    if ((job->mode != CONV_MODE_CONVERT && job->mode != CONV_MODE_EXTRACT) || !job->inputs ||
        !job->inputs[0] || !job->in_format)
        return err_set(err, ERR_CONVERT, "ghostscript: nothing to convert");
    const struct device *dev = find_device(job->out_format);
    if (!dev)
        return err_set(err, ERR_CONVERT, "ghostscript: cannot write %s",
                       job->out_format ? job->out_format : "unknown");
    read_settings(job->options, &s);
    l = conv_limits_of(job);
    if (job->mode == CONV_MODE_EXTRACT && s.images)
        return extract_images(job, &s, &l, err);
    if (!dev->raster && s.pdfa && (!icc_rgb || !icc_gray))
        return err_set(err, ERR_CONVERT,
                       "PDF/A is not available: Ghostscript's ICC profiles are not installed");
    if (input_kind(job->inputs[0], job->in_format, &kind, err) < 0)
        return -1;
    if (job->progress && job->progress(job->progress_opaque, 0, "Reading the document"))
        return err_set(err, ERR_CANCELLED, "cancelled");
    if (work_init(&w, err) < 0)
        return -1;

    if (kind == KIND_PDF) {
        if (work_link_input(&w, job->inputs[0], "in.pdf", err) < 0 ||
            pdf_read_facts(job->inputs[0], l.max_pages, &f, err) < 0)
            goto out;
    } else {
        if (work_link_input(&w, job->inputs[0], kind == KIND_EPS ? "in.eps" : "in.ps", err) < 0)
            goto out;
        if (!dev->raster && !s.has_range) {
            /* One pass straight to the result; only its page count is left to check. */
            if (ps_to_pdf(job, &w, kind, &s, &l, "out/out.pdf", false, &f, err) < 0)
                goto out;
            char *from = xasprintf("%s/out/out.pdf", w.dir);
            char *to = xasprintf("%s/out.pdf", job->output_dir);
            int r = move_file(from, to, err);
            free(from);
            free(to);
            if (r == 0)
                rc = 0;
            goto out;
        }
        if (ps_to_pdf(job, &w, kind, &s, &l, "in.pdf", true, &f, err) < 0)
            goto out;
        kind = KIND_PDF;
    }
    if (clamp_range(&s, f.pages, &first, &last, err) < 0)
        goto out;
    if (dev->raster) {
        if (check_pages(&f, first, last, s.dpi, &l, err) < 0 ||
            render(job, &w, dev, &s, first, last, err) < 0)
            goto out;
    } else if (write_pdf(job, &w, kind, &s, first, last, err) < 0) {
        goto out;
    }
    rc = 0;
out:
    if (rc == 0 && job->progress)
        job->progress(job->progress_opaque, 100, "Converted");
    pdf_facts_fini(&f);
    work_fini(&w);
    return rc;
}

/* spec "Modes": extract pulls the pages out as images — the same as a conversion to them —
 * or, with extract "images", the images embedded in a PDF. */
static int check(const char *in, const char *out, enum conv_mode mode, const json_t *opts,
                 struct err *err)
{
    if (mode != CONV_MODE_EXTRACT)
        return 0;
    const char *what = jsonx_str(jsonx_get(opts, "extract"));
    if (what && strcasecmp(what, "images") == 0) {
        if (!out || (strcmp(out, "png") != 0 && strcmp(out, "jpg") != 0))
            return err_set(err, ERR_BADPARAM,
                           "invalid value for converteroptions[extract]: images are extracted "
                           "as png or jpg");
        if (!in || (strcmp(in, "pdf") != 0 && strcmp(in, "ai") != 0))
            return err_set(err, ERR_BADPARAM,
                           "invalid value for converteroptions[extract]: images are extracted "
                           "from PDF files only");
        return 0;
    }
    if (!out || strcmp(out, "pdf") == 0)
        return err_set(err, ERR_BADPARAM,
                       "invalid value for outputformat: mode extract gives png, jpg or tiff "
                       "pages");
    return 0;
}

const struct converter converter_ghostscript = {
    .name = "ghostscript",
    .modes = CONV_MODE_CONVERT | CONV_MODE_EXTRACT,
    .check = check,
    .priority = 50,
    .pairs = pairs,
    .options = options,
    .note = NULL,
    .init = init,
    /* No cores(): a job gets its share, and render() uses it. Asking for every core would
     * make a multi-page job ~1.7x faster on an idle machine (2 cores, 20 pages) but would
     * also count each one-page job (page 1 as a preview: the common case) as the whole
     * machine, and cores() cannot see the page range. */
    .cores = NULL,
    .convert = convert,
};
