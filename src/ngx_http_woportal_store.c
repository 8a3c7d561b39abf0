
/*
 * The memcached store.  libmemcached blocks, so every call runs as a task
 * of an nginx thread pool, on a memcached_st that belongs to that pool
 * thread (made on first use, kept in the thread's slot: threads.c); the
 * request goes on from the task's completion event, on the event loop.
 *
 * The gets a worker posts while its event loop goes round once are one
 * task (a batch) and one multi-get: handing a task to a pool thread and
 * its completion back costs a few context switches, and under load they,
 * not memcached, were most of a get's price.  Writes keep a task each:
 * one after the other in one thread, a slow memcached or database would
 * make each wait for all those before it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <libmemcached/memcached.h>
#include "ngx_http_woportal.h"


/* the longest line of a key dump, with a key of 250 bytes URL-encoded */
#define NGX_HTTP_WOPORTAL_DUMP_LINE       4096

/* the most gets in one batch: one multi-get */
#define NGX_HTTP_WOPORTAL_BATCH_MAX       64

/*
 * The most batches of one pool and store in flight: the gets that come
 * meanwhile wait for one to complete, and go together.  Without a bound
 * a worker under load could settle into many small batches, each costing
 * the context switches that batching saves; with 1, a get waits at most
 * for the batch in flight, and the batches are the largest (measured
 * against 2 and 4: BENCHMARKS.md).
 */
#define NGX_HTTP_WOPORTAL_BATCH_INFLIGHT  1


typedef struct ngx_http_woportal_batch_s  ngx_http_woportal_batch_t;

/* the batches of a pool and a store, in one worker */
typedef struct ngx_http_woportal_lane_s  ngx_http_woportal_lane_t;

struct ngx_http_woportal_lane_s {
    ngx_thread_pool_t            *tp;
    ngx_http_woportal_store_t    *store;
    ngx_http_woportal_batch_t    *open;      /* taking calls */
    ngx_uint_t                    inflight;
    ngx_http_woportal_lane_t     *next;
};

struct ngx_http_woportal_batch_s {
    ngx_thread_task_t             task;
    ngx_event_t                   flush;     /* posted: the loop's end */
    ngx_http_woportal_lane_t     *lane;
    ngx_http_woportal_call_t     *first;
    ngx_http_woportal_call_t    **last;
    ngx_uint_t                    n;
    ngx_http_woportal_batch_t    *next;      /* free */
};


static ngx_http_woportal_batch_t *ngx_http_woportal_batch_get(
    ngx_thread_pool_t *tp, ngx_http_woportal_store_t *store);
static void ngx_http_woportal_batch_close(ngx_http_woportal_batch_t *b);
static void ngx_http_woportal_batch_flush(ngx_event_t *ev);
static void ngx_http_woportal_batch_thread(void *data, ngx_log_t *log);
static void ngx_http_woportal_batch_gets(memcached_st *mc,
    ngx_http_woportal_batch_t *b);
static void ngx_http_woportal_batch_done(ngx_event_t *ev);
static void ngx_http_woportal_store_thread(void *data, ngx_log_t *log);
static void ngx_http_woportal_store_call(memcached_st *mc,
    ngx_http_woportal_call_t *call, ngx_uint_t fetched, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_store_dump_server(
    const memcached_instance_st *server, u_char *buf, ngx_str_t *prefix,
    ngx_msec_t timeout, ngx_http_woportal_dump_pt handler, void *data,
    ngx_log_t *log);
static memcached_return_t ngx_http_woportal_store_get1(memcached_st *mc,
    ngx_str_t *k, char **value, size_t *value_len, uint32_t *flags,
    uint64_t *cas);
static memcached_return_t ngx_http_woportal_store_gets(memcached_st *mc,
    ngx_http_woportal_call_t *call);
static void ngx_http_woportal_store_event(ngx_event_t *ev);
static void ngx_http_woportal_store_busy(ngx_event_t *ev);
static void ngx_http_woportal_store_index(memcached_st *mc,
    ngx_http_woportal_call_t *call, ngx_log_t *log);
static memcached_return_t ngx_http_woportal_store_write(memcached_st *mc,
    ngx_http_woportal_call_t *call);
static memcached_return_t ngx_http_woportal_store_read_through(
    memcached_st *mc, ngx_http_woportal_call_t *call, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_store_compact(memcached_st *mc,
    ngx_str_t *key, ngx_str_t *record, ngx_uint_t create, ngx_uint_t merge,
    ngx_log_t *log);
static ngx_int_t ngx_http_woportal_store_value(void *data, u_char *key,
    size_t key_len, u_char *value, size_t len, uint32_t flags, uint64_t cas);


static char  *ngx_http_woportal_op_names[] = {
    "get", "add", "cas", "delete", "run"
};


/* the worker's lanes, and the batches done with */
static ngx_http_woportal_lane_t   *ngx_http_woportal_lanes;
static ngx_http_woportal_batch_t  *ngx_http_woportal_free_batches;


/* a value fetched for the thread, from its own pool */
typedef struct {
    ngx_pool_t                 *pool;
    ngx_str_t                   value;
    uint64_t                    cas;
    ngx_uint_t                  found;
} ngx_http_woportal_value_t;


/* at exit: a pool thread's handle (threads.c) */

void
ngx_http_woportal_store_free(void *mc)
{
    memcached_free(mc);
}


ngx_int_t
ngx_http_woportal_store_post(ngx_http_woportal_call_t *call,
    ngx_thread_pool_t *tp)
{
    ngx_http_woportal_batch_t  *b;

    call->rc = MEMCACHED_SUCCESS;
    call->rc_text = NULL;
    call->index_rc = NGX_OK;
    call->mc_value = NULL;
    call->mc_value_len = 0;
    call->fetched_flags = 0;

    /* before the post: the thread reads it (store_stale()) */
    call->posted = ngx_http_woportal_metrics_clock();

    if (call->op == NGX_HTTP_WOPORTAL_STORE_GET) {
        b = ngx_http_woportal_batch_get(tp, call->store);
        if (b == NULL) {
            return NGX_ERROR;
        }

        call->next = NULL;
        *b->last = call;
        b->last = &call->next;

        if (++b->n == NGX_HTTP_WOPORTAL_BATCH_MAX) {
            /* the next call starts another batch; this one goes now */
            ngx_http_woportal_batch_close(b);

            if (!b->flush.posted) {
                ngx_post_event(&b->flush, &ngx_posted_events);
            }
        }

        ngx_http_woportal_store_wait(call);

        return NGX_OK;
    }

    if (ngx_http_woportal_store_task(call, tp, ngx_http_woportal_store_thread,
                                     ngx_http_woportal_store_event)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_woportal_store_wait(call);

    return NGX_OK;
}


/*
 * A call's own task, posted with these handlers (commit.c posts it with
 * its own): NGX_OK, or NGX_ERROR when the pool's queue is full (nginx has
 * logged it).
 */

ngx_int_t
ngx_http_woportal_store_task(ngx_http_woportal_call_t *call,
    ngx_thread_pool_t *tp, void (*handler)(void *data, ngx_log_t *log),
    ngx_event_handler_pt done)
{
    ngx_thread_task_t  *task;

    task = call->task;

    if (task == NULL) {
        task = ngx_thread_task_alloc(call->request->pool, 0);
        if (task == NULL) {
            return NGX_ERROR;
        }

        task->ctx = call;
        task->event.data = call;

        call->task = task;
    }

    task->handler = handler;
    task->event.handler = done;

    return ngx_thread_task_post(tp, task);
}


/* a call is posted, alone or in a batch: its request waits for it */

void
ngx_http_woportal_store_wait(ngx_http_woportal_call_t *call)
{
    /* the request is not freed while the task uses it */
    call->request->main->blocked++;
    ngx_http_woportal_metrics_posted(call);

    /*
     * A worker shutting down (a reload) leaves once no timer is left but
     * cancelable ones, and a request waiting for its task has none: it
     * would be cut off unanswered.  This timer keeps the worker until
     * the task is done.
     */

    call->busy.handler = ngx_http_woportal_store_busy;
    call->busy.data = call;
    call->busy.log = call->request->connection->log;

    ngx_add_timer(&call->busy, 60000);
}


static void
ngx_http_woportal_store_busy(ngx_event_t *ev)
{
    /* the task is still running: wait on */
    ngx_add_timer(ev, 60000);
}


/* the open batch of a pool and a store, made when there is none */

static ngx_http_woportal_batch_t *
ngx_http_woportal_batch_get(ngx_thread_pool_t *tp,
    ngx_http_woportal_store_t *store)
{
    ngx_http_woportal_lane_t   *lane;
    ngx_http_woportal_batch_t  *b;

    for (lane = ngx_http_woportal_lanes; lane; lane = lane->next) {
        if (lane->tp == tp && lane->store == store) {
            break;
        }
    }

    if (lane == NULL) {
        lane = ngx_pcalloc(ngx_cycle->pool, sizeof(ngx_http_woportal_lane_t));
        if (lane == NULL) {
            return NULL;
        }

        lane->tp = tp;
        lane->store = store;
        lane->next = ngx_http_woportal_lanes;
        ngx_http_woportal_lanes = lane;
    }

    if (lane->open) {
        return lane->open;
    }

    b = ngx_http_woportal_free_batches;

    if (b) {
        ngx_http_woportal_free_batches = b->next;

    } else {
        /* as many as were ever in flight at once; reused */

        b = ngx_pcalloc(ngx_cycle->pool, sizeof(ngx_http_woportal_batch_t));
        if (b == NULL) {
            return NULL;
        }

        b->task.ctx = b;
        b->task.handler = ngx_http_woportal_batch_thread;
        b->task.event.data = b;
        b->task.event.handler = ngx_http_woportal_batch_done;

        b->flush.data = b;
        b->flush.handler = ngx_http_woportal_batch_flush;
        b->flush.log = ngx_cycle->log;
    }

    b->lane = lane;
    b->first = NULL;
    b->last = &b->first;
    b->n = 0;

    lane->open = b;

    if (lane->inflight < NGX_HTTP_WOPORTAL_BATCH_INFLIGHT) {
        /* once the event loop has handled all the events it was given */
        ngx_post_event(&b->flush, &ngx_posted_events);
    }

    /* otherwise when a batch in flight completes */

    return b;
}


static void
ngx_http_woportal_batch_close(ngx_http_woportal_batch_t *b)
{
    if (b->lane->open == b) {
        b->lane->open = NULL;
    }
}


static void
ngx_http_woportal_batch_flush(ngx_event_t *ev)
{
    ngx_http_woportal_batch_t *b = ev->data;

    ngx_http_woportal_call_t  *call;

    ngx_http_woportal_batch_close(b);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "woportal: a batch of %ui gets", b->n);

    b->lane->inflight++;

    if (ngx_thread_task_post(b->lane->tp, &b->task) == NGX_OK) {
        return;
    }

    /* the queue is full (nginx has logged it): every call fails, 503 */

    for (call = b->first; call; call = call->next) {
        call->rc = MEMCACHED_FAILURE;
        call->rc_text = "the thread pool's queue is full";
    }

    ngx_http_woportal_batch_done(&b->task.event);
}


/* runs in a pool thread: touches nothing but the calls and libmemcached */

static void
ngx_http_woportal_batch_thread(void *data, ngx_log_t *log)
{
    ngx_http_woportal_batch_t *b = data;

    memcached_st              *mc;
    ngx_http_woportal_call_t  *call;

    if (ngx_http_woportal_store_stale(b->first)) {
        /* the batch waited since its first call: all of it is answered */

        for (call = b->first->next; call; call = call->next) {
            call->rc = b->first->rc;
            call->rc_text = b->first->rc_text;
        }

        return;
    }

    mc = ngx_http_woportal_store_conn(b->lane->store);

    if (mc == NULL) {
        for (call = b->first; call; call = call->next) {
            call->rc = MEMCACHED_MEMORY_ALLOCATION_FAILURE;
            call->rc_text = "cannot create a libmemcached handle";
        }

        return;
    }

    if (b->n > 1) {
        ngx_http_woportal_batch_gets(mc, b);
    }

    /* then each get as alone: a miss is read through the database */

    for (call = b->first; call; call = call->next) {
        ngx_http_woportal_store_call(mc, call, b->n > 1, log);
    }
}


/*
 * The gets of a batch in one multi-get.  A key asked for twice (two
 * requests for one entry) comes back twice.  Should a server fail, every
 * get not answered yet fails with it: a missing value is never taken for
 * a missing entry.
 */

static void
ngx_http_woportal_batch_gets(memcached_st *mc, ngx_http_woportal_batch_t *b)
{
    size_t                     len, lens[NGX_HTTP_WOPORTAL_BATCH_MAX];
    u_char                     got[NGX_HTTP_WOPORTAL_BATCH_MAX];
    ngx_uint_t                 i, n;
    const char                *key, *keys[NGX_HTTP_WOPORTAL_BATCH_MAX];
    memcached_return_t         rc, frc;
    memcached_result_st        res;
    ngx_http_woportal_call_t  *call, *calls[NGX_HTTP_WOPORTAL_BATCH_MAX];

    n = 0;

    for (call = b->first; call; call = call->next) {
        if (call->op == NGX_HTTP_WOPORTAL_STORE_GET) {
            call->rc = MEMCACHED_NOTFOUND;
            calls[n] = call;
            keys[n] = (const char *) call->key.data;
            lens[n] = call->key.len;
            got[n] = 0;
            n++;
        }
    }

    if (n == 0) {
        return;
    }

    rc = memcached_mget(mc, keys, lens, n);

    if (rc != MEMCACHED_SUCCESS && rc != MEMCACHED_SOME_ERRORS) {
        goto failed;
    }

    if (memcached_result_create(mc, &res) == NULL) {
        rc = MEMCACHED_MEMORY_ALLOCATION_FAILURE;
        goto failed;
    }

    frc = MEMCACHED_END;

    while (memcached_fetch_result(mc, &res, &frc) != NULL) {
        key = memcached_result_key_value(&res);
        len = memcached_result_key_length(&res);

        for (i = 0; i < n; i++) {
            if (!got[i] && lens[i] == len
                && ngx_memcmp(keys[i], key, len) == 0)
            {
                break;
            }
        }

        if (i == n) {
            continue;
        }

        got[i] = 1;
        call = calls[i];

        call->mc_value_len = memcached_result_length(&res);
        call->mc_value = malloc(call->mc_value_len + 1);

        if (call->mc_value == NULL) {
            call->rc = MEMCACHED_MEMORY_ALLOCATION_FAILURE;
            continue;
        }

        if (call->mc_value_len) {
            /* an empty value is NULL */
            memcpy(call->mc_value, memcached_result_value(&res),
                   call->mc_value_len);
        }

        call->fetched_flags = memcached_result_flags(&res);
        call->cas = memcached_result_cas(&res);
        call->rc = MEMCACHED_SUCCESS;
    }

    memcached_result_free(&res);

    if (frc != MEMCACHED_END && frc != MEMCACHED_SUCCESS
        && frc != MEMCACHED_NOTFOUND)
    {
        /* the connection failed before the end of the results */
        rc = frc;
    }

    if (rc == MEMCACHED_SUCCESS) {
        return;
    }

failed:

    for (i = 0; i < n; i++) {
        if (!got[i]) {
            calls[i]->rc = rc;
        }
    }
}


static void
ngx_http_woportal_batch_done(ngx_event_t *ev)
{
    ngx_http_woportal_batch_t *b = ev->data;

    ngx_http_woportal_lane_t  *lane;
    ngx_http_woportal_call_t  *call, *next;

    call = b->first;
    lane = b->lane;

    /* free before the calls go on: their next calls may reuse it */

    b->first = NULL;
    b->next = ngx_http_woportal_free_batches;
    ngx_http_woportal_free_batches = b;

    lane->inflight--;

    if (lane->open && !lane->open->flush.posted) {
        /* the gets that waited go with those these calls lead to */
        ngx_post_event(&lane->open->flush, &ngx_posted_events);
    }

    for ( /* void */ ; call; call = next) {
        /* a call's request may be freed by its done handler */
        next = call->next;
        ngx_http_woportal_store_complete(call);
    }
}


/* a call with a task of its own: a write or a list */

static void
ngx_http_woportal_store_thread(void *data, ngx_log_t *log)
{
    ngx_http_woportal_call_t *call = data;

    memcached_st  *mc;

    if (ngx_http_woportal_store_stale(call)) {
        return;
    }

    mc = ngx_http_woportal_store_conn(call->store);

    if (mc == NULL) {
        call->rc = MEMCACHED_MEMORY_ALLOCATION_FAILURE;
        call->rc_text = "cannot create a libmemcached handle";
        return;
    }

    ngx_http_woportal_store_call(mc, call, 0, log);
}


/* one call, in a pool thread; fetched: a get's value is already read */

static void
ngx_http_woportal_store_call(memcached_st *mc, ngx_http_woportal_call_t *call,
    ngx_uint_t fetched, ngx_log_t *log)
{
    memcached_return_t  rc;

    switch (call->op) {

    case NGX_HTTP_WOPORTAL_STORE_GET:
        rc = fetched ? (memcached_return_t) call->rc
                     : ngx_http_woportal_store_gets(mc, call);

        if (call->persist
            && (rc == MEMCACHED_NOTFOUND
                || (rc == MEMCACHED_SUCCESS
                    && call->fetched_flags == NGX_HTTP_WOPORTAL_FORMAT_LEASE)))
        {
            /* a miss, or another reader filling it: SQL answers */
            rc = ngx_http_woportal_store_read_through(mc, call, log);
        }

        break;

    case NGX_HTTP_WOPORTAL_STORE_RUN:
        /* one result: NGX_ABORT (a corrupt value) and NGX_ERROR are 503 */
        if (call->run(call, mc, log) != NGX_OK) {
            call->rc = MEMCACHED_FAILURE;
            call->rc_text = "the store failed";
        }

        return;

    default:
        /* memcached alone, or async persistence (async.c) */
        rc = ngx_http_woportal_store_write(mc, call);
        break;
    }

    call->rc = rc;
    call->rc_text = memcached_strerror(mc, rc);

    ngx_http_woportal_store_health(call);

    if (rc == MEMCACHED_SUCCESS
        && call->op != NGX_HTTP_WOPORTAL_STORE_GET
        && call->record.len)
    {
        ngx_http_woportal_store_index(mc, call, log);
    }
}


/*
 * In a pool thread: a call that waited in the queue for half the timeout
 * or more while memcached failed is answered at once (1): when memcached
 * stalls, each call would wait for its own timeout, one after the other,
 * and the queue would grow for minutes.
 */

ngx_uint_t
ngx_http_woportal_store_stale(ngx_http_woportal_call_t *call)
{
    uint64_t  failed;

    failed = call->store->failed;

    if (failed && failed >= call->posted
        && ngx_http_woportal_metrics_clock() - call->posted
           >= (uint64_t) call->store->timeout * 1000 / 2)
    {
        call->rc = MEMCACHED_TIMEOUT;
        call->rc_text = "memcached failed while the call waited in the "
                        "thread pool's queue";
        return 1;
    }

    return 0;
}


/* in a pool thread: whether memcached answered the call */

void
ngx_http_woportal_store_health(ngx_http_woportal_call_t *call)
{
    uint64_t  now;

    switch (call->rc) {

    case MEMCACHED_TIMEOUT:
    case MEMCACHED_CONNECTION_FAILURE:
    case MEMCACHED_CONNECTION_SOCKET_CREATE_FAILURE:
    case MEMCACHED_HOST_LOOKUP_FAILURE:
    case MEMCACHED_ERRNO:
    case MEMCACHED_READ_FAILURE:
    case MEMCACHED_WRITE_FAILURE:
    case MEMCACHED_UNKNOWN_READ_FAILURE:
    case MEMCACHED_SERVER_MARKED_DEAD:
    case MEMCACHED_SERVER_TEMPORARILY_DISABLED:
        now = ngx_http_woportal_metrics_clock();
        call->store->failed = now ? now : 1;
        break;

    case MEMCACHED_SUCCESS:
    case MEMCACHED_NOTFOUND:
    case MEMCACHED_NOTSTORED:
    case MEMCACHED_DATA_EXISTS:
        if (call->store->failed) {
            call->store->failed = 0;
        }
        break;

    default:
        /* the database's failures, and memcached refusing a value */
        break;
    }
}


/* add, cas or delete */

static memcached_return_t
ngx_http_woportal_store_write(memcached_st *mc, ngx_http_woportal_call_t *call)
{
    switch (call->op) {

    case NGX_HTTP_WOPORTAL_STORE_ADD:
        return memcached_add(mc, (char *) call->key.data, call->key.len,
                             (char *) call->value.data, call->value.len,
                             (time_t) 0, call->flags);

    case NGX_HTTP_WOPORTAL_STORE_CAS:
        if (call->cas == 0) {
            /* read from SQL and not cached: only if still not cached */
            return memcached_add(mc, (char *) call->key.data, call->key.len,
                                 (char *) call->value.data, call->value.len,
                                 (time_t) 0, call->flags);
        }

        return memcached_cas(mc, (char *) call->key.data, call->key.len,
                             (char *) call->value.data, call->value.len,
                             (time_t) 0, call->flags, call->cas);

    default: /* NGX_HTTP_WOPORTAL_STORE_DELETE */
        return memcached_delete(mc, (char *) call->key.data, call->key.len,
                                (time_t) 0);
    }
}


/*
 * After a write: its record goes to the list index.  A new entry that
 * cannot be indexed would never be listed: it is taken back and the
 * create fails (503).  A change or a deletion stays done; the list that
 * meets the entry mends its record.
 */

static void
ngx_http_woportal_store_index(memcached_st *mc, ngx_http_woportal_call_t *call,
    ngx_log_t *log)
{
    memcached_return_t  rc;

    /*
     * async persistence: a shard this write had to make again was lost,
     * and lists rebuild the index from SQL
     */

    call->index_rc = ngx_http_woportal_store_append(mc, &call->index_key,
                                                    &call->record,
                                                    call->index_gen ? 2 : 1,
                                                    log);

    if (call->index_rc == NGX_DONE) {
        (void) ngx_http_woportal_store_distrust(mc, call->index_gen, log);
        call->index_rc = NGX_OK;
    }

    if (call->index_rc == NGX_OK
        || call->op != NGX_HTTP_WOPORTAL_STORE_ADD)
    {
        return;
    }

    rc = memcached_delete(mc, (char *) call->key.data, call->key.len,
                          (time_t) 0);

    call->rc = MEMCACHED_FAILURE;
    call->rc_text = (rc == MEMCACHED_SUCCESS)
                    ? "the index cannot be updated; the entry was taken back"
                    : "the index cannot be updated, nor the entry taken back";
}


/*
 * Runs in a pool thread: appends an index record to its shard, compacting
 * it when it is full.  A missing shard is made when create is 1; when
 * create is 2, NGX_DONE tells it was; when create is 0, NGX_DECLINED.
 */

ngx_int_t
ngx_http_woportal_store_append(ngx_http_woportal_mc_t *mc, ngx_str_t *key,
    ngx_str_t *record, ngx_uint_t create, ngx_log_t *log)
{
    ngx_int_t           crc;
    ngx_uint_t          i;
    memcached_return_t  rc;

    rc = MEMCACHED_FAILURE;

    for (i = 0; i < 4; i++) {
        rc = memcached_append(mc, (char *) key->data, key->len,
                              (char *) record->data, record->len,
                              (time_t) 0, 0);

        if (rc == MEMCACHED_SUCCESS) {
            return NGX_OK;
        }

        if (rc == MEMCACHED_NOTSTORED) {
            /*
             * memcached refuses an append to a missing key and one that
             * would make the item too large alike: no shard yet, and the
             * first record makes it; or a full one, to compact.  With
             * persistence a missing shard was lost (list.c makes every
             * shard): made again here it would hold this record alone
             * and look whole
             */
            if (!create) {
                /* compacting tells a full shard from a missing one */
                crc = ngx_http_woportal_store_compact(mc, key, record, 0,
                                                      0, log);
                if (crc != NGX_BUSY) {
                    return crc;
                }

                continue;
            }

            rc = memcached_add(mc, (char *) key->data, key->len,
                               (char *) record->data, record->len,
                               (time_t) 0, NGX_HTTP_WOPORTAL_FORMAT_INDEX);

            if (rc == MEMCACHED_SUCCESS) {
                return (create == 2) ? NGX_DONE : NGX_OK;
            }

            if (rc != MEMCACHED_NOTSTORED && rc != MEMCACHED_DATA_EXISTS) {
                break;
            }

        } else if (rc != MEMCACHED_E2BIG
                   && rc != MEMCACHED_SERVER_ERROR
                   && rc != MEMCACHED_SERVER_MEMORY_ALLOCATION_FAILURE)
        {
            break;
        }

        /*
         * The shard is full (or was made by another writer meanwhile):
         * compacting is right either way, being a CAS.
         */

        crc = ngx_http_woportal_store_compact(mc, key, record, create, 0,
                                              log);

        if (crc != NGX_BUSY) {
            return crc;
        }
    }

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "woportal: memcached append to \"%V\" failed: %s",
                  key, memcached_strerror(mc, rc));

    return NGX_ERROR;
}


/*
 * Runs in a pool thread: records folded into a shard that exists (a
 * rebuild, list.c), CAS against what else is appended meanwhile.  NGX_OK,
 * NGX_DECLINED (no such shard), NGX_ERROR.
 */

ngx_int_t
ngx_http_woportal_store_merge(ngx_http_woportal_mc_t *mc, ngx_str_t *key,
    ngx_str_t *records, ngx_log_t *log)
{
    ngx_int_t   rc;
    ngx_uint_t  i;

    for (i = 0; i < 8; i++) {
        rc = ngx_http_woportal_store_compact(mc, key, records, 0, 1, log);

        if (rc != NGX_BUSY) {
            return rc;
        }
    }

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "woportal: index shard \"%V\" kept changing while it was "
                  "rebuilt", key);

    return NGX_ERROR;
}


/*
 * A full shard rewritten with its live records and the new one, or, to
 * merge, with the live records of both
 */

static ngx_int_t
ngx_http_woportal_store_compact(memcached_st *mc, ngx_str_t *key,
    ngx_str_t *record, ngx_uint_t create, ngx_uint_t merge, ngx_log_t *log)
{
    u_char                     *p;
    size_t                      valid;
    ngx_int_t                   rc;
    ngx_str_t                   live, value;
    ngx_array_t                 recs;
    ngx_http_woportal_value_t   v;

    ngx_memzero(&v, sizeof(ngx_http_woportal_value_t));

    v.pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, log);
    if (v.pool == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_woportal_store_mget(mc, key, 1,
                                      ngx_http_woportal_store_value, &v,
                                      log);
    if (rc != NGX_OK) {
        goto done;
    }

    if (!v.found) {
        /* evicted or compacted away meanwhile: append again, or lost */
        rc = create ? NGX_BUSY : NGX_DECLINED;
        goto done;
    }

    if (merge) {
        /* a corrupt tail goes first: the records after it would be lost */

        if (ngx_array_init(&recs, v.pool, v.value.len / 64 + 1,
                           sizeof(ngx_http_woportal_irec_t))
            != NGX_OK)
        {
            rc = NGX_ERROR;
            goto done;
        }

        rc = ngx_http_woportal_index_parse(v.value.data, v.value.len, 0,
                                           &recs, &valid);
        if (rc == NGX_ERROR) {
            goto done;
        }

        if (rc == NGX_DECLINED) {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "woportal: index shard \"%V\" is corrupt after "
                          "%uz of its %uz bytes; the rest is dropped",
                          key, valid, v.value.len);
            v.value.len = valid;
        }

        /* the records folded in: what they repeat is kept once */

        value.len = v.value.len + record->len;
        value.data = ngx_pnalloc(v.pool, value.len);
        if (value.data == NULL) {
            rc = NGX_ERROR;
            goto done;
        }

        p = ngx_cpymem(value.data, v.value.data, v.value.len);
        ngx_memcpy(p, record->data, record->len);

        if (ngx_http_woportal_index_compact(v.pool, &value, &live) != NGX_OK)
        {
            rc = NGX_ERROR;
            goto done;
        }

        value = live;

    } else {
        if (ngx_http_woportal_index_compact(v.pool, &v.value, &live)
            != NGX_OK)
        {
            rc = NGX_ERROR;
            goto done;
        }

        value.len = live.len + record->len;
        value.data = ngx_pnalloc(v.pool, value.len);
        if (value.data == NULL) {
            rc = NGX_ERROR;
            goto done;
        }

        p = ngx_cpymem(value.data, live.data, live.len);
        ngx_memcpy(p, record->data, record->len);
    }

    rc = ngx_http_woportal_store_replace(mc, key, &value, v.cas, log);

    if (rc == NGX_DECLINED) {
        rc = NGX_BUSY;

    } else if (rc == NGX_ERROR) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "woportal: index shard \"%V\" is full with %uz bytes "
                      "of live records: raise \"woportal_index_shards\"",
                      key, live.len);
    }

done:

    ngx_destroy_pool(v.pool);

    return rc;
}


static ngx_int_t
ngx_http_woportal_store_value(void *data, u_char *key, size_t key_len,
    u_char *value, size_t len, uint32_t flags, uint64_t cas)
{
    ngx_http_woportal_value_t *v = data;

    v->value.data = ngx_pnalloc(v->pool, len ? len : 1);
    if (v->value.data == NULL) {
        return NGX_ERROR;
    }

    if (len) {
        ngx_memcpy(v->value.data, value, len);
    }
    v->value.len = len;
    v->cas = cas;
    v->found = 1;

    return NGX_OK;
}


/*
 * Runs in a pool thread: writes a value with "add" (NGX_DECLINED when the
 * key is taken) or "set", with item flags, expiring after exptime seconds
 * (0: never), or deletes it (value NULL).
 */

ngx_int_t
ngx_http_woportal_store_put(ngx_http_woportal_mc_t *mc, ngx_str_t *key,
    ngx_str_t *value, uint32_t flags, ngx_uint_t add, time_t exptime,
    ngx_log_t *log)
{
    memcached_return_t  rc;

    if (value == NULL) {
        rc = memcached_delete(mc, (char *) key->data, key->len, (time_t) 0);

    } else if (add) {
        rc = memcached_add(mc, (char *) key->data, key->len,
                           (char *) value->data, value->len, exptime, flags);

    } else {
        rc = memcached_set(mc, (char *) key->data, key->len,
                           (char *) value->data, value->len, exptime, flags);
    }

    switch (rc) {

    case MEMCACHED_SUCCESS:
        return NGX_OK;

    case MEMCACHED_NOTSTORED:
    case MEMCACHED_DATA_EXISTS:
    case MEMCACHED_NOTFOUND:
        return NGX_DECLINED;

    default:
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "woportal: memcached write of \"%V\" failed: %s",
                      key, memcached_strerror(mc, rc));
        return NGX_ERROR;
    }
}


/*
 * Runs in a pool thread: a CAS write of a whole value, NGX_OK;
 * NGX_BUSY (changed since), NGX_DECLINED (gone), NGX_ERROR.
 */

ngx_int_t
ngx_http_woportal_store_cas(ngx_http_woportal_mc_t *mc, ngx_str_t *key,
    ngx_str_t *value, uint32_t flags, time_t exptime, uint64_t cas,
    ngx_log_t *log)
{
    memcached_return_t  rc;

    rc = memcached_cas(mc, (char *) key->data, key->len,
                       (char *) value->data, value->len, exptime,
                       flags, cas);

    switch (rc) {

    case MEMCACHED_SUCCESS:
        return NGX_OK;

    case MEMCACHED_DATA_EXISTS:
        return NGX_BUSY;

    case MEMCACHED_NOTFOUND:
    case MEMCACHED_NOTSTORED:
        return NGX_DECLINED;

    default:
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "woportal: memcached cas of \"%V\" failed: %s",
                      key, memcached_strerror(mc, rc));
        return NGX_ERROR;
    }
}


/* the same, of an index shard */

ngx_int_t
ngx_http_woportal_store_replace(ngx_http_woportal_mc_t *mc, ngx_str_t *key,
    ngx_str_t *value, uint64_t cas, ngx_log_t *log)
{
    ngx_int_t  rc;

    rc = ngx_http_woportal_store_cas(mc, key, value,
                                     NGX_HTTP_WOPORTAL_FORMAT_INDEX, 0, cas,
                                     log);

    if (rc == NGX_OK) {
        ngx_http_woportal_metrics_compacted();
    }

    return rc;
}


/*
 * Runs in a pool thread: one multi-get of n keys, each value found handed
 * to the handler (from libmemcached's buffer: copy what you keep).
 * NGX_OK; NGX_ERROR when a server failed or the handler did, so that a
 * partial answer is never taken for a whole one.
 */

ngx_int_t
ngx_http_woportal_store_mget(ngx_http_woportal_mc_t *mc, ngx_str_t *keys,
    ngx_uint_t n, ngx_http_woportal_mget_pt handler, void *data,
    ngx_log_t *log)
{
    size_t               *lens;
    ngx_int_t             failed;
    ngx_uint_t            i;
    const char          **k;
    memcached_return_t    rc, frc;
    memcached_result_st   res;

    k = malloc(n * (sizeof(char *) + sizeof(size_t)));
    if (k == NULL) {
        return NGX_ERROR;
    }

    lens = (size_t *) (k + n);

    for (i = 0; i < n; i++) {
        k[i] = (const char *) keys[i].data;
        lens[i] = keys[i].len;
    }

    rc = memcached_mget(mc, k, lens, n);

    free(k);

    if (rc != MEMCACHED_SUCCESS) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "woportal: memcached multi-get of %ui keys failed: %s",
                      n, memcached_strerror(mc, rc));

        if (rc != MEMCACHED_SOME_ERRORS) {
            return NGX_ERROR;
        }
    }

    if (memcached_result_create(mc, &res) == NULL) {
        return NGX_ERROR;
    }

    failed = (rc != MEMCACHED_SUCCESS);
    frc = MEMCACHED_END;

    while (memcached_fetch_result(mc, &res, &frc) != NULL) {
        if (failed) {
            /* read to the end: the connection stays in step */
            continue;
        }

        if (handler(data, (u_char *) memcached_result_key_value(&res),
                    memcached_result_key_length(&res),
                    (u_char *) memcached_result_value(&res),
                    memcached_result_length(&res),
                    memcached_result_flags(&res),
                    memcached_result_cas(&res))
            != NGX_OK)
        {
            failed = 1;
        }
    }

    memcached_result_free(&res);

    if (frc != MEMCACHED_END && frc != MEMCACHED_SUCCESS
        && frc != MEMCACHED_NOTFOUND)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "woportal: memcached multi-get of %ui keys failed: %s",
                      n, memcached_strerror(mc, frc));
        return NGX_ERROR;
    }

    return failed ? NGX_ERROR : NGX_OK;
}


/*
 * Runs in a pool thread: a key "<base>:<k>" for each memcached server,
 * each one that hashes to its server, so that a mark stored under each
 * is lost with the data of any one server of a cluster (list.c).  The
 * keys are found by trying k = 0, 1, ...: with consistent hashing a few
 * tries a server.  NULL on failure; *n is the number of keys.
 */

ngx_str_t *
ngx_http_woportal_store_server_keys(ngx_http_woportal_mc_t *mc,
    ngx_str_t *base, ngx_pool_t *pool, ngx_uint_t *n)
{
    u_char      *p;
    uint32_t     s;
    ngx_str_t    key, *keys;
    ngx_uint_t   k, found, nservers;

    nservers = memcached_server_count(mc);

    keys = ngx_pcalloc(pool, (nservers + 1) * sizeof(ngx_str_t));
    if (keys == NULL) {
        return NULL;
    }

    found = 0;

    for (k = 0; found < nservers && k < 64 * nservers; k++) {
        p = ngx_pnalloc(pool, base->len + 1 + NGX_INT_T_LEN);
        if (p == NULL) {
            return NULL;
        }

        key.data = p;
        key.len = ngx_sprintf(p, "%V:%ui", base, k) - p;

        /* the index of the server the key goes to */
        s = memcached_generate_hash(mc, (char *) key.data, key.len);

        if (s < nservers && keys[s].len == 0) {
            keys[s] = key;
            found++;
        }
    }

    /* the servers no key was found for (none expected): left out */

    for (k = 0, s = 0; s < nservers; s++) {
        if (keys[s].len) {
            keys[k++] = keys[s];
        }
    }

    *n = k;

    return k ? keys : NULL;
}


/*
 * Runs in a pool thread: every key memcached holds that starts with
 * prefix, from each server's "lru_crawler metadump all" (memcached 1.5
 * and later: a line "key=<key, URL-encoded> exp=... ..." an item, then
 * "END"), handed to the handler.  The dump must be alone on its
 * connection: one of its own, with the store's timeout.  NGX_OK, or
 * NGX_ERROR when any server could not give its whole dump.
 */

ngx_int_t
ngx_http_woportal_store_dump(ngx_http_woportal_mc_t *mc, ngx_str_t *prefix,
    ngx_msec_t timeout, ngx_http_woportal_dump_pt handler, void *data,
    ngx_log_t *log)
{
    u_char                       *buf;
    ngx_int_t                     rc;
    ngx_uint_t                    i, n, attempt;
    const memcached_instance_st  *server;

    buf = ngx_alloc(NGX_HTTP_WOPORTAL_DUMP_LINE, log);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_OK;
    n = memcached_server_count(mc);

    for (i = 0; i < n && rc == NGX_OK; i++) {
        server = memcached_server_instance_by_position(mc, i);

        for (attempt = 0; attempt < 50; attempt++) {
            rc = ngx_http_woportal_store_dump_server(server, buf, prefix,
                                                     timeout, handler, data,
                                                     log);
            if (rc != NGX_AGAIN) {
                break;
            }

            /* another crawl runs: asked again */
            ngx_msleep(20);
        }

        if (rc == NGX_AGAIN) {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "woportal: memcached \"%s:%d\" stayed busy "
                          "with another crawl", memcached_server_name(server),
                          (int) memcached_server_port(server));
            rc = NGX_ERROR;
        }
    }

    ngx_free(buf);

    return rc;
}


/* one server's dump: NGX_OK, NGX_AGAIN (busy: ask again), NGX_ERROR */

static ngx_int_t
ngx_http_woportal_store_dump_server(const memcached_instance_st *server,
    u_char *buf, ngx_str_t *prefix, ngx_msec_t timeout,
    ngx_http_woportal_dump_pt handler, void *data, ngx_log_t *log)
{
    int               fd;
    u_char           *p, *last, *eol, *dst, *src;
    u_char            port[NGX_INT_T_LEN + 1];
    ssize_t           n;
    ngx_int_t         rc;
    ngx_str_t         key;
    struct timeval    tv;
    struct addrinfo   hints, *ai;
    static char       cmd[] = "lru_crawler metadump all\r\n";

    ngx_memzero(&hints, sizeof(struct addrinfo));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;

    *ngx_sprintf(port, "%d", (int) memcached_server_port(server)) = '\0';

    if (getaddrinfo(memcached_server_name(server), (char *) port, &hints, &ai)
        != 0)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "woportal: cannot resolve memcached \"%s\"",
                      memcached_server_name(server));
        return NGX_ERROR;
    }

    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);

    if (fd == -1) {
        freeaddrinfo(ai);
        return NGX_ERROR;
    }

    tv.tv_sec = timeout / 1000;
    tv.tv_usec = (timeout % 1000) * 1000;

    (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

    rc = NGX_ERROR;

    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1
        || send(fd, cmd, sizeof(cmd) - 1, 0) != (ssize_t) sizeof(cmd) - 1)
    {
        ngx_log_error(NGX_LOG_ERR, log, ngx_socket_errno,
                      "woportal: cannot ask memcached \"%s:%s\" for its "
                      "keys", memcached_server_name(server), port);
        goto done;
    }

    last = buf;

    for ( ;; ) {
        n = recv(fd, last, buf + NGX_HTTP_WOPORTAL_DUMP_LINE - last, 0);

        if (n <= 0) {
            ngx_log_error(NGX_LOG_ERR, log, ngx_socket_errno,
                          "woportal: the key dump of memcached \"%s:%s\" "
                          "ended early", memcached_server_name(server), port);
            goto done;
        }

        last += n;
        p = buf;

        /* each whole line */

        while ((eol = ngx_strlchr(p, last, '\n')) != NULL) {

            if (eol - p >= 3 && ngx_strncmp(p, "END", 3) == 0) {
                rc = NGX_OK;
                goto done;
            }

            if (eol - p >= 4 && ngx_strncmp(p, "BUSY", 4) == 0) {
                rc = NGX_AGAIN;
                goto done;
            }

            if (eol - p < 4 || ngx_strncmp(p, "key=", 4) != 0) {
                ngx_log_error(NGX_LOG_ERR, log, 0,
                              "woportal: memcached \"%s:%s\" cannot dump "
                              "its keys: \"%*s\"",
                              memcached_server_name(server), port,
                              (size_t) (eol - p), p);
                goto done;
            }

            key.data = p + 4;

            for (p = key.data; p < eol && *p != ' '; p++) { /* void */ }

            /* URL-encoded: decoded in place, never longer */

            dst = key.data;
            src = key.data;
            ngx_unescape_uri(&dst, &src, p - key.data, 0);
            key.len = dst - key.data;

            p = eol + 1;

            if (key.len > prefix->len
                && ngx_strncmp(key.data, prefix->data, prefix->len) == 0
                && handler(data, &key) != NGX_OK)
            {
                goto done;
            }
        }

        if (p == buf && last == buf + NGX_HTTP_WOPORTAL_DUMP_LINE) {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "woportal: a line of the key dump of memcached "
                          "\"%s:%s\" is too long",
                          memcached_server_name(server), port);
            goto done;
        }

        /* a line not yet whole goes to the front */

        ngx_memmove(buf, p, last - p);
        last = buf + (last - p);
    }

done:

    close(fd);
    freeaddrinfo(ai);

    return rc;
}


/*
 * A get that also returns the item's CAS: memcached_get() does not.  The
 * result struct is our own (one the library allocates is freed by the
 * library at the end of the results), and the results are read to their
 * end so the connection stays in step.  *value is malloc()ed.
 */

static memcached_return_t
ngx_http_woportal_store_get1(memcached_st *mc, ngx_str_t *k, char **value,
    size_t *value_len, uint32_t *flags, uint64_t *cas)
{
    size_t                len;
    const char           *key;
    memcached_return_t    rc, frc;
    memcached_result_st   res;

    key = (const char *) k->data;
    len = k->len;

    *value = NULL;
    *value_len = 0;

    rc = memcached_mget(mc, &key, &len, 1);
    if (rc != MEMCACHED_SUCCESS) {
        return rc;
    }

    if (memcached_result_create(mc, &res) == NULL) {
        return MEMCACHED_MEMORY_ALLOCATION_FAILURE;
    }

    rc = MEMCACHED_NOTFOUND;
    frc = MEMCACHED_END;

    while (memcached_fetch_result(mc, &res, &frc) != NULL) {

        if (*value || rc != MEMCACHED_NOTFOUND) {
            continue;
        }

        *value_len = memcached_result_length(&res);
        *value = malloc(*value_len + 1);

        if (*value == NULL) {
            rc = MEMCACHED_MEMORY_ALLOCATION_FAILURE;
            continue;
        }

        if (*value_len) {
            /* an empty value is NULL */
            memcpy(*value, memcached_result_value(&res), *value_len);
        }

        *flags = memcached_result_flags(&res);
        *cas = memcached_result_cas(&res);
        rc = MEMCACHED_SUCCESS;
    }

    memcached_result_free(&res);

    if (frc != MEMCACHED_END && frc != MEMCACHED_SUCCESS
        && frc != MEMCACHED_NOTFOUND)
    {
        /* the connection failed before the end of the results */
        free(*value);
        *value = NULL;
        *value_len = 0;
        return frc;
    }

    return rc;
}


static memcached_return_t
ngx_http_woportal_store_gets(memcached_st *mc, ngx_http_woportal_call_t *call)
{
    return ngx_http_woportal_store_get1(mc, &call->key, &call->mc_value,
                                        &call->mc_value_len,
                                        &call->fetched_flags, &call->cas);
}


/*
 * Runs in a pool thread: one item, *value malloc()ed.  NGX_OK;
 * NGX_DECLINED when it is missing; NGX_ERROR.
 */

ngx_int_t
ngx_http_woportal_store_fetch(ngx_http_woportal_mc_t *mc, ngx_str_t *key,
    ngx_str_t *value, uint32_t *flags, uint64_t *cas, ngx_log_t *log)
{
    char                *v;
    size_t               len;
    memcached_return_t   rc;

    rc = ngx_http_woportal_store_get1(mc, key, &v, &len, flags, cas);

    switch (rc) {

    case MEMCACHED_SUCCESS:
        value->data = (u_char *) v;
        value->len = len;
        return NGX_OK;

    case MEMCACHED_NOTFOUND:
        return NGX_DECLINED;

    default:
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "woportal: memcached get of \"%V\" failed: %s",
                      key, memcached_strerror(mc, rc));
        return NGX_ERROR;
    }
}


/*
 * A get that missed, or found another reader's lease: SQL answers
 * (persist.c), and fills memcached when that is safe.
 */

static memcached_return_t
ngx_http_woportal_store_read_through(memcached_st *mc,
    ngx_http_woportal_call_t *call, ngx_log_t *log)
{
    uint32_t   flags;
    uint64_t   cas;
    ngx_int_t  rc;
    ngx_str_t  value;

    if (call->mc_value) {
        free(call->mc_value);
        call->mc_value = NULL;
        call->mc_value_len = 0;
    }

    rc = ngx_http_woportal_db_read_through(mc, call->persist, &call->key,
                                           &value, &flags, &cas, log);

    if (rc == NGX_DECLINED) {
        return MEMCACHED_NOTFOUND;
    }

    if (rc != NGX_OK) {
        return MEMCACHED_FAILURE;
    }

    call->mc_value = (char *) value.data;
    call->mc_value_len = value.len;
    call->fetched_flags = flags;
    call->cas = cas;

    return MEMCACHED_SUCCESS;
}


/*
 * Runs in a pool thread: the marks of a whole index are deleted, so that
 * the next list rebuilds it from SQL (list.c).
 */

ngx_int_t
ngx_http_woportal_store_distrust(ngx_http_woportal_mc_t *mc, ngx_str_t *gen,
    ngx_log_t *log)
{
    ngx_int_t            rc;
    ngx_str_t           *keys;
    ngx_uint_t           i, n, deleted;
    ngx_pool_t          *pool;
    memcached_return_t   mrc;

    pool = ngx_create_pool(1024, log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_OK;
    deleted = 0;

    keys = ngx_http_woportal_store_server_keys(mc, gen, pool, &n);

    if (keys == NULL) {
        rc = NGX_ERROR;
        n = 0;
    }

    for (i = 0; i < n; i++) {
        mrc = memcached_delete(mc, (char *) keys[i].data, keys[i].len,
                               (time_t) 0);

        if (mrc == MEMCACHED_SUCCESS) {
            deleted++;

        } else if (mrc != MEMCACHED_NOTFOUND) {
            rc = NGX_ERROR;
        }
    }

    ngx_destroy_pool(pool);

    if (deleted || rc != NGX_OK) {
        /* not when it was distrusted already: no list has rebuilt it */
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "woportal: the list index \"%V\" misses a record; "
                      "the next list rebuilds it from the database%s", gen,
                      rc == NGX_OK ? "" : " once memcached answers");
    }

    return rc;
}


ngx_http_woportal_mc_t *
ngx_http_woportal_store_conn(ngx_http_woportal_store_t *store)
{
    void          **slot;
    uint64_t        tmo;
    memcached_st   *mc;

    /* the memcached configurations have the first slots */

    slot = ngx_http_woportal_slot(store->index);
    if (slot == NULL) {
        return NULL;
    }

    if (*slot) {
        return *slot;
    }

    mc = memcached((char *) store->config.data, store->config.len);
    if (mc == NULL) {
        return NULL;
    }

    /*
     * The defaults (seconds of connect and poll timeouts, blocking
     * connect) would let one dead server hold every pool thread.
     */

    tmo = store->timeout;

    (void) memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_NO_BLOCK, 1);
    (void) memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
    (void) memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, tmo);
    (void) memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, tmo);
    (void) memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_SND_TIMEOUT,
                                  tmo * 1000);
    (void) memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_RCV_TIMEOUT,
                                  tmo * 1000);

    /* the text protocol desyncs on CAS without it */
    (void) memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_SUPPORT_CAS, 1);

    *slot = mc;

    return mc;
}


static void
ngx_http_woportal_store_event(ngx_event_t *ev)
{
    ngx_http_woportal_store_complete(ev->data);
}


/* on the event loop: a call's outcome, handed to its done handler */

void
ngx_http_woportal_store_complete(ngx_http_woportal_call_t *call)
{
    ngx_http_request_t            *r;
    ngx_http_woportal_loc_conf_t  *wlcf;

    r = call->request;
    r->main->blocked--;
    ngx_http_woportal_metrics_done(call);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "woportal store done: %s \"%V\": %s",
                   ngx_http_woportal_op_names[call->op], &call->key,
                   call->rc_text ? call->rc_text : "SUCCESS");

    if (call->busy.timer_set) {
        ngx_del_timer(&call->busy);
    }

    ngx_str_null(&call->fetched);

    if (call->op == NGX_HTTP_WOPORTAL_STORE_RUN) {
        /* a handle that could not be made, or a stale call, fail it too */
        call->result = (call->rc == MEMCACHED_SUCCESS) ? NGX_OK : NGX_ERROR;
        call->done(call);
        return;
    }

    if (call->later && call->rc == MEMCACHED_SUCCESS) {
        wlcf = ngx_http_get_module_loc_conf(r, ngx_http_woportal_module);

        if (ngx_http_woportal_async_queue(call->later, wlcf->thread_pool,
                                    wlcf->persist_queue, r->connection->log)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "woportal: \"%V\" could not be queued for the "
                          "database", &call->key);
        }
    }

    if (call->index_rc != NGX_OK && call->rc == MEMCACHED_SUCCESS) {
        r->connection->log->action = "indexing a woportal entry";

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "woportal: \"%V\" is stored but its index record is "
                      "not; lists mend it when they meet the entry",
                      &call->key);
    }

    switch (call->rc) {

    case MEMCACHED_SUCCESS:
        call->result = NGX_OK;

        if (call->op != NGX_HTTP_WOPORTAL_STORE_GET) {
            break;
        }

        if (call->mc_value && call->mc_value_len) {
            call->fetched.data = ngx_pnalloc(r->pool, call->mc_value_len);

            if (call->fetched.data == NULL) {
                call->result = NGX_ERROR;
                break;
            }

            ngx_memcpy(call->fetched.data, call->mc_value,
                       call->mc_value_len);
            call->fetched.len = call->mc_value_len;
        }

        break;

    case MEMCACHED_NOTFOUND:
        call->result = NGX_DECLINED;
        break;

    case MEMCACHED_NOTSTORED:
        /* add: the key is taken; cas: the item is gone */
        call->result = NGX_DECLINED;
        break;

    case MEMCACHED_DATA_EXISTS:
        /*
         * add (binary protocol): the key is taken; cas, or a conditional
         * delete (commit.c): a newer write
         */
        call->result = (call->op == NGX_HTTP_WOPORTAL_STORE_CAS
                        || call->op == NGX_HTTP_WOPORTAL_STORE_DELETE)
                       ? NGX_BUSY : NGX_DECLINED;
        break;

    default:
        call->result = NGX_ERROR;

        if (call->persist && call->op != NGX_HTTP_WOPORTAL_STORE_GET) {
            /* commit.c */
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "woportal: %s \"%V\" failed, nothing was "
                          "changed: %s",
                          ngx_http_woportal_op_names[call->op], &call->key,
                          call->rc_text ? call->rc_text : "unknown error");

        } else {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "woportal: memcached %s \"%V\" failed: %s",
                          ngx_http_woportal_op_names[call->op], &call->key,
                          call->rc_text ? call->rc_text : "unknown error");
        }
    }

    if (call->mc_value) {
        /* libmemcached allocated it with malloc() */
        free(call->mc_value);
        call->mc_value = NULL;
    }

    call->done(call);
}
