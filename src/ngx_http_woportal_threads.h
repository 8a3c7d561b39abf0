
/*
 * threads.c: each pool thread's slots for its connections
 */


#ifndef _NGX_HTTP_WOPORTAL_THREADS_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_THREADS_H_INCLUDED_


#include "ngx_http_woportal.h"


typedef void (*ngx_http_woportal_free_pt)(void *handle);
typedef void (*ngx_http_woportal_release_pt)(ngx_uint_t i, void *handle);

ngx_int_t ngx_http_woportal_slots_init(ngx_cycle_t *cycle, ngx_uint_t nstores,
    ngx_uint_t ndbs);
void **ngx_http_woportal_slot(ngx_uint_t i);
void ngx_http_woportal_slots_exit(ngx_http_woportal_free_pt mc_free,
    ngx_http_woportal_release_pt db_free);


#endif /* _NGX_HTTP_WOPORTAL_THREADS_H_INCLUDED_ */
