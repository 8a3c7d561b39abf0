
/*
 * Request bodies: the media type check and the body as one buffer,
 * whether nginx kept it in memory or spilled it to a temporary file.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_body.h"


/* "application/json", any case, parameters ignored */

ngx_int_t
ngx_http_woportal_is_json(ngx_http_request_t *r)
{
    u_char      *p, *last;
    ngx_str_t    type;

    if (r->headers_in.content_type == NULL) {
        return 0;
    }

    p = r->headers_in.content_type->value.data;
    last = p + r->headers_in.content_type->value.len;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    type.data = p;

    while (p < last && *p != ';' && *p != ' ' && *p != '\t') {
        p++;
    }

    type.len = p - type.data;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    if (p != last && *p != ';') {
        return 0;
    }

    return type.len == sizeof("application/json") - 1
           && ngx_strncasecmp(type.data, (u_char *) "application/json",
                              type.len)
              == 0;
}


ngx_int_t
ngx_http_woportal_body(ngx_http_request_t *r, ngx_str_t *body)
{
    off_t         len;
    u_char       *p;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    ngx_str_null(body);

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    if (len == 0) {
        return NGX_OK;
    }

    /* nginx already refused bodies over client_max_body_size */

    body->data = ngx_pnalloc(r->pool, (size_t) len);
    if (body->data == NULL) {
        return NGX_ERROR;
    }

    p = body->data;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            n = ngx_read_file(b->file, p, (size_t) (b->file_last - b->file_pos),
                              b->file_pos);

            if (n != b->file_last - b->file_pos) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "woportal: short read of the body from \"%V\"",
                              &b->file->name);
                return NGX_ERROR;
            }

            p += n;
            continue;
        }

        if (b->last != b->pos) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
        }
    }

    body->len = p - body->data;

    return NGX_OK;
}
