
/*
 * The list index's storage in memcached (index.c holds its records):
 * appending records to a shard (a write's, a rebuild's), rewriting a
 * full or mostly dead shard with what a compaction keeps (index.c) and
 * a rebuild's records folded in, the marks that say the index is whole
 * (one under a key of each server), and the dump of the keys memcached
 * holds.  These run in pool threads, with libmemcached (on libmc.c's
 * requests): they are the rare work (a full shard, a rebuild), the hot
 * appends are sent on the event loop (store.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <libmemcached/memcached.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_index.h"
#include "ngx_http_woportal_index_cache.h"
#include "ngx_http_woportal_index_store.h"
#include "ngx_http_woportal_libmc.h"
#include "ngx_http_woportal_metrics.h"


/* the longest line of a key dump, with a key of 250 bytes URL-encoded */
#define NGX_HTTP_WOPORTAL_DUMP_LINE       4096


static ngx_int_t ngx_http_woportal_index_add_record(memcached_st *mc,
    ngx_str_t *key, ngx_str_t *record, ngx_uint_t create, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_index_rewrite(memcached_st *mc,
    ngx_str_t *key, ngx_str_t *record, ngx_uint_t create, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_index_replace(memcached_st *mc,
    ngx_str_t *key, ngx_str_t *value, uint64_t cas, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_index_value(void *data, u_char *key,
    size_t key_len, u_char *value, size_t len, uint32_t flags, uint64_t cas);
static ngx_int_t ngx_http_woportal_index_dump_server(
    const memcached_instance_st *server, u_char *buf, ngx_str_t *prefix,
    size_t ns, ngx_msec_t timeout, ngx_http_woportal_dump_pt handler,
    void *data, ngx_log_t *log);


/* a value fetched for the thread, from its own pool */
typedef struct {
    ngx_pool_t                 *pool;
    ngx_str_t                   value;
    uint64_t                    cas;
    ngx_uint_t                  found;
} ngx_http_woportal_value_t;


/*
 * Runs in a pool thread: appends an index record to its shard, compacting
 * it when it is full.  A missing shard is made when create is 1; when
 * create is 2, NGX_DONE tells it was; when create is 0, NGX_DECLINED.
 */

ngx_int_t
ngx_http_woportal_index_append(ngx_http_woportal_mc_t *mc, ngx_str_t *key,
    ngx_str_t *record, ngx_str_t *count, ngx_uint_t create, ngx_log_t *log)
{
    ngx_int_t  rc;

    rc = ngx_http_woportal_index_add_record(mc, key, record, create, log);

    if ((rc == NGX_OK || rc == NGX_DONE)
        && count != NULL && count->len
        && ngx_http_woportal_index_bump(mc, count, log) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return rc;
}


/*
 * Runs in a pool thread: bumps a server's change count, after a record
 * was appended to a shard of that server (index_cache.c says why)
 */

ngx_int_t
ngx_http_woportal_index_bump(ngx_http_woportal_mc_t *mc, ngx_str_t *count,
    ngx_log_t *log)
{
    u_char              buf[NGX_INT64_LEN];
    uint64_t            value;
    ngx_uint_t          i;
    memcached_return_t  rc;

    rc = MEMCACHED_FAILURE;

    /* libmemcached's text protocol: incr, or add when there is none */

    for (i = 0; i < 4; i++) {
        rc = memcached_increment(mc, (char *) count->data, count->len, 1,
                                 &value);

        if (rc == MEMCACHED_SUCCESS) {
            return NGX_OK;
        }

        if (rc != MEMCACHED_NOTFOUND) {
            /*
             * not a number (written by another program?): made again, a
             * missing count being one that changed to every list
             */
            if (memcached_delete(mc, (char *) count->data, count->len,
                                 (time_t) 0)
                != MEMCACHED_SUCCESS)
            {
                break;
            }
        }

        value = ngx_http_woportal_index_count_start();

        rc = memcached_add(mc, (char *) count->data, count->len, (char *) buf,
                           ngx_sprintf(buf, "%uL", value) - buf, (time_t) 0,
                           0);

        if (rc == MEMCACHED_SUCCESS) {
            return NGX_OK;
        }

        if (rc != MEMCACHED_NOTSTORED && rc != MEMCACHED_DATA_EXISTS) {
            break;
        }
    }

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "woportal: the change count \"%V\" could not be bumped: "
                  "%s", count, memcached_strerror(mc, rc));

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_woportal_index_add_record(ngx_http_woportal_mc_t *mc,
    ngx_str_t *key, ngx_str_t *record, ngx_uint_t create, ngx_log_t *log)
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
                crc = ngx_http_woportal_index_rewrite(mc, key, record, 0,
                                                      log);
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

        crc = ngx_http_woportal_index_rewrite(mc, key, record, create,
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
 * rebuild's), or none (a list compacts a shard mostly dead: list.c), by
 * CAS against what is appended meanwhile.  NGX_OK, NGX_DECLINED (no such
 * shard), NGX_BUSY (it kept changing: appends come faster than a read
 * and a rewrite), NGX_ERROR.
 */

ngx_int_t
ngx_http_woportal_index_merge(ngx_http_woportal_mc_t *mc, ngx_str_t *key,
    ngx_str_t *records, ngx_log_t *log)
{
    ngx_int_t   rc;
    ngx_uint_t  i;

    for (i = 0; i < 8; i++) {
        rc = ngx_http_woportal_index_rewrite(mc, key, records, 0, log);

        if (rc != NGX_BUSY) {
            return rc;
        }
    }

    return NGX_BUSY;
}


/*
 * A shard rewritten with what a compaction keeps of its records and the
 * new ones folded in (a full shard's and the record to append; a shard
 * and a rebuild's records).  A shard too large with the recent
 * deletions' records (index.c) is rewritten without them.
 */

static ngx_int_t
ngx_http_woportal_index_rewrite(memcached_st *mc, ngx_str_t *key,
    ngx_str_t *record, ngx_uint_t create, ngx_log_t *log)
{
    size_t                      valid;
    ngx_int_t                   rc;
    ngx_str_t                   kept, bare, value;
    ngx_array_t                 recs;
    ngx_http_woportal_value_t   v;

    ngx_memzero(&v, sizeof(ngx_http_woportal_value_t));

    v.pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, log);
    if (v.pool == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_woportal_libmc_mget(mc, key, 1,
                                      ngx_http_woportal_index_value, &v,
                                      log);
    if (rc != NGX_OK) {
        goto done;
    }

    if (!v.found) {
        /* evicted or compacted away meanwhile: append again, or lost */
        rc = create ? NGX_BUSY : NGX_DECLINED;
        goto done;
    }

    /* a corrupt tail goes first: the records after it would be lost */

    if (ngx_array_init(&recs, v.pool, v.value.len / 64 + 1,
                       sizeof(ngx_http_woportal_irec_t))
        != NGX_OK)
    {
        rc = NGX_ERROR;
        goto done;
    }

    rc = ngx_http_woportal_index_parse(v.value.data, v.value.len, 0, &recs,
                                       &valid);
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
    value.data = ngx_pnalloc(v.pool, value.len ? value.len : 1);
    if (value.data == NULL) {
        rc = NGX_ERROR;
        goto done;
    }

    ngx_memcpy(ngx_cpymem(value.data, v.value.data, v.value.len),
               record->data, record->len);

    if (ngx_http_woportal_index_compact(v.pool, &value,
                                        NGX_HTTP_WOPORTAL_INDEX_GRACE, &kept)
        != NGX_OK)
    {
        rc = NGX_ERROR;
        goto done;
    }

    rc = ngx_http_woportal_index_replace(mc, key, &kept, v.cas, log);

    if (rc == NGX_ERROR) {
        if (ngx_http_woportal_index_compact(v.pool, &value, 0, &bare)
            != NGX_OK)
        {
            goto done;
        }

        if (bare.len < kept.len) {
            kept = bare;
            rc = ngx_http_woportal_index_replace(mc, key, &kept, v.cas, log);
        }
    }

    if (rc == NGX_DECLINED) {
        rc = NGX_BUSY;

    } else if (rc == NGX_ERROR) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "woportal: index shard \"%V\" is full with %uz bytes "
                      "of live records: raise \"woportal_index_shards\"",
                      key, kept.len);
    }

done:

    ngx_destroy_pool(v.pool);

    return rc;
}


static ngx_int_t
ngx_http_woportal_index_value(void *data, u_char *key, size_t key_len,
    u_char *value, size_t len, uint32_t flags, uint64_t cas)
{
    ngx_http_woportal_value_t *v = data;

    v->value.data = ngx_http_woportal_libmc_copy(v->pool, value, len);
    if (v->value.data == NULL) {
        return NGX_ERROR;
    }

    v->value.len = len;
    v->cas = cas;
    v->found = 1;

    return NGX_OK;
}


/* a shard's value replaced by CAS: NGX_BUSY when it changed meanwhile */

static ngx_int_t
ngx_http_woportal_index_replace(memcached_st *mc, ngx_str_t *key,
    ngx_str_t *value, uint64_t cas, ngx_log_t *log)
{
    ngx_int_t  rc;

    rc = ngx_http_woportal_libmc_cas(mc, key, value,
                                     NGX_HTTP_WOPORTAL_FORMAT_INDEX, 0, cas,
                                     log);

    if (rc == NGX_OK) {
        ngx_http_woportal_metrics_compacted();
    }

    return rc;
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
ngx_http_woportal_index_dump(ngx_http_woportal_mc_t *mc, ngx_str_t *prefix,
    ngx_msec_t timeout, ngx_http_woportal_dump_pt handler, void *data,
    ngx_log_t *log)
{
    u_char                       *buf;
    size_t                        len;
    ngx_int_t                     rc;
    ngx_str_t                     full;
    ngx_uint_t                    i, n, attempt;
    const char                   *ns;
    memcached_return_t            mrc;
    const memcached_instance_st  *server;

    /*
     * With --NAMESPACE memcached holds "<namespace><prefix>...": the
     * dump is filtered on both, and the keys handed over without the
     * namespace, which libmemcached adds again
     */

    ns = memcached_callback_get(mc, MEMCACHED_CALLBACK_NAMESPACE, &mrc);
    len = (ns && mrc == MEMCACHED_SUCCESS) ? ngx_strlen(ns) : 0;

    buf = ngx_alloc(NGX_HTTP_WOPORTAL_DUMP_LINE + len + prefix->len, log);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    full.data = buf + NGX_HTTP_WOPORTAL_DUMP_LINE;
    full.len = len + prefix->len;

    if (len) {
        ngx_memcpy(full.data, ns, len);
    }

    ngx_memcpy(full.data + len, prefix->data, prefix->len);

    rc = NGX_OK;
    n = memcached_server_count(mc);

    for (i = 0; i < n && rc == NGX_OK; i++) {
        server = memcached_server_instance_by_position(mc, i);

        for (attempt = 0; attempt < 50; attempt++) {
            rc = ngx_http_woportal_index_dump_server(server, buf, &full,
                                                     len, timeout, handler,
                                                     data, log);
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


/*
 * One server's dump: NGX_OK, NGX_AGAIN (busy: ask again), NGX_ERROR.
 * prefix starts with the namespace, ns bytes long.
 */

static ngx_int_t
ngx_http_woportal_index_dump_server(const memcached_instance_st *server,
    u_char *buf, ngx_str_t *prefix, size_t ns, ngx_msec_t timeout,
    ngx_http_woportal_dump_pt handler, void *data, ngx_log_t *log)
{
    int                  fd;
    u_char              *p, *last, *eol, *dst, *src;
    u_char               port[NGX_INT_T_LEN + 1];
    ssize_t              n;
    socklen_t            salen;
    ngx_int_t            rc;
    ngx_str_t            key;
    const char          *name;
    struct timeval       tv;
    struct sockaddr     *sa;
    struct addrinfo      hints, *ai;
    struct sockaddr_un   sun;
    static char          cmd[] = "lru_crawler metadump all\r\n";

    ai = NULL;
    name = memcached_server_name(server);

    *ngx_sprintf(port, "%d", (int) memcached_server_port(server)) = '\0';

    if (name[0] == '/') {
        /* --SOCKET: a unix-domain socket */

        if (ngx_strlen(name) >= sizeof(sun.sun_path)) {
            return NGX_ERROR;
        }

        ngx_memzero(&sun, sizeof(struct sockaddr_un));
        sun.sun_family = AF_UNIX;
        (void) ngx_cpystrn((u_char *) sun.sun_path, (u_char *) name,
                           sizeof(sun.sun_path));

        sa = (struct sockaddr *) &sun;
        salen = sizeof(struct sockaddr_un);
        port[0] = '\0';

    } else {
        ngx_memzero(&hints, sizeof(struct addrinfo));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;

        if (getaddrinfo(name, (char *) port, &hints, &ai) != 0) {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "woportal: cannot resolve memcached \"%s\"", name);
            return NGX_ERROR;
        }

        sa = ai->ai_addr;
        salen = ai->ai_addrlen;
    }

    fd = socket(sa->sa_family, SOCK_STREAM, 0);

    if (fd == -1) {
        if (ai) {
            freeaddrinfo(ai);
        }

        return NGX_ERROR;
    }

    tv.tv_sec = timeout / 1000;
    tv.tv_usec = (timeout % 1000) * 1000;

    (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

    rc = NGX_ERROR;

    if (connect(fd, sa, salen) == -1
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
                && ngx_strncmp(key.data, prefix->data, prefix->len) == 0)
            {
                key.data += ns;
                key.len -= ns;

                if (handler(data, &key) != NGX_OK) {
                    goto done;
                }
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

    if (ai) {
        freeaddrinfo(ai);
    }

    return rc;
}


/*
 * Runs in a pool thread: the marks of a whole index are deleted, so that
 * the next list rebuilds it from SQL (list.c).
 */

ngx_int_t
ngx_http_woportal_index_distrust(ngx_http_woportal_mc_t *mc,
    ngx_array_t *marks, ngx_log_t *log)
{
    ngx_int_t            rc;
    ngx_str_t           *keys;
    ngx_uint_t           i, deleted;
    memcached_return_t   mrc;

    rc = NGX_OK;
    deleted = 0;
    keys = marks->elts;

    for (i = 0; i < marks->nelts; i++) {
        if (keys[i].len == 0) {
            /* a server no key was found for (none expected) */
            continue;
        }

        mrc = memcached_delete(mc, (char *) keys[i].data, keys[i].len,
                               (time_t) 0);

        if (mrc == MEMCACHED_SUCCESS) {
            deleted++;

        } else if (mrc != MEMCACHED_NOTFOUND) {
            rc = NGX_ERROR;
        }
    }

    if (deleted || rc != NGX_OK) {
        /* not when it was distrusted already: no list has rebuilt it */
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "woportal: the list index \"%V\" misses a record; "
                      "the next list rebuilds it%s",
                      &keys[0], rc == NGX_OK ? "" : " once memcached answers");
    }

    return rc;
}
