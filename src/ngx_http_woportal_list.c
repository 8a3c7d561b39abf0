
/*
 * GET and HEAD /: a page of entries, read through the list index
 * (index.c describes it).
 *
 *     query string -> what of the index changed (index_cache.c, on the
 *     event loop) -> pool thread: snapshots of the shards read, filter,
 *     count, select and sort the page -> multi-get of the page's entries
 *     -> the new snapshots cached, the answer
 *
 * The query string is read by query.c.  The shards that did not change
 * are not read again: the worker keeps them as snapshots, records parsed
 * with postings of the exact filters.  Filtering and sorting run in one
 * pool-thread task, so that 100k records never hold up the event loop.
 * Filters and sorting work on the compact records; only the page's
 * entries are fetched, and they are served as stored.
 *
 * Repairs on the way: a shard twice the size of its live records is
 * rewritten (CAS); an entry of the page that is gone from memcached (a
 * ghost) is left out, the page refilled from the next candidates, and its
 * deletion appended; an entry newer than its record gets a fresh record.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <libmemcached/memcached.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_auth.h"
#include "ngx_http_woportal_db.h"
#include "ngx_http_woportal_decode.h"
#include "ngx_http_woportal_encode.h"
#include "ngx_http_woportal_entry.h"
#include "ngx_http_woportal_index.h"
#include "ngx_http_woportal_index_cache.h"
#include "ngx_http_woportal_index_store.h"
#include "ngx_http_woportal_libmc.h"
#include "ngx_http_woportal_list.h"
#include "ngx_http_woportal_mc.h"
#include "ngx_http_woportal_metrics.h"
#include "ngx_http_woportal_query.h"
#include "ngx_http_woportal_request.h"
#include "ngx_http_woportal_response.h"
#include "ngx_http_woportal_value.h"


/*
 * Ghosts are replaced from the next candidates, in fetches that double in
 * size up to FETCH_MAX keys, at most FETCH_ROUNDS of them: a page falls
 * short only when memcached lost thousands of entries at once, and the
 * ghosts found are gone from the index for the next list.
 */
#define NGX_HTTP_WOPORTAL_FETCH_ROUNDS   8
#define NGX_HTTP_WOPORTAL_FETCH_MAX      1024

/* a shard is rewritten when this much of it is dead, and half of it */
#define NGX_HTTP_WOPORTAL_COMPACT_SLACK  4096


typedef struct {
    u_char                       *data;
    size_t                        len;
    uint64_t                      cas;
    unsigned                      found:1;
} ngx_http_woportal_shard_t;


/* the default order's merge of the snapshots (list_merge()) */
typedef struct {
    ngx_uint_t                   *heap;        /* shards, by next record */
    ngx_uint_t                    h;
    ngx_uint_t                   *pos;         /* by shard: merged so far */
    ngx_uint_t                    cap;         /* of the candidates */
} ngx_http_woportal_merge_t;


/* a record the list appends to mend the index */
typedef struct {
    ngx_uint_t                    shard;
    ngx_str_t                     record;
    unsigned                      done:1;
} ngx_http_woportal_mend_t;


/* an entry of the page being fetched */
typedef struct {
    ngx_http_woportal_irec_t     *rec;
    ngx_str_t                     key;
    ngx_str_t                     value;
    unsigned                      found:1;
    unsigned                      gone:1;
    unsigned                      framed:1;     /* FORMAT_ENTRY */
    unsigned                      not_entry:1;  /* other item flags */
} ngx_http_woportal_item_t;


typedef struct {
    ngx_http_woportal_query_t     q;
    ngx_http_woportal_loc_conf_t *wlcf;
    ngx_http_woportal_key_t      *key;
    ngx_http_woportal_ctx_t      *ctx;

    /* the index as cached, what changed (index_cache.c) */
    ngx_http_woportal_cache_read_t  rd;
    ngx_http_woportal_snap_t    **fresh;        /* the thread's, by shard */
    ngx_http_woportal_snap_t    **snaps;        /* the list's, by shard */
    u_char                       *tried;        /* compaction, by shard */
    uint64_t                      fresh_gen;    /* the marks it read */
    ngx_uint_t                    total;        /* merged: the matches */
    ngx_http_woportal_merge_t    *merge;

    /* the pool thread's; destroyed with the request */
    ngx_pool_t                   *pool;
    ngx_http_woportal_shard_t    *shards;
    ngx_http_woportal_item_t     *items;
    ngx_uint_t                    nitems;
    ngx_str_t                    *served;
    ngx_uint_t                    nserved;
    ngx_uint_t                    ghosts;
    ngx_array_t                   mends;        /* of mend_t */
    ngx_str_t                    *gens;         /* idx:gen:<k>: marks */
    ngx_uint_t                    ngens;        /* one a server */
    ngx_uint_t                    gen;          /* marks found */
    ngx_str_t                    *rebuilt;      /* records, by shard */
    size_t                       *rebuilt_cap;
    ngx_pool_t                   *scratch;
    ngx_uint_t                    nrebuilt;
    ngx_uint_t                    missing;      /* shards not found */
    uint64_t                      deadline;     /* us: metrics_clock() */
    ngx_http_woportal_mc_t       *mc;           /* while rebuilding */
    ngx_str_t                    *lock;
    uint64_t                      renewed;
    off_t                         now;          /* ms since the epoch */
    ngx_str_t                     stamp;        /* now, as text */
    u_char                        stamp_buf[NGX_OFF_T_LEN];
    ngx_array_t                   dumped;       /* keys: no persistence */
    unsigned                      all:1;        /* every shard rebuilt */
    ngx_str_t                     json;
    u_char                       *out;          /* json, ngx_alloc()ed */
} ngx_http_woportal_list_t;


static void ngx_http_woportal_list_own(ngx_http_woportal_list_t *l);
static void ngx_http_woportal_list_cleanup(void *data);
static void ngx_http_woportal_list_read(ngx_http_woportal_cache_read_t *rd);
static void ngx_http_woportal_list_done(ngx_http_woportal_call_t *call);
static ngx_int_t ngx_http_woportal_list_snaps(ngx_http_woportal_list_t *l,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_list_scan(ngx_http_woportal_list_t *l,
    ngx_http_woportal_irec_t ***cands, ngx_uint_t *n);
static ngx_int_t ngx_http_woportal_list_merge(ngx_http_woportal_list_t *l,
    ngx_uint_t total, ngx_http_woportal_irec_t ***cands, ngx_uint_t *n);
static ngx_int_t ngx_http_woportal_list_more(ngx_http_woportal_list_t *l,
    ngx_http_woportal_irec_t ***cands, ngx_uint_t *n, uint64_t want);
static ngx_int_t ngx_http_woportal_list_posting(ngx_http_woportal_list_t *l,
    ngx_uint_t *field, ngx_str_t **values, ngx_uint_t *nvalues);
static uint32_t ngx_http_woportal_list_post_hash(ngx_http_woportal_list_t *l,
    ngx_uint_t f, ngx_str_t *value);
static ngx_uint_t ngx_http_woportal_list_ns_before(
    ngx_http_woportal_irec_t *rec, ngx_str_t *want, ngx_uint_t j);

static ngx_int_t ngx_http_woportal_list_run(ngx_http_woportal_call_t *call,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_list_shard(void *data, u_char *key,
    size_t key_len, u_char *value, size_t len, uint32_t flags, uint64_t cas);
static ngx_int_t ngx_http_woportal_list_compact(ngx_http_woportal_list_t *l,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log);
static ngx_uint_t ngx_http_woportal_list_match(ngx_http_woportal_list_t *l,
    ngx_http_woportal_irec_t *rec);
static ngx_int_t ngx_http_woportal_list_cmp(ngx_http_woportal_query_t *q,
    ngx_http_woportal_irec_t *a, ngx_http_woportal_irec_t *b);
static void ngx_http_woportal_list_select(ngx_http_woportal_query_t *q,
    ngx_http_woportal_irec_t **c, ngx_uint_t n, ngx_uint_t k);
static void ngx_http_woportal_list_sift(ngx_http_woportal_query_t *q,
    ngx_http_woportal_irec_t **c, ngx_uint_t i, ngx_uint_t n);
static ngx_int_t ngx_http_woportal_list_page(ngx_http_woportal_list_t *l,
    ngx_http_woportal_irec_t ***cp, ngx_uint_t *np, ngx_uint_t pos,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_list_item(void *data, u_char *key,
    size_t key_len, u_char *value, size_t len, uint32_t flags, uint64_t cas);
static ngx_int_t ngx_http_woportal_list_entry(ngx_http_woportal_list_t *l,
    ngx_http_woportal_item_t *it, ngx_http_woportal_mc_t *mc,
    ngx_log_t *log);
static ngx_int_t ngx_http_woportal_list_index(ngx_http_woportal_list_t *l,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_list_rebuild(ngx_http_woportal_list_t *l,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_list_rebuilt(void *data, ngx_str_t *doc);
static ngx_int_t ngx_http_woportal_list_renew(ngx_http_woportal_list_t *l);
static void ngx_http_woportal_list_stamp(ngx_http_woportal_list_t *l);
static ngx_int_t ngx_http_woportal_list_dumped(ngx_http_woportal_list_t *l,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_list_dump_key(void *data, ngx_str_t *key);
static ngx_int_t ngx_http_woportal_list_dump_value(void *data, u_char *key,
    size_t key_len, u_char *value, size_t len, uint32_t flags, uint64_t cas);
static ngx_int_t ngx_http_woportal_list_mend(ngx_http_woportal_list_t *l,
    ngx_http_woportal_entry_t *e, u_char *id);
static void ngx_http_woportal_list_mended(ngx_http_woportal_list_t *l,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log);


/*
 * Enumerations sort by name: the rank of each value (entry.c's order)
 * in alphabetical order.
 */

/* pending, in_progress, completed, cancelled */
static u_char  ngx_http_woportal_status_rank[] = { 3, 2, 1, 0 };

/* view_only, comment, full_access */
static u_char  ngx_http_woportal_access_rank[] = { 2, 0, 1 };


ngx_int_t
ngx_http_woportal_list(ngx_http_request_t *r, ngx_http_woportal_ctx_t *ctx)
{
    ngx_int_t                   rc;
    ngx_pool_cleanup_t         *cln;
    ngx_http_woportal_list_t   *l;
    ngx_http_woportal_error_t   err;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    ngx_http_woportal_state(r, ctx, NGX_HTTP_WOPORTAL_STATE_LIST_CHECK);

    l = ngx_pcalloc(r->pool, sizeof(ngx_http_woportal_list_t));
    if (l == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_woportal_list_query(r->pool, &r->args, &l->q, &err);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc != NGX_OK) {
        return ngx_http_woportal_send_errors(r, &err);
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_woportal_list_cleanup;
    cln->data = l;

    l->wlcf = ngx_http_get_module_loc_conf(r, ngx_http_woportal_module);
    l->key = ctx->key;
    l->ctx = ctx;

    ngx_http_woportal_list_own(l);

    /* first, on the event loop: what of the index changed */

    l->rd.handler = ngx_http_woportal_list_read;
    l->rd.data = l;

    rc = ngx_http_woportal_cache_read(r, l->wlcf, &l->rd);

    if (rc == NGX_ERROR) {
        return ngx_http_woportal_unavailable(r);
    }

    if (rc == NGX_DECLINED) {
        /* nothing to ask memcached first */
        ngx_http_woportal_list_read(&l->rd);
    }

    return NGX_DONE;
}


/* then the pool thread reads what changed, and lists */

static void
ngx_http_woportal_list_read(ngx_http_woportal_cache_read_t *rd)
{
    ngx_http_request_t        *r;
    ngx_http_woportal_list_t  *l;

    l = rd->data;
    r = rd->request;

    /* what the thread hands back to the event loop: in the request's */

    l->snaps = ngx_pcalloc(r->pool, l->wlcf->index_shards
                                    * (2 * sizeof(void *) + 1));

    if (rd->rc == NGX_OK && l->snaps) {
        l->fresh = l->snaps + l->wlcf->index_shards;
        l->tried = (u_char *) (l->fresh + l->wlcf->index_shards);

        l->ctx->call.run = ngx_http_woportal_list_run;
        l->ctx->call.data = l;

        if (ngx_http_woportal_post_call(r, l->ctx,
                                        NGX_HTTP_WOPORTAL_STORE_RUN,
                                        ngx_http_woportal_list_done)
            == NGX_OK)
        {
            return;
        }
    }

    ngx_http_woportal_cache_update(&l->rd, NULL, 0);

    ngx_http_woportal_finish(r, ngx_http_woportal_unavailable(r));
}


/*
 * A key with namespaces filters by its own only: the company_namespace
 * values that are not its own are dropped, and when none is left the
 * list is empty.
 */

static void
ngx_http_woportal_list_own(ngx_http_woportal_list_t *l)
{
    ngx_str_t   *ns;
    ngx_uint_t   i, n;

    if (l->key->namespaces == NULL
        || !(l->q.given & (1 << NGX_HTTP_WOPORTAL_Q_NAMESPACE)))
    {
        return;
    }

    ns = l->q.namespaces.elts;
    n = 0;

    for (i = 0; i < l->q.namespaces.nelts; i++) {
        if (ngx_http_woportal_key_allows(l->key, ns[i].data, ns[i].len)) {
            ns[n++] = ns[i];
        }
    }

    l->q.namespaces.nelts = n;
}


static void
ngx_http_woportal_list_cleanup(void *data)
{
    ngx_http_woportal_list_t *l = data;

    /* snapshots the list holds, should it end before its answer */

    if (l->rd.cache) {
        l->rd.rc = NGX_ERROR;
        ngx_http_woportal_cache_update(&l->rd, l->fresh, l->fresh_gen);
        l->fresh = NULL;
    }

    if (l->pool) {
        ngx_destroy_pool(l->pool);
    }

    if (l->out) {
        ngx_free(l->out);
    }
}


static void
ngx_http_woportal_list_done(ngx_http_woportal_call_t *call)
{
    ngx_int_t                  rc;
    ngx_uint_t                 s;
    ngx_http_request_t        *r;
    ngx_http_woportal_list_t  *l;

    r = call->request;
    l = call->data;

    /*
     * A shard the list compacted (or tried to) is not tried again from
     * the same snapshot; then what the thread read replaces what the
     * worker had
     */

    for (s = 0; s < l->wlcf->index_shards; s++) {
        if (l->tried[s] && l->snaps[s]) {
            l->snaps[s]->compacted = 1;
        }
    }

    if (call->result != NGX_OK) {
        /*
         * what the thread read may be a part: none of it is kept, lest
         * the counts say every shard of a server is as read
         */
        l->rd.rc = NGX_ERROR;
    }

    ngx_http_woportal_cache_update(&l->rd, l->fresh, l->fresh_gen);
    l->fresh = NULL;

    if (call->result == NGX_OK) {
        rc = ngx_http_woportal_send(r, NGX_HTTP_OK, &l->json, 0);

    } else {
        rc = ngx_http_woportal_unavailable(r);
    }

    ngx_http_woportal_finish(r, rc);
}


/* in the pool thread ---------------------------------------------------- */


static ngx_int_t
ngx_http_woportal_list_run(ngx_http_woportal_call_t *call,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log)
{
    size_t                         size, read;
    uint64_t                       offset;
    ngx_int_t                      rc;
    ngx_uint_t                     n, s;
    ngx_http_woportal_list_t      *l;
    ngx_http_woportal_irec_t     **cands;
    ngx_http_woportal_paging_t     paging;
    ngx_http_woportal_loc_conf_t  *wlcf;

    l = call->data;
    wlcf = l->wlcf;

    l->pool = ngx_create_pool(16384, log);
    if (l->pool == NULL) {
        return NGX_ERROR;
    }

    /* 1: the index, as cached and what changed */

    if (ngx_http_woportal_list_snaps(l, mc, log) != NGX_OK) {
        return NGX_ERROR;
    }

    size = 0;
    read = 0;

    for (s = 0; s < wlcf->index_shards; s++) {
        size += l->snaps[s]->len;

        if (l->fresh[s]) {
            read += l->fresh[s]->len;
        }
    }

    ngx_http_woportal_metrics_index(size, read);

    /* filter and count */

    if (ngx_http_woportal_list_scan(l, &cands, &n) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_woportal_list_compact(l, mc, log) != NGX_OK) {
        return NGX_ERROR;
    }

    /* 2: the page's entries */

    l->served = ngx_palloc(l->pool, l->q.per_page * sizeof(ngx_str_t));
    if (l->served == NULL
        || ngx_array_init(&l->mends, l->pool, 4,
                          sizeof(ngx_http_woportal_mend_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    offset = (l->q.page - 1) * l->q.per_page;

    if (offset < n) {
        /* n: the candidates, in order when l->total says how many match */
        rc = ngx_http_woportal_list_page(l, &cands, &n, (ngx_uint_t) offset,
                                         mc, log);
        if (rc != NGX_OK) {
            return rc;
        }

        ngx_http_woportal_list_mended(l, mc, log);
    }

    paging.page = l->q.page;
    paging.per_page = l->q.per_page;
    paging.total = ngx_max(l->total, n) - l->ghosts;
    paging.total_pages = (paging.total + l->q.per_page - 1) / l->q.per_page;

    if (ngx_http_woportal_encode_list(l->pool, l->served, l->nserved,
                                      &paging, &l->json)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /*
     * The list's memory (a copy of the whole index: 11 MB at 100k
     * entries) is freed here, in the pool thread: freed with the request,
     * on the event loop, it held up the worker's other requests.
     */

    l->out = ngx_alloc(l->json.len, log);
    if (l->out == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(l->out, l->json.data, l->json.len);
    l->json.data = l->out;

    ngx_destroy_pool(l->pool);
    l->pool = NULL;

    return NGX_OK;
}


/*
 * The list's shards: the cached snapshots the event loop found current,
 * and new ones of the shards it read; or, when the index was not whole
 * (or not cached), every shard read here, and the index rebuilt if need
 * be (list_index()).
 */

static ngx_int_t
ngx_http_woportal_list_snaps(ngx_http_woportal_list_t *l,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log)
{
    u_char                          buf[NGX_INT64_LEN];
    ngx_str_t                       count;
    ngx_uint_t                      s, n, i;
    ngx_http_woportal_shard_t      *shard;
    ngx_http_woportal_cache_read_t *rd;

    rd = &l->rd;
    n = l->wlcf->index_shards;

    if (rd->full) {
        l->shards = ngx_palloc(l->pool,
                               n * sizeof(ngx_http_woportal_shard_t));
        if (l->shards == NULL) {
            return NGX_ERROR;
        }

        if (ngx_http_woportal_list_index(l, mc, log) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    for (s = 0; s < n; s++) {
        if (rd->full) {
            shard = &l->shards[s];
            l->fresh[s] = ngx_http_woportal_snap_make(shard->data,
                                                      shard->len, shard->cas,
                                                      s, log);

        } else if (rd->view[s]) {
            l->snaps[s] = rd->view[s];
            continue;

        } else {
            l->fresh[s] = ngx_http_woportal_snap_make(rd->values[s].data,
                                                      rd->values[s].len,
                                                      rd->cas[s], s, log);
        }

        if (l->fresh[s] == NULL) {
            return NGX_ERROR;
        }

        l->snaps[s] = l->fresh[s];

        if (l->snaps[s]->corrupt) {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "woportal: index shard \"%V\" is corrupt after "
                          "%uz of its %uz bytes; the rest is dropped",
                          &l->wlcf->index_keys[s], l->snaps[s]->valid,
                          l->snaps[s]->len);
        }
    }

    /*
     * A server with no change count (memcached lost it, or no write made
     * it yet) would have its shards touched by every list: one is made,
     * of a value of its own (a write's bump finds it, or made it first)
     */

    for (i = 0; i < ngx_http_woportal_mc_servers(l->wlcf->store->client);
         i++)
    {
        if (rd->counts[i] == 0 && l->wlcf->index_counts[i].len) {
            count.data = buf;
            count.len = ngx_sprintf(buf, "%uL",
                                    ngx_http_woportal_index_count_start())
                        - buf;

            (void) ngx_http_woportal_libmc_put(mc, &l->wlcf->index_counts[i],
                                               &count, 0, 1, 0, log);
        }
    }

    /* the copies of the shards read are not kept beside the snapshots */

    l->shards = NULL;

    if (rd->values_pool) {
        ngx_destroy_pool(rd->values_pool);
        rd->values_pool = NULL;
    }

    return NGX_OK;
}


/*
 * The records that pass the filters, in cands[0..n).  An exact filter
 * reads only the records that have its value: _id[] the shards of the
 * ids, the others the postings of the value with the fewest records.
 */

static ngx_int_t
ngx_http_woportal_list_scan(ngx_http_woportal_list_t *l,
    ngx_http_woportal_irec_t ***cands, ngx_uint_t *n)
{
    u_char                     *id, hex[NGX_HTTP_WOPORTAL_ID_LEN];
    uint32_t                    h;
    ngx_str_t                  *values;
    ngx_uint_t                  s, i, j, k, f, first, last, nvalues, total;
    ngx_http_woportal_snap_t   *snap;
    ngx_http_woportal_irec_t   *rec, **c;

    total = 0;
    values = NULL;
    nvalues = 0;
    f = 0;

    for (s = 0; s < l->wlcf->index_shards; s++) {
        total += l->snaps[s]->recs.nelts;
    }

    *n = 0;

    if (l->key->namespaces == NULL
        && !(l->q.given & NGX_HTTP_WOPORTAL_Q_FILTERS)
        && l->q.nsort == 2
        && l->q.sort[0].field == NGX_HTTP_WOPORTAL_F_CREATED_AT
        && l->q.sort[0].desc)
    {
        return ngx_http_woportal_list_merge(l, total, cands, n);
    }

    if (l->q.given & (1 << NGX_HTTP_WOPORTAL_Q_ID)) {
        /* a multi-get: the ids' records, in their shards */

        c = ngx_palloc(l->pool, (l->q.ids.nelts + 1) * sizeof(void *));
        if (c == NULL) {
            return NGX_ERROR;
        }

        *cands = c;
        id = l->q.ids.elts;

        for (i = 0; i < l->q.ids.nelts; i++) {
            for (j = 0; j < i; j++) {
                if (ngx_memcmp(id + i * sizeof(rec->id),
                               id + j * sizeof(rec->id), sizeof(rec->id))
                    == 0)
                {
                    break;
                }
            }

            if (j < i) {
                continue;
            }

            ngx_hex_dump(hex, id + i * sizeof(rec->id), sizeof(rec->id));
            s = ngx_http_woportal_index_shard(hex, l->wlcf->index_shards);
            snap = l->snaps[s];
            rec = snap->recs.elts;

            for (k = 0; k < snap->recs.nelts; k++) {
                if (ngx_memcmp(rec[k].id, id + i * sizeof(rec->id),
                               sizeof(rec->id))
                    == 0)
                {
                    if (ngx_http_woportal_list_match(l, &rec[k])) {
                        c[(*n)++] = &rec[k];
                    }

                    break;
                }
            }
        }

        return NGX_OK;
    }

    c = ngx_palloc(l->pool, (total + 1) * sizeof(void *));
    if (c == NULL) {
        return NGX_ERROR;
    }

    *cands = c;

    if (ngx_http_woportal_list_posting(l, &f, &values, &nvalues) == NGX_OK) {

        for (s = 0; s < l->wlcf->index_shards; s++) {
            snap = l->snaps[s];
            rec = snap->recs.elts;

            for (j = 0; j < nvalues; j++) {
                h = ngx_http_woportal_list_post_hash(l, f, &values[j]);

                ngx_http_woportal_snap_find(snap, f, h, &first, &last);

                for (k = first; k < last; k++) {
                    i = (ngx_uint_t) (snap->post[f][k] & 0xffffffff);

                    /* a record of two namespaces asked for: listed once */

                    if (f == NGX_HTTP_WOPORTAL_POST_NS
                        && ngx_http_woportal_list_ns_before(&rec[i], values,
                                                            j))
                    {
                        continue;
                    }

                    if (ngx_http_woportal_list_match(l, &rec[i])) {
                        c[(*n)++] = &rec[i];
                    }
                }
            }
        }

        return NGX_OK;
    }

    for (s = 0; s < l->wlcf->index_shards; s++) {
        snap = l->snaps[s];
        rec = snap->recs.elts;

        for (k = 0; k < snap->recs.nelts; k++) {
            if (ngx_http_woportal_list_match(l, &rec[k])) {
                c[(*n)++] = &rec[k];
            }
        }
    }

    return NGX_OK;
}


/*
 * No filter, the newest first (the default order): every record
 * matches, and each snapshot has its records in that order already
 * (snap->order), so the first of them are merged, not all sorted: a page
 * costs what it skips and returns, and the ghosts it may meet
 * (list_page() asks list_more() for more), not the size of the index.
 */

static ngx_int_t
ngx_http_woportal_list_merge(ngx_http_woportal_list_t *l, ngx_uint_t total,
    ngx_http_woportal_irec_t ***cands, ngx_uint_t *n)
{
    ngx_uint_t                  s, i, t, *heap;
    ngx_http_woportal_merge_t  *mg;
    ngx_http_woportal_snap_t  **snaps;

    snaps = l->snaps;

    mg = ngx_pcalloc(l->pool, sizeof(ngx_http_woportal_merge_t));
    if (mg == NULL) {
        return NGX_ERROR;
    }

    mg->pos = ngx_pcalloc(l->pool, l->wlcf->index_shards
                                   * sizeof(ngx_uint_t));
    mg->heap = ngx_palloc(l->pool, (l->wlcf->index_shards + 1)
                                   * sizeof(ngx_uint_t));
    if (mg->pos == NULL || mg->heap == NULL) {
        return NGX_ERROR;
    }

    l->merge = mg;
    l->total = total;
    heap = mg->heap;

    /* a heap of the shards, by the first record each has left */

    for (s = 0; s < l->wlcf->index_shards; s++) {
        if (snaps[s]->recs.nelts == 0) {
            continue;
        }

        heap[mg->h++] = s;

        for (i = mg->h - 1; i > 0; i = (i - 1) / 2) {
            if (ngx_http_woportal_list_cmp(&l->q,
                                 snaps[heap[i]]->order[0],
                                 snaps[heap[(i - 1) / 2]]->order[0])
                >= 0)
            {
                break;
            }

            t = heap[i];
            heap[i] = heap[(i - 1) / 2];
            heap[(i - 1) / 2] = t;
        }
    }

    /* the page and as much again, for the ghosts it may meet */

    *cands = NULL;
    *n = 0;

    return ngx_http_woportal_list_more(l, cands, n,
                                       (l->q.page + 1) * l->q.per_page);
}


/* the merged candidates c[0..n) made want long, or all there are */

static ngx_int_t
ngx_http_woportal_list_more(ngx_http_woportal_list_t *l,
    ngx_http_woportal_irec_t ***cands, ngx_uint_t *n, uint64_t want)
{
    ngx_uint_t                  s, i, t, cap, *heap, *pos;
    ngx_http_woportal_merge_t  *mg;
    ngx_http_woportal_snap_t  **snaps;
    ngx_http_woportal_irec_t  **c;

    mg = l->merge;
    snaps = l->snaps;
    heap = mg->heap;
    pos = mg->pos;

    want = ngx_min(want, (uint64_t) l->total);

    if (want <= *n) {
        return NGX_OK;
    }

    if (want > mg->cap) {
        cap = (ngx_uint_t) ngx_max(want, 2 * mg->cap);

        c = ngx_palloc(l->pool, cap * sizeof(void *));
        if (c == NULL) {
            return NGX_ERROR;
        }

        if (*n) {
            ngx_memcpy(c, *cands, *n * sizeof(void *));
        }

        *cands = c;
        mg->cap = cap;
    }

    c = *cands;

    while (*n < want && mg->h) {
        s = heap[0];
        c[(*n)++] = snaps[s]->order[pos[s]++];

        if (pos[s] == snaps[s]->recs.nelts) {
            heap[0] = heap[--mg->h];
        }

        /* sift down */

        for (i = 0; /* void */; /* void */) {
            t = 2 * i + 1;

            if (t >= mg->h) {
                break;
            }

            if (t + 1 < mg->h
                && ngx_http_woportal_list_cmp(&l->q,
                              snaps[heap[t + 1]]->order[pos[heap[t + 1]]],
                              snaps[heap[t]]->order[pos[heap[t]]])
                   < 0)
            {
                t++;
            }

            if (ngx_http_woportal_list_cmp(&l->q,
                              snaps[heap[t]]->order[pos[heap[t]]],
                              snaps[heap[i]]->order[pos[heap[i]]])
                >= 0)
            {
                break;
            }

            s = heap[t];
            heap[t] = heap[i];
            heap[i] = s;
            i = t;
        }
    }

    return NGX_OK;
}


/*
 * The exact filter whose postings hold the fewest records, with its
 * values; NGX_DECLINED when there is none (every record is read).
 */

static ngx_int_t
ngx_http_woportal_list_posting(ngx_http_woportal_list_t *l,
    ngx_uint_t *field, ngx_str_t **values, ngx_uint_t *nvalues)
{
    uint32_t                   h;
    ngx_str_t                 *v, status;
    ngx_uint_t                 f, s, j, nv, first, last, count, best;
    ngx_http_woportal_query_t *q;

    q = &l->q;
    best = (ngx_uint_t) -1;
    ngx_str_null(&status);

    for (f = 0; f < NGX_HTTP_WOPORTAL_POSTINGS; f++) {

        switch (f) {

        case NGX_HTTP_WOPORTAL_POST_STATUS:
            if (q->status == -1) {
                continue;
            }

            v = &status;
            nv = 1;
            break;

        case NGX_HTTP_WOPORTAL_POST_WORKORDER:
            if (!(q->given & (1 << NGX_HTTP_WOPORTAL_Q_WORKORDER))) {
                continue;
            }

            v = &q->workorder;
            nv = 1;
            break;

        case NGX_HTTP_WOPORTAL_POST_CLIENT:
            if (!(q->given & (1 << NGX_HTTP_WOPORTAL_Q_CLIENT))) {
                continue;
            }

            v = &q->client;
            nv = 1;
            break;

        default: /* NGX_HTTP_WOPORTAL_POST_NS */
            if (!(q->given & (1 << NGX_HTTP_WOPORTAL_Q_NAMESPACE))) {
                continue;
            }

            v = q->namespaces.elts;
            nv = q->namespaces.nelts;
            break;
        }

        count = 0;

        for (s = 0; s < l->wlcf->index_shards; s++) {
            for (j = 0; j < nv; j++) {
                h = ngx_http_woportal_list_post_hash(l, f, &v[j]);

                ngx_http_woportal_snap_find(l->snaps[s], f, h, &first,
                                            &last);
                count += last - first;
            }
        }

        if (count < best) {
            best = count;
            *field = f;
            *values = v;
            *nvalues = nv;
        }
    }

    return (best == (ngx_uint_t) -1) ? NGX_DECLINED : NGX_OK;
}


/* a filter value's key in the postings (snap_make() makes them) */

static uint32_t
ngx_http_woportal_list_post_hash(ngx_http_woportal_list_t *l, ngx_uint_t f,
    ngx_str_t *value)
{
    if (f == NGX_HTTP_WOPORTAL_POST_STATUS) {
        return (uint32_t) l->q.status;
    }

    return ngx_murmur_hash2(value->data, value->len);
}


/* whether a record has one of the namespaces want[0..j) */

static ngx_uint_t
ngx_http_woportal_list_ns_before(ngx_http_woportal_irec_t *rec,
    ngx_str_t *want, ngx_uint_t j)
{
    u_char      *p;
    ngx_str_t    ns;
    ngx_uint_t   i, k;

    p = rec->ns;

    for (i = 0; i < rec->nns; i++) {
        ngx_http_woportal_index_ns(&p, &ns);

        for (k = 0; k < j; k++) {
            if (ns.len == want[k].len
                && ngx_memcmp(ns.data, want[k].data, ns.len) == 0)
            {
                return 1;
            }
        }
    }

    return 0;
}


/*
 * Reads every shard.  With persistence, SQL is the truth and the index
 * is trusted only when it is whole:
 *
 * - the marks idx:gen:<k> are there: they are set once the index holds
 *   every entry of the database, one on each memcached server (store.c
 *   chooses the keys), so that they vanish with the rest when memcached,
 *   or any one server of a cluster, loses its data (a restart, a flush),
 *   and a write whose record could not be appended deletes them
 *   (commit.c);
 * - every shard is there: a rebuild makes them all, empty ones too, and
 *   writers never make one again (store_append()), so a missing shard
 *   was evicted.
 *
 * Otherwise the index is rebuilt from SQL (all of it without the marks,
 * the missing shards with them) by one list of one worker or node at a
 * time (idx:lock, which expires soon after its holder dies); the others
 * wait for it.  A list never answers from an index that is not whole: it
 * waits, within the timeouts, or answers 503.
 */

static ngx_int_t
ngx_http_woportal_list_index(ngx_http_woportal_list_t *l,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log)
{
    ngx_int_t                      rc;
    ngx_str_t                     *keys, *marks;
    ngx_uint_t                     n, s, attempt;
    ngx_http_woportal_loc_conf_t  *wlcf;

    wlcf = l->wlcf;
    n = wlcf->index_shards;

    /* the marks: those of the servers a key was found for (index_cache.c) */

    marks = wlcf->index_marks->elts;

    keys = ngx_palloc(l->pool, (n + wlcf->index_marks->nelts)
                               * sizeof(ngx_str_t));
    if (keys == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(keys, wlcf->index_keys, n * sizeof(ngx_str_t));

    l->gens = keys + n;
    l->ngens = 0;

    for (s = 0; s < wlcf->index_marks->nelts; s++) {
        if (marks[s].len) {
            l->gens[l->ngens++] = marks[s];
        }
    }

    n += l->ngens;

    l->deadline = ngx_http_woportal_metrics_clock()
                  + (uint64_t) (wlcf->persist_timeout
                                + wlcf->memcached_timeout) * 1000;

    for (attempt = 0; /* void */; attempt++) {
        ngx_memzero(l->shards,
                    wlcf->index_shards * sizeof(ngx_http_woportal_shard_t));
        l->gen = 0;
        l->fresh_gen = 0;

        if (ngx_http_woportal_libmc_mget(mc, keys, n,
                                         ngx_http_woportal_list_shard, l,
                                         log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        l->missing = 0;

        for (s = 0; s < wlcf->index_shards; s++) {
            l->missing += !l->shards[s].found;
        }

        if (l->gen == l->ngens && l->missing == 0) {
            return NGX_OK;
        }

        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, log, 0,
                       "woportal: index of \"%V\" not whole: %ui of %ui "
                       "marks", &wlcf->key_prefix, l->gen, l->ngens);

        rc = (attempt < 3) ? ngx_http_woportal_list_rebuild(l, mc, log)
                           : NGX_BUSY;

        if (rc == NGX_BUSY) {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "woportal: the list index of \"%V\" is being "
                          "rebuilt and was not whole in time: the list is "
                          "answered 503", &wlcf->key_prefix);
            return NGX_ERROR;
        }

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }
    }
}


/*
 * NGX_OK: rebuilt, or another list's rebuild ended (read the index
 * again); NGX_BUSY: it did not end in time; NGX_ERROR.
 */

static ngx_int_t
ngx_http_woportal_list_rebuild(ngx_http_woportal_list_t *l,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log)
{
    off_t                          renewed;
    uint32_t                       flags;
    uint64_t                       cas;
    ngx_int_t                      rc;
    u_char                         gen_buf[NGX_INT64_LEN];
    ngx_str_t                      one, empty, value, *lock;
    ngx_uint_t                     i, s;
    ngx_http_woportal_loc_conf_t  *wlcf;

    wlcf = l->wlcf;
    lock = &wlcf->index_lock;

    /* the marks name this generation of the index (index_cache.c) */

    one.data = gen_buf;
    one.len = ngx_sprintf(gen_buf, "%uL",
                          ngx_http_woportal_index_count_start() | 1)
              - gen_buf;

    ngx_str_set(&empty, "");

    /*
     * The lock holds the time its holder last renewed it (ms since the
     * epoch): it expires soon should its holder die, and a lock not
     * renewed for its time is taken over whatever its expiry (one of an
     * older module, a clock that jumped)
     */

    ngx_http_woportal_list_stamp(l);

    rc = ngx_http_woportal_libmc_put(mc, lock, &l->stamp, 0, 1,
                                     NGX_HTTP_WOPORTAL_LOCK_TIME, log);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        /* another list rebuilds it: wait until its lock is gone */

        for ( ;; ) {
            if (ngx_http_woportal_metrics_clock() >= l->deadline) {
                return NGX_BUSY;
            }

            ngx_msleep(20);

            rc = ngx_http_woportal_libmc_fetch(mc, lock, &value, &flags,
                                               &cas, log);
            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (rc == NGX_DECLINED) {
                return NGX_OK;
            }

            renewed = ngx_atoof(value.data, value.len);
            free(value.data);

            ngx_http_woportal_list_stamp(l);

            if (renewed != NGX_ERROR
                && l->now - renewed < NGX_HTTP_WOPORTAL_LOCK_TIME * 1000)
            {
                continue;
            }

            rc = ngx_http_woportal_libmc_cas(mc, lock, &l->stamp, 0,
                                             NGX_HTTP_WOPORTAL_LOCK_TIME, cas,
                                             log);
            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (rc == NGX_OK) {
                ngx_log_error(NGX_LOG_WARN, log, 0,
                              "woportal: the rebuild lock \"%V\" was not "
                              "renewed for %ui s: taken over", lock,
                              (ngx_uint_t) NGX_HTTP_WOPORTAL_LOCK_TIME);
                break;
            }
        }
    }

    l->mc = mc;
    l->lock = lock;
    l->renewed = ngx_http_woportal_metrics_clock();
    l->all = (l->gen != l->ngens);

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "woportal: the list index of \"%V\" is not whole in "
                  "memcached (%ui of %ui marks, %ui shards missing): "
                  "rebuilding %s from %s", &wlcf->key_prefix,
                  l->gen, l->ngens, l->missing,
                  l->all ? "it" : "the missing shards",
                  wlcf->db ? "the database" : "memcached's key dump");

    l->rebuilt = ngx_pcalloc(l->pool, wlcf->index_shards
                                      * (sizeof(ngx_str_t) + sizeof(size_t)));
    l->scratch = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, log);

    if (l->rebuilt == NULL || l->scratch == NULL) {
        goto failed;
    }

    l->rebuilt_cap = (size_t *) (l->rebuilt + wlcf->index_shards);

    /*
     * Every shard is made first, so that the records writers append from
     * now on are kept; those committed before are in the scan.  Appended,
     * never set: the records written meanwhile stay.
     */

    /*
     * Without waiting for each answer (noreply): tens of thousands of
     * shards were as many round trips.  The read after the rebuild
     * (list_index()) finds any that was not made.
     */

    (void) memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_NOREPLY, 1);

    for (s = 0; s < wlcf->index_shards; s++) {
        if (!l->shards[s].found
            && ngx_http_woportal_libmc_put(mc, &wlcf->index_keys[s], &empty,
                                           NGX_HTTP_WOPORTAL_FORMAT_INDEX,
                                           1, 0, log)
               == NGX_ERROR)
        {
            (void) memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_NOREPLY, 0);
            goto failed;
        }

        if (ngx_http_woportal_list_renew(l) != NGX_OK) {
            (void) memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_NOREPLY, 0);
            goto failed;
        }
    }

    (void) memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_NOREPLY, 0);

    if (wlcf->db) {
        rc = ngx_http_woportal_db_scan(wlcf->db, &wlcf->key_prefix,
                                       ngx_http_woportal_list_rebuilt, l,
                                       log);

    } else {
        rc = ngx_http_woportal_list_dumped(l, mc, log);
    }

    if (rc != NGX_OK) {
        goto failed;
    }

    /*
     * The records found are folded into each shard (a corrupt tail
     * dropped first), or, in a shard that kept changing (a CAS fails for
     * as long as writers append quickly), appended as writers append
     * theirs: what they repeat folds away, and compaction drops it
     */

    for (s = 0; s < wlcf->index_shards; s++) {
        if (l->rebuilt[s].len == 0) {
            rc = NGX_OK;

        } else {
            rc = ngx_http_woportal_index_merge(mc, &wlcf->index_keys[s],
                                               &l->rebuilt[s], log);
            if (rc == NGX_BUSY) {
                rc = ngx_http_woportal_index_append(mc, &wlcf->index_keys[s],
                                                    &l->rebuilt[s], NULL, 0,
                                                    log);
            }
        }

        if (rc != NGX_OK) {
            goto failed;
        }

        if (ngx_http_woportal_list_renew(l) != NGX_OK) {
            goto failed;
        }
    }

    for (i = 0; i < l->ngens; i++) {
        if (ngx_http_woportal_libmc_put(mc, &l->gens[i], &one, 0, 0, 0, log)
            != NGX_OK)
        {
            goto failed;
        }
    }

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "woportal: the list index of \"%V\" was rebuilt with "
                  "%ui entries", &wlcf->key_prefix, l->nrebuilt);

    rc = NGX_OK;

    goto done;

failed:

    rc = NGX_ERROR;

done:

    (void) ngx_http_woportal_libmc_put(mc, lock, NULL, 0, 0, 0, log);

    l->lock = NULL;

    if (l->scratch) {
        ngx_destroy_pool(l->scratch);
        l->scratch = NULL;
    }

    for (s = 0; l->rebuilt && s < wlcf->index_shards; s++) {
        if (l->rebuilt[s].data) {
            ngx_free(l->rebuilt[s].data);
        }
    }

    l->rebuilt = NULL;

    return rc;
}


/*
 * Without persistence memcached is the only store: the index is rebuilt
 * from the entries memcached holds, found by its key dump (store.c) and
 * read by multi-gets.  NGX_OK, NGX_ERROR.
 */

static ngx_int_t
ngx_http_woportal_list_dumped(ngx_http_woportal_list_t *l,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log)
{
    ngx_str_t   *keys;
    ngx_uint_t   i, n;

    if (ngx_array_init(&l->dumped, l->pool, 1024, sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_woportal_index_dump(mc, &l->wlcf->key_prefix,
                                     l->wlcf->memcached_timeout,
                                     ngx_http_woportal_list_dump_key, l, log)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    keys = l->dumped.elts;

    for (i = 0; i < l->dumped.nelts; i += n) {
        n = ngx_min(l->dumped.nelts - i, NGX_HTTP_WOPORTAL_FETCH_MAX);

        if (ngx_http_woportal_libmc_mget(mc, &keys[i], n,
                                         ngx_http_woportal_list_dump_value,
                                         l, log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* a key of the dump: kept when it is an entry's, "<prefix><_id>" */

static ngx_int_t
ngx_http_woportal_list_dump_key(void *data, ngx_str_t *key)
{
    ngx_http_woportal_list_t *l = data;

    u_char      ch;
    ngx_str_t  *k;
    ngx_uint_t  i;

    if (key->len != l->wlcf->key_prefix.len + NGX_HTTP_WOPORTAL_ID_LEN) {
        return NGX_OK;
    }

    for (i = l->wlcf->key_prefix.len; i < key->len; i++) {
        ch = key->data[i];

        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) {
            return NGX_OK;
        }
    }

    k = ngx_array_push(&l->dumped);
    if (k == NULL) {
        return NGX_ERROR;
    }

    k->data = ngx_pnalloc(l->pool, key->len);
    if (k->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(k->data, key->data, key->len);
    k->len = key->len;

    return NGX_OK;
}


/* an entry the dump found: its record goes to its shard's records */

static ngx_int_t
ngx_http_woportal_list_dump_value(void *data, u_char *key, size_t key_len,
    u_char *value, size_t len, uint32_t flags, uint64_t cas)
{
    ngx_http_woportal_list_t *l = data;

    ngx_str_t                   doc;
    ngx_http_woportal_stored_t  v;

    doc.data = value;
    doc.len = len;

    if (flags == NGX_HTTP_WOPORTAL_FORMAT_JSON) {
        return ngx_http_woportal_list_rebuilt(l, &doc);
    }

    if (flags != NGX_HTTP_WOPORTAL_FORMAT_ENTRY) {
        /* a deletion's marker, a lease: no entry */
        return NGX_OK;
    }

    /* the key is "<prefix><_id>" (list_dump_key()) */

    if (ngx_http_woportal_value_open(&doc,
                                     key + key_len - NGX_HTTP_WOPORTAL_ID_LEN,
                                     &v)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, l->pool->log, 0,
                      "woportal: stored entry \"%*s\" is corrupt: %s",
                      key_len, key, v.reason);
        return NGX_OK;
    }

    return ngx_http_woportal_list_rebuilt(l, &v.json);
}


/* the rebuild's lock lives on while the rebuild works */

static ngx_int_t
ngx_http_woportal_list_renew(ngx_http_woportal_list_t *l)
{
    uint64_t  now;

    now = ngx_http_woportal_metrics_clock();

    if (now - l->renewed < NGX_HTTP_WOPORTAL_LOCK_TIME * 1000000 / 4) {
        return NGX_OK;
    }

    l->renewed = now;

    ngx_http_woportal_list_stamp(l);

    return ngx_http_woportal_libmc_put(l->mc, l->lock, &l->stamp, 0, 0,
                                       NGX_HTTP_WOPORTAL_LOCK_TIME,
                                       l->pool->log);
}


/* the time, ms since the epoch, in l->now and as text in l->stamp */

static void
ngx_http_woportal_list_stamp(ngx_http_woportal_list_t *l)
{
    l->now = (off_t) ngx_http_woportal_index_clock();
    l->stamp.data = l->stamp_buf;
    l->stamp.len = ngx_sprintf(l->stamp_buf, "%O", l->now) - l->stamp_buf;
}


/* an entry of the database: its record goes to its shard's records */

static ngx_int_t
ngx_http_woportal_list_rebuilt(void *data, ngx_str_t *doc)
{
    ngx_http_woportal_list_t *l = data;

    u_char                     *p;
    size_t                      cap;
    ngx_str_t                   record, *buf;
    ngx_uint_t                  shard;
    ngx_http_woportal_entry_t   e;
    ngx_http_woportal_error_t   err;

    if (ngx_http_woportal_list_renew(l) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_reset_pool(l->scratch);

    ngx_str_set(&err.message, "it cannot be indexed");

    if (ngx_http_woportal_entry_init(l->scratch, &e) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_woportal_decode(l->scratch, doc, NGX_HTTP_WOPORTAL_DOC_STORED,
                                 &e, &err)
        != NGX_OK
        || ngx_http_woportal_index_record(l->scratch, &e, e.id, &record)
           != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, l->pool->log, 0,
                      "woportal: an entry of the database is corrupt: %V",
                      &err.message);
        return NGX_OK;
    }

    shard = ngx_http_woportal_index_shard(e.id, l->wlcf->index_shards);

    if (!l->all && l->shards[shard].found) {
        /* a shard that is whole */
        return NGX_OK;
    }

    buf = &l->rebuilt[shard];
    cap = l->rebuilt_cap[shard];

    if (buf->len + record.len > cap) {
        cap = ngx_max(2 * cap, buf->len + record.len + 4096);

        p = ngx_alloc(cap, l->pool->log);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (buf->len) {
            ngx_memcpy(p, buf->data, buf->len);
        }

        if (buf->data) {
            ngx_free(buf->data);
        }

        buf->data = p;
        l->rebuilt_cap[shard] = cap;
    }

    ngx_memcpy(buf->data + buf->len, record.data, record.len);
    buf->len += record.len;
    l->nrebuilt++;

    return NGX_OK;
}


static ngx_int_t
ngx_http_woportal_list_shard(void *data, u_char *key, size_t key_len,
    u_char *value, size_t len, uint32_t flags, uint64_t cas)
{
    ngx_http_woportal_list_t *l = data;

    u_char                        *p;
    ngx_int_t                      n;
    ngx_http_woportal_shard_t     *shard;
    ngx_http_woportal_loc_conf_t  *wlcf;

    wlcf = l->wlcf;

    /* "<prefix>idx:gen:<k>" */

    if (key_len > wlcf->index_gen.len
        && ngx_strncmp(key, wlcf->index_gen.data, wlcf->index_gen.len) == 0
        && key[wlcf->index_gen.len] == ':')
    {
        l->gen++;
        l->fresh_gen += ngx_http_woportal_cache_mark(wlcf, key, key_len,
                                                     value, len);
        return NGX_OK;
    }

    /* "<prefix>idx:<n>" */

    for (p = key + key_len; p > key && p[-1] != ':'; p--) { /* void */ }

    n = ngx_atoi(p, key + key_len - p);

    if (n == NGX_ERROR
        || (ngx_uint_t) n >= wlcf->index_shards
        || wlcf->index_keys[n].len != key_len
        || ngx_strncmp(wlcf->index_keys[n].data, key, key_len) != 0)
    {
        return NGX_OK;
    }

    shard = &l->shards[n];

    shard->data = ngx_http_woportal_libmc_copy(l->pool, value, len);
    if (shard->data == NULL) {
        return NGX_ERROR;
    }

    shard->len = len;
    shard->cas = cas;
    shard->found = 1;

    return NGX_OK;
}


/*
 * Rewrites the shards mostly dead, or corrupt, with what a compaction
 * keeps of their records, read again (the snapshot holds the live ones
 * only, not the recent deletions a compaction keeps: index.c)
 */

static ngx_int_t
ngx_http_woportal_list_compact(ngx_http_woportal_list_t *l,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log)
{
    ngx_int_t                  rc;
    ngx_str_t                  none;
    ngx_uint_t                 s;
    ngx_http_woportal_snap_t  *snap;

    ngx_str_set(&none, "");

    for (s = 0; s < l->wlcf->index_shards; s++) {
        snap = l->snaps[s];

        if (snap->compacted
            || (!snap->corrupt
                && (snap->len < 2 * snap->kept
                    || snap->len - snap->kept
                       < NGX_HTTP_WOPORTAL_COMPACT_SLACK)))
        {
            continue;
        }

        l->tried[s] = 1;

        /* a failure: the next list of another snapshot tries again */

        rc = ngx_http_woportal_index_merge(mc, &l->wlcf->index_keys[s],
                                           &none, log);
        if (rc == NGX_BUSY) {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                           "woportal: index shard \"%V\" kept changing: "
                           "not compacted", &l->wlcf->index_keys[s]);
        }

        if (rc != NGX_OK) {
            continue;
        }

        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "woportal: index shard \"%V\" compacted from about "
                      "%uz bytes", &l->wlcf->index_keys[s], snap->len);

        if (snap->corrupt) {
            /*
             * the records after the garbage are lost: without a mark
             * the next list rebuilds the index
             */
            (void) ngx_http_woportal_libmc_put(mc,
                                        l->wlcf->index_marks->elts, NULL, 0,
                                        0, 0, log);
        }
    }

    return NGX_OK;
}


/* whether a record passes the filters and the key sees its entry */

static ngx_uint_t
ngx_http_woportal_list_match(ngx_http_woportal_list_t *l,
    ngx_http_woportal_irec_t *rec)
{
    u_char                     *p, *id;
    ngx_str_t                   ns, *want;
    ngx_uint_t                  i, j;
    ngx_http_woportal_query_t  *q;

    q = &l->q;

    if (l->key->namespaces) {
        p = rec->ns;

        for (i = 0; i < rec->nns; i++) {
            ngx_http_woportal_index_ns(&p, &ns);

            if (ngx_http_woportal_key_allows(l->key, ns.data, ns.len)) {
                break;
            }
        }

        if (i == rec->nns) {
            return 0;
        }
    }

    if (q->status != -1 && rec->status != q->status) {
        return 0;
    }

    if ((q->given & (1 << NGX_HTTP_WOPORTAL_Q_WORKORDER))
        && (rec->workorder.len != q->workorder.len
            || ngx_memcmp(rec->workorder.data, q->workorder.data,
                          q->workorder.len)
               != 0))
    {
        return 0;
    }

    if ((q->given & (1 << NGX_HTTP_WOPORTAL_Q_CLIENT))
        && (rec->client.len != q->client.len
            || ngx_memcmp(rec->client.data, q->client.data, q->client.len)
               != 0))
    {
        return 0;
    }

    if (q->given & (1 << NGX_HTTP_WOPORTAL_Q_ID)) {
        id = q->ids.elts;

        for (i = 0; i < q->ids.nelts; i++) {
            if (ngx_memcmp(rec->id, id + i * sizeof(rec->id), sizeof(rec->id))
                == 0)
            {
                break;
            }
        }

        if (i == q->ids.nelts) {
            return 0;
        }
    }

    if (q->given & (1 << NGX_HTTP_WOPORTAL_Q_NAMESPACE)) {
        want = q->namespaces.elts;
        p = rec->ns;

        for (i = 0; i < rec->nns; i++) {
            ngx_http_woportal_index_ns(&p, &ns);

            for (j = 0; j < q->namespaces.nelts; j++) {
                if (ns.len == want[j].len
                    && ngx_memcmp(ns.data, want[j].data, ns.len) == 0)
                {
                    return 1;
                }
            }
        }

        return 0;
    }

    return 1;
}


static ngx_int_t
ngx_http_woportal_list_cmp(ngx_http_woportal_query_t *q,
    ngx_http_woportal_irec_t *a, ngx_http_woportal_irec_t *b)
{
    ngx_int_t    c;
    ngx_str_t   *sa, *sb;
    ngx_uint_t   i, ea, eb;

    for (i = 0; i < q->nsort; i++) {

        switch (q->sort[i].field) {

        case NGX_HTTP_WOPORTAL_F_CREATED_AT:
            c = (a->created_at > b->created_at)
                - (a->created_at < b->created_at);
            break;

        case NGX_HTTP_WOPORTAL_F_UPDATED_AT:
            c = (a->updated_at > b->updated_at)
                - (a->updated_at < b->updated_at);
            break;

        case NGX_HTTP_WOPORTAL_F_EXPIRY_DATE:
            /* null first */
            ea = (a->flags & NGX_HTTP_WOPORTAL_REC_EXPIRY) != 0;
            eb = (b->flags & NGX_HTTP_WOPORTAL_REC_EXPIRY) != 0;

            if (ea != eb) {
                c = ea ? 1 : -1;

            } else {
                c = ea ? (a->expiry > b->expiry) - (a->expiry < b->expiry)
                       : 0;
            }

            break;

        case NGX_HTTP_WOPORTAL_F_STATUS:
            c = ngx_http_woportal_status_rank[a->status]
                - ngx_http_woportal_status_rank[b->status];
            break;

        case NGX_HTTP_WOPORTAL_F_ACCESS_LEVEL:
            c = ngx_http_woportal_access_rank[a->access_level]
                - ngx_http_woportal_access_rank[b->access_level];
            break;

        case NGX_HTTP_WOPORTAL_F_WORKORDER:
        case NGX_HTTP_WOPORTAL_F_CLIENT:
            if (q->sort[i].field == NGX_HTTP_WOPORTAL_F_WORKORDER) {
                sa = &a->workorder;
                sb = &b->workorder;

            } else {
                sa = &a->client;
                sb = &b->client;
            }

            c = ngx_memcmp(sa->data, sb->data, ngx_min(sa->len, sb->len));

            if (c == 0) {
                c = (sa->len > sb->len) - (sa->len < sb->len);
            }

            break;

        default: /* NGX_HTTP_WOPORTAL_F_ID */
            c = ngx_memcmp(a->id, b->id, sizeof(a->id));
            break;
        }

        if (c) {
            return q->sort[i].desc ? -c : c;
        }
    }

    return 0;
}


/*
 * Puts the k first of the n candidates, in order, in c[0..k): a max-heap
 * of the best k seen, then heapsort; O(n log k).
 */

static void
ngx_http_woportal_list_select(ngx_http_woportal_query_t *q,
    ngx_http_woportal_irec_t **c, ngx_uint_t n, ngx_uint_t k)
{
    ngx_uint_t                 i;
    ngx_http_woportal_irec_t  *t;

    for (i = k / 2; i-- > 0; /* void */) {
        ngx_http_woportal_list_sift(q, c, i, k);
    }

    for (i = k; i < n; i++) {
        if (ngx_http_woportal_list_cmp(q, c[i], c[0]) < 0) {
            t = c[0];
            c[0] = c[i];
            c[i] = t;
            ngx_http_woportal_list_sift(q, c, 0, k);
        }
    }

    for (i = k; i-- > 1; /* void */) {
        t = c[0];
        c[0] = c[i];
        c[i] = t;
        ngx_http_woportal_list_sift(q, c, 0, i);
    }
}


static void
ngx_http_woportal_list_sift(ngx_http_woportal_query_t *q,
    ngx_http_woportal_irec_t **c, ngx_uint_t i, ngx_uint_t n)
{
    ngx_uint_t                 m;
    ngx_http_woportal_irec_t  *t;

    for ( ;; ) {
        m = 2 * i + 1;

        if (m >= n) {
            return;
        }

        if (m + 1 < n && ngx_http_woportal_list_cmp(q, c[m + 1], c[m]) > 0) {
            m++;
        }

        if (ngx_http_woportal_list_cmp(q, c[m], c[i]) <= 0) {
            return;
        }

        t = c[m];
        c[m] = c[i];
        c[i] = t;
        i = m;
    }
}


/*
 * Fetches the entries of the candidates from c[pos] on, in order, until
 * the page is full: ghosts are left out and the next candidates stand in
 * for them.  The candidates are put in order as far as they are needed.
 */

static ngx_int_t
ngx_http_woportal_list_page(ngx_http_woportal_list_t *l,
    ngx_http_woportal_irec_t ***cp, ngx_uint_t *np, ngx_uint_t pos,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log)
{
    u_char                    *p;
    ngx_int_t                  rc;
    ngx_str_t                 *keys, *prefix;
    ngx_uint_t                 i, k, m, n, round;
    ngx_http_woportal_item_t  *it;
    ngx_http_woportal_irec_t **c;

    prefix = &l->wlcf->key_prefix;
    k = 0;     /* c[0..k) are in order */

    for (round = 0;
         round < NGX_HTTP_WOPORTAL_FETCH_ROUNDS
         && l->nserved < l->q.per_page && pos < ngx_max(*np, l->total);
         round++)
    {
        m = ngx_min((l->q.per_page - l->nserved) << round,
                    NGX_HTTP_WOPORTAL_FETCH_MAX);

        if (l->merge
            && ngx_http_woportal_list_more(l, cp, np, pos + m) != NGX_OK)
        {
            return NGX_ERROR;
        }

        c = *cp;
        n = *np;

        if (pos >= n) {
            break;
        }

        m = ngx_min(m, n - pos);

        if (pos + m > k) {
            /* all of c[k..n) follow c[0..k): select on from there */
            ngx_http_woportal_list_select(&l->q, c + k, n - k, pos + m - k);
            k = pos + m;
        }

        l->items = ngx_pcalloc(l->pool, m * sizeof(ngx_http_woportal_item_t));
        keys = ngx_palloc(l->pool, m * sizeof(ngx_str_t));

        if (l->items == NULL || keys == NULL) {
            return NGX_ERROR;
        }

        l->nitems = m;

        for (i = 0; i < m; i++) {
            it = &l->items[i];
            it->rec = c[pos + i];

            p = ngx_pnalloc(l->pool, prefix->len + NGX_HTTP_WOPORTAL_ID_LEN);
            if (p == NULL) {
                return NGX_ERROR;
            }

            it->key.data = p;
            p = ngx_cpymem(p, prefix->data, prefix->len);
            p = ngx_hex_dump(p, it->rec->id, sizeof(it->rec->id));
            it->key.len = p - it->key.data;

            keys[i] = it->key;
        }

        if (ngx_http_woportal_libmc_mget(mc, keys, m,
                                         ngx_http_woportal_list_item, l, log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        for (i = 0; i < m; i++) {
            rc = ngx_http_woportal_list_entry(l, &l->items[i], mc, log);
            if (rc != NGX_OK) {
                return rc;
            }
        }

        pos += m;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_woportal_list_item(void *data, u_char *key, size_t key_len,
    u_char *value, size_t len, uint32_t flags, uint64_t cas)
{
    ngx_http_woportal_list_t *l = data;

    ngx_uint_t                 i;
    ngx_http_woportal_item_t  *it;

    for (i = 0; i < l->nitems; i++) {
        it = &l->items[i];

        if (it->found
            || it->key.len != key_len
            || ngx_strncmp(it->key.data, key, key_len) != 0)
        {
            continue;
        }

        if (flags == NGX_HTTP_WOPORTAL_FORMAT_LEASE) {
            /* being read through by a get: so is it here */
            return NGX_OK;
        }

        it->found = 1;

        if (flags == NGX_HTTP_WOPORTAL_FORMAT_GONE) {
            it->gone = 1;
            return NGX_OK;
        }

        it->framed = (flags == NGX_HTTP_WOPORTAL_FORMAT_ENTRY);
        it->not_entry = (flags != NGX_HTTP_WOPORTAL_FORMAT_JSON
                         && !it->framed);

        it->value.data = ngx_http_woportal_libmc_copy(l->pool, value, len);
        if (it->value.data == NULL) {
            return NGX_ERROR;
        }

        it->value.len = len;

        return NGX_OK;
    }

    return NGX_OK;
}


/*
 * One fetched entry: served while the page has room, or left out as a
 * ghost.  A value that is not this entry fails the list (NGX_ABORT):
 * garbage is never served.
 */

static ngx_int_t
ngx_http_woportal_list_entry(ngx_http_woportal_list_t *l,
    ngx_http_woportal_item_t *it, ngx_http_woportal_mc_t *mc, ngx_log_t *log)
{
    u_char                        id[NGX_HTTP_WOPORTAL_ID_LEN];
    uint32_t                      flags;
    uint64_t                      cas;
    ngx_int_t                     rc;
    ngx_str_t                     doc, json;
    ngx_http_woportal_entry_t     e;
    ngx_http_woportal_error_t     err;
    ngx_http_woportal_stored_t    v;
    ngx_http_woportal_persist_t   p;

    (void) ngx_hex_dump(id, it->rec->id, sizeof(it->rec->id));

    if (!it->found && l->wlcf->db) {
        /* evicted: SQL answers, and fills memcached (db.c) */

        ngx_memzero(&p, sizeof(ngx_http_woportal_persist_t));
        p.db = l->wlcf->db;
        p.prefix = l->wlcf->key_prefix;
        p.id = id;

        rc = ngx_http_woportal_db_read_through(mc, &p, &it->key, &doc,
                                               &flags, &cas, log);
        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_OK) {
            it->found = 1;
            it->gone = (flags == NGX_HTTP_WOPORTAL_FORMAT_GONE);
            it->framed = (flags == NGX_HTTP_WOPORTAL_FORMAT_ENTRY);
            it->not_entry = (flags != NGX_HTTP_WOPORTAL_FORMAT_JSON
                             && !it->framed);

            it->value.data = ngx_pnalloc(l->pool, doc.len ? doc.len : 1);

            if (it->value.data == NULL) {
                ngx_free(doc.data);
                return NGX_ERROR;
            }

            ngx_memcpy(it->value.data, doc.data, doc.len);
            it->value.len = doc.len;
            ngx_free(doc.data);
        }
    }

    if (!it->found || it->gone) {
        /* evicted, or being deleted: its deletion goes to the index */
        l->ghosts++;
        return ngx_http_woportal_list_mend(l, NULL, id);
    }

    if (l->nserved == l->q.per_page) {
        /* fetched to stand in for ghosts that were not */
        return NGX_OK;
    }

    if (ngx_http_woportal_entry_init(l->pool, &e) != NGX_OK) {
        return NGX_ERROR;
    }

    /* served as stored: the JSON, behind the header of FORMAT_ENTRY */

    json = it->value;

    if (it->framed) {
        if (ngx_http_woportal_value_open(&it->value, id, &v) != NGX_OK) {
            ngx_log_error(NGX_LOG_ERR, l->pool->log, 0,
                          "woportal: stored entry \"%V\" is corrupt: %s",
                          &it->key, v.reason);
            return NGX_ABORT;
        }

        json = v.json;
    }

    rc = ngx_http_woportal_decode(l->pool, &json,
                                  NGX_HTTP_WOPORTAL_DOC_STORED, &e, &err);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK
        || it->not_entry
        || ngx_strncmp(e.id, id, NGX_HTTP_WOPORTAL_ID_LEN) != 0
        || (it->framed && !ngx_http_woportal_value_agrees(&v, &e)))
    {
        ngx_log_error(NGX_LOG_ERR, l->pool->log, 0,
                      "woportal: stored entry \"%V\" is corrupt", &it->key);
        return NGX_ABORT;
    }

    if (!ngx_http_woportal_key_sees(l->key, &e.namespaces)) {
        /*
         * its namespaces changed since the record that listed it: for
         * this key it is gone, and the index learns the change
         */
        l->ghosts++;
        return ngx_http_woportal_list_mend(l, &e, id);
    }

    l->served[l->nserved++] = json;

    if (e.version > it->rec->version) {
        /* its record was lost: the entry is listed by an older one */
        return ngx_http_woportal_list_mend(l, &e, id);
    }

    return NGX_OK;
}


/* a record to append, to mend the index */

static ngx_int_t
ngx_http_woportal_list_mend(ngx_http_woportal_list_t *l,
    ngx_http_woportal_entry_t *e, u_char *id)
{
    ngx_http_woportal_mend_t  *mend;

    mend = ngx_array_push(&l->mends);
    if (mend == NULL) {
        return NGX_ERROR;
    }

    mend->shard = ngx_http_woportal_index_shard(id, l->wlcf->index_shards);
    mend->done = 0;

    if (ngx_http_woportal_index_record(l->pool, e, id, &mend->record)
        != NGX_OK)
    {
        /* an entry the index cannot hold: left as it is */
        l->mends.nelts--;
    }

    return NGX_OK;
}


/* the mending records, one append a shard; a failure only delays them */

static void
ngx_http_woportal_list_mended(ngx_http_woportal_list_t *l,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log)
{
    u_char                    *p;
    uint32_t                   server;
    ngx_str_t                  value, *key;
    ngx_uint_t                 i, j;
    ngx_http_woportal_mend_t  *mend;

    mend = l->mends.elts;

    for (i = 0; i < l->mends.nelts; i++) {
        if (mend[i].done) {
            continue;
        }

        value.len = 0;

        for (j = i; j < l->mends.nelts; j++) {
            if (mend[j].shard == mend[i].shard) {
                value.len += mend[j].record.len;
            }
        }

        value.data = ngx_pnalloc(l->pool, value.len);
        if (value.data == NULL) {
            return;
        }

        p = value.data;

        for (j = i; j < l->mends.nelts; j++) {
            if (mend[j].shard == mend[i].shard) {
                p = ngx_cpymem(p, mend[j].record.data, mend[j].record.len);
                mend[j].done = 1;
            }
        }

        key = &l->wlcf->index_keys[mend[i].shard];
        server = memcached_generate_hash(mc, (char *) key->data, key->len);

        if (server >= ngx_http_woportal_mc_servers(l->wlcf->store->client)
            || ngx_http_woportal_index_append(mc, key, &value,
                                       &l->wlcf->index_counts[server], 0,
                                       log)
               != NGX_OK)
        {
            (void) ngx_http_woportal_index_distrust(mc,
                                                    l->wlcf->index_marks, log);
        }
    }
}
