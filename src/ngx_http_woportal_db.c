
/*
 * A database's calls from a pool thread: each of the backend's calls
 * (sqlite.c, pgsql.c), with the thread's slot for its connection
 * (threads.c), timed (metrics.c); and the read through SQL of a get that
 * memcached could not answer.  Where a store call goes is persist.c's.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_db.h"
#include "ngx_http_woportal_decode.h"
#include "ngx_http_woportal_entry.h"
#include "ngx_http_woportal_libmc.h"
#include "ngx_http_woportal_metrics.h"
#include "ngx_http_woportal_threads.h"
#include "ngx_http_woportal_value.h"


/* the arguments of a backend's call: its own are set, the others zero */

typedef struct {
    ngx_uint_t                     commit;
    ngx_http_woportal_persist_t   *p;
    ngx_str_t                     *prefix;
    u_char                        *id;
    ngx_str_t                     *doc;
    ngx_http_woportal_scan_pt      handler;
    void                          *data;
    ngx_http_woportal_persist_t  **ps;
    ngx_int_t                     *rcs;
    ngx_uint_t                     n;
} ngx_http_woportal_db_args_t;


static ngx_int_t ngx_http_woportal_db_call(ngx_http_woportal_db_t *db,
    ngx_http_woportal_dbcall_e call, ngx_http_woportal_db_args_t *a,
    ngx_log_t *log);
static ngx_int_t ngx_http_woportal_db_value(ngx_http_woportal_persist_t *p,
    ngx_str_t *value, ngx_log_t *log);
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


/* at exit: a pool thread's connection to database i (threads.c) */

void
ngx_http_woportal_db_free(ngx_uint_t i, void *conn)
{
    ngx_http_woportal_dbs[i]->backend->free(conn);
}


/*
 * In a pool thread: starts the transaction of a write.  NGX_OK, or
 * NGX_ERROR when the database cannot be reached or stays locked.
 */

ngx_int_t
ngx_http_woportal_db_begin(ngx_http_woportal_db_t *db, ngx_log_t *log)
{
    ngx_http_woportal_db_args_t  a;

    ngx_memzero(&a, sizeof(ngx_http_woportal_db_args_t));

    return ngx_http_woportal_db_call(db, NGX_HTTP_WOPORTAL_DBCALL_BEGIN, &a,
                                     log);
}


/* ends the transaction begun: NGX_OK, or NGX_ERROR (rolled back) */

ngx_int_t
ngx_http_woportal_db_end(ngx_http_woportal_db_t *db, ngx_uint_t commit,
    ngx_log_t *log)
{
    ngx_http_woportal_db_args_t  a;

    ngx_memzero(&a, sizeof(ngx_http_woportal_db_args_t));

    a.commit = commit;

    return ngx_http_woportal_db_call(db, NGX_HTTP_WOPORTAL_DBCALL_END, &a,
                                     log);
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
    ngx_http_woportal_db_args_t  a;

    ngx_memzero(&a, sizeof(ngx_http_woportal_db_args_t));

    a.p = p;

    return ngx_http_woportal_db_call(db, NGX_HTTP_WOPORTAL_DBCALL_PUT, &a,
                                     log);
}


/* deletes an entry in the transaction begun: NGX_OK or NGX_DECLINED */

ngx_int_t
ngx_http_woportal_db_delete(ngx_http_woportal_db_t *db,
    ngx_http_woportal_persist_t *p, ngx_log_t *log)
{
    ngx_http_woportal_db_args_t  a;

    ngx_memzero(&a, sizeof(ngx_http_woportal_db_args_t));

    a.p = p;

    return ngx_http_woportal_db_call(db, NGX_HTTP_WOPORTAL_DBCALL_DELETE, &a,
                                     log);
}


/*
 * Reads an entry outside any transaction: NGX_OK with *doc malloc()ed,
 * NGX_DECLINED when there is none, NGX_ERROR.
 */

ngx_int_t
ngx_http_woportal_db_load(ngx_http_woportal_db_t *db, ngx_str_t *prefix,
    u_char *id, ngx_str_t *doc, ngx_log_t *log)
{
    ngx_http_woportal_db_args_t  a;

    ngx_memzero(&a, sizeof(ngx_http_woportal_db_args_t));

    a.prefix = prefix;
    a.id = id;
    a.doc = doc;

    return ngx_http_woportal_db_call(db, NGX_HTTP_WOPORTAL_DBCALL_LOAD, &a,
                                     log);
}


/*
 * A group commit in one go (the backend's commit, when it has one):
 * NGX_OK with a result each (db_put(), db_delete()), NGX_DECLINED when
 * the backend has none, NGX_ERROR (nothing committed).  Timed as the end
 * of a transaction.
 */

ngx_int_t
ngx_http_woportal_db_commit(ngx_http_woportal_db_t *db,
    ngx_http_woportal_persist_t **ps, ngx_int_t *rcs, ngx_uint_t n,
    ngx_log_t *log)
{
    ngx_http_woportal_db_args_t  a;

    ngx_memzero(&a, sizeof(ngx_http_woportal_db_args_t));

    if (db->backend->commit == NULL) {
        return NGX_DECLINED;
    }

    a.ps = ps;
    a.rcs = rcs;
    a.n = n;

    return ngx_http_woportal_db_call(db, NGX_HTTP_WOPORTAL_DBCALL_END, &a,
                                     log);
}


/* every entry of a prefix, handed to the handler: NGX_OK or NGX_ERROR */

ngx_int_t
ngx_http_woportal_db_scan(ngx_http_woportal_db_t *db, ngx_str_t *prefix,
    ngx_http_woportal_scan_pt handler, void *data, ngx_log_t *log)
{
    ngx_http_woportal_db_args_t  a;

    ngx_memzero(&a, sizeof(ngx_http_woportal_db_args_t));

    a.prefix = prefix;
    a.handler = handler;
    a.data = data;

    return ngx_http_woportal_db_call(db, NGX_HTTP_WOPORTAL_DBCALL_SCAN, &a,
                                     log);
}


/*
 * The one body of the calls above: the backend's call with the pool
 * thread's slot for db's connection, timed as call (metrics.c).  The end
 * of a transaction is the backend's end, or its group commit (a->ps).
 */

static ngx_int_t
ngx_http_woportal_db_call(ngx_http_woportal_db_t *db,
    ngx_http_woportal_dbcall_e call, ngx_http_woportal_db_args_t *a,
    ngx_log_t *log)
{
    void                         **slot;
    uint64_t                       t;
    ngx_int_t                      rc;
    ngx_http_woportal_backend_t   *b;

    slot = ngx_http_woportal_db_slot(db);
    if (slot == NULL) {
        return NGX_ERROR;
    }

    b = db->backend;
    t = ngx_http_woportal_metrics_clock();

    switch (call) {

    case NGX_HTTP_WOPORTAL_DBCALL_BEGIN:
        rc = b->begin(db, slot, log);
        break;

    case NGX_HTTP_WOPORTAL_DBCALL_END:
        rc = a->ps ? b->commit(db, slot, a->ps, a->rcs, a->n, log)
                   : b->end(db, slot, a->commit, log);
        break;

    case NGX_HTTP_WOPORTAL_DBCALL_PUT:
        rc = b->put(db, slot, a->p, log);
        break;

    case NGX_HTTP_WOPORTAL_DBCALL_DELETE:
        rc = b->del(db, slot, a->p, log);
        break;

    case NGX_HTTP_WOPORTAL_DBCALL_LOAD:
        rc = b->load(db, slot, a->prefix, a->id, a->doc, log);
        break;

    default: /* NGX_HTTP_WOPORTAL_DBCALL_SCAN */
        rc = b->scan(db, slot, a->prefix, a->handler, a->data, log);
        break;
    }

    ngx_http_woportal_metrics_sql(call, t, rc);

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
 * Every write sets its own lease over the entry's item (or deletes it)
 * before its commit, and writes the new version over that lease by CAS
 * after it (commit.c): a row read before a commit can never be filled
 * after it, whatever memcached did meanwhile (a flush ends the lease
 * too).  Readers that find another's lease read SQL themselves,
 * and may fill it: their read comes after they saw the lease.
 *
 * NGX_OK with *value malloc()ed: memcached's, or made from SQL's row
 * (*cas 0, *flags FORMAT_ENTRY; FORMAT_JSON for a row that is not this
 * entry, which is not filled); NGX_DECLINED when SQL has no such entry;
 * NGX_ERROR.
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

    rc = ngx_http_woportal_libmc_put(mc, key, &empty,
                                     NGX_HTTP_WOPORTAL_FORMAT_LEASE, 1,
                                     NGX_HTTP_WOPORTAL_LEASE_TIME, log);
    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    /* our lease, another reader's, or a value stored meanwhile */

    rc = ngx_http_woportal_libmc_fetch(mc, key, value, flags, &lease, log);

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

    *cas = 0;

    rc = ngx_http_woportal_db_value(p, value, log);

    if (rc == NGX_ERROR) {
        ngx_free(value->data);
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        /* the reader finds it corrupt (503); memcached is not filled */
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                       "woportal: \"%V\": the database's row is not this "
                       "entry", key);
        *flags = NGX_HTTP_WOPORTAL_FORMAT_JSON;
        return NGX_OK;
    }

    *flags = NGX_HTTP_WOPORTAL_FORMAT_ENTRY;

    if (leased) {
        /* NGX_BUSY or NGX_DECLINED: a write came meanwhile; not filled */
        (void) ngx_http_woportal_libmc_cas(mc, key, value,
                                           NGX_HTTP_WOPORTAL_FORMAT_ENTRY, 0,
                                           lease, log);
    }

    return NGX_OK;
}


/*
 * In a pool thread: SQL's row, the entry's JSON alone, made the value
 * memcached holds (value.c), its header from the row decoded in a pool of
 * the call's own.  NGX_OK with *value replaced (malloc()ed, the row
 * freed); NGX_DECLINED when the row is not this entry; NGX_ERROR.
 */

static ngx_int_t
ngx_http_woportal_db_value(ngx_http_woportal_persist_t *p, ngx_str_t *value,
    ngx_log_t *log)
{
    size_t                      size;
    u_char                     *buf;
    ngx_int_t                   rc;
    ngx_pool_t                 *pool;
    ngx_http_woportal_entry_t   e;
    ngx_http_woportal_error_t   err;

    pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_woportal_entry_init(pool, &e);
    if (rc != NGX_OK) {
        goto done;
    }

    rc = ngx_http_woportal_decode(pool, value, NGX_HTTP_WOPORTAL_DOC_STORED,
                                  &e, &err);
    if (rc != NGX_OK) {
        goto done;
    }

    size = ngx_http_woportal_value_size(&e, value->len);

    if (size == 0
        || ngx_strncmp(e.id, p->id, NGX_HTTP_WOPORTAL_ID_LEN) != 0)
    {
        rc = NGX_DECLINED;
        goto done;
    }

    buf = ngx_alloc(size, log);
    if (buf == NULL) {
        rc = NGX_ERROR;
        goto done;
    }

    if (ngx_http_woportal_value_write(buf, &e, value) != NGX_OK) {
        ngx_free(buf);
        rc = NGX_DECLINED;
        goto done;
    }

    ngx_free(value->data);
    value->data = buf;
    value->len = size;

done:

    ngx_destroy_pool(pool);

    return rc;
}


/* the pool thread's slot for db's connection */

static void **
ngx_http_woportal_db_slot(ngx_http_woportal_db_t *db)
{
    return ngx_http_woportal_slot(ngx_http_woportal_nstores + db->index);
}
