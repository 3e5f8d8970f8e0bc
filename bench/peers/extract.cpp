/* bench peers: the simdjson side of extract.h. One DOM parse per event (full
 * validation, like trailkeep's ingest), then a single pass over the top-level
 * and userIdentity fields; strings are views into the parser's buffers. */
#include "extract.h"

#include <simdjson.h>

#include <cstdio>
#include <cstring>
#include <new>
#include <string_view>

struct bx_parser {
    simdjson::dom::parser dom;
};

extern "C" const char *const bx_col_names[BX_NCOLS] = {
    "account", "event_id", "service_name", "event_name", "user_name", "resource_type",
    "resource_name", "event_rw", "access_key_id", "source_ip", "event_type", "role_name",
    "event_source"};

extern "C" bx_parser *bx_parser_new(void)
{
    return new (std::nothrow) bx_parser();
}

extern "C" void bx_parser_free(bx_parser *p)
{
    delete p;
}

extern "C" size_t bx_padding(void)
{
    return simdjson::SIMDJSON_PADDING;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

extern "C" int bx_parse_time(const char *s, size_t n, int64_t *ms)
{
    int y, mo, d, h, mi, se, frac = 0;
    if (n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' ||
        s[16] != ':')
        return -1;
    if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
        digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &se))
        return -1;
    size_t i = 19;
    if (i < n && s[i] == '.') {
        int scale = 100;
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, scale /= 10)
            frac += (s[i] - '0') * scale;
    }
    int64_t off = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i + 6 == n && (s[i] == '+' || s[i] == '-')) {
        int oh, om;
        if (digits(s + i + 1, 2, &oh) || s[i + 3] != ':' || digits(s + i + 4, 2, &om))
            return -1;
        off = (int64_t)(oh * 60 + om) * 60000 * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return -1;
    }
    if (i != n || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return -1;
    *ms = ((days_from_civil(y, (unsigned)mo, (unsigned)d) * 24 + h) * 60 + mi) * 60000LL +
          se * 1000LL + frac - off;
    return 0;
}

static void put(bx_str *dst, simdjson::dom::element v)
{
    std::string_view sv;
    if (v.get_string().get(sv) == simdjson::SUCCESS) {
        dst->p = sv.data();
        dst->n = sv.size();
    }
}

static void user_identity(simdjson::dom::object ui, bx_row *row, bx_str *ui_account)
{
    for (auto field : ui) {
        std::string_view k = field.key;
        if (k == "userName")
            put(&row->col[BX_USER], field.value);
        else if (k == "accessKeyId")
            put(&row->col[BX_ACCESS_KEY], field.value);
        else if (k == "accountId")
            put(ui_account, field.value);
        else if (k == "sessionContext") {
            simdjson::dom::element issuer;
            if (field.value.at_pointer("/sessionIssuer/userName").get(issuer) == simdjson::SUCCESS)
                put(&row->col[BX_ROLE_NAME], issuer);
        }
    }
}

extern "C" int bx_extract(bx_parser *p, const char *line, size_t len, bx_row *row, char *err)
{
    static const char empty[1] = {0};
    for (int i = 0; i < BX_NCOLS; i++)
        row->col[i] = bx_str{empty, 0};
    row->time_ms = 0;
    row->sensitive = 0;
    simdjson::dom::element doc;
    auto e = p->dom.parse(reinterpret_cast<const uint8_t *>(line), len, false).get(doc);
    if (e) {
        snprintf(err, 256, "invalid JSON: %s", simdjson::error_message(e));
        return -1;
    }
    simdjson::dom::object obj;
    if (doc.get_object().get(obj)) {
        snprintf(err, 256, "event is not a JSON object");
        return -1;
    }
    bx_str time_s{nullptr, 0}, ui_account{empty, 0};
    for (auto field : obj) {
        std::string_view k = field.key;
        switch (k.size() ? k[0] : 0) {
        case 'e':
            if (k == "eventTime")
                put(&time_s, field.value);
            else if (k == "eventId")
                put(&row->col[BX_EVENT_ID], field.value);
            else if (k == "eventName")
                put(&row->col[BX_EVENT_NAME], field.value);
            else if (k == "eventRW")
                put(&row->col[BX_EVENT_RW], field.value);
            else if (k == "eventType")
                put(&row->col[BX_EVENT_TYPE], field.value);
            else if (k == "eventSource")
                put(&row->col[BX_EVENT_SOURCE], field.value);
            break;
        case 'r':
            if (k == "recipientAccountId")
                put(&row->col[BX_ACCOUNT], field.value);
            else if (k == "resourceType")
                put(&row->col[BX_RES_TYPE], field.value);
            else if (k == "resourceName")
                put(&row->col[BX_RES_NAME], field.value);
            break;
        case 's':
            if (k == "serviceName")
                put(&row->col[BX_SERVICE], field.value);
            else if (k == "sourceIpAddress")
                put(&row->col[BX_SOURCE_IP], field.value);
            else if (k == "sensitiveAction") {
                bool b = false;
                if (field.value.get_bool().get(b) == simdjson::SUCCESS)
                    row->sensitive = b;
            }
            break;
        case 'u':
            if (k == "userIdentity") {
                simdjson::dom::object ui;
                if (field.value.get_object().get(ui) == simdjson::SUCCESS)
                    user_identity(ui, row, &ui_account);
            }
            break;
        default:
            break;
        }
    }
    if (!time_s.p || bx_parse_time(time_s.p, time_s.n, &row->time_ms)) {
        snprintf(err, 256, "missing or invalid eventTime");
        return -1;
    }
    if (!row->col[BX_ACCOUNT].n)
        row->col[BX_ACCOUNT] = ui_account;
    if (!row->col[BX_ACCOUNT].n) {
        snprintf(err, 256, "no recipientAccountId or userIdentity.accountId");
        return -1;
    }
    return 0;
}
