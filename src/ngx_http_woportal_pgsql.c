
/*
 * The PostgreSQL backend of persistence (persist.c): woportal_persist
 * postgresql:<libpq conninfo>, for several nginx nodes sharing one store.
 * Each pool thread owns its connection (libpq blocks: pool threads only),
 * with its statements prepared on first use (preparing a write locks the
 * table, and a read must not wait for that) and lock_timeout set from
 * woportal_persist_timeout; the schema of sql/postgresql is applied under
 * an advisory lock when missing.  A connection that failed is closed and
 * made again on the next call.  Every value is a bound parameter: no SQL
 * text is ever built from input.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <libpq-fe.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_pgsql_schema.h"


/* an advisory lock key: "wopo" */
#define NGX_HTTP_WOPORTAL_PG_LOCK  "2003792751"


enum {
    NGX_HTTP_WOPORTAL_PG_DELETE = 0,
    NGX_HTTP_WOPORTAL_PG_TOMBSTONE,
    NGX_HTTP_WOPORTAL_PG_NS_DELETE,
    NGX_HTTP_WOPORTAL_PG_LOAD,
    NGX_HTTP_WOPORTAL_PG_SCAN,
    NGX_HTTP_WOPORTAL_PG_DELETE_IF,
    NGX_HTTP_WOPORTAL_PG_PUT_NEW,
    NGX_HTTP_WOPORTAL_PG_PUT_CHANGE,
    NGX_HTTP_WOPORTAL_PG_DELETE_CHECKED,
    NGX_HTTP_WOPORTAL_PG_COUNT
};


static const char  *ngx_http_woportal_pg_names[] = {
    "wp_delete", "wp_tombstone", "wp_ns_delete", "wp_load", "wp_scan",
    "wp_delete_if", "wp_put_new", "wp_put_change", "wp_delete_checked"
};


static const char  *ngx_http_woportal_pg_sql[] = {

    /* a deletion keeps a tombstone: see sqlite.c */
    "UPDATE woportal_entries SET version = 9223372036854775807,"
    " workorder = '', client = '', status = '', access_level = '',"
    " expiry_date = NULL, doc = '' WHERE prefix = $1 AND id = $2"
    " AND doc <> ''",

    /*
     * the tombstone of an entry the database has no live row of: a row
     * that a queued create inserts at the same moment (PostgreSQL lets
     * the statement wait for it) is turned into the tombstone too
     */
    "INSERT INTO woportal_entries (prefix, id, version, workorder, client,"
    " status, access_level, expiry_date, created_at, updated_at, doc)"
    " VALUES ($1, $2, 9223372036854775807, '', '', '', '', NULL, 0, 0, '')"
    " ON CONFLICT (prefix, id) DO UPDATE SET version = excluded.version,"
    " workorder = '', client = '', status = '', access_level = '',"
    " expiry_date = NULL, doc = ''",

    "DELETE FROM woportal_entry_namespaces WHERE prefix = $1 AND id = $2",

    "SELECT doc FROM woportal_entries WHERE prefix = $1 AND id = $2"
    " AND doc <> ''",

    "SELECT doc FROM woportal_entries WHERE prefix = $1 AND doc <> ''",

    /* a conditional deletion: only of the version the request saw */
    "UPDATE woportal_entries SET version = 9223372036854775807,"
    " workorder = '', client = '', status = '', access_level = '',"
    " expiry_date = NULL, doc = '' WHERE prefix = $1 AND id = $2"
    " AND doc <> '' AND version <= $3",

    /*
     * The writes of a group commit, one statement each, so that a
     * transaction's statements go in one pipeline (pgsql_commit()): a
     * write whose row is refused changes no namespace ($12: text[])
     */

    "WITH up AS (INSERT INTO woportal_entries (prefix, id, version,"
    " workorder, client, status, access_level, expiry_date, created_at,"
    " updated_at, doc)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    " ON CONFLICT (prefix, id) DO NOTHING RETURNING 1),"
    " ins AS (INSERT INTO woportal_entry_namespaces (prefix, namespace, id)"
    " SELECT $1, n, $2 FROM unnest($12::text[]) AS n"
    " WHERE EXISTS (SELECT 1 FROM up) ON CONFLICT DO NOTHING)"
    " SELECT count(*) FROM up",

    "WITH up AS (INSERT INTO woportal_entries (prefix, id, version,"
    " workorder, client, status, access_level, expiry_date, created_at,"
    " updated_at, doc)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    " ON CONFLICT (prefix, id) DO UPDATE SET version = excluded.version,"
    " workorder = excluded.workorder, client = excluded.client,"
    " status = excluded.status, access_level = excluded.access_level,"
    " expiry_date = excluded.expiry_date, created_at = excluded.created_at,"
    " updated_at = excluded.updated_at, doc = excluded.doc"
    " WHERE woportal_entries.version < excluded.version RETURNING 1),"
    " del AS (DELETE FROM woportal_entry_namespaces"
    " WHERE prefix = $1 AND id = $2 AND namespace <> ALL ($12::text[])"
    " AND EXISTS (SELECT 1 FROM up)),"
    " ins AS (INSERT INTO woportal_entry_namespaces (prefix, namespace, id)"
    " SELECT $1, n, $2 FROM unnest($12::text[]) AS n"
    " WHERE EXISTS (SELECT 1 FROM up) ON CONFLICT DO NOTHING)"
    " SELECT count(*) FROM up",

    /*
     * 2 when deleted, 1 when a newer version is there, 0 when there is no
     * entry (its tombstone goes in all the same: see sqlite_delete())
     */
    "WITH d AS (UPDATE woportal_entries SET version = 9223372036854775807,"
    " workorder = '', client = '', status = '', access_level = '',"
    " expiry_date = NULL, doc = '' WHERE prefix = $1 AND id = $2"
    " AND doc <> '' AND version <= $3 RETURNING 1),"
    " live AS (SELECT 1 FROM woportal_entries WHERE prefix = $1 AND id = $2"
    " AND doc <> ''),"
    " t AS (INSERT INTO woportal_entries (prefix, id, version, workorder,"
    " client, status, access_level, expiry_date, created_at, updated_at,"
    " doc) SELECT $1, $2, 9223372036854775807, '', '', '', '', NULL, 0, 0,"
    " '' WHERE NOT EXISTS (SELECT 1 FROM live)"
    " ON CONFLICT (prefix, id) DO UPDATE SET version = excluded.version,"
    " workorder = '', client = '', status = '', access_level = '',"
    " expiry_date = NULL, doc = ''),"
    " ns AS (DELETE FROM woportal_entry_namespaces"
    " WHERE prefix = $1 AND id = $2"
    " AND (EXISTS (SELECT 1 FROM d) OR NOT EXISTS (SELECT 1 FROM live)))"
    " SELECT (SELECT count(*) FROM d) + (SELECT count(*) FROM live)"
};


/* a pool thread's connection */
typedef struct {
    PGconn                      *pg;
    ngx_uint_t                   prepared;  /* bits of the statements */
} ngx_http_woportal_pgsql_t;


static ngx_int_t ngx_http_woportal_pgsql_begin(ngx_http_woportal_db_t *db,
    void **slot, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_pgsql_end(ngx_http_woportal_db_t *db,
    void **slot, ngx_uint_t commit, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_pgsql_put(ngx_http_woportal_db_t *db,
    void **slot, ngx_http_woportal_persist_t *p, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_pgsql_delete(ngx_http_woportal_db_t *db,
    void **slot, ngx_http_woportal_persist_t *p, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_pgsql_load(ngx_http_woportal_db_t *db,
    void **slot, ngx_str_t *prefix, u_char *id, ngx_str_t *doc,
    ngx_log_t *log);
static ngx_int_t ngx_http_woportal_pgsql_scan(ngx_http_woportal_db_t *db,
    void **slot, ngx_str_t *prefix, ngx_http_woportal_scan_pt handler,
    void *data, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_pgsql_commit(ngx_http_woportal_db_t *db,
    void **slot, ngx_http_woportal_persist_t **ps, ngx_int_t *rcs,
    ngx_uint_t n, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_pgsql_send(PGconn *pg, ngx_uint_t stmt,
    int n, const char **values, const int *lengths);
static ngx_int_t ngx_http_woportal_pgsql_next(ngx_http_woportal_db_t *db,
    PGconn *pg, ngx_uint_t *found, ngx_log_t *log);
static char *ngx_http_woportal_pgsql_params(ngx_http_woportal_persist_t *p,
    const char **values, int *lengths, u_char numbers[][NGX_INT64_LEN + 1],
    char *buf);
static void ngx_http_woportal_pgsql_free(void *conn);
static void ngx_http_woportal_pgsql_key(const char **values, int *lengths,
    ngx_str_t *prefix, u_char *id);
static ngx_http_woportal_pgsql_t *ngx_http_woportal_pgsql_conn(
    ngx_http_woportal_db_t *db, void **slot, ngx_uint_t stmt, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_pgsql_setup(ngx_http_woportal_db_t *db,
    PGconn *pg, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_pgsql_exec(ngx_http_woportal_db_t *db,
    void **slot, const char *sql, ngx_log_t *log);
static PGresult *ngx_http_woportal_pgsql_run(ngx_http_woportal_db_t *db,
    void **slot, ngx_uint_t stmt, int n, const char **values,
    const int *lengths, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_pgsql_failed(ngx_http_woportal_db_t *db,
    void **slot, PGresult *res, ngx_log_t *log);


ngx_http_woportal_backend_t  ngx_http_woportal_pgsql_backend = {
    ngx_string("postgresql"),
    ngx_http_woportal_pgsql_begin,
    ngx_http_woportal_pgsql_end,
    ngx_http_woportal_pgsql_put,
    ngx_http_woportal_pgsql_delete,
    ngx_http_woportal_pgsql_load,
    ngx_http_woportal_pgsql_scan,
    ngx_http_woportal_pgsql_commit,
    ngx_http_woportal_pgsql_free
};


static ngx_int_t
ngx_http_woportal_pgsql_begin(ngx_http_woportal_db_t *db, void **slot,
    ngx_log_t *log)
{
    return ngx_http_woportal_pgsql_exec(db, slot, "BEGIN", log);
}


static ngx_int_t
ngx_http_woportal_pgsql_end(ngx_http_woportal_db_t *db, void **slot,
    ngx_uint_t commit, ngx_log_t *log)
{
    ngx_http_woportal_pgsql_t  *c;

    if (commit
        && ngx_http_woportal_pgsql_exec(db, slot, "COMMIT", log) == NGX_OK)
    {
        return NGX_OK;
    }

    c = *slot;

    if (c && c->pg && PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
        (void) ngx_http_woportal_pgsql_exec(db, slot, "ROLLBACK", log);
    }

    return commit ? NGX_ERROR : NGX_OK;
}


static ngx_int_t
ngx_http_woportal_pgsql_put(ngx_http_woportal_db_t *db, void **slot,
    ngx_http_woportal_persist_t *p, ngx_log_t *log)
{
    int          lengths[12];
    char        *nsbuf;
    u_char       numbers[4][NGX_INT64_LEN + 1];
    PGresult    *res;
    ngx_int_t    rc;
    const char  *values[12];

    ngx_http_woportal_pgsql_key(values, lengths, &p->prefix, p->id);

    nsbuf = ngx_http_woportal_pgsql_params(p, values, lengths, numbers, NULL);
    if (nsbuf == NULL) {
        return NGX_ERROR;
    }

    /* the row and its namespaces, in one statement: see pgsql_commit() */

    res = ngx_http_woportal_pgsql_run(db, slot,
                                      p->create
                                      ? NGX_HTTP_WOPORTAL_PG_PUT_NEW
                                      : NGX_HTTP_WOPORTAL_PG_PUT_CHANGE,
                                      12, values, lengths, log);
    free(nsbuf);

    if (res == NULL) {
        return NGX_ERROR;
    }

    rc = (PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] != '0')
         ? NGX_OK : NGX_BUSY;

    PQclear(res);

    return rc;
}


static ngx_int_t
ngx_http_woportal_pgsql_delete(ngx_http_woportal_db_t *db, void **slot,
    ngx_http_woportal_persist_t *p, ngx_log_t *log)
{
    int          lengths[3];
    u_char       expected[NGX_INT64_LEN + 1];
    PGresult    *res;
    ngx_int_t    found, checked;
    const char  *values[3];

    ngx_http_woportal_pgsql_key(values, lengths, &p->prefix, p->id);

    checked = 0;

    if (p->expected) {
        /* only the version the request saw: see sqlite.c */

        *ngx_sprintf(expected, "%uL", p->expected) = '\0';
        values[2] = (char *) expected;
        lengths[2] = 0;

        res = ngx_http_woportal_pgsql_run(db, slot,
                                          NGX_HTTP_WOPORTAL_PG_DELETE_IF, 3,
                                          values, lengths, log);
        if (res == NULL) {
            return NGX_ERROR;
        }

        found = (PQcmdTuples(res)[0] != '0');

        PQclear(res);

        if (!found) {
            /* a newer version, or no entry: see sqlite_delete() */

            res = ngx_http_woportal_pgsql_run(db, slot,
                                              NGX_HTTP_WOPORTAL_PG_LOAD, 2,
                                              values, lengths, log);
            if (res == NULL) {
                return NGX_ERROR;
            }

            found = (PQntuples(res) != 0);

            PQclear(res);

            if (found) {
                return NGX_BUSY;
            }
        }

        checked = found;
    }

    res = ngx_http_woportal_pgsql_run(db, slot, NGX_HTTP_WOPORTAL_PG_DELETE,
                                      2, values, lengths, log);
    if (res == NULL) {
        return NGX_ERROR;
    }

    found = checked || (PQcmdTuples(res)[0] != '0');

    PQclear(res);

    res = ngx_http_woportal_pgsql_run(db, slot,
                                      NGX_HTTP_WOPORTAL_PG_TOMBSTONE, 2,
                                      values, lengths, log);
    if (res == NULL) {
        return NGX_ERROR;
    }

    PQclear(res);

    res = ngx_http_woportal_pgsql_run(db, slot,
                                      NGX_HTTP_WOPORTAL_PG_NS_DELETE, 2,
                                      values, lengths, log);
    if (res == NULL) {
        return NGX_ERROR;
    }

    PQclear(res);

    return found ? NGX_OK : NGX_DECLINED;
}


static ngx_int_t
ngx_http_woportal_pgsql_load(ngx_http_woportal_db_t *db, void **slot,
    ngx_str_t *prefix, u_char *id, ngx_str_t *doc, ngx_log_t *log)
{
    int          lengths[2];
    size_t       len;
    PGresult    *res;
    const char  *values[2];

    ngx_http_woportal_pgsql_key(values, lengths, prefix, id);

    res = ngx_http_woportal_pgsql_run(db, slot, NGX_HTTP_WOPORTAL_PG_LOAD, 2,
                                      values, lengths, log);
    if (res == NULL) {
        return NGX_ERROR;
    }

    if (PQntuples(res) == 0) {
        PQclear(res);
        return NGX_DECLINED;
    }

    len = PQgetlength(res, 0, 0);

    doc->data = malloc(len + 1);
    if (doc->data == NULL) {
        PQclear(res);
        return NGX_ERROR;
    }

    ngx_memcpy(doc->data, PQgetvalue(res, 0, 0), len);
    doc->len = len;

    PQclear(res);

    return NGX_OK;
}


/*
 * A group commit in one round trip (libpq's pipeline mode): BEGIN, each
 * write, COMMIT, then the results.  rcs[i]: NGX_OK, NGX_BUSY (the
 * version is refused: see pgsql_put()), NGX_DECLINED (a plain deletion
 * of no entry).  NGX_OK, or NGX_ERROR when anything failed: then nothing
 * was committed.
 */

static ngx_int_t
ngx_http_woportal_pgsql_commit(ngx_http_woportal_db_t *db, void **slot,
    ngx_http_woportal_persist_t **ps, ngx_int_t *rcs, ngx_uint_t n,
    ngx_log_t *log)
{
    int                         lengths[12];
    char                       *nsbuf;
    u_char                      numbers[4][NGX_INT64_LEN + 1];
    PGconn                     *pg;
    PGresult                   *res;
    ngx_int_t                   rc;
    ngx_uint_t                  i, k, found, stmt;
    const char                 *values[12];
    ngx_http_woportal_pgsql_t  *c;
    ngx_http_woportal_persist_t  *p;

    static ngx_uint_t  needed[] = {
        NGX_HTTP_WOPORTAL_PG_PUT_NEW, NGX_HTTP_WOPORTAL_PG_PUT_CHANGE,
        NGX_HTTP_WOPORTAL_PG_DELETE_CHECKED, NGX_HTTP_WOPORTAL_PG_DELETE,
        NGX_HTTP_WOPORTAL_PG_TOMBSTONE, NGX_HTTP_WOPORTAL_PG_NS_DELETE
    };

    /* prepared before: a pipeline has no room for a failed prepare */

    c = NULL;

    for (k = 0; k < sizeof(needed) / sizeof(ngx_uint_t); k++) {
        c = ngx_http_woportal_pgsql_conn(db, slot, needed[k], log);
        if (c == NULL) {
            return NGX_ERROR;
        }
    }

    pg = c->pg;

    nsbuf = NULL;

    if (PQenterPipelineMode(pg) != 1) {
        return ngx_http_woportal_pgsql_failed(db, slot, NULL, log);
    }

    rc = NGX_OK;

    if (PQsendQueryParams(pg, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) != 1) {
        rc = NGX_ERROR;
        goto sync;
    }

    for (i = 0; i < n; i++) {
        p = ps[i];

        ngx_http_woportal_pgsql_key(values, lengths, &p->prefix, p->id);

        if (p->entry) {
            nsbuf = ngx_http_woportal_pgsql_params(p, values, lengths,
                                                   numbers, nsbuf);
            if (nsbuf == NULL) {
                rc = NGX_ERROR;
                goto sync;
            }

            stmt = p->create ? NGX_HTTP_WOPORTAL_PG_PUT_NEW
                             : NGX_HTTP_WOPORTAL_PG_PUT_CHANGE;

            if (ngx_http_woportal_pgsql_send(pg, stmt, 12, values, lengths)
                != NGX_OK)
            {
                rc = NGX_ERROR;
                goto sync;
            }

            continue;
        }

        if (p->expected) {
            *ngx_sprintf(numbers[0], "%uL", p->expected) = '\0';
            values[2] = (char *) numbers[0];
            lengths[2] = 0;

            if (ngx_http_woportal_pgsql_send(pg,
                                         NGX_HTTP_WOPORTAL_PG_DELETE_CHECKED,
                                         3, values, lengths)
                != NGX_OK)
            {
                rc = NGX_ERROR;
                goto sync;
            }

            continue;
        }

        /* a plain deletion: pgsql_delete()'s three statements */

        for (stmt = NGX_HTTP_WOPORTAL_PG_DELETE;
             stmt <= NGX_HTTP_WOPORTAL_PG_NS_DELETE;
             stmt++)
        {
            if (ngx_http_woportal_pgsql_send(pg, stmt, 2, values, lengths)
                != NGX_OK)
            {
                rc = NGX_ERROR;
                goto sync;
            }
        }
    }

    if (PQsendQueryParams(pg, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) != 1) {
        rc = NGX_ERROR;
    }

sync:

    free(nsbuf);

    if (PQpipelineSync(pg) != 1) {
        (void) ngx_http_woportal_pgsql_failed(db, slot, NULL, log);
        return NGX_ERROR;
    }

    /* the results, in order: BEGIN, each write's, COMMIT */

    if (rc == NGX_OK) {
        rc = ngx_http_woportal_pgsql_next(db, pg, NULL, log);

        for (i = 0; i < n && rc == NGX_OK; i++) {
            p = ps[i];

            if (p->entry) {
                rc = ngx_http_woportal_pgsql_next(db, pg, &found, log);
                rcs[i] = found ? NGX_OK : NGX_BUSY;
                continue;
            }

            if (p->expected) {
                rc = ngx_http_woportal_pgsql_next(db, pg, &found, log);
                rcs[i] = (found == 2) ? NGX_OK
                                      : (found == 1) ? NGX_BUSY : NGX_DECLINED;
                continue;
            }

            rc = ngx_http_woportal_pgsql_next(db, pg, &found, log);
            rcs[i] = found ? NGX_OK : NGX_DECLINED;

            for (k = 0; k < 2 && rc == NGX_OK; k++) {
                rc = ngx_http_woportal_pgsql_next(db, pg, NULL, log);
            }
        }

        if (rc == NGX_OK) {
            rc = ngx_http_woportal_pgsql_next(db, pg, NULL, log);
        }
    }

    /* to the sync: what a failed statement aborted after it */

    for (k = 0; k < 2; /* void */) {
        res = PQgetResult(pg);

        if (res == NULL) {
            k++;
            continue;
        }

        k = 0;

        if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            break;
        }

        PQclear(res);
    }

    if (PQexitPipelineMode(pg) != 1
        || PQstatus(pg) != CONNECTION_OK)
    {
        (void) ngx_http_woportal_pgsql_failed(db, slot, NULL, log);
        return NGX_ERROR;
    }

    if (rc != NGX_OK && PQtransactionStatus(pg) != PQTRANS_IDLE) {
        (void) ngx_http_woportal_pgsql_exec(db, slot, "ROLLBACK", log);
    }

    return rc;
}


/* sends a prepared statement into the pipeline */

static ngx_int_t
ngx_http_woportal_pgsql_send(PGconn *pg, ngx_uint_t stmt, int n,
    const char **values, const int *lengths)
{
    int  i, formats[12];

    for (i = 0; i < n; i++) {
        formats[i] = (lengths[i] != 0);
    }

    return PQsendQueryPrepared(pg, ngx_http_woportal_pg_names[stmt], n,
                               values, lengths, formats, 0)
           == 1 ? NGX_OK : NGX_ERROR;
}


/*
 * The next statement's result in the pipeline, and the end of its
 * results; *found: the count it selected, or whether it changed rows
 */

static ngx_int_t
ngx_http_woportal_pgsql_next(ngx_http_woportal_db_t *db, PGconn *pg,
    ngx_uint_t *found, ngx_log_t *log)
{
    char            *v;
    PGresult        *res, *end;
    ngx_int_t        rc;
    ExecStatusType   status;

    res = PQgetResult(pg);

    if (res == NULL) {
        return NGX_ERROR;
    }

    status = PQresultStatus(res);
    rc = NGX_OK;

    if (status == PGRES_TUPLES_OK) {
        v = (PQntuples(res) == 1) ? PQgetvalue(res, 0, 0) : "0";

        if (found) {
            /* the count a statement selected */
            *found = ngx_atoi((u_char *) v, ngx_strlen(v));

            if (*found == (ngx_uint_t) NGX_ERROR) {
                *found = 0;
            }
        }

    } else if (status == PGRES_COMMAND_OK) {
        if (found) {
            *found = (PQcmdTuples(res)[0] != '0');
        }

    } else {
        if (status != PGRES_PIPELINE_ABORTED) {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "woportal: database \"%V\" failed: %s",
                          &db->config, PQresultErrorMessage(res));
        }

        rc = NGX_ERROR;
    }

    PQclear(res);

    if (status == PGRES_PIPELINE_SYNC) {
        return NGX_ERROR;
    }

    /* the NULL that ends a statement's results */

    end = PQgetResult(pg);

    if (end) {
        PQclear(end);
        return NGX_ERROR;
    }

    return rc;
}


/*
 * The parameters of a write of an entry: $3-$11 after the key, and $12
 * its namespaces as a text[] literal, in buf (realloc()ed; NULL on
 * failure)
 */

static char *
ngx_http_woportal_pgsql_params(ngx_http_woportal_persist_t *p,
    const char **values, int *lengths, u_char numbers[][NGX_INT64_LEN + 1],
    char *buf)
{
    u_char                     *q;
    size_t                      size;
    ngx_str_t                  *ns, *st, *al;
    ngx_uint_t                  i, k;
    ngx_http_woportal_entry_t  *e;

    e = p->entry;
    st = &ngx_http_woportal_statuses[e->status];
    al = &ngx_http_woportal_access_levels[e->access_level];

    *ngx_sprintf(numbers[0], "%uL", e->version) = '\0';
    *ngx_sprintf(numbers[1], "%L", e->expiry_date) = '\0';
    *ngx_sprintf(numbers[2], "%L", e->created_at) = '\0';
    *ngx_sprintf(numbers[3], "%L", e->updated_at) = '\0';

    values[2] = (char *) numbers[0];
    lengths[2] = 0;
    values[3] = (char *) e->workorder.data;
    lengths[3] = e->workorder.len;
    values[4] = (char *) e->client.data;
    lengths[4] = e->client.len;
    values[5] = (char *) st->data;
    lengths[5] = st->len;
    values[6] = (char *) al->data;
    lengths[6] = al->len;
    values[7] = e->has_expiry ? (char *) numbers[1] : NULL;
    lengths[7] = 0;
    values[8] = (char *) numbers[2];
    lengths[8] = 0;
    values[9] = (char *) numbers[3];
    lengths[9] = 0;
    values[10] = (char *) p->doc.data;
    lengths[10] = p->doc.len;

    /* {"a","b\"c"}: each quoted, '"' and '\\' escaped; text, so NUL-ended */

    ns = e->namespaces.elts;
    size = 3;

    for (i = 0; i < e->namespaces.nelts; i++) {
        size += 2 * ns[i].len + 3;
    }

    q = realloc(buf, size);
    if (q == NULL) {
        free(buf);
        return NULL;
    }

    buf = (char *) q;
    *q++ = '{';

    for (i = 0; i < e->namespaces.nelts; i++) {
        if (i) {
            *q++ = ',';
        }

        *q++ = '"';

        for (k = 0; k < ns[i].len; k++) {
            if (ns[i].data[k] == '"' || ns[i].data[k] == '\\') {
                *q++ = '\\';
            }

            *q++ = ns[i].data[k];
        }

        *q++ = '"';
    }

    *q++ = '}';
    *q = '\0';

    values[11] = buf;
    lengths[11] = 0;

    return buf;
}


/* row by row (libpq's single-row mode): a million rows are never held */

static ngx_int_t
ngx_http_woportal_pgsql_scan(ngx_http_woportal_db_t *db, void **slot,
    ngx_str_t *prefix, ngx_http_woportal_scan_pt handler, void *data,
    ngx_log_t *log)
{
    int                          length, format;
    PGconn                      *pg;
    PGresult                    *res;
    ngx_int_t                    rc;
    ngx_str_t                    doc;
    const char                  *value;
    ngx_http_woportal_pgsql_t   *c;

    c = ngx_http_woportal_pgsql_conn(db, slot, NGX_HTTP_WOPORTAL_PG_SCAN,
                                     log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    pg = c->pg;

    value = (char *) prefix->data;
    length = prefix->len;
    format = 1;

    if (!PQsendQueryPrepared(pg,
                        ngx_http_woportal_pg_names[NGX_HTTP_WOPORTAL_PG_SCAN],
                        1, &value, &length, &format, 0)
        || !PQsetSingleRowMode(pg))
    {
        return ngx_http_woportal_pgsql_failed(db, slot, NULL, log);
    }

    rc = NGX_OK;

    while ((res = PQgetResult(pg)) != NULL) {

        switch (PQresultStatus(res)) {

        case PGRES_SINGLE_TUPLE:
            if (rc == NGX_OK) {
                doc.data = (u_char *) PQgetvalue(res, 0, 0);
                doc.len = PQgetlength(res, 0, 0);
                rc = handler(data, &doc);
            }

            break;

        case PGRES_TUPLES_OK:
            break;

        default:
            rc = ngx_http_woportal_pgsql_failed(db, slot, res, log);
            continue;
        }

        PQclear(res);
    }

    return rc;
}


static void
ngx_http_woportal_pgsql_free(void *conn)
{
    ngx_http_woportal_pgsql_t  *c = conn;

    if (c->pg) {
        PQfinish(c->pg);
    }

    free(c);
}


/* an entry's key: $1 the prefix, $2 the id */

static void
ngx_http_woportal_pgsql_key(const char **values, int *lengths,
    ngx_str_t *prefix, u_char *id)
{
    values[0] = (char *) prefix->data;
    lengths[0] = prefix->len;
    values[1] = (char *) id;
    lengths[1] = NGX_HTTP_WOPORTAL_ID_LEN;
}


/*
 * The pool thread's connection, in its slot, made on first use, with the
 * statement stmt prepared (NGX_HTTP_WOPORTAL_PG_COUNT: none).
 */

static ngx_http_woportal_pgsql_t *
ngx_http_woportal_pgsql_conn(ngx_http_woportal_db_t *db, void **slot,
    ngx_uint_t stmt, ngx_log_t *log)
{
    u_char                      options[64], timeout[NGX_INT_T_LEN + 1];
    PGresult                   *res;
    ngx_uint_t                  ok;
    const char                 *keys[5], *values[5];
    ngx_http_woportal_pgsql_t  *c;

    c = *slot;

    if (c == NULL) {
        c = calloc(1, sizeof(ngx_http_woportal_pgsql_t));
        if (c == NULL) {
            return NULL;
        }

        *slot = c;
    }

    if (c->pg && PQstatus(c->pg) != CONNECTION_OK) {
        PQfinish(c->pg);
        c->pg = NULL;
    }

    if (c->pg == NULL) {

        /* the conninfo comes last: what it sets wins */

        *ngx_sprintf(timeout, "%M", ngx_max(db->timeout / 1000, 1)) = '\0';
        *ngx_sprintf(options, "-c lock_timeout=%M", db->timeout) = '\0';

        keys[0] = "connect_timeout";
        values[0] = (char *) timeout;
        keys[1] = "options";
        values[1] = (char *) options;
        keys[2] = "client_encoding";
        values[2] = "UTF8";
        keys[3] = "dbname";
        values[3] = (char *) db->config.data;
        keys[4] = NULL;
        values[4] = NULL;

        c->pg = PQconnectdbParams(keys, values, 1);
        c->prepared = 0;

        if (c->pg == NULL) {
            return NULL;
        }

        if (PQstatus(c->pg) != CONNECTION_OK
            || ngx_http_woportal_pgsql_setup(db, c->pg, log) != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "woportal: cannot use the database \"%V\": %s",
                          &db->config, PQerrorMessage(c->pg));
            PQfinish(c->pg);
            c->pg = NULL;
            return NULL;
        }
    }

    if (stmt == NGX_HTTP_WOPORTAL_PG_COUNT || (c->prepared & (1 << stmt))) {
        return c;
    }

    res = PQprepare(c->pg, ngx_http_woportal_pg_names[stmt],
                    ngx_http_woportal_pg_sql[stmt], 0, NULL);
    ok = (PQresultStatus(res) == PGRES_COMMAND_OK);

    if (!ok) {
        (void) ngx_http_woportal_pgsql_failed(db, slot, res, log);
        return NULL;
    }

    PQclear(res);
    c->prepared |= 1 << stmt;

    return c;
}


/* the schema, when it is missing */

static ngx_int_t
ngx_http_woportal_pgsql_setup(ngx_http_woportal_db_t *db, PGconn *pg,
    ngx_log_t *log)
{
    PGresult    *res;
    ngx_uint_t   ok;

    res = PQexec(pg, "SELECT 1 FROM woportal_schema WHERE version = "
                     NGX_HTTP_WOPORTAL_SCHEMA_VERSION);
    ok = (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1);
    PQclear(res);

    if (!ok) {
        res = PQexec(pg, "BEGIN; SELECT pg_advisory_xact_lock("
                         NGX_HTTP_WOPORTAL_PG_LOCK ");");
        PQclear(res);

        res = PQexec(pg, ngx_http_woportal_pgsql_schema);
        ok = (PQresultStatus(res) == PGRES_COMMAND_OK);
        PQclear(res);

        res = PQexec(pg, ok ? "COMMIT" : "ROLLBACK");
        ok = ok && (PQresultStatus(res) == PGRES_COMMAND_OK);
        PQclear(res);

        if (!ok) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_woportal_pgsql_exec(ngx_http_woportal_db_t *db, void **slot,
    const char *sql, ngx_log_t *log)
{
    PGresult                   *res;
    ngx_http_woportal_pgsql_t  *c;

    c = ngx_http_woportal_pgsql_conn(db, slot, NGX_HTTP_WOPORTAL_PG_COUNT,
                                     log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    res = PQexec(c->pg, sql);

    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        return ngx_http_woportal_pgsql_failed(db, slot, res, log);
    }

    PQclear(res);

    return NGX_OK;
}


/*
 * A prepared statement: its result, or NULL (logged).  A parameter with a
 * length is sent in binary form, for text the bytes as they are (nginx's
 * strings have no NUL at their end); one with length 0 is a NUL-terminated
 * number, or NULL.
 */

static PGresult *
ngx_http_woportal_pgsql_run(ngx_http_woportal_db_t *db, void **slot,
    ngx_uint_t stmt, int n, const char **values, const int *lengths,
    ngx_log_t *log)
{
    int                         i, formats[12];
    PGresult                   *res;
    ExecStatusType              status;
    ngx_http_woportal_pgsql_t  *c;

    c = ngx_http_woportal_pgsql_conn(db, slot, stmt, log);
    if (c == NULL) {
        return NULL;
    }

    for (i = 0; i < n; i++) {
        formats[i] = (lengths[i] != 0);
    }

    res = PQexecPrepared(c->pg, ngx_http_woportal_pg_names[stmt], n, values,
                         lengths, formats, 0);

    status = PQresultStatus(res);

    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        (void) ngx_http_woportal_pgsql_failed(db, slot, res, log);
        return NULL;
    }

    return res;
}


/*
 * Logs a failure and frees its result: NGX_ERROR.  A connection that is
 * no longer good is closed, to be made again by the next call.
 */

static ngx_int_t
ngx_http_woportal_pgsql_failed(ngx_http_woportal_db_t *db, void **slot,
    PGresult *res, ngx_log_t *log)
{
    ngx_http_woportal_pgsql_t  *c;

    c = *slot;

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "woportal: database \"%V\" failed: %s", &db->config,
                  res ? PQresultErrorMessage(res) : PQerrorMessage(c->pg));

    if (res) {
        PQclear(res);
    }

    if (c->pg && PQstatus(c->pg) != CONNECTION_OK) {
        PQfinish(c->pg);
        c->pg = NULL;
    }

    return NGX_ERROR;
}
