/* SPDX-License-Identifier: MIT */
/* media_transcode.c - one decode → filter → encode → mux pass (or a packet copy) from an open
 * input into one output file; the shape of FFmpeg's doc/examples/transcode.c.
 *
 * Each output stream (at most one video, one audio) is either a copy of the input stream's
 * packets or decoder → filter graph → encoder. Timestamps entering the filters are already
 * relative to the (trimmed) start, so trim/atrim only cut at 0 and at the trimmed duration
 * and every output starts at 0. Encoders are opened before the header is written, from the
 * filter sink (video) or from the parameters chosen for the encoder (audio, whose graph is
 * built from the first decoded frame so a wrong header rate cannot break it). */
#include "convertd-config.h"

#include "converters/media.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/display.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

#include "common/buf.h"
#include "converters/formats.h"

/* ---- facts ------------------------------------------------------------------------- */

#define PROGRESS_INTERVAL_S 0.25
#define PERCENT_MAX         99.9
#define GIF_FPS             10
#define GIF_MAX_WIDTH       480
#define FALLBACK_FPS        25
/* mpeg4/mpeg2video: their 200 kbit/s default looks broken at any real size; -q:v 4 does not. */
#define MPEG_QSCALE    4
#define THEORA_QUALITY 7 /* libtheora's 0..10 scale */
#define VP9_CRF        32
#define VP8_BITRATE    1000000
#define SVTAV1_PRESET  "8"
#define AOM_CPU_USED   "8"
/* A decoder that fails this many times in a row while draining is not going to recover. */
#define MAX_DRAIN_ERRORS 64
/* ffmpeg's dts_delta_threshold: a jump this large in a TS-like input is a discontinuity */
#define DTS_JUMP_US (10 * (int64_t)AV_TIME_BASE)

struct container {
    const char *format;    /* canonical extension (media_output.format) */
    const char *muxer;     /* libavformat short name */
    const char *muxer_alt; /* when muxer is not built in */
    const char *video;     /* default video encoder; NULL: audio-only container */
    const char *audio;     /* default audio encoder; NULL: no audio (gif) */
    bool mov;              /* mov-family muxer: movflags=+faststart applies */
};

static const struct container containers[] = {
    {"mp4", "mp4", NULL, "libx264", "aac", true},
    {"mov", "mov", NULL, "libx264", "aac", true},
    {"mkv", "matroska", NULL, "libx264", "aac", false},
    {"webm", "webm", NULL, "libvpx-vp9", "libopus", false},
    {"avi", "avi", NULL, "mpeg4", "libmp3lame", false},
    {"flv", "flv", NULL, "libx264", "aac", false},
    {"ogv", "ogg", NULL, "libtheora", "libvorbis", false},
    {"ts", "mpegts", NULL, "libx264", "aac", false},
    {"mpeg", "mpeg", NULL, "mpeg2video", "mp2", false},
    {"3gp", "3gp", NULL, "libx264", "aac", true},
    {"wmv", "asf", NULL, "wmv2", "wmav2", false},
    {"gif", "gif", NULL, "gif", NULL, false},
    {"mp3", "mp3", NULL, NULL, "libmp3lame", false},
    {"aac", "adts", NULL, NULL, "aac", false},
    {"m4a", "ipod", "mp4", NULL, "aac", true},
    {"ogg", "ogg", NULL, NULL, "libvorbis", false},
    {"opus", "opus", "ogg", NULL, "libopus", false},
    {"wav", "wav", NULL, NULL, "pcm_s16le", false},
    {"flac", "flac", NULL, NULL, "flac", false},
    {"wma", "asf", NULL, NULL, "wmav2", false},
    {"aiff", "aiff", NULL, NULL, "pcm_s16be", false},
};

/* converteroptions codec names → libavcodec encoders ("pcm" depends on the container). */
static const struct {
    const char *option;
    const char *encoder;
    const char *fallback; /* when encoder is not built in */
} codec_options[] = {
    {"h264", "libx264", NULL},     {"h265", "libx265", NULL},   {"hevc", "libx265", NULL},
    {"vp8", "libvpx", NULL},       {"vp9", "libvpx-vp9", NULL}, {"av1", "libsvtav1", "libaom-av1"},
    {"mp3", "libmp3lame", NULL},   {"aac", "aac", NULL},        {"opus", "libopus", NULL},
    {"vorbis", "libvorbis", NULL}, {"flac", "flac", NULL},
};

/* What an encoder is called in messages, and limits its tables do not state. */
static const struct encoder_fact {
    const char *encoder;
    const char *label;
    int kbps;         /* audio bit rate when audio_bitrate is 0; 0 = the encoder's own */
    int max_channels; /* 0 = what the encoder lists */
    int max_rate;     /* Hz; 0 = what the encoder lists */
} encoder_facts[] = {
    {"libx264", "h264", 0, 0, 0},
    {"libx265", "h265", 0, 0, 0},
    {"libvpx", "vp8", 0, 0, 0},
    {"libvpx-vp9", "vp9", 0, 0, 0},
    {"libsvtav1", "av1", 0, 0, 0},
    {"libaom-av1", "av1", 0, 0, 0},
    {"mpeg4", "mpeg4", 0, 0, 0},
    {"libtheora", "theora", 0, 0, 0},
    {"mpeg2video", "mpeg2", 0, 0, 0},
    {"wmv2", "wmv2", 0, 0, 0},
    {"gif", "gif", 0, 0, 0},
    {"aac", "aac", 128, 0, 0},
    {"libmp3lame", "mp3", 192, 2, 0},
    {"libopus", "opus", 128, 0, 0},
    {"libvorbis", "vorbis", 0, 0, 0},
    {"mp2", "mp2", 192, 2, 0},
    /* wmaenc.c refuses more than 2 channels and more than 48 kHz */
    {"wmav2", "wma", 128, 2, 48000},
    {"flac", "flac", 0, 0, 0},
    {"pcm_s16le", "pcm", 0, 0, 0},
    {"pcm_s16be", "pcm", 0, 0, 0},
};

/* ---- state ------------------------------------------------------------------------- */

struct ost {
    bool video; /* else audio */
    bool copy;
    const char *label;
    AVStream *in_st;
    AVStream *out_st;
    AVCodecContext *dec;
    AVCodecContext *enc;
    const struct encoder_fact *fact;
    AVFilterGraph *graph;
    AVFilterContext *src;
    AVFilterContext *sink;
    int64_t offset;             /* the trimmed start in in_st->time_base */
    int64_t next_pts;           /* predicted pts of the next frame into src (src time base) */
    int64_t last_pts;           /* last pts sent to the encoder (enc time base) */
    int64_t last_dts, next_dts; /* input packets, AV_TIME_BASE (discontinuity check) */
    int64_t last_mux_dts;       /* out_st->time_base */

    /* video */
    AVRational rate; /* output frame rate; enc time base is its inverse */
    bool force_fps;
    int rotation;              /* 0, 90, 180, 270: display matrix applied by the filters */
    int src_w, src_h, src_fmt; /* what the current graph was built for */

    /* audio: the source parameters of the current graph */
    AVChannelLayout src_layout;
    int src_rate;

    /* bookkeeping */
    long frames;      /* decoded (or copied) */
    int dec_err;      /* last decode error */
    bool started;     /* copy: a keyframe was seen */
    bool in_done;     /* no more input for this stream */
    bool src_closed;  /* EOF sent to the filters */
    bool enc_flushed; /* NULL sent to the encoder */
};

struct transcode {
    const struct media_input *in;
    const struct media_output *o;
    const struct conv_job *job;
    struct err *err;
    const struct container *c;
    bool gif;
    AVFormatContext *ofmt;
    struct ost ost[2];
    int nost;
    AVPacket *pkt;  /* demuxed */
    AVPacket *opkt; /* encoded */
    AVFrame *frame; /* decoded */
    AVFrame *filt;  /* filtered */
    int threads;
    int64_t offset_us; /* input start_time + trim_from, AV_TIME_BASE */
    int64_t ts_offset; /* added to input timestamps after a discontinuity, AV_TIME_BASE */
    bool discont;      /* the demuxer's timestamps may jump (mpegts, mpeg, flv) */
    double start;      /* trim_from */
    double limit;      /* output duration cap (trim_to - trim_from); 0 = none */
    double expected;   /* expected output duration; 0 = unknown */
    double position;   /* seconds written (or decoded, for gif) */
    double last_report;
    long packets;
    int read_err;
    bool read_to_end;  /* the demuxer said EOF (not a trim_to stop) */
    double read_until; /* end of the furthest packet read, seconds from the input's start */
    bool created;      /* out_path exists because of us */
    char message[128];
};

/* ---- small helpers ----------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const struct container *container_find(const char *format)
{
    if (!format)
        return NULL;
    for (size_t i = 0; i < sizeof containers / sizeof containers[0]; i++)
        if (!strcmp(containers[i].format, format))
            return &containers[i];
    return NULL;
}

static const struct encoder_fact *fact_find(const char *encoder)
{
    static const struct encoder_fact unknown = {NULL, NULL, 0, 0, 0};
    for (size_t i = 0; i < sizeof encoder_facts / sizeof encoder_facts[0]; i++)
        if (!strcmp(encoder_facts[i].encoder, encoder))
            return &encoder_facts[i];
    return &unknown;
}

/* What to call an encoder in messages: "h264" for libx264. */
static const char *label_of(const char *encoder)
{
    const char *label = fact_find(encoder)->label;
    return label ? label : encoder;
}

/* The encoder for a converteroptions codec name; NULL codec = the container's default. */
static const AVCodec *encoder_find(const struct container *c, const char *codec, bool video)
{
    const char *enc = video ? c->video : c->audio;
    const char *fallback = NULL;
    if (codec && !strcasecmp(codec, "pcm")) {
        enc = !strcmp(c->format, "aiff") ? "pcm_s16be" : "pcm_s16le";
    } else if (codec) {
        enc = NULL;
        for (size_t i = 0; i < sizeof codec_options / sizeof codec_options[0]; i++)
            if (!strcasecmp(codec_options[i].option, codec)) {
                enc = codec_options[i].encoder;
                fallback = codec_options[i].fallback;
            }
    }
    if (!enc)
        return NULL;
    const AVCodec *e = avcodec_find_encoder_by_name(enc);
    if (!e && fallback)
        e = avcodec_find_encoder_by_name(fallback);
    return e;
}

static bool is_name(const AVCodecContext *enc, const char *name)
{
    return !strcmp(enc->codec->name, name);
}

static enum AVPixelFormat pick_pix_fmt(const AVCodec *codec)
{
    /* paletteuse makes pal8, which is what the gif encoder wants */
    if (!strcmp(codec->name, "gif"))
        return AV_PIX_FMT_PAL8;
    if (!codec->pix_fmts)
        return AV_PIX_FMT_YUV420P;
    for (const enum AVPixelFormat *p = codec->pix_fmts; *p != AV_PIX_FMT_NONE; p++)
        if (*p == AV_PIX_FMT_YUV420P)
            return *p;
    return codec->pix_fmts[0];
}

static enum AVSampleFormat pick_sample_fmt(const AVCodec *codec, enum AVSampleFormat src)
{
    if (!codec->sample_fmts)
        return src;
    const enum AVSampleFormat want[] = {src, av_get_packed_sample_fmt(src),
                                        av_get_planar_sample_fmt(src)};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        for (const enum AVSampleFormat *f = codec->sample_fmts; *f != AV_SAMPLE_FMT_NONE; f++)
            if (*f == want[i])
                return *f;
    return codec->sample_fmts[0];
}

static int pick_sample_rate(const AVCodec *codec, int want, int max_rate)
{
    if (max_rate > 0 && want > max_rate)
        want = max_rate;
    if (!codec->supported_samplerates)
        return want;
    int best = codec->supported_samplerates[0];
    for (const int *r = codec->supported_samplerates; *r; r++) {
        long d = labs((long)*r - want), bd = labs((long)best - want);
        if (d < bd || (d == bd && *r > best))
            best = *r;
    }
    return best;
}

/* The encoder's layout for `want` channels: the source's own layout when it fits, else the
 * default layout of that count, else the listed layout nearest in channel count. */
static int pick_layout(const AVCodec *codec, const AVChannelLayout *src, int want, int max,
                       AVChannelLayout *out)
{
    if (max > 0 && want > max)
        want = max;
    AVChannelLayout def;
    av_channel_layout_default(&def, want);
    bool src_fits = src->nb_channels == want && src->order == AV_CHANNEL_ORDER_NATIVE;
    if (!codec->ch_layouts)
        return av_channel_layout_copy(out, src_fits ? src : &def);
    const AVChannelLayout *best = NULL, *l;
    for (l = codec->ch_layouts; !best && src_fits && l->nb_channels; l++)
        if (!av_channel_layout_compare(l, src))
            best = l;
    for (l = codec->ch_layouts; !best && l->nb_channels; l++)
        if (!av_channel_layout_compare(l, &def))
            best = l;
    for (l = codec->ch_layouts; !best && l->nb_channels; l++)
        if (l->nb_channels == want)
            best = l;
    /* none with that count: the most channels below it, else the fewest above */
    for (l = codec->ch_layouts; l->nb_channels; l++)
        if (l->nb_channels < want && (!best || l->nb_channels > best->nb_channels))
            best = l;
    for (l = codec->ch_layouts; !best || best->nb_channels > want; l++) {
        if (!l->nb_channels)
            break;
        if (!best || l->nb_channels < best->nb_channels)
            best = l;
    }
    return av_channel_layout_copy(out, best);
}

/* Rotation in degrees clockwise from the stream's display matrix (phones record sideways). */
static int stream_rotation(const AVStream *st)
{
    const int32_t *m =
        (const int32_t *)av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, NULL);
    if (!m)
        return 0;
    double theta = -round(av_display_rotation_get(m));
    theta -= 360 * floor(theta / 360 + 0.9 / 360);
    if (fabs(theta - 90) < 1)
        return 90;
    if (fabs(theta - 180) < 1)
        return 180;
    if (fabs(theta - 270) < 1)
        return 270;
    return 0;
}

/* ---- progress ---------------------------------------------------------------------- */

/* Tell the worker where we are, at most every PROGRESS_INTERVAL_S unless forced. -1 with
 * ERR_CANCELLED when the job was cancelled. */
static int report(struct transcode *t, bool force)
{
    if (!t->job || !t->job->progress)
        return 0;
    double now = now_s();
    if (!force && now - t->last_report < PROGRESS_INTERVAL_S)
        return 0;
    t->last_report = now;
    double percent = -1;
    if (t->expected > 0) {
        percent = t->position / t->expected * 100;
        percent = percent < 0 ? 0 : percent > PERCENT_MAX ? PERCENT_MAX : percent;
    }
    if (t->job->progress(t->job->progress_opaque, percent, t->message))
        return err_set(t->err, ERR_CANCELLED, "cancelled");
    return 0;
}

/* ---- muxing ------------------------------------------------------------------------ */

/* Write one packet whose timestamps are in `tb`; consumes the packet. */
static int write_packet(struct transcode *t, struct ost *s, AVPacket *pkt, AVRational tb)
{
    pkt->stream_index = s->out_st->index;
    pkt->pos = -1;
    av_packet_rescale_ts(pkt, tb, s->out_st->time_base);
    if (pkt->dts != AV_NOPTS_VALUE && s->last_mux_dts != AV_NOPTS_VALUE) {
        /* muxers refuse a dts that goes back (a damaged input): nudge it, as ffmpeg does */
        int64_t min = s->last_mux_dts + !(t->ofmt->oformat->flags & AVFMT_TS_NONSTRICT);
        if (pkt->dts < min) {
            if (pkt->pts != AV_NOPTS_VALUE && pkt->pts >= pkt->dts && pkt->pts < min)
                pkt->pts = min;
            pkt->dts = min;
        }
    }
    if (pkt->dts != AV_NOPTS_VALUE)
        s->last_mux_dts = pkt->dts;
    if (pkt->pts != AV_NOPTS_VALUE && !t->gif) {
        double end = (double)(pkt->pts + pkt->duration) * av_q2d(s->out_st->time_base);
        if (end > t->position)
            t->position = end;
    }
    t->packets++;
    int rc = av_interleaved_write_frame(t->ofmt, pkt);
    if (rc < 0)
        return err_set(t->err, ERR_CONVERT, "cannot write the output: %s", media_strerror(rc));
    return report(t, false);
}

/* Send a filtered frame (NULL: flush) to the encoder and write what comes out. */
static int encode(struct transcode *t, struct ost *s, AVFrame *f)
{
    if (s->enc_flushed)
        return 0;
    if (f) {
        if (f->pts != AV_NOPTS_VALUE) {
            f->pts = av_rescale_q_rnd(f->pts, av_buffersink_get_time_base(s->sink),
                                      s->enc->time_base, AV_ROUND_NEAR_INF | AV_ROUND_PASS_MINMAX);
            /* two source frames rounded onto one tick of the output rate: keep the first,
             * as ffmpeg's vsync does */
            if (s->video && s->last_pts != AV_NOPTS_VALUE && f->pts <= s->last_pts)
                return 0;
            s->last_pts = f->pts;
        }
        if (s->video)
            f->pict_type = AV_PICTURE_TYPE_NONE; /* let the encoder place its keyframes */
    } else {
        s->enc_flushed = true;
    }
    int rc = avcodec_send_frame(s->enc, f);
    if (rc < 0)
        return err_set(t->err, ERR_CONVERT, "cannot encode %s: %s", s->label, media_strerror(rc));
    for (;;) {
        rc = avcodec_receive_packet(s->enc, t->opkt);
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
            return 0;
        if (rc < 0)
            return err_set(t->err, ERR_CONVERT, "cannot encode %s: %s", s->label,
                           media_strerror(rc));
        /* the muxer needs the last frame's duration for the stream's length */
        if (s->video && t->opkt->duration <= 0)
            t->opkt->duration = av_rescale_q(1, av_inv_q(s->rate), s->enc->time_base);
        if (write_packet(t, s, t->opkt, s->enc->time_base) < 0)
            return -1;
    }
}

/* ---- filters ----------------------------------------------------------------------- */

static int graph_build(struct transcode *t, struct ost *s, const char *desc, const char *args)
{
    AVFilterInOut *outputs = NULL, *inputs = NULL;
    int rc = AVERROR(ENOMEM);
    avfilter_graph_free(&s->graph);
    s->src = s->sink = NULL;
    s->src_closed = false;
    s->graph = avfilter_graph_alloc();
    outputs = avfilter_inout_alloc();
    inputs = avfilter_inout_alloc();
    if (!s->graph || !outputs || !inputs)
        goto out;
    s->graph->nb_threads = t->threads;
    if (s->video) {
        /* ffmpeg's default for scale filters, so speed and output match the CLI */
        s->graph->scale_sws_opts = av_strdup("flags=bicubic");
        if (!s->graph->scale_sws_opts)
            goto out;
    }
    rc = avfilter_graph_create_filter(
        &s->src, avfilter_get_by_name(s->video ? "buffer" : "abuffer"), "in", args, NULL, s->graph);
    if (rc < 0)
        goto out;
    rc = avfilter_graph_create_filter(&s->sink,
                                      avfilter_get_by_name(s->video ? "buffersink" : "abuffersink"),
                                      "out", NULL, NULL, s->graph);
    if (rc < 0)
        goto out;
    rc = AVERROR(ENOMEM);
    outputs->name = av_strdup("in");
    outputs->filter_ctx = s->src;
    inputs->name = av_strdup("out");
    inputs->filter_ctx = s->sink;
    if (!outputs->name || !inputs->name)
        goto out;
    rc = avfilter_graph_parse_ptr(s->graph, desc, &inputs, &outputs, NULL);
    if (rc < 0)
        goto out;
    rc = avfilter_graph_config(s->graph, NULL);
out:
    avfilter_inout_free(&inputs);
    avfilter_inout_free(&outputs);
    if (rc < 0)
        return err_set(t->err, ERR_CONVERT, "cannot filter the %s: %s",
                       s->video ? "video" : "audio", media_strerror(rc));
    return 0;
}

static void trim_filter(const struct transcode *t, struct buf *b, bool video)
{
    if (t->start <= 0 && t->limit <= 0)
        return;
    /* timestamps are relative to trim_from already: cut what lies before 0 (the seek lands
     * on an earlier keyframe) and from the trimmed duration on */
    buf_printf(b, "%s=start=0", video ? "trim" : "atrim");
    if (t->limit > 0)
        buf_printf(b, ":end=%.6f", t->limit);
    buf_appends(b, ",");
}

/* The video graph for frames of w x h in pix_fmt. out_w/out_h > 0 force the output size
 * (a rebuild after the input changed size: the encoder is open already). */
static int video_graph(struct transcode *t, struct ost *s, int w, int h, int pix_fmt,
                       AVRational sar, int out_w, int out_h)
{
    const struct media_output *o = t->o;
    const AVCodec *codec = s->enc ? s->enc->codec : NULL;
    enum AVPixelFormat want = codec ? pick_pix_fmt(codec) : AV_PIX_FMT_YUV420P;
    bool gif = want == AV_PIX_FMT_PAL8;
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(want);
    bool even = d && (d->log2_chroma_w || d->log2_chroma_h);
    struct buf desc = BUF_INIT;
    char args[256];
    AVRational tb = s->in_st->time_base;

    snprintf(args, sizeof args, "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=%d/%d", w,
             h, pix_fmt, tb.num, tb.den, sar.num > 0 ? sar.num : 0, sar.den > 0 ? sar.den : 1);
    if (s->rate.num > 0 && !s->force_fps) {
        size_t n = strlen(args);
        snprintf(args + n, sizeof args - n, ":frame_rate=%d/%d", s->rate.num, s->rate.den);
    }

    trim_filter(t, &desc, true);
    if (s->rotation == 90)
        buf_appends(&desc, "transpose=clock,");
    else if (s->rotation == 180)
        buf_appends(&desc, "hflip,vflip,");
    else if (s->rotation == 270)
        buf_appends(&desc, "transpose=cclock,");
    if (s->force_fps)
        buf_printf(&desc, "fps=%d/%d,", s->rate.num, s->rate.den);

    int rw = s->rotation % 180 ? h : w; /* size after the rotation */
    int ow = out_w > 0 ? out_w : o->width, oh = out_h > 0 ? out_h : o->height;
    if (even) {
        ow = ow > 0 ? (ow < 2 ? 2 : ow & ~1) : ow;
        oh = oh > 0 ? (oh < 2 ? 2 : oh & ~1) : oh;
    }
    int keep = even ? -2 : -1; /* scale's "keep the aspect ratio" (divisible by 2) */
    if (ow > 0 && oh > 0)
        buf_printf(&desc, "scale=%d:%d", ow, oh);
    else if (ow > 0)
        buf_printf(&desc, "scale=%d:%d", ow, keep);
    else if (oh > 0)
        buf_printf(&desc, "scale=%d:%d", keep, oh);
    else if (gif)
        buf_printf(&desc, "scale=%d:-1", rw > GIF_MAX_WIDTH ? GIF_MAX_WIDTH : rw);
    else if (even)
        buf_appends(&desc, "scale=trunc(iw/2)*2:trunc(ih/2)*2");
    else
        /* a scale filter even at the same size: it follows a mid-stream size change */
        buf_appends(&desc, "scale=iw:ih");
    if (gif)
        buf_appends(&desc, ":flags=lanczos");
    if (o->ratio_num > 0 && o->ratio_den > 0)
        buf_printf(&desc, ",setdar=%d/%d", o->ratio_num, o->ratio_den);
    if (gif)
        buf_appends(&desc, ",split[a][b];[a]palettegen[p];[b][p]paletteuse");
    else
        buf_printf(&desc, ",format=%s", av_get_pix_fmt_name(want));

    int rc = graph_build(t, s, desc.data, args);
    buf_fini(&desc);
    s->src_w = w;
    s->src_h = h;
    s->src_fmt = pix_fmt;
    return rc;
}

/* The audio graph for frames like `f`, ending in the encoder's format. */
static int audio_graph(struct transcode *t, struct ost *s, const AVFrame *f)
{
    const struct media_output *o = t->o;
    struct buf desc = BUF_INIT;
    char args[512], src_layout[128], layout[128];
    if (av_channel_layout_describe(&f->ch_layout, src_layout, sizeof src_layout) < 0 ||
        av_channel_layout_describe(&s->enc->ch_layout, layout, sizeof layout) < 0)
        return err_set(t->err, ERR_CONVERT, "cannot decode the input: bad channel layout");
    snprintf(args, sizeof args, "time_base=1/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s",
             f->sample_rate, f->sample_rate, av_get_sample_fmt_name(f->format), src_layout);

    trim_filter(t, &desc, false);
    if (o->gain_db != 0)
        buf_printf(&desc, "volume=%.2fdB,", o->gain_db);
    if (o->loudnorm)
        buf_appends(&desc, "loudnorm,"); /* works at 192 kHz: the aresample below follows */
    buf_printf(&desc, "aresample=%d,aformat=sample_fmts=%s:sample_rates=%d:channel_layouts=%s",
               s->enc->sample_rate, av_get_sample_fmt_name(s->enc->sample_fmt), s->enc->sample_rate,
               layout);
    int rc = graph_build(t, s, desc.data, args);
    buf_fini(&desc);
    if (rc < 0)
        return rc;
    if (!(s->enc->codec->capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE) && s->enc->frame_size > 0)
        av_buffersink_set_frame_size(s->sink, (unsigned)s->enc->frame_size);
    s->src_rate = f->sample_rate;
    s->src_fmt = f->format;
    av_channel_layout_uninit(&s->src_layout);
    return av_channel_layout_copy(&s->src_layout, &f->ch_layout) < 0 ? -1 : 0;
}

/* Pull what the filters have ready into the encoder. `final`: an EOF from the sink ends the
 * stream (trim reached its end, or the input did); otherwise it is an old graph's end. */
static int drain_filters(struct transcode *t, struct ost *s, bool final)
{
    if (!s->graph)
        return final ? encode(t, s, NULL) : 0;
    for (;;) {
        int rc = av_buffersink_get_frame(s->sink, t->filt);
        if (rc == AVERROR(EAGAIN))
            return 0;
        if (rc == AVERROR_EOF) {
            if (!final)
                return 0;
            s->in_done = true;
            return encode(t, s, NULL);
        }
        if (rc < 0)
            return err_set(t->err, ERR_CONVERT, "cannot filter the %s: %s",
                           s->video ? "video" : "audio", media_strerror(rc));
        rc = encode(t, s, t->filt);
        av_frame_unref(t->filt);
        if (rc < 0)
            return -1;
    }
}

/* Send EOF into the filters and drain them into the encoder. `final`: the stream ends here
 * (and the encoder is flushed); otherwise a graph is being replaced. */
static int close_filters(struct transcode *t, struct ost *s, bool final)
{
    if (!s->src_closed && s->graph) {
        s->src_closed = true;
        int rc = av_buffersrc_add_frame_flags(s->src, NULL, 0);
        if (rc < 0 && rc != AVERROR_EOF)
            return err_set(t->err, ERR_CONVERT, "cannot filter the %s: %s",
                           s->video ? "video" : "audio", media_strerror(rc));
    }
    if (!final)
        return drain_filters(t, s, false);
    s->in_done = true;
    if (drain_filters(t, s, true) < 0)
        return -1;
    return encode(t, s, NULL);
}

/* A decoded frame into the filters (consumes its references). */
static int filter_frame(struct transcode *t, struct ost *s, AVFrame *f)
{
    if (s->in_done)
        return 0;
    int64_t pts = f->best_effort_timestamp;
    AVRational tb;
    if (s->video) {
        tb = s->in_st->time_base;
        if (f->width != s->src_w || f->height != s->src_h || f->format != s->src_fmt) {
            /* the first filters work at the size they were configured for: finish the old
             * graph, then build one for the new size that still ends at the encoder's */
            if (close_filters(t, s, false) < 0 ||
                video_graph(t, s, f->width, f->height, f->format, f->sample_aspect_ratio,
                            s->enc->width, s->enc->height) < 0)
                return -1;
        }
        if (pts != AV_NOPTS_VALUE)
            pts -= s->offset;
        else
            pts = s->next_pts;
        if (pts != AV_NOPTS_VALUE) {
            int64_t step = f->pkt_duration > 0
                               ? f->pkt_duration
                               : av_rescale_q(1, av_inv_q(s->rate), s->in_st->time_base);
            s->next_pts = pts + (step > 0 ? step : 1);
        }
    } else {
        if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) {
            /* abuffer wants a layout it can name */
            int n = f->ch_layout.nb_channels;
            av_channel_layout_uninit(&f->ch_layout);
            av_channel_layout_default(&f->ch_layout, n);
        }
        if (!s->graph || f->sample_rate != s->src_rate || f->format != s->src_fmt ||
            av_channel_layout_compare(&f->ch_layout, &s->src_layout)) {
            /* a new graph for the new source; at most one frame of samples held in the old
             * one is lost (ffmpeg does the same) */
            if (audio_graph(t, s, f) < 0)
                return -1;
        }
        tb = (AVRational){1, f->sample_rate};
        if (pts != AV_NOPTS_VALUE)
            pts = av_rescale_q(pts, s->in_st->time_base, tb) -
                  av_rescale_q(t->offset_us, AV_TIME_BASE_Q, tb);
        else
            pts = s->next_pts;
        if (pts != AV_NOPTS_VALUE)
            s->next_pts = pts + f->nb_samples;
    }
    f->pts = pts;
    if (pts != AV_NOPTS_VALUE) {
        double at = (double)pts * av_q2d(tb);
        if (t->limit > 0 && at >= t->limit)
            return close_filters(t, s, true);
        if (t->gif && at > t->position)
            t->position = at; /* gif writes everything at the end: count what was read */
    }
    int rc = av_buffersrc_add_frame_flags(s->src, f, 0);
    if (rc == AVERROR_EOF)
        return close_filters(t, s, true);
    if (rc < 0)
        return err_set(t->err, ERR_CONVERT, "cannot filter the %s: %s",
                       s->video ? "video" : "audio", media_strerror(rc));
    return drain_filters(t, s, true);
}

/* ---- decoding and copying ---------------------------------------------------------- */

/* A packet (NULL: drain) into the decoder and its frames onwards. A corrupt packet or
 * frame is skipped, like ffmpeg does; only running out of memory stops the conversion. The
 * decoder is always drained to EAGAIN: a frame-threaded one left holding frames would
 * refuse the next packet. */
static int decode(struct transcode *t, struct ost *s, const AVPacket *pkt)
{
    int rc = avcodec_send_packet(s->dec, pkt);
    if (rc < 0 && rc != AVERROR_EOF) {
        if (rc == AVERROR(ENOMEM))
            return err_set(t->err, ERR_CONVERT, "cannot decode the input: %s", media_strerror(rc));
        s->dec_err = rc;
    }
    for (int errors = 0; errors < MAX_DRAIN_ERRORS;) {
        rc = avcodec_receive_frame(s->dec, t->frame);
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
            return 0;
        if (rc < 0) {
            if (rc == AVERROR(ENOMEM))
                return err_set(t->err, ERR_CONVERT, "cannot decode the input: %s",
                               media_strerror(rc));
            s->dec_err = rc;
            errors++;
            continue;
        }
        if (s->video ? t->frame->width <= 0 || t->frame->height <= 0
                     : t->frame->sample_rate <= 0 || t->frame->ch_layout.nb_channels <= 0) {
            av_frame_unref(t->frame); /* nothing a filter could take */
            continue;
        }
        s->frames++;
        rc = filter_frame(t, s, t->frame);
        av_frame_unref(t->frame);
        if (rc < 0)
            return -1;
        if (s->in_done)
            return 0;
    }
    return 0;
}

static int copy_packet(struct transcode *t, struct ost *s, AVPacket *pkt)
{
    AVRational tb = s->in_st->time_base;
    /* spec: a copied stream starts at a keyframe (the seek landed on the one before
     * trim_from) */
    if (!s->started && !(pkt->flags & AV_PKT_FLAG_KEY))
        return 0;
    if (pkt->pts != AV_NOPTS_VALUE)
        pkt->pts -= s->offset;
    if (pkt->dts != AV_NOPTS_VALUE)
        pkt->dts -= s->offset;
    if (t->limit > 0) {
        int64_t ts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
        if (ts != AV_NOPTS_VALUE && (double)ts * av_q2d(tb) >= t->limit) {
            s->in_done = true;
            return 0;
        }
        if (pkt->pts != AV_NOPTS_VALUE && (double)pkt->pts * av_q2d(tb) >= t->limit)
            return 0;
    }
    /* audio packets are all keyframes: drop the ones that end before the start */
    if (!s->video && t->start > 0 && pkt->pts != AV_NOPTS_VALUE && pkt->pts + pkt->duration <= 0)
        return 0;
    s->started = true;
    s->frames++;
    return write_packet(t, s, pkt, tb);
}

/* Input timestamps of TS-like formats can jump (cut-together recordings, `cat a.ts b.ts`):
 * a jump back, or far either way, moves every later timestamp so the stream continues
 * where it was (ffmpeg's ts_offset, simplified). */
static void fix_discontinuity(struct transcode *t, struct ost *s, AVPacket *pkt)
{
    AVRational tb = s->in_st->time_base;
    if (t->ts_offset) {
        int64_t off = av_rescale_q(t->ts_offset, AV_TIME_BASE_Q, tb);
        if (pkt->dts != AV_NOPTS_VALUE)
            pkt->dts += off;
        if (pkt->pts != AV_NOPTS_VALUE)
            pkt->pts += off;
    }
    if (!t->discont || pkt->dts == AV_NOPTS_VALUE)
        return;
    int64_t dts = av_rescale_q(pkt->dts, tb, AV_TIME_BASE_Q);
    if (s->next_dts != AV_NOPTS_VALUE) {
        int64_t delta = dts - s->next_dts;
        if (delta < -DTS_JUMP_US || delta > DTS_JUMP_US || dts + AV_TIME_BASE / 10 < s->last_dts) {
            int64_t d = av_rescale_q(delta, AV_TIME_BASE_Q, tb);
            t->ts_offset -= delta;
            pkt->dts -= d;
            if (pkt->pts != AV_NOPTS_VALUE)
                pkt->pts -= d;
            dts -= delta;
        }
    }
    s->last_dts = dts;
    s->next_dts = dts + (pkt->duration > 0 ? av_rescale_q(pkt->duration, tb, AV_TIME_BASE_Q) : 0);
}

/* ---- set-up ------------------------------------------------------------------------ */

static int open_decoder(struct transcode *t, struct ost *s)
{
    const AVCodecParameters *par = s->in_st->codecpar;
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    if (!codec)
        return err_set(t->err, ERR_CONVERT, "cannot decode the input: no decoder for %s",
                       avcodec_get_name(par->codec_id));
    s->dec = avcodec_alloc_context3(codec);
    if (!s->dec)
        return err_set(t->err, ERR_CONVERT, "cannot decode the input: %s",
                       media_strerror(AVERROR(ENOMEM)));
    int rc = avcodec_parameters_to_context(s->dec, par);
    if (rc >= 0) {
        s->dec->pkt_timebase = s->in_st->time_base;
        s->dec->thread_count = t->threads;
        s->dec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
        rc = avcodec_open2(s->dec, codec, NULL);
    }
    if (rc < 0)
        return err_set(t->err, ERR_CONVERT, "cannot decode the input: %s", media_strerror(rc));
    return 0;
}

static int open_encoder(struct transcode *t, struct ost *s, AVDictionary **opts)
{
    int rc = avcodec_open2(s->enc, s->enc->codec, opts);
    if (rc >= 0)
        rc = avcodec_parameters_from_context(s->out_st->codecpar, s->enc);
    if (rc < 0)
        return err_set(t->err, ERR_CONVERT, "cannot encode %s: %s", s->label, media_strerror(rc));
    return 0;
}

static void set_int(AVDictionary **d, const char *key, long v)
{
    char num[32];
    snprintf(num, sizeof num, "%ld", v);
    av_dict_set(d, key, num, 0);
}

/* Rate control and speed options of the video encoders (spec "Converter options"). */
static void video_options(const struct transcode *t, AVCodecContext *enc, AVDictionary **d)
{
    const struct media_output *o = t->o;
    bool crf = o->video_crf >= 0;
    if (o->video_bitrate > 0)
        enc->bit_rate = (int64_t)o->video_bitrate * 1000;
    if (is_name(enc, "libx264") || is_name(enc, "libx265")) {
        if (crf)
            set_int(d, "crf", o->video_crf);
        if (o->preset)
            av_dict_set(d, "preset", o->preset, 0);
        if (is_name(enc, "libx265")) {
            /* x265 prints to stderr itself and sizes its pool from the whole machine */
            char params[64];
            snprintf(params, sizeof params, "log-level=error:pools=%d", t->threads);
            av_dict_set(d, "x265-params", params, 0);
        }
    } else if (is_name(enc, "libvpx") || is_name(enc, "libvpx-vp9")) {
        bool vp9 = is_name(enc, "libvpx-vp9");
        /* a positive cpu-used adapts to the machine's load and crawls on a busy server */
        av_dict_set(d, "deadline", "realtime", 0);
        av_dict_set(d, "cpu-used", "-8", 0);
        if (vp9)
            av_dict_set(d, "row-mt", "1", 0);
        if (o->video_bitrate <= 0) {
            enc->bit_rate = vp9 ? 0 : VP8_BITRATE;
            if (vp9 && !crf)
                set_int(d, "crf", VP9_CRF);
        }
        if (crf)
            set_int(d, "crf", o->video_crf);
    } else if (is_name(enc, "libsvtav1")) {
        av_dict_set(d, "preset", SVTAV1_PRESET, 0);
        if (crf)
            set_int(d, "crf", o->video_crf);
    } else if (is_name(enc, "libaom-av1")) {
        av_dict_set(d, "cpu-used", AOM_CPU_USED, 0);
        av_dict_set(d, "row-mt", "1", 0);
        if (crf)
            set_int(d, "crf", o->video_crf);
    } else if (o->video_bitrate <= 0 &&
               (is_name(enc, "mpeg4") || is_name(enc, "mpeg2video") || is_name(enc, "wmv2"))) {
        enc->flags |= AV_CODEC_FLAG_QSCALE;
        enc->global_quality = FF_QP2LAMBDA * MPEG_QSCALE;
    } else if (o->video_bitrate <= 0 && is_name(enc, "libtheora")) {
        enc->flags |= AV_CODEC_FLAG_QSCALE;
        enc->global_quality = FF_QP2LAMBDA * THEORA_QUALITY;
    }
}

static struct ost *ost_new(struct transcode *t, bool video, int index)
{
    struct ost *s = &t->ost[t->nost++];
    s->video = video;
    s->in_st = t->in->fmt->streams[index];
    s->next_pts = s->last_pts = AV_NOPTS_VALUE;
    s->last_dts = s->next_dts = s->last_mux_dts = AV_NOPTS_VALUE;
    s->offset = av_rescale_q(t->offset_us, AV_TIME_BASE_Q, s->in_st->time_base);
    s->out_st = avformat_new_stream(t->ofmt, NULL);
    if (!s->out_st)
        return NULL;
    if (!t->o->strip_metadata) {
        static const char *const keep[] = {"language", "title"};
        for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
            const AVDictionaryEntry *e = av_dict_get(s->in_st->metadata, keep[i], NULL, 0);
            if (e)
                av_dict_set(&s->out_st->metadata, keep[i], e->value, 0);
        }
    }
    return s;
}

static int setup_copy(struct transcode *t, struct ost *s)
{
    const AVCodecParameters *par = s->in_st->codecpar;
    s->copy = true;
    s->label = "copy";
    if (avformat_query_codec(t->ofmt->oformat, par->codec_id, FF_COMPLIANCE_NORMAL) == 0)
        return err_set(t->err, ERR_CONVERT, "cannot copy %s into %s: choose another codec",
                       avcodec_get_name(par->codec_id), format_display_name(t->c->format));
    int rc = avcodec_parameters_copy(s->out_st->codecpar, par);
    if (rc < 0)
        return err_set(t->err, ERR_CONVERT, "cannot write the output: %s", media_strerror(rc));
    s->out_st->codecpar->codec_tag = 0; /* the muxer picks its own tag */
    s->out_st->time_base = s->in_st->time_base;
    if (s->video) {
        s->out_st->avg_frame_rate = s->in_st->avg_frame_rate;
        s->out_st->r_frame_rate = s->in_st->r_frame_rate;
        s->out_st->sample_aspect_ratio = par->sample_aspect_ratio;
        size_t size = 0;
        const uint8_t *m = av_stream_get_side_data(s->in_st, AV_PKT_DATA_DISPLAYMATRIX, &size);
        if (m) {
            /* copied pixels keep their rotation flag */
            uint8_t *dst = av_stream_new_side_data(s->out_st, AV_PKT_DATA_DISPLAYMATRIX, size);
            if (!dst)
                return err_set(t->err, ERR_CONVERT, "cannot write the output: %s",
                               media_strerror(AVERROR(ENOMEM)));
            memcpy(dst, m, size);
        }
    }
    return 0;
}

static int setup_video(struct transcode *t, struct ost *s, const AVCodec *codec)
{
    const struct media_output *o = t->o;
    AVDictionary *opts = NULL;
    int rc = -1;
    if (open_decoder(t, s) < 0)
        return -1;
    bool gif = !strcmp(codec->name, "gif");
    if (o->fps > 0) {
        s->rate = av_d2q(o->fps, 100000);
        s->force_fps = true;
    } else if (gif) {
        s->rate = (AVRational){GIF_FPS, 1};
        s->force_fps = true;
    } else {
        s->rate = av_guess_frame_rate(t->in->fmt, s->in_st, NULL);
        if (s->rate.num <= 0 || s->rate.den <= 0 || av_q2d(s->rate) > 1000) {
            s->rate = (AVRational){FALLBACK_FPS, 1};
            s->force_fps = true;
        }
    }
    if (codec->supported_framerates) {
        /* mpeg2video takes only the broadcast rates */
        int i = av_find_nearest_q_idx(s->rate, codec->supported_framerates);
        if (av_cmp_q(s->rate, codec->supported_framerates[i])) {
            s->rate = codec->supported_framerates[i];
            s->force_fps = true;
        }
    }
    /* mpeg4 refuses time base denominators above 65535 */
    av_reduce(&s->rate.num, &s->rate.den, s->rate.num, s->rate.den, 65535);
    s->rotation = stream_rotation(s->in_st);

    s->enc = avcodec_alloc_context3(codec);
    if (!s->enc)
        return err_set(t->err, ERR_CONVERT, "cannot encode %s: %s", s->label,
                       media_strerror(AVERROR(ENOMEM)));
    AVRational sar = av_guess_sample_aspect_ratio(t->in->fmt, s->in_st, NULL);
    if (s->dec->width <= 0 || s->dec->height <= 0 || s->dec->pix_fmt == AV_PIX_FMT_NONE)
        return err_set(t->err, ERR_CONVERT, "cannot decode the input: unknown video size");
    if (video_graph(t, s, s->dec->width, s->dec->height, s->dec->pix_fmt, sar, 0, 0) < 0)
        return -1;

    AVCodecContext *enc = s->enc;
    enc->width = av_buffersink_get_w(s->sink);
    enc->height = av_buffersink_get_h(s->sink);
    enc->pix_fmt = av_buffersink_get_format(s->sink);
    enc->sample_aspect_ratio = av_buffersink_get_sample_aspect_ratio(s->sink);
    enc->time_base = av_inv_q(s->rate);
    enc->framerate = s->rate;
    enc->thread_count = t->threads;
    enc->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    const AVPixFmtDescriptor *in_d = av_pix_fmt_desc_get(s->dec->pix_fmt);
    const AVPixFmtDescriptor *out_d = av_pix_fmt_desc_get(enc->pix_fmt);
    if (in_d && out_d && !(in_d->flags & AV_PIX_FMT_FLAG_RGB) &&
        !(out_d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL))) {
        /* yuv → yuv keeps the matrix; swscale converts the range of yuvj formats only */
        enc->color_primaries = s->dec->color_primaries;
        enc->color_trc = s->dec->color_trc;
        enc->colorspace = s->dec->colorspace;
        if (!strncmp(in_d->name, "yuvj", 4))
            enc->color_range = AVCOL_RANGE_MPEG;
        else
            enc->color_range = s->dec->color_range;
    }
    if (t->ofmt->oformat->flags & AVFMT_GLOBALHEADER)
        enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    video_options(t, enc, &opts);
    if (open_encoder(t, s, &opts) < 0)
        goto out;
    s->out_st->time_base = enc->time_base;
    s->out_st->avg_frame_rate = s->rate;
    s->out_st->r_frame_rate = s->rate;
    s->out_st->sample_aspect_ratio = enc->sample_aspect_ratio;
    rc = 0;
out:
    av_dict_free(&opts);
    return rc;
}

static int setup_audio(struct transcode *t, struct ost *s, const AVCodec *codec)
{
    const struct media_output *o = t->o;
    if (open_decoder(t, s) < 0)
        return -1;
    if (s->dec->sample_rate <= 0 || s->dec->ch_layout.nb_channels <= 0)
        return err_set(t->err, ERR_CONVERT, "cannot decode the input: unknown audio format");
    s->enc = avcodec_alloc_context3(codec);
    if (!s->enc)
        return err_set(t->err, ERR_CONVERT, "cannot encode %s: %s", s->label,
                       media_strerror(AVERROR(ENOMEM)));
    AVCodecContext *enc = s->enc;
    s->fact = fact_find(codec->name);
    enc->sample_fmt = pick_sample_fmt(codec, s->dec->sample_fmt);
    enc->sample_rate =
        pick_sample_rate(codec, o->audio_frequency > 0 ? o->audio_frequency : s->dec->sample_rate,
                         s->fact->max_rate);
    if (pick_layout(codec, &s->dec->ch_layout,
                    o->audio_channels > 0 ? o->audio_channels : s->dec->ch_layout.nb_channels,
                    s->fact->max_channels, &enc->ch_layout) < 0)
        return err_set(t->err, ERR_CONVERT, "cannot encode %s: %s", s->label,
                       media_strerror(AVERROR(ENOMEM)));
    enc->time_base = (AVRational){1, enc->sample_rate};
    enc->thread_count = t->threads;
    const AVCodecDescriptor *cd = avcodec_descriptor_get(codec->id);
    bool lossy = cd && (cd->props & AV_CODEC_PROP_LOSSY);
    if (lossy && o->audio_bitrate > 0)
        enc->bit_rate = (int64_t)o->audio_bitrate * 1000;
    else if (lossy && s->fact->kbps > 0)
        enc->bit_rate = (int64_t)s->fact->kbps * 1000;
    if (t->ofmt->oformat->flags & AVFMT_GLOBALHEADER)
        enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (open_encoder(t, s, NULL) < 0)
        return -1;
    s->out_st->time_base = enc->time_base;
    return 0;
}

/* Which streams to write and how; creates the output streams. */
static int setup_streams(struct transcode *t)
{
    const struct media_output *o = t->o;
    const struct media_input *in = t->in;
    const char *vcodec = o->video_codec, *acodec = o->audio_codec;
    bool want_video = t->c->video && !(vcodec && !strcasecmp(vcodec, "none"));
    bool want_audio = t->c->audio && !(acodec && !strcasecmp(acodec, "none"));
    if (want_video && in->video < 0)
        return err_set(t->err, ERR_CONVERT, "the input has no video stream");
    if (!t->c->video && want_audio && in->audio < 0)
        return err_set(t->err, ERR_CONVERT, "the input has no audio stream");
    if (in->audio < 0)
        want_audio = false;
    if (!want_video && !want_audio)
        return err_set(t->err, ERR_CONVERT, "nothing to convert: no audio or video stream");

    const char *labels[2] = {NULL, NULL};
    for (int v = 1; v >= 0; v--) {
        if (v ? !want_video : !want_audio)
            continue;
        const char *codec = v ? vcodec : acodec;
        struct ost *s = ost_new(t, v, v ? in->video : in->audio);
        if (!s)
            return err_set(t->err, ERR_CONVERT, "cannot write the output: %s",
                           media_strerror(AVERROR(ENOMEM)));
        if (codec && !strcasecmp(codec, "copy")) {
            if (setup_copy(t, s) < 0)
                return -1;
        } else {
            const AVCodec *e = encoder_find(t->c, codec, v);
            if (!e)
                return err_set(t->err, ERR_CONVERT, "cannot encode %s: encoder not available",
                               codec ? codec : label_of(v ? t->c->video : t->c->audio));
            s->label = label_of(e->name);
            if (avformat_query_codec(t->ofmt->oformat, e->id, FF_COMPLIANCE_NORMAL) == 0)
                return err_set(t->err, ERR_CONVERT, "%s cannot hold %s",
                               format_display_name(t->c->format), s->label);
            if ((v ? setup_video(t, s, e) : setup_audio(t, s, e)) < 0)
                return -1;
        }
        labels[t->nost - 1] = s->label;
    }
    snprintf(t->message, sizeof t->message, "Converting to %s (%s%s%s)",
             format_display_name(t->c->format), labels[0], labels[1] ? ", " : "",
             labels[1] ? labels[1] : "");
    return 0;
}

static int open_output(struct transcode *t, const char *out_path)
{
    const AVOutputFormat *mux = av_guess_format(t->c->muxer, NULL, NULL);
    if (!mux && t->c->muxer_alt)
        mux = av_guess_format(t->c->muxer_alt, NULL, NULL);
    int rc = mux ? avformat_alloc_output_context2(&t->ofmt, mux, NULL, out_path)
                 : AVERROR_MUXER_NOT_FOUND;
    if (rc < 0)
        return err_set(t->err, ERR_CONVERT, "cannot write the output: %s", media_strerror(rc));
    /* SEC-05: the muxer may reopen its own file (faststart) but nothing else */
    t->ofmt->protocol_whitelist = av_strdup("file");
    if (!t->ofmt->protocol_whitelist)
        return err_set(t->err, ERR_CONVERT, "cannot write the output: %s",
                       media_strerror(AVERROR(ENOMEM)));
    return 0;
}

/* Create the file (the only one written) and write the header. */
static int write_header(struct transcode *t, const char *out_path)
{
    AVDictionary *io_opts = NULL, *opts = NULL;
    int rc = 0;
    if (!(t->ofmt->oformat->flags & AVFMT_NOFILE)) {
        av_dict_set(&io_opts, "protocol_whitelist", "file", 0);
        rc = avio_open2(&t->ofmt->pb, out_path, AVIO_FLAG_WRITE, NULL, &io_opts);
        av_dict_free(&io_opts);
        if (rc < 0)
            return err_set(t->err, ERR_CONVERT, "cannot write the output: %s", media_strerror(rc));
        t->created = true;
    }
    if (t->o->faststart && t->c->mov)
        av_dict_set(&opts, "movflags", "+faststart", 0);
    if (!t->o->strip_metadata)
        av_dict_copy(&t->ofmt->metadata, t->in->fmt->metadata, 0);
    rc = avformat_write_header(t->ofmt, &opts);
    av_dict_free(&opts);
    if (rc < 0)
        return err_set(t->err, ERR_CONVERT, "cannot write the output: %s", media_strerror(rc));
    return 0;
}

/* How far into the input the packets of the streams we use reach. */
static void note_read_position(struct transcode *t, const AVPacket *pkt)
{
    AVFormatContext *ifmt = t->in->fmt;
    if (pkt->pts == AV_NOPTS_VALUE || pkt->stream_index < 0 ||
        (pkt->stream_index != t->in->video && pkt->stream_index != t->in->audio))
        return;
    AVStream *st = ifmt->streams[pkt->stream_index];
    int64_t start = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
    double end = (double)(pkt->pts - start + (pkt->duration > 0 ? pkt->duration : 0)) *
                 av_q2d(st->time_base);
    if (end > t->read_until)
        t->read_until = end;
}

/* Decode (or copy) everything, then flush decoders, filters and encoders. */
static int run(struct transcode *t)
{
    AVFormatContext *ifmt = t->in->fmt;
    for (;;) {
        bool done = true;
        for (int i = 0; i < t->nost; i++)
            done = done && t->ost[i].in_done;
        if (done)
            break;
        int rc = av_read_frame(ifmt, t->pkt);
        if (rc == AVERROR_EXIT)
            return err_set(t->err, ERR_CANCELLED, "cancelled");
        if (rc < 0) {
            /* the end, or a demuxer error: a cut or damaged container (check_result) */
            if (rc != AVERROR_EOF)
                t->read_err = rc;
            else
                t->read_to_end = true;
            break;
        }
        note_read_position(t, t->pkt);
        struct ost *s = NULL;
        for (int i = 0; i < t->nost; i++)
            if (t->ost[i].in_st->index == t->pkt->stream_index)
                s = &t->ost[i];
        if (s && !s->in_done) {
            fix_discontinuity(t, s, t->pkt);
            rc = s->copy ? copy_packet(t, s, t->pkt) : decode(t, s, t->pkt);
        }
        av_packet_unref(t->pkt);
        if (rc < 0 || report(t, false) < 0)
            return -1;
    }
    for (int i = 0; i < t->nost; i++) {
        struct ost *s = &t->ost[i];
        if (s->copy)
            continue;
        if (!s->in_done && decode(t, s, NULL) < 0)
            return -1;
        if (close_filters(t, s, true) < 0)
            return -1;
    }
    return 0;
}

/* After the run: was anything usable read? */
static int check_result(struct transcode *t)
{
    long frames = 0;
    int dec_err = 0;
    for (int i = 0; i < t->nost; i++) {
        frames += t->ost[i].frames;
        if (t->ost[i].dec_err)
            dec_err = t->ost[i].dec_err;
    }
    if (!frames)
        return err_set(t->err, ERR_CONVERT, "cannot decode the input: %s",
                       dec_err       ? media_strerror(dec_err)
                       : t->read_err ? media_strerror(t->read_err)
                                     : "no audio or video frames");
    if (!t->packets)
        return err_set(t->err, ERR_CONVERT, "nothing to convert: the trimmed range is empty");
    /* The container itself says data is missing (an MP4 whose samples lie past the end of
     * the file): a half-converted file would pass for a whole one, so this is an error. A
     * stream format that simply ends early (TS) cannot tell and is converted as far as it
     * goes, as the ffmpeg program does. */
    if (t->read_err)
        return err_set(t->err, ERR_CONVERT, "the input is truncated or damaged: %s",
                       media_strerror(t->read_err));
    /* An index or header that promises more than the file holds (an MP4 or MKV cut short).
     * Durations guessed from the bitrate promise nothing. */
    AVFormatContext *ifmt = t->in->fmt;
    double promised = t->in->duration;
    if (t->read_to_end && promised > 0 &&
        ifmt->duration_estimation_method != AVFMT_DURATION_FROM_BITRATE &&
        t->read_until + fmax(1.0, promised * 0.02) < promised)
        return err_set(t->err, ERR_CONVERT,
                       "the input is truncated: its data ends at %.1f s of %.1f s", t->read_until,
                       promised);
    return 0;
}

/* ---- public ------------------------------------------------------------------------ */

int media_transcode(const struct media_input *in, const struct media_output *o,
                    const char *out_path, const struct conv_job *job, struct err *err)
{
    struct transcode t = {.in = in, .o = o, .job = job, .err = err};
    int rc = -1;

    t.c = container_find(o->format);
    if (!t.c)
        return err_set(err, ERR_CONVERT, "cannot convert to %s", o->format ? o->format : "(none)");
    if (!in || !in->fmt)
        return err_set(err, ERR_CONVERT, "cannot decode the input: not open");
    if (o->trim_to > 0 && o->trim_to <= o->trim_from)
        return err_set(err, ERR_CONVERT, "trim_to must be after trim_from");
    t.gif = !strcmp(t.c->format, "gif");
    t.discont = in->fmt->iformat && (in->fmt->iformat->flags & AVFMT_TS_DISCONT);
    t.threads = o->threads > 0 ? o->threads : 1;
    t.start = o->trim_from > 0 ? o->trim_from : 0;
    t.limit = o->trim_to > 0 ? o->trim_to - t.start : 0;
    int64_t origin = in->fmt->start_time != AV_NOPTS_VALUE ? in->fmt->start_time : 0;
    t.offset_us = origin + llrint(t.start * AV_TIME_BASE);
    if (in->duration > 0)
        t.expected = in->duration - t.start;
    if (t.limit > 0 && (t.expected <= 0 || t.limit < t.expected))
        t.expected = t.limit;

    t.pkt = av_packet_alloc();
    t.opkt = av_packet_alloc();
    t.frame = av_frame_alloc();
    t.filt = av_frame_alloc();
    if (!t.pkt || !t.opkt || !t.frame || !t.filt) {
        err_set(err, ERR_CONVERT, "cannot convert: %s", media_strerror(AVERROR(ENOMEM)));
        goto out;
    }
    if (open_output(&t, out_path) < 0 || setup_streams(&t) < 0)
        goto out;
    /* the demuxer skips whole streams we do not write */
    for (unsigned i = 0; i < in->fmt->nb_streams; i++) {
        bool used = false;
        for (int j = 0; j < t.nost; j++)
            used = used || t.ost[j].in_st->index == (int)i;
        if (!used)
            in->fmt->streams[i]->discard = AVDISCARD_ALL;
    }
    if (t.start > 0) {
        /* to the keyframe at or before trim_from; frames before it are cut by trim. A
         * failed seek only costs time: everything before is decoded and dropped. */
        avformat_seek_file(in->fmt, -1, INT64_MIN, t.offset_us, t.offset_us, 0);
    }
    if (write_header(&t, out_path) < 0 || report(&t, true) < 0 || run(&t) < 0 ||
        check_result(&t) < 0)
        goto out;
    int ret = av_write_trailer(t.ofmt);
    if (ret < 0) {
        err_set(err, ERR_CONVERT, "cannot write the output: %s", media_strerror(ret));
        goto out;
    }
    ret = avio_closep(&t.ofmt->pb);
    if (ret < 0) {
        err_set(err, ERR_CONVERT, "cannot write the output: %s", media_strerror(ret));
        goto out;
    }
    rc = 0;
out:
    for (int i = 0; i < t.nost; i++) {
        struct ost *s = &t.ost[i];
        avcodec_free_context(&s->dec);
        avcodec_free_context(&s->enc);
        avfilter_graph_free(&s->graph);
        av_channel_layout_uninit(&s->src_layout);
    }
    if (t.ofmt) {
        avio_closep(&t.ofmt->pb);
        avformat_free_context(t.ofmt);
    }
    av_packet_free(&t.pkt);
    av_packet_free(&t.opkt);
    av_frame_free(&t.frame);
    av_frame_free(&t.filt);
    if (rc < 0 && t.created)
        unlink(out_path);
    return rc;
}
