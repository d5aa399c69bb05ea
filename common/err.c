/* SPDX-License-Identifier: MIT */
/* err.c - error recording and the one mapping from error codes to HTTP statuses. */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/text.h"

static const struct {
    enum err_code code;
    const char *name;
    int status;
} codes[] = {
    {ERR_OK, "ok", 200},
    {ERR_BADPARAM, "badparam", 400},
    {ERR_AUTH, "auth", 401},
    {ERR_NOTFOUND, "notfound", 404},
    {ERR_METHOD, "method", 405},
    {ERR_TOOBIG, "toobig", 413},
    {ERR_CONVERT, "convert", 422},
    {ERR_RATELIMIT, "ratelimit", 429},
    {ERR_BUSY, "busy", 503},
    /* Clients see a cancelled process as a failed conversion (spec: step "error"). */
    {ERR_CANCELLED, "cancelled", 422},
    {ERR_INTERNAL, "internal", 500},
};

#define N_CODES (sizeof(codes) / sizeof(codes[0]))

int err_set(struct err *err, enum err_code code, const char *fmt, ...)
{
    va_list ap;

    /* The first, deepest cause wins (curl's failf rule). */
    if (err == NULL || err->code != ERR_OK)
        return -1;
    /* ERR_OK is not an error: record something a caller can still act on. */
    err->code = code == ERR_OK ? ERR_INTERNAL : code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    /* Messages quote client input and end up in JSON, which must be UTF-8; vsnprintf may
     * also have cut a sequence at the buffer's end. */
    text_utf8_clean(err->msg);
    return -1;
}

void err_clear(struct err *err)
{
    if (err == NULL)
        return;
    err->code = ERR_OK;
    err->msg[0] = '\0';
}

int err_http_status(enum err_code code)
{
    for (size_t i = 0; i < N_CODES; i++) {
        if (codes[i].code == code)
            return codes[i].status;
    }
    return 500;
}

const char *err_code_name(enum err_code code)
{
    for (size_t i = 0; i < N_CODES; i++) {
        if (codes[i].code == code)
            return codes[i].name;
    }
    return "internal";
}

enum err_code err_code_from_name(const char *name)
{
    if (name == NULL)
        return ERR_INTERNAL;
    for (size_t i = 0; i < N_CODES; i++) {
        if (strcmp(codes[i].name, name) == 0)
            return codes[i].code;
    }
    return ERR_INTERNAL;
}
