
/*
 * variables.c: the $woportal_* variables
 */


#ifndef _NGX_HTTP_WOPORTAL_VARIABLES_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_VARIABLES_H_INCLUDED_


#include "ngx_http_woportal.h"


ngx_int_t ngx_http_woportal_add_variables(ngx_conf_t *cf);
extern ngx_str_t  ngx_http_woportal_request_ops[];
void ngx_http_woportal_set_error(ngx_http_request_t *r,
    ngx_http_woportal_code_e code);


#endif /* _NGX_HTTP_WOPORTAL_VARIABLES_H_INCLUDED_ */
