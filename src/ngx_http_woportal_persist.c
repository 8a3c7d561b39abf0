
/*
 * Persistence: every change of an entry also goes to SQL (woportal_persist
 * sqlite:<path> | postgresql:<conninfo>), so that nothing acknowledged is
 * lost when memcached forgets (a restart, an eviction, flush_all).
 *
 * A write runs in the same pool-thread task as its memcached call, in one
 * SQL transaction around it (store.c):
 *
 *     BEGIN -> SQL write -> memcached write -> COMMIT
 *
 * so a 2xx means both hold the change, and a failure of either rolls the
 * SQL side back and changes nothing.  Reads go to memcached first and to
 * SQL when it misses (read-through, store.c); a list whose index was lost
 * is rebuilt from SQL (list.c).
 *
 * This file hands the calls to the database's backend (sqlite.c,
 * pgsql.c), with the pool thread's slot for its connection (threads.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"


static void **ngx_http_woportal_db_slot(ngx_http_woportal_db_t *db);


static ngx_uint_t                    ngx_http_woportal_nstores;
static ngx_http_woportal_db_t      **ngx_http_woportal_dbs;


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
                                           NGX_HTTP_WOPORTAL_FORMAT_JSON,
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
