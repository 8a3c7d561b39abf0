
/*
 * openapi.c: GET <location>/openapi.json
 */


#ifndef _NGX_HTTP_WOPORTAL_OPENAPI_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_OPENAPI_H_INCLUDED_


#include "ngx_http_woportal.h"


ngx_int_t ngx_http_woportal_openapi(ngx_http_request_t *r,
    ngx_http_woportal_loc_conf_t *wlcf, ngx_http_woportal_ctx_t *ctx);


#endif /* _NGX_HTTP_WOPORTAL_OPENAPI_H_INCLUDED_ */
