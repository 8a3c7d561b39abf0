
/*
 * woportal_persist_mode async: creates and changes are answered once
 * memcached holds them, and go to the database later, from a bounded
 * queue of each worker (deletions stay synchronous).
 *
 * Each worker keeps, per database, a FIFO of copies of the changes it
 * answered (here, by the database's index, made on first use).  One
 * pool-thread task at a time writes them in order, up to
 * NGX_HTTP_WOPORTAL_ASYNC_BATCH in one transaction (so one commit, one
 * fsync, serves many changes).  The database keeps the newest version of
 * an entry whatever order the workers' batches arrive in (the version
 * guard of sqlite.c and pgsql.c), and a deletion's tombstone outranks
 * every version.
 *
 * A batch that fails stays at the head of the queue and is tried again
 * every second; a timer is kept while the queue is not empty, so a worker
 * that is shutting down (a reload) waits until its queue is written.  When
 * the queue holds woportal_persist_queue changes, writes are persisted
 * synchronously instead, until it has room again.
 *
 * What a crash can lose: the changes in the queues of the workers that
 * crashed (never more than woportal_persist_queue each), and then only if
 * memcached loses them too.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_async.h"
#include "ngx_http_woportal_db.h"


#define NGX_HTTP_WOPORTAL_ASYNC_BATCH  256


typedef struct {
    ngx_queue_t                   queue;
    ngx_http_woportal_persist_t   p;       /* then its bytes */
} ngx_http_woportal_async_item_t;


typedef struct {
    ngx_http_woportal_db_t       *db;
    ngx_thread_pool_t            *thread_pool;
    ngx_uint_t                    max;
    ngx_queue_t                   pending;
    ngx_uint_t                    npending;
    ngx_queue_t                   batch;     /* the task's, while it runs */
    ngx_uint_t                    nbatch;
    ngx_int_t                     rc;        /* the task's result */
    ngx_thread_task_t            *task;
    ngx_event_t                   timer;
    ngx_log_t                    *log;
} ngx_http_woportal_async_t;


static ngx_http_woportal_async_t *ngx_http_woportal_async_find(
    ngx_http_woportal_db_t *db);
static ngx_http_woportal_async_t *ngx_http_woportal_async_get(
    ngx_http_woportal_db_t *db, ngx_log_t *log);
static void ngx_http_woportal_async_drain(ngx_http_woportal_async_t *l);
static void ngx_http_woportal_async_requeue(ngx_http_woportal_async_t *l);
static void ngx_http_woportal_async_thread(void *data, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_async_cmp(const void *one,
    const void *two);
static void ngx_http_woportal_async_done(ngx_event_t *ev);
static void ngx_http_woportal_async_timer(ngx_event_t *ev);


/*
 * This worker's queues, by the index of their database, made in the pool
 * of the cycle whose configuration they serve (a reload without a master
 * process starts with none).
 */

static ngx_cycle_t                 *ngx_http_woportal_async_cycle;
static ngx_http_woportal_async_t  **ngx_http_woportal_asyncs;
static ngx_uint_t                   ngx_http_woportal_nasyncs;


/* whether the queue of db in this worker has room */

ngx_uint_t
ngx_http_woportal_async_room(ngx_http_woportal_db_t *db, ngx_uint_t max)
{
    ngx_http_woportal_async_t  *l;

    l = ngx_http_woportal_async_find(db);

    return (l ? l->npending + l->nbatch : 0) < max;
}


/* queues a copy of a change that memcached holds: NGX_OK or NGX_ERROR */

ngx_int_t
ngx_http_woportal_async_queue(ngx_http_woportal_persist_t *p,
    ngx_thread_pool_t *tp, ngx_uint_t max, ngx_log_t *log)
{
    u_char                          *d;
    ngx_http_woportal_async_t       *l;
    ngx_http_woportal_async_item_t  *item;

    l = ngx_http_woportal_async_get(p->db, log);
    if (l == NULL) {
        return NGX_ERROR;
    }

    l->thread_pool = tp;
    l->max = max;

    item = ngx_alloc(sizeof(ngx_http_woportal_async_item_t)
                     + p->prefix.len + NGX_HTTP_WOPORTAL_ID_LEN + p->doc.len,
                     log);
    if (item == NULL) {
        return NGX_ERROR;
    }

    item->p = *p;

    d = (u_char *) &item[1];

    item->p.prefix.data = d;
    d = ngx_cpymem(d, p->prefix.data, p->prefix.len);
    item->p.id = d;
    d = ngx_cpymem(d, p->id, NGX_HTTP_WOPORTAL_ID_LEN);
    item->p.doc.data = d;
    ngx_memcpy(d, p->doc.data, p->doc.len);

    ngx_queue_insert_tail(&l->pending, &item->queue);
    l->npending++;

    ngx_http_woportal_async_drain(l);

    return NGX_OK;
}


/* at exit: what could not be written is lost, and said so */

void
ngx_http_woportal_async_exit(ngx_cycle_t *cycle)
{
    ngx_uint_t                  i;
    ngx_queue_t                *q;
    ngx_http_woportal_async_t  *l;

    if (ngx_http_woportal_async_cycle != cycle) {
        return;
    }

    for (i = 0; i < ngx_http_woportal_nasyncs; i++) {
        l = ngx_http_woportal_asyncs[i];

        if (l == NULL) {
            continue;
        }

        if (l->npending + l->nbatch) {
            ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                          "woportal: %ui changes were not written to the "
                          "database \"%V\"", l->npending + l->nbatch,
                          &l->db->config);
        }

        ngx_http_woportal_async_requeue(l);

        while (!ngx_queue_empty(&l->pending)) {
            q = ngx_queue_head(&l->pending);
            ngx_queue_remove(q);
            ngx_free(q);
        }
    }
}


/* this worker's queue of db; NULL: none yet */

static ngx_http_woportal_async_t *
ngx_http_woportal_async_find(ngx_http_woportal_db_t *db)
{
    if (ngx_http_woportal_async_cycle != ngx_cycle) {
        return NULL;
    }

    return ngx_http_woportal_asyncs[db->index];
}


/* this worker's queue of db, made on first use */

static ngx_http_woportal_async_t *
ngx_http_woportal_async_get(ngx_http_woportal_db_t *db, ngx_log_t *log)
{
    ngx_uint_t                       n;
    ngx_http_woportal_async_t       *l, **ls;
    ngx_http_woportal_main_conf_t   *wmcf;

    l = ngx_http_woportal_async_find(db);

    if (l) {
        return l;
    }

    if (ngx_http_woportal_async_cycle != ngx_cycle) {
        wmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                                   ngx_http_woportal_module);
        n = wmcf->dbs.nelts;

        ls = ngx_pcalloc(ngx_cycle->pool,
                         n * sizeof(ngx_http_woportal_async_t *));
        if (ls == NULL) {
            return NULL;
        }

        ngx_http_woportal_async_cycle = (ngx_cycle_t *) ngx_cycle;
        ngx_http_woportal_asyncs = ls;
        ngx_http_woportal_nasyncs = n;
    }

    l = ngx_pcalloc(ngx_cycle->pool, sizeof(ngx_http_woportal_async_t));
    if (l == NULL) {
        return NULL;
    }

    l->task = ngx_thread_task_alloc(ngx_cycle->pool, 0);
    if (l->task == NULL) {
        return NULL;
    }

    l->db = db;
    l->log = ngx_cycle->log;

    ngx_queue_init(&l->pending);
    ngx_queue_init(&l->batch);

    l->task->ctx = l;
    l->task->handler = ngx_http_woportal_async_thread;
    l->task->event.data = l;
    l->task->event.handler = ngx_http_woportal_async_done;

    /* not cancelable: a worker shutting down waits for the queue */
    l->timer.handler = ngx_http_woportal_async_timer;
    l->timer.data = l;
    l->timer.log = l->log;

    ngx_http_woportal_asyncs[db->index] = l;

    return l;
}


/* starts writing the next batch, when none is being written */

static void
ngx_http_woportal_async_drain(ngx_http_woportal_async_t *l)
{
    ngx_queue_t  *q;

    if (l->nbatch == 0) {
        while (l->nbatch < NGX_HTTP_WOPORTAL_ASYNC_BATCH
               && !ngx_queue_empty(&l->pending))
        {
            q = ngx_queue_head(&l->pending);
            ngx_queue_remove(q);
            ngx_queue_insert_tail(&l->batch, q);
            l->nbatch++;
            l->npending--;
        }

        if (l->nbatch
            && ngx_thread_task_post(l->thread_pool, l->task) != NGX_OK)
        {
            /* the pool's queue is full: back in line, tried again later */
            ngx_http_woportal_async_requeue(l);
        }
    }

    if (l->npending + l->nbatch) {
        if (!l->timer.timer_set) {
            ngx_add_timer(&l->timer, 1000);
        }

    } else if (l->timer.timer_set) {
        ngx_del_timer(&l->timer);
    }
}


/* the batch back at the head of the queue, in order */

static void
ngx_http_woportal_async_requeue(ngx_http_woportal_async_t *l)
{
    ngx_queue_add(&l->batch, &l->pending);
    ngx_queue_init(&l->pending);
    ngx_queue_add(&l->pending, &l->batch);
    ngx_queue_init(&l->batch);

    l->npending += l->nbatch;
    l->nbatch = 0;
}


/* in a pool thread: the batch, in order, in one transaction */

static void
ngx_http_woportal_async_thread(void *data, ngx_log_t *log)
{
    ngx_http_woportal_async_t *l = data;

    ngx_int_t                         rc;
    ngx_uint_t                        i, n;
    ngx_queue_t                      *q;
    ngx_http_woportal_async_item_t   *items[NGX_HTTP_WOPORTAL_ASYNC_BATCH];

    /*
     * In the order of the ids: batches of several workers then lock rows
     * in one order and never deadlock.  The order of one entry's changes
     * does not matter: the newest version wins, and a create after a
     * change of its entry finds the row there.
     */

    n = 0;

    for (q = ngx_queue_head(&l->batch);
         q != ngx_queue_sentinel(&l->batch);
         q = ngx_queue_next(q))
    {
        items[n++] = (ngx_http_woportal_async_item_t *) q;
    }

    ngx_sort(items, n, sizeof(ngx_http_woportal_async_item_t *),
             ngx_http_woportal_async_cmp);

    rc = ngx_http_woportal_db_begin(l->db, log);

    for (i = 0; rc == NGX_OK && i < n; i++) {

        /* NGX_BUSY: the database has this version or a newer one */

        if (ngx_http_woportal_db_put(l->db, &items[i]->p, log) == NGX_ERROR) {
            rc = NGX_ERROR;
        }
    }

    if (rc == NGX_OK) {
        rc = ngx_http_woportal_db_end(l->db, 1, log);

    } else {
        (void) ngx_http_woportal_db_end(l->db, 0, log);
    }

    l->rc = rc;
}


static ngx_int_t
ngx_http_woportal_async_cmp(const void *one, const void *two)
{
    ngx_http_woportal_async_item_t *const *a = one;
    ngx_http_woportal_async_item_t *const *b = two;

    ngx_int_t   rc;
    ngx_str_t  *pa, *pb;

    rc = ngx_memcmp((*a)->p.id, (*b)->p.id, NGX_HTTP_WOPORTAL_ID_LEN);

    if (rc) {
        return rc;
    }

    pa = &(*a)->p.prefix;
    pb = &(*b)->p.prefix;

    rc = ngx_memcmp(pa->data, pb->data, ngx_min(pa->len, pb->len));

    return rc ? rc : (ngx_int_t) pa->len - (ngx_int_t) pb->len;
}


static void
ngx_http_woportal_async_done(ngx_event_t *ev)
{
    ngx_http_woportal_async_t *l = ev->data;

    ngx_queue_t  *q;

    if (l->rc != NGX_OK) {
        /* kept at the head of the queue, in order, for the timer */

        ngx_log_error(NGX_LOG_ERR, l->log, 0,
                      "woportal: %ui queued changes could not be written to "
                      "the database \"%V\", %ui more wait; trying again",
                      l->nbatch, &l->db->config, l->npending);

        ngx_http_woportal_async_requeue(l);

        if (!l->timer.timer_set) {
            ngx_add_timer(&l->timer, 1000);
        }

        return;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, l->log, 0,
                   "woportal: %ui changes written to \"%V\", %ui queued",
                   l->nbatch, &l->db->config, l->npending);

    while (!ngx_queue_empty(&l->batch)) {
        q = ngx_queue_head(&l->batch);
        ngx_queue_remove(q);
        ngx_free(q);
    }

    l->nbatch = 0;

    ngx_http_woportal_async_drain(l);
}


static void
ngx_http_woportal_async_timer(ngx_event_t *ev)
{
    ngx_http_woportal_async_t *l = ev->data;

    if (l->npending + l->nbatch) {
        ngx_log_error(NGX_LOG_INFO, l->log, 0,
                      "woportal: %ui changes wait to be written to the "
                      "database \"%V\"", l->npending + l->nbatch,
                      &l->db->config);
    }

    ngx_http_woportal_async_drain(l);
}
