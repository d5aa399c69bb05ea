/* SPDX-License-Identifier: MIT */
/* router.h - the route table: method + path → which endpoint, with its id and name parts.
 * Every route also answers under a /v1 prefix (compat A1). */
#ifndef CONVERTD_SERVER_HTTP_ROUTER_H
#define CONVERTD_SERVER_HTTP_ROUTER_H

#include <stdbool.h>

enum route_id {
    ROUTE_NONE = 0,        /* unknown path: 404 */
    ROUTE_CREATE,          /* GET|POST /process */
    ROUTE_STATUS,          /* GET /process/ID */
    ROUTE_START,           /* POST /process/ID */
    ROUTE_DELETE,          /* DELETE /process/ID, GET /process/ID/delete|cancel */
    ROUTE_CONVERT,         /* GET|POST /convert */
    ROUTE_UPLOAD,          /* PUT|POST /upload/TOKEN[/NAME] */
    ROUTE_DOWNLOAD,        /* GET|HEAD /download/TOKEN[/NAME] */
    ROUTE_PROCESSES,       /* GET|POST /processes */
    ROUTE_CONVERSIONTYPES, /* GET /conversiontypes */
    ROUTE_USER,            /* GET|POST /user */
};

struct route_match {
    enum route_id route;
    bool method_allowed; /* false: the path exists but not for this method (405) */
    char *id;            /* process id or token; NULL when the route has none */
    char *name;          /* file name after the token (rest of the path, may hold '/'), or NULL */
};

/* Match a decoded request path. Fills m (free with route_match_fini). */
void router_match(const char *method, const char *path, struct route_match *m);
void route_match_fini(struct route_match *m);

#endif
