/* SPDX-License-Identifier: MIT */
/* test_pdf.c - pdf.c (libqpdf) and the qpdf converter on PDFs made here by gs, qpdf and by
 * hand; outputs are checked with other readers (pdfinfo, pdftotext, pdftoppm, gs, qpdf,
 * libvips for the extracted images). */
#include "convertd-config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#if !HAVE_QPDF
int main(void)
{
    puts("1..0 # SKIP libqpdf not built");
    return 0;
}
#else

#include <ftw.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#if HAVE_VIPS
#include <vips/vips.h>
#endif

#include "common/mem.h"
#include "converters/converter.h"
#include "converters/pdf.h"
#include "converters/registry.h"

extern const struct converter converter_qpdf;

static char tmpdir[256];

/* ---- helpers ----------------------------------------------------------------------- */

static char *tpath(const char *name)
{
    static char buf[64][600];
    static int n;
    char *p = buf[n++ % 64];
    snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
    return p;
}

static void run_ok(const char *cmd)
{
    int st = system(cmd);
    ck_assert_msg(st == 0, "command failed (%d): %s", st, cmd);
}

/* The standard output of cmd (malloc'd), asserting it exits 0. */
static char *capture(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t cap = 4096, len = 0;
    char *out = xmalloc(cap);
    size_t n;
    while ((n = fread(out + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 2)
            out = xrealloc(out, cap *= 2);
    }
    out[len] = '\0';
    int st = pclose(p);
    ck_assert_msg(st == 0, "command failed (%d): %s", st, cmd);
    return out;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    unsigned char *p = xmalloc((size_t)n + 1);
    ck_assert_int_eq(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    p[n] = 0;
    *len = (size_t)n;
    return p;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* A PDF written by hand: objs[i] is object i + 1, object 1 the catalog. With bad_xref every
 * offset in the table is wrong, so that qpdf must rebuild it by scanning. */
static void write_pdf(const char *path, char *const *objs, int n, const char *trailer_extra,
                      bool bad_xref)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    long *off = xcalloc((size_t)n, sizeof *off);
    fputs("%PDF-1.6\n", f);
    for (int i = 0; i < n; i++) {
        off[i] = ftell(f);
        fprintf(f, "%d 0 obj\n%s\nendobj\n", i + 1, objs[i]);
    }
    long xref = ftell(f);
    fprintf(f, "xref\n0 %d\n0000000000 65535 f \n", n + 1);
    for (int i = 0; i < n; i++)
        fprintf(f, "%010ld 00000 n \n", bad_xref ? off[i] / 2 + 3 : off[i]);
    fprintf(f, "trailer\n<< /Size %d /Root 1 0 R %s >>\nstartxref\n%ld\n%%%%EOF\n", n + 1,
            trailer_extra ? trailer_extra : "", bad_xref ? xref + 7 : xref);
    ck_assert_int_eq(fclose(f), 0);
    free(off);
}

/* One page under one /Pages node, each with extra keys. */
static void write_one_page(const char *path, const char *pages_extra, const char *page_extra)
{
    char *objs[3];
    objs[0] = xstrdup("<< /Type /Catalog /Pages 2 0 R >>");
    objs[1] = xasprintf("<< /Type /Pages /Kids [3 0 R] /Count 1 %s >>", pages_extra);
    objs[2] = xasprintf("<< /Type /Page /Parent 2 0 R %s >>", page_extra);
    write_pdf(path, objs, 3, NULL, false);
    for (int i = 0; i < 3; i++)
        free(objs[i]);
}

/* A chain of `levels` /Pages nodes with one page at the bottom. */
static void write_deep(const char *path, int levels)
{
    int n = levels + 2;
    char **objs = xcalloc((size_t)n, sizeof *objs);
    objs[0] = xstrdup("<< /Type /Catalog /Pages 2 0 R >>");
    for (int i = 0; i < levels; i++) {
        int me = 2 + i;
        if (i == 0)
            objs[me - 1] = xasprintf("<< /Type /Pages /Kids [%d 0 R] /Count 1 >>", me + 1);
        else
            objs[me - 1] = xasprintf("<< /Type /Pages /Parent %d 0 R /Kids [%d 0 R] /Count 1 >>",
                                     me - 1, me + 1);
    }
    objs[n - 1] = xasprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 100 200] >>", n - 1);
    write_pdf(path, objs, n, NULL, false);
    for (int i = 0; i < n; i++)
        free(objs[i]);
    free(objs);
}

/* A PDF of A4 pages by gs, page i showing "<label> i"; PostScript appended (pdfmarks). */
static void gs_pdf(const char *path, const char *label, int pages, const char *extra_ps)
{
    char ps[2048];
    size_t len = 0;
    len += (size_t)snprintf(ps + len, sizeof ps - len,
                            "<< /PageSize [595 842] >> setpagedevice "
                            "/Helvetica findfont 24 scalefont setfont ");
    for (int i = 1; i <= pages; i++)
        len += (size_t)snprintf(ps + len, sizeof ps - len, "100 700 moveto (%s %d) show showpage ",
                                label, i);
    char *cmd = xasprintf("gs -q -dSAFER -dBATCH -dNOPAUSE -sDEVICE=pdfwrite -sOutputFile=%s "
                          "-c \"%s\" -c \"%s\"",
                          path, ps, extra_ps ? extra_ps : "");
    run_ok(cmd);
    free(cmd);
}

/* Fixtures shared by every test (made once, in the parent, before the forks). */
static void make_fixtures(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_pdf-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    gs_pdf(tpath("a.pdf"), "Alpha", 3,
           "[ /Title (Hello) /Author (Me) /DOCINFO pdfmark "
           "[ /Title (Chapter A) /Page 2 /OUT pdfmark");
    gs_pdf(tpath("b.pdf"), "Bravo", 2, "[ /Title (Chapter B) /Page 1 /OUT pdfmark");
    char *cmd =
        xasprintf("qpdf --encrypt user owner 256 -- %s %s", tpath("a.pdf"), tpath("locked.pdf"));
    run_ok(cmd);
    free(cmd);
    cmd = xasprintf("qpdf --encrypt '' owner 256 --modify=none -- %s %s", tpath("a.pdf"),
                    tpath("open-encrypted.pdf"));
    run_ok(cmd);
    free(cmd);
    const char junk[] = "this is not a PDF at all, just some words\n";
    write_file(tpath("garbage.pdf"), junk, sizeof junk - 1);
    size_t len;
    unsigned char *a = read_file(tpath("a.pdf"), &len);
    write_file(tpath("truncated.pdf"), a, len / 3);
    free(a);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_fixtures(void)
{
    nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Page sizes as pdfinfo sees them. */
static void pdfinfo_sizes(const char *path, int pages, double *w, double *h)
{
    char *cmd = xasprintf("pdfinfo -f 1 -l %d %s", pages, path);
    char *out = capture(cmd);
    for (int i = 1; i <= pages; i++) {
        char key[32];
        snprintf(key, sizeof key, "Page %4d size:", i);
        char *p = strstr(out, key);
        ck_assert_msg(p != NULL, "no %s in %s", key, out);
        ck_assert_int_eq(sscanf(p + strlen(key), "%lf x %lf", &w[i - 1], &h[i - 1]), 2);
    }
    free(out);
    free(cmd);
}

static int pdfinfo_pages(const char *path)
{
    char *cmd = xasprintf("pdfinfo %s", path);
    char *out = capture(cmd);
    char *p = strstr(out, "Pages:");
    ck_assert_ptr_nonnull(p);
    int n = (int)strtol(p + 6, NULL, 10);
    free(out);
    free(cmd);
    return n;
}

static char *page_text(const char *path, int page)
{
    char *cmd = xasprintf("pdftotext -f %d -l %d %s -", page, page, path);
    char *out = capture(cmd);
    free(cmd);
    return out;
}

/* ---- facts ------------------------------------------------------------------------- */

START_TEST(test_facts_gs)
{
    struct pdf_facts f;
    struct err err = ERR_INIT;
    ck_assert_msg(pdf_read_facts(tpath("a.pdf"), 1000, &f, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(f.pages, 3);
    ck_assert_ptr_nonnull(f.sizes);
    for (int i = 0; i < 3; i++) {
        ck_assert_double_eq_tol(f.sizes[i].width_pt, 595, 0.001);
        ck_assert_double_eq_tol(f.sizes[i].height_pt, 842, 0.001);
    }
    ck_assert_str_eq(f.title, "Hello");
    ck_assert_str_eq(f.author, "Me");
    ck_assert_str_eq(f.version, "1.7");
    ck_assert(!f.encrypted);
    pdf_facts_fini(&f);
    ck_assert_ptr_null(f.title);
    pdf_facts_fini(&f); /* twice is harmless */
}
END_TEST

static const struct size_case {
    const char *pages_extra, *page_extra;
    double w, h;
} size_cases[] = {
    {"", "/MediaBox [0 0 595 842]", 595, 842},
    {"", "/MediaBox [0 0 842 595]", 842, 595},               /* landscape */
    {"", "/MediaBox [0 0 595 842] /Rotate 90", 842, 595},    /* shown turned */
    {"", "/MediaBox [0 0 595 842] /Rotate 270", 842, 595},   /* shown turned */
    {"", "/MediaBox [0 0 595 842] /Rotate -90", 842, 595},   /* same as 270 */
    {"", "/MediaBox [0 0 595 842] /Rotate 180", 595, 842},   /* upside down */
    {"", "/MediaBox [0 0 595 842] /Rotate 450", 842, 595},   /* 90 again */
    {"", "/MediaBox [0 0 100 50] /UserUnit 2", 200, 100},    /* big pages */
    {"", "/MediaBox [595 842 0 0]", 595, 842},               /* corners swapped */
    {"", "/MediaBox [-10 -20 90 30]", 100, 50},              /* offset origin */
    {"", "/MediaBox [0 0 595.276 841.89]", 595.276, 841.89}, /* A4 in mm, rounded */
    {"", "/MediaBox [0 0 595 842] /CropBox [10 10 110 60]", 100, 50},
    {"", "/MediaBox [0 0 200 100] /CropBox [-50 -50 500 500]", 200, 100}, /* clipped */
    {"", "/MediaBox [0 0 200 100] /CropBox [300 300 400 400]", 200, 100}, /* outside */
    {"/MediaBox [0 0 300 400]", "", 300, 400},                            /* inherited */
    {"/MediaBox [0 0 300 400] /Rotate 90", "", 400, 300},                 /* both inherited */
    {"/MediaBox [0 0 300 400]", "/CropBox [0 0 100 100] /Rotate 90 /UserUnit 3", 300, 300},
    {"/MediaBox [0 0 300 400]", "/MediaBox [0 0 10 20]", 10, 20}, /* own box wins */
    {"", "", 612, 792},                                           /* none: US Letter */
    {"", "/MediaBox [0 0 0 0]", 612, 792},                        /* empty: US Letter */
    {"", "/MediaBox [0 0 (a) 5]", 612, 792},                      /* not numbers */
};

START_TEST(test_facts_sizes)
{
    const struct size_case *c = &size_cases[_i];
    struct pdf_facts f;
    struct err err = ERR_INIT;
    char *path = tpath("size.pdf");
    write_one_page(path, c->pages_extra, c->page_extra);
    ck_assert_msg(pdf_read_facts(path, 10, &f, &err) == 0, "case %d: %s", _i, err.msg);
    ck_assert_int_eq(f.pages, 1);
    ck_assert_msg(fabs(f.sizes[0].width_pt - c->w) < 0.001 &&
                      fabs(f.sizes[0].height_pt - c->h) < 0.001,
                  "case %d (%s | %s): %gx%g, expected %gx%g", _i, c->pages_extra, c->page_extra,
                  f.sizes[0].width_pt, f.sizes[0].height_pt, c->w, c->h);
    ck_assert_ptr_null(f.title);
    ck_assert_ptr_null(f.author);
    ck_assert_str_eq(f.version, "1.6");
    pdf_facts_fini(&f);
}
END_TEST

START_TEST(test_info_json)
{
    struct pdf_facts f;
    struct err err = ERR_INIT;
    ck_assert_int_eq(pdf_read_facts(tpath("a.pdf"), 0, &f, &err), 0);
    json_t *o = pdf_info_json(&f, 12345);
    ck_assert_str_eq(json_string_value(json_object_get(o, "format")), "pdf");
    ck_assert_int_eq(json_integer_value(json_object_get(o, "size")), 12345);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "pages")), 3);
    json_t *sizes = json_object_get(o, "page_sizes");
    ck_assert_int_eq(json_array_size(sizes), 3);
    ck_assert_double_eq(json_number_value(json_object_get(json_array_get(sizes, 2), "width_pt")),
                        595.0);
    ck_assert_double_eq(json_number_value(json_object_get(json_array_get(sizes, 2), "height_pt")),
                        842.0);
    ck_assert_str_eq(json_string_value(json_object_get(o, "title")), "Hello");
    ck_assert_str_eq(json_string_value(json_object_get(o, "author")), "Me");
    ck_assert_str_eq(json_string_value(json_object_get(o, "pdf_version")), "1.7");
    json_decref(o);
    pdf_facts_fini(&f);

    /* Two decimals; no title or author keys when the PDF has none; no sizes past a cap. */
    struct pdf_page_size sz = {595.2756, 841.8898};
    struct pdf_facts g = {.pages = 1, .sizes = &sz, .version = (char *)"1.4"};
    o = pdf_info_json(&g, 10);
    json_t *s0 = json_array_get(json_object_get(o, "page_sizes"), 0);
    ck_assert_double_eq(json_real_value(json_object_get(s0, "width_pt")), 595.28);
    ck_assert_double_eq(json_real_value(json_object_get(s0, "height_pt")), 841.89);
    ck_assert_ptr_null(json_object_get(o, "title"));
    ck_assert_ptr_null(json_object_get(o, "author"));
    json_decref(o);
    g.sizes = NULL;
    o = pdf_info_json(&g, 10);
    ck_assert_ptr_null(json_object_get(o, "page_sizes"));
    ck_assert_int_eq(json_integer_value(json_object_get(o, "pages")), 1);
    json_decref(o);
}
END_TEST

START_TEST(test_facts_utf8)
{
    /* UTF-16BE with a BOM, and PDFDocEncoding (\351 is é there, as in Latin-1). */
    char *objs[] = {
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>",
        "<< /Title <FEFF00E9007400E900202192> /Author (\\351t\\351) /Subject () >>",
    };
    struct pdf_facts f;
    struct err err = ERR_INIT;
    write_pdf(tpath("utf.pdf"), objs, 4, "/Info 4 0 R", false);
    ck_assert_msg(pdf_read_facts(tpath("utf.pdf"), 0, &f, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(f.title, "\xc3\xa9t\xc3\xa9 \xe2\x86\x92");
    ck_assert_str_eq(f.author, "\xc3\xa9t\xc3\xa9");
    pdf_facts_fini(&f);

    /* An empty title is no title. */
    objs[3] = "<< /Title () /Author 42 >>";
    write_pdf(tpath("utf.pdf"), objs, 4, "/Info 4 0 R", false);
    ck_assert_int_eq(pdf_read_facts(tpath("utf.pdf"), 0, &f, &err), 0);
    ck_assert_ptr_null(f.title);
    ck_assert_ptr_null(f.author);
    pdf_facts_fini(&f);
}
END_TEST

START_TEST(test_facts_max_pages)
{
    struct pdf_facts f;
    struct err err = ERR_INIT;
    ck_assert_int_eq(pdf_read_facts(tpath("a.pdf"), 2, &f, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_str_eq(err.msg, "the PDF has 3 pages, more than the limit of 2");
    ck_assert_ptr_null(f.sizes);
    pdf_facts_fini(&f);

    err_clear(&err);
    ck_assert_int_eq(pdf_read_facts(tpath("a.pdf"), 3, &f, &err), 0);
    ck_assert_int_eq(f.pages, 3);
    pdf_facts_fini(&f);
}
END_TEST

/* Page trees that lie or never end: refused (or read), never a crash; a hang would hit the
 * test case's timeout (a few seconds in all, most of it qpdf parsing the 60000 objects). */
START_TEST(test_hostile_trees)
{
    struct pdf_facts f;
    struct err err = ERR_INIT;
    char *objs[4] = {"<< /Type /Catalog /Pages 2 0 R >>"};

    /* A /Count of two billion over one page: the cap refuses on the /Count alone... */
    objs[1] = "<< /Type /Pages /Kids [3 0 R] /Count 2000000000 >>";
    objs[2] = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>";
    write_pdf(tpath("count.pdf"), objs, 3, NULL, false);
    ck_assert_int_eq(pdf_read_facts(tpath("count.pdf"), 1000, &f, &err), -1);
    ck_assert_str_eq(err.msg, "the PDF has 2000000000 pages, more than the limit of 1000");
    pdf_facts_fini(&f);
    /* ...and without a cap the real tree is read. */
    err_clear(&err);
    ck_assert_msg(pdf_read_facts(tpath("count.pdf"), 0, &f, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(f.pages, 1);
    pdf_facts_fini(&f);

    /* A /Count that says 1 over 50 pages: our own walk counts them. */
    char *kids = xstrdup("");
    for (int i = 0; i < 50; i++) {
        char *k = xasprintf("%s3 0 R ", kids);
        free(kids);
        kids = k;
    }
    objs[1] = xasprintf("<< /Type /Pages /Kids [%s] /Count 1 >>", kids);
    write_pdf(tpath("lying.pdf"), objs, 3, NULL, false);
    free(objs[1]);
    free(kids);
    err_clear(&err);
    ck_assert_int_eq(pdf_read_facts(tpath("lying.pdf"), 10, &f, &err), -1);
    ck_assert_str_eq(err.msg, "the PDF has 50 pages, more than the limit of 10");
    pdf_facts_fini(&f);
    /* The same page 50 times is 50 pages for qpdf too (it copies the duplicates). */
    err_clear(&err);
    ck_assert_msg(pdf_read_facts(tpath("lying.pdf"), 0, &f, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(f.pages, 50);
    pdf_facts_fini(&f);

    /* A loop: /Pages 3 lists /Pages 2 again. */
    objs[1] = "<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>";
    objs[2] = "<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>";
    objs[3] = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>";
    write_pdf(tpath("loop.pdf"), objs, 4, NULL, false);
    err_clear(&err);
    ck_assert_int_eq(pdf_read_facts(tpath("loop.pdf"), 0, &f, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_str_eq(err.msg, "cannot read the PDF: loop in the page tree");
    pdf_facts_fini(&f);

    /* 60 levels, each listing the next twice: 2^60 paths, each node entered once. */
    enum { LEVELS = 60 };
    char *dag[LEVELS + 2];
    dag[0] = xstrdup("<< /Type /Catalog /Pages 2 0 R >>");
    for (int i = 0; i < LEVELS; i++)
        dag[i + 1] = xasprintf("<< /Type /Pages /Kids [%d 0 R %d 0 R] /Count 2 >>", i + 3, i + 3);
    dag[LEVELS + 1] = xstrdup("<< /Type /Page /MediaBox [0 0 10 10] >>");
    write_pdf(tpath("dag.pdf"), dag, LEVELS + 2, NULL, false);
    for (int i = 0; i < LEVELS + 2; i++)
        free(dag[i]);
    err_clear(&err);
    ck_assert_int_eq(pdf_read_facts(tpath("dag.pdf"), 0, &f, &err), -1);
    ck_assert_str_eq(err.msg, "cannot read the PDF: loop in the page tree");
    pdf_facts_fini(&f);

    /* 60000 levels crash qpdf's own recursive walk (8 MB stack): refused before it. */
    write_deep(tpath("deep.pdf"), 60000);
    err_clear(&err);
    ck_assert_int_eq(pdf_read_facts(tpath("deep.pdf"), 0, &f, &err), -1);
    ck_assert_str_eq(err.msg, "cannot read the PDF: page tree deeper than 256 levels");
    pdf_facts_fini(&f);
    /* 200 levels are odd but fine. */
    write_deep(tpath("deep200.pdf"), 200);
    err_clear(&err);
    ck_assert_msg(pdf_read_facts(tpath("deep200.pdf"), 0, &f, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(f.pages, 1);
    ck_assert_double_eq_tol(f.sizes[0].height_pt, 200, 0.001);
    pdf_facts_fini(&f);
}
END_TEST

START_TEST(test_bad_files)
{
    static const struct {
        const char *name, *msg_prefix;
    } cases[] = {
        {"garbage.pdf", "cannot read the PDF: "},
        {"truncated.pdf", "cannot read the PDF: "},
        {"missing.pdf", "cannot read the PDF: "},
        {"locked.pdf", "the PDF is password protected"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct pdf_facts f;
        struct err err = ERR_INIT;
        ck_assert_int_eq(pdf_read_facts(tpath(cases[i].name), 0, &f, &err), -1);
        ck_assert_int_eq(err.code, ERR_CONVERT);
        ck_assert_msg(strncmp(err.msg, cases[i].msg_prefix, strlen(cases[i].msg_prefix)) == 0,
                      "%s: %s", cases[i].name, err.msg);
        /* qpdf's message, never our temporary path. */
        ck_assert_msg(strstr(err.msg, tmpdir) == NULL, "%s", err.msg);
        ck_assert_msg(strlen(err.msg) > strlen(cases[i].msg_prefix) ||
                          strcmp(cases[i].name, "locked.pdf") == 0,
                      "%s: no reason given", cases[i].name);
        pdf_facts_fini(&f);
    }
}
END_TEST

START_TEST(test_encrypted_open)
{
    /* An empty user password (permissions only): read, and flagged. */
    struct pdf_facts f;
    struct err err = ERR_INIT;
    ck_assert_msg(pdf_read_facts(tpath("open-encrypted.pdf"), 0, &f, &err) == 0, "%s", err.msg);
    ck_assert(f.encrypted);
    ck_assert_int_eq(f.pages, 3);
    ck_assert_str_eq(f.title, "Hello"); /* decrypted */
    pdf_facts_fini(&f);
}
END_TEST

START_TEST(test_repaired_xref)
{
    /* Every xref offset and startxref wrong, objects intact: qpdf rebuilds the table. */
    char *objs[] = {
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 400] >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 500 600] >>",
        "<< /Title (Repaired) >>",
    };
    struct pdf_facts f;
    struct err err = ERR_INIT;
    write_pdf(tpath("badxref.pdf"), objs, 5, "/Info 5 0 R", true);
    ck_assert_msg(pdf_read_facts(tpath("badxref.pdf"), 0, &f, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(f.pages, 2);
    ck_assert_double_eq_tol(f.sizes[1].width_pt, 500, 0.001);
    ck_assert_str_eq(f.title, "Repaired");
    pdf_facts_fini(&f);

    /* gs's file with its xref table overwritten by spaces. */
    size_t len;
    char *a = (char *)read_file(tpath("a.pdf"), &len);
    /* memmem: the compressed streams before it hold NUL bytes. */
    char *x = memmem(a, len, "\nxref\n", 6);
    ck_assert_ptr_nonnull(x);
    char *t = memmem(x, len - (size_t)(x - a), "trailer", 7);
    ck_assert_ptr_nonnull(t);
    memset(x + 1, ' ', (size_t)(t - x - 1));
    write_file(tpath("a-badxref.pdf"), a, len);
    free(a);
    err_clear(&err);
    ck_assert_msg(pdf_read_facts(tpath("a-badxref.pdf"), 0, &f, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(f.pages, 3);
    ck_assert_str_eq(f.title, "Hello");
    pdf_facts_fini(&f);
}
END_TEST

/* ---- merge ------------------------------------------------------------------------- */

START_TEST(test_merge)
{
    const char *inputs[] = {tpath("a.pdf"), tpath("b.pdf"), NULL};
    const char *out = tpath("merged.pdf");
    struct err err = ERR_INIT;
    ck_assert_msg(pdf_merge(inputs, out, 5, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(pdfinfo_pages(out), 5);
    static const char *const want[] = {"Alpha 1", "Alpha 2", "Alpha 3", "Bravo 1", "Bravo 2"};
    for (int i = 0; i < 5; i++) {
        char *text = page_text(out, i + 1);
        ck_assert_msg(strstr(text, want[i]) != NULL, "page %d: %s", i + 1, text);
        free(text);
    }

    /* Bookmarks of both, pointing at their pages in the merged file. */
    char *cmd = xasprintf("qpdf --json --json-key=outlines %s", out);
    char *js = capture(cmd);
    json_error_t jerr;
    json_t *doc = json_loads(js, 0, &jerr);
    ck_assert_msg(doc != NULL, "%s", jerr.text);
    json_t *outl = json_object_get(doc, "outlines");
    ck_assert_int_eq(json_array_size(outl), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(outl, 0), "title")),
                     "Chapter A");
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_array_get(outl, 0), "destpageposfrom1")), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(outl, 1), "title")),
                     "Chapter B");
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_array_get(outl, 1), "destpageposfrom1")), 4);
    json_decref(doc);
    free(js);
    free(cmd);

    /* A well-formed file for the strict readers too. */
    cmd = xasprintf("qpdf --check %s >/dev/null", out);
    run_ok(cmd);
    free(cmd);
    cmd = xasprintf("gs -q -dSAFER -dBATCH -dNOPAUSE -sDEVICE=nullpage %s 2>&1", out);
    char *gs = capture(cmd);
    ck_assert_msg(gs[0] == '\0', "gs: %s", gs);
    free(gs);
    free(cmd);

    /* The same file twice, and three inputs. */
    const char *three[] = {tpath("b.pdf"), tpath("a.pdf"), tpath("b.pdf"), NULL};
    ck_assert_msg(pdf_merge(three, out, 0, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(pdfinfo_pages(out), 7);
    char *text = page_text(out, 6);
    ck_assert_msg(strstr(text, "Bravo 1") != NULL, "page 6: %s", text);
    free(text);
    struct pdf_facts f;
    ck_assert_int_eq(pdf_read_facts(out, 0, &f, &err), 0);
    ck_assert_int_eq(f.pages, 7);
    ck_assert_double_eq_tol(f.sizes[6].width_pt, 595, 0.001);
    pdf_facts_fini(&f);
}
END_TEST

START_TEST(test_merge_refused)
{
    const char *out = tpath("refused.pdf");
    static const struct {
        const char *inputs[4];
        int max_pages;
        const char *msg;
    } cases[] = {
        {{"a.pdf", "b.pdf"},
         4,
         "input 2: the merged PDF would have 5 pages, more than the limit of 4"},
        {{"a.pdf", "b.pdf", "a.pdf"},
         7,
         "input 3: the merged PDF would have 8 pages, more than the limit of 7"},
        {{"a.pdf", "b.pdf", "b.pdf"},
         5,
         "input 3: the merged PDF would have 7 pages, more than the limit of 5"},
        {{"b.pdf", "a.pdf"},
         1,
         "input 1: the merged PDF would have 2 pages, more than the limit of 1"},
        {{"a.pdf", "garbage.pdf"}, 0, "input 2: cannot read the PDF: "},
        {{"a.pdf", "b.pdf", "truncated.pdf"}, 0, "input 3: cannot read the PDF: "},
        {{"locked.pdf", "a.pdf"}, 0, "input 1: the PDF is password protected"},
        {{"a.pdf", "loop.pdf"}, 0, "input 2: cannot read the PDF: loop in the page tree"},
        {{NULL}, 0, "no PDF to merge"},
    };
    /* loop.pdf of test_hostile_trees is not shared: make it here. */
    char *objs[] = {
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>",
    };
    write_pdf(tpath("loop.pdf"), objs, 3, NULL, false);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *inputs[4] = {NULL};
        for (int k = 0; k < 3 && cases[i].inputs[k]; k++)
            inputs[k] = tpath(cases[i].inputs[k]);
        struct err err = ERR_INIT;
        write_file(out, "old", 3); /* a leftover is removed on failure */
        ck_assert_int_eq(pdf_merge(inputs, out, cases[i].max_pages, &err), -1);
        ck_assert_int_eq(err.code, ERR_CONVERT);
        ck_assert_msg(strncmp(err.msg, cases[i].msg, strlen(cases[i].msg)) == 0, "case %zu: %s", i,
                      err.msg);
        ck_assert_msg(!exists(out), "case %zu left %s", i, out);
        unlink(out);
    }
    /* The exact cap passes. */
    const char *ok[] = {tpath("a.pdf"), tpath("b.pdf"), NULL};
    struct err err = ERR_INIT;
    ck_assert_msg(pdf_merge(ok, out, 5, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(pdfinfo_pages(out), 5);
    /* An unwritable output fails cleanly. */
    err_clear(&err);
    ck_assert_int_eq(pdf_merge(ok, tpath("no/such/dir/out.pdf"), 0, &err), -1);
    ck_assert_msg(strstr(err.msg, "cannot write the merged PDF") != NULL, "%s", err.msg);
}
END_TEST

/* ---- images ------------------------------------------------------------------------ */

/* A P6 or P5 file from pdftoppm: width, height, channels, pixels (malloc'd). */
static unsigned char *read_pnm(const char *path, int *w, int *h, int *ch)
{
    size_t len;
    unsigned char *p = read_file(path, &len);
    ck_assert_msg(len > 2 && p[0] == 'P' && (p[1] == '6' || p[1] == '5'), "%s is not PNM", path);
    *ch = p[1] == '6' ? 3 : 1;
    /* Three numbers (width, height, maxval), with '#' comment lines allowed between. */
    long v[3];
    size_t off = 2;
    for (int k = 0; k < 3; k++) {
        while (off < len && (p[off] == ' ' || p[off] == '\n' || p[off] == '#')) {
            if (p[off] == '#')
                while (off < len && p[off] != '\n')
                    off++;
            else
                off++;
        }
        char *end;
        v[k] = strtol((char *)p + off, &end, 10);
        ck_assert_ptr_ne(end, (char *)p + off);
        off = (size_t)(end - (char *)p);
    }
    off++; /* the one whitespace byte before the samples */
    *w = (int)v[0];
    *h = (int)v[1];
    ck_assert_int_eq(v[2], 255);
    ck_assert_uint_eq(len - off, (size_t)*w * (size_t)*h * (size_t)*ch);
    unsigned char *px = xmalloc(len - off);
    memcpy(px, p + off, len - off);
    free(p);
    return px;
}

START_TEST(test_write_images)
{
    enum { GW = 30, GH = 20, RW = 64, RH = 48 };
    static unsigned char gray[GW * GH], rgb[RW * RH * 3];
    /* Gray: a left-to-right ramp. RGB: white with a red square and a blue bar. */
    for (int y = 0; y < GH; y++)
        for (int x = 0; x < GW; x++)
            gray[y * GW + x] = (unsigned char)(x * 255 / (GW - 1));
    for (int y = 0; y < RH; y++) {
        for (int x = 0; x < RW; x++) {
            unsigned char *px = &rgb[(y * RW + x) * 3];
            px[0] = px[1] = px[2] = 255;
            if (x >= 8 && x < 32 && y >= 8 && y < 32)
                px[1] = px[2] = 0;
            if (y >= 40)
                px[0] = px[1] = 0;
        }
    }
    /* A 40x30 green JPEG from gs. */
    char *cmd = xasprintf("gs -q -dSAFER -dBATCH -dNOPAUSE -sDEVICE=jpeg -r72 -g40x30 "
                          "-sOutputFile=%s -c \"0 0.8 0 setrgbcolor 0 0 40 30 rectfill "
                          "showpage\"",
                          tpath("green.jpg"));
    run_ok(cmd);
    free(cmd);
    size_t jlen;
    unsigned char *jpeg = read_file(tpath("green.jpg"), &jlen);

    struct pdf_image images[] = {
        {.width = GW, .height = GH, .bands = 1, .data = gray, .dpi = 144},
        {.width = RW, .height = RH, .bands = 3, .data = rgb, .dpi = 72},
        {.width = 40, .height = 30, .bands = 3, .jpeg = jpeg, .jpeg_len = jlen, .dpi = 0},
    };
    const char *out = tpath("images.pdf");
    struct err err = ERR_INIT;
    ck_assert_msg(pdf_write_images(images, 3, out, &err) == 0, "%s", err.msg);

    double w[3], h[3];
    pdfinfo_sizes(out, 3, w, h);
    ck_assert_double_eq_tol(w[0], 15, 0.01); /* 30 px at 144 dpi */
    ck_assert_double_eq_tol(h[0], 10, 0.01);
    ck_assert_double_eq_tol(w[1], 64, 0.01);
    ck_assert_double_eq_tol(h[1], 48, 0.01);
    ck_assert_double_eq_tol(w[2], 40, 0.01); /* dpi 0 means 72 */
    ck_assert_double_eq_tol(h[2], 30, 0.01);

    /* Pixels deflated, the JPEG embedded as it is. */
    size_t len;
    char *pdf = (char *)read_file(out, &len);
    ck_assert_ptr_nonnull(memmem(pdf, len, "/FlateDecode", 12));
    ck_assert_ptr_nonnull(memmem(pdf, len, "/DCTDecode", 10));
    ck_assert_ptr_nonnull(memmem(pdf, len, jpeg, jlen));
    ck_assert_ptr_null(memmem(pdf, len, rgb, 64 * 3)); /* no raw row */
    free(pdf);

    cmd = xasprintf("gs -q -dSAFER -dBATCH -dNOPAUSE -sDEVICE=nullpage %s 2>&1", out);
    char *gs = capture(cmd);
    ck_assert_msg(gs[0] == '\0', "gs: %s", gs);
    free(gs);
    free(cmd);

    /* Rendered back by gs at 72 dpi, the RGB page is the image, sample for sample. */
    cmd = xasprintf("gs -q -dSAFER -dBATCH -dNOPAUSE -sDEVICE=ppmraw -r72 -dFirstPage=2 "
                    "-dLastPage=2 -sOutputFile=%s %s",
                    tpath("rgb-gs.ppm"), out);
    run_ok(cmd);
    free(cmd);
    int pw, ph, ch;
    unsigned char *px = read_pnm(tpath("rgb-gs.ppm"), &pw, &ph, &ch);
    ck_assert_int_eq(pw, RW);
    ck_assert_int_eq(ph, RH);
    ck_assert_int_eq(ch, 3);
    int bad = 0;
    for (int i = 0; i < RW * RH * 3; i++)
        if (abs(px[i] - rgb[i]) > 2)
            bad++;
    ck_assert_msg(bad == 0, "%d samples differ", bad);
    free(px);
    /* pdftoppm smooths the edges of scaled images: compare away from them. */
    cmd = xasprintf("pdftoppm -r 72 -f 2 -l 2 %s %s", out, tpath("rgb"));
    run_ok(cmd);
    free(cmd);
    px = read_pnm(tpath("rgb-2.ppm"), &pw, &ph, &ch);
    ck_assert_int_eq(pw, RW);
    ck_assert_int_eq(ph, RH);
    static const int probes[][2] = {{20, 20}, {9, 9}, {30, 30}, {50, 20}, {2, 2}, {40, 44}};
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        const unsigned char *got = &px[(probes[i][1] * RW + probes[i][0]) * 3];
        const unsigned char *want = &rgb[(probes[i][1] * RW + probes[i][0]) * 3];
        for (int c = 0; c < 3; c++)
            ck_assert_msg(abs(got[c] - want[c]) <= 8, "(%d,%d)[%d]: %d, not %d", probes[i][0],
                          probes[i][1], c, got[c], want[c]);
    }
    free(px);

    /* The gray page at 144 dpi, and the JPEG page: green. */
    cmd = xasprintf("gs -q -dSAFER -dBATCH -dNOPAUSE -sDEVICE=pgmraw -r144 -dFirstPage=1 "
                    "-dLastPage=1 -sOutputFile=%s %s",
                    tpath("gray-gs.pgm"), out);
    run_ok(cmd);
    free(cmd);
    px = read_pnm(tpath("gray-gs.pgm"), &pw, &ph, &ch);
    ck_assert_int_eq(pw, GW);
    ck_assert_int_eq(ph, GH);
    ck_assert_int_eq(ch, 1);
    for (int i = 0; i < GW * GH; i++)
        ck_assert_msg(abs(px[i] - gray[i]) <= 2, "sample %d: %d, not %d", i, px[i], gray[i]);
    free(px);
    cmd = xasprintf("pdftoppm -r 72 -f 3 -l 3 %s %s", out, tpath("jpg"));
    run_ok(cmd);
    free(cmd);
    px = read_pnm(tpath("jpg-3.ppm"), &pw, &ph, &ch);
    ck_assert_int_eq(pw, 40);
    ck_assert_int_eq(ph, 30);
    unsigned char *g = &px[(15 * 40 + 20) * 3];
    ck_assert_msg(g[0] < 20 && g[1] > 185 && g[2] < 20, "%d %d %d", g[0], g[1], g[2]);
    free(px);
    free(jpeg);
}
END_TEST

START_TEST(test_write_images_refused)
{
    static const unsigned char px[12] = {0};
    static const unsigned char notjpeg[] = "GIF89a....";
    const struct pdf_image cases[] = {
        {.width = 2, .height = 2, .bands = 2, .data = px},
        {.width = 2, .height = 2, .bands = 4, .data = px},
        {.width = 0, .height = 2, .bands = 1, .data = px},
        {.width = 2, .height = -1, .bands = 1, .data = px},
        {.width = 2, .height = 2, .bands = 3},
        {.width = 2, .height = 2, .bands = 3, .jpeg = notjpeg, .jpeg_len = sizeof notjpeg},
    };
    const char *out = tpath("bad-images.pdf");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* A good page first: the file must still not be left behind. */
        struct pdf_image pair[2] = {{.width = 2, .height = 2, .bands = 3, .data = px}, cases[i]};
        struct err err = ERR_INIT;
        ck_assert_int_eq(pdf_write_images(pair, 2, out, &err), -1);
        ck_assert_int_eq(err.code, ERR_CONVERT);
        ck_assert_msg(strncmp(err.msg, "image 2: ", 9) == 0, "case %zu: %s", i, err.msg);
        ck_assert(!exists(out));
    }
    struct err err = ERR_INIT;
    ck_assert_int_eq(pdf_write_images(NULL, 0, out, &err), -1);
    ck_assert(!exists(out));
}
END_TEST

/* ---- the converter ----------------------------------------------------------------- */

struct progress_log {
    int calls;
    char first[64];
    bool cancel;
};

static bool on_progress(void *opaque, double percent, const char *message)
{
    struct progress_log *p = opaque;
    (void)percent;
    if (p->calls++ == 0)
        snprintf(p->first, sizeof p->first, "%s", message);
    return p->cancel;
}

static int run_converter(enum conv_mode mode, const char *const *inputs, const char *outdir,
                         int max_pages, struct progress_log *log, struct conv_result *res,
                         struct err *err)
{
    const struct conv_limits limits = {100000000, 32768, max_pages};
    ck_assert_int_eq(mkdir(outdir, 0700), 0);
    struct conv_job job = {
        .mode = mode,
        .inputs = inputs,
        .output_dir = outdir,
        .in_format = "pdf",
        .out_format = mode == CONV_MODE_INFO ? NULL : "pdf",
        .limits = &limits,
        .progress = log ? on_progress : NULL,
        .progress_opaque = log,
        .threads = 1,
    };
    res->info = NULL;
    return converter_qpdf.convert(&job, res, err);
}

START_TEST(test_converter)
{
    struct conv_result res;
    struct err err = ERR_INIT;
    struct progress_log log = {0};
    const char *one[] = {tpath("a.pdf"), NULL};

    ck_assert_msg(run_converter(CONV_MODE_INFO, one, tpath("info"), 1000, &log, &res, &err) == 0,
                  "%s", err.msg);
    struct stat st;
    ck_assert_int_eq(stat(one[0], &st), 0);
    ck_assert_ptr_nonnull(res.info);
    ck_assert_str_eq(json_string_value(json_object_get(res.info, "format")), "pdf");
    ck_assert_int_eq(json_integer_value(json_object_get(res.info, "size")), st.st_size);
    ck_assert_int_eq(json_integer_value(json_object_get(res.info, "pages")), 3);
    ck_assert_int_eq(json_array_size(json_object_get(res.info, "page_sizes")), 3);
    ck_assert_str_eq(json_string_value(json_object_get(res.info, "title")), "Hello");
    json_decref(res.info);

    ck_assert_int_eq(run_converter(CONV_MODE_INFO, one, tpath("info2"), 2, NULL, &res, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_str_eq(err.msg, "the PDF has 3 pages, more than the limit of 2");
    ck_assert_ptr_null(res.info);

    const char *three[] = {tpath("a.pdf"), tpath("b.pdf"), tpath("a.pdf"), NULL};
    err_clear(&err);
    ck_assert_msg(run_converter(CONV_MODE_COMBINE, three, tpath("comb"), 1000, &log, &res, &err) ==
                      0,
                  "%s", err.msg);
    ck_assert_int_eq(pdfinfo_pages(tpath("comb/out.pdf")), 8);
    char *text = page_text(tpath("comb/out.pdf"), 6);
    ck_assert_msg(strstr(text, "Alpha 1") != NULL, "%s", text);
    free(text);
    ck_assert_ptr_null(res.info);

    log = (struct progress_log){0};
    ck_assert_int_eq(
        run_converter(CONV_MODE_COMBINE, three, tpath("comb2"), 1000, &log, &res, &err), 0);
    ck_assert_str_eq(log.first, "Merging 3 PDFs");
    ck_assert_int_ge(log.calls, 1);

    /* Over the cap, a bad input, a cancel: no output. */
    err_clear(&err);
    ck_assert_int_eq(run_converter(CONV_MODE_COMBINE, three, tpath("comb3"), 7, NULL, &res, &err),
                     -1);
    ck_assert_str_eq(err.msg,
                     "input 3: the merged PDF would have 8 pages, more than the limit of 7");
    ck_assert(!exists(tpath("comb3/out.pdf")));
    const char *bad[] = {tpath("a.pdf"), tpath("garbage.pdf"), NULL};
    err_clear(&err);
    ck_assert_int_eq(run_converter(CONV_MODE_COMBINE, bad, tpath("comb4"), 0, NULL, &res, &err),
                     -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_msg(strncmp(err.msg, "input 2: cannot read the PDF: ", 30) == 0, "%s", err.msg);
    ck_assert(!exists(tpath("comb4/out.pdf")));
    log = (struct progress_log){.cancel = true};
    err_clear(&err);
    ck_assert_int_eq(run_converter(CONV_MODE_COMBINE, three, tpath("comb5"), 0, &log, &res, &err),
                     -1);
    ck_assert_int_eq(err.code, ERR_CANCELLED);
    ck_assert(!exists(tpath("comb5/out.pdf")));

    err_clear(&err);
    ck_assert_int_eq(run_converter(CONV_MODE_CONVERT, one, tpath("conv"), 0, NULL, &res, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
}
END_TEST

START_TEST(test_table)
{
    ck_assert_str_eq(converter_qpdf.name, "qpdf");
    ck_assert_uint_eq(converter_qpdf.modes, CONV_MODE_INFO | CONV_MODE_COMBINE);
    ck_assert_str_eq(converter_qpdf.note, "libqpdf: PDF info and merging");
    ck_assert_ptr_null(converter_qpdf.options[0].name);
    ck_assert_str_eq(converter_qpdf.pairs[0].in, "pdf");
    ck_assert_str_eq(converter_qpdf.pairs[0].out, "pdf");
    ck_assert_str_eq(converter_qpdf.pairs[0].group, "document");
    ck_assert_ptr_null(converter_qpdf.pairs[1].in);
    registry_init_all();
    ck_assert_ptr_eq(registry_find("pdf", "pdf", CONV_MODE_COMBINE), &converter_qpdf);
    ck_assert_ptr_eq(registry_find("pdf", NULL, CONV_MODE_INFO), &converter_qpdf);
}
END_TEST

/* ---- image extraction -------------------------------------------------------------- */

#if HAVE_VIPS

static const struct pdf_extract_limits big_limits = {1000, 100000000, 32768};

/* A JPEG of width × height in one colour, by libvips. g_free() it. */
static unsigned char *make_jpeg(int width, int height, const unsigned char rgb[3], size_t *len)
{
    unsigned char *px = xmalloc((size_t)width * (size_t)height * 3);
    for (int i = 0; i < width * height; i++)
        memcpy(px + i * 3, rgb, 3);
    VipsImage *im = vips_image_new_from_memory(px, (size_t)width * (size_t)height * 3, width,
                                               height, 3, VIPS_FORMAT_UCHAR);
    ck_assert_ptr_nonnull(im);
    void *buf = NULL;
    ck_assert_int_eq(vips_jpegsave_buffer(im, &buf, len, "Q", 95, NULL), 0);
    g_object_unref(im);
    free(px);
    return buf;
}

/* The pixels of an image file, decoded by libvips; g_free() them. */
static unsigned char *load_pixels(const char *path, int *w, int *h, int *bands)
{
    VipsImage *im = vips_image_new_from_file(path, NULL);
    ck_assert_msg(im != NULL, "vips cannot read %s: %s", path, vips_error_buffer());
    *w = im->Xsize;
    *h = im->Ysize;
    *bands = im->Bands;
    ck_assert_int_eq(im->BandFmt, VIPS_FORMAT_UCHAR);
    size_t size = 0;
    unsigned char *px = vips_image_write_to_memory(im, &size);
    ck_assert_ptr_nonnull(px);
    ck_assert_uint_eq(size, (size_t)*w * (size_t)*h * (size_t)*bands);
    g_object_unref(im);
    return px;
}

static const char *loader_of(const char *path)
{
    VipsImage *im = vips_image_new_from_file(path, NULL);
    ck_assert_ptr_nonnull(im);
    const char *loader = NULL;
    ck_assert_int_eq(vips_image_get_string(im, "vips-loader", &loader), 0);
    /* The names are static in libvips: they outlive the image. */
    const char *out = strcmp(loader, "pngload") == 0    ? "png"
                      : strcmp(loader, "jpegload") == 0 ? "jpg"
                                                        : "other";
    g_object_unref(im);
    return out;
}

static int count_dir(const char *dir)
{
    char *cmd = xasprintf("ls -A %s | wc -l", dir);
    char *out = capture(cmd);
    int n = (int)strtol(out, NULL, 10);
    free(out);
    free(cmd);
    return n;
}

static char *fresh_dir(const char *name)
{
    char *dir = tpath(name);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    return dir;
}

enum { RW = 40, RH = 30, GW = 20, GH = 10, JW = 24, JH = 16 };
static unsigned char ex_rgb[RW * RH * 3], ex_gray[GW * GH];
static const unsigned char jpeg_color[3] = {200, 40, 60};

/* images3.pdf: a 40x30 RGB image, a 20x10 gray one, a 24x16 JPEG; *jpeg is the JPEG. */
static void make_images_pdf(const char *path, unsigned char **jpeg, size_t *jlen)
{
    for (int y = 0; y < RH; y++)
        for (int x = 0; x < RW; x++) {
            unsigned char *p = &ex_rgb[(y * RW + x) * 3];
            p[0] = (unsigned char)(x * 6);
            p[1] = (unsigned char)(y * 8);
            p[2] = (unsigned char)((x + y) % 2 ? 255 : 17);
        }
    for (int i = 0; i < GW * GH; i++)
        ex_gray[i] = (unsigned char)(i * 255 / (GW * GH - 1));
    *jpeg = make_jpeg(JW, JH, jpeg_color, jlen);
    struct pdf_image images[] = {
        {.width = RW, .height = RH, .bands = 3, .data = ex_rgb},
        {.width = GW, .height = GH, .bands = 1, .data = ex_gray},
        {.width = JW, .height = JH, .bands = 3, .jpeg = *jpeg, .jpeg_len = *jlen},
    };
    struct err err = ERR_INIT;
    ck_assert_msg(pdf_write_images(images, 3, path, &err) == 0, "%s", err.msg);
}

START_TEST(test_extract_png)
{
    unsigned char *jpeg;
    size_t jlen;
    make_images_pdf(tpath("images3.pdf"), &jpeg, &jlen);
    char *dir = fresh_dir("ex-png");
    struct err err = ERR_INIT;
    int n = pdf_extract_images(tpath("images3.pdf"), dir, "png", 90, &big_limits, NULL, NULL, &err);
    ck_assert_msg(n == 3, "%d: %s", n, err.msg);
    ck_assert_int_eq(count_dir(dir), 3);

    int w, h, b;
    unsigned char *px = load_pixels(tpath("ex-png/1.png"), &w, &h, &b);
    ck_assert_str_eq(loader_of(tpath("ex-png/1.png")), "png");
    ck_assert_int_eq(w, RW);
    ck_assert_int_eq(h, RH);
    ck_assert_int_eq(b, 3);
    ck_assert_int_eq(memcmp(px, ex_rgb, sizeof ex_rgb), 0);
    g_free(px);

    px = load_pixels(tpath("ex-png/2.png"), &w, &h, &b);
    ck_assert_int_eq(w, GW);
    ck_assert_int_eq(h, GH);
    ck_assert_int_eq(b, 1);
    ck_assert_int_eq(memcmp(px, ex_gray, sizeof ex_gray), 0);
    g_free(px);

    /* The JPEG decoded: its one colour, give or take the compression. */
    ck_assert_str_eq(loader_of(tpath("ex-png/3.png")), "png");
    px = load_pixels(tpath("ex-png/3.png"), &w, &h, &b);
    ck_assert_int_eq(w, JW);
    ck_assert_int_eq(h, JH);
    ck_assert_int_eq(b, 3);
    for (int i = 0; i < JW * JH * 3; i++)
        ck_assert_msg(abs(px[i] - jpeg_color[i % 3]) <= 6, "sample %d: %d", i, px[i]);
    g_free(px);
    g_free(jpeg);
}
END_TEST

START_TEST(test_extract_jpg)
{
    unsigned char *jpeg;
    size_t jlen;
    make_images_pdf(tpath("images3j.pdf"), &jpeg, &jlen);
    char *dir = fresh_dir("ex-jpg");
    struct err err = ERR_INIT;
    int n =
        pdf_extract_images(tpath("images3j.pdf"), dir, "jpg", 95, &big_limits, NULL, NULL, &err);
    ck_assert_msg(n == 3, "%d: %s", n, err.msg);
    ck_assert_int_eq(count_dir(dir), 3);

    /* The embedded JPEG comes out byte for byte. */
    size_t len;
    unsigned char *got = read_file(tpath("ex-jpg/3.jpg"), &len);
    ck_assert_uint_eq(len, jlen);
    ck_assert_int_eq(memcmp(got, jpeg, jlen), 0);
    free(got);

    /* The others are encoded as JPEG. */
    int w, h, b;
    ck_assert_str_eq(loader_of(tpath("ex-jpg/1.jpg")), "jpg");
    unsigned char *px = load_pixels(tpath("ex-jpg/1.jpg"), &w, &h, &b);
    ck_assert_int_eq(w, RW);
    ck_assert_int_eq(h, RH);
    ck_assert_int_eq(b, 3);
    g_free(px);
    ck_assert_str_eq(loader_of(tpath("ex-jpg/2.jpg")), "jpg");
    px = load_pixels(tpath("ex-jpg/2.jpg"), &w, &h, &b);
    ck_assert_int_eq(w, GW);
    ck_assert_int_eq(h, GH);
    ck_assert_int_eq(b, 1);
    for (int i = 0; i < GW * GH; i++)
        ck_assert_msg(abs(px[i] - ex_gray[i]) <= 12, "sample %d: %d, not %d", i, px[i], ex_gray[i]);
    g_free(px);
    g_free(jpeg);
}
END_TEST

/* "<< DICT /Length N >> stream DATA endstream" for write_pdf(). */
static char *stream_obj(const char *dict, const char *data)
{
    return xasprintf("<< %s /Length %zu >>\nstream\n%s\nendstream", dict, strlen(data), data);
}

/* Pages (objects 3..) each with its /XObject dictionary text; extra objects after them
 * (malloc'd, freed here). */
static void write_xobject_pdf(const char *path, const char *const *page_xobjects, int pages,
                              char *const *extra, int n_extra)
{
    int n = 2 + pages + n_extra;
    char **objs = xcalloc((size_t)n, sizeof *objs);
    char kids[512] = "";
    size_t len = 0;
    for (int i = 0; i < pages; i++)
        len += (size_t)snprintf(kids + len, sizeof kids - len, "%d 0 R ", 3 + i);
    objs[0] = xstrdup("<< /Type /Catalog /Pages 2 0 R >>");
    objs[1] = xasprintf("<< /Type /Pages /Kids [%s] /Count %d >>", kids, pages);
    for (int i = 0; i < pages; i++)
        objs[2 + i] = xasprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] "
                                "/Resources << /XObject << %s >> >> >>",
                                page_xobjects[i]);
    for (int i = 0; i < n_extra; i++)
        objs[2 + pages + i] = extra[i];
    write_pdf(path, objs, n, NULL, false);
    for (int i = 0; i < n; i++)
        free(objs[i]);
    free(objs);
}

#define IMG "/Type /XObject /Subtype /Image "

/* Page 1: an Indexed RGB image (6) and a CMYK one (7). Page 2: the Indexed image again and a
 * form (8) holding a 1-bit gray image with /Decode [1 0] (9). Page 3: a JPX image (10), an
 * Indexed image over a CMYK lookup stream (11, 12), a 16-bit gray one (13), an image whose
 * data is too short (14) and a Lab one (15). */
static void write_decode_pdf(const char *path)
{
    const char *pages[] = {
        "/A 6 0 R /B 7 0 R",
        "/A 6 0 R /F 8 0 R",
        "/J 10 0 R /K 11 0 R /L 13 0 R /M 14 0 R /N 15 0 R",
    };
    char *extra[] = {
        stream_obj(IMG "/Width 3 /Height 2 /BitsPerComponent 8 /ColorSpace [/Indexed /DeviceRGB 2 "
                       "<FF0000 00FF00 0000FF>] /Filter /ASCIIHexDecode",
                   "000102 020100>"),
        stream_obj(IMG "/Width 2 /Height 1 /BitsPerComponent 8 /ColorSpace /DeviceCMYK "
                       "/Filter /ASCIIHexDecode",
                   "00000000 00FFFF00 >"),
        stream_obj("/Type /XObject /Subtype /Form /BBox [0 0 1 1] /Resources << /XObject "
                   "<< /G 9 0 R >> >>",
                   ""),
        stream_obj(IMG "/Width 8 /Height 1 /BitsPerComponent 1 /ColorSpace /DeviceGray "
                       "/Decode [1 0] /Filter /ASCIIHexDecode",
                   "F0>"),
        stream_obj(IMG "/Width 2 /Height 2 /BitsPerComponent 8 /ColorSpace /DeviceRGB "
                       "/Filter /JPXDecode",
                   "0000"),
        stream_obj(IMG "/Width 4 /Height 1 /BitsPerComponent 2 /ColorSpace [/Indexed "
                       "/DeviceCMYK 1 12 0 R] /Filter /ASCIIHexDecode",
                   "10>"),
        stream_obj("/Filter /ASCIIHexDecode", "00000000 000000FF>"),
        stream_obj(IMG "/Width 2 /Height 1 /BitsPerComponent 16 /ColorSpace [/ICCBased 16 0 R] "
                       "/Filter /ASCIIHexDecode",
                   "8000 FFFF>"),
        stream_obj(IMG "/Width 10 /Height 10 /BitsPerComponent 8 /ColorSpace /DeviceGray "
                       "/Filter /ASCIIHexDecode",
                   "0102>"),
        stream_obj(IMG "/Width 1 /Height 1 /BitsPerComponent 8 /ColorSpace [/Lab << /WhitePoint "
                       "[0.95 1 1.09] >>] /Filter /ASCIIHexDecode",
                   "808080>"),
        stream_obj("/N 1 /Filter /ASCIIHexDecode", "00>"),
    };
    write_xobject_pdf(path, pages, 3, extra, (int)(sizeof extra / sizeof extra[0]));
}

START_TEST(test_extract_decode)
{
    write_decode_pdf(tpath("decode.pdf"));
    char *dir = fresh_dir("ex-decode");
    struct err err = ERR_INIT;
    int n = pdf_extract_images(tpath("decode.pdf"), dir, "png", 90, &big_limits, NULL, NULL, &err);
    ck_assert_msg(n == 5, "%d: %s", n, err.msg);
    ck_assert_int_eq(count_dir(dir), 5);

    static const struct {
        const char *file;
        int w, h, bands;
        unsigned char px[24];
    } want[] = {
        /* Indexed RGB: red green blue / blue green red. */
        {"1.png", 3, 2, 3, {255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 255, 0, 255, 0, 255, 0, 0}},
        /* CMYK: no ink is white; magenta + yellow is red. */
        {"2.png", 2, 1, 3, {255, 255, 255, 255, 0, 0}},
        /* The form's 1-bit image, written once although page 2 uses image 6 again: inverted. */
        {"3.png", 8, 1, 1, {0, 0, 0, 0, 255, 255, 255, 255}},
        /* 2-bit indexes 0 1 0 0 into a CMYK lookup: white, black (K), white, white. */
        {"4.png", 4, 1, 3, {255, 255, 255, 0, 0, 0, 255, 255, 255, 255, 255, 255}},
        /* 16-bit ICCBased gray: the high bytes. */
        {"5.png", 2, 1, 1, {128, 255}},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int w, h, b;
        char name[64];
        snprintf(name, sizeof name, "ex-decode/%s", want[i].file);
        unsigned char *px = load_pixels(tpath(name), &w, &h, &b);
        ck_assert_int_eq(w, want[i].w);
        ck_assert_int_eq(h, want[i].h);
        ck_assert_int_eq(b, want[i].bands);
        for (int k = 0; k < w * h * b; k++)
            ck_assert_msg(px[k] == want[i].px[k], "%s sample %d: %d, not %d", want[i].file, k,
                          px[k], want[i].px[k]);
        g_free(px);
    }
}
END_TEST

/* Refusals: each leaves the output folder empty. */
static const struct refusal {
    const char *pdf; /* made by make_refusal() */
    struct pdf_extract_limits lim;
    const char *msg;
} refusals[] = {
    {"text.pdf", {1000, 100000000, 32768}, "the PDF has no images that can be extracted"},
    {"jpx.pdf",
     {1000, 100000000, 32768},
     "the PDF has no images that can be extracted (2 skipped: an encoding or colour space that "
     "is not supported, or damaged data)"},
    {"huge.pdf",
     {1000, 100000000, 32768},
     "an image on page 2 is 100000x100000 pixels, larger than the limit of 32768 pixels per "
     "side"},
    {"huge.pdf",
     {1000, 100000000, 0},
     "an image on page 2 is 100000x100000 pixels, larger than the limit of 100000000 pixels"},
    {"huge.pdf",
     {1000, 0, 0},
     "an image on page 2 is 100000x100000 pixels, more than 512 MiB of samples, the limit"},
    {"images3r.pdf", {2, 100000000, 32768}, "the PDF has more than 2 images, the limit"},
    {"images3r.pdf",
     {1000, 1000, 32768},
     "an image on page 1 is 40x30 pixels, larger than the limit of 1000 pixels"},
    {"locked.pdf", {1000, 100000000, 32768}, "the PDF is password protected"},
    {"garbage.pdf", {1000, 100000000, 32768}, NULL},
};

static void make_refusal_pdfs(void)
{
    if (exists(tpath("huge.pdf")))
        return;
    const char *text_pages[] = {""};
    write_xobject_pdf(tpath("text.pdf"), text_pages, 1, NULL, 0);
    const char *jpx_pages[] = {"/J 4 0 R /K 5 0 R"};
    char *jpx[] = {
        stream_obj(IMG "/Width 2 /Height 2 /BitsPerComponent 8 /ColorSpace /DeviceRGB "
                       "/Filter /JPXDecode",
                   "0000"),
        stream_obj(IMG "/Width 2 /Height 2 /BitsPerComponent 8 /ColorSpace /DeviceGray "
                       "/Filter /CCITTFaxDecode",
                   "0000"),
    };
    write_xobject_pdf(tpath("jpx.pdf"), jpx_pages, 1, jpx, 2);
    /* Page 1 has a good image: the refusal comes before anything is kept. */
    const char *huge_pages[] = {"/A 5 0 R", "/H 6 0 R"};
    char *huge[] = {
        stream_obj(IMG "/Width 1 /Height 1 /BitsPerComponent 8 /ColorSpace /DeviceGray "
                       "/Filter /ASCIIHexDecode",
                   "7F>"),
        stream_obj(IMG "/Width 100000 /Height 100000 /BitsPerComponent 8 /ColorSpace "
                       "/DeviceGray /Filter /ASCIIHexDecode",
                   "00010203>"),
    };
    write_xobject_pdf(tpath("huge.pdf"), huge_pages, 2, huge, 2);
    unsigned char *jpeg;
    size_t jlen;
    make_images_pdf(tpath("images3r.pdf"), &jpeg, &jlen);
    g_free(jpeg);
}

START_TEST(test_extract_refused)
{
    const struct refusal *r = &refusals[_i];
    make_refusal_pdfs();
    char name[32];
    snprintf(name, sizeof name, "ex-refused-%d", _i);
    char *dir = fresh_dir(name);
    struct err err = ERR_INIT;
    ck_assert_int_eq(pdf_extract_images(tpath(r->pdf), dir, "png", 90, &r->lim, NULL, NULL, &err),
                     -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    if (r->msg)
        ck_assert_str_eq(err.msg, r->msg);
    else
        ck_assert_msg(strncmp(err.msg, "cannot read the PDF: ", 21) == 0, "%s", err.msg);
    ck_assert_int_eq(count_dir(dir), 0);
}
END_TEST

static bool cancel_at_page2(void *opaque, double percent, const char *message)
{
    int *calls = opaque;
    (*calls)++;
    ck_assert(percent >= 0 && percent <= 100);
    return strstr(message, "page 2 of") != NULL;
}

START_TEST(test_extract_encrypted_cancel)
{
    unsigned char *jpeg;
    size_t jlen;
    make_images_pdf(tpath("images3e.pdf"), &jpeg, &jlen);
    g_free(jpeg);
    char *cmd = xasprintf("qpdf --encrypt '' owner 256 -- %s %s", tpath("images3e.pdf"),
                          tpath("images3-open.pdf"));
    run_ok(cmd);
    free(cmd);
    char *dir = fresh_dir("ex-enc");
    struct err err = ERR_INIT;
    int n = pdf_extract_images(tpath("images3-open.pdf"), dir, "png", 90, &big_limits, NULL, NULL,
                               &err);
    ck_assert_msg(n == 3, "%d: %s", n, err.msg);
    int w, h, b;
    unsigned char *px = load_pixels(tpath("ex-enc/2.png"), &w, &h, &b);
    ck_assert_int_eq(w, GW);
    ck_assert_int_eq(memcmp(px, ex_gray, sizeof ex_gray), 0);
    g_free(px);

    /* Cancelled before page 2: page 1's image is removed again. */
    dir = fresh_dir("ex-cancel");
    int calls = 0;
    err_clear(&err);
    ck_assert_int_eq(pdf_extract_images(tpath("images3e.pdf"), dir, "png", 90, &big_limits,
                                        cancel_at_page2, &calls, &err),
                     -1);
    ck_assert_int_eq(err.code, ERR_CANCELLED);
    ck_assert_int_eq(calls, 2);
    ck_assert_int_eq(count_dir(dir), 0);

    dir = fresh_dir("ex-tiff");
    err_clear(&err);
    ck_assert_int_eq(
        pdf_extract_images(tpath("images3e.pdf"), dir, "tiff", 90, &big_limits, NULL, NULL, &err),
        -1);
    ck_assert_str_eq(err.msg, "images are extracted as png or jpg");
}
END_TEST

extern const struct converter converter_ghostscript;

/* The ghostscript converter's side: option, check hook, and the branch of convert(). */
START_TEST(test_extract_converter)
{
    const struct conv_option *opt = converter_ghostscript.options;
    while (opt->name && strcmp(opt->name, "extract") != 0)
        opt++;
    ck_assert_ptr_nonnull(opt->name);
    ck_assert_int_eq(opt->type, CONV_OPT_ENUM);
    ck_assert_str_eq(opt->def, "\"pages\"");
    ck_assert_str_eq(opt->choices[0], "pages");
    ck_assert_str_eq(opt->choices[1], "images");
    ck_assert_ptr_null(opt->choices[2]);

    json_t *images = json_pack("{s:s}", "extract", "images");
    json_t *pages = json_pack("{s:s}", "extract", "pages");
    struct err err = ERR_INIT;
    ck_assert_int_eq(converter_ghostscript.check("pdf", "png", CONV_MODE_EXTRACT, images, &err), 0);
    ck_assert_int_eq(converter_ghostscript.check("pdf", "jpg", CONV_MODE_EXTRACT, images, &err), 0);
    ck_assert_int_eq(converter_ghostscript.check("pdf", "tiff", CONV_MODE_EXTRACT, pages, &err), 0);
    ck_assert_int_eq(converter_ghostscript.check("pdf", "tiff", CONV_MODE_CONVERT, images, &err),
                     0);
    ck_assert_int_eq(converter_ghostscript.check("pdf", "tiff", CONV_MODE_EXTRACT, images, &err),
                     -1);
    ck_assert_int_eq(err.code, ERR_BADPARAM);
    ck_assert_str_eq(err.msg, "invalid value for converteroptions[extract]: images are extracted "
                              "as png or jpg");
    err_clear(&err);
    ck_assert_int_eq(converter_ghostscript.check("ps", "png", CONV_MODE_EXTRACT, images, &err), -1);
    ck_assert_str_eq(err.msg, "invalid value for converteroptions[extract]: images are extracted "
                              "from PDF files only");

    struct err ierr = ERR_INIT;
    if (converter_ghostscript.init(&ierr) < 0)
        ck_abort_msg("ghostscript init: %s", ierr.msg);
    unsigned char *jpeg;
    size_t jlen;
    make_images_pdf(tpath("images3c.pdf"), &jpeg, &jlen);
    g_free(jpeg);
    const struct conv_limits limits = {100000000, 32768, 1000};
    const char *in[] = {tpath("images3c.pdf"), NULL};
    struct conv_job job = {
        .mode = CONV_MODE_EXTRACT,
        .inputs = in,
        .output_dir = fresh_dir("ex-conv-images"),
        .in_format = "pdf",
        .out_format = "png",
        .options = images,
        .limits = &limits,
        .threads = 1,
    };
    struct conv_result res = {0};
    err_clear(&err);
    ck_assert_msg(converter_ghostscript.convert(&job, &res, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(count_dir(job.output_dir), 3);
    ck_assert(exists(tpath("ex-conv-images/3.png")));
    int w, h, b;
    unsigned char *px = load_pixels(tpath("ex-conv-images/1.png"), &w, &h, &b);
    ck_assert_int_eq(w, RW);
    ck_assert_int_eq(h, RH);
    g_free(px);

    /* extract "pages": gs draws the three pages at the default 150 dpi, as before. */
    job.options = pages;
    job.output_dir = fresh_dir("ex-conv-pages");
    ck_assert_msg(converter_ghostscript.convert(&job, &res, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(count_dir(job.output_dir), 3);
    px = load_pixels(tpath("ex-conv-pages/1.png"), &w, &h, &b);
    ck_assert_int_eq(w, 83); /* 40 pt at 150 dpi */
    g_free(px);
    json_decref(images);
    json_decref(pages);
}
END_TEST

#endif

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *pdf_suite(void)
{
    Suite *s = suite_create("pdf");
    TCase *tc = tcase_create("facts");
    tcase_add_unchecked_fixture(tc, make_fixtures, remove_fixtures);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_facts_gs);
    tcase_add_loop_test(tc, test_facts_sizes, 0, N(size_cases));
    tcase_add_test(tc, test_info_json);
    tcase_add_test(tc, test_facts_utf8);
    tcase_add_test(tc, test_facts_max_pages);
    tcase_add_test(tc, test_hostile_trees);
    tcase_add_test(tc, test_bad_files);
    tcase_add_test(tc, test_encrypted_open);
    tcase_add_test(tc, test_repaired_xref);
    tcase_add_test(tc, test_merge);
    tcase_add_test(tc, test_merge_refused);
    tcase_add_test(tc, test_write_images);
    tcase_add_test(tc, test_write_images_refused);
    tcase_add_test(tc, test_converter);
    tcase_add_test(tc, test_table);
#if HAVE_VIPS
    tcase_add_test(tc, test_extract_png);
    tcase_add_test(tc, test_extract_jpg);
    tcase_add_test(tc, test_extract_decode);
    tcase_add_loop_test(tc, test_extract_refused, 0, N(refusals));
    tcase_add_test(tc, test_extract_encrypted_cancel);
    tcase_add_test(tc, test_extract_converter);
#endif
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pdf_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
#endif
