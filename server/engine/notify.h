/* SPDX-License-Identifier: MIT */
/* notify.h - email=true notifications: one background thread sends them through the
 * --smtp-url relay (storage/mail.h), so no HTTP or engine thread ever waits on SMTP. */
#ifndef CONVERTD_SERVER_ENGINE_NOTIFY_H
#define CONVERTD_SERVER_ENGINE_NOTIFY_H

struct config;

/* Start the sender thread with the relay of cfg (smtp_url, smtp_user, smtp_password,
 * smtp_from; copied). Without smtp_url no thread is started and notify_email() drops
 * messages. Call once, after curl_global_init(). */
void notify_email_start(const struct config *cfg);

/* Send what is still queued for up to 5 s, then stop the thread. Whatever is left (and a send
 * still waiting on a slow relay) is dropped with a warning. */
void notify_email_stop(void);

/* Queue the message for a process that reached its final step and return at once. step is
 * "finished" or "error"; message (the error text) is shown when failed; download_url is the
 * absolute output URL shown when finished ("//host/..." gets "http:"), or NULL. Up to 3
 * attempts 5 s apart; a full queue (1000) or a missing --smtp-url drops it with a warning. */
void notify_email(const char *to, const char *process_id, const char *step, const char *message,
                  const char *download_url);

#endif
