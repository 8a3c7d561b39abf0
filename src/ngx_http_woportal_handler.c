
/*
 * The content handler: every request in a woportal location starts here.
 *
 *     authenticate -> route -> method -> (body) -> operation
 *
 * OPTIONS needs no key: it tells only the methods of a path.
 *
 * The operations live in get.c, list.c, create.c and modify.c.  Their store
 * calls run in the thread pool: the handler returns NGX_DONE and the
 * request is finished from a call's done handler.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"


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

#if (NGX_DEBUG)
static char  *ngx_http_woportal_store_ops[] = {
    "get", "add", "cas", "delete", "run"
};
#endif


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

    ngx_http_woportal_route(&wlcf->base, &r->uri, &ctx->route);

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

    r->connection->log->action = "authenticating a woportal request";

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
        return ngx_http_woportal_get(r, ctx);

    case NGX_HTTP_WOPORTAL_OP_DELETE:
        return ngx_http_woportal_delete(r, ctx);

    case NGX_HTTP_WOPORTAL_OP_LIST:
        return ngx_http_woportal_list(r, ctx);

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

    r->connection->log->action = "reading a woportal request body";

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "woportal body: reading, length %O",
                   r->headers_in.content_length_n);

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

    r->connection->log->action = "decoding a woportal request body";

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


/*
 * Starts a store call on the entry of ctx->route.id: NGX_DONE, or the
 * answer (503) when it cannot be posted (the pool's queue is full).
 */

ngx_int_t
ngx_http_woportal_call(ngx_http_request_t *r, ngx_http_woportal_ctx_t *ctx,
    ngx_http_woportal_store_op_e op, ngx_http_woportal_call_done_pt done)
{
    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "woportal store call: %s", ngx_http_woportal_store_ops[op]);

    if (ngx_http_woportal_post_call(r, ctx, op, done) != NGX_OK) {
        return ngx_http_woportal_unavailable(r);
    }

    return NGX_DONE;
}


/* the same, for a caller that answers a failure itself: NGX_OK, NGX_ERROR */

ngx_int_t
ngx_http_woportal_post_call(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx, ngx_http_woportal_store_op_e op,
    ngx_http_woportal_call_done_pt done)
{
    u_char                        *p;
    ngx_http_woportal_call_t      *call;
    ngx_http_woportal_loc_conf_t  *wlcf;

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_woportal_module);

    call = &ctx->call;

    call->request = r;
    call->done = done;
    call->store = wlcf->store;
    call->op = op;

    r->connection->log->action = "calling memcached";

    if (op == NGX_HTTP_WOPORTAL_STORE_RUN) {
        /* a list: it may have a pool of its own */
        return ngx_http_woportal_store_post(call, wlcf->list_thread_pool);
    }

    if (call->key.data == NULL) {
        call->key.data = ngx_pnalloc(r->pool, wlcf->key_prefix.len
                                              + NGX_HTTP_WOPORTAL_ID_LEN);
        if (call->key.data == NULL) {
            return NGX_ERROR;
        }
    }

    p = ngx_cpymem(call->key.data, wlcf->key_prefix.data,
                   wlcf->key_prefix.len);
    p = ngx_cpymem(p, ctx->route.id.data, NGX_HTTP_WOPORTAL_ID_LEN);
    call->key.len = p - call->key.data;

    call->persist = NULL;
    call->later = NULL;

    /* a write whose record cannot be appended makes the index rebuilt */
    call->index_gen = &wlcf->index_keys[wlcf->index_shards];

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "woportal: store call %ui \"%V\"%s", (ngx_uint_t) op,
                   &call->key, wlcf->db ? ", persisted" : "");

    if (wlcf->db == NULL) {
        /* memcached is the only store */
        return ngx_http_woportal_store_post(call, wlcf->thread_pool);
    }

    /* SQL is the truth */

    return ngx_http_woportal_persist_post(r, ctx, op);
}


/*
 * The entry a get fetched, decoded into ctx->entry: NGX_OK; NGX_DECLINED
 * when it is missing, being deleted, or not visible to the request's key
 * (404, the same answer for all three); NGX_ABORT when the store is
 * unavailable or the stored value is not this entry (503: garbage is never
 * served); NGX_ERROR (500).
 */

ngx_int_t
ngx_http_woportal_stored_entry(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx)
{
    ngx_int_t                   rc;
    ngx_http_woportal_call_t   *call;
    ngx_http_woportal_error_t   err;

    call = &ctx->call;

    if (call->result == NGX_DECLINED
        || (call->result == NGX_OK
            && call->fetched_flags == NGX_HTTP_WOPORTAL_FORMAT_GONE))
    {
        return NGX_DECLINED;
    }

    if (call->result != NGX_OK) {
        return NGX_ABORT;
    }

    if (call->fetched_flags != NGX_HTTP_WOPORTAL_FORMAT_JSON) {
        /* whatever it holds, it was not stored as an entry */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "woportal: stored entry \"%V\" is corrupt: item "
                      "flags %uD are not an entry's", &call->key,
                      call->fetched_flags);
        return NGX_ABORT;
    }

    if (ngx_http_woportal_entry_init(r->pool, &ctx->entry) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_http_woportal_decode(r->pool, &call->fetched,
                                  NGX_HTTP_WOPORTAL_DOC_STORED,
                                  &ctx->entry, &err);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK
        && ngx_strncmp(ctx->entry.id, ctx->route.id.data,
                       NGX_HTTP_WOPORTAL_ID_LEN)
           != 0)
    {
        ngx_str_set(&err.message, "it holds another entry's id");
        rc = NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "woportal: stored entry \"%V\" is corrupt: %V",
                      &call->key, &err.message);
        return NGX_ABORT;
    }

    if (!ngx_http_woportal_key_sees(ctx->key, &ctx->entry.namespaces)) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* the answer to a stored_entry() that is not NGX_OK */

ngx_int_t
ngx_http_woportal_not_stored(ngx_http_request_t *r, ngx_int_t rc)
{
    switch (rc) {

    case NGX_DECLINED:
        return ngx_http_woportal_not_found(r);

    case NGX_ABORT:
        return ngx_http_woportal_unavailable(r);

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}


/*
 * If-None-Match (weak comparison) and If-Match (strong: a weak tag never
 * matches): a list of entity tags, or "*".  Before nginx 1.23 only the
 * first header line is kept.
 */

ngx_int_t
ngx_http_woportal_etag_matches(ngx_table_elt_t *h, uint64_t version,
    ngx_uint_t weak)
{
    u_char      *p, *last, *start;
    u_char       tag[NGX_INT64_LEN];
    size_t       len;
    ngx_uint_t   is_weak;

    len = ngx_sprintf(tag, "%uL", version) - tag;

#if (nginx_version >= 1023000)
    for ( /* void */ ; h; h = h->next)
#endif
    {
        p = h->value.data;
        last = p + h->value.len;

        while (p < last) {
            while (p < last && (*p == ' ' || *p == '\t' || *p == ',')) {
                p++;
            }

            if (p == last) {
                break;
            }

            if (*p == '*') {
                return 1;
            }

            is_weak = 0;

            if (last - p >= 2 && p[0] == 'W' && p[1] == '/') {
                is_weak = 1;
                p += 2;
            }

            if (p == last || *p != '"') {
                return 0;
            }

            start = ++p;

            while (p < last && *p != '"') {
                p++;
            }

            if (p == last) {
                return 0;
            }

            if ((weak || !is_weak)
                && (size_t) (p - start) == len
                && ngx_strncmp(start, tag, len) == 0)
            {
                return 1;
            }

            p++;
        }
    }

    return 0;
}


ngx_int_t
ngx_http_woportal_unavailable(ngx_http_request_t *r)
{
    return ngx_http_woportal_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        NGX_HTTP_WOPORTAL_E_STORE_UNAVAILABLE,
                                        "the store cannot be reached; "
                                        "nothing was changed");
}


ngx_int_t
ngx_http_woportal_not_found(ngx_http_request_t *r)
{
    return ngx_http_woportal_send_error(r, NGX_HTTP_NOT_FOUND,
                                        NGX_HTTP_WOPORTAL_E_NOT_FOUND,
                                        "no such entry");
}


/* ends a request from a store call's done handler */

void
ngx_http_woportal_finish(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_connection_t  *c;

    c = r->connection;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "woportal finish: rc %i, status %ui", rc,
                   r->headers_out.status);

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}
