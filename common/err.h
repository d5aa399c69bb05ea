/* SPDX-License-Identifier: MIT */
/* err.h - the one error vocabulary of convertd: a code plus a message. */
#ifndef CONVERTD_COMMON_ERR_H
#define CONVERTD_COMMON_ERR_H

enum err_code {
    ERR_OK = 0,
    ERR_BADPARAM,  /* 400: missing or wrong parameter, message names it */
    ERR_AUTH,      /* 401 */
    ERR_NOTFOUND,  /* 404: unknown or expired id */
    ERR_METHOD,    /* 405 */
    ERR_TOOBIG,    /* 413 */
    ERR_CONVERT,   /* 422: corrupt input, option rejected by the backend */
    ERR_RATELIMIT, /* 429 */
    ERR_BUSY,      /* 503: no capacity (queue full), never a failed conversion */
    ERR_CANCELLED, /* DELETE or timeout; never sent to clients as such */
    ERR_INTERNAL,  /* 500: a bug */
};

struct err {
    enum err_code code;
    char msg[256];
};

#define ERR_INIT                                                                                   \
    {                                                                                              \
        ERR_OK,                                                                                    \
        {                                                                                          \
            0                                                                                      \
        }                                                                                          \
    }

/* Record code + message unless an error is already recorded (the first, deepest
 * cause wins). Always returns -1 so callers can write `return err_set(...)`. */
int err_set(struct err *err, enum err_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Forget a recorded error. */
void err_clear(struct err *err);

/* The HTTP status for a code (ERR_CANCELLED and ERR_CONVERT map to 422). */
int err_http_status(enum err_code code);

/* Stable lower-case name of a code ("badparam", ...), for the worker protocol. */
const char *err_code_name(enum err_code code);

/* Inverse of err_code_name(); unknown names give ERR_INTERNAL. */
enum err_code err_code_from_name(const char *name);

#endif
