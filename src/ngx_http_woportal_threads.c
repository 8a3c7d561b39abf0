
/*
 * The pool threads' own handles.  libmemcached, SQLite and libpq handles
 * are not to be shared between threads, so each pool thread keeps its
 * own, in slots made on first use: one slot per memcached configuration
 * (store.c), then one per database (persist.c).
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


typedef struct ngx_http_woportal_slots_s  ngx_http_woportal_slots_t;

struct ngx_http_woportal_slots_s {
    ngx_http_woportal_slots_t  *next;
    void                       *slot[1];
};


static pthread_key_t               ngx_http_woportal_slots_key;
static ngx_uint_t                  ngx_http_woportal_nslots;
static ngx_http_woportal_slots_t  *ngx_http_woportal_slots;
static pthread_mutex_t             ngx_http_woportal_slots_lock =
                                       PTHREAD_MUTEX_INITIALIZER;


/* in the worker, before any pool thread asks: n slots a thread */

ngx_int_t
ngx_http_woportal_slots_init(ngx_cycle_t *cycle, ngx_uint_t n)
{
    int  err;

    if (n == 0) {
        return NGX_OK;
    }

    err = pthread_key_create(&ngx_http_woportal_slots_key, NULL);
    if (err != 0) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, err,
                      "woportal: pthread_key_create() failed");
        return NGX_ERROR;
    }

    ngx_http_woportal_nslots = n;

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


/* at exit, with no pool thread left: each handle given to release() */

void
ngx_http_woportal_slots_exit(ngx_http_woportal_release_pt release)
{
    ngx_uint_t                  i;
    ngx_http_woportal_slots_t  *slots, *next;

    if (ngx_http_woportal_nslots == 0) {
        return;
    }

    (void) pthread_mutex_lock(&ngx_http_woportal_slots_lock);

    for (slots = ngx_http_woportal_slots; slots; slots = next) {
        next = slots->next;

        for (i = 0; i < ngx_http_woportal_nslots; i++) {
            if (slots->slot[i]) {
                release(i, slots->slot[i]);
            }
        }

        free(slots);
    }

    ngx_http_woportal_slots = NULL;

    (void) pthread_mutex_unlock(&ngx_http_woportal_slots_lock);

    (void) pthread_key_delete(ngx_http_woportal_slots_key);
    ngx_http_woportal_nslots = 0;
}
