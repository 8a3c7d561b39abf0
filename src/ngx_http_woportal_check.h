
/*
 * check.c: configuration checks made once the http block is read
 */


#ifndef _NGX_HTTP_WOPORTAL_CHECK_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_CHECK_H_INCLUDED_


#include "ngx_http_woportal.h"


char *ngx_http_woportal_endpoint(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_woportal_check_endpoints(ngx_conf_t *cf);
ngx_int_t ngx_http_woportal_check_location(ngx_conf_t *cf,
    ngx_http_woportal_loc_conf_t *wlcf);
ngx_int_t ngx_http_woportal_check_memcached(ngx_conf_t *cf,
    ngx_str_t *config);
char *ngx_http_woportal_check_enum(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_woportal_cors_origins(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_woportal_check_conninfo(ngx_conf_t *cf,
    ngx_str_t *conninfo);


#endif /* _NGX_HTTP_WOPORTAL_CHECK_H_INCLUDED_ */
