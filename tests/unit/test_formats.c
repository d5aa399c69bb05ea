/* SPDX-License-Identifier: MIT */
/* test_formats.c - format names, aliases, magic-byte sniffing and Content-Types. */
#include "converters/formats.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

struct canon_case {
    const char *in;
    const char *want; /* NULL: refused */
};

static const struct canon_case canon_cases[] = {
    {"png", "png"},   {"PNG", "png"},       {"jpeg", "jpg"},     {"JPEG", "jpg"},  {"jpg", "jpg"},
    {"tif", "tiff"},  {"TIF", "tiff"},      {"tiff", "tiff"},    {"mpg", "mpeg"},  {"htm", "html"},
    {"HTM", "html"},  {"m4v", "mp4"},       {"oga", "ogg"},      {"heif", "heif"}, {"heic", "heic"},
    {"HEIC", "heic"}, {"tar.gz", "tar.gz"}, {"x_y-z", "x_y-z"},  {"", NULL},       {"pn g", NULL},
    {"png/", NULL},   {"../etc", NULL},     {"p\xc3\xa9", NULL}, {"png\n", NULL},  {"a;b", NULL},
};

START_TEST(test_canonical)
{
    const struct canon_case *c = &canon_cases[_i];
    char *got = format_canonical(c->in);
    if (c->want) {
        ck_assert_msg(got != NULL, "format_canonical(%s) refused", c->in);
        ck_assert_str_eq(got, c->want);
    } else {
        ck_assert_msg(got == NULL, "format_canonical(%s) = %s, want NULL", c->in, got);
    }
    free(got);
}
END_TEST

START_TEST(test_canonical_null)
{
    ck_assert_ptr_null(format_canonical(NULL));
}
END_TEST

/* ---- sniffing ---------------------------------------------------------------------- */

struct sniff_case {
    const char *label;
    const char *bytes;
    size_t len;
    const char *want;
};

#define B(s) s, sizeof(s) - 1

static const struct sniff_case sniff_cases[] = {
    {"png", B("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0"), "png"},
    {"jpg jfif", B("\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\0\0\x01"), "jpg"},
    {"jpg exif",
     B("\xff\xd8\xff\xe1\x12\x34"
       "Exif\0\0"),
     "jpg"},
    {"gif87", B("GIF87a\x01\0\x01\0\x80\0\0"), "gif"},
    {"gif89", B("GIF89a\x01\0\x01\0\x80\0\0"), "gif"},
    {"webp", B("RIFF\x24\0\0\0WEBPVP8 \x18\0\0\0"), "webp"},
    {"tiff le", B("II*\0\x08\0\0\0\x10\0"), "tiff"},
    {"tiff be", B("MM\0*\0\0\0\x08\0\x10"), "tiff"},
    {"bigtiff", B("II+\0\x08\0\0\0\0\0\0\0\0\0\0\0"), "tiff"},
    {"bmp", B("BM\x3a\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0\x01\0\0\0\x01\0\0\0"), "bmp"},
    {"bmp v5", B("BM\x3a\0\0\0\0\0\0\0\x8a\0\0\0\x7c\0\0\0\x01\0\0\0\x01\0\0\0"), "bmp"},
    {"ico", B("\0\0\x01\0\x01\0\x10\x10\0\0\x01\0\x20\0"), "ico"},
    {"svg bare", B("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\"/>"), "svg"},
    {"svg ws", B("  \r\n\t<svg>\n</svg>"), "svg"},
    {"svg prolog",
     B("\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- made by hand > -->\n"
       "<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" "
       "\"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\" [ <!ENTITY a \"<b>\"> ]>\n"
       "<?xml-stylesheet href=\"x.css\"?>\n<svg version=\"1.1\">"),
     "svg"},
    {"pdf", B("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"), "pdf"},
    {"ps", B("%!PS-Adobe-3.0\n%%BoundingBox: 0 0 10 10\n"), "ps"},
    {"eps", B("%!PS-Adobe-3.0 EPSF-3.0\n"), "ps"},
    {"heic",
     B("\0\0\0\x18"
       "ftypheic\0\0\0\0mif1heic"),
     "heic"},
    {"heix",
     B("\0\0\0\x18"
       "ftypheix\0\0\0\0mif1heix"),
     "heic"},
    {"hevc",
     B("\0\0\0\x18"
       "ftyphevc\0\0\0\0msf1hevc"),
     "heic"},
    {"heif mif1",
     B("\0\0\0\x14"
       "ftypmif1\0\0\0\0mif1"),
     "heif"},
    {"heif mif1 + heic",
     B("\0\0\0\x18"
       "ftypmif1\0\0\0\0mif1heic"),
     "heic"},
    {"avif",
     B("\0\0\0\x1c"
       "ftypavif\0\0\0\0avifmif1miaf"),
     "avif"},
    {"avis",
     B("\0\0\0\x1c"
       "ftypavis\0\0\0\0avismsf1miaf"),
     "avif"},
    {"avif via mif1",
     B("\0\0\0\x1c"
       "ftypmif1\0\0\0\0mif1avifmiaf"),
     "avif"},
    {"mp4 isom",
     B("\0\0\0\x20"
       "ftypisom\0\0\x02\0isomiso2avc1mp41"),
     "mp4"},
    {"mp4 mp42",
     B("\0\0\0\x18"
       "ftypmp42\0\0\0\0mp42isom"),
     "mp4"},
    {"m4v",
     B("\0\0\0\x18"
       "ftypM4V \0\0\0\0M4V mp42"),
     "mp4"},
    {"m4a",
     B("\0\0\0\x18"
       "ftypM4A \0\0\0\0M4A mp42"),
     "m4a"},
    {"mov",
     B("\0\0\0\x14"
       "ftypqt  \0\0\x02\0qt  "),
     "mov"},
    {"mov old", B("\0\0\0\x08wide\0\0\x12\x34mdat"), "mov"},
    {"3gp",
     B("\0\0\0\x18"
       "ftyp3gp4\0\0\x02\0isom3gp4"),
     "3gp"},
    {"3g2",
     B("\0\0\0\x18"
       "ftyp3g2a\0\0\0\0"
       "3g2aisom"),
     "3gp"},
    {"jxl codestream", B("\xff\x0a\xfa\x7f\x01\x90"), "jxl"},
    {"jxl container",
     B("\0\0\0\x0cJXL \r\n\x87\n\0\0\0\x14"
       "ftypjxl "),
     "jxl"},
    {"zip", B("PK\x03\x04\x14\0\0\0\x08\0"), "zip"},
    {"zip empty", B("PK\x05\x06\0\0\0\0\0\0"), "zip"},
    {"gzip", B("\x1f\x8b\x08\0\0\0\0\0\0\x03"), "gz"},
    {"bzip2", B("BZh91AY&SY"), "bz2"},
    {"xz",
     B("\xfd"
       "7zXZ\0\0\x04"),
     "xz"},
    {"7z", B("7z\xbc\xaf\x27\x1c\0\x04"), "7z"},
    {"rar4", B("Rar!\x1a\x07\0\xcf\x90"), "rar"},
    {"rar5", B("Rar!\x1a\x07\x01\0"), "rar"},
    {"ogg", B("OggS\0\x02\0\0\0\0\0\0\0\0"), "ogg"},
    {"wav", B("RIFF\x24\x08\0\0WAVEfmt \x10\0\0\0"), "wav"},
    {"avi",
     B("RIFF\x24\x08\0\0"
       "AVI LIST"),
     "avi"},
    {"riff other", B("RIFF\x24\x08\0\0XXXXLIST"), NULL},
    {"webm",
     B("\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3"
       "\x81\x08\x42\x82\x84webm\x42\x87\x81\x04"),
     "webm"},
    {"mkv",
     B("\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3"
       "\x81\x08\x42\x82\x88matroska\x42\x87\x81\x04"),
     "mkv"},
    {"mp3 id3", B("ID3\x03\0\0\0\0\0\x0a\0\0\0\0\0\0\0\0\0\0\xff\xfb\x90\x64"), "mp3"},
    {"mp3 frame", B("\xff\xfb\x90\x64\0\0\0\0"), "mp3"},
    {"mp2 frame", B("\xff\xfd\x94\x04\0\0\0\0"), "mp3"},
    {"flac", B("fLaC\0\0\0\x22\x10\0"), "flac"},
    {"flac behind id3", B("ID3\x04\0\0\0\0\0\x02\0\0fLaC\0\0\0\x22"), "flac"},
    {"aac adts", B("\xff\xf1\x50\x80\x02\x1f\xfc"), "aac"},
    {"html doctype", B("<!DOCTYPE html>\n<html><head>"), "html"},
    {"html lower", B("\n  <!doctype html>"), "html"},
    {"html tag", B("<!-- hi -->\n<html lang=\"en\">"), "html"},
    {"html bom", B("\xef\xbb\xbf<HTML>"), "html"},
    {"text", B("hello world\n"), NULL},
    {"xml not svg", B("<?xml version=\"1.0\"?><root/>"), NULL},
    {"svg lookalike", B("<svgfoo/>"), NULL},
    {"bm text", B("BMW is a car brand, not a bitmap"), NULL},
    {"one byte", B("\x89"), NULL},
    {"zeros", B("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"), NULL},
};

START_TEST(test_sniff)
{
    const struct sniff_case *c = &sniff_cases[_i];
    const char *got = format_sniff((const unsigned char *)c->bytes, c->len);
    if (c->want) {
        ck_assert_msg(got && strcmp(got, c->want) == 0, "%s: sniffed %s, want %s", c->label,
                      got ? got : "NULL", c->want);
    } else {
        ck_assert_msg(got == NULL, "%s: sniffed %s, want NULL", c->label, got);
    }
}
END_TEST

START_TEST(test_sniff_tar)
{
    unsigned char block[512] = "file.txt";
    memcpy(block + 257,
           "ustar\0"
           "00",
           8);
    ck_assert_str_eq(format_sniff(block, sizeof block), "tar");
    ck_assert_ptr_null(format_sniff(block, 200)); /* the magic is beyond what we have */
}
END_TEST

START_TEST(test_sniff_svg_limit)
{
    /* "<svg" must come within the first 4 KiB. */
    size_t n = 5000;
    unsigned char *buf = malloc(n + 16);
    memcpy(buf, "<!--", 4);
    memset(buf + 4, 'x', n - 4);
    memcpy(buf + 4000, "-->", 3);
    memcpy(buf + 4003, "<svg>", 5);
    ck_assert_str_eq(format_sniff(buf, n), "svg");
    memset(buf + 4000, 'x', 8);
    memcpy(buf + 4090, "--><svg>", 8);
    ck_assert_ptr_null(format_sniff(buf, n));
    ck_assert_ptr_null(format_sniff(NULL, 0));
    free(buf);
}
END_TEST

/* ---- sniff matching ---------------------------------------------------------------- */

struct match_case {
    const char *inputformat;
    const char *sniffed;
    bool want;
};

static const struct match_case match_cases[] = {
    {"png", "png", true},   {"jpg", "jpg", true},   {"jpg", "png", false}, /* PNG named .jpg */
    {"png", "jpg", false},  {"png", NULL, false},   {"gif", "webp", false}, {"tiff", "tiff", true},
    {"tiff", "png", false}, {"heic", "heic", true}, {"heic", "avif", true}, {"heic", "heif", true},
    {"heif", "heic", true}, {"heif", "avif", true}, {"avif", "heic", true}, {"avif", "heif", true},
    {"avif", "png", false}, {"mp4", "mp4", true},   {"mp4", "mov", true},   {"mov", "mp4", true},
    {"m4a", "mp4", true},   {"3gp", "mp4", true},   {"mp4", "3gp", true},   {"mp4", "m4a", true},
    {"mp4", "mkv", false},  {"mkv", "webm", true},  {"webm", "mkv", true},  {"webm", "mp4", false},
    {"svg", "svg", true},   {"svg", NULL, false},   {"svg", "html", false}, {"html", "html", true},
    {"html", NULL, true},   {"html", "png", false}, {"txt", NULL, true},    {"txt", "html", true},
    {"txt", "pdf", false},  {"txt", "ps", false},   {"pdf", "pdf", true},   {"pdf", "ps", false},
    {"jpg", "ps", false},   {"eps", "ps", true},    {"ps", "ps", true},     {"docx", "zip", true},
    {"odt", "zip", true},   {"docx", "pdf", false}, {"doc", NULL, true},    {"zip", "zip", true},
    {"zip", "7z", false},   {"mp3", "mp3", true},   {"mp3", NULL, true},    {"mp3", "mp4", false},
    {"bmp", "bmp", true},   {"bmp", "png", false},  {"ico", "ico", true},   {"jxl", "jxl", true},
    {"fake", "png", true},  {"fake", NULL, true},   {"fake", "ps", true},   {"wav", "avi", false},
    {"ogg", "ogg", true},
};

START_TEST(test_sniff_matches)
{
    const struct match_case *c = &match_cases[_i];
    ck_assert_msg(format_sniff_matches(c->inputformat, c->sniffed) == c->want,
                  "format_sniff_matches(%s, %s) != %d", c->inputformat,
                  c->sniffed ? c->sniffed : "NULL", c->want);
}
END_TEST

START_TEST(test_sniff_then_match)
{
    /* The whole route: a PNG uploaded as inputformat=jpg is refused. */
    static const unsigned char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const char *sniffed = format_sniff(png, sizeof png - 1);
    ck_assert(!format_sniff_matches("jpg", sniffed));
    ck_assert(format_sniff_matches("png", sniffed));
    ck_assert(!format_sniff_matches(NULL, sniffed));
}
END_TEST

/* ---- names and Content-Types ------------------------------------------------------- */

struct mime_case {
    const char *ext;
    const char *want;
};

static const struct mime_case mime_cases[] = {
    {"png", "image/png"},
    {"PNG", "image/png"},
    {"jpg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"tiff", "image/tiff"},
    {"svg", "image/svg+xml"},
    {"avif", "image/avif"},
    {"heif", "image/heif"},
    {"jxl", "image/jxl"},
    {"bmp", "image/bmp"},
    {"ico", "image/x-icon"},
    {"pdf", "application/pdf"},
    {"zip", "application/zip"},
    {"mp4", "video/mp4"},
    {"mp3", "audio/mpeg"},
    {"json", "application/octet-stream"}, /* compat H2: never application/json */
    {"JSON", "application/octet-stream"},
    {"xyz", "application/octet-stream"},
    {"", "application/octet-stream"},
    {NULL, "application/octet-stream"},
};

START_TEST(test_mime)
{
    const struct mime_case *c = &mime_cases[_i];
    ck_assert_str_eq(format_mime_type(c->ext), c->want);
}
END_TEST

START_TEST(test_display_name)
{
    ck_assert_str_eq(format_display_name("png"), "PNG");
    ck_assert_str_eq(format_display_name("jpg"), "JPEG");
    ck_assert_str_eq(format_display_name("pdf"), "PDF");
    ck_assert_str_eq(format_display_name("xyz"), "XYZ");
    ck_assert_str_eq(format_display_name("tar.gz"), "TAR.GZ");
    ck_assert_ptr_nonnull(format_display_name(NULL));
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *formats_suite(void)
{
    Suite *s = suite_create("formats");
    TCase *tc = tcase_create("canonical");
    tcase_add_loop_test(tc, test_canonical, 0, N(canon_cases));
    tcase_add_test(tc, test_canonical_null);
    suite_add_tcase(s, tc);

    tc = tcase_create("sniff");
    tcase_add_loop_test(tc, test_sniff, 0, N(sniff_cases));
    tcase_add_test(tc, test_sniff_tar);
    tcase_add_test(tc, test_sniff_svg_limit);
    suite_add_tcase(s, tc);

    tc = tcase_create("sniff_matches");
    tcase_add_loop_test(tc, test_sniff_matches, 0, N(match_cases));
    tcase_add_test(tc, test_sniff_then_match);
    suite_add_tcase(s, tc);

    tc = tcase_create("names");
    tcase_add_loop_test(tc, test_mime, 0, N(mime_cases));
    tcase_add_test(tc, test_display_name);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(formats_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
