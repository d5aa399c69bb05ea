/* SPDX-License-Identifier: MIT */
/* pdf.c - PDF facts, info, merging and image pages through libqpdf's C API. */
#include "converters/pdf.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include <qpdf/qpdf-c.h>

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
