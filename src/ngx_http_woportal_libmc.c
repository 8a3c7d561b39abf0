
/*
 * Memcached from a pool thread, with libmemcached: the thread's handle
 * (made on first use, kept in the thread's slot: threads.c), its reads
 * and writes, and what a libmemcached return code means to the module
 * (libmc_outcome(), also of the calls done on the event loop: store.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <libmemcached/memcached.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_libmc.h"
#include "ngx_http_woportal_mc.h"
#include "ngx_http_woportal_threads.h"


/* a value of libmc_get1(): malloc()ed */
typedef struct {
    char                         *value;
    size_t                        len;
    uint32_t                      flags;
    uint64_t                      cas;
    memcached_return_t            rc;
} ngx_http_woportal_get1_t;


static memcached_return_t ngx_http_woportal_libmc_results(memcached_st *mc,
    ngx_http_woportal_mget_pt handler, void *data, ngx_uint_t *failed);
static memcached_return_t ngx_http_woportal_libmc_get1(memcached_st *mc,
    ngx_str_t *k, ngx_http_woportal_get1_t *g);
static ngx_int_t ngx_http_woportal_libmc_got1(void *data, u_char *key,
    size_t key_len, u_char *value, size_t len, uint32_t flags, uint64_t cas);
static ngx_int_t ngx_http_woportal_libmc_failed(memcached_st *mc,
    memcached_return_t rc, char *what, ngx_str_t *key, ngx_log_t *log);


/*
 * What a libmemcached return code means: of a call (call->rc, set on the
 * event loop from memcached's answer, or by a pool thread), or of a
 * thread's own request.  The one place that tells them apart.
 */

ngx_http_woportal_outcome_e
ngx_http_woportal_libmc_outcome(int rc)
{
    switch ((memcached_return_t) rc) {

    case MEMCACHED_SUCCESS:
    case MEMCACHED_BUFFERED:    /* noreply: sent, not answered */
        return NGX_HTTP_WOPORTAL_OUTCOME_OK;

    case MEMCACHED_NOTFOUND:
        return NGX_HTTP_WOPORTAL_OUTCOME_MISSING;

    case MEMCACHED_NOTSTORED:
        return NGX_HTTP_WOPORTAL_OUTCOME_NOT_STORED;

    case MEMCACHED_DATA_EXISTS:
        return NGX_HTTP_WOPORTAL_OUTCOME_EXISTS;

    default:
        return NGX_HTTP_WOPORTAL_OUTCOME_UNAVAILABLE;
    }
}


/* at exit: a pool thread's handle (threads.c) */

void
ngx_http_woportal_libmc_free(void *mc)
{
    memcached_free(mc);
}


/* the pool thread's handle of a memcached configuration; NULL: none */

ngx_http_woportal_mc_t *
ngx_http_woportal_libmc_conn(ngx_http_woportal_store_t *store)
{
    void          **slot;
    uint64_t        tmo;
    uintptr_t       lost, now;
    memcached_st   *mc;

    /* the memcached configurations have the first slots */

    slot = ngx_http_woportal_slot(store->index);
    if (slot == NULL) {
        return NULL;
    }

    now = (uintptr_t) ngx_http_woportal_mc_lost(store->client);

    if (*slot) {
        mc = *slot;
        lost = (uintptr_t) memcached_get_user_data(mc);

        if (lost != now) {
            /* the event loop saw connections lost: these go too */
            memcached_quit(mc);
            (void) memcached_set_user_data(mc, (void *) now);
        }

        return mc;
    }

    mc = memcached((char *) store->config.data, store->config.len);
    if (mc == NULL) {
        return NULL;
    }

    /*
     * The defaults (seconds of connect and poll timeouts, blocking
     * connect) would let one dead server hold every pool thread.
     */

    tmo = store->timeout;

    (void) memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_NO_BLOCK, 1);
    (void) memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
    (void) memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, tmo);
    (void) memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, tmo);
    (void) memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_SND_TIMEOUT,
                                  tmo * 1000);
    (void) memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_RCV_TIMEOUT,
                                  tmo * 1000);

    /* the text protocol desyncs on CAS without it */
    (void) memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_SUPPORT_CAS, 1);

    (void) memcached_set_user_data(mc, (void *) now);

    *slot = mc;

    return mc;
}


/*
 * Runs in a pool thread: writes a value with "add" (NGX_DECLINED when the
 * key is taken) or "set", with item flags, expiring after exptime seconds
 * (0: never), or deletes it (value NULL).
 */

ngx_int_t
ngx_http_woportal_libmc_put(ngx_http_woportal_mc_t *mc, ngx_str_t *key,
    ngx_str_t *value, uint32_t flags, ngx_uint_t add, time_t exptime,
    ngx_log_t *log)
{
    memcached_return_t  rc;

    if (value == NULL) {
        rc = memcached_delete(mc, (char *) key->data, key->len, (time_t) 0);

    } else if (add) {
        rc = memcached_add(mc, (char *) key->data, key->len,
                           (char *) value->data, value->len, exptime, flags);

    } else {
        rc = memcached_set(mc, (char *) key->data, key->len,
                           (char *) value->data, value->len, exptime, flags);
    }

    switch (ngx_http_woportal_libmc_outcome(rc)) {

    case NGX_HTTP_WOPORTAL_OUTCOME_OK:
        return NGX_OK;

    case NGX_HTTP_WOPORTAL_OUTCOME_UNAVAILABLE:
        return ngx_http_woportal_libmc_failed(mc, rc, "write", key, log);

    default:
        /* missing, not stored, exists */
        return NGX_DECLINED;
    }
}


/*
 * Runs in a pool thread: a CAS write of a whole value, NGX_OK;
 * NGX_BUSY (changed since), NGX_DECLINED (gone), NGX_ERROR.
 */

ngx_int_t
ngx_http_woportal_libmc_cas(ngx_http_woportal_mc_t *mc, ngx_str_t *key,
    ngx_str_t *value, uint32_t flags, time_t exptime, uint64_t cas,
    ngx_log_t *log)
{
    memcached_return_t  rc;

    rc = memcached_cas(mc, (char *) key->data, key->len,
                       (char *) value->data, value->len, exptime,
                       flags, cas);

    switch (ngx_http_woportal_libmc_outcome(rc)) {

    case NGX_HTTP_WOPORTAL_OUTCOME_OK:
        return NGX_OK;

    case NGX_HTTP_WOPORTAL_OUTCOME_EXISTS:
        return NGX_BUSY;

    case NGX_HTTP_WOPORTAL_OUTCOME_MISSING:
    case NGX_HTTP_WOPORTAL_OUTCOME_NOT_STORED:
        return NGX_DECLINED;

    default:
        return ngx_http_woportal_libmc_failed(mc, rc, "cas", key, log);
    }
}


/*
 * Runs in a pool thread: one multi-get of n keys, each value found handed
 * to the handler (from libmemcached's buffer: copy what you keep).
 * NGX_OK; NGX_ERROR when a server failed or the handler did, so that a
 * partial answer is never taken for a whole one.
 */

ngx_int_t
ngx_http_woportal_libmc_mget(ngx_http_woportal_mc_t *mc, ngx_str_t *keys,
    ngx_uint_t n, ngx_http_woportal_mget_pt handler, void *data,
    ngx_log_t *log)
{
    size_t               *lens;
    ngx_uint_t            i, failed;
    const char          **k;
    memcached_return_t    rc;

    k = malloc(n * (sizeof(char *) + sizeof(size_t)));
    if (k == NULL) {
        return NGX_ERROR;
    }

    lens = (size_t *) (k + n);

    for (i = 0; i < n; i++) {
        k[i] = (const char *) keys[i].data;
        lens[i] = keys[i].len;
    }

    rc = memcached_mget(mc, k, lens, n);

    free(k);

    if (rc != MEMCACHED_SUCCESS) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "woportal: memcached multi-get of %ui keys failed: %s",
                      n, memcached_strerror(mc, rc));

        if (rc != MEMCACHED_SOME_ERRORS) {
            return NGX_ERROR;
        }
    }

    /* some servers failed: the others' results are read, not used */
    failed = (rc != MEMCACHED_SUCCESS);

    rc = ngx_http_woportal_libmc_results(mc, handler, data, &failed);

    if (rc != MEMCACHED_END) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "woportal: memcached multi-get of %ui keys failed: %s",
                      n, memcached_strerror(mc, rc));
        return NGX_ERROR;
    }

    return failed ? NGX_ERROR : NGX_OK;
}


/*
 * The results of a multi-get sent, each handed to the handler until it
 * fails (*failed, which also skips them all), and read to their end so
 * the connection stays in step.  The result struct is our own: one the
 * library allocates is freed by the library at the end of the results.
 * MEMCACHED_END once all are read; else what failed: the result struct,
 * or the connection before the end.
 */

static memcached_return_t
ngx_http_woportal_libmc_results(memcached_st *mc,
    ngx_http_woportal_mget_pt handler, void *data, ngx_uint_t *failed)
{
    memcached_return_t   frc;
    memcached_result_st  res;

    if (memcached_result_create(mc, &res) == NULL) {
        return MEMCACHED_MEMORY_ALLOCATION_FAILURE;
    }

    frc = MEMCACHED_END;

    while (memcached_fetch_result(mc, &res, &frc) != NULL) {
        if (*failed) {
            continue;
        }

        if (handler(data, (u_char *) memcached_result_key_value(&res),
                    memcached_result_key_length(&res),
                    (u_char *) memcached_result_value(&res),
                    memcached_result_length(&res),
                    memcached_result_flags(&res),
                    memcached_result_cas(&res))
            != NGX_OK)
        {
            *failed = 1;
        }
    }

    memcached_result_free(&res);

    if (frc == MEMCACHED_END || frc == MEMCACHED_SUCCESS
        || frc == MEMCACHED_NOTFOUND)
    {
        return MEMCACHED_END;
    }

    return frc;
}


/*
 * A get that also returns the item's CAS: memcached_get() does not.
 * g->value is malloc()ed.
 */

static memcached_return_t
ngx_http_woportal_libmc_get1(memcached_st *mc, ngx_str_t *k,
    ngx_http_woportal_get1_t *g)
{
    size_t               len;
    ngx_uint_t           failed;
    const char          *key;
    memcached_return_t   rc;

    key = (const char *) k->data;
    len = k->len;

    ngx_memzero(g, sizeof(ngx_http_woportal_get1_t));

    rc = memcached_mget(mc, &key, &len, 1);
    if (rc != MEMCACHED_SUCCESS) {
        return rc;
    }

    g->rc = MEMCACHED_NOTFOUND;
    failed = 0;

    rc = ngx_http_woportal_libmc_results(mc, ngx_http_woportal_libmc_got1,
                                         g, &failed);

    if (rc != MEMCACHED_END) {
        /* the connection failed before the end of the results */
        free(g->value);
        g->value = NULL;
        g->len = 0;
        return rc;
    }

    return g->rc;
}


/* the one value of store_get1() */

static ngx_int_t
ngx_http_woportal_libmc_got1(void *data, u_char *key, size_t key_len,
    u_char *value, size_t len, uint32_t flags, uint64_t cas)
{
    ngx_http_woportal_get1_t *g = data;

    g->len = len;
    g->value = malloc(len + 1);

    if (g->value == NULL) {
        g->rc = MEMCACHED_MEMORY_ALLOCATION_FAILURE;
        return NGX_ERROR;
    }

    if (len) {
        /* an empty value is NULL */
        memcpy(g->value, value, len);
    }

    g->flags = flags;
    g->cas = cas;
    g->rc = MEMCACHED_SUCCESS;

    /* the first value only: the rest are read past */
    return NGX_ERROR;
}


/*
 * Runs in a pool thread: one item, *value malloc()ed.  NGX_OK;
 * NGX_DECLINED when it is missing; NGX_ERROR.
 */

ngx_int_t
ngx_http_woportal_libmc_fetch(ngx_http_woportal_mc_t *mc, ngx_str_t *key,
    ngx_str_t *value, uint32_t *flags, uint64_t *cas, ngx_log_t *log)
{
    memcached_return_t        rc;
    ngx_http_woportal_get1_t  g;

    rc = ngx_http_woportal_libmc_get1(mc, key, &g);

    switch (ngx_http_woportal_libmc_outcome(rc)) {

    case NGX_HTTP_WOPORTAL_OUTCOME_OK:
        value->data = (u_char *) g.value;
        value->len = g.len;
        *flags = g.flags;
        *cas = g.cas;
        return NGX_OK;

    case NGX_HTTP_WOPORTAL_OUTCOME_MISSING:
        return NGX_DECLINED;

    default:
        return ngx_http_woportal_libmc_failed(mc, rc, "get", key, log);
    }
}


/*
 * A value a thread keeps, copied into its pool: an empty one is not
 * NULL.  NULL: no memory.
 */

u_char *
ngx_http_woportal_libmc_copy(ngx_pool_t *pool, u_char *value, size_t len)
{
    u_char  *p;

    p = ngx_pnalloc(pool, len ? len : 1);
    if (p == NULL) {
        return NULL;
    }

    if (len) {
        ngx_memcpy(p, value, len);
    }

    return p;
}


/* a request of a pool thread failed: logged, NGX_ERROR */

static ngx_int_t
ngx_http_woportal_libmc_failed(memcached_st *mc, memcached_return_t rc,
    char *what, ngx_str_t *key, ngx_log_t *log)
{
    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "woportal: memcached %s of \"%V\" failed: %s",
                  what, key, memcached_strerror(mc, rc));

    return NGX_ERROR;
}
