/* SPDX-License-Identifier: MIT */
/* test_media_transcode.c - media_transcode() on short clips made here with the ffmpeg
 * program; outputs are probed back with libavformat (codecs, sizes, durations, loudness). */
#include "convertd-config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#if !HAVE_FFMPEG
int main(void)
{
    puts("1..0 # SKIP FFmpeg libraries not built");
    return 0;
}
#else

#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/log.h>

#include "common/log.h"
#include "converters/media.h"

static char tmpdir[256];

/* LeakSanitizer (the asan test setup) reads this: libx265 3.5 leaks ~1.2 KB per encoder it
 * opens (x265_encoder_open's copied params), whoever calls it; not ours to fix. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libx265.so\n";
}

/* ---- fixtures ---------------------------------------------------------------------- */

static const char *tpath(const char *name)
{
    static char buf[8][512];
    static int n;
    char *p = buf[n++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
    return p;
}

/* Run the ffmpeg program quietly: "ffmpeg -y -hide_banner -loglevel error ARGS". */
static int ffmpeg_cli(const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && ffmpeg -nostdin -y -hide_banner -loglevel error %s",
             tmpdir, args);
    return system(cmd);
}

#define VIDEO_SRC "-f lavfi -i testsrc=size=320x240:rate=25 "
#define AUDIO_SRC "-f lavfi -i sine=frequency=440:sample_rate=44100 "

/* A phone-style clip: the pixels of `src` (its video only) with a display matrix that says
 * "turn 90 degrees" (ffmpeg 5.1's program has no option for that). */
static int make_rotated(const char *src, const char *dst)
{
    AVFormatContext *in = NULL, *out = NULL;
    AVPacket *pkt = av_packet_alloc();
    int rc = -1;
    if (avformat_open_input(&in, tpath(src), NULL, NULL) < 0 ||
        avformat_find_stream_info(in, NULL) < 0 ||
        avformat_alloc_output_context2(&out, NULL, "mp4", tpath(dst)) < 0)
        goto out;
    int v = av_find_best_stream(in, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    AVStream *st = avformat_new_stream(out, NULL);
    if (v < 0 || !st || avcodec_parameters_copy(st->codecpar, in->streams[v]->codecpar) < 0)
        goto out;
    st->codecpar->codec_tag = 0;
    st->time_base = in->streams[v]->time_base;
    int32_t *m = (int32_t *)av_stream_new_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, 9 * 4);
    if (!m || avio_open(&out->pb, tpath(dst), AVIO_FLAG_WRITE) < 0)
        goto out;
    av_display_rotation_set(m, 90);
    if (avformat_write_header(out, NULL) < 0)
        goto out;
    while (av_read_frame(in, pkt) >= 0) {
        if (pkt->stream_index == v) {
            pkt->stream_index = 0;
            av_packet_rescale_ts(pkt, in->streams[v]->time_base, st->time_base);
            av_interleaved_write_frame(out, pkt);
        }
        av_packet_unref(pkt);
    }
    rc = av_write_trailer(out);
out:
    if (out)
        avio_closep(&out->pb);
    avformat_free_context(out);
    avformat_close_input(&in);
    av_packet_free(&pkt);
    return rc;
}

/* The inputs, made once by main() before the tests fork. */
static int make_inputs(void)
{
    static const char *const cmds[] = {
        /* 3 s, keyframe every second, stereo, a title to copy or strip */
        VIDEO_SRC AUDIO_SRC "-t 3 -ac 2 -c:v libx264 -preset ultrafast -g 25 -c:a aac "
                            "-metadata title=TestTitle in.mp4",
        /* the container table runs on a smaller one */
        "-f lavfi -i testsrc=size=128x96:rate=25 " AUDIO_SRC
        "-t 1 -ac 2 -c:v libx264 -preset ultrafast -c:a aac tiny.mp4",
        AUDIO_SRC "-t 2 -c:a pcm_s16le tone.wav",
        "-f lavfi -i sine=frequency=300:sample_rate=48000 -t 1 -af "
        "\"pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0\" -c:a pcm_s16le six.wav",
        /* an MPEG-TS to cut in half (opens fine, ends early) */
        VIDEO_SRC AUDIO_SRC "-t 3 -ac 2 -c:v libx264 -preset ultrafast -c:a aac in.ts",
        /* two recordings cut together: the size changes and the timestamps start over */
        "-f lavfi -i testsrc=size=176x144:rate=25 " AUDIO_SRC
        "-t 1 -ac 2 -c:v libx264 -preset ultrafast -c:a aac part2.ts",
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (ffmpeg_cli(cmds[i]) != 0)
            return -1;
    /* cut: the first 50 % of the TS; damaged: 2 KB of garbage in the middle */
    FILE *f = fopen(tpath("in.ts"), "rb");
    if (!f)
        return -1;
    static unsigned char data[4 << 20];
    size_t n = fread(data, 1, sizeof data, f);
    fclose(f);
    if (n < 10000 || n == sizeof data)
        return -1;
    FILE *cut = fopen(tpath("cut.ts"), "wb");
    if (!cut)
        return -1;
    size_t w = fwrite(data, 1, n / 2, cut);
    if (fclose(cut) != 0 || w != n / 2)
        return -1;
    for (size_t i = n / 2; i < n / 2 + 2048; i++)
        data[i] = (unsigned char)(i * 7919u >> 3);
    FILE *bad = fopen(tpath("damaged.ts"), "wb");
    if (!bad)
        return -1;
    w = fwrite(data, 1, n, bad);
    if (fclose(bad) != 0 || w != n)
        return -1;
    if (ffmpeg_cli("-i in.ts -t 1 -c copy part1.ts") != 0)
        return -1;
    /* an MP4 with its index first, cut in half: the index names samples that are gone */
    if (ffmpeg_cli("-i in.mp4 -c copy -movflags +faststart fast.mp4") != 0)
        return -1;
    f = fopen(tpath("fast.mp4"), "rb");
    if (!f)
        return -1;
    n = fread(data, 1, sizeof data, f);
    fclose(f);
    cut = fopen(tpath("cut.mp4"), "wb");
    if (!cut || n < 10000 || n == sizeof data)
        return -1;
    w = fwrite(data, 1, n / 2, cut);
    if (fclose(cut) != 0 || w != n / 2)
        return -1;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cat '%s' '%s' > '%s'", tpath("part1.ts"), tpath("part2.ts"),
             tpath("joined.ts"));
    if (system(cmd) != 0)
        return -1;
    return make_rotated("tiny.mp4", "rotated.mp4");
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* ---- running media_transcode ------------------------------------------------------- */

static struct media_output defaults(const char *format)
{
    struct media_output o = {.format = format, .video_crf = -1, .threads = 2};
    return o;
}

struct progress_log {
    int calls;
    double percents[4096];
    char first_message[128];
    int cancel_at; /* return true on this call (1-based); 0 = never */
};

static bool on_progress(void *opaque, double percent, const char *message)
{
    struct progress_log *log = opaque;
    if (log->calls == 0)
        snprintf(log->first_message, sizeof log->first_message, "%s", message);
    if (log->calls < 4096)
        log->percents[log->calls] = percent;
    log->calls++;
    return log->cancel_at > 0 && log->calls >= log->cancel_at;
}

static bool forget_duration; /* run_job() pretends the input's duration is unknown */

/* Transcode tmpdir/in_name (declared in_format) into tmpdir/out_name. */
static int run_job(const char *in_name, const char *in_format, const struct media_output *o,
                   const char *out_name, struct progress_log *log, struct err *err)
{
    struct conv_limits limits = {0};
    struct media_input in = {0};
    struct conv_job job = {.mode = CONV_MODE_CONVERT, .output_dir = tmpdir, .threads = 2};
    if (log) {
        job.progress = on_progress;
        job.progress_opaque = log;
    }
    int rc = media_open(tpath(in_name), in_format, &limits, &in, err);
    if (forget_duration)
        in.duration = 0;
    if (rc == 0)
        rc = media_transcode(&in, o, tpath(out_name), &job, err);
    media_close(&in);
    return rc;
}

static void convert_ok(const char *in_name, const char *in_format, const struct media_output *o,
                       const char *out_name)
{
    struct err err = ERR_INIT;
    int rc = run_job(in_name, in_format, o, out_name, NULL, &err);
    ck_assert_msg(rc == 0, "%s → %s: %s", in_name, out_name, err.msg);
}

/* ---- probing ----------------------------------------------------------------------- */

struct probe {
    char vcodec[32], acodec[32];
    int width, height;
    double fps; /* avg_frame_rate */
    long vframes;
    double dar; /* display aspect ratio */
    int sample_rate, channels;
    int64_t audio_bit_rate;
    long size;       /* bytes */
    double duration; /* seconds: the container's, else from the packets */
    char title[64];
};

static void probe(const char *name, struct probe *p)
{
    memset(p, 0, sizeof *p);
    AVFormatContext *fmt = NULL;
    ck_assert_msg(avformat_open_input(&fmt, tpath(name), NULL, NULL) == 0, "open %s", name);
    ck_assert_int_ge(avformat_find_stream_info(fmt, NULL), 0);
    int v = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    int a = av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    if (v >= 0) {
        const AVStream *st = fmt->streams[v];
        snprintf(p->vcodec, sizeof p->vcodec, "%s", avcodec_get_name(st->codecpar->codec_id));
        p->width = st->codecpar->width;
        p->height = st->codecpar->height;
        p->fps = av_q2d(st->avg_frame_rate);
        AVRational sar = av_guess_sample_aspect_ratio(fmt, (AVStream *)st, NULL);
        if (sar.num <= 0 || sar.den <= 0)
            sar = (AVRational){1, 1};
        p->dar = (double)p->width * sar.num / ((double)p->height * sar.den);
    }
    if (a >= 0) {
        const AVStream *st = fmt->streams[a];
        snprintf(p->acodec, sizeof p->acodec, "%s", avcodec_get_name(st->codecpar->codec_id));
        p->sample_rate = st->codecpar->sample_rate;
        p->channels = st->codecpar->ch_layout.nb_channels;
        p->audio_bit_rate = st->codecpar->bit_rate;
    }
    struct stat sb;
    p->size = stat(tpath(name), &sb) == 0 ? (long)sb.st_size : -1;
    const AVDictionaryEntry *e = av_dict_get(fmt->metadata, "title", NULL, 0);
    if (e)
        snprintf(p->title, sizeof p->title, "%s", e->value);
    double end = 0;
    AVPacket *pkt = av_packet_alloc();
    while (av_read_frame(fmt, pkt) >= 0) {
        const AVStream *st = fmt->streams[pkt->stream_index];
        if (pkt->stream_index == v)
            p->vframes++;
        if (pkt->pts != AV_NOPTS_VALUE) {
            int64_t start = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
            double t = (double)(pkt->pts - start + pkt->duration) * av_q2d(st->time_base);
            if (t > end)
                end = t;
        }
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    p->duration = fmt->duration != AV_NOPTS_VALUE ? (double)fmt->duration / AV_TIME_BASE : end;
    avformat_close_input(&fmt);
}

/* Mean and peak level of the first audio stream, in dBFS, by decoding all of it. */
static void loudness(const char *name, double *mean_db, double *peak_db)
{
    AVFormatContext *fmt = NULL;
    ck_assert_int_eq(avformat_open_input(&fmt, tpath(name), NULL, NULL), 0);
    ck_assert_int_ge(avformat_find_stream_info(fmt, NULL), 0);
    const AVCodec *codec = NULL;
    int a = av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
    ck_assert_int_ge(a, 0);
    AVCodecContext *dec = avcodec_alloc_context3(codec);
    avcodec_parameters_to_context(dec, fmt->streams[a]->codecpar);
    ck_assert_int_eq(avcodec_open2(dec, codec, NULL), 0);
    AVPacket *pkt = av_packet_alloc();
    AVFrame *f = av_frame_alloc();
    double sum = 0, peak = 0;
    long count = 0;
    for (bool eof = false; !eof;) {
        if (av_read_frame(fmt, pkt) < 0) {
            eof = true;
            avcodec_send_packet(dec, NULL);
        } else if (pkt->stream_index == a) {
            avcodec_send_packet(dec, pkt);
        }
        av_packet_unref(pkt);
        while (avcodec_receive_frame(dec, f) == 0) {
            int ch = f->ch_layout.nb_channels;
            bool planar = av_sample_fmt_is_planar(f->format);
            enum AVSampleFormat packed = av_get_packed_sample_fmt(f->format);
            for (int c = 0; c < ch; c++)
                for (int i = 0; i < f->nb_samples; i++) {
                    int plane = planar ? c : 0, idx = planar ? i : i * ch + c;
                    double x = 0;
                    if (packed == AV_SAMPLE_FMT_FLT)
                        x = ((const float *)f->extended_data[plane])[idx];
                    else if (packed == AV_SAMPLE_FMT_DBL)
                        x = ((const double *)f->extended_data[plane])[idx];
                    else if (packed == AV_SAMPLE_FMT_S16)
                        x = ((const int16_t *)f->extended_data[plane])[idx] / 32768.0;
                    else if (packed == AV_SAMPLE_FMT_S32)
                        x = ((const int32_t *)f->extended_data[plane])[idx] / 2147483648.0;
                    else
                        ck_abort_msg("sample format %s", av_get_sample_fmt_name(f->format));
                    sum += x * x;
                    peak = fabs(x) > peak ? fabs(x) : peak;
                    count++;
                }
            av_frame_unref(f);
        }
    }
    ck_assert_int_gt(count, 0);
    *mean_db = 10 * log10(sum / (double)count);
    *peak_db = 20 * log10(peak);
    av_frame_free(&f);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
}

static double elapsed(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

#define ck_assert_near(x, want, tol)                                                               \
    ck_assert_msg(fabs((double)(x) - (double)(want)) <= (tol), "%s = %g, want %g ± %g", #x,        \
                  (double)(x), (double)(want), (double)(tol))

/* ---- the brief's cases ------------------------------------------------------------- */

START_TEST(webm_vp9_opus)
{
    struct media_output o = defaults("webm");
    convert_ok("in.mp4", "mp4", &o, "out.webm");
    struct probe p;
    probe("out.webm", &p);
    ck_assert_str_eq(p.vcodec, "vp9");
    ck_assert_str_eq(p.acodec, "opus");
    ck_assert_int_eq(p.width, 320);
    ck_assert_int_eq(p.height, 240);
    ck_assert_int_eq(p.sample_rate, 48000); /* opus has no 44.1 kHz */
    ck_assert_near(p.duration, 3.0, 0.1);
}
END_TEST

START_TEST(mkv_h265)
{
    struct media_output o = defaults("mkv");
    o.video_codec = "h265";
    convert_ok("in.mp4", "mp4", &o, "h265.mkv");
    struct probe p;
    probe("h265.mkv", &p);
    ck_assert_str_eq(p.vcodec, "hevc");
    ck_assert_str_eq(p.acodec, "aac");
    ck_assert_int_eq(p.vframes, 75);
    ck_assert_near(p.duration, 3.0, 0.1);
}
END_TEST

START_TEST(avi_mpeg4_mp3)
{
    struct media_output o = defaults("avi");
    convert_ok("in.mp4", "mp4", &o, "out.avi");
    struct probe p;
    probe("out.avi", &p);
    ck_assert_str_eq(p.vcodec, "mpeg4");
    ck_assert_str_eq(p.acodec, "mp3");
    ck_assert_int_eq(p.vframes, 75);
    ck_assert_near(p.duration, 3.0, 0.1);
}
END_TEST

START_TEST(mp3_from_video)
{
    struct media_output o = defaults("mp3");
    convert_ok("in.mp4", "mp4", &o, "audio.mp3");
    struct probe p;
    probe("audio.mp3", &p);
    ck_assert_str_eq(p.vcodec, "");
    ck_assert_str_eq(p.acodec, "mp3");
    ck_assert_int_eq(p.sample_rate, 44100);
    ck_assert_int_eq(p.channels, 2);
    ck_assert_near(p.duration, 3.0, 0.1);
}
END_TEST

START_TEST(wav_48k_mono)
{
    struct media_output o = defaults("wav");
    o.audio_frequency = 48000;
    o.audio_channels = 1;
    convert_ok("in.mp4", "mp4", &o, "mono.wav");
    struct probe p;
    probe("mono.wav", &p);
    ck_assert_str_eq(p.acodec, "pcm_s16le");
    ck_assert_int_eq(p.sample_rate, 48000);
    ck_assert_int_eq(p.channels, 1);
    ck_assert_near(p.duration, 3.0, 0.05);
}
END_TEST

START_TEST(flac_audio)
{
    struct media_output o = defaults("flac");
    convert_ok("in.mp4", "mp4", &o, "out.flac");
    struct probe p;
    probe("out.flac", &p);
    ck_assert_str_eq(p.acodec, "flac");
    ck_assert_int_eq(p.sample_rate, 44100);
    ck_assert_int_eq(p.channels, 2);
    ck_assert_near(p.duration, 3.0, 0.05);
}
END_TEST

START_TEST(gif_animated)
{
    struct media_output o = defaults("gif");
    convert_ok("in.mp4", "mp4", &o, "anim.gif");
    struct probe p;
    probe("anim.gif", &p);
    ck_assert_str_eq(p.vcodec, "gif");
    ck_assert_str_eq(p.acodec, "");
    ck_assert_int_eq(p.width, 320); /* under the 480 cap: kept */
    ck_assert_int_eq(p.height, 240);
    ck_assert_int_ge(p.vframes, 29); /* 10 fps for 3 s */
    ck_assert_int_le(p.vframes, 31);
}
END_TEST

START_TEST(copy_video)
{
    struct timespec t0;
    struct media_output o = defaults("mkv");
    o.audio_codec = "none"; /* time the video alone: aac encoding costs as much as x264 here */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    convert_ok("in.mp4", "mp4", &o, "encoded.mkv");
    double encode_s = elapsed(&t0);
    o.video_codec = "copy";
    clock_gettime(CLOCK_MONOTONIC, &t0);
    convert_ok("in.mp4", "mp4", &o, "copied.mkv");
    double copy_s = elapsed(&t0);
    struct probe p;
    probe("copied.mkv", &p);
    ck_assert_str_eq(p.vcodec, "h264");
    ck_assert_str_eq(p.acodec, "");
    ck_assert_int_eq(p.width, 320);
    ck_assert_int_eq(p.vframes, 75);
    ck_assert_near(p.duration, 3.0, 0.1);
    /* the copy decodes no video; on a busy machine still well under half the time */
    ck_assert_msg(copy_s < encode_s / 2, "copy %.3f s, encode %.3f s", copy_s, encode_s);
}
END_TEST

START_TEST(audio_none)
{
    struct media_output o = defaults("mp4");
    o.audio_codec = "none";
    convert_ok("in.mp4", "mp4", &o, "silent.mp4");
    struct probe p;
    probe("silent.mp4", &p);
    ck_assert_str_eq(p.vcodec, "h264");
    ck_assert_str_eq(p.acodec, "");
}
END_TEST

START_TEST(trim_one_second)
{
    struct media_output o = defaults("mp4");
    o.trim_from = 1;
    o.trim_to = 2;
    convert_ok("in.mp4", "mp4", &o, "trim.mp4");
    struct probe p;
    probe("trim.mp4", &p);
    ck_assert_near(p.duration, 1.0, 0.1);
    ck_assert_int_eq(p.vframes, 25);
    ck_assert_str_eq(p.acodec, "aac");

    /* a start between keyframes: decoded from the keyframe before, cut exactly */
    o.trim_from = 1.5;
    o.trim_to = 2.5;
    convert_ok("in.mp4", "mp4", &o, "trim2.mp4");
    probe("trim2.mp4", &p);
    ck_assert_near(p.duration, 1.0, 0.1);
    ck_assert_int_eq(p.vframes, 25);
}
END_TEST

START_TEST(trim_copy)
{
    struct media_output o = defaults("mkv");
    o.video_codec = "copy";
    o.audio_codec = "copy";
    o.trim_from = 1;
    o.trim_to = 2;
    convert_ok("in.mp4", "mp4", &o, "trimcopy.mkv");
    struct probe p;
    probe("trimcopy.mkv", &p);
    /* keyframes every second: the cut starts on one */
    ck_assert_near(p.duration, 1.0, 0.1);
    ck_assert_int_eq(p.vframes, 25);
}
END_TEST

struct scale_case {
    int width, height;
    int want_w, want_h;
};

static const struct scale_case scale_cases[] = {
    {160, 0, 160, 120},
    {0, 100, 134, 100}, /* 133.3 → even */
    {200, 200, 200, 200},
    {161, 0, 160, 120}, /* odd widths cannot be 4:2:0 */
};

START_TEST(scale_sizes)
{
    const struct scale_case *c = &scale_cases[_i];
    struct media_output o = defaults("mp4");
    o.width = c->width;
    o.height = c->height;
    char name[64];
    snprintf(name, sizeof name, "scale%d.mp4", _i);
    convert_ok("tiny.mp4", "mp4", &o, name);
    struct probe p;
    probe(name, &p);
    ck_assert_int_eq(p.width, c->want_w);
    ck_assert_int_eq(p.height, c->want_h);
}
END_TEST

START_TEST(ratio_sets_dar)
{
    struct media_output o = defaults("mp4");
    o.ratio_num = 16;
    o.ratio_den = 9;
    convert_ok("tiny.mp4", "mp4", &o, "wide.mp4");
    struct probe p;
    probe("wide.mp4", &p);
    ck_assert_int_eq(p.width, 128); /* pixels unchanged, shown wider */
    ck_assert_near(p.dar, 16.0 / 9, 0.01);
}
END_TEST

/* Rate control reaches the encoders: lower quality, smaller file; the audio rate is set. */
START_TEST(rate_options)
{
    struct probe lo, hi;
    struct media_output o = defaults("mp4");
    o.audio_codec = "none";
    o.video_crf = 45;
    convert_ok("tiny.mp4", "mp4", &o, "crf45.mp4");
    o.video_crf = 15;
    convert_ok("tiny.mp4", "mp4", &o, "crf15.mp4");
    probe("crf45.mp4", &lo);
    probe("crf15.mp4", &hi);
    ck_assert_int_lt(lo.size * 2, hi.size);
    o = defaults("webm");
    o.audio_codec = "none";
    o.video_bitrate = 50;
    convert_ok("in.mp4", "mp4", &o, "b50.webm");
    o.video_bitrate = 1000;
    convert_ok("in.mp4", "mp4", &o, "b1000.webm");
    probe("b50.webm", &lo);
    probe("b1000.webm", &hi);
    ck_assert_int_lt(lo.size * 2, hi.size);
    o = defaults("mp3");
    o.audio_bitrate = 64;
    convert_ok("tiny.mp4", "mp4", &o, "64k.mp3");
    probe("64k.mp3", &lo);
    ck_assert_int_eq(lo.audio_bit_rate, 64000);
}
END_TEST

START_TEST(fps_ten)
{
    struct media_output o = defaults("mp4");
    o.fps = 10;
    convert_ok("in.mp4", "mp4", &o, "fps10.mp4");
    struct probe p;
    probe("fps10.mp4", &p);
    ck_assert_near(p.fps, 10, 0.01);
    ck_assert_int_ge(p.vframes, 29);
    ck_assert_int_le(p.vframes, 31);
    ck_assert_near(p.duration, 3.0, 0.15);
}
END_TEST

START_TEST(gain_louder)
{
    double in_mean, in_peak, out_mean, out_peak;
    struct media_output o = defaults("m4a");
    o.gain_db = 10;
    convert_ok("in.mp4", "mp4", &o, "loud.m4a");
    loudness("in.mp4", &in_mean, &in_peak);
    loudness("loud.m4a", &out_mean, &out_peak);
    ck_assert_near(out_mean - in_mean, 10, 1.0);
    ck_assert_near(out_peak - in_peak, 10, 1.0);
}
END_TEST

START_TEST(loudnorm_keeps_rate)
{
    struct media_output o = defaults("m4a");
    o.loudnorm = true;
    convert_ok("in.mp4", "mp4", &o, "norm.m4a");
    struct probe p;
    probe("norm.m4a", &p);
    ck_assert_str_eq(p.acodec, "aac");
    ck_assert_int_eq(p.sample_rate, 44100); /* not loudnorm's 192 kHz */
    ck_assert_near(p.duration, 3.0, 0.1);
    double mean, peak;
    loudness("norm.m4a", &mean, &peak);
    /* EBU R128 target -24 LUFS; a pure tone measures close to its RMS */
    ck_assert_near(mean, -24, 4);
}
END_TEST

/* A TS cut in half opens and ends early: the part that was read is converted, as the
 * ffmpeg program does (no error). */
START_TEST(truncated_partial)
{
    struct media_output o = defaults("mp4");
    convert_ok("cut.ts", "ts", &o, "partial.mp4");
    struct probe p;
    probe("partial.mp4", &p);
    ck_assert_str_eq(p.vcodec, "h264");
    ck_assert_msg(p.duration > 0.5 && p.duration < 2.9, "duration %g", p.duration);
}
END_TEST

/* An MP4 whose index names samples past the end of the file fails with libav's reason. */
START_TEST(truncated_mp4_fails)
{
    struct err err = ERR_INIT;
    struct media_output o = defaults("mp4");
    ck_assert_int_eq(run_job("cut.mp4", "mp4", &o, "cut-out.mp4", NULL, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_msg(strstr(err.msg, "truncated") != NULL, "%s", err.msg);
    ck_assert_int_ne(access(tpath("cut-out.mp4"), F_OK), 0);
}
END_TEST

START_TEST(damaged_keeps_going)
{
    struct media_output o = defaults("mp4");
    convert_ok("damaged.ts", "ts", &o, "damaged.mp4");
    struct probe p;
    probe("damaged.mp4", &p);
    ck_assert_near(p.duration, 3.0, 0.3);
}
END_TEST

/* The second part's frames are scaled to the first part's size; its timestamps, which go
 * back to the start, are moved after the first part's. */
START_TEST(joined_ts)
{
    struct media_output o = defaults("mp4");
    convert_ok("joined.ts", "ts", &o, "joined.mp4");
    struct probe p;
    probe("joined.mp4", &p);
    ck_assert_int_eq(p.width, 320);
    ck_assert_int_eq(p.height, 240);
    ck_assert_int_ge(p.vframes, 48);
    ck_assert_near(p.duration, 2.0, 0.2);
}
END_TEST

START_TEST(garbage_fails)
{
    /* a file that opens as raw TS but holds nothing decodable */
    FILE *f = fopen(tpath("garbage.ts"), "wb");
    ck_assert_ptr_nonnull(f);
    unsigned char pkt[188] = {0x47, 0x40, 0x11, 0x10};
    for (int i = 0; i < 200; i++)
        fwrite(pkt, 1, sizeof pkt, f);
    fclose(f);
    struct err err = ERR_INIT;
    struct media_output o = defaults("mp4");
    ck_assert_int_eq(run_job("garbage.ts", "ts", &o, "garbage.mp4", NULL, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_int_ne(access(tpath("garbage.mp4"), F_OK), 0);
}
END_TEST

/* A full disk, played by a file size limit in this forked test: the write error is
 * reported and the partial file removed. */
START_TEST(write_error)
{
    struct rlimit lim = {.rlim_cur = 64 * 1024, .rlim_max = RLIM_INFINITY};
    signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    struct err err = ERR_INIT;
    struct media_output o = defaults("wav"); /* 3 s of 44.1 kHz stereo: 529 KB */
    ck_assert_int_eq(run_job("in.mp4", "mp4", &o, "full.wav", NULL, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_msg(strncmp(err.msg, "cannot write the output: ", 25) == 0, "%s", err.msg);
    ck_assert_int_ne(access(tpath("full.wav"), F_OK), 0);
}
END_TEST

START_TEST(progress_rises)
{
    struct progress_log log = {0};
    struct err err = ERR_INIT;
    struct media_output o = defaults("mp4");
    o.preset = "slow"; /* slow enough for several reports */
    o.width = 640;
    ck_assert_msg(run_job("in.mp4", "mp4", &o, "progress.mp4", &log, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(log.first_message, "Converting to MP4 (h264, aac)");
    ck_assert_int_ge(log.calls, 3);
    ck_assert_near(log.percents[0], 0, 0);
    for (int i = 1; i < log.calls; i++)
        ck_assert_msg(log.percents[i] >= log.percents[i - 1], "%g after %g", log.percents[i],
                      log.percents[i - 1]);
    ck_assert_double_gt(log.percents[log.calls - 1], 50);
    ck_assert_double_le(log.percents[log.calls - 1], 99.9);
}
END_TEST

START_TEST(progress_unknown)
{
    struct progress_log log = {0};
    struct err err = ERR_INIT;
    struct media_output o = defaults("mp4");
    o.preset = "slow";
    o.width = 640;
    forget_duration = true;
    ck_assert_msg(run_job("in.mp4", "mp4", &o, "unknown.mp4", &log, &err) == 0, "%s", err.msg);
    ck_assert_int_ge(log.calls, 2);
    for (int i = 0; i < log.calls; i++)
        ck_assert_double_eq(log.percents[i], -1);
}
END_TEST

/* Cancelled before the first frame, and in the middle (header written, encoders busy). */
START_TEST(cancel_removes_output)
{
    struct progress_log log = {.cancel_at = 1 + _i};
    struct err err = ERR_INIT;
    struct media_output o = defaults("mp4");
    o.preset = "slow";
    o.width = 640;
    ck_assert_int_eq(run_job("in.mp4", "mp4", &o, "cancelled.mp4", &log, &err), -1);
    ck_assert_int_eq(err.code, ERR_CANCELLED);
    ck_assert_int_eq(log.calls, 1 + _i);
    ck_assert_int_ne(access(tpath("cancelled.mp4"), F_OK), 0);
}
END_TEST

START_TEST(no_video_stream)
{
    struct err err = ERR_INIT;
    struct media_output o = defaults("mp4");
    ck_assert_int_eq(run_job("tone.wav", "wav", &o, "novideo.mp4", NULL, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_str_eq(err.msg, "the input has no video stream");
    ck_assert_int_ne(access(tpath("novideo.mp4"), F_OK), 0);
}
END_TEST

/* Top-level atoms of an MP4 in order, as 4-letter codes joined by spaces. */
static void atoms(const char *name, char *out, size_t size)
{
    FILE *f = fopen(tpath(name), "rb");
    ck_assert_ptr_nonnull(f);
    out[0] = '\0';
    unsigned char h[8];
    while (fread(h, 1, 8, f) == 8) {
        uint32_t len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
        size_t n = strlen(out);
        snprintf(out + n, size - n, "%s%.4s", n ? " " : "", (const char *)h + 4);
        if (len < 8 || fseek(f, len - 8, SEEK_CUR) != 0)
            break;
    }
    fclose(f);
}

START_TEST(faststart_moov_first)
{
    char plain[128], fast[128];
    struct media_output o = defaults("mp4");
    convert_ok("tiny.mp4", "mp4", &o, "plain.mp4");
    o.faststart = true;
    convert_ok("tiny.mp4", "mp4", &o, "fast.mp4");
    atoms("plain.mp4", plain, sizeof plain);
    atoms("fast.mp4", fast, sizeof fast);
    ck_assert_msg(strstr(plain, "mdat") < strstr(plain, "moov"), "%s", plain);
    ck_assert_msg(strstr(fast, "moov") < strstr(fast, "mdat"), "%s", fast);
}
END_TEST

START_TEST(metadata_copy_or_strip)
{
    struct probe p;
    struct media_output o = defaults("mkv");
    convert_ok("in.mp4", "mp4", &o, "meta.mkv");
    probe("meta.mkv", &p);
    ck_assert_str_eq(p.title, "TestTitle");
    o.strip_metadata = true;
    convert_ok("in.mp4", "mp4", &o, "stripped.mkv");
    probe("stripped.mkv", &p);
    ck_assert_str_eq(p.title, "");
}
END_TEST

START_TEST(rotation_applied)
{
    struct media_output o = defaults("mp4");
    convert_ok("rotated.mp4", "mp4", &o, "upright.mp4");
    struct probe p;
    probe("upright.mp4", &p);
    ck_assert_int_eq(p.width, 96); /* tiny.mp4 is 128x96 */
    ck_assert_int_eq(p.height, 128);
}
END_TEST

START_TEST(channels_clamped)
{
    struct probe p;
    struct media_output o = defaults("mp3");
    convert_ok("six.wav", "wav", &o, "six.mp3");
    probe("six.mp3", &p);
    ck_assert_int_eq(p.channels, 2); /* lame: mono or stereo */
    ck_assert_int_eq(p.sample_rate, 48000);
    o = defaults("m4a");
    convert_ok("six.wav", "wav", &o, "six.m4a");
    probe("six.m4a", &p);
    ck_assert_int_eq(p.channels, 6); /* aac keeps 5.1 */
}
END_TEST

/* ---- every container with its default codecs --------------------------------------- */

struct container_case {
    const char *format;
    const char *vcodec; /* "" = no video */
    const char *acodec; /* "" = no audio */
};

static const struct container_case container_cases[] = {
    {"mp4", "h264", "aac"},      {"mov", "h264", "aac"},   {"mkv", "h264", "aac"},
    {"webm", "vp9", "opus"},     {"avi", "mpeg4", "mp3"},  {"flv", "h264", "aac"},
    {"ogv", "theora", "vorbis"}, {"ts", "h264", "aac"},    {"mpeg", "mpeg2video", "mp2"},
    {"3gp", "h264", "aac"},      {"wmv", "wmv2", "wmav2"}, {"gif", "gif", ""},
    {"mp3", "", "mp3"},          {"aac", "", "aac"},       {"m4a", "", "aac"},
    {"ogg", "", "vorbis"},       {"opus", "", "opus"},     {"wav", "", "pcm_s16le"},
    {"flac", "", "flac"},        {"wma", "", "wmav2"},     {"aiff", "", "pcm_s16be"},
};

START_TEST(container_defaults)
{
    const struct container_case *c = &container_cases[_i];
    struct media_output o = defaults(c->format);
    char name[32];
    snprintf(name, sizeof name, "table.%s", c->format);
    convert_ok("tiny.mp4", "mp4", &o, name);
    struct probe p;
    probe(name, &p);
    ck_assert_str_eq(p.vcodec, c->vcodec);
    ck_assert_str_eq(p.acodec, c->acodec);
    ck_assert_msg(fabs(p.duration - 1.0) <= 0.15, "%s: duration %g", c->format, p.duration);
}
END_TEST

struct option_case {
    const char *format;
    const char *vcodec_opt, *acodec_opt;
    const char *vcodec, *acodec;
};

static const struct option_case option_cases[] = {
    {"mkv", "vp8", "vorbis", "vp8", "vorbis"},
    {"mp4", "av1", "opus", "av1", "opus"},
    {"mkv", "h264", "flac", "h264", "flac"},
    {"mov", "h264", "pcm", "h264", "pcm_s16le"},
    {"aiff", NULL, "pcm", "", "pcm_s16be"},
    {"webm", "vp9", "copy", NULL, NULL}, /* aac cannot go into WebM */
};

START_TEST(codec_options)
{
    const struct option_case *c = &option_cases[_i];
    struct media_output o = defaults(c->format);
    o.video_codec = c->vcodec_opt;
    o.audio_codec = c->acodec_opt;
    char name[32];
    snprintf(name, sizeof name, "opt%d.%s", _i, c->format);
    struct err err = ERR_INIT;
    int rc = run_job("tiny.mp4", "mp4", &o, name, NULL, &err);
    if (!c->vcodec) {
        ck_assert_int_eq(rc, -1);
        ck_assert_int_eq(err.code, ERR_CONVERT);
        ck_assert_int_ne(access(tpath(name), F_OK), 0);
        return;
    }
    ck_assert_msg(rc == 0, "%s", err.msg);
    struct probe p;
    probe(name, &p);
    ck_assert_str_eq(p.vcodec, c->vcodec);
    ck_assert_str_eq(p.acodec, c->acodec);
}
END_TEST

static Suite *media_transcode_suite(void)
{
    Suite *s = suite_create("media_transcode");
    TCase *tc = tcase_create("brief");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, webm_vp9_opus);
    tcase_add_test(tc, mkv_h265);
    tcase_add_test(tc, avi_mpeg4_mp3);
    tcase_add_test(tc, mp3_from_video);
    tcase_add_test(tc, wav_48k_mono);
    tcase_add_test(tc, flac_audio);
    tcase_add_test(tc, gif_animated);
    tcase_add_test(tc, copy_video);
    tcase_add_test(tc, audio_none);
    tcase_add_test(tc, trim_one_second);
    tcase_add_test(tc, trim_copy);
    tcase_add_loop_test(tc, scale_sizes, 0, sizeof scale_cases / sizeof scale_cases[0]);
    tcase_add_test(tc, ratio_sets_dar);
    tcase_add_test(tc, rate_options);
    tcase_add_test(tc, fps_ten);
    tcase_add_test(tc, gain_louder);
    tcase_add_test(tc, loudnorm_keeps_rate);
    tcase_add_test(tc, truncated_partial);
    tcase_add_test(tc, truncated_mp4_fails);
    tcase_add_test(tc, damaged_keeps_going);
    tcase_add_test(tc, joined_ts);
    tcase_add_test(tc, garbage_fails);
    tcase_add_test(tc, write_error);
    tcase_add_test(tc, progress_rises);
    tcase_add_test(tc, progress_unknown);
    tcase_add_loop_test(tc, cancel_removes_output, 0, 2);
    tcase_add_test(tc, no_video_stream);
    tcase_add_test(tc, faststart_moov_first);
    tcase_add_test(tc, metadata_copy_or_strip);
    tcase_add_test(tc, rotation_applied);
    tcase_add_test(tc, channels_clamped);
    suite_add_tcase(s, tc);

    tc = tcase_create("containers");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, container_defaults, 0,
                        sizeof container_cases / sizeof container_cases[0]);
    tcase_add_loop_test(tc, codec_options, 0, sizeof option_cases / sizeof option_cases[0]);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (system("ffmpeg -version >/dev/null 2>&1") != 0) {
        puts("1..0 # SKIP the ffmpeg program (makes the test clips) is not installed");
        return 0;
    }
    /* TEST_AV_LOG=1 shows libav's warnings (media_open.c forwards them as debug lines) */
    av_log_set_level(getenv("TEST_AV_LOG") ? AV_LOG_WARNING : AV_LOG_ERROR);
    if (getenv("TEST_AV_LOG"))
        log_set_level(LOG_DEBUG);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_media_transcode-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    int failed = 1;
    if (make_inputs() < 0) {
        fprintf(stderr, "cannot make the test clips with ffmpeg\n");
    } else {
        SRunner *sr = srunner_create(media_transcode_suite());
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
    }
    nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
