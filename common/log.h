/* SPDX-License-Identifier: MIT */
/* log.h - leveled logging to stderr. The single place that redacts: log lines never
 * carry credentials or full capability ids (use log_id() for those). */
#ifndef CONVERTD_COMMON_LOG_H
#define CONVERTD_COMMON_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
/* Prefix shown on every line ("server", "worker 3"). Not copied: pass a static string. */
void log_set_name(const char *name);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* A short non-secret form of a capability id for log lines: its first 6 characters
 * followed by "…". Returns a pointer into a thread-local buffer. */
const char *log_id(const char *id);

/* Replace the values of credential-like keys (secretaccesskey, password, access_token,
 * apikey, sessiontoken, accesskeyid) in a URL query or JSON text with "***". Returns a
 * new string. */
char *log_redact(const char *text);

#endif
