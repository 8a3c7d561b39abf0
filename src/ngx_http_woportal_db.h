
/*
 * db.c: a database's calls, in pool threads, but for init and exit
 */


#ifndef _NGX_HTTP_WOPORTAL_DB_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_DB_H_INCLUDED_


#include "ngx_http_woportal.h"


/* the backends: sqlite.c, pgsql.c */
extern ngx_http_woportal_backend_t  ngx_http_woportal_sqlite_backend;
extern ngx_http_woportal_backend_t  ngx_http_woportal_pgsql_backend;


ngx_int_t ngx_http_woportal_db_init(ngx_uint_t nstores, ngx_array_t *dbs);
void ngx_http_woportal_db_free(ngx_uint_t i, void *conn);
ngx_int_t ngx_http_woportal_db_begin(ngx_http_woportal_db_t *db,
    ngx_log_t *log);
ngx_int_t ngx_http_woportal_db_end(ngx_http_woportal_db_t *db,
    ngx_uint_t commit, ngx_log_t *log);
ngx_int_t ngx_http_woportal_db_put(ngx_http_woportal_db_t *db,
    ngx_http_woportal_persist_t *p, ngx_log_t *log);
ngx_int_t ngx_http_woportal_db_delete(ngx_http_woportal_db_t *db,
    ngx_http_woportal_persist_t *p, ngx_log_t *log);
ngx_int_t ngx_http_woportal_db_load(ngx_http_woportal_db_t *db,
    ngx_str_t *prefix, u_char *id, ngx_str_t *doc, ngx_log_t *log);
ngx_int_t ngx_http_woportal_db_scan(ngx_http_woportal_db_t *db,
    ngx_str_t *prefix, ngx_http_woportal_scan_pt handler, void *data,
    ngx_log_t *log);
ngx_int_t ngx_http_woportal_db_commit(ngx_http_woportal_db_t *db,
    ngx_http_woportal_persist_t **ps, ngx_int_t *rcs, ngx_uint_t n,
    ngx_log_t *log);
ngx_int_t ngx_http_woportal_db_read_through(ngx_http_woportal_mc_t *mc,
    ngx_http_woportal_persist_t *p, ngx_str_t *key, ngx_str_t *value,
    uint32_t *flags, uint64_t *cas, ngx_log_t *log);


#endif /* _NGX_HTTP_WOPORTAL_DB_H_INCLUDED_ */
