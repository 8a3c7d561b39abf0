
/*
 * body.c: a request body, read whole and checked as JSON
 */


#ifndef _NGX_HTTP_WOPORTAL_BODY_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_BODY_H_INCLUDED_


#include "ngx_http_woportal.h"


ngx_int_t ngx_http_woportal_is_json(ngx_http_request_t *r);
ngx_int_t ngx_http_woportal_body(ngx_http_request_t *r, ngx_str_t *body);


#endif /* _NGX_HTTP_WOPORTAL_BODY_H_INCLUDED_ */
