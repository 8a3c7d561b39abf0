
/*
 * fuzz_query: the query-string parser of lists (GET /?...).  The input is
 * r->args: the raw query string, after the '?'.
 *
 * The query comes zeroed, as the list handler's ngx_pcalloc() gives it;
 * the error comes filled with garbage, as the handler's uninitialised
 * stack variable may be.
 *
 * Checks, besides the sanitizers:
 *   - NGX_OK or NGX_DECLINED, never NGX_ERROR;
 *   - accepted: page 1..2147483647, per_page 1..100, 1 to 16 sort keys of
 *     the sortable fields then the _id tie-break, a status or -1, at most
 *     100 namespaces and ids;
 *   - refused: a 400 invalid_parameter with one detail per parameter (at
 *     most 8) and an envelope that is valid JSON.
 */


#include "fuzz.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_int_t                   rc;
    ngx_str_t                   args;
    ngx_uint_t                  i, f;
    ngx_pool_t                 *pool;
    ngx_http_woportal_query_t   q;
    ngx_http_woportal_error_t   err;

    pool = fuzz_pool();

    fuzz_copy(pool, &args, data, size, 0);

    ngx_memzero(&q, sizeof(ngx_http_woportal_query_t));
    ngx_memset(&err, 0xa5, sizeof(ngx_http_woportal_error_t));

    rc = ngx_http_woportal_list_query(pool, &args, &q, &err);

    fuzz_check(rc == NGX_OK || rc == NGX_DECLINED,
               "list_query answered %ld (NGX_ERROR is a 500)", (long) rc);

    if (fuzz_verbose) {
        fprintf(stderr, "query: %s\n",
                rc == NGX_OK ? "accepted" : "refused");
        if (rc == NGX_DECLINED) {
            fuzz_dump_error(&err);
        }
    }

    if (rc == NGX_DECLINED) {
        if (err.status != NGX_HTTP_BAD_REQUEST
            || err.code != NGX_HTTP_WOPORTAL_E_INVALID_PARAMETER
            || err.details.nelts == 0 || err.details.nelts > 8)
        {
            fuzz_dump_error(&err);
            fuzz_check(0, "a refusal that is not a 400 invalid_parameter "
                          "with 1 to 8 details");
        }

        fuzz_check_envelope(pool, &err);

        ngx_destroy_pool(pool);
        return 0;
    }

    fuzz_check(q.page >= 1 && q.page <= 2147483647, "page %llu",
               (unsigned long long) q.page);
    fuzz_check(q.per_page >= 1
               && q.per_page <= NGX_HTTP_WOPORTAL_PER_PAGE_MAX,
               "per_page %llu", (unsigned long long) q.per_page);
    fuzz_check(q.nsort >= 2 && q.nsort <= NGX_HTTP_WOPORTAL_SORT_MAX + 1,
               "nsort %lu", (unsigned long) q.nsort);

    for (i = 0; i < q.nsort; i++) {
        f = q.sort[i].field;

        fuzz_check(f == NGX_HTTP_WOPORTAL_F_CREATED_AT
                   || f == NGX_HTTP_WOPORTAL_F_UPDATED_AT
                   || f == NGX_HTTP_WOPORTAL_F_STATUS
                   || f == NGX_HTTP_WOPORTAL_F_WORKORDER
                   || f == NGX_HTTP_WOPORTAL_F_CLIENT
                   || f == NGX_HTTP_WOPORTAL_F_EXPIRY_DATE
                   || f == NGX_HTTP_WOPORTAL_F_ACCESS_LEVEL
                   || f == NGX_HTTP_WOPORTAL_F_ID,
                   "sort key %lu is field %lu", (unsigned long) i,
                   (unsigned long) f);
        fuzz_check(q.sort[i].desc <= 1, "sort key %lu desc %d",
                   (unsigned long) i, q.sort[i].desc);
    }

    fuzz_check(q.sort[q.nsort - 1].field == NGX_HTTP_WOPORTAL_F_ID
               && q.sort[q.nsort - 1].desc == 0, "no _id tie-break last");

    fuzz_check(q.status >= -1 && q.status <= NGX_HTTP_WOPORTAL_CANCELLED,
               "status %ld", (long) q.status);
    fuzz_check(q.namespaces.nelts <= NGX_HTTP_WOPORTAL_FILTER_MAX,
               "%lu namespaces", (unsigned long) q.namespaces.nelts);
    fuzz_check(q.ids.nelts <= q.nids && q.nids <= NGX_HTTP_WOPORTAL_FILTER_MAX,
               "%lu ids of %lu", (unsigned long) q.ids.nelts,
               (unsigned long) q.nids);

    ngx_destroy_pool(pool);

    return 0;
}
