
/*
 * fuzz_index: a shard of the list index as memcached may hand it back
 * (cut short, corrupt, hostile).  The input is the shard's value: binary
 * records, parsed by ngx_http_woportal_index_parse() and rewritten by
 * ngx_http_woportal_index_compact() (parse, fold, the records kept).
 *
 * Checks, besides the sanitizers:
 *   - parse answers NGX_OK or NGX_DECLINED; its valid prefix is within
 *     the value, the whole value when NGX_OK, and parses again alone to
 *     the same records; every record's strings lie inside the record;
 *   - compact succeeds, and what it writes is a shard that parses whole
 *     and compacts to itself, with the recent deletions kept and without;
 *     keeping them changes no live record;
 *   - the worker's snapshot of the value (index_cache.c) holds exactly
 *     the live records the compaction wrote, their bytes copied within
 *     its own, in the lists' default order (snap->order), with postings
 *     sorted, in range and naming each record under its own values.
 */


#include "fuzz.h"


/*
 * The deletions a compaction keeps: those of the last 100 years here,
 * so that the fuzzer's times (most of them) are kept, not only those of
 * the last minute (NGX_HTTP_WOPORTAL_INDEX_GRACE)
 */
#define FUZZ_GRACE  ((ngx_msec_t) 100 * 365 * 24 * 3600 * 1000)


static void
fuzz_check_records(ngx_array_t *recs)
{
    u_char                    *end, *p;
    ngx_str_t                  ns;
    ngx_uint_t                 i, j;
    ngx_http_woportal_irec_t  *rec;

    rec = recs->elts;

    for (i = 0; i < recs->nelts; i++) {
        end = rec[i].raw + rec[i].len;

        fuzz_check(rec[i].workorder.data + rec[i].workorder.len <= end
                   && rec[i].client.data + rec[i].client.len <= end
                   && rec[i].status <= NGX_HTTP_WOPORTAL_CANCELLED
                   && rec[i].access_level <= 2,
                   "record %lu out of bounds", (unsigned long) i);

        p = rec[i].ns;

        for (j = 0; j < rec[i].nns; j++) {
            ngx_http_woportal_index_ns(&p, &ns);
            fuzz_check(ns.data + ns.len <= end,
                       "namespace %lu of record %lu out of bounds",
                       (unsigned long) j, (unsigned long) i);
        }

        fuzz_check(p == end, "record %lu: namespaces end before the record",
                   (unsigned long) i);
    }
}


static ngx_int_t
fuzz_parse(ngx_pool_t *pool, ngx_str_t *value, ngx_array_t *recs,
    size_t *valid)
{
    ngx_int_t  rc;

    fuzz_check(ngx_array_init(recs, pool, 4,
                              sizeof(ngx_http_woportal_irec_t))
               == NGX_OK, "out of memory");

    *valid = (size_t) -1;

    rc = ngx_http_woportal_index_parse(value->data, value->len, 7, recs,
                                       valid);

    fuzz_check(rc == NGX_OK || rc == NGX_DECLINED,
               "index_parse answered %ld", (long) rc);
    fuzz_check(*valid <= value->len, "valid prefix %zu of %zu bytes",
               *valid, value->len);
    fuzz_check(rc == NGX_DECLINED || *valid == value->len,
               "NGX_OK with a valid prefix of %zu of %zu bytes", *valid,
               value->len);

    fuzz_check_records(recs);

    return rc;
}


static void
fuzz_check_snap(ngx_http_woportal_snap_t *snap, ngx_str_t *live,
    ngx_uint_t nlive, ngx_uint_t corrupt)
{
    u_char                    *end;
    uint32_t                   h;
    uint64_t                  *post;
    ngx_uint_t                 i, f, n, first, last;
    ngx_http_woportal_irec_t  *rec, *a, *b;

    n = snap->recs.nelts;
    rec = snap->recs.elts;
    end = snap->data + snap->live;

    fuzz_check(n == nlive && snap->live == live->len,
               "snapshot of %lu records, %zu bytes; compacted: %lu, %zu",
               (unsigned long) n, snap->live, (unsigned long) nlive,
               live->len);
    fuzz_check(snap->corrupt == corrupt, "snapshot corrupt %d, parse %lu",
               snap->corrupt, (unsigned long) corrupt);

    fuzz_check_records(&snap->recs);

    for (i = 0; i < n; i++) {
        fuzz_check(rec[i].raw >= snap->data && rec[i].raw + rec[i].len <= end,
                   "snapshot record %lu outside its bytes", (unsigned long) i);
    }

    fuzz_check(snap->live == 0
               || ngx_memcmp(snap->data, live->data, live->len) == 0,
               "the snapshot's bytes are not the compacted records");

    for (i = 1; i < n; i++) {
        a = snap->order[i - 1];
        b = snap->order[i];

        fuzz_check(a->created_at > b->created_at
                   || (a->created_at == b->created_at
                       && ngx_memcmp(a->id, b->id, sizeof(a->id)) <= 0),
                   "snapshot order broken at %lu", (unsigned long) i);
    }

    for (f = 0; f < NGX_HTTP_WOPORTAL_POSTINGS; f++) {
        post = snap->post[f];
        last = (f == NGX_HTTP_WOPORTAL_POST_NS) ? snap->npost : n;

        for (i = 0; i < last; i++) {
            fuzz_check((post[i] & 0xffffffff) < n
                       && (i == 0 || post[i - 1] <= post[i]),
                       "posting %lu of field %lu", (unsigned long) i,
                       (unsigned long) f);
        }
    }

    for (i = 0; i < n; i++) {
        h = ngx_murmur_hash2(rec[i].workorder.data, rec[i].workorder.len);
        ngx_http_woportal_snap_find(snap, NGX_HTTP_WOPORTAL_POST_WORKORDER, h,
                                    &first, &last);

        for (f = first; f < last; f++) {
            if ((snap->post[NGX_HTTP_WOPORTAL_POST_WORKORDER][f]
                 & 0xffffffff) == i)
            {
                break;
            }
        }

        fuzz_check(f < last, "record %lu not in its workorder's postings",
                   (unsigned long) i);

        ngx_http_woportal_snap_find(snap, NGX_HTTP_WOPORTAL_POST_STATUS,
                                    rec[i].status, &first, &last);
        fuzz_check(first < last, "record %lu: no posting of its status",
                   (unsigned long) i);
    }
}


/* a compaction (grace: index_kept()): a whole shard, and a fixed point */

static void
fuzz_compacted(ngx_pool_t *pool, ngx_str_t *value, ngx_msec_t grace,
    ngx_str_t *out)
{
    size_t       valid;
    ngx_str_t    again;
    ngx_array_t  recs;

    fuzz_check(ngx_http_woportal_index_compact(pool, value, grace, out)
               == NGX_OK, "index_compact failed");

    fuzz_check(fuzz_parse(pool, out, &recs, &valid) == NGX_OK,
               "the compacted shard does not parse whole");

    fuzz_check(ngx_http_woportal_index_compact(pool, out, grace, &again)
               == NGX_OK, "index_compact failed");

    if (out->len != again.len
        || ngx_memcmp(out->data, again.data, out->len) != 0)
    {
        fuzz_dump("compacted", out);
        fuzz_dump("compacted again", &again);
        fuzz_check(0, "compaction is not a fixed point");
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t                     valid, valid2;
    ngx_int_t                  rc, corrupt;
    ngx_str_t                  value, prefix, out, out2, kept;
    ngx_pool_t                *pool;
    ngx_array_t                recs, recs2;
    ngx_http_woportal_snap_t  *snap;

    pool = fuzz_pool();

    /* the callers copy a shard into pool memory: never NULL */
    fuzz_copy(pool, &value, data, size, 1);

    rc = fuzz_parse(pool, &value, &recs, &valid);
    corrupt = (rc == NGX_DECLINED);

    if (fuzz_verbose) {
        fprintf(stderr, "index: %s, %lu records, %zu of %zu bytes valid\n",
                rc == NGX_OK ? "whole" : "corrupt tail",
                (unsigned long) recs.nelts, valid, value.len);
    }

    /* the valid prefix alone is a whole shard of the same records */

    fuzz_copy(pool, &prefix, value.data, valid, 1);

    rc = fuzz_parse(pool, &prefix, &recs2, &valid2);

    fuzz_check(rc == NGX_OK && recs2.nelts == recs.nelts,
               "the valid prefix parses to %lu records of %lu (rc %ld)",
               (unsigned long) recs2.nelts, (unsigned long) recs.nelts,
               (long) rc);

    /*
     * compaction writes a whole shard, and a fixed point; with the
     * recent deletions kept too, and then their live records are the
     * same
     */

    fuzz_compacted(pool, &value, FUZZ_GRACE, &kept);
    fuzz_compacted(pool, &value, 0, &out);
    fuzz_compacted(pool, &kept, 0, &out2);

    if (out.len != out2.len || ngx_memcmp(out.data, out2.data, out.len) != 0)
    {
        fuzz_dump("live records", &out);
        fuzz_dump("live records after the recent deletions", &out2);
        fuzz_check(0, "keeping the recent deletions changed the live records");
    }

    rc = fuzz_parse(pool, &out, &recs2, &valid2);

    /* the worker's snapshot: the same live records */

    snap = ngx_http_woportal_snap_make(value.data, value.len, 42, 7,
                                       pool->log);
    fuzz_check(snap != NULL, "snap_make failed");

    fuzz_check_snap(snap, &out, recs2.nelts, corrupt);

    ngx_http_woportal_snap_unref(snap);

    ngx_destroy_pool(pool);

    return 0;
}
