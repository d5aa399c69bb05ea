/* SPDX-License-Identifier: MIT */
/* media_frames.c - still frames of the main video stream as JPEG or PNG files (thumbnails,
 * video to jpg/png, mode extract). */
#include "converters/media.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "common/mem.h"

#define MAX_FRAMES  10000
#define MAX_THREADS 16
/* Decoding up to this far ahead costs less than a seek, which restarts at a keyframe that
 * may be just as far behind the time. */
#define SEEK_AHEAD_S 2.0
/* Timestamps turned into seconds are not exact: 1.0 must find the frame at 25/25 s. */
#define TIME_EPSILON 1e-6
/* Errors a draining decoder may return before we call it ended: each costs no input, so
 * without a cap a broken decoder could keep us here. */
#define MAX_DRAIN_ERRORS 64
/* Packets read between two cancel checks while decoding towards a far time. */
#define CANCEL_POLL_PACKETS 256
/* Output sides, whatever the sample aspect ratio or the requested size say. JPEG stops at
 * 65535; this keeps a hostile aspect ratio from asking for gigabytes. */
#define MAX_OUT_SIDE 16384
/* `ffmpeg -q:v 2`: the best JPEG quality scale before files grow for nothing. */
#define JPEG_QSCALE 2
#define SWS_FLAGS   (SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT)

/* Progress and cancel: the percent and message of the frame being extracted. */
struct progress {
    const struct conv_job *job;
    double percent;
    char msg[64];
};

/* The decoding side: the video stream, its decoder and the last frame it gave. */
struct source {
    AVFormatContext *fmt;
    AVStream *st;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *next;   /* receive buffer */
    AVFrame *frame;  /* the last decoded frame, when have_frame */
    bool have_frame; /* frame holds a picture */
    bool stale;      /* frame was decoded before the last seek: a fallback only */
    int64_t ts;      /* frame's timestamp in the stream time base, or AV_NOPTS_VALUE */
    double t;        /* frame's time in seconds from the stream start */
    double duration; /* of the input in seconds, 0 when unknown */
    bool draining;   /* the end of the input was sent to the decoder */
    bool ended;      /* the decoder has given its last frame */
    int drain_errors;
    int last_error; /* the last decode error, for the message when no frame decodes */
    unsigned packets;
    enum AVDiscard *discard; /* the streams' discard settings before we changed them */
    struct progress *pr;
};

/* The encoding side. */
struct sink {
    int dirfd;
    bool png;
    const char *ext;
    struct SwsContext *sws;
};

static bool cancelled(const struct progress *pr)
{
    const struct conv_job *job = pr->job;
    return job && job->progress && job->progress(job->progress_opaque, pr->percent, pr->msg);
}

/* ---- decoding ---------------------------------------------------------------------- */

static int source_open(struct source *s, const struct media_input *in, int threads,
                       const struct conv_limits *limits, struct err *err)
{
    s->fmt = in->fmt;
    s->st = in->fmt->streams[in->video];
    s->ts = AV_NOPTS_VALUE;
    s->duration = in->duration;

    const AVCodecParameters *par = s->st->codecpar;
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    if (!codec)
        return err_set(err, ERR_CONVERT, "no decoder for the video codec %s",
                       avcodec_get_name(par->codec_id));
    s->dec = avcodec_alloc_context3(codec);
    s->pkt = av_packet_alloc();
    s->next = av_frame_alloc();
    s->frame = av_frame_alloc();
    if (!s->dec || !s->pkt || !s->next || !s->frame)
        return err_set(err, ERR_CONVERT, "cannot decode the video: %s",
                       media_strerror(AVERROR(ENOMEM)));
    int ret = avcodec_parameters_to_context(s->dec, par);
    if (ret < 0)
        return err_set(err, ERR_CONVERT, "cannot decode the video: %s", media_strerror(ret));
    s->dec->pkt_timebase = s->st->time_base;
    s->dec->thread_count = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
    /* media_open checked the header's size; a stream can change size later (a new SPS) */
    if (limits && limits->max_pixels > 0)
        s->dec->max_pixels = limits->max_pixels;
    ret = avcodec_open2(s->dec, codec, NULL);
    if (ret < 0)
        return err_set(err, ERR_CONVERT, "cannot open the %s decoder: %s", codec->name,
                       media_strerror(ret));

    /* Only the video stream is read: the demuxer can then skip the others' data. */
    s->discard = xcalloc(s->fmt->nb_streams, sizeof *s->discard);
    for (unsigned i = 0; i < s->fmt->nb_streams; i++) {
        s->discard[i] = s->fmt->streams[i]->discard;
        if ((int)i != in->video)
            s->fmt->streams[i]->discard = AVDISCARD_ALL;
    }
    return 0;
}

static void source_close(struct source *s)
{
    if (s->discard) {
        for (unsigned i = 0; i < s->fmt->nb_streams; i++)
            s->fmt->streams[i]->discard = s->discard[i];
        free(s->discard);
    }
    avcodec_free_context(&s->dec);
    av_packet_free(&s->pkt);
    av_frame_free(&s->next);
    av_frame_free(&s->frame);
}

/* A damaged packet is skipped, as the ffmpeg program does: a damaged file still gives the
 * frames around the damage. Each such error consumed input, so the file size bounds them. */
static int decode_failed(struct source *s, int averr, struct err *err)
{
    s->last_error = averr;
    if (averr == AVERROR(ENOMEM))
        return err_set(err, ERR_CONVERT, "cannot decode the video: %s", media_strerror(averr));
    return 0;
}

/* The time of the frame just received: best_effort_timestamp from the stream start; one
 * frame duration after the previous frame when the input gives no timestamp at all. */
static void stamp_frame(struct source *s, const AVFrame *f)
{
    int64_t ts = f->best_effort_timestamp;
    if (ts == AV_NOPTS_VALUE)
        ts = f->pts;
    if (ts == AV_NOPTS_VALUE) {
        AVRational rate = av_guess_frame_rate(s->fmt, s->st, NULL);
        s->t = s->have_frame && rate.num > 0 ? s->t + av_q2d(av_inv_q(rate)) : 0.0;
        s->ts = AV_NOPTS_VALUE;
        return;
    }
    int64_t start = s->st->start_time != AV_NOPTS_VALUE ? s->st->start_time : 0;
    /* in double: a hostile timestamp must not overflow int64 arithmetic */
    s->t = ((double)ts - (double)start) * av_q2d(s->st->time_base);
    s->ts = ts;
}

/* The next frame into s->frame: 1, 0 at the end of the stream, -1 with err. */
static int source_next(struct source *s, struct err *err)
{
    for (;;) {
        int ret = avcodec_receive_frame(s->dec, s->next);
        if (ret >= 0) {
            stamp_frame(s, s->next);
            av_frame_unref(s->frame);
            av_frame_move_ref(s->frame, s->next);
            s->have_frame = true;
            s->stale = false;
            return 1;
        }
        if (ret == AVERROR_EOF) {
            s->ended = true;
            return 0;
        }
        if (ret != AVERROR(EAGAIN) && decode_failed(s, ret, err) < 0)
            return -1;
        if (s->draining) {
            if (ret == AVERROR(EAGAIN) || ++s->drain_errors > MAX_DRAIN_ERRORS) {
                s->ended = true; /* a decoder that will not drain: nothing more to come */
                return 0;
            }
            continue;
        }

        if (++s->packets % CANCEL_POLL_PACKETS == 0 && cancelled(s->pr))
            return err_set(err, ERR_CANCELLED, "cancelled");
        ret = av_read_frame(s->fmt, s->pkt);
        if (ret == AVERROR_EXIT) /* the interrupt callback: the job was cancelled */
            return err_set(err, ERR_CANCELLED, "cancelled");
        if (ret < 0) {
            /* The end, or a read error in a damaged file: what was decoded so far still
             * counts, as with the ffmpeg program. */
            s->draining = true;
            s->drain_errors = 0;
            ret = avcodec_send_packet(s->dec, NULL);
            if (ret < 0 && ret != AVERROR_EOF && decode_failed(s, ret, err) < 0)
                return -1;
            continue;
        }
        if (s->pkt->stream_index != s->st->index) {
            av_packet_unref(s->pkt);
            continue;
        }
        ret = avcodec_send_packet(s->dec, s->pkt);
        av_packet_unref(s->pkt);
        if (ret < 0 && ret != AVERROR(EAGAIN) && decode_failed(s, ret, err) < 0)
            return -1;
    }
}

static int64_t stream_ts(const struct source *s, double t)
{
    if (t > 2 * MEDIA_MAX_DURATION_S)
        t = 2 * MEDIA_MAX_DURATION_S;
    double start = s->st->start_time != AV_NOPTS_VALUE ? (double)s->st->start_time : 0.0;
    double ts = start + t / av_q2d(s->st->time_base);
    if (ts > (double)(INT64_MAX / 2))
        return INT64_MAX / 2;
    if (ts < (double)(INT64_MIN / 2))
        return INT64_MIN / 2;
    return (int64_t)ts;
}

/* True when the index puts the keyframe before `target` at or behind the frame we hold:
 * a seek would only go back, so decoding on is cheaper. */
static bool keyframe_behind(struct source *s, int64_t target)
{
    if (!s->have_frame || s->stale || s->ts == AV_NOPTS_VALUE)
        return false;
    const AVIndexEntry *e =
        avformat_index_get_entry_from_timestamp(s->st, target, AVSEEK_FLAG_BACKWARD);
    return e && e->timestamp <= s->ts;
}

/* Seek to the keyframe at or before t; false when we did not seek. A failed seek (a stream
 * that cannot seek) is not an error: decoding on reaches the time too, only slower. Unless
 * `force`, no seek when the index says it would only go back. */
static bool source_seek(struct source *s, double t, bool force)
{
    int64_t target = stream_ts(s, t);
    if (!force && keyframe_behind(s, target))
        return false;
    if (avformat_seek_file(s->fmt, s->st->index, INT64_MIN, target, target, 0) < 0)
        return false;
    avcodec_flush_buffers(s->dec);
    s->draining = false;
    s->ended = false;
    s->stale = s->have_frame;
    return true;
}

/* Seek for t and decode the first frame there. Some demuxers (MPEG-TS) land past the
 * keyframe, and the decoder then waits for the next one, after t: seek again further back,
 * twice as far each time, down to the start. */
static int seek_near(struct source *s, double t, bool force, struct err *err)
{
    if (s->duration > 0 && t > s->duration)
        t = s->duration; /* past the end: the last keyframe, without a search from far away */
    for (double before = 0;; before = before > 0 ? before * 2 : SEEK_AHEAD_S) {
        double target = t - before > 0 ? t - before : 0;
        if (!source_seek(s, target, force || before > 0))
            return 0;
        while (!s->ended && (!s->have_frame || s->stale))
            if (source_next(s, err) < 0)
                return -1;
        bool overshot = s->ended ? s->stale || !s->have_frame : s->t > t + TIME_EPSILON;
        if (!overshot || target <= 0)
            return 0;
    }
}

/* Put the first frame at or after t into s->frame, or the last frame of the stream. `back`
 * says t is before the previous time (the caller broke the ascending order). */
static int source_frame_at(struct source *s, double t, bool back, struct err *err)
{
    double pos = s->have_frame ? s->t : 0.0;
    if ((back || (!s->ended && t > pos + SEEK_AHEAD_S)) && seek_near(s, t, back, err) < 0)
        return -1;

    while (!s->ended && (!s->have_frame || s->stale || s->t < t - TIME_EPSILON)) {
        int r = source_next(s, err);
        if (r < 0)
            return -1;
    }
    if (!s->have_frame) {
        if (s->last_error)
            return err_set(err, ERR_CONVERT, "no video frame could be decoded: %s",
                           media_strerror(s->last_error));
        return err_set(err, ERR_CONVERT, "no video frame could be decoded");
    }
    return 0;
}

/* spec "extract": N.EXT with N the 1-based frame number in the input. */
static int64_t frame_number(const struct source *s)
{
    AVRational rate = s->st->avg_frame_rate;
    if (rate.num <= 0 || rate.den <= 0)
        rate = av_guess_frame_rate(s->fmt, s->st, NULL);
    double fps = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 25.0;
    double n = s->t * fps;
    if (!(n > 0))
        return 1;
    if (n > 1e15)
        n = 1e15;
    return (int64_t)llround(n) + 1;
}

/* ---- scaling and encoding ---------------------------------------------------------- */

/* Nearest even number, at least 2: what 4:2:0 video and the ffmpeg program's scale=-2 use. */
static int even_side(double v)
{
    if (!(v < MAX_OUT_SIDE + 2))
        return MAX_OUT_SIDE + 2;
    long n = 2 * lround(v / 2);
    return n < 2 ? 2 : (int)n;
}

static int output_size(const struct source *s, const struct media_frames *spec, int *w, int *h,
                       struct err *err)
{
    const AVFrame *f = s->frame;
    AVRational sar = av_guess_sample_aspect_ratio(s->fmt, s->st, s->frame);
    double aspect = sar.num > 0 && sar.den > 0 ? av_q2d(sar) : 1.0;
    /* a pixel 100 times wider than high is a broken header, not a format */
    if (aspect < 0.01 || aspect > 100)
        aspect = 1.0;
    double dar = f->width * aspect / f->height;

    if (spec->width > 0 && spec->height > 0) {
        *w = spec->width;
        *h = spec->height;
    } else if (spec->width > 0) {
        *w = spec->width;
        *h = even_side(*w / dar);
    } else if (spec->height > 0) {
        *h = spec->height;
        *w = even_side(*h * dar);
    } else if (aspect == 1.0) {
        *w = f->width;
        *h = f->height;
    } else {
        /* square pixels on the output: widen or narrow, keep the lines (scale=iw*sar:ih) */
        *w = even_side(f->width * aspect);
        *h = f->height;
    }
    if (*w > MAX_OUT_SIDE || *h > MAX_OUT_SIDE)
        return err_set(err, ERR_CONVERT, "frame size %dx%d is too large (at most %d a side)", *w,
                       *h, MAX_OUT_SIDE);
    return 0;
}

/* swscale takes the range as a flag, not from the deprecated yuvj formats. */
static enum AVPixelFormat plain_yuv(enum AVPixelFormat f, bool *full)
{
    switch (f) {
    case AV_PIX_FMT_YUVJ420P:
        *full = true;
        return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P:
        *full = true;
        return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P:
        *full = true;
        return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P:
        *full = true;
        return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P:
        *full = true;
        return AV_PIX_FMT_YUV411P;
    default:
        return f;
    }
}

static int sws_colorspace(enum AVColorSpace cs)
{
    switch (cs) {
    case AVCOL_SPC_BT709:
        return SWS_CS_ITU709;
    case AVCOL_SPC_FCC:
        return SWS_CS_FCC;
    case AVCOL_SPC_SMPTE240M:
        return SWS_CS_SMPTE240M;
    case AVCOL_SPC_BT2020_NCL:
    case AVCOL_SPC_BT2020_CL:
        return SWS_CS_BT2020;
    default:
        return SWS_CS_DEFAULT; /* BT.601, also what the ffmpeg program assumes when unset */
    }
}

/* The frame scaled to w x h in the encoder's pixel format: new, or NULL with err. */
static AVFrame *scale_frame(struct sink *k, const AVFrame *src, int w, int h,
                            enum AVPixelFormat enc_fmt, struct err *err)
{
    bool src_full = src->color_range == AVCOL_RANGE_JPEG;
    enum AVPixelFormat src_fmt = plain_yuv(src->format, &src_full);
    bool dst_full = true; /* JPEG (JFIF) is full range; RGB always is */
    enum AVPixelFormat dst_fmt = plain_yuv(enc_fmt, &dst_full);

    k->sws = sws_getCachedContext(k->sws, src->width, src->height, src_fmt, w, h, dst_fmt,
                                  SWS_FLAGS, NULL, NULL, NULL);
    if (!k->sws) {
        const char *name = av_get_pix_fmt_name(src->format);
        err_set(err, ERR_CONVERT, "cannot convert %dx%d %s frames to %dx%d", src->width,
                src->height, name ? name : "unknown", w, h);
        return NULL;
    }
    /* Fails only for pairs without a YUV side, which have nothing to set. */
    sws_setColorspaceDetails(k->sws, sws_getCoefficients(sws_colorspace(src->colorspace)), src_full,
                             sws_getCoefficients(SWS_CS_ITU601), dst_full, 0, 1 << 16, 1 << 16);

    AVFrame *dst = av_frame_alloc();
    if (!dst) {
        err_set(err, ERR_CONVERT, "cannot scale the frame: %s", media_strerror(AVERROR(ENOMEM)));
        return NULL;
    }
    dst->format = enc_fmt;
    dst->width = w;
    dst->height = h;
    dst->color_range = AVCOL_RANGE_JPEG;
    int ret = av_frame_get_buffer(dst, 0);
    if (ret >= 0)
        ret = sws_scale(k->sws, (const uint8_t *const *)src->data, src->linesize, 0, src->height,
                        dst->data, dst->linesize);
    if (ret < 0) {
        err_set(err, ERR_CONVERT, "cannot scale the frame: %s", media_strerror(ret));
        av_frame_free(&dst);
    }
    return dst;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Encode one picture and write its packets to fd. */
static int encode_to(int fd, AVFrame *pic, bool png, const char *name, struct err *err)
{
    const AVCodec *codec = avcodec_find_encoder(png ? AV_CODEC_ID_PNG : AV_CODEC_ID_MJPEG);
    AVCodecContext *enc = NULL;
    AVPacket *pkt = NULL;
    int rc = -1;

    if (!codec) {
        err_set(err, ERR_CONVERT, "no %s encoder in this FFmpeg build", png ? "PNG" : "JPEG");
        goto out;
    }
    enc = avcodec_alloc_context3(codec);
    pkt = av_packet_alloc();
    if (!enc || !pkt) {
        err_set(err, ERR_CONVERT, "cannot encode %s: %s", name, media_strerror(AVERROR(ENOMEM)));
        goto out;
    }
    enc->width = pic->width;
    enc->height = pic->height;
    enc->pix_fmt = pic->format;
    enc->time_base = (AVRational){1, 25}; /* required by avcodec_open2, unused for one image */
    if (!png) {
        enc->color_range = AVCOL_RANGE_JPEG;
        /* -q:v 2: a fixed quantiser scale, taken per picture from frame->quality */
        enc->flags |= AV_CODEC_FLAG_QSCALE;
        enc->global_quality = FF_QP2LAMBDA * JPEG_QSCALE;
        enc->qmin = JPEG_QSCALE;
        enc->qmax = JPEG_QSCALE + 1;
        pic->quality = enc->global_quality;
    }
    int ret = avcodec_open2(enc, codec, NULL);
    if (ret >= 0)
        ret = avcodec_send_frame(enc, pic);
    if (ret >= 0)
        ret = avcodec_send_frame(enc, NULL);
    while (ret >= 0) {
        ret = avcodec_receive_packet(enc, pkt);
        if (ret < 0)
            break;
        if (write_all(fd, pkt->data, (size_t)pkt->size) < 0) {
            err_set(err, ERR_INTERNAL, "cannot write %s: %s", name, strerror(errno));
            goto out;
        }
        av_packet_unref(pkt);
    }
    if (ret != AVERROR_EOF) {
        err_set(err, ERR_CONVERT, "cannot encode %s: %s", name, media_strerror(ret));
        goto out;
    }
    rc = 0;
out:
    av_packet_free(&pkt);
    avcodec_free_context(&enc);
    return rc;
}

/* Write the frame as `name` in the output folder. 1 when written, 0 when the file already
 * exists and `exists_ok` (an extracted frame that two times hit), -1 with err. */
static int write_frame(struct sink *k, const struct source *s, const struct media_frames *spec,
                       const char *name, bool exists_ok, struct err *err)
{
    const AVFrame *f = s->frame;
    AVFrame *pic = NULL;
    int fd = -1, rc = -1, w, h;

    if (output_size(s, spec, &w, &h, err) < 0)
        return -1;
    enum AVPixelFormat enc_fmt = AV_PIX_FMT_YUVJ420P;
    if (k->png) {
        const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f->format);
        enc_fmt = d && (d->flags & AV_PIX_FMT_FLAG_ALPHA) ? AV_PIX_FMT_RGBA : AV_PIX_FMT_RGB24;
    }

    fd = openat(k->dirfd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST && exists_ok)
        return 0;
    if (fd < 0)
        return err_set(err, ERR_INTERNAL, "cannot create %s: %s", name, strerror(errno));
    pic = scale_frame(k, f, w, h, enc_fmt, err);
    if (!pic || encode_to(fd, pic, k->png, name, err) < 0)
        goto out;
    rc = 1;
out:
    av_frame_free(&pic);
    if (close(fd) < 0 && rc == 1)
        rc = err_set(err, ERR_INTERNAL, "cannot write %s: %s", name, strerror(errno));
    if (rc < 0)
        unlinkat(k->dirfd, name, 0); /* no half image for the caller to pick up */
    return rc;
}

/* ---- the public function ----------------------------------------------------------- */

static int check_spec(const struct media_input *in, const struct media_frames *spec,
                      struct err *err)
{
    if (spec->count == 0 || spec->count > MAX_FRAMES)
        return err_set(err, ERR_CONVERT, "%zu frames asked for: from 1 to %d", spec->count,
                       MAX_FRAMES);
    if (spec->names == MEDIA_NAME_OUT && spec->count != 1)
        return err_set(err, ERR_CONVERT, "one output file cannot hold %zu frames", spec->count);
    if (!spec->format || (strcmp(spec->format, "jpg") != 0 && strcmp(spec->format, "png") != 0))
        return err_set(err, ERR_CONVERT, "frames are written as jpg or png, not %s",
                       spec->format ? spec->format : "(none)");
    if (spec->width < 0 || spec->height < 0 || spec->width > MAX_OUT_SIDE ||
        spec->height > MAX_OUT_SIDE)
        return err_set(err, ERR_CONVERT, "frame size %dx%d out of range (at most %d a side)",
                       spec->width, spec->height, MAX_OUT_SIDE);
    for (size_t i = 0; i < spec->count; i++)
        if (!isfinite(spec->times[i]))
            return err_set(err, ERR_CONVERT, "frame time %zu is not a number", i + 1);
    if (!in->fmt || in->video < 0 || (unsigned)in->video >= in->fmt->nb_streams)
        return err_set(err, ERR_CONVERT, "the input has no video stream");
    return 0;
}

int media_frames(const struct media_input *in, const struct media_frames *spec,
                 const char *output_dir, const struct conv_job *job, struct err *err)
{
    struct progress pr = {.job = job};
    struct source s = {.pr = &pr};
    struct sink k = {.dirfd = -1, .png = spec->format && strcmp(spec->format, "png") == 0};
    int rc = -1;

    if (check_spec(in, spec, err) < 0)
        return -1;
    k.ext = spec->format;
    k.dirfd = open(output_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (k.dirfd < 0)
        return err_set(err, ERR_INTERNAL, "cannot open %s: %s", output_dir, strerror(errno));
    if (source_open(&s, in, job ? job->threads : 1, job ? job->limits : NULL, err) < 0)
        goto out;

    int64_t last_number = 0;
    double prev_t = 0.0;
    for (size_t i = 0; i < spec->count; i++) {
        double t = spec->times[i] > 0 ? spec->times[i] : 0.0;
        snprintf(pr.msg, sizeof pr.msg, "Extracting frame %zu of %zu", i + 1, spec->count);
        if (source_frame_at(&s, t, t < prev_t, err) < 0)
            goto out;
        prev_t = t;

        char name[48];
        bool exists_ok = false, skip = false;
        if (spec->names == MEDIA_NAME_OUT) {
            snprintf(name, sizeof name, "out.%s", k.ext);
        } else if (spec->names == MEDIA_NAME_POSITION) {
            snprintf(name, sizeof name, "%zu.%s", i + 1, k.ext);
        } else {
            int64_t n = frame_number(&s);
            snprintf(name, sizeof name, "%" PRId64 ".%s", n, k.ext);
            /* spec "extract": a frame that two times hit is one file */
            exists_ok = true;
            skip = n == last_number;
            last_number = n;
        }
        if (!skip && write_frame(&k, &s, spec, name, exists_ok, err) < 0)
            goto out;

        pr.percent = (double)(i + 1) * 100.0 / (double)spec->count;
        if (cancelled(&pr)) {
            err_set(err, ERR_CANCELLED, "cancelled");
            goto out;
        }
    }
    rc = 0;
out:
    source_close(&s);
    sws_freeContext(k.sws);
    if (k.dirfd >= 0)
        close(k.dirfd);
    return rc;
}
