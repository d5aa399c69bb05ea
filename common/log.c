/* SPDX-License-Identifier: MIT */
/* log.c - leveled logging to stderr, one write(2) per line, and the one place that redacts
 * credentials (STYLE.md section 6). */
#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/mem.h"

static _Atomic int log_level = LOG_INFO;
static const char *_Atomic log_name = "convertd";

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

/* Keys whose values never reach a log line (lower case; matched case-insensitively). */
static const char *const secret_keys[] = {"secretaccesskey", "password",     "access_token",
                                          "apikey",          "sessiontoken", "accesskeyid"};

void log_set_level(enum log_level level)
{
    atomic_store(&log_level, (int)level);
}

void log_set_name(const char *name)
{
    atomic_store(&log_name, name ? name : "convertd");
}

static bool is_word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* Length of the secret key starting at text[i], or 0. */
static size_t match_key(const char *text, size_t i)
{
    /* A key starts a word; "%5B" (an encoded '[' of a bracket key) also ends one. */
    if (i > 0 && is_word_char(text[i - 1]) &&
        !(i >= 3 && text[i - 3] == '%' && isxdigit((unsigned char)text[i - 2]) &&
          isxdigit((unsigned char)text[i - 1])))
        return 0;
    for (size_t k = 0; k < sizeof(secret_keys) / sizeof(secret_keys[0]); k++) {
        size_t n = strlen(secret_keys[k]);
        if (strncasecmp(text + i, secret_keys[k], n) == 0 && !is_word_char(text[i + n]))
            return n;
    }
    return 0;
}

/* End of a query-string value: '&' or anything that cannot be part of a URL. */
static size_t skip_query_value(const char *text, size_t i)
{
    while (text[i] != '\0' && text[i] != '&' && text[i] != '#' && text[i] != '"' &&
           text[i] != '\'' && !isspace((unsigned char)text[i]))
        i++;
    return i;
}

/* text[i] is the opening quote of a JSON string: the index just after its closing quote. */
static size_t skip_json_string(const char *text, size_t i)
{
    for (i++; text[i] != '\0'; i++) {
        if (text[i] == '\\' && text[i + 1] != '\0')
            i++;
        else if (text[i] == '"')
            return i + 1;
    }
    return i;
}

static size_t skip_spaces(const char *text, size_t i)
{
    while (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')
        i++;
    return i;
}

char *log_redact(const char *text)
{
    struct buf out = BUF_INIT;
    size_t i = 0, copied = 0;

    if (text == NULL)
        return xstrdup("");
    while (text[i] != '\0') {
        size_t n = match_key(text, i), j;

        if (n == 0) {
            i++;
            continue;
        }
        j = i + n;
        if (i > 0 && text[i - 1] == '"' && text[j] == '"') {
            /* JSON: "key": "value" (or a bare scalar) */
            j = skip_spaces(text, j + 1);
            if (text[j] != ':') {
                i = j;
                continue;
            }
            j = skip_spaces(text, j + 1);
            buf_append(&out, text + copied, j - copied);
            if (text[j] == '"') {
                buf_appends(&out, "\"***\"");
                j = skip_json_string(text, j);
            } else if (text[j] == '{' || text[j] == '[') {
                /* A nested value: its own keys are looked at as the scan goes on. */
                copied = j;
                i = j;
                continue;
            } else {
                buf_appends(&out, "***");
                while (text[j] != '\0' && text[j] != ',' && text[j] != '}' && text[j] != ']' &&
                       !isspace((unsigned char)text[j]))
                    j++;
            }
            copied = i = j;
            continue;
        }
        /* Query: key=value, also as a bracket key output[s3][secretaccesskey]=value. */
        if (text[j] == ']')
            j++;
        else if (strncasecmp(text + j, "%5D", 3) == 0)
            j += 3;
        if (text[j] != '=') {
            i = j;
            continue;
        }
        j++;
        buf_append(&out, text + copied, j - copied);
        buf_appends(&out, "***");
        copied = i = skip_query_value(text, j);
    }
    buf_append(&out, text + copied, i - copied);
    return buf_steal(&out);
}

const char *log_id(const char *id)
{
    static _Thread_local char short_id[16];

    if (id == NULL)
        id = "";
    /* 6 characters identify a process in logs without granting access to it (SEC-27). */
    snprintf(short_id, sizeof short_id, "%.6s\xe2\x80\xa6", id);
    return short_id;
}

/* Append msg keeping the entry on one line: a client-supplied string with CR/LF must not
 * forge log lines. */
static void append_one_line(struct buf *line, const char *msg)
{
    size_t n = strlen(msg);

    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        n--;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)msg[i];
        if (c == '\n')
            buf_appends(line, "\\n");
        else if (c == '\r')
            buf_appends(line, "\\r");
        else if ((c < 0x20 && c != '\t') || c == 0x7f)
            buf_appends(line, "?");
        else
            buf_append(line, &msg[i], 1);
    }
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    struct buf line = BUF_INIT;
    char *msg = NULL, *clean = NULL;
    char stamp[32];
    struct tm tm;
    time_t now = time(NULL);
    int saved_errno = errno;
    va_list ap;
    size_t off = 0;

    if ((int)level < atomic_load(&log_level))
        return;
    if ((int)level < LOG_DEBUG || (int)level > LOG_ERROR)
        level = LOG_ERROR;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    if (msg == NULL)
        goto out;
    clean = log_redact(msg);
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    buf_printf(&line, "%s %s %s: ", stamp, level_names[level], atomic_load(&log_name));
    append_one_line(&line, clean);
    buf_append(&line, "\n", 1);
    /* One write per line so concurrent threads and processes do not interleave. */
    while (off < line.len) {
        ssize_t w = write(STDERR_FILENO, line.data + off, line.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
out:
    free(msg);
    free(clean);
    buf_fini(&line);
    errno = saved_errno;
}
