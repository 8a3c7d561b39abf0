
/*
 * Configuration checks that need more than one directive, made as the
 * http block is merged and once it is read, so that "nginx -t" refuses
 * what would only go wrong later:
 *
 * - woportal_metrics and woportal_health need a woportal location in
 *   the same http block (the zone, the stores), and cannot share one;
 * - woportal locations that share a key prefix in one memcached share
 *   its entries and its list index: they must split the index into as
 *   many shards, or each lists only the entries of its own split; and
 *   where both persist, into one database.  (One may have none: a
 *   location without it is a way to look at what memcached alone holds.)
 * - a libmemcached string that does not parse (without the parser's own
 *   source path), that makes no handle, or that names no server; a
 *   PostgreSQL conninfo that libpq cannot parse;
 * - an enum value, named with the directive and the values it takes;
 * - woportal_cors_origins: each an origin as browsers send it.
 *
 * What is checked after the http block is read names the "woportal"
 * directive's file and line, kept when it was read.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <libmemcached/memcached.h>
#include <libpq-fe.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_check.h"
#include "ngx_http_woportal_health.h"
#include "ngx_http_woportal_metrics.h"


/* a woportal_metrics or woportal_health location, checked at the end */
typedef struct {
    ngx_uint_t                    type;
    ngx_str_t                     name;     /* the directive */
    ngx_str_t                     file;
    ngx_uint_t                    line;
    ngx_http_woportal_loc_conf_t *wlcf;
} ngx_http_woportal_endpoint_t;


static void ngx_http_woportal_check_shared(ngx_conf_t *cf,
    ngx_http_woportal_loc_conf_t *o, ngx_http_woportal_loc_conf_t *wlcf,
    const char *fmt, ...);
static ngx_uint_t ngx_http_woportal_str_eq(ngx_str_t *a, ngx_str_t *b);


/*
 * woportal_metrics; woportal_health: the location's content.  Both are
 * checked once the http block is read, when it is known whether it has a
 * woportal location.
 */

char *
ngx_http_woportal_endpoint(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_woportal_loc_conf_t *wlcf = conf;

    ngx_http_core_loc_conf_t       *clcf;
    ngx_http_woportal_endpoint_t   *ep;
    ngx_http_woportal_main_conf_t  *wmcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (wlcf->enable) {
        return "cannot be used in a \"woportal\" location";
    }

    if (clcf->handler) {
        return "is duplicate, or the location has another content handler";
    }

    wmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_woportal_module);

    if (wmcf->endpoints == NULL) {
        wmcf->endpoints = ngx_array_create(cf->pool, 2,
                                        sizeof(ngx_http_woportal_endpoint_t));
        if (wmcf->endpoints == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    ep = ngx_array_push(wmcf->endpoints);
    if (ep == NULL) {
        return NGX_CONF_ERROR;
    }

    ep->type = cmd->offset;
    ep->name = cmd->name;
    ep->file = cf->conf_file->file.name;
    ep->line = cf->conf_file->line;
    ep->wlcf = wlcf;

    clcf->handler = (cmd->offset == NGX_HTTP_WOPORTAL_METRICS)
                    ? ngx_http_woportal_metrics_handler
                    : ngx_http_woportal_health_handler;

    return NGX_CONF_OK;
}


/*
 * postconfiguration: each error names the directive's file and line, as
 * nginx's own do.
 */

ngx_int_t
ngx_http_woportal_check_endpoints(ngx_conf_t *cf)
{
    ngx_uint_t                      i;
    ngx_http_woportal_endpoint_t   *ep;
    ngx_http_woportal_main_conf_t  *wmcf;

    wmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_woportal_module);

    if (wmcf->endpoints == NULL) {
        return NGX_OK;
    }

    ep = wmcf->endpoints->elts;

    for (i = 0; i < wmcf->endpoints->nelts; i++) {

        if (ep[i].wlcf->enable) {
            /* "woportal" came after it in the location */
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"%V\" cannot be used in a \"woportal\" location "
                          "in %V:%ui", &ep[i].name, &ep[i].file, ep[i].line);
            return NGX_ERROR;
        }

        if (wmcf->stores.nelts == 0) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"%V\" needs a \"woportal\" location in the same "
                          "http block in %V:%ui", &ep[i].name, &ep[i].file,
                          ep[i].line);
            return NGX_ERROR;
        }

        if (ep[i].type == NGX_HTTP_WOPORTAL_HEALTH
            && ep[i].wlcf->thread_pool == NULL)
        {
            /* nginx's "default" pool, as a woportal location would have */
            ep[i].wlcf->thread_pool = ngx_thread_pool_add(cf, NULL);
            if (ep[i].wlcf->thread_pool == NULL) {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


/*
 * At the merge of a woportal location, against those merged before it.
 * The merge runs once the http block is read: the error names the
 * locations, and the file and line of this one's "woportal".
 */

ngx_int_t
ngx_http_woportal_check_location(ngx_conf_t *cf,
    ngx_http_woportal_loc_conf_t *wlcf)
{
    ngx_uint_t                      i;
    ngx_http_woportal_loc_conf_t  **locs, *o, **loc;
    ngx_http_woportal_main_conf_t  *wmcf;

    wmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_woportal_module);

    if (wmcf->woportals == NULL) {
        wmcf->woportals = ngx_array_create(cf->pool, 2,
                                       sizeof(ngx_http_woportal_loc_conf_t *));
        if (wmcf->woportals == NULL) {
            return NGX_ERROR;
        }
    }

    locs = wmcf->woportals->elts;

    for (i = 0; i < wmcf->woportals->nelts; i++) {
        o = locs[i];

        if (!ngx_http_woportal_str_eq(&o->key_prefix, &wlcf->key_prefix)
            || !ngx_http_woportal_str_eq(&o->store->config,
                                         &wlcf->store->config))
        {
            continue;
        }

        if (o->index_shards != wlcf->index_shards) {
            ngx_http_woportal_check_shared(cf, o, wlcf,
                                           "have the same "
                                           "\"woportal_index_shards\", "
                                           "not %ui and %ui",
                                           o->index_shards,
                                           wlcf->index_shards);
            return NGX_ERROR;
        }

        if ((o->db == NULL) != (wlcf->db == NULL)) {
            /*
             * SQL is the truth of a persisting location: entries the other
             * stores in memcached alone it would not find in SQL, nor list
             * once the index is rebuilt from SQL
             */
            ngx_http_woportal_check_shared(cf, o, wlcf,
                                           "persist into the same "
                                           "database, but only \"%V\" "
                                           "persists",
                                           o->db ? &o->clcf->name
                                                 : &wlcf->clcf->name);
            return NGX_ERROR;
        }

        if (o->db && wlcf->db
            && (o->db->backend != wlcf->db->backend
                || !ngx_http_woportal_str_eq(&o->db->config,
                                             &wlcf->db->config)))
        {
            ngx_http_woportal_check_shared(cf, o, wlcf,
                                           "persist into the same "
                                           "database, not %V:\"%V\" and "
                                           "%V:\"%V\"",
                                           &o->db->backend->name,
                                           &o->db->config,
                                           &wlcf->db->backend->name,
                                           &wlcf->db->config);
            return NGX_ERROR;
        }
    }

    loc = ngx_array_push(wmcf->woportals);
    if (loc == NULL) {
        return NGX_ERROR;
    }

    *loc = wlcf;

    return NGX_OK;
}


/*
 * woportal_memcached: libmemcached's parser must accept the string, and
 * the string make a handle, with a server.
 */

ngx_int_t
ngx_http_woportal_check_memcached(ngx_conf_t *cf, ngx_str_t *config)
{
    char                reason[256], *p, *q;
    u_char             *s;
    uint32_t            n;
    memcached_st       *mc;
    memcached_return_t  rc;

    if (config->len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "empty libmemcached configuration");
        return NGX_ERROR;
    }

    s = ngx_pnalloc(cf->temp_pool, config->len + 1);
    if (s == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_cpystrn(s, config->data, config->len + 1);

    reason[0] = '\0';

    rc = libmemcached_check_configuration((char *) s, config->len,
                                          reason, sizeof(reason));

    if (rc != MEMCACHED_SUCCESS) {
        /*
         * "(0x55d0c0a0b2c0) <reason> -> ./src/libmemcached/csl/context.cc:55":
         * the address of the parser and its source line are libmemcached's
         */
        reason[sizeof(reason) - 1] = '\0';
        p = reason;

        if (p[0] == '(' && (q = ngx_strchr(p, ')')) != NULL && q[1] == ' ') {
            p = q + 2;
        }

        q = ngx_strstr(p, " -> ");
        if (q) {
            *q = '\0';
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"woportal_memcached\" "
                           "directive: libmemcached: %s",
                           config, p[0] ? p : memcached_strerror(NULL, rc));
        return NGX_ERROR;
    }

    mc = memcached((char *) s, config->len);

    if (mc == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"woportal_memcached\" "
                           "directive: libmemcached makes no handle of it",
                           config);
        return NGX_ERROR;
    }

    n = memcached_server_count(mc);

    memcached_free(mc);

    if (n == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"woportal_memcached\" "
                           "directive: no server (--SERVER=host:port)",
                           config);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* woportal_persist postgresql:<conninfo>: libpq's own parser */

ngx_int_t
ngx_http_woportal_check_conninfo(ngx_conf_t *cf, ngx_str_t *conninfo)
{
    char              *err;
    u_char            *s, *p;
    PQconninfoOption  *opts;

    s = ngx_pnalloc(cf->temp_pool, conninfo->len + 1);
    if (s == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_cpystrn(s, conninfo->data, conninfo->len + 1);

    err = NULL;

    opts = PQconninfoParse((char *) s, &err);

    if (opts) {
        PQconninfoFree(opts);
        return NGX_OK;
    }

    if (err) {
        /* libpq's message ends with a newline */
        for (p = (u_char *) err + ngx_strlen(err);
             p > (u_char *) err && (p[-1] == '\n' || p[-1] == ' ');
             p--)
        {
            p[-1] = '\0';
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid conninfo \"%V\" in \"woportal_persist\" "
                       "directive: %s", conninfo,
                       err ? err : "out of memory");

    if (err) {
        PQfreemem(err);
    }

    return NGX_ERROR;
}


/*
 * ngx_conf_set_enum_slot() with a message that names the directive and the
 * values it takes: nginx's own says only 'invalid value "fast"'.
 */

char *
ngx_http_woportal_check_enum(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    u_char           *p, *last;
    ngx_str_t        *value;
    ngx_uint_t        i;
    ngx_conf_enum_t  *e;
    u_char            expected[256];

    value = cf->args->elts;
    e = cmd->post;

    for (i = 0; e[i].name.len; i++) {
        if (e[i].name.len == value[1].len
            && ngx_strcasecmp(e[i].name.data, value[1].data) == 0)
        {
            return ngx_conf_set_enum_slot(cf, cmd, conf);
        }
    }

    p = expected;
    last = expected + sizeof(expected);

    for (i = 0; e[i].name.len; i++) {
        p = ngx_slprintf(p, last, "%s\"%V\"",
                         i == 0 ? "" : (e[i + 1].name.len ? ", " : " or "),
                         &e[i].name);
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\" directive: %*s "
                       "expected", &value[1], &cmd->name, p - expected,
                       expected);

    return NGX_CONF_ERROR;
}


/*
 * woportal_cors_origins <origin> ...: each as a browser sends it in
 * Origin, "http://" or "https://", a host and perhaps a port, nothing
 * more; compared without regard to case.
 */

char *
ngx_http_woportal_cors_origins(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *c = conf;

    u_char        *p, *last;
    ngx_str_t     *value, *origin;
    ngx_uint_t     i, port;
    ngx_array_t  **origins;

    origins = (ngx_array_t **) (c + cmd->offset);

    if (*origins != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    *origins = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                sizeof(ngx_str_t));
    if (*origins == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        p = value[i].data;
        last = p + value[i].len;

        if (value[i].len > 7 && ngx_strncasecmp(p, (u_char *) "http://", 7)
                                == 0)
        {
            p += 7;

        } else if (value[i].len > 8
                   && ngx_strncasecmp(p, (u_char *) "https://", 8) == 0)
        {
            p += 8;

        } else {
            goto invalid;
        }

        if (*p == '.' || *p == '-' || *p == ':') {
            goto invalid;
        }

        while (p < last
               && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                   || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
        {
            p++;
        }

        if (p < last && *p == ':') {
            port = 0;

            for (p++; p < last && *p >= '0' && *p <= '9'; p++) {
                port = port * 10 + (*p - '0');

                if (port > 65535) {
                    goto invalid;
                }
            }

            if (port == 0) {
                goto invalid;
            }
        }

        if (p != last) {
            goto invalid;
        }

        origin = ngx_array_push(*origins);
        if (origin == NULL) {
            return NGX_CONF_ERROR;
        }

        *origin = value[i];
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid origin \"%V\" in \"%V\" directive: "
                       "\"http://\" or \"https://\", a host name and an "
                       "optional \":port\" expected, without a path",
                       &value[i], &cmd->name);

    return NGX_CONF_ERROR;
}


/*
 * The error of two woportal locations that share a key prefix in one
 * memcached, o merged before wlcf: what they must have in common and how
 * they differ is fmt.  The whole line is as long as nginx logs one.
 */

static void
ngx_http_woportal_check_shared(ngx_conf_t *cf,
    ngx_http_woportal_loc_conf_t *o, ngx_http_woportal_loc_conf_t *wlcf,
    const char *fmt, ...)
{
    u_char   *p, must[NGX_MAX_ERROR_STR];
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(must, must + sizeof(must), fmt, args);
    va_end(args);

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "woportal locations \"%V\" and \"%V\" share the key "
                  "prefix \"%V\" in one memcached, so they must %*s, in "
                  "%V:%ui",
                  &o->clcf->name, &wlcf->clcf->name, &wlcf->key_prefix,
                  (size_t) (p - must), must, &wlcf->file, wlcf->line);
}


static ngx_uint_t
ngx_http_woportal_str_eq(ngx_str_t *a, ngx_str_t *b)
{
    return a->len == b->len && ngx_strncmp(a->data, b->data, a->len) == 0;
}
