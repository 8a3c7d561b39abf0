
/*
 * The pool threads' own handles.  libmemcached, SQLite and libpq handles
 * are not to be shared between threads, so each pool thread keeps its
 * own, in slots made on first use: one slot per memcached configuration
 * (libmc.c), then one per database (db.c).  At exit each handle goes back
 * to its own side: memcached's to libmc_free(), a database's to
 * db_free().
 *
 * Every thread's slots are also on a list, so that the worker frees them
 * when it exits, after nginx has stopped its pool threads: not a pthread
 * key destructor, which would run in the exiting pool thread while the
 * main thread goes on, and may unload this module (a dynamic one) under
 * it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_threads.h"


typedef struct ngx_http_woportal_slots_s  ngx_http_woportal_slots_t;

struct ngx_http_woportal_slots_s {
    ngx_http_woportal_slots_t  *next;
    void                       *slot[1];
};


static pthread_key_t               ngx_http_woportal_slots_key;
static ngx_uint_t                  ngx_http_woportal_nslots;
static ngx_uint_t                  ngx_http_woportal_nstore_slots;
static ngx_http_woportal_slots_t  *ngx_http_woportal_slots;
static pthread_mutex_t             ngx_http_woportal_slots_lock =
                                       PTHREAD_MUTEX_INITIALIZER;


/*
 * In the worker, before any pool thread asks: the slots of a thread, for
 * nstores memcached handles, then ndbs database connections.
 */

ngx_int_t
ngx_http_woportal_slots_init(ngx_cycle_t *cycle, ngx_uint_t nstores,
    ngx_uint_t ndbs)
{
    int  err;

    if (nstores + ndbs == 0) {
        return NGX_OK;
    }

    err = pthread_key_create(&ngx_http_woportal_slots_key, NULL);
    if (err != 0) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, err,
                      "woportal: pthread_key_create() failed");
        return NGX_ERROR;
    }

    ngx_http_woportal_nslots = nstores + ndbs;
    ngx_http_woportal_nstore_slots = nstores;

    return NGX_OK;
}


/* in a pool thread: its slot i, NULL until its handle is made */

void **
ngx_http_woportal_slot(ngx_uint_t i)
{
    ngx_http_woportal_slots_t  *slots;

    slots = pthread_getspecific(ngx_http_woportal_slots_key);

    if (slots == NULL) {
        slots = calloc(1, sizeof(ngx_http_woportal_slots_t)
                          + ngx_http_woportal_nslots * sizeof(void *));
        if (slots == NULL) {
            return NULL;
        }

        if (pthread_setspecific(ngx_http_woportal_slots_key, slots) != 0) {
            free(slots);
            return NULL;
        }

        (void) pthread_mutex_lock(&ngx_http_woportal_slots_lock);
        slots->next = ngx_http_woportal_slots;
        ngx_http_woportal_slots = slots;
        (void) pthread_mutex_unlock(&ngx_http_woportal_slots_lock);
    }

    return &slots->slot[i];
}


/*
 * At exit, with no pool thread left: each handle freed, a memcached one
 * by libmc_free(), the connection to database i by db_free(i).
 */

void
ngx_http_woportal_slots_exit(ngx_http_woportal_free_pt mc_free,
    ngx_http_woportal_release_pt db_free)
{
    void                       *h;
    ngx_uint_t                  i, n;
    ngx_http_woportal_slots_t  *slots, *next;

    if (ngx_http_woportal_nslots == 0) {
        return;
    }

    n = ngx_http_woportal_nstore_slots;

    (void) pthread_mutex_lock(&ngx_http_woportal_slots_lock);

    for (slots = ngx_http_woportal_slots; slots; slots = next) {
        next = slots->next;

        for (i = 0; i < ngx_http_woportal_nslots; i++) {
            h = slots->slot[i];

            if (h == NULL) {
                continue;
            }

            if (i < n) {
                mc_free(h);

            } else {
                db_free(i - n, h);
            }
        }

        free(slots);
    }

    ngx_http_woportal_slots = NULL;

    (void) pthread_mutex_unlock(&ngx_http_woportal_slots_lock);

    (void) pthread_key_delete(ngx_http_woportal_slots_key);
    ngx_http_woportal_nslots = 0;
    ngx_http_woportal_nstore_slots = 0;
}
