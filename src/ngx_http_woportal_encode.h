
/*
 * encode.c: entries, lists and the error envelope encoded as JSON (yajl)
 */


#ifndef _NGX_HTTP_WOPORTAL_ENCODE_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_ENCODE_H_INCLUDED_


#include "ngx_http_woportal.h"


extern ngx_str_t  ngx_http_woportal_codes[];
yajl_gen ngx_http_woportal_gen(ngx_pool_t *pool);
void ngx_http_woportal_yajl_funcs(ngx_pool_t *pool, void *funcs);
ngx_int_t ngx_http_woportal_encode_entry(ngx_pool_t *pool,
    ngx_http_woportal_entry_t *e, ngx_str_t *envelope, ngx_str_t *data);
ngx_int_t ngx_http_woportal_encode_error(ngx_pool_t *pool,
    ngx_http_woportal_error_t *err, ngx_str_t *out);
ngx_int_t ngx_http_woportal_encode_success(ngx_pool_t *pool,
    ngx_str_t *out);
ngx_int_t ngx_http_woportal_encode_list(ngx_pool_t *pool, ngx_str_t *items,
    ngx_uint_t n, ngx_http_woportal_paging_t *paging, ngx_str_t *out);


#endif /* _NGX_HTTP_WOPORTAL_ENCODE_H_INCLUDED_ */
