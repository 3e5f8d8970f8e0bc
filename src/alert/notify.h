/* trailkeep notification channels: plugins that deliver one outbox row to one
 * user. Each is a const table {name, send}; webhook (libcurl POST with an
 * HMAC-SHA256 signature header; generic, DingTalk or Slack body) and email
 * (libcurl SMTP, optional STARTTLS and auth). Sending is synchronous and
 * bounded by timeout_s; the caller (the sender thread) owns retries. */
#ifndef TK_ALERT_NOTIFY_H
#define TK_ALERT_NOTIFY_H

#include "alert/alert_store.h"

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

#endif
