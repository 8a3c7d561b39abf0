
/*
 * GET and HEAD /: a page of entries, read through the list index
 * (index.c describes it).
 *
 *     query string -> pool thread: multi-get of every index shard ->
 *     fold, filter, count, select and sort the page -> multi-get of the
 *     page's entries -> answer
 *
 * Two memcached round trips whatever the number of entries, both in one
 * pool-thread task, so that folding and sorting 100k records never holds
 * up the event loop.  Filters and sorting work on the compact records;
 * only the page's entries are fetched, and they are served as stored.
 *
 * Repairs on the way: a shard twice the size of its live records is
 * rewritten (CAS); an entry of the page that is gone from memcached (a
 * ghost) is left out, the page refilled from the next candidates, and its
 * deletion appended; an entry newer than its record gets a fresh record.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"


/* the query parameters */
typedef enum {
    NGX_HTTP_WOPORTAL_Q_PAGE = 0,
    NGX_HTTP_WOPORTAL_Q_PER_PAGE,
    NGX_HTTP_WOPORTAL_Q_SORT,
    NGX_HTTP_WOPORTAL_Q_STATUS,
    NGX_HTTP_WOPORTAL_Q_WORKORDER,
    NGX_HTTP_WOPORTAL_Q_CLIENT,
    NGX_HTTP_WOPORTAL_Q_NAMESPACE,      /* repeatable, and with "[]" */
    NGX_HTTP_WOPORTAL_Q_ID,             /* repeatable, and with "[]" */
    NGX_HTTP_WOPORTAL_Q_NONE
} ngx_http_woportal_param_e;

#define NGX_HTTP_WOPORTAL_Q_REPEATABLE                                       \
    ((1 << NGX_HTTP_WOPORTAL_Q_NAMESPACE) | (1 << NGX_HTTP_WOPORTAL_Q_ID))

#define NGX_HTTP_WOPORTAL_PAGE_MAX       2147483647

/*
 * Ghosts are replaced from the next candidates, in fetches that double in
 * size up to FETCH_MAX keys, at most FETCH_ROUNDS of them: a page falls
 * short only when memcached lost thousands of entries at once, and the
 * ghosts found are gone from the index for the next list.
 */
#define NGX_HTTP_WOPORTAL_FETCH_ROUNDS   8
#define NGX_HTTP_WOPORTAL_FETCH_MAX      1024

/* a shard is rewritten when this much of it is dead, and half of it */
#define NGX_HTTP_WOPORTAL_COMPACT_SLACK  4096




typedef struct {
    u_char                       *data;
    size_t                        len;
    size_t                        live;
    uint64_t                      cas;
    unsigned                      found:1;
    unsigned                      corrupt:1;
} ngx_http_woportal_shard_t;


/* a record the list appends to mend the index */
typedef struct {
    ngx_uint_t                    shard;
    ngx_str_t                     record;
    unsigned                      done:1;
} ngx_http_woportal_mend_t;


/* an entry of the page being fetched */
typedef struct {
    ngx_http_woportal_irec_t     *rec;
    ngx_str_t                     key;
    ngx_str_t                     value;
    unsigned                      found:1;
    unsigned                      gone:1;
} ngx_http_woportal_item_t;


typedef struct {
    ngx_http_woportal_query_t     q;
    ngx_http_woportal_loc_conf_t *wlcf;

    /* the pool thread's; destroyed with the request */
    ngx_pool_t                   *pool;
    ngx_http_woportal_shard_t    *shards;
    ngx_http_woportal_item_t     *items;
    ngx_uint_t                    nitems;
    ngx_str_t                    *served;
    ngx_uint_t                    nserved;
    ngx_uint_t                    ghosts;
    ngx_array_t                   mends;        /* of mend_t */
    ngx_uint_t                    gen;          /* idx:gen was found */
    ngx_str_t                    *rebuilt;      /* records, by shard */
    size_t                       *rebuilt_cap;
    ngx_pool_t                   *scratch;
    ngx_uint_t                    nrebuilt;
    ngx_str_t                     json;
} ngx_http_woportal_list_t;


static ngx_int_t ngx_http_woportal_list_param(ngx_http_woportal_query_t *q,
    ngx_uint_t param, ngx_str_t *value, ngx_http_woportal_error_t *err);
static ngx_uint_t ngx_http_woportal_list_name(ngx_str_t *name);
static ngx_int_t ngx_http_woportal_list_bad(ngx_http_woportal_query_t *q,
    ngx_uint_t param, char *message, ngx_http_woportal_error_t *err);
static ngx_int_t ngx_http_woportal_list_sort(ngx_http_woportal_query_t *q,
    ngx_str_t *value);
static uint64_t ngx_http_woportal_list_number(ngx_str_t *value,
    uint64_t max);
static ngx_int_t ngx_http_woportal_unescape(ngx_pool_t *pool, u_char *p,
    size_t len, ngx_str_t *out);
static void ngx_http_woportal_list_cleanup(void *data);
static void ngx_http_woportal_list_done(ngx_http_woportal_call_t *call);

static ngx_int_t ngx_http_woportal_list_run(ngx_http_woportal_call_t *call,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_list_shard(void *data, u_char *key,
    size_t key_len, u_char *value, size_t len, uint32_t flags, uint64_t cas);
static ngx_int_t ngx_http_woportal_list_compact(ngx_http_woportal_list_t *l,
    ngx_array_t *recs, ngx_http_woportal_mc_t *mc, ngx_log_t *log);
static ngx_uint_t ngx_http_woportal_list_match(ngx_http_woportal_query_t *q,
    ngx_http_woportal_irec_t *rec);
static ngx_int_t ngx_http_woportal_list_cmp(ngx_http_woportal_query_t *q,
    ngx_http_woportal_irec_t *a, ngx_http_woportal_irec_t *b);
static void ngx_http_woportal_list_select(ngx_http_woportal_query_t *q,
    ngx_http_woportal_irec_t **c, ngx_uint_t n, ngx_uint_t k);
static void ngx_http_woportal_list_sift(ngx_http_woportal_query_t *q,
    ngx_http_woportal_irec_t **c, ngx_uint_t i, ngx_uint_t n);
static ngx_int_t ngx_http_woportal_list_page(ngx_http_woportal_list_t *l,
    ngx_http_woportal_irec_t **c, ngx_uint_t n, ngx_uint_t pos,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_list_item(void *data, u_char *key,
    size_t key_len, u_char *value, size_t len, uint32_t flags, uint64_t cas);
static ngx_int_t ngx_http_woportal_list_entry(ngx_http_woportal_list_t *l,
    ngx_http_woportal_item_t *it, ngx_http_woportal_mc_t *mc,
    ngx_log_t *log);
static ngx_int_t ngx_http_woportal_list_index(ngx_http_woportal_list_t *l,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_list_rebuild(ngx_http_woportal_list_t *l,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_list_rebuilt(void *data, ngx_str_t *doc);
static ngx_int_t ngx_http_woportal_list_found(void *data, u_char *key,
    size_t key_len, u_char *value, size_t len, uint32_t flags, uint64_t cas);
static ngx_int_t ngx_http_woportal_list_mend(ngx_http_woportal_list_t *l,
    ngx_http_woportal_entry_t *e, u_char *id);
static void ngx_http_woportal_list_mended(ngx_http_woportal_list_t *l,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log);


static ngx_str_t  ngx_http_woportal_params[] = {
    ngx_string("page"),
    ngx_string("per_page"),
    ngx_string("sort"),
    ngx_string("status"),
    ngx_string("workorder"),
    ngx_string("client"),
    ngx_string("company_namespace"),
    ngx_string("_id")
};


/* the fields a list sorts on, by name */
static struct {
    ngx_str_t                     name;
    ngx_uint_t                    field;
} ngx_http_woportal_sort_fields[] = {
    { ngx_string("created_at"), NGX_HTTP_WOPORTAL_F_CREATED_AT },
    { ngx_string("updated_at"), NGX_HTTP_WOPORTAL_F_UPDATED_AT },
    { ngx_string("status"), NGX_HTTP_WOPORTAL_F_STATUS },
    { ngx_string("workorder"), NGX_HTTP_WOPORTAL_F_WORKORDER },
    { ngx_string("client"), NGX_HTTP_WOPORTAL_F_CLIENT },
    { ngx_string("expiry_date"), NGX_HTTP_WOPORTAL_F_EXPIRY_DATE },
    { ngx_string("access_level"), NGX_HTTP_WOPORTAL_F_ACCESS_LEVEL },
    { ngx_string("_id"), NGX_HTTP_WOPORTAL_F_ID },
    { ngx_null_string, 0 }
};


/*
 * Enumerations sort by name: the rank of each value (entry.c's order)
 * in alphabetical order.
 */

/* pending, in_progress, completed, cancelled */
static u_char  ngx_http_woportal_status_rank[] = { 3, 2, 1, 0 };

/* view_only, comment, full_access */
static u_char  ngx_http_woportal_access_rank[] = { 2, 0, 1 };


ngx_int_t
ngx_http_woportal_list(ngx_http_request_t *r, ngx_http_woportal_ctx_t *ctx)
{
    ngx_int_t                   rc;
    ngx_pool_cleanup_t         *cln;
    ngx_http_woportal_list_t   *l;
    ngx_http_woportal_error_t   err;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    r->connection->log->action = "listing woportal entries";

    l = ngx_pcalloc(r->pool, sizeof(ngx_http_woportal_list_t));
    if (l == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_woportal_list_query(r->pool, &r->args, &l->q, &err);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc != NGX_OK) {
        return ngx_http_woportal_send_errors(r, &err);
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_woportal_list_cleanup;
    cln->data = l;

    l->wlcf = ngx_http_get_module_loc_conf(r, ngx_http_woportal_module);

    ctx->call.run = ngx_http_woportal_list_run;
    ctx->call.data = l;

    rc = ngx_http_woportal_call(r, ctx, NGX_HTTP_WOPORTAL_STORE_RUN,
                                ngx_http_woportal_list_done);

    if (rc == NGX_DONE) {
        r->main->count++;
    }

    return rc;
}


static void
ngx_http_woportal_list_cleanup(void *data)
{
    ngx_http_woportal_list_t *l = data;

    if (l->pool) {
        ngx_destroy_pool(l->pool);
    }
}


static void
ngx_http_woportal_list_done(ngx_http_woportal_call_t *call)
{
    ngx_int_t                  rc;
    ngx_http_request_t        *r;
    ngx_http_woportal_list_t  *l;

    r = call->request;
    l = call->data;

    r->connection->log->action = "answering a woportal list";

    if (call->result == NGX_OK) {
        rc = ngx_http_woportal_send(r, NGX_HTTP_OK, &l->json, 0);

    } else {
        rc = ngx_http_woportal_unavailable(r);
    }

    ngx_http_woportal_finish(r, rc);
}


/* the query string ------------------------------------------------------ */


/*
 * NGX_OK; NGX_DECLINED with err set to the 400 answer, one detail per
 * refused parameter; NGX_ERROR.
 */

ngx_int_t
ngx_http_woportal_list_query(ngx_pool_t *pool, ngx_str_t *args,
    ngx_http_woportal_query_t *q, ngx_http_woportal_error_t *err)
{
    u_char      *p, *last, *end, *eq;
    ngx_str_t    name, value;
    ngx_uint_t   param;

    q->page = 1;
    q->per_page = NGX_HTTP_WOPORTAL_PER_PAGE;
    q->status = -1;

    if (ngx_array_init(&q->namespaces, pool, 2, sizeof(ngx_str_t))
        != NGX_OK
        || ngx_array_init(&q->ids, pool, 2, NGX_HTTP_WOPORTAL_ID_LEN / 2)
           != NGX_OK
        || ngx_array_init(&err->details, pool, 2,
                          sizeof(ngx_http_woportal_detail_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = args->data;
    last = p + args->len;

    for ( /* void */ ; p < last; p = end + 1) {

        end = ngx_strlchr(p, last, '&');
        if (end == NULL) {
            end = last;
        }

        if (end == p) {
            continue;
        }

        eq = ngx_strlchr(p, end, '=');

        /* a name that does not decode is no parameter of ours */

        if (ngx_http_woportal_unescape(pool, p, (eq ? eq : end) - p, &name)
            != NGX_OK)
        {
            continue;
        }

        param = ngx_http_woportal_list_name(&name);

        if (param == NGX_HTTP_WOPORTAL_Q_NONE) {
            continue;
        }

        if (eq == NULL) {
            ngx_str_set(&value, "");

        } else if (ngx_http_woportal_unescape(pool, eq + 1, end - eq - 1,
                                              &value)
                   != NGX_OK)
        {
            if (ngx_http_woportal_list_bad(q, param,
                                           "has a malformed percent-encoding",
                                           err)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            continue;
        }

        if (ngx_http_woportal_list_param(q, param, &value, err) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (q->bad) {
        err->status = NGX_HTTP_BAD_REQUEST;
        err->code = NGX_HTTP_WOPORTAL_E_INVALID_PARAMETER;
        ngx_str_set(&err->message, "invalid query parameter");
        return NGX_DECLINED;
    }

    if (q->nsort == 0) {
        q->sort[0].field = NGX_HTTP_WOPORTAL_F_CREATED_AT;
        q->sort[0].desc = 1;
        q->nsort = 1;
    }

    /* ties: by _id */
    q->sort[q->nsort].field = NGX_HTTP_WOPORTAL_F_ID;
    q->sort[q->nsort].desc = 0;
    q->nsort++;

    return NGX_OK;
}


static ngx_int_t
ngx_http_woportal_list_param(ngx_http_woportal_query_t *q, ngx_uint_t param,
    ngx_str_t *value, ngx_http_woportal_error_t *err)
{
    u_char      *id;
    ngx_str_t   *ns;
    ngx_uint_t   bit;

    bit = (ngx_uint_t) 1 << param;

    if (q->bad & bit) {
        return NGX_OK;
    }

    if ((q->given & bit) && !(bit & NGX_HTTP_WOPORTAL_Q_REPEATABLE)) {
        return ngx_http_woportal_list_bad(q, param, "is given more than once",
                                          err);
    }

    q->given |= bit;

    switch (param) {

    case NGX_HTTP_WOPORTAL_Q_PAGE:
        q->page = ngx_http_woportal_list_number(value,
                                                NGX_HTTP_WOPORTAL_PAGE_MAX);
        if (q->page == 0) {
            return ngx_http_woportal_list_bad(q, param,
                                   "must be an integer from 1 to 2147483647",
                                   err);
        }

        break;

    case NGX_HTTP_WOPORTAL_Q_PER_PAGE:
        q->per_page = ngx_http_woportal_list_number(value,
                                           NGX_HTTP_WOPORTAL_PER_PAGE_MAX);
        if (q->per_page == 0) {
            return ngx_http_woportal_list_bad(q, param,
                                           "must be an integer from 1 to 100",
                                           err);
        }

        break;

    case NGX_HTTP_WOPORTAL_Q_SORT:
        if (ngx_http_woportal_list_sort(q, value) != NGX_OK) {
            return ngx_http_woportal_list_bad(q, param,
                       "must be up to 16 comma-separated fields, each "
                       "optionally preceded by '-', of created_at, "
                       "updated_at, status, workorder, client, expiry_date, "
                       "access_level, _id", err);
        }

        break;

    case NGX_HTTP_WOPORTAL_Q_STATUS:
        q->status = ngx_http_woportal_enum(ngx_http_woportal_statuses,
                                           value->data, value->len);
        if (q->status == NGX_ERROR) {
            return ngx_http_woportal_list_bad(q, param,
                                           "must be one of pending, "
                                           "in_progress, completed, cancelled",
                                           err);
        }

        break;

    case NGX_HTTP_WOPORTAL_Q_WORKORDER:
        q->workorder = *value;
        break;

    case NGX_HTTP_WOPORTAL_Q_CLIENT:
        q->client = *value;
        break;

    case NGX_HTTP_WOPORTAL_Q_NAMESPACE:
        if (q->namespaces.nelts == NGX_HTTP_WOPORTAL_FILTER_MAX) {
            return ngx_http_woportal_list_bad(q, param,
                                              "takes at most 100 values",
                                              err);
        }

        ns = ngx_array_push(&q->namespaces);
        if (ns == NULL) {
            return NGX_ERROR;
        }

        *ns = *value;
        break;

    default: /* NGX_HTTP_WOPORTAL_Q_ID */
        if (q->nids++ == NGX_HTTP_WOPORTAL_FILTER_MAX) {
            return ngx_http_woportal_list_bad(q, param,
                                              "takes at most 100 values",
                                              err);
        }

        /* a value that is no id matches nothing */

        if (!ngx_http_woportal_id_valid(value)) {
            break;
        }

        id = ngx_array_push(&q->ids);
        if (id == NULL) {
            return NGX_ERROR;
        }

        (void) ngx_http_woportal_hex_decode(id, value->data, value->len);
        break;
    }

    return NGX_OK;
}


static ngx_uint_t
ngx_http_woportal_list_name(ngx_str_t *name)
{
    size_t      len;
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_WOPORTAL_Q_NONE; i++) {
        len = ngx_http_woportal_params[i].len;

        if (ngx_strncmp(name->data, ngx_http_woportal_params[i].data,
                        ngx_min(len, name->len))
            != 0)
        {
            continue;
        }

        if (name->len == len
            || (name->len == len + 2
                && ((ngx_uint_t) 1 << i) & NGX_HTTP_WOPORTAL_Q_REPEATABLE
                && name->data[len] == '[' && name->data[len + 1] == ']'))
        {
            return i;
        }
    }

    return NGX_HTTP_WOPORTAL_Q_NONE;
}


/* one detail per refused parameter */

static ngx_int_t
ngx_http_woportal_list_bad(ngx_http_woportal_query_t *q, ngx_uint_t param,
    char *message, ngx_http_woportal_error_t *err)
{
    ngx_http_woportal_detail_t  *d;

    if (q->bad & ((ngx_uint_t) 1 << param)) {
        return NGX_OK;
    }

    q->bad |= (ngx_uint_t) 1 << param;

    d = ngx_array_push(&err->details);
    if (d == NULL) {
        return NGX_ERROR;
    }

    d->field = ngx_http_woportal_params[param];
    d->message.data = (u_char *) message;
    d->message.len = ngx_strlen(message);

    return NGX_OK;
}


static ngx_int_t
ngx_http_woportal_list_sort(ngx_http_woportal_query_t *q, ngx_str_t *value)
{
    u_char      *p, *last, *end;
    ngx_uint_t   i, desc;

    p = value->data;
    last = p + value->len;

    for ( ;; ) {
        end = ngx_strlchr(p, last, ',');
        if (end == NULL) {
            end = last;
        }

        desc = 0;

        if (p < end && *p == '-') {
            desc = 1;
            p++;
        }

        for (i = 0; ngx_http_woportal_sort_fields[i].name.len; i++) {
            if ((size_t) (end - p) == ngx_http_woportal_sort_fields[i].name.len
                && ngx_strncmp(p, ngx_http_woportal_sort_fields[i].name.data,
                               end - p)
                   == 0)
            {
                break;
            }
        }

        if (ngx_http_woportal_sort_fields[i].name.len == 0
            || q->nsort == NGX_HTTP_WOPORTAL_SORT_MAX)
        {
            return NGX_ERROR;
        }

        q->sort[q->nsort].field = (u_char)
                                  ngx_http_woportal_sort_fields[i].field;
        q->sort[q->nsort].desc = (u_char) desc;
        q->nsort++;

        if (end == last) {
            return NGX_OK;
        }

        p = end + 1;
    }
}


/* plain decimal digits, 1 to max; 0 for anything else */

static uint64_t
ngx_http_woportal_list_number(ngx_str_t *value, uint64_t max)
{
    size_t    i;
    uint64_t  n;

    if (value->len == 0) {
        return 0;
    }

    n = 0;

    for (i = 0; i < value->len; i++) {
        if (value->data[i] < '0' || value->data[i] > '9') {
            return 0;
        }

        n = n * 10 + (value->data[i] - '0');

        if (n > max) {
            return 0;
        }
    }

    return n;
}


/* percent-decoding, '+' a space: NGX_OK, or NGX_DECLINED when malformed */

static ngx_int_t
ngx_http_woportal_unescape(ngx_pool_t *pool, u_char *p, size_t len,
    ngx_str_t *out)
{
    u_char  *d, *last, c, h, l;

    out->data = ngx_pnalloc(pool, len ? len : 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    d = out->data;

    for (last = p + len; p < last; p++) {

        if (*p == '+') {
            *d++ = ' ';
            continue;
        }

        if (*p != '%') {
            *d++ = *p;
            continue;
        }

        if (last - p < 3) {
            return NGX_DECLINED;
        }

        h = (u_char) (p[1] | 0x20);
        l = (u_char) (p[2] | 0x20);

        if (h >= '0' && h <= '9') {
            c = (u_char) (h - '0');

        } else if (h >= 'a' && h <= 'f') {
            c = (u_char) (h - 'a' + 10);

        } else {
            return NGX_DECLINED;
        }

        if (l >= '0' && l <= '9') {
            c = (u_char) (c * 16 + l - '0');

        } else if (l >= 'a' && l <= 'f') {
            c = (u_char) (c * 16 + l - 'a' + 10);

        } else {
            return NGX_DECLINED;
        }

        *d++ = c;
        p += 2;
    }

    out->len = d - out->data;

    return NGX_OK;
}


/* in the pool thread ---------------------------------------------------- */


static ngx_int_t
ngx_http_woportal_list_run(ngx_http_woportal_call_t *call,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log)
{
    size_t                         size;
    uint64_t                       offset;
    ngx_int_t                      rc;
    ngx_uint_t                     i, n, s;
    ngx_array_t                    recs;
    ngx_http_woportal_list_t      *l;
    ngx_http_woportal_irec_t      *rec, **cands;
    ngx_http_woportal_paging_t     paging;
    ngx_http_woportal_shard_t     *shard;
    ngx_http_woportal_loc_conf_t  *wlcf;

    l = call->data;
    wlcf = l->wlcf;

    l->pool = ngx_create_pool(16384, log);
    if (l->pool == NULL) {
        return NGX_ERROR;
    }

    l->shards = ngx_palloc(l->pool, wlcf->index_shards
                                    * sizeof(ngx_http_woportal_shard_t));
    if (l->shards == NULL) {
        return NGX_ERROR;
    }

    /* 1: every shard of the index */

    if (ngx_http_woportal_list_index(l, mc, log) != NGX_OK) {
        return NGX_ERROR;
    }

    size = 0;

    for (s = 0; s < wlcf->index_shards; s++) {
        size += l->shards[s].len;
    }

    if (ngx_array_init(&recs, l->pool, size / 64 + 16,
                       sizeof(ngx_http_woportal_irec_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (s = 0; s < wlcf->index_shards; s++) {
        shard = &l->shards[s];

        if (!shard->found) {
            continue;
        }

        rc = ngx_http_woportal_index_parse(shard->data, shard->len, s, &recs,
                                           &size);
        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_DECLINED) {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "woportal: index shard \"%V\" is corrupt after "
                          "%uz of its %uz bytes; the rest is dropped",
                          &wlcf->index_keys[s], size, shard->len);
            shard->corrupt = 1;
        }
    }

    /* fold, filter, count */

    if (ngx_http_woportal_index_fold(l->pool, &recs) != NGX_OK) {
        return NGX_ERROR;
    }

    cands = ngx_palloc(l->pool, (recs.nelts + 1) * sizeof(void *));
    if (cands == NULL) {
        return NGX_ERROR;
    }

    n = 0;
    rec = recs.elts;

    for (i = 0; i < recs.nelts; i++) {
        if (rec[i].superseded
            || (rec[i].flags & NGX_HTTP_WOPORTAL_REC_DELETED))
        {
            continue;
        }

        l->shards[rec[i].shard].live += rec[i].len;

        if (ngx_http_woportal_list_match(&l->q, &rec[i])) {
            cands[n++] = &rec[i];
        }
    }

    if (ngx_http_woportal_list_compact(l, &recs, mc, log) != NGX_OK) {
        return NGX_ERROR;
    }

    /* 2: the page's entries */

    l->served = ngx_palloc(l->pool, l->q.per_page * sizeof(ngx_str_t));
    if (l->served == NULL
        || ngx_array_init(&l->mends, l->pool, 4,
                          sizeof(ngx_http_woportal_mend_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    offset = (l->q.page - 1) * l->q.per_page;

    if (offset < n) {
        rc = ngx_http_woportal_list_page(l, cands, n, (ngx_uint_t) offset,
                                         mc, log);
        if (rc != NGX_OK) {
            return rc;
        }

        ngx_http_woportal_list_mended(l, mc, log);
    }

    paging.page = l->q.page;
    paging.per_page = l->q.per_page;
    paging.total = n - l->ghosts;
    paging.total_pages = (paging.total + l->q.per_page - 1) / l->q.per_page;

    if (ngx_http_woportal_encode_list(l->pool, l->served, l->nserved,
                                      &paging, &l->json)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Reads every shard.  With persistence, idx:gen is read with them: it is
 * set once the index holds every entry of the database, and it vanishes
 * with the rest when memcached loses its data (a restart, flush_all).
 * Then the index is rebuilt from the database first, by one list of one
 * worker at a time (idx:lock); the others wait for it.
 */

static ngx_int_t
ngx_http_woportal_list_index(ngx_http_woportal_list_t *l,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log)
{
    ngx_uint_t                     n, attempt;
    ngx_http_woportal_loc_conf_t  *wlcf;

    wlcf = l->wlcf;
    n = wlcf->index_shards + (wlcf->db ? 1 : 0);

    for (attempt = 0; /* void */; attempt++) {
        ngx_memzero(l->shards,
                    wlcf->index_shards * sizeof(ngx_http_woportal_shard_t));
        l->gen = 0;

        if (ngx_http_woportal_store_mget(mc, wlcf->index_keys, n,
                                         ngx_http_woportal_list_shard, l,
                                         log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (wlcf->db == NULL || l->gen || attempt == 1) {
            return NGX_OK;
        }

        if (ngx_http_woportal_list_rebuild(l, mc, log) != NGX_OK) {
            return NGX_ERROR;
        }
    }
}


static ngx_int_t
ngx_http_woportal_list_rebuild(ngx_http_woportal_list_t *l,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log)
{
    ngx_int_t                      rc;
    ngx_str_t                      one, *gen, *lock;
    ngx_uint_t                     i, s, found;
    ngx_http_woportal_loc_conf_t  *wlcf;

    wlcf = l->wlcf;
    gen = &wlcf->index_keys[wlcf->index_shards];
    lock = &wlcf->index_keys[wlcf->index_shards + 1];

    ngx_str_set(&one, "1");

    /* the lock expires should its holder die */

    rc = ngx_http_woportal_store_put(mc, lock, &one, 0, 1, 60, log);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        /* another list rebuilds it: wait up to 10 s, then go on */

        for (i = 0; i < 200; i++) {
            ngx_msleep(50);

            found = 0;

            if (ngx_http_woportal_store_mget(mc, gen, 1,
                                             ngx_http_woportal_list_found,
                                             &found, log)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            if (found) {
                break;
            }
        }

        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "woportal: the list index of \"%V\" is not complete in "
                  "memcached: rebuilding it from the database",
                  &wlcf->key_prefix);

    l->rebuilt = ngx_pcalloc(l->pool, wlcf->index_shards
                                      * (sizeof(ngx_str_t) + sizeof(size_t)));
    l->scratch = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, log);

    if (l->rebuilt == NULL || l->scratch == NULL) {
        goto failed;
    }

    l->rebuilt_cap = (size_t *) (l->rebuilt + wlcf->index_shards);

    /* appended, never set: the records written meanwhile stay */

    if (ngx_http_woportal_db_scan(wlcf->db, &wlcf->key_prefix,
                                  ngx_http_woportal_list_rebuilt, l, log)
        != NGX_OK)
    {
        goto failed;
    }

    for (s = 0; s < wlcf->index_shards; s++) {
        if (l->rebuilt[s].len
            && ngx_http_woportal_store_append(mc, &wlcf->index_keys[s],
                                              &l->rebuilt[s], log)
               != NGX_OK)
        {
            goto failed;
        }
    }

    if (ngx_http_woportal_store_put(mc, gen, &one, 0, 0, 0, log) != NGX_OK) {
        goto failed;
    }

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "woportal: the list index of \"%V\" was rebuilt with "
                  "%ui entries", &wlcf->key_prefix, l->nrebuilt);

    rc = NGX_OK;

    goto done;

failed:

    rc = NGX_ERROR;

done:

    (void) ngx_http_woportal_store_put(mc, lock, NULL, 0, 0, 0, log);

    if (l->scratch) {
        ngx_destroy_pool(l->scratch);
        l->scratch = NULL;
    }

    for (s = 0; l->rebuilt && s < wlcf->index_shards; s++) {
        if (l->rebuilt[s].data) {
            ngx_free(l->rebuilt[s].data);
        }
    }

    l->rebuilt = NULL;

    return rc;
}


/* an entry of the database: its record goes to its shard's records */

static ngx_int_t
ngx_http_woportal_list_rebuilt(void *data, ngx_str_t *doc)
{
    ngx_http_woportal_list_t *l = data;

    u_char                     *p;
    size_t                      cap;
    ngx_str_t                   record, *buf;
    ngx_uint_t                  shard;
    ngx_http_woportal_entry_t   e;
    ngx_http_woportal_error_t   err;

    ngx_reset_pool(l->scratch);

    ngx_str_set(&err.message, "it cannot be indexed");

    if (ngx_http_woportal_entry_init(l->scratch, &e) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_woportal_decode(l->scratch, doc, NGX_HTTP_WOPORTAL_DOC_STORED,
                                 &e, &err)
        != NGX_OK
        || ngx_http_woportal_index_record(l->scratch, &e, e.id, &record)
           != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, l->pool->log, 0,
                      "woportal: an entry of the database is corrupt: %V",
                      &err.message);
        return NGX_OK;
    }

    shard = ngx_http_woportal_index_shard(e.id, l->wlcf->index_shards);
    buf = &l->rebuilt[shard];
    cap = l->rebuilt_cap[shard];

    if (buf->len + record.len > cap) {
        cap = ngx_max(2 * cap, buf->len + record.len + 4096);

        p = ngx_alloc(cap, l->pool->log);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(p, buf->data, buf->len);

        if (buf->data) {
            ngx_free(buf->data);
        }

        buf->data = p;
        l->rebuilt_cap[shard] = cap;
    }

    ngx_memcpy(buf->data + buf->len, record.data, record.len);
    buf->len += record.len;
    l->nrebuilt++;

    return NGX_OK;
}


static ngx_int_t
ngx_http_woportal_list_found(void *data, u_char *key, size_t key_len,
    u_char *value, size_t len, uint32_t flags, uint64_t cas)
{
    ngx_uint_t *found = data;

    *found = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_woportal_list_shard(void *data, u_char *key, size_t key_len,
    u_char *value, size_t len, uint32_t flags, uint64_t cas)
{
    ngx_http_woportal_list_t *l = data;

    u_char                        *p;
    ngx_int_t                      n;
    ngx_http_woportal_shard_t     *shard;
    ngx_http_woportal_loc_conf_t  *wlcf;

    wlcf = l->wlcf;

    if (key_len == wlcf->index_keys[wlcf->index_shards].len
        && ngx_strncmp(key, wlcf->index_keys[wlcf->index_shards].data,
                       key_len)
           == 0)
    {
        l->gen = 1;
        return NGX_OK;
    }

    /* "<prefix>idx:<n>" */

    for (p = key + key_len; p > key && p[-1] != ':'; p--) { /* void */ }

    n = ngx_atoi(p, key + key_len - p);

    if (n == NGX_ERROR
        || (ngx_uint_t) n >= wlcf->index_shards
        || wlcf->index_keys[n].len != key_len
        || ngx_strncmp(wlcf->index_keys[n].data, key, key_len) != 0)
    {
        return NGX_OK;
    }

    shard = &l->shards[n];

    shard->data = ngx_pnalloc(l->pool, len ? len : 1);
    if (shard->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(shard->data, value, len);
    shard->len = len;
    shard->cas = cas;
    shard->found = 1;

    return NGX_OK;
}


/* rewrites the shards mostly dead, or corrupt, with their live records */

static ngx_int_t
ngx_http_woportal_list_compact(ngx_http_woportal_list_t *l, ngx_array_t *recs,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log)
{
    ngx_int_t                   rc;
    ngx_str_t                   value;
    ngx_uint_t                  s;
    ngx_http_woportal_shard_t  *shard;

    for (s = 0; s < l->wlcf->index_shards; s++) {
        shard = &l->shards[s];

        if (!shard->found) {
            continue;
        }

        if (!shard->corrupt
            && (shard->len < 2 * shard->live
                || shard->len - shard->live < NGX_HTTP_WOPORTAL_COMPACT_SLACK))
        {
            continue;
        }

        if (ngx_http_woportal_index_live(l->pool, recs, s, shard->live,
                                         &value)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        rc = ngx_http_woportal_store_replace(mc, &l->wlcf->index_keys[s],
                                             &value, shard->cas, log);

        /* changed since it was read: the next list tries again */

        if (rc == NGX_OK) {
            ngx_log_error(NGX_LOG_INFO, log, 0,
                          "woportal: index shard \"%V\" compacted from %uz "
                          "to %uz bytes", &l->wlcf->index_keys[s],
                          shard->len, value.len);
        }
    }

    return NGX_OK;
}


static ngx_uint_t
ngx_http_woportal_list_match(ngx_http_woportal_query_t *q,
    ngx_http_woportal_irec_t *rec)
{
    u_char      *p, *id;
    ngx_str_t    ns, *want;
    ngx_uint_t   i, j;

    if (q->status != -1 && rec->status != q->status) {
        return 0;
    }

    if ((q->given & (1 << NGX_HTTP_WOPORTAL_Q_WORKORDER))
        && (rec->workorder.len != q->workorder.len
            || ngx_memcmp(rec->workorder.data, q->workorder.data,
                          q->workorder.len)
               != 0))
    {
        return 0;
    }

    if ((q->given & (1 << NGX_HTTP_WOPORTAL_Q_CLIENT))
        && (rec->client.len != q->client.len
            || ngx_memcmp(rec->client.data, q->client.data, q->client.len)
               != 0))
    {
        return 0;
    }

    if (q->given & (1 << NGX_HTTP_WOPORTAL_Q_ID)) {
        id = q->ids.elts;

        for (i = 0; i < q->ids.nelts; i++) {
            if (ngx_memcmp(rec->id, id + i * sizeof(rec->id), sizeof(rec->id))
                == 0)
            {
                break;
            }
        }

        if (i == q->ids.nelts) {
            return 0;
        }
    }

    if (q->given & (1 << NGX_HTTP_WOPORTAL_Q_NAMESPACE)) {
        want = q->namespaces.elts;
        p = rec->ns;

        for (i = 0; i < rec->nns; i++) {
            ngx_http_woportal_index_ns(&p, &ns);

            for (j = 0; j < q->namespaces.nelts; j++) {
                if (ns.len == want[j].len
                    && ngx_memcmp(ns.data, want[j].data, ns.len) == 0)
                {
                    return 1;
                }
            }
        }

        return 0;
    }

    return 1;
}


static ngx_int_t
ngx_http_woportal_list_cmp(ngx_http_woportal_query_t *q,
    ngx_http_woportal_irec_t *a, ngx_http_woportal_irec_t *b)
{
    ngx_int_t    c;
    ngx_str_t   *sa, *sb;
    ngx_uint_t   i, ea, eb;

    for (i = 0; i < q->nsort; i++) {

        switch (q->sort[i].field) {

        case NGX_HTTP_WOPORTAL_F_CREATED_AT:
            c = (a->created_at > b->created_at)
                - (a->created_at < b->created_at);
            break;

        case NGX_HTTP_WOPORTAL_F_UPDATED_AT:
            c = (a->updated_at > b->updated_at)
                - (a->updated_at < b->updated_at);
            break;

        case NGX_HTTP_WOPORTAL_F_EXPIRY_DATE:
            /* null first */
            ea = (a->flags & NGX_HTTP_WOPORTAL_REC_EXPIRY) != 0;
            eb = (b->flags & NGX_HTTP_WOPORTAL_REC_EXPIRY) != 0;

            if (ea != eb) {
                c = ea ? 1 : -1;

            } else {
                c = ea ? (a->expiry > b->expiry) - (a->expiry < b->expiry)
                       : 0;
            }

            break;

        case NGX_HTTP_WOPORTAL_F_STATUS:
            c = ngx_http_woportal_status_rank[a->status]
                - ngx_http_woportal_status_rank[b->status];
            break;

        case NGX_HTTP_WOPORTAL_F_ACCESS_LEVEL:
            c = ngx_http_woportal_access_rank[a->access_level]
                - ngx_http_woportal_access_rank[b->access_level];
            break;

        case NGX_HTTP_WOPORTAL_F_WORKORDER:
        case NGX_HTTP_WOPORTAL_F_CLIENT:
            if (q->sort[i].field == NGX_HTTP_WOPORTAL_F_WORKORDER) {
                sa = &a->workorder;
                sb = &b->workorder;

            } else {
                sa = &a->client;
                sb = &b->client;
            }

            c = ngx_memcmp(sa->data, sb->data, ngx_min(sa->len, sb->len));

            if (c == 0) {
                c = (sa->len > sb->len) - (sa->len < sb->len);
            }

            break;

        default: /* NGX_HTTP_WOPORTAL_F_ID */
            c = ngx_memcmp(a->id, b->id, sizeof(a->id));
            break;
        }

        if (c) {
            return q->sort[i].desc ? -c : c;
        }
    }

    return 0;
}


/*
 * Puts the k first of the n candidates, in order, in c[0..k): a max-heap
 * of the best k seen, then heapsort; O(n log k).
 */

static void
ngx_http_woportal_list_select(ngx_http_woportal_query_t *q,
    ngx_http_woportal_irec_t **c, ngx_uint_t n, ngx_uint_t k)
{
    ngx_uint_t                 i;
    ngx_http_woportal_irec_t  *t;

    for (i = k / 2; i-- > 0; /* void */) {
        ngx_http_woportal_list_sift(q, c, i, k);
    }

    for (i = k; i < n; i++) {
        if (ngx_http_woportal_list_cmp(q, c[i], c[0]) < 0) {
            t = c[0];
            c[0] = c[i];
            c[i] = t;
            ngx_http_woportal_list_sift(q, c, 0, k);
        }
    }

    for (i = k; i-- > 1; /* void */) {
        t = c[0];
        c[0] = c[i];
        c[i] = t;
        ngx_http_woportal_list_sift(q, c, 0, i);
    }
}


static void
ngx_http_woportal_list_sift(ngx_http_woportal_query_t *q,
    ngx_http_woportal_irec_t **c, ngx_uint_t i, ngx_uint_t n)
{
    ngx_uint_t                 m;
    ngx_http_woportal_irec_t  *t;

    for ( ;; ) {
        m = 2 * i + 1;

        if (m >= n) {
            return;
        }

        if (m + 1 < n && ngx_http_woportal_list_cmp(q, c[m + 1], c[m]) > 0) {
            m++;
        }

        if (ngx_http_woportal_list_cmp(q, c[m], c[i]) <= 0) {
            return;
        }

        t = c[m];
        c[m] = c[i];
        c[i] = t;
        i = m;
    }
}


/*
 * Fetches the entries of the candidates from c[pos] on, in order, until
 * the page is full: ghosts are left out and the next candidates stand in
 * for them.  The candidates are put in order as far as they are needed.
 */

static ngx_int_t
ngx_http_woportal_list_page(ngx_http_woportal_list_t *l,
    ngx_http_woportal_irec_t **c, ngx_uint_t n, ngx_uint_t pos,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log)
{
    u_char                    *p;
    ngx_int_t                  rc;
    ngx_str_t                 *keys, *prefix;
    ngx_uint_t                 i, k, m, round;
    ngx_http_woportal_item_t  *it;

    prefix = &l->wlcf->key_prefix;
    k = 0;     /* c[0..k) are in order */

    for (round = 0;
         round < NGX_HTTP_WOPORTAL_FETCH_ROUNDS
         && l->nserved < l->q.per_page && pos < n;
         round++)
    {
        m = ngx_min((l->q.per_page - l->nserved) << round,
                    NGX_HTTP_WOPORTAL_FETCH_MAX);
        m = ngx_min(m, n - pos);

        if (pos + m > k) {
            /* all of c[k..n) follow c[0..k): select on from there */
            ngx_http_woportal_list_select(&l->q, c + k, n - k, pos + m - k);
            k = pos + m;
        }

        l->items = ngx_pcalloc(l->pool, m * sizeof(ngx_http_woportal_item_t));
        keys = ngx_palloc(l->pool, m * sizeof(ngx_str_t));

        if (l->items == NULL || keys == NULL) {
            return NGX_ERROR;
        }

        l->nitems = m;

        for (i = 0; i < m; i++) {
            it = &l->items[i];
            it->rec = c[pos + i];

            p = ngx_pnalloc(l->pool, prefix->len + NGX_HTTP_WOPORTAL_ID_LEN);
            if (p == NULL) {
                return NGX_ERROR;
            }

            it->key.data = p;
            p = ngx_cpymem(p, prefix->data, prefix->len);
            p = ngx_hex_dump(p, it->rec->id, sizeof(it->rec->id));
            it->key.len = p - it->key.data;

            keys[i] = it->key;
        }

        if (ngx_http_woportal_store_mget(mc, keys, m,
                                         ngx_http_woportal_list_item, l, log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        for (i = 0; i < m; i++) {
            rc = ngx_http_woportal_list_entry(l, &l->items[i], mc, log);
            if (rc != NGX_OK) {
                return rc;
            }
        }

        pos += m;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_woportal_list_item(void *data, u_char *key, size_t key_len,
    u_char *value, size_t len, uint32_t flags, uint64_t cas)
{
    ngx_http_woportal_list_t *l = data;

    ngx_uint_t                 i;
    ngx_http_woportal_item_t  *it;

    for (i = 0; i < l->nitems; i++) {
        it = &l->items[i];

        if (it->found
            || it->key.len != key_len
            || ngx_strncmp(it->key.data, key, key_len) != 0)
        {
            continue;
        }

        it->found = 1;

        if (flags == NGX_HTTP_WOPORTAL_FORMAT_GONE) {
            it->gone = 1;
            return NGX_OK;
        }

        it->value.data = ngx_pnalloc(l->pool, len ? len : 1);
        if (it->value.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(it->value.data, value, len);
        it->value.len = len;

        return NGX_OK;
    }

    return NGX_OK;
}


/*
 * One fetched entry: served while the page has room, or left out as a
 * ghost.  A value that is not this entry fails the list (NGX_ABORT):
 * garbage is never served.
 */

static ngx_int_t
ngx_http_woportal_list_entry(ngx_http_woportal_list_t *l,
    ngx_http_woportal_item_t *it, ngx_http_woportal_mc_t *mc, ngx_log_t *log)
{
    u_char                      id[NGX_HTTP_WOPORTAL_ID_LEN];
    ngx_int_t                   rc;
    ngx_str_t                   doc;
    ngx_http_woportal_entry_t   e;
    ngx_http_woportal_error_t   err;

    (void) ngx_hex_dump(id, it->rec->id, sizeof(it->rec->id));

    if (!it->found && l->wlcf->db) {
        /* evicted: read through to the database, and put it back */

        rc = ngx_http_woportal_db_load(l->wlcf->db, &l->wlcf->key_prefix, id,
                                       &doc, log);
        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_OK) {
            it->value.data = ngx_pnalloc(l->pool, doc.len ? doc.len : 1);

            if (it->value.data == NULL) {
                ngx_free(doc.data);
                return NGX_ERROR;
            }

            ngx_memcpy(it->value.data, doc.data, doc.len);
            it->value.len = doc.len;
            it->found = 1;
            ngx_free(doc.data);

            (void) ngx_http_woportal_store_put(mc, &it->key, &it->value,
                                               NGX_HTTP_WOPORTAL_FORMAT_JSON,
                                               1, 0, log);
        }
    }

    if (!it->found || it->gone) {
        /* evicted, or being deleted: its deletion goes to the index */
        l->ghosts++;
        return ngx_http_woportal_list_mend(l, NULL, id);
    }

    if (l->nserved == l->q.per_page) {
        /* fetched to stand in for ghosts that were not */
        return NGX_OK;
    }

    if (ngx_http_woportal_entry_init(l->pool, &e) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_http_woportal_decode(l->pool, &it->value,
                                  NGX_HTTP_WOPORTAL_DOC_STORED, &e, &err);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK
        || ngx_strncmp(e.id, id, NGX_HTTP_WOPORTAL_ID_LEN) != 0)
    {
        ngx_log_error(NGX_LOG_ERR, l->pool->log, 0,
                      "woportal: stored entry \"%V\" is corrupt", &it->key);
        return NGX_ABORT;
    }

    l->served[l->nserved++] = it->value;

    if (e.version > it->rec->version) {
        /* its record was lost: the entry is listed by an older one */
        return ngx_http_woportal_list_mend(l, &e, id);
    }

    return NGX_OK;
}


/* a record to append, to mend the index */

static ngx_int_t
ngx_http_woportal_list_mend(ngx_http_woportal_list_t *l,
    ngx_http_woportal_entry_t *e, u_char *id)
{
    ngx_http_woportal_mend_t  *mend;

    mend = ngx_array_push(&l->mends);
    if (mend == NULL) {
        return NGX_ERROR;
    }

    mend->shard = ngx_http_woportal_index_shard(id, l->wlcf->index_shards);
    mend->done = 0;

    if (ngx_http_woportal_index_record(l->pool, e, id, &mend->record)
        != NGX_OK)
    {
        /* an entry the index cannot hold: left as it is */
        l->mends.nelts--;
    }

    return NGX_OK;
}


/* the mending records, one append a shard; a failure only delays them */

static void
ngx_http_woportal_list_mended(ngx_http_woportal_list_t *l,
    ngx_http_woportal_mc_t *mc, ngx_log_t *log)
{
    u_char                    *p;
    ngx_str_t                  value;
    ngx_uint_t                 i, j;
    ngx_http_woportal_mend_t  *mend;

    mend = l->mends.elts;

    for (i = 0; i < l->mends.nelts; i++) {
        if (mend[i].done) {
            continue;
        }

        value.len = 0;

        for (j = i; j < l->mends.nelts; j++) {
            if (mend[j].shard == mend[i].shard) {
                value.len += mend[j].record.len;
            }
        }

        value.data = ngx_pnalloc(l->pool, value.len);
        if (value.data == NULL) {
            return;
        }

        p = value.data;

        for (j = i; j < l->mends.nelts; j++) {
            if (mend[j].shard == mend[i].shard) {
                p = ngx_cpymem(p, mend[j].record.data, mend[j].record.len);
                mend[j].done = 1;
            }
        }

        (void) ngx_http_woportal_store_append(mc,
                                        &l->wlcf->index_keys[mend[i].shard],
                                        &value, log);
    }
}
