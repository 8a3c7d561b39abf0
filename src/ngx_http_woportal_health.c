
/*
 * GET <woportal_health location>: whether the stores answer.
 *
 * Every store of the http block's woportal locations is checked: each
 * memcached configuration (a "version" round trip to each of its
 * servers) and, with persistence, each database (a read of an id that is
 * never made).  The checks are store calls of the woportal_thread_pool in
 * effect at the health location (nginx's default pool when none is set
 * there or above it), all posted at once; the answer waits for the last.
 *
 *     200 {"status":"ok","memcached":"ok","sql":"ok"}
 *     503 {"status":"unavailable","memcached":"unavailable","sql":"ok"}
 *
 * "sql" is there only when some woportal location persists.  Which store
 * failed, and why, goes to the error log, not to whoever asks.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <libmemcached/memcached.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_db.h"
#include "ngx_http_woportal_health.h"
#include "ngx_http_woportal_libmc.h"
#include "ngx_http_woportal_request.h"
#include "ngx_http_woportal_store.h"


typedef struct {
    ngx_uint_t                    pending;
    ngx_uint_t                    memcached_failed;
    ngx_uint_t                    sql_failed;
    ngx_uint_t                    sql;
} ngx_http_woportal_health_t;


typedef struct {
    ngx_http_woportal_call_t      call;
    ngx_http_woportal_health_t   *health;
    ngx_http_woportal_db_t       *db;      /* NULL: memcached */
} ngx_http_woportal_check_t;


static ngx_int_t ngx_http_woportal_health_memcached(
    ngx_http_woportal_call_t *call, ngx_http_woportal_mc_t *mc,
    ngx_log_t *log);
static ngx_int_t ngx_http_woportal_health_sql(ngx_http_woportal_call_t *call,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_health_check(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx);
static void ngx_http_woportal_health_done(ngx_http_woportal_call_t *call);
static void ngx_http_woportal_health_failed(ngx_http_woportal_check_t *c);
static ngx_int_t ngx_http_woportal_health_send(ngx_http_request_t *r,
    ngx_http_woportal_health_t *h);


/* the id read from the database: 24 digits, never made by id.c */
static u_char  ngx_http_woportal_health_id[] = "000000000000000000000000";


ngx_int_t
ngx_http_woportal_health_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    /* under the request's one reference, as an operation (request.c) */

    return ngx_http_woportal_begin(r, NULL, ngx_http_woportal_health_check);
}


/* posts a check of each store: the request goes on from their answers */

static ngx_int_t
ngx_http_woportal_health_check(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx)
{
    ngx_uint_t                      i, n, nstores;
    ngx_http_woportal_db_t        **dbs;
    ngx_http_woportal_store_t     **stores;
    ngx_http_woportal_health_t     *h;
    ngx_http_woportal_check_t      *checks, *c;
    ngx_http_woportal_loc_conf_t   *wlcf;
    ngx_http_woportal_main_conf_t  *wmcf;

    r->connection->log->action = "checking the woportal stores";

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_woportal_module);
    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_woportal_module);

    stores = wmcf->stores.elts;
    dbs = wmcf->dbs.elts;
    nstores = wmcf->stores.nelts;
    n = nstores + wmcf->dbs.nelts;

    h = ngx_pcalloc(r->pool, sizeof(ngx_http_woportal_health_t));
    checks = ngx_pcalloc(r->pool, n * sizeof(ngx_http_woportal_check_t));

    if (h == NULL || checks == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->sql = (wmcf->dbs.nelts != 0);

    for (i = 0; i < n; i++) {
        c = &checks[i];

        c->health = h;
        c->call.request = r;
        c->call.done = ngx_http_woportal_health_done;
        c->call.op = NGX_HTTP_WOPORTAL_STORE_RUN;
        c->call.data = c;

        if (i < nstores) {
            c->call.store = stores[i];
            c->call.run = ngx_http_woportal_health_memcached;

        } else {
            /* a call of its own, with no memcached (store.c) */
            c->db = dbs[i - nstores];
            c->call.store = NULL;
            c->call.run = ngx_http_woportal_health_sql;
        }

        if (ngx_http_woportal_store_post(&c->call, wlcf->thread_pool)
            != NGX_OK)
        {
            /* the pool's queue is full: that is an answer too */
            ngx_http_woportal_health_failed(c);
            continue;
        }

        h->pending++;
    }

    if (h->pending == 0) {
        return ngx_http_woportal_health_send(r, h);
    }

    return NGX_DONE;
}


/* in a pool thread */

static ngx_int_t
ngx_http_woportal_health_memcached(ngx_http_woportal_call_t *call,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log)
{
    memcached_return_t  rc;

    /* one round trip to every server of the configuration */

    rc = memcached_version(mc);

    if (ngx_http_woportal_libmc_outcome(rc)
        != NGX_HTTP_WOPORTAL_OUTCOME_OK)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "woportal: health: memcached \"%V\" does not answer: "
                      "%s", &call->store->config, memcached_strerror(mc, rc));
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* in a pool thread, mc NULL */

static ngx_int_t
ngx_http_woportal_health_sql(ngx_http_woportal_call_t *call,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log)
{
    ngx_int_t                   rc;
    ngx_str_t                   prefix, doc;
    ngx_http_woportal_check_t  *c;

    c = call->data;

    ngx_str_set(&prefix, "woportal-health:");

    rc = ngx_http_woportal_db_load(c->db, &prefix, ngx_http_woportal_health_id,
                                   &doc, log);

    if (rc == NGX_OK) {
        free(doc.data);
    }

    if (rc == NGX_ERROR) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "woportal: health: the %V database does not answer",
                      &c->db->backend->name);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_woportal_health_done(ngx_http_woportal_call_t *call)
{
    ngx_http_request_t          *r;
    ngx_http_woportal_check_t   *c;
    ngx_http_woportal_health_t  *h;

    c = call->data;
    h = c->health;
    r = call->request;

    if (call->result != NGX_OK) {
        ngx_http_woportal_health_failed(c);
    }

    if (--h->pending) {
        return;
    }

    r->connection->log->action = "answering a woportal health check";

    ngx_http_woportal_finish(r, ngx_http_woportal_health_send(r, h));
}


static void
ngx_http_woportal_health_failed(ngx_http_woportal_check_t *c)
{
    if (c->db) {
        c->health->sql_failed = 1;

    } else {
        c->health->memcached_failed = 1;
    }
}


static ngx_int_t
ngx_http_woportal_health_send(ngx_http_request_t *r,
    ngx_http_woportal_health_t *h)
{
    u_char       *p;
    size_t        len;
    ngx_int_t     rc;
    ngx_uint_t    ok;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    ok = !h->memcached_failed && !h->sql_failed;

    len = sizeof("{\"status\":\"unavailable\",\"memcached\":\"unavailable\","
                 "\"sql\":\"unavailable\"}\n") - 1;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(b->last, "{\"status\":\"%s\",\"memcached\":\"%s\"",
                    ok ? "ok" : "unavailable",
                    h->memcached_failed ? "unavailable" : "ok");

    if (h->sql) {
        p = ngx_sprintf(p, ",\"sql\":\"%s\"",
                        h->sql_failed ? "unavailable" : "ok");
    }

    *p++ = '}';
    *p++ = '\n';

    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = ok ? NGX_HTTP_OK : NGX_HTTP_SERVICE_UNAVAILABLE;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    /* a proxy or a browser must ask again */
    r->headers_out.last_modified_time = -1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
