
/*
 * The SQLite backend of persistence (persist.c): woportal_persist
 * sqlite:<path>.  Each pool thread owns its connection (WAL, a busy
 * timeout, the schema of sql/sqlite applied when missing) with its
 * statements prepared once; a connection that failed is closed and made
 * again on the next call.  Every value is bound: no SQL text is ever built
 * from input.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <sqlite3.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_sqlite_schema.h"


enum {
    NGX_HTTP_WOPORTAL_SQL_BEGIN = 0,
    NGX_HTTP_WOPORTAL_SQL_COMMIT,
    NGX_HTTP_WOPORTAL_SQL_ROLLBACK,
    NGX_HTTP_WOPORTAL_SQL_INSERT,
    NGX_HTTP_WOPORTAL_SQL_UPSERT,
    NGX_HTTP_WOPORTAL_SQL_DELETE,
    NGX_HTTP_WOPORTAL_SQL_TOMBSTONE,
    NGX_HTTP_WOPORTAL_SQL_NS_DELETE,
    NGX_HTTP_WOPORTAL_SQL_NS_INSERT,
    NGX_HTTP_WOPORTAL_SQL_LOAD,
    NGX_HTTP_WOPORTAL_SQL_SCAN,
    NGX_HTTP_WOPORTAL_SQL_DELETE_IF,
    NGX_HTTP_WOPORTAL_SQL_COUNT
};


static const char  *ngx_http_woportal_sql[] = {

    "BEGIN IMMEDIATE",

    "COMMIT",

    "ROLLBACK",

    "INSERT INTO woportal_entries (prefix, id, version, workorder, client,"
    " status, access_level, expiry_date, created_at, updated_at, doc)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    " ON CONFLICT (prefix, id) DO NOTHING",

    /* a change never goes back to an older version */
    "INSERT INTO woportal_entries (prefix, id, version, workorder, client,"
    " status, access_level, expiry_date, created_at, updated_at, doc)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    " ON CONFLICT (prefix, id) DO UPDATE SET version = excluded.version,"
    " workorder = excluded.workorder, client = excluded.client,"
    " status = excluded.status, access_level = excluded.access_level,"
    " expiry_date = excluded.expiry_date, created_at = excluded.created_at,"
    " updated_at = excluded.updated_at, doc = excluded.doc"
    " WHERE woportal_entries.version < excluded.version",

    /*
     * A deletion keeps the row as a tombstone at the highest version: a
     * write that arrives late (a queued one) can never bring it back.
     */
    "UPDATE woportal_entries SET version = 9223372036854775807,"
    " workorder = '', client = '', status = '', access_level = '',"
    " expiry_date = NULL, doc = '' WHERE prefix = ?1 AND id = ?2"
    " AND doc <> ''",

    /*
     * the tombstone of an entry the database has no live row of: a row
     * that a queued create inserts at the same moment (PostgreSQL lets
     * the statement wait for it) is turned into the tombstone too
     */
    "INSERT INTO woportal_entries (prefix, id, version, workorder, client,"
    " status, access_level, expiry_date, created_at, updated_at, doc)"
    " VALUES (?1, ?2, 9223372036854775807, '', '', '', '', NULL, 0, 0, '')"
    " ON CONFLICT (prefix, id) DO UPDATE SET version = excluded.version,"
    " workorder = '', client = '', status = '', access_level = '',"
    " expiry_date = NULL, doc = ''",

    "DELETE FROM woportal_entry_namespaces WHERE prefix = ?1 AND id = ?2",

    "INSERT OR IGNORE INTO woportal_entry_namespaces (prefix, namespace, id)"
    " VALUES (?1, ?2, ?3)",

    "SELECT doc FROM woportal_entries WHERE prefix = ?1 AND id = ?2"
    " AND doc <> ''",

    "SELECT doc FROM woportal_entries WHERE prefix = ?1 AND doc <> ''",

    /* a conditional deletion: only of the version the request saw */
    "UPDATE woportal_entries SET version = 9223372036854775807,"
    " workorder = '', client = '', status = '', access_level = '',"
    " expiry_date = NULL, doc = '' WHERE prefix = ?1 AND id = ?2"
    " AND doc <> '' AND version <= ?3"
};


/* a pool thread's connection to one database */

typedef struct {
    sqlite3                     *db;
    sqlite3_stmt                *stmt[NGX_HTTP_WOPORTAL_SQL_COUNT];
    ngx_msec_t                   timeout;
    uint64_t                     busy_since;   /* us: metrics_clock() */
} ngx_http_woportal_sqlite_t;


static ngx_int_t ngx_http_woportal_sqlite_begin(ngx_http_woportal_db_t *db,
    void **slot, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_sqlite_end(ngx_http_woportal_db_t *db,
    void **slot, ngx_uint_t commit, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_sqlite_put(ngx_http_woportal_db_t *db,
    void **slot, ngx_http_woportal_persist_t *p, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_sqlite_delete(ngx_http_woportal_db_t *db,
    void **slot, ngx_http_woportal_persist_t *p, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_sqlite_load(ngx_http_woportal_db_t *db,
    void **slot, ngx_str_t *prefix, u_char *id, ngx_str_t *doc,
    ngx_log_t *log);
static ngx_int_t ngx_http_woportal_sqlite_scan(ngx_http_woportal_db_t *db,
    void **slot, ngx_str_t *prefix, ngx_http_woportal_scan_pt handler,
    void *data, ngx_log_t *log);
static void ngx_http_woportal_sqlite_free(void *conn);
static void ngx_http_woportal_sqlite_bind_key(sqlite3_stmt *stmt,
    ngx_str_t *prefix, u_char *id);
static ngx_http_woportal_sqlite_t *ngx_http_woportal_sqlite_conn(
    ngx_http_woportal_db_t *db, void **slot, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_sqlite_open(ngx_http_woportal_db_t *db,
    ngx_http_woportal_sqlite_t *c, ngx_log_t *log);
static int ngx_http_woportal_sqlite_row(void *data, int n, char **values,
    char **names);
static int ngx_http_woportal_sqlite_busy(void *data, int count);
static void ngx_http_woportal_sqlite_close(ngx_http_woportal_sqlite_t *c);
static ngx_int_t ngx_http_woportal_sqlite_step(ngx_http_woportal_db_t *db,
    ngx_http_woportal_sqlite_t *c, sqlite3_stmt *stmt, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_sqlite_run(ngx_http_woportal_db_t *db,
    ngx_http_woportal_sqlite_t *c, ngx_uint_t sql, ngx_log_t *log);
static void ngx_http_woportal_sqlite_failed(ngx_http_woportal_db_t *db,
    ngx_http_woportal_sqlite_t *c, sqlite3_stmt *stmt, int rc,
    ngx_log_t *log);


ngx_http_woportal_backend_t  ngx_http_woportal_sqlite_backend = {
    ngx_string("sqlite"),
    ngx_http_woportal_sqlite_begin,
    ngx_http_woportal_sqlite_end,
    ngx_http_woportal_sqlite_put,
    ngx_http_woportal_sqlite_delete,
    ngx_http_woportal_sqlite_load,
    ngx_http_woportal_sqlite_scan,
    NULL,
    ngx_http_woportal_sqlite_free
};


/*
 * In a pool thread: starts the transaction of a write.  NGX_OK, or
 * NGX_ERROR when the database cannot be reached or stays locked.
 */

static ngx_int_t
ngx_http_woportal_sqlite_begin(ngx_http_woportal_db_t *db, void **slot,
    ngx_log_t *log)
{
    ngx_http_woportal_sqlite_t  *c;

    c = ngx_http_woportal_sqlite_conn(db, slot, log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_woportal_sqlite_run(db, c, NGX_HTTP_WOPORTAL_SQL_BEGIN,
                                        log);
}


/* ends the transaction begun: NGX_OK, or NGX_ERROR (rolled back) */

static ngx_int_t
ngx_http_woportal_sqlite_end(ngx_http_woportal_db_t *db, void **slot,
    ngx_uint_t commit, ngx_log_t *log)
{
    ngx_http_woportal_sqlite_t  *c;

    c = ngx_http_woportal_sqlite_conn(db, slot, log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    if (commit
        && ngx_http_woportal_sqlite_run(db, c, NGX_HTTP_WOPORTAL_SQL_COMMIT,
                                        log)
           == NGX_OK)
    {
        return NGX_OK;
    }

    if (c->db && !sqlite3_get_autocommit(c->db)) {
        (void) ngx_http_woportal_sqlite_run(db, c,
                                            NGX_HTTP_WOPORTAL_SQL_ROLLBACK,
                                            log);
    }

    return commit ? NGX_ERROR : NGX_OK;
}


/*
 * Stores an entry in the transaction begun: NGX_OK; NGX_BUSY when the
 * database holds the entry at this version or a newer one (for a new
 * entry: the id is taken); NGX_ERROR.
 */

static ngx_int_t
ngx_http_woportal_sqlite_put(ngx_http_woportal_db_t *db, void **slot,
    ngx_http_woportal_persist_t *p, ngx_log_t *log)
{
    ngx_str_t                   *ns;
    ngx_uint_t                   i, sql;
    sqlite3_stmt                *stmt;
    ngx_http_woportal_entry_t   *e;
    ngx_http_woportal_sqlite_t  *c;

    c = ngx_http_woportal_sqlite_conn(db, slot, log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    e = p->entry;
    sql = p->create ? NGX_HTTP_WOPORTAL_SQL_INSERT
                    : NGX_HTTP_WOPORTAL_SQL_UPSERT;
    stmt = c->stmt[sql];

    ngx_http_woportal_sqlite_bind_key(stmt, &p->prefix, p->id);
    (void) sqlite3_bind_int64(stmt, 3, (sqlite3_int64) e->version);
    (void) sqlite3_bind_text(stmt, 4, (char *) e->workorder.data,
                             e->workorder.len, SQLITE_STATIC);
    (void) sqlite3_bind_text(stmt, 5, (char *) e->client.data,
                             e->client.len, SQLITE_STATIC);
    (void) sqlite3_bind_text(stmt, 6,
                         (char *) ngx_http_woportal_statuses[e->status].data,
                         ngx_http_woportal_statuses[e->status].len,
                         SQLITE_STATIC);
    (void) sqlite3_bind_text(stmt, 7,
               (char *) ngx_http_woportal_access_levels[e->access_level].data,
               ngx_http_woportal_access_levels[e->access_level].len,
               SQLITE_STATIC);

    if (e->has_expiry) {
        (void) sqlite3_bind_int64(stmt, 8, e->expiry_date);

    } else {
        (void) sqlite3_bind_null(stmt, 8);
    }

    (void) sqlite3_bind_int64(stmt, 9, e->created_at);
    (void) sqlite3_bind_int64(stmt, 10, e->updated_at);
    (void) sqlite3_bind_text(stmt, 11, (char *) p->doc.data, p->doc.len,
                             SQLITE_STATIC);

    if (ngx_http_woportal_sqlite_step(db, c, stmt, log) != NGX_OK) {
        return NGX_ERROR;
    }

    if (sqlite3_changes(c->db) == 0) {
        return NGX_BUSY;
    }

    /* the namespaces, for filters; a new entry has none yet */

    if (!p->create) {
        stmt = c->stmt[NGX_HTTP_WOPORTAL_SQL_NS_DELETE];

        ngx_http_woportal_sqlite_bind_key(stmt, &p->prefix, p->id);

        if (ngx_http_woportal_sqlite_step(db, c, stmt, log) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    stmt = c->stmt[NGX_HTTP_WOPORTAL_SQL_NS_INSERT];
    ns = e->namespaces.elts;

    for (i = 0; i < e->namespaces.nelts; i++) {
        (void) sqlite3_bind_text(stmt, 1, (char *) p->prefix.data,
                                 p->prefix.len, SQLITE_STATIC);
        (void) sqlite3_bind_text(stmt, 2, (char *) ns[i].data, ns[i].len,
                                 SQLITE_STATIC);
        (void) sqlite3_bind_text(stmt, 3, (char *) p->id,
                                 NGX_HTTP_WOPORTAL_ID_LEN, SQLITE_STATIC);

        if (ngx_http_woportal_sqlite_step(db, c, stmt, log) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * Deletes an entry in the transaction begun, leaving its tombstone:
 * NGX_OK, or NGX_DECLINED when there was none (its tombstone is written
 * all the same: a queued create, async.c, can never bring it back).
 * With p->expected, only the entry at that version or an older one:
 * NGX_BUSY when a newer version is there (the caller reads it again).
 */

static ngx_int_t
ngx_http_woportal_sqlite_delete(ngx_http_woportal_db_t *db, void **slot,
    ngx_http_woportal_persist_t *p, ngx_log_t *log)
{
    int                          rc;
    ngx_int_t                    found;
    ngx_uint_t                   sql;
    sqlite3_stmt                *stmt;
    ngx_http_woportal_sqlite_t  *c;

    c = ngx_http_woportal_sqlite_conn(db, slot, log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    found = 0;

    if (p->expected) {
        stmt = c->stmt[NGX_HTTP_WOPORTAL_SQL_DELETE_IF];

        ngx_http_woportal_sqlite_bind_key(stmt, &p->prefix, p->id);
        (void) sqlite3_bind_int64(stmt, 3, (sqlite3_int64) p->expected);

        if (ngx_http_woportal_sqlite_step(db, c, stmt, log) != NGX_OK) {
            return NGX_ERROR;
        }

        found = sqlite3_changes(c->db);

        if (!found) {
            /* a newer version, or no entry: the tombstone goes in below */

            stmt = c->stmt[NGX_HTTP_WOPORTAL_SQL_LOAD];

            ngx_http_woportal_sqlite_bind_key(stmt, &p->prefix, p->id);

            rc = sqlite3_step(stmt);
            (void) sqlite3_reset(stmt);

            if (rc == SQLITE_ROW) {
                return NGX_BUSY;
            }

            if (rc != SQLITE_DONE) {
                ngx_http_woportal_sqlite_failed(db, c, stmt, rc, log);
                return NGX_ERROR;
            }
        }
    }

    for (sql = NGX_HTTP_WOPORTAL_SQL_DELETE;
         sql <= NGX_HTTP_WOPORTAL_SQL_NS_DELETE;
         sql++)
    {
        stmt = c->stmt[sql];

        ngx_http_woportal_sqlite_bind_key(stmt, &p->prefix, p->id);

        if (ngx_http_woportal_sqlite_step(db, c, stmt, log) != NGX_OK) {
            return NGX_ERROR;
        }

        if (sql == NGX_HTTP_WOPORTAL_SQL_DELETE && !p->expected) {
            found = sqlite3_changes(c->db);
        }
    }

    return found ? NGX_OK : NGX_DECLINED;
}


/*
 * Reads an entry outside any transaction: NGX_OK with *doc malloc()ed,
 * NGX_DECLINED when there is none, NGX_ERROR.
 */

static ngx_int_t
ngx_http_woportal_sqlite_load(ngx_http_woportal_db_t *db, void **slot,
    ngx_str_t *prefix, u_char *id, ngx_str_t *doc, ngx_log_t *log)
{
    int                          rc;
    size_t                       len;
    sqlite3_stmt                *stmt;
    const unsigned char         *text;
    ngx_http_woportal_sqlite_t  *c;

    c = ngx_http_woportal_sqlite_conn(db, slot, log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    stmt = c->stmt[NGX_HTTP_WOPORTAL_SQL_LOAD];

    ngx_http_woportal_sqlite_bind_key(stmt, prefix, id);

    rc = sqlite3_step(stmt);

    if (rc == SQLITE_DONE) {
        (void) sqlite3_reset(stmt);
        return NGX_DECLINED;
    }

    if (rc != SQLITE_ROW) {
        ngx_http_woportal_sqlite_failed(db, c, stmt, rc, log);
        return NGX_ERROR;
    }

    text = sqlite3_column_text(stmt, 0);
    len = sqlite3_column_bytes(stmt, 0);

    doc->data = malloc(len + 1);
    if (doc->data == NULL) {
        (void) sqlite3_reset(stmt);
        return NGX_ERROR;
    }

    ngx_memcpy(doc->data, text, len);
    doc->len = len;

    (void) sqlite3_reset(stmt);

    return NGX_OK;
}


/* every entry of a prefix, handed to the handler: NGX_OK or NGX_ERROR */

static ngx_int_t
ngx_http_woportal_sqlite_scan(ngx_http_woportal_db_t *db, void **slot,
    ngx_str_t *prefix, ngx_http_woportal_scan_pt handler, void *data,
    ngx_log_t *log)
{
    int                          rc;
    ngx_str_t                    doc;
    sqlite3_stmt                *stmt;
    ngx_http_woportal_sqlite_t  *c;

    c = ngx_http_woportal_sqlite_conn(db, slot, log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    stmt = c->stmt[NGX_HTTP_WOPORTAL_SQL_SCAN];

    (void) sqlite3_bind_text(stmt, 1, (char *) prefix->data, prefix->len,
                             SQLITE_STATIC);

    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        doc.data = (u_char *) sqlite3_column_text(stmt, 0);
        doc.len = sqlite3_column_bytes(stmt, 0);

        if (handler(data, &doc) != NGX_OK) {
            (void) sqlite3_reset(stmt);
            return NGX_ERROR;
        }
    }

    if (rc != SQLITE_DONE) {
        ngx_http_woportal_sqlite_failed(db, c, stmt, rc, log);
        return NGX_ERROR;
    }

    (void) sqlite3_reset(stmt);

    return NGX_OK;
}


/* the pool thread's connection to db, in its slot, opened on first use */

static ngx_http_woportal_sqlite_t *
ngx_http_woportal_sqlite_conn(ngx_http_woportal_db_t *db, void **slot,
    ngx_log_t *log)
{
    ngx_http_woportal_sqlite_t  *c;

    c = *slot;

    if (c == NULL) {
        c = calloc(1, sizeof(ngx_http_woportal_sqlite_t));
        if (c == NULL) {
            return NULL;
        }

        *slot = c;
    }

    if (c->db == NULL && ngx_http_woportal_sqlite_open(db, c, log) != NGX_OK) {
        ngx_http_woportal_sqlite_close(c);
        return NULL;
    }

    return c;
}


/* at exit: see persist.c */

static void
ngx_http_woportal_sqlite_free(void *conn)
{
    ngx_http_woportal_sqlite_close(conn);
    free(conn);
}


static ngx_int_t
ngx_http_woportal_sqlite_open(ngx_http_woportal_db_t *db,
    ngx_http_woportal_sqlite_t *c, ngx_log_t *log)
{
    int          rc, found;
    char        *err;
    ngx_uint_t   i;
    ngx_msec_t   waited;

    found = 0;

    rc = sqlite3_open_v2((char *) db->config.data, &c->db,
                         SQLITE_OPEN_READWRITE|SQLITE_OPEN_CREATE
                         |SQLITE_OPEN_NOMUTEX, NULL);

    if (rc != SQLITE_OK) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "woportal: cannot open the database \"%V\": %s",
                      &db->config,
                      c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        return NGX_ERROR;
    }

    /*
     * sqlite3_busy_timeout() sleeps 1, 2, 5, ... up to 100 ms at a time:
     * a worker whose transaction waits for another's would sleep long
     * after the lock is free
     */
    c->timeout = db->timeout;
    (void) sqlite3_busy_handler(c->db, ngx_http_woportal_sqlite_busy, c);

    /*
     * Several workers share the file; a commit is on disk when it returns.
     * The schema is applied when it is not there yet: applying it writes,
     * and a database locked by a writer must still be readable.
     */

    /*
     * Workers opening a new file at once: changing the journal mode and
     * applying the schema take locks the busy timeout does not wait for
     */

    for (waited = 0; /* void */; waited += 10) {
        err = NULL;

        rc = sqlite3_exec(c->db, "PRAGMA journal_mode = WAL;"
                                 "PRAGMA synchronous = FULL;", NULL, NULL,
                          &err);

        if (rc == SQLITE_OK) {
            (void) sqlite3_exec(c->db, "SELECT version FROM woportal_schema"
                                       " WHERE version = "
                                       NGX_HTTP_WOPORTAL_SCHEMA_VERSION,
                                ngx_http_woportal_sqlite_row, &found, NULL);

            if (!found) {
                rc = sqlite3_exec(c->db, ngx_http_woportal_sqlite_schema,
                                  NULL, NULL, &err);
            }
        }

        if (((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
            || waited >= db->timeout)
        {
            break;
        }

        sqlite3_free(err);
        ngx_msleep(10);
    }

    if (rc != SQLITE_OK) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "woportal: cannot set up the database \"%V\": %s",
                      &db->config, err ? err : "unknown error");
        sqlite3_free(err);
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_HTTP_WOPORTAL_SQL_COUNT; i++) {
        rc = sqlite3_prepare_v2(c->db, ngx_http_woportal_sql[i], -1,
                                &c->stmt[i], NULL);
        if (rc != SQLITE_OK) {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "woportal: cannot prepare \"%s\" on \"%V\": %s",
                          ngx_http_woportal_sql[i], &db->config,
                          sqlite3_errmsg(c->db));
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* the database is locked: 1 to try again, 0 to give up */

static int
ngx_http_woportal_sqlite_busy(void *data, int count)
{
    ngx_http_woportal_sqlite_t *c = data;

    uint64_t  now;

    now = ngx_http_woportal_metrics_clock();

    if (count == 0) {
        c->busy_since = now;
    }

    if (now - c->busy_since >= (uint64_t) c->timeout * 1000) {
        return 0;
    }

    /* transactions are short: a group commit takes milliseconds */
    (void) usleep(count < 10 ? 100 : 500);

    return 1;
}


/* sqlite3_exec()'s callback: there is a row */

static int
ngx_http_woportal_sqlite_row(void *data, int n, char **values, char **names)
{
    int *found = data;

    *found = 1;

    return 0;
}


static void
ngx_http_woportal_sqlite_close(ngx_http_woportal_sqlite_t *c)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_WOPORTAL_SQL_COUNT; i++) {
        if (c->stmt[i]) {
            (void) sqlite3_finalize(c->stmt[i]);
            c->stmt[i] = NULL;
        }
    }

    if (c->db) {
        (void) sqlite3_close(c->db);
        c->db = NULL;
    }
}


/* an entry's key: ?1 the prefix, ?2 the id */

static void
ngx_http_woportal_sqlite_bind_key(sqlite3_stmt *stmt, ngx_str_t *prefix,
    u_char *id)
{
    (void) sqlite3_bind_text(stmt, 1, (char *) prefix->data, prefix->len,
                             SQLITE_STATIC);
    (void) sqlite3_bind_text(stmt, 2, (char *) id, NGX_HTTP_WOPORTAL_ID_LEN,
                             SQLITE_STATIC);
}


/* runs a statement that returns no rows, and resets it */

static ngx_int_t
ngx_http_woportal_sqlite_step(ngx_http_woportal_db_t *db,
    ngx_http_woportal_sqlite_t *c, sqlite3_stmt *stmt, ngx_log_t *log)
{
    int  rc;

    rc = sqlite3_step(stmt);

    if (rc != SQLITE_DONE) {
        ngx_http_woportal_sqlite_failed(db, c, stmt, rc, log);
        return NGX_ERROR;
    }

    (void) sqlite3_reset(stmt);

    return NGX_OK;
}


static ngx_int_t
ngx_http_woportal_sqlite_run(ngx_http_woportal_db_t *db,
    ngx_http_woportal_sqlite_t *c, ngx_uint_t sql, ngx_log_t *log)
{
    return ngx_http_woportal_sqlite_step(db, c, c->stmt[sql], log);
}


/*
 * Logs a failed statement.  A busy or locked database keeps its
 * connection; any other failure closes it, to be made again.
 */

static void
ngx_http_woportal_sqlite_failed(ngx_http_woportal_db_t *db,
    ngx_http_woportal_sqlite_t *c, sqlite3_stmt *stmt, int rc,
    ngx_log_t *log)
{
    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "woportal: database \"%V\" failed: %s",
                  &db->config, sqlite3_errmsg(c->db));

    (void) sqlite3_reset(stmt);

    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED
        || (rc & 0xff) == SQLITE_CONSTRAINT)
    {
        return;
    }

    if (!sqlite3_get_autocommit(c->db)) {
        (void) sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    }

    ngx_http_woportal_sqlite_close(c);
}
