
/*
 * auth.c: API keys, from configuration to the request's key and its
 * namespaces
 */


#ifndef _NGX_HTTP_WOPORTAL_AUTH_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_AUTH_H_INCLUDED_


#include "ngx_http_woportal.h"


ngx_http_woportal_key_t *ngx_http_woportal_authorized(ngx_http_request_t *r,
    ngx_http_woportal_loc_conf_t *wlcf);
ngx_int_t ngx_http_woportal_auth_add_key(ngx_conf_t *cf, ngx_array_t *keys,
    ngx_str_t *key, ngx_str_t *name);
ngx_int_t ngx_http_woportal_auth_read_keys(ngx_conf_t *cf, ngx_array_t *keys,
    ngx_str_t *file);
ngx_int_t ngx_http_woportal_auth_sort(ngx_conf_t *cf, ngx_array_t *keys);
ngx_uint_t ngx_http_woportal_key_allows(ngx_http_woportal_key_t *key,
    u_char *ns, size_t len);
ngx_uint_t ngx_http_woportal_key_sees(ngx_http_woportal_key_t *key,
    ngx_array_t *namespaces);
ngx_int_t ngx_http_woportal_key_writes(ngx_pool_t *pool,
    ngx_http_woportal_ctx_t *ctx, ngx_http_woportal_entry_t *e,
    ngx_http_woportal_error_t *err);
ngx_int_t ngx_http_woportal_key_replaces(ngx_pool_t *pool,
    ngx_http_woportal_ctx_t *ctx, ngx_http_woportal_error_t *err);
ngx_table_elt_t *ngx_http_woportal_header_in(ngx_http_request_t *r,
    ngx_str_t *name, ngx_uint_t *n);


#endif /* _NGX_HTTP_WOPORTAL_AUTH_H_INCLUDED_ */
