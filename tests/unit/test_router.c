/* SPDX-License-Identifier: MIT */
/* test_router.c - the route table: every endpoint, the /v1 prefix, 404 and 405 cases. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "server/http/router.h"

static const struct testcase {
    const char *method;
    const char *path;
    enum route_id route;
    bool allowed;
    const char *id;
    const char *name;
} cases[] = {
    {"POST", "/process", ROUTE_CREATE, true, NULL, NULL},
    {"GET", "/process", ROUTE_CREATE, true, NULL, NULL},
    {"GET", "/v1/process", ROUTE_CREATE, true, NULL, NULL},
    {"PUT", "/process", ROUTE_CREATE, false, NULL, NULL},
    {"GET", "/process/abc", ROUTE_STATUS, true, "abc", NULL},
    {"HEAD", "/process/abc", ROUTE_STATUS, true, "abc", NULL},
    {"GET", "/process/abc/", ROUTE_STATUS, true, "abc", NULL},
    {"POST", "/process/abc", ROUTE_START, true, "abc", NULL},
    {"POST", "/v1/process/abc", ROUTE_START, true, "abc", NULL},
    {"DELETE", "/process/abc", ROUTE_DELETE, true, "abc", NULL},
    {"GET", "/process/abc/delete", ROUTE_DELETE, true, "abc", NULL},
    {"GET", "/process/abc/cancel", ROUTE_DELETE, true, "abc", NULL},
    {"PUT", "/process/abc", ROUTE_STATUS, false, "abc", NULL},
    {"GET", "/convert", ROUTE_CONVERT, true, NULL, NULL},
    {"POST", "/convert", ROUTE_CONVERT, true, NULL, NULL},
    {"PUT", "/upload/tok/a b.png", ROUTE_UPLOAD, true, "tok", "a b.png"},
    {"PUT", "/upload/tok/dir/x.png", ROUTE_UPLOAD, true, "tok", "dir/x.png"},
    {"POST", "/upload/tok", ROUTE_UPLOAD, true, "tok", NULL},
    {"GET", "/upload/tok", ROUTE_UPLOAD, false, "tok", NULL},
    {"GET", "/download/tok", ROUTE_DOWNLOAD, true, "tok", NULL},
    {"HEAD", "/download/tok", ROUTE_DOWNLOAD, true, "tok", NULL},
    {"GET", "/download/tok/page-1.png", ROUTE_DOWNLOAD, true, "tok", "page-1.png"},
    {"DELETE", "/download/tok", ROUTE_DOWNLOAD, false, "tok", NULL},
    {"GET", "/processes", ROUTE_PROCESSES, true, NULL, NULL},
    {"POST", "/processes", ROUTE_PROCESSES, true, NULL, NULL},
    {"GET", "/conversiontypes", ROUTE_CONVERSIONTYPES, true, NULL, NULL},
    {"GET", "/v1/conversiontypes", ROUTE_CONVERSIONTYPES, true, NULL, NULL},
    {"POST", "/conversiontypes", ROUTE_CONVERSIONTYPES, false, NULL, NULL},
    {"GET", "/user", ROUTE_USER, true, NULL, NULL},
    {"GET", "/", ROUTE_NONE, false, NULL, NULL},
    {"GET", "/processx", ROUTE_NONE, false, NULL, NULL},
    {"GET", "/process//delete", ROUTE_NONE, false, NULL, NULL},
    {"GET", "/v2/process", ROUTE_NONE, false, NULL, NULL},
    {"GET", "/download/", ROUTE_NONE, false, NULL, NULL},
    {"BREW", "/process", ROUTE_CREATE, false, NULL, NULL},
};

static void check_str(const char *want, const char *got, const char *what, size_t i)
{
    if (!want)
        ck_assert_msg(got == NULL, "case %zu: %s should be NULL, got %s", i, what, got);
    else
        ck_assert_msg(got && strcmp(want, got) == 0, "case %zu: %s want %s got %s", i, what, want,
                      got ? got : "(null)");
}

START_TEST(test_route_table)
{
    size_t i = (size_t)_i;
    struct route_match m;
    router_match(cases[i].method, cases[i].path, &m);
    ck_assert_msg(m.route == cases[i].route, "case %zu (%s %s): route %d want %d", i,
                  cases[i].method, cases[i].path, m.route, cases[i].route);
    if (cases[i].route != ROUTE_NONE) {
        ck_assert_msg(m.method_allowed == cases[i].allowed, "case %zu: allowed", i);
        check_str(cases[i].id, m.id, "id", i);
        check_str(cases[i].name, m.name, "name", i);
    }
    route_match_fini(&m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("match");
    tcase_add_loop_test(tc, test_route_table, 0, (int)(sizeof cases / sizeof cases[0]));
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
