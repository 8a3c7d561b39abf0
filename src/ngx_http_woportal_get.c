
/*
 * GET and HEAD /{id}: one memcached get.  The entry is answered as it is
 * stored, the compact JSON encode_entry() made, and not parsed: the
 * value's header (value.c) says it is this entry, its version (the ETag)
 * and its namespaces (the key's tenancy).  A value that is not this entry
 * is never served.  An entry stored as plain JSON (FORMAT_JSON, before
 * the header) is decoded for the same.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_get.h"
#include "ngx_http_woportal_request.h"
#include "ngx_http_woportal_response.h"
#include "ngx_http_woportal_value.h"


static void ngx_http_woportal_get_done(ngx_http_woportal_call_t *call);
static ngx_int_t ngx_http_woportal_get_json(ngx_http_request_t *r,
    ngx_str_t *data, ngx_str_t *json);


ngx_int_t
ngx_http_woportal_get(ngx_http_request_t *r, ngx_http_woportal_ctx_t *ctx)
{
    ngx_int_t  rc;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_woportal_call(r, ctx, NGX_HTTP_WOPORTAL_STORE_GET,
                                  ngx_http_woportal_get_done);
}


static void
ngx_http_woportal_get_done(ngx_http_woportal_call_t *call)
{
    ngx_int_t                   rc;
    ngx_str_t                   json;
    ngx_http_request_t         *r;
    ngx_http_woportal_ctx_t    *ctx;
    ngx_http_woportal_stored_t  v;

    r = call->request;
    ctx = ngx_http_get_module_ctx(r, ngx_http_woportal_module);

    rc = ngx_http_woportal_stored_value(r, ctx, &v);

    if (rc != NGX_OK) {
        rc = ngx_http_woportal_not_stored(r, rc);

    } else if (r->headers_in.if_none_match
               && ngx_http_woportal_etag_matches(r->headers_in.if_none_match,
                                                 v.version, 1))
    {
        rc = ngx_http_woportal_send(r, NGX_HTTP_NOT_MODIFIED, NULL,
                                    v.version);

    } else if (ngx_http_woportal_get_json(r, &v.json, &json) != NGX_OK) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;

    } else {
        rc = ngx_http_woportal_send(r, NGX_HTTP_OK, &json, v.version);
    }

    ngx_http_woportal_finish(r, rc);
}


/* {"success":true,"data":<the stored entry>} */

static ngx_int_t
ngx_http_woportal_get_json(ngx_http_request_t *r, ngx_str_t *data,
    ngx_str_t *json)
{
    u_char  *p;

    static u_char  head[] = "{\"success\":true,\"data\":";

    p = ngx_pnalloc(r->pool, sizeof(head) - 1 + data->len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    json->data = p;
    p = ngx_cpymem(p, head, sizeof(head) - 1);
    p = ngx_cpymem(p, data->data, data->len);
    *p++ = '}';
    json->len = p - json->data;

    return NGX_OK;
}
