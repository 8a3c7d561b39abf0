
/*
 * index.c: the list index's records and keys
 */


#ifndef _NGX_HTTP_WOPORTAL_INDEX_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_INDEX_H_INCLUDED_


#include "ngx_http_woportal.h"


/*
 * How long a compaction keeps a deletion's record (ms): far longer than a
 * live record of the same entry can be appended after it (index.c)
 */
#define NGX_HTTP_WOPORTAL_INDEX_GRACE        60000

/* index record flags */
#define NGX_HTTP_WOPORTAL_REC_DELETED        0x01
#define NGX_HTTP_WOPORTAL_REC_EXPIRY         0x02

/* an index record, as read from a shard (index.c) */
typedef struct {
    u_char                      *raw;       /* the record in the shard */
    uint64_t                     version;
    int64_t                      created_at;
    int64_t                      updated_at;
    int64_t                      expiry;
    ngx_str_t                    workorder;
    ngx_str_t                    client;
    u_char                      *ns;        /* nns times: length, bytes */
    uint32_t                     shard;
    uint16_t                     len;
    u_char                       id[NGX_HTTP_WOPORTAL_ID_LEN / 2];
    u_char                       flags;
    u_char                       status;
    u_char                       access_level;
    u_char                       nns;
    unsigned                     superseded:1;
} ngx_http_woportal_irec_t;

ngx_int_t ngx_http_woportal_index_keys(ngx_conf_t *cf,
    ngx_http_woportal_loc_conf_t *wlcf);
ngx_int_t ngx_http_woportal_index_prepare(ngx_http_request_t *r,
    ngx_http_woportal_call_t *call, ngx_http_woportal_entry_t *e,
    u_char *id);
ngx_uint_t ngx_http_woportal_index_shard(u_char *id, ngx_uint_t shards);
ngx_int_t ngx_http_woportal_index_record(ngx_pool_t *pool,
    ngx_http_woportal_entry_t *e, u_char *id, ngx_str_t *rec);
ngx_int_t ngx_http_woportal_index_parse(u_char *p, size_t len,
    ngx_uint_t shard, ngx_array_t *recs, size_t *valid);
void ngx_http_woportal_index_ns(u_char **pp, ngx_str_t *ns);
ngx_int_t ngx_http_woportal_index_fold(ngx_pool_t *pool, ngx_array_t *recs);
int64_t ngx_http_woportal_index_clock(void);
ngx_uint_t ngx_http_woportal_index_kept(ngx_http_woportal_irec_t *rec,
    int64_t now, ngx_msec_t grace);
ngx_int_t ngx_http_woportal_index_compact(ngx_pool_t *pool,
    ngx_str_t *value, ngx_msec_t grace, ngx_str_t *out);


#endif /* _NGX_HTTP_WOPORTAL_INDEX_H_INCLUDED_ */
