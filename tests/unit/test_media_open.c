/* SPDX-License-Identifier: MIT */
/* test_media_open.c - media_open() and media_info() on real files made here with the ffmpeg
 * program, and on hostile ones: playlists, concat scripts, text, empty, random, truncated. */
#include "convertd-config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#if !HAVE_FFMPEG
int main(void)
{
    puts("1..0 # SKIP ffmpeg not built");
    return 0;
}
#else

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <libavformat/avformat.h>

#include "converters/media.h"

UNITTEST bool media_demuxer_allowed(const char *name, const char *family);

static char tmpdir[256];

/* A fast failure is part of the contract: hostile files must not keep a worker busy. */
#define FAST_S 3.0

/* ---- fixtures ---------------------------------------------------------------------- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static char *tpath(const char *name)
{
    static char buf[8][600];
    static int n;
    char *p = buf[n++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
    return p;
}

/* Inputs are made once in the parent by an unchecked fixture, where a failed assertion
 * would drop the whole TCase from the TAP output: failures are recorded here instead, and
 * the checked fixture fails every test with the first one. */
static char fixture_error[1024];

static void fixture_fail(const char *what, const char *name)
{
    if (!fixture_error[0])
        snprintf(fixture_error, sizeof fixture_error, "fixture: %.100s: %.900s", what, name);
}

static void ffmpeg(const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && ffmpeg -hide_banner -loglevel error -nostdin -y %s",
             tmpdir, args);
    if (system(cmd) != 0)
        fixture_fail("command failed", cmd);
}

static void write_file(const char *name, const void *data, size_t len)
{
    FILE *f = fopen(tpath(name), "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
        fixture_fail("cannot write", name);
}

static void write_text(const char *name, const char *text)
{
    write_file(name, text, strlen(text));
}

/* Up to `cap` bytes of a file into buf; the count read, 0 on error. */
static size_t read_file(const char *name, unsigned char *buf, size_t cap)
{
    FILE *f = fopen(tpath(name), "rb");
    size_t n = f ? fread(buf, 1, cap, f) : 0;
    if (f)
        fclose(f);
    if (n == 0)
        fixture_fail("cannot read", name);
    return n;
}

#define LAVFI_V "-f lavfi -i testsrc=size=320x240:rate=25 "
#define LAVFI_A "-f lavfi -i sine=frequency=440:sample_rate=44100 "

static void make_inputs(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_media_open-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        fixture_fail("mkdtemp", tmpdir);
        return;
    }

    ffmpeg(LAVFI_V LAVFI_A "-t 2 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac x.mp4");
    ffmpeg(LAVFI_A "-t 1 x.wav");
    ffmpeg(LAVFI_A "-t 1 -c:a libmp3lame x.mp3");
    ffmpeg(LAVFI_A "-t 1 -c:a flac x.flac");
    ffmpeg(LAVFI_A "-t 1 -c:a libvorbis x.ogg");
    ffmpeg("-f lavfi -i testsrc=size=160x120:rate=25 " LAVFI_A
           "-t 1 -c:v libvpx -deadline realtime -c:a libopus x.webm");
    ffmpeg("-f lavfi -i testsrc=size=160x120:rate=25 " LAVFI_A
           "-t 1 -c:v mpeg4 -c:a aac -metadata:s:a:0 language=fre x.mkv");
    /* 11 s at 100 fps: 1100 frames, over a max_pages of 1 (1000 frames). */
    ffmpeg("-f lavfi -i testsrc=size=32x32:rate=100 -t 11 -c:v mpeg4 long.mp4");
    /* An MP3 with cover art: a picture stream that is not the main video. */
    ffmpeg(LAVFI_A "-f lavfi -i color=red:size=64x64 -map 0:a -map 1:v -t 1 -frames:v 1 "
                   "-c:a libmp3lame -c:v png -disposition:v:0 attached_pic cover.mp3");
    /* A cover bigger than libav's 1 MB probe buffer: probing by content must still find the
     * MP3 behind the ID3 tag. */
    ffmpeg(LAVFI_A "-f lavfi -i 'nullsrc=size=1200x1200,geq=random(1)*255:128:128' -map 0:a "
                   "-map 1:v -t 1 -frames:v 1 -c:a libmp3lame -c:v png "
                   "-disposition:v:0 attached_pic bigcover.mp3");
    /* Only a subtitle stream. */
    write_text("sub.srt", "1\n00:00:00,000 --> 00:00:01,000\nhello\n\n");
    ffmpeg("-i sub.srt -c:s srt sub.mkv");
    /* A real segment next to an HLS playlist that is named like one. */
    ffmpeg(LAVFI_V "-t 1 -c:v mpeg2video seg.ts");
    write_text("list.ts", "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n"
                          "#EXTINF:1.0,\nseg.ts\n#EXT-X-ENDLIST\n");
    write_text("list.mp4", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nseg.ts\n"
                           "#EXT-X-ENDLIST\n");
    write_text("concat.mp4", "ffconcat version 1.0\nfile 'x.mp4'\nfile 'seg.ts'\n");
    write_text("text.mp4", "This is a text file and not a video at all.\nSecond line.\n");
    write_file("empty.mp4", "", 0);

    /* Random bytes from a fixed seed: the same file on every run. */
    static unsigned char rnd[256 * 1024];
    unsigned state = 12345;
    for (size_t i = 0; i < sizeof rnd; i++) {
        state = state * 1103515245u + 12345u;
        rnd[i] = (unsigned char)(state >> 16);
    }
    write_file("random.bin", rnd, sizeof rnd);

    static unsigned char buf[1 << 20];
    size_t n = read_file("x.mp4", buf, sizeof buf);
    if (n > 3000) /* moov is at the end: the first 3000 bytes hold ftyp and part of mdat */
        write_file("truncated.mp4", buf, 3000);

    /* ftyp, then a moov box that claims 2 GB, then 4 KB of junk. */
    static const unsigned char ftyp[24] = {0, 0, 0, 24, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm',
                                           0, 0, 2, 0,  'i', 's', 'o', 'm', 'i', 's', 'o', '2'};
    static const unsigned char moov[8] = {0x7f, 0xff, 0xff, 0xf0, 'm', 'o', 'o', 'v'};
    static unsigned char huge[sizeof ftyp + sizeof moov + 4096];
    memcpy(huge, ftyp, sizeof ftyp);
    memcpy(huge + sizeof ftyp, moov, sizeof moov);
    memcpy(huge + sizeof ftyp + sizeof moov, rnd, 4096);
    write_file("hugemoov.mp4", huge, sizeof huge);

    /* x.mkv whose Segment Duration (EBML id 0x4489, an 8-byte float in ms) says 1e9 ms. */
    static const unsigned char dur_id[3] = {0x44, 0x89, 0x88};
    static const unsigned char billion_be[8] = {0x41, 0xcd, 0xcd, 0x65, 0, 0, 0, 0}; /* 1e9 */
    n = read_file("x.mkv", buf, sizeof buf);
    unsigned char *p = n ? memmem(buf, n, dur_id, sizeof dur_id) : NULL;
    if (p && p + 3 + 8 <= buf + n) {
        memcpy(p + 3, billion_be, 8);
        write_file("longdur.mkv", buf, n);
    } else {
        fixture_fail("no Duration element in", "x.mkv");
    }
}

static void no_teardown(void)
{
}

static void inputs_ready(void)
{
    ck_assert_msg(fixture_error[0] == '\0', "%s", fixture_error);
}

/* ---- helpers ------------------------------------------------------------------------ */

static const struct conv_limits big = {
    .max_pixels = 100000000, .max_side = 32768, .max_pages = 1000};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void open_ok(const char *name, const char *in_format, struct media_input *in)
{
    struct err err = ERR_INIT;
    int rc = media_open(tpath(name), in_format, &big, in, &err);
    ck_assert_msg(rc == 0, "%s as %s: %s", name, in_format, err.msg);
    ck_assert_int_eq(err.code, ERR_OK);
    ck_assert_ptr_nonnull(in->fmt);
}

/* Opens must fail with ERR_CONVERT, a message containing `want`, quickly; returns the
 * message for further checks. */
static const char *open_fails(const char *name, const char *in_format,
                              const struct conv_limits *limits, const char *want)
{
    static struct err err;
    struct media_input in;
    memset(&in, 0x5a, sizeof in);
    err_clear(&err);
    double t0 = now_s();
    int rc = media_open(tpath(name), in_format, limits, &in, &err);
    double took = now_s() - t0;
    ck_assert_msg(rc == -1, "%s as %s opened", name, in_format);
    ck_assert_msg(err.code == ERR_CONVERT, "%s as %s: code %d (%s)", name, in_format, err.code,
                  err.msg);
    ck_assert_msg(strstr(err.msg, want), "%s as %s: \"%s\" lacks \"%s\"", name, in_format, err.msg,
                  want);
    ck_assert_msg(took < FAST_S, "%s as %s took %.1f s", name, in_format, took);
    /* A failed open leaves nothing to free, and media_close() accepts it. */
    ck_assert_ptr_null(in.fmt);
    ck_assert_int_eq(in.video, -1);
    ck_assert_int_eq(in.audio, -1);
    media_close(&in);
    return err.msg;
}

static json_t *stream_at(json_t *info, size_t i)
{
    json_t *streams = json_object_get(info, "streams");
    ck_assert(json_is_array(streams));
    json_t *s = json_array_get(streams, i);
    ck_assert_ptr_nonnull(s);
    return s;
}

static void assert_int_key(json_t *o, const char *key, long long want)
{
    json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_integer(v), "%s is not an integer", key);
    ck_assert_int_eq(json_integer_value(v), want);
}

static void assert_str_key(json_t *o, const char *key, const char *want)
{
    json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_string(v), "%s is not a string", key);
    ck_assert_str_eq(json_string_value(v), want);
}

/* ---- opening good files -------------------------------------------------------------- */

START_TEST(test_mp4_streams)
{
    struct media_input in;
    open_ok("x.mp4", "mp4", &in);
    ck_assert_int_ge(in.video, 0);
    ck_assert_int_ge(in.audio, 0);
    ck_assert_int_ne(in.video, in.audio);
    ck_assert_int_eq(in.fmt->streams[in.video]->codecpar->codec_type, AVMEDIA_TYPE_VIDEO);
    ck_assert_int_eq(in.fmt->streams[in.audio]->codecpar->codec_type, AVMEDIA_TYPE_AUDIO);
    ck_assert_msg(fabs(in.duration - 2.0) < 0.1, "duration %f", in.duration);
    media_close(&in);
    ck_assert_ptr_null(in.fmt);
    media_close(&in); /* twice is harmless */
}
END_TEST

/* The locks SEC-06 asks for are really on the context the other media_*.c files use. */
START_TEST(test_mp4_locked)
{
    struct media_input in;
    open_ok("x.mp4", "MP4", &in);
    ck_assert_str_eq(in.fmt->protocol_whitelist, "file");
    ck_assert_str_eq(in.fmt->format_whitelist, "mov,mp4,m4a,3gp,3g2,mj2");
    ck_assert(in.fmt->io_open != NULL);
    /* Any nested open is refused, even of a real file next to the input. */
    AVIOContext *pb = (AVIOContext *)&in; /* must be reset to NULL */
    int ret = in.fmt->io_open(in.fmt, &pb, tpath("seg.ts"), AVIO_FLAG_READ, NULL);
    ck_assert_int_eq(ret, AVERROR(EPERM));
    ck_assert_ptr_null(pb);
    media_close(&in);
}
END_TEST

static const struct {
    const char *file, *in_format;
    bool video, audio;
    const char *format; /* media_info "format" */
    const char *codec;  /* codec of the first stream */
} good[] = {
    {"x.mp4", "mp4", true, true, "mp4", "h264"},
    {"x.wav", "wav", false, true, "wav", "pcm_s16le"},
    {"x.mp3", "mp3", false, true, "mp3", "mp3"},
    {"x.flac", "flac", false, true, "flac", "flac"},
    {"x.ogg", "ogg", false, true, "ogg", "vorbis"},
    {"x.webm", "webm", true, true, "webm", "vp8"},
    {"x.mkv", "mkv", true, true, "mkv", "mpeg4"},
    {"seg.ts", "ts", true, false, "mpegts", "mpeg2video"},
    {"cover.mp3", "mp3", false, true, "mp3", "mp3"},
    {"bigcover.mp3", "mp3", false, true, "mp3", "mp3"},
};

START_TEST(test_open_formats)
{
    struct media_input in;
    open_ok(good[_i].file, good[_i].in_format, &in);
    ck_assert_msg((in.video >= 0) == good[_i].video, "%s: video %d", good[_i].file, in.video);
    ck_assert_msg((in.audio >= 0) == good[_i].audio, "%s: audio %d", good[_i].file, in.audio);
    ck_assert_msg(in.duration > 0.5 && in.duration < 2.5, "%s: duration %f", good[_i].file,
                  in.duration);
    json_t *info = media_info(&in, 1234);
    assert_str_key(info, "format", good[_i].format);
    assert_int_key(info, "size", 1234);
    assert_str_key(stream_at(info, 0), "codec", good[_i].codec);
    json_decref(info);
    media_close(&in);
}
END_TEST

/* The cover picture of an MP3 is a video stream, but not the video. */
START_TEST(test_cover_art_not_video)
{
    struct media_input in;
    open_ok("cover.mp3", "mp3", &in);
    ck_assert_int_eq(in.video, -1);
    bool has_pic = false;
    for (unsigned i = 0; i < in.fmt->nb_streams; i++)
        if (in.fmt->streams[i]->disposition & AV_DISPOSITION_ATTACHED_PIC)
            has_pic = true;
    ck_assert_msg(has_pic, "the fixture lost its cover picture");
    json_t *info = media_info(&in, 1);
    ck_assert_ptr_null(json_object_get(info, "width"));
    ck_assert_ptr_null(json_object_get(info, "fps"));
    json_decref(info);
    media_close(&in);
}
END_TEST

/* ---- info ----------------------------------------------------------------------------- */

START_TEST(test_info_mp4)
{
    struct media_input in;
    struct stat st;
    ck_assert_int_eq(stat(tpath("x.mp4"), &st), 0);
    open_ok("x.mp4", "mp4", &in);
    json_t *info = media_info(&in, st.st_size);

    assert_str_key(info, "format", "mp4");
    assert_int_key(info, "size", st.st_size);
    json_t *d = json_object_get(info, "duration");
    ck_assert(json_is_real(d));
    ck_assert_double_eq_tol(json_real_value(d), 2.0, 0.1);
    ck_assert(json_is_integer(json_object_get(info, "bitrate")));
    ck_assert_int_gt(json_integer_value(json_object_get(info, "bitrate")), 1000);
    assert_int_key(info, "width", 320);
    assert_int_key(info, "height", 240);
    ck_assert_double_eq(json_number_value(json_object_get(info, "fps")), 25.0);
    assert_int_key(info, "frames", 50);

    json_t *v = stream_at(info, 0);
    assert_int_key(v, "index", 0);
    assert_str_key(v, "type", "video");
    assert_str_key(v, "codec", "h264");
    ck_assert(json_is_string(json_object_get(v, "profile")));
    assert_int_key(v, "width", 320);
    assert_int_key(v, "height", 240);
    ck_assert_double_eq(json_number_value(json_object_get(v, "fps")), 25.0);
    assert_str_key(v, "pix_fmt", "yuv420p");
    ck_assert_ptr_null(json_object_get(v, "sample_rate"));
    ck_assert_ptr_null(json_object_get(v, "language")); /* "und" is not reported */

    json_t *a = stream_at(info, 1);
    assert_int_key(a, "index", 1);
    assert_str_key(a, "type", "audio");
    assert_str_key(a, "codec", "aac");
    assert_str_key(a, "profile", "LC");
    assert_int_key(a, "sample_rate", 44100);
    assert_int_key(a, "channels", 1);
    assert_str_key(a, "channel_layout", "mono");
    ck_assert(json_is_integer(json_object_get(a, "bitrate")));
    ck_assert_double_eq_tol(json_real_value(json_object_get(a, "duration")), 2.0, 0.1);
    ck_assert_ptr_null(json_object_get(a, "width"));
    ck_assert_ptr_null(json_object_get(a, "pix_fmt"));
    ck_assert_uint_eq(json_array_size(json_object_get(info, "streams")), 2);

    json_decref(info);
    media_close(&in);
}
END_TEST

START_TEST(test_info_language_and_frames)
{
    struct media_input in;
    open_ok("x.mkv", "mkv", &in);
    json_t *info = media_info(&in, 1);
    /* Matroska has no frame count: duration × fps. */
    assert_int_key(info, "frames", 25);
    assert_str_key(stream_at(info, 1), "language", "fre");
    json_decref(info);
    media_close(&in);
}
END_TEST

/* ---- refusals ------------------------------------------------------------------------ */

static const struct {
    const char *file, *in_format, *want;
} bad[] = {
    {"x.mp4", "m3u8", "unsupported input format m3u8"},
    {"x.mp4", "hls", "unsupported input format hls"},
    {"x.mp4", "ffconcat", "unsupported input format ffconcat"},
    {"x.mp4", "txt", "unsupported input format txt"},
    {"list.ts", "ts", "looks like hls"},
    {"list.mp4", "mp4", "looks like hls"},
    {"concat.mp4", "mp4", "looks like concat"},
    {"x.mp4", "mp3", "not a valid MP3 file"},
    {"x.wav", "mp4", "not a valid MP4 file"},
    {"text.mp4", "mp4", "cannot read the input: Invalid data found when processing input"},
    {"empty.mp4", "mp4", "cannot read the input: Invalid data found when processing input"},
    {"empty.mp4", "mp3", "cannot read the input"},
    {"random.bin", "mp4", "the input"},
    {"random.bin", "mp3", "the input"},
    {"random.bin", "ts", "the input"},
    {"truncated.mp4", "mp4", "cannot read the input"},
    {"hugemoov.mp4", "mp4", "the input"},
    {"sub.mkv", "mkv", "the input has no audio or video stream"},
};

START_TEST(test_refused)
{
    open_fails(bad[_i].file, bad[_i].in_format, &big, bad[_i].want);
}
END_TEST

START_TEST(test_unknown_format_null)
{
    open_fails("x.mp4", NULL, &big, "unsupported input format");
}
END_TEST

/* The HLS playlist's segment is real and readable: opening the playlist must not reach it
 * (as a .ts and as a .mp4). */
START_TEST(test_playlist_segment_not_read)
{
    struct media_input in;
    open_ok("seg.ts", "ts", &in); /* the segment itself is fine */
    media_close(&in);
    open_fails("list.ts", "ts", &big, "the input is not a valid");
    open_fails("list.mp4", "mp4", &big, "the input is not a valid");
}
END_TEST

START_TEST(test_missing_file)
{
    struct err err = ERR_INIT;
    struct media_input in;
    ck_assert_int_eq(media_open(tpath("nope.mp4"), "mp4", &big, &in, &err), -1);
    ck_assert_ptr_null(in.fmt);
    ck_assert_msg(strstr(err.msg, "No such file"), "%s", err.msg);
    media_close(&in);
}
END_TEST

/* ---- limits --------------------------------------------------------------------------- */

START_TEST(test_limit_side)
{
    const struct conv_limits l = {.max_side = 100};
    open_fails("x.mp4", "mp4", &l,
               "video is 320x240 pixels, larger than the limit of 100 per side");
}
END_TEST

START_TEST(test_limit_pixels)
{
    const struct conv_limits l = {.max_pixels = 320 * 240 - 1, .max_side = 32768};
    const char *msg = open_fails("x.mp4", "mp4", &l, "video is 320x240 pixels");
    ck_assert_msg(strstr(msg, "76799"), "%s", msg);

    /* Exactly at the limit is fine. */
    const struct conv_limits at = {.max_pixels = 320 * 240, .max_side = 320};
    struct err err = ERR_INIT;
    struct media_input in;
    ck_assert_msg(media_open(tpath("x.mp4"), "mp4", &at, &in, &err) == 0, "%s", err.msg);
    media_close(&in);
}
END_TEST

START_TEST(test_limit_frames)
{
    const struct conv_limits one = {.max_pages = 1};
    open_fails("long.mp4", "mp4", &one, "video has about 1100 frames, more than the limit of 1000");

    const struct conv_limits two = {.max_pages = 2};
    struct err err = ERR_INIT;
    struct media_input in;
    ck_assert_msg(media_open(tpath("long.mp4"), "mp4", &two, &in, &err) == 0, "%s", err.msg);
    media_close(&in);
    /* Audio has no frame limit: 1 s of MP3 is ~38 frames, but they are not pictures. */
    ck_assert_msg(media_open(tpath("x.mp3"), "mp3", &one, &in, &err) == 0, "%s", err.msg);
    media_close(&in);
}
END_TEST

/* The duration limit is fixed (MEDIA_MAX_DURATION_S), whatever the other limits say. */
START_TEST(test_limit_duration)
{
    open_fails("longdur.mkv", "mkv", &big,
               "the input lasts 1000000 s, longer than the limit of 86400 s");
    open_fails("longdur.mkv", "mkv", NULL, "longer than the limit of 86400 s");
}
END_TEST

START_TEST(test_big_cover_fixture)
{
    struct stat st;
    ck_assert_int_eq(stat(tpath("bigcover.mp3"), &st), 0);
    ck_assert_int_gt(st.st_size, 1 << 20); /* the point of the fixture */
}
END_TEST

/* 0 means "no limit", and so does a NULL limits pointer. */
START_TEST(test_no_limits)
{
    const struct conv_limits none = {0};
    struct err err = ERR_INIT;
    struct media_input in;
    ck_assert_msg(media_open(tpath("long.mp4"), "mp4", &none, &in, &err) == 0, "%s", err.msg);
    media_close(&in);
    ck_assert_msg(media_open(tpath("x.mp4"), "mp4", NULL, &in, &err) == 0, "%s", err.msg);
    media_close(&in);
}
END_TEST

/* ---- pure parts ----------------------------------------------------------------------- */

START_TEST(test_close_zeroed)
{
    struct media_input in;
    memset(&in, 0, sizeof in);
    media_close(&in);
    ck_assert_ptr_null(in.fmt);
    media_close(NULL);
}
END_TEST

START_TEST(test_strerror)
{
    ck_assert_str_eq(media_strerror(AVERROR_INVALIDDATA),
                     "Invalid data found when processing input");
    ck_assert_str_eq(media_strerror(AVERROR(ENOENT)), "No such file or directory");
}
END_TEST

static const struct {
    const char *demuxer, *family;
    bool allowed;
} demuxers[] = {
    {"mov,mp4,m4a,3gp,3g2,mj2", "mov,mp4,m4a,3gp,3g2,mj2", true},
    {"matroska,webm", "matroska,webm", true},
    {"mpegvideo", "mpeg,mpegvideo", true},
    {"mpeg", "mpeg,mpegvideo", true},
    {"mpegts", "mpeg,mpegvideo", false},
    {"mp3", "mpeg,mpegvideo", false},
    {"gif_pipe", "gif", false},
    {"gif", "gif", true},
    /* Refused even when a family would name them. */
    {"hls", "hls", false},
    {"concat", "mp4,concat", false},
    {"image2", "image2", false},
    {"png_pipe", "png_pipe", false},
    {"tty", "tty", false},
    {NULL, "mp3", false},
};

START_TEST(test_demuxer_allowed)
{
    ck_assert_msg(media_demuxer_allowed(demuxers[_i].demuxer, demuxers[_i].family) ==
                      demuxers[_i].allowed,
                  "%s in %s", demuxers[_i].demuxer, demuxers[_i].family);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *media_open_suite(void)
{
    Suite *s = suite_create("media_open");

    TCase *tc = tcase_create("open");
    tcase_add_unchecked_fixture(tc, make_inputs, no_teardown);
    tcase_add_checked_fixture(tc, inputs_ready, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_mp4_streams);
    tcase_add_test(tc, test_mp4_locked);
    tcase_add_loop_test(tc, test_open_formats, 0, N(good));
    tcase_add_test(tc, test_cover_art_not_video);
    tcase_add_test(tc, test_big_cover_fixture);
    suite_add_tcase(s, tc);

    tc = tcase_create("info");
    tcase_add_unchecked_fixture(tc, make_inputs, no_teardown);
    tcase_add_checked_fixture(tc, inputs_ready, NULL);
    tcase_add_test(tc, test_info_mp4);
    tcase_add_test(tc, test_info_language_and_frames);
    suite_add_tcase(s, tc);

    tc = tcase_create("refused");
    tcase_add_unchecked_fixture(tc, make_inputs, no_teardown);
    tcase_add_checked_fixture(tc, inputs_ready, NULL);
    tcase_add_loop_test(tc, test_refused, 0, N(bad));
    tcase_add_test(tc, test_unknown_format_null);
    tcase_add_test(tc, test_playlist_segment_not_read);
    tcase_add_test(tc, test_missing_file);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_unchecked_fixture(tc, make_inputs, no_teardown);
    tcase_add_checked_fixture(tc, inputs_ready, NULL);
    tcase_add_test(tc, test_limit_side);
    tcase_add_test(tc, test_limit_pixels);
    tcase_add_test(tc, test_limit_frames);
    tcase_add_test(tc, test_limit_duration);
    tcase_add_test(tc, test_no_limits);
    suite_add_tcase(s, tc);

    tc = tcase_create("pure");
    tcase_add_test(tc, test_close_zeroed);
    tcase_add_test(tc, test_strerror);
    tcase_add_loop_test(tc, test_demuxer_allowed, 0, N(demuxers));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(media_open_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (tmpdir[0])
        nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
