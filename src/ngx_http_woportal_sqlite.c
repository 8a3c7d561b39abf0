
/*
 * The SQLite backend of persistence (db.c): woportal_persist
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
#include "ngx_http_woportal_db.h"
#include "ngx_http_woportal_metrics.h"
#include "ngx_http_woportal_sqlite_schema.h"


enum {
    NGX_HTTP_WOPORTAL_SQL_BEGIN = 0,
    NGX_HTTP_WOPORTAL_SQL_COMMIT,
    NGX_HTTP_WOPORTAL_SQL_ROLLBACK,
    NGX_HTTP_WOPORTAL_SQL_INSERT,
    NGX_HTTP_WOPORTAL_SQL_UPSERT,
    NGX_HTTP_WOPORTAL_SQL_DELETE,
    NGX_HTTP_WOPORTAL_SQL_TOMBSTONE,
    NGX_HTTP_WOPORTAL_SQL_LOAD,
    NGX_HTTP_WOPORTAL_SQL_SCAN,
    NGX_HTTP_WOPORTAL_SQL_DELETE_IF,
    NGX_HTTP_WOPORTAL_SQL_COUNT
};


static const char  *ngx_http_woportal_sql[] = {

    "BEGIN IMMEDIATE",

    "COMMIT",

    "ROLLBACK",

    "INSERT INTO woportal_entries (prefix, id, version, doc)"
    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (prefix, id) DO NOTHING",

    /* a change never goes back to an older version */
    "INSERT INTO woportal_entries (prefix, id, version, doc)"
    " VALUES (?1, ?2, ?3, ?4)"
    " ON CONFLICT (prefix, id) DO UPDATE SET version = excluded.version,"
    " doc = excluded.doc WHERE woportal_entries.version < excluded.version",

    /*
     * A deletion keeps the row as a tombstone at the highest version: a
     * write that arrives late (a queued one) can never bring it back.
     */
    "UPDATE woportal_entries SET version = 9223372036854775807, doc = ''"
    " WHERE prefix = ?1 AND id = ?2 AND doc <> ''",

    /*
     * the tombstone of an entry the database has no live row of: a row
     * that a queued create inserts at the same moment (PostgreSQL lets
     * the statement wait for it) is turned into the tombstone too
     */
    "INSERT INTO woportal_entries (prefix, id, version, doc)"
    " VALUES (?1, ?2, 9223372036854775807, '')"
    " ON CONFLICT (prefix, id) DO UPDATE SET version = excluded.version,"
    " doc = ''",

    "SELECT doc FROM woportal_entries WHERE prefix = ?1 AND id = ?2"
    " AND doc <> ''",

    "SELECT doc FROM woportal_entries WHERE prefix = ?1 AND doc <> ''",

    /* a conditional deletion: only of the version the request saw */
    "UPDATE woportal_entries SET version = 9223372036854775807, doc = ''"
    " WHERE prefix = ?1 AND id = ?2 AND doc <> '' AND version <= ?3"
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
static int ngx_http_woportal_sqlite_migrate(sqlite3 *db, char **err);
static int ngx_http_woportal_sqlite_version(sqlite3 *db, ngx_uint_t *version,
    char **err);
static int ngx_http_woportal_sqlite_row(void *data, int n, char **values,
    char **names);
static int ngx_http_woportal_sqlite_number(void *data, int n, char **values,
    char **names);
static int ngx_http_woportal_sqlite_busy(void *data, int count);
static void ngx_http_woportal_sqlite_close(ngx_http_woportal_sqlite_t *c);
static ngx_int_t ngx_http_woportal_sqlite_find(ngx_http_woportal_db_t *db,
    ngx_http_woportal_sqlite_t *c, ngx_str_t *prefix, u_char *id,
    ngx_log_t *log);
static ngx_int_t ngx_http_woportal_sqlite_step(ngx_http_woportal_db_t *db,
    ngx_http_woportal_sqlite_t *c, sqlite3_stmt *stmt, ngx_log_t *log);
static ngx_int_t ngx_http_woportal_sqlite_done(ngx_http_woportal_db_t *db,
    ngx_http_woportal_sqlite_t *c, sqlite3_stmt *stmt, int rc,
    ngx_log_t *log);
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
    sqlite3_stmt                *stmt;
    ngx_http_woportal_sqlite_t  *c;

    c = ngx_http_woportal_sqlite_conn(db, slot, log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    stmt = c->stmt[p->create ? NGX_HTTP_WOPORTAL_SQL_INSERT
                             : NGX_HTTP_WOPORTAL_SQL_UPSERT];

    ngx_http_woportal_sqlite_bind_key(stmt, &p->prefix, p->id);
    (void) sqlite3_bind_int64(stmt, 3, (sqlite3_int64) p->version);
    (void) sqlite3_bind_text(stmt, 4, (char *) p->doc.data, p->doc.len,
                             SQLITE_STATIC);

    if (ngx_http_woportal_sqlite_step(db, c, stmt, log) != NGX_OK) {
        return NGX_ERROR;
    }

    return sqlite3_changes(c->db) ? NGX_OK : NGX_BUSY;
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
    ngx_int_t                    rc, found;
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

            rc = ngx_http_woportal_sqlite_find(db, c, &p->prefix, p->id, log);

            if (rc == NGX_OK) {
                (void) sqlite3_reset(c->stmt[NGX_HTTP_WOPORTAL_SQL_LOAD]);
                return NGX_BUSY;
            }

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }
        }
    }

    for (sql = NGX_HTTP_WOPORTAL_SQL_DELETE;
         sql <= NGX_HTTP_WOPORTAL_SQL_TOMBSTONE;
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
    size_t                       len;
    ngx_int_t                    rc;
    sqlite3_stmt                *stmt;
    const unsigned char         *text;
    ngx_http_woportal_sqlite_t  *c;

    c = ngx_http_woportal_sqlite_conn(db, slot, log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_woportal_sqlite_find(db, c, prefix, id, log);

    if (rc != NGX_OK) {
        return rc;
    }

    stmt = c->stmt[NGX_HTTP_WOPORTAL_SQL_LOAD];

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

    return ngx_http_woportal_sqlite_done(db, c, stmt, rc, log);
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


/* at exit: see db.c */

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
    int          rc;
    char        *err;
    ngx_uint_t   i;
    ngx_msec_t   waited;

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
     * Workers opening a new file at once: changing the journal mode and
     * applying the schema take locks the busy timeout does not wait for.
     */

    for (waited = 0; /* void */; waited += 10) {
        err = NULL;

        rc = sqlite3_exec(c->db, "PRAGMA journal_mode = WAL;"
                                 "PRAGMA synchronous = FULL;", NULL, NULL,
                          &err);

        if (rc == SQLITE_OK) {
            rc = ngx_http_woportal_sqlite_migrate(c->db, &err);
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


/*
 * Brings the schema up to date: the files of sql/sqlite after the
 * database's version, in order, in one transaction that holds the write
 * lock, so that workers opening the database at once apply each once.
 * SQLITE_OK, or the error (busy or locked: to be tried again).
 */

static int
ngx_http_woportal_sqlite_migrate(sqlite3 *db, char **err)
{
    int         rc;
    ngx_uint_t  v, n;

    n = sizeof(ngx_http_woportal_sqlite_schema) / sizeof(char *);

    /* a read first: a database locked by a writer must still be usable */

    rc = ngx_http_woportal_sqlite_version(db, &v, err);

    if (rc != SQLITE_OK || v >= n) {
        return rc;
    }

    rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, err);
    if (rc != SQLITE_OK) {
        return rc;
    }

    /* again under the lock: another worker may have applied them */

    rc = ngx_http_woportal_sqlite_version(db, &v, err);

    while (rc == SQLITE_OK && v < n) {
        rc = sqlite3_exec(db, ngx_http_woportal_sqlite_schema[v++], NULL,
                          NULL, err);
    }

    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, err);
    }

    if (rc != SQLITE_OK && !sqlite3_get_autocommit(db)) {
        (void) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }

    return rc;
}


/* the newest version of the schema the database has; 0: a new file */

static int
ngx_http_woportal_sqlite_version(sqlite3 *db, ngx_uint_t *version,
    char **err)
{
    int  rc, found;

    found = 0;
    *version = 0;

    rc = sqlite3_exec(db, "SELECT 1 FROM sqlite_master WHERE type = 'table'"
                          " AND name = 'woportal_schema'",
                      ngx_http_woportal_sqlite_row, &found, err);

    if (rc != SQLITE_OK || !found) {
        return rc;
    }

    return sqlite3_exec(db, "SELECT max(version) FROM woportal_schema",
                        ngx_http_woportal_sqlite_number, version, err);
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


/* sqlite3_exec()'s callback: a row of a number (NULL: 0) */

static int
ngx_http_woportal_sqlite_number(void *data, int n, char **values,
    char **names)
{
    ngx_uint_t *number = data;

    ngx_int_t  v;

    v = values[0] ? ngx_atoi((u_char *) values[0], ngx_strlen(values[0]))
                  : 0;

    *number = (v == NGX_ERROR) ? 0 : (ngx_uint_t) v;

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


/*
 * Steps the statement of an entry's live row (SQL_LOAD): NGX_OK on its
 * row (the statement is then the caller's to reset), NGX_DECLINED when
 * there is none, NGX_ERROR.
 */

static ngx_int_t
ngx_http_woportal_sqlite_find(ngx_http_woportal_db_t *db,
    ngx_http_woportal_sqlite_t *c, ngx_str_t *prefix, u_char *id,
    ngx_log_t *log)
{
    int            rc;
    sqlite3_stmt  *stmt;

    stmt = c->stmt[NGX_HTTP_WOPORTAL_SQL_LOAD];

    ngx_http_woportal_sqlite_bind_key(stmt, prefix, id);

    rc = sqlite3_step(stmt);

    if (rc == SQLITE_ROW) {
        return NGX_OK;
    }

    if (ngx_http_woportal_sqlite_done(db, c, stmt, rc, log) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_DECLINED;
}


/* runs a statement that returns no rows, and resets it */

static ngx_int_t
ngx_http_woportal_sqlite_step(ngx_http_woportal_db_t *db,
    ngx_http_woportal_sqlite_t *c, sqlite3_stmt *stmt, ngx_log_t *log)
{
    return ngx_http_woportal_sqlite_done(db, c, stmt, sqlite3_step(stmt),
                                         log);
}


/* a statement's last step, rc: NGX_OK when it is done (reset), NGX_ERROR */

static ngx_int_t
ngx_http_woportal_sqlite_done(ngx_http_woportal_db_t *db,
    ngx_http_woportal_sqlite_t *c, sqlite3_stmt *stmt, int rc,
    ngx_log_t *log)
{
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
