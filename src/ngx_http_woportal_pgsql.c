
/*
 * The PostgreSQL backend of persistence (db.c): woportal_persist
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
#include "ngx_http_woportal_db.h"
#include "ngx_http_woportal_pgsql_schema.h"


/* an advisory lock key: "wopo" */
#define NGX_HTTP_WOPORTAL_PG_LOCK     "2003792751"

/* the most parameters a statement has */
#define NGX_HTTP_WOPORTAL_PG_NPARAMS  4


enum {
    NGX_HTTP_WOPORTAL_PG_DELETE = 0,
    NGX_HTTP_WOPORTAL_PG_TOMBSTONE,
    NGX_HTTP_WOPORTAL_PG_LOAD,
    NGX_HTTP_WOPORTAL_PG_SCAN,
    NGX_HTTP_WOPORTAL_PG_DELETE_IF,
    NGX_HTTP_WOPORTAL_PG_PUT_NEW,
    NGX_HTTP_WOPORTAL_PG_PUT_CHANGE,
    NGX_HTTP_WOPORTAL_PG_DELETE_CHECKED,
    NGX_HTTP_WOPORTAL_PG_COUNT
};


static const char  *ngx_http_woportal_pg_names[] = {
    "wp_delete", "wp_tombstone", "wp_load", "wp_scan", "wp_delete_if",
    "wp_put_new", "wp_put_change", "wp_delete_checked"
};


static const char  *ngx_http_woportal_pg_sql[] = {

    /* a deletion keeps a tombstone: see sqlite.c */
    "UPDATE woportal_entries SET version = 9223372036854775807, doc = ''"
    " WHERE prefix = $1 AND id = $2 AND doc <> ''",

    /*
     * the tombstone of an entry the database has no live row of: a row
     * that a queued create inserts at the same moment (PostgreSQL lets
     * the statement wait for it) is turned into the tombstone too
     */
    "INSERT INTO woportal_entries (prefix, id, version, doc)"
    " VALUES ($1, $2, 9223372036854775807, '')"
    " ON CONFLICT (prefix, id) DO UPDATE SET version = excluded.version,"
    " doc = ''",

    "SELECT doc FROM woportal_entries WHERE prefix = $1 AND id = $2"
    " AND doc <> ''",

    "SELECT doc FROM woportal_entries WHERE prefix = $1 AND doc <> ''",

    /* a conditional deletion: only of the version the request saw */
    "UPDATE woportal_entries SET version = 9223372036854775807, doc = ''"
    " WHERE prefix = $1 AND id = $2 AND doc <> '' AND version <= $3",

    /*
     * The writes of a group commit, one statement each, so that a
     * transaction's statements go in one pipeline (pgsql_commit())
     */

    "INSERT INTO woportal_entries (prefix, id, version, doc)"
    " VALUES ($1, $2, $3, $4) ON CONFLICT (prefix, id) DO NOTHING",

    /* a change never goes back to an older version */
    "INSERT INTO woportal_entries (prefix, id, version, doc)"
    " VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (prefix, id) DO UPDATE SET version = excluded.version,"
    " doc = excluded.doc WHERE woportal_entries.version < excluded.version",

    /*
     * 2 when deleted, 1 when a newer version is there, 0 when there is no
     * entry (its tombstone goes in all the same: see sqlite_delete())
     */
    "WITH d AS (UPDATE woportal_entries SET version = 9223372036854775807,"
    " doc = '' WHERE prefix = $1 AND id = $2 AND doc <> ''"
    " AND version <= $3 RETURNING 1),"
    " live AS (SELECT 1 FROM woportal_entries WHERE prefix = $1 AND id = $2"
    " AND doc <> ''),"
    " t AS (INSERT INTO woportal_entries (prefix, id, version, doc)"
    " SELECT $1, $2, 9223372036854775807, ''"
    " WHERE NOT EXISTS (SELECT 1 FROM live)"
    " ON CONFLICT (prefix, id) DO UPDATE SET version = excluded.version,"
    " doc = '')"
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
static void ngx_http_woportal_pgsql_params(ngx_http_woportal_persist_t *p,
    const char **values, int *lengths, u_char *number);
static void ngx_http_woportal_pgsql_free(void *conn);
static void ngx_http_woportal_pgsql_key(const char **values, int *lengths,
    ngx_str_t *prefix, u_char *id);
static ngx_http_woportal_pgsql_t *ngx_http_woportal_pgsql_conn(
    ngx_http_woportal_db_t *db, void **slot, ngx_uint_t stmt, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_pgsql_setup(ngx_http_woportal_db_t *db,
    PGconn *pg, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_pgsql_version(PGconn *pg);
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
    int          lengths[NGX_HTTP_WOPORTAL_PG_NPARAMS];
    u_char       number[NGX_INT64_LEN + 1];
    PGresult    *res;
    ngx_int_t    rc;
    const char  *values[NGX_HTTP_WOPORTAL_PG_NPARAMS];

    ngx_http_woportal_pgsql_key(values, lengths, &p->prefix, p->id);
    ngx_http_woportal_pgsql_params(p, values, lengths, number);

    res = ngx_http_woportal_pgsql_run(db, slot,
                                      p->create
                                      ? NGX_HTTP_WOPORTAL_PG_PUT_NEW
                                      : NGX_HTTP_WOPORTAL_PG_PUT_CHANGE,
                                      4, values, lengths, log);
    if (res == NULL) {
        return NGX_ERROR;
    }

    rc = (PQcmdTuples(res)[0] != '0') ? NGX_OK : NGX_BUSY;

    PQclear(res);

    return rc;
}


static ngx_int_t
ngx_http_woportal_pgsql_delete(ngx_http_woportal_db_t *db, void **slot,
    ngx_http_woportal_persist_t *p, ngx_log_t *log)
{
    int          lengths[NGX_HTTP_WOPORTAL_PG_NPARAMS];
    u_char       expected[NGX_INT64_LEN + 1];
    PGresult    *res;
    ngx_int_t    found, checked;
    const char  *values[NGX_HTTP_WOPORTAL_PG_NPARAMS];

    ngx_http_woportal_pgsql_key(values, lengths, &p->prefix, p->id);

    checked = 0;

    if (p->expected) {
        /* only the version the request saw: see sqlite.c */

        ngx_http_woportal_pgsql_params(p, values, lengths, expected);

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
    int                           lengths[NGX_HTTP_WOPORTAL_PG_NPARAMS];
    int                           nparams;
    u_char                        number[NGX_INT64_LEN + 1];
    PGconn                       *pg;
    PGresult                     *res;
    ngx_int_t                     rc;
    ngx_uint_t                    i, k, found, stmt, last;
    const char                   *values[NGX_HTTP_WOPORTAL_PG_NPARAMS];
    ngx_http_woportal_pgsql_t    *c;
    ngx_http_woportal_persist_t  *p;

    static ngx_uint_t  needed[] = {
        NGX_HTTP_WOPORTAL_PG_PUT_NEW, NGX_HTTP_WOPORTAL_PG_PUT_CHANGE,
        NGX_HTTP_WOPORTAL_PG_DELETE_CHECKED, NGX_HTTP_WOPORTAL_PG_DELETE,
        NGX_HTTP_WOPORTAL_PG_TOMBSTONE
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
        ngx_http_woportal_pgsql_params(p, values, lengths, number);

        if (p->version) {
            stmt = p->create ? NGX_HTTP_WOPORTAL_PG_PUT_NEW
                             : NGX_HTTP_WOPORTAL_PG_PUT_CHANGE;
            last = stmt;
            nparams = 4;

        } else if (p->expected) {
            stmt = NGX_HTTP_WOPORTAL_PG_DELETE_CHECKED;
            last = stmt;
            nparams = 3;

        } else {
            /* a plain deletion: pgsql_delete()'s two statements */
            stmt = NGX_HTTP_WOPORTAL_PG_DELETE;
            last = NGX_HTTP_WOPORTAL_PG_TOMBSTONE;
            nparams = 2;
        }

        for ( /* void */ ; stmt <= last; stmt++) {
            if (ngx_http_woportal_pgsql_send(pg, stmt, nparams, values,
                                             lengths)
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

    if (PQpipelineSync(pg) != 1) {
        (void) ngx_http_woportal_pgsql_failed(db, slot, NULL, log);
        return NGX_ERROR;
    }

    /* the results, in order: BEGIN, each write's, COMMIT */

    if (rc == NGX_OK) {
        rc = ngx_http_woportal_pgsql_next(db, pg, NULL, log);

        for (i = 0; i < n && rc == NGX_OK; i++) {
            p = ps[i];

            if (p->version) {
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

            if (rc == NGX_OK) {
                /* the tombstone's */
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
    int  i, formats[NGX_HTTP_WOPORTAL_PG_NPARAMS];

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
 * The parameters of a write after the key: a put's version and JSON ($3,
 * $4), or a deletion's version expected ($3; 0: none), written in number.
 */

static void
ngx_http_woportal_pgsql_params(ngx_http_woportal_persist_t *p,
    const char **values, int *lengths, u_char *number)
{
    uint64_t  v;

    v = p->version ? p->version : p->expected;

    *ngx_sprintf(number, "%uL", v) = '\0';

    values[2] = (char *) number;
    lengths[2] = 0;

    if (p->version) {
        values[3] = (char *) p->doc.data;
        lengths[3] = p->doc.len;
    }
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


/*
 * Brings the schema up to date: the files of sql/postgresql after the
 * database's version, in order, in one transaction under an advisory
 * lock, so that the workers of nodes starting together apply each once
 */

static ngx_int_t
ngx_http_woportal_pgsql_setup(ngx_http_woportal_db_t *db, PGconn *pg,
    ngx_log_t *log)
{
    PGresult    *res;
    ngx_int_t    v, n;
    ngx_uint_t   ok;

    n = sizeof(ngx_http_woportal_pgsql_schema) / sizeof(char *);

    /* a read first: a database that has them takes no lock */

    if (ngx_http_woportal_pgsql_version(pg) >= n) {
        return NGX_OK;
    }

    /*
     * The lock is the session's, taken before the transaction begins: a
     * transaction begun before another worker committed the schema can
     * go on finding no table of versions (a backend's caches of the
     * catalog learn of others' changes when a transaction begins or a
     * table is locked), and would apply the files again.
     */

    res = PQexec(pg, "SELECT pg_advisory_lock(" NGX_HTTP_WOPORTAL_PG_LOCK
                     ")");
    ok = (PQresultStatus(res) == PGRES_TUPLES_OK);
    PQclear(res);

    if (!ok) {
        return NGX_ERROR;
    }

    res = PQexec(pg, "BEGIN");
    ok = (PQresultStatus(res) == PGRES_COMMAND_OK);
    PQclear(res);

    /* again under the lock: another worker may have applied them */

    v = ok ? ngx_http_woportal_pgsql_version(pg) : NGX_ERROR;
    ok = (v != NGX_ERROR);

    while (ok && v < n) {
        res = PQexec(pg, ngx_http_woportal_pgsql_schema[v++]);
        ok = (PQresultStatus(res) == PGRES_COMMAND_OK);

        if (!ok) {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "woportal: cannot apply version %i of the schema"
                          " to \"%V\": %s",
                          v, &db->config, PQresultErrorMessage(res));
        }

        PQclear(res);
    }

    res = PQexec(pg, ok ? "COMMIT" : "ROLLBACK");
    ok = ok && (PQresultStatus(res) == PGRES_COMMAND_OK);
    PQclear(res);

    res = PQexec(pg, "SELECT pg_advisory_unlock(" NGX_HTTP_WOPORTAL_PG_LOCK
                     ")");
    ok = ok && (PQresultStatus(res) == PGRES_TUPLES_OK);
    PQclear(res);

    return ok ? NGX_OK : NGX_ERROR;
}


/*
 * The newest version of the schema the database has: 0 when it has none
 * (a new database), NGX_ERROR when it cannot be read
 */

static ngx_int_t
ngx_http_woportal_pgsql_version(PGconn *pg)
{
    PGresult   *res;
    ngx_int_t   v;

    res = PQexec(pg, "SELECT to_regclass('woportal_schema') IS NOT NULL");

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        PQclear(res);
        return NGX_ERROR;
    }

    v = (PQgetvalue(res, 0, 0)[0] == 't');
    PQclear(res);

    if (v == 0) {
        return 0;
    }

    res = PQexec(pg, "SELECT coalesce(max(version), 0) FROM woportal_schema");

    v = (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        ? ngx_atoi((u_char *) PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0))
        : NGX_ERROR;

    PQclear(res);

    return v;
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
    int                         i, formats[NGX_HTTP_WOPORTAL_PG_NPARAMS];
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
