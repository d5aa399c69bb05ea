/* SPDX-License-Identifier: MIT */
/* mail.h - notification email through the operator's SMTP relay, with libcurl (STARTTLS
 * whenever the relay offers it on smtp://, TLS from the start on smtps://). The relay is
 * configured by the operator, so it is trusted: no address guard. */
#ifndef CONVERTD_STORAGE_MAIL_H
#define CONVERTD_STORAGE_MAIL_H

#include "common/err.h"

struct mail_relay {
    const char *url;      /* "smtp://host:port" or "smtps://host:port" */
    const char *user;     /* NULL: no AUTH */
    const char *password; /* with user */
    const char *from;     /* envelope and From: address */
};

/* Send one plain-text UTF-8 message. The headers (From, To, Subject, Date, Message-ID,
 * MIME-Version, Content-Type text/plain; charset=utf-8, Content-Transfer-Encoding 8bit) are
 * written here; CR and LF in `to` or `subject` are refused (ERR_BADPARAM), body lines are
 * sent with CRLF and dot-stuffed by libcurl. 30 s in all. ERR_CONVERT "email: <relay's
 * answer or curl reason>" on failure, never the password. */
int mail_send(const struct mail_relay *relay, const char *to, const char *subject, const char *body,
              struct err *err);

#endif
