
/*
 * The writes of woportal_persist_mode sync: SQL is the truth, memcached a
 * cache of it, and a 2xx means committed.
 *
 *     before: a change sets its own lease over the entry's memcached
 *             item, a deletion deletes it       (on the event loop)
 *     commit: BEGIN -> the writes, each guarded by its version -> COMMIT
 *                                               (a pool task a batch)
 *     after:  the new version CASed over the lease (a new entry's set),
 *             else the item deleted; the index record appended
 *                                               (on the event loop)
 *
 * Group commit.  The writes a worker has ready for one database while a
 * transaction of its runs wait, and go together in the next one: one
 * BEGIN and one COMMIT (one fsync) for all of them, each request answered
 * once its batch has committed.  One transaction of a worker and database
 * runs at a time, so SQLite's one writer lock is fought over by the
 * workers, not by every pool thread.  The memcached calls before and
 * after are sent on the event loop (mc.c): the pool thread does SQL
 * alone, one hand-off a transaction.  A pool thread does the rare
 * memcached work: a full index shard, an index to distrust.
 *
 * The step before makes sure memcached can be reached before anything is
 * committed (a write it fails is 503 and changes nothing) and removes the
 * item, stale or not: a set, like a delete, ends every reader's lease
 * (db.c), and readers that find the write's lease read SQL.  After
 * the commit, the CAS succeeds only when nothing touched the item since
 * (no other write, no reader's fill of an older row, no flush); anything
 * else is deleted, so that no row read before the commit stays cached
 * after it.  No memcached call is made while a transaction holds the
 * database: a stalled memcached never holds the database's lock.
 *
 * A write the database refuses for its version (another write came
 * first, or the item the write was made from was stale) answers BUSY:
 * the request reads the entry again, from SQL since its item is gone,
 * and tries again.  A conditional deletion of an entry the database no
 * longer has answers BUSY too (the read tells 404); a plain one,
 * NOTFOUND.  A statement that fails rolls the whole batch back: every
 * write of it is 503.
 *
 * An index record that cannot be appended after the commit (memcached
 * failed, or lost the shard) leaves the index untrusted: its marks are
 * deleted, then or by the next write that reaches memcached, and the
 * next list rebuilds it from SQL (list.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <libmemcached/memcached.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_commit.h"
#include "ngx_http_woportal_db.h"
#include "ngx_http_woportal_index_store.h"
#include "ngx_http_woportal_libmc.h"
#include "ngx_http_woportal_mc.h"
#include "ngx_http_woportal_metrics.h"
#include "ngx_http_woportal_store.h"


/* the most writes in one transaction */
#define NGX_HTTP_WOPORTAL_COMMIT_MAX  256


typedef struct ngx_http_woportal_commit_s  ngx_http_woportal_commit_t;

/* the writes of a worker for one database and pool */
struct ngx_http_woportal_commit_s {
    ngx_http_woportal_db_t       *db;
    ngx_thread_pool_t            *tp;
    ngx_http_woportal_call_t     *first;     /* waiting */
    ngx_http_woportal_call_t    **last;
    ngx_http_woportal_call_t     *batch;     /* in the transaction */
    ngx_thread_task_t             task;
    ngx_event_t                   flush;
    ngx_array_t                  *distrust;  /* an index to rebuild: its
                                                marks */
    ngx_http_woportal_commit_t   *next;
    unsigned                      running:1;
};


static ngx_http_woportal_commit_t *ngx_http_woportal_commit_get(
    ngx_http_woportal_db_t *db, ngx_thread_pool_t *tp);
static ngx_int_t ngx_http_woportal_commit_before(
    ngx_http_woportal_call_t *call);
static void ngx_http_woportal_commit_leased(ngx_http_woportal_mc_op_t *op);
static void ngx_http_woportal_commit_peeked(ngx_http_woportal_mc_op_t *op);
static void ngx_http_woportal_commit_deleted(ngx_http_woportal_mc_op_t *op);
static void ngx_http_woportal_commit_ready(ngx_http_woportal_call_t *call,
    ngx_http_woportal_mc_op_t *op);
static void ngx_http_woportal_commit_queue(ngx_http_woportal_commit_t *c,
    ngx_http_woportal_call_t *call);
static void ngx_http_woportal_commit_flush(ngx_event_t *ev);
static void ngx_http_woportal_commit_thread(void *data, ngx_log_t *log);
static void ngx_http_woportal_commit_result(ngx_http_woportal_call_t *call,
    ngx_int_t rc);
static void ngx_http_woportal_commit_fail(ngx_http_woportal_call_t *first,
    const char *text);
static void ngx_http_woportal_commit_done(ngx_event_t *ev);
static void ngx_http_woportal_commit_after(ngx_http_woportal_commit_t *c,
    ngx_http_woportal_call_t *call);
static void ngx_http_woportal_commit_cached(ngx_http_woportal_mc_op_t *op);
static void ngx_http_woportal_commit_uncached(ngx_http_woportal_mc_op_t *op);
static void ngx_http_woportal_commit_failed(ngx_http_woportal_call_t *call,
    const char *error);
static void ngx_http_woportal_commit_index(ngx_http_woportal_call_t *call);
static void ngx_http_woportal_commit_indexed(ngx_http_woportal_mc_op_t *op);
static void ngx_http_woportal_commit_index_thread(void *data,
    ngx_log_t *log);
static void ngx_http_woportal_commit_index_done(ngx_event_t *ev);
static void ngx_http_woportal_commit_answered(ngx_http_woportal_call_t *call);
static void ngx_http_woportal_commit_afters(ngx_http_woportal_commit_t *c,
    ngx_http_woportal_call_t *first);
static void ngx_http_woportal_commit_after_thread(void *data,
    ngx_log_t *log);
static ngx_uint_t ngx_http_woportal_commit_marks(
    ngx_http_woportal_call_t *call, ngx_log_t *log);
static void ngx_http_woportal_commit_answer(ngx_event_t *ev);


/* the writes of a batch whose memcached calls after share a task */
typedef struct ngx_http_woportal_after_s  ngx_http_woportal_after_t;

struct ngx_http_woportal_after_s {
    ngx_thread_task_t             task;
    ngx_http_woportal_commit_t   *commit;
    ngx_http_woportal_call_t     *first;
    ngx_http_woportal_after_t    *next;      /* free */
};


static ngx_http_woportal_commit_t  *ngx_http_woportal_commits;
static ngx_http_woportal_after_t   *ngx_http_woportal_free_afters;


/* on the event loop: a write starts; NGX_OK, or NGX_ERROR (nothing done) */

ngx_int_t
ngx_http_woportal_commit_post(ngx_http_woportal_call_t *call,
    ngx_thread_pool_t *tp)
{
    ngx_http_woportal_commit_t  *c;

    c = ngx_http_woportal_commit_get(call->persist->db, tp);
    if (c == NULL) {
        return NGX_ERROR;
    }

    call->rc = MEMCACHED_SUCCESS;
    call->rc_text = NULL;
    call->index_rc = NGX_OK;
    call->mc_value = NULL;
    call->mc_value_len = 0;
    call->fetched_flags = 0;
    call->posted = ngx_http_woportal_metrics_clock();
    call->distrust = NULL;
    call->task_pool = tp;

    call->lease = 0;
    call->cached = 0;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, call->request->connection->log, 0,
                   "woportal: \"%V\" goes to the database", &call->key);

    /* before the step before: memcached may fail it at once */
    ngx_http_woportal_store_wait(call);

    if (call->op == NGX_HTTP_WOPORTAL_STORE_ADD) {
        /* a new id: there is no item to delete first */
        ngx_http_woportal_commit_queue(c, call);

    } else if (ngx_http_woportal_commit_before(call) != NGX_OK) {
        ngx_http_woportal_store_unwait(call);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_http_woportal_commit_t *
ngx_http_woportal_commit_get(ngx_http_woportal_db_t *db,
    ngx_thread_pool_t *tp)
{
    ngx_http_woportal_commit_t  *c;

    for (c = ngx_http_woportal_commits; c; c = c->next) {
        if (c->db == db && c->tp == tp) {
            return c;
        }
    }

    c = ngx_pcalloc(ngx_cycle->pool, sizeof(ngx_http_woportal_commit_t));
    if (c == NULL) {
        return NULL;
    }

    c->db = db;
    c->tp = tp;
    c->last = &c->first;

    c->task.ctx = c;
    c->task.handler = ngx_http_woportal_commit_thread;
    c->task.event.data = c;
    c->task.event.handler = ngx_http_woportal_commit_done;

    c->flush.data = c;
    c->flush.handler = ngx_http_woportal_commit_flush;
    c->flush.log = ngx_cycle->log;

    c->next = ngx_http_woportal_commits;
    ngx_http_woportal_commits = c;

    return c;
}


/*
 * On the event loop, before the transaction: a change sets its lease
 * over the entry's item (a set ends every other lease, as a delete
 * would: once committed, the new version is CASed over it, so that the
 * next read finds it); a deletion tells whether memcached holds the
 * entry, then deletes it.  NGX_OK, or NGX_ERROR (nothing done).
 */

static ngx_int_t
ngx_http_woportal_commit_before(ngx_http_woportal_call_t *call)
{
    ngx_http_woportal_mc_op_t  *op;

    op = ngx_http_woportal_store_op(call, NULL);

    if (call->op == NGX_HTTP_WOPORTAL_STORE_DELETE) {
        /*
         * async mode answers changes before SQL has them, and SQL
         * without it must not make its deletion 404
         */
        op->opcode = NGX_HTTP_WOPORTAL_MC_GET;
        op->handler = ngx_http_woportal_commit_peeked;

    } else {
        op->opcode = NGX_HTTP_WOPORTAL_MC_SET;
        op->flags = NGX_HTTP_WOPORTAL_FORMAT_LEASE;
        op->exptime = NGX_HTTP_WOPORTAL_LEASE_TIME;
        op->handler = ngx_http_woportal_commit_leased;
    }

    return ngx_http_woportal_mc_post(call->store->client, op);
}


static void
ngx_http_woportal_commit_leased(ngx_http_woportal_mc_op_t *op)
{
    ngx_http_woportal_call_t *call = op->data;

    /* the set answers the lease's CAS */
    call->lease = op->cas_out;

    ngx_http_woportal_commit_ready(call, op);
}


static void
ngx_http_woportal_commit_peeked(ngx_http_woportal_mc_op_t *op)
{
    ngx_http_woportal_call_t *call = op->data;

    if (op->rc != NGX_OK
        || (op->status != NGX_HTTP_WOPORTAL_MC_OK
            && op->status != NGX_HTTP_WOPORTAL_MC_NOT_FOUND))
    {
        ngx_http_woportal_commit_ready(call, op);
        return;
    }

    call->cached = (op->status == NGX_HTTP_WOPORTAL_MC_OK
                    && (op->flags_out == NGX_HTTP_WOPORTAL_FORMAT_ENTRY
                        || op->flags_out == NGX_HTTP_WOPORTAL_FORMAT_JSON));

    op = ngx_http_woportal_store_op(call, NULL);
    op->opcode = NGX_HTTP_WOPORTAL_MC_DELETE;
    op->handler = ngx_http_woportal_commit_deleted;

    if (ngx_http_woportal_mc_post(call->store->client, op) != NGX_OK) {
        call->rc = MEMCACHED_FAILURE;
        call->rc_text = "no memory";
        ngx_http_woportal_store_complete(call);
    }
}


static void
ngx_http_woportal_commit_deleted(ngx_http_woportal_mc_op_t *op)
{
    if (op->rc == NGX_OK && op->status == NGX_HTTP_WOPORTAL_MC_NOT_FOUND) {
        op->status = NGX_HTTP_WOPORTAL_MC_OK;
    }

    ngx_http_woportal_commit_ready(op->data, op);
}


/* memcached was reached: the write waits for its transaction */

static void
ngx_http_woportal_commit_ready(ngx_http_woportal_call_t *call,
    ngx_http_woportal_mc_op_t *op)
{
    ngx_http_woportal_commit_t  *c;

    ngx_http_woportal_store_result(call, op);

    if (call->rc != MEMCACHED_SUCCESS) {
        /* 503: nothing was changed */
        ngx_http_woportal_store_complete(call);
        return;
    }

    /* made when the call was posted */
    c = ngx_http_woportal_commit_get(call->persist->db, call->task_pool);

    ngx_http_woportal_commit_queue(c, call);
}


static void
ngx_http_woportal_commit_queue(ngx_http_woportal_commit_t *c,
    ngx_http_woportal_call_t *call)
{
    call->next = NULL;
    *c->last = call;
    c->last = &call->next;

    if (!c->running && !c->flush.posted) {
        /* once the event loop has handled all the events it was given */
        ngx_post_event(&c->flush, &ngx_posted_events);
    }
}


/* the writes waiting go to a pool thread, as one transaction */

static void
ngx_http_woportal_commit_flush(ngx_event_t *ev)
{
    ngx_http_woportal_commit_t *c = ev->data;

    ngx_uint_t                 n;
    ngx_http_woportal_call_t  *call, **last;

    if (c->running || c->first == NULL) {
        return;
    }

    n = 0;
    last = &c->first;

    for (call = c->first; call && n < NGX_HTTP_WOPORTAL_COMMIT_MAX;
         call = call->next)
    {
        last = &call->next;
        n++;
    }

    c->batch = c->first;
    c->first = *last;
    *last = NULL;

    if (c->first == NULL) {
        c->last = &c->first;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "woportal: a transaction of %ui writes", n);

    c->running = 1;

    if (ngx_thread_task_post(c->tp, &c->task) == NGX_OK) {
        return;
    }

    /* the queue is full (nginx has logged it): 503, nothing was changed */

    ngx_http_woportal_commit_fail(c->batch, "the thread pool's queue is full");

    ngx_http_woportal_commit_done(&c->task.event);
}


/* a pool thread: one transaction, touching nothing but the calls and SQL */

static void
ngx_http_woportal_commit_thread(void *data, ngx_log_t *log)
{
    ngx_http_woportal_commit_t *c = data;

    uint64_t                      now;
    ngx_int_t                     rc, rcs[NGX_HTTP_WOPORTAL_COMMIT_MAX];
    ngx_uint_t                    i, n;
    ngx_http_woportal_db_t       *db;
    ngx_http_woportal_call_t     *call, *calls[NGX_HTTP_WOPORTAL_COMMIT_MAX];
    ngx_http_woportal_persist_t  *ps[NGX_HTTP_WOPORTAL_COMMIT_MAX];

    db = c->db;
    now = ngx_http_woportal_metrics_clock();
    n = 0;

    for (call = c->batch; call; call = call->next) {

        /* the time bound: a write that waited its whole time is 503 */

        if (now - call->posted > (uint64_t) db->timeout * 1000) {
            call->rc = MEMCACHED_TIMEOUT;
            call->rc_text = "the write waited too long for the database";
            continue;
        }

        calls[n] = call;
        ps[n] = call->persist;
        n++;
    }

    if (n == 0) {
        return;
    }

    /* PostgreSQL: one pipeline; else BEGIN, each write, COMMIT */

    rc = ngx_http_woportal_db_commit(db, ps, rcs, n, log);

    if (rc == NGX_DECLINED) {
        rc = ngx_http_woportal_db_begin(db, log);

        for (i = 0; i < n && rc == NGX_OK; i++) {
            rcs[i] = (calls[i]->op == NGX_HTTP_WOPORTAL_STORE_DELETE)
                     ? ngx_http_woportal_db_delete(db, ps[i], log)
                     : ngx_http_woportal_db_put(db, ps[i], log);

            if (rcs[i] == NGX_ERROR) {
                (void) ngx_http_woportal_db_end(db, 0, log);
                rc = NGX_ERROR;
            }
        }

        if (rc == NGX_OK) {
            rc = ngx_http_woportal_db_end(db, 1, log);
        }
    }

    if (rc != NGX_OK) {
        ngx_http_woportal_commit_fail(c->batch, "the database failed, or "
                                      "could not commit");
        return;
    }

    for (i = 0; i < n; i++) {
        ngx_http_woportal_commit_result(calls[i], rcs[i]);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                   "woportal: a transaction of %ui writes committed", n);
}


/* a write of a transaction committed: whether it was made */

static void
ngx_http_woportal_commit_result(ngx_http_woportal_call_t *call,
    ngx_int_t rc)
{
    switch (rc) {

    case NGX_OK:
        break;

    case NGX_BUSY:
        /* a create: the id is taken; else a newer version is there */
        call->rc = (call->op == NGX_HTTP_WOPORTAL_STORE_ADD)
                   ? MEMCACHED_NOTSTORED : MEMCACHED_DATA_EXISTS;
        call->rc_text = "the database holds another version";
        break;

    default: /* NGX_DECLINED */
        if (call->op == NGX_HTTP_WOPORTAL_STORE_DELETE && call->cached) {
            /* memcached had it (async mode): deleted, its tombstone in */
            break;
        }

        call->rc = MEMCACHED_NOTFOUND;
        call->rc_text = "the database has no such entry";
        break;
    }
}


/* every write of the batch not already refused is 503 */

static void
ngx_http_woportal_commit_fail(ngx_http_woportal_call_t *first,
    const char *text)
{
    ngx_http_woportal_call_t  *call;

    for (call = first; call; call = call->next) {
        if (call->rc == MEMCACHED_SUCCESS) {
            call->rc = MEMCACHED_FAILURE;
            call->rc_text = text;
        }
    }
}


/*
 * On the event loop: the batch is over; the writes committed go on to
 * their memcached calls after, the others are answered.  The next batch
 * goes.
 */

static void
ngx_http_woportal_commit_done(ngx_event_t *ev)
{
    ngx_http_woportal_commit_t *c = ev->data;

    ngx_http_woportal_call_t  *call, *next;

    call = c->batch;
    c->batch = NULL;
    c->running = 0;

    if (c->first && !c->flush.posted) {
        ngx_post_event(&c->flush, &ngx_posted_events);
    }

    for ( /* void */ ; call; call = next) {
        /* a call's request may be freed by its done handler */
        next = call->next;
        call->next = NULL;

        if (call->rc != MEMCACHED_SUCCESS) {
            ngx_http_woportal_store_complete(call);
            continue;
        }

        /* an index a write before could not mend goes with this one */
        call->distrust = c->distrust;
        c->distrust = NULL;

        if (call->distrust) {
            /* the marks go in a pool thread, with the write's calls */
            ngx_http_woportal_commit_afters(c, call);
            continue;
        }

        ngx_http_woportal_commit_after(c, call);
    }
}


/*
 * After the commit, on the event loop: the new version is set over the
 * write's own lease (a new entry's is set), else the item is deleted;
 * then the index learns the change.  The change is committed whatever
 * fails here: the request is answered 2xx, and a record that could not
 * be appended leaves the index to be rebuilt.
 */

static void
ngx_http_woportal_commit_after(ngx_http_woportal_commit_t *c,
    ngx_http_woportal_call_t *call)
{
    ngx_http_woportal_mc_op_t  *op;

    op = ngx_http_woportal_store_op(call, NULL);

    if (call->op == NGX_HTTP_WOPORTAL_STORE_ADD || call->lease) {
        /*
         * A new id: no older version of it exists to be served instead.
         * A change: over its own lease only, anything else there
         * (another write's lease, a reader's fill of an older row,
         * nothing after a flush) makes the CAS fail, and the item is
         * deleted
         */
        op->opcode = NGX_HTTP_WOPORTAL_MC_SET;
        op->value = call->value;
        op->flags = call->flags;
        op->cas = call->lease;
        op->handler = ngx_http_woportal_commit_cached;

    } else {
        op->opcode = NGX_HTTP_WOPORTAL_MC_DELETE;
        op->handler = ngx_http_woportal_commit_uncached;
    }

    if (ngx_http_woportal_mc_post(call->store->client, op) != NGX_OK) {
        ngx_http_woportal_commit_failed(call, "no memory");
    }
}


static void
ngx_http_woportal_commit_cached(ngx_http_woportal_mc_op_t *op)
{
    ngx_http_woportal_call_t *call = op->data;

    if (op->rc != NGX_OK) {
        ngx_http_woportal_commit_failed(call, op->error);
        return;
    }

    switch (op->status) {

    case NGX_HTTP_WOPORTAL_MC_OK:
        ngx_http_woportal_commit_index(call);
        return;

    case NGX_HTTP_WOPORTAL_MC_EXISTS:
    case NGX_HTTP_WOPORTAL_MC_NOT_FOUND:
    case NGX_HTTP_WOPORTAL_MC_NOT_STORED:
        break;

    default:
        ngx_http_woportal_commit_failed(call, "memcached refused the value");
        return;
    }

    op = ngx_http_woportal_store_op(call, NULL);
    op->opcode = NGX_HTTP_WOPORTAL_MC_DELETE;
    op->handler = ngx_http_woportal_commit_uncached;

    if (ngx_http_woportal_mc_post(call->store->client, op) != NGX_OK) {
        ngx_http_woportal_commit_failed(call, "no memory");
    }
}


static void
ngx_http_woportal_commit_uncached(ngx_http_woportal_mc_op_t *op)
{
    ngx_http_woportal_call_t *call = op->data;

    if (op->rc != NGX_OK) {
        ngx_http_woportal_commit_failed(call, op->error);
        return;
    }

    if (op->status != NGX_HTTP_WOPORTAL_MC_OK
        && op->status != NGX_HTTP_WOPORTAL_MC_NOT_FOUND)
    {
        ngx_http_woportal_commit_failed(call, "memcached refused a delete");
        return;
    }

    ngx_http_woportal_commit_index(call);
}


/*
 * The item was deleted before the transaction: only a lease taken since
 * can be left, and it expires
 */

static void
ngx_http_woportal_commit_failed(ngx_http_woportal_call_t *call,
    const char *error)
{
    ngx_log_error(NGX_LOG_ERR, call->request->connection->log, 0,
                  "woportal: \"%V\" is committed but memcached failed "
                  "after the commit: %s", &call->key, error);

    call->index_rc = NGX_ERROR;

    ngx_http_woportal_commit_answered(call);
}


/* the record appended, quietly: an append is answered only if refused */

static void
ngx_http_woportal_commit_index(ngx_http_woportal_call_t *call)
{
    if (call->record.len == 0) {
        ngx_http_woportal_commit_answered(call);
        return;
    }

    if (ngx_http_woportal_store_append(call, ngx_http_woportal_commit_indexed)
        != NGX_OK)
    {
        call->index_rc = NGX_ERROR;
        ngx_http_woportal_commit_answered(call);
    }
}


static void
ngx_http_woportal_commit_indexed(ngx_http_woportal_mc_op_t *op)
{
    ngx_http_woportal_call_t *call = op->data;

    if (op->rc == NGX_OK && op->status != NGX_HTTP_WOPORTAL_MC_OK) {
        /*
         * Refused: the shard is full (a pool thread compacts it) or
         * missing (lost: the index is rebuilt from SQL)
         */
        if (ngx_http_woportal_store_task(call, call->task_pool,
                                         ngx_http_woportal_commit_index_thread,
                                         ngx_http_woportal_commit_index_done)
            == NGX_OK)
        {
            return;
        }
    }

    if (op->rc != NGX_OK || op->status != NGX_HTTP_WOPORTAL_MC_OK) {
        call->index_rc = NGX_ERROR;
    }

    ngx_http_woportal_commit_answered(call);
}


/* in a pool thread: a record memcached refused */

static void
ngx_http_woportal_commit_index_thread(void *data, ngx_log_t *log)
{
    ngx_http_woportal_call_t *call = data;

    memcached_st  *mc;

    mc = ngx_http_woportal_libmc_conn(call->store);

    if (mc == NULL
        || (ngx_http_woportal_index_append(mc, &call->index_key,
                                           &call->record, &call->index_count,
                                           0, log)
            != NGX_OK
            && ngx_http_woportal_index_distrust(mc, call->index_marks, log)
               != NGX_OK))
    {
        call->index_rc = NGX_ERROR;
    }
}


static void
ngx_http_woportal_commit_index_done(ngx_event_t *ev)
{
    ngx_http_woportal_commit_answered(ev->data);
}


/* a committed write is answered */

static void
ngx_http_woportal_commit_answered(ngx_http_woportal_call_t *call)
{
    ngx_http_woportal_commit_t  *c;

    if (call->index_rc != NGX_OK) {
        /* the next write that reaches memcached distrusts the index */
        c = ngx_http_woportal_commit_get(call->persist->db,
                                         call->task_pool);
        c->distrust = call->index_marks;
        call->index_rc = NGX_OK;
    }

    ngx_http_woportal_store_complete(call);
}


/* on the event loop: committed writes go on to their memcached calls */

static void
ngx_http_woportal_commit_afters(ngx_http_woportal_commit_t *c,
    ngx_http_woportal_call_t *first)
{
    ngx_http_woportal_call_t   *call, *next;
    ngx_http_woportal_after_t  *a;

    a = ngx_http_woportal_free_afters;

    if (a) {
        ngx_http_woportal_free_afters = a->next;

    } else {
        /* as many as were ever in flight at once; reused */

        a = ngx_pcalloc(ngx_cycle->pool, sizeof(ngx_http_woportal_after_t));

        if (a) {
            a->task.ctx = a;
            a->task.handler = ngx_http_woportal_commit_after_thread;
            a->task.event.data = a;
            a->task.event.handler = ngx_http_woportal_commit_answer;
        }
    }

    if (a) {
        a->commit = c;
        a->first = first;

        if (ngx_thread_task_post(c->tp, &a->task) == NGX_OK) {
            return;
        }

        a->next = ngx_http_woportal_free_afters;
        ngx_http_woportal_free_afters = a;
    }

    /* committed all the same: answered, and the index is rebuilt */

    for (call = first; call; call = next) {
        next = call->next;
        c->distrust = call->index_marks;
        ngx_http_woportal_store_complete(call);
    }
}


/* in a pool thread: the memcached calls after the commit of a few writes */

static void
ngx_http_woportal_commit_after_thread(void *data, ngx_log_t *log)
{
    ngx_http_woportal_after_t *a = data;

    ngx_uint_t                 failed;
    ngx_http_woportal_call_t  *call;

    failed = 0;

    for (call = a->first; call; call = call->next) {
        if (failed) {
            /* memcached failed for one: not waited for again */
            call->index_rc = NGX_ERROR;
            continue;
        }

        failed = ngx_http_woportal_commit_marks(call, log);
    }
}


/*
 * After the commit, in a pool thread, for a write that also deletes the
 * marks of an index a write before could not mend: as commit_after()
 * does, with libmemcached.  1 when memcached could not be reached.
 */

static ngx_uint_t
ngx_http_woportal_commit_marks(ngx_http_woportal_call_t *call,
    ngx_log_t *log)
{
    memcached_st        *mc;
    memcached_return_t   rc;

    mc = ngx_http_woportal_libmc_conn(call->store);

    if (mc == NULL) {
        call->index_rc = NGX_ERROR;
        return 1;
    }

    if (call->distrust
        && ngx_http_woportal_index_distrust(mc, call->distrust, log)
           == NGX_OK)
    {
        call->distrust = NULL;
    }

    rc = MEMCACHED_NOTSTORED;

    if (call->op == NGX_HTTP_WOPORTAL_STORE_ADD) {
        /* no older version of a new id exists to be served instead */
        rc = memcached_set(mc, (char *) call->key.data, call->key.len,
                           (char *) call->value.data, call->value.len,
                           (time_t) 0, call->flags);

    } else if (call->lease) {
        /*
         * Over this write's own lease only: anything else there (another
         * write's lease, a reader's fill of an older row, nothing after
         * a flush) makes the CAS fail, and the item is deleted
         */
        rc = memcached_cas(mc, (char *) call->key.data, call->key.len,
                           (char *) call->value.data, call->value.len,
                           (time_t) 0, call->flags, call->lease);
    }

    if (rc == MEMCACHED_DATA_EXISTS || rc == MEMCACHED_NOTFOUND
        || rc == MEMCACHED_NOTSTORED)
    {
        rc = memcached_delete(mc, (char *) call->key.data, call->key.len,
                              (time_t) 0);

        if (rc == MEMCACHED_NOTFOUND) {
            rc = MEMCACHED_SUCCESS;
        }
    }

    if (rc != MEMCACHED_SUCCESS) {
        /*
         * The item was deleted before the transaction: only a lease
         * taken since can be left, and it expires
         */
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "woportal: \"%V\" is committed but memcached failed "
                      "after the commit: %s", &call->key,
                      memcached_strerror(mc, rc));
        call->index_rc = NGX_ERROR;
        return 1;
    }

    if (call->record.len
        && ngx_http_woportal_index_append(mc, &call->index_key,
                                          &call->record, &call->index_count,
                                          0, log)
           != NGX_OK
        && ngx_http_woportal_index_distrust(mc, call->index_marks, log)
           != NGX_OK)
    {
        call->index_rc = NGX_ERROR;
    }

    return 0;
}


/* on the event loop: the writes are answered */

static void
ngx_http_woportal_commit_answer(ngx_event_t *ev)
{
    ngx_http_woportal_after_t *a = ev->data;

    ngx_http_woportal_call_t    *call, *next;
    ngx_http_woportal_commit_t  *c;

    c = a->commit;
    call = a->first;

    /* free before the calls go on: their next writes may reuse it */

    a->first = NULL;
    a->next = ngx_http_woportal_free_afters;
    ngx_http_woportal_free_afters = a;

    for ( /* void */ ; call; call = next) {
        next = call->next;

        if (call->index_rc != NGX_OK || call->distrust) {
            /* the next write that reaches memcached distrusts the index */
            c->distrust = call->distrust ? call->distrust : call->index_marks;
            call->index_rc = NGX_OK;
        }

        ngx_http_woportal_store_complete(call);
    }
}
