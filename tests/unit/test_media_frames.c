/* SPDX-License-Identifier: MIT */
/* test_media_frames.c - still frames from videos made here with the ffmpeg program; the
 * JPEG/PNG outputs are decoded again with libavcodec and checked for size, colour and type. */
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

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>

#include "common/err.h"
#include "converters/media.h"

extern char **environ;

static char tmpdir[64];
static char outdir[128]; /* output folder of the last run() */

/* ---- inputs, made once before the tests ------------------------------------------- */

/* 160x120 at 25 fps: red for 3 s, then blue for 3 s (150 frames), keyframes every second and
 * B-frames, so a time is found by seeking and then decoding in presentation order. */
#define COLOURS    "colours.mp4"
#define ANAMORPHIC "anamorphic.mp4" /* 160x120 with 4:3 pixels: 16:9 on screen */
#define ALPHA      "alpha.mov"      /* 64x48 RGBA PNG frames, half transparent red */
#define AUDIO      "audio.wav"
#define BROKEN     "broken.mp4" /* COLOURS with its picture data overwritten */
/* COLOURS in MPEG-TS, whose seeks land past the keyframe asked for */
#define COLOURS_TS "colours.ts"

/* Run a program, its stdout to /dev/null; its exit status or -1. */
static int spawn(const char *const argv[])
{
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int status;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -1;
    if (waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *tpath(const char *name)
{
    static char buf[8][256];
    static int n;
    char *p = buf[n++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
    return p;
}

static char *opath(const char *name)
{
    static char buf[8][256];
    static int n;
    char *p = buf[n++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", outdir, name);
    return p;
}

/* COLOURS with every byte of its mdat payload replaced: the header still says H.264 160x120,
 * no packet decodes. */
static int make_broken(void)
{
    FILE *f = fopen(tpath(COLOURS), "rb");
    static unsigned char d[1 << 16];
    size_t n = f ? fread(d, 1, sizeof d, f) : 0;
    if (f)
        fclose(f);
    for (size_t i = 4; i + 4 <= n; i++) {
        if (memcmp(d + i, "mdat", 4) != 0)
            continue;
        size_t size = (size_t)d[i - 4] << 24 | d[i - 3] << 16 | d[i - 2] << 8 | d[i - 1];
        for (size_t k = i + 4; k < i - 4 + size && k < n; k++)
            d[k] = 0x5a;
        f = fopen(tpath(BROKEN), "wb");
        if (!f || fwrite(d, 1, n, f) != n)
            return -1;
        return fclose(f);
    }
    return -1;
}

/* `ffmpeg ARGS OUT` in tmpdir; ARGS split at spaces (none of ours has one inside). */
static int ffmpeg(const char *args, const char *out)
{
    char buf[512];
    const char *argv[40] = {"ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y"};
    int n = 6;
    snprintf(buf, sizeof buf, "%s", args);
    for (char *w = buf; w && n < 38;) {
        argv[n++] = w;
        w = strchr(w, ' ');
        if (w)
            *w++ = '\0';
    }
    argv[n++] = tpath(out);
    argv[n] = NULL;
    return spawn(argv);
}

static int make_inputs(void)
{
    if (ffmpeg("-f lavfi -i color=c=red:s=160x120:r=25:d=3 -f lavfi -i "
               "color=c=blue:s=160x120:r=25:d=3 -filter_complex "
               "[0][1]concat=n=2:v=1:a=0,format=yuv420p -c:v libx264 -preset superfast -g 25",
               COLOURS) != 0 ||
        ffmpeg("-f lavfi -i testsrc=size=160x120:rate=25:duration=0.4 -vf "
               "setsar=4/3,format=yuv420p -c:v libx264 -preset ultrafast",
               ANAMORPHIC) != 0 ||
        ffmpeg("-f lavfi -i color=c=red@0.5:s=64x48:r=5:d=0.4,format=rgba -c:v png", ALPHA) != 0 ||
        ffmpeg("-f lavfi -i sine=d=0.5 -c:a pcm_s16le", AUDIO) != 0)
        return -1;
    char args[256];
    snprintf(args, sizeof args, "-i %s -c copy", tpath(COLOURS));
    if (ffmpeg(args, COLOURS_TS) != 0)
        return -1;
    return make_broken();
}

/* ---- running media_frames() ------------------------------------------------------- */

static struct {
    int calls;
    int cancel_at; /* return true on this call (1-based); 0 = never */
    double percent[16];
    char last[64];
} rec;

static bool on_progress(void *opaque, double percent, const char *message)
{
    (void)opaque;
    if (rec.calls < 16)
        rec.percent[rec.calls] = percent;
    rec.calls++;
    snprintf(rec.last, sizeof rec.last, "%s", message);
    return rec.cancel_at > 0 && rec.calls >= rec.cancel_at;
}

struct run {
    const char *input;
    const char *in_format;
    const double *times;
    size_t count;
    int width, height;
    const char *format;
    enum media_frame_names names;
};

/* media_open + media_frames into a new folder `outdir`; returns media_frames()'s result. */
static int run(const struct run *r, struct err *err)
{
    static const struct conv_limits limits = {
        .max_pixels = 100000000, .max_side = 16384, .max_pages = 1000};
    struct media_input in;
    struct err open_err = ERR_INIT;

    snprintf(outdir, sizeof outdir, "%s/out-XXXXXX", tmpdir);
    ck_assert_ptr_nonnull(mkdtemp(outdir));
    memset(&rec.percent, 0, sizeof rec.percent);
    rec.calls = 0;
    rec.last[0] = '\0';

    ck_assert_msg(media_open(tpath(r->input), r->in_format, &limits, &in, &open_err) == 0,
                  "media_open %s: %s", r->input, open_err.msg);
    struct media_frames spec = {
        .times = r->times,
        .count = r->count,
        .width = r->width,
        .height = r->height,
        .format = r->format ? r->format : "jpg",
        .names = r->names,
    };
    struct conv_job job = {
        .mode = CONV_MODE_CONVERT,
        .output_dir = outdir,
        .limits = &limits,
        .progress = on_progress,
        .threads = 2,
    };
    int rc = media_frames(&in, &spec, outdir, &job, err);
    media_close(&in);
    return rc;
}

static int count_files(void)
{
    DIR *d = opendir(outdir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static bool exists(const char *name)
{
    return access(opath(name), F_OK) == 0;
}

/* ---- reading the outputs back ----------------------------------------------------- */

enum kind { KIND_OTHER, KIND_JPEG, KIND_PNG };
enum colour { OTHER, RED, BLUE };

struct image {
    enum kind kind;
    int png_colour_type; /* IHDR colour type: 2 RGB, 6 RGBA */
    int w, h;
    int r, g, b, a; /* the centre pixel */
};

static struct image load(const char *name)
{
    struct image im = {0};
    const char *path = opath(name);
    unsigned char head[32] = {0};
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s missing", name);
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    if (n >= 3 && memcmp(head, "\xff\xd8\xff", 3) == 0)
        im.kind = KIND_JPEG;
    if (n >= 26 && memcmp(head, "\x89PNG\r\n\x1a\n", 8) == 0 && memcmp(head + 12, "IHDR", 4) == 0) {
        im.kind = KIND_PNG;
        im.png_colour_type = head[25];
    }

    AVFormatContext *fmt = NULL;
    ck_assert_int_eq(avformat_open_input(&fmt, path, NULL, NULL), 0);
    ck_assert_int_ge(avformat_find_stream_info(fmt, NULL), 0);
    const AVCodec *codec = avcodec_find_decoder(fmt->streams[0]->codecpar->codec_id);
    ck_assert_ptr_nonnull(codec);
    AVCodecContext *dec = avcodec_alloc_context3(codec);
    ck_assert_int_ge(avcodec_parameters_to_context(dec, fmt->streams[0]->codecpar), 0);
    ck_assert_int_eq(avcodec_open2(dec, codec, NULL), 0);
    AVPacket *pkt = av_packet_alloc();
    AVFrame *fr = av_frame_alloc();
    ck_assert_int_eq(av_read_frame(fmt, pkt), 0);
    ck_assert_int_eq(avcodec_send_packet(dec, pkt), 0);
    ck_assert_int_eq(avcodec_receive_frame(dec, fr), 0);
    im.w = fr->width;
    im.h = fr->height;

    struct SwsContext *sws =
        sws_getContext(fr->width, fr->height, fr->format, fr->width, fr->height, AV_PIX_FMT_RGBA,
                       SWS_POINT, NULL, NULL, NULL);
    ck_assert_ptr_nonnull(sws);
    /* av_frame_get_buffer pads the lines: swscale may write past an exact width */
    AVFrame *rgba = av_frame_alloc();
    rgba->format = AV_PIX_FMT_RGBA;
    rgba->width = fr->width;
    rgba->height = fr->height;
    ck_assert_int_eq(av_frame_get_buffer(rgba, 0), 0);
    sws_scale(sws, (const uint8_t *const *)fr->data, fr->linesize, 0, fr->height, rgba->data,
              rgba->linesize);
    const uint8_t *p =
        rgba->data[0] + (size_t)(fr->height / 2) * rgba->linesize[0] + (size_t)(fr->width / 2) * 4;
    im.r = p[0];
    im.g = p[1];
    im.b = p[2];
    im.a = p[3];

    av_frame_free(&rgba);
    sws_freeContext(sws);
    av_frame_free(&fr);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    return im;
}

static enum colour colour_of(const struct image *im)
{
    if (im->r > 200 && im->g < 60 && im->b < 60)
        return RED;
    if (im->b > 200 && im->r < 60 && im->g < 60)
        return BLUE;
    return OTHER;
}

static void assert_colour(const char *name, enum colour want)
{
    struct image im = load(name);
    ck_assert_msg(colour_of(&im) == want, "%s: rgb %d,%d,%d, wanted %s", name, im.r, im.g, im.b,
                  want == RED ? "red" : "blue");
}

/* ---- tests ------------------------------------------------------------------------- */

/* spec: the first frame at or after the time; the last one when the time is past the end. */
static const struct {
    double t;
    enum colour want;
} times[] = {
    {0.0, RED}, {0.5, RED}, {2.96, RED}, {2.97, BLUE}, {3.0, BLUE}, {4.5, BLUE}, {100, BLUE},
};

START_TEST(test_time_picks_frame)
{
    struct err err = ERR_INIT;
    struct run r = {.input = COLOURS,
                    .in_format = "mp4",
                    .times = &times[_i].t,
                    .count = 1,
                    .names = MEDIA_NAME_OUT};
    ck_assert_msg(run(&r, &err) == 0, "t=%g: %s", times[_i].t, err.msg);
    ck_assert_int_eq(count_files(), 1);
    struct image im = load("out.jpg");
    ck_assert_int_eq(im.kind, KIND_JPEG);
    ck_assert_int_eq(im.w, 160);
    ck_assert_int_eq(im.h, 120);
    ck_assert_msg(colour_of(&im) == times[_i].want, "t=%g: rgb %d,%d,%d", times[_i].t, im.r, im.g,
                  im.b);
    ck_assert_int_eq(rec.calls, 1);
    ck_assert_double_eq(rec.percent[0], 100.0);
    ck_assert_str_eq(rec.last, "Extracting frame 1 of 1");
}
END_TEST

/* Close times are decoded through, far ones seek; both must land on the same frames. */
START_TEST(test_positions)
{
    static const double t[] = {1.5, 2.96, 2.97, 5.0, 5.0};
    static const enum colour want[] = {RED, RED, BLUE, BLUE, BLUE};
    struct err err = ERR_INIT;
    struct run r = {
        .input = COLOURS, .in_format = "mp4", .times = t, .count = 5, .names = MEDIA_NAME_POSITION};
    ck_assert_msg(run(&r, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(count_files(), 5);
    for (int i = 0; i < 5; i++) {
        char name[16];
        snprintf(name, sizeof name, "%d.jpg", i + 1);
        assert_colour(name, want[i]);
    }
    ck_assert_int_eq(rec.calls, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_double_eq_tol(rec.percent[i], (i + 1) * 20.0, 1e-9);
    ck_assert_str_eq(rec.last, "Extracting frame 5 of 5");
}
END_TEST

/* Thumbnails: count 3 evenly spaced over the 6 s. */
START_TEST(test_evenly_spaced)
{
    static const double t[] = {1.0, 3.0, 5.0};
    struct err err = ERR_INIT;
    struct run r = {.input = COLOURS,
                    .in_format = "mp4",
                    .times = t,
                    .count = 3,
                    .width = 600,
                    .height = 315,
                    .names = MEDIA_NAME_POSITION};
    ck_assert_msg(run(&r, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(count_files(), 3);
    ck_assert(exists("1.jpg") && exists("2.jpg") && exists("3.jpg"));
    assert_colour("1.jpg", RED);
    assert_colour("2.jpg", BLUE);
    assert_colour("3.jpg", BLUE);
    struct image im = load("3.jpg");
    ck_assert_int_eq(im.w, 600);
    ck_assert_int_eq(im.h, 315);
}
END_TEST

/* Not in the contract's order: a time before the previous one seeks back. */
START_TEST(test_backwards)
{
    static const double t[] = {4.0, 0.5};
    struct err err = ERR_INIT;
    struct run r = {
        .input = COLOURS, .in_format = "mp4", .times = t, .count = 2, .names = MEDIA_NAME_POSITION};
    ck_assert_msg(run(&r, &err) == 0, "%s", err.msg);
    assert_colour("1.jpg", BLUE);
    assert_colour("2.jpg", RED);
}
END_TEST

/* spec "extract": N = round(t × fps) + 1 of the frame found; a frame hit twice is one file. */
static const struct {
    double t[4];
    size_t count;
    const char *files[4];
} numbers[] = {
    {{0, 1}, 2, {"1.jpg", "26.jpg"}},
    {{0, 0.5, 0.51, 1}, 4, {"1.jpg", "14.jpg", "26.jpg"}}, /* 0.5 and 0.51: frame 13 at 0.52 */
    {{2.97}, 1, {"76.jpg"}},
    {{100}, 1, {"150.jpg"}}, /* past the end: the last frame */
    {{0.04, 5.99, 6.5}, 3, {"2.jpg", "150.jpg"}},
};

START_TEST(test_frame_numbers)
{
    struct err err = ERR_INIT;
    struct run r = {.input = COLOURS,
                    .in_format = "mp4",
                    .times = numbers[_i].t,
                    .count = numbers[_i].count,
                    .names = MEDIA_NAME_FRAME};
    ck_assert_msg(run(&r, &err) == 0, "%s", err.msg);
    int n = 0;
    for (; n < 4 && numbers[_i].files[n]; n++)
        ck_assert_msg(exists(numbers[_i].files[n]), "row %d: %s missing", _i, numbers[_i].files[n]);
    ck_assert_int_eq(count_files(), n);
    ck_assert_int_eq(rec.calls, (int)numbers[_i].count);
}
END_TEST

/* MPEG-TS: a seek that overshoots is retried further back, so the frames are the same. */
static const struct {
    double t;
    const char *file;
    enum colour want;
} ts_times[] = {
    {2.5, "64.jpg", RED},   {2.96, "75.jpg", RED},  {2.97, "76.jpg", BLUE},
    {4.5, "114.jpg", BLUE}, {5.5, "139.jpg", BLUE}, {100, "150.jpg", BLUE},
};

START_TEST(test_ts_seek)
{
    struct err err = ERR_INIT;
    struct run r = {.input = COLOURS_TS,
                    .in_format = "ts",
                    .times = &ts_times[_i].t,
                    .count = 1,
                    .names = MEDIA_NAME_FRAME};
    ck_assert_msg(run(&r, &err) == 0, "t=%g: %s", ts_times[_i].t, err.msg);
    ck_assert_msg(exists(ts_times[_i].file), "t=%g: %s missing", ts_times[_i].t, ts_times[_i].file);
    ck_assert_int_eq(count_files(), 1);
    assert_colour(ts_times[_i].file, ts_times[_i].want);
}
END_TEST

static const struct {
    const char *input;
    int w, h;
    int want_w, want_h;
} sizes[] = {
    {COLOURS, 0, 0, 160, 120},        {COLOURS, 160, 0, 160, 120},  {COLOURS, 0, 60, 80, 60},
    {COLOURS, 600, 315, 600, 315},    {COLOURS, 61, 0, 61, 46},     {COLOURS, 0, 31, 42, 31},
    {ANAMORPHIC, 0, 0, 214, 120},     {ANAMORPHIC, 0, 60, 106, 60}, {ANAMORPHIC, 160, 0, 160, 90},
    {ANAMORPHIC, 100, 100, 100, 100},
};

START_TEST(test_sizes)
{
    static const double t = 0.2;
    struct err err = ERR_INIT;
    struct run r = {.input = sizes[_i].input,
                    .in_format = "mp4",
                    .times = &t,
                    .count = 1,
                    .width = sizes[_i].w,
                    .height = sizes[_i].h,
                    .names = MEDIA_NAME_OUT};
    ck_assert_msg(run(&r, &err) == 0, "%s", err.msg);
    struct image im = load("out.jpg");
    ck_assert_msg(im.w == sizes[_i].want_w && im.h == sizes[_i].want_h,
                  "%s %dx%d gave %dx%d, wanted %dx%d", sizes[_i].input, sizes[_i].w, sizes[_i].h,
                  im.w, im.h, sizes[_i].want_w, sizes[_i].want_h);
}
END_TEST

START_TEST(test_png)
{
    static const double t = 3.5;
    struct err err = ERR_INIT;
    struct run r = {.input = COLOURS,
                    .in_format = "mp4",
                    .times = &t,
                    .count = 1,
                    .format = "png",
                    .names = MEDIA_NAME_POSITION};
    ck_assert_msg(run(&r, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(count_files(), 1);
    struct image im = load("1.png");
    ck_assert_int_eq(im.kind, KIND_PNG);
    ck_assert_int_eq(im.png_colour_type, 2);
    ck_assert_int_eq(colour_of(&im), BLUE);
    ck_assert_int_eq(im.w, 160);
}
END_TEST

/* The largest entry of the first quantisation table (DQT) of a JPEG file, or -1. */
static int jpeg_max_quant(const char *name)
{
    unsigned char d[1 << 16];
    FILE *f = fopen(opath(name), "rb");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(d, 1, sizeof d, f);
    fclose(f);
    for (size_t i = 2; i + 4 + 64 < n; i++) {
        if (d[i] != 0xff || d[i + 1] != 0xdb || (d[i + 4] >> 4) != 0)
            continue;
        int max = 0;
        for (int k = 0; k < 64; k++)
            max = d[i + 5 + k] > max ? d[i + 5 + k] : max;
        return max;
    }
    return -1;
}

/* -q:v 2: FFmpeg's encoder writes the MPEG-1 intra matrix times the scale / 8 (83 at most),
 * so q 2..3 gives entries of at most 31; its default rate control gives far coarser tables
 * on a busy picture like this one. */
START_TEST(test_jpeg_quality)
{
    static const double t = 0.2;
    struct err err = ERR_INIT;
    struct run r = {.input = ANAMORPHIC,
                    .in_format = "mp4",
                    .times = &t,
                    .count = 1,
                    .width = 600,
                    .height = 315,
                    .names = MEDIA_NAME_OUT};
    ck_assert_msg(run(&r, &err) == 0, "%s", err.msg);
    int max = jpeg_max_quant("out.jpg");
    ck_assert_int_gt(max, 0);
    ck_assert_int_le(max, 31);
}
END_TEST

/* A source with alpha keeps it in PNG; JPEG drops it. */
START_TEST(test_alpha)
{
    static const double t = 0;
    struct err err = ERR_INIT;
    struct run r = {.input = ALPHA,
                    .in_format = "mov",
                    .times = &t,
                    .count = 1,
                    .format = "png",
                    .names = MEDIA_NAME_OUT};
    ck_assert_msg(run(&r, &err) == 0, "%s", err.msg);
    struct image im = load("out.png");
    ck_assert_int_eq(im.kind, KIND_PNG);
    ck_assert_int_eq(im.png_colour_type, 6);
    ck_assert_int_eq(im.w, 64);
    ck_assert_int_eq(im.h, 48);
    ck_assert_int_eq(colour_of(&im), RED);
    ck_assert_int_ge(im.a, 120);
    ck_assert_int_le(im.a, 136);

    r.format = "jpg";
    ck_assert_msg(run(&r, &err) == 0, "%s", err.msg);
    im = load("out.jpg");
    ck_assert_int_eq(im.kind, KIND_JPEG);
    ck_assert_int_eq(im.a, 255);
}
END_TEST

START_TEST(test_no_video)
{
    static const double t = 0;
    struct err err = ERR_INIT;
    struct run r = {
        .input = AUDIO, .in_format = "wav", .times = &t, .count = 1, .names = MEDIA_NAME_OUT};
    ck_assert_int_eq(run(&r, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_str_eq(err.msg, "the input has no video stream");
    ck_assert_int_eq(count_files(), 0);
}
END_TEST

START_TEST(test_undecodable)
{
    static const double t[] = {0, 5};
    struct err err = ERR_INIT;
    struct run r = {
        .input = BROKEN, .in_format = "mp4", .times = t, .count = 2, .names = MEDIA_NAME_POSITION};
    ck_assert_int_eq(run(&r, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_msg(strncmp(err.msg, "no video frame could be decoded", 31) == 0, "%s", err.msg);
    ck_assert_int_eq(count_files(), 0);
}
END_TEST

/* Refused specs: nothing is written. */
static const struct {
    size_t count;
    const char *format;
    enum media_frame_names names;
    int w, h;
    double t;
} refused[] = {
    {0, "jpg", MEDIA_NAME_POSITION, 0, 0, 0}, {10001, "jpg", MEDIA_NAME_POSITION, 0, 0, 0},
    {2, "jpg", MEDIA_NAME_OUT, 0, 0, 0},      {1, "gif", MEDIA_NAME_OUT, 0, 0, 0},
    {1, "jpg", MEDIA_NAME_OUT, -5, 0, 0},     {1, "jpg", MEDIA_NAME_OUT, 100000, 100, 0},
    {1, "jpg", MEDIA_NAME_OUT, 0, 0, NAN},
};

START_TEST(test_refused)
{
    static double t[10001];
    struct err err = ERR_INIT;
    t[0] = refused[_i].t;
    struct run r = {.input = COLOURS,
                    .in_format = "mp4",
                    .times = t,
                    .count = refused[_i].count,
                    .format = refused[_i].format,
                    .width = refused[_i].w,
                    .height = refused[_i].h,
                    .names = refused[_i].names};
    ck_assert_int_eq(run(&r, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_int_eq(count_files(), 0);
    ck_assert_int_eq(rec.calls, 0);
}
END_TEST

/* progress returning true stops after the frame just written. */
START_TEST(test_cancel)
{
    static const double t[] = {0, 1, 2};
    struct err err = ERR_INIT;
    struct run r = {
        .input = COLOURS, .in_format = "mp4", .times = t, .count = 3, .names = MEDIA_NAME_POSITION};
    rec.cancel_at = 2;
    ck_assert_int_eq(run(&r, &err), -1);
    rec.cancel_at = 0;
    ck_assert_int_eq(err.code, ERR_CANCELLED);
    ck_assert_int_eq(rec.calls, 2);
    ck_assert(exists("1.jpg") && exists("2.jpg") && !exists("3.jpg"));
}
END_TEST

/* A name already taken is not overwritten. */
START_TEST(test_existing_file)
{
    static const double t = 0;
    struct err err = ERR_INIT;
    struct run r = {
        .input = COLOURS, .in_format = "mp4", .times = &t, .count = 1, .names = MEDIA_NAME_OUT};
    ck_assert_int_eq(run(&r, &err), 0);
    /* the same folder again */
    struct media_input in;
    ck_assert_int_eq(media_open(tpath(COLOURS), "mp4", NULL, &in, &err), 0);
    struct media_frames spec = {.times = &t, .count = 1, .format = "jpg", .names = MEDIA_NAME_OUT};
    struct conv_job job = {.threads = 1};
    struct stat before, after;
    ck_assert_int_eq(stat(opath("out.jpg"), &before), 0);
    ck_assert_int_eq(media_frames(&in, &spec, outdir, &job, &err), -1);
    media_close(&in);
    ck_assert_int_eq(err.code, ERR_INTERNAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "File exists"));
    ck_assert_int_eq(stat(opath("out.jpg"), &after), 0);
    ck_assert_int_eq(before.st_size, after.st_size);
}
END_TEST

static Suite *media_frames_suite(void)
{
    Suite *s = suite_create("media_frames");
    TCase *tc = tcase_create("times");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_time_picks_frame, 0, sizeof times / sizeof times[0]);
    tcase_add_test(tc, test_positions);
    tcase_add_test(tc, test_evenly_spaced);
    tcase_add_test(tc, test_backwards);
    tcase_add_loop_test(tc, test_frame_numbers, 0, sizeof numbers / sizeof numbers[0]);
    tcase_add_loop_test(tc, test_ts_seek, 0, sizeof ts_times / sizeof ts_times[0]);
    suite_add_tcase(s, tc);

    tc = tcase_create("output");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_sizes, 0, sizeof sizes / sizeof sizes[0]);
    tcase_add_test(tc, test_png);
    tcase_add_test(tc, test_jpeg_quality);
    tcase_add_test(tc, test_alpha);
    tcase_add_test(tc, test_existing_file);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_no_video);
    tcase_add_test(tc, test_undecodable);
    tcase_add_loop_test(tc, test_refused, 0, sizeof refused / sizeof refused[0]);
    tcase_add_test(tc, test_cancel);
    suite_add_tcase(s, tc);
    return s;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(void)
{
    const char *version[] = {"ffmpeg", "-version", NULL};
    if (spawn(version) != 0) {
        puts("1..0 # SKIP the ffmpeg program (to make the inputs) is not installed");
        return 0;
    }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_media_frames-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    if (make_inputs() < 0) {
        fprintf(stderr, "cannot make the test inputs with ffmpeg\n");
        nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        return EXIT_FAILURE;
    }

    SRunner *sr = srunner_create(media_frames_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
