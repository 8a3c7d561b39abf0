
/*
 * index_store.c: the index's shards and marks in memcached, in threads
 */


#ifndef _NGX_HTTP_WOPORTAL_INDEX_STORE_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_INDEX_STORE_H_INCLUDED_


#include "ngx_http_woportal.h"


typedef ngx_int_t (*ngx_http_woportal_dump_pt)(void *data, ngx_str_t *key);

ngx_int_t ngx_http_woportal_index_append(ngx_http_woportal_mc_t *mc,
    ngx_str_t *key, ngx_str_t *record, ngx_str_t *count, ngx_uint_t create,
    ngx_log_t *log);
ngx_int_t ngx_http_woportal_index_bump(ngx_http_woportal_mc_t *mc,
    ngx_str_t *count, ngx_log_t *log);
ngx_int_t ngx_http_woportal_index_merge(ngx_http_woportal_mc_t *mc,
    ngx_str_t *key, ngx_str_t *records, ngx_log_t *log);
ngx_int_t ngx_http_woportal_index_distrust(ngx_http_woportal_mc_t *mc,
    ngx_array_t *marks, ngx_log_t *log);
ngx_int_t ngx_http_woportal_index_dump(ngx_http_woportal_mc_t *mc,
    ngx_str_t *prefix, ngx_msec_t timeout, ngx_http_woportal_dump_pt handler,
    void *data, ngx_log_t *log);


#endif /* _NGX_HTTP_WOPORTAL_INDEX_STORE_H_INCLUDED_ */
