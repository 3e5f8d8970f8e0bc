// trailkeep event internals: the only C++ in trailkeep. Wraps simdjson's DOM
// parser (full validation, ~2.5 GB/s) behind the C interface of json.h, so the
// rest of the system stays C. Error codes only: no exception leaves this file
// (simdjson's error-code API is used throughout, allocation is guarded).
#include "event/json.h"

#include <cstring>
#include <new>
#include <type_traits>
#include <simdjson.h>

using simdjson::dom::element;

static_assert(sizeof(element) == sizeof(tk_jv_t), "tk_jv_t must mirror simdjson::dom::element");
static_assert(simdjson::SIMDJSON_PADDING == TK_JSON_PADDING, "TK_JSON_PADDING must match simdjson");

struct tk_jparser {
    simdjson::dom::parser p;
};

static inline element to_el(tk_jv_t v)
{
    element e;
    static_assert(std::is_trivially_copyable<element>::value, "element is copied bytewise");
    std::memcpy(static_cast<void *>(&e), &v, sizeof e);
    return e;
}

static inline tk_jv_t from_el(const element &e)
{
    tk_jv_t v;
    std::memcpy(&v, static_cast<const void *>(&e), sizeof v);
    return v;
}

extern "C" {

tk_jparser_t *tk_jparser_create(void)
{
    return new (std::nothrow) tk_jparser();
}

void tk_jparser_destroy(tk_jparser_t *jp)
{
    delete jp;
}

int tk_jparse(tk_jparser_t *jp, const char *p, size_t len, int padded, tk_jv_t *root)
{
    element e;
    auto err = jp->p.parse(p, len, !padded).get(e);
    if (err)
        return (int)err;
    *root = from_el(e);
    return 0;
}

const char *tk_jerr_message(int code)
{
    switch ((simdjson::error_code)code) {
    case simdjson::TAPE_ERROR:
    case simdjson::INCOMPLETE_ARRAY_OR_OBJECT:
        return "malformed or incomplete JSON (a missing or extra bracket, comma or colon)";
    case simdjson::UNCLOSED_STRING:
        return "a string is not closed";
    case simdjson::EMPTY:
        return "no JSON value found";
    case simdjson::TRAILING_CONTENT:
        return "unexpected content after the JSON value";
    default:
        return simdjson::error_message((simdjson::error_code)code);
    }
}

int tk_jerr_is_utf8(int code)
{
    return code == simdjson::UTF8_ERROR;
}

int tk_jerr_is_nomem(int code)
{
    return code == simdjson::MEMALLOC;
}

static inline tk_jtype_t jtype(const element &e)
{
    switch (e.type()) {
    case simdjson::dom::element_type::OBJECT: return TK_J_OBJECT;
    case simdjson::dom::element_type::ARRAY: return TK_J_ARRAY;
    case simdjson::dom::element_type::STRING: return TK_J_STRING;
    case simdjson::dom::element_type::INT64: return TK_J_INT;
    case simdjson::dom::element_type::UINT64: return TK_J_UINT;
    case simdjson::dom::element_type::DOUBLE: return TK_J_DOUBLE;
    case simdjson::dom::element_type::BOOL: return TK_J_BOOL;
    case simdjson::dom::element_type::NULL_VALUE: return TK_J_NULL;
    }
    return TK_J_NONE;
}

tk_jtype_t tk_jtype(tk_jv_t v)
{
    return jtype(to_el(v));
}

size_t tk_jobject(tk_jv_t obj, tk_jmember_t *out, size_t max)
{
    simdjson::dom::object o;
    if (to_el(obj).get_object().get(o))
        return 0;
    size_t n = 0;
    for (auto field : o) {
        if (n < max) {
            tk_jmember_t *m = &out[n];
            m->key = field.key.data();
            m->klen = (uint32_t)field.key.size();
            m->type = jtype(field.value);
            if (m->type == TK_J_STRING) {
                std::string_view sv;
                if (field.value.get_string().get(sv))
                    sv = std::string_view();
                m->s = sv.data();
                m->slen = (uint32_t)sv.size();
            } else {
                m->s = nullptr;
                m->slen = 0;
            }
            m->val = from_el(field.value);
        }
        n++;
    }
    return n;
}

size_t tk_jarray(tk_jv_t arr, tk_jv_t *out, size_t max)
{
    simdjson::dom::array a;
    if (to_el(arr).get_array().get(a))
        return 0;
    size_t n = 0;
    for (element e : a) {
        if (n < max)
            out[n] = from_el(e);
        n++;
    }
    return n;
}

int tk_jstring(tk_jv_t v, const char **p, uint32_t *len)
{
    std::string_view s;
    if (to_el(v).get_string().get(s))
        return -1;
    *p = s.data();
    *len = (uint32_t)s.size();
    return 0;
}

int tk_jbool(tk_jv_t v, int *b)
{
    bool x;
    if (to_el(v).get_bool().get(x))
        return -1;
    *b = x;
    return 0;
}

} // extern "C"
