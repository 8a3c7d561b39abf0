
/*
 * decode.c: JSON documents decoded into an entry (yajl)
 */


#ifndef _NGX_HTTP_WOPORTAL_DECODE_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_DECODE_H_INCLUDED_


#include "ngx_http_woportal.h"


ngx_int_t ngx_http_woportal_decode(ngx_pool_t *pool, ngx_str_t *json,
    ngx_http_woportal_doc_e doc, ngx_http_woportal_entry_t *e,
    ngx_http_woportal_error_t *err);


#endif /* _NGX_HTTP_WOPORTAL_DECODE_H_INCLUDED_ */
