/* SPDX-License-Identifier: MIT */
/* test_ffmpeg.c - the FFmpeg converter's table: option validation, codec/container checks,
 * cores per job and the pairs /conversiontypes lists. Conversions themselves are tested in
 * test_media_*.c and through the server. */
#include "converters/converter.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "converters/options.h"
#include "converters/registry.h"

extern const struct converter converter_ffmpeg;

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

struct option_case {
    const char *json; /* converteroptions */
    const char *bad;  /* NULL: accepted; else the option the 400 must name */
};

static const struct option_case option_cases[] = {
    {"{}", NULL},
    {"{\"video_codec\":\"H264\"}", NULL},
    {"{\"video_codec\":\"hevc\"}", NULL},
    {"{\"video_codec\":\"xyz\"}", "video_codec"},
    {"{\"video_crf\":23}", NULL},
    {"{\"video_crf\":\"23\"}", NULL},
    {"{\"video_crf\":99}", "video_crf"},
    {"{\"video_bitrate\":0}", "video_bitrate"},
    {"{\"video_resolution\":\"640x480\"}", NULL},
    {"{\"video_resolution\":\"640x\"}", NULL},
    {"{\"video_resolution\":\"x480\"}", NULL},
    {"{\"video_resolution\":\"abc\"}", "video_resolution"},
    {"{\"video_resolution\":\"0x0\"}", "video_resolution"},
    {"{\"video_resolution\":\"100x0\"}", "video_resolution"},
    {"{\"video_resolution\":\"99999x10\"}", "video_resolution"},
    {"{\"video_ratio\":\"16:9\"}", NULL},
    {"{\"video_ratio\":\"1.5\"}", NULL},
    {"{\"video_ratio\":\"16:0\"}", "video_ratio"},
    {"{\"video_fps\":29.97}", NULL},
    {"{\"video_fps\":0}", "video_fps"},
    {"{\"video_preset\":\"VeryFast\"}", NULL},
    {"{\"video_preset\":\"turbo\"}", "video_preset"},
    {"{\"audio_codec\":\"vorbis\"}", NULL},
    {"{\"audio_codec\":\"wav\"}", "audio_codec"},
    {"{\"audio_bitrate\":128}", NULL},
    {"{\"audio_channels\":0}", "audio_channels"},
    {"{\"audio_channels\":9}", "audio_channels"},
    {"{\"audio_frequency\":44100}", NULL},
    {"{\"audio_frequency\":100}", "audio_frequency"},
    {"{\"audio_normalize\":\"+20db\"}", NULL},
    {"{\"audio_normalize\":\"-3.5 dB\"}", NULL},
    {"{\"audio_normalize\":\"loudnorm\"}", NULL},
    {"{\"audio_normalize\":\"loud\"}", "audio_normalize"},
    {"{\"audio_normalize\":\"+200db\"}", "audio_normalize"},
    {"{\"trim_from\":12}", NULL},
    {"{\"trim_from\":\"12.5\"}", NULL},
    {"{\"trim_from\":\"00:01:02.5\"}", NULL},
    {"{\"trim_from\":\"1:02\"}", NULL},
    {"{\"trim_from\":\"x\"}", "trim_from"},
    {"{\"trim_from\":\"1:75\"}", "trim_from"},
    {"{\"trim_from\":\"-1\"}", "trim_from"},
    {"{\"trim_from\":2,\"trim_to\":1}", "trim_to"},
    {"{\"faststart\":\"true\"}", NULL},
    {"{\"faststart\":\"maybe\"}", "faststart"},
    {"{\"thumbnail_count\":3}", NULL},
    {"{\"thumbnail_count\":1000}", "thumbnail_count"},
    {"{\"thumbnail_size\":\"600x315\"}", NULL},
    {"{\"thumbnail_size\":\"0x0\"}", "thumbnail_size"},
    {"{\"thumbnail_format\":\"JPEG\"}", NULL},
    {"{\"thumbnail_format\":\"bmp\"}", "thumbnail_format"},
    {"{\"thumbnail_time\":\"00:00:01\"}", NULL},
};

/* Options through the same two steps as a start: options_apply, then the converter check. */
static int validate(const char *in, const char *out, enum conv_mode mode, const char *json,
                    struct err *err)
{
    json_t *given = json_loads(json, 0, NULL), *eff = NULL, *echo = NULL;
    int rc;

    ck_assert_ptr_nonnull(given);
    rc = options_apply(&converter_ffmpeg, given, &eff, &echo, err);
    if (rc == 0)
        rc = converter_ffmpeg.check(in, out, mode, eff, err);
    json_decref(given);
    json_decref(eff);
    json_decref(echo);
    return rc;
}

START_TEST(test_option_values)
{
    const struct option_case *c = &option_cases[_i];
    struct err err = ERR_INIT;
    int rc = validate("mp4", "mkv", CONV_MODE_CONVERT, c->json, &err);

    if (c->bad == NULL) {
        ck_assert_msg(rc == 0, "%s refused: %s", c->json, err.msg);
    } else {
        ck_assert_msg(rc < 0, "%s accepted", c->json);
        ck_assert_int_eq(err.code, ERR_BADPARAM);
        ck_assert_msg(strstr(err.msg, c->bad) != NULL, "%s: message \"%s\" does not name %s",
                      c->json, err.msg, c->bad);
    }
}
END_TEST

struct combo_case {
    const char *out;
    enum conv_mode mode;
    const char *json;
    const char *bad;
};

static const struct combo_case combo_cases[] = {
    {"webm", CONV_MODE_CONVERT, "{\"video_codec\":\"vp9\",\"audio_codec\":\"opus\"}", NULL},
    {"webm", CONV_MODE_CONVERT, "{\"video_codec\":\"h265\"}", "video_codec"},
    {"webm", CONV_MODE_CONVERT, "{\"audio_codec\":\"aac\"}", "audio_codec"},
    {"mp4", CONV_MODE_CONVERT, "{\"video_codec\":\"copy\",\"audio_codec\":\"copy\"}", NULL},
    {"mp4", CONV_MODE_CONVERT, "{\"video_codec\":\"vp8\"}", "video_codec"},
    {"mp4", CONV_MODE_CONVERT, "{\"video_codec\":\"none\",\"audio_codec\":\"none\"}",
     "video_codec"},
    {"mkv", CONV_MODE_CONVERT, "{\"audio_codec\":\"flac\",\"video_codec\":\"av1\"}", NULL},
    {"gif", CONV_MODE_CONVERT, "{\"video_codec\":\"h264\"}", "video_codec"},
    {"mp3", CONV_MODE_CONVERT, "{\"audio_codec\":\"mp3\"}", NULL},
    {"mp3", CONV_MODE_CONVERT, "{\"audio_codec\":\"aac\"}", "audio_codec"},
    {"mp3", CONV_MODE_CONVERT, "{\"audio_codec\":\"none\"}", "audio_codec"},
    {"wav", CONV_MODE_CONVERT, "{\"audio_codec\":\"pcm\"}", NULL},
    {"mp3", CONV_MODE_CONVERT, "{\"video_codec\":\"h264\"}", NULL}, /* no video: ignored */
    {"jpg", CONV_MODE_EXTRACT, "{\"video_fps\":2}", NULL},
    {"mp4", CONV_MODE_EXTRACT, "{}", "outputformat"},
};

START_TEST(test_codec_container)
{
    const struct combo_case *c = &combo_cases[_i];
    struct err err = ERR_INIT;
    int rc = validate("mp4", c->out, c->mode, c->json, &err);

    if (c->bad == NULL) {
        ck_assert_msg(rc == 0, "%s → %s refused: %s", c->json, c->out, err.msg);
    } else {
        ck_assert_msg(rc < 0, "%s → %s accepted", c->json, c->out);
        ck_assert_msg(strstr(err.msg, c->bad) != NULL, "message \"%s\" does not name %s", err.msg,
                      c->bad);
    }
}
END_TEST

START_TEST(test_cores)
{
    ck_assert_int_eq(converter_ffmpeg.cores("mp4", "webm", CONV_MODE_CONVERT, 8), 8);
    ck_assert_int_eq(converter_ffmpeg.cores("mp4", "gif", CONV_MODE_CONVERT, 4), 4);
    /* audio, frames and info take a worker's share */
    ck_assert_int_eq(converter_ffmpeg.cores("mp4", "mp3", CONV_MODE_CONVERT, 8), 0);
    ck_assert_int_eq(converter_ffmpeg.cores("mp4", "jpg", CONV_MODE_CONVERT, 8), 0);
    ck_assert_int_eq(converter_ffmpeg.cores("mp4", NULL, CONV_MODE_INFO, 8), 0);
}
END_TEST

struct pair_case {
    const char *in, *out;
    const char *group; /* NULL: not offered by ffmpeg */
};

static const struct pair_case pair_cases[] = {
    {"mp4", "webm", "video"}, {"mov", "mp4", "video"},  {"mkv", "gif", "video"},
    {"mp4", "mp3", "audio"},  {"wav", "flac", "audio"}, {"flac", "aiff", "audio"},
    {"mp4", "jpg", "image"},  {"avi", "png", "image"},  {"gif", "mp4", "video"},
    {"gif", "png", NULL},     {"mp3", "mp4", NULL},     {"m3u8", "mp4", NULL},
    {"mp4", "pdf", NULL},
};

START_TEST(test_pairs)
{
    const struct pair_case *c = &pair_cases[_i];
    const struct converter *conv = registry_find(c->in, c->out, CONV_MODE_CONVERT);

    if (c->group) {
        ck_assert_msg(conv == &converter_ffmpeg, "%s → %s not offered by ffmpeg", c->in, c->out);
        ck_assert_str_eq(registry_pair_group(conv, c->in, c->out), c->group);
    } else {
        ck_assert_msg(conv != &converter_ffmpeg, "%s → %s offered by ffmpeg", c->in, c->out);
    }
}
END_TEST

START_TEST(test_info_and_extract_modes)
{
    ck_assert_ptr_eq(registry_find("mp4", NULL, CONV_MODE_INFO), &converter_ffmpeg);
    ck_assert_ptr_eq(registry_find("wav", NULL, CONV_MODE_INFO), &converter_ffmpeg);
    ck_assert_ptr_eq(registry_find("mp4", "jpg", CONV_MODE_EXTRACT), &converter_ffmpeg);
    ck_assert_ptr_null(registry_find("mp3", "jpg", CONV_MODE_EXTRACT));
}
END_TEST

START_TEST(test_defaults_listed)
{
    json_t *d = options_defaults_json(&converter_ffmpeg);
    static const char *const names[] = {
        "video_codec",     "video_bitrate",  "video_crf",        "video_resolution",
        "video_ratio",     "video_fps",      "video_preset",     "audio_codec",
        "audio_bitrate",   "audio_channels", "audio_frequency",  "audio_normalize",
        "trim_from",       "trim_to",        "faststart",        "strip_metatags",
        "thumbnail_count", "thumbnail_size", "thumbnail_format", "thumbnail_time",
    };

    for (int i = 0; i < N(names); i++) {
        json_t *v = json_object_get(d, names[i]);
        ck_assert_msg(v != NULL, "%s missing", names[i]);
        ck_assert_msg(json_is_string(v) || json_is_null(v), "%s default not a string", names[i]);
    }
    ck_assert_str_eq(json_string_value(json_object_get(d, "thumbnail_format")), "jpg");
    ck_assert_str_eq(json_string_value(json_object_get(d, "faststart")), "false");
    json_decref(d);
}
END_TEST

static Suite *ffmpeg_suite(void)
{
    Suite *s = suite_create("ffmpeg");
    TCase *tc = tcase_create("table");

    tcase_add_loop_test(tc, test_option_values, 0, N(option_cases));
    tcase_add_loop_test(tc, test_codec_container, 0, N(combo_cases));
    tcase_add_test(tc, test_cores);
    tcase_add_loop_test(tc, test_pairs, 0, N(pair_cases));
    tcase_add_test(tc, test_info_and_extract_modes);
    tcase_add_test(tc, test_defaults_listed);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ffmpeg_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
