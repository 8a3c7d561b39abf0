
/*
 * mc.c: memcached's binary protocol, on the event loop
 */


#ifndef _NGX_HTTP_WOPORTAL_MC_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_MC_H_INCLUDED_


#include "ngx_http_woportal.h"


/* the opcodes of a request (ngx_http_woportal_mc_op_t) */
#define NGX_HTTP_WOPORTAL_MC_GET             0x00
#define NGX_HTTP_WOPORTAL_MC_SET             0x01
#define NGX_HTTP_WOPORTAL_MC_ADD             0x02
#define NGX_HTTP_WOPORTAL_MC_DELETE          0x04
#define NGX_HTTP_WOPORTAL_MC_INCREMENT       0x05
#define NGX_HTTP_WOPORTAL_MC_NOOP            0x0a
#define NGX_HTTP_WOPORTAL_MC_APPEND          0x0e
#define NGX_HTTP_WOPORTAL_MC_TOUCH           0x1c

/* the status of an answer */
#define NGX_HTTP_WOPORTAL_MC_OK              0x0000
#define NGX_HTTP_WOPORTAL_MC_NOT_FOUND       0x0001
#define NGX_HTTP_WOPORTAL_MC_EXISTS          0x0002
#define NGX_HTTP_WOPORTAL_MC_TOO_LARGE       0x0003
#define NGX_HTTP_WOPORTAL_MC_NOT_STORED      0x0005


typedef struct {
    ngx_uint_t                       opcode;
    ngx_uint_t                       status;
    uint32_t                         opaque;
    uint32_t                         flags;
    uint64_t                         cas;
    ngx_str_t                        value;
    size_t                           size;      /* of the whole answer */
    unsigned                         has_flags:1;
} ngx_http_woportal_mc_answer_t;

ngx_int_t ngx_http_woportal_mc_parse(u_char *p, size_t len,
    ngx_http_woportal_mc_answer_t *a);
ngx_int_t ngx_http_woportal_mc_init(ngx_conf_t *cf,
    ngx_http_woportal_store_t *store);
ngx_int_t ngx_http_woportal_mc_post(ngx_http_woportal_mc_client_t *client,
    ngx_http_woportal_mc_op_t *op);
ngx_uint_t ngx_http_woportal_mc_server(ngx_http_woportal_mc_client_t *client,
    ngx_str_t *key);
ngx_uint_t ngx_http_woportal_mc_servers(
    ngx_http_woportal_mc_client_t *client);
void ngx_http_woportal_mc_exit(ngx_http_woportal_mc_client_t *client);
uint64_t ngx_http_woportal_mc_failed_since(
    ngx_http_woportal_mc_client_t *client);
void ngx_http_woportal_mc_mark_failed(ngx_http_woportal_mc_client_t *client);
ngx_atomic_uint_t ngx_http_woportal_mc_lost(
    ngx_http_woportal_mc_client_t *client);


#endif /* _NGX_HTTP_WOPORTAL_MC_H_INCLUDED_ */
