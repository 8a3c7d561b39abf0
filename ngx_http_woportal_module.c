
/*
 * ngx_http_woportal_module: the Workorder Portal API served by nginx.
 * Directives, configuration and handler registration.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_async.h"
#include "ngx_http_woportal_auth.h"
#include "ngx_http_woportal_check.h"
#include "ngx_http_woportal_db.h"
#include "ngx_http_woportal_handler.h"
#include "ngx_http_woportal_id.h"
#include "ngx_http_woportal_index.h"
#include "ngx_http_woportal_index_cache.h"
#include "ngx_http_woportal_libmc.h"
#include "ngx_http_woportal_mc.h"
#include "ngx_http_woportal_metrics.h"
#include "ngx_http_woportal_response.h"
#include "ngx_http_woportal_threads.h"
#include "ngx_http_woportal_variables.h"
#include "ngx_http_woportal_version.h"


static void *ngx_http_woportal_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_woportal_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_woportal_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static ngx_http_woportal_store_t *ngx_http_woportal_add_store(ngx_conf_t *cf,
    ngx_array_t *all, ngx_str_t *config, ngx_msec_t timeout);
static char *ngx_http_woportal(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_woportal_memcached(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_woportal_thread_pool(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_woportal_persist(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_woportal_api_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_woportal_api_keys(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_woportal_keys(ngx_conf_t *cf,
    ngx_http_woportal_loc_conf_t *wlcf);
static char *ngx_http_woportal_check_prefix(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_woportal_check_header(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_woportal_check_shards(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_woportal_check_msec(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_woportal_check_size(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_woportal_error(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_woportal_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_woportal_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_woportal_init_process(ngx_cycle_t *cycle);
static void ngx_http_woportal_exit_process(ngx_cycle_t *cycle);


static ngx_conf_enum_t  ngx_http_woportal_persist_modes[] = {
    { ngx_string("sync"), NGX_HTTP_WOPORTAL_SYNC },
    { ngx_string("async"), NGX_HTTP_WOPORTAL_ASYNC },
    { ngx_null_string, 0 }
};


static ngx_conf_post_t  ngx_http_woportal_prefix_post =
    { ngx_http_woportal_check_prefix };

static ngx_conf_post_t  ngx_http_woportal_header_post =
    { ngx_http_woportal_check_header };

static ngx_conf_post_t  ngx_http_woportal_shards_post =
    { ngx_http_woportal_check_shards };

static ngx_conf_post_t  ngx_http_woportal_msec_post =
    { ngx_http_woportal_check_msec };

static ngx_conf_post_t  ngx_http_woportal_size_post =
    { ngx_http_woportal_check_size };


static ngx_command_t  ngx_http_woportal_commands[] = {

    { ngx_string("woportal"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_woportal,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("woportal_memcached"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_woportal_memcached,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_woportal_loc_conf_t, memcached),
      NULL },

    { ngx_string("woportal_memcached_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_woportal_loc_conf_t, memcached_timeout),
      &ngx_http_woportal_msec_post },

    { ngx_string("woportal_key_prefix"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_woportal_loc_conf_t, key_prefix),
      &ngx_http_woportal_prefix_post },

    { ngx_string("woportal_index_shards"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_woportal_loc_conf_t, index_shards),
      &ngx_http_woportal_shards_post },

    { ngx_string("woportal_persist"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_woportal_persist,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("woportal_persist_mode"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_woportal_check_enum,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_woportal_loc_conf_t, persist_mode),
      &ngx_http_woportal_persist_modes },

    { ngx_string("woportal_persist_queue"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_woportal_loc_conf_t, persist_queue),
      NULL },

    { ngx_string("woportal_persist_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_woportal_loc_conf_t, persist_timeout),
      &ngx_http_woportal_msec_post },

    { ngx_string("woportal_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_woportal_thread_pool,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_woportal_loc_conf_t, thread_pool),
      NULL },

    { ngx_string("woportal_list_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_woportal_thread_pool,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_woportal_loc_conf_t, list_thread_pool),
      NULL },

    { ngx_string("woportal_api_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_woportal_api_key,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("woportal_api_keys"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_woportal_api_keys,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("woportal_api_key_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_woportal_loc_conf_t, api_key_header),
      &ngx_http_woportal_header_post },

    { ngx_string("woportal_max_body_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_woportal_loc_conf_t, max_body_size),
      &ngx_http_woportal_size_post },

    { ngx_string("woportal_cors_origins"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_woportal_cors_origins,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_woportal_loc_conf_t, cors_origins),
      NULL },

    { ngx_string("woportal_retry_after"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_woportal_loc_conf_t, retry_after),
      NULL },

    { ngx_string("woportal_error"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_woportal_error,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("woportal_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_woportal_endpoint,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_HTTP_WOPORTAL_METRICS,
      NULL },

    { ngx_string("woportal_health"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_woportal_endpoint,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_HTTP_WOPORTAL_HEALTH,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_woportal_module_ctx = {
    ngx_http_woportal_add_variables,       /* preconfiguration */
    ngx_http_woportal_postconfiguration,   /* postconfiguration */

    ngx_http_woportal_create_main_conf,    /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_woportal_create_loc_conf,     /* create location configuration */
    ngx_http_woportal_merge_loc_conf       /* merge location configuration */
};


ngx_module_t  ngx_http_woportal_module = {
    NGX_MODULE_V1,
    &ngx_http_woportal_module_ctx,         /* module context */
    ngx_http_woportal_commands,            /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_woportal_init_module,         /* init module */
    ngx_http_woportal_init_process,        /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_woportal_exit_process,        /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_woportal_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_woportal_main_conf_t  *wmcf;

    wmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_woportal_main_conf_t));
    if (wmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&wmcf->stores, cf->pool, 2,
                       sizeof(ngx_http_woportal_store_t *))
        != NGX_OK
        || ngx_array_init(&wmcf->dbs, cf->pool, 1,
                          sizeof(ngx_http_woportal_db_t *))
           != NGX_OK)
    {
        return NULL;
    }

    return wmcf;
}


static void *
ngx_http_woportal_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_woportal_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_woportal_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->enable = 0;
     *     conf->clcf = NULL;
     *     conf->base = { 0, NULL };
     *     conf->memcached = { 0, NULL };
     *     conf->key_prefix = { 0, NULL };
     *     conf->index_keys = NULL;
     *     conf->persist = { 0, NULL };
     *     conf->db = NULL;
     *     conf->thread_pool = NULL;
     *     conf->list_thread_pool = NULL;
     *     conf->store = NULL;
     *     conf->api_key_header = { 0, NULL };
     *     conf->errors = 0;
     *     conf->file = { 0, NULL };
     *     conf->line = 0;
     */

    conf->memcached_timeout = NGX_CONF_UNSET_MSEC;
    conf->index_shards = NGX_CONF_UNSET_UINT;
    conf->persist_timeout = NGX_CONF_UNSET_MSEC;
    conf->persist_mode = NGX_CONF_UNSET_UINT;
    conf->persist_queue = NGX_CONF_UNSET_UINT;
    conf->api_keys = NGX_CONF_UNSET_PTR;
    conf->max_body_size = NGX_CONF_UNSET_SIZE;
    conf->cors_origins = NGX_CONF_UNSET_PTR;
    conf->retry_after = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_http_woportal_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_woportal_loc_conf_t *prev = parent;
    ngx_http_woportal_loc_conf_t *conf = child;

    ngx_http_woportal_main_conf_t  *wmcf;

    ngx_conf_merge_str_value(conf->memcached, prev->memcached, "");
    ngx_conf_merge_msec_value(conf->memcached_timeout,
                              prev->memcached_timeout, 500);
    ngx_conf_merge_str_value(conf->key_prefix, prev->key_prefix,
                             "woportal:");
    ngx_conf_merge_uint_value(conf->index_shards, prev->index_shards,
                              NGX_HTTP_WOPORTAL_INDEX_SHARDS);

    if (conf->persist.data == NULL) {
        conf->persist = prev->persist;
        conf->persist_backend = prev->persist_backend;
    }

    ngx_conf_merge_msec_value(conf->persist_timeout, prev->persist_timeout,
                              2000);
    ngx_conf_merge_uint_value(conf->persist_mode, prev->persist_mode,
                              NGX_HTTP_WOPORTAL_SYNC);
    ngx_conf_merge_uint_value(conf->persist_queue, prev->persist_queue,
                              10000);
    if (conf->thread_pool == NULL) {
        conf->thread_pool = prev->thread_pool;
    }

    if (conf->list_thread_pool == NULL) {
        conf->list_thread_pool = prev->list_thread_pool;
    }

    ngx_conf_merge_ptr_value(conf->api_keys, prev->api_keys, NULL);
    ngx_conf_merge_str_value(conf->api_key_header, prev->api_key_header,
                             "X-API-Key");
    ngx_conf_merge_size_value(conf->max_body_size, prev->max_body_size,
                              64 * 1024);
    ngx_conf_merge_ptr_value(conf->cors_origins, prev->cors_origins, NULL);
    ngx_conf_merge_sec_value(conf->retry_after, prev->retry_after, 1);

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    /* the merge runs at the end of http: the errors name "woportal" */

    if (conf->memcached.len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"woportal\" in location \"%V\" needs "
                      "\"woportal_memcached\" in %V:%ui",
                      &conf->clcf->name, &conf->file, conf->line);
        return NGX_CONF_ERROR;
    }

    if (conf->api_keys == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"woportal\" in location \"%V\" needs at least "
                      "one \"woportal_api_key\" or \"woportal_api_keys\" "
                      "in %V:%ui", &conf->clcf->name, &conf->file,
                      conf->line);
        return NGX_CONF_ERROR;
    }

    if (conf->thread_pool == NULL) {
        /* nginx's "default" pool, made when first asked for */
        conf->thread_pool = ngx_thread_pool_add(cf, NULL);
        if (conf->thread_pool == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (conf->list_thread_pool == NULL) {
        conf->list_thread_pool = conf->thread_pool;
    }

    wmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_woportal_module);

    conf->store = ngx_http_woportal_add_store(cf, &wmcf->stores,
                                              &conf->memcached,
                                              conf->memcached_timeout);
    if (conf->store == NULL) {
        return NGX_CONF_ERROR;
    }

    if (conf->store->client == NULL
        && ngx_http_woportal_mc_init(cf, conf->store) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (conf->persist.len) {
        conf->db = ngx_http_woportal_add_store(cf, &wmcf->dbs,
                                               &conf->persist,
                                               conf->persist_timeout);
        if (conf->db == NULL) {
            return NGX_CONF_ERROR;
        }

        conf->db->backend = conf->persist_backend;
    }

    if (ngx_http_woportal_index_keys(cf, conf) != NGX_OK
        || ngx_http_woportal_cache_keys(cf, conf) != NGX_OK
        || ngx_http_woportal_check_location(cf, conf) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /*
     * The body limit is the module's own: nginx enforces it for
     * Content-Length and chunked bodies alike, and the error filter
     * answers its refusal in the envelope.
     */
    conf->clcf->client_max_body_size = conf->max_body_size;

    return NGX_CONF_OK;
}


static ngx_http_woportal_store_t *
ngx_http_woportal_add_store(ngx_conf_t *cf, ngx_array_t *all,
    ngx_str_t *config, ngx_msec_t timeout)
{
    ngx_uint_t                  i;
    ngx_http_woportal_store_t  *store, **stores;

    stores = all->elts;

    for (i = 0; i < all->nelts; i++) {
        if (stores[i]->timeout == timeout
            && stores[i]->config.len == config->len
            && ngx_strncmp(stores[i]->config.data, config->data,
                           config->len)
               == 0)
        {
            return stores[i];
        }
    }

    store = ngx_pcalloc(cf->pool, sizeof(ngx_http_woportal_store_t));
    if (store == NULL) {
        return NULL;
    }

    stores = ngx_array_push(all);
    if (stores == NULL) {
        return NULL;
    }

    /* libmemcached and SQLite want NUL-terminated strings */
    store->config.data = ngx_pnalloc(cf->pool, config->len + 1);
    if (store->config.data == NULL) {
        return NULL;
    }

    ngx_memcpy(store->config.data, config->data, config->len);
    store->config.data[config->len] = '\0';
    store->config.len = config->len;

    store->timeout = timeout;
    store->index = all->nelts - 1;

    *stores = store;

    return store;
}


static char *
ngx_http_woportal(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_woportal_loc_conf_t *wlcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (wlcf->enable) {
        return "is duplicate";
    }

    if (wlcf->errors) {
        return "cannot be used in a \"woportal_error\" location";
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->named || clcf->noname
#if (NGX_PCRE)
        || clcf->regex
#endif
       )
    {
        return "must be used in a prefix or exact-match location";
    }

    wlcf->enable = 1;
    wlcf->clcf = clcf;
    wlcf->file = cf->conf_file->file.name;
    wlcf->line = cf->conf_file->line;

    wlcf->base = clcf->name;

    while (wlcf->base.len && wlcf->base.data[wlcf->base.len - 1] == '/') {
        wlcf->base.len--;
    }

    clcf->handler = ngx_http_woportal_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_woportal_memcached(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t  *value;

    value = cf->args->elts;

    if (ngx_http_woportal_check_memcached(cf, &value[1]) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return ngx_conf_set_str_slot(cf, cmd, conf);
}


/*
 * woportal_thread_pool and woportal_list_thread_pool.  The pool is looked
 * up here, not at merge time, so that nginx's "unknown thread pool" error
 * names this directive's line.
 */

static char *
ngx_http_woportal_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t           *value;
    ngx_thread_pool_t  **tp;

    tp = (ngx_thread_pool_t **) (p + cmd->offset);

    if (*tp) {
        return "is duplicate";
    }

    value = cf->args->elts;

    *tp = ngx_thread_pool_add(cf, &value[1]);
    if (*tp == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * woportal_api_key <key> [<name>] and woportal_api_keys <file> add to the
 * keys of their level (auth.c reads them).
 */

static char *
ngx_http_woportal_api_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_woportal_loc_conf_t *wlcf = conf;

    u_char     *p;
    size_t      len;
    ngx_str_t  *value, name, *file;

    value = cf->args->elts;

    if (cf->args->nelts == 3) {
        name = value[2];

    } else {
        /* named by where it is configured: "nginx.conf:42" */

        file = &cf->conf_file->file.name;

        for (p = file->data + file->len; p > file->data; p--) {
            if (p[-1] == '/') {
                break;
            }
        }

        len = ngx_min((size_t) (file->data + file->len - p), 40);

        name.data = ngx_pnalloc(cf->temp_pool, len + 1 + NGX_INT_T_LEN);
        if (name.data == NULL) {
            return NGX_CONF_ERROR;
        }

        name.len = ngx_sprintf(name.data, "%*s:%ui", len, p,
                               cf->conf_file->line)
                   - name.data;
    }

    if (ngx_http_woportal_keys(cf, wlcf) != NGX_OK
        || ngx_http_woportal_auth_add_key(cf, wlcf->api_keys, &value[1],
                                          &name)
           != NGX_OK
        || ngx_http_woportal_auth_sort(cf, wlcf->api_keys) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_woportal_api_keys(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_woportal_loc_conf_t *wlcf = conf;

    ngx_str_t  *value;

    value = cf->args->elts;

    if (ngx_http_woportal_keys(cf, wlcf) != NGX_OK
        || ngx_http_woportal_auth_read_keys(cf, wlcf->api_keys, &value[1])
           != NGX_OK
        || ngx_http_woportal_auth_sort(cf, wlcf->api_keys) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_woportal_keys(ngx_conf_t *cf, ngx_http_woportal_loc_conf_t *wlcf)
{
    if (wlcf->api_keys != NGX_CONF_UNSET_PTR) {
        return NGX_OK;
    }

    wlcf->api_keys = ngx_array_create(cf->pool, 4,
                                      sizeof(ngx_http_woportal_key_t));
    if (wlcf->api_keys == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * woportal_persist off | sqlite:<path> | postgresql:<conninfo>: an SQLite
 * file's directory must exist; a relative path is taken from nginx's
 * prefix.
 */

static char *
ngx_http_woportal_persist(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_woportal_loc_conf_t *wlcf = conf;

    u_char           *p;
    ngx_str_t        *value, path, dir;
    ngx_file_info_t   fi;

    if (wlcf->persist.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        ngx_str_set(&wlcf->persist, "");
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value[1].data, "postgresql:", 11) == 0) {
        /* the libpq conninfo: checked by libpq when a worker connects */
        wlcf->persist.data = value[1].data + 11;
        wlcf->persist.len = value[1].len - 11;
        wlcf->persist_backend = &ngx_http_woportal_pgsql_backend;

        if (wlcf->persist.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "no conninfo in \"%V\" of \"%V\" directive",
                               &value[1], &cmd->name);
            return NGX_CONF_ERROR;
        }

        if (ngx_http_woportal_check_conninfo(cf, &wlcf->persist) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value[1].data, "sqlite:", 7) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive: "
                           "\"off\", \"sqlite:<path>\" or "
                           "\"postgresql:<conninfo>\" expected",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    path.data = value[1].data + 7;
    path.len = value[1].len - 7;

    if (path.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no file in \"%V\" of \"%V\" directive",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (ngx_conf_full_name(cf->cycle, &path, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* the database is made on first use: its directory must be there */

    dir = path;

    for (p = dir.data + dir.len; p > dir.data && p[-1] != '/'; p--) {
        /* void */
    }

    dir.len = (p > dir.data + 1) ? (size_t) (p - 1 - dir.data) : 1;

    dir.data = ngx_pnalloc(cf->temp_pool, dir.len + 1);
    if (dir.data == NULL) {
        return NGX_CONF_ERROR;
    }

    (void) ngx_cpystrn(dir.data, path.data, dir.len + 1);

    if (ngx_file_info(dir.data, &fi) == NGX_FILE_ERROR || !ngx_is_dir(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "the directory \"%V\" of \"%V\" in \"%V\" "
                           "directive cannot be used", &dir, &value[1],
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    wlcf->persist = path;
    wlcf->persist_backend = &ngx_http_woportal_sqlite_backend;

    return NGX_CONF_OK;
}


/* nginx's own bounds check would not name the directive */

static char *
ngx_http_woportal_check_shards(ngx_conf_t *cf, void *post, void *data)
{
    ngx_uint_t  *n = data;

    if (*n < 1 || *n > NGX_HTTP_WOPORTAL_INDEX_SHARDS_MAX) {
        return "must be from 1 to 65536";
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_woportal_check_msec(ngx_conf_t *cf, void *post, void *data)
{
    ngx_msec_t  *ms = data;

    if (*ms == 0) {
        return "must be more than 0";
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_woportal_check_size(ngx_conf_t *cf, void *post, void *data)
{
    size_t  *size = data;

    if (*size == 0) {
        return "must be more than 0";
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_woportal_check_prefix(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *prefix = data;

    u_char  *p, *last;

    /* room is left for the 24-digit id within memcached's 250 bytes */

    if (prefix->len > 200) {
        return "is longer than 200 bytes";
    }

    last = prefix->data + prefix->len;

    for (p = prefix->data; p < last; p++) {
        if (*p <= ' ' || *p == 0x7f) {
            return "must not contain spaces or control characters";
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_woportal_check_header(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *name = data;

    u_char  *p, *last;

    if (name->len == 0) {
        return "must not be empty";
    }

    last = name->data + name->len;

    for (p = name->data; p < last; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '-'))
        {
            /* nginx drops headers with '_' by default */
            return "must hold only letters, digits and \"-\"";
        }
    }

    return NGX_CONF_OK;
}


/*
 * woportal_error: a location that answers, in the envelope, a request
 * nginx refused before any location was chosen (error_page at the server
 * level names it).
 */

static char *
ngx_http_woportal_error(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_woportal_loc_conf_t *wlcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (wlcf->enable) {
        return "cannot be used in a \"woportal\" location";
    }

    if (wlcf->errors || clcf->handler) {
        return "is duplicate, or the location has another content handler";
    }

    wlcf->errors = 1;
    clcf->handler = ngx_http_woportal_error_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_woportal_postconfiguration(ngx_conf_t *cf)
{
    if (ngx_http_woportal_check_endpoints(cf) != NGX_OK
        || ngx_http_woportal_metrics_init(cf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_woportal_filter_init(cf);
}


/*
 * Which build runs, in the error log of every start and reload; not from
 * nginx -t or nginx -s, which log to the same file.
 */

static ngx_int_t
ngx_http_woportal_init_module(ngx_cycle_t *cycle)
{
    if (ngx_test_config || ngx_process == NGX_PROCESS_SIGNALLER) {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                  "ngx_http_woportal_module/" NGX_HTTP_WOPORTAL_VERSION
                  " (nginx/" NGINX_VERSION ")");

    return NGX_OK;
}


static ngx_int_t
ngx_http_woportal_init_process(ngx_cycle_t *cycle)
{
    ngx_http_woportal_main_conf_t  *wmcf;

    if (ngx_http_woportal_id_init(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_cycle_get_module_main_conf(cycle, ngx_http_core_module)
        == NULL)
    {
        return NGX_OK;
    }

    wmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_woportal_module);
    if (wmcf == NULL) {
        return NGX_OK;
    }

    ngx_http_woportal_metrics_init_process(wmcf);

    /* a pool thread's handles: the memcached ones, then the databases' */

    if (ngx_http_woportal_db_init(wmcf->stores.nelts, &wmcf->dbs) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_woportal_slots_init(cycle, wmcf->stores.nelts,
                                        wmcf->dbs.nelts);
}


/*
 * Runs after nginx's thread pools have stopped their threads (core
 * modules exit first), so no handle is in use any more.
 */

static void
ngx_http_woportal_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                      i;
    ngx_http_woportal_store_t     **stores;
    ngx_http_woportal_main_conf_t  *wmcf;

    wmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_woportal_module);

    if (wmcf) {
        /* the keepalive connections to memcached: none is left open */

        stores = wmcf->stores.elts;

        for (i = 0; i < wmcf->stores.nelts; i++) {
            ngx_http_woportal_mc_exit(stores[i]->client);
        }
    }

    ngx_http_woportal_cache_exit();
    ngx_http_woportal_async_exit(cycle);
    ngx_http_woportal_slots_exit(ngx_http_woportal_libmc_free,
                                 ngx_http_woportal_db_free);
}
