
/*
 * The content handler: every request in a woportal location starts here.
 *
 *     authenticate -> route -> method -> (body) -> store task -> answer
 *
 * Store calls run in the thread pool; the handler returns NGX_DONE and
 * the request is finished from the call's done handler.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"


typedef struct {
    ngx_uint_t   methods;
    ngx_str_t    allow;
} ngx_http_woportal_methods_t;


static ngx_int_t ngx_http_woportal_get(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx);
static void ngx_http_woportal_get_done(ngx_http_woportal_call_t *call);
static void ngx_http_woportal_create_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_woportal_create(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx);
static ngx_int_t ngx_http_woportal_create_post(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx);
static void ngx_http_woportal_create_done(ngx_http_woportal_call_t *call);
static ngx_int_t ngx_http_woportal_call(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx, ngx_http_woportal_store_op_e op,
    ngx_http_woportal_call_done_pt done);
static ngx_int_t ngx_http_woportal_etag_matches(ngx_table_elt_t *h,
    uint64_t version);
static ngx_int_t ngx_http_woportal_unavailable(ngx_http_request_t *r);


#define NGX_HTTP_WOPORTAL_CREATE_ATTEMPTS  3


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

    r->connection->log->action = "authenticating a woportal request";

    if (!ngx_http_woportal_authorized(r, wlcf)) {
        return ngx_http_woportal_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                            NGX_HTTP_WOPORTAL_E_UNAUTHORIZED,
                                            "a valid API key is required");
    }

    ngx_http_woportal_route(&wlcf->base, &r->uri, &ctx->route);

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

    if (r->method == NGX_HTTP_OPTIONS) {
        ctx->allow = m->allow;
        return ngx_http_woportal_send(r, NGX_HTTP_NO_CONTENT, NULL, 0);
    }

    if (ctx->route.target != NGX_HTTP_WOPORTAL_COLLECTION
        && !ctx->route.id_valid)
    {
        return ngx_http_woportal_send_error(r, NGX_HTTP_NOT_FOUND,
                                            NGX_HTTP_WOPORTAL_E_NOT_FOUND,
                                            "no such entry");
    }

    if (ctx->route.target == NGX_HTTP_WOPORTAL_ITEM
        && (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)))
    {
        return ngx_http_woportal_get(r, ctx);
    }

    if (ctx->route.target != NGX_HTTP_WOPORTAL_COLLECTION
        || r->method != NGX_HTTP_POST)
    {
        return ngx_http_woportal_send_error(r, NGX_HTTP_NOT_IMPLEMENTED,
                                            NGX_HTTP_WOPORTAL_E_INTERNAL_ERROR,
                                            "not implemented yet");
    }

    if (!ngx_http_woportal_is_json(r)) {
        return ngx_http_woportal_send_error(r,
                                 NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                 NGX_HTTP_WOPORTAL_E_UNSUPPORTED_MEDIA_TYPE,
                                 "the body must be application/json");
    }

    r->connection->log->action = "reading a woportal request body";

    rc = ngx_http_read_client_request_body(r, ngx_http_woportal_create_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static ngx_int_t
ngx_http_woportal_get(ngx_http_request_t *r, ngx_http_woportal_ctx_t *ctx)
{
    ngx_int_t  rc;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_woportal_call(r, ctx, NGX_HTTP_WOPORTAL_STORE_GET,
                                ngx_http_woportal_get_done);
    if (rc != NGX_OK) {
        return ngx_http_woportal_unavailable(r);
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_woportal_get_done(ngx_http_woportal_call_t *call)
{
    ngx_int_t                   rc;
    ngx_str_t                   json;
    ngx_connection_t           *c;
    ngx_http_request_t         *r;
    ngx_http_woportal_ctx_t    *ctx;
    ngx_http_woportal_error_t   err;

    r = call->request;
    ctx = ngx_http_get_module_ctx(r, ngx_http_woportal_module);

    r->connection->log->action = "answering a woportal get";

    if (call->result == NGX_DECLINED) {
        rc = ngx_http_woportal_send_error(r, NGX_HTTP_NOT_FOUND,
                                          NGX_HTTP_WOPORTAL_E_NOT_FOUND,
                                          "no such entry");
        goto done;
    }

    if (call->result != NGX_OK) {
        rc = ngx_http_woportal_unavailable(r);
        goto done;
    }

    if (ngx_http_woportal_entry_init(r->pool, &ctx->entry) != NGX_OK) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    rc = ngx_http_woportal_decode(r->pool, &call->fetched,
                                  NGX_HTTP_WOPORTAL_DOC_STORED,
                                  &ctx->entry, &err);

    if (rc == NGX_ERROR) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
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
        /* never serve what is not an entry, nor another entry */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "woportal: stored entry \"%V\" is corrupt: %V",
                      &call->key, &err.message);
        rc = ngx_http_woportal_unavailable(r);
        goto done;
    }

    if (r->headers_in.if_none_match
        && ngx_http_woportal_etag_matches(r->headers_in.if_none_match,
                                          ctx->entry.version))
    {
        rc = ngx_http_woportal_send(r, NGX_HTTP_NOT_MODIFIED, NULL,
                                    ctx->entry.version);
        goto done;
    }

    if (ngx_http_woportal_encode_entry(r->pool, &ctx->entry, &json, NULL)
        != NGX_OK)
    {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    rc = ngx_http_woportal_send(r, NGX_HTTP_OK, &json, ctx->entry.version);

done:

    c = r->connection;

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_woportal_create_body(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_http_woportal_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_woportal_module);

    r->connection->log->action = "creating a woportal entry";

    rc = ngx_http_woportal_create(r, ctx);

    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


static ngx_int_t
ngx_http_woportal_create(ngx_http_request_t *r, ngx_http_woportal_ctx_t *ctx)
{
    ngx_int_t                   rc;
    ngx_str_t                   body;
    ngx_http_woportal_error_t   err;

    if (ngx_http_woportal_body(r, &body) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_woportal_entry_init(r->pool, &ctx->entry) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_woportal_decode(r->pool, &body,
                                  NGX_HTTP_WOPORTAL_DOC_CREATE,
                                  &ctx->entry, &err);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc != NGX_OK) {
        return ngx_http_woportal_send_errors(r, &err);
    }

    if (ngx_http_woportal_entry_create(r->pool, &ctx->entry) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_woportal_create_post(r, ctx);
}


/* a fresh id for each attempt: "add" refuses an id already stored */

static ngx_int_t
ngx_http_woportal_create_post(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx)
{
    ngx_http_woportal_entry_t  *e;

    e = &ctx->entry;

    ngx_http_woportal_id_next(e->id);

    ctx->route.id.data = e->id;
    ctx->route.id.len = NGX_HTTP_WOPORTAL_ID_LEN;

    if (ngx_http_woportal_encode_entry(r->pool, e, &ctx->json,
                                       &ctx->call.value)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_woportal_call(r, ctx, NGX_HTTP_WOPORTAL_STORE_ADD,
                               ngx_http_woportal_create_done)
        != NGX_OK)
    {
        return ngx_http_woportal_unavailable(r);
    }

    return NGX_DONE;
}


static void
ngx_http_woportal_create_done(ngx_http_woportal_call_t *call)
{
    u_char                        *p;
    ngx_int_t                      rc;
    ngx_connection_t              *c;
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
                      &ctx->route.id);

        rc = ngx_http_woportal_create_post(r, ctx);

        if (rc == NGX_DONE) {
            return;
        }

        goto done;
    }

    if (call->result != NGX_OK) {
        rc = ngx_http_woportal_unavailable(r);
        goto done;
    }

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_woportal_module);

    p = ngx_pnalloc(r->pool, wlcf->base.len + 1 + NGX_HTTP_WOPORTAL_ID_LEN);
    if (p == NULL) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    ctx->location.data = p;
    p = ngx_cpymem(p, wlcf->base.data, wlcf->base.len);
    *p++ = '/';
    p = ngx_cpymem(p, ctx->entry.id, NGX_HTTP_WOPORTAL_ID_LEN);
    ctx->location.len = p - ctx->location.data;

    /* the envelope was encoded with the stored form as its "data" */

    rc = ngx_http_woportal_send(r, NGX_HTTP_CREATED, &ctx->json,
                                ctx->entry.version);

done:

    c = r->connection;

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_http_woportal_call(ngx_http_request_t *r, ngx_http_woportal_ctx_t *ctx,
    ngx_http_woportal_store_op_e op, ngx_http_woportal_call_done_pt done)
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

    r->connection->log->action = "calling memcached";

    return ngx_http_woportal_store_post(call, wlcf->thread_pool);
}


/*
 * If-None-Match: a list of entity tags or "*", compared weakly.  Before
 * nginx 1.23 only the first header line is kept.
 */

static ngx_int_t
ngx_http_woportal_etag_matches(ngx_table_elt_t *h, uint64_t version)
{
    u_char  *p, *last, *start;
    u_char   tag[NGX_INT64_LEN];
    size_t   len;

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

            if (last - p >= 2 && p[0] == 'W' && p[1] == '/') {
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

            if ((size_t) (p - start) == len
                && ngx_strncmp(start, tag, len) == 0)
            {
                return 1;
            }

            p++;
        }
    }

    return 0;
}


static ngx_int_t
ngx_http_woportal_unavailable(ngx_http_request_t *r)
{
    return ngx_http_woportal_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        NGX_HTTP_WOPORTAL_E_STORE_UNAVAILABLE,
                                        "the store cannot be reached; "
                                        "nothing was changed");
}
