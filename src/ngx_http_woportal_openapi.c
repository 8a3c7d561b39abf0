
/*
 * GET <location>/openapi.json: the contract (contract/openapi.yaml), as
 * JSON made at build time (util/openapi-c.pl, run by config), with
 * "servers" set to the location's path: [{"url":"/api"}], and info.version
 * the module's version.
 *
 * The url is relative: a client resolves it against the address it
 * fetched the document from, scheme and host included, which nginx
 * cannot know behind a proxy or a TLS terminator (and a Host header is
 * the client's to choose).
 *
 * It needs no API key, so it is routed before authentication.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_openapi.h"
#include "ngx_http_woportal_response.h"
#include "ngx_http_woportal_version.h"
#include "ngx_http_woportal_openapi_json.h"


static ngx_buf_t *ngx_http_woportal_openapi_buf(ngx_pool_t *pool, u_char *p,
    size_t len);


/*
 * NGX_DECLINED when the request is not for <location>/openapi.json;
 * otherwise the request's answer, as a content handler's.
 */

ngx_int_t
ngx_http_woportal_openapi(ngx_http_request_t *r,
    ngx_http_woportal_loc_conf_t *wlcf, ngx_http_woportal_ctx_t *ctx)
{
    u_char       *p;
    size_t        len;
    ngx_int_t     rc;
    ngx_str_t     url;
    ngx_chain_t   out[3];

    if (r->uri.len != wlcf->base.len + sizeof("/openapi.json") - 1
        || ngx_strncmp(r->uri.data, wlcf->base.data, wlcf->base.len) != 0
        || ngx_strncmp(r->uri.data + wlcf->base.len, "/openapi.json",
                       sizeof("/openapi.json") - 1)
           != 0)
    {
        return NGX_DECLINED;
    }

    ctx->op = NGX_HTTP_WOPORTAL_OP_OPENAPI;

    if (r->method == NGX_HTTP_OPTIONS) {
        ngx_str_set(&ctx->allow, "GET, HEAD, OPTIONS");
        return ngx_http_woportal_send(r, NGX_HTTP_NO_CONTENT, NULL, 0);
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        ngx_str_set(&ctx->allow, "GET, HEAD, OPTIONS");
        return ngx_http_woportal_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                     NGX_HTTP_WOPORTAL_E_METHOD_NOT_ALLOWED,
                                     "method not allowed on this path");
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    ctx->own_response = 1;

    /* the location "/" serves its collection at "/" */

    if (wlcf->base.len == 0) {
        ngx_str_set(&url, "/");

    } else {
        len = wlcf->base.len
              + ngx_escape_json(NULL, wlcf->base.data, wlcf->base.len);

        p = ngx_pnalloc(r->pool, len);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        url.data = p;
        url.len = (u_char *) ngx_escape_json(p, wlcf->base.data,
                                             wlcf->base.len)
                  - p;
    }

    out[0].buf = ngx_http_woportal_openapi_buf(r->pool,
                                         ngx_http_woportal_openapi_head,
                                         sizeof(ngx_http_woportal_openapi_head)
                                         - 1);
    out[1].buf = ngx_http_woportal_openapi_buf(r->pool, url.data, url.len);
    out[2].buf = ngx_http_woportal_openapi_buf(r->pool,
                                         ngx_http_woportal_openapi_tail,
                                         sizeof(ngx_http_woportal_openapi_tail)
                                         - 1);

    if (out[0].buf == NULL || out[1].buf == NULL || out[2].buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    out[0].next = &out[1];
    out[1].next = &out[2];
    out[2].next = NULL;

    out[2].buf->last_buf = (r == r->main) ? 1 : 0;
    out[2].buf->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = out[0].buf->last - out[0].buf->pos
                                      + url.len
                                      + out[2].buf->last - out[2].buf->pos;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, out);
}


static ngx_buf_t *
ngx_http_woportal_openapi_buf(ngx_pool_t *pool, u_char *p, size_t len)
{
    ngx_buf_t  *b;

    b = ngx_calloc_buf(pool);
    if (b == NULL) {
        return NULL;
    }

    b->pos = p;
    b->last = p + len;
    b->memory = 1;

    return b;
}
