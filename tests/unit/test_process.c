/* SPDX-License-Identifier: MIT */
/* test_process.c - the step table and the status document of a process. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "server/engine/process.h"

START_TEST(test_step_names)
{
    static const char *const names[] = {"input", "wait", "convert", "output", "finished", "error"};
    for (int i = 0; i < STEP_N; i++) {
        ck_assert_str_eq(process_step_name((enum process_step)i), names[i]);
        ck_assert_int_eq(process_step_from_name(names[i]), i);
    }
    ck_assert_int_eq(process_step_from_name("queued"), -1);
    ck_assert_int_eq(process_step_from_name(NULL), -1);
}
END_TEST

/* spec "Status": input → (wait) → convert → output → finished; any step may go to error;
 * finished and error are final. */
static const struct {
    enum process_step from, to;
    bool ok;
} transitions[] = {
    {STEP_INPUT, STEP_WAIT, true},         {STEP_WAIT, STEP_CONVERT, true},
    {STEP_CONVERT, STEP_OUTPUT, true},     {STEP_OUTPUT, STEP_FINISHED, true},
    {STEP_INPUT, STEP_ERROR, true},        {STEP_WAIT, STEP_ERROR, true},
    {STEP_CONVERT, STEP_ERROR, true},      {STEP_OUTPUT, STEP_ERROR, true},
    {STEP_CONVERT, STEP_WAIT, true},       {STEP_OUTPUT, STEP_WAIT, true},
    {STEP_INPUT, STEP_FINISHED, false},    {STEP_INPUT, STEP_CONVERT, false},
    {STEP_WAIT, STEP_FINISHED, false},     {STEP_FINISHED, STEP_ERROR, false},
    {STEP_ERROR, STEP_FINISHED, false},    {STEP_FINISHED, STEP_INPUT, false},
    {STEP_ERROR, STEP_WAIT, false},        {STEP_CONVERT, STEP_INPUT, false},
    {STEP_FINISHED, STEP_FINISHED, false},
};

START_TEST(test_step_table)
{
    int i = _i;
    ck_assert_msg(process_step_allowed(transitions[i].from, transitions[i].to) == transitions[i].ok,
                  "%s -> %s", process_step_name(transitions[i].from),
                  process_step_name(transitions[i].to));
}
END_TEST

/* The status text must be one valid JSON object. */
static json_t *status_of(const struct process *p, bool with_code)
{
    char *text = process_status_text(p, with_code);
    json_error_t e;
    json_t *s = json_loads(text, JSON_REJECT_DUPLICATES, &e);
    ck_assert_msg(s != NULL, "status is not JSON: %s (%s)", e.text, text);
    free(text);
    return s;
}

static void fill(struct process *p, enum process_step step)
{
    memset(p, 0, sizeof *p);
    p->id = xstrdup("AAAAAAAAAAAAAAAAAAAAAAAA");
    p->base = xstrdup("//example.test:8080");
    p->step = step;
    p->percent = 42.5;
    p->message = xstrdup("Converting \"a\\b\"\n");
    p->created = 1000;
    p->starttime = 1001;
    p->endtime = 1010;
    p->expire = 2000;
    p->downloads = 3;
    p->doc = json_pack("{s:{s:s}, s:{s:s, s:s, s:i}}", "input", "type", "upload", "output", "url",
                       "//example.test:8080/download/X", "filename", "a.png", "downloads", 3);
    p->job = json_object();
}

START_TEST(test_status_running)
{
    struct process p;
    fill(&p, STEP_CONVERT);
    json_t *s = status_of(&p, true);
    ck_assert_str_eq(json_string_value(json_object_get(s, "message")), "Converting \"a\\b\"\n");
    ck_assert_str_eq(json_string_value(json_object_get(s, "url")),
                     "//example.test:8080/process/AAAAAAAAAAAAAAAAAAAAAAAA");
    ck_assert_str_eq(json_string_value(json_object_get(s, "step")), "convert");
    ck_assert(json_is_real(json_object_get(s, "percent")));
    ck_assert(json_real_value(json_object_get(s, "percent")) == 42.5);
    ck_assert(json_is_integer(json_object_get(s, "starttime")));
    ck_assert_int_eq(json_integer_value(json_object_get(s, "expire")), 2000);
    /* endtime appears only when the process has ended */
    ck_assert_ptr_null(json_object_get(s, "endtime"));
    json_t *out = json_object_get(s, "output");
    ck_assert_int_eq(json_integer_value(json_object_get(out, "downloads")), 3);
    ck_assert_ptr_null(json_object_get(s, "error"));
    ck_assert_ptr_null(json_object_get(s, "code"));
    ck_assert_int_eq(process_http_status(&p), 200);
    ck_assert(!process_is_final(&p));
    json_decref(s);
    process_fini(&p);
}
END_TEST

START_TEST(test_status_finished_and_failed)
{
    struct process p;
    fill(&p, STEP_FINISHED);
    json_t *s = status_of(&p, true);
    /* spec: percent is exactly 100 at finished, as a JSON number */
    ck_assert(json_is_integer(json_object_get(s, "percent")));
    ck_assert_int_eq(json_integer_value(json_object_get(s, "percent")), 100);
    ck_assert_int_eq(json_integer_value(json_object_get(s, "endtime")), 1010);
    ck_assert(process_is_final(&p));
    json_decref(s);
    p.step = STEP_ERROR;
    p.code = 400;
    ck_assert_int_eq(process_http_status(&p), 400);
    /* A failed status carries code and error (the same text as message). */
    s = status_of(&p, true);
    ck_assert_int_eq(json_integer_value(json_object_get(s, "code")), 400);
    ck_assert_str_eq(json_string_value(json_object_get(s, "error")),
                     json_string_value(json_object_get(s, "message")));
    json_decref(s);
    s = status_of(&p, false);
    ck_assert_ptr_null(json_object_get(s, "code"));
    json_decref(s);
    p.code = 422;
    ck_assert_int_eq(process_http_status(&p), 422);
    p.code = 0;
    ck_assert_int_eq(process_http_status(&p), 422);
    process_fini(&p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("process");
    TCase *tc = tcase_create("steps");
    tcase_add_test(tc, test_step_names);
    tcase_add_loop_test(tc, test_step_table, 0, (int)(sizeof transitions / sizeof transitions[0]));
    suite_add_tcase(s, tc);
    tc = tcase_create("status");
    tcase_add_test(tc, test_status_running);
    tcase_add_test(tc, test_status_finished_and_failed);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
