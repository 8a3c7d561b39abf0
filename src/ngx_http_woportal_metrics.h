
/*
 * metrics.c: the shared counters; the hooks never fail nor block
 */


#ifndef _NGX_HTTP_WOPORTAL_METRICS_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_METRICS_H_INCLUDED_


#include "ngx_http_woportal.h"


#define NGX_HTTP_WOPORTAL_METRICS            1   /* woportal_metrics */
#define NGX_HTTP_WOPORTAL_HEALTH             2   /* woportal_health */

typedef enum {
    NGX_HTTP_WOPORTAL_DBCALL_BEGIN = 0,
    NGX_HTTP_WOPORTAL_DBCALL_END,
    NGX_HTTP_WOPORTAL_DBCALL_PUT,
    NGX_HTTP_WOPORTAL_DBCALL_DELETE,
    NGX_HTTP_WOPORTAL_DBCALL_LOAD,
    NGX_HTTP_WOPORTAL_DBCALL_SCAN,
    NGX_HTTP_WOPORTAL_DBCALL_COUNT
} ngx_http_woportal_dbcall_e;

ngx_int_t ngx_http_woportal_metrics_init(ngx_conf_t *cf);
void ngx_http_woportal_metrics_init_process(
    ngx_http_woportal_main_conf_t *wmcf);
uint64_t ngx_http_woportal_metrics_clock(void);
void ngx_http_woportal_metrics_posted(ngx_http_woportal_call_t *call);
void ngx_http_woportal_metrics_done(ngx_http_woportal_store_op_e op,
    uint64_t us, ngx_http_woportal_outcome_e outcome);
void ngx_http_woportal_metrics_sql(ngx_http_woportal_dbcall_e call,
    uint64_t start, ngx_int_t rc);
void ngx_http_woportal_metrics_index(size_t bytes, size_t read);
void ngx_http_woportal_metrics_compacted(void);
ngx_int_t ngx_http_woportal_metrics_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_WOPORTAL_METRICS_H_INCLUDED_ */
