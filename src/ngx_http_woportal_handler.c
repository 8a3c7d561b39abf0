
/*
 * The content handler: every request in a woportal location starts here,
 * and this file only dispatches it.
 *
 *     route -> authenticate -> method -> (body) -> operation
 *
 * OPTIONS needs no key: it tells only the methods of a path.
 *
 * The operations live in get.c, list.c, create.c and modify.c, and what
 * they share in request.c.  An operation goes on from its store calls'
 * answers (NGX_DONE) and ends the request with finish(); it runs under
 * the request's one reference (request.c: begin()).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_auth.h"
#include "ngx_http_woportal_body.h"
#include "ngx_http_woportal_create.h"
#include "ngx_http_woportal_decode.h"
#include "ngx_http_woportal_entry.h"
#include "ngx_http_woportal_get.h"
#include "ngx_http_woportal_handler.h"
#include "ngx_http_woportal_list.h"
#include "ngx_http_woportal_modify.h"
#include "ngx_http_woportal_openapi.h"
#include "ngx_http_woportal_request.h"
#include "ngx_http_woportal_response.h"
#include "ngx_http_woportal_route.h"
#include "ngx_http_woportal_variables.h"


typedef struct {
    ngx_uint_t   methods;
    ngx_str_t    allow;
} ngx_http_woportal_methods_t;


static ngx_http_woportal_op_e ngx_http_woportal_op(ngx_http_request_t *r,
    ngx_http_woportal_target_e target);
static void ngx_http_woportal_body_read(ngx_http_request_t *r);
static ngx_int_t ngx_http_woportal_body_op(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx);


/* by target; GET implies HEAD */

static ngx_http_woportal_methods_t  ngx_http_woportal_methods[] = {
    { 0, ngx_null_string },
    { NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_POST|NGX_HTTP_OPTIONS,
      ngx_string("GET, HEAD, POST, OPTIONS") },
    { NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_PUT|NGX_HTTP_PATCH
      |NGX_HTTP_DELETE|NGX_HTTP_OPTIONS,
      ngx_string("GET, HEAD, PUT, PATCH, DELETE, OPTIONS") },
    { NGX_HTTP_PUT|NGX_HTTP_PATCH|NGX_HTTP_OPTIONS,
      ngx_string("PUT, PATCH, OPTIONS") }
};


ngx_int_t
ngx_http_woportal_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_http_woportal_ctx_t       *ctx;
    ngx_http_woportal_methods_t   *m;
    ngx_http_woportal_loc_conf_t  *wlcf;

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_woportal_module);

    ctx = ngx_http_woportal_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_woportal_openapi(r, wlcf, ctx);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    ngx_http_woportal_state(r, ctx, NGX_HTTP_WOPORTAL_STATE_ROUTE);

    ngx_http_woportal_route(&wlcf->base, &r->uri, &ctx->route);

    if (ctx->route.id_valid) {
        ctx->id = ctx->route.id;
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "woportal route: %V \"%V\": target %d, id \"%V\"",
                   &r->method_name, &r->uri, (int) ctx->route.target,
                   &ctx->route.id);

    if (r->method == NGX_HTTP_OPTIONS
        && ctx->route.target != NGX_HTTP_WOPORTAL_NOWHERE)
    {
        ctx->op = NGX_HTTP_WOPORTAL_OP_OPTIONS;
        ctx->allow = ngx_http_woportal_methods[ctx->route.target].allow;
        return ngx_http_woportal_send(r, NGX_HTTP_NO_CONTENT, NULL, 0);
    }

    ctx->key = ngx_http_woportal_authorized(r, wlcf);

    if (ctx->key == NULL) {
        return ngx_http_woportal_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                            NGX_HTTP_WOPORTAL_E_UNAUTHORIZED,
                                            "a valid API key is required");
    }

    if (ctx->route.target == NGX_HTTP_WOPORTAL_NOWHERE) {
        return ngx_http_woportal_send_error(r, NGX_HTTP_NOT_FOUND,
                                            NGX_HTTP_WOPORTAL_E_NOT_FOUND,
                                            "no such path");
    }

    m = &ngx_http_woportal_methods[ctx->route.target];

    if (!(r->method & m->methods)) {
        ctx->allow = m->allow;
        return ngx_http_woportal_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                     NGX_HTTP_WOPORTAL_E_METHOD_NOT_ALLOWED,
                                     "method not allowed on this path");
    }

    ctx->op = ngx_http_woportal_op(r, ctx->route.target);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "woportal op: %V", &ngx_http_woportal_request_ops[ctx->op]);

    if (ctx->route.target != NGX_HTTP_WOPORTAL_COLLECTION
        && !ctx->route.id_valid)
    {
        return ngx_http_woportal_not_found(r);
    }

    switch (ctx->op) {

    case NGX_HTTP_WOPORTAL_OP_GET:
        return ngx_http_woportal_begin(r, ctx, ngx_http_woportal_get);

    case NGX_HTTP_WOPORTAL_OP_DELETE:
        return ngx_http_woportal_begin(r, ctx, ngx_http_woportal_delete);

    case NGX_HTTP_WOPORTAL_OP_LIST:
        return ngx_http_woportal_begin(r, ctx, ngx_http_woportal_list);

    default:
        /* create, update, status: a JSON body */
        break;
    }

    if (!ngx_http_woportal_is_json(r)) {
        return ngx_http_woportal_send_error(r,
                                 NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                 NGX_HTTP_WOPORTAL_E_UNSUPPORTED_MEDIA_TYPE,
                                 "the body must be application/json");
    }

    ngx_http_woportal_state(r, ctx, NGX_HTTP_WOPORTAL_STATE_READ_BODY);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "woportal body: reading, length %O",
                   r->headers_in.content_length_n);

    /* the reference the operation runs under: see request.c, begin() */

    rc = ngx_http_read_client_request_body(r, ngx_http_woportal_body_read);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static ngx_http_woportal_op_e
ngx_http_woportal_op(ngx_http_request_t *r, ngx_http_woportal_target_e target)
{
    if (r->method == NGX_HTTP_OPTIONS) {
        return NGX_HTTP_WOPORTAL_OP_OPTIONS;
    }

    switch (target) {

    case NGX_HTTP_WOPORTAL_COLLECTION:
        return (r->method == NGX_HTTP_POST) ? NGX_HTTP_WOPORTAL_OP_CREATE
                                            : NGX_HTTP_WOPORTAL_OP_LIST;

    case NGX_HTTP_WOPORTAL_ITEM:
        if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
            return NGX_HTTP_WOPORTAL_OP_GET;
        }

        return (r->method == NGX_HTTP_DELETE) ? NGX_HTTP_WOPORTAL_OP_DELETE
                                              : NGX_HTTP_WOPORTAL_OP_UPDATE;

    case NGX_HTTP_WOPORTAL_ITEM_STATUS:
        return NGX_HTTP_WOPORTAL_OP_STATUS;

    default:
        return NGX_HTTP_WOPORTAL_OP_NONE;
    }
}


static void
ngx_http_woportal_body_read(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_http_woportal_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_woportal_module);

    ngx_http_woportal_state(r, ctx, NGX_HTTP_WOPORTAL_STATE_DECODE_BODY);

    rc = ngx_http_woportal_body_op(r, ctx);

    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


/* decodes the body for its operation and starts that operation */

static ngx_int_t
ngx_http_woportal_body_op(ngx_http_request_t *r, ngx_http_woportal_ctx_t *ctx)
{
    ngx_int_t                   rc;
    ngx_str_t                   body;
    ngx_http_woportal_doc_e     doc;
    ngx_http_woportal_entry_t  *e;
    ngx_http_woportal_error_t   err;

    if (ngx_http_woportal_body(r, &body) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "woportal body: %uz bytes read", body.len);

    switch (ctx->op) {

    case NGX_HTTP_WOPORTAL_OP_CREATE:
        doc = NGX_HTTP_WOPORTAL_DOC_CREATE;
        e = &ctx->entry;
        break;

    case NGX_HTTP_WOPORTAL_OP_UPDATE:
        doc = NGX_HTTP_WOPORTAL_DOC_UPDATE;
        e = &ctx->patch;
        break;

    default: /* NGX_HTTP_WOPORTAL_OP_STATUS */
        doc = NGX_HTTP_WOPORTAL_DOC_STATUS;
        e = &ctx->patch;
        break;
    }

    if (ngx_http_woportal_entry_init(r->pool, e) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_woportal_decode(r->pool, &body, doc, e, &err);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc != NGX_OK) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "woportal body: refused, %ui: %V", err.status,
                       &err.message);
        return ngx_http_woportal_send_errors(r, &err);
    }

    /* the key's namespaces: before the store is asked anything */

    ngx_memzero(&err, sizeof(ngx_http_woportal_error_t));

    rc = ngx_http_woportal_key_writes(r->pool, ctx, e, &err);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc != NGX_OK) {
        return ngx_http_woportal_send_errors(r, &err);
    }

    if (ctx->op == NGX_HTTP_WOPORTAL_OP_CREATE) {
        return ngx_http_woportal_create(r, ctx);
    }

    return ngx_http_woportal_modify(r, ctx);
}
