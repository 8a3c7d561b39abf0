
/*
 * ngx_http_woportal_module: the Workorder Portal API served by nginx.
 * Types shared by the module's files.
 */


#ifndef _NGX_HTTP_WOPORTAL_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_thread_pool.h>
#include <yajl/yajl_gen.h>


#if !(NGX_THREADS)
#error ngx_http_woportal_module needs nginx built --with-threads
#endif


/* limits of the contract (contract/openapi.yaml, CONTRACT-NOTES.md) */
#define NGX_HTTP_WOPORTAL_ID_LEN             24
#define NGX_HTTP_WOPORTAL_MAX_DEPTH          32
#define NGX_HTTP_WOPORTAL_REF_MAX            64
#define NGX_HTTP_WOPORTAL_NS_MAX             128
#define NGX_HTTP_WOPORTAL_NS_ITEMS           32
#define NGX_HTTP_WOPORTAL_NOTES_MAX          2000
#define NGX_HTTP_WOPORTAL_FREE_MAX_SIZE      16384
#define NGX_HTTP_WOPORTAL_FREE_MAX_DEPTH     8
#define NGX_HTTP_WOPORTAL_NACTIONS           5

/* the newest version of sql/: a database without it gets the schema */
#define NGX_HTTP_WOPORTAL_SCHEMA_VERSION     "2"

/* woportal_persist_mode */
#define NGX_HTTP_WOPORTAL_SYNC               0
#define NGX_HTTP_WOPORTAL_ASYNC              1

/* the list */
#define NGX_HTTP_WOPORTAL_PER_PAGE           25
#define NGX_HTTP_WOPORTAL_PER_PAGE_MAX       100
#define NGX_HTTP_WOPORTAL_SORT_MAX           16
#define NGX_HTTP_WOPORTAL_FILTER_MAX         100
#define NGX_HTTP_WOPORTAL_INDEX_SHARDS       256
#define NGX_HTTP_WOPORTAL_INDEX_SHARDS_MAX   65536

/* "2026-11-28T12:00:00.000Z" */
#define NGX_HTTP_WOPORTAL_TIME_LEN           24

#ifndef NGX_HTTP_UNPROCESSABLE_ENTITY
#define NGX_HTTP_UNPROCESSABLE_ENTITY        422
#endif

/* memcached item flags: the stored format of an entry */
#define NGX_HTTP_WOPORTAL_FORMAT_JSON        1
/* an entry being deleted: counts as missing */
#define NGX_HTTP_WOPORTAL_FORMAT_GONE        2
/* a shard of the list index (index.c) */
#define NGX_HTTP_WOPORTAL_FORMAT_INDEX       3
/* a reader's lease on a missing entry, filled from SQL (persist.c) */
#define NGX_HTTP_WOPORTAL_FORMAT_LEASE       4
/* how long a lease lives, seconds: a reader that dies leaves it behind */
#define NGX_HTTP_WOPORTAL_LEASE_TIME         5
/* how long the index's rebuild lock lives unless renewed, seconds */
#define NGX_HTTP_WOPORTAL_LOCK_TIME          2


typedef enum {
    NGX_HTTP_WOPORTAL_PENDING = 0,
    NGX_HTTP_WOPORTAL_IN_PROGRESS,
    NGX_HTTP_WOPORTAL_COMPLETED,
    NGX_HTTP_WOPORTAL_CANCELLED
} ngx_http_woportal_status_e;


/* what a decoded document is: the modes of the decoder */
typedef enum {
    NGX_HTTP_WOPORTAL_DOC_CREATE = 0,
    NGX_HTTP_WOPORTAL_DOC_UPDATE,
    NGX_HTTP_WOPORTAL_DOC_STATUS,
    NGX_HTTP_WOPORTAL_DOC_STORED
} ngx_http_woportal_doc_e;


/* the fields of an entry and of request bodies; bits of entry->set */
typedef enum {
    NGX_HTTP_WOPORTAL_F_ID = 0,
    NGX_HTTP_WOPORTAL_F_WORKORDER,
    NGX_HTTP_WOPORTAL_F_CLIENT,
    NGX_HTTP_WOPORTAL_F_STATUS,
    NGX_HTTP_WOPORTAL_F_ACCESS_LEVEL,
    NGX_HTTP_WOPORTAL_F_ALLOWED_ACTIONS,
    NGX_HTTP_WOPORTAL_F_EXPIRY_DATE,
    NGX_HTTP_WOPORTAL_F_NOTIFICATIONS,
    NGX_HTTP_WOPORTAL_F_PORTAL_SETTINGS,
    NGX_HTTP_WOPORTAL_F_CUSTOM_BRANDING,
    NGX_HTTP_WOPORTAL_F_COMPANY_NAMESPACE,
    NGX_HTTP_WOPORTAL_F_DISABLED,
    NGX_HTTP_WOPORTAL_F_STATUS_HISTORY,
    NGX_HTTP_WOPORTAL_F_CREATED_AT,
    NGX_HTTP_WOPORTAL_F_UPDATED_AT,
    NGX_HTTP_WOPORTAL_F_VERSION,
    NGX_HTTP_WOPORTAL_F_NOTES,
    NGX_HTTP_WOPORTAL_F_COUNT
} ngx_http_woportal_field_e;


/* the three free-form objects, in entry->free[] */
#define NGX_HTTP_WOPORTAL_NFREE              3
#define ngx_http_woportal_free_index(f)                                      \
    ((f) - NGX_HTTP_WOPORTAL_F_NOTIFICATIONS)


/* the error codes of the contract's envelope */
typedef enum {
    NGX_HTTP_WOPORTAL_E_INVALID_JSON = 0,
    NGX_HTTP_WOPORTAL_E_INVALID_PARAMETER,
    NGX_HTTP_WOPORTAL_E_VALIDATION_FAILED,
    NGX_HTTP_WOPORTAL_E_UNAUTHORIZED,
    NGX_HTTP_WOPORTAL_E_FORBIDDEN,
    NGX_HTTP_WOPORTAL_E_NOT_FOUND,
    NGX_HTTP_WOPORTAL_E_METHOD_NOT_ALLOWED,
    NGX_HTTP_WOPORTAL_E_CONFLICT,
    NGX_HTTP_WOPORTAL_E_INVALID_TRANSITION,
    NGX_HTTP_WOPORTAL_E_PRECONDITION_FAILED,
    NGX_HTTP_WOPORTAL_E_PAYLOAD_TOO_LARGE,
    NGX_HTTP_WOPORTAL_E_UNSUPPORTED_MEDIA_TYPE,
    NGX_HTTP_WOPORTAL_E_STORE_UNAVAILABLE,
    NGX_HTTP_WOPORTAL_E_RATE_LIMITED,
    NGX_HTTP_WOPORTAL_E_INTERNAL_ERROR
} ngx_http_woportal_code_e;


/* where a request goes: the router's answer */
typedef enum {
    NGX_HTTP_WOPORTAL_NOWHERE = 0,
    NGX_HTTP_WOPORTAL_COLLECTION,
    NGX_HTTP_WOPORTAL_ITEM,
    NGX_HTTP_WOPORTAL_ITEM_STATUS
} ngx_http_woportal_target_e;


/* what a request does, by target and method */
typedef enum {
    NGX_HTTP_WOPORTAL_OP_NONE = 0,
    NGX_HTTP_WOPORTAL_OP_LIST,
    NGX_HTTP_WOPORTAL_OP_CREATE,
    NGX_HTTP_WOPORTAL_OP_GET,
    NGX_HTTP_WOPORTAL_OP_UPDATE,
    NGX_HTTP_WOPORTAL_OP_DELETE,
    NGX_HTTP_WOPORTAL_OP_STATUS,
    NGX_HTTP_WOPORTAL_OP_OPTIONS,
    NGX_HTTP_WOPORTAL_OP_OPENAPI,        /* GET <location>/openapi.json */
    NGX_HTTP_WOPORTAL_OP_COUNT
} ngx_http_woportal_op_e;


typedef struct {
    ngx_http_woportal_target_e   target;
    ngx_str_t                    id;
    unsigned                     id_valid:1;
} ngx_http_woportal_route_t;


typedef struct {
    ngx_uint_t                   status;
    ngx_str_t                    notes;       /* .data NULL: none sent */
    int64_t                      changed_at;  /* ms since the epoch */
} ngx_http_woportal_change_t;


typedef struct {
    u_char                       id[NGX_HTTP_WOPORTAL_ID_LEN];
    ngx_str_t                    workorder;
    ngx_str_t                    client;
    ngx_uint_t                   status;
    ngx_uint_t                   access_level;
    u_char                       actions[NGX_HTTP_WOPORTAL_NACTIONS];
    ngx_uint_t                   nactions;
    int64_t                      expiry_date;   /* ms, if has_expiry */
    ngx_str_t                    free[NGX_HTTP_WOPORTAL_NFREE]; /* JSON */
    ngx_array_t                  namespaces;    /* of ngx_str_t */
    ngx_array_t                  history;       /* of change_t */
    int64_t                      created_at;
    int64_t                      updated_at;
    uint64_t                     version;
    ngx_str_t                    notes;         /* status requests */
    uint32_t                     set;           /* F_* bits present */
    unsigned                     has_expiry:1;
    unsigned                     disabled:1;
} ngx_http_woportal_entry_t;


typedef struct {
    ngx_str_t                    field;
    ngx_str_t                    message;
} ngx_http_woportal_detail_t;


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


/* the "paging" of a list answer */
typedef struct {
    uint64_t                     page;
    uint64_t                     per_page;
    uint64_t                     total;
    uint64_t                     total_pages;
} ngx_http_woportal_paging_t;


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


/* an answer in the error envelope, built up by the decoder */
typedef struct {
    ngx_uint_t                   status;
    ngx_http_woportal_code_e     code;
    ngx_str_t                    message;
    ngx_array_t                  details;   /* of detail_t */
} ngx_http_woportal_error_t;


/*
 * An API key (auth.c), from woportal_api_key or a woportal_api_keys file:
 * only its SHA-256 digest is kept.
 */
typedef struct {
    ngx_str_t                    name;      /* for logs: $woportal_key_name */
    u_char                       digest[32];
    ngx_array_t                 *namespaces; /* of ngx_str_t; NULL: all */
} ngx_http_woportal_key_t;


typedef struct ngx_http_woportal_backend_s  ngx_http_woportal_backend_t;

/*
 * One memcached configuration, or one database: its connections live in
 * the pool threads.
 */
typedef struct {
    ngx_str_t                    config;
    ngx_msec_t                   timeout;
    ngx_uint_t                   index;
    ngx_http_woportal_backend_t *backend;   /* databases only */
    void                        *later;     /* the worker's queue: async.c */
    ngx_atomic_t                 failed;    /* memcached: when a call last
                                               failed to reach it (us of
                                               metrics_clock()); 0 */
} ngx_http_woportal_store_t;


/*
 * One persistence database: config is the SQLite file or the libpq
 * conninfo, timeout how long a lock is waited for.
 */
typedef ngx_http_woportal_store_t  ngx_http_woportal_db_t;


/* a change for the database, made with a store call (persist.c) */
typedef struct {
    ngx_http_woportal_db_t      *db;
    ngx_str_t                    prefix;
    u_char                      *id;
    ngx_http_woportal_entry_t   *entry;     /* put; NULL: delete */
    ngx_str_t                    doc;       /* put: the stored JSON */
    uint64_t                     expected;  /* delete: only at this
                                               version or older; 0: any */
    unsigned                     create:1;  /* put: a new entry */
} ngx_http_woportal_persist_t;


typedef ngx_int_t (*ngx_http_woportal_scan_pt)(void *data, ngx_str_t *doc);


/*
 * A database's calls, in pool threads (persist.c): each takes the
 * thread's slot for its connection, which it makes when it is empty.
 */
struct ngx_http_woportal_backend_s {
    ngx_str_t                    name;
    ngx_int_t                  (*begin)(ngx_http_woportal_db_t *db,
                                        void **slot, ngx_log_t *log);
    ngx_int_t                  (*end)(ngx_http_woportal_db_t *db,
                                      void **slot, ngx_uint_t commit,
                                      ngx_log_t *log);
    ngx_int_t                  (*put)(ngx_http_woportal_db_t *db,
                                      void **slot,
                                      ngx_http_woportal_persist_t *p,
                                      ngx_log_t *log);
    ngx_int_t                  (*del)(ngx_http_woportal_db_t *db,
                                      void **slot,
                                      ngx_http_woportal_persist_t *p,
                                      ngx_log_t *log);
    ngx_int_t                  (*load)(ngx_http_woportal_db_t *db,
                                       void **slot, ngx_str_t *prefix,
                                       u_char *id, ngx_str_t *doc,
                                       ngx_log_t *log);
    ngx_int_t                  (*scan)(ngx_http_woportal_db_t *db,
                                       void **slot, ngx_str_t *prefix,
                                       ngx_http_woportal_scan_pt handler,
                                       void *data, ngx_log_t *log);
    /*
     * a group commit in one go, where the database does it better than
     * begin, each write and end (pgsql.c: one pipeline); NULL: none
     */
    ngx_int_t                  (*commit)(ngx_http_woportal_db_t *db,
                                         void **slot,
                                         ngx_http_woportal_persist_t **ps,
                                         ngx_int_t *rcs, ngx_uint_t n,
                                         ngx_log_t *log);
    void                       (*free)(void *conn);
};


extern ngx_http_woportal_backend_t  ngx_http_woportal_sqlite_backend;
extern ngx_http_woportal_backend_t  ngx_http_woportal_pgsql_backend;


typedef struct {
    ngx_array_t                  stores;    /* of store_t * */
    ngx_array_t                  dbs;       /* of db_t * */
    ngx_shm_zone_t              *metrics;   /* metrics.c */
    ngx_array_t                 *endpoints; /* check.c: metrics, health */
    ngx_array_t                 *woportals; /* check.c: of loc_conf_t * */
} ngx_http_woportal_main_conf_t;


typedef struct {
    ngx_flag_t                   enable;
    ngx_http_core_loc_conf_t    *clcf;
    ngx_str_t                    base;      /* location path, no '/' at end */

    ngx_str_t                    memcached;
    ngx_msec_t                   memcached_timeout;
    ngx_str_t                    key_prefix;
    ngx_uint_t                   index_shards;
    ngx_str_t                   *index_keys; /* <prefix>idx:<n>, then
                                                idx:gen and idx:lock */
    ngx_thread_pool_t           *thread_pool;
    ngx_thread_pool_t           *list_thread_pool;
    ngx_http_woportal_store_t   *store;
    ngx_str_t                    persist;   /* the SQLite file; "": off */
    ngx_http_woportal_backend_t *persist_backend;
    ngx_http_woportal_db_t      *db;        /* NULL: no persistence */
    ngx_msec_t                   persist_timeout;
    ngx_uint_t                   persist_mode;  /* NGX_HTTP_WOPORTAL_ASYNC */
    ngx_uint_t                   persist_queue;

    ngx_array_t                 *api_keys;  /* of key_t */
    ngx_str_t                    api_key_header;

    size_t                       max_body_size;

    ngx_array_t                 *cors_origins; /* of ngx_str_t; NULL: off */
    time_t                       retry_after;

    ngx_flag_t                   errors;    /* woportal_error */

    /* where "woportal" is, for checks made once the http block is read */
    ngx_str_t                    file;
    ngx_uint_t                   line;
} ngx_http_woportal_loc_conf_t;


typedef enum {
    NGX_HTTP_WOPORTAL_STORE_GET = 0,     /* value, flags and CAS */
    NGX_HTTP_WOPORTAL_STORE_ADD,         /* only if the key is free */
    NGX_HTTP_WOPORTAL_STORE_CAS,         /* only if the CAS still holds */
    NGX_HTTP_WOPORTAL_STORE_DELETE,
    NGX_HTTP_WOPORTAL_STORE_RUN,         /* call->run, in the pool thread */
    NGX_HTTP_WOPORTAL_STORE_COUNT
} ngx_http_woportal_store_op_e;


/* libmemcached's handle, for the functions that run in pool threads */
typedef struct memcached_st  ngx_http_woportal_mc_t;

typedef struct ngx_http_woportal_call_s  ngx_http_woportal_call_t;

typedef void (*ngx_http_woportal_call_done_pt)(ngx_http_woportal_call_t *call);

/* runs in a pool thread: NGX_OK, NGX_ABORT (a corrupt value), NGX_ERROR */
typedef ngx_int_t (*ngx_http_woportal_run_pt)(ngx_http_woportal_call_t *call,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log);

/* a value of a multi-get, in a pool thread */
typedef ngx_int_t (*ngx_http_woportal_mget_pt)(void *data, u_char *key,
    size_t key_len, u_char *value, size_t len, uint32_t flags, uint64_t cas);

/*
 * One store operation.  The pool thread reads the "in" fields and writes
 * the "thread" fields only; everything else is touched on the event loop.
 */
struct ngx_http_woportal_call_s {
    ngx_http_request_t            *request;
    ngx_http_woportal_call_done_pt done;
    ngx_thread_task_t             *task;      /* run: a task of its own */
    ngx_http_woportal_call_t      *next;      /* in a batch (store.c) */
    ngx_event_t                    busy;      /* while the task runs */

    /* in */
    ngx_http_woportal_store_t     *store;
    ngx_http_woportal_store_op_e   op;
    ngx_str_t                      key;
    ngx_str_t                      value;     /* add, cas */
    uint32_t                       flags;     /* add, cas */
    ngx_http_woportal_run_pt       run;       /* run */
    void                          *data;      /* run */

    /* in: the change's SQL side; get: where a miss is read through */
    ngx_http_woportal_persist_t   *persist;

    /* in: the change to queue for the database once memcached has it */
    ngx_http_woportal_persist_t   *later;

    /*
     * in (add, cas, delete): the index record the write appends to the
     * index shard index_key once it succeeded; no record, no append.
     */
    ngx_str_t                      index_key;
    ngx_str_t                      record;
    ngx_str_t                     *index_gen; /* persistence: the marks
                                                 of a whole index */
    ngx_str_t                     *distrust;  /* commit.c: an index to
                                                 rebuild */
    ngx_thread_pool_t             *task_pool; /* commit.c */
    uint64_t                       lease;     /* commit.c: a change's */
    unsigned                       cached:1;  /* commit.c: a deletion's
                                                 entry was in memcached */

    /*
     * in (cas) and out (get): the CAS of the item.
     * out, on the event loop: result NGX_OK; NGX_DECLINED when the key is
     * missing (get, cas, delete) or taken (add); NGX_BUSY when the CAS
     * no longer holds; NGX_ERROR when the store is unavailable.
     */
    uint64_t                       cas;
    ngx_int_t                      result;
    ngx_str_t                      fetched;   /* get: from r->pool */
    uint32_t                       fetched_flags;

    /* thread */
    int                            rc;
    const char                    *rc_text;
    ngx_int_t                      index_rc;  /* the append: NGX_OK... */
    char                          *mc_value;  /* malloc()ed */
    size_t                         mc_value_len;

    uint64_t                       posted;    /* us of metrics_clock() */
};


typedef struct {
    ngx_http_woportal_route_t     route;
    ngx_http_woportal_op_e        op;
    ngx_http_woportal_key_t      *key;       /* the request's API key */
    ngx_http_woportal_entry_t     entry;
    ngx_http_woportal_entry_t     patch;     /* what an update sends */
    ngx_http_woportal_call_t      call;
    ngx_http_woportal_persist_t   persist;
    ngx_str_t                     json;      /* the response body */
    ngx_str_t                     location;  /* Location of a 201 */
    ngx_str_t                     allow;     /* Allow of 405 and OPTIONS */
    ngx_uint_t                    attempts;
    uint64_t                      expected;  /* a conditional delete */
    uint64_t                      store_us;  /* $woportal_store_time */
    ngx_http_woportal_code_e      error;     /* $woportal_error, if failed */

    ngx_buf_t                    *envelope;  /* replaces nginx's page */
    unsigned                      gone:1;    /* delete marker stored */
    unsigned                      own_response:1;
    unsigned                      envelope_sent:1;
    unsigned                      stored:1;  /* a store call was made */
    unsigned                      failed:1;  /* an error envelope */
} ngx_http_woportal_ctx_t;


extern ngx_module_t  ngx_http_woportal_module;


/* handler.c */
ngx_int_t ngx_http_woportal_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_woportal_call(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx, ngx_http_woportal_store_op_e op,
    ngx_http_woportal_call_done_pt done);
ngx_int_t ngx_http_woportal_post_call(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx, ngx_http_woportal_store_op_e op,
    ngx_http_woportal_call_done_pt done);
ngx_int_t ngx_http_woportal_stored_entry(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx);
ngx_int_t ngx_http_woportal_not_stored(ngx_http_request_t *r, ngx_int_t rc);
ngx_int_t ngx_http_woportal_etag_matches(ngx_table_elt_t *h,
    uint64_t version, ngx_uint_t weak);
ngx_int_t ngx_http_woportal_unavailable(ngx_http_request_t *r);
ngx_int_t ngx_http_woportal_not_found(ngx_http_request_t *r);
void ngx_http_woportal_finish(ngx_http_request_t *r, ngx_int_t rc);

/* get.c, create.c, modify.c: the operations */
ngx_int_t ngx_http_woportal_get(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx);
ngx_int_t ngx_http_woportal_create(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx);
ngx_int_t ngx_http_woportal_modify(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx);
ngx_int_t ngx_http_woportal_delete(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx);

/* list.c */
ngx_int_t ngx_http_woportal_list(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx);

/* query.c */
ngx_int_t ngx_http_woportal_list_query(ngx_pool_t *pool, ngx_str_t *args,
    ngx_http_woportal_query_t *q, ngx_http_woportal_error_t *err);

/* index.c */
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
ngx_int_t ngx_http_woportal_index_live(ngx_pool_t *pool, ngx_array_t *recs,
    ngx_uint_t shard, size_t len, ngx_str_t *out);
ngx_int_t ngx_http_woportal_index_compact(ngx_pool_t *pool,
    ngx_str_t *value, ngx_str_t *out);
ngx_int_t ngx_http_woportal_hex_decode(u_char *dst, u_char *src, size_t len);

/* route.c */
void ngx_http_woportal_route(ngx_str_t *base, ngx_str_t *uri,
    ngx_http_woportal_route_t *rt);

/* auth.c */
ngx_http_woportal_key_t *ngx_http_woportal_authorized(ngx_http_request_t *r,
    ngx_http_woportal_loc_conf_t *wlcf);
ngx_int_t ngx_http_woportal_auth_add_key(ngx_conf_t *cf, ngx_array_t *keys,
    ngx_str_t *key, ngx_str_t *name);
ngx_int_t ngx_http_woportal_auth_read_keys(ngx_conf_t *cf, ngx_array_t *keys,
    ngx_str_t *file);
ngx_int_t ngx_http_woportal_auth_sort(ngx_conf_t *cf, ngx_array_t *keys);
ngx_uint_t ngx_http_woportal_key_allows(ngx_http_woportal_key_t *key,
    u_char *ns, size_t len);
ngx_uint_t ngx_http_woportal_key_sees(ngx_http_woportal_key_t *key,
    ngx_array_t *namespaces);
ngx_int_t ngx_http_woportal_key_writes(ngx_pool_t *pool,
    ngx_http_woportal_ctx_t *ctx, ngx_http_woportal_entry_t *e,
    ngx_http_woportal_error_t *err);
ngx_int_t ngx_http_woportal_key_replaces(ngx_pool_t *pool,
    ngx_http_woportal_ctx_t *ctx, ngx_http_woportal_error_t *err);
ngx_table_elt_t *ngx_http_woportal_header_in(ngx_http_request_t *r,
    ngx_str_t *name, ngx_uint_t *n);

/* body.c */
ngx_int_t ngx_http_woportal_is_json(ngx_http_request_t *r);
ngx_int_t ngx_http_woportal_body(ngx_http_request_t *r, ngx_str_t *body);

/* decode.c */
ngx_int_t ngx_http_woportal_decode(ngx_pool_t *pool, ngx_str_t *json,
    ngx_http_woportal_doc_e doc, ngx_http_woportal_entry_t *e,
    ngx_http_woportal_error_t *err);

/* entry.c */
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

/* encode.c */
extern ngx_str_t  ngx_http_woportal_codes[];
yajl_gen ngx_http_woportal_gen(ngx_pool_t *pool);
void ngx_http_woportal_yajl_funcs(ngx_pool_t *pool, void *funcs);
ngx_int_t ngx_http_woportal_encode_entry(ngx_pool_t *pool,
    ngx_http_woportal_entry_t *e, ngx_str_t *envelope, ngx_str_t *data);
ngx_int_t ngx_http_woportal_encode_error(ngx_pool_t *pool,
    ngx_http_woportal_error_t *err, ngx_str_t *out);
ngx_int_t ngx_http_woportal_encode_success(ngx_pool_t *pool,
    ngx_str_t *out);
ngx_int_t ngx_http_woportal_encode_list(ngx_pool_t *pool, ngx_str_t *items,
    ngx_uint_t n, ngx_http_woportal_paging_t *paging, ngx_str_t *out);

/* store.c */
void ngx_http_woportal_store_free(void *mc);
ngx_int_t ngx_http_woportal_store_post(ngx_http_woportal_call_t *call,
    ngx_thread_pool_t *tp);
ngx_int_t ngx_http_woportal_store_mget(ngx_http_woportal_mc_t *mc,
    ngx_str_t *keys, ngx_uint_t n, ngx_http_woportal_mget_pt handler,
    void *data, ngx_log_t *log);
ngx_int_t ngx_http_woportal_store_append(ngx_http_woportal_mc_t *mc,
    ngx_str_t *key, ngx_str_t *record, ngx_uint_t create, ngx_log_t *log);
ngx_int_t ngx_http_woportal_store_merge(ngx_http_woportal_mc_t *mc,
    ngx_str_t *key, ngx_str_t *records, ngx_log_t *log);
ngx_int_t ngx_http_woportal_store_fetch(ngx_http_woportal_mc_t *mc,
    ngx_str_t *key, ngx_str_t *value, uint32_t *flags, uint64_t *cas,
    ngx_log_t *log);
typedef ngx_int_t (*ngx_http_woportal_dump_pt)(void *data, ngx_str_t *key);

ngx_int_t ngx_http_woportal_store_dump(ngx_http_woportal_mc_t *mc,
    ngx_str_t *prefix, ngx_msec_t timeout, ngx_http_woportal_dump_pt handler,
    void *data, ngx_log_t *log);
ngx_int_t ngx_http_woportal_store_cas(ngx_http_woportal_mc_t *mc,
    ngx_str_t *key, ngx_str_t *value, uint32_t flags, time_t exptime,
    uint64_t cas, ngx_log_t *log);
ngx_int_t ngx_http_woportal_store_distrust(ngx_http_woportal_mc_t *mc,
    ngx_str_t *gen, ngx_log_t *log);
ngx_http_woportal_mc_t *ngx_http_woportal_store_conn(
    ngx_http_woportal_store_t *store);
ngx_int_t ngx_http_woportal_store_task(ngx_http_woportal_call_t *call,
    ngx_thread_pool_t *tp, void (*handler)(void *data, ngx_log_t *log),
    ngx_event_handler_pt done);
void ngx_http_woportal_store_wait(ngx_http_woportal_call_t *call);
void ngx_http_woportal_store_health(ngx_http_woportal_call_t *call);
ngx_uint_t ngx_http_woportal_store_stale(ngx_http_woportal_call_t *call);
void ngx_http_woportal_store_complete(ngx_http_woportal_call_t *call);
ngx_int_t ngx_http_woportal_store_put(ngx_http_woportal_mc_t *mc,
    ngx_str_t *key, ngx_str_t *value, uint32_t flags, ngx_uint_t add,
    time_t exptime, ngx_log_t *log);
ngx_int_t ngx_http_woportal_store_replace(ngx_http_woportal_mc_t *mc,
    ngx_str_t *key, ngx_str_t *value, uint64_t cas, ngx_log_t *log);
ngx_str_t *ngx_http_woportal_store_server_keys(ngx_http_woportal_mc_t *mc,
    ngx_str_t *base, ngx_pool_t *pool, ngx_uint_t *n);

/* persist.c: in pool threads, but for init, exit and persist_post() */
ngx_int_t ngx_http_woportal_persist_post(ngx_http_request_t *r,
    ngx_http_woportal_ctx_t *ctx, ngx_http_woportal_store_op_e op);
ngx_int_t ngx_http_woportal_db_init(ngx_uint_t nstores, ngx_array_t *dbs);
void ngx_http_woportal_db_free(ngx_uint_t i, void *conn);
ngx_int_t ngx_http_woportal_db_begin(ngx_http_woportal_db_t *db,
    ngx_log_t *log);
ngx_int_t ngx_http_woportal_db_end(ngx_http_woportal_db_t *db,
    ngx_uint_t commit, ngx_log_t *log);
ngx_int_t ngx_http_woportal_db_put(ngx_http_woportal_db_t *db,
    ngx_http_woportal_persist_t *p, ngx_log_t *log);
ngx_int_t ngx_http_woportal_db_delete(ngx_http_woportal_db_t *db,
    ngx_http_woportal_persist_t *p, ngx_log_t *log);
ngx_int_t ngx_http_woportal_db_load(ngx_http_woportal_db_t *db,
    ngx_str_t *prefix, u_char *id, ngx_str_t *doc, ngx_log_t *log);
ngx_int_t ngx_http_woportal_db_scan(ngx_http_woportal_db_t *db,
    ngx_str_t *prefix, ngx_http_woportal_scan_pt handler, void *data,
    ngx_log_t *log);
ngx_int_t ngx_http_woportal_db_commit(ngx_http_woportal_db_t *db,
    ngx_http_woportal_persist_t **ps, ngx_int_t *rcs, ngx_uint_t n,
    ngx_log_t *log);
ngx_int_t ngx_http_woportal_db_read_through(ngx_http_woportal_mc_t *mc,
    ngx_http_woportal_persist_t *p, ngx_str_t *key, ngx_str_t *value,
    uint32_t *flags, uint64_t *cas, ngx_log_t *log);

/* commit.c: the writes of woportal_persist_mode sync, committed together */
ngx_int_t ngx_http_woportal_commit_post(ngx_http_woportal_call_t *call,
    ngx_thread_pool_t *tp);

/* async.c: the queue of woportal_persist_mode async */
ngx_uint_t ngx_http_woportal_async_room(ngx_http_woportal_db_t *db,
    ngx_uint_t max);
ngx_int_t ngx_http_woportal_async_queue(ngx_http_woportal_persist_t *p,
    ngx_thread_pool_t *tp, ngx_uint_t max, ngx_log_t *log);
void ngx_http_woportal_async_exit(ngx_cycle_t *cycle);

/* threads.c */
typedef void (*ngx_http_woportal_release_pt)(ngx_uint_t i, void *handle);

ngx_int_t ngx_http_woportal_slots_init(ngx_cycle_t *cycle, ngx_uint_t n);
void **ngx_http_woportal_slot(ngx_uint_t i);
void ngx_http_woportal_slots_exit(ngx_http_woportal_release_pt release);

/* response.c */
ngx_http_woportal_ctx_t *ngx_http_woportal_get_ctx(ngx_http_request_t *r);
ngx_int_t ngx_http_woportal_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *json, uint64_t version);
ngx_int_t ngx_http_woportal_send_error(ngx_http_request_t *r,
    ngx_uint_t status, ngx_http_woportal_code_e code, char *message);
ngx_int_t ngx_http_woportal_send_errors(ngx_http_request_t *r,
    ngx_http_woportal_error_t *err);
ngx_int_t ngx_http_woportal_filter_init(ngx_conf_t *cf);
ngx_int_t ngx_http_woportal_error_handler(ngx_http_request_t *r);

/* id.c */
ngx_int_t ngx_http_woportal_id_init(ngx_cycle_t *cycle);
void ngx_http_woportal_id_next(u_char *id);
ngx_int_t ngx_http_woportal_id_valid(ngx_str_t *id);

/* metrics.c: the shared counters; the hooks never fail nor block */
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
void ngx_http_woportal_metrics_done(ngx_http_woportal_call_t *call);
void ngx_http_woportal_metrics_sql(ngx_http_woportal_dbcall_e call,
    uint64_t start, ngx_int_t rc);
void ngx_http_woportal_metrics_index(size_t bytes);
void ngx_http_woportal_metrics_compacted(void);
ngx_int_t ngx_http_woportal_metrics_handler(ngx_http_request_t *r);

/* variables.c */
ngx_int_t ngx_http_woportal_add_variables(ngx_conf_t *cf);
extern ngx_str_t  ngx_http_woportal_request_ops[];
void ngx_http_woportal_set_error(ngx_http_request_t *r,
    ngx_http_woportal_code_e code);

/* openapi.c */
ngx_int_t ngx_http_woportal_openapi(ngx_http_request_t *r,
    ngx_http_woportal_loc_conf_t *wlcf, ngx_http_woportal_ctx_t *ctx);

/* check.c */
char *ngx_http_woportal_endpoint(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_woportal_check_endpoints(ngx_conf_t *cf);
ngx_int_t ngx_http_woportal_check_location(ngx_conf_t *cf,
    ngx_http_woportal_loc_conf_t *wlcf);
ngx_int_t ngx_http_woportal_check_memcached(ngx_conf_t *cf,
    ngx_str_t *config);
char *ngx_http_woportal_check_enum(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_woportal_cors_origins(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_woportal_check_conninfo(ngx_conf_t *cf,
    ngx_str_t *conninfo);

/* health.c */
ngx_int_t ngx_http_woportal_health_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_WOPORTAL_H_INCLUDED_ */
