
/*
 * value.c: an entry's stored form in memcached, FORMAT_ENTRY
 */


#ifndef _NGX_HTTP_WOPORTAL_VALUE_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_VALUE_H_INCLUDED_


#include "ngx_http_woportal.h"


/*
 * A stored value of FORMAT_ENTRY, opened (value.c): its header read, its
 * JSON not parsed.  Everything points into the value.
 */
typedef struct {
    ngx_str_t                    json;      /* the entry, as served */
    uint64_t                     version;
    u_char                      *id;        /* 12 bytes */
    u_char                      *ns;        /* nns times: length, bytes */
    ngx_uint_t                   nns;
    char                        *reason;    /* why it is not an entry */
} ngx_http_woportal_stored_t;

size_t ngx_http_woportal_value_size(ngx_http_woportal_entry_t *e,
    size_t json_len);
ngx_int_t ngx_http_woportal_value_write(u_char *p,
    ngx_http_woportal_entry_t *e, ngx_str_t *json);
ngx_int_t ngx_http_woportal_value_make(ngx_pool_t *pool,
    ngx_http_woportal_entry_t *e, ngx_str_t *json, ngx_str_t *value);
ngx_int_t ngx_http_woportal_value_open(ngx_str_t *value, u_char *id,
    ngx_http_woportal_stored_t *v);
ngx_uint_t ngx_http_woportal_value_visible(ngx_http_woportal_key_t *key,
    ngx_http_woportal_stored_t *v);
ngx_uint_t ngx_http_woportal_value_agrees(ngx_http_woportal_stored_t *v,
    ngx_http_woportal_entry_t *e);


#endif /* _NGX_HTTP_WOPORTAL_VALUE_H_INCLUDED_ */
