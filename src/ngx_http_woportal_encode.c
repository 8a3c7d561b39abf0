
/*
 * JSON out: every body the module answers is generated with yajl_gen,
 * from memory of the request pool.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <yajl/yajl_gen.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_encode.h"
#include "ngx_http_woportal_entry.h"


static void *ngx_http_woportal_yajl_malloc(void *ctx, size_t size);
static void *ngx_http_woportal_yajl_realloc(void *ctx, void *ptr,
    size_t size);
static void ngx_http_woportal_yajl_free(void *ctx, void *ptr);
static yajl_gen_status ngx_http_woportal_gen_entry(yajl_gen g,
    ngx_http_woportal_entry_t *e);
static yajl_gen_status ngx_http_woportal_gen_time(yajl_gen g, int64_t ms);
static yajl_gen ngx_http_woportal_envelope_open(ngx_pool_t *pool,
    ngx_uint_t success, char *key);
static ngx_int_t ngx_http_woportal_envelope_close(yajl_gen g,
    yajl_gen_status rc, ngx_str_t *out);


#define ngx_http_woportal_gen_key(g, s)                                      \
    yajl_gen_string(g, (u_char *) s, sizeof(s) - 1)

#define ngx_http_woportal_gen_str(g, str)                                    \
    yajl_gen_string(g, (str)->data, (str)->len)


ngx_str_t  ngx_http_woportal_codes[] = {
    ngx_string("invalid_json"),
    ngx_string("invalid_parameter"),
    ngx_string("validation_failed"),
    ngx_string("unauthorized"),
    ngx_string("forbidden"),
    ngx_string("not_found"),
    ngx_string("method_not_allowed"),
    ngx_string("conflict"),
    ngx_string("invalid_transition"),
    ngx_string("precondition_failed"),
    ngx_string("payload_too_large"),
    ngx_string("unsupported_media_type"),
    ngx_string("store_unavailable"),
    ngx_string("rate_limited"),
    ngx_string("internal_error")
};


/*
 * yajl's allocator interface has no sizes on realloc and free: each
 * block carries its size in front.
 */

void
ngx_http_woportal_yajl_funcs(ngx_pool_t *pool, void *funcs)
{
    yajl_alloc_funcs  *af = funcs;

    af->malloc = ngx_http_woportal_yajl_malloc;
    af->realloc = ngx_http_woportal_yajl_realloc;
    af->free = ngx_http_woportal_yajl_free;
    af->ctx = pool;
}


static void *
ngx_http_woportal_yajl_malloc(void *ctx, size_t size)
{
    size_t  *p;

    p = ngx_palloc(ctx, sizeof(size_t) + size);
    if (p == NULL) {
        return NULL;
    }

    *p = size;

    return p + 1;
}


static void *
ngx_http_woportal_yajl_realloc(void *ctx, void *ptr, size_t size)
{
    size_t  *old;
    void    *p;

    if (ptr == NULL) {
        return ngx_http_woportal_yajl_malloc(ctx, size);
    }

    old = (size_t *) ptr - 1;

    if (size <= *old) {
        return ptr;
    }

    p = ngx_http_woportal_yajl_malloc(ctx, size);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, ptr, *old);
    ngx_http_woportal_yajl_free(ctx, ptr);

    return p;
}


static void
ngx_http_woportal_yajl_free(void *ctx, void *ptr)
{
    if (ptr) {
        /* returns large blocks at once; small ones go with the pool */
        (void) ngx_pfree(ctx, (size_t *) ptr - 1);
    }
}


yajl_gen
ngx_http_woportal_gen(ngx_pool_t *pool)
{
    yajl_alloc_funcs  funcs;

    ngx_http_woportal_yajl_funcs(pool, &funcs);

    /* yajl_gen_alloc() copies the functions */

    return yajl_gen_alloc(&funcs);
}


/*
 * {"success":true,"data":{...}}; "data" is also the form stored in
 * memcached, so it is handed back as a slice of the same buffer.
 */

ngx_int_t
ngx_http_woportal_encode_entry(ngx_pool_t *pool,
    ngx_http_woportal_entry_t *e, ngx_str_t *envelope, ngx_str_t *data)
{
    size_t                start, end;
    yajl_gen              g;
    yajl_gen_status       rc;
    const unsigned char  *buf;

    g = ngx_http_woportal_envelope_open(pool, 1, "data");
    if (g == NULL) {
        return NGX_ERROR;
    }

    (void) yajl_gen_get_buf(g, &buf, &start);

    rc = ngx_http_woportal_gen_entry(g, e);

    (void) yajl_gen_get_buf(g, &buf, &end);

    if (ngx_http_woportal_envelope_close(g, rc, envelope) != NGX_OK) {
        return NGX_ERROR;
    }

    if (data) {
        /* yajl_gen writes the key's ':' with the value that follows it */
        if (envelope->data[start] == ':') {
            start++;
        }

        data->data = envelope->data + start;
        data->len = end - start;
    }

    return NGX_OK;
}


/*
 * {"success":true,"data":[...],"paging":{...}}: the entries are their
 * stored JSON, spliced in as they are (the stored form is what
 * encode_entry() made: the same text a get would answer).
 */

ngx_int_t
ngx_http_woportal_encode_list(ngx_pool_t *pool, ngx_str_t *items,
    ngx_uint_t n, ngx_http_woportal_paging_t *paging, ngx_str_t *out)
{
    yajl_gen         g;
    ngx_uint_t       i;
    yajl_gen_status  rc;

    g = ngx_http_woportal_envelope_open(pool, 1, "data");
    if (g == NULL) {
        return NGX_ERROR;
    }

    rc = yajl_gen_array_open(g);

    for (i = 0; i < n; i++) {
        rc |= yajl_gen_number(g, (char *) items[i].data, items[i].len);
    }

    rc |= yajl_gen_array_close(g);
    rc |= ngx_http_woportal_gen_key(g, "paging");
    rc |= yajl_gen_map_open(g);
    rc |= ngx_http_woportal_gen_key(g, "page");
    rc |= yajl_gen_integer(g, (long long) paging->page);
    rc |= ngx_http_woportal_gen_key(g, "per_page");
    rc |= yajl_gen_integer(g, (long long) paging->per_page);
    rc |= ngx_http_woportal_gen_key(g, "total");
    rc |= yajl_gen_integer(g, (long long) paging->total);
    rc |= ngx_http_woportal_gen_key(g, "total_pages");
    rc |= yajl_gen_integer(g, (long long) paging->total_pages);
    rc |= yajl_gen_map_close(g);

    return ngx_http_woportal_envelope_close(g, rc, out);
}


static yajl_gen_status
ngx_http_woportal_gen_entry(yajl_gen g, ngx_http_woportal_entry_t *e)
{
    ngx_str_t                   *ns;
    ngx_uint_t                   i;
    yajl_gen_status              rc;
    ngx_http_woportal_change_t  *ch;

    rc = yajl_gen_map_open(g);

    rc |= ngx_http_woportal_gen_key(g, "_id");
    rc |= yajl_gen_string(g, e->id, NGX_HTTP_WOPORTAL_ID_LEN);

    rc |= ngx_http_woportal_gen_key(g, "workorder");
    rc |= ngx_http_woportal_gen_str(g, &e->workorder);

    rc |= ngx_http_woportal_gen_key(g, "client");
    rc |= ngx_http_woportal_gen_str(g, &e->client);

    rc |= ngx_http_woportal_gen_key(g, "status");
    rc |= ngx_http_woportal_gen_str(g,
                                    &ngx_http_woportal_statuses[e->status]);

    rc |= ngx_http_woportal_gen_key(g, "access_level");
    rc |= ngx_http_woportal_gen_str(g,
                           &ngx_http_woportal_access_levels[e->access_level]);

    rc |= ngx_http_woportal_gen_key(g, "allowed_actions");
    rc |= yajl_gen_array_open(g);

    for (i = 0; i < e->nactions; i++) {
        rc |= ngx_http_woportal_gen_str(g,
                                  &ngx_http_woportal_actions[e->actions[i]]);
    }

    rc |= yajl_gen_array_close(g);

    rc |= ngx_http_woportal_gen_key(g, "expiry_date");
    rc |= e->has_expiry ? ngx_http_woportal_gen_time(g, e->expiry_date)
                        : yajl_gen_null(g);

    /*
     * The free objects are held as compact JSON that yajl_gen itself
     * produced when they were decoded: yajl_gen_number() inserts such
     * text verbatim, with the separators the generator's state needs.
     */

    rc |= ngx_http_woportal_gen_key(g, "notifications");
    rc |= yajl_gen_number(g, (char *) e->free[0].data, e->free[0].len);
    rc |= ngx_http_woportal_gen_key(g, "portal_settings");
    rc |= yajl_gen_number(g, (char *) e->free[1].data, e->free[1].len);
    rc |= ngx_http_woportal_gen_key(g, "custom_branding");
    rc |= yajl_gen_number(g, (char *) e->free[2].data, e->free[2].len);

    rc |= ngx_http_woportal_gen_key(g, "company_namespace");
    rc |= yajl_gen_array_open(g);

    ns = e->namespaces.elts;

    for (i = 0; i < e->namespaces.nelts; i++) {
        rc |= ngx_http_woportal_gen_str(g, &ns[i]);
    }

    rc |= yajl_gen_array_close(g);

    rc |= ngx_http_woportal_gen_key(g, "disabled");
    rc |= yajl_gen_bool(g, e->disabled);

    rc |= ngx_http_woportal_gen_key(g, "status_history");
    rc |= yajl_gen_array_open(g);

    ch = e->history.elts;

    for (i = 0; i < e->history.nelts; i++) {
        rc |= yajl_gen_map_open(g);
        rc |= ngx_http_woportal_gen_key(g, "status");
        rc |= ngx_http_woportal_gen_str(g,
                                 &ngx_http_woportal_statuses[ch[i].status]);

        if (ch[i].notes.data) {
            rc |= ngx_http_woportal_gen_key(g, "notes");
            rc |= ngx_http_woportal_gen_str(g, &ch[i].notes);
        }

        rc |= ngx_http_woportal_gen_key(g, "changed_at");
        rc |= ngx_http_woportal_gen_time(g, ch[i].changed_at);
        rc |= yajl_gen_map_close(g);
    }

    rc |= yajl_gen_array_close(g);

    rc |= ngx_http_woportal_gen_key(g, "created_at");
    rc |= ngx_http_woportal_gen_time(g, e->created_at);

    rc |= ngx_http_woportal_gen_key(g, "updated_at");
    rc |= ngx_http_woportal_gen_time(g, e->updated_at);

    rc |= ngx_http_woportal_gen_key(g, "version");
    rc |= yajl_gen_integer(g, (long long) e->version);

    rc |= yajl_gen_map_close(g);

    return rc;
}


static yajl_gen_status
ngx_http_woportal_gen_time(yajl_gen g, int64_t ms)
{
    u_char  buf[NGX_HTTP_WOPORTAL_TIME_LEN];

    (void) ngx_http_woportal_format_time(buf, ms);

    return yajl_gen_string(g, buf, NGX_HTTP_WOPORTAL_TIME_LEN);
}


ngx_int_t
ngx_http_woportal_encode_error(ngx_pool_t *pool,
    ngx_http_woportal_error_t *err, ngx_str_t *out)
{
    yajl_gen                     g;
    ngx_uint_t                   i;
    yajl_gen_status              rc;
    ngx_http_woportal_detail_t  *dt;

    g = ngx_http_woportal_envelope_open(pool, 0, "error");
    if (g == NULL) {
        return NGX_ERROR;
    }

    rc = yajl_gen_map_open(g);
    rc |= ngx_http_woportal_gen_key(g, "code");
    rc |= ngx_http_woportal_gen_str(g, &ngx_http_woportal_codes[err->code]);
    rc |= ngx_http_woportal_gen_key(g, "message");
    rc |= ngx_http_woportal_gen_str(g, &err->message);

    if (err->details.nelts) {
        rc |= ngx_http_woportal_gen_key(g, "details");
        rc |= yajl_gen_array_open(g);

        dt = err->details.elts;

        for (i = 0; i < err->details.nelts; i++) {
            rc |= yajl_gen_map_open(g);
            rc |= ngx_http_woportal_gen_key(g, "field");
            rc |= ngx_http_woportal_gen_str(g, &dt[i].field);
            rc |= ngx_http_woportal_gen_key(g, "message");
            rc |= ngx_http_woportal_gen_str(g, &dt[i].message);
            rc |= yajl_gen_map_close(g);
        }

        rc |= yajl_gen_array_close(g);
    }

    rc |= yajl_gen_map_close(g);

    return ngx_http_woportal_envelope_close(g, rc, out);
}


/* {"success":true}: the answer of a delete */

ngx_int_t
ngx_http_woportal_encode_success(ngx_pool_t *pool, ngx_str_t *out)
{
    yajl_gen  g;

    g = ngx_http_woportal_envelope_open(pool, 1, NULL);
    if (g == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_woportal_envelope_close(g, yajl_gen_status_ok, out);
}


/*
 * The start of every envelope: a generator with {"success":true or false
 * written, and the key of what follows, if any.  NULL on failure.
 */

static yajl_gen
ngx_http_woportal_envelope_open(ngx_pool_t *pool, ngx_uint_t success,
    char *key)
{
    yajl_gen         g;
    yajl_gen_status  rc;

    g = ngx_http_woportal_gen(pool);
    if (g == NULL) {
        return NULL;
    }

    rc = yajl_gen_map_open(g);
    rc |= ngx_http_woportal_gen_key(g, "success");
    rc |= yajl_gen_bool(g, (int) success);

    if (key) {
        rc |= yajl_gen_string(g, (u_char *) key, ngx_strlen(key));
    }

    if (rc != yajl_gen_status_ok) {
        yajl_gen_free(g);
        return NULL;
    }

    return g;
}


/*
 * The end of every envelope: its closing brace, then out; rc is what the
 * body's writes returned.  The generator's buffer is pool memory: it is
 * handed out as it is, and the generator goes with the pool.
 */

static ngx_int_t
ngx_http_woportal_envelope_close(yajl_gen g, yajl_gen_status rc,
    ngx_str_t *out)
{
    size_t                len;
    const unsigned char  *buf;

    rc |= yajl_gen_map_close(g);

    if (rc != yajl_gen_status_ok
        || yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
    {
        yajl_gen_free(g);
        return NGX_ERROR;
    }

    out->data = (u_char *) buf;
    out->len = len;

    return NGX_OK;
}
