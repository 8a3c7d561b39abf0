
/*
 * query.c: a list's query string, parsed and checked
 */


#ifndef _NGX_HTTP_WOPORTAL_QUERY_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_QUERY_H_INCLUDED_


#include "ngx_http_woportal.h"


/* the query parameters of a list (query.c) */
typedef enum {
    NGX_HTTP_WOPORTAL_Q_PAGE = 0,
    NGX_HTTP_WOPORTAL_Q_PER_PAGE,
    NGX_HTTP_WOPORTAL_Q_SORT,
    NGX_HTTP_WOPORTAL_Q_STATUS,
    NGX_HTTP_WOPORTAL_Q_WORKORDER,
    NGX_HTTP_WOPORTAL_Q_CLIENT,
    NGX_HTTP_WOPORTAL_Q_NAMESPACE,      /* repeatable, and with "[]" */
    NGX_HTTP_WOPORTAL_Q_ID,             /* repeatable, and with "[]" */
    NGX_HTTP_WOPORTAL_Q_NONE
} ngx_http_woportal_param_e;

#define NGX_HTTP_WOPORTAL_Q_REPEATABLE                                       \
    ((1 << NGX_HTTP_WOPORTAL_Q_NAMESPACE) | (1 << NGX_HTTP_WOPORTAL_Q_ID))

#define NGX_HTTP_WOPORTAL_Q_FILTERS                                          \
    ((1 << NGX_HTTP_WOPORTAL_Q_STATUS) | (1 << NGX_HTTP_WOPORTAL_Q_WORKORDER) \
     | (1 << NGX_HTTP_WOPORTAL_Q_CLIENT) | NGX_HTTP_WOPORTAL_Q_REPEATABLE)


/* a list query (query.c) */
typedef struct {
    u_char                        field;   /* NGX_HTTP_WOPORTAL_F_* */
    u_char                        desc;
} ngx_http_woportal_sort_t;


typedef struct {
    uint64_t                      page;
    uint64_t                      per_page;
    ngx_uint_t                    nsort;
    ngx_http_woportal_sort_t      sort[NGX_HTTP_WOPORTAL_SORT_MAX + 1];
    ngx_int_t                     status;
    ngx_str_t                     workorder;
    ngx_str_t                     client;
    ngx_array_t                   namespaces;   /* of ngx_str_t */
    ngx_array_t                   ids;          /* of 12-byte ids */
    ngx_uint_t                    nids;         /* ids given */
    ngx_uint_t                    given;        /* bits of params */
    ngx_uint_t                    bad;          /* bits of params */
} ngx_http_woportal_query_t;

ngx_int_t ngx_http_woportal_list_query(ngx_pool_t *pool, ngx_str_t *args,
    ngx_http_woportal_query_t *q, ngx_http_woportal_error_t *err);


#endif /* _NGX_HTTP_WOPORTAL_QUERY_H_INCLUDED_ */
