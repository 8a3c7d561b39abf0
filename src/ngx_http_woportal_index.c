
/*
 * The list index.  memcached has no scan and no query, so the module
 * keeps its own index of the entries in memcached, next to them.
 *
 * Shards.  The index is split into woportal_index_shards keys,
 * "<prefix>idx:<n>", n = murmur2(_id) mod shards: no one key holds the
 * whole index, so it grows past memcached's 1 MiB item limit (a record is
 * about 110 bytes with 24-hex references and one short namespace: 256
 * shards hold 1M entries at ~430 KB a shard).
 *
 * Records.  Each shard is an append-only log of small binary records, one
 * per write of an entry, holding what lists filter and sort on: _id,
 * version, created_at, updated_at, expiry_date, status, access_level,
 * workorder, client, company_namespace, and a "deleted" bit.  Writers
 * append (memcached "append", "add" when the shard is missing) after the
 * entry itself is stored, so concurrent writers on any worker or node
 * never overwrite each other; a reader folds each _id to its record of
 * the highest version (a deletion has the highest there is).  Ids are
 * never reused, so a deletion is final.
 *
 * Compaction.  A list that finds a shard at least twice the size of what
 * a compaction keeps (and 4 KiB over) reads it again and rewrites it with
 * those records alone, with CAS: an append in between makes it read
 * again.  A writer whose append is refused for size compacts the shard
 * the same way, then appends.  A compaction keeps the live records and
 * the deletions of the last NGX_HTTP_WOPORTAL_INDEX_GRACE: a live record
 * of an entry may be appended after its deletion's (a list mending the
 * index from the entry it fetched just before the delete, a write's
 * append that waited), and only the deletion beside it keeps it folded
 * away; dropped at once, the entry came back to the lists' totals.  A
 * deletion record holds the time it was made (as updated_at).
 *
 * Costs.  A write appends one record and bumps its server's change
 * count (pipelined behind the write, on the event loop).  A list asks
 * each server's change count first and reads only the shards that
 * changed since the worker's cache of them (index_cache.c); it filters
 * and sorts the cached records in a pool thread, then fetches the page's
 * entries (one multi-get).
 *
 * Eviction.  An entry evicted from memcached while its records stand is
 * a ghost: the list that meets it on its page drops it, refills the page
 * and appends its deletion.  A record older than its entry (a write whose
 * append failed) is replaced the same way when a list meets the entry.
 * A whole shard evicted loses its records; persistence rebuilds them.
 *
 * Record layout, little-endian:
 *
 *     0  magic 0xa7       1  length (2)        3  flags (1)
 *     4  _id (12 bytes)  16  version (8)      24  created_at (8, ms)
 *    32  updated_at (8)  40  expiry_date (8)  48  status (1)
 *    49  access_level (1)                     50  namespaces (1)
 *    51  workorder: length (2), bytes; client: length (2), bytes;
 *        each namespace: length (2), bytes
 *
 * A deletion's record: flags 0x01, version 2^64 - 1, updated_at the time
 * it was made (0 before the deletions were kept a while), empty strings.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_id.h"
#include "ngx_http_woportal_index.h"
#include "ngx_http_woportal_mc.h"


#define NGX_HTTP_WOPORTAL_REC_MAGIC     0xa7
#define NGX_HTTP_WOPORTAL_REC_HEAD      51
#define NGX_HTTP_WOPORTAL_REC_MAX       65535


static ngx_int_t ngx_http_woportal_index_str(u_char **pp, u_char *last,
    ngx_str_t *s);
static ngx_int_t ngx_http_woportal_index_live(ngx_pool_t *pool,
    ngx_array_t *recs, ngx_msec_t grace, ngx_str_t *out);


ngx_int_t
ngx_http_woportal_index_keys(ngx_conf_t *cf,
    ngx_http_woportal_loc_conf_t *wlcf)
{
    u_char      *p;
    size_t       len;
    ngx_str_t   *key;
    ngx_uint_t   n;

    wlcf->index_keys = ngx_palloc(cf->pool,
                                  wlcf->index_shards * sizeof(ngx_str_t));
    if (wlcf->index_keys == NULL) {
        return NGX_ERROR;
    }

    len = wlcf->key_prefix.len + sizeof("idx:lock") - 1 + NGX_INT_T_LEN;

    for (n = 0; n < wlcf->index_shards + 2; n++) {
        p = ngx_pnalloc(cf->pool, len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (n < wlcf->index_shards) {
            key = &wlcf->index_keys[n];
            key->data = p;
            p = ngx_sprintf(p, "%Vidx:%ui", &wlcf->key_prefix, n);

        } else if (n == wlcf->index_shards) {
            key = &wlcf->index_gen;
            key->data = p;
            p = ngx_sprintf(p, "%Vidx:gen", &wlcf->key_prefix);

        } else {
            key = &wlcf->index_lock;
            key->data = p;
            p = ngx_sprintf(p, "%Vidx:lock", &wlcf->key_prefix);
        }

        key->len = p - key->data;
    }

    return NGX_OK;
}


ngx_uint_t
ngx_http_woportal_index_shard(u_char *id, ngx_uint_t shards)
{
    return ngx_murmur_hash2(id, NGX_HTTP_WOPORTAL_ID_LEN) % shards;
}


/*
 * Sets the index record a write appends: the entry's, or the deletion of
 * the entry "id" when e is NULL.
 */

ngx_int_t
ngx_http_woportal_index_prepare(ngx_http_request_t *r,
    ngx_http_woportal_call_t *call, ngx_http_woportal_entry_t *e, u_char *id)
{
    ngx_uint_t                     shard;
    ngx_http_woportal_loc_conf_t  *wlcf;

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_woportal_module);

    shard = ngx_http_woportal_index_shard(id, wlcf->index_shards);
    call->index_key = wlcf->index_keys[shard];
    call->index_count = wlcf->index_counts[
                   ngx_http_woportal_mc_server(wlcf->store->client,
                                               &call->index_key)];

    return ngx_http_woportal_index_record(r->pool, e, id, &call->record);
}


ngx_int_t
ngx_http_woportal_index_record(ngx_pool_t *pool,
    ngx_http_woportal_entry_t *e, u_char *id, ngx_str_t *rec)
{
    u_char      *p;
    size_t       len;
    ngx_str_t   *ns;
    ngx_uint_t   i, nns;

    len = NGX_HTTP_WOPORTAL_REC_HEAD + 4;
    nns = 0;
    ns = NULL;

    if (e) {
        len += e->workorder.len + e->client.len;

        ns = e->namespaces.elts;
        nns = e->namespaces.nelts;

        for (i = 0; i < nns; i++) {
            len += 2 + ns[i].len;
        }
    }

    if (len > NGX_HTTP_WOPORTAL_REC_MAX || nns > 255) {
        return NGX_ERROR;
    }

    p = ngx_pcalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    rec->data = p;
    rec->len = len;

    p[0] = NGX_HTTP_WOPORTAL_REC_MAGIC;
    ngx_http_woportal_put16(p + 1, (uint16_t) len);

    if (ngx_http_woportal_hex_decode(p + 4, id, NGX_HTTP_WOPORTAL_ID_LEN)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (e == NULL) {
        p[3] = NGX_HTTP_WOPORTAL_REC_DELETED;
        ngx_http_woportal_put64(p + 16, (uint64_t) -1);
        ngx_http_woportal_put64(p + 32,
                                (uint64_t) ngx_http_woportal_index_clock());
        return NGX_OK;
    }

    p[3] = e->has_expiry ? NGX_HTTP_WOPORTAL_REC_EXPIRY : 0;

    ngx_http_woportal_put64(p + 16, e->version);
    ngx_http_woportal_put64(p + 24, (uint64_t) e->created_at);
    ngx_http_woportal_put64(p + 32, (uint64_t) e->updated_at);
    ngx_http_woportal_put64(p + 40,
                            (uint64_t) (e->has_expiry ? e->expiry_date : 0));
    p[48] = (u_char) e->status;
    p[49] = (u_char) e->access_level;
    p[50] = (u_char) nns;

    p += NGX_HTTP_WOPORTAL_REC_HEAD;

    ngx_http_woportal_put16(p, (uint16_t) e->workorder.len);
    p = ngx_cpymem(p + 2, e->workorder.data, e->workorder.len);

    ngx_http_woportal_put16(p, (uint16_t) e->client.len);
    p = ngx_cpymem(p + 2, e->client.data, e->client.len);

    for (i = 0; i < nns; i++) {
        ngx_http_woportal_put16(p, (uint16_t) ns[i].len);
        p = ngx_cpymem(p + 2, ns[i].data, ns[i].len);
    }

    return NGX_OK;
}


/*
 * Appends the records of one shard's value to recs: NGX_OK, or
 * NGX_DECLINED at the first bytes that are not a record (*valid is the
 * length of the good part before them).
 */

ngx_int_t
ngx_http_woportal_index_parse(u_char *p, size_t len, ngx_uint_t shard,
    ngx_array_t *recs, size_t *valid)
{
    u_char                    *start, *last, *end, *q;
    size_t                     rlen;
    ngx_str_t                  s;
    ngx_uint_t                 i;
    ngx_http_woportal_irec_t  *rec;

    start = p;
    last = p + len;

    while (p < last) {
        *valid = p - start;

        if (last - p < NGX_HTTP_WOPORTAL_REC_HEAD + 4
            || p[0] != NGX_HTTP_WOPORTAL_REC_MAGIC)
        {
            return NGX_DECLINED;
        }

        rlen = ngx_http_woportal_get16(p + 1);

        if (rlen < NGX_HTTP_WOPORTAL_REC_HEAD + 4
            || rlen > (size_t) (last - p)
            || p[48] > NGX_HTTP_WOPORTAL_CANCELLED
            || p[49] > 2)
        {
            return NGX_DECLINED;
        }

        end = p + rlen;

        rec = ngx_array_push(recs);
        if (rec == NULL) {
            return NGX_ERROR;
        }

        rec->raw = p;
        rec->len = (uint16_t) rlen;
        rec->shard = (uint32_t) shard;
        rec->flags = p[3];
        ngx_memcpy(rec->id, p + 4, sizeof(rec->id));
        rec->version = ngx_http_woportal_get64(p + 16);
        rec->created_at = (int64_t) ngx_http_woportal_get64(p + 24);
        rec->updated_at = (int64_t) ngx_http_woportal_get64(p + 32);
        rec->expiry = (int64_t) ngx_http_woportal_get64(p + 40);
        rec->status = p[48];
        rec->access_level = p[49];
        rec->nns = p[50];
        rec->superseded = 0;

        q = p + NGX_HTTP_WOPORTAL_REC_HEAD;

        if (ngx_http_woportal_index_str(&q, end, &rec->workorder) != NGX_OK
            || ngx_http_woportal_index_str(&q, end, &rec->client) != NGX_OK)
        {
            recs->nelts--;
            return NGX_DECLINED;
        }

        rec->ns = q;

        for (i = 0; i < rec->nns; i++) {
            if (ngx_http_woportal_index_str(&q, end, &s) != NGX_OK) {
                recs->nelts--;
                return NGX_DECLINED;
            }
        }

        if (q != end) {
            recs->nelts--;
            return NGX_DECLINED;
        }

        p = end;
    }

    *valid = len;

    return NGX_OK;
}


/* the next namespace of a record, from *pp */

void
ngx_http_woportal_index_ns(u_char **pp, ngx_str_t *ns)
{
    ns->len = ngx_http_woportal_get16(*pp);
    ns->data = *pp + 2;
    *pp += 2 + ns->len;
}


/*
 * Marks every record but the newest of its _id as superseded.  Of two
 * records of one version the later appended wins.
 */

ngx_int_t
ngx_http_woportal_index_fold(ngx_pool_t *pool, ngx_array_t *recs)
{
    uint32_t                  *slots, h;
    ngx_uint_t                 i, size, mask;
    ngx_http_woportal_irec_t  *rec, *old;

    if (recs->nelts == 0) {
        return NGX_OK;
    }

    for (size = 16; size < 2 * recs->nelts; size <<= 1) { /* void */ }

    slots = ngx_pcalloc(pool, size * sizeof(uint32_t));
    if (slots == NULL) {
        return NGX_ERROR;
    }

    mask = size - 1;
    rec = recs->elts;

    for (i = 0; i < recs->nelts; i++) {
        h = ngx_murmur_hash2(rec[i].id, sizeof(rec[i].id)) & mask;

        for ( ;; ) {
            if (slots[h] == 0) {
                slots[h] = (uint32_t) i + 1;
                break;
            }

            old = &rec[slots[h] - 1];

            if (ngx_memcmp(old->id, rec[i].id, sizeof(rec[i].id)) != 0) {
                h = (h + 1) & mask;
                continue;
            }

            if (rec[i].version >= old->version) {
                old->superseded = 1;
                slots[h] = (uint32_t) i + 1;

            } else {
                rec[i].superseded = 1;
            }

            break;
        }
    }

    return NGX_OK;
}


/* ms since the epoch: pool threads have no event loop's cached time */

int64_t
ngx_http_woportal_index_clock(void)
{
    struct timeval  tv;

    ngx_gettimeofday(&tv);

    return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}


/*
 * Whether a compaction keeps a folded record: a live one, or a deletion
 * made less than grace ago (by this clock)
 */

ngx_uint_t
ngx_http_woportal_index_kept(ngx_http_woportal_irec_t *rec, int64_t now,
    ngx_msec_t grace)
{
    if (rec->superseded) {
        return 0;
    }

    if (!(rec->flags & NGX_HTTP_WOPORTAL_REC_DELETED)) {
        return 1;
    }

    /* a time past the grace ahead is no deletion's: a clock off, garbage */

    return rec->updated_at > now - (int64_t) grace
           && rec->updated_at <= now + (int64_t) grace;
}


/*
 * A shard's value rewritten with the records a compaction keeps (grace:
 * index_kept()); a corrupt tail is dropped
 */

ngx_int_t
ngx_http_woportal_index_compact(ngx_pool_t *pool, ngx_str_t *value,
    ngx_msec_t grace, ngx_str_t *out)
{
    size_t        valid;
    ngx_array_t   recs;

    if (ngx_array_init(&recs, pool, value->len / 64 + 1,
                       sizeof(ngx_http_woportal_irec_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_woportal_index_parse(value->data, value->len, 0, &recs,
                                      &valid)
        == NGX_ERROR
        || ngx_http_woportal_index_fold(pool, &recs) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_woportal_index_live(pool, &recs, grace, out);
}


static ngx_int_t
ngx_http_woportal_index_live(ngx_pool_t *pool, ngx_array_t *recs,
    ngx_msec_t grace, ngx_str_t *out)
{
    u_char                    *p;
    size_t                     len;
    int64_t                    now;
    ngx_uint_t                 i;
    ngx_http_woportal_irec_t  *rec;

    now = ngx_http_woportal_index_clock();
    rec = recs->elts;
    len = 0;

    for (i = 0; i < recs->nelts; i++) {
        if (ngx_http_woportal_index_kept(&rec[i], now, grace)) {
            len += rec[i].len;
        }
    }

    out->data = ngx_pnalloc(pool, len ? len : 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    p = out->data;

    for (i = 0; i < recs->nelts; i++) {
        if (ngx_http_woportal_index_kept(&rec[i], now, grace)) {
            p = ngx_cpymem(p, rec[i].raw, rec[i].len);
        }
    }

    out->len = p - out->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_woportal_index_str(u_char **pp, u_char *last, ngx_str_t *s)
{
    u_char  *p;

    p = *pp;

    if (last - p < 2) {
        return NGX_ERROR;
    }

    s->len = ngx_http_woportal_get16(p);
    s->data = p + 2;

    if (s->len > (size_t) (last - p - 2)) {
        return NGX_ERROR;
    }

    *pp = p + 2 + s->len;

    return NGX_OK;
}
