
/*
 * index_cache.c: the index cached in each worker
 */


#ifndef _NGX_HTTP_WOPORTAL_INDEX_CACHE_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_INDEX_CACHE_H_INCLUDED_


#include "ngx_http_woportal.h"
#include "ngx_http_woportal_index.h"


#define NGX_HTTP_WOPORTAL_POST_STATUS        0
#define NGX_HTTP_WOPORTAL_POST_WORKORDER     1
#define NGX_HTTP_WOPORTAL_POST_CLIENT        2
#define NGX_HTTP_WOPORTAL_POST_NS            3
#define NGX_HTTP_WOPORTAL_POSTINGS           4

/* a shard as read: its live records; read-only once made */
typedef struct {
    ngx_uint_t                       refs;      /* on the event loop */
    void                            *block;     /* all of it, this too */
    size_t                           size;
    uint64_t                         cas;
    u_char                          *data;      /* the value */
    size_t                           len;
    size_t                           valid;     /* corrupt: before it */
    size_t                           live;      /* bytes of live records */
    size_t                           kept;      /* what compacting keeps */
    ngx_array_t                      recs;      /* live irec_t */
    ngx_http_woportal_irec_t       **order;     /* newest first */
    uint64_t                        *post[NGX_HTTP_WOPORTAL_POSTINGS];
    ngx_uint_t                       npost;     /* POST_NS's */
    unsigned                         corrupt:1;
    unsigned                         compacted:1; /* tried: not again */
} ngx_http_woportal_snap_t;

/* a worker's cache of one index (a store and key prefix) */
typedef struct {
    ngx_queue_t                      queue;
    ngx_http_woportal_store_t       *store;
    ngx_str_t                        prefix;
    ngx_uint_t                       shards;
    ngx_uint_t                       nservers;
    uint64_t                         gen;        /* the marks' */
    ngx_uint_t                       generation; /* drops so far */
    uint64_t                        *counts;     /* by server; 0: none */
    ngx_http_woportal_snap_t       **snaps;      /* by shard */
    uint32_t                        *server;     /* by shard */
    void                            *refresher;  /* the list reading */
    ngx_queue_t                      waiting;    /* lists, for its end */
} ngx_http_woportal_cache_t;

typedef struct ngx_http_woportal_cache_read_s
    ngx_http_woportal_cache_read_t;

typedef void (*ngx_http_woportal_cache_read_pt)(
    ngx_http_woportal_cache_read_t *rd);

/* a list's look at what changed, on the event loop */
struct ngx_http_woportal_cache_read_s {
    ngx_http_woportal_cache_read_pt  handler;
    void                            *data;
    ngx_http_request_t              *request;
    ngx_http_woportal_loc_conf_t    *wlcf;
    ngx_http_woportal_cache_t       *cache;
    ngx_uint_t                       generation;
    ngx_int_t                        rc;
    ngx_uint_t                       state;
    ngx_uint_t                       pending;
    ngx_queue_t                      queue;     /* while it waits */
    ngx_http_woportal_mc_op_t       *checks;    /* counts and marks */
    ngx_http_woportal_mc_op_t       *ops;
    uint64_t                         gen;       /* the marks read */
    uint64_t                        *counts;    /* read, by server */
    ngx_uint_t                      *changed;   /* by server */
    ngx_http_woportal_snap_t       **view;      /* current, held */
    u_char                          *read;      /* shards to read */
    ngx_str_t                       *values;    /* those read */
    ngx_pool_t                      *values_pool; /* theirs */
    uint64_t                        *cas;
    unsigned                         full:1;    /* the thread reads all */
    unsigned                         parked:1;
};

ngx_int_t ngx_http_woportal_cache_keys(ngx_conf_t *cf,
    ngx_http_woportal_loc_conf_t *wlcf);
uint64_t ngx_http_woportal_index_count_start(void);
ngx_int_t ngx_http_woportal_cache_read(ngx_http_request_t *r,
    ngx_http_woportal_loc_conf_t *wlcf, ngx_http_woportal_cache_read_t *rd);
void ngx_http_woportal_cache_update(ngx_http_woportal_cache_read_t *rd,
    ngx_http_woportal_snap_t **fresh, uint64_t gen);
uint64_t ngx_http_woportal_cache_mark(ngx_http_woportal_loc_conf_t *wlcf,
    u_char *key, size_t key_len, u_char *value, size_t len);
ngx_http_woportal_snap_t *ngx_http_woportal_snap_make(u_char *data,
    size_t len, uint64_t cas, ngx_uint_t shard, ngx_log_t *log);
void ngx_http_woportal_snap_unref(ngx_http_woportal_snap_t *snap);
void ngx_http_woportal_cache_exit(void);
void ngx_http_woportal_snap_find(ngx_http_woportal_snap_t *snap,
    ngx_uint_t f, uint32_t h, ngx_uint_t *first, ngx_uint_t *last);


#endif /* _NGX_HTTP_WOPORTAL_INDEX_CACHE_H_INCLUDED_ */
