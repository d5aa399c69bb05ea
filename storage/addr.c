/* SPDX-License-Identifier: MIT */
/* addr.c - the public-address classifier and the operator allow-list (security.md SEC-02). */
#include "storage/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

/* One prefix of the IPv4 or IPv6 space, in network byte order. */
struct range {
    unsigned char net[16];
    unsigned bits;
};

/* spec SEC-02: everything that is not public unicast IPv4. */
static const struct range blocked_v4[] = {
    {{0, 0, 0, 0}, 8},          /* "this network" */
    {{10, 0, 0, 0}, 8},         /* private */
    {{100, 64, 0, 0}, 10},      /* shared address space (carrier-grade NAT) */
    {{127, 0, 0, 0}, 8},        /* loopback */
    {{169, 254, 0, 0}, 16},     /* link-local, cloud metadata (169.254.169.254) */
    {{172, 16, 0, 0}, 12},      /* private */
    {{192, 0, 0, 0}, 24},       /* IETF protocol assignments */
    {{192, 0, 2, 0}, 24},       /* TEST-NET-1 */
    {{192, 168, 0, 0}, 16},     /* private */
    {{198, 18, 0, 0}, 15},      /* benchmarking */
    {{198, 51, 100, 0}, 24},    /* TEST-NET-2 */
    {{203, 0, 113, 0}, 24},     /* TEST-NET-3 */
    {{224, 0, 0, 0}, 4},        /* multicast */
    {{240, 0, 0, 0}, 4},        /* reserved */
    {{255, 255, 255, 255}, 32}, /* limited broadcast (inside 240/4; listed for the record) */
};

/* spec SEC-02: the IPv6 list. The IPv4-embedding forms are refused wholesale rather than
 * unwrapped (Gotenberg's choice): nobody needs to reach a public IPv4 host through them, and
 * unwrapping is where classifiers grow bugs. SIIT, 2001:2::/48, ORCHID and 3fff::/20 go
 * beyond the spec's list (IANA special-purpose registry). The entries outside 2000::/3 are
 * already refused by addr_is_public()'s first check; they stay so the table reads as the
 * spec's list. */
static const struct range blocked_v6[] = {
    {{0}, 128},                                              /* :: */
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128}, /* ::1 */
    {{0}, 96},                                               /* ::/96 IPv4-compatible */
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96},        /* ::ffff:0:0/96 mapped */
    {{0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0}, 96},        /* ::ffff:0:0:0/96 SIIT */
    {{0, 0x64, 0xff, 0x9b}, 96},                             /* 64:ff9b::/96 NAT64 */
    {{0, 0x64, 0xff, 0x9b, 0, 1}, 48},                       /* 64:ff9b:1::/48 NAT64 */
    {{0x01, 0x00}, 64},                                      /* 100::/64 discard */
    {{0x20, 0x01, 0x00, 0x00}, 32},                          /* 2001::/32 Teredo */
    {{0x20, 0x01, 0x00, 0x02, 0x00, 0x00}, 48},              /* 2001:2::/48 benchmarking */
    {{0x20, 0x01, 0x00, 0x10}, 28},                          /* 2001:10::/28 ORCHID */
    {{0x20, 0x01, 0x00, 0x20}, 28},                          /* 2001:20::/28 ORCHIDv2 */
    {{0x20, 0x01, 0x0d, 0xb8}, 32},                          /* 2001:db8::/32 doc */
    {{0x20, 0x02}, 16},                                      /* 2002::/16 6to4 */
    {{0x3f, 0xff}, 20},                                      /* 3fff::/20 doc */
    {{0xfc}, 7},                                             /* fc00::/7 unique local */
    {{0xfe, 0x80}, 10},                                      /* fe80::/10 link-local */
    {{0xfe, 0xc0}, 10},                                      /* fec0::/10 site-local */
    {{0xff}, 8},                                             /* ff00::/8 multicast */
};

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

struct addr_allow {
    struct addr_allow *next;
    int family; /* AF_INET or AF_INET6 */
    unsigned char net[16];
    unsigned bits;
    int port; /* -1: any port (CIDR entry) */
};

static bool prefix_match(const unsigned char *addr, const unsigned char *net, unsigned bits)
{
    unsigned full = bits / 8, rest = bits % 8;

    if (memcmp(addr, net, full) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (addr[full] & mask) == (net[full] & mask);
}

static bool in_ranges(const unsigned char *addr, const struct range *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (prefix_match(addr, r[i].net, r[i].bits))
            return true;
    }
    return false;
}

/* ISATAP (RFC 5214) puts an IPv4 address in the interface id: 0000:5efe:a.b.c.d, or
 * 0200:5efe:a.b.c.d when the IPv4 address is globally unique. The prefix in front can be
 * anything, so this is a check on the low 64 bits rather than a range. */
static bool is_isatap(const unsigned char *a)
{
    return (a[8] == 0x00 || a[8] == 0x02) && a[9] == 0x00 && a[10] == 0x5e && a[11] == 0xfe;
}

bool addr_is_public(const struct sockaddr *sa)
{
    if (sa == NULL)
        return false;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return !in_ranges((const unsigned char *)&in->sin_addr, blocked_v4, N_ELEMS(blocked_v4));
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        const unsigned char *a = in6->sin6_addr.s6_addr;
        /* Only 2000::/3 is allocated for global unicast; everything outside it is
         * reserved or special, so it is refused even where the list above is silent. */
        if ((a[0] & 0xe0) != 0x20)
            return false;
        return !in_ranges(a, blocked_v6, N_ELEMS(blocked_v6)) && !is_isatap(a);
    }
    return false;
}

/* Digits only, 1..max; no sign, no spaces, no leading "+". */
static bool parse_uint(const char *s, size_t len, long max, long *out)
{
    long v = 0;

    if (len == 0 || len > 5)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

/* Parse a literal address of either family into net; returns the family or 0. */
static int parse_literal(const char *s, size_t len, unsigned char *net)
{
    char tmp[INET6_ADDRSTRLEN];

    if (len == 0 || len >= sizeof tmp)
        return 0;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    if (inet_pton(AF_INET, tmp, net) == 1)
        return AF_INET;
    if (inet_pton(AF_INET6, tmp, net) == 1)
        return AF_INET6;
    return 0;
}

static bool host_bits_clear(const unsigned char *net, unsigned bits, unsigned max_bits)
{
    for (unsigned i = bits; i < max_bits; i++) {
        if (net[i / 8] & (0x80 >> (i % 8)))
            return false;
    }
    return true;
}

/* Fill e from spec; false when the spec is not one of the documented forms. */
static bool parse_spec(const char *spec, struct addr_allow *e)
{
    size_t len = strlen(spec);
    const char *slash = strchr(spec, '/');
    long v;

    e->port = -1;
    if (spec[0] == '[') {
        /* "[V6]:PORT" */
        const char *rb = strchr(spec, ']');
        if (rb == NULL || rb[1] != ':')
            return false;
        e->family = parse_literal(spec + 1, (size_t)(rb - spec - 1), e->net);
        if (e->family != AF_INET6)
            return false;
        if (!parse_uint(rb + 2, strlen(rb + 2), 65535, &v) || v == 0)
            return false;
        e->bits = 128;
        e->port = (int)v;
        return true;
    }
    if (slash != NULL) {
        /* "CIDR" */
        e->family = parse_literal(spec, (size_t)(slash - spec), e->net);
        if (e->family == 0)
            return false;
        unsigned max_bits = e->family == AF_INET ? 32 : 128;
        if (!parse_uint(slash + 1, strlen(slash + 1), max_bits, &v))
            return false;
        e->bits = (unsigned)v;
        /* 10.1.2.3/8 is almost always a typo for one of two different intents. */
        return host_bits_clear(e->net, e->bits, max_bits);
    }
    e->family = parse_literal(spec, len, e->net);
    if (e->family != 0) {
        /* A bare address is a one-address CIDR. */
        e->bits = e->family == AF_INET ? 32 : 128;
        return true;
    }
    /* "A.B.C.D:PORT" (an IPv6 literal with a port must be bracketed). */
    const char *colon = strrchr(spec, ':');
    if (colon == NULL || memchr(spec, ':', (size_t)(colon - spec)) != NULL)
        return false;
    e->family = parse_literal(spec, (size_t)(colon - spec), e->net);
    if (e->family != AF_INET)
        return false;
    if (!parse_uint(colon + 1, strlen(colon + 1), 65535, &v) || v == 0)
        return false;
    e->bits = 32;
    e->port = (int)v;
    return true;
}

int addr_allow_add(struct addr_allow **list, const char *spec, struct err *err)
{
    struct addr_allow e = {0};

    if (spec == NULL || !parse_spec(spec, &e))
        return err_set(err, ERR_BADPARAM,
                       "invalid allow-list entry \"%.100s\" (want CIDR, A.B.C.D:PORT or "
                       "[V6]:PORT)",
                       spec ? spec : "");
    struct addr_allow *n = xmalloc(sizeof *n);
    *n = e;
    n->next = NULL;
    /* Append, keeping the operator's order (it shows up in logs and tests). */
    while (*list != NULL)
        list = &(*list)->next;
    *list = n;
    return 0;
}

bool addr_allow_match(const struct addr_allow *list, const struct sockaddr *sa)
{
    const unsigned char *addr;
    unsigned char v4[4];
    int family, port;

    if (sa == NULL)
        return false;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        family = AF_INET;
        addr = (const unsigned char *)&in->sin_addr;
        port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        family = AF_INET6;
        addr = in6->sin6_addr.s6_addr;
        port = ntohs(in6->sin6_port);
        /* A mapped address reaches the IPv4 host, so it matches IPv4 entries as that host
         * (and only them: ::ffff:0:0/96 in the list would otherwise allow all of IPv4). */
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            memcpy(v4, addr + 12, 4);
            family = AF_INET;
            addr = v4;
        }
    } else {
        return false;
    }
    for (const struct addr_allow *e = list; e != NULL; e = e->next) {
        if (e->family != family)
            continue;
        if (e->port != -1 && e->port != port)
            continue;
        if (prefix_match(addr, e->net, e->bits))
            return true;
    }
    return false;
}

void addr_allow_free(struct addr_allow *list)
{
    while (list != NULL) {
        struct addr_allow *next = list->next;
        free(list);
        list = next;
    }
}
