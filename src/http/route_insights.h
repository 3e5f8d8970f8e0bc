/* trailkeep service routes for Insights (route_insights.c): GET /v1/insights
 * (the stored Insights records of an account, filtered and paged like
 * /v1/lookup) and GET|PUT /v1/insights/settings (per-account enabled types,
 * sensitivity and knob overrides). Switched on by serve with
 * tk_http_enable_insights() so that tk_http itself does not depend on
 * tk_insight (binaries that do not call it answer 404 for these routes). */
#ifndef TK_HTTP_ROUTE_INSIGHTS_H
#define TK_HTTP_ROUTE_INSIGHTS_H

void tk_http_enable_insights(void);

#endif
