
/*
 * The memcached client: memcached's binary protocol spoken on nginx's
 * event loop, as nginx's own memcached module speaks its text protocol,
 * with no thread hop and nothing that blocks.
 *
 * Servers.  libmemcached reads the woportal_memcached string and says
 * which server a key goes to (its distribution and hash, so the data of
 * a cluster stays where the pool threads' libmemcached put it); its
 * handle here makes no connection.  The servers' addresses are resolved
 * when the configuration is read.
 *
 * Connections.  Each worker keeps up to NGX_HTTP_WOPORTAL_MC_CONNS
 * keepalive connections to each server, opened when needed.  Every
 * operation of every request in flight is framed into a connection's
 * output buffer, and the buffer is written once per event loop turn
 * (a posted event): the operations of one turn share one write, one
 * read and memcached's one wake-up.  memcached answers a connection's
 * requests in order; an answer is matched to its operation by opaque.
 * A quiet operation (APPENDQ) is answered only when it fails: it is done
 * when a later answer arrives, and a NOOP ends the buffer so that one
 * does.
 *
 * Failures.  Each operation has its own timer (woportal_memcached_
 * timeout).  A connection that breaks or times out is closed, and each
 * of its operations that is safe to send again (one not written yet,
 * or a read) is sent again once, on a fresh connection; the others
 * fail.  A server that cannot be connected to, or that let an operation
 * time out, is down: it is tried again after a backoff (10 ms, doubling
 * up to half the timeout), by one connection, and the operations that
 * come meanwhile wait for that try instead of failing, so that once
 * memcached is back no request fails; a try that fails fails them.  An
 * idle connection that memcached closes (a restart) is closed here at
 * once, not found stale by the next request.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>
#include <libmemcached/memcached.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_mc.h"
#include "ngx_http_woportal_metrics.h"


/* the most connections of a worker to one server */
#define NGX_HTTP_WOPORTAL_MC_CONNS       4

/* operations in flight on a connection before another is opened */
#define NGX_HTTP_WOPORTAL_MC_DEPTH       32

/* the first backoff after a failure, ms; it doubles to timeout / 2 */
#define NGX_HTTP_WOPORTAL_MC_BACKOFF     10

/* a connection's read buffer, and the largest answer it takes */
#define NGX_HTTP_WOPORTAL_MC_BUF         16384
#define NGX_HTTP_WOPORTAL_MC_MAX_BODY    (64 * 1024 * 1024)

#define NGX_HTTP_WOPORTAL_MC_HEADER      24
#define NGX_HTTP_WOPORTAL_MC_REQUEST     0x80
#define NGX_HTTP_WOPORTAL_MC_RESPONSE    0x81


typedef struct ngx_http_woportal_mc_server_s  ngx_http_woportal_mc_server_t;
typedef struct ngx_http_woportal_mc_conn_s  ngx_http_woportal_mc_conn_t;


struct ngx_http_woportal_mc_conn_s {
    ngx_peer_connection_t           peer;
    ngx_http_woportal_mc_server_t  *server;
    ngx_queue_t                     queue;     /* in server->conns */
    ngx_queue_t                     ops;       /* framed, in order */
    ngx_uint_t                      nops;
    ngx_event_t                     flush;     /* posted: the turn's end */

    u_char                         *out;       /* ngx_alloc()ed */
    size_t                          out_pos;
    size_t                          out_last;
    size_t                          out_size;
    uint64_t                        written;   /* bytes, since opened */
    uint64_t                        framed;

    u_char                         *in;        /* ngx_alloc()ed */
    size_t                          in_last;
    size_t                          in_size;

    uint32_t                        opaque;    /* the next one */
    unsigned                        connected:1;
    unsigned                        quiet:1;   /* a NOOP is owed */
};


struct ngx_http_woportal_mc_server_s {
    ngx_http_woportal_mc_client_t         *client;
    ngx_addr_t                      addr;
    ngx_queue_t                     conns;
    ngx_uint_t                      nconns;
    ngx_queue_t                     waiting;   /* while it is down */
    ngx_event_t                     retry;
    ngx_msec_t                      backoff;
    unsigned                        down:1;
};


/*
 * A store's client: made with the configuration, run by each worker.
 * What the worker's pool threads read of it is atomic.
 */
struct ngx_http_woportal_mc_client_s {
    ngx_http_woportal_store_t      *store;
    memcached_st                   *hash;      /* picks a key's server */
    ngx_str_t                       ns;        /* --NAMESPACE, if any */
    ngx_uint_t                      nservers;
    ngx_http_woportal_mc_server_t  *servers;
    ngx_atomic_t                    failed;    /* when a call last failed
                                                  to reach it (us of
                                                  metrics_clock()); 0 */
    ngx_atomic_t                    lost;      /* connections the event
                                                  loop saw lost; the
                                                  threads' are made
                                                  again (libmc.c) */
};


static void ngx_http_woportal_mc_cleanup(void *data);
static void ngx_http_woportal_mc_submit(ngx_http_woportal_mc_server_t *s,
    ngx_http_woportal_mc_op_t *op);
static ngx_http_woportal_mc_conn_t *ngx_http_woportal_mc_conn(
    ngx_http_woportal_mc_server_t *s);
static ngx_http_woportal_mc_conn_t *ngx_http_woportal_mc_connect(
    ngx_http_woportal_mc_server_t *s);
static ngx_int_t ngx_http_woportal_mc_frame(ngx_http_woportal_mc_conn_t *mc,
    ngx_http_woportal_mc_op_t *op);
static ngx_int_t ngx_http_woportal_mc_reserve(ngx_http_woportal_mc_conn_t *mc,
    size_t size);
static u_char *ngx_http_woportal_mc_be32(u_char *p, uint32_t n);
static void ngx_http_woportal_mc_header(u_char *p, ngx_uint_t opcode,
    size_t key, size_t extras, size_t body, uint32_t opaque, uint64_t cas);
static void ngx_http_woportal_mc_flush_handler(ngx_event_t *ev);
static void ngx_http_woportal_mc_write_handler(ngx_event_t *ev);
static void ngx_http_woportal_mc_read_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_woportal_mc_send(ngx_http_woportal_mc_conn_t *mc);
static ngx_int_t ngx_http_woportal_mc_answers(ngx_http_woportal_mc_conn_t *mc);
static ngx_int_t ngx_http_woportal_mc_answer(ngx_http_woportal_mc_conn_t *mc,
    ngx_http_woportal_mc_answer_t *a);
static void ngx_http_woportal_mc_fail(ngx_http_woportal_mc_conn_t *mc,
    const char *error, ngx_uint_t down);
static void ngx_http_woportal_mc_close(ngx_http_woportal_mc_conn_t *mc);
static void ngx_http_woportal_mc_down(ngx_http_woportal_mc_server_t *s);
static void ngx_http_woportal_mc_up(ngx_http_woportal_mc_server_t *s);
static void ngx_http_woportal_mc_retry(ngx_event_t *ev);
static void ngx_http_woportal_mc_timeout(ngx_event_t *ev);
static void ngx_http_woportal_mc_fail_later(ngx_http_woportal_mc_op_t *op,
    const char *error);
static void ngx_http_woportal_mc_failed(ngx_event_t *ev);
static void ngx_http_woportal_mc_done(ngx_http_woportal_mc_op_t *op,
    ngx_int_t rc, const char *error);
static void ngx_http_woportal_mc_reached(
    ngx_http_woportal_mc_client_t *client);


/* the connections closed, for reuse */
static ngx_queue_t  ngx_http_woportal_mc_free;
static ngx_uint_t   ngx_http_woportal_mc_free_init;


/*
 * With the configuration: the store's client, its servers as
 * libmemcached reads them, resolved.  NGX_OK, or NGX_ERROR with the
 * reason logged for "nginx -t".
 */

ngx_int_t
ngx_http_woportal_mc_init(ngx_conf_t *cf, ngx_http_woportal_store_t *store)
{
    u_char                          *p;
    ngx_url_t                        u;
    ngx_uint_t                       i;
    const char                      *ns;
    memcached_st                    *m;
    ngx_pool_cleanup_t              *cln;
    memcached_return_t               rc;
    ngx_http_woportal_mc_client_t          *client;
    ngx_http_woportal_mc_server_t   *s;
    const memcached_instance_st     *server;

    client = ngx_pcalloc(cf->pool, sizeof(ngx_http_woportal_mc_client_t));
    if (client == NULL) {
        return NGX_ERROR;
    }

    m = memcached((char *) store->config.data, store->config.len);
    if (m == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"woportal_memcached\" "
                           "directive: libmemcached makes no handle of it",
                           &store->config);
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        memcached_free(m);
        return NGX_ERROR;
    }

    cln->handler = ngx_http_woportal_mc_cleanup;
    cln->data = m;

    client->store = store;
    client->hash = m;
    client->nservers = memcached_server_count(m);

    ns = memcached_callback_get(m, MEMCACHED_CALLBACK_NAMESPACE, &rc);

    if (ns && rc == MEMCACHED_SUCCESS) {
        client->ns.len = ngx_strlen(ns);
        client->ns.data = (u_char *) ns;
    }

    client->servers = ngx_pcalloc(cf->pool, client->nservers
                                       * sizeof(ngx_http_woportal_mc_server_t));
    if (client->servers == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < client->nservers; i++) {
        server = memcached_server_instance_by_position(m, i);
        s = &client->servers[i];

        p = ngx_pnalloc(cf->pool, ngx_strlen(memcached_server_name(server))
                                  + sizeof("unix::65535"));
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(&u, sizeof(ngx_url_t));

        u.url.data = p;

        if (memcached_server_name(server)[0] == '/') {
            u.url.len = ngx_sprintf(p, "unix:%s",
                                    memcached_server_name(server)) - p;

        } else {
            u.url.len = ngx_sprintf(p, "%s:%d",
                                    memcached_server_name(server),
                                    (int) memcached_server_port(server))
                        - p;
        }

        u.default_port = 11211;

        if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value \"%V\" in \"woportal_memcached\""
                               " directive: memcached \"%V\": %s",
                               &store->config, &u.url,
                               u.err ? u.err : "cannot be resolved");
            return NGX_ERROR;
        }

        s->client = client;
        s->addr = u.addrs[0];
        s->addr.name = u.url;
    }

    store->client = client;

    return NGX_OK;
}


/* a worker exits: its connections are closed */

void
ngx_http_woportal_mc_exit(ngx_http_woportal_mc_client_t *client)
{
    ngx_uint_t                      n;
    ngx_queue_t                    *q;
    ngx_http_woportal_mc_conn_t    *mc;
    ngx_http_woportal_mc_server_t  *s;

    if (client == NULL || client->servers == NULL
        || client->servers[0].conns.next == NULL)
    {
        return;
    }

    for (n = 0; n < client->nservers; n++) {
        s = &client->servers[n];

        while (!ngx_queue_empty(&s->conns)) {
            mc = ngx_queue_data(ngx_queue_head(&s->conns),
                                ngx_http_woportal_mc_conn_t, queue);

            /* an operation left would have kept the worker: none is */
            ngx_http_woportal_mc_close(mc);
        }
    }

    /* and the connections kept for reuse are freed */

    while (!ngx_queue_empty(&ngx_http_woportal_mc_free)) {
        q = ngx_queue_head(&ngx_http_woportal_mc_free);
        ngx_queue_remove(q);
        mc = ngx_queue_data(q, ngx_http_woportal_mc_conn_t, queue);

        ngx_free(mc->in);

        if (mc->out) {
            ngx_free(mc->out);
        }

        ngx_free(mc);
    }
}


static void
ngx_http_woportal_mc_cleanup(void *data)
{
    memcached_free(data);
}


/* the server a key goes to: the one every libmemcached client picks */

ngx_uint_t
ngx_http_woportal_mc_server(ngx_http_woportal_mc_client_t *client,
    ngx_str_t *key)
{
    if (client->nservers == 1) {
        return 0;
    }

    return memcached_generate_hash(client->hash, (char *) key->data,
                                   key->len);
}


ngx_uint_t
ngx_http_woportal_mc_servers(ngx_http_woportal_mc_client_t *client)
{
    return client->nservers;
}


/*
 * From any thread of the worker: when a call last failed to reach the
 * store (us of metrics_clock()), 0 when it answers since
 */

uint64_t
ngx_http_woportal_mc_failed_since(ngx_http_woportal_mc_client_t *client)
{
    return client->failed;
}


/* from any thread of the worker: a call failed to reach the store now */

void
ngx_http_woportal_mc_mark_failed(ngx_http_woportal_mc_client_t *client)
{
    uint64_t  now;

    now = ngx_http_woportal_metrics_clock();
    client->failed = now ? now : 1;
}


/* the store answered: on the event loop */

static void
ngx_http_woportal_mc_reached(ngx_http_woportal_mc_client_t *client)
{
    if (client->failed) {
        client->failed = 0;
    }
}


/*
 * From any thread of the worker: how many times the event loop saw the
 * store's connections lost; a pool thread's, made before, go too
 */

ngx_atomic_uint_t
ngx_http_woportal_mc_lost(ngx_http_woportal_mc_client_t *client)
{
    return client->lost;
}


/*
 * Sends an operation: NGX_OK, and op->handler is called once, from the
 * event loop, when it is answered, failed or timed out; NGX_ERROR when
 * it cannot even be framed (no memory).
 */

ngx_int_t
ngx_http_woportal_mc_post(ngx_http_woportal_mc_client_t *client,
    ngx_http_woportal_mc_op_t *op)
{
    uint32_t                        i;
    ngx_uint_t                      n;
    ngx_http_woportal_mc_server_t  *s;

    if (client->nservers == 0) {
        return NGX_ERROR;
    }

    if (!ngx_http_woportal_mc_free_init) {
        ngx_queue_init(&ngx_http_woportal_mc_free);
        ngx_http_woportal_mc_free_init = 1;
    }

    if (client->servers[0].conns.next == NULL) {
        /* a worker's servers: set up on its first operation */

        for (n = 0; n < client->nservers; n++) {
            s = &client->servers[n];
            ngx_queue_init(&s->conns);
            ngx_queue_init(&s->waiting);
            s->retry.handler = ngx_http_woportal_mc_retry;
            s->retry.data = s;
            s->retry.log = ngx_cycle->log;
            s->retry.cancelable = 1;
        }
    }

    i = ngx_http_woportal_mc_server(client, &op->key);

    if (i >= client->nservers) {
        return NGX_ERROR;
    }

    op->server = &client->servers[i];
    op->conn = NULL;
    op->retried = 0;
    op->rc = NGX_ERROR;
    op->status = 0;
    ngx_str_null(&op->value_out);
    op->flags_out = 0;
    op->cas_out = 0;

    op->timer.handler = ngx_http_woportal_mc_timeout;
    op->timer.data = op;
    op->timer.log = op->log;

    ngx_add_timer(&op->timer, client->store->timeout);

    ngx_http_woportal_mc_submit(op->server, op);

    return NGX_OK;
}


/* an operation to a connection of its server, or to wait for one */

static void
ngx_http_woportal_mc_submit(ngx_http_woportal_mc_server_t *s,
    ngx_http_woportal_mc_op_t *op)
{
    ngx_http_woportal_mc_conn_t  *mc;

    if (s->down) {
        ngx_queue_insert_tail(&s->waiting, &op->queue);
        op->conn = NULL;

        if (!s->retry.timer_set) {
            ngx_add_timer(&s->retry, s->backoff);
        }

        return;
    }

    /*
     * Behind another operation still in flight, on its connection:
     * memcached does the requests of a connection in order, so whoever
     * sees this one done sees that one done too (index_cache.c)
     */

    mc = (op->after && op->after->conn && op->after->server == s)
         ? op->after->conn : ngx_http_woportal_mc_conn(s);

    if (mc == NULL) {
        if (s->down) {
            /* no connection could be opened: it waits for the next try */
            ngx_http_woportal_mc_submit(s, op);

        } else {
            ngx_http_woportal_mc_fail_later(op, "no memory");
        }

        return;
    }

    if (ngx_http_woportal_mc_frame(mc, op) != NGX_OK) {
        ngx_http_woportal_mc_fail_later(op, "no memory");
        return;
    }

    if (!mc->flush.posted) {
        ngx_post_event(&mc->flush, &ngx_posted_events);
    }
}


/*
 * The connection for an operation: the one with the fewest operations in
 * flight, or a new one when each has many and there is room.  NULL when
 * a connection cannot be opened (the server is marked down).
 */

static ngx_http_woportal_mc_conn_t *
ngx_http_woportal_mc_conn(ngx_http_woportal_mc_server_t *s)
{
    ngx_queue_t                  *q;
    ngx_http_woportal_mc_conn_t  *mc, *best;

    best = NULL;

    for (q = ngx_queue_head(&s->conns);
         q != ngx_queue_sentinel(&s->conns);
         q = ngx_queue_next(q))
    {
        mc = ngx_queue_data(q, ngx_http_woportal_mc_conn_t, queue);

        if (best == NULL || mc->nops < best->nops) {
            best = mc;
        }
    }

    if (best
        && (best->nops < NGX_HTTP_WOPORTAL_MC_DEPTH
            || s->nconns >= NGX_HTTP_WOPORTAL_MC_CONNS))
    {
        return best;
    }

    mc = ngx_http_woportal_mc_connect(s);

    return mc ? mc : best;
}


static ngx_http_woportal_mc_conn_t *
ngx_http_woportal_mc_connect(ngx_http_woportal_mc_server_t *s)
{
    int                           tcp_nodelay;
    ngx_int_t                     rc;
    ngx_queue_t                  *q;
    ngx_connection_t             *c;
    ngx_http_woportal_mc_conn_t  *mc;

    if (!ngx_queue_empty(&ngx_http_woportal_mc_free)) {
        q = ngx_queue_head(&ngx_http_woportal_mc_free);
        ngx_queue_remove(q);
        mc = ngx_queue_data(q, ngx_http_woportal_mc_conn_t, queue);

    } else {
        mc = ngx_calloc(sizeof(ngx_http_woportal_mc_conn_t), ngx_cycle->log);
        if (mc == NULL) {
            return NULL;
        }

        mc->in = ngx_alloc(NGX_HTTP_WOPORTAL_MC_BUF, ngx_cycle->log);
        if (mc->in == NULL) {
            ngx_free(mc);
            return NULL;
        }

        mc->in_size = NGX_HTTP_WOPORTAL_MC_BUF;
    }

    ngx_memzero(&mc->peer, sizeof(ngx_peer_connection_t));

    mc->server = s;
    mc->nops = 0;
    mc->out_pos = 0;
    mc->out_last = 0;
    mc->written = 0;
    mc->framed = 0;
    mc->in_last = 0;
    mc->opaque = 1;
    mc->connected = 0;
    mc->quiet = 0;
    ngx_queue_init(&mc->ops);

    mc->flush.handler = ngx_http_woportal_mc_flush_handler;
    mc->flush.data = mc;
    mc->flush.log = ngx_cycle->log;

    mc->peer.sockaddr = s->addr.sockaddr;
    mc->peer.socklen = s->addr.socklen;
    mc->peer.name = &s->addr.name;
    mc->peer.get = ngx_event_get_peer;
    mc->peer.log = ngx_cycle->log;
    mc->peer.log_error = NGX_ERROR_ERR;

    rc = ngx_event_connect_peer(&mc->peer);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        /* nginx has logged why, and closed the connection, if any */
        ngx_queue_insert_head(&ngx_http_woportal_mc_free, &mc->queue);
        ngx_http_woportal_mc_down(s);
        return NULL;
    }

    c = mc->peer.connection;
    c->data = mc;
    c->read->handler = ngx_http_woportal_mc_read_handler;
    c->write->handler = ngx_http_woportal_mc_write_handler;

    if (s->addr.sockaddr->sa_family != AF_UNIX) {
        /*
         * A write goes out at once: Nagle's algorithm would hold a
         * loop turn's requests until memcached acknowledged the previous
         * ones, which it delays (40 ms)
         */

        tcp_nodelay = 1;

        if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY,
                       (const void *) &tcp_nodelay, sizeof(int))
            == -1)
        {
            ngx_log_error(NGX_LOG_ALERT, c->log, ngx_socket_errno,
                          "setsockopt(TCP_NODELAY) failed");
        }
    }

    ngx_queue_insert_tail(&s->conns, &mc->queue);
    s->nconns++;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "woportal memcached: connection %ui to %V%s", s->nconns,
                   &s->addr.name, rc == NGX_OK ? "" : ", connecting");

    if (rc == NGX_OK) {
        mc->connected = 1;
        ngx_http_woportal_mc_up(s);

    } else {
        /* NGX_AGAIN */
        ngx_add_timer(c->write, s->client->store->timeout);
    }

    return mc;
}


/* an operation framed into the connection's output, and queued on it */

static ngx_int_t
ngx_http_woportal_mc_frame(ngx_http_woportal_mc_conn_t *mc,
    ngx_http_woportal_mc_op_t *op)
{
    u_char                  *p;
    size_t                   extras, key, body;
    ngx_uint_t               opcode;
    ngx_http_woportal_mc_client_t  *client;

    client = mc->server->client;

    opcode = op->opcode;
    extras = 0;
    body = 0;

    switch (opcode) {

    case NGX_HTTP_WOPORTAL_MC_SET:
    case NGX_HTTP_WOPORTAL_MC_ADD:
        extras = 8;
        body = op->value.len;
        break;

    case NGX_HTTP_WOPORTAL_MC_APPEND:
        body = op->value.len;
        break;

    case NGX_HTTP_WOPORTAL_MC_INCREMENT:
        extras = 20;
        break;

    case NGX_HTTP_WOPORTAL_MC_TOUCH:
        extras = 4;
        break;

    default: /* GET, DELETE */
        break;
    }

    if (op->quiet) {
        /* APPEND 0x0e is APPENDQ 0x19; SET/ADD/DELETE/INCREMENT: +0x10 */
        opcode = (opcode == NGX_HTTP_WOPORTAL_MC_APPEND) ? 0x19
                                                         : opcode + 0x10;
    }

    key = client->ns.len + op->key.len;

    if (ngx_http_woportal_mc_reserve(mc, NGX_HTTP_WOPORTAL_MC_HEADER
                                         + extras + key + body)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    op->opaque = mc->opaque++;
    op->start = mc->framed;

    p = mc->out + mc->out_last;

    ngx_http_woportal_mc_header(p, opcode, key, extras, extras + key + body,
                                op->opaque, op->cas);
    p += NGX_HTTP_WOPORTAL_MC_HEADER;

    switch (op->opcode) {

    case NGX_HTTP_WOPORTAL_MC_SET:
    case NGX_HTTP_WOPORTAL_MC_ADD:
        p = ngx_http_woportal_mc_be32(p, op->flags);
        p = ngx_http_woportal_mc_be32(p, op->exptime);
        break;

    case NGX_HTTP_WOPORTAL_MC_INCREMENT:
        /* by 1, from op->initial when there is none yet */
        p = ngx_http_woportal_mc_be32(p, 0);
        p = ngx_http_woportal_mc_be32(p, 1);
        p = ngx_http_woportal_mc_be32(p, (uint32_t) (op->initial >> 32));
        p = ngx_http_woportal_mc_be32(p, (uint32_t) op->initial);
        p = ngx_http_woportal_mc_be32(p, op->exptime);
        break;

    case NGX_HTTP_WOPORTAL_MC_TOUCH:
        p = ngx_http_woportal_mc_be32(p, op->exptime);
        break;
    }

    if (client->ns.len) {
        p = ngx_cpymem(p, client->ns.data, client->ns.len);
    }

    p = ngx_cpymem(p, op->key.data, op->key.len);

    if (body) {
        /* a lease is an empty value, NULL */
        p = ngx_cpymem(p, op->value.data, body);
    }

    mc->framed += p - (mc->out + mc->out_last);
    mc->out_last = p - mc->out;

    op->end = mc->framed;
    op->conn = mc;
    mc->quiet = op->quiet;

    ngx_log_debug5(NGX_LOG_DEBUG_HTTP, op->log, 0,
                   "woportal memcached: opcode 0x%02xi \"%V\" (%uz bytes) "
                   "to %V, opaque %uD", opcode, &op->key, body,
                   &mc->server->addr.name, op->opaque);

    ngx_queue_insert_tail(&mc->ops, &op->queue);
    mc->nops++;

    return NGX_OK;
}


static ngx_int_t
ngx_http_woportal_mc_reserve(ngx_http_woportal_mc_conn_t *mc, size_t size)
{
    u_char  *out;
    size_t   n;

    if (mc->out_pos == mc->out_last) {
        mc->out_pos = 0;
        mc->out_last = 0;
    }

    if (mc->out_size - mc->out_last >= size) {
        return NGX_OK;
    }

    n = mc->out_last - mc->out_pos;

    if (mc->out_size - n >= size && mc->out_pos) {
        ngx_memmove(mc->out, mc->out + mc->out_pos, n);
        mc->out_pos = 0;
        mc->out_last = n;
        return NGX_OK;
    }

    mc->out_size = ngx_max(mc->out_size * 2, n + size);
    mc->out_size = ngx_max(mc->out_size, 4096);

    out = ngx_alloc(mc->out_size, ngx_cycle->log);
    if (out == NULL) {
        return NGX_ERROR;
    }

    if (mc->out) {
        ngx_memcpy(out, mc->out + mc->out_pos, n);
        ngx_free(mc->out);
    }

    mc->out = out;
    mc->out_pos = 0;
    mc->out_last = n;

    return NGX_OK;
}


static u_char *
ngx_http_woportal_mc_be32(u_char *p, uint32_t n)
{
    *p++ = (u_char) (n >> 24);
    *p++ = (u_char) (n >> 16);
    *p++ = (u_char) (n >> 8);
    *p++ = (u_char) n;

    return p;
}


static void
ngx_http_woportal_mc_header(u_char *p, ngx_uint_t opcode, size_t key,
    size_t extras, size_t body, uint32_t opaque, uint64_t cas)
{
    ngx_uint_t  i;

    p[0] = NGX_HTTP_WOPORTAL_MC_REQUEST;
    p[1] = (u_char) opcode;
    p[2] = (u_char) (key >> 8);
    p[3] = (u_char) key;
    p[4] = (u_char) extras;
    p[5] = 0;                           /* data type */
    p[6] = 0;                           /* vbucket */
    p[7] = 0;
    p[8] = (u_char) (body >> 24);
    p[9] = (u_char) (body >> 16);
    p[10] = (u_char) (body >> 8);
    p[11] = (u_char) body;
    p[12] = (u_char) (opaque >> 24);
    p[13] = (u_char) (opaque >> 16);
    p[14] = (u_char) (opaque >> 8);
    p[15] = (u_char) opaque;

    for (i = 0; i < 8; i++) {
        p[16 + i] = (u_char) (cas >> (56 - 8 * i));
    }
}


/* the end of the event loop's turn: what it framed goes in one write */

static void
ngx_http_woportal_mc_flush_handler(ngx_event_t *ev)
{
    ngx_http_woportal_mc_conn_t *mc = ev->data;

    u_char  *p;

    if (!mc->connected) {
        /* the write event sends it once connected */
        return;
    }

    if (mc->quiet) {
        /* a NOOP, so that the quiet operations before it are answered */

        if (ngx_http_woportal_mc_reserve(mc, NGX_HTTP_WOPORTAL_MC_HEADER)
            != NGX_OK)
        {
            ngx_http_woportal_mc_fail(mc, "no memory", 0);
            return;
        }

        p = mc->out + mc->out_last;
        ngx_http_woportal_mc_header(p, NGX_HTTP_WOPORTAL_MC_NOOP, 0, 0, 0,
                                    mc->opaque++, 0);
        mc->out_last += NGX_HTTP_WOPORTAL_MC_HEADER;
        mc->framed += NGX_HTTP_WOPORTAL_MC_HEADER;
        mc->quiet = 0;
    }

    if (ngx_http_woportal_mc_send(mc) != NGX_OK) {
        ngx_http_woportal_mc_fail(mc, "cannot write to memcached", 0);
    }
}


static void
ngx_http_woportal_mc_write_handler(ngx_event_t *wev)
{
    int                           err;
    socklen_t                     len;
    ngx_connection_t             *c;
    ngx_http_woportal_mc_conn_t  *mc;

    c = wev->data;
    mc = c->data;

    if (mc->connected) {
        if (ngx_http_woportal_mc_send(mc) != NGX_OK) {
            ngx_http_woportal_mc_fail(mc, "cannot write to memcached", 0);
        }

        return;
    }

    if (wev->timedout) {
        ngx_log_error(NGX_LOG_ERR, c->log, NGX_ETIMEDOUT,
                      "woportal: memcached \"%V\" timed out connecting",
                      &mc->server->addr.name);
        ngx_http_woportal_mc_fail(mc, "connecting to memcached timed out", 1);
        return;
    }

    if (wev->timer_set) {
        ngx_del_timer(wev);
    }

    err = 0;
    len = sizeof(int);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len) == -1) {
        err = ngx_socket_errno;
    }

    if (err) {
        ngx_log_error(NGX_LOG_ERR, c->log, err,
                      "woportal: cannot connect to memcached \"%V\"",
                      &mc->server->addr.name);
        ngx_http_woportal_mc_fail(mc, "cannot connect to memcached", 1);
        return;
    }

    mc->connected = 1;
    ngx_http_woportal_mc_up(mc->server);

    ngx_http_woportal_mc_flush_handler(&mc->flush);
}


/* writes what is framed; NGX_OK (all or some of it), NGX_ERROR */

static ngx_int_t
ngx_http_woportal_mc_send(ngx_http_woportal_mc_conn_t *mc)
{
    ssize_t            n;
    ngx_connection_t  *c;

    c = mc->peer.connection;

    while (mc->out_pos < mc->out_last) {
        n = c->send(c, mc->out + mc->out_pos, mc->out_last - mc->out_pos);

        if (n == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (n == NGX_AGAIN) {
            return (ngx_handle_write_event(c->write, 0) == NGX_OK)
                   ? NGX_OK : NGX_ERROR;
        }

        mc->out_pos += n;
        mc->written += n;
    }

    mc->out_pos = 0;
    mc->out_last = 0;

    if (mc->out_size > NGX_HTTP_WOPORTAL_MC_BUF * 4) {
        /* nor a large write's */
        ngx_free(mc->out);
        mc->out = NULL;
        mc->out_size = 0;
    }

    return NGX_OK;
}


static void
ngx_http_woportal_mc_read_handler(ngx_event_t *rev)
{
    u_char                       *in;
    size_t                        size;
    ssize_t                       n;
    ngx_connection_t             *c;
    ngx_http_woportal_mc_conn_t  *mc;

    c = rev->data;
    mc = c->data;

    if (c->close) {
        /* a worker shutting down */
        ngx_http_woportal_mc_fail(mc, "nginx is exiting", 0);
        return;
    }

    for ( ;; ) {
        if (mc->in_last == mc->in_size) {
            /* an answer larger than the buffer: the buffer grows */

            size = mc->in_size * 2;

            if (size > NGX_HTTP_WOPORTAL_MC_MAX_BODY
                                                 + NGX_HTTP_WOPORTAL_MC_HEADER)
            {
                ngx_http_woportal_mc_fail(mc, "memcached sent too much", 0);
                return;
            }

            in = ngx_alloc(size, c->log);
            if (in == NULL) {
                ngx_http_woportal_mc_fail(mc, "no memory", 0);
                return;
            }

            ngx_memcpy(in, mc->in, mc->in_last);
            ngx_free(mc->in);
            mc->in = in;
            mc->in_size = size;
        }

        n = c->recv(c, mc->in + mc->in_last, mc->in_size - mc->in_last);

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == 0 || n == NGX_ERROR) {
            /*
             * memcached closed it: idle, nothing is lost (a restart, its
             * idle timeout); in use, its operations go on as they can
             */
            ngx_http_woportal_mc_fail(mc, "memcached closed the connection",
                                      0);
            return;
        }

        mc->in_last += n;

        if (ngx_http_woportal_mc_answers(mc) != NGX_OK) {
            return;
        }

        /* read on until the socket is empty: the events are edge ones */
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_http_woportal_mc_fail(mc, "cannot read from memcached", 0);
    }
}


/*
 * Each whole answer read: NGX_OK; NGX_ERROR when the connection failed
 * (closed, its operations gone on).
 */

static ngx_int_t
ngx_http_woportal_mc_answers(ngx_http_woportal_mc_conn_t *mc)
{
    u_char                         *p, *last;
    ngx_int_t                       rc;
    ngx_http_woportal_mc_answer_t   a;

    p = mc->in;
    last = mc->in + mc->in_last;

    for ( ;; ) {
        rc = ngx_http_woportal_mc_parse(p, last - p, &a);

        if (rc == NGX_AGAIN) {
            /* the read handler grows the buffer once a part fills it */
            break;
        }

        if (rc == NGX_ERROR) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "woportal: memcached \"%V\" sent a bad answer",
                          &mc->server->addr.name);
            ngx_http_woportal_mc_fail(mc, "memcached sent a bad answer", 0);
            return NGX_ERROR;
        }

        if (ngx_http_woportal_mc_answer(mc, &a) != NGX_OK) {
            return NGX_ERROR;
        }

        p += a.size;
    }

    /* a part of an answer goes to the front */

    mc->in_last = last - p;

    if (mc->in_last && p != mc->in) {
        ngx_memmove(mc->in, p, mc->in_last);
    }

    if (mc->in_last == 0 && mc->in_size > NGX_HTTP_WOPORTAL_MC_BUF) {
        /* a large answer's buffer is not kept for the small ones */

        p = ngx_alloc(NGX_HTTP_WOPORTAL_MC_BUF, ngx_cycle->log);

        if (p) {
            ngx_free(mc->in);
            mc->in = p;
            mc->in_size = NGX_HTTP_WOPORTAL_MC_BUF;
        }
    }

    return NGX_OK;
}


/*
 * One answer of memcached's binary protocol at p: NGX_OK, *a is the
 * answer (its value points into p) and a->size its bytes; NGX_AGAIN
 * when it is not whole yet; NGX_ERROR when it is no answer (a wrong
 * magic, lengths that do not add up, too large).  Reads nothing past
 * p + len.
 */

ngx_int_t
ngx_http_woportal_mc_parse(u_char *p, size_t len,
    ngx_http_woportal_mc_answer_t *a)
{
    size_t      body, extras, key;
    ngx_uint_t  i;

    if (len < NGX_HTTP_WOPORTAL_MC_HEADER) {
        return (len && p[0] != NGX_HTTP_WOPORTAL_MC_RESPONSE) ? NGX_ERROR
                                                              : NGX_AGAIN;
    }

    if (p[0] != NGX_HTTP_WOPORTAL_MC_RESPONSE) {
        return NGX_ERROR;
    }

    key = ((size_t) p[2] << 8) | p[3];
    extras = p[4];
    body = ((size_t) p[8] << 24) | ((size_t) p[9] << 16)
           | ((size_t) p[10] << 8) | p[11];

    if (body > NGX_HTTP_WOPORTAL_MC_MAX_BODY || extras + key > body) {
        return NGX_ERROR;
    }

    if (len - NGX_HTTP_WOPORTAL_MC_HEADER < body) {
        return NGX_AGAIN;
    }

    a->opcode = p[1];
    a->status = ((ngx_uint_t) p[6] << 8) | p[7];
    a->opaque = ((uint32_t) p[12] << 24) | ((uint32_t) p[13] << 16)
                | ((uint32_t) p[14] << 8) | p[15];

    a->cas = 0;

    for (i = 0; i < 8; i++) {
        a->cas = (a->cas << 8) | p[16 + i];
    }

    /* a get's: its item flags */

    a->flags = 0;
    a->has_flags = (extras >= 4);

    if (a->has_flags) {
        a->flags = ((uint32_t) p[24] << 24) | ((uint32_t) p[25] << 16)
                   | ((uint32_t) p[26] << 8) | p[27];
    }

    a->value.data = p + NGX_HTTP_WOPORTAL_MC_HEADER + extras + key;
    a->value.len = body - extras - key;
    a->size = NGX_HTTP_WOPORTAL_MC_HEADER + body;

    return NGX_OK;
}


/* one answer: its operation, and the quiet ones before it, are done */

static ngx_int_t
ngx_http_woportal_mc_answer(ngx_http_woportal_mc_conn_t *mc,
    ngx_http_woportal_mc_answer_t *a)
{
    ngx_queue_t                *q;
    ngx_http_woportal_mc_op_t  *op;

    for ( ;; ) {
        if (ngx_queue_empty(&mc->ops)) {
            if (a->opcode == NGX_HTTP_WOPORTAL_MC_NOOP) {
                return NGX_OK;
            }

            /* an operation that timed out and was forgotten: none */
            goto bad;
        }

        q = ngx_queue_head(&mc->ops);
        op = ngx_queue_data(q, ngx_http_woportal_mc_op_t, queue);

        if (op->opaque == a->opaque) {
            break;
        }

        if (!op->quiet || (int32_t) (op->opaque - a->opaque) > 0) {
            if (a->opcode == NGX_HTTP_WOPORTAL_MC_NOOP
                && (int32_t) (op->opaque - a->opaque) > 0)
            {
                return NGX_OK;
            }

            goto bad;
        }

        /* a quiet operation answered by silence: it succeeded */

        ngx_queue_remove(q);
        mc->nops--;
        op->conn = NULL;
        op->status = NGX_HTTP_WOPORTAL_MC_OK;
        ngx_http_woportal_mc_done(op, NGX_OK, NULL);
    }

    ngx_queue_remove(q);
    mc->nops--;
    op->conn = NULL;

    op->status = a->status;
    op->cas_out = a->cas;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, op->log, 0,
                   "woportal memcached: answer to \"%V\", opaque %uD: "
                   "status 0x%04xi", &op->key, a->opaque, op->status);

    if (op->opcode == NGX_HTTP_WOPORTAL_MC_GET
        && op->status == NGX_HTTP_WOPORTAL_MC_OK)
    {
        if (!a->has_flags) {
            ngx_http_woportal_mc_done(op, NGX_ERROR,
                                      "memcached sent a bad answer");
            goto bad;
        }

        op->flags_out = a->flags;

        op->value_out.data = ngx_pnalloc(op->pool,
                                         a->value.len ? a->value.len : 1);
        if (op->value_out.data == NULL) {
            ngx_http_woportal_mc_done(op, NGX_ERROR, "no memory");
            return NGX_OK;
        }

        ngx_memcpy(op->value_out.data, a->value.data, a->value.len);
        op->value_out.len = a->value.len;
    }

    ngx_http_woportal_mc_done(op, NGX_OK, NULL);

    return NGX_OK;

bad:

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "woportal: memcached \"%V\" sent an answer to nothing "
                  "asked, or a bad one", &mc->server->addr.name);

    ngx_http_woportal_mc_fail(mc, "memcached sent a bad answer", 0);

    return NGX_ERROR;
}


/*
 * A connection failed (or, idle, was closed): it is closed, and each of
 * its operations that is safe to send again is sent again once, the
 * others fail.  down: the server is down (it did not connect, or let an
 * operation time out).
 */

static void
ngx_http_woportal_mc_fail(ngx_http_woportal_mc_conn_t *mc, const char *error,
    ngx_uint_t down)
{
    ngx_queue_t                     ops, *q;
    ngx_http_woportal_mc_op_t      *op;
    ngx_http_woportal_mc_server_t  *s;

    s = mc->server;

    if (mc->connected || down) {
        /*
         * memcached closed a connection (a restart?) or cannot be reached:
         * the pool threads' libmemcached connections are likely dead too,
         * and each would fail once when next used; they are made again
         * before their next use instead (libmc_conn())
         */
        (void) ngx_atomic_fetch_add(&s->client->lost, 1);
    }

    ngx_queue_init(&ops);

    if (!ngx_queue_empty(&mc->ops)) {
        ngx_queue_add(&ops, &mc->ops);
        ngx_queue_init(&mc->ops);
    }

    for (q = ngx_queue_head(&ops);
         q != ngx_queue_sentinel(&ops);
         q = ngx_queue_next(q))
    {
        op = ngx_queue_data(q, ngx_http_woportal_mc_op_t, queue);

        /* a byte of it written: a write may have been done */
        op->sent = (mc->written > op->start);
    }

    ngx_http_woportal_mc_close(mc);

    if (down) {
        ngx_http_woportal_mc_down(s);
    }

    while (!ngx_queue_empty(&ops)) {
        q = ngx_queue_head(&ops);
        ngx_queue_remove(q);
        op = ngx_queue_data(q, ngx_http_woportal_mc_op_t, queue);
        op->conn = NULL;

        if (!op->retried
            && (!op->sent || op->opcode == NGX_HTTP_WOPORTAL_MC_GET
                || op->opcode == NGX_HTTP_WOPORTAL_MC_TOUCH))
        {
            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, op->log, 0,
                           "woportal memcached: \"%V\" sent again: %s",
                           &op->key, error);

            op->retried = 1;
            ngx_http_woportal_mc_submit(s, op);
            continue;
        }

        ngx_http_woportal_mc_done(op, NGX_ERROR, error);
    }
}


static void
ngx_http_woportal_mc_close(ngx_http_woportal_mc_conn_t *mc)
{
    ngx_http_woportal_mc_server_t  *s;

    s = mc->server;

    if (mc->flush.posted) {
        ngx_delete_posted_event(&mc->flush);
    }

    if (mc->peer.connection) {
        ngx_close_connection(mc->peer.connection);
        mc->peer.connection = NULL;
    }

    ngx_queue_remove(&mc->queue);
    s->nconns--;

    ngx_queue_insert_head(&ngx_http_woportal_mc_free, &mc->queue);
}


static void
ngx_http_woportal_mc_down(ngx_http_woportal_mc_server_t *s)
{
    if (!s->down) {
        s->down = 1;
        s->backoff = NGX_HTTP_WOPORTAL_MC_BACKOFF;

    } else {
        s->backoff = ngx_min(s->backoff * 2,
                             ngx_max(s->client->store->timeout / 2,
                                     NGX_HTTP_WOPORTAL_MC_BACKOFF));
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "woportal memcached: %V is down, tried again in %M ms",
                   &s->addr.name, s->backoff);

    /* health and metrics: as the pool threads tell it (store.c) */
    ngx_http_woportal_mc_mark_failed(s->client);

    if (!ngx_queue_empty(&s->waiting) && !s->retry.timer_set) {
        ngx_add_timer(&s->retry, s->backoff);
    }
}


static void
ngx_http_woportal_mc_up(ngx_http_woportal_mc_server_t *s)
{
    ngx_queue_t                  *q;
    ngx_http_woportal_mc_op_t    *op;

    s->down = 0;
    s->backoff = 0;

    ngx_http_woportal_mc_reached(s->client);

    if (s->retry.timer_set) {
        ngx_del_timer(&s->retry);
    }

    while (!ngx_queue_empty(&s->waiting)) {
        q = ngx_queue_head(&s->waiting);
        ngx_queue_remove(q);
        op = ngx_queue_data(q, ngx_http_woportal_mc_op_t, queue);
        ngx_http_woportal_mc_submit(s, op);
    }
}


/* the backoff is over: one connection tries the server again */

static void
ngx_http_woportal_mc_retry(ngx_event_t *ev)
{
    ngx_http_woportal_mc_server_t *s = ev->data;

    ngx_queue_t                  *q;
    ngx_http_woportal_mc_op_t    *op;
    ngx_http_woportal_mc_conn_t  *mc;

    if (ngx_queue_empty(&s->waiting)) {
        /* no one waits: the next operation sets the timer */
        return;
    }

    for (q = ngx_queue_head(&s->conns);
         q != ngx_queue_sentinel(&s->conns);
         q = ngx_queue_next(q))
    {
        mc = ngx_queue_data(q, ngx_http_woportal_mc_conn_t, queue);

        if (!mc->connected) {
            /* a try is under way: its end sends or fails those waiting */
            return;
        }
    }

    mc = ngx_http_woportal_mc_connect(s);

    if (mc == NULL) {
        /* down again: those that waited fail */

        while (!ngx_queue_empty(&s->waiting)) {
            q = ngx_queue_head(&s->waiting);
            ngx_queue_remove(q);
            op = ngx_queue_data(q, ngx_http_woportal_mc_op_t, queue);
            op->conn = NULL;
            ngx_http_woportal_mc_done(op, NGX_ERROR,
                                      "memcached cannot be connected to");
        }

        return;
    }

    /*
     * They go on the connection, sent once it is made; if it is not,
     * they fail: they have had their try
     */

    while (!ngx_queue_empty(&s->waiting)) {
        q = ngx_queue_head(&s->waiting);
        ngx_queue_remove(q);
        op = ngx_queue_data(q, ngx_http_woportal_mc_op_t, queue);
        op->retried = 1;

        if (ngx_http_woportal_mc_frame(mc, op) != NGX_OK) {
            ngx_http_woportal_mc_done(op, NGX_ERROR, "no memory");
        }
    }

    if (mc->connected && !mc->flush.posted) {
        ngx_post_event(&mc->flush, &ngx_posted_events);
    }
}


static void
ngx_http_woportal_mc_timeout(ngx_event_t *ev)
{
    ngx_http_woportal_mc_op_t *op = ev->data;

    ngx_http_woportal_mc_server_t  *s;

    s = op->server;

    ngx_log_error(NGX_LOG_ERR, op->log, NGX_ETIMEDOUT,
                  "woportal: memcached \"%V\" timed out", &s->addr.name);

    if (op->conn == NULL) {
        /* waiting for a down server */
        ngx_queue_remove(&op->queue);
        ngx_http_woportal_mc_done(op, NGX_ERROR, "memcached timed out");
        return;
    }

    /*
     * The server stalls: its connection goes, with what else waits on
     * it, and the server is down until it connects again.  This one
     * fails first, and is not sent again.
     */

    op->retried = 1;
    ngx_http_woportal_mc_fail(op->conn, "memcached timed out", 1);
}


/*
 * An operation that fails before it is sent fails from the event loop,
 * not from within mc_post(): its caller is not ready for its handler yet
 */

static void
ngx_http_woportal_mc_fail_later(ngx_http_woportal_mc_op_t *op,
    const char *error)
{
    if (op->timer.timer_set) {
        ngx_del_timer(&op->timer);
    }

    op->error = error;
    op->timer.handler = ngx_http_woportal_mc_failed;

    ngx_post_event(&op->timer, &ngx_posted_events);
}


static void
ngx_http_woportal_mc_failed(ngx_event_t *ev)
{
    ngx_http_woportal_mc_op_t *op = ev->data;

    ngx_http_woportal_mc_done(op, NGX_ERROR, op->error);
}


static void
ngx_http_woportal_mc_done(ngx_http_woportal_mc_op_t *op, ngx_int_t rc,
    const char *error)
{
    if (op->timer.timer_set) {
        ngx_del_timer(&op->timer);
    }

    op->rc = rc;
    op->error = error;

    if (rc == NGX_OK) {
        ngx_http_woportal_mc_reached(
            ((ngx_http_woportal_mc_server_t *) op->server)->client);
    }

    op->handler(op);
}
