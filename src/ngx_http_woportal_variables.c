
/*
 * Variables for log_format, add_header and the like: what a woportal
 * request did.  Each is "not found" (logged as "-") when the request did
 * not get that far, or is not a woportal request.
 *
 *     $woportal_op          list, create, get, update, delete, status,
 *                           options, openapi
 *     $woportal_id          the entry's id (a create: the new one)
 *     $woportal_error       the error code of the envelope answered
 *     $woportal_store_time  the time of its store calls, in seconds with
 *                           milliseconds, as $upstream_response_time
 *     $woportal_key_name    the name of the API key it was let in with
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_encode.h"
#include "ngx_http_woportal_variables.h"


/* what a variable's data selects */
typedef enum {
    NGX_HTTP_WOPORTAL_VAR_OP = 0,
    NGX_HTTP_WOPORTAL_VAR_ID,
    NGX_HTTP_WOPORTAL_VAR_ERROR,
    NGX_HTTP_WOPORTAL_VAR_STORE_TIME,
    NGX_HTTP_WOPORTAL_VAR_KEY_NAME
} ngx_http_woportal_var_e;


static ngx_int_t ngx_http_woportal_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


/* by ngx_http_woportal_op_e; "" for none */

ngx_str_t  ngx_http_woportal_request_ops[] = {
    ngx_null_string,
    ngx_string("list"),
    ngx_string("create"),
    ngx_string("get"),
    ngx_string("update"),
    ngx_string("delete"),
    ngx_string("status"),
    ngx_string("options"),
    ngx_string("openapi")
};


static ngx_http_variable_t  ngx_http_woportal_variables[] = {

    { ngx_string("woportal_op"), NULL,
      ngx_http_woportal_variable, NGX_HTTP_WOPORTAL_VAR_OP,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("woportal_id"), NULL,
      ngx_http_woportal_variable, NGX_HTTP_WOPORTAL_VAR_ID,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("woportal_error"), NULL,
      ngx_http_woportal_variable, NGX_HTTP_WOPORTAL_VAR_ERROR,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("woportal_store_time"), NULL,
      ngx_http_woportal_variable, NGX_HTTP_WOPORTAL_VAR_STORE_TIME,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("woportal_key_name"), NULL,
      ngx_http_woportal_variable, NGX_HTTP_WOPORTAL_VAR_KEY_NAME,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


/* preconfiguration: before log_format and friends refer to them */

ngx_int_t
ngx_http_woportal_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_woportal_variables; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/* the code of the error envelope a request is answered with */

void
ngx_http_woportal_set_error(ngx_http_request_t *r,
    ngx_http_woportal_code_e code)
{
    ngx_http_woportal_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_woportal_module);

    if (ctx) {
        ctx->error = code;
        ctx->failed = 1;
    }
}


/* every variable: data selects which */

static ngx_int_t
ngx_http_woportal_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                   *p;
    uint64_t                  ms;
    ngx_str_t                 s;
    ngx_http_woportal_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_woportal_module);

    if (ctx == NULL) {
        goto not_found;
    }

    switch (data) {

    case NGX_HTTP_WOPORTAL_VAR_OP:
        if (ctx->op == NGX_HTTP_WOPORTAL_OP_NONE
            || ctx->op >= NGX_HTTP_WOPORTAL_OP_COUNT)
        {
            goto not_found;
        }

        s = ngx_http_woportal_request_ops[ctx->op];
        break;

    case NGX_HTTP_WOPORTAL_VAR_ID:
        /*
         * only a well-formed id: a malformed one is in $uri for whoever
         * wants it
         */

        if (ctx->id.len == 0) {
            goto not_found;
        }

        s = ctx->id;
        break;

    case NGX_HTTP_WOPORTAL_VAR_ERROR:
        if (!ctx->failed) {
            goto not_found;
        }

        s = ngx_http_woportal_codes[ctx->error];
        break;

    case NGX_HTTP_WOPORTAL_VAR_STORE_TIME:
        /* the sum of the request's store calls, from post to completion */

        if (!ctx->stored) {
            goto not_found;
        }

        p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN + 4);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ms = ctx->store_us / 1000;

        s.data = p;
        s.len = ngx_sprintf(p, "%uL.%03uL", ms / 1000, ms % 1000) - p;
        break;

    default: /* NGX_HTTP_WOPORTAL_VAR_KEY_NAME */
        /* ctx->key is set by auth.c once a key let the request in */

        if (ctx->key == NULL || ctx->key->name.len == 0) {
            goto not_found;
        }

        s = ctx->key->name;
    }

    v->len = s.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = s.data;

    return NGX_OK;

not_found:

    v->not_found = 1;

    return NGX_OK;
}
