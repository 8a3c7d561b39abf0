
/*
 * Responses: JSON bodies with their headers, the error envelope, and a
 * header and body filter that puts nginx's own error pages in a woportal
 * location (413 for a Content-Length over the limit, 400 for a broken
 * chunked body, 429 or 503 from limit_req and limit_conn, 500) into the
 * same envelope, and in a woportal_error location those of requests
 * nginx refused before it chose a location.
 *
 * The filter also gives every answer of a woportal location the headers
 * of CONTRACT-NOTES "Browsers, caches, rate limits": Retry-After on 429
 * and 503, Cache-Control and Vary on what depends on the key, and CORS
 * for the origins of woportal_cors_origins.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_auth.h"
#include "ngx_http_woportal_encode.h"
#include "ngx_http_woportal_response.h"
#include "ngx_http_woportal_variables.h"


static ngx_int_t ngx_http_woportal_add_header(ngx_http_request_t *r,
    char *name, ngx_str_t *value);
static ngx_buf_t *ngx_http_woportal_body_buf(ngx_http_request_t *r,
    ngx_str_t *json);
static ngx_int_t ngx_http_woportal_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_woportal_envelope(ngx_http_request_t *r,
    ngx_http_woportal_loc_conf_t *wlcf, ngx_http_woportal_ctx_t *ctx);
static void ngx_http_woportal_nginx_error(ngx_http_request_t *r,
    ngx_http_woportal_loc_conf_t *wlcf, ngx_http_woportal_ctx_t *ctx,
    ngx_http_woportal_error_t *err);
static ngx_int_t ngx_http_woportal_headers(ngx_http_request_t *r,
    ngx_http_woportal_loc_conf_t *wlcf, ngx_http_woportal_ctx_t *ctx);
static ngx_int_t ngx_http_woportal_cors(ngx_http_request_t *r,
    ngx_http_woportal_loc_conf_t *wlcf, ngx_http_woportal_ctx_t *ctx);
static ngx_int_t ngx_http_woportal_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


/* a browser's preflight is answered for this long (seconds) */
#define NGX_HTTP_WOPORTAL_CORS_MAX_AGE  "600"

static ngx_str_t  ngx_http_woportal_origin = ngx_string("Origin");
static ngx_str_t  ngx_http_woportal_preflight =
    ngx_string("Access-Control-Request-Method");


ngx_int_t
ngx_http_woportal_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *json, uint64_t version)
{
    u_char                   *p;
    ngx_int_t                 rc;
    ngx_str_t                 etag;
    ngx_buf_t                *b;
    ngx_chain_t               out;
    ngx_table_elt_t          *h;
    ngx_http_woportal_ctx_t  *ctx;

    ctx = ngx_http_woportal_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->own_response = 1;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "woportal answer: %ui, %uz bytes, version %uL", status,
                   json ? json->len : 0, version);

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    r->headers_out.status = status;
    r->disable_not_modified = 1;

    if (version) {
        p = ngx_pnalloc(r->pool, NGX_INT64_LEN + 2);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        etag.data = p;
        etag.len = ngx_sprintf(p, "\"%uL\"", version) - p;

        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "ETag");
        h->value = etag;
#if (nginx_version >= 1023000)
        h->next = NULL;
#endif
        r->headers_out.etag = h;
    }

    /* a relative path, not made absolute as r->headers_out.location is */

    if (ctx->location.len
        && ngx_http_woportal_add_header(r, "Location", &ctx->location)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->allow.len
        && ngx_http_woportal_add_header(r, "Allow", &ctx->allow) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (json == NULL) {
        /* 204 and 304: no body, and no Content-Length claiming one */
        r->header_only = 1;
        r->headers_out.content_length_n = -1;
        return ngx_http_send_header(r);
    }

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_length_n = json->len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_http_woportal_body_buf(r, json);
    if (b == NULL) {
        return NGX_ERROR;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


ngx_int_t
ngx_http_woportal_send_error(ngx_http_request_t *r, ngx_uint_t status,
    ngx_http_woportal_code_e code, char *message)
{
    ngx_http_woportal_error_t  err;

    ngx_memzero(&err, sizeof(ngx_http_woportal_error_t));

    err.status = status;
    err.code = code;
    err.message.data = (u_char *) message;
    err.message.len = ngx_strlen(message);

    return ngx_http_woportal_send_errors(r, &err);
}


ngx_int_t
ngx_http_woportal_send_errors(ngx_http_request_t *r,
    ngx_http_woportal_error_t *err)
{
    ngx_str_t  json;

    ngx_http_woportal_set_error(r, err->code);

    if (ngx_http_woportal_encode_error(r->pool, err, &json) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_woportal_send(r, err->status, &json, 0);
}


/* the whole body of a response, in one buffer */

static ngx_buf_t *
ngx_http_woportal_body_buf(ngx_http_request_t *r, ngx_str_t *json)
{
    ngx_buf_t  *b;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NULL;
    }

    b->pos = json->data;
    b->last = json->data + json->len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    return b;
}


static ngx_int_t
ngx_http_woportal_add_header(ngx_http_request_t *r, char *name,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value = *value;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}


ngx_int_t
ngx_http_woportal_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_woportal_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_woportal_body_filter;

    return NGX_OK;
}


/*
 * Every answer of a woportal or woportal_error location: an error page
 * nginx made itself becomes the envelope; then the headers every answer
 * of the API carries.
 */

static ngx_int_t
ngx_http_woportal_header_filter(ngx_http_request_t *r)
{
    ngx_http_woportal_ctx_t       *ctx;
    ngx_http_woportal_loc_conf_t  *wlcf;

    if (r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_woportal_module);

    if (!wlcf->enable && !wlcf->errors) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_woportal_module);

    if (r->headers_out.status >= NGX_HTTP_BAD_REQUEST
        && !(ctx && ctx->own_response))
    {
        if (ngx_http_woportal_envelope(r, wlcf, ctx) != NGX_OK) {
            return NGX_ERROR;
        }

        ctx = ngx_http_get_module_ctx(r, ngx_http_woportal_module);
    }

    if (ngx_http_woportal_headers(r, wlcf, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_next_header_filter(r);
}


/* nginx's error page, replaced by the envelope of its status */

static ngx_int_t
ngx_http_woportal_envelope(ngx_http_request_t *r,
    ngx_http_woportal_loc_conf_t *wlcf, ngx_http_woportal_ctx_t *ctx)
{
    ngx_str_t                   json;
    ngx_buf_t                  *b;
    ngx_http_woportal_error_t   err;

    ngx_memzero(&err, sizeof(ngx_http_woportal_error_t));

    ngx_http_woportal_nginx_error(r, wlcf, ctx, &err);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "woportal envelope: nginx's %ui answered as %ui",
                   r->headers_out.status, err.status);

    if (ctx == NULL) {
        ctx = ngx_http_woportal_get_ctx(r);
        if (ctx == NULL) {
            return NGX_ERROR;
        }
    }

    ngx_http_woportal_set_error(r, err.code);

    if (ngx_http_woportal_encode_error(r->pool, &err, &json) != NGX_OK) {
        return NGX_ERROR;
    }

    b = ngx_http_woportal_body_buf(r, &json);
    if (b == NULL) {
        return NGX_ERROR;
    }

    ctx->envelope = b;

    r->headers_out.status = err.status;
    r->headers_out.status_line.len = 0;
    r->err_status = 0;

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.charset.len = 0;

    r->headers_out.content_length_n = json.len;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);

    return NGX_OK;
}


/*
 * The status and code of nginx's refusal.  Authentication still comes
 * first in a woportal location: a request nginx refused before the module
 * ran (ctx is NULL), that had no valid key, is answered 401 (OPTIONS
 * needs none).  A 503 made before the module ran is limit_req's or
 * limit_conn's: 429, as their limit_*_status 429 would be.
 */

static void
ngx_http_woportal_nginx_error(ngx_http_request_t *r,
    ngx_http_woportal_loc_conf_t *wlcf, ngx_http_woportal_ctx_t *ctx,
    ngx_http_woportal_error_t *err)
{
    ngx_uint_t  status;

    status = r->headers_out.status;

    err->status = status;

    if (wlcf->enable && ctx == NULL && r->method != NGX_HTTP_OPTIONS
        && !ngx_http_woportal_authorized(r, wlcf))
    {
        err->status = NGX_HTTP_UNAUTHORIZED;
        err->code = NGX_HTTP_WOPORTAL_E_UNAUTHORIZED;
        ngx_str_set(&err->message, "a valid API key is required");
        return;
    }

    switch (status) {

    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        err->code = NGX_HTTP_WOPORTAL_E_PAYLOAD_TOO_LARGE;
        ngx_str_set(&err->message, "the request body is too large");
        return;

    case NGX_HTTP_BAD_REQUEST:
        if (wlcf->errors) {
            err->code = NGX_HTTP_WOPORTAL_E_INVALID_PARAMETER;
            ngx_str_set(&err->message, "the request is malformed, or its "
                                       "headers are too large");
            return;
        }

        err->code = NGX_HTTP_WOPORTAL_E_INVALID_JSON;
        ngx_str_set(&err->message, "the request body could not be read");
        return;

    case NGX_HTTP_REQUEST_URI_TOO_LARGE:
        err->code = NGX_HTTP_WOPORTAL_E_INVALID_PARAMETER;
        ngx_str_set(&err->message, "the request line is too long");
        return;

    case NGX_HTTP_NOT_FOUND:
        err->code = NGX_HTTP_WOPORTAL_E_NOT_FOUND;
        ngx_str_set(&err->message, "not found");
        return;

    case NGX_HTTP_FORBIDDEN:
        err->code = NGX_HTTP_WOPORTAL_E_FORBIDDEN;
        ngx_str_set(&err->message, "forbidden");
        return;

    case NGX_HTTP_SERVICE_UNAVAILABLE:
        if (ctx && ctx->op != NGX_HTTP_WOPORTAL_OP_NONE) {
            err->code = NGX_HTTP_WOPORTAL_E_STORE_UNAVAILABLE;
            ngx_str_set(&err->message, "the store cannot be reached");
            return;
        }

        err->status = NGX_HTTP_TOO_MANY_REQUESTS;

        /* fall through */

    case NGX_HTTP_TOO_MANY_REQUESTS:
        err->code = NGX_HTTP_WOPORTAL_E_RATE_LIMITED;
        ngx_str_set(&err->message, "too many requests: try again later");
        return;

    default:
        err->code = NGX_HTTP_WOPORTAL_E_INTERNAL_ERROR;
        ngx_str_set(&err->message, "the request could not be served");
    }
}


/*
 * Retry-After on 429 and 503; on what depends on the key (all but
 * openapi.json and OPTIONS) "Cache-Control: private, no-cache" and Vary
 * naming the key header; Vary: Origin where CORS is on.
 */

static ngx_int_t
ngx_http_woportal_headers(ngx_http_request_t *r,
    ngx_http_woportal_loc_conf_t *wlcf, ngx_http_woportal_ctx_t *ctx)
{
    u_char     *p;
    ngx_str_t   value;
    ngx_uint_t  per_key;

    if (r->headers_out.status == NGX_HTTP_TOO_MANY_REQUESTS
        || r->headers_out.status == NGX_HTTP_SERVICE_UNAVAILABLE)
    {
        p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        value.data = p;
        value.len = ngx_sprintf(p, "%T", wlcf->retry_after) - p;

        if (ngx_http_woportal_add_header(r, "Retry-After", &value)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (!wlcf->enable) {
        return NGX_OK;
    }

    per_key = r->method != NGX_HTTP_OPTIONS
              && !(ctx && ctx->op == NGX_HTTP_WOPORTAL_OP_OPENAPI);

    if (per_key) {
        ngx_str_set(&value, "private, no-cache");

        if (ngx_http_woportal_add_header(r, "Cache-Control", &value)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (per_key || wlcf->cors_origins) {
        p = ngx_pnalloc(r->pool, wlcf->api_key_header.len
                                 + sizeof(", Origin") - 1);
        if (p == NULL) {
            return NGX_ERROR;
        }

        value.data = p;

        if (per_key) {
            p = ngx_cpymem(p, wlcf->api_key_header.data,
                           wlcf->api_key_header.len);
        }

        if (wlcf->cors_origins) {
            p = ngx_cpymem(p, ", Origin", sizeof(", Origin") - 1);

            if (!per_key) {
                value.data += 2;
            }
        }

        value.len = p - value.data;

        if (ngx_http_woportal_add_header(r, "Vary", &value) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return ngx_http_woportal_cors(r, wlcf, ctx);
}


/*
 * CORS, for an Origin of woportal_cors_origins only: a preflight (OPTIONS
 * with Access-Control-Request-Method) learns the path's methods and the
 * headers it may send; any other answer lets the page read it, and the
 * headers it needs.
 */

static ngx_int_t
ngx_http_woportal_cors(ngx_http_request_t *r,
    ngx_http_woportal_loc_conf_t *wlcf, ngx_http_woportal_ctx_t *ctx)
{
    u_char           *p;
    ngx_str_t        *allowed, value;
    ngx_uint_t        i, n;
    ngx_table_elt_t  *origin;

    if (wlcf->cors_origins == NULL) {
        return NGX_OK;
    }

    origin = ngx_http_woportal_header_in(r, &ngx_http_woportal_origin, &n);

    if (origin == NULL || n != 1) {
        return NGX_OK;
    }

    allowed = wlcf->cors_origins->elts;

    for (i = 0; i < wlcf->cors_origins->nelts; i++) {
        if (allowed[i].len == origin->value.len
            && ngx_strncasecmp(allowed[i].data, origin->value.data,
                               origin->value.len)
               == 0)
        {
            break;
        }
    }

    if (i == wlcf->cors_origins->nelts) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "woportal cors: origin \"%V\" is not allowed",
                       &origin->value);
        return NGX_OK;
    }

    if (ngx_http_woportal_add_header(r, "Access-Control-Allow-Origin",
                                     &origin->value)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (r->method == NGX_HTTP_OPTIONS
        && r->headers_out.status == NGX_HTTP_NO_CONTENT
        && ctx && ctx->allow.len
        && ngx_http_woportal_header_in(r, &ngx_http_woportal_preflight, &n))
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "woportal cors: preflight from \"%V\"",
                       &origin->value);

        p = ngx_pnalloc(r->pool, wlcf->api_key_header.len
                        + sizeof(", Content-Type, If-Match, If-None-Match")
                        - 1);
        if (p == NULL) {
            return NGX_ERROR;
        }

        value.data = p;
        p = ngx_cpymem(p, wlcf->api_key_header.data,
                       wlcf->api_key_header.len);
        p = ngx_cpymem(p, ", Content-Type, If-Match, If-None-Match",
                       sizeof(", Content-Type, If-Match, If-None-Match") - 1);
        value.len = p - value.data;

        if (ngx_http_woportal_add_header(r, "Access-Control-Allow-Methods",
                                         &ctx->allow)
            != NGX_OK
            || ngx_http_woportal_add_header(r,
                                            "Access-Control-Allow-Headers",
                                            &value)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_str_set(&value, NGX_HTTP_WOPORTAL_CORS_MAX_AGE);

        return ngx_http_woportal_add_header(r, "Access-Control-Max-Age",
                                            &value);
    }

    ngx_str_set(&value, "ETag, Location, Retry-After");

    return ngx_http_woportal_add_header(r, "Access-Control-Expose-Headers",
                                        &value);
}


/*
 * woportal_error: the content handler of the location error_page names.
 * The status nginx refused the request with is answered again, for the
 * filter to put into the envelope; asked for directly, the location is
 * not found.
 */

ngx_int_t
ngx_http_woportal_error_handler(ngx_http_request_t *r)
{
    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "woportal error page: %ui", r->err_status);

    if (r->err_status < NGX_HTTP_BAD_REQUEST) {
        /* asked for directly, or named by an error_page "=200" */
        return NGX_HTTP_NOT_FOUND;
    }

    if (r->err_status == NGX_HTTP_NOT_IMPLEMENTED) {
        /* a Transfer-Encoding nginx does not read: the client's error */
        return NGX_HTTP_BAD_REQUEST;
    }

    return r->err_status;
}


static ngx_int_t
ngx_http_woportal_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_chain_t               *cl, out;
    ngx_http_woportal_ctx_t   *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_woportal_module);

    if (ctx == NULL || ctx->envelope == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    /* nginx's page is dropped: its buffers count as sent */

    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;
    }

    if (ctx->envelope_sent) {
        return NGX_OK;
    }

    ctx->envelope_sent = 1;

    out.buf = ctx->envelope;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}
