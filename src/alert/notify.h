/* trailkeep notification channels: plugins that deliver one outbox row to one
 * user. Each is a const table {name, send}; webhook (libcurl POST with an
 * HMAC-SHA256 signature header; generic, DingTalk or Slack body) and email
 * (libcurl SMTP, optional STARTTLS and auth). Sending is synchronous and
 * bounded by timeout_s; the caller (the sender thread) owns retries. */
#ifndef TK_ALERT_NOTIFY_H
#define TK_ALERT_NOTIFY_H

#include "alert/alert_store.h"
#include "base/buf.h"

typedef struct tk_notify_cfg {
    const char *smtp_url;      /* "smtp://host:port" or "smtps://..."; NULL: email disabled */
    const char *smtp_from;     /* envelope and header From (default trailkeep@localhost) */
    const char *smtp_user;     /* NULL: no auth */
    const char *smtp_password;
    int smtp_starttls;         /* 1: require STARTTLS on smtp:// */
    const char *smtp_ca;       /* PEM CA bundle to verify the server with; NULL: system CAs */
    int timeout_s;             /* per attempt (default 10) */
} tk_notify_cfg_t;

typedef struct tk_channel {
    const char *name; /* "webhook", "email" */
    /* 1 when the user has an address for this channel. */
    int (*applies)(const tk_alert_user_t *u);
    /* Delivers payload (the alert JSON) of kind (fire|repeat|recovery). 0 or
     * TK_EIO / TK_EINVAL with err saying what failed (HTTP status, SMTP reply). */
    int (*send)(const tk_notify_cfg_t *cfg, const tk_alert_user_t *u, const char *kind,
                const char *payload, char *err);
} tk_channel_t;

extern const tk_channel_t tk_channel_webhook;
extern const tk_channel_t tk_channel_email;
/* NULL-terminated list of all channels. */
const tk_channel_t *const *tk_channels(void);
const tk_channel_t *tk_channel_find(const char *name);

/* Webhook body for a shape ("generic" = the payload itself, "dingtalk",
 * "slack"). Returns an owned string or NULL on ENOMEM / bad payload. */
char *tk_webhook_body(const char *shape, const char *kind, const char *payload);
/* Hex HMAC-SHA256 of body with secret into out (65 bytes). */
void tk_webhook_sign(const char *secret, const char *body, size_t n, char out[65]);

/* Checks an email address as an RFC 5321 mailbox: Dot-string local part
 * (atext and dots, at most 64 bytes) "@" a domain of letter/digit/hyphen
 * labels or an address literal "[...]", at most 254 bytes in all; ASCII
 * only, no quoted local parts, no control characters or blanks, so an
 * address can go into MAIL/RCPT and a header as it is. what names the field
 * in the message. 0 or TK_EINVAL saying what is wrong and where. */
int tk_email_check(const char *what, const char *addr, char *err);
/* Appends "Name: value\r\n": value as it is when it is printable ASCII, else
 * as RFC 2047 UTF-8 B encoded words of at most 75 characters on folded
 * lines; control characters become spaces either way. 0 or TK_ENOMEM. */
int tk_mail_header(tk_buf_t *b, const char *name, const char *value);

#endif
