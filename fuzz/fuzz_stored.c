
/*
 * fuzz_stored: the stored-entry decoder (DOC_STORED), on whatever a
 * memcached value might hold.  The input is the value: an input that
 * starts with the magic of FORMAT_ENTRY (value.c) is opened as such a
 * value, for the id its header holds, and its JSON part decoded; any
 * other is decoded whole, as FORMAT_JSON.
 *
 * Checks, besides the sanitizers:
 *   - a value opened lies within the input: its JSON is an object of
 *     exactly the length the header says, its namespaces end where the
 *     JSON starts;
 *   - decode answers NGX_OK or NGX_DECLINED, never NGX_ERROR;
 *   - an accepted value encodes (encode_entry) to valid JSON, and that
 *     stored form is a fixed point: it decodes again and re-encodes to
 *     the very same bytes (the accepted value itself need not be: its
 *     times and numbers are normalised);
 *   - the entry's list-index record parses back to its fields;
 *   - the entry's value (value_make) opens again, for its id, to the
 *     stored form, its version and its namespaces, and agrees with it.
 */


#include "fuzz.h"


static void fuzz_check_opened(ngx_str_t *value, ngx_http_woportal_stored_t *v);
static void fuzz_check_value(ngx_pool_t *pool, ngx_http_woportal_entry_t *e,
    ngx_str_t *stored);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                      hex[NGX_HTTP_WOPORTAL_ID_LEN];
    ngx_int_t                   rc;
    ngx_str_t                   value, env, stored, env2, stored2, id;
    ngx_pool_t                 *pool;
    ngx_http_woportal_entry_t   e, e2;
    ngx_http_woportal_error_t   err;
    ngx_http_woportal_stored_t  v;

    pool = fuzz_pool();

    fuzz_copy(pool, &value, data, size, 0);

    if (size >= 18 && data[0] == 0xe5) {
        /* FORMAT_ENTRY, opened for the id it holds */

        (void) ngx_hex_dump(hex, (u_char *) data + 6,
                            NGX_HTTP_WOPORTAL_ID_LEN / 2);

        rc = ngx_http_woportal_value_open(&value, hex, &v);

        if (fuzz_verbose) {
            fprintf(stderr, "value: %s\n",
                    rc == NGX_OK ? "opened" : v.reason);
        }

        if (rc != NGX_OK) {
            ngx_destroy_pool(pool);
            return 0;
        }

        fuzz_check_opened(&value, &v);

        value = v.json;
    }

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
        fuzz_check_value(pool, &e, &stored);
    }

    ngx_destroy_pool(pool);

    return 0;
}


static void
fuzz_check_opened(ngx_str_t *value, ngx_http_woportal_stored_t *v)
{
    u_char      *p, *last;
    size_t       len;
    ngx_uint_t   i;

    last = value->data + value->len;

    fuzz_check(v->json.data > value->data
               && v->json.data + v->json.len == last
               && v->json.len >= 2
               && v->json.data[0] == '{' && last[-1] == '}',
               "the JSON opened is not the object at the value's end");

    fuzz_check(v->version >= 1 && v->nns <= NGX_HTTP_WOPORTAL_NS_ITEMS,
               "the header's version %llu or namespaces %lu were let pass",
               (unsigned long long) v->version, (unsigned long) v->nns);

    p = v->ns;

    for (i = 0; i < v->nns; i++) {
        fuzz_check(p + 2 <= v->json.data, "a namespace past the header");
        len = p[0] | (p[1] << 8);
        fuzz_check(len >= 1 && p + 2 + len <= v->json.data,
                   "a namespace of %lu bytes let pass", (unsigned long) len);
        p += 2 + len;
    }

    fuzz_check(p == v->json.data, "the namespaces do not end at the JSON");
}


/* an accepted entry's value opens to what it was made from */

static void
fuzz_check_value(ngx_pool_t *pool, ngx_http_woportal_entry_t *e,
    ngx_str_t *stored)
{
    ngx_str_t                   value;
    ngx_http_woportal_stored_t  v;

    fuzz_check(ngx_http_woportal_value_make(pool, e, stored, &value)
               == NGX_OK, "value_make failed for an accepted entry");

    if (ngx_http_woportal_value_open(&value, e->id, &v) != NGX_OK) {
        fuzz_dump("value", &value);
        fuzz_check(0, "the value made does not open: %s", v.reason);
    }

    fuzz_check_opened(&value, &v);

    fuzz_check(v.json.len == stored->len
               && ngx_memcmp(v.json.data, stored->data, stored->len) == 0,
               "the value's JSON is not the stored form");

    fuzz_check(ngx_http_woportal_value_agrees(&v, e),
               "the value's header does not agree with its entry");
}
