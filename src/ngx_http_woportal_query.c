
/*
 * The query string of GET / (CONTRACT-NOTES "Lists"): page, per_page,
 * sort, the filters; percent-decoded, '+' a space; a bad value, or a
 * scalar given twice, is one detail of a 400 invalid_parameter each.
 * Unknown parameters are ignored.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_entry.h"
#include "ngx_http_woportal_id.h"
#include "ngx_http_woportal_query.h"


#define NGX_HTTP_WOPORTAL_PAGE_MAX       2147483647


static ngx_int_t ngx_http_woportal_query_param(ngx_http_woportal_query_t *q,
    ngx_uint_t param, ngx_str_t *value, ngx_http_woportal_error_t *err);
static ngx_uint_t ngx_http_woportal_query_name(ngx_str_t *name);
static ngx_int_t ngx_http_woportal_query_bad(ngx_http_woportal_query_t *q,
    ngx_uint_t param, char *message, ngx_http_woportal_error_t *err);
static ngx_int_t ngx_http_woportal_query_sort(ngx_http_woportal_query_t *q,
    ngx_str_t *value);
static uint64_t ngx_http_woportal_query_number(ngx_str_t *value,
    uint64_t max);
static ngx_int_t ngx_http_woportal_query_unescape(ngx_pool_t *pool, u_char *p,
    size_t len, ngx_str_t *out);


static ngx_str_t  ngx_http_woportal_query_params[] = {
    ngx_string("page"),
    ngx_string("per_page"),
    ngx_string("sort"),
    ngx_string("status"),
    ngx_string("workorder"),
    ngx_string("client"),
    ngx_string("company_namespace"),
    ngx_string("_id")
};


/* page and per_page, by ngx_http_woportal_param_e: 1 to max */
static struct {
    uint64_t                      max;
    char                         *message;
} ngx_http_woportal_query_ranges[] = {
    { NGX_HTTP_WOPORTAL_PAGE_MAX,
      "must be an integer from 1 to 2147483647" },
    { NGX_HTTP_WOPORTAL_PER_PAGE_MAX,
      "must be an integer from 1 to 100" }
};


/* the fields a list sorts on, by name */
static struct {
    ngx_str_t                     name;
    ngx_uint_t                    field;
} ngx_http_woportal_query_sort_fields[] = {
    { ngx_string("created_at"), NGX_HTTP_WOPORTAL_F_CREATED_AT },
    { ngx_string("updated_at"), NGX_HTTP_WOPORTAL_F_UPDATED_AT },
    { ngx_string("status"), NGX_HTTP_WOPORTAL_F_STATUS },
    { ngx_string("workorder"), NGX_HTTP_WOPORTAL_F_WORKORDER },
    { ngx_string("client"), NGX_HTTP_WOPORTAL_F_CLIENT },
    { ngx_string("expiry_date"), NGX_HTTP_WOPORTAL_F_EXPIRY_DATE },
    { ngx_string("access_level"), NGX_HTTP_WOPORTAL_F_ACCESS_LEVEL },
    { ngx_string("_id"), NGX_HTTP_WOPORTAL_F_ID },
    { ngx_null_string, 0 }
};


/*
 * NGX_OK; NGX_DECLINED with err set to the 400 answer, one detail per
 * refused parameter; NGX_ERROR.
 */

ngx_int_t
ngx_http_woportal_list_query(ngx_pool_t *pool, ngx_str_t *args,
    ngx_http_woportal_query_t *q, ngx_http_woportal_error_t *err)
{
    u_char      *p, *last, *end, *eq;
    ngx_str_t    name, value;
    ngx_uint_t   param;

    q->page = 1;
    q->per_page = NGX_HTTP_WOPORTAL_PER_PAGE;
    q->status = -1;

    if (ngx_array_init(&q->namespaces, pool, 2, sizeof(ngx_str_t))
        != NGX_OK
        || ngx_array_init(&q->ids, pool, 2, NGX_HTTP_WOPORTAL_ID_LEN / 2)
           != NGX_OK
        || ngx_array_init(&err->details, pool, 2,
                          sizeof(ngx_http_woportal_detail_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = args->data;
    /* no query string: args->data is NULL */
    last = args->len ? p + args->len : p;

    for ( /* void */ ; p < last; p = end + 1) {

        end = ngx_strlchr(p, last, '&');
        if (end == NULL) {
            end = last;
        }

        if (end == p) {
            continue;
        }

        eq = ngx_strlchr(p, end, '=');

        /* a name that does not decode is no parameter of ours */

        if (ngx_http_woportal_query_unescape(pool, p, (eq ? eq : end) - p,
                                             &name)
            != NGX_OK)
        {
            continue;
        }

        param = ngx_http_woportal_query_name(&name);

        if (param == NGX_HTTP_WOPORTAL_Q_NONE) {
            continue;
        }

        if (eq == NULL) {
            ngx_str_set(&value, "");

        } else if (ngx_http_woportal_query_unescape(pool, eq + 1, end - eq - 1,
                                                    &value)
                   != NGX_OK)
        {
            if (ngx_http_woportal_query_bad(q, param,
                                            "has a malformed percent-encoding",
                                            err)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            continue;
        }

        if (ngx_http_woportal_query_param(q, param, &value, err) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (q->bad) {
        err->status = NGX_HTTP_BAD_REQUEST;
        err->code = NGX_HTTP_WOPORTAL_E_INVALID_PARAMETER;
        ngx_str_set(&err->message, "invalid query parameter");
        return NGX_DECLINED;
    }

    if (q->nsort == 0) {
        q->sort[0].field = NGX_HTTP_WOPORTAL_F_CREATED_AT;
        q->sort[0].desc = 1;
        q->nsort = 1;
    }

    /* ties: by _id */
    q->sort[q->nsort].field = NGX_HTTP_WOPORTAL_F_ID;
    q->sort[q->nsort].desc = 0;
    q->nsort++;

    return NGX_OK;
}


static ngx_int_t
ngx_http_woportal_query_param(ngx_http_woportal_query_t *q, ngx_uint_t param,
    ngx_str_t *value, ngx_http_woportal_error_t *err)
{
    u_char      *id;
    uint64_t    *n;
    ngx_str_t   *ns;
    ngx_uint_t   bit;

    bit = (ngx_uint_t) 1 << param;

    if (q->bad & bit) {
        return NGX_OK;
    }

    if ((q->given & bit) && !(bit & NGX_HTTP_WOPORTAL_Q_REPEATABLE)) {
        return ngx_http_woportal_query_bad(q, param, "is given more than once",
                                           err);
    }

    q->given |= bit;

    switch (param) {

    case NGX_HTTP_WOPORTAL_Q_PAGE:
    case NGX_HTTP_WOPORTAL_Q_PER_PAGE:
        n = (param == NGX_HTTP_WOPORTAL_Q_PAGE) ? &q->page : &q->per_page;

        *n = ngx_http_woportal_query_number(value,
                                     ngx_http_woportal_query_ranges[param].max);
        if (*n == 0) {
            return ngx_http_woportal_query_bad(q, param,
                              ngx_http_woportal_query_ranges[param].message,
                              err);
        }

        break;

    case NGX_HTTP_WOPORTAL_Q_SORT:
        if (ngx_http_woportal_query_sort(q, value) != NGX_OK) {
            return ngx_http_woportal_query_bad(q, param,
                       "must be up to 16 comma-separated fields, each "
                       "optionally preceded by '-', of created_at, "
                       "updated_at, status, workorder, client, expiry_date, "
                       "access_level, _id", err);
        }

        break;

    case NGX_HTTP_WOPORTAL_Q_STATUS:
        q->status = ngx_http_woportal_enum(ngx_http_woportal_statuses,
                                           value->data, value->len);
        if (q->status == NGX_ERROR) {
            return ngx_http_woportal_query_bad(q, param,
                                           "must be one of pending, "
                                           "in_progress, completed, cancelled",
                                           err);
        }

        break;

    case NGX_HTTP_WOPORTAL_Q_WORKORDER:
        q->workorder = *value;
        break;

    case NGX_HTTP_WOPORTAL_Q_CLIENT:
        q->client = *value;
        break;

    case NGX_HTTP_WOPORTAL_Q_NAMESPACE:
        if (q->namespaces.nelts == NGX_HTTP_WOPORTAL_FILTER_MAX) {
            return ngx_http_woportal_query_bad(q, param,
                                               "takes at most 100 values",
                                               err);
        }

        ns = ngx_array_push(&q->namespaces);
        if (ns == NULL) {
            return NGX_ERROR;
        }

        *ns = *value;
        break;

    default: /* NGX_HTTP_WOPORTAL_Q_ID */
        if (q->nids++ == NGX_HTTP_WOPORTAL_FILTER_MAX) {
            return ngx_http_woportal_query_bad(q, param,
                                               "takes at most 100 values",
                                               err);
        }

        /* a value that is no id matches nothing */

        if (!ngx_http_woportal_id_valid(value)) {
            break;
        }

        id = ngx_array_push(&q->ids);
        if (id == NULL) {
            return NGX_ERROR;
        }

        (void) ngx_http_woportal_hex_decode(id, value->data, value->len);
        break;
    }

    return NGX_OK;
}


static ngx_uint_t
ngx_http_woportal_query_name(ngx_str_t *name)
{
    size_t      len;
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_WOPORTAL_Q_NONE; i++) {
        len = ngx_http_woportal_query_params[i].len;

        if (ngx_strncmp(name->data, ngx_http_woportal_query_params[i].data,
                        ngx_min(len, name->len))
            != 0)
        {
            continue;
        }

        if (name->len == len
            || (name->len == len + 2
                && ((ngx_uint_t) 1 << i) & NGX_HTTP_WOPORTAL_Q_REPEATABLE
                && name->data[len] == '[' && name->data[len + 1] == ']'))
        {
            return i;
        }
    }

    return NGX_HTTP_WOPORTAL_Q_NONE;
}


/* one detail per refused parameter */

static ngx_int_t
ngx_http_woportal_query_bad(ngx_http_woportal_query_t *q, ngx_uint_t param,
    char *message, ngx_http_woportal_error_t *err)
{
    ngx_http_woportal_detail_t  *d;

    if (q->bad & ((ngx_uint_t) 1 << param)) {
        return NGX_OK;
    }

    q->bad |= (ngx_uint_t) 1 << param;

    d = ngx_array_push(&err->details);
    if (d == NULL) {
        return NGX_ERROR;
    }

    d->field = ngx_http_woportal_query_params[param];
    d->message.data = (u_char *) message;
    d->message.len = ngx_strlen(message);

    return NGX_OK;
}


static ngx_int_t
ngx_http_woportal_query_sort(ngx_http_woportal_query_t *q, ngx_str_t *value)
{
    u_char      *p, *last, *end;
    ngx_str_t   *name;
    ngx_uint_t   i, desc;

    p = value->data;
    last = p + value->len;

    for ( ;; ) {
        end = ngx_strlchr(p, last, ',');
        if (end == NULL) {
            end = last;
        }

        desc = 0;

        if (p < end && *p == '-') {
            desc = 1;
            p++;
        }

        for (i = 0; ngx_http_woportal_query_sort_fields[i].name.len; i++) {
            name = &ngx_http_woportal_query_sort_fields[i].name;

            if ((size_t) (end - p) == name->len
                && ngx_strncmp(p, name->data, end - p) == 0)
            {
                break;
            }
        }

        if (ngx_http_woportal_query_sort_fields[i].name.len == 0
            || q->nsort == NGX_HTTP_WOPORTAL_SORT_MAX)
        {
            return NGX_ERROR;
        }

        q->sort[q->nsort].field = (u_char)
                                  ngx_http_woportal_query_sort_fields[i].field;
        q->sort[q->nsort].desc = (u_char) desc;
        q->nsort++;

        if (end == last) {
            return NGX_OK;
        }

        p = end + 1;
    }
}


/* plain decimal digits, 1 to max; 0 for anything else */

static uint64_t
ngx_http_woportal_query_number(ngx_str_t *value, uint64_t max)
{
    size_t    i;
    uint64_t  n;

    if (value->len == 0) {
        return 0;
    }

    n = 0;

    for (i = 0; i < value->len; i++) {
        if (value->data[i] < '0' || value->data[i] > '9') {
            return 0;
        }

        n = n * 10 + (value->data[i] - '0');

        if (n > max) {
            return 0;
        }
    }

    return n;
}


/* percent-decoding, '+' a space: NGX_OK, or NGX_DECLINED when malformed */

static ngx_int_t
ngx_http_woportal_query_unescape(ngx_pool_t *pool, u_char *p, size_t len,
    ngx_str_t *out)
{
    u_char  *d, *last, c, h, l;

    out->data = ngx_pnalloc(pool, len ? len : 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    d = out->data;

    for (last = p + len; p < last; p++) {

        if (*p == '+') {
            *d++ = ' ';
            continue;
        }

        if (*p != '%') {
            *d++ = *p;
            continue;
        }

        if (last - p < 3) {
            return NGX_DECLINED;
        }

        h = (u_char) (p[1] | 0x20);
        l = (u_char) (p[2] | 0x20);

        if (h >= '0' && h <= '9') {
            c = (u_char) (h - '0');

        } else if (h >= 'a' && h <= 'f') {
            c = (u_char) (h - 'a' + 10);

        } else {
            return NGX_DECLINED;
        }

        if (l >= '0' && l <= '9') {
            c = (u_char) (c * 16 + l - '0');

        } else if (l >= 'a' && l <= 'f') {
            c = (u_char) (c * 16 + l - 'a' + 10);

        } else {
            return NGX_DECLINED;
        }

        *d++ = c;
        p += 2;
    }

    out->len = d - out->data;

    return NGX_OK;
}
