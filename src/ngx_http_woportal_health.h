
/*
 * health.c: the woportal_health endpoint
 */


#ifndef _NGX_HTTP_WOPORTAL_HEALTH_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_HEALTH_H_INCLUDED_


#include "ngx_http_woportal.h"


ngx_int_t ngx_http_woportal_health_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_WOPORTAL_HEALTH_H_INCLUDED_ */
