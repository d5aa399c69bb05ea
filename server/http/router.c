/* SPDX-License-Identifier: MIT */
/* router.c - a static route table and one matching function. */
#include "server/http/router.h"

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

enum { M_GET = 1, M_POST = 2, M_PUT = 4, M_DELETE = 8, M_HEAD = 16 };

/* Patterns: literal segments, ":id" (one segment), ":rest" (the rest of the path, ≥ 1 char). */
static const struct route {
    unsigned methods;
    const char *pattern;
    enum route_id route;
} routes[] = {
    {M_GET | M_POST, "/process", ROUTE_CREATE},
    {M_GET | M_HEAD, "/process/:id", ROUTE_STATUS},
    {M_POST, "/process/:id", ROUTE_START},
    {M_DELETE, "/process/:id", ROUTE_DELETE},
    {M_GET | M_POST | M_DELETE, "/process/:id/delete", ROUTE_DELETE},
    {M_GET | M_POST | M_DELETE, "/process/:id/cancel", ROUTE_DELETE},
    {M_GET | M_POST, "/convert", ROUTE_CONVERT},
    {M_PUT | M_POST, "/upload/:id", ROUTE_UPLOAD},
    {M_PUT | M_POST, "/upload/:id/:rest", ROUTE_UPLOAD},
    {M_GET | M_HEAD, "/download/:id", ROUTE_DOWNLOAD},
    {M_GET | M_HEAD, "/download/:id/:rest", ROUTE_DOWNLOAD},
    {M_GET | M_POST, "/processes", ROUTE_PROCESSES},
    {M_GET | M_HEAD, "/conversiontypes", ROUTE_CONVERSIONTYPES},
    {M_GET | M_POST, "/user", ROUTE_USER},
};

static unsigned method_bit(const char *method)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {
        {"GET", M_GET}, {"POST", M_POST}, {"PUT", M_PUT}, {"DELETE", M_DELETE}, {"HEAD", M_HEAD}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(method, names[i].name) == 0)
            return names[i].bit;
    return 0;
}

/* Match path against pattern; on success set *id and *rest (pointers into path + lengths). */
static bool match(const char *pattern, const char *path, const char **id, size_t *id_len,
                  const char **rest)
{
    const char *p = pattern, *s = path;
    *id = NULL;
    *rest = NULL;
    while (*p) {
        if (strncmp(p, ":id", 3) == 0) {
            const char *end = strchr(s, '/');
            size_t n = end ? (size_t)(end - s) : strlen(s);
            if (n == 0)
                return false;
            *id = s;
            *id_len = n;
            s += n;
            p += 3;
        } else if (strncmp(p, ":rest", 5) == 0) {
            if (*s == '\0')
                return false;
            *rest = s;
            return true;
        } else {
            if (*p != *s)
                return false;
            p++;
            s++;
        }
    }
    /* A trailing slash is tolerated ("/process/ID/"). */
    return *s == '\0' || (s[0] == '/' && s[1] == '\0');
}

void router_match(const char *method, const char *path, struct route_match *m)
{
    memset(m, 0, sizeof *m);
    if (strncmp(path, "/v1/", 4) == 0)
        path += 3;
    unsigned bit = method_bit(method);
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const char *id, *rest;
        size_t id_len = 0;
        if (!match(routes[i].pattern, path, &id, &id_len, &rest))
            continue;
        bool allowed = (routes[i].methods & bit) != 0;
        /* Keep looking for a route of the same path that allows this method. */
        if (!allowed && m->route != ROUTE_NONE)
            continue;
        route_match_fini(m);
        m->route = routes[i].route;
        m->method_allowed = allowed;
        m->id = id ? xstrndup(id, id_len) : NULL;
        m->name = rest ? xstrdup(rest) : NULL;
        if (allowed)
            return;
    }
}

void route_match_fini(struct route_match *m)
{
    free(m->id);
    free(m->name);
    m->id = NULL;
    m->name = NULL;
}
