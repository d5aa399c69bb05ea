/* SPDX-License-Identifier: MIT */
/* test_ghostscript.c - the Ghostscript converter on documents made here with gs itself;
 * outputs are checked by their headers (PNG IHDR, JPEG SOF, TIFF IFD) and page counts,
 * never byte by byte. Hostile PostScript must fail and leave nothing behind. */
#include "convertd-config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#if !HAVE_QPDF
int main(void)
{
    puts("1..0 # SKIP libqpdf not built (no document converters)");
    return 0;
}
#else

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "converters/converter.h"
#include "converters/options.h"
#include "converters/pdf.h"

extern const struct converter converter_ghostscript;

static char fixdir[256]; /* inputs, made once */
static char jobtmp[300]; /* TMPDIR of the conversions */
static char outdir[512]; /* output folder of the last run */
static int run_count;
static bool gs_inited;

/* ---- fixtures ---------------------------------------------------------------------- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static char *fpath(const char *name)
{
    static char buf[8][600];
    static int n;
    char *p = buf[n++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", fixdir, name);
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

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

/* gs ... -sOutputFile=out in: the fixtures are made by the program under test's backend. */
static void gs_make(const char *out, const char *in, const char *extra)
{
    char of[700];
    snprintf(of, sizeof of, "-sOutputFile=%s", out);
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[] = {"gs",       "-dSAFER",
                        "-dBATCH",  "-dNOPAUSE",
                        "-dQUIET",  "-sDEVICE=pdfwrite",
                        of,         (char *)(extra ? extra : "-dNOPROMPT"),
                        (char *)in, NULL};
        execv("/usr/bin/gs", argv);
        _exit(127);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "gs could not make %s\n", out);
        exit(1);
    }
}

static const char doc_ps[] = "%!PS-Adobe-3.0\n"
                             "%%Pages: 3\n"
                             "%%EndComments\n"
                             "1 1 3 {\n"
                             "  /n exch def\n"
                             "  << /PageSize [595 842] >> setpagedevice\n"
                             "  n 3 div 0.2 0.8 setrgbcolor 100 100 300 400 rectfill\n"
                             "  0 setgray /Helvetica findfont 36 scalefont setfont\n"
                             "  72 700 moveto (Page ) show n 3 string cvs show\n"
                             "  showpage\n"
                             "} for\n";

static const char landscape_ps[] = "%!PS\n"
                                   "<< /PageSize [842 595] >> setpagedevice\n"
                                   "0 0 1 setrgbcolor 50 50 700 400 rectfill showpage\n";

/* Drawn at 100..300 x 50..150: -dEPSCrop must cut the page to that box. */
static const char figure_eps[] = "%!PS-Adobe-3.0 EPSF-3.0\n"
                                 "%%BoundingBox: 100 50 300 150\n"
                                 "%%EndComments\n"
                                 "1 0 0 setrgbcolor 100 50 200 100 rectfill\n"
                                 "0 setgray 120 90 moveto /Helvetica findfont 20 scalefont "
                                 "setfont (EPS) show\n"
                                 "showpage\n";

static const char big_ps[] = "%!PS\n<< /PageSize [20000 20000] >> setpagedevice\n"
                             "0 0 moveto 100 100 lineto stroke showpage\n";

/* A huge MediaBox cropped to 200 x 100: what was measured (the CropBox) is what gs draws. */
static const char crop_ps[] = "%!PS\n<< /PageSize [20000 20000] >> setpagedevice\n"
                              "[ /CropBox [100 100 300 200] /PAGE pdfmark\n"
                              "1 0 0 setrgbcolor 100 100 200 100 rectfill showpage\n";

static const char evil_ps[] = "%!PS\n"
                              "(/etc/passwd) (r) file 200 string readstring pop print\n"
                              "showpage\n";

static const char corrupt_pdf[] = "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 9 0 R >>\n"
                                  "this is not a PDF at all\n%%EOF\n";

/* A 600x600 noise image drawn 3 inches wide (200 dpi): pdf_preset screen downsamples it. */
static void write_image_ps(const char *path)
{
    FILE *f = fopen(path, "wb");
    unsigned state = 12345;
    if (!f)
        exit(1);
    fputs("%!PS\n<< /PageSize [595 842] >> setpagedevice\n"
          "100 400 translate 216 216 scale /DeviceRGB setcolorspace\n"
          "<< /ImageType 1 /Width 600 /Height 600 /BitsPerComponent 8 "
          "/Decode [0 1 0 1 0 1] /ImageMatrix [600 0 0 -600 0 600] "
          "/DataSource currentfile /ASCIIHexDecode filter >> image\n",
          f);
    for (int y = 0; y < 600; y++) {
        for (int x = 0; x < 600 * 3; x++) {
            state = state * 1103515245u + 12345u;
            /* Smooth gradient plus noise: what a photo looks like to a compressor. */
            int v = (x / 3 + y) / 5 + (int)((state >> 16) % 64);
            fprintf(f, "%02x", v & 0xff);
        }
        fputc('\n', f);
    }
    fputs(">\nshowpage\n", f);
    if (fclose(f) != 0)
        exit(1);
}

/* Once, in the parent: inputs and the converter's init (gs found, version read). */
static void fixtures_make(void)
{
    snprintf(fixdir, sizeof fixdir, "/tmp/test_ghostscript-XXXXXX");
    if (!mkdtemp(fixdir))
        exit(1);
    snprintf(jobtmp, sizeof jobtmp, "%s/jobtmp", fixdir);
    if (mkdir(jobtmp, 0700) < 0)
        exit(1);
    /* What the worker does for a job: TMPDIR is the job's own temp folder. */
    setenv("TMPDIR", jobtmp, 1);

    write_text(fpath("doc.ps"), doc_ps);
    write_text(fpath("landscape.ps"), landscape_ps);
    write_text(fpath("figure.eps"), figure_eps);
    write_text(fpath("big.ps"), big_ps);
    write_text(fpath("crop.ps"), crop_ps);
    write_text(fpath("evil.ps"), evil_ps);
    write_text(fpath("corrupt.pdf"), corrupt_pdf);
    write_image_ps(fpath("image.ps"));
    gs_make(fpath("doc.pdf"), fpath("doc.ps"), NULL);
    gs_make(fpath("landscape.pdf"), fpath("landscape.ps"), NULL);
    gs_make(fpath("big.pdf"), fpath("big.ps"), NULL);
    gs_make(fpath("crop.pdf"), fpath("crop.ps"), NULL);
    gs_make(fpath("image.pdf"), fpath("image.ps"), "-dPDFSETTINGS=/prepress");
    /* A client's file name with gs's path separator and a format character in it. */
    if (link(fpath("doc.pdf"), fpath("odd: name%d.pdf")) < 0)
        exit(1);

    struct err err = ERR_INIT;
    gs_inited = converter_ghostscript.init(&err) == 0;
    if (!gs_inited)
        fprintf(stderr, "ghostscript init: %s\n", err.msg);
}

static void fixtures_remove(void)
{
    nftw(fixdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
    ck_assert_msg(gs_inited, "the ghostscript converter did not initialise");
}

/* ---- running the converter --------------------------------------------------------- */

struct progress_log {
    int calls;
    double last;
    bool decreased;
    char message[64];
    bool cancel_on_page; /* cancel once gs is writing pages */
};

static bool on_progress(void *opaque, double percent, const char *message)
{
    struct progress_log *p = opaque;
    p->calls++;
    if (percent < p->last)
        p->decreased = true;
    p->last = percent;
    snprintf(p->message, sizeof p->message, "%s", message ? message : "");
    return p->cancel_on_page && message && strncmp(message, "Converting page", 15) == 0;
}

static const struct conv_limits default_limits = {100000000, 32768, 1000};

struct run_opts {
    const char *options;
    const struct conv_limits *limits;
    struct progress_log *progress;
    int threads;
};

static int run_with(const char *input, const char *in_fmt, const char *out_fmt,
                    const struct run_opts *ro, struct err *err)
{
    json_t *given = NULL, *eff = NULL, *echo = NULL;
    struct progress_log quiet = {0};
    if (ro->options) {
        given = json_loads(ro->options, 0, NULL);
        ck_assert_ptr_nonnull(given);
    }
    ck_assert_msg(options_apply(&converter_ghostscript, given, &eff, &echo, err) == 0, "%s",
                  err->msg);
    snprintf(outdir, sizeof outdir, "%s/out%d-%d", fixdir, (int)getpid(), ++run_count);
    ck_assert_int_eq(mkdir(outdir, 0700), 0);
    const char *inputs[] = {input, NULL};
    struct conv_job job = {
        .mode = CONV_MODE_CONVERT,
        .inputs = inputs,
        .output_dir = outdir,
        .in_format = in_fmt,
        .out_format = out_fmt,
        .options = eff,
        .limits = ro->limits ? ro->limits : &default_limits,
        .progress = on_progress,
        .progress_opaque = ro->progress ? ro->progress : &quiet,
        .threads = ro->threads > 0 ? ro->threads : 1,
    };
    struct conv_result res = {0};
    int rc = converter_ghostscript.convert(&job, &res, err);
    json_decref(given);
    json_decref(eff);
    json_decref(echo);
    return rc;
}

static void run_ok(const char *input, const char *in_fmt, const char *out_fmt,
                   const struct run_opts *ro)
{
    struct err err = ERR_INIT;
    int rc = run_with(input, in_fmt, out_fmt, ro, &err);
    ck_assert_msg(rc == 0, "%s -> %s (%s): %s", in_fmt, out_fmt, ro->options ? ro->options : "",
                  err.msg);
}

static int count_entries(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            n++;
    closedir(d);
    return n;
}

/* Nothing of the work folder outlives a conversion. */
static void assert_no_leftovers(void)
{
    ck_assert_int_eq(count_entries(jobtmp, ""), 0);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "no output %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    unsigned char *data = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(data);
    ck_assert_int_eq(fread(data, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return data;
}

static unsigned be16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static unsigned be32(const unsigned char *p)
{
    return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3];
}

static void png_size(const char *path, unsigned *w, unsigned *h, unsigned *color_type)
{
    size_t n;
    unsigned char *d = slurp(path, &n);
    ck_assert_msg(n > 33 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0 &&
                      memcmp(d + 12, "IHDR", 4) == 0,
                  "%s is not a PNG", path);
    *w = be32(d + 16);
    *h = be32(d + 20);
    *color_type = d[25];
    free(d);
}

static void jpeg_size(const char *path, unsigned *w, unsigned *h, unsigned *components)
{
    size_t n;
    unsigned char *d = slurp(path, &n);
    ck_assert_msg(n > 4 && d[0] == 0xFF && d[1] == 0xD8, "%s is not a JPEG", path);
    size_t i = 2;
    bool found = false;
    while (i + 9 < n && !found) {
        ck_assert_int_eq(d[i], 0xFF);
        unsigned m = d[i + 1];
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
            *h = be16(d + i + 5);
            *w = be16(d + i + 7);
            *components = d[i + 9];
            found = true;
        }
        i += 2 + be16(d + i + 2);
    }
    ck_assert_msg(found, "%s has no SOF", path);
    free(d);
}

static void tiff_size(const char *path, unsigned *w, unsigned *h)
{
    size_t n;
    unsigned char *d = slurp(path, &n);
    ck_assert_msg(n > 8 && memcmp(d, "II*\0", 4) == 0, "%s is not a little-endian TIFF", path);
    unsigned off = d[4] | d[5] << 8 | d[6] << 16 | (unsigned)d[7] << 24;
    ck_assert_uint_lt(off + 2, n);
    unsigned count = d[off] | d[off + 1] << 8;
    *w = *h = 0;
    for (unsigned k = 0; k < count && off + 2 + 12 * (k + 1) <= n; k++) {
        const unsigned char *e = d + off + 2 + 12 * k;
        unsigned tag = e[0] | e[1] << 8, type = e[2] | e[3] << 8;
        unsigned v = type == 3 ? (unsigned)(e[8] | e[9] << 8)
                               : (unsigned)(e[8] | e[9] << 8 | e[10] << 16 | (unsigned)e[11] << 24);
        if (tag == 256)
            *w = v;
        if (tag == 257)
            *h = v;
    }
    free(d);
}

static int pdf_pages(const char *path)
{
    struct pdf_facts f;
    struct err err = ERR_INIT;
    ck_assert_msg(pdf_read_facts(path, 0, &f, &err) == 0, "%s: %s", path, err.msg);
    int n = f.pages;
    pdf_facts_fini(&f);
    return n;
}

static bool file_has(const char *path, const char *needle)
{
    size_t n;
    unsigned char *d = slurp(path, &n);
    bool found = memmem(d, n, needle, strlen(needle)) != NULL;
    free(d);
    return found;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- tests ------------------------------------------------------------------------- */

START_TEST(test_range_parse)
{
    static const struct {
        const char *s;
        bool ok;
        int first, last;
    } cases[] = {
        {"1", true, 1, 1},
        {"2-3", true, 2, 3},
        {"7-7", true, 7, 7},
        {"10-200", true, 10, 200},
        {"0", false, 0, 0},
        {"0-2", false, 0, 0},
        {"3-2", false, 0, 0},
        {"", false, 0, 0},
        {"-2", false, 0, 0},
        {"2-", false, 0, 0},
        {"1-2-3", false, 0, 0},
        {" 1", false, 0, 0},
        {"1 ", false, 0, 0},
        {"a", false, 0, 0},
        {"1,2", false, 0, 0},
        {"+1", false, 0, 0},
        {"99999999999", false, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int a = -1, b = -1;
        bool ok = options_page_range(cases[i].s, &a, &b);
        ck_assert_msg(ok == cases[i].ok, "\"%s\": %d", cases[i].s, ok);
        if (ok) {
            ck_assert_int_eq(a, cases[i].first);
            ck_assert_int_eq(b, cases[i].last);
        }
    }
}
END_TEST

START_TEST(test_options_table)
{
    static const struct {
        const char *json;
        bool ok;
    } cases[] = {
        {"{\"page_range\": \"2-3\"}", true},
        {"{\"page_range\": 2}", true},
        {"{\"page_range\": \"0\"}", false},
        {"{\"page_range\": \"3-1\"}", false},
        {"{\"page_range\": \"1;id\"}", false},
        {"{\"density\": 0}", false},
        {"{\"density\": 1201}", false},
        {"{\"density\": \"300\"}", true},
        {"{\"quality\": 101}", false},
        {"{\"pdf_preset\": \"SCREEN\"}", true},
        {"{\"pdf_preset\": \"-dNOSAFER\"}", false},
        {"{\"pdfa\": \"yes\"}", true},
        {"{\"grayscale\": \"maybe\"}", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *given = json_loads(cases[i].json, 0, NULL), *eff = NULL, *echo = NULL;
        struct err err = ERR_INIT;
        ck_assert_ptr_nonnull(given);
        int rc = options_apply(&converter_ghostscript, given, &eff, &echo, &err);
        ck_assert_msg((rc == 0) == cases[i].ok, "%s: %s", cases[i].json, err.msg);
        if (!cases[i].ok)
            ck_assert_int_eq(err.code, ERR_BADPARAM);
        json_decref(given);
        json_decref(eff);
        json_decref(echo);
    }
    /* /conversiontypes shows the defaults. */
    json_t *defs = options_defaults_json(&converter_ghostscript);
    ck_assert_str_eq(json_string_value(json_object_get(defs, "density")), "150");
    ck_assert_str_eq(json_string_value(json_object_get(defs, "quality")), "90");
    ck_assert(json_is_null(json_object_get(defs, "page_range")));
    json_decref(defs);
}
END_TEST

START_TEST(test_pdf_to_png_72)
{
    struct progress_log pl = {0};
    struct run_opts ro = {.options = "{\"density\": 72}", .progress = &pl};
    run_ok(fpath("doc.pdf"), "pdf", "png", &ro);
    ck_assert_int_eq(count_entries(outdir, ""), 3);
    for (int i = 1; i <= 3; i++) {
        char name[16];
        unsigned w, h, ct;
        snprintf(name, sizeof name, "%d.png", i);
        png_size(opath(name), &w, &h, &ct);
        ck_assert_uint_eq(w, 595);
        ck_assert_uint_eq(h, 842);
        ck_assert_uint_eq(ct, 2); /* RGB */
    }
    ck_assert_int_gt(pl.calls, 1);
    ck_assert(!pl.decreased);
    ck_assert(pl.last == 100);
    assert_no_leftovers();
}
END_TEST

/* The default density, and two gs processes side by side. */
START_TEST(test_pdf_to_png_150_chunks)
{
    struct progress_log pl = {0};
    struct run_opts ro = {.progress = &pl, .threads = 2};
    run_ok(fpath("doc.pdf"), "pdf", "png", &ro);
    ck_assert_int_eq(count_entries(outdir, ""), 3);
    for (int i = 1; i <= 3; i++) {
        char name[16];
        unsigned w, h, ct;
        snprintf(name, sizeof name, "%d.png", i);
        png_size(opath(name), &w, &h, &ct);
        ck_assert_uint_eq(w, 1240); /* 595 / 72 * 150 */
        ck_assert_uint_eq(h, 1754);
    }
    ck_assert(!pl.decreased);
    ck_assert(pl.last == 100);
    assert_no_leftovers();
}
END_TEST

START_TEST(test_page_range)
{
    struct run_opts ro = {.options = "{\"density\": 36, \"page_range\": \"2-3\"}"};
    run_ok(fpath("doc.pdf"), "pdf", "png", &ro);
    ck_assert_int_eq(count_entries(outdir, ""), 2);
    ck_assert_int_gt(file_size(opath("2.png")), 0);
    ck_assert_int_gt(file_size(opath("3.png")), 0);

    /* One page: the converter's single-output name. */
    ro.options = "{\"density\": 36, \"page_range\": \"2\"}";
    run_ok(fpath("doc.pdf"), "pdf", "png", &ro);
    ck_assert_int_eq(count_entries(outdir, ""), 1);
    ck_assert_int_gt(file_size(opath("out.png")), 0);

    /* Clamped at the end. */
    ro.options = "{\"density\": 36, \"page_range\": \"3-9\"}";
    run_ok(fpath("doc.pdf"), "pdf", "png", &ro);
    ck_assert_int_eq(count_entries(outdir, ""), 1);
    ck_assert_int_gt(file_size(opath("out.png")), 0);

    /* Wholly past it. */
    struct err err = ERR_INIT;
    ro.options = "{\"page_range\": \"5-6\"}";
    ck_assert_int_eq(run_with(fpath("doc.pdf"), "pdf", "png", &ro, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_str_eq(err.msg, "page_range 5-6 is past the last page (3)");
    ck_assert_int_eq(count_entries(outdir, ""), 0);
    assert_no_leftovers();
}
END_TEST

START_TEST(test_landscape)
{
    struct run_opts ro = {.options = "{\"density\": 72}"};
    unsigned w, h, ct;
    run_ok(fpath("landscape.pdf"), "pdf", "png", &ro);
    png_size(opath("out.png"), &w, &h, &ct);
    ck_assert_uint_eq(w, 842);
    ck_assert_uint_eq(h, 595);
}
END_TEST

START_TEST(test_jpg_quality_gray)
{
    unsigned w, h, comps;
    struct run_opts ro = {.options = "{\"page_range\": \"1\", \"quality\": 95}"};
    run_ok(fpath("image.pdf"), "pdf", "jpg", &ro);
    jpeg_size(opath("out.jpg"), &w, &h, &comps);
    ck_assert_uint_eq(w, 1240);
    ck_assert_uint_eq(h, 1754);
    ck_assert_uint_eq(comps, 3);
    long high = file_size(opath("out.jpg"));

    ro.options = "{\"page_range\": \"1\", \"quality\": 20}";
    run_ok(fpath("image.pdf"), "pdf", "jpg", &ro);
    long low = file_size(opath("out.jpg"));
    ck_assert_msg(low < high / 2, "quality 20: %ld bytes, quality 95: %ld", low, high);

    ro.options = "{\"page_range\": \"1\", \"grayscale\": true, \"density\": 72}";
    run_ok(fpath("image.pdf"), "pdf", "jpg", &ro);
    jpeg_size(opath("out.jpg"), &w, &h, &comps);
    ck_assert_uint_eq(comps, 1);
    ck_assert_uint_eq(w, 595);

    /* Grey PNG too. */
    unsigned ct;
    run_ok(fpath("landscape.pdf"), "pdf", "png", &ro);
    png_size(opath("out.png"), &w, &h, &ct);
    ck_assert_uint_eq(ct, 0);
}
END_TEST

START_TEST(test_tiff)
{
    unsigned w, h;
    struct run_opts ro = {.options = "{\"density\": 50}"};
    run_ok(fpath("doc.pdf"), "pdf", "tiff", &ro);
    ck_assert_int_eq(count_entries(outdir, ""), 3);
    tiff_size(opath("2.tiff"), &w, &h);
    ck_assert_uint_eq(w, 413); /* 595 / 72 * 50 */
    ck_assert_uint_eq(h, 585);
}
END_TEST

START_TEST(test_pdf_to_pdf)
{
    run_ok(fpath("image.pdf"), "pdf", "pdf", &(struct run_opts){0});
    long plain = file_size(opath("out.pdf"));
    ck_assert_int_eq(pdf_pages(opath("out.pdf")), 1);

    run_ok(fpath("image.pdf"), "pdf", "pdf",
           &(struct run_opts){.options = "{\"pdf_preset\": \"screen\"}"});
    long screen = file_size(opath("out.pdf"));
    ck_assert_int_eq(pdf_pages(opath("out.pdf")), 1);
    ck_assert_msg(screen < plain / 2, "screen %ld bytes, default %ld", screen, plain);

    /* A page range picks pages. */
    run_ok(fpath("doc.pdf"), "pdf", "pdf",
           &(struct run_opts){.options = "{\"page_range\": \"2-3\"}"});
    ck_assert_int_eq(pdf_pages(opath("out.pdf")), 2);
    ck_assert_int_eq(count_entries(outdir, ""), 1);
    assert_no_leftovers();
}
END_TEST

START_TEST(test_pdfa)
{
    run_ok(fpath("doc.pdf"), "pdf", "pdf", &(struct run_opts){.options = "{\"pdfa\": true}"});
    ck_assert_int_eq(pdf_pages(opath("out.pdf")), 3);
    ck_assert(file_has(opath("out.pdf"), "pdfaid:part"));
    ck_assert(file_has(opath("out.pdf"), "/OutputIntents"));
    ck_assert(file_has(opath("out.pdf"), "GTS_PDFA1"));
}
END_TEST

START_TEST(test_ps_and_eps)
{
    run_ok(fpath("doc.ps"), "ps", "pdf", &(struct run_opts){0});
    ck_assert_int_eq(pdf_pages(opath("out.pdf")), 3);
    ck_assert_int_eq(count_entries(outdir, ""), 1);

    /* PostScript to pages goes through a measured PDF; the range still names input pages. */
    run_ok(fpath("doc.ps"), "ps", "png",
           &(struct run_opts){.options = "{\"density\": 36, \"page_range\": \"2-3\"}"});
    ck_assert_int_eq(count_entries(outdir, ""), 2);
    unsigned w, h, ct;
    png_size(opath("3.png"), &w, &h, &ct);
    ck_assert_uint_eq(w, 298); /* 595 / 2 */

    run_ok(fpath("figure.eps"), "eps", "png", &(struct run_opts){.options = "{\"density\": 72}"});
    png_size(opath("out.png"), &w, &h, &ct);
    ck_assert_uint_eq(w, 200);
    ck_assert_uint_eq(h, 100);

    run_ok(fpath("figure.eps"), "eps", "pdf", &(struct run_opts){0});
    ck_assert_int_eq(pdf_pages(opath("out.pdf")), 1);
    assert_no_leftovers();
}
END_TEST

/* Illustrator files are PDF inside, or EPS before version 9; anything else is refused. */
START_TEST(test_ai)
{
    unsigned w, h, ct;
    run_ok(fpath("doc.pdf"), "ai", "png",
           &(struct run_opts){.options = "{\"density\": 36, \"page_range\": \"1\"}"});
    png_size(opath("out.png"), &w, &h, &ct);
    ck_assert_uint_eq(w, 298);
    run_ok(fpath("figure.eps"), "ai", "png", &(struct run_opts){.options = "{\"density\": 72}"});
    png_size(opath("out.png"), &w, &h, &ct);
    ck_assert_uint_eq(w, 200);
    ck_assert_uint_eq(h, 100);

    struct err err = ERR_INIT;
    ck_assert_int_eq(
        run_with(fpath("figure.eps") /* any non-PDF */, "pdf", "pdf", &(struct run_opts){0}, &err),
        -1);
    ck_assert_str_eq(err.msg, "the input is not a PDF file");
    err = (struct err)ERR_INIT;
    write_text(fpath("junk.ai"), "GIF89a not an illustration");
    ck_assert_int_eq(run_with(fpath("junk.ai"), "ai", "png", &(struct run_opts){0}, &err), -1);
    ck_assert_str_eq(err.msg, "the input is not a PDF file");
    ck_assert_int_eq(count_entries(outdir, ""), 0);
}
END_TEST

/* An input whose name holds ':' and '%' reaches gs under a name of ours. */
START_TEST(test_odd_name)
{
    run_ok(fpath("odd: name%d.pdf"), "pdf", "png",
           &(struct run_opts){.options = "{\"density\": 20, \"page_range\": \"1\"}"});
    ck_assert_int_gt(file_size(opath("out.png")), 0);
}
END_TEST

START_TEST(test_read_etc_passwd)
{
    struct err err = ERR_INIT;
    int rc = run_with(fpath("evil.ps"), "ps", "png", &(struct run_opts){0}, &err);
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_msg(strstr(err.msg, "invalidfileaccess") != NULL, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "root:") == NULL, "%s", err.msg);
    ck_assert_int_eq(count_entries(outdir, ""), 0);
    assert_no_leftovers();
}
END_TEST

START_TEST(test_pipe)
{
    char target[128], ps[512];
    snprintf(target, sizeof target, "/tmp/gs-pwned-%d-%ld", (int)getpid(), (long)time(NULL));
    unlink(target);
    snprintf(ps, sizeof ps,
             "%%!PS\n(%%pipe%%touch %s) (w) file closefile\n"
             "(%s) (w) file closefile\nshowpage\n",
             target, target);
    write_text(fpath("pipe.ps"), ps);
    static const char *const outs[] = {"png", "pdf"};
    for (size_t i = 0; i < 2; i++) {
        struct err err = ERR_INIT;
        int rc = run_with(fpath("pipe.ps"), "ps", outs[i], &(struct run_opts){0}, &err);
        ck_assert_int_eq(rc, -1);
        ck_assert_int_eq(err.code, ERR_CONVERT);
        ck_assert_msg(strstr(err.msg, "invalidfileaccess") != NULL, "%s", err.msg);
        ck_assert_int_eq(count_entries(outdir, ""), 0);
        ck_assert_msg(access(target, F_OK) < 0, "%s was created", target);
    }
    assert_no_leftovers();
}
END_TEST

START_TEST(test_huge_page)
{
    struct err err = ERR_INIT;
    double t0 = mono_s();
    int rc = run_with(fpath("big.pdf"), "pdf", "png", &(struct run_opts){0}, &err);
    double took = mono_s() - t0;
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_msg(strstr(err.msg, "page 1 is 41667x41667 pixels at 150 dpi") != NULL, "%s",
                  err.msg);
    ck_assert_msg(took < 2.0, "took %.2f s: gs must not have run", took);
    ck_assert_int_eq(count_entries(outdir, ""), 0);

    /* The pixel cap, below the side cap; and the same page as PostScript, measured by the
     * first pass. */
    static const struct conv_limits small = {1000000, 32768, 1000};
    err = (struct err)ERR_INIT;
    rc = run_with(fpath("doc.pdf"), "pdf", "png", &(struct run_opts){.limits = &small}, &err);
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(strstr(err.msg, "page 1 is 1240x1754 pixels at 150 dpi, larger than the "
                                  "limit of 1000000 pixels") != NULL,
                  "%s", err.msg);
    err = (struct err)ERR_INIT;
    rc = run_with(fpath("big.ps"), "ps", "png", &(struct run_opts){0}, &err);
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(strstr(err.msg, "41667x41667") != NULL, "%s", err.msg);
    ck_assert_int_eq(count_entries(outdir, ""), 0);
    assert_no_leftovers();
}
END_TEST

START_TEST(test_crop_box)
{
    unsigned w, h, ct;
    double t0 = mono_s();
    run_ok(fpath("crop.pdf"), "pdf", "png", &(struct run_opts){.options = "{\"density\": 72}"});
    png_size(opath("out.png"), &w, &h, &ct);
    ck_assert_uint_eq(w, 200);
    ck_assert_uint_eq(h, 100);
    ck_assert_msg(mono_s() - t0 < 5.0, "the MediaBox was drawn");
}
END_TEST

START_TEST(test_page_count_limit)
{
    static const struct conv_limits two = {100000000, 32768, 2};
    struct err err = ERR_INIT;
    ck_assert_int_eq(
        run_with(fpath("doc.pdf"), "pdf", "png", &(struct run_opts){.limits = &two}, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    err = (struct err)ERR_INIT;
    ck_assert_int_eq(
        run_with(fpath("doc.ps"), "ps", "pdf", &(struct run_opts){.limits = &two}, &err), -1);
    ck_assert_msg(strstr(err.msg, "more than 2 pages") != NULL, "%s", err.msg);
    ck_assert_int_eq(count_entries(outdir, ""), 0);
    assert_no_leftovers();
}
END_TEST

START_TEST(test_corrupt)
{
    struct err err = ERR_INIT;
    ck_assert_int_eq(run_with(fpath("corrupt.pdf"), "pdf", "png", &(struct run_opts){0}, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_int_gt(strlen(err.msg), 10);

    /* PostScript where a PDF was promised never reaches gs as PostScript. */
    err = (struct err)ERR_INIT;
    ck_assert_int_eq(run_with(fpath("evil.ps"), "pdf", "png", &(struct run_opts){0}, &err), -1);
    ck_assert_str_eq(err.msg, "the input is not a PDF file");
    ck_assert_int_eq(count_entries(outdir, ""), 0);
    assert_no_leftovers();
}
END_TEST

START_TEST(test_cancel)
{
    struct progress_log pl = {.cancel_on_page = true};
    struct err err = ERR_INIT;
    int rc = run_with(fpath("doc.pdf"), "pdf", "png", &(struct run_opts){.progress = &pl}, &err);
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(err.code, ERR_CANCELLED);
    ck_assert_int_eq(count_entries(outdir, ""), 0);
    assert_no_leftovers();
}
END_TEST

static Suite *ghostscript_suite(void)
{
    Suite *s = suite_create("ghostscript");
    TCase *t = tcase_create("options");
    tcase_add_test(t, test_range_parse);
    tcase_add_test(t, test_options_table);
    suite_add_tcase(s, t);

    t = tcase_create("convert");
    tcase_add_checked_fixture(t, setup, NULL);
    tcase_set_timeout(t, 60);
    tcase_add_test(t, test_pdf_to_png_72);
    tcase_add_test(t, test_pdf_to_png_150_chunks);
    tcase_add_test(t, test_page_range);
    tcase_add_test(t, test_landscape);
    tcase_add_test(t, test_jpg_quality_gray);
    tcase_add_test(t, test_tiff);
    tcase_add_test(t, test_pdf_to_pdf);
    tcase_add_test(t, test_pdfa);
    tcase_add_test(t, test_ps_and_eps);
    tcase_add_test(t, test_ai);
    tcase_add_test(t, test_odd_name);
    suite_add_tcase(s, t);

    t = tcase_create("hostile");
    tcase_add_checked_fixture(t, setup, NULL);
    tcase_set_timeout(t, 60);
    tcase_add_test(t, test_read_etc_passwd);
    tcase_add_test(t, test_pipe);
    tcase_add_test(t, test_huge_page);
    tcase_add_test(t, test_crop_box);
    tcase_add_test(t, test_page_count_limit);
    tcase_add_test(t, test_corrupt);
    tcase_add_test(t, test_cancel);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    if (access("/usr/bin/gs", X_OK) < 0) {
        puts("1..0 # SKIP /usr/bin/gs not installed");
        return 0;
    }
    fixtures_make();
    SRunner *sr = srunner_create(ghostscript_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    fixtures_remove();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
#endif
