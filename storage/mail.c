/* SPDX-License-Identifier: MIT */
/* mail.c - one plain-text notification email through the operator's SMTP relay (libcurl).
 *
 * The whole message (headers and body) is built in memory first and handed to curl by a
 * read callback; curl does the SMTP dialogue, STARTTLS when offered (CURLUSESSL_TRY), AUTH
 * when a user is set, and the dot-stuffing of the body. Recipient and subject come from API
 * clients, so anything that could start a new header or SMTP command (CR, LF, other control
 * characters) is refused before a connection is made. */
#include "storage/mail.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/id.h"
#include "common/mem.h"
#include "common/text.h"

/* Tests talk to a relay with a self-signed certificate; everything else verifies. */
UNITTEST bool mail_tls_insecure;
UNITTEST bool mail_tls_insecure = false;

/* An encoded-word holds at most 75 characters (RFC 2047 2): 45 bytes of text make 60 of
 * base64, plus the 12 of "=?UTF-8?B?" and "?=". */
#define WORD_BYTES 45
/* Plain subjects longer than this are encoded too, so that folding keeps lines short. */
#define PLAIN_SUBJECT_MAX 900
/* The relay's answer in a message is cut here. */
#define ANSWER_MAX 160

struct reader {
    const char *data;
    size_t len;
    size_t off;
};

struct answer {
    char line[ANSWER_MAX + 1]; /* the last 4xx/5xx reply line, "" when none */
};

static bool has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return true;
    }
    return false;
}

static bool has_crlf(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

static void base64_append(struct buf *b, const unsigned char *in, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        char out[4];

        if (i + 1 < n)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[0] = tbl[(v >> 18) & 63];
        out[1] = tbl[(v >> 12) & 63];
        out[2] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        out[3] = i + 2 < n ? tbl[v & 63] : '=';
        buf_append(b, out, 4);
    }
}

/* The Subject header's value: printable ASCII as it is, anything else as RFC 2047
 * encoded-words of whole UTF-8 characters, folded onto continuation lines. A plain subject
 * holding "=?" is encoded too, or a reader would decode it. New string. */
UNITTEST char *mail_encode_subject(const char *subject);
UNITTEST char *mail_encode_subject(const char *subject)
{
    struct buf b = BUF_INIT;
    char *s = xstrdup(subject);
    size_t len = strlen(s), i = 0;
    bool plain = len <= PLAIN_SUBJECT_MAX && strstr(s, "=?") == NULL;

    for (size_t k = 0; k < len && plain; k++)
        plain = s[k] >= 0x20 && s[k] < 0x7f;
    if (plain) {
        buf_appends(&b, s);
        free(s);
        return buf_steal(&b);
    }
    text_utf8_clean(s);
    while (i < len) {
        size_t end = i;

        /* Whole characters only: a reader decodes each word on its own. */
        while (end < len) {
            uint32_t cp;
            size_t n = text_utf8_decode(s + end, len - end, &cp);
            if (n == 0)
                n = 1;
            if (end + n - i > WORD_BYTES)
                break;
            end += n;
        }
        if (i > 0)
            buf_appends(&b, "\r\n ");
        buf_appends(&b, "=?UTF-8?B?");
        base64_append(&b, (const unsigned char *)s + i, end - i);
        buf_appends(&b, "?=");
        i = end;
    }
    free(s);
    return buf_steal(&b);
}

/* Now in RFC 5322 form, in UTC; names spelt out so the locale plays no part. */
static void date_append(struct buf *b)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    buf_printf(b, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
               months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Append body with every line ending (CRLF, LF or a lone CR) as CRLF, and a final one. */
static void body_append(struct buf *b, const char *body)
{
    const char *p = body;

    while (*p) {
        size_t n = strcspn(p, "\r\n");

        buf_append(b, p, n);
        buf_appends(b, "\r\n");
        p += n;
        if (p[0] == '\r' && p[1] == '\n')
            p += 2;
        else if (*p)
            p++;
    }
}

/* The whole message. New string. */
UNITTEST char *mail_build(const char *from, const char *to, const char *subject, const char *body);
UNITTEST char *mail_build(const char *from, const char *to, const char *subject, const char *body)
{
    struct buf b = BUF_INIT;
    unsigned char rnd[16];
    char *subj = mail_encode_subject(subject);

    buf_printf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: ", from, to, subj);
    date_append(&b);
    id_random_bytes(rnd, sizeof rnd);
    buf_appends(&b, "\r\nMessage-ID: <");
    for (size_t i = 0; i < sizeof rnd; i++)
        buf_printf(&b, "%02x", rnd[i]);
    buf_appends(&b, "@convertd>\r\n"
                    "MIME-Version: 1.0\r\n"
                    "Content-Type: text/plain; charset=utf-8\r\n"
                    "Content-Transfer-Encoding: 8bit\r\n"
                    "\r\n");
    body_append(&b, body);
    free(subj);
    return buf_steal(&b);
}

static size_t read_message(char *data, size_t size, size_t nmemb, void *opaque)
{
    struct reader *r = opaque;
    size_t n = size * nmemb;

    if (n > r->len - r->off)
        n = r->len - r->off;
    memcpy(data, r->data + r->off, n);
    r->off += n;
    return n;
}

/* curl hands every SMTP reply line to the header callback: keep the last error reply. */
static size_t on_reply(char *data, size_t size, size_t nmemb, void *opaque)
{
    struct answer *a = opaque;
    size_t len = size * nmemb, n = 0;

    if (len < 3 || (data[0] != '4' && data[0] != '5'))
        return len;
    for (size_t i = 0; i < len && n < ANSWER_MAX; i++) {
        unsigned char c = (unsigned char)data[i];
        if (c == '\r' || c == '\n')
            break;
        a->line[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    a->line[n] = '\0';
    return len;
}

/* Overwrite every copy of secret in s with '*': a relay's answer is not ours to trust. */
static void scrub(char *s, const char *secret)
{
    size_t n;
    char *p;

    if (secret == NULL || secret[0] == '\0')
        return;
    n = strlen(secret);
    while ((p = strstr(s, secret)) != NULL)
        memset(p, '*', n);
}

int mail_send(const struct mail_relay *relay, const char *to, const char *subject, const char *body,
              struct err *err)
{
    struct answer ans = {.line = ""};
    struct reader rd = {0};
    struct curl_slist *rcpt = NULL;
    char *msg = NULL, *env_from = NULL, *env_to = NULL;
    CURL *c = NULL;
    CURLcode rc = CURLE_OK;
    long code = 0;
    int ret = -1;

    if (to == NULL || to[0] == '\0' || has_crlf(to))
        return err_set(err, ERR_BADPARAM, "email: invalid recipient");
    /* One plain address: no display name, no list, nothing curl would read as syntax. */
    if (has_control(to) || strpbrk(to, " <>,;\"") != NULL)
        return err_set(err, ERR_BADPARAM, "email: invalid recipient");
    if (subject == NULL || has_crlf(subject))
        return err_set(err, ERR_BADPARAM, "email: invalid subject");
    if (relay == NULL || relay->url == NULL || relay->from == NULL || has_control(relay->from))
        return err_set(err, ERR_INTERNAL, "email: relay not configured");
    msg = mail_build(relay->from, to, subject, body != NULL ? body : "");
    rd.data = msg;
    rd.len = strlen(msg);
    env_from = xasprintf("<%s>", relay->from);
    env_to = xasprintf("<%s>", to);
    rcpt = curl_slist_append(NULL, env_to);
    c = curl_easy_init();
    if (rcpt == NULL || c == NULL) {
        err_set(err, ERR_INTERNAL, "cannot set up the email");
        goto out;
    }
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(c, opt, val);                                                    \
    } while (0)
    SET(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    SET(CURLOPT_URL, relay->url);
    SET(CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
    if (mail_tls_insecure) {
        SET(CURLOPT_SSL_VERIFYPEER, 0L);
        SET(CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (relay->user != NULL) {
        SET(CURLOPT_USERNAME, relay->user);
        SET(CURLOPT_PASSWORD, relay->password != NULL ? relay->password : "");
    }
    SET(CURLOPT_MAIL_FROM, env_from);
    SET(CURLOPT_MAIL_RCPT, rcpt);
    SET(CURLOPT_UPLOAD, 1L);
    SET(CURLOPT_READFUNCTION, read_message);
    SET(CURLOPT_READDATA, &rd);
    SET(CURLOPT_HEADERFUNCTION, on_reply);
    SET(CURLOPT_HEADERDATA, &ans);
    SET(CURLOPT_TIMEOUT, 30L);
    SET(CURLOPT_CONNECTTIMEOUT, 10L);
    SET(CURLOPT_NOSIGNAL, 1L);
    /* The relay is trusted but an http_proxy in the environment is not. */
    SET(CURLOPT_PROXY, "");
    SET(CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
#undef SET
    if (rc != CURLE_OK) {
        err_set(err, ERR_INTERNAL, "cannot set up the email");
        goto out;
    }
    rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        scrub(ans.line, relay->password);
        if (code >= 400 && ans.line[0] != '\0')
            err_set(err, ERR_CONVERT, "email: %s", ans.line);
        else
            err_set(err, ERR_CONVERT, "email: %s", curl_easy_strerror(rc));
        goto out;
    }
    ret = 0;
out:
    if (c != NULL)
        curl_easy_cleanup(c);
    curl_slist_free_all(rcpt);
    free(env_to);
    free(env_from);
    free(msg);
    return ret;
}
