
/*
 * fuzz_index: a shard of the list index as memcached may hand it back
 * (cut short, corrupt, hostile).  The input is the shard's value: binary
 * records, parsed by ngx_http_woportal_index_parse() and rewritten by
 * ngx_http_woportal_index_compact() (parse, fold, live records).
 *
 * Checks, besides the sanitizers:
 *   - parse answers NGX_OK or NGX_DECLINED; its valid prefix is within
 *     the value, the whole value when NGX_OK, and parses again alone to
 *     the same records; every record's strings lie inside the record;
 *   - compact succeeds, and what it writes is a shard that parses whole
 *     and compacts to itself.
 */


#include "fuzz.h"


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


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t        valid, valid2;
    ngx_int_t     rc;
    ngx_str_t     value, prefix, out, out2;
    ngx_pool_t   *pool;
    ngx_array_t   recs, recs2;

    pool = fuzz_pool();

    /* the callers copy a shard into pool memory: never NULL */
    fuzz_copy(pool, &value, data, size, 1);

    rc = fuzz_parse(pool, &value, &recs, &valid);

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

    /* compaction writes a whole shard, and a fixed point */

    fuzz_check(ngx_http_woportal_index_compact(pool, &value, &out) == NGX_OK,
               "index_compact failed");

    rc = fuzz_parse(pool, &out, &recs2, &valid2);
    fuzz_check(rc == NGX_OK, "the compacted shard does not parse whole");

    fuzz_check(ngx_http_woportal_index_compact(pool, &out, &out2) == NGX_OK,
               "index_compact failed");

    if (out.len != out2.len || ngx_memcmp(out.data, out2.data, out.len) != 0)
    {
        fuzz_dump("compacted", &out);
        fuzz_dump("compacted again", &out2);
        fuzz_check(0, "compaction is not a fixed point");
    }

    ngx_destroy_pool(pool);

    return 0;
}
