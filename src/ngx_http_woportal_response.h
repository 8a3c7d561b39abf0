
/*
 * response.c: answers, the error envelope, and the response filters
 */


#ifndef _NGX_HTTP_WOPORTAL_RESPONSE_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_RESPONSE_H_INCLUDED_


#include "ngx_http_woportal.h"


ngx_int_t ngx_http_woportal_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *json, uint64_t version);
ngx_int_t ngx_http_woportal_send_error(ngx_http_request_t *r,
    ngx_uint_t status, ngx_http_woportal_code_e code, char *message);
ngx_int_t ngx_http_woportal_send_errors(ngx_http_request_t *r,
    ngx_http_woportal_error_t *err);
ngx_int_t ngx_http_woportal_filter_init(ngx_conf_t *cf);
ngx_int_t ngx_http_woportal_error_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_WOPORTAL_RESPONSE_H_INCLUDED_ */
