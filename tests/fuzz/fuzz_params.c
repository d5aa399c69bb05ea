/* SPDX-License-Identifier: MIT */
/* fuzz_params.c - libFuzzer entry point for params.c: the input is parsed as a JSON body and
 * as a query string, merged and finished; the result must always be a valid JSON object. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/http/params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Everything params.c builds must serialize: strict UTF-8 names and values, no NUL. */
static void check_dumpable(const json_t *v)
{
    char *s;

    if (!json_is_object(v))
        abort();
    s = json_dumps(v, JSON_COMPACT);
    if (s == NULL)
        abort();
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct err qerr = ERR_INIT, jerr = ERR_INIT;
    json_t *query = json_object(), *body, *merged;
    int rc;

    rc = params_parse_urlencoded(query, text, size, &qerr);
    if (rc != 0 && qerr.code != ERR_BADPARAM)
        abort();
    body = params_parse_json(text, size, &jerr);
    if (body == NULL && jerr.code != ERR_BADPARAM)
        abort();
    if (rc == 0)
        check_dumpable(query);
    if (body != NULL)
        check_dumpable(body);

    merged = params_merge(rc == 0 ? query : NULL, body);
    params_finish(merged);
    check_dumpable(merged);
    /* The aliases are gone after params_finish(). */
    if (json_object_get(merged, "format") || json_object_get(merged, "link") ||
        json_object_get(merged, "options"))
        abort();

    json_decref(merged);
    json_decref(body);
    json_decref(query);
    return 0;
}
