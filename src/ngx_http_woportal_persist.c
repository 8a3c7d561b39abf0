
/*
 * Persistence: every change of an entry goes to SQL (woportal_persist
 * sqlite:<path> | postgresql:<conninfo>), and SQL is the truth: memcached
 * is its cache, and nothing acknowledged is lost or served older when
 * memcached forgets (a restart, an eviction, flush_all).
 *
 *     write:  SQL first, committed in groups; memcached's item deleted
 *             before and after (commit.c)
 *     read:   memcached; on a miss SQL, filled back under a lease that
 *             any write ends (db.c)
 *     list:   the index in memcached, trusted only when whole, rebuilt
 *             from SQL otherwise (list.c)
 *
 * woportal_persist_mode async answers creates and changes from memcached
 * and writes them to SQL later (async.c).
 *
 * This file decides where a store call goes: to memcached (store.c), to
 * the group commit (commit.c), or to memcached and the queue (async.c).
 * A database's calls from a pool thread are db.c's.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_async.h"
#include "ngx_http_woportal_commit.h"
#include "ngx_http_woportal_persist.h"
#include "ngx_http_woportal_store.h"


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
    p->id = ctx->id.data;
    p->version = (op == NGX_HTTP_WOPORTAL_STORE_DELETE) ? 0
                                                         : ctx->entry.version;
    /* p->doc: a put's JSON, set by create.c and modify.c */
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
