
/*
 * store.c: a request's store call, on the event loop and in threads
 */


#ifndef _NGX_HTTP_WOPORTAL_STORE_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_STORE_H_INCLUDED_


#include "ngx_http_woportal.h"


ngx_int_t ngx_http_woportal_store_post(ngx_http_woportal_call_t *call,
    ngx_thread_pool_t *tp);
ngx_int_t ngx_http_woportal_store_task(ngx_http_woportal_call_t *call,
    ngx_thread_pool_t *tp, void (*handler)(void *data, ngx_log_t *log),
    ngx_event_handler_pt done);
void ngx_http_woportal_store_wait(ngx_http_woportal_call_t *call);
void ngx_http_woportal_store_unwait(ngx_http_woportal_call_t *call);
void ngx_http_woportal_store_complete(ngx_http_woportal_call_t *call);
void ngx_http_woportal_store_result(ngx_http_woportal_call_t *call,
    ngx_http_woportal_mc_op_t *op);
ngx_http_woportal_mc_op_t *ngx_http_woportal_store_op(
    ngx_http_woportal_call_t *call, ngx_http_woportal_mc_handler_pt handler);
ngx_int_t ngx_http_woportal_store_append(ngx_http_woportal_call_t *call,
    ngx_http_woportal_mc_handler_pt handler);



#endif /* _NGX_HTTP_WOPORTAL_STORE_H_INCLUDED_ */
