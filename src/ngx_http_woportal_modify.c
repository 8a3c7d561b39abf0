
/*
 * Changes to an entry: PUT and PATCH /{id}, PUT and PATCH /{id}/status,
 * DELETE /{id}.  Read-modify-write with memcached CAS, so that concurrent
 * writers (workers, nodes) never lose an update:
 *
 *     get (value and CAS) -> If-Match, apply -> cas -> index append
 *
 * three round trips (the append: index.c).  A cas that loses to another
 * writer starts again from the get, at most NGX_HTTP_WOPORTAL_CAS_ATTEMPTS
 * times, then answers 409 conflict (412 with If-Match) having changed
 * nothing.
 *
 * DELETE is one memcached delete and the append of its deletion to the
 * index.  With If-Match, or by a key limited to namespaces, it is get ->
 * cas of a "gone" marker -> delete -> append: the marker makes the check
 * and the delete one atomic step, so a stale If-Match never deletes a
 * newer version, nor a key an entry that moved out of its namespaces.
 *
 * With persistence (sync) the write is SQL's (commit.c): a change is
 * committed only over the version the request read, a checked deletion
 * only at that version; SQL refusing it is the cas that lost, and the
 * request reads again, from SQL.  A miss is never an answer: a write
 * that finds memcached without the item asks SQL (a false 404 or 409
 * would refuse writes of an entry that exists).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_auth.h"
#include "ngx_http_woportal_encode.h"
#include "ngx_http_woportal_entry.h"
#include "ngx_http_woportal_index.h"
#include "ngx_http_woportal_modify.h"
#include "ngx_http_woportal_request.h"
#include "ngx_http_woportal_response.h"
#include "ngx_http_woportal_value.h"


#define NGX_HTTP_WOPORTAL_CAS_ATTEMPTS  8


static ngx_int_t ngx_http_woportal_modify_read(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx);
static void ngx_http_woportal_modify_fetched(ngx_http_woportal_call_t *call);
static ngx_int_t ngx_http_woportal_modify_apply(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx);
static void ngx_http_woportal_modify_written(ngx_http_woportal_call_t *call);
static ngx_int_t ngx_http_woportal_delete_post(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx);
static void ngx_http_woportal_delete_done(ngx_http_woportal_call_t *call);


/* update and status: ctx->patch holds the decoded body */

ngx_int_t
ngx_http_woportal_modify(ngx_http_request_t *r, ngx_http_woportal_ctx_t *ctx)
{
    return ngx_http_woportal_modify_read(r, ctx);
}


ngx_int_t
ngx_http_woportal_delete(ngx_http_request_t *r, ngx_http_woportal_ctx_t *ctx)
{
    ngx_int_t  rc;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (r->headers_in.if_match || ctx->key->namespaces) {
        return ngx_http_woportal_modify_read(r, ctx);
    }

    return ngx_http_woportal_delete_post(r, ctx);
}


static ngx_int_t
ngx_http_woportal_modify_read(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx)
{
    return ngx_http_woportal_call(r, ctx, NGX_HTTP_WOPORTAL_STORE_GET,
                                  ngx_http_woportal_modify_fetched);
}


static void
ngx_http_woportal_modify_fetched(ngx_http_woportal_call_t *call)
{
    ngx_int_t                 rc;
    ngx_http_request_t       *r;
    ngx_http_woportal_ctx_t  *ctx;

    r = call->request;
    ctx = ngx_http_get_module_ctx(r, ngx_http_woportal_module);

    rc = ngx_http_woportal_stored_entry(r, ctx);

    rc = (rc == NGX_OK) ? ngx_http_woportal_modify_apply(r, ctx)
                        : ngx_http_woportal_not_stored(r, rc);

    if (rc != NGX_DONE) {
        ngx_http_woportal_finish(r, rc);
    }
}


static ngx_int_t
ngx_http_woportal_modify_apply(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx)
{
    ngx_int_t                      rc;
    ngx_http_woportal_call_t      *call;
    ngx_http_woportal_error_t      err;
    ngx_http_woportal_loc_conf_t  *wlcf;

    call = &ctx->call;

    if (r->headers_in.if_match
        && !ngx_http_woportal_etag_matches(r->headers_in.if_match,
                                           ctx->entry.version, 0))
    {
        return ngx_http_woportal_send_error(r, NGX_HTTP_PRECONDITION_FAILED,
                                   NGX_HTTP_WOPORTAL_E_PRECONDITION_FAILED,
                                   "If-Match does not match the entry's ETag");
    }

    ngx_memzero(&err, sizeof(ngx_http_woportal_error_t));

    rc = ngx_http_woportal_key_replaces(r->pool, ctx, &err);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc != NGX_OK) {
        return ngx_http_woportal_send_errors(r, &err);
    }

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_woportal_module);

    if (ctx->op == NGX_HTTP_WOPORTAL_OP_DELETE && wlcf->db) {
        /* SQL deletes it only at the version checked (commit.c) */
        ctx->expected = ctx->entry.version;

        if (ngx_http_woportal_index_prepare(r, call, NULL,
                                            ctx->id.data)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_woportal_call(r, ctx, NGX_HTTP_WOPORTAL_STORE_DELETE,
                                      ngx_http_woportal_modify_written);
    }

    if (ctx->op == NGX_HTTP_WOPORTAL_OP_DELETE) {
        ngx_str_set(&call->value, "");
        call->flags = NGX_HTTP_WOPORTAL_FORMAT_GONE;

        /* the index learns of the deletion with the delete itself */
        ngx_str_null(&call->record);

    } else {
        rc = ngx_http_woportal_entry_apply(&ctx->entry, &ctx->patch);

        if (rc == NGX_DECLINED) {
            return ngx_http_woportal_send_error(r, NGX_HTTP_CONFLICT,
                                    NGX_HTTP_WOPORTAL_E_INVALID_TRANSITION,
                                    "completed and cancelled are final");
        }

        /* the JSON is SQL's doc, and memcached's value behind a header */

        if (rc != NGX_OK
            || ngx_http_woportal_encode_entry(r->pool, &ctx->entry,
                                              &ctx->json, &ctx->persist.doc)
               != NGX_OK
            || ngx_http_woportal_value_make(r->pool, &ctx->entry,
                                            &ctx->persist.doc, &call->value)
               != NGX_OK
            || ngx_http_woportal_index_prepare(r, call, &ctx->entry,
                                               ctx->entry.id)
               != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        call->flags = NGX_HTTP_WOPORTAL_FORMAT_ENTRY;
    }

    /* call->cas is still the one the get returned */

    return ngx_http_woportal_call(r, ctx, NGX_HTTP_WOPORTAL_STORE_CAS,
                                  ngx_http_woportal_modify_written);
}


static void
ngx_http_woportal_modify_written(ngx_http_woportal_call_t *call)
{
    ngx_int_t                      rc;
    ngx_str_t                      json;
    ngx_http_request_t            *r;
    ngx_http_woportal_ctx_t       *ctx;
    ngx_http_woportal_loc_conf_t  *wlcf;

    r = call->request;
    ctx = ngx_http_get_module_ctx(r, ngx_http_woportal_module);
    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_woportal_module);

    switch (call->result) {

    case NGX_OK:
        if (ctx->op == NGX_HTTP_WOPORTAL_OP_DELETE && wlcf->db) {
            /* committed */
            rc = ngx_http_woportal_encode_success(r->pool, &json) != NGX_OK
                 ? NGX_HTTP_INTERNAL_SERVER_ERROR
                 : ngx_http_woportal_send(r, NGX_HTTP_OK, &json, 0);
            break;
        }

        if (ctx->op == NGX_HTTP_WOPORTAL_OP_DELETE) {
            /* the marker stands: the entry is gone whatever happens next */
            ctx->gone = 1;
            rc = ngx_http_woportal_delete_post(r, ctx);
            break;
        }

        rc = ngx_http_woportal_send(r, NGX_HTTP_OK, &ctx->json,
                                    ctx->entry.version);
        break;

    case NGX_BUSY:
        if (++ctx->attempts < NGX_HTTP_WOPORTAL_CAS_ATTEMPTS) {
            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "woportal retry: \"%V\" changed meanwhile, "
                           "attempt %ui", &call->key, ctx->attempts + 1);
            rc = ngx_http_woportal_modify_read(r, ctx);
            break;
        }

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "woportal: \"%V\" kept changing, gave up after %d "
                      "attempts", &call->key,
                      NGX_HTTP_WOPORTAL_CAS_ATTEMPTS);

        if (r->headers_in.if_match) {
            rc = ngx_http_woportal_send_error(r, NGX_HTTP_PRECONDITION_FAILED,
                                   NGX_HTTP_WOPORTAL_E_PRECONDITION_FAILED,
                                   "the entry kept changing");
            break;
        }

        rc = ngx_http_woportal_send_error(r, NGX_HTTP_CONFLICT,
                                          NGX_HTTP_WOPORTAL_E_CONFLICT,
                                          "the entry kept changing; "
                                          "nothing was changed");
        break;

    case NGX_DECLINED:
        if (wlcf->db && ctx->op != NGX_HTTP_WOPORTAL_OP_DELETE
            && ++ctx->attempts < NGX_HTTP_WOPORTAL_CAS_ATTEMPTS)
        {
            /*
             * async: memcached lost the item since the get, or it was
             * read from SQL; a miss is never an answer: SQL tells
             */
            rc = ngx_http_woportal_modify_read(r, ctx);
            break;
        }

        /* deleted since the get */
        rc = ngx_http_woportal_not_found(r);
        break;

    default:
        rc = ngx_http_woportal_unavailable(r);
    }

    if (rc != NGX_DONE) {
        ngx_http_woportal_finish(r, rc);
    }
}


static ngx_int_t
ngx_http_woportal_delete_post(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx)
{
    if (ngx_http_woportal_index_prepare(r, &ctx->call, NULL,
                                        ctx->id.data)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!ctx->gone) {
        return ngx_http_woportal_call(r, ctx, NGX_HTTP_WOPORTAL_STORE_DELETE,
                                      ngx_http_woportal_delete_done);
    }

    /* after the marker the entry is gone, whatever becomes of the delete */

    if (ngx_http_woportal_post_call(r, ctx, NGX_HTTP_WOPORTAL_STORE_DELETE,
                                    ngx_http_woportal_delete_done)
        != NGX_OK)
    {
        ngx_http_woportal_delete_done(&ctx->call);
    }

    return NGX_DONE;
}


static void
ngx_http_woportal_delete_done(ngx_http_woportal_call_t *call)
{
    ngx_int_t                 rc;
    ngx_str_t                 json;
    ngx_http_request_t       *r;
    ngx_http_woportal_ctx_t  *ctx;

    r = call->request;
    ctx = ngx_http_get_module_ctx(r, ngx_http_woportal_module);

    if (!ctx->gone && call->result == NGX_DECLINED) {
        rc = ngx_http_woportal_not_found(r);

    } else if (!ctx->gone && call->result != NGX_OK) {
        rc = ngx_http_woportal_unavailable(r);

    } else if (ngx_http_woportal_encode_success(r->pool, &json) != NGX_OK) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;

    } else {
        /* after the marker, a failed delete leaves it standing: gone */
        rc = ngx_http_woportal_send(r, NGX_HTTP_OK, &json, 0);
    }

    ngx_http_woportal_finish(r, rc);
}
