/* SPDX-License-Identifier: MIT */
/* media_open.c - open a hostile audio/video file for demuxing (security.md SEC-05/06/09):
 * one local file, a demuxer from the declared input format, no nested opens, header limits. */
#include "convertd-config.h"

#include "converters/media.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libavformat/avformat.h>
#include <libavformat/avio.h>
#include <libavutil/avstring.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>

#include "common/log.h"
#include "common/mem.h"
#include "converters/formats.h"

/* Enough for any sane header plus a few seconds of interleaved data; a file that needs more
 * to show its streams is not worth the memory and time (find_stream_info reads this much). */
#define MAX_PROBESIZE   (20 * 1024 * 1024)
#define MAX_ANALYZE_S   20
#define MAX_STREAMS     100
#define FRAMES_PER_PAGE 1000

#define MOV_FAMILY  "mov,mp4,m4a,3gp,3g2,mj2"
#define MKV_FAMILY  "matroska,webm"
#define MPEG_FAMILY "mpeg,mpegvideo"

/* Declared input format → the demuxers that may read it (libav's format_whitelist syntax).
 * Probing picks among all demuxers; anything outside the row is refused, so a playlist or
 * a concat script renamed .mp4 never reaches its demuxer. */
static const struct {
    const char *in_format;
    const char *demuxers;
} families[] = {
    {"mp4", MOV_FAMILY},  {"m4v", MOV_FAMILY},   {"m4a", MOV_FAMILY},  {"m4b", MOV_FAMILY},
    {"mov", MOV_FAMILY},  {"3gp", MOV_FAMILY},   {"3g2", MOV_FAMILY},  {"f4v", MOV_FAMILY},
    {"f4a", MOV_FAMILY},  {"mkv", MKV_FAMILY},   {"webm", MKV_FAMILY}, {"mka", MKV_FAMILY},
    {"avi", "avi"},       {"flv", "flv"},        {"wmv", "asf"},       {"wma", "asf"},
    {"asf", "asf"},       {"mpeg", MPEG_FAMILY}, {"mpg", MPEG_FAMILY}, {"vob", MPEG_FAMILY},
    {"m2v", MPEG_FAMILY}, {"ts", "mpegts"},      {"mts", "mpegts"},    {"m2ts", "mpegts"},
    {"ogg", "ogg"},       {"ogv", "ogg"},        {"opus", "ogg"},      {"oga", "ogg"},
    {"spx", "ogg"},       {"mp3", "mp3"},        {"aac", "aac"},       {"wav", "wav"},
    {"wave", "wav"},      {"flac", "flac"},      {"aiff", "aiff"},     {"aif", "aiff"},
    {"aifc", "aiff"},     {"amr", "amr"},        {"ac3", "ac3"},       {"mxf", "mxf"},
    {"dv", "dv"},         {"caf", "caf"},        {"au", "au"},         {"wv", "wv"},
    {"gif", "gif"},
};

/* Demuxers that open other files or URLs, read patterns or text: never acceptable as the
 * user's input, whatever the table above says (a second line of defence). */
static const char *const refused_demuxers[] = {
    "hls",        "applehttp", "dash",    "webm_dash_manifest",
    "concat",     "ffconcat",  "tty",     "image2",
    "image2pipe", "lavfi",     "subfile", "data",
    "sdp",        "rtp",       "rtsp",    "imf",
    "ffmetadata", "bin",       NULL,
};

static const char *family_of(const char *in_format)
{
    if (!in_format)
        return NULL;
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
        if (strcasecmp(in_format, families[i].in_format) == 0)
            return families[i].demuxers;
    return NULL;
}

/* Every comma-separated name of the demuxer (iformat->name) against the refused list and
 * the image pipes ("png_pipe", ...). */
static bool demuxer_refused(const char *name)
{
    const char *p = name;
    while (*p) {
        size_t n = strcspn(p, ",");
        for (size_t i = 0; refused_demuxers[i]; i++)
            if (strlen(refused_demuxers[i]) == n && strncmp(p, refused_demuxers[i], n) == 0)
                return true;
        if (n >= 5 && strncmp(p + n - 5, "_pipe", 5) == 0)
            return true;
        p += n;
        if (*p == ',')
            p++;
    }
    return false;
}

UNITTEST bool media_demuxer_allowed(const char *name, const char *family);
UNITTEST bool media_demuxer_allowed(const char *name, const char *family)
{
    return name && family && !demuxer_refused(name) && av_match_list(name, family, ',') > 0;
}

/* The main input was opened by us; any further open (HLS segment, concat entry, DASH
 * fragment, mov data reference, image pattern) is somebody else's file. */
static int refuse_nested_open(AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
                              AVDictionary **options)
{
    (void)url; /* the name comes from the hostile file: not logged */
    (void)flags;
    (void)options;
    *pb = NULL;
    log_debug("media: refused a nested open by %s", s->iformat ? s->iformat->name : "libav");
    return AVERROR(EPERM);
}

/* libav logs to stderr by default; keep its warnings and errors as our debug lines. A
 * callback gets every level: av_log_set_level() (ffmpeg.c sets AV_LOG_QUIET) still rules. */
static void forward_libav_log(void *avcl, int level, const char *fmt, va_list vl)
{
    if (level > AV_LOG_WARNING || level > av_log_get_level())
        return;
    char line[512];
    int prefix = 1;
    av_log_format_line2(avcl, level, fmt, vl, line, sizeof line, &prefix);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    if (n > 0)
        log_debug("libav: %s", line);
}

static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void install_log(void)
{
    av_log_set_callback(forward_libav_log);
}

const char *media_strerror(int averr)
{
    static _Thread_local char buf[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(averr, buf, sizeof buf);
    return buf;
}

static double stream_seconds(const AVStream *st)
{
    if (st->duration == AV_NOPTS_VALUE || st->duration <= 0)
        return 0;
    double d = st->duration * av_q2d(st->time_base);
    return isfinite(d) && d > 0 ? d : 0;
}

/* fmt->duration when known, else the longest stream, else 0. */
static double input_seconds(const AVFormatContext *fmt)
{
    if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0)
        return (double)fmt->duration / AV_TIME_BASE;
    double best = 0;
    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        double d = stream_seconds(fmt->streams[i]);
        if (d > best)
            best = d;
    }
    return best;
}

/* Side and pixel limits for every video stream (cover pictures included: the decoder
 * would allocate them just the same). */
static int check_sizes(const AVFormatContext *fmt, const struct conv_limits *limits,
                       struct err *err)
{
    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        const AVCodecParameters *par = fmt->streams[i]->codecpar;
        if (par->codec_type != AVMEDIA_TYPE_VIDEO)
            continue;
        int w = par->width, h = par->height;
        if (limits->max_side > 0 && (w > limits->max_side || h > limits->max_side))
            return err_set(err, ERR_CONVERT,
                           "video is %dx%d pixels, larger than the limit of %d per side", w, h,
                           limits->max_side);
        if (limits->max_pixels > 0 && (int64_t)w * h > limits->max_pixels)
            return err_set(err, ERR_CONVERT,
                           "video is %dx%d pixels, more than the limit of %lld pixels per frame", w,
                           h, (long long)limits->max_pixels);
    }
    return 0;
}

static int pick_video(AVFormatContext *fmt)
{
    int best = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (best >= 0 && !(fmt->streams[best]->disposition & AV_DISPOSITION_ATTACHED_PIC))
        return best;
    /* av_find_best_stream() does not know cover art: take the largest real video. */
    best = -1;
    int64_t best_area = -1;
    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        const AVStream *st = fmt->streams[i];
        if (st->codecpar->codec_type != AVMEDIA_TYPE_VIDEO ||
            (st->disposition & AV_DISPOSITION_ATTACHED_PIC))
            continue;
        int64_t area = (int64_t)st->codecpar->width * st->codecpar->height;
        if (area > best_area) {
            best = (int)i;
            best_area = area;
        }
    }
    return best;
}

/* nb_frames when the container says, else duration × frame rate; 0 when unknown. */
static int64_t estimate_frames(const AVStream *st, double input_duration)
{
    if (st->nb_frames > 0)
        return st->nb_frames;
    AVRational rate = st->avg_frame_rate.num > 0 && st->avg_frame_rate.den > 0 ? st->avg_frame_rate
                                                                               : st->r_frame_rate;
    if (rate.num <= 0 || rate.den <= 0)
        return 0;
    double d = stream_seconds(st);
    if (d <= 0)
        d = input_duration;
    double frames = d * av_q2d(rate);
    if (!isfinite(frames) || frames <= 0)
        return 0;
    return frames >= (double)INT64_MAX ? INT64_MAX : (int64_t)llround(frames);
}

static int check_limits(const struct media_input *in, const struct conv_limits *limits,
                        struct err *err)
{
    if (in->duration > MEDIA_MAX_DURATION_S)
        return err_set(err, ERR_CONVERT, "the input lasts %.0f s, longer than the limit of %.0f s",
                       in->duration, MEDIA_MAX_DURATION_S);
    if (check_sizes(in->fmt, limits, err) < 0)
        return -1;
    if (in->video >= 0 && limits->max_pages > 0) {
        int64_t frames = estimate_frames(in->fmt->streams[in->video], in->duration);
        int64_t max = (int64_t)limits->max_pages * FRAMES_PER_PAGE;
        if (frames > max)
            return err_set(err, ERR_CONVERT,
                           "video has about %lld frames, more than the limit of %lld",
                           (long long)frames, (long long)max);
    }
    return 0;
}

int media_open(const char *path, const char *in_format, const struct conv_limits *limits,
               struct media_input *in, struct err *err)
{
    static const struct conv_limits no_limits = {0};
    AVIOContext *pb = NULL;
    AVFormatContext *fmt = NULL;
    AVDictionary *opts = NULL;
    AVDictionary **stream_opts = NULL;
    unsigned nb_stream_opts = 0;
    char *url = NULL;
    int rc = -1, ret;

    memset(in, 0, sizeof *in);
    in->video = in->audio = -1;
    if (!limits)
        limits = &no_limits;
    pthread_once(&log_once, install_log);

    const char *family = family_of(in_format);
    if (!family) {
        err_set(err, ERR_CONVERT, "unsupported input format %s", in_format ? in_format : "(none)");
        goto out;
    }

    /* Our own AVIOContext, "file:" only: libavformat never sees a name it could take for a
     * URL, and io_open below can refuse everything because the main input is already open. */
    url = xasprintf("file:%s", path);
    av_dict_set(&opts, "protocol_whitelist", "file", 0);
    ret = avio_open2(&pb, url, AVIO_FLAG_READ, NULL, &opts);
    if (ret < 0) {
        err_set(err, ERR_INTERNAL, "cannot open the input: %s", media_strerror(ret));
        goto out;
    }

    /* Probe by content only (no file name, so no extension bonus), then keep the result only
     * when it belongs to the declared family: the same as format_whitelist, with a message
     * that says what the file really is. */
    const AVInputFormat *ifmt = NULL;
    ret = av_probe_input_buffer2(pb, &ifmt, "", NULL, 0, 0);
    if (ret < 0 || !ifmt) {
        err_set(err, ERR_CONVERT, "cannot read the input: %s",
                media_strerror(ret < 0 ? ret : AVERROR_INVALIDDATA));
        goto out;
    }
    if (!media_demuxer_allowed(ifmt->name, family)) {
        err_set(err, ERR_CONVERT, "the input is not a valid %s file (its content looks like %s)",
                format_display_name(in_format), ifmt->name);
        goto out;
    }

    fmt = avformat_alloc_context();
    if (!fmt) {
        err_set(err, ERR_INTERNAL, "out of memory");
        goto out;
    }
    fmt->pb = pb; /* AVFMT_FLAG_CUSTOM_IO: media_close() closes it */
    fmt->io_open = refuse_nested_open;
    fmt->protocol_whitelist = av_strdup("file");
    fmt->format_whitelist = av_strdup(family);
    fmt->probesize = MAX_PROBESIZE;
    fmt->max_analyze_duration = (int64_t)MAX_ANALYZE_S * AV_TIME_BASE;
    fmt->max_streams = MAX_STREAMS;
    if (!fmt->protocol_whitelist || !fmt->format_whitelist) {
        avformat_free_context(fmt);
        fmt = NULL;
        err_set(err, ERR_INTERNAL, "out of memory");
        goto out;
    }
    ret = avformat_open_input(&fmt, path, ifmt, NULL);
    if (ret < 0) { /* fmt was freed; pb is still ours */
        err_set(err, ERR_CONVERT, "cannot read the input: %s", media_strerror(ret));
        goto out;
    }
    if (demuxer_refused(fmt->iformat->name)) {
        err_set(err, ERR_CONVERT, "input format %s is not accepted", fmt->iformat->name);
        goto out;
    }

    /* Sizes known from the header are checked before any decoding; the decoders that
     * avformat_find_stream_info opens get the pixel cap as well, for the streams whose size
     * only a decoded frame tells. */
    if (check_sizes(fmt, limits, err) < 0)
        goto out;
    nb_stream_opts = fmt->nb_streams;
    stream_opts = xcalloc(nb_stream_opts ? nb_stream_opts : 1, sizeof *stream_opts);
    for (unsigned i = 0; i < nb_stream_opts; i++)
        if (limits->max_pixels > 0)
            av_dict_set_int(&stream_opts[i], "max_pixels",
                            limits->max_pixels < INT_MAX ? limits->max_pixels : INT_MAX, 0);
    ret = avformat_find_stream_info(fmt, stream_opts);
    if (ret < 0) {
        err_set(err, ERR_CONVERT, "cannot read the input: %s", media_strerror(ret));
        goto out;
    }

    in->fmt = fmt;
    in->video = pick_video(fmt);
    ret = av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, in->video, NULL, 0);
    in->audio = ret >= 0 ? ret : -1;
    if (in->video < 0 && in->audio < 0) {
        err_set(err, ERR_CONVERT, "the input has no audio or video stream");
        goto out;
    }
    in->duration = input_seconds(fmt);
    if (check_limits(in, limits, err) < 0)
        goto out;

    log_debug("media: %s, %u streams, video %d, audio %d, %.3f s", fmt->iformat->name,
              fmt->nb_streams, in->video, in->audio, in->duration);
    fmt = NULL;
    pb = NULL;
    rc = 0;

out:
    if (rc < 0) {
        in->fmt = NULL;
        in->video = in->audio = -1;
        in->duration = 0;
    }
    for (unsigned i = 0; i < nb_stream_opts; i++)
        av_dict_free(&stream_opts[i]);
    free(stream_opts);
    avformat_close_input(&fmt);
    avio_closep(&pb);
    av_dict_free(&opts);
    free(url);
    return rc;
}

void media_close(struct media_input *in)
{
    if (!in)
        return;
    if (in->fmt) {
        /* Our AVIOContext (custom I/O): avformat_close_input leaves it open. */
        AVIOContext *pb = in->fmt->pb;
        avformat_close_input(&in->fmt);
        avio_closep(&pb);
    }
    in->video = in->audio = -1;
    in->duration = 0;
}
