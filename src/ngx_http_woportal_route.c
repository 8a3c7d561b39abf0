
/*
 * The router: the part of the URI after the location names the target.
 *
 *     ""  "/"               the collection
 *     "/{id}"               an entry
 *     "/{id}/status"        an entry's status
 *
 * Anything else goes nowhere (404).  The id is only checked for shape
 * here; a malformed one is answered 404 without a store lookup.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_id.h"
#include "ngx_http_woportal_route.h"


void
ngx_http_woportal_route(ngx_str_t *base, ngx_str_t *uri,
    ngx_http_woportal_route_t *rt)
{
    u_char  *p, *last, *slash;

    ngx_memzero(rt, sizeof(ngx_http_woportal_route_t));

    if (uri->len < base->len
        || ngx_strncmp(uri->data, base->data, base->len) != 0)
    {
        return;
    }

    p = uri->data + base->len;
    last = uri->data + uri->len;

    if (p == last || (p + 1 == last && *p == '/')) {
        rt->target = NGX_HTTP_WOPORTAL_COLLECTION;
        return;
    }

    if (*p != '/') {
        /* "/api/v1/workorder-portalx" matched the prefix location */
        return;
    }

    p++;

    slash = ngx_strlchr(p, last, '/');

    rt->id.data = p;
    rt->id.len = (slash ? slash : last) - p;

    if (rt->id.len == 0) {
        return;
    }

    if (slash == NULL) {
        rt->target = NGX_HTTP_WOPORTAL_ITEM;

    } else if (last - slash == sizeof("/status") - 1
               && ngx_strncmp(slash, "/status", sizeof("/status") - 1) == 0)
    {
        rt->target = NGX_HTTP_WOPORTAL_ITEM_STATUS;

    } else {
        return;
    }

    rt->id_valid = ngx_http_woportal_id_valid(&rt->id);
}
