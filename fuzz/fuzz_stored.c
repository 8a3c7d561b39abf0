
/*
 * fuzz_stored: the stored-entry decoder (DOC_STORED), on whatever a
 * memcached value might hold.  The input is the value.
 *
 * Checks, besides the sanitizers:
 *   - decode answers NGX_OK or NGX_DECLINED, never NGX_ERROR;
 *   - an accepted value encodes (encode_entry) to valid JSON, and that
 *     stored form is a fixed point: it decodes again and re-encodes to
 *     the very same bytes (the accepted value itself need not be: its
 *     times and numbers are normalised);
 *   - the entry's list-index record parses back to its fields.
 */


#include "fuzz.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_int_t                   rc;
    ngx_str_t                   value, env, stored, env2, stored2, id;
    ngx_pool_t                 *pool;
    ngx_http_woportal_entry_t   e, e2;
    ngx_http_woportal_error_t   err;

    pool = fuzz_pool();

    fuzz_copy(pool, &value, data, size, 0);

    fuzz_check(ngx_http_woportal_entry_init(pool, &e) == NGX_OK,
               "out of memory");

    rc = ngx_http_woportal_decode(pool, &value, NGX_HTTP_WOPORTAL_DOC_STORED,
                                  &e, &err);

    fuzz_check(rc == NGX_OK || rc == NGX_DECLINED,
               "decode answered %ld (NGX_ERROR)", (long) rc);

    if (fuzz_verbose) {
        fprintf(stderr, "stored: %s\n",
                rc == NGX_OK ? "accepted" : "refused");
        if (rc == NGX_DECLINED) {
            fuzz_dump_error(&err);
        }
    }

    if (rc == NGX_DECLINED) {
        /* the module logs a corrupt value and answers 503: nothing more */
        ngx_destroy_pool(pool);
        return 0;
    }

    fuzz_check(ngx_http_woportal_encode_entry(pool, &e, &env, &stored)
               == NGX_OK, "encode_entry failed");

    if (fuzz_json_valid(&env) != NGX_OK) {
        fuzz_dump("envelope", &env);
        fuzz_check(0, "the entry's envelope is not valid JSON");
    }

    fuzz_check(ngx_http_woportal_entry_init(pool, &e2) == NGX_OK,
               "out of memory");

    rc = ngx_http_woportal_decode(pool, &stored,
                                  NGX_HTTP_WOPORTAL_DOC_STORED, &e2, &err);

    if (rc != NGX_OK) {
        fuzz_dump("stored form", &stored);
        fuzz_dump_error(&err);
        fuzz_check(rc == NGX_OK,
                   "the re-encoded stored form does not decode (rc %ld)",
                   (long) rc);
    }

    fuzz_check(ngx_http_woportal_encode_entry(pool, &e2, &env2, &stored2)
               == NGX_OK, "encode_entry failed");

    if (stored.len != stored2.len
        || ngx_memcmp(stored.data, stored2.data, stored.len) != 0)
    {
        fuzz_dump("stored form", &stored);
        fuzz_dump("decoded and encoded again", &stored2);
        fuzz_check(0, "the stored form is not a fixed point");
    }

    /* the index record of an entry with a well-formed id (the handler
       refuses others: they are not the key's) */

    id.data = e.id;
    id.len = NGX_HTTP_WOPORTAL_ID_LEN;

    if (ngx_http_woportal_id_valid(&id)) {
        fuzz_check_record(pool, &e);
    }

    ngx_destroy_pool(pool);

    return 0;
}
