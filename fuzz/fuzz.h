
/*
 * What the libFuzzer harnesses share: the process setup nginx's main()
 * would do (only the parts the module's pure functions touch), a pool per
 * input, checks that abort with the evidence, and a JSON well-formedness
 * check for everything the module generates.
 *
 * Each harness is one translation unit that includes this file.
 */


#ifndef _NGX_HTTP_WOPORTAL_FUZZ_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_FUZZ_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <yajl/yajl_parse.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_decode.h"
#include "ngx_http_woportal_encode.h"
#include "ngx_http_woportal_entry.h"
#include "ngx_http_woportal_id.h"
#include "ngx_http_woportal_index.h"
#include "ngx_http_woportal_index_cache.h"
#include "ngx_http_woportal_mc.h"
#include "ngx_http_woportal_query.h"
#include "ngx_http_woportal_route.h"
#include "ngx_http_woportal_value.h"

#include <stdio.h>
#include <stdlib.h>


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);


static ngx_log_t  *fuzz_log;

/* FUZZ_VERBOSE=1: each input's outcome on stderr (for writing seeds) */
static int         fuzz_verbose;


/*
 * The failed check, then the evidence, then abort(): libFuzzer (and the
 * sanitizers' death callback) saves the input as a crash artifact.
 */
#define fuzz_check(cond, ...)                                                \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "\nfuzz check failed at %s:%d: %s\n",            \
                    __FILE__, __LINE__, #cond);                              \
            fprintf(stderr, __VA_ARGS__);                                    \
            fprintf(stderr, "\n");                                           \
            abort();                                                         \
        }                                                                    \
    } while (0)


/*
 * UBSan stops at the first report, which libFuzzer then saves as a crash,
 * except for the undefined behaviour of nginx's own files that
 * fuzz/ubsan.supp lists (fuzz/build.sh passes its path).  UBSAN_OPTIONS
 * adds to these.
 */
const char *
__ubsan_default_options(void)
{
    return "halt_on_error=1:print_stacktrace=1"
           ":suppressions=" FUZZ_UBSAN_SUPP;
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_uint_t  n;

    /* ngx_os_init() would also set the process title: not wanted here */

    ngx_pagesize = getpagesize();
    ngx_cacheline_size = NGX_CPU_CACHE_LINE;

    for (n = ngx_pagesize; n >>= 1; ngx_pagesize_shift++) { /* void */ }

    if (ngx_strerror_init() != NGX_OK) {
        abort();
    }

    /* ngx_timeofday(): the entries' created_at and updated_at */
    ngx_time_init();

    /* "" is stderr; only what nginx would log as an error or worse */
    fuzz_log = ngx_log_init(NULL, (u_char *) "");
    fuzz_log->log_level = NGX_LOG_ERR;

    fuzz_verbose = getenv("FUZZ_VERBOSE") != NULL;

    return 0;
}


/*
 * nginx is built with NGX_DEBUG_PALLOC (fuzz/build.sh): every pool
 * allocation is its own malloc(), so ASan sees the bounds of each one
 * instead of one big pool block.
 */
static ngx_inline ngx_pool_t *
fuzz_pool(void)
{
    ngx_pool_t  *pool;

    pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, fuzz_log);
    fuzz_check(pool != NULL, "out of memory");

    return pool;
}


/*
 * The input in an allocation of its own, so that any over- or underread
 * shows.  Empty, it is what nginx hands over for an empty request body or
 * a missing query string: data NULL, unless nonnull (r->uri, say, always
 * points somewhere).
 */
static ngx_inline void
fuzz_copy(ngx_pool_t *pool, ngx_str_t *dst, const uint8_t *data, size_t len,
    ngx_uint_t nonnull)
{
    dst->len = len;

    if (len == 0 && !nonnull) {
        dst->data = NULL;
        return;
    }

    dst->data = ngx_pnalloc(pool, len);
    fuzz_check(dst->data != NULL, "out of memory");

    if (len) {
        ngx_memcpy(dst->data, data, len);
    }
}


static ngx_inline void
fuzz_dump(const char *what, ngx_str_t *s)
{
    size_t  i, n;

    n = ngx_min(s->len, 4096);

    fprintf(stderr, "%s (%zu bytes): \"", what, s->len);

    for (i = 0; i < n; i++) {
        if (s->data[i] >= 0x20 && s->data[i] < 0x7f
            && s->data[i] != '"' && s->data[i] != '\\')
        {
            fputc(s->data[i], stderr);

        } else {
            fprintf(stderr, "\\x%02x", s->data[i]);
        }
    }

    fprintf(stderr, "\"%s\n", n < s->len ? "..." : "");
}


static ngx_inline void
fuzz_dump_error(ngx_http_woportal_error_t *err)
{
    ngx_uint_t                   i;
    ngx_http_woportal_detail_t  *dt;

    fprintf(stderr, "error: status %lu, code %d, message \"%.*s\"\n",
            (unsigned long) err->status, (int) err->code,
            (int) err->message.len, err->message.data);

    dt = err->details.elts;

    for (i = 0; i < err->details.nelts; i++) {
        fprintf(stderr, "  detail: %.*s: %.*s\n",
                (int) dt[i].field.len, dt[i].field.data,
                (int) dt[i].message.len, dt[i].message.data);
    }
}


/* one JSON text, well-formed, valid UTF-8 (yajl's defaults check that) */
static ngx_inline ngx_int_t
fuzz_json_valid(ngx_str_t *s)
{
    yajl_status  rc;
    yajl_handle  h;

    h = yajl_alloc(NULL, NULL, NULL);
    fuzz_check(h != NULL, "out of memory");

    rc = yajl_parse(h, s->data, s->len);

    if (rc == yajl_status_ok) {
        rc = yajl_complete_parse(h);
    }

    yajl_free(h);

    return rc == yajl_status_ok ? NGX_OK : NGX_ERROR;
}


/* the error envelope the module would answer must be valid JSON */
static ngx_inline void
fuzz_check_envelope(ngx_pool_t *pool, ngx_http_woportal_error_t *err)
{
    ngx_str_t  out;

    fuzz_check(ngx_http_woportal_encode_error(pool, err, &out) == NGX_OK,
               "encode_error failed");

    if (fuzz_json_valid(&out) != NGX_OK) {
        fuzz_dump("envelope", &out);
        fuzz_check(0, "the error envelope is not valid JSON");
    }
}


/*
 * The entry's list-index record (index.c) parses back, alone, to the
 * entry's fields.
 */
static ngx_inline void
fuzz_check_record(ngx_pool_t *pool, ngx_http_woportal_entry_t *e)
{
    size_t                      valid;
    u_char                     *p;
    ngx_str_t                   rec, ns, *ens;
    ngx_uint_t                  i;
    ngx_array_t                 recs;
    ngx_http_woportal_irec_t   *r;

    fuzz_check(ngx_http_woportal_index_record(pool, e, e->id, &rec)
               == NGX_OK, "index_record failed");

    fuzz_check(ngx_array_init(&recs, pool, 1,
                              sizeof(ngx_http_woportal_irec_t))
               == NGX_OK, "out of memory");

    fuzz_check(ngx_http_woportal_index_parse(rec.data, rec.len, 0, &recs,
                                             &valid)
               == NGX_OK && recs.nelts == 1 && valid == rec.len,
               "the entry's index record does not parse back");

    r = recs.elts;
    ens = e->namespaces.elts;

    fuzz_check(r->version == e->version
               && r->created_at == e->created_at
               && r->updated_at == e->updated_at
               && r->expiry == (e->has_expiry ? e->expiry_date : 0)
               && !!(r->flags & NGX_HTTP_WOPORTAL_REC_EXPIRY) == e->has_expiry
               && !(r->flags & NGX_HTTP_WOPORTAL_REC_DELETED)
               && r->status == e->status
               && r->access_level == e->access_level
               && r->nns == e->namespaces.nelts
               && r->workorder.len == e->workorder.len
               && ngx_memcmp(r->workorder.data, e->workorder.data,
                             e->workorder.len) == 0
               && r->client.len == e->client.len
               && ngx_memcmp(r->client.data, e->client.data, e->client.len)
                  == 0,
               "the index record does not hold the entry's fields");

    p = r->ns;

    for (i = 0; i < r->nns; i++) {
        ngx_http_woportal_index_ns(&p, &ns);
        fuzz_check(ns.len == ens[i].len
                   && ngx_memcmp(ns.data, ens[i].data, ns.len) == 0,
                   "namespace %lu of the index record differs",
                   (unsigned long) i);
    }
}


#endif /* _NGX_HTTP_WOPORTAL_FUZZ_H_INCLUDED_ */
