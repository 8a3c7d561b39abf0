
/*
 * The list index, cached in each worker: a list reads only what changed.
 *
 * Every shard a worker has read is kept parsed and folded (a "snapshot":
 * its live records, with postings of their exact-filter values), and
 * checked before each list with what memcached holds:
 *
 *   - a change count for each memcached server, <prefix>idx:count:<k>
 *     (k chosen so that the key goes to that server): every write bumps
 *     it right behind its index record, on the same connection
 *     (store_append()), so whoever sees the count bumped sees the record;
 *   - the marks, <prefix>idx:gen:<k>, one a server, that say the index
 *     is whole (list.c): a rebuild sets them to a value of its own, so
 *     the marks' values name the index's generation.
 *
 * A list first gets the counts and marks (one round trip, on the event
 * loop, mc.c).  Marks missing: the pool thread rebuilds the index as
 * before (list.c).  Marks of another generation: the cache is dropped
 * (memcached restarted or was flushed; CAS values start again).  A
 * server's count as cached: its shards are as cached.  Otherwise each
 * shard of that server is touched (an answer without the value, with the
 * item's CAS) and only those whose CAS changed are read.  The pool
 * thread parses what was read, and the list goes on over the snapshots;
 * the new snapshots replace the old ones when the list is answered.
 *
 * Snapshots are counted references, taken and dropped on the event loop
 * only: a list holds the ones it reads, so a worker keeps one copy of
 * its index plus the shards replaced while lists still read them.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_index.h"
#include "ngx_http_woportal_index_cache.h"
#include "ngx_http_woportal_mc.h"


/* more shards than this are read by the pool thread (libmemcached) */
#define NGX_HTTP_WOPORTAL_CACHE_OPS   4096

/* a snapshot this large is mapped apart from malloc's arenas */
#define NGX_HTTP_WOPORTAL_SNAP_MAP    (32 * 1024)


static ngx_str_t *ngx_http_woportal_cache_server_keys(ngx_conf_t *cf,
    ngx_http_woportal_mc_client_t *client, ngx_str_t *base);
static ngx_http_woportal_cache_t *ngx_http_woportal_cache_find(
    ngx_http_woportal_loc_conf_t *wlcf);
static void ngx_http_woportal_cache_drop(ngx_http_woportal_cache_t *cache);
static ngx_int_t ngx_http_woportal_cache_post(
    ngx_http_woportal_cache_read_t *rd, ngx_uint_t opcode, ngx_str_t *key,
    ngx_uint_t i);
static void ngx_http_woportal_cache_check(
    ngx_http_woportal_cache_read_t *rd);
static ngx_int_t ngx_http_woportal_cache_refresh(
    ngx_http_woportal_cache_read_t *rd);
static void ngx_http_woportal_cache_wake(ngx_http_woportal_cache_t *cache);
static void ngx_http_woportal_cache_answered(ngx_http_woportal_mc_op_t *op);
static void ngx_http_woportal_cache_checked(
    ngx_http_woportal_cache_read_t *rd);
static void ngx_http_woportal_cache_touched(
    ngx_http_woportal_cache_read_t *rd);
static void ngx_http_woportal_cache_done(ngx_http_woportal_cache_read_t *rd,
    ngx_int_t rc);
static uint64_t ngx_http_woportal_cache_gen(ngx_uint_t server,
    ngx_str_t *value);
static uint64_t ngx_http_woportal_cache_number(ngx_str_t *value);
static int ngx_libc_cdecl ngx_http_woportal_cache_cmp(const void *a,
    const void *b);
static int ngx_libc_cdecl ngx_http_woportal_cache_newest(const void *one,
    const void *two);


static ngx_queue_t  ngx_http_woportal_caches;
static ngx_uint_t   ngx_http_woportal_caches_init;


/* where a read stands */
enum {
    NGX_HTTP_WOPORTAL_CACHE_CHECK = 0,   /* counts and marks */
    NGX_HTTP_WOPORTAL_CACHE_TOUCH,       /* the CAS of shards */
    NGX_HTTP_WOPORTAL_CACHE_GET          /* shards that changed */
};


/*
 * At configuration: the key of each server's change count and mark, by
 * server (mc_server(): libmemcached's hash, as any client of the cluster
 * places a key); the pool threads use the same marks (list.c,
 * index_store.c)
 */

ngx_int_t
ngx_http_woportal_cache_keys(ngx_conf_t *cf,
    ngx_http_woportal_loc_conf_t *wlcf)
{
    u_char       *p;
    ngx_str_t     base;
    ngx_array_t  *marks;

    marks = ngx_pcalloc(cf->pool, sizeof(ngx_array_t));
    if (marks == NULL) {
        return NGX_ERROR;
    }

    marks->elts = ngx_http_woportal_cache_server_keys(cf,
                                                      wlcf->store->client,
                                                      &wlcf->index_gen);
    marks->nelts = ngx_http_woportal_mc_servers(wlcf->store->client);
    marks->size = sizeof(ngx_str_t);
    marks->nalloc = marks->nelts;
    marks->pool = cf->pool;

    wlcf->index_marks = marks;

    p = ngx_pnalloc(cf->pool, wlcf->key_prefix.len + sizeof("idx:count"));
    if (p == NULL || marks->elts == NULL) {
        return NGX_ERROR;
    }

    base.data = p;
    base.len = ngx_sprintf(p, "%Vidx:count", &wlcf->key_prefix) - p;

    wlcf->index_counts = ngx_http_woportal_cache_server_keys(cf,
                                                  wlcf->store->client, &base);

    return wlcf->index_counts ? NGX_OK : NGX_ERROR;
}


static ngx_str_t *
ngx_http_woportal_cache_server_keys(ngx_conf_t *cf,
    ngx_http_woportal_mc_client_t *client, ngx_str_t *base)
{
    u_char      *p;
    ngx_str_t    key, *keys;
    ngx_uint_t   k, s, found, n;

    n = ngx_http_woportal_mc_servers(client);

    keys = ngx_pcalloc(cf->pool, n * sizeof(ngx_str_t));
    if (keys == NULL) {
        return NULL;
    }

    found = 0;

    for (k = 0; found < n && k < 64 * n; k++) {
        p = ngx_pnalloc(cf->pool, base->len + 1 + NGX_INT_T_LEN);
        if (p == NULL) {
            return NULL;
        }

        key.data = p;
        key.len = ngx_sprintf(p, "%V:%ui", base, k) - p;

        s = ngx_http_woportal_mc_server(client, &key);

        if (s < n && keys[s].len == 0) {
            keys[s] = key;
            found++;
        }
    }

    /* a server no key was found for (none expected) is never cached */

    return keys;
}


/* a change count's first value: unlike any a worker may have cached */

uint64_t
ngx_http_woportal_index_count_start(void)
{
    return (((uint64_t) ngx_random() << 31) ^ (uint64_t) ngx_random())
           & 0x3fffffffffffffffULL;
}


/* the worker's cache of a location's index */

static ngx_http_woportal_cache_t *
ngx_http_woportal_cache_find(ngx_http_woportal_loc_conf_t *wlcf)
{
    size_t                      size;
    ngx_uint_t                  s;
    ngx_queue_t                *q;
    ngx_http_woportal_cache_t  *cache;

    if (!ngx_http_woportal_caches_init) {
        ngx_queue_init(&ngx_http_woportal_caches);
        ngx_http_woportal_caches_init = 1;
    }

    for (q = ngx_queue_head(&ngx_http_woportal_caches);
         q != ngx_queue_sentinel(&ngx_http_woportal_caches);
         q = ngx_queue_next(q))
    {
        cache = ngx_queue_data(q, ngx_http_woportal_cache_t, queue);

        /* locations of one prefix and store share the index */

        if (cache->store == wlcf->store
            && cache->shards == wlcf->index_shards
            && cache->prefix.len == wlcf->key_prefix.len
            && ngx_strncmp(cache->prefix.data, wlcf->key_prefix.data,
                           wlcf->key_prefix.len)
               == 0)
        {
            return cache;
        }
    }

    size = sizeof(ngx_http_woportal_cache_t)
           + wlcf->index_shards * (sizeof(ngx_http_woportal_snap_t *)
                                   + sizeof(uint32_t))
           + ngx_http_woportal_mc_servers(wlcf->store->client)
             * sizeof(uint64_t);

    cache = ngx_calloc(size, ngx_cycle->log);
    if (cache == NULL) {
        return NULL;
    }

    cache->store = wlcf->store;
    cache->prefix = wlcf->key_prefix;
    cache->shards = wlcf->index_shards;
    cache->nservers = ngx_http_woportal_mc_servers(wlcf->store->client);
    ngx_queue_init(&cache->waiting);

    cache->snaps = (ngx_http_woportal_snap_t **) (cache + 1);
    cache->counts = (uint64_t *) (cache->snaps + cache->shards);
    cache->server = (uint32_t *) (cache->counts + cache->nservers);

    /* the server of each shard, once */

    for (s = 0; s < cache->shards; s++) {
        cache->server[s] = (uint32_t) ngx_http_woportal_mc_server(
                                    wlcf->store->client, &wlcf->index_keys[s]);
    }

    ngx_queue_insert_tail(&ngx_http_woportal_caches, &cache->queue);

    return cache;
}


/* the cache forgets everything: another generation of the index */

static void
ngx_http_woportal_cache_drop(ngx_http_woportal_cache_t *cache)
{
    ngx_uint_t  s;

    for (s = 0; s < cache->shards; s++) {
        if (cache->snaps[s]) {
            ngx_http_woportal_snap_unref(cache->snaps[s]);
            cache->snaps[s] = NULL;
        }
    }

    ngx_memzero(cache->counts, cache->nservers * sizeof(uint64_t));
    cache->gen = 0;
    cache->generation++;
}


/* at a worker's exit: its caches are freed */

void
ngx_http_woportal_cache_exit(void)
{
    ngx_queue_t                *q;
    ngx_http_woportal_cache_t  *cache;

    if (!ngx_http_woportal_caches_init) {
        return;
    }

    while (!ngx_queue_empty(&ngx_http_woportal_caches)) {
        q = ngx_queue_head(&ngx_http_woportal_caches);
        ngx_queue_remove(q);

        cache = ngx_queue_data(q, ngx_http_woportal_cache_t, queue);
        ngx_http_woportal_cache_drop(cache);
        ngx_free(cache);
    }
}


void
ngx_http_woportal_snap_unref(ngx_http_woportal_snap_t *snap)
{
    if (--snap->refs) {
        return;
    }

    if (snap->size >= NGX_HTTP_WOPORTAL_SNAP_MAP) {
        if (munmap(snap->block, snap->size) == -1) {
            ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                          "munmap(%uz) failed", snap->size);
        }

        return;
    }

    ngx_free(snap->block);
}


/*
 * Before a list, on the event loop: what of the index changed.  NGX_OK:
 * rd->handler runs once, from an answer (never from within this call),
 * with rd->rc NGX_OK and rd->view set, and rd->full when the pool thread
 * must read (and maybe rebuild) the whole index, or rd->rc NGX_ERROR when
 * memcached failed; NGX_DECLINED: nothing could be asked, the caller goes
 * on with rd->full; NGX_ERROR.
 */

ngx_int_t
ngx_http_woportal_cache_read(ngx_http_request_t *r,
    ngx_http_woportal_loc_conf_t *wlcf, ngx_http_woportal_cache_read_t *rd)
{
    ngx_uint_t  n;

    rd->request = r;
    rd->wlcf = wlcf;

    rd->cache = ngx_http_woportal_cache_find(wlcf);
    if (rd->cache == NULL) {
        return NGX_ERROR;
    }

    n = rd->cache->nservers;

    rd->counts = ngx_pcalloc(r->pool, n * (sizeof(uint64_t)
                                          + sizeof(ngx_uint_t)));
    rd->view = ngx_pcalloc(r->pool, wlcf->index_shards
                                    * sizeof(ngx_http_woportal_snap_t *));
    rd->checks = ngx_pcalloc(r->pool,
                             2 * n * sizeof(ngx_http_woportal_mc_op_t));

    if (rd->counts == NULL || rd->view == NULL || rd->checks == NULL) {
        return NGX_ERROR;
    }

    rd->changed = (ngx_uint_t *) (rd->counts + n);

    ngx_http_woportal_cache_check(rd);

    /* no answer comes from within mc_post(): the last one finishes it */

    if (rd->pending == 0) {
        if (rd->rc != NGX_OK) {
            return NGX_ERROR;
        }

        rd->full = 1;
        return NGX_DECLINED;
    }

    r->main->blocked++;

    return NGX_OK;
}


/* the counts and marks asked for (again, for a list that waited) */

static void
ngx_http_woportal_cache_check(ngx_http_woportal_cache_read_t *rd)
{
    ngx_str_t                     *marks;
    ngx_uint_t                     i;
    ngx_http_woportal_loc_conf_t  *wlcf;

    wlcf = rd->wlcf;
    marks = wlcf->index_marks->elts;

    rd->generation = rd->cache->generation;
    rd->state = NGX_HTTP_WOPORTAL_CACHE_CHECK;
    rd->pending = 0;
    rd->rc = NGX_OK;
    rd->gen = 0;
    rd->full = 0;
    rd->ops = rd->checks;

    ngx_memzero(rd->counts, rd->cache->nservers * sizeof(uint64_t));

    for (i = 0; i < rd->cache->nservers; i++) {
        if (wlcf->index_counts[i].len == 0 || marks[i].len == 0) {
            /* a server with no key of its own: never cached */
            rd->full = 1;
            continue;
        }

        if (ngx_http_woportal_cache_post(rd, NGX_HTTP_WOPORTAL_MC_GET,
                                         &wlcf->index_counts[i], 2 * i)
            != NGX_OK
            || ngx_http_woportal_cache_post(rd, NGX_HTTP_WOPORTAL_MC_GET,
                                            &marks[i], 2 * i + 1)
               != NGX_OK)
        {
            rd->rc = NGX_ERROR;
            break;
        }
    }
}


static ngx_int_t
ngx_http_woportal_cache_post(ngx_http_woportal_cache_read_t *rd,
    ngx_uint_t opcode, ngx_str_t *key, ngx_uint_t i)
{
    ngx_http_woportal_mc_op_t  *op;

    op = &rd->ops[i];

    ngx_memzero(op, sizeof(ngx_http_woportal_mc_op_t));

    op->opcode = opcode;
    op->key = *key;
    op->pool = rd->values_pool ? rd->values_pool : rd->request->pool;
    op->log = rd->request->connection->log;
    op->handler = ngx_http_woportal_cache_answered;
    op->data = rd;
    op->index = i;

    if (ngx_http_woportal_mc_post(rd->wlcf->store->client, op) != NGX_OK) {
        return NGX_ERROR;
    }

    rd->pending++;

    return NGX_OK;
}


static void
ngx_http_woportal_cache_answered(ngx_http_woportal_mc_op_t *op)
{
    ngx_http_woportal_cache_read_t *rd = op->data;

    ngx_uint_t                  s;
    ngx_http_woportal_snap_t   *snap;

    if (op->rc != NGX_OK
        || (op->status != NGX_HTTP_WOPORTAL_MC_OK
            && op->status != NGX_HTTP_WOPORTAL_MC_NOT_FOUND))
    {
        rd->rc = NGX_ERROR;

    } else if (rd->state == NGX_HTTP_WOPORTAL_CACHE_CHECK) {

        if (op->status == NGX_HTTP_WOPORTAL_MC_NOT_FOUND) {
            if (op->index & 1) {
                /* a mark is missing: the index is rebuilt */
                rd->full = 1;
            }

        } else if (op->index & 1) {
            rd->gen += ngx_http_woportal_cache_gen(op->index / 2,
                                                   &op->value_out);

        } else {
            rd->counts[op->index / 2] =
                ngx_http_woportal_cache_number(&op->value_out);
        }

    } else {
        s = op->index;

        if (op->status == NGX_HTTP_WOPORTAL_MC_NOT_FOUND) {
            /* a shard is missing: the index is rebuilt */
            rd->full = 1;

        } else if (op->opcode == NGX_HTTP_WOPORTAL_MC_TOUCH) {
            snap = rd->cache->snaps[s];

            if (snap && snap->cas == op->cas_out && op->cas_out
                && rd->cache->generation == rd->generation)
            {
                rd->view[s] = snap;
                snap->refs++;

            } else {
                rd->read[s] = 1;
            }

        } else {
            rd->values[s] = op->value_out;
            rd->cas[s] = op->cas_out;
            rd->read[s] = 0;
        }
    }

    if (--rd->pending == 0) {
        if (rd->state == NGX_HTTP_WOPORTAL_CACHE_CHECK) {
            ngx_http_woportal_cache_checked(rd);

        } else if (rd->state == NGX_HTTP_WOPORTAL_CACHE_TOUCH) {
            ngx_http_woportal_cache_touched(rd);

        } else {
            ngx_http_woportal_cache_done(rd, rd->rc);
        }
    }
}


/* the counts and marks are in: the shards that may have changed */

static void
ngx_http_woportal_cache_checked(ngx_http_woportal_cache_read_t *rd)
{
    ngx_str_t                  *keys;
    ngx_uint_t                  s, i, n;
    ngx_http_woportal_cache_t  *cache;

    cache = rd->cache;
    keys = rd->wlcf->index_keys;

    if (rd->rc != NGX_OK) {
        ngx_http_woportal_cache_done(rd, rd->rc);
        return;
    }

    if (rd->full) {
        if (ngx_http_woportal_cache_refresh(rd) == NGX_OK) {
            ngx_http_woportal_cache_done(rd, NGX_OK);
        }

        return;
    }

    if (rd->gen != cache->gen) {
        /* another generation: CAS values mean nothing any more */
        ngx_http_woportal_cache_drop(cache);
        cache->gen = rd->gen;
        rd->generation = cache->generation;
    }

    /*
     * A server whose count is not the cached one (or is missing: what a
     * write bumps next is unknown) has its shards touched
     */

    n = 0;

    for (i = 0; i < cache->nservers; i++) {
        rd->changed[i] = (rd->counts[i] == 0
                          || rd->counts[i] != cache->counts[i]);
    }

    for (s = 0; s < cache->shards; s++) {
        i = cache->server[s];

        if (i < cache->nservers && cache->snaps[s] && !rd->changed[i]) {
            rd->view[s] = cache->snaps[s];
            rd->view[s]->refs++;
            continue;
        }

        n++;
    }

    if (n == 0) {
        ngx_http_woportal_cache_done(rd, NGX_OK);
        return;
    }

    if (ngx_http_woportal_cache_refresh(rd) != NGX_OK) {
        /* it waits for the list that reads the index now */
        return;
    }

    if (n > NGX_HTTP_WOPORTAL_CACHE_OPS) {
        rd->full = 1;
        ngx_http_woportal_cache_done(rd, NGX_OK);
        return;
    }

    rd->ops = ngx_pcalloc(rd->request->pool,
                          cache->shards * sizeof(ngx_http_woportal_mc_op_t));
    rd->read = ngx_pcalloc(rd->request->pool, cache->shards);
    rd->values = ngx_pcalloc(rd->request->pool,
                             cache->shards * (sizeof(ngx_str_t)
                                              + sizeof(uint64_t)));

    /*
     * the shards' values in a pool of their own: the pool thread frees
     * it once it has made them snapshots, not the request at its end
     */
    rd->values_pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, ngx_cycle->log);

    if (rd->ops == NULL || rd->read == NULL || rd->values == NULL
        || rd->values_pool == NULL)
    {
        ngx_http_woportal_cache_done(rd, NGX_ERROR);
        return;
    }

    rd->cas = (uint64_t *) (rd->values + cache->shards);

    /*
     * Shards never read are read at once; the others are touched first
     * (their CAS, without the value)
     */

    rd->state = NGX_HTTP_WOPORTAL_CACHE_TOUCH;
    rd->pending = 1;

    for (s = 0; s < cache->shards; s++) {
        if (rd->view[s]) {
            continue;
        }

        if (ngx_http_woportal_cache_post(rd,
                           cache->snaps[s] ? NGX_HTTP_WOPORTAL_MC_TOUCH
                                           : NGX_HTTP_WOPORTAL_MC_GET,
                           &keys[s], s)
            != NGX_OK)
        {
            rd->rc = NGX_ERROR;
            break;
        }
    }

    if (--rd->pending == 0) {
        ngx_http_woportal_cache_touched(rd);
    }
}


/* the shards are touched: those whose CAS changed are read */

static void
ngx_http_woportal_cache_touched(ngx_http_woportal_cache_read_t *rd)
{
    ngx_uint_t  s;

    if (rd->rc != NGX_OK || rd->full) {
        ngx_http_woportal_cache_done(rd, rd->rc);
        return;
    }

    rd->state = NGX_HTTP_WOPORTAL_CACHE_GET;
    rd->pending = 1;

    for (s = 0; s < rd->cache->shards; s++) {
        if (!rd->read[s]) {
            /* current, or read already */
            continue;
        }

        if (ngx_http_woportal_cache_post(rd, NGX_HTTP_WOPORTAL_MC_GET,
                                         &rd->wlcf->index_keys[s], s)
            != NGX_OK)
        {
            rd->rc = NGX_ERROR;
            break;
        }
    }

    if (--rd->pending == 0) {
        ngx_http_woportal_cache_done(rd, rd->rc);
    }
}


/*
 * One list of a worker reads what changed of an index at a time: the
 * others that find it changed wait for that list's end, then look again
 * (they read what changed since, if anything).  So concurrent lists do
 * not each read, parse and hold the same shards.  NGX_OK: this list
 * reads; NGX_BUSY: it waits (its view let go).
 */

static ngx_int_t
ngx_http_woportal_cache_refresh(ngx_http_woportal_cache_read_t *rd)
{
    ngx_uint_t                  s;
    ngx_http_woportal_cache_t  *cache;

    cache = rd->cache;

    if (cache->refresher == NULL || cache->refresher == rd) {
        cache->refresher = rd;
        return NGX_OK;
    }

    for (s = 0; s < cache->shards; s++) {
        if (rd->view[s]) {
            ngx_http_woportal_snap_unref(rd->view[s]);
            rd->view[s] = NULL;
        }
    }

    ngx_queue_insert_tail(&cache->waiting, &rd->queue);
    rd->parked = 1;

    return NGX_BUSY;
}


/* the reading list is done: those that waited look again */

static void
ngx_http_woportal_cache_wake(ngx_http_woportal_cache_t *cache)
{
    ngx_queue_t                     waiting, *q;
    ngx_http_woportal_cache_read_t *rd;

    cache->refresher = NULL;

    if (ngx_queue_empty(&cache->waiting)) {
        return;
    }

    ngx_queue_init(&waiting);
    ngx_queue_add(&waiting, &cache->waiting);
    ngx_queue_init(&cache->waiting);

    while (!ngx_queue_empty(&waiting)) {
        q = ngx_queue_head(&waiting);
        ngx_queue_remove(q);

        rd = ngx_queue_data(q, ngx_http_woportal_cache_read_t, queue);
        rd->parked = 0;

        ngx_http_woportal_cache_check(rd);

        if (rd->pending == 0) {
            ngx_http_woportal_cache_done(rd, NGX_ERROR);
        }
    }
}


static void
ngx_http_woportal_cache_done(ngx_http_woportal_cache_read_t *rd,
    ngx_int_t rc)
{
    rd->rc = rc;
    rd->request->main->blocked--;
    rd->handler(rd);
}


/*
 * After the list, on the event loop: the snapshots the pool thread made
 * replace older ones, and the list lets go of those it read.  Its counts
 * are the cache's from now on for the servers whose shards it read
 * (what it read is at least as new as the counts).
 */

void
ngx_http_woportal_cache_update(ngx_http_woportal_cache_read_t *rd,
    ngx_http_woportal_snap_t **fresh, uint64_t gen)
{
    ngx_uint_t                  s, i, keep, wake;
    ngx_http_woportal_cache_t  *cache;
    ngx_http_woportal_snap_t   *snap, *old;

    wake = 0;
    cache = rd->cache;

    if (rd->values_pool) {
        /* the thread did not free them (it failed, or never ran) */
        ngx_destroy_pool(rd->values_pool);
        rd->values_pool = NULL;
    }

    if (cache == NULL || rd->view == NULL) {
        return;
    }

    if (cache->refresher == rd) {
        /* after the cache is updated: those waiting see what it read */
        wake = 1;
    }

    if (rd->full && fresh && rd->rc == NGX_OK && gen != cache->gen) {
        /* the thread read (or rebuilt) the whole index: a generation */
        ngx_http_woportal_cache_drop(cache);
        cache->gen = gen;
        rd->generation = cache->generation;
    }

    keep = (fresh != NULL && rd->rc == NGX_OK
            && rd->generation == cache->generation);

    for (s = 0; s < cache->shards; s++) {
        if (rd->view[s]) {
            ngx_http_woportal_snap_unref(rd->view[s]);
            rd->view[s] = NULL;
        }

        snap = fresh ? fresh[s] : NULL;

        if (snap == NULL) {
            continue;
        }

        old = cache->snaps[s];

        if (keep && (old == NULL || snap->cas > old->cas)) {
            if (old) {
                ngx_http_woportal_snap_unref(old);
            }

            cache->snaps[s] = snap;
            continue;
        }

        ngx_http_woportal_snap_unref(snap);
    }

    if (keep) {
        for (i = 0; i < cache->nservers; i++) {
            if ((rd->full || rd->changed[i]) && rd->counts[i]) {
                cache->counts[i] = rd->counts[i];
            }
        }
    }

    if (wake) {
        ngx_http_woportal_cache_wake(cache);
    }
}


/*
 * In the pool thread: a snapshot of a shard's value, its records parsed
 * and folded, the live ones kept, with their postings
 */

ngx_http_woportal_snap_t *
ngx_http_woportal_snap_make(u_char *data, size_t len, uint64_t cas,
    ngx_uint_t shard, ngx_log_t *log)
{
    u_char                    *p, *q, *b;
    void                      *block;
    size_t                     valid, live, kept, size;
    int64_t                    now;
    uint32_t                   h;
    ngx_int_t                  rc;
    ngx_str_t                  ns;
    ngx_uint_t                 i, j, n, f, nns;
    ngx_pool_t                *scratch;
    ngx_array_t                recs;
    ngx_http_woportal_snap_t  *snap;
    ngx_http_woportal_irec_t  *rec, *out;

    /*
     * Parsed and folded in a scratch pool; the snapshot keeps only the
     * live records (their bytes, their parsed form, their postings and
     * order): a worker holds its index in about 2.4 times the bytes of
     * its live records.
     */

    scratch = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, log);
    if (scratch == NULL) {
        return NULL;
    }

    valid = len;
    live = 0;
    kept = 0;
    n = 0;
    nns = 0;
    rc = NGX_OK;

    if (ngx_array_init(&recs, scratch, len / 96 + 4,
                       sizeof(ngx_http_woportal_irec_t))
        != NGX_OK)
    {
        goto failed;
    }

    if (len) {
        rc = ngx_http_woportal_index_parse(data, len, shard, &recs, &valid);
        if (rc == NGX_ERROR) {
            goto failed;
        }

        if (ngx_http_woportal_index_fold(scratch, &recs) != NGX_OK) {
            goto failed;
        }
    }

    rec = recs.elts;
    now = ngx_http_woportal_index_clock();

    for (i = 0; i < recs.nelts; i++) {
        if (ngx_http_woportal_index_kept(&rec[i], now,
                                         NGX_HTTP_WOPORTAL_INDEX_GRACE))
        {
            kept += rec[i].len;
        }

        if (rec[i].superseded
            || (rec[i].flags & NGX_HTTP_WOPORTAL_REC_DELETED))
        {
            continue;
        }

        live += rec[i].len;
        nns += rec[i].nns;
        rec[n++] = rec[i];
    }

    /*
     * One block of just the size: a large one mapped apart (munmap()ed
     * when the snapshot goes), so that snapshots made by several pool
     * threads do not stay in their malloc arenas once replaced
     */

    size = sizeof(ngx_http_woportal_snap_t)
           + ngx_align(n * sizeof(ngx_http_woportal_irec_t), 16)
           + (3 * (n + 1) + nns + 1 + (n + 1)) * sizeof(uint64_t)
           + ngx_align(live, 16) + 16;

    if (size >= NGX_HTTP_WOPORTAL_SNAP_MAP) {
        block = mmap(NULL, size, PROT_READ|PROT_WRITE,
                     MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
        if (block == MAP_FAILED) {
            ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                          "mmap(%uz) failed", size);
            goto failed;
        }

    } else {
        block = ngx_alloc(size, log);
        if (block == NULL) {
            goto failed;
        }
    }

    snap = block;
    ngx_memzero(snap, sizeof(ngx_http_woportal_snap_t));

    snap->block = block;
    snap->size = size;

    b = (u_char *) block + ngx_align(sizeof(ngx_http_woportal_snap_t), 16);

    out = (ngx_http_woportal_irec_t *) b;
    b += ngx_align(n * sizeof(ngx_http_woportal_irec_t), 16);

    for (f = 0; f < NGX_HTTP_WOPORTAL_POSTINGS; f++) {
        snap->post[f] = (uint64_t *) b;
        b += ((f == NGX_HTTP_WOPORTAL_POST_NS) ? nns + 1 : n + 1)
             * sizeof(uint64_t);
    }

    snap->order = (ngx_http_woportal_irec_t **) b;
    b += (n + 1) * sizeof(void *);

    snap->data = b;

    snap->refs = 1;
    snap->cas = cas;
    snap->len = len;
    snap->live = live;
    snap->kept = kept;

    if (rc == NGX_DECLINED) {
        snap->corrupt = 1;
        snap->valid = valid;
    }

    /* the live records' bytes, and their fields moved along with them */

    p = snap->data;

    for (i = 0; i < n; i++) {
        q = rec[i].raw;
        out[i] = rec[i];
        out[i].raw = p;
        out[i].workorder.data = p + (rec[i].workorder.data - q);
        out[i].client.data = p + (rec[i].client.data - q);
        out[i].ns = p + (rec[i].ns - q);
        p = ngx_cpymem(p, q, rec[i].len);
    }

    snap->recs.elts = out;
    snap->recs.nelts = n;
    snap->recs.size = sizeof(ngx_http_woportal_irec_t);
    snap->recs.nalloc = n;

    ngx_destroy_pool(scratch);

    /* postings: (hash of the value << 32) | record, sorted */

    for (i = 0; i < n; i++) {
        snap->post[NGX_HTTP_WOPORTAL_POST_STATUS][i] =
                   ((uint64_t) out[i].status << 32) | i;

        h = ngx_murmur_hash2(out[i].workorder.data, out[i].workorder.len);
        snap->post[NGX_HTTP_WOPORTAL_POST_WORKORDER][i] =
                   ((uint64_t) h << 32) | i;

        h = ngx_murmur_hash2(out[i].client.data, out[i].client.len);
        snap->post[NGX_HTTP_WOPORTAL_POST_CLIENT][i] =
                   ((uint64_t) h << 32) | i;

        p = out[i].ns;

        for (j = 0; j < out[i].nns; j++) {
            ngx_http_woportal_index_ns(&p, &ns);

            h = ngx_murmur_hash2(ns.data, ns.len);
            snap->post[NGX_HTTP_WOPORTAL_POST_NS][snap->npost++] =
                   ((uint64_t) h << 32) | i;
        }
    }

    for (f = 0; f < NGX_HTTP_WOPORTAL_POSTINGS; f++) {
        ngx_qsort(snap->post[f],
                  (f == NGX_HTTP_WOPORTAL_POST_NS) ? snap->npost : n,
                  sizeof(uint64_t), ngx_http_woportal_cache_cmp);
    }

    /* the records in the default order of lists: the newest first */

    for (i = 0; i < n; i++) {
        snap->order[i] = &out[i];
    }

    ngx_qsort(snap->order, n, sizeof(ngx_http_woportal_irec_t *),
              ngx_http_woportal_cache_newest);

    return snap;

failed:

    ngx_destroy_pool(scratch);

    return NULL;
}


/*
 * The records of a snapshot whose value has hash h: [*first, *last) of
 * the field's postings (a hash: the records are checked still)
 */

void
ngx_http_woportal_snap_find(ngx_http_woportal_snap_t *snap, ngx_uint_t f,
    uint32_t h, ngx_uint_t *first, ngx_uint_t *last)
{
    uint64_t    *post;
    ngx_uint_t   n, lo, hi, mid;

    post = snap->post[f];
    n = (f == NGX_HTTP_WOPORTAL_POST_NS) ? snap->npost : snap->recs.nelts;

    lo = 0;
    hi = n;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;

        if ((post[mid] >> 32) < h) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    *first = lo;

    while (lo < n && (post[lo] >> 32) == h) {
        lo++;
    }

    *last = lo;
}


/*
 * The generation the marks name: each server's mark's value, weighed by
 * the server.  cache_mark(): that of a mark the pool thread read.
 */

static uint64_t
ngx_http_woportal_cache_gen(ngx_uint_t server, ngx_str_t *value)
{
    return ngx_http_woportal_cache_number(value) * (4 * server + 3);
}


uint64_t
ngx_http_woportal_cache_mark(ngx_http_woportal_loc_conf_t *wlcf,
    u_char *key, size_t key_len, u_char *value, size_t len)
{
    ngx_str_t   v, *marks;
    ngx_uint_t  i;

    v.data = value;
    v.len = len;

    marks = wlcf->index_marks->elts;

    for (i = 0; i < wlcf->index_marks->nelts; i++) {
        if (marks[i].len == key_len
            && ngx_strncmp(marks[i].data, key, key_len) == 0)
        {
            return ngx_http_woportal_cache_gen(i, &v);
        }
    }

    return 0;
}


/* a count or mark's value; 0 for what is no number */

static uint64_t
ngx_http_woportal_cache_number(ngx_str_t *value)
{
    u_char    *p;
    uint64_t   n;

    n = 0;

    for (p = value->data; p < value->data + value->len; p++) {
        if (*p < '0' || *p > '9') {
            break;
        }

        n = n * 10 + (*p - '0');
    }

    return n;
}


/* list.c's default order: created_at, newest first, then _id */

static int ngx_libc_cdecl
ngx_http_woportal_cache_newest(const void *one, const void *two)
{
    ngx_http_woportal_irec_t  *a, *b;

    a = *(ngx_http_woportal_irec_t **) one;
    b = *(ngx_http_woportal_irec_t **) two;

    if (a->created_at != b->created_at) {
        return (a->created_at > b->created_at) ? -1 : 1;
    }

    return ngx_memcmp(a->id, b->id, sizeof(a->id));
}


static int ngx_libc_cdecl
ngx_http_woportal_cache_cmp(const void *a, const void *b)
{
    uint64_t  x, y;

    x = *(uint64_t *) a;
    y = *(uint64_t *) b;

    return (x < y) ? -1 : (x > y);
}
