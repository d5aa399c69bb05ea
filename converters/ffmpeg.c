/* SPDX-License-Identifier: MIT */
/* ffmpeg.c - video and audio through the FFmpeg libraries: the converter table (pairs,
 * options, codec/container checks) and the glue that turns converteroptions into the
 * media_*.c parts (media.h). */
#include "converters/converter.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <jansson.h>
#include <libavutil/log.h>

#include "common/jsonx.h"
#include "common/mem.h"
#include "converters/formats.h"
#include "converters/media.h"

/* ---- facts ------------------------------------------------------------------------- */

#define MAX_VIDEO_SIDE   16384
#define MAX_THUMBNAILS   100
#define MAX_EXTRACT_FPS  60.0
#define THUMB_TIME_SHARE 0.10 /* default thumbnail_time: 10 % of the duration */

/* Every input is offered to every output of its kind; GIF input only to video outputs
 * (GIF → GIF and GIF → PNG/JPG stay with the image converter). */
/* clang-format off */
#define TO_VIDEO(in)                                                                        \
    {in, "mp4", "video"}, {in, "webm", "video"}, {in, "mkv", "video"}, {in, "mov", "video"}, \
    {in, "avi", "video"}, {in, "flv", "video"}, {in, "ogv", "video"}, {in, "ts", "video"},   \
    {in, "mpeg", "video"}, {in, "3gp", "video"}
#define TO_GIF(in) {in, "gif", "video"}
#define TO_AUDIO(in)                                                                        \
    {in, "mp3", "audio"}, {in, "aac", "audio"}, {in, "m4a", "audio"}, {in, "ogg", "audio"},  \
    {in, "opus", "audio"}, {in, "wav", "audio"}, {in, "flac", "audio"}, {in, "wma", "audio"}, \
    {in, "aiff", "audio"}
#define TO_IMAGE(in) {in, "jpg", "image"}, {in, "png", "image"}
/* clang-format on */
#define FROM_VIDEO(in) TO_VIDEO(in), TO_GIF(in), TO_AUDIO(in), TO_IMAGE(in)

static const struct conv_pair pairs[] = {
    FROM_VIDEO("mp4"),  FROM_VIDEO("mov"), FROM_VIDEO("mkv"), FROM_VIDEO("webm"),
    FROM_VIDEO("avi"),  FROM_VIDEO("flv"), FROM_VIDEO("wmv"), FROM_VIDEO("asf"),
    FROM_VIDEO("mpeg"), FROM_VIDEO("ts"),  FROM_VIDEO("mts"), FROM_VIDEO("m2ts"),
    FROM_VIDEO("vob"),  FROM_VIDEO("3gp"), FROM_VIDEO("3g2"), FROM_VIDEO("ogv"),
    FROM_VIDEO("f4v"),  FROM_VIDEO("mxf"), FROM_VIDEO("dv"),  TO_VIDEO("gif"),
    TO_AUDIO("mp3"),    TO_AUDIO("aac"),   TO_AUDIO("m4a"),   TO_AUDIO("ogg"),
    TO_AUDIO("opus"),   TO_AUDIO("wav"),   TO_AUDIO("flac"),  TO_AUDIO("wma"),
    TO_AUDIO("aiff"),   TO_AUDIO("amr"),   TO_AUDIO("ac3"),   TO_AUDIO("mka"),
    TO_AUDIO("caf"),    TO_AUDIO("au"),    TO_AUDIO("wv"),    {0},
};

static bool is_audio_format(const char *f)
{
    static const char *const audio[] = {"mp3", "aac",  "m4a", "ogg",  "opus",
                                        "wav", "flac", "wma", "aiff", NULL};
    for (const char *const *a = audio; *a; a++)
        if (strcmp(*a, f) == 0)
            return true;
    return false;
}

static bool is_image_format(const char *f)
{
    return strcmp(f, "jpg") == 0 || strcmp(f, "png") == 0;
}

/* ---- option values ------------------------------------------------------------------ */

/* "WxH", "Wx", "xH" (or "W:H", "W"), each side 1..MAX_VIDEO_SIDE. */
static bool parse_size(const char *s, int *w, int *h)
{
    long v[2] = {0, 0};
    int part = 0;
    bool digits = false;

    *w = *h = 0;
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            v[part] = v[part] * 10 + (*p - '0');
            if (v[part] > MAX_VIDEO_SIDE)
                return false;
            digits = true;
        } else if ((*p == 'x' || *p == 'X' || *p == ':') && part == 0) {
            part = 1;
        } else {
            return false;
        }
    }
    if (!digits || (part == 0 && v[0] == 0))
        return false;
    /* A side that was written must not be 0 ("0x0", "100x0"). */
    if (strchr("xX:", s[0]) == NULL && v[0] == 0)
        return false;
    if (part == 1 && s[strlen(s) - 1] != 'x' && s[strlen(s) - 1] != 'X' &&
        s[strlen(s) - 1] != ':' && v[1] == 0)
        return false;
    *w = (int)v[0];
    *h = (int)v[1];
    return true;
}

static bool size_valid(const char *s)
{
    int w, h;
    return parse_size(s, &w, &h);
}

/* "16:9" (or "16/9", "1.777"). */
static bool parse_ratio(const char *s, int *num, int *den)
{
    char *end;
    double a, b = 1;

    if (!s || !*s)
        return false;
    a = strtod(s, &end);
    if (end == s)
        return false;
    if (*end == ':' || *end == '/') {
        const char *q = end + 1;
        b = strtod(q, &end);
        if (end == q)
            return false;
    }
    if (*end != '\0' || !(a > 0) || !(b > 0) || a > 1000 || b > 1000 || a / b > 100 || a / b < 0.01)
        return false;
    if (a == floor(a) && b == floor(b)) {
        *num = (int)a;
        *den = (int)b;
    } else {
        *num = (int)lround(a / b * 10000);
        *den = 10000;
    }
    return true;
}

static bool ratio_valid(const char *s)
{
    int n, d;
    return parse_ratio(s, &n, &d);
}

/* Seconds ("12", "12.5") or [HH:]MM:SS[.ms]. */
static bool parse_time(const char *s, double *out)
{
    double parts[3] = {0, 0, 0};
    int n = 0;
    const char *p = s;

    if (!s || !*s)
        return false;
    for (;;) {
        char *end;
        if (*p < '0' || *p > '9')
            return false;
        parts[n] = strtod(p, &end);
        n++;
        if (*end == '\0')
            break;
        if (*end != ':' || n == 3)
            return false;
        /* Only the last part may have a fraction. */
        if (memchr(p, '.', (size_t)(end - p)) != NULL)
            return false;
        p = end + 1;
    }
    double t = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && parts[i] >= 60)
            return false;
        t = t * 60 + parts[i];
    }
    if (!isfinite(t) || t > MEDIA_MAX_DURATION_S)
        return false;
    *out = t;
    return true;
}

static bool time_valid(const char *s)
{
    double t;
    return parse_time(s, &t);
}

/* "+20db", "-3.5dB", "6 dB" or "loudnorm". */
static bool parse_normalize(const char *s, double *gain, bool *loudnorm)
{
    char *end;

    *gain = 0;
    *loudnorm = false;
    if (!s)
        return false;
    if (strcasecmp(s, "loudnorm") == 0 || strcasecmp(s, "ebur128") == 0) {
        *loudnorm = true;
        return true;
    }
    if (!(s[0] == '+' || s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
        return false;
    *gain = strtod(s, &end);
    while (*end == ' ')
        end++;
    if (end == s || strcasecmp(end, "db") != 0 || !isfinite(*gain) || fabs(*gain) > 60)
        return false;
    return true;
}

static bool normalize_valid(const char *s)
{
    double g;
    bool l;
    return parse_normalize(s, &g, &l);
}

static const char *const video_codecs[] = {"h264", "h265", "hevc", "vp8", "vp9",
                                           "av1",  "copy", "none", NULL};
static const char *const audio_codecs[] = {"mp3", "aac",  "opus", "vorbis", "flac",
                                           "pcm", "copy", "none", NULL};
static const char *const presets[] = {"ultrafast", "superfast", "veryfast", "faster",
                                      "fast",      "medium",    "slow",     "slower",
                                      "veryslow",  "placebo",   NULL};
static const char *const thumb_formats[] = {"jpg", "jpeg", "png", NULL};

static const struct conv_option options[] = {
    {.name = "video_codec", .type = CONV_OPT_ENUM, .choices = video_codecs},
    {.name = "video_bitrate", .type = CONV_OPT_INT, .min = 1, .max = 500000},
    {.name = "video_crf", .type = CONV_OPT_INT, .min = 0, .max = 51},
    {.name = "video_resolution", .type = CONV_OPT_STRING, .valid = size_valid},
    {.name = "video_ratio", .type = CONV_OPT_STRING, .valid = ratio_valid},
    {.name = "video_fps", .type = CONV_OPT_NUMBER, .min = 0.1, .max = 240},
    {.name = "video_preset", .type = CONV_OPT_ENUM, .def = "\"medium\"", .choices = presets},
    {.name = "audio_codec", .type = CONV_OPT_ENUM, .choices = audio_codecs},
    {.name = "audio_bitrate", .type = CONV_OPT_INT, .min = 8, .max = 1536},
    {.name = "audio_channels", .type = CONV_OPT_INT, .min = 1, .max = 8},
    {.name = "audio_frequency", .type = CONV_OPT_INT, .min = 8000, .max = 192000},
    {.name = "audio_normalize", .type = CONV_OPT_STRING, .valid = normalize_valid},
    {.name = "trim_from", .type = CONV_OPT_STRING, .valid = time_valid},
    {.name = "trim_to", .type = CONV_OPT_STRING, .valid = time_valid},
    {.name = "faststart", .type = CONV_OPT_BOOL, .def = "false"},
    {.name = "strip_metatags", .type = CONV_OPT_BOOL, .def = "false"},
    {.name = "thumbnail_count", .type = CONV_OPT_INT, .min = 0, .max = MAX_THUMBNAILS},
    {.name = "thumbnail_size", .type = CONV_OPT_STRING, .valid = size_valid},
    {.name = "thumbnail_format", .type = CONV_OPT_ENUM, .def = "\"jpg\"", .choices = thumb_formats},
    {.name = "thumbnail_time", .type = CONV_OPT_STRING, .valid = time_valid},
    {0},
};

/* Effective option accessors (options_apply filled in every key, null when not given). */
static const char *opt_str(const json_t *o, const char *name)
{
    return jsonx_str(jsonx_get(o, name));
}

static long opt_int(const json_t *o, const char *name, long def)
{
    json_t *v = jsonx_get(o, name);
    return json_is_integer(v) ? (long)json_integer_value(v) : def;
}

static double opt_time(const json_t *o, const char *name, double def)
{
    double t;
    return parse_time(opt_str(o, name), &t) ? t : def;
}

/* ---- codecs a container can hold ---------------------------------------------------- */

struct container_codecs {
    const char *format;
    const char *video; /* space-separated video_codec values allowed; NULL: no video */
    const char *audio;
};

/* "copy" and "none" are always allowed where the container has that kind of stream; an
 * audio-only container ignores video_codec. */
static const struct container_codecs containers[] = {
    {"mp4", "h264 h265 hevc vp9 av1", "aac mp3 opus"},
    {"mov", "h264 h265 hevc", "aac mp3 pcm"},
    {"3gp", "h264", "aac"},
    {"mkv", "h264 h265 hevc vp8 vp9 av1", "aac mp3 opus vorbis flac pcm"},
    {"webm", "vp8 vp9 av1", "opus vorbis"},
    {"avi", "h264", "mp3 aac pcm"},
    {"flv", "h264", "aac mp3"},
    {"ogv", "", "vorbis opus flac"},
    {"ts", "h264 h265 hevc", "aac mp3"},
    {"mpeg", "", "mp3"},
    {"gif", "", NULL},
    {"mp3", NULL, "mp3"},
    {"aac", NULL, "aac"},
    {"m4a", NULL, "aac mp3"},
    {"ogg", NULL, "vorbis opus flac"},
    {"opus", NULL, "opus"},
    {"wav", NULL, "pcm"},
    {"flac", NULL, "flac"},
    {"wma", NULL, ""},
    {"aiff", NULL, "pcm"},
    {NULL, NULL, NULL},
};

static bool word_in(const char *word, const char *list)
{
    size_t n = strlen(word);
    for (const char *p = list; p && *p;) {
        const char *sp = strchr(p, ' ');
        size_t len = sp ? (size_t)(sp - p) : strlen(p);
        if (len == n && strncmp(p, word, n) == 0)
            return true;
        p = sp ? sp + 1 : p + len;
    }
    return false;
}

static const struct container_codecs *container_of(const char *format)
{
    for (const struct container_codecs *c = containers; c->format; c++)
        if (strcmp(c->format, format) == 0)
            return c;
    return NULL;
}

static int ffmpeg_check(const char *in, const char *out, enum conv_mode mode, const json_t *opts,
                        struct err *err)
{
    const char *vc = opt_str(opts, "video_codec");
    const char *ac = opt_str(opts, "audio_codec");
    double from = opt_time(opts, "trim_from", 0), to = opt_time(opts, "trim_to", 0);

    if (to > 0 && to <= from)
        return err_set(err, ERR_BADPARAM,
                       "invalid value for converteroptions[trim_to]: must be after trim_from");
    if (mode == CONV_MODE_EXTRACT && (!out || !is_image_format(out)))
        return err_set(err, ERR_BADPARAM,
                       "invalid value for outputformat: mode extract gives jpg or png frames");
    if (mode != CONV_MODE_CONVERT || !out || is_image_format(out))
        return 0;
    const struct container_codecs *c = container_of(out);
    if (!c)
        return 0;
    if (vc && c->video && strcmp(vc, "copy") != 0 && strcmp(vc, "none") != 0 &&
        !word_in(vc, c->video))
        return err_set(err, ERR_BADPARAM,
                       "invalid value for converteroptions[video_codec]: %s cannot be stored in "
                       "%s",
                       vc, format_display_name(out));
    if (vc && strcmp(out, "gif") == 0)
        return err_set(err, ERR_BADPARAM,
                       "invalid value for converteroptions[video_codec]: GIF has its own codec");
    if (ac && c->audio && strcmp(ac, "copy") != 0 && strcmp(ac, "none") != 0 &&
        !word_in(ac, c->audio))
        return err_set(err, ERR_BADPARAM,
                       "invalid value for converteroptions[audio_codec]: %s cannot be stored in "
                       "%s",
                       ac, format_display_name(out));
    if (ac && strcmp(ac, "none") == 0 && !c->video)
        return err_set(err, ERR_BADPARAM,
                       "invalid value for converteroptions[audio_codec]: %s holds only audio",
                       format_display_name(out));
    if (vc && ac && strcmp(vc, "none") == 0 && strcmp(ac, "none") == 0)
        return err_set(err, ERR_BADPARAM,
                       "invalid value for converteroptions[video_codec]: with audio_codec none "
                       "nothing is left to convert");
    (void)in;
    return 0;
}

/* A video encode uses every core; audio, frames and info take a worker's share. */
static int ffmpeg_cores(const char *in, const char *out, enum conv_mode mode, int cores)
{
    (void)in;
    if (mode == CONV_MODE_CONVERT && out && !is_audio_format(out) && !is_image_format(out))
        return cores;
    return 0;
}

/* ---- conversion --------------------------------------------------------------------- */

static int ffmpeg_init(struct err *err)
{
    (void)err;
    /* Messages go into err->msg; libav's own lines would only clutter the worker's stderr.
     * SVT-AV1 prints its banner itself unless told to keep to errors. */
    av_log_set_level(AV_LOG_QUIET);
    setenv("SVT_LOG", "1", 0);
    return 0;
}

/* Times for n thumbnails: the first at `first`, the rest spread evenly up to the end. */
static double *thumbnail_times(int n, double first, double duration)
{
    double *t = xcalloc((size_t)n, sizeof *t);
    double span = duration > first ? duration - first : (double)n;
    for (int i = 0; i < n; i++)
        t[i] = first + span * i / n;
    return t;
}

static void frames_spec(const json_t *o, const struct media_input *in, int count,
                        const char *format, struct media_frames *spec)
{
    const char *size = opt_str(o, "thumbnail_size");
    double dflt = in->duration > 0 ? in->duration * THUMB_TIME_SHARE : 0;

    memset(spec, 0, sizeof *spec);
    if (!size || !parse_size(size, &spec->width, &spec->height))
        parse_size(opt_str(o, "video_resolution"), &spec->width, &spec->height);
    spec->format = format;
    spec->count = (size_t)count;
    spec->times = thumbnail_times(count, opt_time(o, "thumbnail_time", dflt), in->duration);
    spec->names = count == 1 ? MEDIA_NAME_OUT : MEDIA_NAME_POSITION;
}

static const char *thumb_format(const json_t *o)
{
    const char *f = opt_str(o, "thumbnail_format");
    return f && strcmp(f, "png") == 0 ? "png" : "jpg";
}

/* Thumbnails beside another result (info, or a converted video): always "N.EXT". */
static int write_thumbnails(const struct conv_job *job, const struct media_input *in,
                            struct err *err)
{
    int count = (int)opt_int(job->options, "thumbnail_count", 0);
    struct media_frames spec;
    int rc;

    if (count <= 0 || in->video < 0)
        return 0;
    frames_spec(job->options, in, count, thumb_format(job->options), &spec);
    spec.names = MEDIA_NAME_POSITION;
    rc = media_frames(in, &spec, job->output_dir, job, err);
    free((void *)spec.times);
    return rc;
}

/* Mode extract: frames at video_fps (default 1 a second) between trim_from and trim_to,
 * named by their frame number, at most limits->max_pages of them. */
static int extract_frames(const struct conv_job *job, const struct media_input *in, struct err *err)
{
    json_t *fpsv = jsonx_get(job->options, "video_fps");
    double fps = json_is_number(fpsv) ? json_number_value(fpsv) : 1.0;
    double from = opt_time(job->options, "trim_from", 0);
    double to = opt_time(job->options, "trim_to", 0);
    int max = job->limits && job->limits->max_pages > 0 ? job->limits->max_pages : 1000;
    struct media_frames spec;
    size_t n = 0;
    int rc;

    if (fps > MAX_EXTRACT_FPS)
        fps = MAX_EXTRACT_FPS;
    if (in->duration > 0 && (to <= 0 || to > in->duration))
        to = in->duration;
    if (to <= from)
        to = from + 1 / fps; /* unknown duration: at least the first frame */
    memset(&spec, 0, sizeof spec);
    double *times = xcalloc((size_t)max, sizeof *times);
    for (double t = from; t < to && n < (size_t)max; t = from + (double)n / fps)
        times[n++] = t;
    parse_size(opt_str(job->options, "thumbnail_size"), &spec.width, &spec.height);
    spec.times = times;
    spec.count = n;
    spec.format = job->out_format;
    spec.names = MEDIA_NAME_FRAME;
    rc = media_frames(in, &spec, job->output_dir, job, err);
    free(times);
    return rc;
}

static const char *codec_value(const json_t *o, const char *name)
{
    const char *v = opt_str(o, name);
    if (v && strcmp(v, "hevc") == 0)
        return "h265";
    return v;
}

static void output_spec(const struct conv_job *job, struct media_output *o)
{
    const json_t *opts = job->options;
    json_t *fps = jsonx_get(opts, "video_fps");

    memset(o, 0, sizeof *o);
    o->format = job->out_format;
    o->video_codec = codec_value(opts, "video_codec");
    o->video_bitrate = (int)opt_int(opts, "video_bitrate", 0);
    o->video_crf = (int)opt_int(opts, "video_crf", -1);
    parse_size(opt_str(opts, "video_resolution"), &o->width, &o->height);
    parse_ratio(opt_str(opts, "video_ratio"), &o->ratio_num, &o->ratio_den);
    o->fps = json_is_number(fps) ? json_number_value(fps) : 0;
    /* The table's default, medium, is x264's and x265's own. */
    o->preset = jsonx_str(jsonx_get(opts, "video_preset"));
    o->audio_codec = opt_str(opts, "audio_codec");
    o->audio_bitrate = (int)opt_int(opts, "audio_bitrate", 0);
    o->audio_channels = (int)opt_int(opts, "audio_channels", 0);
    o->audio_frequency = (int)opt_int(opts, "audio_frequency", 0);
    parse_normalize(opt_str(opts, "audio_normalize"), &o->gain_db, &o->loudnorm);
    o->trim_from = opt_time(opts, "trim_from", 0);
    o->trim_to = opt_time(opts, "trim_to", 0);
    o->faststart = json_is_true(jsonx_get(opts, "faststart"));
    o->strip_metadata = json_is_true(jsonx_get(opts, "strip_metatags"));
    o->threads = job->threads > 0 ? job->threads : 1;
}

static int ffmpeg_convert(const struct conv_job *job, struct conv_result *res, struct err *err)
{
    struct media_input in = {0};
    struct stat st;
    char *path = NULL;
    int rc = -1;

    if (media_open(job->inputs[0], job->in_format, job->limits, &in, err) < 0)
        goto out;
    res->duration = in.duration;
    /* The first progress call carries the duration to the status right away. */
    if (job->progress && job->progress(job->progress_opaque, 0, "Reading the input"))
        goto cancelled;

    if (job->mode == CONV_MODE_INFO) {
        res->info = media_info(&in, stat(job->inputs[0], &st) == 0 ? st.st_size : 0);
        rc = write_thumbnails(job, &in, err);
        goto out;
    }
    if (job->mode == CONV_MODE_EXTRACT) {
        rc = extract_frames(job, &in, err);
        goto out;
    }
    if (is_image_format(job->out_format)) {
        long count = opt_int(job->options, "thumbnail_count", 0);
        struct media_frames spec;
        frames_spec(job->options, &in, count > 0 ? (int)count : 1, job->out_format, &spec);
        rc = media_frames(&in, &spec, job->output_dir, job, err);
        free((void *)spec.times);
        goto out;
    }

    struct media_output o;
    bool thumbs = opt_int(job->options, "thumbnail_count", 0) > 0 && in.video >= 0;
    output_spec(job, &o);
    path = xasprintf("%s/%s.%s", job->output_dir, thumbs ? "main" : "out", job->out_format);
    if (media_transcode(&in, &o, path, job, err) < 0)
        goto out;
    if (thumbs) {
        /* The transcode read the input to its end: thumbnails start from a fresh open. */
        media_close(&in);
        if (media_open(job->inputs[0], job->in_format, job->limits, &in, err) < 0)
            goto out;
    }
    rc = write_thumbnails(job, &in, err);
    goto out;
cancelled:
    err_set(err, ERR_CANCELLED, "cancelled");
out:
    media_close(&in);
    free(path);
    return rc;
}

const struct converter converter_ffmpeg = {
    .name = "ffmpeg",
    .modes = CONV_MODE_CONVERT | CONV_MODE_INFO | CONV_MODE_EXTRACT,
    .priority = 10,
    .pairs = pairs,
    .options = options,
    .note = "FFmpeg libraries: video, audio, media info and thumbnails",
    .init = ffmpeg_init,
    .check = ffmpeg_check,
    .cores = ffmpeg_cores,
    .convert = ffmpeg_convert,
};
