/* SPDX-License-Identifier: MIT */
/* formats.c - format names, aliases, magic-byte sniffing and Content-Types. */
#include "converters/formats.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"

/* spec "Conventions": aliases map to one name. heic and heif stay apart: they are
 * different names for clients even though libheif reads both. */
static const struct {
    const char *alias;
    const char *name;
} aliases[] = {
    {"jpeg", "jpg"}, {"tif", "tiff"}, {"mpg", "mpeg"},
    {"htm", "html"}, {"m4v", "mp4"},  {"oga", "ogg"},
};

char *format_canonical(const char *name)
{
    if (!name || !*name)
        return NULL;
    size_t n = strlen(name);
    char *s = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!isascii(c) || !(isalnum(c) || c == '.' || c == '_' || c == '-')) {
            free(s);
            return NULL;
        }
        s[i] = (char)tolower(c);
    }
    s[n] = '\0';
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        if (strcmp(s, aliases[i].alias) == 0) {
            free(s);
            return xstrdup(aliases[i].name);
        }
    }
    return s;
}

/* ---- sniffing ---------------------------------------------------------------------- */

static bool has(const unsigned char *head, size_t len, size_t off, const void *magic, size_t n)
{
    return len >= off + n && memcmp(head + off, magic, n) == 0;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Skip whitespace, a UTF-8 BOM, XML declarations and processing instructions, comments
 * and (when allow_doctype) DOCTYPE declarations: what may precede the root element of an
 * SVG or HTML document. Returns the offset of the first other byte, or len. */
static size_t skip_markup_prolog(const unsigned char *p, size_t len, bool allow_doctype)
{
    size_t i = 0;
    if (len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
        i = 3;
    for (;;) {
        while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
            i++;
        if (i + 1 >= len || p[i] != '<')
            return i;
        const char *end = NULL;
        if (p[i + 1] == '?') {
            end = "?>";
        } else if (i + 3 < len && memcmp(p + i, "<!--", 4) == 0) {
            end = "-->";
        } else if (allow_doctype && i + 9 <= len &&
                   strncasecmp((const char *)p + i, "<!doctype", 9) == 0) {
            /* An internal subset [...] may contain '>' characters. */
            size_t j = i + 9;
            int depth = 0;
            while (j < len && (p[j] != '>' || depth > 0)) {
                if (p[j] == '[')
                    depth++;
                else if (p[j] == ']' && depth > 0)
                    depth--;
                j++;
            }
            if (j >= len)
                return len;
            i = j + 1;
            continue;
        } else {
            return i;
        }
        size_t elen = strlen(end);
        size_t j = i + 2;
        while (j + elen <= len && memcmp(p + j, end, elen) != 0)
            j++;
        if (j + elen > len)
            return len;
        i = j + elen;
    }
}

static bool is_svg(const unsigned char *head, size_t len)
{
    if (len > 4096)
        len = 4096;
    size_t i = skip_markup_prolog(head, len, true);
    if (i + 5 > len || memcmp(head + i, "<svg", 4) != 0)
        return false;
    unsigned char c = head[i + 4];
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '>' || c == '/';
}

static bool is_html(const unsigned char *head, size_t len)
{
    if (len > 4096)
        len = 4096;
    /* The doctype is what we look for here, so do not skip it. */
    size_t i = skip_markup_prolog(head, len, false);
    const char *s = (const char *)head + i;
    size_t left = len - i;
    if (left >= 15 && strncasecmp(s, "<!doctype html", 14) == 0 &&
        (s[14] == '>' || isspace((unsigned char)s[14])))
        return true;
    return left >= 6 && strncasecmp(s, "<html", 5) == 0 &&
           (s[5] == '>' || isspace((unsigned char)s[5]));
}

/* ISO base media file format: the brands of the leading ftyp box. */
static const char *sniff_ftyp(const unsigned char *head, size_t len)
{
    static const struct {
        char brand[5];
        const char *format;
    } brands[] = {
        {"heic", "heic"}, {"heix", "heic"}, {"hevc", "heic"}, {"hevx", "heic"}, {"heim", "heic"},
        {"heis", "heic"}, {"hevm", "heic"}, {"hevs", "heic"}, {"avif", "avif"}, {"avis", "avif"},
        {"mif1", "heif"}, {"msf1", "heif"}, {"isom", "mp4"},  {"iso2", "mp4"},  {"iso3", "mp4"},
        {"iso4", "mp4"},  {"iso5", "mp4"},  {"iso6", "mp4"},  {"mp41", "mp4"},  {"mp42", "mp4"},
        {"avc1", "mp4"},  {"dash", "mp4"},  {"mmp4", "mp4"},  {"M4V ", "mp4"},  {"M4VH", "mp4"},
        {"M4VP", "mp4"},  {"f4v ", "mp4"},  {"MSNV", "mp4"},  {"NDAS", "mp4"},  {"M4A ", "m4a"},
        {"M4B ", "m4a"},  {"M4P ", "m4a"},  {"f4a ", "m4a"},  {"qt  ", "mov"},  {"3gp4", "3gp"},
        {"3gp5", "3gp"},  {"3gp6", "3gp"},  {"3gp7", "3gp"},  {"3ge6", "3gp"},  {"3ge7", "3gp"},
        {"3gg6", "3gp"},  {"3g2a", "3gp"},  {"3g2b", "3gp"},  {"3g2c", "3gp"},
    };
    if (len < 12)
        return NULL;
    /* Compatible brands run from offset 16 to the end of the box (size 0: to the end of
     * the file; we look at no more than what we have). */
    size_t size = be32(head);
    if (size == 0 || size > len)
        size = len < 256 ? len : 256;
    /* The major brand decides; "mif1" as major with "avif" or "heic" among the compatible
     * brands is how some encoders label AVIF and HEIC still images. */
    const char *major = NULL;
    for (size_t k = 0; k < sizeof brands / sizeof brands[0]; k++)
        if (memcmp(head + 8, brands[k].brand, 4) == 0)
            major = brands[k].format;
    const char *compat = NULL;
    for (size_t off = 16; off + 4 <= size; off += 4) {
        for (size_t k = 0; k < sizeof brands / sizeof brands[0]; k++) {
            if (memcmp(head + off, brands[k].brand, 4) != 0)
                continue;
            const char *f = brands[k].format;
            if (major && strcmp(major, "heif") == 0 &&
                (strcmp(f, "avif") == 0 || strcmp(f, "heic") == 0))
                return f;
            if (!compat)
                compat = f;
        }
    }
    return major ? major : compat;
}

static bool is_mp3_frame(const unsigned char *p, size_t len)
{
    if (len < 4 || p[0] != 0xFF || (p[1] & 0xE0) != 0xE0)
        return false;
    unsigned version = (p[1] >> 3) & 3, layer = (p[1] >> 1) & 3;
    unsigned bitrate = p[2] >> 4, rate = (p[2] >> 2) & 3;
    return version != 1 && layer != 0 && bitrate != 0 && bitrate != 15 && rate != 3;
}

static bool is_adts(const unsigned char *p, size_t len)
{
    return len >= 7 && p[0] == 0xFF && (p[1] & 0xF6) == 0xF0 && ((p[2] >> 2) & 15) < 13;
}

/* An ID3v2 tag is mostly in front of MP3, sometimes of FLAC or AAC: look behind it when
 * the tag ends inside what we have. */
static const char *sniff_id3(const unsigned char *head, size_t len)
{
    if (len < 10)
        return "mp3";
    size_t tag = 10 + ((size_t)(head[6] & 0x7F) << 21 | (size_t)(head[7] & 0x7F) << 14 |
                       (size_t)(head[8] & 0x7F) << 7 | (head[9] & 0x7F));
    if (head[5] & 0x10) /* footer present */
        tag += 10;
    if (tag + 4 <= len) {
        if (memcmp(head + tag, "fLaC", 4) == 0)
            return "flac";
        if (is_adts(head + tag, len - tag))
            return "aac";
    }
    return "mp3";
}

/* EBML DocType of a Matroska file: "webm" or "matroska" near the start. */
static const char *sniff_ebml(const unsigned char *head, size_t len)
{
    size_t lim = len < 64 ? len : 64;
    for (size_t i = 4; i + 6 <= lim; i++)
        if (head[i] == 0x42 && head[i + 1] == 0x82) {
            size_t n = head[i + 2] & 0x7F; /* one-byte EBML size 0x8N */
            if (i + 3 + n <= len && n == 4 && memcmp(head + i + 3, "webm", 4) == 0)
                return "webm";
            return "mkv";
        }
    return "mkv";
}

const char *format_sniff(const unsigned char *head, size_t len)
{
    static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    static const unsigned char jxl_box[] = {0,   0,   0,    12,   'J',  'X',
                                            'L', ' ', '\r', '\n', 0x87, '\n'};
    static const unsigned char jp2_box[] = {0,   0,   0,    12,   'j',  'P',
                                            ' ', ' ', '\r', '\n', 0x87, '\n'};
    static const unsigned char sevenz[] = {'7', 'z', 0xBC, 0xAF, 0x27, 0x1C};
    static const unsigned char xz[] = {0xFD, '7', 'z', 'X', 'Z', 0};
    static const unsigned char ebml[] = {0x1A, 0x45, 0xDF, 0xA3};
    static const unsigned char asf[] = {0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11};
    static const unsigned char eps_dos[] = {0xC5, 0xD0, 0xD3, 0xC6};

    if (!head || len == 0)
        return NULL;
    if (has(head, len, 0, png, sizeof png))
        return "png";
    if (has(head, len, 0, "\xFF\xD8\xFF", 3))
        return "jpg";
    if (has(head, len, 0, "GIF87a", 6) || has(head, len, 0, "GIF89a", 6))
        return "gif";
    if ((has(head, len, 0, "RIFF", 4) || has(head, len, 0, "RF64", 4)) && len >= 12) {
        if (memcmp(head + 8, "WEBP", 4) == 0)
            return "webp";
        if (memcmp(head + 8, "WAVE", 4) == 0)
            return "wav";
        if (memcmp(head + 8, "AVI ", 4) == 0)
            return "avi";
        return NULL;
    }
    if (has(head, len, 0, "II*\0", 4) || has(head, len, 0, "MM\0*", 4) ||
        has(head, len, 0, "II+\0", 4) || has(head, len, 0, "MM\0+", 4))
        return "tiff";
    if (has(head, len, 0, "BM", 2) && len >= 18) {
        /* "BM" alone is too weak: also require a known DIB header size. */
        uint32_t dib =
            head[14] | head[15] << 8 | (uint32_t)head[16] << 16 | (uint32_t)head[17] << 24;
        if (dib == 12 || dib == 16 || dib == 40 || dib == 52 || dib == 56 || dib == 64 ||
            dib == 108 || dib == 124)
            return "bmp";
    }
    if (has(head, len, 0, "\0\0\1\0", 4) && len >= 6 && (head[4] | head[5]) != 0)
        return "ico";
    if (has(head, len, 0, "\xFF\x0A", 2) || has(head, len, 0, jxl_box, sizeof jxl_box))
        return "jxl";
    if (has(head, len, 0, jp2_box, sizeof jp2_box))
        return "jp2";
    if (has(head, len, 4, "ftyp", 4))
        return sniff_ftyp(head, len);
    /* QuickTime files from before ftyp start with another top-level atom. */
    if (has(head, len, 4, "moov", 4) || has(head, len, 4, "mdat", 4) ||
        has(head, len, 4, "wide", 4) || has(head, len, 4, "pnot", 4) ||
        has(head, len, 4, "free", 4) || has(head, len, 4, "skip", 4))
        return "mov";
    if (has(head, len, 0, "8BPS", 4))
        return "psd";
    if (has(head, len, 0, "%PDF-", 5))
        return "pdf";
    if (has(head, len, 0, "%!", 2) || has(head, len, 0, eps_dos, sizeof eps_dos))
        return "ps";
    if (has(head, len, 0, "PK\3\4", 4) || has(head, len, 0, "PK\5\6", 4) ||
        has(head, len, 0, "PK\7\x08", 4))
        return "zip";
    if (has(head, len, 0, "\x1F\x8B", 2))
        return "gz";
    if (has(head, len, 0, "BZh", 3) && len >= 4 && head[3] >= '1' && head[3] <= '9')
        return "bz2";
    if (has(head, len, 0, xz, sizeof xz))
        return "xz";
    if (has(head, len, 0, sevenz, sizeof sevenz))
        return "7z";
    if (has(head, len, 0, "Rar!\x1A\x07", 6))
        return "rar";
    if (has(head, len, 257, "ustar", 5))
        return "tar";
    if (has(head, len, 0, "OggS", 4))
        return "ogg";
    if (has(head, len, 0, ebml, sizeof ebml))
        return sniff_ebml(head, len);
    if (has(head, len, 0, "fLaC", 4))
        return "flac";
    if (has(head, len, 0, "FLV\x01", 4))
        return "flv";
    if (has(head, len, 0, asf, sizeof asf))
        return "wmv";
    if (has(head, len, 0, "FORM", 4) && len >= 12 &&
        (memcmp(head + 8, "AIFF", 4) == 0 || memcmp(head + 8, "AIFC", 4) == 0))
        return "aiff";
    if (has(head, len, 0, "\0\0\1\xBA", 4) || has(head, len, 0, "\0\0\1\xB3", 4))
        return "mpeg";
    if (has(head, len, 0, "ID3", 3))
        return sniff_id3(head, len);
    if (is_mp3_frame(head, len))
        return "mp3";
    if (is_adts(head, len))
        return "aac";
    if (has(head, len, 0, "{\\rtf", 5))
        return "rtf";
    if (is_svg(head, len))
        return "svg";
    if (is_html(head, len))
        return "html";
    return NULL;
}

/* ---- sniff matching ---------------------------------------------------------------- */

/* Names that one sniffed type may legitimately be requested as. The first name of a class
 * is what format_sniff() returns (or one of them, for the ISO-BMFF and Matroska families). */
static const char *const *const classes[] = {
    (const char *const[]){"jpg", NULL},
    (const char *const[]){"png", "apng", NULL},
    (const char *const[]){"gif", NULL},
    (const char *const[]){"webp", NULL},
    (const char *const[]){"tiff", "dng", "nef", "cr2", "arw", "pef", "srw", NULL},
    (const char *const[]){"bmp", "dib", NULL},
    (const char *const[]){"ico", NULL},
    (const char *const[]){"svg", NULL},
    /* libheif reads all three whatever the brand says. */
    (const char *const[]){"heic", "heif", "avif", "heics", "heifs", "hif", NULL},
    (const char *const[]){"jxl", NULL},
    (const char *const[]){"jp2", "j2k", "jpf", "jpx", NULL},
    (const char *const[]){"psd", NULL},
    (const char *const[]){"pdf", "ai", NULL},
    (const char *const[]){"ps", "eps", "epsf", "epsi", NULL},
    (const char *const[]){"zip",  "docx", "docm", "dotx", "dotm", "xlsx", "xlsm", "xltx",
                          "pptx", "pptm", "potx", "ppsx", "odt",  "ott",  "ods",  "ots",
                          "odp",  "otp",  "odg",  "otg",  "epub", "jar",  "apk",  "xps",
                          "oxps", "cbz",  "kmz",  "vsdx", "3mf",  "xpi",  NULL},
    (const char *const[]){"gz", "tar.gz", "gzip", "svgz", NULL},
    (const char *const[]){"bz2", "tar.bz2", "tbz2", "tbz", NULL},
    (const char *const[]){"xz", "tar.xz", "txz", NULL},
    (const char *const[]){"7z", "cb7", NULL},
    (const char *const[]){"rar", "cbr", NULL},
    (const char *const[]){"tar", NULL},
    (const char *const[]){"mp4", "mov", "m4a", "m4b", "m4p", "m4r", "3gp", "3g2", "f4v", "f4a",
                          "qt", "mj2", NULL},
    (const char *const[]){"mkv", "webm", "mka", "mk3d", NULL},
    (const char *const[]){"ogg", "ogv", "opus", "spx", "ogx", NULL},
    (const char *const[]){"wav", "wave", NULL},
    (const char *const[]){"avi", NULL},
    (const char *const[]){"flac", NULL},
    (const char *const[]){"flv", NULL},
    (const char *const[]){"wmv", "wma", "asf", NULL},
    (const char *const[]){"aiff", "aif", "aifc", NULL},
    (const char *const[]){"mpeg", "mpg", "m2v", "vob", NULL},
    (const char *const[]){"mp3", NULL},
    (const char *const[]){"aac", NULL},
    (const char *const[]){"rtf", NULL},
    (const char *const[]){"html", "xhtml", NULL},
};

/* Input formats whose real files always carry the magic format_sniff() knows: a file that
 * does not sniff as one of their class is not one of them. mp3, aac, mpeg and the text
 * formats are missing on purpose: real files of those often start with junk, padding or
 * anything at all. */
static const char *const strict[] = {
    "jpg",  "png", "apng", "gif",  "webp", "tiff", "bmp",  "dib",  "ico", "svg", "heic", "heif",
    "avif", "jxl", "jp2",  "psd",  "pdf",  "ps",   "eps",  "zip",  "gz",  "bz2", "xz",   "7z",
    "rar",  "tar", "mp4",  "mov",  "m4a",  "3gp",  "mkv",  "webm", "ogg", "wav", "avi",  "flac",
    "flv",  "wmv", "aiff", "svgz", "docx", "xlsx", "pptx", "odt",  "ods", "odp", "epub", NULL,
};

/* Sniffed types that are text and may well be the content of a text-like input format
 * (an HTML or SVG document uploaded as txt, md or xml). */
static const char *const textual[] = {"html", "svg", "rtf", NULL};

static bool in_list(const char *const *list, const char *name)
{
    for (; *list; list++)
        if (strcmp(*list, name) == 0)
            return true;
    return false;
}

static const char *const *class_of(const char *name)
{
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
        if (in_list(classes[i], name))
            return classes[i];
    return NULL;
}

bool format_sniff_matches(const char *inputformat, const char *sniffed)
{
    if (!inputformat)
        return false;
    /* The fake test converter takes anything (it only copies bytes). */
    if (strcmp(inputformat, "fake") == 0)
        return true;
    if (sniffed) {
        if (strcmp(inputformat, sniffed) == 0)
            return true;
        const char *const *cls = class_of(sniffed);
        if (cls && in_list(cls, inputformat))
            return true;
    }
    if (in_list(strict, inputformat))
        return false;
    /* spec SEC-14: a type we cannot sniff reliably passes unless the bytes are some other
     * known binary format (a PostScript file called .txt still never reaches gs). */
    return !sniffed || in_list(textual, sniffed);
}

/* ---- names and Content-Types ------------------------------------------------------- */

static const struct {
    const char *ext;
    const char *display;
    const char *mime;
} types[] = {
    {"png", "PNG", "image/png"},
    {"jpg", "JPEG", "image/jpeg"},
    {"gif", "GIF", "image/gif"},
    {"webp", "WebP", "image/webp"},
    {"tiff", "TIFF", "image/tiff"},
    {"svg", "SVG", "image/svg+xml"},
    {"avif", "AVIF", "image/avif"},
    {"heif", "HEIF", "image/heif"},
    {"heic", "HEIC", "image/heic"},
    {"jxl", "JPEG XL", "image/jxl"},
    {"bmp", "BMP", "image/bmp"},
    {"ico", "ICO", "image/x-icon"},
    {"jp2", "JPEG 2000", "image/jp2"},
    {"psd", "PSD", "image/vnd.adobe.photoshop"},
    {"pdf", "PDF", "application/pdf"},
    {"ps", "PostScript", "application/postscript"},
    {"eps", "EPS", "application/postscript"},
    {"zip", "ZIP", "application/zip"},
    {"gz", "gzip", "application/gzip"},
    {"tar.gz", "TAR.GZ", "application/gzip"},
    {"tar", "TAR", "application/x-tar"},
    {"bz2", "bzip2", "application/x-bzip2"},
    {"xz", "XZ", "application/x-xz"},
    {"7z", "7z", "application/x-7z-compressed"},
    {"rar", "RAR", "application/vnd.rar"},
    {"mp4", "MP4", "video/mp4"},
    {"mov", "QuickTime", "video/quicktime"},
    {"m4a", "M4A", "audio/mp4"},
    {"3gp", "3GP", "video/3gpp"},
    {"mkv", "Matroska", "video/x-matroska"},
    {"webm", "WebM", "video/webm"},
    {"avi", "AVI", "video/x-msvideo"},
    {"flv", "FLV", "video/x-flv"},
    {"wmv", "WMV", "video/x-ms-wmv"},
    {"mpeg", "MPEG", "video/mpeg"},
    {"ogv", "Ogg video", "video/ogg"},
    {"ogg", "Ogg", "audio/ogg"},
    {"opus", "Opus", "audio/ogg"},
    {"mp3", "MP3", "audio/mpeg"},
    {"aac", "AAC", "audio/aac"},
    {"wav", "WAV", "audio/wav"},
    {"flac", "FLAC", "audio/flac"},
    {"aiff", "AIFF", "audio/aiff"},
    {"wma", "WMA", "audio/x-ms-wma"},
    {"html", "HTML", "text/html"},
    {"txt", "text", "text/plain"},
    {"csv", "CSV", "text/csv"},
    {"md", "Markdown", "text/markdown"},
    {"rtf", "RTF", "application/rtf"},
    {"xml", "XML", "application/xml"},
    {"doc", "Word", "application/msword"},
    {"docx", "Word", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    {"xls", "Excel", "application/vnd.ms-excel"},
    {"xlsx", "Excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    {"ppt", "PowerPoint", "application/vnd.ms-powerpoint"},
    {"pptx", "PowerPoint",
     "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
    {"odt", "ODT", "application/vnd.oasis.opendocument.text"},
    {"ods", "ODS", "application/vnd.oasis.opendocument.spreadsheet"},
    {"odp", "ODP", "application/vnd.oasis.opendocument.presentation"},
    {"epub", "EPUB", "application/epub+zip"},
    /* compat H2: php json-decodes a download served as application/json. */
    {"json", "JSON", "application/octet-stream"},
};

static int type_index(const char *ext)
{
    if (!ext)
        return -1;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcasecmp(types[i].ext, ext) == 0)
            return (int)i;
    return -1;
}

const char *format_display_name(const char *format)
{
    static _Thread_local char buf[64];
    if (!format || !*format)
        return "unknown";
    int i = type_index(format);
    if (i >= 0)
        return types[i].display;
    size_t n = 0;
    for (; format[n] && n + 1 < sizeof buf; n++)
        buf[n] = (char)toupper((unsigned char)format[n]);
    buf[n] = '\0';
    return buf;
}

const char *format_mime_type(const char *ext)
{
    int i = type_index(ext);
    return i >= 0 ? types[i].mime : "application/octet-stream";
}
