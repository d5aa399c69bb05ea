/* SPDX-License-Identifier: MIT */
/* test_addr.c - the public-address classifier and the allow-list (security.md SEC-02). */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "common/err.h"
#include "storage/addr.h"

/* Fill ss with the literal ip and port; fails the test on a bad literal (a table typo). */
static const struct sockaddr *make_sa(const char *ip, int port, struct sockaddr_storage *ss)
{
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof *ss);
    if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
    } else if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
    } else {
        ck_abort_msg("bad literal in table: %s", ip);
    }
    return (const struct sockaddr *)ss;
}

static const struct {
    const char *ip;
    bool is_public;
} classify_cases[] = {
    /* 0.0.0.0/8 */
    {"0.0.0.0", false},
    {"0.255.255.255", false},
    {"1.0.0.0", true},
    /* 10/8 */
    {"10.0.0.1", false},
    {"10.255.255.255", false},
    {"9.255.255.255", true},
    {"11.0.0.0", true},
    /* 100.64/10 */
    {"100.64.0.1", false},
    {"100.127.255.255", false},
    {"100.63.255.255", true},
    {"100.128.0.0", true},
    /* 127/8 */
    {"127.0.0.1", false},
    {"127.255.255.254", false},
    {"126.255.255.255", true},
    {"128.0.0.0", true},
    /* 169.254/16 */
    {"169.254.169.254", false},
    {"169.254.0.0", false},
    {"169.253.255.255", true},
    {"169.255.0.0", true},
    /* 172.16/12 */
    {"172.16.0.0", false},
    {"172.31.255.255", false},
    {"172.15.255.255", true},
    {"172.32.0.0", true},
    /* 192.0.0/24 */
    {"192.0.0.8", false},
    {"191.255.255.255", true},
    {"192.0.1.0", true},
    /* 192.0.2/24 */
    {"192.0.2.1", false},
    {"192.0.3.0", true},
    /* 192.168/16 */
    {"192.168.1.1", false},
    {"192.167.255.255", true},
    {"192.169.0.0", true},
    /* 198.18/15 */
    {"198.18.0.0", false},
    {"198.19.255.255", false},
    {"198.17.255.255", true},
    {"198.20.0.0", true},
    /* 198.51.100/24 */
    {"198.51.100.7", false},
    {"198.51.99.255", true},
    {"198.51.101.0", true},
    /* 203.0.113/24 */
    {"203.0.113.9", false},
    {"203.0.112.255", true},
    {"203.0.114.0", true},
    /* 224/4 */
    {"224.0.0.1", false},
    {"239.255.255.255", false},
    {"223.255.255.255", true},
    /* 240/4 and broadcast */
    {"240.0.0.1", false},
    {"255.255.255.254", false},
    {"255.255.255.255", false},
    /* public IPv4 */
    {"8.8.8.8", true},
    {"1.1.1.1", true},
    /* :: and ::1 */
    {"::", false},
    {"::1", false},
    /* ::/96 (IPv4-compatible), ::ffff:0:0/96 (mapped), ::ffff:0:0:0/96 (SIIT) */
    {"::8.8.8.8", false},
    {"::ffff:8.8.8.8", false},
    {"::ffff:127.0.0.1", false},
    {"::ffff:0:8.8.8.8", false},
    /* 64:ff9b::/96, 64:ff9b:1::/48 (NAT64) */
    {"64:ff9b::808:808", false},
    {"64:ff9b:1::808:808", false},
    {"64:ff9b:1:ffff:ffff:ffff:ffff:ffff", false},
    /* 100::/64 */
    {"100::1", false},
    {"100::ffff:ffff:ffff:ffff", false},
    /* 2001::/32 (Teredo) and its neighbours */
    {"2001:0:4136:e378:8000:63bf:3fff:fdd2", false},
    {"2001:0:ffff:ffff:ffff:ffff:ffff:ffff", false},
    {"2001:4860:4860::8888", true},
    {"2001:2::1", false},
    {"2001:3::1", true},
    /* 2001:db8::/32 */
    {"2001:db8::1", false},
    {"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", false},
    {"2001:db7:ffff::1", true},
    {"2001:db9::1", true},
    /* 2002::/16 (6to4) */
    {"2002:0808:0808::1", false},
    {"2002:ffff::1", false},
    {"2003::1", true},
    {"2001:ffff::1", true},
    /* fc00::/7, fe80::/10, fec0::/10, ff00::/8 */
    {"fc00::1", false},
    {"fdff:ffff::1", false},
    {"fe80::1", false},
    {"febf:ffff::1", false},
    {"fec0::1", false},
    {"ff02::1", false},
    {"ff0e::1", false},
    /* Outside 2000::/3 nothing is allocated for unicast, neighbours of the ranges above
     * included: refused too. */
    {"64:ff9b::1:0:0:0", false},
    {"100:0:0:1::", false},
    {"4000::1", false},
    {"1fff:ffff::1", false},
    /* 3fff::/20 (documentation) */
    {"3fff::1", false},
    {"3ffe:ffff::1", true},
    /* ISATAP interface ids under an otherwise public prefix */
    {"2606:4700::5efe:808:808", false},
    {"2606:4700::200:5efe:808:808", false},
    {"2606:4700::100:5efe:808:808", true},
    {"2606:4700::5eff:808:808", true},
    /* public IPv6 */
    {"2606:4700::1111", true},
    {"2a00:1450:4001:80b::200e", true},
};

START_TEST(test_classify)
{
    struct sockaddr_storage ss;
    const struct sockaddr *sa = make_sa(classify_cases[_i].ip, 443, &ss);

    ck_assert_msg(addr_is_public(sa) == classify_cases[_i].is_public, "%s: expected %s",
                  classify_cases[_i].ip, classify_cases[_i].is_public ? "public" : "refused");
}
END_TEST

START_TEST(test_classify_other_family)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX, .sun_path = "/tmp/x"};

    ck_assert(!addr_is_public((const struct sockaddr *)&un));
    ck_assert(!addr_is_public(NULL));
}
END_TEST

static const char *const good_specs[] = {
    "10.0.0.0/8", "fd00::/8", "192.168.1.5", "127.0.0.1:8080",  "[::1]:8080", "::1",
    "0.0.0.0/0",  "::/0",     "10.1.2.3/32", "[fe80::1]:65535", "1.2.3.4:1",  "2001:db8::1"};

static const char *const bad_specs[] = {
    "",
    "10.0.0.0/33",
    "fd00::/129",
    "10.0.0.1/8", /* host bits set */
    "fd00::1/8",
    "10.0.0.0/",
    "10.0.0.0/-1",
    "10.0.0.0/+8",
    "/8",
    "localhost:80",
    "example.com",
    "example.com/24",
    "[::1]",
    "[::1]:",
    "[::1]:0",
    "[::1]:65536",
    "[::1]80",
    "[1.2.3.4]:80",
    "::1]:80",
    "127.0.0.1:0",
    "127.0.0.1:65536",
    "127.0.0.1:80x",
    "127.0.0.1:+80",
    "127.0.0.1:",
    " 10.0.0.0/8",
    "10.0.0.0/8 ",
    "10.0.0.256",
    "1.2.3:80",
};

START_TEST(test_allow_parse_good)
{
    struct addr_allow *list = NULL;
    struct err err = ERR_INIT;

    ck_assert_msg(addr_allow_add(&list, good_specs[_i], &err) == 0, "%s: %s", good_specs[_i],
                  err.msg);
    ck_assert_ptr_nonnull(list);
    addr_allow_free(list);
}
END_TEST

START_TEST(test_allow_parse_bad)
{
    struct addr_allow *list = NULL;
    struct err err = ERR_INIT;

    ck_assert_msg(addr_allow_add(&list, bad_specs[_i], &err) == -1, "accepted \"%s\"",
                  bad_specs[_i]);
    ck_assert_int_eq(err.code, ERR_BADPARAM);
    ck_assert_ptr_null(list);
}
END_TEST

START_TEST(test_allow_bad_keeps_list)
{
    struct addr_allow *list = NULL;
    struct err err = ERR_INIT;
    struct sockaddr_storage ss;

    ck_assert_int_eq(addr_allow_add(&list, "10.0.0.0/8", &err), 0);
    ck_assert_int_eq(addr_allow_add(&list, "nonsense", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "nonsense"));
    ck_assert(addr_allow_match(list, make_sa("10.9.9.9", 80, &ss)));
    addr_allow_free(list);
}
END_TEST

static const struct {
    const char *ip;
    int port;
    bool match;
} match_cases[] = {
    {"10.1.2.3", 80, true},           /* CIDR, any port */
    {"10.255.255.255", 1, true},      /* CIDR upper edge */
    {"11.0.0.1", 80, false},          /* just outside */
    {"9.255.255.255", 80, false},     /* just outside, below */
    {"127.0.0.1", 8080, true},        /* HOST:PORT */
    {"127.0.0.1", 8081, false},       /* same host, other port */
    {"127.0.0.2", 8080, false},       /* other host, same port */
    {"::1", 9090, true},              /* [V6]:PORT */
    {"::1", 8080, false},             /* the v4 entry's port does not carry over */
    {"fd12::1", 443, true},           /* v6 CIDR */
    {"fdff:ffff::1", 443, true},      /* v6 CIDR upper edge */
    {"fe00::1", 443, false},          /* just outside fd00::/8 */
    {"fc00::1", 443, false},          /* unique-local, but not in fd00::/8 */
    {"192.168.1.5", 1, true},         /* bare address */
    {"192.168.1.6", 1, false},        /* its neighbour */
    {"::ffff:10.0.0.1", 80, true},    /* mapped form of an allowed IPv4 address */
    {"::ffff:127.0.0.1", 8080, true}, /* mapped form of HOST:PORT */
    {"::ffff:127.0.0.1", 1, false},   /* ... other port */
    {"::a00:1", 80, false},           /* IPv4-compatible is not the IPv4 host */
    {"172.16.0.1", 80, true},         /* 172.16.0.0/12 */
    {"172.32.0.1", 80, false},
};

START_TEST(test_allow_match)
{
    static const char *const specs[] = {"10.0.0.0/8", "127.0.0.1:8080", "[::1]:9090",
                                        "fd00::/8",   "192.168.1.5",    "172.16.0.0/12"};
    struct addr_allow *list = NULL;
    struct err err = ERR_INIT;
    struct sockaddr_storage ss;

    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
        ck_assert_int_eq(addr_allow_add(&list, specs[i], &err), 0);
    ck_assert_msg(addr_allow_match(list, make_sa(match_cases[_i].ip, match_cases[_i].port, &ss)) ==
                      match_cases[_i].match,
                  "%s port %d: expected %s", match_cases[_i].ip, match_cases[_i].port,
                  match_cases[_i].match ? "match" : "no match");
    addr_allow_free(list);
}
END_TEST

START_TEST(test_allow_empty)
{
    struct sockaddr_storage ss;
    struct sockaddr_un un = {.sun_family = AF_UNIX, .sun_path = "/tmp/x"};
    struct addr_allow *list = NULL;
    struct err err = ERR_INIT;

    ck_assert(!addr_allow_match(NULL, make_sa("10.0.0.1", 80, &ss)));
    ck_assert_int_eq(addr_allow_add(&list, "0.0.0.0/0", &err), 0);
    ck_assert(addr_allow_match(list, make_sa("10.0.0.1", 80, &ss)));
    ck_assert(!addr_allow_match(list, make_sa("::1", 80, &ss))); /* a v4 entry never a v6 peer */
    ck_assert(!addr_allow_match(list, (const struct sockaddr *)&un));
    addr_allow_free(list);
    addr_allow_free(NULL);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *addr_suite(void)
{
    Suite *s = suite_create("addr");
    TCase *tc;

    tc = tcase_create("classify");
    tcase_add_loop_test(tc, test_classify, 0, N(classify_cases));
    tcase_add_test(tc, test_classify_other_family);
    suite_add_tcase(s, tc);

    tc = tcase_create("allow_parse");
    tcase_add_loop_test(tc, test_allow_parse_good, 0, N(good_specs));
    tcase_add_loop_test(tc, test_allow_parse_bad, 0, N(bad_specs));
    tcase_add_test(tc, test_allow_bad_keeps_list);
    suite_add_tcase(s, tc);

    tc = tcase_create("allow_match");
    tcase_add_loop_test(tc, test_allow_match, 0, N(match_cases));
    tcase_add_test(tc, test_allow_empty);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(addr_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
