
/*
 * What the operations share (get.c, create.c, modify.c, list.c; health.c
 * for begin() and finish()), and nothing that calls them back: a request's
 * states, its reference while an operation runs, its store calls, the
 * entry a get fetched, ETags and the common answers.
 *
 * A request's life (handler.c dispatches, the operation goes on):
 *
 *     ROUTE -> [READ_BODY -> DECODE_BODY] -> STORE_GET / STORE_ADD /
 *     STORE_CAS / STORE_DELETE / LIST_CHECK -> STORE_RUN ... -> ANSWER
 *
 * Each store call sets its state when it is posted (post_call()), and
 * ANSWER when its done handler runs: a done handler that posts another
 * call (modify.c: get, then cas) moves the state on again.  state() sets
 * log->action with it, so that an error logged says what the request was
 * doing, never what it did before.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_auth.h"
#include "ngx_http_woportal_decode.h"
#include "ngx_http_woportal_entry.h"
#include "ngx_http_woportal_persist.h"
#include "ngx_http_woportal_request.h"
#include "ngx_http_woportal_response.h"
#include "ngx_http_woportal_store.h"
#include "ngx_http_woportal_value.h"


static void ngx_http_woportal_call_done(ngx_http_woportal_call_t *call);
static ngx_int_t ngx_http_woportal_stored_decode(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx, ngx_str_t *json);


/* what log->action says in each state */
static char  *ngx_http_woportal_actions_of[] = {
    "routing a woportal request",
    "reading a woportal request body",
    "decoding a woportal request body",
    "getting a woportal entry",
    "adding a woportal entry",
    "changing a woportal entry",
    "deleting a woportal entry",
    "checking what of the woportal list index changed",
    "listing woportal entries in a pool thread",
    "answering a woportal request"
};


#if (NGX_DEBUG)
/* the debug log's name of each store operation (t/152) */
static char  *ngx_http_woportal_call_names[] = {
    "get", "add", "cas", "delete", "run"
};
#endif


/* the state of each store operation, by ngx_http_woportal_store_op_e */
static ngx_http_woportal_state_e  ngx_http_woportal_call_states[] = {
    NGX_HTTP_WOPORTAL_STATE_STORE_GET,
    NGX_HTTP_WOPORTAL_STATE_STORE_ADD,
    NGX_HTTP_WOPORTAL_STATE_STORE_CAS,
    NGX_HTTP_WOPORTAL_STATE_STORE_DELETE,
    NGX_HTTP_WOPORTAL_STATE_STORE_RUN
};


/* moves the request to a state, and says so in log->action */

void
ngx_http_woportal_state(ngx_http_request_t *r, ngx_http_woportal_ctx_t *ctx,
    ngx_http_woportal_state_e state)
{
    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "woportal state: %ui -> %ui", (ngx_uint_t) ctx->state,
                   (ngx_uint_t) state);

    ctx->state = state;
    r->connection->log->action = ngx_http_woportal_actions_of[state];
}


/*
 * Runs an operation under the request's one reference (r->main->count):
 * taken here, given back by ngx_http_finalize_request() once: by finish()
 * when the operation went on (NGX_DONE), at once otherwise.  The
 * operations with a body run under the reference that
 * ngx_http_read_client_request_body() took (handler.c), on the same terms.
 * Taken before the operation starts, since an operation may finish before
 * it returns.
 */

ngx_int_t
ngx_http_woportal_begin(ngx_http_request_t *r, ngx_http_woportal_ctx_t *ctx,
    ngx_http_woportal_op_pt op)
{
    ngx_int_t  rc;

    r->main->count++;

    rc = op(r, ctx);

    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }

    return NGX_DONE;
}


/*
 * Starts a store call on the entry of ctx->id: NGX_DONE, or the answer
 * (503) when it cannot be posted (the pool's queue is full).
 */

ngx_int_t
ngx_http_woportal_call(ngx_http_request_t *r, ngx_http_woportal_ctx_t *ctx,
    ngx_http_woportal_store_op_e op, ngx_http_woportal_call_done_pt done)
{
    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "woportal store call: %s", ngx_http_woportal_call_names[op]);

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
    call->done = ngx_http_woportal_call_done;
    call->store = wlcf->store;
    call->op = op;

    ctx->done = done;

    ngx_http_woportal_state(r, ctx, ngx_http_woportal_call_states[op]);

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
    p = ngx_cpymem(p, ctx->id.data, NGX_HTTP_WOPORTAL_ID_LEN);
    call->key.len = p - call->key.data;

    call->persist = NULL;
    call->later = NULL;

    /* a write whose record cannot be appended makes the index rebuilt */
    call->index_marks = wlcf->index_marks;

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


/* a store call ended: the request answers, unless its handler goes on */

static void
ngx_http_woportal_call_done(ngx_http_woportal_call_t *call)
{
    ngx_http_request_t       *r;
    ngx_http_woportal_ctx_t  *ctx;

    r = call->request;
    ctx = ngx_http_get_module_ctx(r, ngx_http_woportal_module);

    ngx_http_woportal_state(r, ctx, NGX_HTTP_WOPORTAL_STATE_ANSWER);

    ctx->done(call);
}


/*
 * The value a get fetched, as far as a get needs it: NGX_OK with v->json
 * (the entry as stored, to be served) and v->version; NGX_DECLINED when
 * it is missing, being deleted, or not visible to the request's key (404,
 * the same answer for all three); NGX_ABORT when the store is unavailable
 * or the stored value is not this entry (503: garbage is never served);
 * NGX_ERROR (500).
 *
 * A FORMAT_ENTRY value is not parsed: its header says which entry it is,
 * its version and its namespaces (value.c).  A FORMAT_JSON one, stored
 * before that format, is decoded into ctx->entry.
 */

ngx_int_t
ngx_http_woportal_stored_value(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx, ngx_http_woportal_stored_t *v)
{
    ngx_int_t                  rc;
    ngx_http_woportal_call_t  *call;

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

    switch (call->fetched_flags) {

    case NGX_HTTP_WOPORTAL_FORMAT_ENTRY:
        if (ngx_http_woportal_value_open(&call->fetched, ctx->id.data,
                                         v)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "woportal: stored entry \"%V\" is corrupt: %s",
                          &call->key, v->reason);
            return NGX_ABORT;
        }

        if (!ngx_http_woportal_value_visible(ctx->key, v)) {
            return NGX_DECLINED;
        }

        return NGX_OK;

    case NGX_HTTP_WOPORTAL_FORMAT_JSON:
        rc = ngx_http_woportal_stored_decode(r, ctx, &call->fetched);
        if (rc != NGX_OK) {
            return rc;
        }

        if (!ngx_http_woportal_key_sees(ctx->key, &ctx->entry.namespaces)) {
            return NGX_DECLINED;
        }

        v->json = call->fetched;
        v->version = ctx->entry.version;

        return NGX_OK;

    default:
        /* whatever it holds, it was not stored as an entry */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "woportal: stored entry \"%V\" is corrupt: item "
                      "flags %uD are not an entry's", &call->key,
                      call->fetched_flags);
        return NGX_ABORT;
    }
}


/*
 * The entry a get fetched, decoded into ctx->entry, for a change: what
 * stored_value() answers; a FORMAT_ENTRY value whose header does not
 * agree with its JSON is corrupt (NGX_ABORT).
 */

ngx_int_t
ngx_http_woportal_stored_entry(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx)
{
    ngx_int_t                   rc;
    ngx_http_woportal_stored_t  v;

    rc = ngx_http_woportal_stored_value(r, ctx, &v);

    if (rc != NGX_OK
        || ctx->call.fetched_flags != NGX_HTTP_WOPORTAL_FORMAT_ENTRY)
    {
        /* a FORMAT_JSON value is decoded already */
        return rc;
    }

    rc = ngx_http_woportal_stored_decode(r, ctx, &v.json);
    if (rc != NGX_OK) {
        return rc;
    }

    if (!ngx_http_woportal_value_agrees(&v, &ctx->entry)) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "woportal: stored entry \"%V\" is corrupt: its "
                      "header does not agree with its JSON", &ctx->call.key);
        return NGX_ABORT;
    }

    return NGX_OK;
}


/* an entry's JSON decoded into ctx->entry: NGX_OK, NGX_ABORT, NGX_ERROR */

static ngx_int_t
ngx_http_woportal_stored_decode(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx, ngx_str_t *json)
{
    ngx_int_t                  rc;
    ngx_http_woportal_error_t  err;

    if (ngx_http_woportal_entry_init(r->pool, &ctx->entry) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_http_woportal_decode(r->pool, json, NGX_HTTP_WOPORTAL_DOC_STORED,
                                  &ctx->entry, &err);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK
        && ngx_strncmp(ctx->entry.id, ctx->id.data,
                       NGX_HTTP_WOPORTAL_ID_LEN)
           != 0)
    {
        ngx_str_set(&err.message, "it holds another entry's id");
        rc = NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "woportal: stored entry \"%V\" is corrupt: %V",
                      &ctx->call.key, &err.message);
        return NGX_ABORT;
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
