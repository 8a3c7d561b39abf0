
/*
 * The store's operations on an entry: a request's call.
 *
 * A get, add, CAS or delete is sent on the event loop (mc.c), and so is
 * the index record a write appends; the request goes on from the answer,
 * without a thread hop.  What blocks runs as a task of an nginx thread
 * pool, with libmemcached on a memcached_st that belongs to the pool
 * thread (libmc.c):
 *
 *   - a get that missed, with persistence: SQL answers (db.c);
 *   - an index record memcached refused (a shard missing or full): the
 *     shard is made or compacted (index_store.c);
 *   - a list (a call to run), and what commit.c and list.c do.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <libmemcached/memcached.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_async.h"
#include "ngx_http_woportal_db.h"
#include "ngx_http_woportal_index_cache.h"
#include "ngx_http_woportal_index_store.h"
#include "ngx_http_woportal_libmc.h"
#include "ngx_http_woportal_mc.h"
#include "ngx_http_woportal_metrics.h"
#include "ngx_http_woportal_store.h"


static ngx_int_t ngx_http_woportal_store_send(ngx_http_woportal_call_t *call,
    ngx_thread_pool_t *tp);
static void ngx_http_woportal_store_answered(ngx_http_woportal_mc_op_t *op);
static void ngx_http_woportal_store_indexed(ngx_http_woportal_mc_op_t *op);
static void ngx_http_woportal_store_appended(ngx_http_woportal_mc_op_t *op);
static void ngx_http_woportal_store_unindexed(ngx_http_woportal_call_t *call);
static void ngx_http_woportal_store_taken_back(ngx_http_woportal_mc_op_t *op);
static void ngx_http_woportal_store_fallback(ngx_http_woportal_call_t *call,
    void (*handler)(void *data, ngx_log_t *log));
static void ngx_http_woportal_store_run_thread(void *data, ngx_log_t *log);
static void ngx_http_woportal_store_read_thread(void *data, ngx_log_t *log);
static void ngx_http_woportal_store_index_thread(void *data, ngx_log_t *log);
static void ngx_http_woportal_store_busy(ngx_event_t *ev);
static ngx_uint_t ngx_http_woportal_store_stale(
    ngx_http_woportal_call_t *call);
static void ngx_http_woportal_store_index(memcached_st *mc,
    ngx_http_woportal_call_t *call, ngx_log_t *log);
static void ngx_http_woportal_store_event(ngx_event_t *ev);
static void ngx_http_woportal_store_finish(ngx_http_woportal_call_t *call);
static void ngx_http_woportal_store_ended(ngx_http_woportal_call_t *call,
    ngx_http_woportal_outcome_e outcome);


static char  *ngx_http_woportal_op_names[] = {
    "get", "add", "cas", "delete", "run"
};


/*
 * A request's call: NGX_OK, and call->done runs from the event loop once
 * it is done; NGX_ERROR when it cannot be started (no memory, or the
 * thread pool's queue is full, which nginx has logged).
 */

ngx_int_t
ngx_http_woportal_store_post(ngx_http_woportal_call_t *call,
    ngx_thread_pool_t *tp)
{
    call->rc = MEMCACHED_SUCCESS;
    call->rc_text = NULL;
    call->index_rc = NGX_OK;
    call->mc_value = NULL;
    call->mc_value_len = 0;
    call->fetched_flags = 0;
    ngx_str_null(&call->fetched);

    /* before the post: the thread reads it (store_stale()) */
    call->posted = ngx_http_woportal_metrics_clock();

    if (call->op != NGX_HTTP_WOPORTAL_STORE_RUN) {
        return ngx_http_woportal_store_send(call, tp);
    }

    if (ngx_http_woportal_store_task(call, tp,
                                     ngx_http_woportal_store_run_thread,
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


/* a call is posted: its request waits for it */

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


/* a call that could not be sent after all: the wait is undone */

void
ngx_http_woportal_store_unwait(ngx_http_woportal_call_t *call)
{
    call->request->main->blocked--;

    call->rc = MEMCACHED_FAILURE;
    call->rc_text = "the call could not be sent";
    ngx_http_woportal_store_ended(call,
                                  NGX_HTTP_WOPORTAL_OUTCOME_UNAVAILABLE);

    if (call->busy.timer_set) {
        ngx_del_timer(&call->busy);
    }
}


static void
ngx_http_woportal_store_busy(ngx_event_t *ev)
{
    /* the task is still running: wait on */
    ngx_add_timer(ev, 60000);
}


/*
 * The call's memcached request, ready to be filled in: the entry's key,
 * the request's pool and log, and the handler to call with the answer
 * (commit.c's too)
 */

ngx_http_woportal_mc_op_t *
ngx_http_woportal_store_op(ngx_http_woportal_call_t *call,
    ngx_http_woportal_mc_handler_pt handler)
{
    ngx_http_woportal_mc_op_t  *op;

    op = &call->mc;

    ngx_memzero(op, sizeof(ngx_http_woportal_mc_op_t));

    op->key = call->key;
    op->pool = call->request->pool;
    op->log = call->request->connection->log;
    op->handler = handler;
    op->data = call;

    return op;
}


/* a get, add, CAS or delete, sent on the event loop */

static ngx_int_t
ngx_http_woportal_store_send(ngx_http_woportal_call_t *call,
    ngx_thread_pool_t *tp)
{
    ngx_http_woportal_mc_op_t  *op;

    op = ngx_http_woportal_store_op(call, ngx_http_woportal_store_answered);

    switch (call->op) {

    case NGX_HTTP_WOPORTAL_STORE_GET:
        op->opcode = NGX_HTTP_WOPORTAL_MC_GET;
        break;

    case NGX_HTTP_WOPORTAL_STORE_ADD:
        op->opcode = NGX_HTTP_WOPORTAL_MC_ADD;
        break;

    case NGX_HTTP_WOPORTAL_STORE_CAS:
        /* CAS 0: read from SQL and not cached, only if still not cached */
        op->opcode = call->cas ? NGX_HTTP_WOPORTAL_MC_SET
                               : NGX_HTTP_WOPORTAL_MC_ADD;
        op->cas = call->cas;
        break;

    default: /* NGX_HTTP_WOPORTAL_STORE_DELETE */
        op->opcode = NGX_HTTP_WOPORTAL_MC_DELETE;
        break;
    }

    if (op->opcode != NGX_HTTP_WOPORTAL_MC_GET
        && op->opcode != NGX_HTTP_WOPORTAL_MC_DELETE)
    {
        op->value = call->value;
        op->flags = call->flags;
    }

    /* where what blocks goes: a read through SQL, a full index shard */
    call->task_pool = tp;

    /* before the post: the client may answer at once (a failure) */
    ngx_http_woportal_store_wait(call);

    if (ngx_http_woportal_mc_post(call->store->client, op) != NGX_OK) {
        ngx_http_woportal_store_unwait(call);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * A memcached answer, or its failure, as a call's result (call->rc, in
 * libmemcached's terms: libmc_outcome() reads it, and store_finish()
 * makes call->result of that)
 */

void
ngx_http_woportal_store_result(ngx_http_woportal_call_t *call,
    ngx_http_woportal_mc_op_t *op)
{
    if (op->rc != NGX_OK) {
        call->rc = MEMCACHED_CONNECTION_FAILURE;
        call->rc_text = op->error;
        return;
    }

    switch (op->status) {

    case NGX_HTTP_WOPORTAL_MC_OK:
        call->rc = MEMCACHED_SUCCESS;
        call->rc_text = NULL;
        break;

    case NGX_HTTP_WOPORTAL_MC_NOT_FOUND:
        call->rc = MEMCACHED_NOTFOUND;
        call->rc_text = "NOT FOUND";
        break;

    case NGX_HTTP_WOPORTAL_MC_EXISTS:
        call->rc = MEMCACHED_DATA_EXISTS;
        call->rc_text = "EXISTS";
        break;

    case NGX_HTTP_WOPORTAL_MC_NOT_STORED:
        call->rc = MEMCACHED_NOTSTORED;
        call->rc_text = "NOT STORED";
        break;

    case NGX_HTTP_WOPORTAL_MC_TOO_LARGE:
        call->rc = MEMCACHED_E2BIG;
        call->rc_text = "the value is too large for memcached";
        break;

    default:
        call->rc = MEMCACHED_SERVER_ERROR;
        call->rc_text = "memcached refused the request";
        break;
    }
}


/* memcached answered a call, or failed it */

static void
ngx_http_woportal_store_answered(ngx_http_woportal_mc_op_t *op)
{
    ngx_http_woportal_call_t *call = op->data;

    ngx_http_woportal_outcome_e  outcome;

    ngx_http_woportal_store_result(call, op);

    if (op->rc != NGX_OK) {
        ngx_http_woportal_store_finish(call);
        return;
    }

    outcome = ngx_http_woportal_libmc_outcome(call->rc);

    if (call->op == NGX_HTTP_WOPORTAL_STORE_GET) {
        if (outcome == NGX_HTTP_WOPORTAL_OUTCOME_OK) {
            call->fetched = op->value_out;
            call->fetched_flags = op->flags_out;
            call->cas = op->cas_out;
        }

        if (call->persist
            && (outcome == NGX_HTTP_WOPORTAL_OUTCOME_MISSING
                || (outcome == NGX_HTTP_WOPORTAL_OUTCOME_OK
                    && call->fetched_flags
                       == NGX_HTTP_WOPORTAL_FORMAT_LEASE)))
        {
            /* a miss, or another reader filling it: SQL answers */
            ngx_http_woportal_store_fallback(call,
                                       ngx_http_woportal_store_read_thread);
            return;
        }

        ngx_http_woportal_store_finish(call);
        return;
    }

    if (outcome != NGX_HTTP_WOPORTAL_OUTCOME_OK || call->record.len == 0) {
        ngx_http_woportal_store_finish(call);
        return;
    }

    /*
     * The write is done: its record goes to the list index, quietly (an
     * append is answered only when refused)
     */

    if (ngx_http_woportal_store_append(call, ngx_http_woportal_store_indexed)
        != NGX_OK)
    {
        ngx_http_woportal_store_unindexed(call);
    }
}


/*
 * A write's index record, appended to its shard quietly (an append is
 * answered only when refused), and right behind it, on the same
 * connection, the change count of the shard's server bumped: a list
 * that sees the count changed finds the record (index_cache.c).  The
 * handler runs once both are answered, with call->mc; a count that
 * could not be bumped is as a refused append (the pool thread appends
 * the record again, and bumps it).
 */

ngx_int_t
ngx_http_woportal_store_append(ngx_http_woportal_call_t *call,
    ngx_http_woportal_mc_handler_pt handler)
{
    ngx_http_woportal_mc_op_t  *op, *bump;

    op = ngx_http_woportal_store_op(call, ngx_http_woportal_store_appended);
    op->opcode = NGX_HTTP_WOPORTAL_MC_APPEND;
    op->quiet = 1;
    op->key = call->index_key;
    op->value = call->record;

    call->appended = handler;
    call->bump_failed = 0;
    call->appending = 1;

    if (ngx_http_woportal_mc_post(call->store->client, op) != NGX_OK) {
        return NGX_ERROR;
    }

    if (call->index_count.len == 0) {
        return NGX_OK;
    }

    bump = &call->bump;

    ngx_memzero(bump, sizeof(ngx_http_woportal_mc_op_t));

    bump->opcode = NGX_HTTP_WOPORTAL_MC_INCREMENT;
    bump->quiet = 1;
    bump->key = call->index_count;
    bump->initial = ngx_http_woportal_index_count_start();
    bump->after = op;
    bump->pool = op->pool;
    bump->log = op->log;
    bump->handler = ngx_http_woportal_store_appended;
    bump->data = call;

    if (ngx_http_woportal_mc_post(call->store->client, bump) != NGX_OK) {
        call->bump_failed = 1;
        return NGX_OK;
    }

    call->appending++;

    return NGX_OK;
}


static void
ngx_http_woportal_store_appended(ngx_http_woportal_mc_op_t *op)
{
    ngx_http_woportal_call_t *call = op->data;

    if (op == &call->bump
        && (op->rc != NGX_OK || op->status != NGX_HTTP_WOPORTAL_MC_OK))
    {
        call->bump_failed = 1;
    }

    if (--call->appending) {
        return;
    }

    op = &call->mc;

    if (call->bump_failed && op->rc == NGX_OK
        && op->status == NGX_HTTP_WOPORTAL_MC_OK)
    {
        ngx_log_error(NGX_LOG_WARN, op->log, 0,
                      "woportal: the change count \"%V\" could not be "
                      "bumped", &call->index_count);
        op->status = NGX_HTTP_WOPORTAL_MC_NOT_STORED;
    }

    call->appended(op);
}


static void
ngx_http_woportal_store_indexed(ngx_http_woportal_mc_op_t *op)
{
    ngx_http_woportal_call_t *call = op->data;

    if (op->rc == NGX_OK && op->status == NGX_HTTP_WOPORTAL_MC_OK) {
        ngx_http_woportal_store_finish(call);
        return;
    }

    /*
     * Refused (the shard is missing or full) or not answered: the pool
     * thread makes or compacts the shard, or takes a new entry back
     */

    ngx_http_woportal_store_fallback(call,
                                     ngx_http_woportal_store_index_thread);
}


/*
 * The record cannot be appended, nor handed to a pool thread: a change
 * stays done (the list that meets the entry mends its record), a new
 * entry, which no list would find, is taken back and the create fails.
 */

static void
ngx_http_woportal_store_unindexed(ngx_http_woportal_call_t *call)
{
    ngx_http_woportal_mc_op_t  *op;

    call->index_rc = NGX_ERROR;

    if (call->op != NGX_HTTP_WOPORTAL_STORE_ADD) {
        ngx_http_woportal_store_finish(call);
        return;
    }

    op = ngx_http_woportal_store_op(call, ngx_http_woportal_store_taken_back);
    op->opcode = NGX_HTTP_WOPORTAL_MC_DELETE;

    if (ngx_http_woportal_mc_post(call->store->client, op) != NGX_OK) {
        call->rc = MEMCACHED_FAILURE;
        call->rc_text = "the index cannot be updated, nor the entry taken "
                        "back";
        ngx_http_woportal_store_finish(call);
    }
}


static void
ngx_http_woportal_store_taken_back(ngx_http_woportal_mc_op_t *op)
{
    ngx_http_woportal_call_t *call = op->data;

    call->rc = MEMCACHED_FAILURE;
    call->rc_text = (op->rc == NGX_OK
                     && op->status == NGX_HTTP_WOPORTAL_MC_OK)
                    ? "the index cannot be updated; the entry was taken back"
                    : "the index cannot be updated, nor the entry taken "
                      "back";

    ngx_http_woportal_store_finish(call);
}


/* the rest of a call in a pool thread: what blocks */

static void
ngx_http_woportal_store_fallback(ngx_http_woportal_call_t *call,
    void (*handler)(void *data, ngx_log_t *log))
{
    if (ngx_http_woportal_store_task(call, call->task_pool, handler,
                                     ngx_http_woportal_store_event)
        == NGX_OK)
    {
        return;
    }

    /* the pool's queue is full (nginx has logged it) */

    if (handler == ngx_http_woportal_store_index_thread) {
        ngx_http_woportal_store_unindexed(call);
        return;
    }

    call->rc = MEMCACHED_FAILURE;
    call->rc_text = "the thread pool's queue is full";
    ngx_http_woportal_store_finish(call);
}


/* a list, in a pool thread */

static void
ngx_http_woportal_store_run_thread(void *data, ngx_log_t *log)
{
    ngx_http_woportal_call_t *call = data;

    ngx_int_t      rc;
    memcached_st  *mc;

    if (call->store == NULL) {
        /* no memcached: health.c's check of a database */
        rc = call->run(call, NULL, log);

    } else if (ngx_http_woportal_store_stale(call)) {
        return;

    } else {
        mc = ngx_http_woportal_libmc_conn(call->store);

        rc = (mc == NULL) ? NGX_ERROR : call->run(call, mc, log);

        if (rc == NGX_ERROR) {
            /* the lists queued behind it are answered at once: stale() */
            ngx_http_woportal_mc_mark_failed(call->store->client);
        }
    }

    /* one result: NGX_ABORT (a corrupt value) and NGX_ERROR are 503 */

    if (rc != NGX_OK) {
        call->rc = MEMCACHED_FAILURE;
        call->rc_text = "the store failed";
    }
}


/*
 * A get that missed, or found another reader's lease, in a pool thread:
 * SQL answers (db.c), and fills memcached when that is safe.
 */

static void
ngx_http_woportal_store_read_thread(void *data, ngx_log_t *log)
{
    ngx_http_woportal_call_t *call = data;

    uint32_t       flags;
    uint64_t       cas;
    ngx_int_t      rc;
    ngx_str_t      value;
    memcached_st  *mc;

    mc = ngx_http_woportal_libmc_conn(call->store);

    if (mc == NULL) {
        call->rc = MEMCACHED_MEMORY_ALLOCATION_FAILURE;
        call->rc_text = "cannot create a libmemcached handle";
        return;
    }

    rc = ngx_http_woportal_db_read_through(mc, call->persist, &call->key,
                                           &value, &flags, &cas, log);

    if (rc == NGX_DECLINED) {
        call->rc = MEMCACHED_NOTFOUND;
        call->rc_text = "NOT FOUND";
        return;
    }

    if (rc != NGX_OK) {
        call->rc = MEMCACHED_FAILURE;
        call->rc_text = "the store failed";
        return;
    }

    call->rc = MEMCACHED_SUCCESS;
    call->rc_text = NULL;
    call->mc_value = (char *) value.data;
    call->mc_value_len = value.len;
    call->fetched_flags = flags;
    call->cas = cas;
}


/* an index record memcached refused, in a pool thread */

static void
ngx_http_woportal_store_index_thread(void *data, ngx_log_t *log)
{
    ngx_http_woportal_call_t *call = data;

    memcached_st  *mc;

    mc = ngx_http_woportal_libmc_conn(call->store);

    if (mc == NULL) {
        call->index_rc = NGX_ERROR;
        return;
    }

    ngx_http_woportal_store_index(mc, call, log);
}


/*
 * In a pool thread: a call that waited in the queue for half the timeout
 * or more while memcached failed is answered at once (1): when memcached
 * stalls, each call would wait for its own timeout, one after the other,
 * and the queue would grow for minutes.
 */

static ngx_uint_t
ngx_http_woportal_store_stale(ngx_http_woportal_call_t *call)
{
    uint64_t  failed;

    failed = ngx_http_woportal_mc_failed_since(call->store->client);

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
     * a shard this write had to make again was lost (index_append():
     * NGX_DONE): the index's marks go, and the next list rebuilds it
     */

    call->index_rc = ngx_http_woportal_index_append(mc, &call->index_key,
                                                    &call->record,
                                                    &call->index_count,
                                                    call->index_marks ? 2 : 1,
                                                    log);

    if (call->index_rc == NGX_DONE) {
        (void) ngx_http_woportal_index_distrust(mc, call->index_marks, log);
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


static void
ngx_http_woportal_store_event(ngx_event_t *ev)
{
    ngx_http_woportal_store_complete(ev->data);
}


/* on the event loop: a call a pool thread did, or ended */

void
ngx_http_woportal_store_complete(ngx_http_woportal_call_t *call)
{
    ngx_str_null(&call->fetched);

    if (call->mc_value) {
        /* libmemcached, or the database, allocated it with malloc() */

        if (call->rc == MEMCACHED_SUCCESS && call->mc_value_len) {
            call->fetched.data = ngx_http_woportal_libmc_copy(
                                     call->request->pool,
                                     (u_char *) call->mc_value,
                                     call->mc_value_len);
            if (call->fetched.data == NULL) {
                call->rc = MEMCACHED_MEMORY_ALLOCATION_FAILURE;
                call->rc_text = "no memory";

            } else {
                call->fetched.len = call->mc_value_len;
            }
        }

        free(call->mc_value);
        call->mc_value = NULL;
    }

    ngx_http_woportal_store_finish(call);
}


/* on the event loop: a call's outcome, handed to its done handler */

static void
ngx_http_woportal_store_finish(ngx_http_woportal_call_t *call)
{
    ngx_http_request_t            *r;
    ngx_http_woportal_outcome_e    outcome;
    ngx_http_woportal_loc_conf_t  *wlcf;

    r = call->request;
    r->main->blocked--;

    outcome = ngx_http_woportal_libmc_outcome(call->rc);
    ngx_http_woportal_store_ended(call, outcome);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "woportal store done: %s \"%V\": %s",
                   ngx_http_woportal_op_names[call->op], &call->key,
                   call->rc_text ? call->rc_text : "SUCCESS");

    if (call->busy.timer_set) {
        ngx_del_timer(&call->busy);
    }

    if (call->op == NGX_HTTP_WOPORTAL_STORE_RUN) {
        /* a handle that could not be made, or a stale call, fail it too */
        call->result = (outcome == NGX_HTTP_WOPORTAL_OUTCOME_OK)
                       ? NGX_OK : NGX_ERROR;

        if (call->result != NGX_OK) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "woportal: a list failed: %s", call->rc_text);
        }

        call->done(call);
        return;
    }

    if (call->later && outcome == NGX_HTTP_WOPORTAL_OUTCOME_OK) {
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

    if (call->index_rc != NGX_OK && outcome == NGX_HTTP_WOPORTAL_OUTCOME_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "woportal: \"%V\" is stored but its index record is "
                      "not; lists mend it when they meet the entry",
                      &call->key);
    }

    switch (outcome) {

    case NGX_HTTP_WOPORTAL_OUTCOME_OK:
        call->result = NGX_OK;
        break;

    case NGX_HTTP_WOPORTAL_OUTCOME_MISSING:
        call->result = NGX_DECLINED;
        break;

    case NGX_HTTP_WOPORTAL_OUTCOME_NOT_STORED:
        /* add: the key is taken; cas: the item is gone */
        call->result = NGX_DECLINED;
        break;

    case NGX_HTTP_WOPORTAL_OUTCOME_EXISTS:
        /*
         * add (binary protocol): the key is taken; cas, or a conditional
         * delete (commit.c): a newer write
         */
        call->result = (call->op == NGX_HTTP_WOPORTAL_STORE_CAS
                        || call->op == NGX_HTTP_WOPORTAL_STORE_DELETE)
                       ? NGX_BUSY : NGX_DECLINED;
        break;

    default: /* NGX_HTTP_WOPORTAL_OUTCOME_UNAVAILABLE */
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

    call->done(call);
}


/*
 * A call ended (before its done handler, which may free the request, and
 * the call with it): the time since its post goes to the request's
 * $woportal_store_time, and with its outcome to the metrics.
 */

static void
ngx_http_woportal_store_ended(ngx_http_woportal_call_t *call,
    ngx_http_woportal_outcome_e outcome)
{
    uint64_t                  us, now;
    ngx_http_woportal_ctx_t  *ctx;

    now = ngx_http_woportal_metrics_clock();
    us = (now > call->posted) ? now - call->posted : 0;

    ctx = ngx_http_get_module_ctx(call->request, ngx_http_woportal_module);

    if (ctx) {
        ctx->store_us += us;
        ctx->stored = 1;
    }

    ngx_http_woportal_metrics_done(call->op, us, outcome);
}
