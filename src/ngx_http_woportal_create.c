
/*
 * POST /: one memcached add under a fresh id; "add" refuses an id that is
 * taken, so a collision costs another id, never an overwrite.  Then the
 * entry's record goes to the list index (index.c): two round trips.
 * With persistence (sync) the id is taken in SQL first (commit.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_create.h"
#include "ngx_http_woportal_encode.h"
#include "ngx_http_woportal_entry.h"
#include "ngx_http_woportal_id.h"
#include "ngx_http_woportal_index.h"
#include "ngx_http_woportal_request.h"
#include "ngx_http_woportal_response.h"
#include "ngx_http_woportal_value.h"


#define NGX_HTTP_WOPORTAL_CREATE_ATTEMPTS  3


static ngx_int_t ngx_http_woportal_create_post(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx);
static void ngx_http_woportal_create_done(ngx_http_woportal_call_t *call);


/* ctx->entry holds the decoded body */

ngx_int_t
ngx_http_woportal_create(ngx_http_request_t *r, ngx_http_woportal_ctx_t *ctx)
{
    if (ngx_http_woportal_entry_create(r->pool, &ctx->entry) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_woportal_create_post(r, ctx);
}


static ngx_int_t
ngx_http_woportal_create_post(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx)
{
    ngx_http_woportal_entry_t  *e;

    e = &ctx->entry;

    ngx_http_woportal_id_next(e->id);

    ctx->id.data = e->id;
    ctx->id.len = NGX_HTTP_WOPORTAL_ID_LEN;

    /*
     * the envelope is encoded with the stored JSON as its "data": SQL's
     * doc, and memcached's value behind its header
     */

    if (ngx_http_woportal_encode_entry(r->pool, e, &ctx->json,
                                       &ctx->persist.doc)
        != NGX_OK
        || ngx_http_woportal_value_make(r->pool, e, &ctx->persist.doc,
                                        &ctx->call.value)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->call.flags = NGX_HTTP_WOPORTAL_FORMAT_ENTRY;

    if (ngx_http_woportal_index_prepare(r, &ctx->call, e, e->id) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_woportal_call(r, ctx, NGX_HTTP_WOPORTAL_STORE_ADD,
                                  ngx_http_woportal_create_done);
}


static void
ngx_http_woportal_create_done(ngx_http_woportal_call_t *call)
{
    u_char                        *p;
    ngx_int_t                      rc;
    ngx_http_request_t            *r;
    ngx_http_woportal_ctx_t       *ctx;
    ngx_http_woportal_loc_conf_t  *wlcf;

    r = call->request;
    ctx = ngx_http_get_module_ctx(r, ngx_http_woportal_module);

    if (call->result == NGX_DECLINED
        && ++ctx->attempts < NGX_HTTP_WOPORTAL_CREATE_ATTEMPTS)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "woportal: id \"%V\" is taken, making another",
                      &ctx->id);

        rc = ngx_http_woportal_create_post(r, ctx);

        if (rc != NGX_DONE) {
            ngx_http_woportal_finish(r, rc);
        }

        return;
    }

    if (call->result != NGX_OK) {
        ngx_http_woportal_finish(r, ngx_http_woportal_unavailable(r));
        return;
    }

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_woportal_module);

    p = ngx_pnalloc(r->pool, wlcf->base.len + 1 + NGX_HTTP_WOPORTAL_ID_LEN);
    if (p == NULL) {
        ngx_http_woportal_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->location.data = p;
    p = ngx_cpymem(p, wlcf->base.data, wlcf->base.len);
    *p++ = '/';
    p = ngx_cpymem(p, ctx->entry.id, NGX_HTTP_WOPORTAL_ID_LEN);
    ctx->location.len = p - ctx->location.data;

    rc = ngx_http_woportal_send(r, NGX_HTTP_CREATED, &ctx->json,
                                ctx->entry.version);

    ngx_http_woportal_finish(r, rc);
}
