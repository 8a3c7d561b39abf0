
/*
 * Decoding JSON documents into the typed entry, with yajl's callback
 * parser: request bodies (create, update, status) and stored entries.
 *
 * Not yajl_tree_parse(): its depth is unbounded and it leaked on bad
 * input (CVE-2023-33460).  Here every container counts against
 * NGX_HTTP_WOPORTAL_MAX_DEPTH, and all memory comes from the pool.
 *
 * Syntax errors stop the parse (400 invalid_json).  Validation errors do
 * not: they are collected, one detail per offending field, while the
 * rest of the document is still checked for syntax.
 *
 * Free-form objects are captured by replaying their events into a
 * yajl_gen: the stored form is compact JSON, with numbers kept as the
 * digits that were sent (the number callback never converts them).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <yajl/yajl_parse.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_decode.h"
#include "ngx_http_woportal_encode.h"
#include "ngx_http_woportal_entry.h"
#include "ngx_http_woportal_id.h"


typedef enum {
    NGX_HTTP_WOPORTAL_T_REF = 0,
    NGX_HTTP_WOPORTAL_T_STATUS,
    NGX_HTTP_WOPORTAL_T_ACCESS,
    NGX_HTTP_WOPORTAL_T_ACTIONS,
    NGX_HTTP_WOPORTAL_T_EXPIRY,
    NGX_HTTP_WOPORTAL_T_FREE,
    NGX_HTTP_WOPORTAL_T_NAMESPACES,
    NGX_HTTP_WOPORTAL_T_BOOL,
    NGX_HTTP_WOPORTAL_T_NOTES,
    NGX_HTTP_WOPORTAL_T_ID,
    NGX_HTTP_WOPORTAL_T_HISTORY,
    NGX_HTTP_WOPORTAL_T_STAMP,
    NGX_HTTP_WOPORTAL_T_VERSION
} ngx_http_woportal_type_e;


typedef enum {
    NGX_HTTP_WOPORTAL_J_NULL = 0,
    NGX_HTTP_WOPORTAL_J_BOOL,
    NGX_HTTP_WOPORTAL_J_NUMBER,
    NGX_HTTP_WOPORTAL_J_STRING
} ngx_http_woportal_json_e;


typedef struct {
    ngx_str_t                    name;
    ngx_http_woportal_type_e     type;
    ngx_uint_t                   docs;      /* 1 << doc, where allowed */
} ngx_http_woportal_field_t;


#define NGX_HTTP_WOPORTAL_C   (1 << NGX_HTTP_WOPORTAL_DOC_CREATE)
#define NGX_HTTP_WOPORTAL_U   (1 << NGX_HTTP_WOPORTAL_DOC_UPDATE)
#define NGX_HTTP_WOPORTAL_S   (1 << NGX_HTTP_WOPORTAL_DOC_STATUS)
#define NGX_HTTP_WOPORTAL_D   (1 << NGX_HTTP_WOPORTAL_DOC_STORED)

#define NGX_HTTP_WOPORTAL_NO_FIELD    NGX_HTTP_WOPORTAL_F_COUNT
#define NGX_HTTP_WOPORTAL_SKIP_FIELD  (NGX_HTTP_WOPORTAL_F_COUNT + 1)

#define ngx_http_woportal_bit(f)      ((uint32_t) 1 << (f))


/* in the order of ngx_http_woportal_field_e */

static ngx_http_woportal_field_t  ngx_http_woportal_decode_fields[] = {

    { ngx_string("_id"), NGX_HTTP_WOPORTAL_T_ID,
      NGX_HTTP_WOPORTAL_D },

    { ngx_string("workorder"), NGX_HTTP_WOPORTAL_T_REF,
      NGX_HTTP_WOPORTAL_C|NGX_HTTP_WOPORTAL_D },

    { ngx_string("client"), NGX_HTTP_WOPORTAL_T_REF,
      NGX_HTTP_WOPORTAL_C|NGX_HTTP_WOPORTAL_D },

    { ngx_string("status"), NGX_HTTP_WOPORTAL_T_STATUS,
      NGX_HTTP_WOPORTAL_U|NGX_HTTP_WOPORTAL_S|NGX_HTTP_WOPORTAL_D },

    { ngx_string("access_level"), NGX_HTTP_WOPORTAL_T_ACCESS,
      NGX_HTTP_WOPORTAL_C|NGX_HTTP_WOPORTAL_U|NGX_HTTP_WOPORTAL_D },

    { ngx_string("allowed_actions"), NGX_HTTP_WOPORTAL_T_ACTIONS,
      NGX_HTTP_WOPORTAL_C|NGX_HTTP_WOPORTAL_U|NGX_HTTP_WOPORTAL_D },

    { ngx_string("expiry_date"), NGX_HTTP_WOPORTAL_T_EXPIRY,
      NGX_HTTP_WOPORTAL_C|NGX_HTTP_WOPORTAL_U|NGX_HTTP_WOPORTAL_D },

    { ngx_string("notifications"), NGX_HTTP_WOPORTAL_T_FREE,
      NGX_HTTP_WOPORTAL_C|NGX_HTTP_WOPORTAL_U|NGX_HTTP_WOPORTAL_D },

    { ngx_string("portal_settings"), NGX_HTTP_WOPORTAL_T_FREE,
      NGX_HTTP_WOPORTAL_C|NGX_HTTP_WOPORTAL_U|NGX_HTTP_WOPORTAL_D },

    { ngx_string("custom_branding"), NGX_HTTP_WOPORTAL_T_FREE,
      NGX_HTTP_WOPORTAL_C|NGX_HTTP_WOPORTAL_U|NGX_HTTP_WOPORTAL_D },

    { ngx_string("company_namespace"), NGX_HTTP_WOPORTAL_T_NAMESPACES,
      NGX_HTTP_WOPORTAL_C|NGX_HTTP_WOPORTAL_U|NGX_HTTP_WOPORTAL_D },

    { ngx_string("disabled"), NGX_HTTP_WOPORTAL_T_BOOL,
      NGX_HTTP_WOPORTAL_C|NGX_HTTP_WOPORTAL_U|NGX_HTTP_WOPORTAL_D },

    { ngx_string("status_history"), NGX_HTTP_WOPORTAL_T_HISTORY,
      NGX_HTTP_WOPORTAL_D },

    { ngx_string("created_at"), NGX_HTTP_WOPORTAL_T_STAMP,
      NGX_HTTP_WOPORTAL_D },

    { ngx_string("updated_at"), NGX_HTTP_WOPORTAL_T_STAMP,
      NGX_HTTP_WOPORTAL_D },

    { ngx_string("version"), NGX_HTTP_WOPORTAL_T_VERSION,
      NGX_HTTP_WOPORTAL_D },

    { ngx_string("notes"), NGX_HTTP_WOPORTAL_T_NOTES,
      NGX_HTTP_WOPORTAL_S }
};


/* what a value of each type must be, for details */

static char  *ngx_http_woportal_decode_expected[] = {
    "must be a string of 1 to 64 characters",
    "must be one of pending, in_progress, completed, cancelled",
    "must be one of view_only, comment, full_access",
    "must be an array of distinct actions",
    "must be an RFC 3339 date-time with a time zone offset",
    "must be a JSON object",
    "must be an array of at most 32 strings",
    "must be true or false",
    "must be a string of at most 2000 characters",
    "must be a 24-digit lowercase hex id",
    "must be an array of status changes",
    "must be an RFC 3339 date-time",
    "must be a positive integer"
};


/* the fields of a status_history item, in stored entries */

#define NGX_HTTP_WOPORTAL_CH_STATUS      0
#define NGX_HTTP_WOPORTAL_CH_NOTES       1
#define NGX_HTTP_WOPORTAL_CH_CHANGED_AT  2
#define NGX_HTTP_WOPORTAL_CH_NONE        3


typedef struct {
    ngx_pool_t                  *pool;
    ngx_http_woportal_doc_e      doc;
    ngx_http_woportal_entry_t   *entry;
    ngx_http_woportal_error_t   *err;

    ngx_uint_t                   depth;     /* open containers */
    ngx_uint_t                   field;     /* root field being read */
    ngx_uint_t                   index;     /* item of an array field */

    ngx_uint_t                   skip_to;   /* depth where skipping ends */

    yajl_gen                     gen;       /* free object capture */
    ngx_array_t                  keys[NGX_HTTP_WOPORTAL_FREE_MAX_DEPTH + 2];
    uint32_t                     arrays;    /* bit per depth: an array */

    ngx_http_woportal_change_t  *change;    /* status_history item */
    ngx_uint_t                   change_field;
    ngx_uint_t                   change_set;

    ngx_str_t                    reason;    /* why the syntax failed */

    unsigned                     skipping:1;
    unsigned                     in_array:1;
    unsigned                     not_object:1;
    unsigned                     too_deep:1;
    unsigned                     nomem:1;
} ngx_http_woportal_decoder_t;


static ngx_int_t ngx_http_woportal_decode_prescan(u_char *p, size_t len);
static int ngx_http_woportal_decode_null(void *ctx);
static int ngx_http_woportal_decode_boolean(void *ctx, int b);
static int ngx_http_woportal_decode_number(void *ctx, const char *s,
    size_t len);
static int ngx_http_woportal_decode_string(void *ctx, const unsigned char *s,
    size_t len);
static int ngx_http_woportal_decode_start_map(void *ctx);
static int ngx_http_woportal_decode_map_key(void *ctx, const unsigned char *s,
    size_t len);
static int ngx_http_woportal_decode_start_array(void *ctx);
static int ngx_http_woportal_decode_scalar(ngx_http_woportal_decoder_t *d,
    ngx_http_woportal_json_e type, u_char *s, size_t len);
static int ngx_http_woportal_decode_start(ngx_http_woportal_decoder_t *d,
    ngx_uint_t map);
static int ngx_http_woportal_decode_end(void *ctx);
static void ngx_http_woportal_decode_value_done(ngx_http_woportal_decoder_t *d);
static void ngx_http_woportal_decode_skip(ngx_http_woportal_decoder_t *d,
    ngx_uint_t to);
static void ngx_http_woportal_decode_field_value(ngx_http_woportal_decoder_t *d,
    ngx_http_woportal_json_e type, u_char *s, size_t len);
static void ngx_http_woportal_decode_item_value(ngx_http_woportal_decoder_t *d,
    ngx_http_woportal_json_e type, u_char *s, size_t len);
static void ngx_http_woportal_decode_change_value(
    ngx_http_woportal_decoder_t *d, ngx_http_woportal_json_e type, u_char *s,
    size_t len);
static void ngx_http_woportal_decode_root_key(ngx_http_woportal_decoder_t *d,
    u_char *s, size_t len);
static void ngx_http_woportal_decode_change_key(ngx_http_woportal_decoder_t *d,
    u_char *s, size_t len);
static void ngx_http_woportal_decode_change_end(ngx_http_woportal_decoder_t *d);
static void ngx_http_woportal_decode_array_end(ngx_http_woportal_decoder_t *d);
static int ngx_http_woportal_decode_capture_start(
    ngx_http_woportal_decoder_t *d, ngx_uint_t map);
static int ngx_http_woportal_decode_capture_key(ngx_http_woportal_decoder_t *d,
    u_char *s, size_t len);
static int ngx_http_woportal_decode_capture_check(
    ngx_http_woportal_decoder_t *d, yajl_gen_status rc);
static int ngx_http_woportal_decode_capture_drop(
    ngx_http_woportal_decoder_t *d, char *message);
static void ngx_http_woportal_decode_capture_end(
    ngx_http_woportal_decoder_t *d);
static void ngx_http_woportal_decode_required(ngx_http_woportal_decoder_t *d);
static ngx_int_t ngx_http_woportal_decode_detail(ngx_http_woportal_decoder_t *d,
    ngx_str_t *field, ngx_int_t index, char *message);
static void ngx_http_woportal_decode_field_error(
    ngx_http_woportal_decoder_t *d);
static void ngx_http_woportal_decode_item_error(ngx_http_woportal_decoder_t *d,
    char *message);
static ngx_int_t ngx_http_woportal_decode_copy(ngx_http_woportal_decoder_t *d,
    ngx_str_t *dst, u_char *s, size_t len);
static ngx_int_t ngx_http_woportal_decode_version(u_char *s, size_t len,
    uint64_t *version);


static yajl_callbacks  ngx_http_woportal_decode_callbacks = {
    ngx_http_woportal_decode_null,
    ngx_http_woportal_decode_boolean,
    NULL,
    NULL,
    ngx_http_woportal_decode_number,
    ngx_http_woportal_decode_string,
    ngx_http_woportal_decode_start_map,
    ngx_http_woportal_decode_map_key,
    ngx_http_woportal_decode_end,           /* of a map */
    ngx_http_woportal_decode_start_array,
    ngx_http_woportal_decode_end            /* of an array */
};


ngx_int_t
ngx_http_woportal_decode(ngx_pool_t *pool, ngx_str_t *json,
    ngx_http_woportal_doc_e doc, ngx_http_woportal_entry_t *e,
    ngx_http_woportal_error_t *err)
{
    u_char                       *text;
    yajl_status                   rc;
    yajl_handle                   h;
    yajl_alloc_funcs              funcs;
    ngx_http_woportal_decoder_t   d;

    ngx_memzero(&d, sizeof(ngx_http_woportal_decoder_t));
    ngx_memzero(err, sizeof(ngx_http_woportal_error_t));

    d.pool = pool;
    d.doc = doc;
    d.entry = e;
    d.err = err;
    d.field = NGX_HTTP_WOPORTAL_NO_FIELD;

    if (ngx_array_init(&err->details, pool, 2,
                       sizeof(ngx_http_woportal_detail_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_woportal_decode_prescan(json->data, json->len) != NGX_OK) {
        ngx_str_set(&d.reason, "invalid UTF-8 or unpaired surrogate escape");
        goto invalid;
    }

    ngx_http_woportal_yajl_funcs(pool, &funcs);

    h = yajl_alloc(&ngx_http_woportal_decode_callbacks, &funcs, &d);
    if (h == NULL) {
        return NGX_ERROR;
    }

    rc = yajl_parse(h, json->data, json->len);

    if (rc == yajl_status_ok) {
        rc = yajl_complete_parse(h);
    }

    if (d.nomem) {
        yajl_free(h);
        return NGX_ERROR;
    }

    if (rc != yajl_status_ok) {

        if (d.too_deep) {
            ngx_str_set(&d.reason, "nested deeper than 32 levels");

        } else {
            text = yajl_get_error(h, 0, json->data, json->len);

            if (text) {
                d.reason.data = text;
                d.reason.len = ngx_strlen(text);

                while (d.reason.len
                       && (text[d.reason.len - 1] == '\n'
                           || text[d.reason.len - 1] == '.'))
                {
                    d.reason.len--;
                }
            }
        }

        yajl_free(h);
        goto invalid;
    }

    yajl_free(h);

    err->status = NGX_HTTP_UNPROCESSABLE_ENTITY;
    err->code = NGX_HTTP_WOPORTAL_E_VALIDATION_FAILED;

    if (d.not_object) {
        ngx_str_set(&err->message, "the body must be a JSON object");
        return NGX_DECLINED;
    }

    ngx_http_woportal_decode_required(&d);

    if (d.nomem) {
        return NGX_ERROR;
    }

    if (err->details.nelts) {
        ngx_str_set(&err->message, "the body has invalid fields");
        return NGX_DECLINED;
    }

    if (doc == NGX_HTTP_WOPORTAL_DOC_UPDATE && e->set == 0) {
        ngx_str_set(&err->message, "the body must name at least one field");
        return NGX_DECLINED;
    }

    err->status = 0;

    return NGX_OK;

invalid:

    /* what was found wrong before the syntax error does not count */
    err->details.nelts = 0;

    err->status = NGX_HTTP_BAD_REQUEST;
    err->code = NGX_HTTP_WOPORTAL_E_INVALID_JSON;

    err->message.len = sizeof("invalid JSON: ") - 1 + d.reason.len;
    err->message.data = ngx_pnalloc(pool, err->message.len);
    if (err->message.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(err->message.data, "invalid JSON: %V", &d.reason);

    return NGX_DECLINED;
}


/*
 * yajl accepts overlong UTF-8, encoded surrogates and code points past
 * U+10FFFF, and turns unpaired surrogate escapes into '?': the contract
 * refuses all of these, so the raw text is checked first.  Only escapes
 * need the JSON context; yajl checks the rest of the syntax.
 */

static ngx_int_t
ngx_http_woportal_decode_prescan(u_char *p, size_t len)
{
    u_char      *last, c;
    ngx_int_t    cp, hi, n;
    ngx_uint_t   in_string;

    if (len == 0) {
        /* p may be NULL */
        return NGX_OK;
    }

    last = p + len;
    in_string = 0;
    hi = 0;

    while (p < last) {
        c = *p;

        if (c < 0x80) {

            if (c == '"') {
                in_string = !in_string;

            } else if (c == '\\' && in_string && last - p >= 2) {

                if (p[1] != 'u') {
                    if (hi) {
                        return NGX_ERROR;
                    }

                    p += 2;
                    continue;
                }

                if (last - p < 6) {
                    return NGX_ERROR;
                }

                cp = ngx_hextoi(p + 2, 4);
                if (cp == NGX_ERROR) {
                    return NGX_ERROR;
                }

                if (cp >= 0xd800 && cp <= 0xdbff) {
                    if (hi) {
                        return NGX_ERROR;
                    }

                    hi = 1;

                } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                    if (!hi) {
                        return NGX_ERROR;
                    }

                    hi = 0;

                } else if (hi) {
                    return NGX_ERROR;
                }

                p += 6;
                continue;
            }

            if (hi) {
                return NGX_ERROR;
            }

            p++;
            continue;
        }

        if (hi) {
            return NGX_ERROR;
        }

        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;

        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;

        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;

        } else {
            return NGX_ERROR;
        }

        if (last - p <= n) {
            return NGX_ERROR;
        }

        for (p++; n; n--, p++) {
            if ((*p & 0xc0) != 0x80) {
                return NGX_ERROR;
            }

            cp = (cp << 6) | (*p & 0x3f);
        }

        if ((c >= 0xe0 && c <= 0xef && cp < 0x800)
            || (cp >= 0xd800 && cp <= 0xdfff)
            || (c >= 0xf0 && (cp < 0x10000 || cp > 0x10ffff)))
        {
            return NGX_ERROR;
        }
    }

    return hi ? NGX_ERROR : NGX_OK;
}


static int
ngx_http_woportal_decode_null(void *ctx)
{
    return ngx_http_woportal_decode_scalar(ctx, NGX_HTTP_WOPORTAL_J_NULL,
                                           NULL, 0);
}


static int
ngx_http_woportal_decode_boolean(void *ctx, int b)
{
    return ngx_http_woportal_decode_scalar(ctx, NGX_HTTP_WOPORTAL_J_BOOL,
                                           NULL, b ? 1 : 0);
}


static int
ngx_http_woportal_decode_number(void *ctx, const char *s, size_t len)
{
    return ngx_http_woportal_decode_scalar(ctx, NGX_HTTP_WOPORTAL_J_NUMBER,
                                           (u_char *) s, len);
}


static int
ngx_http_woportal_decode_string(void *ctx, const unsigned char *s, size_t len)
{
    return ngx_http_woportal_decode_scalar(ctx, NGX_HTTP_WOPORTAL_J_STRING,
                                           (u_char *) s, len);
}


static int
ngx_http_woportal_decode_start_map(void *ctx)
{
    return ngx_http_woportal_decode_start(ctx, 1);
}


static int
ngx_http_woportal_decode_start_array(void *ctx)
{
    return ngx_http_woportal_decode_start(ctx, 0);
}


static int
ngx_http_woportal_decode_map_key(void *ctx, const unsigned char *s, size_t len)
{
    ngx_http_woportal_decoder_t *d = ctx;

    if (d->skipping) {
        return 1;
    }

    if (d->gen) {
        return ngx_http_woportal_decode_capture_key(d, (u_char *) s, len);
    }

    if (d->depth == 1) {
        ngx_http_woportal_decode_root_key(d, (u_char *) s, len);

    } else if (d->depth == 3 && d->change) {
        ngx_http_woportal_decode_change_key(d, (u_char *) s, len);
    }

    return !d->nomem;
}


static int
ngx_http_woportal_decode_scalar(ngx_http_woportal_decoder_t *d,
    ngx_http_woportal_json_e type, u_char *s, size_t len)
{
    yajl_gen_status  rc;

    if (d->skipping) {
        return 1;
    }

    if (d->gen) {
        switch (type) {

        case NGX_HTTP_WOPORTAL_J_NULL:
            rc = yajl_gen_null(d->gen);
            break;

        case NGX_HTTP_WOPORTAL_J_BOOL:
            rc = yajl_gen_bool(d->gen, (int) len);
            break;

        case NGX_HTTP_WOPORTAL_J_NUMBER:
            rc = yajl_gen_number(d->gen, (char *) s, len);
            break;

        default: /* NGX_HTTP_WOPORTAL_J_STRING */
            rc = yajl_gen_string(d->gen, s, len);
        }

        return ngx_http_woportal_decode_capture_check(d, rc);
    }

    switch (d->depth) {

    case 0:
        d->not_object = 1;
        break;

    case 1:
        ngx_http_woportal_decode_field_value(d, type, s, len);
        break;

    case 2:
        ngx_http_woportal_decode_item_value(d, type, s, len);
        break;

    default: /* 3 */
        ngx_http_woportal_decode_change_value(d, type, s, len);
    }

    ngx_http_woportal_decode_value_done(d);

    return !d->nomem;
}


static int
ngx_http_woportal_decode_start(ngx_http_woportal_decoder_t *d, ngx_uint_t map)
{
    ngx_http_woportal_field_t  *f;

    if (++d->depth > NGX_HTTP_WOPORTAL_MAX_DEPTH) {
        d->too_deep = 1;
        return 0;
    }

    if (d->skipping) {
        return 1;
    }

    if (d->gen) {
        return ngx_http_woportal_decode_capture_start(d, map);
    }

    switch (d->depth) {

    case 1:
        if (!map) {
            d->not_object = 1;
            ngx_http_woportal_decode_skip(d, 0);
        }

        break;

    case 2:
        if (d->field >= NGX_HTTP_WOPORTAL_NO_FIELD) {
            ngx_http_woportal_decode_skip(d, 1);
            break;
        }

        f = &ngx_http_woportal_decode_fields[d->field];

        if (map && f->type == NGX_HTTP_WOPORTAL_T_FREE) {
            return ngx_http_woportal_decode_capture_start(d, map);
        }

        if (!map && (f->type == NGX_HTTP_WOPORTAL_T_ACTIONS
                     || f->type == NGX_HTTP_WOPORTAL_T_NAMESPACES
                     || f->type == NGX_HTTP_WOPORTAL_T_HISTORY))
        {
            d->in_array = 1;
            d->index = 0;
            break;
        }

        ngx_http_woportal_decode_field_error(d);
        ngx_http_woportal_decode_skip(d, 1);
        break;

    case 3:
        if (map && d->in_array
            && ngx_http_woportal_decode_fields[d->field].type
               == NGX_HTTP_WOPORTAL_T_HISTORY)
        {
            d->change = ngx_array_push(&d->entry->history);
            if (d->change == NULL) {
                d->nomem = 1;
                return 0;
            }

            ngx_memzero(d->change, sizeof(ngx_http_woportal_change_t));
            d->change_field = NGX_HTTP_WOPORTAL_CH_NONE;
            d->change_set = 0;
            break;
        }

        ngx_http_woportal_decode_item_error(d, NULL);
        ngx_http_woportal_decode_skip(d, 2);
        break;

    default:
        ngx_http_woportal_decode_item_error(d, NULL);
        ngx_http_woportal_decode_skip(d, 3);
    }

    return !d->nomem;
}


/* the end of a map or of an array: yajl's callback for both */

static int
ngx_http_woportal_decode_end(void *ctx)
{
    ngx_http_woportal_decoder_t *d = ctx;

    yajl_gen_status  rc;

    d->depth--;

    if (d->skipping) {
        if (d->depth == d->skip_to) {
            d->skipping = 0;
            ngx_http_woportal_decode_value_done(d);
        }

        return 1;
    }

    if (d->gen) {
        rc = (d->arrays & (1 << (d->depth + 1)))
             ? yajl_gen_array_close(d->gen) : yajl_gen_map_close(d->gen);

        if (!ngx_http_woportal_decode_capture_check(d, rc) || d->gen == NULL) {
            /* out of memory, or over the size limit and now skipped */
            return !d->nomem;
        }

        if (d->depth == 1) {
            ngx_http_woportal_decode_capture_end(d);
            ngx_http_woportal_decode_value_done(d);
        }

        return !d->nomem;
    }

    switch (d->depth) {

    case 2:
        if (d->change) {
            ngx_http_woportal_decode_change_end(d);
            ngx_http_woportal_decode_value_done(d);
        }

        break;

    case 1:
        ngx_http_woportal_decode_array_end(d);
        ngx_http_woportal_decode_value_done(d);
        break;
    }

    return !d->nomem;
}


/* a value ended at the current depth */

static void
ngx_http_woportal_decode_value_done(ngx_http_woportal_decoder_t *d)
{
    switch (d->depth) {

    case 1:
        d->field = NGX_HTTP_WOPORTAL_NO_FIELD;
        d->in_array = 0;
        break;

    case 2:
        d->index++;
        d->change = NULL;
        break;

    case 3:
        d->change_field = NGX_HTTP_WOPORTAL_CH_NONE;
        break;
    }
}


/* ignore the container just opened, until the depth falls back to "to" */

static void
ngx_http_woportal_decode_skip(ngx_http_woportal_decoder_t *d, ngx_uint_t to)
{
    d->skipping = 1;
    d->skip_to = to;
}


static void
ngx_http_woportal_decode_root_key(ngx_http_woportal_decoder_t *d, u_char *s,
    size_t len)
{
    ngx_str_t   name;
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_WOPORTAL_F_COUNT; i++) {
        if (ngx_http_woportal_decode_fields[i].name.len == len
            && ngx_strncmp(ngx_http_woportal_decode_fields[i].name.data, s, len)
               == 0
            && (ngx_http_woportal_decode_fields[i].docs & (1 << d->doc)))
        {
            break;
        }
    }

    d->field = NGX_HTTP_WOPORTAL_SKIP_FIELD;

    if (i == NGX_HTTP_WOPORTAL_F_COUNT) {
        if (ngx_http_woportal_decode_copy(d, &name, s, len) == NGX_OK) {
            (void) ngx_http_woportal_decode_detail(d, &name, -1,
                                                   "unknown field");
        }

        return;
    }

    if (d->entry->set & ngx_http_woportal_bit(i)) {
        (void) ngx_http_woportal_decode_detail(d,
                   &ngx_http_woportal_decode_fields[i].name, -1,
                   "appears more than once");
        return;
    }

    d->entry->set |= ngx_http_woportal_bit(i);
    d->field = i;
}


static void
ngx_http_woportal_decode_field_value(ngx_http_woportal_decoder_t *d,
    ngx_http_woportal_json_e type, u_char *s, size_t len)
{
    size_t                      n;
    ngx_int_t                   v;
    ngx_str_t                   id;
    ngx_uint_t                  status;
    ngx_http_woportal_entry_t  *e;

    if (d->field >= NGX_HTTP_WOPORTAL_NO_FIELD) {
        return;
    }

    e = d->entry;

    switch (ngx_http_woportal_decode_fields[d->field].type) {

    case NGX_HTTP_WOPORTAL_T_REF:
        if (type != NGX_HTTP_WOPORTAL_J_STRING) {
            break;
        }

        n = ngx_http_woportal_utf8_chars(s, len);
        if (n < 1 || n > NGX_HTTP_WOPORTAL_REF_MAX) {
            break;
        }

        (void) ngx_http_woportal_decode_copy(d,
                   d->field == NGX_HTTP_WOPORTAL_F_WORKORDER
                   ? &e->workorder : &e->client, s, len);
        return;

    case NGX_HTTP_WOPORTAL_T_STATUS:
    case NGX_HTTP_WOPORTAL_T_ACCESS:
        if (type != NGX_HTTP_WOPORTAL_J_STRING) {
            break;
        }

        status = (d->field == NGX_HTTP_WOPORTAL_F_STATUS);

        v = ngx_http_woportal_enum(status ? ngx_http_woportal_statuses
                                          : ngx_http_woportal_access_levels,
                                   s, len);
        if (v == NGX_ERROR) {
            break;
        }

        *(status ? &e->status : &e->access_level) = v;
        return;

    case NGX_HTTP_WOPORTAL_T_EXPIRY:
        if (type == NGX_HTTP_WOPORTAL_J_NULL
            && d->doc != NGX_HTTP_WOPORTAL_DOC_CREATE)
        {
            e->has_expiry = 0;
            return;
        }

        if (type != NGX_HTTP_WOPORTAL_J_STRING
            || ngx_http_woportal_parse_time(s, len, &e->expiry_date)
               != NGX_OK)
        {
            break;
        }

        e->has_expiry = 1;
        return;

    case NGX_HTTP_WOPORTAL_T_STAMP:
        if (type != NGX_HTTP_WOPORTAL_J_STRING
            || ngx_http_woportal_parse_time(s, len,
                   d->field == NGX_HTTP_WOPORTAL_F_CREATED_AT
                   ? &e->created_at : &e->updated_at)
               != NGX_OK)
        {
            break;
        }

        return;

    case NGX_HTTP_WOPORTAL_T_BOOL:
        if (type != NGX_HTTP_WOPORTAL_J_BOOL) {
            break;
        }

        e->disabled = len;
        return;

    case NGX_HTTP_WOPORTAL_T_NOTES:
        if (type != NGX_HTTP_WOPORTAL_J_STRING
            || ngx_http_woportal_utf8_chars(s, len)
               > NGX_HTTP_WOPORTAL_NOTES_MAX)
        {
            break;
        }

        (void) ngx_http_woportal_decode_copy(d, &e->notes, s, len);
        return;

    case NGX_HTTP_WOPORTAL_T_ID:
        id.data = s;
        id.len = len;

        if (type != NGX_HTTP_WOPORTAL_J_STRING
            || !ngx_http_woportal_id_valid(&id))
        {
            break;
        }

        ngx_memcpy(e->id, s, len);
        return;

    case NGX_HTTP_WOPORTAL_T_VERSION:
        if (type != NGX_HTTP_WOPORTAL_J_NUMBER
            || ngx_http_woportal_decode_version(s, len, &e->version)
               != NGX_OK)
        {
            break;
        }

        return;

    default:
        /* arrays and objects given as scalars */
        break;
    }

    ngx_http_woportal_decode_field_error(d);
}


static void
ngx_http_woportal_decode_item_value(ngx_http_woportal_decoder_t *d,
    ngx_http_woportal_json_e type, u_char *s, size_t len)
{
    size_t                      n;
    ngx_int_t                   v;
    ngx_str_t                  *ns;
    ngx_uint_t                  i;
    ngx_http_woportal_entry_t  *e;

    if (!d->in_array) {
        return;
    }

    e = d->entry;

    switch (ngx_http_woportal_decode_fields[d->field].type) {

    case NGX_HTTP_WOPORTAL_T_ACTIONS:
        if (type != NGX_HTTP_WOPORTAL_J_STRING) {
            break;
        }

        v = ngx_http_woportal_enum(ngx_http_woportal_actions, s, len);
        if (v == NGX_ERROR) {
            break;
        }

        for (i = 0; i < e->nactions; i++) {
            if (e->actions[i] == v) {
                ngx_http_woportal_decode_item_error(d, "is a duplicate");
                return;
            }
        }

        e->actions[e->nactions++] = (u_char) v;
        return;

    case NGX_HTTP_WOPORTAL_T_NAMESPACES:
        if (type != NGX_HTTP_WOPORTAL_J_STRING) {
            break;
        }

        n = ngx_http_woportal_utf8_chars(s, len);
        if (n < 1 || n > NGX_HTTP_WOPORTAL_NS_MAX) {
            break;
        }

        ns = ngx_array_push(&e->namespaces);
        if (ns == NULL) {
            d->nomem = 1;
            return;
        }

        (void) ngx_http_woportal_decode_copy(d, ns, s, len);
        return;

    default:
        break;
    }

    ngx_http_woportal_decode_item_error(d, NULL);
}


static void
ngx_http_woportal_decode_array_end(ngx_http_woportal_decoder_t *d)
{
    if (!d->in_array) {
        return;
    }

    if (ngx_http_woportal_decode_fields[d->field].type
        == NGX_HTTP_WOPORTAL_T_NAMESPACES
        && d->index > NGX_HTTP_WOPORTAL_NS_ITEMS)
    {
        ngx_http_woportal_decode_field_error(d);
    }
}


static void
ngx_http_woportal_decode_change_key(ngx_http_woportal_decoder_t *d, u_char *s,
    size_t len)
{
    static ngx_str_t  names[] = {
        ngx_string("status"),
        ngx_string("notes"),
        ngx_string("changed_at")
    };

    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_WOPORTAL_CH_NONE; i++) {
        if (names[i].len == len && ngx_strncmp(names[i].data, s, len) == 0) {
            break;
        }
    }

    if (i == NGX_HTTP_WOPORTAL_CH_NONE || (d->change_set & (1 << i))) {
        ngx_http_woportal_decode_item_error(d, NULL);
        d->change_field = NGX_HTTP_WOPORTAL_CH_NONE;
        return;
    }

    d->change_set |= 1 << i;
    d->change_field = i;
}


static void
ngx_http_woportal_decode_change_value(ngx_http_woportal_decoder_t *d,
    ngx_http_woportal_json_e type, u_char *s, size_t len)
{
    ngx_int_t                    v;
    ngx_http_woportal_change_t  *ch;

    ch = d->change;

    if (ch == NULL || d->change_field == NGX_HTTP_WOPORTAL_CH_NONE) {
        return;
    }

    if (type == NGX_HTTP_WOPORTAL_J_STRING) {

        switch (d->change_field) {

        case NGX_HTTP_WOPORTAL_CH_STATUS:
            v = ngx_http_woportal_enum(ngx_http_woportal_statuses, s, len);
            if (v != NGX_ERROR) {
                ch->status = v;
                return;
            }

            break;

        case NGX_HTTP_WOPORTAL_CH_NOTES:
            (void) ngx_http_woportal_decode_copy(d, &ch->notes, s, len);
            return;

        default: /* NGX_HTTP_WOPORTAL_CH_CHANGED_AT */
            if (ngx_http_woportal_parse_time(s, len, &ch->changed_at)
                == NGX_OK)
            {
                return;
            }
        }
    }

    ngx_http_woportal_decode_item_error(d, NULL);
}


static void
ngx_http_woportal_decode_change_end(ngx_http_woportal_decoder_t *d)
{
    ngx_uint_t  need;

    need = (1 << NGX_HTTP_WOPORTAL_CH_STATUS)
           | (1 << NGX_HTTP_WOPORTAL_CH_CHANGED_AT);

    if ((d->change_set & need) != need) {
        ngx_http_woportal_decode_item_error(d, NULL);
    }
}


/*
 * Free objects.  d->keys[depth] holds the keys seen in the map open at
 * that depth, to refuse duplicates; d->arrays marks the depths where an
 * array is open instead.
 */

static int
ngx_http_woportal_decode_capture_start(ngx_http_woportal_decoder_t *d,
    ngx_uint_t map)
{
    ngx_array_t      *keys;
    yajl_gen_status   rc;

    if (d->gen == NULL) {
        d->gen = ngx_http_woportal_gen(d->pool);
        if (d->gen == NULL) {
            d->nomem = 1;
            return 0;
        }
    }

    /* the object itself is level 1 */

    if (d->depth - 1 > NGX_HTTP_WOPORTAL_FREE_MAX_DEPTH) {
        return ngx_http_woportal_decode_capture_drop(d,
                                            "is nested deeper than 8 levels");
    }

    keys = &d->keys[d->depth];

    if (map) {
        if (keys->elts == NULL
            && ngx_array_init(keys, d->pool, 4, sizeof(ngx_str_t)) != NGX_OK)
        {
            d->nomem = 1;
            return 0;
        }

        keys->nelts = 0;
        d->arrays &= ~(1 << d->depth);
        rc = yajl_gen_map_open(d->gen);

    } else {
        d->arrays |= 1 << d->depth;
        rc = yajl_gen_array_open(d->gen);
    }

    return ngx_http_woportal_decode_capture_check(d, rc);
}


static int
ngx_http_woportal_decode_capture_key(ngx_http_woportal_decoder_t *d, u_char *s,
    size_t len)
{
    ngx_str_t    *k;
    ngx_uint_t    i;
    ngx_array_t  *keys;

    keys = &d->keys[d->depth];
    k = keys->elts;

    for (i = 0; i < keys->nelts; i++) {
        if (k[i].len == len && ngx_memcmp(k[i].data, s, len) == 0) {
            return ngx_http_woportal_decode_capture_drop(d,
                                                     "holds a duplicate key");
        }
    }

    k = ngx_array_push(keys);
    if (k == NULL) {
        d->nomem = 1;
        return 0;
    }

    if (ngx_http_woportal_decode_copy(d, k, s, len) != NGX_OK) {
        return 0;
    }

    return ngx_http_woportal_decode_capture_check(d,
                                       yajl_gen_string(d->gen, s, len));
}


/* after each event: the compact form may not grow past the limit */

static int
ngx_http_woportal_decode_capture_check(ngx_http_woportal_decoder_t *d,
    yajl_gen_status rc)
{
    size_t                len;
    const unsigned char  *buf;

    if (rc != yajl_gen_status_ok) {
        d->nomem = 1;
        return 0;
    }

    (void) yajl_gen_get_buf(d->gen, &buf, &len);

    if (len <= NGX_HTTP_WOPORTAL_FREE_MAX_SIZE) {
        return 1;
    }

    /* the container just opened or the scalar just read: skip the rest */

    (void) ngx_http_woportal_decode_capture_drop(d,
                               "is larger than 16384 bytes of compact JSON");

    if (d->depth == 1) {
        d->skipping = 0;
        ngx_http_woportal_decode_value_done(d);
    }

    return !d->nomem;
}


/* a free object refused: its detail, and the rest of it skipped */

static int
ngx_http_woportal_decode_capture_drop(ngx_http_woportal_decoder_t *d,
    char *message)
{
    (void) ngx_http_woportal_decode_detail(d,
               &ngx_http_woportal_decode_fields[d->field].name, -1, message);

    yajl_gen_free(d->gen);
    d->gen = NULL;

    ngx_http_woportal_decode_skip(d, 1);

    return !d->nomem;
}


static void
ngx_http_woportal_decode_capture_end(ngx_http_woportal_decoder_t *d)
{
    size_t                len;
    ngx_str_t            *json;
    const unsigned char  *buf;

    (void) yajl_gen_get_buf(d->gen, &buf, &len);

    json = &d->entry->free[ngx_http_woportal_free_index(d->field)];

    (void) ngx_http_woportal_decode_copy(d, json, (u_char *) buf, len);

    yajl_gen_free(d->gen);
    d->gen = NULL;
}


static void
ngx_http_woportal_decode_required(ngx_http_woportal_decoder_t *d)
{
    uint32_t    need;
    ngx_uint_t  i;

    switch (d->doc) {

    case NGX_HTTP_WOPORTAL_DOC_CREATE:
        need = ngx_http_woportal_bit(NGX_HTTP_WOPORTAL_F_WORKORDER)
               | ngx_http_woportal_bit(NGX_HTTP_WOPORTAL_F_CLIENT);
        break;

    case NGX_HTTP_WOPORTAL_DOC_STATUS:
        need = ngx_http_woportal_bit(NGX_HTTP_WOPORTAL_F_STATUS);
        break;

    case NGX_HTTP_WOPORTAL_DOC_STORED:
        need = ((uint32_t) 1 << NGX_HTTP_WOPORTAL_F_NOTES) - 1;
        break;

    default:
        return;
    }

    for (i = 0; i < NGX_HTTP_WOPORTAL_F_COUNT; i++) {
        if ((need & ngx_http_woportal_bit(i))
            && !(d->entry->set & ngx_http_woportal_bit(i)))
        {
            (void) ngx_http_woportal_decode_detail(d,
                       &ngx_http_woportal_decode_fields[i].name, -1,
                       "is required");
        }
    }
}


static void
ngx_http_woportal_decode_field_error(ngx_http_woportal_decoder_t *d)
{
    ngx_http_woportal_field_t  *f;

    if (d->field >= NGX_HTTP_WOPORTAL_NO_FIELD) {
        return;
    }

    f = &ngx_http_woportal_decode_fields[d->field];

    (void) ngx_http_woportal_decode_detail(d, &f->name, -1,
                               ngx_http_woportal_decode_expected[f->type]);
}


static void
ngx_http_woportal_decode_item_error(ngx_http_woportal_decoder_t *d,
    char *message)
{
    ngx_http_woportal_field_t  *f;

    if (d->field >= NGX_HTTP_WOPORTAL_NO_FIELD || !d->in_array) {
        return;
    }

    f = &ngx_http_woportal_decode_fields[d->field];

    if (message == NULL) {
        switch (f->type) {

        case NGX_HTTP_WOPORTAL_T_ACTIONS:
            message = "must be one of view, comment, upload_files, approve, "
                      "reject";
            break;

        case NGX_HTTP_WOPORTAL_T_NAMESPACES:
            message = "must be a string of 1 to 128 characters";
            break;

        default:
            message = "must be a status change";
        }
    }

    (void) ngx_http_woportal_decode_detail(d, &f->name, d->index, message);
}


/* one detail per path: a path already named keeps its first message */

static ngx_int_t
ngx_http_woportal_decode_detail(ngx_http_woportal_decoder_t *d,
    ngx_str_t *field, ngx_int_t index, char *message)
{
    u_char                      *p;
    ngx_str_t                    path;
    ngx_uint_t                   i;
    ngx_http_woportal_detail_t  *dt;

    if (index < 0) {
        path = *field;

    } else {
        p = ngx_pnalloc(d->pool, field->len + 2 + NGX_INT_T_LEN);
        if (p == NULL) {
            d->nomem = 1;
            return NGX_ERROR;
        }

        path.data = p;
        path.len = ngx_sprintf(p, "%V[%i]", field, index) - p;
    }

    dt = d->err->details.elts;

    for (i = 0; i < d->err->details.nelts; i++) {
        if (dt[i].field.len == path.len
            && ngx_memcmp(dt[i].field.data, path.data, path.len) == 0)
        {
            return NGX_OK;
        }
    }

    dt = ngx_array_push(&d->err->details);
    if (dt == NULL) {
        d->nomem = 1;
        return NGX_ERROR;
    }

    dt->field = path;
    dt->message.data = (u_char *) message;
    dt->message.len = ngx_strlen(message);

    return NGX_OK;
}


static ngx_int_t
ngx_http_woportal_decode_copy(ngx_http_woportal_decoder_t *d, ngx_str_t *dst,
    u_char *s, size_t len)
{
    dst->len = len;
    dst->data = ngx_pnalloc(d->pool, len ? len : 1);

    if (dst->data == NULL) {
        d->nomem = 1;
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, s, len);

    return NGX_OK;
}


static ngx_int_t
ngx_http_woportal_decode_version(u_char *s, size_t len, uint64_t *version)
{
    size_t    i;
    uint64_t  v;

    if (len == 0 || len > 18 || s[0] == '0') {
        return NGX_ERROR;
    }

    v = 0;

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return NGX_ERROR;
        }

        v = v * 10 + (s[i] - '0');
    }

    *version = v;

    return NGX_OK;
}
