
/*
 * fuzz_decode: the request-body decoder and validator.
 *
 * Input: one mode byte, then the body.  The mode byte modulo 3 picks the
 * document (the seeds use the digits '0', '1', '2'):
 *
 *     0  create  (POST /)
 *     1  update  (PUT/PATCH /{id})
 *     2  status  (PUT/PATCH /{id}/status)
 *
 * Checks, besides the sanitizers:
 *   - decode answers NGX_OK or NGX_DECLINED, never NGX_ERROR (a 500 for a
 *     client's body); a refusal is a 400 invalid_json or a 422
 *     validation_failed whose envelope is valid JSON;
 *   - a body accepted for create makes an entry (entry_create) whose
 *     stored form decodes again (DOC_STORED) and re-encodes to the very
 *     same bytes;
 *   - a body accepted for update or status, applied to an entry
 *     (entry_apply), gives an entry with the same round-trip property;
 *   - the list-index record of such an entry (index_record) parses back
 *     to the entry's fields.
 */


#include "fuzz.h"


static u_char  fuzz_id[] = "0123456789abcdef01234567";


/* the stored form of e decodes and encodes back to the same bytes */
static void
fuzz_roundtrip(ngx_pool_t *pool, ngx_http_woportal_entry_t *e)
{
    ngx_int_t                   rc;
    ngx_str_t                   env, data, env2, data2;
    ngx_http_woportal_entry_t   e2;
    ngx_http_woportal_error_t   err;

    fuzz_check(ngx_http_woportal_encode_entry(pool, e, &env, &data)
               == NGX_OK, "encode_entry failed");

    if (fuzz_json_valid(&env) != NGX_OK) {
        fuzz_dump("envelope", &env);
        fuzz_check(0, "the entry's envelope is not valid JSON");
    }

    fuzz_check(ngx_http_woportal_entry_init(pool, &e2) == NGX_OK,
               "out of memory");

    rc = ngx_http_woportal_decode(pool, &data, NGX_HTTP_WOPORTAL_DOC_STORED,
                                  &e2, &err);

    if (rc != NGX_OK) {
        fuzz_dump("stored form", &data);
        fuzz_dump_error(&err);
        fuzz_check(rc == NGX_OK, "the stored form does not decode (rc %ld)",
                   (long) rc);
    }

    fuzz_check(ngx_http_woportal_encode_entry(pool, &e2, &env2, &data2)
               == NGX_OK, "encode_entry failed");

    if (data.len != data2.len
        || ngx_memcmp(data.data, data2.data, data.len) != 0)
    {
        fuzz_dump("stored form", &data);
        fuzz_dump("decoded and encoded again", &data2);
        fuzz_check(0, "the stored form does not round-trip");
    }

    fuzz_check_record(pool, e);
}


/* the entry an update or status body is applied to */
static void
fuzz_base_entry(ngx_pool_t *pool, ngx_http_woportal_entry_t *e)
{
    fuzz_check(ngx_http_woportal_entry_init(pool, e) == NGX_OK,
               "out of memory");

    ngx_str_set(&e->workorder, "507f1f77bcf86cd799439012");
    ngx_str_set(&e->client, "507f1f77bcf86cd799439013");
    e->set = (1 << NGX_HTTP_WOPORTAL_F_WORKORDER)
             | (1 << NGX_HTTP_WOPORTAL_F_CLIENT);

    fuzz_check(ngx_http_woportal_entry_create(pool, e) == NGX_OK,
               "out of memory");

    ngx_memcpy(e->id, fuzz_id, NGX_HTTP_WOPORTAL_ID_LEN);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_int_t                   rc;
    ngx_str_t                   json;
    ngx_pool_t                 *pool;
    ngx_http_woportal_doc_e     doc;
    ngx_http_woportal_entry_t   e, base;
    ngx_http_woportal_error_t   err;

    if (size < 1) {
        return 0;
    }

    doc = (ngx_http_woportal_doc_e) (data[0] % 3);

    pool = fuzz_pool();

    fuzz_copy(pool, &json, data + 1, size - 1, 0);

    fuzz_check(ngx_http_woportal_entry_init(pool, &e) == NGX_OK,
               "out of memory");

    rc = ngx_http_woportal_decode(pool, &json, doc, &e, &err);

    fuzz_check(rc == NGX_OK || rc == NGX_DECLINED,
               "decode answered %ld (NGX_ERROR is a 500) for doc %d",
               (long) rc, (int) doc);

    if (fuzz_verbose) {
        fprintf(stderr, "doc %d: %s\n", (int) doc,
                rc == NGX_OK ? "accepted" : "refused");
        if (rc == NGX_DECLINED) {
            fuzz_dump_error(&err);
        }
    }

    if (rc == NGX_DECLINED) {
        if (!((err.status == NGX_HTTP_BAD_REQUEST
               && err.code == NGX_HTTP_WOPORTAL_E_INVALID_JSON)
              || (err.status == NGX_HTTP_UNPROCESSABLE_ENTITY
                  && err.code == NGX_HTTP_WOPORTAL_E_VALIDATION_FAILED)))
        {
            fuzz_dump_error(&err);
            fuzz_check(0, "a refusal that is neither 400 invalid_json nor "
                          "422 validation_failed");
        }

        fuzz_check(err.message.len > 0, "a refusal without a message");

        fuzz_check_envelope(pool, &err);

        ngx_destroy_pool(pool);
        return 0;
    }

    fuzz_check(err.details.nelts == 0, "accepted with %lu details",
               (unsigned long) err.details.nelts);

    if (doc == NGX_HTTP_WOPORTAL_DOC_CREATE) {
        fuzz_check(ngx_http_woportal_entry_create(pool, &e) == NGX_OK,
                   "out of memory");

        ngx_memcpy(e.id, fuzz_id, NGX_HTTP_WOPORTAL_ID_LEN);

        fuzz_roundtrip(pool, &e);

    } else {
        fuzz_base_entry(pool, &base);

        /* from pending, every transition is allowed */
        rc = ngx_http_woportal_entry_apply(&base, &e);
        fuzz_check(rc == NGX_OK, "entry_apply answered %ld", (long) rc);

        fuzz_roundtrip(pool, &base);
    }

    ngx_destroy_pool(pool);

    return 0;
}
