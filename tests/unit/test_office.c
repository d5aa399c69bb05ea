/* SPDX-License-Identifier: MIT */
/* test_office.c - the LibreOffice converter with the real office on documents written here
 * (.odt and .docx with libarchive's zip writer, .txt/.csv/.rtf as text); PDFs are checked
 * with pdftotext, pages by their PNG headers, the warm office by its pid. */
#include "convertd-config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define SOFFICE "/usr/lib/libreoffice/program/soffice.bin"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <ftw.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <jansson.h>

#include "converters/converter.h"
#include "converters/options.h"
#include "converters/registry.h"

extern const struct converter converter_office;
pid_t office_soffice_pid(void);

static char fixdir[256]; /* inputs, made once */
static char outdir[512]; /* output folder of the last run */
static int run_count;
static const struct conv_limits *run_limits; /* limits of the next run(), NULL: none */

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

/* A zip of NULL-terminated {name, text} pairs. ODF wants its mimetype stored, but
 * LibreOffice reads it deflated too, and libarchive sets compression per archive. */
static void write_zip(const char *path, const char *const *members)
{
    struct archive *a = archive_write_new();
    if (archive_write_set_format_zip(a) != ARCHIVE_OK ||
        archive_write_open_filename(a, path) != ARCHIVE_OK) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    for (int i = 0; members[i]; i += 2) {
        struct archive_entry *e = archive_entry_new();
        size_t len = strlen(members[i + 1]);
        archive_entry_set_pathname(e, members[i]);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)len);
        if (archive_write_header(a, e) != ARCHIVE_OK ||
            archive_write_data(a, members[i + 1], len) != (la_ssize_t)len) {
            fprintf(stderr, "cannot write %s: %s\n", path, archive_error_string(a));
            exit(1);
        }
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
}

#define ODF_NS                                                                                     \
    "xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" "                           \
    "xmlns:style=\"urn:oasis:names:tc:opendocument:xmlns:style:1.0\" "                             \
    "xmlns:fo=\"urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0\" "                    \
    "xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\" "                               \
    "xmlns:draw=\"urn:oasis:names:tc:opendocument:xmlns:drawing:1.0\" "                            \
    "xmlns:svg=\"urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0\" "                      \
    "xmlns:xlink=\"http://www.w3.org/1999/xlink\" office:version=\"1.2\""

static const char odt_manifest[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
    "<manifest:manifest xmlns:manifest=\"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0\" "
    "manifest:version=\"1.2\">"
    "<manifest:file-entry manifest:full-path=\"/\" "
    "manifest:media-type=\"application/vnd.oasis.opendocument.text\"/>"
    "<manifest:file-entry manifest:full-path=\"content.xml\" manifest:media-type=\"text/xml\"/>"
    "<manifest:file-entry manifest:full-path=\"styles.xml\" manifest:media-type=\"text/xml\"/>"
    "</manifest:manifest>";

/* Pages of 10 cm x 5 cm, no margins: 1000 x 500 pixels at 254 dpi. */
static const char odt_styles[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
    "<office:document-styles " ODF_NS ">"
    "<office:automatic-styles><style:page-layout style:name=\"pm1\">"
    "<style:page-layout-properties fo:page-width=\"10cm\" fo:page-height=\"5cm\" "
    "fo:margin-top=\"0.5cm\" fo:margin-bottom=\"0.5cm\" fo:margin-left=\"0.5cm\" "
    "fo:margin-right=\"0.5cm\"/></style:page-layout></office:automatic-styles>"
    "<office:master-styles><style:master-page style:name=\"Standard\" "
    "style:page-layout-name=\"pm1\"/></office:master-styles>"
    "</office:document-styles>";

static void write_odt(const char *path, const char *body)
{
    char *content = NULL;
    if (asprintf(&content,
                 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                 "<office:document-content " ODF_NS ">"
                 "<office:automatic-styles><style:style style:name=\"PB\" "
                 "style:family=\"paragraph\"><style:paragraph-properties "
                 "fo:break-before=\"page\"/></style:style></office:automatic-styles>"
                 "<office:body><office:text>%s</office:text></office:body>"
                 "</office:document-content>",
                 body) < 0)
        exit(1);
    const char *members[] = {"mimetype",
                             "application/vnd.oasis.opendocument.text",
                             "META-INF/manifest.xml",
                             odt_manifest,
                             "styles.xml",
                             odt_styles,
                             "content.xml",
                             content,
                             NULL};
    write_zip(path, members);
    free(content);
}

static void write_odp(const char *path, const char *text)
{
    char *content = NULL;
    if (asprintf(&content,
                 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                 "<office:document-content " ODF_NS
                 " xmlns:presentation=\"urn:oasis:names:tc:opendocument:xmlns:presentation:1.0\">"
                 "<office:body><office:presentation><draw:page draw:name=\"p1\">"
                 "<draw:frame svg:x=\"2cm\" svg:y=\"2cm\" svg:width=\"20cm\" "
                 "svg:height=\"3cm\"><draw:text-box><text:p>%s</text:p></draw:text-box>"
                 "</draw:frame></draw:page></office:presentation></office:body>"
                 "</office:document-content>",
                 text) < 0)
        exit(1);
    const char *members[] = {
        "mimetype",
        "application/vnd.oasis.opendocument.presentation",
        "META-INF/manifest.xml",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
        "<manifest:manifest xmlns:manifest=\"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0\" "
        "manifest:version=\"1.2\"><manifest:file-entry manifest:full-path=\"/\" "
        "manifest:media-type=\"application/vnd.oasis.opendocument.presentation\"/>"
        "<manifest:file-entry manifest:full-path=\"content.xml\" "
        "manifest:media-type=\"text/xml\"/></manifest:manifest>",
        "content.xml",
        content,
        NULL,
    };
    write_zip(path, members);
    free(content);
}

static void write_docx(const char *path, const char *text)
{
    char *doc = NULL;
    if (asprintf(&doc,
                 "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>"
                 "<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/"
                 "2006/main\"><w:body><w:p><w:r><w:t>%s</w:t></w:r></w:p></w:body>"
                 "</w:document>",
                 text) < 0)
        exit(1);
    const char *members[] = {
        "[Content_Types].xml",
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>"
        "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
        "<Default Extension=\"rels\" "
        "ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>"
        "<Default Extension=\"xml\" ContentType=\"application/xml\"/>"
        "<Override PartName=\"/word/document.xml\" ContentType=\"application/"
        "vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/>"
        "</Types>",
        "_rels/.rels",
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>"
        "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
        "<Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/"
        "2006/relationships/officeDocument\" Target=\"word/document.xml\"/>"
        "</Relationships>",
        "word/document.xml",
        doc,
        NULL,
    };
    write_zip(path, members);
    free(doc);
}

static void make_fixtures(void)
{
    snprintf(fixdir, sizeof fixdir, "/tmp/test_office_%ld", (long)getpid());
    mkdir(fixdir, 0700);
    write_odt(fpath("hello.odt"), "<text:p>Hello from ODT convertd</text:p>");
    write_odt(fpath("two.odt"), "<text:p>First page text</text:p>"
                                "<text:p text:style-name=\"PB\">Second page text</text:p>");
    /* A section whose content comes from /etc/passwd, and an image linked to a local file:
     * neither may be fetched (the section keeps its stored text). */
    write_odt(fpath("hostile.odt"),
              "<text:p>Before the link</text:p>"
              "<text:section text:name=\"S1\"><text:section-source "
              "xlink:href=\"file:///etc/passwd\" xlink:type=\"simple\"/>"
              "<text:p>stored section text</text:p></text:section>"
              "<text:p><draw:frame draw:name=\"i1\" svg:width=\"3cm\" svg:height=\"1cm\">"
              "<draw:image xlink:href=\"file:///etc/hostname\" xlink:type=\"simple\"/>"
              "</draw:frame></text:p><text:p>After the link</text:p>");
    write_docx(fpath("hello.docx"), "Hello from DOCX convertd");
    write_odp(fpath("hello.odp"), "Hello from ODP convertd");
    /* A zip (so it passes the zip sniff) that holds no Word document. */
    const char *junk[] = {"junk.bin", "this is not a word document", NULL};
    write_zip(fpath("garbage.docx"), junk);
    write_text(fpath("hello.txt"), "Hello from TXT convertd\nsecond line\n");
    write_text(fpath("hello.rtf"), "{\\rtf1\\ansi{\\fonttbl\\f0\\fswiss Helvetica;}\\f0\\pard "
                                   "Hello from RTF convertd\\par}\n");
    write_text(fpath("sheet.csv"), "name,amount\nalpha,12345\nbravo,67890\n");
}

static void remove_fixtures(void)
{
    if (fixdir[0])
        nftw(fixdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static bool progress_cb(void *opaque, double percent, const char *message)
{
    (void)opaque;
    (void)percent;
    (void)message;
    return false;
}

/* One conversion into a new output folder (outdir). options: JSON text or NULL. */
static int run(const char *in_path, const char *in, const char *out, const char *options,
               struct err *err)
{
    const char *inputs[] = {in_path, NULL};
    json_t *given = options ? json_loads(options, 0, NULL) : NULL, *eff = NULL, *echo = NULL;
    /* Each test runs in its own forked child, all counting from the same run_count. */
    snprintf(outdir, sizeof outdir, "%s/out%ld-%d", fixdir, (long)getpid(), ++run_count);
    mkdir(outdir, 0700);
    ck_assert_int_eq(options_apply(&converter_office, given, &eff, &echo, err), 0);
    struct conv_job job = {
        .mode = CONV_MODE_CONVERT,
        .inputs = inputs,
        .output_dir = outdir,
        .in_format = in,
        .out_format = out,
        .options = eff,
        .limits = run_limits,
        .progress = progress_cb,
        .threads = 1,
    };
    struct conv_result res = {0};
    int rc = converter_office.convert(&job, &res, err);
    json_decref(given);
    json_decref(eff);
    json_decref(echo);
    return rc;
}

/* pdftotext of a file, whitespace as found. */
static char *pdf_text(const char *pdf)
{
    char cmd[800], *text = calloc(1, 65536);
    size_t n = 0;
    snprintf(cmd, sizeof cmd, "/usr/bin/pdftotext '%s' - 2>/dev/null", pdf);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    while (n < 65535) {
        size_t k = fread(text + n, 1, 65535 - n, p);
        if (k == 0)
            break;
        n += k;
    }
    pclose(p);
    return text;
}

static int count_outputs(void)
{
    DIR *d = opendir(outdir);
    struct dirent *e;
    int n = 0;
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static void png_size(const char *path, unsigned *w, unsigned *h)
{
    unsigned char head[24];
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s missing", path);
    ck_assert_uint_eq(fread(head, 1, sizeof head, f), sizeof head);
    fclose(f);
    ck_assert(memcmp(head, "\x89PNG", 4) == 0);
    *w = (unsigned)head[16] << 24 | (unsigned)head[17] << 16 | (unsigned)head[18] << 8 | head[19];
    *h = (unsigned)head[20] << 24 | (unsigned)head[21] << 16 | (unsigned)head[22] << 8 | head[23];
}

static void setup(void)
{
    registry_init_all(); /* ghostscript's init, for the image outputs */
}

static void teardown(void)
{
    converter_office.cleanup();
}

/* ---- tests ------------------------------------------------------------------------- */

static const struct text_case {
    const char *file, *format, *expect;
} text_cases[] = {
    {"hello.odt", "odt", "Hello from ODT convertd"},
    {"hello.docx", "docx", "Hello from DOCX convertd"},
    {"hello.txt", "txt", "Hello from TXT convertd"},
    {"hello.rtf", "rtf", "Hello from RTF convertd"},
    {"sheet.csv", "csv", "67890"},
};

/* One test for the whole table: every case in its own forked test would start LibreOffice
 * again each time. */
START_TEST(to_pdf_has_text)
{
    for (size_t i = 0; i < sizeof text_cases / sizeof text_cases[0]; i++) {
        const struct text_case *c = &text_cases[i];
        struct err err = ERR_INIT;
        ck_assert_msg(run(fpath(c->file), c->format, "pdf", NULL, &err) == 0, "%s: %s", c->file,
                      err.msg);
        ck_assert_int_eq(count_outputs(), 1);
        char *text = pdf_text(opath("out.pdf"));
        ck_assert_msg(strstr(text, c->expect), "%s: \"%s\" not in \"%s\"", c->file, c->expect,
                      text);
        free(text);
    }
}
END_TEST

/* csv → xlsx, then that xlsx → pdf: both calc pairs, and the xlsx is a real one. */
START_TEST(xlsx_round_trip)
{
    struct err err = ERR_INIT;
    ck_assert_msg(run(fpath("sheet.csv"), "csv", "xlsx", NULL, &err) == 0, "%s", err.msg);
    char xlsx[700];
    snprintf(xlsx, sizeof xlsx, "%s", opath("out.xlsx"));
    FILE *f = fopen(xlsx, "rb");
    ck_assert_ptr_nonnull(f);
    char magic[2] = {0};
    ck_assert_uint_eq(fread(magic, 1, 2, f), 2);
    fclose(f);
    ck_assert(memcmp(magic, "PK", 2) == 0);
    ck_assert_msg(run(xlsx, "xlsx", "pdf", NULL, &err) == 0, "%s", err.msg);
    char *text = pdf_text(opath("out.pdf"));
    ck_assert_msg(strstr(text, "alpha") && strstr(text, "12345"), "got \"%s\"", text);
    free(text);
}
END_TEST

START_TEST(odt_to_docx_keeps_text)
{
    struct err err = ERR_INIT;
    ck_assert_msg(run(fpath("hello.odt"), "odt", "docx", NULL, &err) == 0, "%s", err.msg);
    char docx[700];
    snprintf(docx, sizeof docx, "%s", opath("out.docx"));
    ck_assert_msg(run(docx, "docx", "pdf", NULL, &err) == 0, "%s", err.msg);
    char *text = pdf_text(opath("out.pdf"));
    ck_assert_msg(strstr(text, "Hello from ODT convertd"), "got \"%s\"", text);
    free(text);
}
END_TEST

/* office → office, then the result → pdf (or read as text): every pair family listed. */
static const struct chain_case {
    const char *file, *from, *to, *expect;
} chain_cases[] = {
    {"hello.odt", "odt", "doc", "Hello from ODT convertd"},
    {"hello.odt", "odt", "rtf", "Hello from ODT convertd"},
    {"hello.docx", "docx", "odt", "Hello from DOCX convertd"},
    {"hello.rtf", "rtf", "docx", "Hello from RTF convertd"},
    {"hello.txt", "txt", "odt", "Hello from TXT convertd"},
    {"hello.odt", "odt", "txt", "Hello from ODT convertd"},
    {"sheet.csv", "csv", "xls", "67890"},
    {"sheet.csv", "csv", "ods", "67890"},
    {"hello.odp", "odp", "pptx", "Hello from ODP convertd"},
    {"hello.odp", "odp", "ppt", "Hello from ODP convertd"},
    {"hello.odp", "odp", "pdf", "Hello from ODP convertd"},
};

static char *read_small(const char *path)
{
    char *text = calloc(1, 65536);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s missing", path);
    size_t n = fread(text, 1, 65535, f);
    (void)n;
    fclose(f);
    return text;
}

static void chain_one(const struct chain_case *c)
{
    struct err err = ERR_INIT;
    char mid[700], name[32];
    char *text;

    ck_assert_msg(run(fpath(c->file), c->from, c->to, NULL, &err) == 0, "%s → %s: %s", c->from,
                  c->to, err.msg);
    ck_assert_int_eq(count_outputs(), 1);
    snprintf(name, sizeof name, "out.%s", c->to);
    snprintf(mid, sizeof mid, "%s", opath(name));
    if (strcmp(c->to, "txt") == 0) {
        text = read_small(mid);
    } else if (strcmp(c->to, "pdf") == 0) {
        text = pdf_text(mid);
    } else {
        ck_assert_msg(run(mid, c->to, "pdf", NULL, &err) == 0, "%s → pdf: %s", c->to, err.msg);
        text = pdf_text(opath("out.pdf"));
    }
    ck_assert_msg(strstr(text, c->expect), "%s → %s: \"%s\" not in \"%s\"", c->from, c->to,
                  c->expect, text);
    free(text);
}

START_TEST(office_chain)
{
    for (size_t i = 0; i < sizeof chain_cases / sizeof chain_cases[0]; i++)
        chain_one(&chain_cases[i]);
}
END_TEST

START_TEST(xlsx_to_csv)
{
    struct err err = ERR_INIT;
    ck_assert_msg(run(fpath("sheet.csv"), "csv", "xlsx", NULL, &err) == 0, "%s", err.msg);
    char xlsx[700];
    snprintf(xlsx, sizeof xlsx, "%s", opath("out.xlsx"));
    ck_assert_msg(run(xlsx, "xlsx", "csv", NULL, &err) == 0, "%s", err.msg);
    char *text = read_small(opath("out.csv"));
    ck_assert_str_eq(text, "name,amount\nalpha,12345\nbravo,67890\n");
    free(text);
}
END_TEST

START_TEST(odt_to_png_pages)
{
    struct err err = ERR_INIT;
    unsigned w, h;
    ck_assert_msg(run(fpath("two.odt"), "odt", "png", "{\"density\": 254}", &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(count_outputs(), 2);
    for (int page = 1; page <= 2; page++) {
        char name[16];
        snprintf(name, sizeof name, "%d.png", page);
        png_size(opath(name), &w, &h);
        /* 10 cm x 5 cm at 254 dpi; a pixel either way for rounding. */
        ck_assert_msg(w >= 999 && w <= 1001 && h >= 499 && h <= 501, "page %d is %ux%u", page, w,
                      h);
    }
}
END_TEST

START_TEST(odt_to_jpg_page_range)
{
    struct err err = ERR_INIT;
    ck_assert_msg(run(fpath("two.odt"), "odt", "jpg", "{\"page_range\": \"2\"}", &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(count_outputs(), 1);
    FILE *f = fopen(opath("out.jpg"), "rb");
    ck_assert_ptr_nonnull(f);
    unsigned char soi[2] = {0};
    ck_assert_uint_eq(fread(soi, 1, 2, f), 2);
    fclose(f);
    ck_assert(soi[0] == 0xFF && soi[1] == 0xD8);
}
END_TEST

#if HAVE_QPDF
START_TEST(pdf_over_page_limit)
{
    struct err err = ERR_INIT;
    const struct conv_limits one = {.max_pages = 1};
    run_limits = &one;
    ck_assert_int_eq(run(fpath("two.odt"), "odt", "pdf", NULL, &err), -1);
    run_limits = NULL;
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_msg(strstr(err.msg, "limit"), "%s", err.msg);
    ck_assert_int_eq(count_outputs(), 0);
}
END_TEST
#endif

START_TEST(warm_office_is_reused)
{
    struct err err = ERR_INIT;
    ck_assert_int_eq(office_soffice_pid(), -1);
    ck_assert_msg(run(fpath("hello.odt"), "odt", "pdf", NULL, &err) == 0, "%s", err.msg);
    pid_t first = office_soffice_pid();
    ck_assert_int_gt(first, 0);
    ck_assert_int_eq(kill(first, 0), 0);
    ck_assert_msg(run(fpath("hello.docx"), "docx", "pdf", NULL, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(office_soffice_pid(), first);
}
END_TEST

START_TEST(garbage_fails_then_next_works)
{
    struct err err = ERR_INIT;
    ck_assert_int_eq(run(fpath("garbage.docx"), "docx", "pdf", NULL, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_msg(strstr(err.msg, "LibreOffice could not read the input"), "%s", err.msg);
    ck_assert_int_eq(count_outputs(), 0);
    pid_t pid = office_soffice_pid();
    ck_assert_int_gt(pid, 0);

    struct err err2 = ERR_INIT;
    ck_assert_msg(run(fpath("hello.odt"), "odt", "pdf", NULL, &err2) == 0, "%s", err2.msg);
    ck_assert_int_eq(office_soffice_pid(), pid);
    char *text = pdf_text(opath("out.pdf"));
    ck_assert(strstr(text, "Hello from ODT convertd"));
    free(text);
}
END_TEST

START_TEST(killed_office_is_restarted)
{
    struct err err = ERR_INIT;
    ck_assert_msg(run(fpath("hello.odt"), "odt", "pdf", NULL, &err) == 0, "%s", err.msg);
    pid_t first = office_soffice_pid();
    ck_assert_int_gt(first, 0);
    ck_assert_int_eq(kill(first, SIGKILL), 0);
    usleep(200 * 1000);

    ck_assert_msg(run(fpath("hello.docx"), "docx", "pdf", NULL, &err) == 0, "%s", err.msg);
    pid_t second = office_soffice_pid();
    ck_assert_int_gt(second, 0);
    ck_assert_int_ne(second, first);
    char *text = pdf_text(opath("out.pdf"));
    ck_assert(strstr(text, "Hello from DOCX convertd"));
    free(text);
}
END_TEST

/* The parent of a process, from /proc/PID/stat ("pid (comm) state ppid ..."). */
static pid_t parent_of(pid_t pid)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    fclose(f);
    const char *p = strrchr(line, ')');
    ck_assert_ptr_nonnull(p);
    char state;
    long ppid = 0;
    ck_assert_int_eq(sscanf(p + 1, " %c %ld", &state, &ppid), 2);
    return (pid_t)ppid;
}

START_TEST(killed_bridge_is_restarted)
{
    struct err err = ERR_INIT;
    ck_assert_msg(run(fpath("hello.odt"), "odt", "pdf", NULL, &err) == 0, "%s", err.msg);
    pid_t office = office_soffice_pid();
    ck_assert_int_gt(office, 0);
    pid_t bridge = parent_of(office);
    ck_assert_int_ne(bridge, getpid());
    ck_assert_int_eq(parent_of(bridge), getpid());
    ck_assert_int_eq(kill(bridge, SIGKILL), 0);
    usleep(200 * 1000);

    ck_assert_msg(run(fpath("hello.odt"), "odt", "pdf", NULL, &err) == 0, "%s", err.msg);
    ck_assert_int_gt(office_soffice_pid(), 0);
    ck_assert_int_ne(office_soffice_pid(), office);
    ck_assert_int_eq(count_outputs(), 1);
}
END_TEST

START_TEST(linked_files_are_not_read)
{
    struct err err = ERR_INIT;
    ck_assert_msg(run(fpath("hostile.odt"), "odt", "pdf", NULL, &err) == 0, "%s", err.msg);
    char *text = pdf_text(opath("out.pdf"));
    ck_assert_msg(strstr(text, "Before the link") && strstr(text, "After the link"), "got \"%s\"",
                  text);
    ck_assert_msg(!strstr(text, "root:") && !strstr(text, "/bin/"), "passwd leaked: \"%s\"", text);
    free(text);
}
END_TEST

START_TEST(pairs_and_options)
{
    /* The page options are ghostscript's: same names, same defaults. */
    json_t *def = options_defaults_json(&converter_office);
    ck_assert_str_eq(json_string_value(json_object_get(def, "density")), "150");
    ck_assert_str_eq(json_string_value(json_object_get(def, "quality")), "90");
    ck_assert(json_is_null(json_object_get(def, "page_range")));
    json_decref(def);
    struct err err = ERR_INIT;
    json_t *bad = json_pack("{s:s}", "page_range", "3-1"), *eff = NULL, *echo = NULL;
    ck_assert_int_eq(options_apply(&converter_office, bad, &eff, &echo, &err), -1);
    ck_assert_int_eq(err.code, ERR_BADPARAM);
    json_decref(bad);
    ck_assert_ptr_eq(registry_find("docx", "pdf", CONV_MODE_CONVERT), &converter_office);
    ck_assert_ptr_eq(registry_find("csv", "xlsx", CONV_MODE_CONVERT), &converter_office);
    ck_assert_ptr_eq(registry_find("pptx", "odp", CONV_MODE_CONVERT), &converter_office);
    ck_assert_ptr_null(registry_find("docx", "xlsx", CONV_MODE_CONVERT));
#if HAVE_QPDF
    ck_assert_ptr_eq(registry_find("odt", "png", CONV_MODE_CONVERT), &converter_office);
#endif
}
END_TEST

static Suite *office_suite(void)
{
    Suite *s = suite_create("office");
    TCase *tc = tcase_create("convert");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, pairs_and_options);
    tcase_add_test(tc, to_pdf_has_text);
    tcase_add_test(tc, xlsx_round_trip);
    tcase_add_test(tc, xlsx_to_csv);
    tcase_add_test(tc, office_chain);
    tcase_add_test(tc, odt_to_docx_keeps_text);
#if HAVE_QPDF
    tcase_add_test(tc, odt_to_png_pages);
    tcase_add_test(tc, odt_to_jpg_page_range);
    tcase_add_test(tc, pdf_over_page_limit);
#endif
    tcase_add_test(tc, warm_office_is_reused);
    tcase_add_test(tc, garbage_fails_then_next_works);
    tcase_add_test(tc, killed_office_is_restarted);
    tcase_add_test(tc, killed_bridge_is_restarted);
    tcase_add_test(tc, linked_files_are_not_read);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (access(SOFFICE, X_OK) < 0) {
        puts("1..0 # SKIP LibreOffice (soffice.bin) not installed");
        return 0;
    }
    struct err err = ERR_INIT;
    if (converter_office.init(&err) < 0) {
        printf("1..0 # SKIP %s\n", err.msg);
        return 0;
    }
    make_fixtures();
    SRunner *sr = srunner_create(office_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    remove_fixtures();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
