
/*
 * handler.c: the content handler, which dispatches a request
 */


#ifndef _NGX_HTTP_WOPORTAL_HANDLER_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_HANDLER_H_INCLUDED_


#include "ngx_http_woportal.h"


ngx_int_t ngx_http_woportal_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_WOPORTAL_HANDLER_H_INCLUDED_ */
