
/*
 * Persistence: every change of an entry goes to SQL (woportal_persist
 * sqlite:<path> | postgresql:<conninfo>), and SQL is the truth: memcached
 * is its cache, and nothing acknowledged is lost or served older when
 * memcached forgets (a restart, an eviction, flush_all).
 *
 *     write:  SQL first, committed in groups; memcached's item deleted
 *             before and after (commit.c)
 *     read:   memcached; on a miss SQL, filled back under a lease that
 *             any write ends (below)
 *     list:   the index in memcached, trusted only when whole, rebuilt
 *             from SQL otherwise (list.c)
 *
 * woportal_persist_mode async answers creates and changes from memcached
 * and writes them to SQL later (async.c).
 *
 * This file decides where a store call goes, reads through, and hands
 * the database calls to the backend (sqlite.c, pgsql.c), with the pool
 * thread's slot for its connection (threads.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"


static void **ngx_http_woportal_db_slot(ngx_http_woportal_db_t *db);


static ngx_uint_t                    ngx_http_woportal_nstores;
static ngx_http_woportal_db_t      **ngx_http_woportal_dbs;


/*
 * On the event loop: a store call with persistence.  A get reads through
 * SQL when memcached misses; a write goes to SQL first (commit.c), or,
 * with woportal_persist_mode async and room in the queue, to memcached
 * first and to SQL later (async.c; deletions never: they are committed).
 */

ngx_int_t
ngx_http_woportal_persist_post(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx, ngx_http_woportal_store_op_e op)
{
    ngx_http_woportal_call_t      *call;
    ngx_http_woportal_persist_t   *p;
    ngx_http_woportal_loc_conf_t  *wlcf;

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_woportal_module);

    call = &ctx->call;
    p = &ctx->persist;

    p->db = wlcf->db;
    p->prefix = wlcf->key_prefix;
    p->id = ctx->route.id.data;
    p->entry = (op == NGX_HTTP_WOPORTAL_STORE_DELETE) ? NULL : &ctx->entry;
    p->doc = call->value;
    p->create = (op == NGX_HTTP_WOPORTAL_STORE_ADD);
    p->expected = (op == NGX_HTTP_WOPORTAL_STORE_DELETE) ? ctx->expected : 0;

    if (op == NGX_HTTP_WOPORTAL_STORE_GET) {
        call->persist = p;
        return ngx_http_woportal_store_post(call, wlcf->thread_pool);
    }

    if (wlcf->persist_mode == NGX_HTTP_WOPORTAL_ASYNC
        && (op == NGX_HTTP_WOPORTAL_STORE_ADD
            || op == NGX_HTTP_WOPORTAL_STORE_CAS)
        && ngx_http_woportal_async_room(wlcf->db, wlcf->persist_queue))
    {
        call->later = p;
        return ngx_http_woportal_store_post(call, wlcf->thread_pool);
    }

    call->persist = p;

    return ngx_http_woportal_commit_post(call, wlcf->thread_pool);
}


/* a pool thread's database connections follow its memcached ones */

ngx_int_t
ngx_http_woportal_db_init(ngx_uint_t nstores, ngx_array_t *dbs)
{
    ngx_http_woportal_nstores = nstores;
    ngx_http_woportal_dbs = dbs->elts;

    return NGX_OK;
}


/* at exit: a pool thread's handle of slot i (threads.c) */

void
ngx_http_woportal_db_free(ngx_uint_t i, void *conn)
{
    if (i < ngx_http_woportal_nstores) {
        ngx_http_woportal_store_free(conn);
        return;
    }

    ngx_http_woportal_dbs[i - ngx_http_woportal_nstores]->backend->free(conn);
}


/*
 * In a pool thread: starts the transaction of a write.  NGX_OK, or
 * NGX_ERROR when the database cannot be reached or stays locked.
 */

ngx_int_t
ngx_http_woportal_db_begin(ngx_http_woportal_db_t *db, ngx_log_t *log)
{
    void      **slot;
    uint64_t    t;
    ngx_int_t   rc;

    slot = ngx_http_woportal_db_slot(db);
    if (slot == NULL) {
        return NGX_ERROR;
    }

    t = ngx_http_woportal_metrics_clock();
    rc = db->backend->begin(db, slot, log);
    ngx_http_woportal_metrics_sql(NGX_HTTP_WOPORTAL_DBCALL_BEGIN, t, rc);

    return rc;
}


/* ends the transaction begun: NGX_OK, or NGX_ERROR (rolled back) */

ngx_int_t
ngx_http_woportal_db_end(ngx_http_woportal_db_t *db, ngx_uint_t commit,
    ngx_log_t *log)
{
    void      **slot;
    uint64_t    t;
    ngx_int_t   rc;

    slot = ngx_http_woportal_db_slot(db);
    if (slot == NULL) {
        return NGX_ERROR;
    }

    t = ngx_http_woportal_metrics_clock();
    rc = db->backend->end(db, slot, commit, log);
    ngx_http_woportal_metrics_sql(NGX_HTTP_WOPORTAL_DBCALL_END, t, rc);

    return rc;
}


/*
 * Stores an entry in the transaction begun: NGX_OK; NGX_BUSY when the
 * database holds the entry at this version or a newer one (for a new
 * entry: the id is taken); NGX_ERROR.
 */

ngx_int_t
ngx_http_woportal_db_put(ngx_http_woportal_db_t *db,
    ngx_http_woportal_persist_t *p, ngx_log_t *log)
{
    void      **slot;
    uint64_t    t;
    ngx_int_t   rc;

    slot = ngx_http_woportal_db_slot(db);
    if (slot == NULL) {
        return NGX_ERROR;
    }

    t = ngx_http_woportal_metrics_clock();
    rc = db->backend->put(db, slot, p, log);
    ngx_http_woportal_metrics_sql(NGX_HTTP_WOPORTAL_DBCALL_PUT, t, rc);

    return rc;
}


/* deletes an entry in the transaction begun: NGX_OK or NGX_DECLINED */

ngx_int_t
ngx_http_woportal_db_delete(ngx_http_woportal_db_t *db,
    ngx_http_woportal_persist_t *p, ngx_log_t *log)
{
    void      **slot;
    uint64_t    t;
    ngx_int_t   rc;

    slot = ngx_http_woportal_db_slot(db);
    if (slot == NULL) {
        return NGX_ERROR;
    }

    t = ngx_http_woportal_metrics_clock();
    rc = db->backend->del(db, slot, p, log);
    ngx_http_woportal_metrics_sql(NGX_HTTP_WOPORTAL_DBCALL_DELETE, t, rc);

    return rc;
}


/*
 * Reads an entry outside any transaction: NGX_OK with *doc malloc()ed,
 * NGX_DECLINED when there is none, NGX_ERROR.
 */

ngx_int_t
ngx_http_woportal_db_load(ngx_http_woportal_db_t *db, ngx_str_t *prefix,
    u_char *id, ngx_str_t *doc, ngx_log_t *log)
{
    void      **slot;
    uint64_t    t;
    ngx_int_t   rc;

    slot = ngx_http_woportal_db_slot(db);
    if (slot == NULL) {
        return NGX_ERROR;
    }

    t = ngx_http_woportal_metrics_clock();
    rc = db->backend->load(db, slot, prefix, id, doc, log);
    ngx_http_woportal_metrics_sql(NGX_HTTP_WOPORTAL_DBCALL_LOAD, t, rc);

    return rc;
}


/*
 * A group commit in one go (the backend's commit, when it has one):
 * NGX_OK with a result each (db_put(), db_delete()), NGX_DECLINED when
 * the backend has none, NGX_ERROR (nothing committed).
 */

ngx_int_t
ngx_http_woportal_db_commit(ngx_http_woportal_db_t *db,
    ngx_http_woportal_persist_t **ps, ngx_int_t *rcs, ngx_uint_t n,
    ngx_log_t *log)
{
    void      **slot;
    uint64_t    t;
    ngx_int_t   rc;

    if (db->backend->commit == NULL) {
        return NGX_DECLINED;
    }

    slot = ngx_http_woportal_db_slot(db);
    if (slot == NULL) {
        return NGX_ERROR;
    }

    t = ngx_http_woportal_metrics_clock();
    rc = db->backend->commit(db, slot, ps, rcs, n, log);
    ngx_http_woportal_metrics_sql(NGX_HTTP_WOPORTAL_DBCALL_END, t, rc);

    return rc;
}


/* every entry of a prefix, handed to the handler: NGX_OK or NGX_ERROR */

ngx_int_t
ngx_http_woportal_db_scan(ngx_http_woportal_db_t *db, ngx_str_t *prefix,
    ngx_http_woportal_scan_pt handler, void *data, ngx_log_t *log)
{
    void      **slot;
    uint64_t    t;
    ngx_int_t   rc;

    slot = ngx_http_woportal_db_slot(db);
    if (slot == NULL) {
        return NGX_ERROR;
    }

    t = ngx_http_woportal_metrics_clock();
    rc = db->backend->scan(db, slot, prefix, handler, data, log);
    ngx_http_woportal_metrics_sql(NGX_HTTP_WOPORTAL_DBCALL_SCAN, t, rc);

    return rc;
}


/*
 * In a pool thread: a get that memcached could not answer (a miss, or a
 * lease) is answered by SQL, and memcached is filled only when no write
 * can have come between the read and the fill:
 *
 *     add a lease (an empty item, FORMAT_LEASE, expiring) -> get it, with
 *     its CAS -> read SQL -> CAS the row over the lease
 *
 * Every write deletes the entry's item after its commit (commit.c), and
 * a delete ends any lease: a row read before a commit can never be
 * filled after it, whatever memcached did meanwhile (a flush ends the
 * lease too).  Readers that find another's lease read SQL themselves,
 * and may fill it: their read comes after they saw the lease.
 *
 * NGX_OK with *value malloc()ed (from memcached or SQL: *cas is 0 for
 * SQL's), NGX_DECLINED when SQL has no such entry, NGX_ERROR.
 */

ngx_int_t
ngx_http_woportal_db_read_through(ngx_http_woportal_mc_t *mc,
    ngx_http_woportal_persist_t *p, ngx_str_t *key, ngx_str_t *value,
    uint32_t *flags, uint64_t *cas, ngx_log_t *log)
{
    uint64_t    lease;
    ngx_int_t   rc;
    ngx_str_t   empty;
    ngx_uint_t  leased;

    ngx_str_set(&empty, "");

    rc = ngx_http_woportal_store_put(mc, key, &empty,
                                     NGX_HTTP_WOPORTAL_FORMAT_LEASE, 1,
                                     NGX_HTTP_WOPORTAL_LEASE_TIME, log);
    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    /* our lease, another reader's, or a value stored meanwhile */

    rc = ngx_http_woportal_store_fetch(mc, key, value, flags, &lease, log);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    leased = 0;

    if (rc == NGX_OK) {
        if (*flags != NGX_HTTP_WOPORTAL_FORMAT_LEASE) {
            *cas = lease;
            return NGX_OK;
        }

        free(value->data);
        leased = 1;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                   "woportal: \"%V\" read through the database, %s",
                   key, leased ? "leased" : "not leased");

    rc = ngx_http_woportal_db_load(p->db, &p->prefix, p->id, value, log);

    if (rc != NGX_OK) {
        return rc;
    }

    *flags = NGX_HTTP_WOPORTAL_FORMAT_JSON;
    *cas = 0;

    if (leased) {
        /* NGX_BUSY or NGX_DECLINED: a write came meanwhile; not filled */
        (void) ngx_http_woportal_store_cas(mc, key, value,
                                           NGX_HTTP_WOPORTAL_FORMAT_JSON, 0,
                                           lease, log);
    }

    return NGX_OK;
}


/* the pool thread's slot for db's connection */

static void **
ngx_http_woportal_db_slot(ngx_http_woportal_db_t *db)
{
    return ngx_http_woportal_slot(ngx_http_woportal_nstores + db->index);
}
