
/*
 * Responses: JSON bodies with their headers, the error envelope, and a
 * header and body filter that puts nginx's own error pages in a woportal
 * location (413 for a Content-Length over the limit, 400 for a broken
 * chunked body, 500) into the same envelope.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"


static ngx_int_t ngx_http_woportal_add_header(ngx_http_request_t *r,
    char *name, ngx_str_t *value);
static ngx_buf_t *ngx_http_woportal_body_buf(ngx_http_request_t *r,
    ngx_str_t *json);
static ngx_int_t ngx_http_woportal_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_woportal_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


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


ngx_http_woportal_ctx_t *
ngx_http_woportal_get_ctx(ngx_http_request_t *r)
{
    ngx_http_woportal_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_woportal_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_woportal_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_woportal_module);
    }

    return ctx;
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
 * An error page that nginx itself makes in a woportal location: its body
 * is replaced by the envelope.  Authentication still comes first: a
 * request nginx refused before the module ran, that had no valid key,
 * is answered 401.
 */

static ngx_int_t
ngx_http_woportal_header_filter(ngx_http_request_t *r)
{
    ngx_uint_t                     status;
    ngx_str_t                      json;
    ngx_buf_t                     *b;
    ngx_http_woportal_ctx_t       *ctx;
    ngx_http_woportal_error_t      err;
    ngx_http_woportal_loc_conf_t  *wlcf;

    if (r != r->main || r->headers_out.status < NGX_HTTP_BAD_REQUEST) {
        return ngx_http_next_header_filter(r);
    }

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_woportal_module);

    if (!wlcf->enable) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_woportal_module);

    if (ctx && ctx->own_response) {
        return ngx_http_next_header_filter(r);
    }

    status = r->headers_out.status;

    ngx_memzero(&err, sizeof(ngx_http_woportal_error_t));

    err.status = status;

    if (ctx == NULL && !ngx_http_woportal_authorized(r, wlcf)) {
        err.status = NGX_HTTP_UNAUTHORIZED;
        err.code = NGX_HTTP_WOPORTAL_E_UNAUTHORIZED;
        ngx_str_set(&err.message, "a valid API key is required");

    } else if (status == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) {
        err.code = NGX_HTTP_WOPORTAL_E_PAYLOAD_TOO_LARGE;
        ngx_str_set(&err.message, "the request body is too large");

    } else if (status == NGX_HTTP_BAD_REQUEST) {
        err.code = NGX_HTTP_WOPORTAL_E_INVALID_JSON;
        ngx_str_set(&err.message, "the request body could not be read");

    } else if (status == NGX_HTTP_NOT_FOUND) {
        err.code = NGX_HTTP_WOPORTAL_E_NOT_FOUND;
        ngx_str_set(&err.message, "not found");

    } else if (status == NGX_HTTP_FORBIDDEN) {
        err.code = NGX_HTTP_WOPORTAL_E_FORBIDDEN;
        ngx_str_set(&err.message, "forbidden");

    } else if (status == NGX_HTTP_TOO_MANY_REQUESTS) {
        /* limit_req, limit_conn: the contract has no code of its own */
        err.code = NGX_HTTP_WOPORTAL_E_INTERNAL_ERROR;
        ngx_str_set(&err.message, "too many requests: try again later");

    } else {
        err.code = NGX_HTTP_WOPORTAL_E_INTERNAL_ERROR;
        ngx_str_set(&err.message, "the request could not be served");
    }

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

    return ngx_http_next_header_filter(r);
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
