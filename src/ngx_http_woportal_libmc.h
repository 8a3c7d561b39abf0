
/*
 * libmc.c: memcached from a pool thread, with libmemcached; and what a
 * libmemcached return code means, of a call (call->rc) or a thread's own
 * request
 */


#ifndef _NGX_HTTP_WOPORTAL_LIBMC_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_LIBMC_H_INCLUDED_


#include "ngx_http_woportal.h"


ngx_http_woportal_outcome_e ngx_http_woportal_libmc_outcome(int rc);
void ngx_http_woportal_libmc_free(void *mc);
u_char *ngx_http_woportal_libmc_copy(ngx_pool_t *pool, u_char *value,
    size_t len);
ngx_http_woportal_mc_t *ngx_http_woportal_libmc_conn(
    ngx_http_woportal_store_t *store);
ngx_int_t ngx_http_woportal_libmc_mget(ngx_http_woportal_mc_t *mc,
    ngx_str_t *keys, ngx_uint_t n, ngx_http_woportal_mget_pt handler,
    void *data, ngx_log_t *log);
ngx_int_t ngx_http_woportal_libmc_fetch(ngx_http_woportal_mc_t *mc,
    ngx_str_t *key, ngx_str_t *value, uint32_t *flags, uint64_t *cas,
    ngx_log_t *log);
ngx_int_t ngx_http_woportal_libmc_cas(ngx_http_woportal_mc_t *mc,
    ngx_str_t *key, ngx_str_t *value, uint32_t flags, time_t exptime,
    uint64_t cas, ngx_log_t *log);
ngx_int_t ngx_http_woportal_libmc_put(ngx_http_woportal_mc_t *mc,
    ngx_str_t *key, ngx_str_t *value, uint32_t flags, ngx_uint_t add,
    time_t exptime, ngx_log_t *log);


#endif /* _NGX_HTTP_WOPORTAL_LIBMC_H_INCLUDED_ */
