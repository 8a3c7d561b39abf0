
/*
 * modify.c: PUT and PATCH /{id}, PUT and PATCH /{id}/status, DELETE /{id}
 */


#ifndef _NGX_HTTP_WOPORTAL_MODIFY_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_MODIFY_H_INCLUDED_


#include "ngx_http_woportal.h"


ngx_int_t ngx_http_woportal_modify(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx);
ngx_int_t ngx_http_woportal_delete(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx);


#endif /* _NGX_HTTP_WOPORTAL_MODIFY_H_INCLUDED_ */
