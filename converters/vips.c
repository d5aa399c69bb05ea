/* SPDX-License-Identifier: MIT */
/* vips.c - still and multi-page images through libvips (BMP and ICO through its ImageMagick
 * module, fenced by a private policy.xml). */
#include "convertd-config.h"

#include "converters/converter.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include <vips/vips.h>

#include "common/jsonx.h"
#include "common/log.h"
#include "common/text.h"
#if HAVE_QPDF
#include "converters/pdf.h"
#endif

/* ---- facts ------------------------------------------------------------------------- */

#define MAX_RESIZE_SIDE 100000
#define MAX_PERCENT     1000
#define ICO_MAX_SIDE    256

struct resize_spec {
    int width, height; /* 0 = keep aspect from the other side */
    int percent;       /* N% when > 0 */
};

/* spec "Converter options": WxH, Wx, xH or N%. */
static bool parse_resize(const char *s, struct resize_spec *r)
{
    memset(r, 0, sizeof *r);
    if (!s || !*s)
        return false;
    long v[2] = {0, 0};
    bool seen[2] = {false, false};
    int part = 0;
    const char *p = s;
    while (*p) {
        if (*p >= '0' && *p <= '9') {
            long n = 0;
            while (*p >= '0' && *p <= '9') {
                n = n * 10 + (*p - '0');
                if (n > MAX_RESIZE_SIDE * 10L)
                    return false;
                p++;
            }
            if (seen[part])
                return false;
            v[part] = n;
            seen[part] = true;
        } else if ((*p == 'x' || *p == 'X') && part == 0) {
            part = 1;
            p++;
        } else if (*p == '%' && part == 0 && seen[0] && p[1] == '\0') {
            if (v[0] < 1 || v[0] > MAX_PERCENT)
                return false;
            r->percent = (int)v[0];
            return true;
        } else {
            return false;
        }
    }
    if (part != 1 || (!seen[0] && !seen[1]))
        return false;
    for (int i = 0; i < 2; i++)
        if (seen[i] && (v[i] < 1 || v[i] > MAX_RESIZE_SIDE))
            return false;
    r->width = (int)v[0];
    r->height = (int)v[1];
    return true;
}

static bool resize_valid(const char *s)
{
    struct resize_spec r;
    return parse_resize(s, &r);
}

static const struct {
    const char *name;
    unsigned char rgb[3];
} colour_names[] = {
    {"white", {255, 255, 255}},
    {"black", {0, 0, 0}},
    {"red", {255, 0, 0}},
    {"green", {0, 128, 0}},
    {"blue", {0, 0, 255}},
    {"yellow", {255, 255, 0}},
    {"cyan", {0, 255, 255}},
    {"magenta", {255, 0, 255}},
    {"gray", {128, 128, 128}},
    {"grey", {128, 128, 128}},
    {"silver", {192, 192, 192}},
    {"maroon", {128, 0, 0}},
    {"purple", {128, 0, 128}},
    {"lime", {0, 255, 0}},
    {"olive", {128, 128, 0}},
    {"navy", {0, 0, 128}},
    {"teal", {0, 128, 128}},
    {"orange", {255, 165, 0}},
    /* Like ImageMagick: transparent is black with zero alpha, so flattening onto it gives
     * black. */
    {"transparent", {0, 0, 0}},
};

/* #rgb, #rrggbb or a CSS colour name. */
static bool parse_colour(const char *s, double rgb[3])
{
    if (!s)
        return false;
    if (s[0] == '#') {
        size_t n = strlen(s + 1);
        if (n != 3 && n != 6)
            return false;
        for (size_t i = 1; i <= n; i++)
            if (text_hexval(s[i]) < 0)
                return false;
        for (int c = 0; c < 3; c++) {
            if (n == 3)
                rgb[c] = text_hexval(s[1 + c]) * 17;
            else
                rgb[c] = text_hexval(s[1 + 2 * c]) * 16 + text_hexval(s[2 + 2 * c]);
        }
        return true;
    }
    for (size_t i = 0; i < sizeof colour_names / sizeof colour_names[0]; i++) {
        if (strcasecmp(s, colour_names[i].name) == 0) {
            for (int c = 0; c < 3; c++)
                rgb[c] = colour_names[i].rgb[c];
            return true;
        }
    }
    return false;
}

static bool colour_valid(const char *s)
{
    double rgb[3];
    return parse_colour(s, rgb);
}

static const char *const resizemode_choices[] = {"maximum", "minimum", "exact", NULL};
/* An enum of numbers: options.c matches JSON numbers by their decimal text. */
static const char *const rotate_choices[] = {"0", "90", "180", "270", NULL};

static const struct conv_option options[] = {
    {.name = "quality", .type = CONV_OPT_INT, .def = NULL, .min = 1, .max = 100},
    {.name = "resize", .type = CONV_OPT_STRING, .def = NULL, .valid = resize_valid},
    {.name = "resizemode",
     .type = CONV_OPT_ENUM,
     .def = "\"maximum\"",
     .choices = resizemode_choices},
    {.name = "rotate", .type = CONV_OPT_ENUM, .def = "\"0\"", .choices = rotate_choices},
    {.name = "auto_orient", .type = CONV_OPT_BOOL, .def = "true"},
    {.name = "strip_metatags", .type = CONV_OPT_BOOL, .def = "false"},
    {.name = "density", .type = CONV_OPT_INT, .def = "72", .min = 1, .max = 1200},
    {.name = "background", .type = CONV_OPT_STRING, .def = "\"#ffffff\"", .valid = colour_valid},
    {0},
};

/* Every input to every output, identity pairs included: png -> png is how users resize.
 * PDF (one page per image page, written by pdf.c) where libqpdf is built in. */
/* clang-format off */
#if HAVE_QPDF
#define TO_PDF(in) , {in, "pdf", "document"}
#else
#define TO_PDF(in)
#endif
#define ROW(in)                                                                                  \
    {in, "png", "image"}, {in, "jpg", "image"}, {in, "webp", "image"}, {in, "gif", "image"},     \
    {in, "tiff", "image"}, {in, "avif", "image"}, {in, "heif", "image"}, {in, "jxl", "image"},   \
    {in, "bmp", "image"}, {in, "ico", "image"} TO_PDF(in)

static const struct conv_pair pairs[] = {
    ROW("png"),  ROW("jpg"),  ROW("webp"), ROW("gif"), ROW("tiff"), ROW("svg"),
    ROW("heic"), ROW("heif"), ROW("avif"), ROW("jxl"), ROW("bmp"),  ROW("ico"),
    {0},
};
/* clang-format on */

struct in_format {
    const char *name;
    const char *loader;
    bool paged;    /* the loader takes page and n */
    bool animated; /* frames share one canvas: load them all at once, cut pages out */
};

static const struct in_format in_formats[] = {
    {"png", "pngload", false, false},    {"jpg", "jpegload", false, false},
    {"webp", "webpload", true, true},    {"gif", "gifload", true, true},
    {"tiff", "tiffload", true, false},   {"svg", "svgload", false, false},
    {"heic", "heifload", true, false},   {"heif", "heifload", true, false},
    {"avif", "heifload", true, false},   {"jxl", "jxlload", false, false},
    {"bmp", "magickload", false, false}, {"ico", "magickload", true, false},
};

struct out_format {
    const char *name;
    const char *saver;
    const char *magick; /* magicksave format */
    bool keeps_pages;   /* several pages or frames in one file */
    bool alpha;
    bool quality; /* takes Q */
    bool av1;
};

static const struct out_format out_formats[] = {
    {"png", "pngsave", NULL, false, true, false, false},
    {"jpg", "jpegsave", NULL, false, false, true, false},
    {"webp", "webpsave", NULL, true, true, true, false},
    {"gif", "gifsave", NULL, true, true, false, false},
    {"tiff", "tiffsave", NULL, true, true, false, false},
    {"avif", "heifsave", NULL, false, true, true, true},
    {"heif", "heifsave", NULL, false, true, true, false},
    {"jxl", "jxlsave", NULL, false, true, true, false},
    {"bmp", "magicksave", "bmp", false, true, false, false},
    {"ico", "magicksave", "ico", false, true, false, false},
    {"pdf", NULL, NULL, true, false, false, false}, /* convert_pdf() */
};

/* spec SEC-08: exactly these loaders and savers are unblocked (class names, each with its
 * file, buffer and source subclasses). */
static const char *const allowed_ops[] = {
    "VipsForeignLoadPng",   "VipsForeignLoadJpeg",   "VipsForeignLoadWebp",
    "VipsForeignLoadNsgif", "VipsForeignLoadTiff",   "VipsForeignLoadSvg",
    "VipsForeignLoadHeif",  "VipsForeignLoadJxl",    "VipsForeignLoadMagick",
    "VipsForeignSavePng",   "VipsForeignSaveJpeg",   "VipsForeignSaveWebp",
    "VipsForeignSaveCgif",  "VipsForeignSaveTiff",   "VipsForeignSaveHeif",
    "VipsForeignSaveJxl",   "VipsForeignSaveMagick", NULL,
};

/* ---- ImageMagick fence ------------------------------------------------------------- */

/* libvips reaches ImageMagick only for BMP and ICO, but its magick loader would hand any
 * file to any of ImageMagick's ~200 coders and its delegates (gs, curl...). This policy,
 * read before the system one, denies all of them except BMP/ICO and PNG (ICO stores its
 * 256-pixel entries as embedded PNG, read and written through the PNG coder). The system
 * policy read after it only denies more. */
static const char magick_policy[] =
    "<policymap>\n"
    "  <policy domain=\"resource\" name=\"memory\" value=\"256MiB\"/>\n"
    "  <policy domain=\"resource\" name=\"map\" value=\"512MiB\"/>\n"
    "  <policy domain=\"resource\" name=\"width\" value=\"32KP\"/>\n"
    "  <policy domain=\"resource\" name=\"height\" value=\"32KP\"/>\n"
    "  <policy domain=\"resource\" name=\"area\" value=\"100MP\"/>\n"
    "  <policy domain=\"resource\" name=\"disk\" value=\"1GiB\"/>\n"
    "  <policy domain=\"resource\" name=\"thread\" value=\"1\"/>\n"
    "  <policy domain=\"delegate\" rights=\"none\" pattern=\"*\"/>\n"
    "  <policy domain=\"filter\" rights=\"none\" pattern=\"*\"/>\n"
    "  <policy domain=\"path\" rights=\"none\" pattern=\"@*\"/>\n"
    "  <policy domain=\"coder\" rights=\"none\" pattern=\"*\"/>\n"
    "  <policy domain=\"coder\" rights=\"read|write\" pattern=\"{BMP,BMP2,BMP3,ICO,PNG}\"/>\n"
    "</policymap>\n";

/* 1x1 white 24-bit BMP: loading it makes ImageMagick read its policy now, while the
 * private policy file still exists. */
/* clang-format off */
static const unsigned char tiny_bmp[] = {
    'B', 'M', 58, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0,            /* file header */
    40, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 24, 0,          /* 1x1, 1 plane, 24 bits */
    0, 0, 0, 0, 4, 0, 0, 0, 0x13, 0x0B, 0, 0, 0x13, 0x0B, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
    0xFF, 0xFF, 0xFF, 0,                                       /* one white pixel, padded */
};
/* clang-format on */

/* An X bitmap: a format only ImageMagick reads. The policy must refuse it. */
static const char tiny_xbm[] = "#define t_width 8\n#define t_height 1\n"
                               "static char t_bits[] = {\n  0x00 };\n";

static bool magick_ok;

static int write_policy(char *dir, size_t size, struct err *err)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    snprintf(dir, size, "%s/convertd-magick-XXXXXX", tmp);
    if (!mkdtemp(dir))
        return err_set(err, ERR_INTERNAL, "vips: mkdtemp %s: %s", dir, strerror(errno));
    char *path = g_build_filename(dir, "policy.xml", NULL);
    int rc = -1;
    FILE *f = fopen(path, "w");
    if (!f) {
        err_set(err, ERR_INTERNAL, "vips: cannot write %s: %s", path, strerror(errno));
        rmdir(dir);
        goto out;
    }
    bool ok = fwrite(magick_policy, 1, sizeof magick_policy - 1, f) == sizeof magick_policy - 1;
    if (fclose(f) != 0 || !ok) {
        err_set(err, ERR_INTERNAL, "vips: cannot write %s", path);
        unlink(path);
        rmdir(dir);
        goto out;
    }
    rc = 0;
out:
    g_free(path);
    return rc;
}

static void remove_policy(const char *dir)
{
    char *path = g_build_filename(dir, "policy.xml", NULL);
    unlink(path);
    g_free(path);
    rmdir(dir);
}

/* Load the tiny BMP (reads the policy) and check that the XBM is refused. */
static bool magick_selftest(void)
{
    VipsImage *im = NULL;
    bool ok = false;
    double avg;

    if (vips_magickload_buffer((void *)tiny_bmp, sizeof tiny_bmp, &im, NULL) == 0 &&
        vips_avg(im, &avg, NULL) == 0) {
        g_object_unref(im);
        im = NULL;
        ok = vips_magickload_buffer((void *)tiny_xbm, sizeof tiny_xbm - 1, &im, NULL) != 0;
    }
    if (im)
        g_object_unref(im);
    vips_error_clear();
    return ok;
}

/* ---- init -------------------------------------------------------------------------- */

static int init(struct err *err)
{
    char dir[4096];

    if (write_policy(dir, sizeof dir, err) < 0)
        return -1;
    /* Must be set before ImageMagick starts: it reads MAGICK_CONFIGURE_PATH once. */
    setenv("MAGICK_CONFIGURE_PATH", dir, 1);
    if (VIPS_INIT("convertd-worker")) {
        char *msg = vips_error_buffer_copy();
        err_set(err, ERR_INTERNAL, "vips: init: %s", msg);
        g_free(msg);
        remove_policy(dir);
        unsetenv("MAGICK_CONFIGURE_PATH");
        return -1;
    }
    /* spec SEC-09: no operation cache (every job is new input, and the cache would keep
     * other jobs' pixels alive) and an explicit thread count: one per core, so a single big
     * image uses the whole machine as the vips command line does (bench/image.sh); when
     * every worker is busy their threads share the cores. */
    vips_cache_set_max(0);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    vips_concurrency_set(cores > 0 ? (int)cores : 1);
    /* spec SEC-08: untrusted loaders off, then every loader and saver off, then exactly
     * ours back on. svgload and jxlsave are flagged untrusted by libvips; they run only in
     * this sandboxed worker, and SVG is a product requirement (security.md section 3). */
    vips_block_untrusted_set(TRUE);
    vips_operation_block_set("VipsForeignLoad", TRUE);
    vips_operation_block_set("VipsForeignSave", TRUE);
    for (const char *const *op = allowed_ops; *op; op++)
        vips_operation_block_set(*op, FALSE);

    magick_ok = magick_selftest();
    remove_policy(dir);
    unsetenv("MAGICK_CONFIGURE_PATH");
    if (!magick_ok) {
        /* Without a working policy ImageMagick is a door to every coder it has. */
        vips_operation_block_set("VipsForeignLoadMagick", TRUE);
        vips_operation_block_set("VipsForeignSaveMagick", TRUE);
        log_warn("vips: ImageMagick policy not in effect; BMP and ICO are disabled");
    }
    return 0;
}

static void cleanup(void)
{
    vips_shutdown();
}

/* ---- helpers ----------------------------------------------------------------------- */

/* libvips's error buffer is per process: copy it at once, one line, after our context. */
static int backend_error(struct err *err, const char *context)
{
    char *msg = vips_error_buffer_copy();
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (msg[i] == '\n')
            msg[i] = ' ';
    /* ImageMagick's resource limits (the BMP/ICO loader) fire before our own header check can
     * see the size: say what it means. */
    if (strstr(msg, "exceeds limit") || strstr(msg, "resources exhausted") ||
        strstr(msg, "ResourceLimit"))
        err_set(err, ERR_CONVERT, "image too large (ImageMagick limit): %s", n ? msg : "failed");
    else
        err_set(err, ERR_CONVERT, "vips: %s: %s", context, n ? msg : "failed");
    g_free(msg);
    return -1;
}

struct settings {
    int quality; /* 0 = encoder default */
    bool has_resize;
    struct resize_spec resize;
    enum { MODE_MAXIMUM, MODE_MINIMUM, MODE_EXACT } mode;
    int rotate;
    bool auto_orient;
    bool strip;
    int density;
    double background[3];
};

static void read_settings(const json_t *o, struct settings *s)
{
    int64_t i;
    bool b;
    const char *str;

    memset(s, 0, sizeof *s);
    if (jsonx_int(jsonx_get(o, "quality"), 0, &i) == 0 && i >= 1 && i <= 100)
        s->quality = (int)i;
    str = jsonx_str(jsonx_get(o, "resize"));
    s->has_resize = str && parse_resize(str, &s->resize);
    str = jsonx_str(jsonx_get(o, "resizemode"));
    if (str && strcasecmp(str, "minimum") == 0)
        s->mode = MODE_MINIMUM;
    else if (str && strcasecmp(str, "exact") == 0)
        s->mode = MODE_EXACT;
    if (jsonx_int(jsonx_get(o, "rotate"), 0, &i) == 0 && (i == 90 || i == 180 || i == 270))
        s->rotate = (int)i;
    s->auto_orient = jsonx_bool(jsonx_get(o, "auto_orient"), true, false, &b) == 0 ? b : true;
    s->strip = jsonx_bool(jsonx_get(o, "strip_metatags"), false, false, &b) == 0 && b;
    s->density = 72;
    if (jsonx_int(jsonx_get(o, "density"), 72, &i) == 0 && i >= 1 && i <= 1200)
        s->density = (int)i;
    if (!parse_colour(jsonx_str(jsonx_get(o, "background")), s->background))
        s->background[0] = s->background[1] = s->background[2] = 255;
}

static const struct in_format *find_in(const char *name)
{
    for (size_t i = 0; name && i < sizeof in_formats / sizeof in_formats[0]; i++)
        if (strcmp(in_formats[i].name, name) == 0)
            return &in_formats[i];
    return NULL;
}

static const struct out_format *find_out(const char *name)
{
    for (size_t i = 0; name && i < sizeof out_formats / sizeof out_formats[0]; i++)
        if (strcmp(out_formats[i].name, name) == 0)
            return &out_formats[i];
    return NULL;
}

/* Open an input lazily: this reads the header only; pixels are decoded when a saver asks.
 * page/n only for paged loaders (n = -1: all pages as one tall image). */
static int load(const struct in_format *f, const char *path, const struct settings *s,
                VipsAccess access, int page, int n, VipsImage **out, struct err *err)
{
    VipsOperation *op = vips_operation_new(f->loader);
    if (!op)
        return backend_error(err, "cannot open input");
    /* spec SEC-09: a truncated file is an error, not a half-grey picture. */
    vips_object_set(VIPS_OBJECT(op), "filename", path, "access", access, "fail_on",
                    VIPS_FAIL_ON_TRUNCATED, NULL);
    if (f->paged)
        vips_object_set(VIPS_OBJECT(op), "page", page, "n", n, NULL);
    if (strcmp(f->name, "svg") == 0)
        vips_object_set(VIPS_OBJECT(op), "dpi", (double)s->density, NULL);
    if (vips_cache_operation_buildp(&op)) {
        vips_object_unref_outputs(VIPS_OBJECT(op));
        g_object_unref(op);
        return backend_error(err, "cannot read input");
    }
    g_object_get(op, "out", out, NULL);
    vips_object_unref_outputs(VIPS_OBJECT(op));
    g_object_unref(op);
    return 0;
}

/* spec SEC-09: refuse from the header, before any pixel is decoded. */
static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* The largest image a BMP or ICO file declares, read from its headers. ImageMagick's own
 * resource limits would otherwise refuse a header bomb first, with a message that does not
 * say what is wrong. False when the header cannot be read (the loader then decides). */
static bool magick_declared_size(const char *path, const char *format, int64_t *w, int64_t *h)
{
    unsigned char buf[6 + 16 * 64];
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf, f);
    bool ok = false;
    *w = *h = 0;
    if (strcmp(format, "bmp") == 0 && n >= 26) {
        *w = (int32_t)le32(buf + 18);
        *h = (int32_t)le32(buf + 22);
        *w = *w < 0 ? -*w : *w;
        *h = *h < 0 ? -*h : *h;
        ok = true;
    } else if (strcmp(format, "ico") == 0 && n >= 6) {
        int count = buf[4] | buf[5] << 8;
        ok = true;
        for (int i = 0; i < count && 6 + 16 * (size_t)(i + 1) <= n; i++) {
            const unsigned char *e = buf + 6 + 16 * i;
            int64_t ew = e[0] ? e[0] : 256, eh = e[1] ? e[1] : 256;
            /* An entry may hold a PNG: its IHDR gives the real size. */
            unsigned char png[24];
            if (fseek(f, (long)le32(e + 12), SEEK_SET) == 0 && fread(png, 1, 24, f) == 24 &&
                memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0) {
                ew = be32(png + 16);
                eh = be32(png + 20);
            }
            if (ew * eh > *w * *h) {
                *w = ew;
                *h = eh;
            }
        }
    }
    fclose(f);
    return ok;
}

static int check_size(const char *what, int w, int h, int pages, const struct conv_limits *l,
                      struct err *err)
{
    if (w > l->max_side || h > l->max_side || pages > l->max_pages ||
        (int64_t)w * h * pages > l->max_pixels)
        return err_set(err, ERR_CONVERT,
                       "%s too large (%dx%d, %d page%s; limit %lld pixels, %d per side, "
                       "%d pages)",
                       what, w, h, pages, pages == 1 ? "" : "s", (long long)l->max_pixels,
                       l->max_side, l->max_pages);
    return 0;
}

/* Target size of one page for the resize option, or false when it does not change. */
static bool resize_target(const struct settings *s, int w, int h, int *tw, int *th, bool *crop)
{
    const struct resize_spec *r = &s->resize;
    double sx, sy;

    *crop = false;
    if (!s->has_resize)
        return false;
    if (r->percent) {
        sx = sy = r->percent / 100.0;
    } else if (!r->height) {
        sx = sy = (double)r->width / w;
    } else if (!r->width) {
        sx = sy = (double)r->height / h;
    } else if (s->mode == MODE_EXACT) {
        sx = (double)r->width / w;
        sy = (double)r->height / h;
    } else {
        double fx = (double)r->width / w, fy = (double)r->height / h;
        sx = sy = s->mode == MODE_MINIMUM ? fmax(fx, fy) : fmin(fx, fy);
    }
    /* Clamped so that absurd targets stay ints; the output size check refuses them. */
    *tw = (int)fmin(1e9, fmax(1, round(w * sx)));
    *th = (int)fmin(1e9, fmax(1, round(h * sy)));
    if (s->mode == MODE_MINIMUM && r->width && r->height && !r->percent) {
        /* Cover: rounding must not leave the covered box a pixel short. */
        if (*tw < r->width)
            *tw = r->width;
        if (*th < r->height)
            *th = r->height;
        *crop = *tw != r->width || *th != r->height;
    }
    return *tw != w || *th != h || *crop;
}

static int scale_to(VipsImage *in, int tw, int th, VipsImage **out, struct err *err)
{
    if (tw == in->Xsize && th == in->Ysize) {
        *out = in;
        g_object_ref(in);
        return 0;
    }
    if (vips_resize(in, out, (double)tw / in->Xsize, "vscale", (double)th / in->Ysize, NULL))
        return backend_error(err, "resize");
    return 0;
}

/* One page through orientation, rotation, resize, ICO size and flattening. *out: new ref. */
static int process_page(VipsImage *in, const struct settings *s, const struct out_format *of,
                        VipsImage **out, struct err *err)
{
    VipsObject *ctx = VIPS_OBJECT(vips_image_new());
    VipsImage **t = (VipsImage **)vips_object_local_array(ctx, 10);
    VipsImage *cur = in;
    int tw, th, rc = -1;
    bool crop;

    if (s->auto_orient) {
        if (vips_autorot(cur, &t[0], NULL)) {
            backend_error(err, "auto-orient");
            goto out;
        }
        cur = t[0];
    }
    if (s->rotate) {
        VipsAngle a = s->rotate == 90    ? VIPS_ANGLE_D90
                      : s->rotate == 180 ? VIPS_ANGLE_D180
                                         : VIPS_ANGLE_D270;
        if (vips_rot(cur, &t[1], a, NULL)) {
            backend_error(err, "rotate");
            goto out;
        }
        cur = t[1];
    }
    if (resize_target(s, cur->Xsize, cur->Ysize, &tw, &th, &crop)) {
        if (scale_to(cur, tw, th, &t[2], err) < 0)
            goto out;
        cur = t[2];
        if (crop) {
            if (vips_crop(cur, &t[3], (tw - s->resize.width) / 2, (th - s->resize.height) / 2,
                          s->resize.width, s->resize.height, NULL)) {
                backend_error(err, "crop");
                goto out;
            }
            cur = t[3];
        }
    }
    if (of->magick && strcmp(of->magick, "ico") == 0 &&
        (cur->Xsize > ICO_MAX_SIDE || cur->Ysize > ICO_MAX_SIDE)) {
        /* An ICO entry is at most 256x256: shrink to fit rather than fail. */
        double f = fmin((double)ICO_MAX_SIDE / cur->Xsize, (double)ICO_MAX_SIDE / cur->Ysize);
        tw = (int)fmax(1, fmin(ICO_MAX_SIDE, round(cur->Xsize * f)));
        th = (int)fmax(1, fmin(ICO_MAX_SIDE, round(cur->Ysize * f)));
        if (scale_to(cur, tw, th, &t[4], err) < 0)
            goto out;
        cur = t[4];
    }
    if (!of->alpha && vips_image_hasalpha(cur)) {
        /* Flatten in 8-bit sRGB so that the background colour means what it says, whatever
         * the input (grey + alpha, 16-bit). */
        VipsArrayDouble *bg =
            vips_array_double_newv(3, s->background[0], s->background[1], s->background[2]);
        int r = vips_colourspace(cur, &t[5], VIPS_INTERPRETATION_sRGB, NULL) ||
                vips_flatten(t[5], &t[6], "background", bg, NULL);
        vips_area_unref(VIPS_AREA(bg));
        if (r) {
            backend_error(err, "flatten");
            goto out;
        }
        cur = t[6];
    }
    *out = cur;
    g_object_ref(cur);
    rc = 0;
out:
    g_object_unref(ctx);
    return rc;
}

/* A private copy whose page metadata describes what we write: savers that keep pages split
 * the image by page-height, and a stale value from the input would cut frames. */
static int set_pages(VipsImage *in, int pages, VipsImage **out, struct err *err)
{
    if (vips_copy(in, out, NULL))
        return backend_error(err, "copy");
    if (pages > 1) {
        vips_image_set_int(*out, VIPS_META_PAGE_HEIGHT, (*out)->Ysize / pages);
        vips_image_set_int(*out, VIPS_META_N_PAGES, pages);
    } else {
        vips_image_remove(*out, VIPS_META_PAGE_HEIGHT);
        vips_image_remove(*out, VIPS_META_N_PAGES);
        vips_image_remove(*out, "delay");
        vips_image_remove(*out, "gif-delay");
    }
    return 0;
}

struct progress {
    const struct conv_job *job;
    int index, count; /* file index and number of files, for the overall percent */
    int last;         /* last whole percent reported */
    bool cancelled;
};

static bool report(struct progress *pr, int file_percent)
{
    if (pr->cancelled)
        return true;
    int overall = (pr->index * 100 + file_percent) / pr->count;
    if (overall <= pr->last)
        return false;
    pr->last = overall;
    if (pr->job->progress &&
        pr->job->progress(pr->job->progress_opaque, overall, "Converting image"))
        pr->cancelled = true;
    return pr->cancelled;
}

static void on_eval(VipsImage *image, VipsProgress *progress, void *user)
{
    struct progress *pr = user;
    if (report(pr, progress->percent))
        vips_image_set_kill(image, TRUE);
}

static int save(VipsImage *in, int pages, const struct out_format *of, const struct settings *s,
                const char *path, struct progress *pr, struct err *err)
{
    VipsImage *img = NULL;
    VipsOperation *op = NULL;
    int rc = -1;

    if (report(pr, 0)) {
        err_set(err, ERR_CANCELLED, "cancelled");
        goto out;
    }
    if (set_pages(in, pages, &img, err) < 0)
        goto out;
    vips_image_set_progress(img, TRUE);
    g_signal_connect(img, "eval", G_CALLBACK(on_eval), pr);

    op = vips_operation_new(of->saver);
    if (!op) {
        backend_error(err, "cannot save");
        goto out;
    }
    vips_object_set(VIPS_OBJECT(op), "in", img, "filename", path, "strip", (gboolean)s->strip,
                    NULL);
    if (of->quality && s->quality)
        vips_object_set(VIPS_OBJECT(op), "Q", s->quality, NULL);
    if (of->magick)
        vips_object_set(VIPS_OBJECT(op), "format", of->magick, NULL);
    if (of->av1)
        vips_object_set(VIPS_OBJECT(op), "compression", VIPS_FOREIGN_HEIF_COMPRESSION_AV1, NULL);
    if (vips_cache_operation_buildp(&op)) {
        if (pr->cancelled) {
            vips_error_clear();
            err_set(err, ERR_CANCELLED, "cancelled");
        } else {
            backend_error(err, "cannot write output");
        }
        unlink(path);
        goto out;
    }
    if (pr->cancelled) {
        err_set(err, ERR_CANCELLED, "cancelled");
        unlink(path);
        goto out;
    }
    rc = 0;
out:
    if (op) {
        vips_object_unref_outputs(VIPS_OBJECT(op));
        g_object_unref(op);
    }
    if (img)
        g_object_unref(img);
    return rc;
}

static char *out_path(const struct conv_job *job, int number, const char *ext)
{
    if (number > 0)
        return g_strdup_printf("%s/%d.%s", job->output_dir, number, ext);
    return g_strdup_printf("%s/out.%s", job->output_dir, ext);
}

/* ---- INFO -------------------------------------------------------------------------- */

static int info(const struct conv_job *job, VipsImage *head, int pages, bool animated,
                struct conv_result *res, struct err *err)
{
    struct stat st;
    if (stat(job->inputs[0], &st) < 0)
        return err_set(err, ERR_CONVERT, "vips: cannot stat input: %s", strerror(errno));
    json_t *o = json_object();
    json_object_set_new(o, "format", json_string(job->in_format));
    json_object_set_new(o, "width", json_integer(head->Xsize));
    json_object_set_new(o, "height", json_integer(vips_image_get_page_height(head)));
    json_object_set_new(o, "pages", json_integer(pages));
    if (animated && pages > 1)
        json_object_set_new(o, "frames", json_integer(pages));
    json_object_set_new(o, "bands", json_integer(head->Bands));
    const char *interp = vips_enum_nick(VIPS_TYPE_INTERPRETATION, head->Type);
    json_object_set_new(o, "interpretation", json_string(interp ? interp : "unknown"));
    json_object_set_new(o, "has_alpha", json_boolean(vips_image_hasalpha(head)));
    int orientation;
    if (vips_image_get_typeof(head, VIPS_META_ORIENTATION) &&
        vips_image_get_int(head, VIPS_META_ORIENTATION, &orientation) == 0)
        json_object_set_new(o, "orientation", json_integer(orientation));
    json_object_set_new(o, "size", json_integer((json_int_t)st.st_size));
    res->info = o;
    return 0;
}

/* ---- convert ----------------------------------------------------------------------- */

/* Several pages into one file: all pages as one tall image, each page processed on its own
 * and joined again (processing the tall image whole would blur pages into each other). */
static int convert_joined(const struct conv_job *job, const struct in_format *inf,
                          const struct out_format *of, const struct settings *s, VipsAccess access,
                          int pages, const struct conv_limits *l, struct progress *pr,
                          struct err *err)
{
    VipsImage *strip = NULL, *joined = NULL;
    VipsImage **page = g_new0(VipsImage *, pages);
    char *path = NULL;
    int rc = -1;

    if (load(inf, job->inputs[0], s, access, 0, -1, &strip, err) < 0)
        goto out;
    int ph = vips_image_get_page_height(strip);
    if (strip->Ysize != ph * pages) {
        err_set(err, ERR_CONVERT, "vips: pages of different sizes cannot be kept in one file");
        goto out;
    }
    if (check_size("image", strip->Xsize, ph, pages, l, err) < 0)
        goto out;
    for (int i = 0; i < pages; i++) {
        VipsImage *one = NULL;
        if (vips_crop(strip, &one, 0, i * ph, strip->Xsize, ph, NULL)) {
            backend_error(err, "page");
            goto out;
        }
        int r = process_page(one, s, of, &page[i], err);
        g_object_unref(one);
        if (r < 0)
            goto out;
    }
    if (vips_arrayjoin(page, &joined, pages, "across", 1, NULL)) {
        backend_error(err, "join pages");
        goto out;
    }
    if (check_size("output", joined->Xsize, joined->Ysize / pages, pages, l, err) < 0)
        goto out;
    path = out_path(job, 0, of->name);
    if (save(joined, pages, of, s, path, pr, err) < 0)
        goto out;
    rc = 0;
out:
    for (int i = 0; i < pages; i++)
        if (page[i])
            g_object_unref(page[i]);
    g_free(page);
    if (joined)
        g_object_unref(joined);
    if (strip)
        g_object_unref(strip);
    g_free(path);
    return rc;
}

/* Several pages into one file each, named by page number (converter.h). */
static int convert_split(const struct conv_job *job, const struct in_format *inf,
                         const struct out_format *of, const struct settings *s, VipsAccess access,
                         int pages, const struct conv_limits *l, struct progress *pr,
                         struct err *err)
{
    VipsImage *strip = NULL;
    int ph = 0, rc = -1, written = 0;
    int64_t total = 0;

    if (inf->animated) {
        /* Frames build on each other: decode them once, in order. */
        if (load(inf, job->inputs[0], s, access, 0, -1, &strip, err) < 0)
            goto out;
        ph = vips_image_get_page_height(strip);
        if (strip->Ysize != ph * pages) {
            err_set(err, ERR_CONVERT, "vips: frame count does not match the header");
            goto out;
        }
    } else {
        /* Loading page i alone makes libtiff walk the directory chain from the start each
         * time (quadratic in the page count): when all pages have one size, open them once
         * as a strip and cut it, in order. Pages of different sizes are loaded one by one. */
        struct err tmp = ERR_INIT;
        /* Random access: each page's pipeline reads the strip from its own first line. */
        if (load(inf, job->inputs[0], s, VIPS_ACCESS_RANDOM, 0, -1, &strip, &tmp) == 0) {
            ph = vips_image_get_page_height(strip);
            if (strip->Ysize != ph * pages ||
                check_size("image", strip->Xsize, ph, pages, l, &tmp) < 0) {
                g_object_unref(strip);
                strip = NULL;
            }
        }
        vips_error_clear();
    }
    pr->count = pages;
    for (int i = 0; i < pages; i++) {
        VipsImage *one = NULL, *done = NULL;
        char *path = NULL;
        int r;
        if (strip) {
            r = vips_crop(strip, &one, 0, i * ph, strip->Xsize, ph, NULL)
                    ? backend_error(err, "page")
                    : 0;
        } else {
            r = load(inf, job->inputs[0], s, access, i, 1, &one, err);
            if (r == 0) {
                /* Pages may differ in size: check each one, and the sum. */
                total += (int64_t)one->Xsize * one->Ysize;
                r = check_size("image", one->Xsize, one->Ysize, 1, l, err);
                if (r == 0 && total > l->max_pixels)
                    r = err_set(err, ERR_CONVERT,
                                "image too large (%d pages, more than %lld pixels)", pages,
                                (long long)l->max_pixels);
            }
        }
        if (r == 0)
            r = process_page(one, s, of, &done, err);
        if (r == 0)
            r = check_size("output", done->Xsize, done->Ysize, 1, l, err);
        if (r == 0) {
            pr->index = i;
            path = out_path(job, i + 1, of->name);
            r = save(done, 1, of, s, path, pr, err);
            if (r == 0)
                written = i + 1;
        }
        g_free(path);
        if (done)
            g_object_unref(done);
        if (one)
            g_object_unref(one);
        if (r < 0)
            goto out;
    }
    rc = 0;
out:
    /* No half sets of pages: a failed job leaves the output folder as it found it. */
    for (int i = 1; rc < 0 && i <= written; i++) {
        char *path = out_path(job, i, of->name);
        unlink(path);
        g_free(path);
    }
    if (strip)
        g_object_unref(strip);
    return rc;
}

#if HAVE_QPDF
/* Pixels of one page as 8-bit gray or sRGB, in a buffer of its own (g_free). */
static int page_pixels(VipsImage *in, struct pdf_image *img, void **buf, struct err *err)
{
    VipsObject *ctx = VIPS_OBJECT(vips_image_new());
    VipsImage **t = (VipsImage **)vips_object_local_array(ctx, 3);
    bool gray = in->Bands <= 2 && in->Type != VIPS_INTERPRETATION_sRGB;
    size_t size;
    int rc = -1;

    if (vips_colourspace(in, &t[0], gray ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB,
                         NULL) ||
        vips_extract_band(t[0], &t[1], 0, "n", gray ? 1 : 3, NULL) ||
        vips_cast_uchar(t[1], &t[2], NULL) || !(*buf = vips_image_write_to_memory(t[2], &size))) {
        backend_error(err, "read pixels");
        goto out;
    }
    img->width = t[2]->Xsize;
    img->height = t[2]->Ysize;
    img->bands = t[2]->Bands;
    img->data = *buf;
    /* libvips gives pixels per mm; below ~50 dpi it is a default, not a resolution */
    img->dpi = in->Xres * 25.4 >= 50 ? in->Xres * 25.4 : 72;
    rc = 0;
out:
    g_object_unref(ctx);
    return rc;
}

/* A JPEG that needs no change goes into the PDF as it is (no second lossy encoding). */
static bool jpeg_as_is(const struct in_format *inf, VipsImage *head, const struct settings *s,
                       int pages)
{
    int orientation = 1;
    if (vips_image_get_typeof(head, VIPS_META_ORIENTATION))
        vips_image_get_int(head, VIPS_META_ORIENTATION, &orientation);
    return strcmp(inf->name, "jpg") == 0 && pages == 1 && !s->has_resize && !s->rotate &&
           (orientation <= 1 || !s->auto_orient) && head->BandFmt == VIPS_FORMAT_UCHAR &&
           ((head->Bands == 3 && head->Type == VIPS_INTERPRETATION_sRGB) ||
            (head->Bands == 1 && head->Type == VIPS_INTERPRETATION_B_W));
}

/* Image → PDF: one page per page of the input, each its pixels' size at their resolution. */
static int convert_pdf(const struct conv_job *job, const struct in_format *inf,
                       const struct out_format *of, const struct settings *s, VipsAccess access,
                       VipsImage *head, int pages, const struct conv_limits *l, struct progress *pr,
                       struct err *err)
{
    struct pdf_image *imgs = g_new0(struct pdf_image, (size_t)pages);
    void **bufs = g_new0(void *, (size_t)pages);
    char *path = out_path(job, 0, "pdf");
    gchar *jpeg = NULL;
    gsize jpeg_len = 0;
    int rc = -1;

    if (jpeg_as_is(inf, head, s, pages)) {
        if (!g_file_get_contents(job->inputs[0], &jpeg, &jpeg_len, NULL)) {
            err_set(err, ERR_CONVERT, "vips: cannot read the JPEG");
            goto out;
        }
        imgs[0] = (struct pdf_image){.width = head->Xsize,
                                     .height = head->Ysize,
                                     .bands = head->Bands,
                                     .jpeg = (unsigned char *)jpeg,
                                     .jpeg_len = jpeg_len,
                                     .dpi = head->Xres * 25.4 >= 50 ? head->Xres * 25.4 : 72};
    }
    for (int i = 0; !jpeg && i < pages; i++) {
        VipsImage *src = NULL, *done = NULL;
        if (load(inf, job->inputs[0], s, access, inf->paged ? i : 0, 1, &src, err) < 0)
            goto out;
        int r = process_page(src, s, of, &done, err);
        g_object_unref(src);
        if (r == 0)
            r = check_size("output", done->Xsize, done->Ysize, 1, l, err);
        if (r == 0)
            r = page_pixels(done, &imgs[i], &bufs[i], err);
        if (done)
            g_object_unref(done);
        if (r < 0)
            goto out;
        pr->index = i;
        pr->count = pages;
        if (report(pr, 100)) {
            err_set(err, ERR_CANCELLED, "cancelled");
            goto out;
        }
    }
    rc = pdf_write_images(imgs, (size_t)pages, path, err);
out:
    for (int i = 0; i < pages; i++)
        g_free(bufs[i]);
    g_free(bufs);
    g_free(imgs);
    g_free(jpeg);
    g_free(path);
    return rc;
}
#endif

static int convert(const struct conv_job *job, struct conv_result *res, struct err *err)
{
    struct settings s;
    struct conv_limits l;
    struct progress pr = {.job = job, .index = 0, .count = 1, .last = -1};
    VipsImage *head = NULL, *src = NULL, *done = NULL;
    char *path = NULL;
    int rc = -1;

    read_settings(job->options, &s);
    l = conv_limits_of(job);
    const struct in_format *inf = find_in(job->in_format);
    if (!inf || !job->inputs || !job->inputs[0])
        return err_set(err, ERR_CONVERT, "vips: cannot read %s input",
                       job->in_format ? job->in_format : "unknown");
    const struct out_format *of = NULL;
    if (job->mode != CONV_MODE_INFO) {
        of = find_out(job->out_format);
        if (!of)
            return err_set(err, ERR_CONVERT, "vips: cannot write %s",
                           job->out_format ? job->out_format : "unknown");
    }
    if (!magick_ok && (strcmp(inf->loader, "magickload") == 0 || (of && of->magick)))
        return err_set(err, ERR_CONVERT, "vips: BMP and ICO are disabled on this server");
    if (report(&pr, 0))
        return err_set(err, ERR_CANCELLED, "cancelled");

    int64_t dw, dh;
    if (job->mode != CONV_MODE_INFO && magick_declared_size(job->inputs[0], inf->name, &dw, &dh) &&
        (dw > l.max_side || dh > l.max_side || dw * dh > l.max_pixels))
        return err_set(err, ERR_CONVERT,
                       "image too large (%lld×%lld; limit %d per side, %lld "
                       "pixels)",
                       (long long)dw, (long long)dh, l.max_side, (long long)l.max_pixels);

    /* Header only: the default page, no pixels. For SVG this is the canvas at `density`. */
    if (load(inf, job->inputs[0], &s, VIPS_ACCESS_SEQUENTIAL, 0, 1, &head, err) < 0)
        goto out;
    int pages = inf->paged ? vips_image_get_n_pages(head) : 1;
    if (pages < 1)
        pages = 1;
    /* INFO decodes no pixels, so it may describe an image too large to convert. */
    if (job->mode == CONV_MODE_INFO) {
        rc = info(job, head, pages, inf->animated, res, err);
        goto out;
    }
    if (check_size("image", head->Xsize, vips_image_get_page_height(head), pages, &l, err) < 0)
        goto out;

    /* Rotations read the image out of order: sequential access would fail half-way. */
    int orientation = 1;
    if (vips_image_get_typeof(head, VIPS_META_ORIENTATION))
        vips_image_get_int(head, VIPS_META_ORIENTATION, &orientation);
    VipsAccess access = s.rotate || (s.auto_orient && orientation >= 2 && orientation <= 8)
                            ? VIPS_ACCESS_RANDOM
                            : VIPS_ACCESS_SEQUENTIAL;

#if HAVE_QPDF
    if (strcmp(of->name, "pdf") == 0) {
        rc = convert_pdf(job, inf, of, &s, access, head, pages, &l, &pr, err);
        goto out;
    }
#endif
    if (pages > 1 && of->keeps_pages) {
        rc = convert_joined(job, inf, of, &s, access, pages, &l, &pr, err);
        goto out;
    }
    if (pages > 1) {
        rc = convert_split(job, inf, of, &s, access, pages, &l, &pr, err);
        goto out;
    }
    if (access == VIPS_ACCESS_RANDOM) {
        if (load(inf, job->inputs[0], &s, access, 0, 1, &src, err) < 0)
            goto out;
    } else {
        src = head;
        g_object_ref(src);
    }
    if (process_page(src, &s, of, &done, err) < 0)
        goto out;
    if (check_size("output", done->Xsize, done->Ysize, 1, &l, err) < 0)
        goto out;
    path = out_path(job, 0, of->name);
    if (save(done, 1, of, &s, path, &pr, err) < 0)
        goto out;
    rc = 0;
out:
    if (rc == 0 && job->mode != CONV_MODE_INFO)
        report(&pr, 100);
    g_free(path);
    if (done)
        g_object_unref(done);
    if (src)
        g_object_unref(src);
    if (head)
        g_object_unref(head);
    return rc;
}

const struct converter converter_vips = {
    .name = "vips",
    .modes = CONV_MODE_CONVERT | CONV_MODE_INFO,
    /* Images are what libvips is for: ahead of any later backend (ffmpeg reads gif too). */
    .priority = 100,
    .pairs = pairs,
    .options = options,
    .note = NULL,
    .init = init,
    .cleanup = cleanup,
    .convert = convert,
};
