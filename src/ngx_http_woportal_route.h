
/*
 * route.c: where a request goes
 */


#ifndef _NGX_HTTP_WOPORTAL_ROUTE_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_ROUTE_H_INCLUDED_


#include "ngx_http_woportal.h"


void ngx_http_woportal_route(ngx_str_t *base, ngx_str_t *uri,
    ngx_http_woportal_route_t *rt);


#endif /* _NGX_HTTP_WOPORTAL_ROUTE_H_INCLUDED_ */
