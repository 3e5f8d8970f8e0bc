/* trailkeep service routes for alerting (route_alerts.c): /v1/alert-rules,
 * /v1/alerts, /v1/users, /v1/user-groups. They are switched on by serve with
 * tk_http_enable_alerts() so that tk_http itself does not depend on tk_alert
 * (only binaries that link the alerting module serve these routes; others
 * answer 404 for them). */
#ifndef TK_HTTP_ROUTE_ALERTS_H
#define TK_HTTP_ROUTE_ALERTS_H

void tk_http_enable_alerts(void);

#endif
