
/*
 * persist.c: where a store call goes, on the event loop
 */


#ifndef _NGX_HTTP_WOPORTAL_PERSIST_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_PERSIST_H_INCLUDED_


#include "ngx_http_woportal.h"


ngx_int_t ngx_http_woportal_persist_post(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx, ngx_http_woportal_store_op_e op);


#endif /* _NGX_HTTP_WOPORTAL_PERSIST_H_INCLUDED_ */
