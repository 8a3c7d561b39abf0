
/*
 * GET and HEAD /{id}: one memcached get.  The entry is decoded (a value
 * that is not this entry is never served) and answered as it is stored,
 * the compact JSON encode_entry() made: encoding it again would give the
 * same bytes.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"


static void ngx_http_woportal_get_done(ngx_http_woportal_call_t *call);
static ngx_int_t ngx_http_woportal_get_json(ngx_http_request_t *r,
    ngx_str_t *data, ngx_str_t *json);


ngx_int_t
ngx_http_woportal_get(ngx_http_request_t *r, ngx_http_woportal_ctx_t *ctx)
{
    ngx_int_t  rc;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_woportal_call(r, ctx, NGX_HTTP_WOPORTAL_STORE_GET,
                                ngx_http_woportal_get_done);

    if (rc == NGX_DONE) {
        r->main->count++;
    }

    return rc;
}


static void
ngx_http_woportal_get_done(ngx_http_woportal_call_t *call)
{
    ngx_int_t                 rc;
    ngx_str_t                 json;
    ngx_http_request_t       *r;
    ngx_http_woportal_ctx_t  *ctx;

    r = call->request;
    ctx = ngx_http_get_module_ctx(r, ngx_http_woportal_module);

    r->connection->log->action = "answering a woportal get";

    rc = ngx_http_woportal_stored_entry(r, ctx);

    if (rc != NGX_OK) {
        rc = ngx_http_woportal_not_stored(r, rc);

    } else if (r->headers_in.if_none_match
               && ngx_http_woportal_etag_matches(r->headers_in.if_none_match,
                                                 ctx->entry.version, 1))
    {
        rc = ngx_http_woportal_send(r, NGX_HTTP_NOT_MODIFIED, NULL,
                                    ctx->entry.version);

    } else if (ngx_http_woportal_get_json(r, &ctx->call.fetched, &json)
               != NGX_OK)
    {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;

    } else {
        rc = ngx_http_woportal_send(r, NGX_HTTP_OK, &json,
                                    ctx->entry.version);
    }

    ngx_http_woportal_finish(r, rc);
}


/* {"success":true,"data":<the stored entry>} */

static ngx_int_t
ngx_http_woportal_get_json(ngx_http_request_t *r, ngx_str_t *data,
    ngx_str_t *json)
{
    u_char  *p;

    static u_char  head[] = "{\"success\":true,\"data\":";

    p = ngx_pnalloc(r->pool, sizeof(head) - 1 + data->len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    json->data = p;
    p = ngx_cpymem(p, head, sizeof(head) - 1);
    p = ngx_cpymem(p, data->data, data->len);
    *p++ = '}';
    json->len = p - json->data;

    return NGX_OK;
}
