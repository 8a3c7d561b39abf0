
/*
 * API keys: the first check of every request in a woportal location.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"


static ngx_table_elt_t *ngx_http_woportal_find_header(ngx_http_request_t *r,
    ngx_str_t *name);
static ngx_uint_t ngx_http_woportal_keys_equal(ngx_str_t *a, ngx_str_t *b);


ngx_int_t
ngx_http_woportal_authorized(ngx_http_request_t *r,
    ngx_http_woportal_loc_conf_t *wlcf)
{
    ngx_uint_t        i, found;
    ngx_str_t        *keys;
    ngx_table_elt_t  *h;

    h = ngx_http_woportal_find_header(r, &wlcf->api_key_header);

    if (h == NULL || wlcf->api_keys == NULL) {
        return 0;
    }

    keys = wlcf->api_keys->elts;
    found = 0;

    /* every key is compared, so the time taken tells nothing */

    for (i = 0; i < wlcf->api_keys->nelts; i++) {
        found |= ngx_http_woportal_keys_equal(&h->value, &keys[i]);
    }

    return found;
}


ngx_int_t
ngx_http_woportal_auth_check_key(ngx_conf_t *cf, ngx_str_t *key)
{
    u_char  *p, *last;

    if (key->len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "empty API key");
        return NGX_ERROR;
    }

    last = key->data + key->len;

    for (p = key->data; p < last; p++) {
        if (*p <= ' ' || *p >= 0x7f) {
            /* do not echo the key itself into the log */
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "API key holds a character that cannot be "
                               "sent in an HTTP header value");
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_table_elt_t *
ngx_http_woportal_find_header(ngx_http_request_t *r, ngx_str_t *name)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == name->len
            && ngx_strncasecmp(h[i].key.data, name->data, name->len) == 0)
        {
            return &h[i];
        }
    }
}


/* constant time in the length of the configured key */

static ngx_uint_t
ngx_http_woportal_keys_equal(ngx_str_t *given, ngx_str_t *key)
{
    size_t      i;
    ngx_uint_t  diff;

    diff = given->len ^ key->len;

    for (i = 0; i < key->len; i++) {
        diff |= key->data[i] ^ (i < given->len ? given->data[i] : 0);
    }

    return diff == 0;
}
