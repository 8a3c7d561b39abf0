
/*
 * create.c: POST / (create an entry)
 */


#ifndef _NGX_HTTP_WOPORTAL_CREATE_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_CREATE_H_INCLUDED_


#include "ngx_http_woportal.h"


ngx_int_t ngx_http_woportal_create(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx);


#endif /* _NGX_HTTP_WOPORTAL_CREATE_H_INCLUDED_ */
