/* SPDX-License-Identifier: MIT */
/* test_archive.c - the archive converter: archives made here by Python's zipfile/tarfile and
 * by libarchive itself, extracted and read back; hostile archives refused. */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsx.h"
#include "common/mem.h"
#include "converters/converter.h"

extern const struct converter converter_archive;
char *arch_entry_name(const char *path, char *const *taken, size_t n_taken);
char *arch_member_ext(const char *name);

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

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static unsigned char *read_file(const char *path, size_t *len)
{
    struct err err = ERR_INIT;
    unsigned char *data = (unsigned char *)fsx_read_file(path, 1 << 26, len, &err);
    ck_assert_msg(data != NULL, "%s: %s", path, err.msg);
    return data;
}

static void assert_file_eq(const char *path, const char *data, size_t len)
{
    size_t got;
    unsigned char *bytes = read_file(path, &got);
    ck_assert_uint_eq(got, len);
    ck_assert(memcmp(bytes, data, len) == 0);
    free(bytes);
}

/* Sorted, comma-separated names in dir ("" when empty): the whole listing is compared, so a
 * stray file fails the test. */
static char *listing(const char *dir)
{
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort);
    ck_assert_int_ge(n, 0);
    char *out = xstrdup("");
    for (int i = 0; i < n; i++) {
        if (strcmp(list[i]->d_name, ".") != 0 && strcmp(list[i]->d_name, "..") != 0) {
            char *next = xasprintf("%s%s%s", out, out[0] ? "," : "", list[i]->d_name);
            free(out);
            out = next;
        }
        free(list[i]);
    }
    free(list);
    return out;
}

/* A new empty output folder. */
static const char *fresh_dir(const char *name)
{
    char *dir = tpath(name);
    fsx_rm_rf(dir);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    return dir;
}

static const char text_data[] = "hello, archive\n";
static const char png_data[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR binary \0 bytes";
static const char pdf_data[] = "%PDF-1.4\n% not really a pdf\n%%EOF\n";
#define DATA(s) s, sizeof s - 1

/* Python writes the zip and tar fixtures, as a client's tools would. */
static const char fixtures_py[] =
    "import io, sys, tarfile, zipfile, os\n"
    "d = sys.argv[1]\n"
    "txt, png, pdf = (open(os.path.join(d, n), 'rb').read() for n in ('a.txt', 'b.png', "
    "'c.pdf'))\n"
    "with zipfile.ZipFile(d + '/three.zip', 'w', zipfile.ZIP_DEFLATED) as z:\n"
    "    z.writestr('docs/', b'')\n"
    "    z.writestr('docs/report.txt', txt)\n"
    "    z.writestr('img/pic.PNG', png)\n"
    "    z.writestr('c.pdf', pdf)\n"
    "def add(t, name, data=None, **kw):\n"
    "    i = tarfile.TarInfo(name)\n"
    "    for k, v in kw.items(): setattr(i, k, v)\n"
    "    if data is not None: i.size = len(data)\n"
    "    t.addfile(i, io.BytesIO(data) if data is not None else None)\n"
    "with tarfile.open(d + '/three.tar.gz', 'w:gz') as t:\n"
    "    add(t, 'dir', type=tarfile.DIRTYPE)\n"
    "    add(t, 'dir/report.txt', txt)\n"
    "    add(t, 'pic.png', png)\n"
    "    add(t, 'c.pdf', pdf)\n"
    "with zipfile.ZipFile(d + '/slip.zip', 'w') as z:\n"
    "    z.writestr(zipfile.ZipInfo('../../etc/evil.txt'), txt)\n"
    "    z.writestr(zipfile.ZipInfo('/abs.txt'), pdf)\n"
    "    z.writestr(zipfile.ZipInfo('..\\\\..\\\\win.TXT'), png)\n"
    "with tarfile.open(d + '/links.tar', 'w', format=tarfile.PAX_FORMAT) as t:\n"
    "    add(t, 'real.txt', txt)\n"
    "    add(t, 'link', type=tarfile.SYMTYPE, linkname='/etc/passwd')\n"
    "    add(t, '../escape', type=tarfile.SYMTYPE, linkname='/tmp')\n"
    "    add(t, 'hard', type=tarfile.LNKTYPE, linkname='real.txt')\n"
    "    add(t, 'hard2', b'xyz', type=tarfile.LNKTYPE, linkname='real.txt')\n"
    "    add(t, 'fifo', type=tarfile.FIFOTYPE)\n"
    "    add(t, 'dev', type=tarfile.CHRTYPE, devmajor=1, devminor=3)\n"
    "with zipfile.ZipFile(d + '/bomb.zip', 'w', zipfile.ZIP_DEFLATED) as z:\n"
    "    with z.open('zeros.bin', 'w', force_zip64=True) as f:\n"
    "        block = bytes(1 << 20)\n"
    "        for _ in range(150): f.write(block)\n"
    "with zipfile.ZipFile(d + '/many.zip', 'w') as z:\n"
    "    for i in range(1001): z.writestr('f%d.txt' % i, b'x')\n"
    "with zipfile.ZipFile(d + '/five.zip', 'w') as z:\n"
    "    for i in range(5): z.writestr('f%d.txt' % i, b'x')\n"
    "with zipfile.ZipFile(d + '/dirs.zip', 'w') as z:\n"
    "    z.writestr('a/', b''); z.writestr('a/b/', b'')\n"
    "with zipfile.ZipFile(d + '/single.zip', 'w') as z:\n"
    "    z.writestr('Notes.Markdown', txt)\n"
    "with zipfile.ZipFile(d + '/nested.zip', 'w') as z:\n"
    "    z.write(d + '/three.zip', 'inner.zip')\n"
    "open(d + '/trunc.zip', 'wb').write(open(d + '/three.zip', 'rb').read()[:60])\n";

struct member {
    const char *name;
    const char *data;
    size_t len;
};

/* An archive written by libarchive itself: 7z, or a zip encrypted with a passphrase. */
static void write_with_libarchive(const char *path, bool seven, const char *passphrase,
                                  const struct member *m, size_t n)
{
    struct archive *a = archive_write_new();
    if (seven)
        ck_assert_int_eq(archive_write_set_format_7zip(a), ARCHIVE_OK);
    else
        ck_assert_int_eq(archive_write_set_format_zip(a), ARCHIVE_OK);
    if (passphrase) {
        ck_assert_int_eq(archive_write_set_options(a, "zip:encryption=zipcrypt"), ARCHIVE_OK);
        ck_assert_int_eq(archive_write_set_passphrase(a, passphrase), ARCHIVE_OK);
    }
    ck_assert_int_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, m[i].name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)m[i].len);
        ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
        ck_assert_int_eq(archive_write_data(a, m[i].data, m[i].len), (la_ssize_t)m[i].len);
        archive_entry_free(e);
    }
    ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

static void setup_fixtures(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_archive.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    write_file(tpath("a.txt"), DATA(text_data));
    write_file(tpath("b.png"), DATA(png_data));
    write_file(tpath("c.pdf"), DATA(pdf_data));
    write_file(tpath("fixtures.py"), DATA(fixtures_py));
    char *cmd = xasprintf("python3 %s %s", tpath("fixtures.py"), tmpdir);
    int st = system(cmd);
    free(cmd);
    ck_assert_msg(st == 0, "python fixtures failed (%d)", st);

    const struct member three[] = {
        {"x/report.txt", DATA(text_data)},
        {"pic.png", DATA(png_data)},
        {"c.pdf", DATA(pdf_data)},
    };
    write_with_libarchive(tpath("three.7z"), true, NULL, three, 3);
    write_with_libarchive(tpath("secret.zip"), false, "secret", three, 3);

    unsigned char garbage[4096];
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (unsigned char)(i * 7919u >> 3);
    write_file(tpath("garbage.zip"), garbage, sizeof garbage);
}

static void teardown_fixtures(void)
{
    if (tmpdir[0])
        fsx_rm_rf(tmpdir);
}

struct progress_log {
    int calls;
    double last;
    bool monotonic;
    int cancel_at; /* cancel on this call (1-based); 0 = never */
};

static bool on_progress(void *opaque, double percent, const char *message)
{
    struct progress_log *log = opaque;
    (void)message;
    ck_assert(percent >= 0 && percent <= 100);
    if (percent < log->last)
        log->monotonic = false;
    log->last = percent;
    log->calls++;
    return log->cancel_at > 0 && log->calls >= log->cancel_at;
}

static int run(enum conv_mode mode, const char *const *inputs, const char *out_dir,
               const char *in_fmt, const char *out_fmt, int max_pages, struct progress_log *log,
               struct err *err)
{
    struct conv_limits limits = {
        .max_pixels = 1 << 30, .max_side = 1 << 16, .max_pages = max_pages};
    struct conv_job job = {
        .mode = mode,
        .inputs = inputs,
        .output_dir = out_dir,
        .in_format = in_fmt,
        .out_format = out_fmt,
        .limits = &limits,
        .progress = on_progress,
        .progress_opaque = log,
        .threads = 1,
    };
    struct conv_result res = {0};
    return converter_archive.convert(&job, &res, err);
}

static int extract(const char *archive, const char *out_dir, const char *fmt, int max_pages,
                   struct err *err)
{
    const char *inputs[] = {tpath(archive), NULL};
    struct progress_log log = {.monotonic = true};
    int rc = run(CONV_MODE_EXTRACT, inputs, out_dir, fmt, "*", max_pages, &log, err);
    ck_assert(log.monotonic);
    return rc;
}

/* ---- pure helpers ------------------------------------------------------------------ */

START_TEST(test_member_ext)
{
    static const struct {
        const char *name, *ext;
    } cases[] = {
        {"a.txt", "txt"},
        {"dir/Pic.PNG", "png"},
        {"../../etc/evil.txt", "txt"},
        {"a\\b\\c.Pdf", "pdf"},
        {"noext", "bin"},
        {"dir.d/noext", "bin"},
        {".bashrc", "bin"},
        {"x.", "bin"},
        {"x.t-a_r", "tar"},
        {"x.abcdefghijklmnop", "abcdefghij"},
        {"x.\xc3\xa9t\x01\n", "t"},
        {"x.../", "bin"},
        {"", "bin"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *ext = arch_member_ext(cases[i].name);
        ck_assert_msg(strcmp(ext, cases[i].ext) == 0, "%s -> %s, want %s", cases[i].name, ext,
                      cases[i].ext);
        free(ext);
    }
}
END_TEST

START_TEST(test_entry_name)
{
    /* Each input path is named after those before it, as in one archive. */
    static const struct {
        const char *path, *name;
    } cases[] = {
        {"/data/job/in/report.pdf", "report.pdf"},
        {"/data/job/in2/report.pdf", "report-2.pdf"},
        {"/data/job/in3/REPORT.pdf", "REPORT-3.pdf"},
        {"/x/.hidden", "hidden"},
        {"/x/..\\..\\evil.txt", "evil.txt"},
        {"/x/line\nbreak.txt", "line_break.txt"},
        {"/x/noext", "noext"},
        {"/x/noext", "noext-2"},
    };
    char *taken[8];
    size_t n = sizeof cases / sizeof cases[0];
    for (size_t i = 0; i < n; i++) {
        taken[i] = arch_entry_name(cases[i].path, taken, i);
        ck_assert_msg(strcmp(taken[i], cases[i].name) == 0, "%zu: %s, want %s", i, taken[i],
                      cases[i].name);
    }
    for (size_t i = 0; i < n; i++)
        free(taken[i]);
}
END_TEST

/* ---- mode extract ------------------------------------------------------------------ */

START_TEST(test_extract_three)
{
    static const char *const names[] = {"three.zip", "three.tar.gz", "three.7z"};
    static const char *const fmts[] = {"zip", "tar.gz", "7z"};
    const char *dir = fresh_dir("out_three");
    struct err err = ERR_INIT;

    ck_assert_msg(extract(names[_i], dir, fmts[_i], 1000, &err) == 0, "%s: %s", names[_i], err.msg);
    char *list = listing(dir);
    ck_assert_str_eq(list, "1.txt,2.png,3.pdf");
    free(list);
    char *path = xasprintf("%s/1.txt", dir);
    assert_file_eq(path, DATA(text_data));
    free(path);
    path = xasprintf("%s/2.png", dir);
    assert_file_eq(path, DATA(png_data));
    free(path);
    path = xasprintf("%s/3.pdf", dir);
    assert_file_eq(path, DATA(pdf_data));
    free(path);
}
END_TEST

START_TEST(test_extract_single_is_out)
{
    const char *dir = fresh_dir("out_single");
    struct err err = ERR_INIT;

    ck_assert_msg(extract("single.zip", dir, "zip", 1000, &err) == 0, "%s", err.msg);
    char *list = listing(dir);
    ck_assert_str_eq(list, "out.markdown");
    free(list);
}
END_TEST

START_TEST(test_extract_nested_not_opened)
{
    const char *dir = fresh_dir("out_nested");
    struct err err = ERR_INIT;
    size_t len;

    ck_assert_msg(extract("nested.zip", dir, "zip", 1000, &err) == 0, "%s", err.msg);
    char *list = listing(dir);
    ck_assert_str_eq(list, "out.zip");
    free(list);
    unsigned char *inner = read_file(tpath("three.zip"), &len);
    char *path = xasprintf("%s/out.zip", dir);
    assert_file_eq(path, (const char *)inner, len);
    free(path);
    free(inner);
}
END_TEST

START_TEST(test_extract_slip)
{
    /* Deep output folder: "../../etc/evil.txt" joined to it would land in tmpdir/etc. */
    fresh_dir("s1");
    fresh_dir("s1/s2");
    const char *dir = fresh_dir("s1/s2/out");
    struct err err = ERR_INIT;

    ck_assert_msg(extract("slip.zip", dir, "zip", 1000, &err) == 0, "%s", err.msg);
    char *list = listing(dir);
    ck_assert_str_eq(list, "1.txt,2.txt,3.txt");
    free(list);
    char *path = xasprintf("%s/2.txt", dir);
    assert_file_eq(path, DATA(pdf_data));
    free(path);
    ck_assert_int_ne(access(tpath("etc/evil.txt"), F_OK), 0);
    ck_assert_int_ne(access(tpath("s1/etc/evil.txt"), F_OK), 0);
    ck_assert_int_ne(access("/abs.txt", F_OK), 0);
    list = listing(tpath("s1/s2"));
    ck_assert_str_eq(list, "out");
    free(list);
    list = listing(tpath("s1"));
    ck_assert_str_eq(list, "s2");
    free(list);
}
END_TEST

START_TEST(test_extract_links_skipped)
{
    fresh_dir("l1");
    const char *dir = fresh_dir("l1/out");
    struct err err = ERR_INIT;
    struct stat st;

    ck_assert_msg(extract("links.tar", dir, "tar", 1000, &err) == 0, "%s", err.msg);
    char *list = listing(dir);
    ck_assert_str_eq(list, "out.txt");
    free(list);
    char *path = xasprintf("%s/out.txt", dir);
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    assert_file_eq(path, DATA(text_data));
    free(path);
    list = listing(tpath("l1"));
    ck_assert_str_eq(list, "out");
    free(list);
}
END_TEST

/* Refusals: the message, and nothing left in the output folder. */
START_TEST(test_extract_refused)
{
    static const struct {
        const char *file, *fmt;
        int max_pages;
        const char *message;
    } cases[] = {
        {"bomb.zip", "zip", 1000, "the archive expands more than 100 times (a zip bomb?)"},
        {"many.zip", "zip", 1000, "the archive has more than 1000 entries"},
        {"many.zip", "zip", 0, "the archive has more than 1000 entries"},
        {"five.zip", "zip", 4, "the archive has more than 4 entries"},
        {"secret.zip", "zip", 1000, "the archive is password protected"},
        {"dirs.zip", "zip", 1000, "the archive holds no files"},
        {"garbage.zip", "zip", 1000, "cannot read the archive: "},
        {"trunc.zip", "zip", 1000, "cannot read the archive: "},
    };
    const char *dir = fresh_dir("out_refused");
    struct err err = ERR_INIT;

    ck_assert_int_eq(extract(cases[_i].file, dir, cases[_i].fmt, cases[_i].max_pages, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_msg(strncmp(err.msg, cases[_i].message, strlen(cases[_i].message)) == 0, "%s: %s",
                  cases[_i].file, err.msg);
    char *list = listing(dir);
    ck_assert_str_eq(list, "");
    free(list);
}
END_TEST

START_TEST(test_extract_cancel)
{
    const char *dir = fresh_dir("out_cancel");
    const char *inputs[] = {tpath("three.zip"), NULL};
    struct progress_log log = {.monotonic = true, .cancel_at = 2};
    struct err err = ERR_INIT;

    ck_assert_int_eq(run(CONV_MODE_EXTRACT, inputs, dir, "zip", "*", 1000, &log, &err), -1);
    ck_assert_int_eq(err.code, ERR_CANCELLED);
    char *list = listing(dir);
    ck_assert_str_eq(list, "");
    free(list);
}
END_TEST

/* ---- mode archive ------------------------------------------------------------------ */

/* Read back an archive written by mode archive: entries, names, bytes, permissions. */
static void check_archive(const char *path, const char *fmt, const char *const *names,
                          const struct member *want, size_t n)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    char buf[4096];
    size_t i = 0;

    archive_read_support_format_all(a);
    archive_read_support_filter_all(a);
    ck_assert_int_eq(archive_read_open_filename(a, path, 65536), ARCHIVE_OK);
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        ck_assert_uint_lt(i, n);
        ck_assert_str_eq(archive_entry_pathname(e), names[i]);
        ck_assert_int_eq(archive_entry_filetype(e), AE_IFREG);
        ck_assert_int_eq(archive_entry_perm(e), 0644);
        la_ssize_t got = archive_read_data(a, buf, sizeof buf);
        ck_assert_int_eq(got, (la_ssize_t)want[i].len);
        ck_assert(memcmp(buf, want[i].data, want[i].len) == 0);
        i++;
    }
    ck_assert_uint_eq(i, n);
    int format = archive_format(a) & ARCHIVE_FORMAT_BASE_MASK;
    if (strcmp(fmt, "zip") == 0)
        ck_assert_int_eq(format, ARCHIVE_FORMAT_ZIP);
    else if (strcmp(fmt, "7z") == 0)
        ck_assert_int_eq(format, ARCHIVE_FORMAT_7ZIP);
    else
        ck_assert_int_eq(format, ARCHIVE_FORMAT_TAR);
    ck_assert_int_eq(archive_filter_code(a, 0),
                     strcmp(fmt, "tar.gz") == 0 ? ARCHIVE_FILTER_GZIP : ARCHIVE_FILTER_NONE);
    archive_read_free(a);
}

START_TEST(test_archive_formats)
{
    static const char *const fmts[] = {"zip", "tar", "tar.gz", "7z"};
    const char *fmt = fmts[_i];
    const char *dir = fresh_dir("out_pack");
    const char *inputs[] = {tpath("a.txt"), tpath("b.png"), tpath("c.pdf"), NULL};
    static const char *const names[] = {"a.txt", "b.png", "c.pdf"};
    const struct member want[] = {
        {"", DATA(text_data)}, {"", DATA(png_data)}, {"", DATA(pdf_data)}};
    struct progress_log log = {.monotonic = true};
    struct err err = ERR_INIT;

    ck_assert_msg(run(CONV_MODE_ARCHIVE, inputs, dir, "txt", fmt, 1000, &log, &err) == 0, "%s: %s",
                  fmt, err.msg);
    ck_assert(log.monotonic);
    ck_assert_int_ge(log.calls, 2);
    ck_assert(log.last == 100);
    char *list = listing(dir);
    char *want_list = xasprintf("out.%s", fmt);
    ck_assert_str_eq(list, want_list);
    char *path = xasprintf("%s/%s", dir, want_list);
    check_archive(path, fmt, names, want, 3);
    free(path);
    free(want_list);
    free(list);
}
END_TEST

START_TEST(test_archive_duplicate_and_hostile_names)
{
    fresh_dir("d1");
    fresh_dir("d2");
    fresh_dir("d3");
    write_file(tpath("d1/same.txt"), DATA(text_data));
    write_file(tpath("d2/same.txt"), DATA(pdf_data));
    write_file(tpath("d3/.hidden"), DATA(png_data));
    const char *dir = fresh_dir("out_dups");
    const char *inputs[] = {tpath("d1/same.txt"), tpath("d2/same.txt"), tpath("d3/.hidden"), NULL};
    static const char *const names[] = {"same.txt", "same-2.txt", "hidden"};
    const struct member want[] = {
        {"", DATA(text_data)}, {"", DATA(pdf_data)}, {"", DATA(png_data)}};
    struct progress_log log = {.monotonic = true};
    struct err err = ERR_INIT;

    ck_assert_msg(run(CONV_MODE_ARCHIVE, inputs, dir, "txt", "zip", 1000, &log, &err) == 0, "%s",
                  err.msg);
    char *path = xasprintf("%s/out.zip", dir);
    check_archive(path, "zip", names, want, 3);
    free(path);
}
END_TEST

START_TEST(test_archive_refused)
{
    const char *dir = fresh_dir("out_pack_bad");
    const char *inputs[] = {tpath("a.txt"), tpath("missing.bin"), NULL};
    struct progress_log log = {.monotonic = true};
    struct err err = ERR_INIT;

    ck_assert_int_eq(run(CONV_MODE_ARCHIVE, inputs, dir, "txt", "zip", 1000, &log, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    char *list = listing(dir);
    ck_assert_str_eq(list, "");
    free(list);

    /* cancelled on the first progress call */
    const char *ok[] = {tpath("a.txt"), NULL};
    struct progress_log cancel = {.monotonic = true, .cancel_at = 1};
    err_clear(&err);
    ck_assert_int_eq(run(CONV_MODE_ARCHIVE, ok, dir, "txt", "tar", 1000, &cancel, &err), -1);
    ck_assert_int_eq(err.code, ERR_CANCELLED);
    list = listing(dir);
    ck_assert_str_eq(list, "");
    free(list);
}
END_TEST

START_TEST(test_archive_round_trip)
{
    /* Our 7z, extracted by ourselves: the bytes survive both directions. */
    const char *packed = fresh_dir("rt_pack");
    const char *inputs[] = {tpath("a.txt"), tpath("b.png"), NULL};
    struct progress_log log = {.monotonic = true};
    struct err err = ERR_INIT;

    ck_assert_msg(run(CONV_MODE_ARCHIVE, inputs, packed, "txt", "7z", 1000, &log, &err) == 0, "%s",
                  err.msg);
    const char *dir = fresh_dir("rt_out");
    const char *archive[] = {tpath("rt_pack/out.7z"), NULL};
    ck_assert_msg(run(CONV_MODE_EXTRACT, archive, dir, "7z", "*", 1000, &log, &err) == 0, "%s",
                  err.msg);
    char *list = listing(dir);
    ck_assert_str_eq(list, "1.txt,2.png");
    free(list);
    char *path = xasprintf("%s/2.png", dir);
    assert_file_eq(path, DATA(png_data));
    free(path);
}
END_TEST

START_TEST(test_facts)
{
    ck_assert_str_eq(converter_archive.name, "archive");
    ck_assert_uint_eq(converter_archive.modes, CONV_MODE_ARCHIVE | CONV_MODE_EXTRACT);
    ck_assert_int_eq(converter_archive.priority, 10);
    size_t archive_pairs = 0, extract_pairs = 0;
    for (const struct conv_pair *p = converter_archive.pairs; p->in; p++) {
        ck_assert_str_eq(p->group, "archive");
        archive_pairs += strcmp(p->in, "*") == 0;
        extract_pairs += strcmp(p->out, "*") == 0;
    }
    ck_assert_uint_eq(archive_pairs, 4);
    ck_assert_uint_eq(extract_pairs, 6);

    /* "*" pairs match in both modes: check() keeps each mode to its own formats. */
    static const struct {
        const char *in, *out;
        enum conv_mode mode;
        int rc;
    } cases[] = {
        {"pdf", "zip", CONV_MODE_ARCHIVE, 0},  {"png", "tar.gz", CONV_MODE_ARCHIVE, 0},
        {"zip", "7z", CONV_MODE_ARCHIVE, 0},   {"zip", "png", CONV_MODE_ARCHIVE, -1},
        {"txt", "rar", CONV_MODE_ARCHIVE, -1}, {"rar", "png", CONV_MODE_EXTRACT, 0},
        {"tgz", "txt", CONV_MODE_EXTRACT, 0},  {"pdf", "zip", CONV_MODE_EXTRACT, -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct err err = ERR_INIT;
        int rc = converter_archive.check(cases[i].in, cases[i].out, cases[i].mode, NULL, &err);
        ck_assert_msg(rc == cases[i].rc, "%s -> %s: %d", cases[i].in, cases[i].out, rc);
        ck_assert_int_eq(err.code, rc == 0 ? ERR_OK : ERR_BADPARAM);
    }
}
END_TEST

static Suite *archive_suite(void)
{
    Suite *s = suite_create("archive");
    TCase *tc = tcase_create("helpers");
    tcase_add_test(tc, test_member_ext);
    tcase_add_test(tc, test_entry_name);
    tcase_add_test(tc, test_facts);
    suite_add_tcase(s, tc);

    tc = tcase_create("extract");
    tcase_add_unchecked_fixture(tc, setup_fixtures, teardown_fixtures);
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_extract_three, 0, 3);
    tcase_add_test(tc, test_extract_single_is_out);
    tcase_add_test(tc, test_extract_nested_not_opened);
    tcase_add_test(tc, test_extract_slip);
    tcase_add_test(tc, test_extract_links_skipped);
    tcase_add_loop_test(tc, test_extract_refused, 0, 8);
    tcase_add_test(tc, test_extract_cancel);
    tcase_add_loop_test(tc, test_archive_formats, 0, 4);
    tcase_add_test(tc, test_archive_duplicate_and_hostile_names);
    tcase_add_test(tc, test_archive_refused);
    tcase_add_test(tc, test_archive_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(archive_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
