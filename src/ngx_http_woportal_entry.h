
/*
 * entry.c: an entry's fields, enumerations, times and changes
 */


#ifndef _NGX_HTTP_WOPORTAL_ENTRY_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_ENTRY_H_INCLUDED_


#include "ngx_http_woportal.h"


extern ngx_str_t  ngx_http_woportal_statuses[];
extern ngx_str_t  ngx_http_woportal_access_levels[];
extern ngx_str_t  ngx_http_woportal_actions[];
ngx_int_t ngx_http_woportal_enum(ngx_str_t *names, u_char *s, size_t len);
size_t ngx_http_woportal_utf8_chars(u_char *s, size_t len);
ngx_int_t ngx_http_woportal_parse_time(u_char *s, size_t len, int64_t *ms);
u_char *ngx_http_woportal_format_time(u_char *p, int64_t ms);
int64_t ngx_http_woportal_now(void);
ngx_int_t ngx_http_woportal_entry_init(ngx_pool_t *pool,
    ngx_http_woportal_entry_t *e);
ngx_int_t ngx_http_woportal_entry_create(ngx_pool_t *pool,
    ngx_http_woportal_entry_t *e);
ngx_int_t ngx_http_woportal_entry_apply(ngx_http_woportal_entry_t *e,
    ngx_http_woportal_entry_t *patch);


#endif /* _NGX_HTTP_WOPORTAL_ENTRY_H_INCLUDED_ */
