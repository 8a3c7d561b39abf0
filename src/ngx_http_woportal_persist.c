
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
 * This file keeps each pool thread's connections, one slot per database,
 * and hands the calls to the database's backend (sqlite.c, pgsql.c).  All
 * slots are on a list, freed by the worker at exit: see store.c for why
 * not by a pthread key destructor.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"


typedef struct ngx_http_woportal_dbconns_s  ngx_http_woportal_dbconns_t;

struct ngx_http_woportal_dbconns_s {
    ngx_http_woportal_dbconns_t  *next;
    ngx_uint_t                    n;
    void                         *conn[1];
};


static void **ngx_http_woportal_db_slot(ngx_http_woportal_db_t *db);


static pthread_key_t                 ngx_http_woportal_dbconns_key;
static ngx_http_woportal_db_t      **ngx_http_woportal_dbs;
static ngx_uint_t                    ngx_http_woportal_ndbs;
static ngx_http_woportal_dbconns_t  *ngx_http_woportal_dbconns;
static pthread_mutex_t               ngx_http_woportal_dbconns_lock =
                                         PTHREAD_MUTEX_INITIALIZER;


ngx_int_t
ngx_http_woportal_db_init(ngx_cycle_t *cycle)
{
    int                             err;
    ngx_http_woportal_main_conf_t  *wmcf;

    if (ngx_http_cycle_get_module_main_conf(cycle, ngx_http_core_module)
        == NULL)
    {
        return NGX_OK;
    }

    wmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_woportal_module);

    if (wmcf == NULL || wmcf->dbs.nelts == 0) {
        return NGX_OK;
    }

    ngx_http_woportal_dbs = wmcf->dbs.elts;
    ngx_http_woportal_ndbs = wmcf->dbs.nelts;

    err = pthread_key_create(&ngx_http_woportal_dbconns_key, NULL);
    if (err != 0) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, err,
                      "woportal: pthread_key_create() failed");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* after nginx stopped its pool threads: no connection is in use */

void
ngx_http_woportal_db_exit(ngx_cycle_t *cycle)
{
    ngx_uint_t                    i;
    ngx_http_woportal_dbconns_t  *conns, *next;

    if (ngx_http_woportal_ndbs == 0) {
        return;
    }

    (void) pthread_mutex_lock(&ngx_http_woportal_dbconns_lock);

    for (conns = ngx_http_woportal_dbconns; conns; conns = next) {
        next = conns->next;

        for (i = 0; i < conns->n; i++) {
            if (conns->conn[i]) {
                ngx_http_woportal_dbs[i]->backend->free(conns->conn[i]);
            }
        }

        free(conns);
    }

    ngx_http_woportal_dbconns = NULL;

    (void) pthread_mutex_unlock(&ngx_http_woportal_dbconns_lock);

    (void) pthread_key_delete(ngx_http_woportal_dbconns_key);
    ngx_http_woportal_ndbs = 0;
}


/*
 * In a pool thread: starts the transaction of a write.  NGX_OK, or
 * NGX_ERROR when the database cannot be reached or stays locked.
 */

ngx_int_t
ngx_http_woportal_db_begin(ngx_http_woportal_db_t *db, ngx_log_t *log)
{
    void  **slot;

    slot = ngx_http_woportal_db_slot(db);
    if (slot == NULL) {
        return NGX_ERROR;
    }

    return db->backend->begin(db, slot, log);
}


/* ends the transaction begun: NGX_OK, or NGX_ERROR (rolled back) */

ngx_int_t
ngx_http_woportal_db_end(ngx_http_woportal_db_t *db, ngx_uint_t commit,
    ngx_log_t *log)
{
    void  **slot;

    slot = ngx_http_woportal_db_slot(db);
    if (slot == NULL) {
        return NGX_ERROR;
    }

    return db->backend->end(db, slot, commit, log);
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
    void  **slot;

    slot = ngx_http_woportal_db_slot(db);
    if (slot == NULL) {
        return NGX_ERROR;
    }

    return db->backend->put(db, slot, p, log);
}


/* deletes an entry in the transaction begun: NGX_OK or NGX_DECLINED */

ngx_int_t
ngx_http_woportal_db_delete(ngx_http_woportal_db_t *db,
    ngx_http_woportal_persist_t *p, ngx_log_t *log)
{
    void  **slot;

    slot = ngx_http_woportal_db_slot(db);
    if (slot == NULL) {
        return NGX_ERROR;
    }

    return db->backend->del(db, slot, p, log);
}


/*
 * Reads an entry outside any transaction: NGX_OK with *doc malloc()ed,
 * NGX_DECLINED when there is none, NGX_ERROR.
 */

ngx_int_t
ngx_http_woportal_db_load(ngx_http_woportal_db_t *db, ngx_str_t *prefix,
    u_char *id, ngx_str_t *doc, ngx_log_t *log)
{
    void  **slot;

    slot = ngx_http_woportal_db_slot(db);
    if (slot == NULL) {
        return NGX_ERROR;
    }

    return db->backend->load(db, slot, prefix, id, doc, log);
}


/* every entry of a prefix, handed to the handler: NGX_OK or NGX_ERROR */

ngx_int_t
ngx_http_woportal_db_scan(ngx_http_woportal_db_t *db, ngx_str_t *prefix,
    ngx_http_woportal_scan_pt handler, void *data, ngx_log_t *log)
{
    void  **slot;

    slot = ngx_http_woportal_db_slot(db);
    if (slot == NULL) {
        return NGX_ERROR;
    }

    return db->backend->scan(db, slot, prefix, handler, data, log);
}


/* the pool thread's slot for db's connection */

static void **
ngx_http_woportal_db_slot(ngx_http_woportal_db_t *db)
{
    ngx_http_woportal_dbconns_t  *conns;

    conns = pthread_getspecific(ngx_http_woportal_dbconns_key);

    if (conns == NULL) {
        conns = calloc(1, sizeof(ngx_http_woportal_dbconns_t)
                          + ngx_http_woportal_ndbs * sizeof(void *));
        if (conns == NULL) {
            return NULL;
        }

        conns->n = ngx_http_woportal_ndbs;

        if (pthread_setspecific(ngx_http_woportal_dbconns_key, conns) != 0) {
            free(conns);
            return NULL;
        }

        (void) pthread_mutex_lock(&ngx_http_woportal_dbconns_lock);
        conns->next = ngx_http_woportal_dbconns;
        ngx_http_woportal_dbconns = conns;
        (void) pthread_mutex_unlock(&ngx_http_woportal_dbconns_lock);
    }

    return &conns->conn[db->index];
}
