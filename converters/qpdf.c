/* SPDX-License-Identifier: MIT */
/* qpdf.c - PDF info and merging through libqpdf (pdf.c); rendering is ghostscript.c's. */
#include "converters/converter.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>

#include "converters/pdf.h"

static const struct conv_option options[] = {
    {0},
};

/* COMBINE: pdf + pdf + ... -> pdf. INFO reads only the input side. */
static const struct conv_pair pairs[] = {
    {"pdf", "pdf", "document"},
    {0},
};

static int info(const struct conv_job *job, struct conv_result *res, struct err *err)
{
    struct pdf_facts facts;
    struct stat st;
    int max_pages = job->limits ? job->limits->max_pages : 0;

    if (stat(job->inputs[0], &st) < 0)
        return err_set(err, ERR_CONVERT, "qpdf: cannot stat input: %s", strerror(errno));
    if (job->progress && job->progress(job->progress_opaque, 0.0, "Reading the PDF"))
        return err_set(err, ERR_CANCELLED, "cancelled");
    if (pdf_read_facts(job->inputs[0], max_pages, &facts, err) < 0) {
        pdf_facts_fini(&facts);
        return -1;
    }
    res->info = pdf_info_json(&facts, (int64_t)st.st_size);
    pdf_facts_fini(&facts);
    return 0;
}

static int combine(const struct conv_job *job, struct err *err)
{
    char path[4096], message[64];
    int n = 0;

    while (job->inputs[n])
        n++;
    snprintf(message, sizeof message, "Merging %d PDF%s", n, n == 1 ? "" : "s");
    if (job->progress && job->progress(job->progress_opaque, 0.0, message))
        return err_set(err, ERR_CANCELLED, "cancelled");
    if ((size_t)snprintf(path, sizeof path, "%s/out.pdf", job->output_dir) >= sizeof path)
        return err_set(err, ERR_CONVERT, "qpdf: output path too long");
    if (pdf_merge(job->inputs, path, job->limits ? job->limits->max_pages : 0, err) < 0)
        return -1;
    /* Merging cannot be interrupted; a cancel that came meanwhile still wins. */
    if (job->progress && job->progress(job->progress_opaque, 100.0, "Merged"))
        return err_set(err, ERR_CANCELLED, "cancelled");
    return 0;
}

static int convert(const struct conv_job *job, struct conv_result *res, struct err *err)
{
    if (!job->inputs || !job->inputs[0])
        return err_set(err, ERR_CONVERT, "qpdf: no input");
    if (job->mode == CONV_MODE_INFO)
        return info(job, res, err);
    if (job->mode == CONV_MODE_COMBINE)
        return combine(job, err);
    return err_set(err, ERR_CONVERT, "qpdf: unsupported mode");
}

const struct converter converter_qpdf = {
    .name = "qpdf",
    .modes = CONV_MODE_INFO | CONV_MODE_COMBINE,
    /* Alone in its modes for PDF (Ghostscript converts, it does not merge or inspect). */
    .priority = 100,
    .pairs = pairs,
    .options = options,
    .note = "libqpdf: PDF info and merging",
    .convert = convert,
};
