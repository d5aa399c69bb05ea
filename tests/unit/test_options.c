/* SPDX-License-Identifier: MIT */
/* test_options.c - converteroptions validation, typed effective values, echo and defaults,
 * against the real image option table and a small table of our own. */
#include "convertd-config.h"

#include "converters/options.h"

#include <check.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "converters/converter.h"
#include "converters/registry.h"

#if HAVE_VIPS
extern const struct converter converter_vips;
#endif
extern const struct converter converter_fake;

/* A table of our own for the types the image table does not use. */
static bool upper_valid(const char *s)
{
    return strcmp(s, "bad") != 0;
}

static const struct conv_option extra_options[] = {
    {.name = "label", .type = CONV_OPT_STRING, .def = NULL},
    {.name = "checked", .type = CONV_OPT_STRING, .def = "\"fine\"", .valid = upper_valid},
    {.name = "ratio", .type = CONV_OPT_NUMBER, .def = "1.5", .min = 0.5, .max = 4},
    {.name = "free", .type = CONV_OPT_INT, .def = "-3"},
    {.name = "anything", .type = CONV_OPT_NUMBER, .def = NULL},
    {0},
};

static const struct converter extra = {
    .name = "extra",
    .options = extra_options,
};

static const struct converter no_options = {.name = "none"};

struct applied {
    json_t *eff;
    json_t *echo;
    struct err err;
    int rc;
};

static void apply(const struct converter *conv, const char *given_json, struct applied *a)
{
    json_t *given = NULL;
    if (given_json) {
        json_error_t jerr;
        given = json_loads(given_json, JSON_DECODE_ANY, &jerr);
        ck_assert_msg(given != NULL, "bad test JSON %s: %s", given_json, jerr.text);
    }
    a->err = (struct err)ERR_INIT;
    a->eff = NULL;
    a->echo = NULL;
    a->rc = options_apply(conv, given, &a->eff, &a->echo, &a->err);
    json_decref(given);
}

static void applied_free(struct applied *a)
{
    json_decref(a->eff);
    json_decref(a->echo);
}

/* Apply {"NAME": VALUE} and expect failure naming NAME. */
static void expect_bad(const struct converter *conv, const char *name, const char *value_json)
{
    char buf[512];
    snprintf(buf, sizeof buf, "{\"%s\": %s}", name, value_json);
    struct applied a;
    apply(conv, buf, &a);
    ck_assert_msg(a.rc == -1, "%s accepted", buf);
    ck_assert_int_eq(a.err.code, ERR_BADPARAM);
    char want[128];
    snprintf(want, sizeof want, "invalid value for converteroptions[%s]: ", name);
    ck_assert_msg(strncmp(a.err.msg, want, strlen(want)) == 0, "%s: message %s", buf, a.err.msg);
    ck_assert_ptr_null(a.eff);
    ck_assert_ptr_null(a.echo);
    applied_free(&a);
}

/* Apply {"NAME": VALUE} and return the effective value (new ref). */
static json_t *expect_ok(const struct converter *conv, const char *name, const char *value_json)
{
    char buf[512];
    snprintf(buf, sizeof buf, "{\"%s\": %s}", name, value_json);
    struct applied a;
    apply(conv, buf, &a);
    ck_assert_msg(a.rc == 0, "%s refused: %s", buf, a.err.msg);
    json_t *v = json_incref(json_object_get(a.eff, name));
    ck_assert_ptr_nonnull(v);
    applied_free(&a);
    return v;
}

/* ---- generic behaviour (own table) ------------------------------------------------- */

START_TEST(test_string_from_number)
{
    json_t *v = expect_ok(&extra, "label", "42");
    ck_assert_str_eq(json_string_value(v), "42");
    json_decref(v);
    v = expect_ok(&extra, "label", "1.5");
    ck_assert_str_eq(json_string_value(v), "1.5");
    json_decref(v);
    v = expect_ok(&extra, "label", "\"Mixed Case\"");
    ck_assert_str_eq(json_string_value(v), "Mixed Case"); /* strings are not lower-cased */
    json_decref(v);
    expect_bad(&extra, "label", "true");
    expect_bad(&extra, "label", "[1]");
    expect_bad(&extra, "label", "{\"a\": 1}");
    expect_bad(&extra, "checked", "\"bad\"");
}
END_TEST

START_TEST(test_number)
{
    json_t *v = expect_ok(&extra, "ratio", "\"2.25\"");
    ck_assert(json_is_real(v));
    ck_assert(fabs(json_real_value(v) - 2.25) < 1e-9);
    json_decref(v);
    v = expect_ok(&extra, "ratio", "4");
    ck_assert(fabs(json_number_value(v) - 4) < 1e-9);
    json_decref(v);
    expect_bad(&extra, "ratio", "4.01");
    expect_bad(&extra, "ratio", "0.4");
    expect_bad(&extra, "ratio", "\"abc\"");
    expect_bad(&extra, "ratio", "false");
    /* min == max: unbounded */
    v = expect_ok(&extra, "anything", "-1e6");
    ck_assert(fabs(json_number_value(v) + 1e6) < 1e-3);
    json_decref(v);
    v = expect_ok(&extra, "free", "-1000000");
    ck_assert_int_eq(json_integer_value(v), -1000000);
    json_decref(v);
}
END_TEST

START_TEST(test_extra_defaults)
{
    struct applied a;
    apply(&extra, NULL, &a);
    ck_assert_int_eq(a.rc, 0);
    ck_assert(json_is_null(json_object_get(a.eff, "label")));
    ck_assert_str_eq(json_string_value(json_object_get(a.eff, "checked")), "fine");
    ck_assert(fabs(json_real_value(json_object_get(a.eff, "ratio")) - 1.5) < 1e-9);
    ck_assert_int_eq(json_integer_value(json_object_get(a.eff, "free")), -3);
    applied_free(&a);

    json_t *d = options_defaults_json(&extra);
    ck_assert(json_is_null(json_object_get(d, "label")));
    ck_assert_str_eq(json_string_value(json_object_get(d, "checked")), "fine");
    ck_assert_str_eq(json_string_value(json_object_get(d, "ratio")), "1.5");
    ck_assert_str_eq(json_string_value(json_object_get(d, "free")), "-3");
    ck_assert(json_is_null(json_object_get(d, "anything")));
    json_decref(d);
}
END_TEST

START_TEST(test_no_options)
{
    struct applied a;
    apply(&no_options, "{\"x\": 1}", &a);
    ck_assert_int_eq(a.rc, 0);
    ck_assert_int_eq(json_object_size(a.eff), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(a.echo, "x")), 1);
    applied_free(&a);
    json_t *d = options_defaults_json(&no_options);
    ck_assert_int_eq(json_object_size(d), 0);
    json_decref(d);
}
END_TEST

START_TEST(test_given_not_object)
{
    struct applied a;
    apply(&extra, "\"quality=5\"", &a);
    ck_assert_int_eq(a.rc, -1);
    ck_assert_int_eq(a.err.code, ERR_BADPARAM);
    ck_assert_ptr_nonnull(strstr(a.err.msg, "converteroptions"));
    applied_free(&a);
    apply(&extra, "[1, 2]", &a);
    ck_assert_int_eq(a.rc, -1);
    applied_free(&a);
    /* null and "" mean not given */
    apply(&extra, "null", &a);
    ck_assert_int_eq(a.rc, 0);
    applied_free(&a);
    apply(&extra, "\"\"", &a);
    ck_assert_int_eq(a.rc, 0);
    applied_free(&a);
}
END_TEST

START_TEST(test_fake_table)
{
    json_t *v = expect_ok(&converter_fake, "action", "\"CRASH\"");
    ck_assert_str_eq(json_string_value(v), "crash");
    json_decref(v);
    v = expect_ok(&converter_fake, "seconds", "\"0.25\"");
    ck_assert(fabs(json_number_value(v) - 0.25) < 1e-9);
    json_decref(v);
    expect_bad(&converter_fake, "action", "\"explode\"");
    expect_bad(&converter_fake, "seconds", "3601");
    expect_bad(&converter_fake, "files", "0");
    expect_bad(&converter_fake, "files", "101");
    expect_bad(&converter_fake, "percent_steps", "-1");

    json_t *d = options_defaults_json(&converter_fake);
    ck_assert_str_eq(json_string_value(json_object_get(d, "action")), "ok");
    ck_assert_str_eq(json_string_value(json_object_get(d, "seconds")), "1");
    ck_assert_str_eq(json_string_value(json_object_get(d, "files")), "1");
    ck_assert_str_eq(json_string_value(json_object_get(d, "percent_steps")), "4");
    json_decref(d);
}
END_TEST

#if HAVE_VIPS
/* ---- the image table --------------------------------------------------------------- */

START_TEST(test_vips_defaults)
{
    struct applied a;
    apply(&converter_vips, NULL, &a);
    ck_assert_int_eq(a.rc, 0);
    ck_assert(json_is_null(json_object_get(a.eff, "quality")));
    ck_assert(json_is_null(json_object_get(a.eff, "resize")));
    ck_assert_str_eq(json_string_value(json_object_get(a.eff, "resizemode")), "maximum");
    ck_assert_str_eq(json_string_value(json_object_get(a.eff, "rotate")), "0");
    ck_assert(json_is_true(json_object_get(a.eff, "auto_orient")));
    ck_assert(json_is_false(json_object_get(a.eff, "strip_metatags")));
    ck_assert(json_is_integer(json_object_get(a.eff, "density")));
    ck_assert_int_eq(json_integer_value(json_object_get(a.eff, "density")), 72);
    ck_assert_str_eq(json_string_value(json_object_get(a.eff, "background")), "#ffffff");
    /* the echo: every table entry, all null */
    ck_assert_int_eq(json_object_size(a.echo), 8);
    const char *key;
    json_t *v;
    json_object_foreach (a.echo, key, v)
        ck_assert_msg(json_is_null(v), "echo[%s] not null", key);
    ck_assert_int_eq(json_object_size(a.eff), 8);
    applied_free(&a);
}
END_TEST

START_TEST(test_vips_echo)
{
    struct applied a;
    apply(&converter_vips,
          "{\"quality\": \"75\", \"auto_orient\": 0, \"resize\": \"100x\", \"rotate\": 90,"
          " \"mystery\": {\"a\": [1, 2]}, \"other\": null, \"density\": null,"
          " \"resizemode\": \"\"}",
          &a);
    ck_assert_msg(a.rc == 0, "%s", a.err.msg);
    /* echo keeps the client's JSON types (compat G6) */
    ck_assert_str_eq(json_string_value(json_object_get(a.echo, "quality")), "75");
    ck_assert(json_is_integer(json_object_get(a.echo, "auto_orient")));
    ck_assert_int_eq(json_integer_value(json_object_get(a.echo, "rotate")), 90);
    ck_assert(json_is_object(json_object_get(a.echo, "mystery")));
    ck_assert(json_is_array(json_object_get(json_object_get(a.echo, "mystery"), "a")));
    ck_assert(json_is_null(json_object_get(a.echo, "other")));
    ck_assert_ptr_nonnull(json_object_get(a.echo, "other"));
    ck_assert(json_is_null(json_object_get(a.echo, "background")));
    ck_assert(json_is_null(json_object_get(a.echo, "density")));
    ck_assert_str_eq(json_string_value(json_object_get(a.echo, "resizemode")), "");
    ck_assert_int_eq(json_object_size(a.echo), 10);
    /* effective: typed, defaults for null and "", unknown keys left out */
    ck_assert(json_is_integer(json_object_get(a.eff, "quality")));
    ck_assert_int_eq(json_integer_value(json_object_get(a.eff, "quality")), 75);
    ck_assert(json_is_false(json_object_get(a.eff, "auto_orient")));
    ck_assert_str_eq(json_string_value(json_object_get(a.eff, "resize")), "100x");
    ck_assert_str_eq(json_string_value(json_object_get(a.eff, "rotate")), "90");
    ck_assert_int_eq(json_integer_value(json_object_get(a.eff, "density")), 72);
    ck_assert_str_eq(json_string_value(json_object_get(a.eff, "resizemode")), "maximum");
    ck_assert_ptr_null(json_object_get(a.eff, "mystery"));
    ck_assert_ptr_null(json_object_get(a.eff, "other"));
    ck_assert_int_eq(json_object_size(a.eff), 8);
    applied_free(&a);
}
END_TEST

START_TEST(test_vips_quality)
{
    json_t *v = expect_ok(&converter_vips, "quality", "\"75\"");
    ck_assert_int_eq(json_integer_value(v), 75);
    json_decref(v);
    v = expect_ok(&converter_vips, "quality", "100");
    ck_assert_int_eq(json_integer_value(v), 100);
    json_decref(v);
    v = expect_ok(&converter_vips, "quality", "1.0");
    ck_assert_int_eq(json_integer_value(v), 1);
    json_decref(v);
    expect_bad(&converter_vips, "quality", "\"abc\"");
    expect_bad(&converter_vips, "quality", "0");
    expect_bad(&converter_vips, "quality", "101");
    expect_bad(&converter_vips, "quality", "\"101\"");
    expect_bad(&converter_vips, "quality", "50.5");
    expect_bad(&converter_vips, "quality", "true");
    expect_bad(&converter_vips, "quality", "\" 75\"");
    expect_bad(&converter_vips, "quality", "[75]");
}
END_TEST

struct bool_case {
    const char *json;
    int want; /* 1, 0, or -1 for refused */
};

static const struct bool_case bool_cases[] = {
    {"true", 1},       {"false", 0}, {"\"true\"", 1}, {"\"True\"", 1}, {"\"false\"", 0},
    {"\"1\"", 1},      {"\"0\"", 0}, {"1", 1},        {"0", 0},        {"\"FALSE\"", 0},
    {"\"maybe\"", -1}, {"2", -1},    {"[true]", -1},  {"{}", -1},
};

START_TEST(test_vips_bool)
{
    const struct bool_case *c = &bool_cases[_i];
    if (c->want < 0) {
        expect_bad(&converter_vips, "strip_metatags", c->json);
        return;
    }
    json_t *v = expect_ok(&converter_vips, "strip_metatags", c->json);
    ck_assert(json_is_boolean(v));
    ck_assert_int_eq(json_is_true(v), c->want);
    json_decref(v);
}
END_TEST

START_TEST(test_vips_enum)
{
    static const char *const ok[][2] = {
        {"\"MINIMUM\"", "minimum"}, {"\"Exact\"", "exact"}, {"\"maximum\"", "maximum"}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        json_t *v = expect_ok(&converter_vips, "resizemode", ok[i][0]);
        ck_assert_str_eq(json_string_value(v), ok[i][1]);
        json_decref(v);
    }
    expect_bad(&converter_vips, "resizemode", "\"fit\"");
    expect_bad(&converter_vips, "resizemode", "1");
    expect_bad(&converter_vips, "resizemode", "true");
    struct applied a;
    apply(&converter_vips, "{\"resizemode\": \"fit\"}", &a);
    ck_assert_ptr_nonnull(strstr(a.err.msg, "maximum, minimum, exact"));
    applied_free(&a);
}
END_TEST

START_TEST(test_vips_rotate)
{
    static const char *const ok[][2] = {{"90", "90"},     {"\"90\"", "90"}, {"0", "0"},
                                        {"270.0", "270"}, {"180", "180"},   {"\"270\"", "270"}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        json_t *v = expect_ok(&converter_vips, "rotate", ok[i][0]);
        ck_assert_str_eq(json_string_value(v), ok[i][1]);
        json_decref(v);
    }
    expect_bad(&converter_vips, "rotate", "45");
    expect_bad(&converter_vips, "rotate", "\"45\"");
    expect_bad(&converter_vips, "rotate", "-90");
    expect_bad(&converter_vips, "rotate", "90.5");
    expect_bad(&converter_vips, "rotate", "360");
}
END_TEST

struct str_case {
    const char *value;
    bool ok;
};

static const struct str_case resize_cases[] = {
    {"100x100", true},   {"100x", true},          {"x100", true},       {"50%", true},
    {"1x1", true},       {"100000x100000", true}, {"1000%", true},      {"1%", true},
    {"200X300", true},   {"0x100", false},        {"100x0", false},     {"x", false},
    {"100", false},      {"-5x5", false},         {"100x100x", false},  {"abc", false},
    {"100001x1", false}, {"1x100001", false},     {"0%", false},        {"1001%", false},
    {"50%x", false},     {" 100x100", false},     {"100 x 100", false}, {"1.5x2", false},
    {"%", false},        {"x%", false},           {"100x%", false},     {"99999999999x1", false},
    {"1x1 ", false},     {"50%%", false},
};

START_TEST(test_vips_resize)
{
    const struct str_case *c = &resize_cases[_i];
    char json[128];
    snprintf(json, sizeof json, "\"%s\"", c->value);
    if (!c->ok) {
        expect_bad(&converter_vips, "resize", json);
        return;
    }
    json_t *v = expect_ok(&converter_vips, "resize", json);
    ck_assert_str_eq(json_string_value(v), c->value);
    json_decref(v);
}
END_TEST

static const struct str_case background_cases[] = {
    {"#fff", true},       {"#FFFFFF", true},     {"#a0b1c2", true}, {"white", true},
    {"Black", true},      {"transparent", true}, {"orange", true},  {"grey", true},
    {"gray", true},       {"navy", true},        {"#ff", false},    {"#gggggg", false},
    {"#ffffffff", false}, {"chartreuse", false}, {"ffffff", false}, {"#", false},
    {"white ", false},    {"#fff0", false},
};

START_TEST(test_vips_background)
{
    const struct str_case *c = &background_cases[_i];
    char json[128];
    snprintf(json, sizeof json, "\"%s\"", c->value);
    if (!c->ok) {
        expect_bad(&converter_vips, "background", json);
        return;
    }
    json_t *v = expect_ok(&converter_vips, "background", json);
    ck_assert_str_eq(json_string_value(v), c->value);
    json_decref(v);
}
END_TEST

START_TEST(test_vips_density)
{
    json_t *v = expect_ok(&converter_vips, "density", "\"300\"");
    ck_assert_int_eq(json_integer_value(v), 300);
    json_decref(v);
    expect_bad(&converter_vips, "density", "0");
    expect_bad(&converter_vips, "density", "1201");
    expect_bad(&converter_vips, "density", "\"high\"");
}
END_TEST

START_TEST(test_vips_defaults_json)
{
    json_t *d = options_defaults_json(&converter_vips);
    ck_assert_int_eq(json_object_size(d), 8);
    const char *key;
    json_t *v;
    json_object_foreach (d, key, v)
        ck_assert_msg(json_is_string(v) || json_is_null(v), "default %s is neither", key);
    ck_assert(json_is_null(json_object_get(d, "quality")));
    ck_assert(json_is_null(json_object_get(d, "resize")));
    ck_assert_str_eq(json_string_value(json_object_get(d, "resizemode")), "maximum");
    ck_assert_str_eq(json_string_value(json_object_get(d, "rotate")), "0");
    ck_assert_str_eq(json_string_value(json_object_get(d, "auto_orient")), "true");
    ck_assert_str_eq(json_string_value(json_object_get(d, "strip_metatags")), "false");
    ck_assert_str_eq(json_string_value(json_object_get(d, "density")), "72");
    ck_assert_str_eq(json_string_value(json_object_get(d, "background")), "#ffffff");
    json_decref(d);
}
END_TEST
#endif

/* ---- registry ---------------------------------------------------------------------- */

START_TEST(test_registry_fake_off)
{
    ck_assert_ptr_null(registry_find("fake", "txt", CONV_MODE_CONVERT));
    ck_assert_ptr_null(registry_by_name("fake"));
    ck_assert(!registry_has_input("fake", CONV_MODE_CONVERT));
    for (const struct converter *const *c = registry_list(); *c; c++)
        ck_assert_str_ne((*c)->name, "fake");
}
END_TEST

START_TEST(test_registry_fake_on)
{
    registry_enable_test_converters(true);
    ck_assert_ptr_eq(registry_find("fake", "txt", CONV_MODE_CONVERT), &converter_fake);
    ck_assert_ptr_eq(registry_find("fake", "fake", CONV_MODE_CONVERT), &converter_fake);
    ck_assert_ptr_eq(registry_find("fake", NULL, CONV_MODE_INFO), &converter_fake);
    ck_assert_ptr_eq(registry_find("fake", "whatever", CONV_MODE_INFO), &converter_fake);
    ck_assert_ptr_null(registry_find("fake", "png", CONV_MODE_CONVERT));
    ck_assert_ptr_null(registry_find("fake", NULL, CONV_MODE_CONVERT));
    ck_assert_ptr_eq(registry_find("fake", "txt", CONV_MODE_ARCHIVE), &converter_fake);
    ck_assert_ptr_null(registry_find("fake", "txt", CONV_MODE_EXTRACT));
    ck_assert_ptr_null(registry_find(NULL, "txt", CONV_MODE_CONVERT));
    ck_assert_ptr_eq(registry_by_name("fake"), &converter_fake);
    ck_assert_ptr_null(registry_by_name("nope"));
    ck_assert(registry_has_input("fake", CONV_MODE_INFO));
    ck_assert(registry_has_input("fake", CONV_MODE_COMBINE));
    /* "*" in a pair matches every format (the archive converter's pairs) */
    const struct converter *arch = registry_by_name("archive");
    ck_assert_ptr_nonnull(arch);
    ck_assert_ptr_eq(registry_find("pdf", "zip", CONV_MODE_ARCHIVE), arch);
    ck_assert_ptr_eq(registry_find("zip", "png", CONV_MODE_EXTRACT), arch);
    ck_assert_ptr_null(registry_find("pdf", "zip", CONV_MODE_CONVERT));
    ck_assert_str_eq(registry_pair_group(arch, "anything", "7z"), "archive");
    ck_assert_str_eq(registry_pair_group(&converter_fake, "fake", "txt"), "test");
    ck_assert_str_eq(registry_pair_group(&converter_fake, "fake", NULL), "test");
    ck_assert_ptr_null(registry_pair_group(&converter_fake, "fake", "png"));
    /* best first */
    int n = 0, prev = 1 << 30;
    for (const struct converter *const *c = registry_list(); *c; c++, n++) {
        ck_assert_int_le((*c)->priority, prev);
        prev = (*c)->priority;
    }
    /* fake, archive, office and chromium, plus the converters this build has (ghostscript and
     * qpdf together) */
    ck_assert_int_eq(n, 4 + HAVE_VIPS + HAVE_FFMPEG + 2 * HAVE_QPDF);
#if HAVE_VIPS
    ck_assert_ptr_eq(registry_list()[0], &converter_vips);
#endif
    registry_enable_test_converters(false);
    ck_assert_ptr_null(registry_find("fake", "txt", CONV_MODE_CONVERT));
}
END_TEST

/* ---- the fake converter ------------------------------------------------------------ */

static char fake_dir[256];
static char fake_out[300]; /* output folder of the last fake_run() */

static void fake_setup(void)
{
    snprintf(fake_dir, sizeof fake_dir, "/tmp/test_options-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(fake_dir));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void fake_teardown(void)
{
    nftw(fake_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

struct fake_progress {
    int calls;
    double seen[8];
    int cancel_at_call; /* 0: never */
};

static bool fake_progress(void *opaque, double percent, const char *message)
{
    struct fake_progress *p = opaque;
    (void)message;
    if (p->calls < 8)
        p->seen[p->calls] = percent;
    p->calls++;
    return p->cancel_at_call && p->calls >= p->cancel_at_call;
}

static int fake_run(enum conv_mode mode, const char *out_format, const char *options_json,
                    struct fake_progress *p, struct conv_result *res, struct err *err)
{
    char in[300];
    snprintf(in, sizeof in, "%s/input.bin", fake_dir);
    FILE *f = fopen(in, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("twelve bytes", f);
    fclose(f);
    snprintf(fake_out, sizeof fake_out, "%s/out-XXXXXX", fake_dir);
    ck_assert_ptr_nonnull(mkdtemp(fake_out));
    json_t *given = options_json ? json_loads(options_json, 0, NULL) : NULL, *eff, *echo;
    ck_assert_int_eq(options_apply(&converter_fake, given, &eff, &echo, err), 0);
    const char *inputs[] = {in, NULL};
    struct conv_job job = {
        .mode = mode,
        .inputs = inputs,
        .output_dir = fake_out,
        .in_format = "fake",
        .out_format = out_format,
        .options = eff,
        .progress = p ? fake_progress : NULL,
        .progress_opaque = p,
    };
    res->info = NULL;
    int rc = converter_fake.convert(&job, res, err);
    json_decref(given);
    json_decref(eff);
    json_decref(echo);
    return rc;
}

static long out_size(const char *name)
{
    char path[400];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", fake_out, name);
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

START_TEST(test_fake_ok)
{
    struct fake_progress p = {0};
    struct conv_result res;
    struct err err = ERR_INIT;
    ck_assert_int_eq(fake_run(CONV_MODE_CONVERT, "fake", NULL, &p, &res, &err), 0);
    ck_assert_int_eq(out_size("out.fake"), 12);
    ck_assert_int_eq(p.calls, 4);
    ck_assert(p.seen[0] == 25 && p.seen[1] == 50 && p.seen[2] == 75 && p.seen[3] == 100);
    ck_assert_ptr_null(res.info);
}
END_TEST

START_TEST(test_fake_files)
{
    struct fake_progress p = {0};
    struct conv_result res;
    struct err err = ERR_INIT;
    ck_assert_int_eq(
        fake_run(CONV_MODE_CONVERT, "txt", "{\"files\": 3, \"percent_steps\": 0}", &p, &res, &err),
        0);
    ck_assert_int_eq(p.calls, 0);
    ck_assert_int_eq(out_size("1.txt"), 12);
    ck_assert_int_eq(out_size("2.txt"), 12);
    ck_assert_int_eq(out_size("3.txt"), 12);
    ck_assert_int_eq(out_size("4.txt"), -1);
    ck_assert_int_eq(out_size("out.txt"), -1);
}
END_TEST

START_TEST(test_fake_fail_and_cancel)
{
    struct conv_result res;
    struct err err = ERR_INIT;
    ck_assert_int_eq(
        fake_run(CONV_MODE_CONVERT, "fake", "{\"action\": \"fail\"}", NULL, &res, &err), -1);
    ck_assert_int_eq(err.code, ERR_CONVERT);
    ck_assert_str_eq(err.msg, "fake failure requested");

    struct fake_progress p = {.cancel_at_call = 2};
    err = (struct err)ERR_INIT;
    ck_assert_int_eq(fake_run(CONV_MODE_CONVERT, "fake", NULL, &p, &res, &err), -1);
    ck_assert_int_eq(err.code, ERR_CANCELLED);
    ck_assert_int_eq(p.calls, 2);
    ck_assert_int_eq(out_size("out.fake"), -1);

    /* hang: stops only when progress reports a cancel (5 = 4 steps + 1 while hanging) */
    struct fake_progress h = {.cancel_at_call = 5};
    err = (struct err)ERR_INIT;
    ck_assert_int_eq(fake_run(CONV_MODE_CONVERT, "fake", "{\"action\": \"hang\"}", &h, &res, &err),
                     -1);
    ck_assert_int_eq(err.code, ERR_CANCELLED);
    ck_assert_int_eq(h.calls, 5);
    ck_assert(h.seen[4] == 100); /* never goes back */
}
END_TEST

START_TEST(test_fake_sleep)
{
    struct timespec t0, t1;
    struct conv_result res;
    struct err err = ERR_INIT;
    struct fake_progress p = {0};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(fake_run(CONV_MODE_CONVERT, "fake",
                              "{\"action\": \"sleep\", \"seconds\": 0.3, \"percent_steps\": 3}", &p,
                              &res, &err),
                     0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double dt = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    ck_assert_msg(dt >= 0.29 && dt < 2, "slept %.3f s", dt);
    ck_assert_int_eq(p.calls, 3);
    ck_assert_int_eq(out_size("out.fake"), 12);
}
END_TEST

START_TEST(test_fake_info)
{
    struct conv_result res;
    struct err err = ERR_INIT;
    ck_assert_int_eq(fake_run(CONV_MODE_INFO, NULL, NULL, NULL, &res, &err), 0);
    ck_assert_ptr_nonnull(res.info);
    ck_assert_str_eq(json_string_value(json_object_get(res.info, "format")), "fake");
    ck_assert_int_eq(json_integer_value(json_object_get(res.info, "size")), 12);
    json_decref(res.info);
}
END_TEST

START_TEST(test_fake_crash)
{
    struct conv_result res;
    struct err err = ERR_INIT;
    fake_run(CONV_MODE_CONVERT, "fake", "{\"action\": \"crash\", \"percent_steps\": 0}", NULL, &res,
             &err);
}
END_TEST

START_TEST(test_fake_abort)
{
    struct conv_result res;
    struct err err = ERR_INIT;
    fake_run(CONV_MODE_CONVERT, "fake", "{\"action\": \"abort\", \"percent_steps\": 0}", NULL, &res,
             &err);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *options_suite(void)
{
    Suite *s = suite_create("options");
    TCase *tc = tcase_create("generic");
    tcase_add_test(tc, test_string_from_number);
    tcase_add_test(tc, test_number);
    tcase_add_test(tc, test_extra_defaults);
    tcase_add_test(tc, test_no_options);
    tcase_add_test(tc, test_given_not_object);
    tcase_add_test(tc, test_fake_table);
    suite_add_tcase(s, tc);
#if HAVE_VIPS
    tc = tcase_create("vips");
    tcase_add_test(tc, test_vips_defaults);
    tcase_add_test(tc, test_vips_echo);
    tcase_add_test(tc, test_vips_quality);
    tcase_add_loop_test(tc, test_vips_bool, 0, N(bool_cases));
    tcase_add_test(tc, test_vips_enum);
    tcase_add_test(tc, test_vips_rotate);
    tcase_add_loop_test(tc, test_vips_resize, 0, N(resize_cases));
    tcase_add_loop_test(tc, test_vips_background, 0, N(background_cases));
    tcase_add_test(tc, test_vips_density);
    tcase_add_test(tc, test_vips_defaults_json);
    suite_add_tcase(s, tc);
#endif
    tc = tcase_create("registry");
    tcase_add_test(tc, test_registry_fake_off);
    tcase_add_test(tc, test_registry_fake_on);
    suite_add_tcase(s, tc);

    tc = tcase_create("fake");
    /* in the parent, once: the crash tests never reach a per-test teardown */
    tcase_add_unchecked_fixture(tc, fake_setup, fake_teardown);
    tcase_add_test(tc, test_fake_ok);
    tcase_add_test(tc, test_fake_files);
    tcase_add_test(tc, test_fake_fail_and_cancel);
    tcase_add_test(tc, test_fake_sleep);
    tcase_add_test(tc, test_fake_info);
    /* these end the process on purpose: only meaningful when Check forks */
    if (!getenv("CK_FORK") || strcmp(getenv("CK_FORK"), "no") != 0) {
        tcase_add_test_raise_signal(tc, test_fake_crash, SIGSEGV);
        tcase_add_test_raise_signal(tc, test_fake_abort, SIGABRT);
    }
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(options_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
