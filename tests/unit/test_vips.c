/* SPDX-License-Identifier: MIT */
/* test_vips.c - the libvips converter on real files generated here with libvips itself;
 * outputs are checked by loading them again (format, size, pages), never byte by byte. */
#include "convertd-config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#if !HAVE_VIPS
int main(void)
{
    puts("1..0 # SKIP libvips not built");
    return 0;
}
#else

#include <dirent.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <vips/vips.h>

#include "converters/converter.h"
#include "converters/options.h"
#include "converters/registry.h"

extern const struct converter converter_vips;

static char tmpdir[256];
static int run_count;
static char outdir[512]; /* output folder of the last run() */

/* ---- fixtures ---------------------------------------------------------------------- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void setup(void)
{
    registry_init_all();
    ck_assert_msg(registry_by_name("vips") != NULL, "vips converter disabled by init");
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_vips-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    run_count = 0;
}

static void teardown(void)
{
    nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *tpath(const char *name)
{
    static char buf[8][600];
    static int n;
    char *p = buf[n++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
    return p;
}

static char *opath(const char *name)
{
    static char buf[8][700];
    static int n;
    char *p = buf[n++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", outdir, name);
    return p;
}

/* A textured RGB(A) image: noise, so that JPEG quality shows in the file size. */
static VipsImage *make_image(int w, int h, int bands)
{
    VipsImage *b[4] = {NULL}, *joined = NULL, *out = NULL;
    for (int i = 0; i < bands; i++) {
        VipsImage *noise = NULL;
        ck_assert_int_eq(vips_gaussnoise(&noise, w, h, "mean", 128.0, "sigma", 50.0, NULL), 0);
        ck_assert_int_eq(vips_cast_uchar(noise, &b[i], NULL), 0);
        g_object_unref(noise);
    }
    ck_assert_int_eq(vips_bandjoin(b, &joined, bands, NULL), 0);
    ck_assert_int_eq(vips_copy(joined, &out, "interpretation", VIPS_INTERPRETATION_sRGB, NULL), 0);
    for (int i = 0; i < bands; i++)
        g_object_unref(b[i]);
    g_object_unref(joined);
    return out;
}

static void write_png(const char *path, int w, int h, int bands)
{
    VipsImage *im = make_image(w, h, bands);
    ck_assert_msg(vips_pngsave(im, path, NULL) == 0, "%s", vips_error_buffer());
    g_object_unref(im);
}

/* `pages` frames of w x h as one tall image with page-height (and delays for GIF). */
static VipsImage *make_pages(int w, int h, int pages)
{
    VipsImage *im = make_image(w, h * pages, 3);
    VipsImage *out = NULL;
    ck_assert_int_eq(vips_copy(im, &out, NULL), 0);
    g_object_unref(im);
    vips_image_set_int(out, VIPS_META_PAGE_HEIGHT, h);
    int delay[16];
    for (int i = 0; i < pages && i < 16; i++)
        delay[i] = 100;
    vips_image_set_array_int(out, "delay", delay, pages < 16 ? pages : 16);
    vips_image_set_int(out, "loop", 0);
    return out;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

struct progress_log {
    int calls;
    double last;
    bool decreased;
    double cancel_above; /* cancel once percent > this; < 0: never */
    bool cancel_always;
};

static bool on_progress(void *opaque, double percent, const char *message)
{
    struct progress_log *p = opaque;
    (void)message;
    p->calls++;
    if (percent < p->last)
        p->decreased = true;
    p->last = percent;
    return p->cancel_always || (p->cancel_above >= 0 && percent > p->cancel_above);
}

static const struct conv_limits default_limits = {100000000, 32768, 1000};

struct run_opts {
    const char *options;              /* converteroptions JSON, may be NULL */
    const struct conv_limits *limits; /* default_limits when NULL */
    struct progress_log *progress;    /* may be NULL */
    enum conv_mode mode;              /* 0 = CONVERT */
};

/* Convert in -> out with converter_vips into a fresh output folder (outdir). */
static int run_with(const char *input, const char *in_fmt, const char *out_fmt,
                    const struct run_opts *ro, struct conv_result *res, struct err *err)
{
    json_t *given = NULL, *eff = NULL, *echo = NULL;
    if (ro->options) {
        given = json_loads(ro->options, 0, NULL);
        ck_assert_ptr_nonnull(given);
    }
    ck_assert_msg(options_apply(&converter_vips, given, &eff, &echo, err) == 0, "%s", err->msg);
    snprintf(outdir, sizeof outdir, "%s/out%d", tmpdir, ++run_count);
    ck_assert_int_eq(mkdir(outdir, 0700), 0);
    const char *inputs[] = {input, NULL};
    struct conv_job job = {
        .mode = ro->mode ? ro->mode : CONV_MODE_CONVERT,
        .inputs = inputs,
        .output_dir = outdir,
        .in_format = in_fmt,
        .out_format = ro->mode == CONV_MODE_INFO ? NULL : out_fmt,
        .options = eff,
        .limits = ro->limits ? ro->limits : &default_limits,
        .progress = ro->progress ? on_progress : NULL,
        .progress_opaque = ro->progress,
    };
    res->info = NULL;
    int rc = converter_vips.convert(&job, res, err);
    json_decref(given);
    json_decref(eff);
    json_decref(echo);
    return rc;
}

static void run_ok(const char *input, const char *in_fmt, const char *out_fmt, const char *options)
{
    struct run_opts ro = {.options = options};
    struct conv_result res;
    struct err err = ERR_INIT;
    int rc = run_with(input, in_fmt, out_fmt, &ro, &res, &err);
    ck_assert_msg(rc == 0, "%s -> %s (%s): %s", in_fmt, out_fmt, options ? options : "", err.msg);
    json_decref(res.info);
}

struct loaded {
    const char *loader; /* class name from vips_foreign_find_load */
    int width, height;  /* of one page */
    int pages;
    int bands;
};

static struct loaded load_output(const char *path)
{
    struct loaded l = {0};
    ck_assert_msg(file_size(path) > 0, "no output %s", path);
    l.loader = vips_foreign_find_load(path);
    ck_assert_msg(l.loader != NULL, "%s: %s", path, vips_error_buffer());
    VipsImage *im = vips_image_new_from_file(path, NULL);
    ck_assert_msg(im != NULL, "%s: %s", path, vips_error_buffer());
    l.width = im->Xsize;
    l.height = vips_image_get_page_height(im);
    l.pages = vips_image_get_n_pages(im);
    l.bands = im->Bands;
    double avg;
    ck_assert_msg(vips_avg(im, &avg, NULL) == 0, "%s does not decode: %s", path,
                  vips_error_buffer());
    g_object_unref(im);
    return l;
}

static bool has_saver(const char *nickname)
{
    return vips_type_find("VipsOperation", nickname) != 0;
}

/* ---- PNG crafting (for headers that lie) ------------------------------------------- */

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

static size_t put_chunk(unsigned char *out, const char *type, const unsigned char *data,
                        uint32_t len)
{
    out[0] = (unsigned char)(len >> 24);
    out[1] = (unsigned char)(len >> 16);
    out[2] = (unsigned char)(len >> 8);
    out[3] = (unsigned char)len;
    memcpy(out + 4, type, 4);
    if (len)
        memcpy(out + 8, data, len);
    uint32_t crc = crc32_of(out + 4, len + 4);
    out[8 + len] = (unsigned char)(crc >> 24);
    out[9 + len] = (unsigned char)(crc >> 16);
    out[10 + len] = (unsigned char)(crc >> 8);
    out[11 + len] = (unsigned char)crc;
    return 12 + len;
}

/* A tiny PNG whose IHDR claims w x h RGB: decoding it would need gigabytes. */
static void write_lying_png(const char *path, uint32_t w, uint32_t h)
{
    unsigned char buf[256];
    size_t n = 0;
    memcpy(buf, "\x89PNG\r\n\x1a\n", 8);
    n = 8;
    unsigned char ihdr[13] = {(unsigned char)(w >> 24),
                              (unsigned char)(w >> 16),
                              (unsigned char)(w >> 8),
                              (unsigned char)w,
                              (unsigned char)(h >> 24),
                              (unsigned char)(h >> 16),
                              (unsigned char)(h >> 8),
                              (unsigned char)h,
                              8,
                              2,
                              0,
                              0,
                              0};
    n += put_chunk(buf + n, "IHDR", ihdr, sizeof ihdr);
    /* zlib stream of a few zero bytes */
    static const unsigned char idat[] = {0x78, 0x9c, 0x63, 0x60, 0x00,
                                         0x00, 0x00, 0x02, 0x00, 0x01};
    n += put_chunk(buf + n, "IDAT", idat, sizeof idat);
    n += put_chunk(buf + n, "IEND", NULL, 0);
    write_file(path, buf, n);
}

/* A 2x2 8-bit PCX: a format only ImageMagick reads, so the policy must refuse it. */
static void write_pcx(const char *path)
{
    unsigned char buf[128 + 4 + 769] = {0};
    buf[0] = 0x0A; /* manufacturer */
    buf[1] = 5;    /* version */
    buf[2] = 1;    /* RLE */
    buf[3] = 8;    /* bits per pixel */
    buf[8] = 1;    /* xmax = 1 */
    buf[10] = 1;   /* ymax = 1 */
    buf[12] = 72;
    buf[14] = 72;
    buf[65] = 1;  /* planes */
    buf[66] = 2;  /* bytes per line */
    buf[68] = 1;  /* colour palette */
    buf[128] = 1; /* pixels, all below 0xC0 so no RLE runs */
    buf[129] = 2;
    buf[130] = 3;
    buf[131] = 4;
    buf[132] = 0x0C; /* 256-colour palette follows */
    for (int i = 0; i < 768; i++)
        buf[133 + i] = (unsigned char)(i / 3);
    write_file(path, buf, sizeof buf);
}

/* ---- conversions ------------------------------------------------------------------- */

START_TEST(test_png_to_jpg)
{
    write_png(tpath("a.png"), 64, 48, 3);
    run_ok(tpath("a.png"), "png", "jpg", NULL);
    ck_assert_int_eq(count_files(outdir), 1);
    struct loaded l = load_output(opath("out.jpg"));
    ck_assert_str_eq(l.loader, "VipsForeignLoadJpegFile");
    ck_assert_int_eq(l.width, 64);
    ck_assert_int_eq(l.height, 48);
}
END_TEST

struct resize_case {
    const char *options;
    int w, h;
};

static const struct resize_case resize_cases[] = {
    {"{\"resize\": \"100x100\"}", 100, 50},
    {"{\"resize\": \"100x100\", \"resizemode\": \"maximum\"}", 100, 50},
    {"{\"resize\": \"100x100\", \"resizemode\": \"minimum\"}", 100, 100},
    {"{\"resize\": \"50x80\", \"resizemode\": \"minimum\"}", 50, 80},
    {"{\"resize\": \"100x100\", \"resizemode\": \"exact\"}", 100, 100},
    {"{\"resize\": \"30x70\", \"resizemode\": \"EXACT\"}", 30, 70},
    {"{\"resize\": \"50x\"}", 50, 25},
    {"{\"resize\": \"x50\"}", 100, 50},
    {"{\"resize\": \"x50\", \"resizemode\": \"exact\"}", 100, 50},
    {"{\"resize\": \"50%\"}", 100, 50},
    {"{\"resize\": \"150%\"}", 300, 150},
    {"{\"resize\": \"300x300\"}", 300, 150},
    {"{\"resize\": \"1x1\"}", 1, 1},
    {"{\"rotate\": 90}", 100, 200},
    {"{\"rotate\": \"270\"}", 100, 200},
    {"{\"rotate\": 180}", 200, 100},
    {"{\"rotate\": 90, \"resize\": \"50x\"}", 50, 100},
    {NULL, 200, 100},
};

START_TEST(test_resize_rotate)
{
    const struct resize_case *c = &resize_cases[_i];
    write_png(tpath("r.png"), 200, 100, 3);
    run_ok(tpath("r.png"), "png", "png", c->options);
    struct loaded l = load_output(opath("out.png"));
    ck_assert_msg(l.width == c->w && l.height == c->h, "%s: %dx%d, want %dx%d",
                  c->options ? c->options : "none", l.width, l.height, c->w, c->h);
}
END_TEST

START_TEST(test_auto_orient)
{
    VipsImage *im = make_image(200, 100, 3), *tagged = NULL;
    ck_assert_int_eq(vips_copy(im, &tagged, NULL), 0);
    vips_image_set_int(tagged, VIPS_META_ORIENTATION, 6);
    ck_assert_int_eq(vips_jpegsave(tagged, tpath("o.jpg"), NULL), 0);
    g_object_unref(tagged);
    g_object_unref(im);

    run_ok(tpath("o.jpg"), "jpg", "png", NULL);
    struct loaded l = load_output(opath("out.png"));
    ck_assert_int_eq(l.width, 100);
    ck_assert_int_eq(l.height, 200);

    run_ok(tpath("o.jpg"), "jpg", "png", "{\"auto_orient\": false}");
    l = load_output(opath("out.png"));
    ck_assert_int_eq(l.width, 200);
    ck_assert_int_eq(l.height, 100);

    /* strip_metatags drops the orientation tag too */
    run_ok(tpath("o.jpg"), "jpg", "jpg", "{\"auto_orient\": false, \"strip_metatags\": true}");
    VipsImage *out = vips_image_new_from_file(opath("out.jpg"), NULL);
    ck_assert_ptr_nonnull(out);
    ck_assert(vips_image_get_typeof(out, VIPS_META_ORIENTATION) == 0 ||
              vips_image_get_orientation(out) == 1);
    g_object_unref(out);
    run_ok(tpath("o.jpg"), "jpg", "jpg", "{\"auto_orient\": false}");
    out = vips_image_new_from_file(opath("out.jpg"), NULL);
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(vips_image_get_orientation(out), 6);
    g_object_unref(out);
}
END_TEST

START_TEST(test_jpg_quality)
{
    write_png(tpath("q.png"), 256, 256, 3);
    run_ok(tpath("q.png"), "png", "jpg", "{\"quality\": 10}");
    long low = file_size(opath("out.jpg"));
    run_ok(tpath("q.png"), "png", "jpg", "{\"quality\": \"95\"}");
    long high = file_size(opath("out.jpg"));
    ck_assert_msg(low > 0 && high > 2 * low, "q10 %ld bytes, q95 %ld bytes", low, high);
}
END_TEST

START_TEST(test_background)
{
    /* RGBA with alpha 0 everywhere: the JPEG shows only the background colour. */
    VipsImage *rgb = make_image(32, 32, 3), *alpha = NULL, *rgba = NULL, *black = NULL;
    ck_assert_int_eq(vips_black(&black, 32, 32, NULL), 0);
    ck_assert_int_eq(vips_cast_uchar(black, &alpha, NULL), 0);
    ck_assert_int_eq(vips_bandjoin2(rgb, alpha, &rgba, NULL), 0);
    ck_assert_int_eq(vips_pngsave(rgba, tpath("t.png"), NULL), 0);
    g_object_unref(rgb);
    g_object_unref(alpha);
    g_object_unref(black);
    g_object_unref(rgba);

    run_ok(tpath("t.png"), "png", "jpg", "{\"background\": \"#ff0000\"}");
    VipsImage *out = vips_image_new_from_file(opath("out.jpg"), NULL);
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(out->Bands, 3);
    double *px = NULL;
    int n = 0;
    ck_assert_int_eq(vips_getpoint(out, &px, &n, 16, 16, NULL), 0);
    ck_assert_int_eq(n, 3);
    ck_assert_msg(px[0] > 240 && px[1] < 15 && px[2] < 15, "pixel %g %g %g", px[0], px[1], px[2]);
    g_free(px);
    g_object_unref(out);

    /* PNG keeps the alpha */
    run_ok(tpath("t.png"), "png", "png", "{\"background\": \"navy\"}");
    ck_assert_int_eq(load_output(opath("out.png")).bands, 4);
}
END_TEST

START_TEST(test_multipage_tiff)
{
    VipsImage *im = make_pages(40, 30, 3);
    ck_assert_msg(vips_tiffsave(im, tpath("m.tiff"), NULL) == 0, "%s", vips_error_buffer());
    g_object_unref(im);

    struct progress_log pl = {.cancel_above = -1};
    struct run_opts ro = {.progress = &pl};
    struct conv_result res;
    struct err err = ERR_INIT;
    ck_assert_msg(run_with(tpath("m.tiff"), "tiff", "png", &ro, &res, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(count_files(outdir), 3);
    for (int i = 1; i <= 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "%d.png", i);
        struct loaded l = load_output(opath(name));
        ck_assert_str_eq(l.loader, "VipsForeignLoadPngFile");
        ck_assert_int_eq(l.width, 40);
        ck_assert_int_eq(l.height, 30);
    }
    ck_assert_int_eq(file_size(opath("out.png")), -1);
    ck_assert(!pl.decreased);
    ck_assert(pl.last == 100);

    /* tiff -> tiff keeps the pages in one file, each resized on its own */
    run_ok(tpath("m.tiff"), "tiff", "tiff", "{\"resize\": \"20x\"}");
    ck_assert_int_eq(count_files(outdir), 1);
    struct loaded l = load_output(opath("out.tiff"));
    ck_assert_int_eq(l.pages, 3);
    ck_assert_int_eq(l.width, 20);
    ck_assert_int_eq(l.height, 15);
}
END_TEST

START_TEST(test_animated_gif)
{
    VipsImage *im = make_pages(40, 30, 4);
    ck_assert_msg(vips_gifsave(im, tpath("a.gif"), NULL) == 0, "%s", vips_error_buffer());
    g_object_unref(im);

    run_ok(tpath("a.gif"), "gif", "png", NULL);
    ck_assert_int_eq(count_files(outdir), 4);
    for (int i = 1; i <= 4; i++) {
        char name[16];
        snprintf(name, sizeof name, "%d.png", i);
        struct loaded l = load_output(opath(name));
        ck_assert_int_eq(l.width, 40);
        ck_assert_int_eq(l.height, 30);
    }

    run_ok(tpath("a.gif"), "gif", "gif", "{\"resize\": \"20x\"}");
    ck_assert_int_eq(count_files(outdir), 1);
    struct loaded l = load_output(opath("out.gif"));
    ck_assert_str_eq(l.loader, "VipsForeignLoadNsgifFile");
    ck_assert_int_eq(l.pages, 4);
    ck_assert_int_eq(l.width, 20);
    ck_assert_int_eq(l.height, 15);

    run_ok(tpath("a.gif"), "gif", "webp", "{\"rotate\": 90}");
    l = load_output(opath("out.webp"));
    ck_assert_str_eq(l.loader, "VipsForeignLoadWebpFile");
    ck_assert_int_eq(l.pages, 4);
    ck_assert_int_eq(l.width, 30);
    ck_assert_int_eq(l.height, 40);

    /* frames cut out of the animation carry its page-height; a saver that writes pages
     * (heif) must still see one page each after the resize */
    if (has_saver("heifsave")) {
        run_ok(tpath("a.gif"), "gif", "heif", "{\"resize\": \"200%\"}");
        ck_assert_int_eq(count_files(outdir), 4);
        l = load_output(opath("2.heif"));
        ck_assert_int_eq(l.pages, 1);
        ck_assert_int_eq(l.width, 80);
        ck_assert_int_eq(l.height, 60);
    } else {
        printf("# SKIP gif -> heif: libvips has no heifsave\n");
    }

    /* a one-frame GIF made bigger: no stale page-height may cut it into frames */
    im = make_pages(40, 30, 1);
    ck_assert_int_eq(vips_gifsave(im, tpath("one.gif"), NULL), 0);
    g_object_unref(im);
    run_ok(tpath("one.gif"), "gif", "gif", "{\"resize\": \"200%\"}");
    l = load_output(opath("out.gif"));
    ck_assert_int_eq(l.pages, 1);
    ck_assert_int_eq(l.width, 80);
    ck_assert_int_eq(l.height, 60);
}
END_TEST

START_TEST(test_info)
{
    write_png(tpath("i.png"), 200, 100, 4);
    struct run_opts ro = {.mode = CONV_MODE_INFO};
    struct conv_result res;
    struct err err = ERR_INIT;
    ck_assert_msg(run_with(tpath("i.png"), "png", NULL, &ro, &res, &err) == 0, "%s", err.msg);
    ck_assert_ptr_nonnull(res.info);
    ck_assert_str_eq(json_string_value(json_object_get(res.info, "format")), "png");
    ck_assert_int_eq(json_integer_value(json_object_get(res.info, "width")), 200);
    ck_assert_int_eq(json_integer_value(json_object_get(res.info, "height")), 100);
    ck_assert_int_eq(json_integer_value(json_object_get(res.info, "pages")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(res.info, "bands")), 4);
    ck_assert(json_is_true(json_object_get(res.info, "has_alpha")));
    ck_assert_str_eq(json_string_value(json_object_get(res.info, "interpretation")), "srgb");
    ck_assert_int_eq(json_integer_value(json_object_get(res.info, "size")),
                     file_size(tpath("i.png")));
    ck_assert_ptr_null(json_object_get(res.info, "frames"));
    ck_assert_ptr_null(json_object_get(res.info, "orientation"));
    ck_assert_int_eq(count_files(outdir), 0);
    json_decref(res.info);

    VipsImage *im = make_pages(40, 30, 3);
    ck_assert_int_eq(vips_gifsave(im, tpath("i.gif"), NULL), 0);
    g_object_unref(im);
    ck_assert_int_eq(run_with(tpath("i.gif"), "gif", NULL, &ro, &res, &err), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(res.info, "pages")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(res.info, "frames")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(res.info, "width")), 40);
    ck_assert_int_eq(json_integer_value(json_object_get(res.info, "height")), 30);
    json_decref(res.info);

    VipsImage *tagged = NULL;
    im = make_image(20, 10, 3);
    ck_assert_int_eq(vips_copy(im, &tagged, NULL), 0);
    vips_image_set_int(tagged, VIPS_META_ORIENTATION, 6);
    ck_assert_int_eq(vips_jpegsave(tagged, tpath("i.jpg"), NULL), 0);
    g_object_unref(tagged);
    g_object_unref(im);
    ck_assert_int_eq(run_with(tpath("i.jpg"), "jpg", NULL, &ro, &res, &err), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(res.info, "orientation")), 6);
    ck_assert(json_is_false(json_object_get(res.info, "has_alpha")));
    json_decref(res.info);
}
END_TEST

/* ---- limits and broken input ------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void expect_too_large(const char *path, const char *fmt, const struct run_opts *ro)
{
    struct conv_result res;
    struct err err = ERR_INIT;
    double t0 = now_s();
    ck_assert_int_eq(run_with(path, fmt, "png", ro, &res, &err), -1);
    double dt = now_s() - t0;
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_msg(strstr(err.msg, "image too large") != NULL, "message: %s", err.msg);
    ck_assert_msg(dt < 2.0, "refusal took %.2f s", dt);
    ck_assert_int_eq(count_files(outdir), 0);
}

START_TEST(test_svg_huge)
{
    static const char svg[] = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100000\" "
                              "height=\"100000\"><rect width=\"100%\" height=\"100%\" "
                              "fill=\"red\"/></svg>\n";
    write_file(tpath("huge.svg"), svg, sizeof svg - 1);
    struct run_opts ro = {0};
    expect_too_large(tpath("huge.svg"), "svg", &ro);
    /* INFO renders nothing, so it may describe what we would refuse to convert */
    struct run_opts info = {.mode = CONV_MODE_INFO};
    struct conv_result res;
    struct err err = ERR_INIT;
    double t0 = now_s();
    ck_assert_msg(run_with(tpath("huge.svg"), "svg", NULL, &info, &res, &err) == 0, "%s", err.msg);
    ck_assert_msg(now_s() - t0 < 2.0, "info took %.2f s", now_s() - t0);
    ck_assert_int_eq(json_integer_value(json_object_get(res.info, "width")), 100000);
    ck_assert_int_eq(json_integer_value(json_object_get(res.info, "height")), 100000);
    json_decref(res.info);
    /* density scales the declared canvas: 5000x5000 at 72 dpi is fine by size, not at 600 */
    static const char mid[] = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"5000pt\" "
                              "height=\"5000pt\"/>\n";
    write_file(tpath("mid.svg"), mid, sizeof mid - 1);
    struct run_opts dense = {.options = "{\"density\": 600}"};
    expect_too_large(tpath("mid.svg"), "svg", &dense);
}
END_TEST

START_TEST(test_svg_density)
{
    static const char svg[] = "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
                              "width=\"1in\" height=\"0.5in\"><circle cx=\"50%\" cy=\"50%\" "
                              "r=\"10\" fill=\"blue\"/></svg>\n";
    write_file(tpath("s.svg"), svg, sizeof svg - 1);
    run_ok(tpath("s.svg"), "svg", "png", NULL);
    struct loaded l = load_output(opath("out.png"));
    ck_assert_int_eq(l.width, 72);
    ck_assert_int_eq(l.height, 36);
    run_ok(tpath("s.svg"), "svg", "png", "{\"density\": 300}");
    l = load_output(opath("out.png"));
    ck_assert_int_eq(l.width, 300);
    ck_assert_int_eq(l.height, 150);
}
END_TEST

START_TEST(test_lying_png)
{
    struct run_opts ro = {0};
    /* over the side limit */
    write_lying_png(tpath("wide.png"), 50000, 50000);
    expect_too_large(tpath("wide.png"), "png", &ro);
    /* sides fine, pixel count not: 400 MP */
    write_lying_png(tpath("area.png"), 20000, 20000);
    expect_too_large(tpath("area.png"), "png", &ro);
}
END_TEST

START_TEST(test_limits)
{
    write_png(tpath("l.png"), 200, 100, 3);
    struct conv_limits pixels = {10000, 32768, 1000};
    struct run_opts ro = {.limits = &pixels};
    expect_too_large(tpath("l.png"), "png", &ro);
    struct conv_limits side = {100000000, 150, 1000};
    ro.limits = &side;
    expect_too_large(tpath("l.png"), "png", &ro);

    VipsImage *im = make_pages(20, 10, 3);
    ck_assert_int_eq(vips_tiffsave(im, tpath("p.tiff"), NULL), 0);
    g_object_unref(im);
    struct conv_limits pages = {100000000, 32768, 2};
    ro.limits = &pages;
    expect_too_large(tpath("p.tiff"), "tiff", &ro);

    /* the output is checked too: enlarging past the cap is refused */
    struct conv_limits out = {100000, 32768, 1000};
    struct run_opts big = {.limits = &out, .options = "{\"resize\": \"1000%\"}"};
    struct conv_result res;
    struct err err = ERR_INIT;
    ck_assert_int_eq(run_with(tpath("l.png"), "png", "png", &big, &res, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_msg(strstr(err.msg, "too large") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(test_truncated_png)
{
    write_png(tpath("full.png"), 300, 300, 3);
    long size = file_size(tpath("full.png"));
    FILE *f = fopen(tpath("full.png"), "rb");
    ck_assert_ptr_nonnull(f);
    unsigned char *buf = malloc((size_t)size);
    ck_assert_int_eq(fread(buf, 1, (size_t)size, f), size);
    fclose(f);
    write_file(tpath("cut.png"), buf, (size_t)size / 2);
    free(buf);

    struct run_opts ro = {0};
    struct conv_result res;
    struct err err = ERR_INIT;
    ck_assert_int_eq(run_with(tpath("cut.png"), "png", "jpg", &ro, &res, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_msg(strncmp(err.msg, "vips: ", 6) == 0, "%s", err.msg);
    ck_assert_int_eq(count_files(outdir), 0);

    /* not an image at all */
    write_file(tpath("junk.png"), "hello", 5);
    err = (struct err)ERR_INIT;
    ck_assert_int_eq(run_with(tpath("junk.png"), "png", "jpg", &ro, &res, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
}
END_TEST

START_TEST(test_cancel)
{
    write_png(tpath("c.png"), 1500, 1500, 3);
    /* cancelled before anything starts */
    struct progress_log now = {.cancel_above = -1, .cancel_always = true};
    struct run_opts ro = {.progress = &now};
    struct conv_result res;
    struct err err = ERR_INIT;
    ck_assert_int_eq(run_with(tpath("c.png"), "png", "jpg", &ro, &res, &err), -1);
    ck_assert_int_eq(err.code, ERR_CANCELLED);
    ck_assert_int_eq(now.calls, 1);

    /* cancelled while libvips computes: the eval signal sees it and kills the pipeline */
    struct progress_log mid = {.cancel_above = 2};
    ro.progress = &mid;
    err = (struct err)ERR_INIT;
    ck_assert_int_eq(run_with(tpath("c.png"), "png", "jpg", &ro, &res, &err), -1);
    ck_assert_int_eq(err.code, ERR_CANCELLED);
    ck_assert_msg(mid.last > 2 && mid.last < 100, "cancelled at %g%%", mid.last);
    ck_assert(!mid.decreased);
    ck_assert_int_eq(count_files(outdir), 0);

    /* not cancelled: progress climbs to 100 */
    struct progress_log all = {.cancel_above = -1};
    ro.progress = &all;
    err = (struct err)ERR_INIT;
    ck_assert_int_eq(run_with(tpath("c.png"), "png", "jpg", &ro, &res, &err), 0);
    ck_assert(all.calls > 2);
    ck_assert(all.last == 100);
    ck_assert(!all.decreased);
}
END_TEST

/* ---- other formats ----------------------------------------------------------------- */

struct roundtrip_case {
    const char *ext;
    const char *saver;  /* nickname that must exist, else skip */
    const char *loader; /* class name of the output's loader */
};

static const struct roundtrip_case roundtrip_cases[] = {
    {"avif", "heifsave", "VipsForeignLoadHeifFile"},
    {"heif", "heifsave", "VipsForeignLoadHeifFile"},
    {"jxl", "jxlsave", "VipsForeignLoadJxlFile"},
    {"webp", "webpsave", "VipsForeignLoadWebpFile"},
    {"tiff", "tiffsave", "VipsForeignLoadTiffFile"},
    {"gif", "gifsave", "VipsForeignLoadNsgifFile"},
    {"bmp", "magicksave", "VipsForeignLoadMagickFile"},
    {"ico", "magicksave", "VipsForeignLoadMagickFile"},
};

START_TEST(test_roundtrip)
{
    const struct roundtrip_case *c = &roundtrip_cases[_i];
    if (!has_saver(c->saver)) {
        printf("# SKIP %s: libvips has no %s\n", c->ext, c->saver);
        return;
    }
    write_png(tpath("rt.png"), 64, 48, 3);
    run_ok(tpath("rt.png"), "png", c->ext, "{\"quality\": 60}");
    char name[32];
    snprintf(name, sizeof name, "out.%s", c->ext);
    struct loaded l = load_output(opath(name));
    ck_assert_str_eq(l.loader, c->loader);
    ck_assert_int_eq(l.width, 64);
    ck_assert_int_eq(l.height, 48);

    /* and back, through our own loader for that format */
    char back[700];
    snprintf(back, sizeof back, "%s", opath(name));
    const char *in_fmt = strcmp(c->ext, "avif") == 0 ? "avif" : c->ext;
    run_ok(back, in_fmt, "png", "{\"resize\": \"32x\"}");
    l = load_output(opath("out.png"));
    ck_assert_int_eq(l.width, 32);
    ck_assert_int_eq(l.height, 24);
}
END_TEST

START_TEST(test_ico_limit)
{
    write_png(tpath("big.png"), 600, 300, 4);
    run_ok(tpath("big.png"), "png", "ico", NULL);
    struct loaded l = load_output(opath("out.ico"));
    ck_assert_int_eq(l.width, 256);
    ck_assert_int_eq(l.height, 128);
    /* a 256x256 entry is stored as embedded PNG: written and read back */
    write_png(tpath("sq.png"), 300, 300, 4);
    run_ok(tpath("sq.png"), "png", "ico", NULL);
    char ico[700];
    snprintf(ico, sizeof ico, "%s", opath("out.ico"));
    l = load_output(ico);
    ck_assert_int_eq(l.width, 256);
    ck_assert_int_eq(l.height, 256);
    run_ok(ico, "ico", "png", NULL);
    l = load_output(opath("out.png"));
    ck_assert_int_eq(l.width, 256);
}
END_TEST

START_TEST(test_ico_pages)
{
    /* an icon with two entries is two pages: one PNG each */
    VipsImage *im = make_pages(32, 32, 2);
    ck_assert_msg(vips_magicksave(im, tpath("two.ico"), "format", "ico", NULL) == 0, "%s",
                  vips_error_buffer());
    g_object_unref(im);
    run_ok(tpath("two.ico"), "ico", "png", NULL);
    ck_assert_int_eq(count_files(outdir), 2);
    struct loaded l = load_output(opath("2.png"));
    ck_assert_int_eq(l.width, 32);
    ck_assert_int_eq(l.height, 32);
    struct run_opts ro = {.mode = CONV_MODE_INFO};
    struct conv_result res;
    struct err err = ERR_INIT;
    ck_assert_int_eq(run_with(tpath("two.ico"), "ico", NULL, &ro, &res, &err), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(res.info, "pages")), 2);
    ck_assert_ptr_null(json_object_get(res.info, "frames"));
    json_decref(res.info);
}
END_TEST

START_TEST(test_magick_policy)
{
    /* A PCX is read by ImageMagick only: even handed over as "bmp", the policy refuses. */
    write_pcx(tpath("x.pcx"));
    struct run_opts ro = {0};
    struct conv_result res;
    struct err err = ERR_INIT;
    ck_assert_int_eq(run_with(tpath("x.pcx"), "bmp", "png", &ro, &res, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_msg(strstr(err.msg, "policy") != NULL, "not refused by policy: %s", err.msg);
    ck_assert_int_eq(count_files(outdir), 0);
    /* and a real BMP goes through */
    VipsImage *im = make_image(30, 20, 3);
    ck_assert_msg(vips_magicksave(im, tpath("ok.bmp"), "format", "bmp", NULL) == 0, "%s",
                  vips_error_buffer());
    g_object_unref(im);
    run_ok(tpath("ok.bmp"), "bmp", "png", NULL);
    struct loaded l = load_output(opath("out.png"));
    ck_assert_int_eq(l.width, 30);
}
END_TEST

START_TEST(test_blocked_loaders)
{
    /* spec SEC-08: everything we did not unblock stays blocked, trusted or not. */
    VipsImage *im = make_image(8, 8, 3), *out = NULL;
    ck_assert_int_eq(vips_ppmsave(im, tpath("b.ppm"), NULL), -1); /* savers too */
    vips_error_clear();
    g_object_unref(im);
    static const char ppm[] = "P6\n2 2\n255\n\0\0\0\0\0\0\0\0\0\0\0\0";
    write_file(tpath("a.ppm"), ppm, sizeof ppm - 1);
    ck_assert_int_eq(vips_ppmload(tpath("a.ppm"), &out, NULL), -1);
    ck_assert_ptr_nonnull(strstr(vips_error_buffer(), "blocked"));
    vips_error_clear();
    static const char csv[] = "1,2\n3,4\n";
    write_file(tpath("a.csv"), csv, sizeof csv - 1);
    ck_assert_int_eq(vips_csvload(tpath("a.csv"), &out, NULL), -1);
    vips_error_clear();
    /* a PPM handed over as png is refused by the png loader */
    struct run_opts ro = {0};
    struct conv_result res;
    struct err err = ERR_INIT;
    ck_assert_int_eq(run_with(tpath("a.ppm"), "png", "jpg", &ro, &res, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
}
END_TEST

START_TEST(test_table)
{
    /* every input to every output, identity pairs included */
    static const char *const ins[] = {"png",  "jpg",  "webp", "gif", "tiff", "svg",
                                      "heic", "heif", "avif", "jxl", "bmp",  "ico"};
    static const char *const outs[] = {"png",  "jpg",  "webp", "gif", "tiff",
                                       "avif", "heif", "jxl",  "bmp", "ico"};
    int n = 0;
    for (const struct conv_pair *p = converter_vips.pairs; p->in; p++) {
        /* image → pdf is a document (written through libqpdf, when built in) */
        ck_assert_str_eq(p->group, strcmp(p->out, "pdf") == 0 ? "document" : "image");
        n++;
    }
    ck_assert_int_eq(n, 120 + 12 * HAVE_QPDF);
    for (size_t i = 0; i < sizeof ins / sizeof ins[0]; i++)
        for (size_t j = 0; j < sizeof outs / sizeof outs[0]; j++)
            ck_assert_msg(registry_find(ins[i], outs[j], CONV_MODE_CONVERT) == &converter_vips,
                          "%s -> %s", ins[i], outs[j]);
    ck_assert_ptr_eq(registry_find("svg", NULL, CONV_MODE_INFO), &converter_vips);
    ck_assert_ptr_null(registry_find("png", "svg", CONV_MODE_CONVERT));
#if HAVE_QPDF
    ck_assert_ptr_eq(registry_find("png", "pdf", CONV_MODE_CONVERT), &converter_vips);
#else
    ck_assert_ptr_null(registry_find("png", "pdf", CONV_MODE_CONVERT));
#endif
    ck_assert_ptr_null(registry_find("png", "jpg", CONV_MODE_COMBINE));
    ck_assert(registry_has_input("heic", CONV_MODE_CONVERT));
    ck_assert(!registry_has_input("fake", CONV_MODE_CONVERT)); /* test converter off */
    ck_assert_str_eq(registry_pair_group(&converter_vips, "png", "jpg"), "image");
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *vips_suite(void)
{
    Suite *s = suite_create("vips");
    TCase *tc = tcase_create("convert");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_png_to_jpg);
    tcase_add_loop_test(tc, test_resize_rotate, 0, N(resize_cases));
    tcase_add_test(tc, test_auto_orient);
    tcase_add_test(tc, test_jpg_quality);
    tcase_add_test(tc, test_background);
    tcase_add_test(tc, test_multipage_tiff);
    tcase_add_test(tc, test_animated_gif);
    tcase_add_test(tc, test_info);
    tcase_add_test(tc, test_table);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_svg_huge);
    tcase_add_test(tc, test_svg_density);
    tcase_add_test(tc, test_lying_png);
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_truncated_png);
    tcase_add_test(tc, test_cancel);
    suite_add_tcase(s, tc);

    tc = tcase_create("formats");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 90);
    tcase_add_loop_test(tc, test_roundtrip, 0, N(roundtrip_cases));
    tcase_add_test(tc, test_ico_limit);
    tcase_add_test(tc, test_ico_pages);
    tcase_add_test(tc, test_magick_policy);
    tcase_add_test(tc, test_blocked_loaders);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(vips_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
#endif
