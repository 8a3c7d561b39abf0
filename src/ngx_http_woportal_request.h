
/*
 * request.c: what the operations share
 */


#ifndef _NGX_HTTP_WOPORTAL_REQUEST_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_REQUEST_H_INCLUDED_


#include "ngx_http_woportal.h"
#include "ngx_http_woportal_value.h"


typedef ngx_int_t (*ngx_http_woportal_op_pt)(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx);

void ngx_http_woportal_state(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx, ngx_http_woportal_state_e state);
ngx_int_t ngx_http_woportal_begin(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx, ngx_http_woportal_op_pt op);
ngx_int_t ngx_http_woportal_call(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx, ngx_http_woportal_store_op_e op,
    ngx_http_woportal_call_done_pt done);
ngx_int_t ngx_http_woportal_post_call(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx, ngx_http_woportal_store_op_e op,
    ngx_http_woportal_call_done_pt done);
ngx_int_t ngx_http_woportal_stored_value(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx, ngx_http_woportal_stored_t *v);
ngx_int_t ngx_http_woportal_stored_entry(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx);
ngx_int_t ngx_http_woportal_not_stored(ngx_http_request_t *r, ngx_int_t rc);
ngx_int_t ngx_http_woportal_etag_matches(ngx_table_elt_t *h,
    uint64_t version, ngx_uint_t weak);
ngx_int_t ngx_http_woportal_unavailable(ngx_http_request_t *r);
ngx_int_t ngx_http_woportal_not_found(ngx_http_request_t *r);
void ngx_http_woportal_finish(ngx_http_request_t *r, ngx_int_t rc);


#endif /* _NGX_HTTP_WOPORTAL_REQUEST_H_INCLUDED_ */
