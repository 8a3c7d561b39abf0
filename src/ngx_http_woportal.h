
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

/*
 * Little-endian integers, in whatever alignment: the index records
 * (index.c) and the header of an entry's value (value.c)
 */

static ngx_inline void
ngx_http_woportal_put16(u_char *p, uint16_t v)
{
    p[0] = (u_char) v;
    p[1] = (u_char) (v >> 8);
}


static ngx_inline void
ngx_http_woportal_put32(u_char *p, uint32_t v)
{
    ngx_uint_t  i;

    for (i = 0; i < 4; i++) {
        p[i] = (u_char) (v >> (8 * i));
    }
}


static ngx_inline void
ngx_http_woportal_put64(u_char *p, uint64_t v)
{
    ngx_http_woportal_put32(p, (uint32_t) v);
    ngx_http_woportal_put32(p + 4, (uint32_t) (v >> 32));
}


static ngx_inline uint16_t
ngx_http_woportal_get16(u_char *p)
{
    return (uint16_t) (p[0] | (p[1] << 8));
}


static ngx_inline uint32_t
ngx_http_woportal_get32(u_char *p)
{
    uint32_t    v;
    ngx_uint_t  i;

    v = 0;

    for (i = 0; i < 4; i++) {
        v |= (uint32_t) p[i] << (8 * i);
    }

    return v;
}


static ngx_inline uint64_t
ngx_http_woportal_get64(u_char *p)
{
    return ngx_http_woportal_get32(p)
           | (uint64_t) ngx_http_woportal_get32(p + 4) << 32;
}


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

/* memcached item flags: the stored format of an entry, plain JSON */
#define NGX_HTTP_WOPORTAL_FORMAT_JSON        1
/* an entry being deleted: counts as missing */
#define NGX_HTTP_WOPORTAL_FORMAT_GONE        2
/* a shard of the list index (index.c) */
#define NGX_HTTP_WOPORTAL_FORMAT_INDEX       3
/* a reader's lease on a missing entry, filled from SQL (db.c) */
#define NGX_HTTP_WOPORTAL_FORMAT_LEASE       4
/* an entry: a header, then its JSON (value.c); FORMAT_JSON is still read */
#define NGX_HTTP_WOPORTAL_FORMAT_ENTRY       5
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


/* the "paging" of a list answer */
typedef struct {
    uint64_t                     page;
    uint64_t                     per_page;
    uint64_t                     total;
    uint64_t                     total_pages;
} ngx_http_woportal_paging_t;


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
    void                        *client;    /* memcached: mc.c's, run by
                                               each worker: its state */
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
    uint64_t                     version;   /* put: the entry's; 0: a
                                               delete */
    ngx_str_t                    doc;       /* put: the stored JSON */
    uint64_t                     expected;  /* delete: only at this
                                               version or older; 0: any */
    unsigned                     create:1;  /* put: a new entry */
} ngx_http_woportal_persist_t;


typedef ngx_int_t (*ngx_http_woportal_scan_pt)(void *data, ngx_str_t *doc);


/*
 * A database's calls, in pool threads (db.c): each takes the
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
    ngx_str_t                   *index_keys; /* <prefix>idx:<n>, by
                                                shard */
    ngx_str_t                    index_gen;  /* <prefix>idx:gen: the base
                                                of the marks (index.c) */
    ngx_str_t                    index_lock; /* <prefix>idx:lock: the
                                                rebuild's (list.c) */
    ngx_str_t                   *index_counts; /* a server's change count
                                                  (index_cache.c) */
    ngx_array_t                 *index_marks;  /* of ngx_str_t: a server's
                                                  idx:gen:<k>, by server;
                                                  len 0: none found */
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


/*
 * What a store call came to (libmc.c's libmc_outcome() says it of a
 * libmemcached return code): store.c's completion, health.c and
 * metrics.c read it, none classifies a return code itself
 */
typedef enum {
    NGX_HTTP_WOPORTAL_OUTCOME_OK = 0,
    NGX_HTTP_WOPORTAL_OUTCOME_MISSING,      /* no such item */
    NGX_HTTP_WOPORTAL_OUTCOME_NOT_STORED,   /* add: the key is taken; cas:
                                               the item is gone */
    NGX_HTTP_WOPORTAL_OUTCOME_EXISTS,       /* add: the key is taken; cas,
                                               conditional delete: changed
                                               since */
    NGX_HTTP_WOPORTAL_OUTCOME_UNAVAILABLE   /* memcached (or the database)
                                               failed: 503 */
} ngx_http_woportal_outcome_e;


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

typedef struct ngx_http_woportal_mc_client_s  ngx_http_woportal_mc_client_t;
typedef struct ngx_http_woportal_mc_op_s  ngx_http_woportal_mc_op_t;

typedef void (*ngx_http_woportal_mc_handler_pt)(ngx_http_woportal_mc_op_t *op);

/* one memcached request; the caller owns it until its handler runs */
struct ngx_http_woportal_mc_op_s {
    /* in */
    ngx_uint_t                       opcode;
    ngx_str_t                        key;
    ngx_str_t                        value;     /* set, add, append */
    uint32_t                         flags;     /* set, add */
    uint32_t                         exptime;   /* set, add */
    uint64_t                         cas;       /* set, delete; 0: any */
    uint64_t                         initial;   /* increment: if none */
    ngx_http_woportal_mc_op_t       *after;     /* framed right behind it,
                                                   on its connection */
    ngx_pool_t                      *pool;      /* get: value_out's */
    ngx_log_t                       *log;
    ngx_http_woportal_mc_handler_pt  handler;
    void                            *data;
    ngx_uint_t                       index;     /* the caller's */

    /*
     * out: rc NGX_OK, an answer with its status; NGX_ERROR, none (error
     * says why)
     */
    ngx_int_t                        rc;
    ngx_uint_t                       status;
    ngx_str_t                        value_out; /* get */
    uint32_t                         flags_out; /* get */
    uint64_t                         cas_out;
    const char                      *error;

    /* mc.c */
    ngx_queue_t                      queue;
    ngx_event_t                      timer;
    void                            *server;
    void                            *conn;
    uint64_t                         start;     /* bytes framed before */
    uint64_t                         end;       /* and with it */
    uint32_t                         opaque;
    unsigned                         quiet:1;   /* answered if it fails */
    unsigned                         retried:1;
    unsigned                         sent:1;
};


/*
 * A store call.  A request has one (ctx->call), used again for each of
 * its round trips: modify.c's get, then its cas, and again after a lost
 * cas.  What lives across them: request, store, key (its buffer is made
 * once), cas (the get's answer is the cas's condition) and the index
 * fields (index_prepare() sets them before a write).  Everything else is
 * set anew for each call: op, done, persist and later by post_call()
 * (request.c), value and flags by the operation, the "out" and "thread"
 * fields by store.c and commit.c.  The pool thread reads the "in" fields
 * and writes the "thread" fields only; everything else is touched on the
 * event loop.
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
    ngx_str_t                      index_count; /* its server's change
                                                   count (index_cache.c) */
    ngx_array_t                   *index_marks; /* the index's marks
                                                   (wlcf->index_marks) */
    ngx_array_t                   *distrust;  /* commit.c: an index to
                                                 rebuild: its marks */
    ngx_thread_pool_t             *task_pool; /* commit.c; store.c: a
                                                 native call's fallback */
    ngx_http_woportal_mc_op_t      mc;        /* store.c: on the event
                                                 loop */
    ngx_http_woportal_mc_op_t      bump;      /* store_append(): the
                                                 change count's */
    ngx_http_woportal_mc_handler_pt appended;
    ngx_uint_t                     appending; /* ops in flight */
    unsigned                       bump_failed:1;
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


/*
 * Where a request stands (ctx->state; request.c sets log->action with
 * it): its path through handler.c and the operations is in
 * DEVELOPING.md, "Architecture".
 */
typedef enum {
    NGX_HTTP_WOPORTAL_STATE_ROUTE = 0,   /* handler.c: route, key, method */
    NGX_HTTP_WOPORTAL_STATE_READ_BODY,   /* nginx reads the body */
    NGX_HTTP_WOPORTAL_STATE_DECODE_BODY, /* decode.c, the key's namespaces */

    /* a store call on the entry; a write's index record is appended in it */
    NGX_HTTP_WOPORTAL_STATE_STORE_GET,
    NGX_HTTP_WOPORTAL_STATE_STORE_ADD,   /* a create */
    NGX_HTTP_WOPORTAL_STATE_STORE_CAS,   /* a change */
    NGX_HTTP_WOPORTAL_STATE_STORE_DELETE,

    NGX_HTTP_WOPORTAL_STATE_LIST_CHECK,  /* what of the index changed */
    NGX_HTTP_WOPORTAL_STATE_STORE_RUN,   /* a list, in a pool thread */
    NGX_HTTP_WOPORTAL_STATE_ANSWER       /* a call ended: the answer */
} ngx_http_woportal_state_e;


typedef struct {
    ngx_http_woportal_state_e     state;
    ngx_http_woportal_route_t     route;
    ngx_str_t                     id;        /* the entry: the route's id,
                                                or a create's new one */
    ngx_http_woportal_op_e        op;
    ngx_http_woportal_key_t      *key;       /* the request's API key */
    ngx_http_woportal_entry_t     entry;
    ngx_http_woportal_entry_t     patch;     /* what an update sends */
    ngx_http_woportal_call_t      call;
    ngx_http_woportal_call_done_pt done;     /* the operation's, for the
                                                call's end (request.c) */
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


/*
 * A request's context, made on first use: by the handler, or by the
 * response filter for an answer nginx makes before the handler runs
 */

static ngx_inline ngx_http_woportal_ctx_t *
ngx_http_woportal_get_ctx(ngx_http_request_t *r)
{
    ngx_http_woportal_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_woportal_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_woportal_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_woportal_module);
    }

    return ctx;
}


#endif /* _NGX_HTTP_WOPORTAL_H_INCLUDED_ */
