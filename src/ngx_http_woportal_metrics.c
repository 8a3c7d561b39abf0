
/*
 * Metrics: counters in one shared memory zone, so that every worker adds
 * to the same set, served in Prometheus's text format by a location with
 * "woportal_metrics".
 *
 * The zone ("woportal_metrics") is made when the http block has a
 * woportal location; it keeps its counters across reloads.  Every update
 * is one atomic add, from the event loop or a pool thread alike: no lock.
 *
 * The hooks: the store calls of requests (store.c: posted, done), the SQL
 * calls (db.c), the index shards read by lists (list.c) and their
 * compactions (store.c); the requests themselves are counted in the log
 * phase, by operation and status.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_metrics.h"
#include "ngx_http_woportal_variables.h"
#include "ngx_http_woportal_version.h"


/* latency buckets, in microseconds; the last one is +Inf */
#define NGX_HTTP_WOPORTAL_BUCKETS       15

/* statuses 100 to 599 by their number; anything else in slot 0 */
#define NGX_HTTP_WOPORTAL_STATUSES      600

/* an ngx_sprintf() of one line of the output fits in this */
#define NGX_HTTP_WOPORTAL_LINE_MAX      256


typedef struct {
    ngx_atomic_t                  bucket[NGX_HTTP_WOPORTAL_BUCKETS + 1];
    ngx_atomic_t                  sum;      /* us */
} ngx_http_woportal_histogram_t;


typedef struct {
    ngx_atomic_t                  requests[NGX_HTTP_WOPORTAL_OP_COUNT]
                                          [NGX_HTTP_WOPORTAL_STATUSES];
    ngx_http_woportal_histogram_t store[NGX_HTTP_WOPORTAL_STORE_COUNT];
    ngx_atomic_t                  store_errors[NGX_HTTP_WOPORTAL_STORE_COUNT];
    ngx_atomic_t                  in_flight;
    ngx_http_woportal_histogram_t sql[NGX_HTTP_WOPORTAL_DBCALL_COUNT];
    ngx_atomic_t                  sql_errors[NGX_HTTP_WOPORTAL_DBCALL_COUNT];
    ngx_atomic_t                  index_bytes;
    ngx_atomic_t                  index_read_bytes;
    ngx_atomic_t                  index_reads;
    ngx_atomic_t                  compactions;
} ngx_http_woportal_metrics_t;


/* the text being made: buffers added as it grows */
typedef struct {
    ngx_http_request_t           *request;
    ngx_chain_t                  *out;
    ngx_chain_t                 **last;
    ngx_buf_t                    *b;
    off_t                         size;
} ngx_http_woportal_text_t;


static ngx_int_t ngx_http_woportal_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_woportal_metrics_log(ngx_http_request_t *r);
static void ngx_http_woportal_observe(ngx_http_woportal_histogram_t *h,
    uint64_t us);
static ngx_int_t ngx_http_woportal_metrics_text(ngx_http_woportal_text_t *t,
    ngx_http_woportal_metrics_t *m);
static ngx_int_t ngx_http_woportal_histogram_text(ngx_http_woportal_text_t *t,
    char *name, char *help, char *label, ngx_str_t *values,
    ngx_http_woportal_histogram_t *h, ngx_uint_t n);
static ngx_int_t ngx_http_woportal_counters_text(ngx_http_woportal_text_t *t,
    char *name, char *help, char *label, ngx_str_t *values,
    ngx_atomic_t *counters, ngx_uint_t n);
static ngx_int_t ngx_http_woportal_printf(ngx_http_woportal_text_t *t,
    const char *fmt, ...);


static ngx_http_woportal_metrics_t  *ngx_http_woportal_metrics;


static uint64_t  ngx_http_woportal_bounds[NGX_HTTP_WOPORTAL_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
    250000, 500000, 1000000, 2500000, 5000000
};

static char  *ngx_http_woportal_le[NGX_HTTP_WOPORTAL_BUCKETS + 1] = {
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01",
    "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"
};

/* by ngx_http_woportal_store_op_e: "run" is a list (or a health check) */
static ngx_str_t  ngx_http_woportal_store_ops[] = {
    ngx_string("get"),
    ngx_string("add"),
    ngx_string("cas"),
    ngx_string("delete"),
    ngx_string("run")
};

/* by ngx_http_woportal_dbcall_e */
static ngx_str_t  ngx_http_woportal_sql_calls[] = {
    ngx_string("begin"),
    ngx_string("end"),
    ngx_string("put"),
    ngx_string("delete"),
    ngx_string("load"),
    ngx_string("scan")
};


/* postconfiguration: the zone and the log phase handler */

ngx_int_t
ngx_http_woportal_metrics_init(ngx_conf_t *cf)
{
    size_t                          size;
    ngx_str_t                       name;
    ngx_http_handler_pt            *h;
    ngx_http_core_main_conf_t      *cmcf;
    ngx_http_woportal_main_conf_t  *wmcf;

    wmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_woportal_module);

    if (wmcf->stores.nelts == 0) {
        /* no woportal location */
        return NGX_OK;
    }

    size = ngx_align(sizeof(ngx_http_woportal_metrics_t), ngx_pagesize)
           + 8 * ngx_pagesize;

    ngx_str_set(&name, "woportal_metrics");

    wmcf->metrics = ngx_shared_memory_add(cf, &name, size,
                                          &ngx_http_woportal_module);
    if (wmcf->metrics == NULL) {
        return NGX_ERROR;
    }

    wmcf->metrics->init = ngx_http_woportal_metrics_init_zone;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_woportal_metrics_log;

    return NGX_OK;
}


static ngx_int_t
ngx_http_woportal_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t              *shpool;
    ngx_http_woportal_metrics_t  *m;

    if (data) {
        /* a reload: the counters go on */
        shm_zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    m = ngx_slab_calloc(shpool, sizeof(ngx_http_woportal_metrics_t));
    if (m == NULL) {
        return NGX_ERROR;
    }

    shpool->data = m;
    shm_zone->data = m;

    return NGX_OK;
}


/*
 * In the worker, from its cycle: not in the zone's init, which runs in
 * the master for a configuration that may yet fail to load.
 */

void
ngx_http_woportal_metrics_init_process(ngx_http_woportal_main_conf_t *wmcf)
{
    ngx_http_woportal_metrics = wmcf->metrics ? wmcf->metrics->data : NULL;
}


/* microseconds of a monotonic clock: from any thread */

uint64_t
ngx_http_woportal_metrics_clock(void)
{
    struct timespec  ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        return 0;
    }

    return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


/* store.c: a store call was posted to the thread pool (at call->posted) */

void
ngx_http_woportal_metrics_posted(ngx_http_woportal_call_t *call)
{
    if (ngx_http_woportal_metrics) {
        (void) ngx_atomic_fetch_add(&ngx_http_woportal_metrics->in_flight, 1);
    }
}


/*
 * store.c: a call ended, us after its post, with this outcome: only an
 * unavailable store is an error (what store.c answers 503)
 */

void
ngx_http_woportal_metrics_done(ngx_http_woportal_store_op_e op, uint64_t us,
    ngx_http_woportal_outcome_e outcome)
{
    ngx_http_woportal_metrics_t  *m;

    m = ngx_http_woportal_metrics;

    if (m == NULL || op >= NGX_HTTP_WOPORTAL_STORE_COUNT) {
        return;
    }

    (void) ngx_atomic_fetch_add(&m->in_flight, -1);

    ngx_http_woportal_observe(&m->store[op], us);

    if (outcome == NGX_HTTP_WOPORTAL_OUTCOME_UNAVAILABLE) {
        (void) ngx_atomic_fetch_add(&m->store_errors[op], 1);
    }
}


/* db.c, in a pool thread: one SQL call, started at start */

void
ngx_http_woportal_metrics_sql(ngx_http_woportal_dbcall_e call, uint64_t start,
    ngx_int_t rc)
{
    uint64_t                      now;
    ngx_http_woportal_metrics_t  *m;

    m = ngx_http_woportal_metrics;

    if (m == NULL || call >= NGX_HTTP_WOPORTAL_DBCALL_COUNT) {
        return;
    }

    now = ngx_http_woportal_metrics_clock();

    ngx_http_woportal_observe(&m->sql[call], (now > start) ? now - start : 0);

    if (rc == NGX_ERROR) {
        (void) ngx_atomic_fetch_add(&m->sql_errors[call], 1);
    }
}


/*
 * list.c, in a pool thread: the size of the index a list listed from, and
 * the bytes of it the list read from memcached (what changed since its
 * worker's cache last read it; index_cache.c)
 */

void
ngx_http_woportal_metrics_index(size_t bytes, size_t read)
{
    ngx_http_woportal_metrics_t  *m;

    m = ngx_http_woportal_metrics;

    if (m == NULL) {
        return;
    }

    /* a gauge: the last list's wins */
    m->index_bytes = bytes;

    if (read) {
        (void) ngx_atomic_fetch_add(&m->index_read_bytes, read);
        (void) ngx_atomic_fetch_add(&m->index_reads, 1);
    }
}


/* index_store.c, in a pool thread: an index shard was rewritten */

void
ngx_http_woportal_metrics_compacted(void)
{
    if (ngx_http_woportal_metrics) {
        (void) ngx_atomic_fetch_add(&ngx_http_woportal_metrics->compactions,
                                    1);
    }
}


static void
ngx_http_woportal_observe(ngx_http_woportal_histogram_t *h, uint64_t us)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_WOPORTAL_BUCKETS; i++) {
        if (us <= ngx_http_woportal_bounds[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&h->bucket[i], 1);
    (void) ngx_atomic_fetch_add(&h->sum, (ngx_atomic_int_t) us);
}


/* the log phase: each request of a woportal location, by op and status */

static ngx_int_t
ngx_http_woportal_metrics_log(ngx_http_request_t *r)
{
    ngx_uint_t                     op, status;
    ngx_http_woportal_ctx_t       *ctx;
    ngx_http_woportal_loc_conf_t  *wlcf;

    if (ngx_http_woportal_metrics == NULL) {
        return NGX_OK;
    }

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_woportal_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_woportal_module);

    if (!wlcf->enable && ctx == NULL) {
        return NGX_OK;
    }

    op = (ctx && ctx->op < NGX_HTTP_WOPORTAL_OP_COUNT) ? ctx->op : 0;

    status = r->err_status ? r->err_status : r->headers_out.status;

    if (status < 100 || status >= NGX_HTTP_WOPORTAL_STATUSES) {
        status = 0;
    }

    (void) ngx_atomic_fetch_add(&ngx_http_woportal_metrics->requests[op]
                                                                 [status], 1);

    return NGX_OK;
}


/* GET <woportal_metrics location>: Prometheus's text format 0.0.4 */

ngx_int_t
ngx_http_woportal_metrics_handler(ngx_http_request_t *r)
{
    ngx_int_t                       rc;
    ngx_http_woportal_text_t        t;
    ngx_http_woportal_main_conf_t  *wmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_woportal_module);

    if (wmcf->metrics == NULL || wmcf->metrics->data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memzero(&t, sizeof(ngx_http_woportal_text_t));
    t.request = r;
    t.last = &t.out;

    if (ngx_http_woportal_metrics_text(&t, wmcf->metrics->data) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = t.size;
    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");
    r->headers_out.content_type_len = sizeof("text/plain") - 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    t.b->last_buf = (r == r->main) ? 1 : 0;
    t.b->last_in_chain = 1;

    return ngx_http_output_filter(r, t.out);
}


static ngx_int_t
ngx_http_woportal_metrics_text(ngx_http_woportal_text_t *t,
    ngx_http_woportal_metrics_t *m)
{
    ngx_uint_t  op, s;

    if (ngx_http_woportal_printf(t,
            "# HELP woportal_build_info The module's version and the "
            "nginx it was built with.\n"
            "# TYPE woportal_build_info gauge\n"
            "woportal_build_info{version=\"" NGX_HTTP_WOPORTAL_VERSION
            "\",nginx=\"" NGINX_VERSION "\"} 1\n")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_woportal_printf(t,
            "# HELP woportal_requests_total Requests answered by woportal "
            "locations, by operation (\"none\": refused before one was "
            "known) and status.\n"
            "# TYPE woportal_requests_total counter\n")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (op = 0; op < NGX_HTTP_WOPORTAL_OP_COUNT; op++) {
        for (s = 0; s < NGX_HTTP_WOPORTAL_STATUSES; s++) {

            if (m->requests[op][s] == 0) {
                continue;
            }

            if (ngx_http_woportal_printf(t,
                    "woportal_requests_total{op=\"%s\",status=\"%ui\"} "
                    "%uA\n",
                    op ? (char *) ngx_http_woportal_request_ops[op].data
                       : "none",
                    s, m->requests[op][s])
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    if (ngx_http_woportal_histogram_text(t, "woportal_store_call_seconds",
            "Store calls of requests, from their post to the thread pool "
            "to their completion.",
            "op", ngx_http_woportal_store_ops, m->store,
            NGX_HTTP_WOPORTAL_STORE_COUNT)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_woportal_counters_text(t, "woportal_store_errors_total",
            "Store calls that failed: memcached or the database could not "
            "be used.",
            "op", ngx_http_woportal_store_ops, m->store_errors,
            NGX_HTTP_WOPORTAL_STORE_COUNT)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_woportal_printf(t,
            "# HELP woportal_store_calls_in_flight Store calls posted to "
            "the thread pools and not yet finished, all workers.\n"
            "# TYPE woportal_store_calls_in_flight gauge\n"
            "woportal_store_calls_in_flight %A\n",
            (ngx_atomic_int_t) m->in_flight)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_woportal_histogram_text(t, "woportal_sql_call_seconds",
            "SQL calls, in the pool thread.",
            "call", ngx_http_woportal_sql_calls, m->sql,
            NGX_HTTP_WOPORTAL_DBCALL_COUNT)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_woportal_counters_text(t, "woportal_sql_errors_total",
            "SQL calls that failed.",
            "call", ngx_http_woportal_sql_calls, m->sql_errors,
            NGX_HTTP_WOPORTAL_DBCALL_COUNT)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_woportal_printf(t,
        "# HELP woportal_index_bytes Bytes of the list index the latest "
        "list listed from.\n"
        "# TYPE woportal_index_bytes gauge\n"
        "woportal_index_bytes %uA\n"
        "# HELP woportal_index_read_bytes_total Bytes of list index shards "
        "lists read from memcached.\n"
        "# TYPE woportal_index_read_bytes_total counter\n"
        "woportal_index_read_bytes_total %uA\n"
        "# HELP woportal_index_reads_total Lists that read index shards "
        "from memcached.\n"
        "# TYPE woportal_index_reads_total counter\n"
        "woportal_index_reads_total %uA\n"
        "# HELP woportal_index_compactions_total Index shards rewritten "
        "with their live records.\n"
        "# TYPE woportal_index_compactions_total counter\n"
        "woportal_index_compactions_total %uA\n",
        m->index_bytes, m->index_read_bytes, m->index_reads,
        m->compactions);
}


static ngx_int_t
ngx_http_woportal_histogram_text(ngx_http_woportal_text_t *t, char *name,
    char *help, char *label, ngx_str_t *values,
    ngx_http_woportal_histogram_t *h, ngx_uint_t n)
{
    ngx_uint_t         i, b;
    ngx_atomic_uint_t  count, sum;

    if (ngx_http_woportal_printf(t, "# HELP %s %s\n# TYPE %s histogram\n",
                                 name, help, name)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        count = 0;

        for (b = 0; b <= NGX_HTTP_WOPORTAL_BUCKETS; b++) {
            count += h[i].bucket[b];

            if (ngx_http_woportal_printf(t,
                    "%s_bucket{%s=\"%V\",le=\"%s\"} %uA\n",
                    name, label, &values[i], ngx_http_woportal_le[b], count)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        sum = h[i].sum;

        if (ngx_http_woportal_printf(t,
                "%s_sum{%s=\"%V\"} %uA.%06uA\n"
                "%s_count{%s=\"%V\"} %uA\n",
                name, label, &values[i], sum / 1000000, sum % 1000000,
                name, label, &values[i], count)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* a counter by one label, each value of it */

static ngx_int_t
ngx_http_woportal_counters_text(ngx_http_woportal_text_t *t, char *name,
    char *help, char *label, ngx_str_t *values, ngx_atomic_t *counters,
    ngx_uint_t n)
{
    ngx_uint_t  i;

    if (ngx_http_woportal_printf(t, "# HELP %s %s\n# TYPE %s counter\n",
                                 name, help, name)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        if (ngx_http_woportal_printf(t, "%s{%s=\"%V\"} %uA\n",
                                     name, label, &values[i], counters[i])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* appends one line (or a few short ones) to the text */

static ngx_int_t
ngx_http_woportal_printf(ngx_http_woportal_text_t *t, const char *fmt, ...)
{
    u_char       *p;
    va_list       args;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    b = t->b;

    if (b == NULL || b->end - b->last < 4 * NGX_HTTP_WOPORTAL_LINE_MAX) {
        b = ngx_create_temp_buf(t->request->pool, 16384);
        if (b == NULL) {
            return NGX_ERROR;
        }

        cl = ngx_alloc_chain_link(t->request->pool);
        if (cl == NULL) {
            return NGX_ERROR;
        }

        cl->buf = b;
        cl->next = NULL;

        *t->last = cl;
        t->last = &cl->next;
        t->b = b;
    }

    va_start(args, fmt);
    p = ngx_vslprintf(b->last, b->end, fmt, args);
    va_end(args);

    t->size += p - b->last;
    b->last = p;

    return NGX_OK;
}
