/* SPDX-License-Identifier: MIT */
/* pdf.c - PDF facts, info, merging, image pages and image extraction through libqpdf's
 * C API (libvips encodes the extracted images). */
#include "convertd-config.h"

#include "converters/pdf.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include <qpdf/qpdf-c.h>
#if HAVE_VIPS
#include <vips/vips.h>
#endif

#include "common/mem.h"
#include "common/text.h"

/* No writer makes page trees deeper than a dozen levels; qpdf walks them by recursion and
 * overflows an 8 MB stack somewhere past 20000 levels, so we refuse long before. */
#define MAX_TREE_DEPTH 256
/* Top-level bookmarks taken from one input (a /Next chain that loops stops here). */
#define MAX_OUTLINE_ITEMS 100000
/* US Letter, what viewers and gs assume for a page without a MediaBox. */
#define DEFAULT_WIDTH_PT  612.0
#define DEFAULT_HEIGHT_PT 792.0

/* ---- qpdf glue --------------------------------------------------------------------- */

/* A qpdf_data that neither prints warnings nor errors: we read them ourselves. */
static qpdf_data open_qpdf(void)
{
    qpdf_data q = qpdf_init();
    if (!q)
        abort(); /* only fails on out-of-memory, like xmalloc */
    qpdf_silence_errors(q);
    qpdf_set_suppress_warnings(q, QPDF_TRUE);
    return q;
}

/* qpdf's message for the pending error, without the file name (a path of the worker's). */
static const char *error_text(qpdf_data q)
{
    if (!qpdf_has_error(q))
        return "unknown error";
    qpdf_error e = qpdf_get_error(q);
    const char *detail = e ? qpdf_get_error_message_detail(q, e) : NULL;
    return detail && *detail ? detail : "unknown error";
}

/* msg with every occurrence of path replaced by "the file": system errors ("open PATH: No
 * such file or directory") would otherwise show the worker's paths to the client. */
static void scrub_path(char *out, size_t size, const char *msg, const char *path)
{
    size_t plen = strlen(path), len = 0;
    out[0] = '\0';
    while (*msg && len + 1 < size) {
        if (plen && strncmp(msg, path, plen) == 0) {
            len += (size_t)snprintf(out + len, size - len, "the file");
            msg += plen;
        } else {
            out[len++] = *msg++;
            out[len] = '\0';
        }
    }
}

/* qpdf_read() with convertd's two messages; prefix names the input when merging. */
static int read_pdf(qpdf_data q, const char *path, const char *prefix, struct err *err)
{
    if (!(qpdf_read(q, path, NULL) & QPDF_ERRORS))
        return 0;
    qpdf_error e = qpdf_has_error(q) ? qpdf_get_error(q) : NULL;
    if (e && qpdf_get_error_code(q, e) == qpdf_e_password)
        return err_set(err, ERR_CONVERT, "%sthe PDF is password protected", prefix);
    const char *detail = e ? qpdf_get_error_message_detail(q, e) : NULL;
    char msg[sizeof err->msg];
    scrub_path(msg, sizeof msg, detail && *detail ? detail : "unknown error", path);
    return err_set(err, ERR_CONVERT, "%scannot read the PDF: %s", prefix, msg);
}

static bool get_number(qpdf_data q, qpdf_oh oh, double *v)
{
    double d;
    if (!qpdf_oh_is_number(q, oh) || !qpdf_oh_get_value_as_number(q, oh, &d) || !isfinite(d))
        return false;
    *v = d;
    return true;
}

/* ---- page tree --------------------------------------------------------------------- */

/* Object ids of the /Pages nodes seen, so that a node reached twice (a loop, or a DAG whose
 * paths multiply) is refused instead of walked again: open addressing, ids are > 0. */
struct idset {
    unsigned long long *slots;
    size_t cap, len;
};

static bool idset_add(struct idset *s, int objid, int gen)
{
    if (s->len * 2 >= s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 64;
        unsigned long long *ns = xcalloc(ncap, sizeof *ns);
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->slots[i])
                continue;
            size_t j = (size_t)(s->slots[i] * 0x9E3779B97F4A7C15ull) & (ncap - 1);
            while (ns[j])
                j = (j + 1) & (ncap - 1);
            ns[j] = s->slots[i];
        }
        free(s->slots);
        s->slots = ns;
        s->cap = ncap;
    }
    unsigned long long key = ((unsigned long long)(unsigned)objid << 32) | (unsigned)gen;
    size_t j = (size_t)(key * 0x9E3779B97F4A7C15ull) & (s->cap - 1);
    while (s->slots[j]) {
        if (s->slots[j] == key)
            return false;
        j = (j + 1) & (s->cap - 1);
    }
    s->slots[j] = key;
    s->len++;
    return true;
}

struct tree_frame {
    qpdf_oh node, kids;
    int n_kids, next;
};

/* Count the leaves of the page tree ourselves before qpdf's recursive getAllPages() sees
 * it: too deep or looping trees are refused here, and the work is bounded by the file's
 * size since every /Pages node is entered once. */
static int walk_page_tree(qpdf_data q, qpdf_oh pages_root, const char *prefix, long long *leaves,
                          struct err *err)
{
    struct tree_frame stack[MAX_TREE_DEPTH];
    struct idset seen = {0};
    int depth = 0, rc = -1;

    *leaves = 0;
    qpdf_oh node = qpdf_oh_new_object(q, pages_root);
    for (;;) {
        /* node is a /Pages candidate to enter (or 0 when we are popping). */
        if (node) {
            int id = qpdf_oh_get_object_id(q, node);
            if (id > 0 && !idset_add(&seen, id, qpdf_oh_get_generation(q, node))) {
                qpdf_oh_release(q, node);
                err_set(err, ERR_CONVERT, "%scannot read the PDF: loop in the page tree", prefix);
                goto out;
            }
            if (depth == MAX_TREE_DEPTH) {
                qpdf_oh_release(q, node);
                err_set(err, ERR_CONVERT, "%scannot read the PDF: page tree deeper than %d levels",
                        prefix, MAX_TREE_DEPTH);
                goto out;
            }
            qpdf_oh kids = qpdf_oh_get_key(q, node, "/Kids");
            stack[depth++] = (struct tree_frame){
                .node = node,
                .kids = kids,
                .n_kids = qpdf_oh_is_array(q, kids) ? qpdf_oh_get_array_n_items(q, kids) : 0,
            };
            node = 0;
        }
        if (qpdf_has_error(q)) {
            err_set(err, ERR_CONVERT, "%scannot read the PDF: %s", prefix, error_text(q));
            goto out;
        }
        if (depth == 0)
            break;
        struct tree_frame *f = &stack[depth - 1];
        if (f->next >= f->n_kids) {
            qpdf_oh_release(q, f->kids);
            qpdf_oh_release(q, f->node);
            depth--;
            continue;
        }
        qpdf_oh kid = qpdf_oh_get_array_item(q, f->kids, f->next++);
        if (qpdf_oh_is_dictionary(q, kid) && qpdf_oh_has_key(q, kid, "/Kids")) {
            node = kid;
        } else {
            (*leaves)++;
            qpdf_oh_release(q, kid);
        }
    }
    rc = 0;
out:
    while (depth > 0) {
        depth--;
        qpdf_oh_release(q, stack[depth].kids);
        qpdf_oh_release(q, stack[depth].node);
    }
    free(seen.slots);
    return rc;
}

/* Checks the page count against limit (< 0: none) twice before qpdf builds its page list:
 * the tree's /Count, which costs nothing but may lie, then our own walk. Then qpdf's count,
 * which is what the pages are read by. Returns the count, or -1 with *pages_out set to the
 * count seen when that was over the limit. */
static int count_pages(qpdf_data q, int limit, const char *prefix, int *pages_out, struct err *err)
{
    qpdf_oh root = qpdf_get_root(q);
    qpdf_oh pages = qpdf_oh_get_key(q, root, "/Pages");
    qpdf_oh count = qpdf_oh_get_key(q, pages, "/Count");
    long long n = 0;
    if (qpdf_has_error(q))
        return err_set(err, ERR_CONVERT, "%scannot read the PDF: %s", prefix, error_text(q));
    if (!qpdf_oh_is_dictionary(q, pages))
        return err_set(err, ERR_CONVERT, "%scannot read the PDF: it has no page tree", prefix);
    if (limit >= 0 && qpdf_oh_get_value_as_longlong(q, count, &n) && n > limit) {
        *pages_out = n > INT_MAX ? INT_MAX : (int)n;
        return err_set(err, ERR_CONVERT, "%sthe PDF has %lld pages, more than the limit of %d",
                       prefix, n, limit);
    }
    if (walk_page_tree(q, pages, prefix, &n, err) < 0)
        return -1;
    if (limit >= 0 && n > limit) {
        *pages_out = n > INT_MAX ? INT_MAX : (int)n;
        return err_set(err, ERR_CONVERT, "%sthe PDF has %lld pages, more than the limit of %d",
                       prefix, n, limit);
    }
    qpdf_oh_release(q, count);
    qpdf_oh_release(q, pages);
    qpdf_oh_release(q, root);
    int got = qpdf_get_num_pages(q);
    if (got < 0 || qpdf_has_error(q))
        return err_set(err, ERR_CONVERT, "%scannot read the PDF: %s", prefix, error_text(q));
    *pages_out = got;
    if (limit >= 0 && got > limit)
        return err_set(err, ERR_CONVERT, "%sthe PDF has %d pages, more than the limit of %d",
                       prefix, got, limit);
    return got;
}

/* ---- facts ------------------------------------------------------------------------- */

struct box {
    double x0, y0, x1, y1; /* normalised: x0 <= x1, y0 <= y1 */
};

static bool get_box(qpdf_data q, qpdf_oh page, const char *key, struct box *b)
{
    qpdf_oh arr = qpdf_oh_get_key(q, page, key);
    double v[4];
    if (!qpdf_oh_is_array(q, arr) || qpdf_oh_get_array_n_items(q, arr) != 4)
        return false;
    for (int i = 0; i < 4; i++)
        if (!get_number(q, qpdf_oh_get_array_item(q, arr, i), &v[i]))
            return false;
    b->x0 = fmin(v[0], v[2]);
    b->x1 = fmax(v[0], v[2]);
    b->y0 = fmin(v[1], v[3]);
    b->y1 = fmax(v[1], v[3]);
    return b->x1 > b->x0 && b->y1 > b->y0;
}

/* The visible size of one page (inherited attributes already pushed down by qpdf). */
static struct pdf_page_size page_size(qpdf_data q, qpdf_oh page)
{
    struct pdf_page_size sz = {DEFAULT_WIDTH_PT, DEFAULT_HEIGHT_PT};
    struct box media, crop;
    double unit = 1, rotate = 0;

    if (get_box(q, page, "/MediaBox", &media)) {
        /* The CropBox counts only where it lies inside the MediaBox (PDF 32000 14.11.2). */
        if (get_box(q, page, "/CropBox", &crop)) {
            struct box i = {fmax(media.x0, crop.x0), fmax(media.y0, crop.y0),
                            fmin(media.x1, crop.x1), fmin(media.y1, crop.y1)};
            if (i.x1 > i.x0 && i.y1 > i.y0)
                media = i;
        }
        sz.width_pt = media.x1 - media.x0;
        sz.height_pt = media.y1 - media.y0;
    }
    if (get_number(q, qpdf_oh_get_key(q, page, "/UserUnit"), &unit) && unit > 0) {
        sz.width_pt *= unit;
        sz.height_pt *= unit;
    }
    if (get_number(q, qpdf_oh_get_key(q, page, "/Rotate"), &rotate)) {
        long r = ((long)fmod(rotate, 360.0) + 360) % 360;
        if (r == 90 || r == 270) {
            double t = sz.width_pt;
            sz.width_pt = sz.height_pt;
            sz.height_pt = t;
        }
    }
    return sz;
}

/* An Info dictionary string as UTF-8 (qpdf decodes PDFDocEncoding and UTF-16), or NULL when
 * absent or empty. Bytes that are not UTF-8 after that become '?'. */
static char *info_string(qpdf_data q, qpdf_oh info, const char *key)
{
    qpdf_oh v = qpdf_oh_get_key(q, info, key);
    const char *s = NULL;
    size_t len = 0;
    char *out = NULL;
    if (qpdf_oh_is_string(q, v) && qpdf_oh_get_value_as_utf8(q, v, &s, &len) && s && len) {
        /* A NUL inside would cut the string for every C consumer: stop there. */
        out = xstrndup(s, strnlen(s, len));
        text_utf8_clean(out);
        if (!*out) {
            free(out);
            out = NULL;
        }
    }
    qpdf_oh_release(q, v);
    return out;
}

int pdf_read_facts(const char *path, int max_pages, struct pdf_facts *facts, struct err *err)
{
    qpdf_data q = open_qpdf();
    int rc = -1;

    memset(facts, 0, sizeof *facts);
    if (read_pdf(q, path, "", err) < 0)
        goto out;

    const char *version = qpdf_get_pdf_version(q);
    facts->version = xstrdup(version && *version ? version : "1.0");
    facts->encrypted = qpdf_is_encrypted(q) != QPDF_FALSE;
    qpdf_oh trailer = qpdf_get_trailer(q);
    qpdf_oh info = qpdf_oh_get_key(q, trailer, "/Info");
    if (qpdf_oh_is_dictionary(q, info)) {
        facts->title = info_string(q, info, "/Title");
        facts->author = info_string(q, info, "/Author");
    }
    qpdf_oh_release(q, info);
    qpdf_oh_release(q, trailer);
    if (qpdf_has_error(q)) {
        /* A broken Info dictionary costs the title, not the document. */
        (void)qpdf_get_error(q);
    }

    int pages = count_pages(q, max_pages > 0 ? max_pages : -1, "", &facts->pages, err);
    if (pages < 0)
        goto out;
    if (qpdf_push_inherited_attributes_to_page(q) & QPDF_ERRORS) {
        err_set(err, ERR_CONVERT, "cannot read the PDF: %s", error_text(q));
        goto out;
    }
    facts->sizes = xcalloc(pages > 0 ? (size_t)pages : 1, sizeof *facts->sizes);
    for (int i = 0; i < pages; i++) {
        qpdf_oh page = qpdf_get_page_n(q, (size_t)i);
        facts->sizes[i] = page_size(q, page);
        /* Every lookup made a handle; none is kept past the page. */
        qpdf_oh_release_all(q);
        if (qpdf_has_error(q)) {
            err_set(err, ERR_CONVERT, "cannot read the PDF: page %d: %s", i + 1, error_text(q));
            goto out;
        }
    }
    rc = 0;
out:
    if (rc < 0) {
        free(facts->sizes);
        facts->sizes = NULL;
    }
    qpdf_cleanup(&q);
    return rc;
}

void pdf_facts_fini(struct pdf_facts *facts)
{
    if (!facts)
        return;
    free(facts->sizes);
    free(facts->title);
    free(facts->author);
    free(facts->version);
    memset(facts, 0, sizeof *facts);
}

static json_t *real2(double v)
{
    return json_real(round(v * 100.0) / 100.0);
}

json_t *pdf_info_json(const struct pdf_facts *facts, int64_t file_size)
{
    json_t *o = json_object();
    json_object_set_new(o, "format", json_string("pdf"));
    if (file_size >= 0)
        json_object_set_new(o, "size", json_integer(file_size));
    json_object_set_new(o, "pages", json_integer(facts->pages));
    if (facts->sizes) {
        json_t *a = json_array();
        for (int i = 0; i < facts->pages; i++)
            json_array_append_new(a, json_pack("{s:o, s:o}", "width_pt",
                                               real2(facts->sizes[i].width_pt), "height_pt",
                                               real2(facts->sizes[i].height_pt)));
        json_object_set_new(o, "page_sizes", a);
    }
    /* json_string() refuses bad UTF-8 with NULL; set_new then adds nothing. */
    if (facts->title)
        json_object_set_new(o, "title", json_string(facts->title));
    if (facts->author)
        json_object_set_new(o, "author", json_string(facts->author));
    if (facts->version)
        json_object_set_new(o, "pdf_version", json_string(facts->version));
    return o;
}

/* ---- merge ------------------------------------------------------------------------- */

/* "1.7" > "1.4"; anything unparsable counts as 1.0. */
static long version_rank(const char *v)
{
    char *end;
    long major = strtol(v, &end, 10), minor = 0;
    if (end == v)
        return 10;
    if (*end == '.')
        minor = strtol(end + 1, NULL, 10);
    return major * 10 + (minor >= 0 && minor < 10 ? minor : 0);
}

static bool same_object(qpdf_data q, qpdf_oh a, qpdf_oh b)
{
    int id = qpdf_oh_get_object_id(q, a);
    return id > 0 && id == qpdf_oh_get_object_id(q, b) &&
           qpdf_oh_get_generation(q, a) == qpdf_oh_get_generation(q, b);
}

/* Append the top-level bookmarks of src to dst's outline, after its pages were copied:
 * qpdf remembers what it copied from src, so /Dest references to src's pages land on the
 * copies. Named destinations (whose name tree is not merged) then lead nowhere, which
 * viewers ignore. Best effort: a broken outline is skipped, never fatal. */
static void merge_outline(qpdf_data dst, qpdf_oh *dst_outlines, qpdf_data src)
{
    qpdf_oh src_outlines = qpdf_oh_get_key(src, qpdf_get_root(src), "/Outlines");
    qpdf_oh src_first = qpdf_oh_get_key(src, src_outlines, "/First");
    qpdf_oh src_last = qpdf_oh_get_key(src, src_outlines, "/Last");
    if (qpdf_has_error(src) || !qpdf_oh_is_dictionary(src, src_first) ||
        !qpdf_oh_is_indirect(src, src_first) || !qpdf_oh_is_indirect(src, src_last)) {
        (void)qpdf_get_error(src);
        return;
    }

    qpdf_oh first = qpdf_oh_copy_foreign_object(dst, src, src_first);
    qpdf_oh last = qpdf_oh_copy_foreign_object(dst, src, src_last);
    if (qpdf_has_error(dst)) {
        (void)qpdf_get_error(dst);
        return;
    }
    if (!*dst_outlines) {
        *dst_outlines =
            qpdf_make_indirect_object(dst, qpdf_oh_parse(dst, "<< /Type /Outlines /Count 0 >>"));
        qpdf_oh_replace_key(dst, qpdf_get_root(dst), "/Outlines", *dst_outlines);
    }

    /* Walk the copied top level: re-parent each item and count the visible ones. */
    long long visible = 0;
    qpdf_oh item = first, tail = first;
    for (int n = 0; n < MAX_OUTLINE_ITEMS; n++) {
        long long open = 0;
        qpdf_oh_replace_key(dst, item, "/Parent", *dst_outlines);
        if (qpdf_oh_get_value_as_longlong(dst, qpdf_oh_get_key(dst, item, "/Count"), &open) &&
            open > 0)
            visible += open;
        visible++;
        tail = item;
        if (same_object(dst, item, last))
            break;
        qpdf_oh next = qpdf_oh_get_key(dst, item, "/Next");
        if (!qpdf_oh_is_dictionary(dst, next))
            break;
        item = next;
    }
    /* The chain may have ended early (a loop, a dangling /Next): cut it there. */
    qpdf_oh_remove_key(dst, tail, "/Next");
    qpdf_oh_remove_key(dst, first, "/Prev");

    qpdf_oh prev_last = qpdf_oh_get_key(dst, *dst_outlines, "/Last");
    if (qpdf_oh_is_dictionary(dst, prev_last)) {
        qpdf_oh_replace_key(dst, prev_last, "/Next", first);
        qpdf_oh_replace_key(dst, first, "/Prev", prev_last);
    } else {
        qpdf_oh_replace_key(dst, *dst_outlines, "/First", first);
    }
    qpdf_oh_replace_key(dst, *dst_outlines, "/Last", tail);
    long long count = 0;
    qpdf_oh_get_value_as_longlong(dst, qpdf_oh_get_key(dst, *dst_outlines, "/Count"), &count);
    qpdf_oh_replace_key(dst, *dst_outlines, "/Count", qpdf_oh_new_integer(dst, count + visible));
    if (qpdf_has_error(dst))
        (void)qpdf_get_error(dst);
}

int pdf_merge(const char *const *inputs, const char *out_path, int max_pages, struct err *err)
{
    size_t n = 0;
    while (inputs && inputs[n])
        n++;
    qpdf_data *src = xcalloc(n ? n : 1, sizeof *src);
    qpdf_data dst = open_qpdf();
    qpdf_oh dst_outlines = 0;
    long long total = 0;
    long best_version = 13;
    char best_version_text[16] = "1.3";
    int rc = -1;

    if (n == 0) {
        err_set(err, ERR_CONVERT, "no PDF to merge");
        goto out;
    }
    if (qpdf_empty_pdf(dst) & QPDF_ERRORS) {
        err_set(err, ERR_CONVERT, "cannot create a PDF: %s", error_text(dst));
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "input %zu: ", i + 1);
        /* Pages copied from src[i] still read their streams from it until dst is written,
         * so every input stays open until then. */
        src[i] = open_qpdf();
        if (read_pdf(src[i], inputs[i], prefix, err) < 0)
            goto out;
        int left = max_pages > 0 ? max_pages - (int)total : -1, pages_seen = 0;
        struct err cerr = ERR_INIT;
        int pages = count_pages(src[i], left, prefix, &pages_seen, &cerr);
        if (pages < 0) {
            if (left >= 0 && pages_seen > left)
                err_set(err, ERR_CONVERT,
                        "%sthe merged PDF would have %lld pages, more than the limit of %d", prefix,
                        total + pages_seen, max_pages);
            else
                err_set(err, cerr.code, "%s", cerr.msg);
            goto out;
        }
        const char *v = qpdf_get_pdf_version(src[i]);
        if (v && version_rank(v) > best_version) {
            best_version = version_rank(v);
            snprintf(best_version_text, sizeof best_version_text, "%s", v);
        }
        for (int p = 0; p < pages; p++) {
            qpdf_oh page = qpdf_get_page_n(src[i], (size_t)p);
            if (qpdf_add_page(dst, src[i], page, QPDF_FALSE) & QPDF_ERRORS) {
                err_set(err, ERR_CONVERT, "%spage %d: %s", prefix, p + 1, error_text(dst));
                goto out;
            }
            qpdf_oh_release(src[i], page);
        }
        total += pages;
        merge_outline(dst, &dst_outlines, src[i]);
    }
    if (total == 0) {
        err_set(err, ERR_CONVERT, "the PDFs have no pages");
        goto out;
    }

    if (qpdf_init_write(dst, out_path) & QPDF_ERRORS) {
        err_set(err, ERR_CONVERT, "cannot write the merged PDF: %s", error_text(dst));
        goto out;
    }
    /* The copied objects may use features of the newest input (transparency, JPX...),
     * which qpdf cannot see: declare that version at least. */
    qpdf_set_minimum_pdf_version(dst, best_version_text);
    if (qpdf_write(dst) & QPDF_ERRORS) {
        err_set(err, ERR_CONVERT, "cannot write the merged PDF: %s", error_text(dst));
        goto out;
    }
    rc = 0;
out:
    /* The writer holds the output file open until cleanup: unlink after it. */
    qpdf_cleanup(&dst);
    for (size_t i = 0; i < n; i++)
        if (src[i])
            qpdf_cleanup(&src[i]);
    free(src);
    if (rc < 0)
        unlink(out_path);
    return rc;
}

/* ---- images to pages --------------------------------------------------------------- */

/* A PDF number with 4 decimals, independent of the C locale. */
static void fmt_num(char *buf, size_t size, double v)
{
    long long t = llround(v * 10000.0);
    snprintf(buf, size, "%s%lld.%04lld", t < 0 ? "-" : "", llabs(t) / 10000, llabs(t) % 10000);
}

static int add_image_page(qpdf_data q, const struct pdf_image *im, size_t index, struct err *err)
{
    if (im->width <= 0 || im->height <= 0 || (im->bands != 1 && im->bands != 3))
        return err_set(err, ERR_CONVERT, "image %zu: unsupported size or bands", index + 1);
    if (!im->data && (!im->jpeg || im->jpeg_len < 4 || im->jpeg[0] != 0xFF || im->jpeg[1] != 0xD8))
        return err_set(err, ERR_CONVERT, "image %zu: no pixels and no JPEG data", index + 1);

    double dpi = im->dpi > 0 ? im->dpi : 72.0;
    char w[48], h[48], text[256];
    fmt_num(w, sizeof w, im->width / dpi * 72.0);
    fmt_num(h, sizeof h, im->height / dpi * 72.0);

    qpdf_oh image = qpdf_oh_new_stream(q);
    qpdf_oh dict = qpdf_oh_get_dict(q, image);
    qpdf_oh_replace_key(q, dict, "/Type", qpdf_oh_new_name(q, "/XObject"));
    qpdf_oh_replace_key(q, dict, "/Subtype", qpdf_oh_new_name(q, "/Image"));
    qpdf_oh_replace_key(q, dict, "/Width", qpdf_oh_new_integer(q, im->width));
    qpdf_oh_replace_key(q, dict, "/Height", qpdf_oh_new_integer(q, im->height));
    qpdf_oh_replace_key(q, dict, "/ColorSpace",
                        qpdf_oh_new_name(q, im->bands == 1 ? "/DeviceGray" : "/DeviceRGB"));
    qpdf_oh_replace_key(q, dict, "/BitsPerComponent", qpdf_oh_new_integer(q, 8));
    if (im->data) {
        /* No filter given: the writer deflates every unfiltered stream (compress_streams). */
        size_t len = (size_t)im->width * (size_t)im->height * (size_t)im->bands;
        qpdf_oh_replace_stream_data(q, image, im->data, len, qpdf_oh_new_null(q),
                                    qpdf_oh_new_null(q));
    } else {
        qpdf_oh_replace_stream_data(q, image, im->jpeg, im->jpeg_len,
                                    qpdf_oh_new_name(q, "/DCTDecode"), qpdf_oh_new_null(q));
    }

    int len = snprintf(text, sizeof text, "q %s 0 0 %s 0 0 cm /Im0 Do Q\n", w, h);
    qpdf_oh content = qpdf_oh_new_stream(q);
    qpdf_oh_replace_stream_data(q, content, (const unsigned char *)text, (size_t)len,
                                qpdf_oh_new_null(q), qpdf_oh_new_null(q));

    snprintf(text, sizeof text, "<< /Type /Page /MediaBox [0 0 %s %s] /Resources << >> >>", w, h);
    qpdf_oh page = qpdf_oh_parse(q, text);
    qpdf_oh resources = qpdf_oh_get_key(q, page, "/Resources");
    qpdf_oh xobjects = qpdf_oh_new_dictionary(q);
    qpdf_oh_replace_key(q, xobjects, "/Im0", image);
    qpdf_oh_replace_key(q, resources, "/XObject", xobjects);
    qpdf_oh_replace_key(q, page, "/Contents", content);
    page = qpdf_make_indirect_object(q, page);
    if (qpdf_has_error(q) || (qpdf_add_page(q, q, page, QPDF_FALSE) & QPDF_ERRORS))
        return err_set(err, ERR_CONVERT, "image %zu: %s", index + 1, error_text(q));
    /* qpdf copied the pixels; the handles made here are not needed again. */
    qpdf_oh_release_all(q);
    return 0;
}

int pdf_write_images(const struct pdf_image *images, size_t n, const char *out_path,
                     struct err *err)
{
    qpdf_data q = open_qpdf();
    int rc = -1;

    if (n == 0) {
        err_set(err, ERR_CONVERT, "no image to write");
        goto out;
    }
    if (qpdf_empty_pdf(q) & QPDF_ERRORS) {
        err_set(err, ERR_CONVERT, "cannot create a PDF: %s", error_text(q));
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (add_image_page(q, &images[i], i, err) < 0)
            goto out;
    if (qpdf_init_write(q, out_path) & QPDF_ERRORS) {
        err_set(err, ERR_CONVERT, "cannot write the PDF: %s", error_text(q));
        goto out;
    }
    qpdf_set_compress_streams(q, QPDF_TRUE);
    if (qpdf_write(q) & QPDF_ERRORS) {
        err_set(err, ERR_CONVERT, "cannot write the PDF: %s", error_text(q));
        goto out;
    }
    rc = 0;
out:
    qpdf_cleanup(&q);
    if (rc < 0)
        unlink(out_path);
    return rc;
}

/* ---- images out of pages ----------------------------------------------------------- */

#if HAVE_VIPS

/* Forms inside forms: deeper ones are not looked into (no writer nests this far). */
#define MAX_FORM_DEPTH 8
/* Samples of one image, decoded, before anything is allocated for them. */
#define MAX_DECODED ((size_t)512 << 20)

/* What the image samples are, reduced to what we can write: gray, RGB or CMYK, directly or
 * through an index. */
struct cspace {
    int n;                 /* components of the (base) colour space: 1, 3 or 4 */
    bool indexed;          /* samples are indexes into lookup */
    int hival;             /* indexed: highest index */
    unsigned char *lookup; /* indexed: (hival + 1) × n bytes, malloc'd */
};

struct extract {
    qpdf_data q;
    const char *out_dir, *ext;
    bool jpg;
    int quality;
    struct pdf_extract_limits lim;
    struct idset seen; /* images and forms already met */
    char **written;
    int n_written, cap_written;
    int skipped;
};

/* How the stream is encoded: every filter one qpdf undoes (no filter at all included), or
 * those with DCTDecode last, or something else (JPX, JBIG2, CCITT, Crypt...). */
enum encoding { ENC_PLAIN, ENC_DCT, ENC_OTHER };

static bool filter_is(qpdf_data q, qpdf_oh name, const char *const *names)
{
    for (; *names; names++)
        if (qpdf_oh_is_name_and_equals(q, name, *names))
            return true;
    return false;
}

static enum encoding stream_encoding(qpdf_data q, qpdf_oh dict, int *n_filters)
{
    /* clang-format off */
    static const char *const plain[] = {
        "/FlateDecode", "/Fl", "/LZWDecode", "/LZW", "/ASCIIHexDecode", "/AHx",
        "/ASCII85Decode", "/A85", "/RunLengthDecode", "/RL", NULL,
    };
    /* clang-format on */
    static const char *const dct[] = {"/DCTDecode", "/DCT", NULL};
    qpdf_oh f = qpdf_oh_get_key(q, dict, "/Filter");
    *n_filters = 0;
    if (qpdf_oh_is_null(q, f))
        return ENC_PLAIN;
    if (qpdf_oh_is_name(q, f)) {
        *n_filters = 1;
        return filter_is(q, f, plain) ? ENC_PLAIN : filter_is(q, f, dct) ? ENC_DCT : ENC_OTHER;
    }
    if (!qpdf_oh_is_array(q, f))
        return ENC_OTHER;
    int n = qpdf_oh_get_array_n_items(q, f);
    *n_filters = n;
    for (int i = 0; i < n; i++) {
        qpdf_oh item = qpdf_oh_get_array_item(q, f, i);
        if (filter_is(q, item, plain))
            continue;
        return i == n - 1 && filter_is(q, item, dct) ? ENC_DCT : ENC_OTHER;
    }
    return ENC_PLAIN;
}

/* The JPEG file inside a DCTDecode image: its raw data when DCTDecode is the only filter,
 * else the data with the filters before it undone by qpdf (through a scratch stream that
 * carries only those). malloc'd, or NULL. */
static unsigned char *jpeg_bytes(qpdf_data q, qpdf_oh image, qpdf_oh dict, int n_filters,
                                 size_t *len)
{
    unsigned char *raw = NULL, *out = NULL;
    size_t raw_len = 0;
    QPDF_BOOL filtered = QPDF_FALSE;

    if (qpdf_oh_get_stream_data(q, image, qpdf_dl_none, NULL, &raw, &raw_len) & QPDF_ERRORS)
        return NULL;
    if (n_filters <= 1) {
        *len = raw_len;
        return raw;
    }
    qpdf_oh filters = qpdf_oh_get_key(q, dict, "/Filter");
    qpdf_oh parms = qpdf_oh_get_key(q, dict, "/DecodeParms");
    qpdf_oh f = qpdf_oh_new_array(q), p = qpdf_oh_new_array(q);
    for (int i = 0; i < n_filters - 1; i++) {
        qpdf_oh_append_item(q, f, qpdf_oh_get_array_item(q, filters, i));
        qpdf_oh_append_item(q, p,
                            qpdf_oh_is_array(q, parms) ? qpdf_oh_get_array_item(q, parms, i)
                                                       : qpdf_oh_new_null(q));
    }
    qpdf_oh scratch = qpdf_oh_new_stream(q);
    qpdf_oh_replace_stream_data(q, scratch, raw, raw_len, f, p);
    free(raw);
    if ((qpdf_oh_get_stream_data(q, scratch, qpdf_dl_specialized, &filtered, &out, len) &
         QPDF_ERRORS) ||
        !filtered) {
        free(out);
        return NULL;
    }
    return out;
}

static bool is_name(qpdf_data q, qpdf_oh oh, const char *a, const char *b)
{
    return qpdf_oh_is_name_and_equals(q, oh, a) || (b && qpdf_oh_is_name_and_equals(q, oh, b));
}

/* A device-like colour space: 1, 3 or 4 components, or 0 when unsupported. */
static int base_components(qpdf_data q, qpdf_oh cs)
{
    qpdf_oh family = qpdf_oh_is_array(q, cs) ? qpdf_oh_get_array_item(q, cs, 0) : cs;
    long long n = 0;
    if (is_name(q, family, "/DeviceGray", "/G") || is_name(q, family, "/CalGray", NULL))
        return 1;
    if (is_name(q, family, "/DeviceRGB", "/RGB") || is_name(q, family, "/CalRGB", NULL))
        return 3;
    if (is_name(q, family, "/DeviceCMYK", "/CMYK"))
        return 4;
    if (qpdf_oh_is_array(q, cs) && is_name(q, family, "/ICCBased", NULL)) {
        qpdf_oh stream = qpdf_oh_get_array_item(q, cs, 1);
        if (qpdf_oh_is_stream(q, stream) &&
            qpdf_oh_get_value_as_longlong(q, qpdf_oh_get_key(q, qpdf_oh_get_dict(q, stream), "/N"),
                                          &n) &&
            (n == 1 || n == 3 || n == 4))
            return (int)n;
    }
    return 0;
}

/* false when the colour space is one we do not decode (Lab, Separation, DeviceN, Pattern)
 * or a broken Indexed one. */
static bool parse_cspace(qpdf_data q, qpdf_oh cs, struct cspace *out)
{
    memset(out, 0, sizeof *out);
    if (!qpdf_oh_is_array(q, cs) ||
        !is_name(q, qpdf_oh_get_array_item(q, cs, 0), "/Indexed", "/I")) {
        out->n = base_components(q, cs);
        return out->n > 0;
    }
    long long hival = -1;
    if (qpdf_oh_get_array_n_items(q, cs) != 4)
        return false;
    out->n = base_components(q, qpdf_oh_get_array_item(q, cs, 1));
    if (!out->n || !qpdf_oh_get_value_as_longlong(q, qpdf_oh_get_array_item(q, cs, 2), &hival) ||
        hival < 0 || hival > 255)
        return false;
    out->indexed = true;
    out->hival = (int)hival;
    size_t need = (size_t)(hival + 1) * (size_t)out->n, len = 0;
    qpdf_oh table = qpdf_oh_get_array_item(q, cs, 3);
    if (qpdf_oh_is_string(q, table)) {
        const char *s = qpdf_oh_get_binary_string_value(q, table, &len);
        if (s && len >= need) {
            out->lookup = xmalloc(need);
            memcpy(out->lookup, s, need);
        }
    } else if (qpdf_oh_is_stream(q, table)) {
        unsigned char *data = NULL;
        QPDF_BOOL filtered = QPDF_FALSE;
        if (!(qpdf_oh_get_stream_data(q, table, qpdf_dl_specialized, &filtered, &data, &len) &
              QPDF_ERRORS) &&
            filtered && len >= need)
            out->lookup = data;
        else
            free(data);
    }
    return out->lookup != NULL;
}

/* One sample of a row: bpc 1, 2, 4, 8, or 16 (its high byte). */
static unsigned sample(const unsigned char *row, size_t index, int bpc)
{
    if (bpc == 8)
        return row[index];
    if (bpc == 16)
        return row[index * 2];
    size_t bit = index * (size_t)bpc;
    return (row[bit / 8] >> (8 - bpc - (int)(bit % 8))) & ((1u << bpc) - 1);
}

/* The samples as 8-bit gray (bands 1) or RGB (bands 3), through /Decode and the index.
 * CMYK becomes RGB the naive way: no profile is involved. */
static unsigned char *to_pixels(qpdf_data q, qpdf_oh dict, const unsigned char *data, int w, int h,
                                int bpc, const struct cspace *cs, int *bands)
{
    int ncomp = cs->indexed ? 1 : cs->n;
    unsigned maxv = bpc == 16 ? 255 : (1u << bpc) - 1;
    unsigned char lut[4][256];
    double dec[8];
    qpdf_oh decode = qpdf_oh_get_key(q, dict, "/Decode");
    bool have_decode =
        qpdf_oh_is_array(q, decode) && qpdf_oh_get_array_n_items(q, decode) == 2 * ncomp;

    for (int c = 0; c < ncomp; c++) {
        dec[2 * c] = 0;
        dec[2 * c + 1] = cs->indexed ? (double)((1u << bpc) - 1) : 1.0;
        for (int k = 0; k < 2 && have_decode; k++)
            get_number(q, qpdf_oh_get_array_item(q, decode, 2 * c + k), &dec[2 * c + k]);
        for (unsigned v = 0; v <= maxv; v++) {
            double d = dec[2 * c] + v * (dec[2 * c + 1] - dec[2 * c]) / maxv;
            double top = cs->indexed ? cs->hival : 1.0;
            d = d < 0 ? 0 : d > top ? top : d;
            lut[c][v] = (unsigned char)lround(cs->indexed ? d : d * 255.0);
        }
    }
    *bands = cs->n == 1 ? 1 : 3;
    size_t row_bytes = ((size_t)w * (size_t)ncomp * (size_t)bpc + 7) / 8;
    unsigned char *px = xmalloc((size_t)w * (size_t)h * (size_t)*bands);
    unsigned char *o = px;
    for (int y = 0; y < h; y++) {
        const unsigned char *row = data + (size_t)y * row_bytes;
        for (int x = 0; x < w; x++) {
            unsigned char v[4];
            const unsigned char *col = v;
            for (int c = 0; c < ncomp; c++)
                v[c] = lut[c][sample(row, (size_t)x * (size_t)ncomp + (size_t)c, bpc)];
            if (cs->indexed)
                col = cs->lookup + (size_t)v[0] * (size_t)cs->n;
            if (cs->n == 1) {
                *o++ = col[0];
            } else if (cs->n == 3) {
                *o++ = col[0];
                *o++ = col[1];
                *o++ = col[2];
            } else {
                for (int c = 0; c < 3; c++)
                    *o++ = (unsigned char)((255 - col[c]) * (255 - col[3]) / 255);
            }
        }
    }
    return px;
}

/* vips's error buffer as one line, after our context; the buffer is emptied. */
static int vips_failed(struct err *err, const char *context)
{
    char *msg = vips_error_buffer_copy();
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (msg[i] == '\n')
            msg[i] = ' ';
    err_set(err, ERR_CONVERT, "%s: %s", context, n ? msg : "failed");
    g_free(msg);
    return -1;
}

static char *next_path(struct extract *x)
{
    if (x->n_written == x->cap_written) {
        int ncap = x->cap_written ? x->cap_written * 2 : 16;
        x->written = xrealloc(x->written, (size_t)ncap * sizeof *x->written);
        for (int i = x->cap_written; i < ncap; i++)
            x->written[i] = NULL;
        x->cap_written = ncap;
    }
    /* The slot's path from a skipped image is made again with the same number. */
    free(x->written[x->n_written]);
    char *path = xasprintf("%s/%d.%s", x->out_dir, x->n_written + 1, x->ext);
    x->written[x->n_written] = path;
    return path;
}

/* The path of next_path() is a result from now on (removed if the job fails). */
static void keep_path(struct extract *x)
{
    x->n_written++;
}

static int save_pixels(struct extract *x, unsigned char *px, int w, int h, int bands,
                       struct err *err)
{
    VipsImage *mem = vips_image_new_from_memory(px, (size_t)w * (size_t)h * (size_t)bands, w, h,
                                                bands, VIPS_FORMAT_UCHAR);
    VipsImage *img = NULL;
    char *path = next_path(x);
    int rc = -1;

    if (!mem || vips_copy(mem, &img, "interpretation",
                          bands == 1 ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB, NULL)) {
        vips_failed(err, "cannot encode an image");
        goto out;
    }
    if (x->jpg ? vips_jpegsave(img, path, "Q", x->quality, NULL) : vips_pngsave(img, path, NULL)) {
        vips_failed(err, "cannot write an image");
        unlink(path);
        goto out;
    }
    keep_path(x);
    rc = 0;
out:
    if (img)
        g_object_unref(img);
    if (mem)
        g_object_unref(mem);
    return rc;
}

static int over_limits(const struct extract *x, long long w, long long h, int page, struct err *err)
{
    if (x->lim.max_side > 0 && (w > x->lim.max_side || h > x->lim.max_side))
        return err_set(err, ERR_CONVERT,
                       "an image on page %d is %lldx%lld pixels, larger than the limit of %d "
                       "pixels per side",
                       page, w, h, x->lim.max_side);
    /* Our own bound where no limit is set: the sizes become ints further on. */
    if (w > INT_MAX / 16 || h > INT_MAX / 16)
        return err_set(err, ERR_CONVERT,
                       "an image on page %d is %lldx%lld pixels, larger than the limit of %d "
                       "pixels per side",
                       page, w, h, INT_MAX / 16);
    if (x->lim.max_pixels > 0 && w * h > x->lim.max_pixels)
        return err_set(err, ERR_CONVERT,
                       "an image on page %d is %lldx%lld pixels, larger than the limit of %lld "
                       "pixels",
                       page, w, h, (long long)x->lim.max_pixels);
    return 0;
}

/* A DCTDecode image: its bytes as they are for jpg, decoded by libvips for png (CMYK ones
 * through its colour management). 1 when skipped as damaged. */
static int save_jpeg(struct extract *x, qpdf_oh image, qpdf_oh dict, int n_filters, int page,
                     struct err *err)
{
    size_t len = 0;
    unsigned char *jpeg = jpeg_bytes(x->q, image, dict, n_filters, &len);
    VipsImage *in = NULL, *rgb = NULL;
    char *path = NULL;
    int rc = 1;

    if (!jpeg || len < 4 || jpeg[0] != 0xFF || jpeg[1] != 0xD8)
        goto out;
    path = next_path(x);
    if (x->jpg) {
        FILE *f = fopen(path, "wbe");
        bool ok = f && fwrite(jpeg, 1, len, f) == len;
        if ((f && fclose(f) != 0) || !ok) {
            unlink(path);
            rc = err_set(err, ERR_CONVERT, "cannot write an image: %s", strerror(errno));
            goto out;
        }
        keep_path(x);
        rc = 0;
        goto out;
    }
    if (vips_jpegload_buffer(jpeg, len, &in, NULL)) {
        vips_error_clear();
        goto out;
    }
    /* The JPEG's own header may disagree with /Width and /Height: it is what gets decoded. */
    if (over_limits(x, in->Xsize, in->Ysize, page, err) < 0) {
        rc = -1;
        goto out;
    }
    if (in->Type == VIPS_INTERPRETATION_CMYK) {
        if (vips_colourspace(in, &rgb, VIPS_INTERPRETATION_sRGB, NULL)) {
            vips_error_clear();
            goto out;
        }
    } else {
        rgb = in;
        g_object_ref(rgb);
    }
    if (vips_pngsave(rgb, path, NULL)) {
        /* Decoding happens here: a broken JPEG is a damaged image, not a failed job. */
        vips_error_clear();
        unlink(path);
        goto out;
    }
    keep_path(x);
    rc = 0;
out:
    if (rgb)
        g_object_unref(rgb);
    if (in)
        g_object_unref(in);
    free(jpeg);
    return rc;
}

static bool dict_int(qpdf_data q, qpdf_oh dict, const char *key, long long *v)
{
    double d;
    if (!get_number(q, qpdf_oh_get_key(q, dict, key), &d) || d != floor(d) || fabs(d) > 1e15)
        return false;
    *v = (long long)d;
    return true;
}

/* One image XObject met for the first time: written, skipped (x->skipped), or -1. */
static int one_image(struct extract *x, qpdf_oh image, int page, struct err *err)
{
    qpdf_data q = x->q;
    qpdf_oh dict = qpdf_oh_get_dict(q, image);
    long long w = 0, h = 0, bpc = 0;
    QPDF_BOOL mask = QPDF_FALSE;
    struct cspace cs = {0};
    unsigned char *data = NULL, *px = NULL;
    size_t len = 0;
    int n_filters = 0, bands = 0, rc = 1;

    if (!dict_int(q, dict, "/Width", &w) || !dict_int(q, dict, "/Height", &h) || w < 1 || h < 1)
        goto out;
    if (over_limits(x, w, h, page, err) < 0) {
        rc = -1;
        goto out;
    }
    enum encoding enc = stream_encoding(q, dict, &n_filters);
    if (enc == ENC_OTHER)
        goto out;
    qpdf_oh_get_value_as_bool(q, qpdf_oh_get_key(q, dict, "/ImageMask"), &mask);
    if (mask) {
        cs.n = 1;
        bpc = 1;
    } else if (enc == ENC_PLAIN) {
        if (!dict_int(q, dict, "/BitsPerComponent", &bpc) ||
            !parse_cspace(q, qpdf_oh_get_key(q, dict, "/ColorSpace"), &cs))
            goto out;
        if (!(bpc == 1 || bpc == 2 || bpc == 4 || bpc == 8 || (bpc == 16 && !cs.indexed)))
            goto out;
    }
    if (x->lim.max_images > 0 && x->n_written >= x->lim.max_images) {
        rc = err_set(err, ERR_CONVERT, "the PDF has more than %d images, the limit",
                     x->lim.max_images);
        goto out;
    }
    if (enc == ENC_DCT) {
        rc = save_jpeg(x, image, dict, n_filters, page, err);
        goto out;
    }

    int ncomp = cs.indexed ? 1 : cs.n;
    if ((double)w * ncomp * bpc / 8.0 * (double)h > (double)MAX_DECODED) {
        rc = err_set(err, ERR_CONVERT,
                     "an image on page %d is %lldx%lld pixels, more than %d MiB of samples, the "
                     "limit",
                     page, w, h, (int)(MAX_DECODED >> 20));
        goto out;
    }
    size_t need = ((size_t)w * (size_t)ncomp * (size_t)bpc + 7) / 8 * (size_t)h;
    QPDF_BOOL filtered = QPDF_FALSE;
    if ((qpdf_oh_get_stream_data(q, image, qpdf_dl_specialized, &filtered, &data, &len) &
         QPDF_ERRORS) ||
        !filtered)
        goto out;
    /* Shorter is damaged. Longer is accepted, as viewers do: writers pad streams. */
    if (len < need || len > MAX_DECODED)
        goto out;
    px = to_pixels(q, dict, data, (int)w, (int)h, (int)bpc, &cs, &bands);
    free(data);
    data = NULL;
    rc = save_pixels(x, px, (int)w, (int)h, bands, err);
out:
    if (rc > 0) {
        x->skipped++;
        if (qpdf_has_error(q))
            (void)qpdf_get_error(q);
    }
    free(cs.lookup);
    free(data);
    free(px);
    return rc < 0 ? -1 : 0;
}

/* The image XObjects of one resource dictionary, and those of its forms. */
static int walk_resources(struct extract *x, qpdf_oh resources, int page, int depth,
                          struct err *err)
{
    qpdf_data q = x->q;
    qpdf_oh xobjects = qpdf_oh_get_key(q, resources, "/XObject");
    qpdf_oh *items = NULL;
    size_t n = 0, cap = 0;
    int rc = -1;

    if (!qpdf_oh_is_dictionary(q, xobjects))
        return 0;
    /* qpdf's C API iterates over one dictionary at a time: take the values first. */
    qpdf_oh_begin_dict_key_iter(q, xobjects);
    while (qpdf_oh_dict_more_keys(q)) {
        const char *key = qpdf_oh_dict_next_key(q);
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            items = xrealloc(items, cap * sizeof *items);
        }
        items[n++] = qpdf_oh_get_key(q, xobjects, key);
    }
    for (size_t i = 0; i < n; i++) {
        qpdf_oh xo = items[i];
        if (!qpdf_oh_is_stream(q, xo))
            continue;
        qpdf_oh dict = qpdf_oh_get_dict(q, xo);
        qpdf_oh subtype = qpdf_oh_get_key(q, dict, "/Subtype");
        bool image = qpdf_oh_is_name_and_equals(q, subtype, "/Image");
        bool form = qpdf_oh_is_name_and_equals(q, subtype, "/Form") && depth < MAX_FORM_DEPTH;
        int id = qpdf_oh_get_object_id(q, xo);
        if ((!image && !form) ||
            (id > 0 && !idset_add(&x->seen, id, qpdf_oh_get_generation(q, xo))))
            continue;
        if (image && one_image(x, xo, page, err) < 0)
            goto out;
        if (form &&
            walk_resources(x, qpdf_oh_get_key(q, dict, "/Resources"), page, depth + 1, err) < 0)
            goto out;
        /* A broken object costs that object, not the others. */
        if (qpdf_has_error(q))
            (void)qpdf_get_error(q);
    }
    rc = 0;
out:
    free(items);
    return rc;
}

int pdf_extract_images(const char *path, const char *out_dir, const char *out_format, int quality,
                       const struct pdf_extract_limits *limits, pdf_progress_fn progress,
                       void *opaque, struct err *err)
{
    struct extract x = {
        .out_dir = out_dir,
        .ext = out_format,
        .jpg = out_format && strcmp(out_format, "jpg") == 0,
        .quality = quality >= 1 && quality <= 100 ? quality : 90,
    };
    int pages_seen = 0, rc = -1;

    if (limits)
        x.lim = *limits;
    if (!out_format || (strcmp(out_format, "png") != 0 && !x.jpg))
        return err_set(err, ERR_CONVERT, "images are extracted as png or jpg");
    /* A no-op in the worker, which started libvips already; tests call this directly. */
    if (VIPS_INIT("convertd"))
        return vips_failed(err, "cannot start libvips");
    x.q = open_qpdf();
    if (read_pdf(x.q, path, "", err) < 0)
        goto out;
    int pages = count_pages(x.q, -1, "", &pages_seen, err);
    if (pages < 0)
        goto out;
    if (qpdf_push_inherited_attributes_to_page(x.q) & QPDF_ERRORS) {
        err_set(err, ERR_CONVERT, "cannot read the PDF: %s", error_text(x.q));
        goto out;
    }
    for (int i = 0; i < pages; i++) {
        char msg[64];
        snprintf(msg, sizeof msg, "Extracting images of page %d of %d", i + 1, pages);
        if (progress && progress(opaque, 100.0 * i / pages, msg)) {
            err_set(err, ERR_CANCELLED, "cancelled");
            goto out;
        }
        qpdf_oh page = qpdf_get_page_n(x.q, (size_t)i);
        int r = walk_resources(&x, qpdf_oh_get_key(x.q, page, "/Resources"), i + 1, 0, err);
        /* Every lookup made a handle; none is kept past the page. */
        qpdf_oh_release_all(x.q);
        if (r < 0)
            goto out;
        if (qpdf_has_error(x.q))
            (void)qpdf_get_error(x.q);
    }
    if (x.n_written == 0) {
        if (x.skipped)
            err_set(err, ERR_CONVERT,
                    "the PDF has no images that can be extracted (%d skipped: an encoding or "
                    "colour space that is not supported, or damaged data)",
                    x.skipped);
        else
            err_set(err, ERR_CONVERT, "the PDF has no images that can be extracted");
        goto out;
    }
    rc = x.n_written;
out:
    for (int i = 0; i < x.n_written && rc < 0; i++)
        unlink(x.written[i]);
    for (int i = 0; i < x.cap_written; i++)
        free(x.written[i]);
    free(x.written);
    qpdf_cleanup(&x.q);
    free(x.seen.slots);
    return rc;
}

#else

int pdf_extract_images(const char *path, const char *out_dir, const char *out_format, int quality,
                       const struct pdf_extract_limits *limits, pdf_progress_fn progress,
                       void *opaque, struct err *err)
{
    (void)path;
    (void)out_dir;
    (void)out_format;
    (void)quality;
    (void)limits;
    (void)progress;
    (void)opaque;
    return err_set(err, ERR_CONVERT, "image extraction needs libvips, which is not built in");
}

#endif
