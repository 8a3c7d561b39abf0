
/*
 * commit.c: the writes of woportal_persist_mode sync, committed together
 */


#ifndef _NGX_HTTP_WOPORTAL_COMMIT_H_INCLUDED_
#define _NGX_HTTP_WOPORTAL_COMMIT_H_INCLUDED_


#include "ngx_http_woportal.h"


ngx_int_t ngx_http_woportal_commit_post(ngx_http_woportal_call_t *call,
    ngx_thread_pool_t *tp);


#endif /* _NGX_HTTP_WOPORTAL_COMMIT_H_INCLUDED_ */
