
/*
 * id.c: entry ids, made and checked
 */


#ifndef _NGX_HTTP_WOPORTAL_ID_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_ID_H_INCLUDED_


#include "ngx_http_woportal.h"


ngx_int_t ngx_http_woportal_hex_decode(u_char *dst, u_char *src, size_t len);

ngx_int_t ngx_http_woportal_id_init(ngx_cycle_t *cycle);
void ngx_http_woportal_id_next(u_char *id);
ngx_int_t ngx_http_woportal_id_valid(ngx_str_t *id);


#endif /* _NGX_HTTP_WOPORTAL_ID_H_INCLUDED_ */
