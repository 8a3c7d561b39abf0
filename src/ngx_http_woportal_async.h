
/*
 * async.c: the queue of woportal_persist_mode async
 */


#ifndef _NGX_HTTP_WOPORTAL_ASYNC_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_ASYNC_H_INCLUDED_


#include "ngx_http_woportal.h"


ngx_uint_t ngx_http_woportal_async_room(ngx_http_woportal_db_t *db,
    ngx_uint_t max);
ngx_int_t ngx_http_woportal_async_queue(ngx_http_woportal_persist_t *p,
    ngx_thread_pool_t *tp, ngx_uint_t max, ngx_log_t *log);
void ngx_http_woportal_async_exit(ngx_cycle_t *cycle);


#endif /* _NGX_HTTP_WOPORTAL_ASYNC_H_INCLUDED_ */
