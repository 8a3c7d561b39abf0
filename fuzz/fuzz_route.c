
/*
 * fuzz_route: the path router.  Input: one byte that picks the location
 * (modulo 4; the seeds use the digits '0' to '3'), then the URI:
 *
 *     0  /api/v1/workorder-portal   (the example configuration)
 *     1  ""                         (location /)
 *     2  /wo
 *     3  the input's own location: the bytes up to the first '\n' (cut at
 *        a NUL: nginx.conf cannot hold one), then the URI
 *
 * The router's answer is compared with a second, differently written
 * reading of the rules (the comment of route.c):
 *
 *     ""  "/"               the collection
 *     "/{id}"               an entry           ({id}: 1+ bytes, no '/')
 *     "/{id}/status"        an entry's status
 *
 * and id_valid must be set exactly for 24 lowercase hex digits.
 */


#include "fuzz.h"


static ngx_str_t  fuzz_bases[] = {
    ngx_string("/api/v1/workorder-portal"),
    ngx_string(""),
    ngx_string("/wo")
};


static ngx_http_woportal_target_e
fuzz_expect(ngx_str_t *base, ngx_str_t *uri, ngx_str_t *id)
{
    u_char  *rest;
    size_t   len, i, slashes;

    static u_char  status[] = "/status";

    ngx_str_null(id);

    if (uri->len < base->len
        || (base->len && ngx_memcmp(uri->data, base->data, base->len) != 0))
    {
        return NGX_HTTP_WOPORTAL_NOWHERE;
    }

    rest = uri->data + base->len;
    len = uri->len - base->len;

    if (len == 0 || (len == 1 && rest[0] == '/')) {
        return NGX_HTTP_WOPORTAL_COLLECTION;
    }

    if (rest[0] != '/') {
        return NGX_HTTP_WOPORTAL_NOWHERE;
    }

    slashes = 0;

    for (i = 0; i < len; i++) {
        slashes += (rest[i] == '/');
    }

    if (slashes == 1) {
        id->data = rest + 1;
        id->len = len - 1;
        return NGX_HTTP_WOPORTAL_ITEM;
    }

    if (slashes == 2 && len > sizeof(status)
        && ngx_memcmp(rest + len - (sizeof(status) - 1), status,
                      sizeof(status) - 1) == 0)
    {
        id->data = rest + 1;
        id->len = len - 1 - (sizeof(status) - 1);
        return NGX_HTTP_WOPORTAL_ITEM_STATUS;
    }

    return NGX_HTTP_WOPORTAL_NOWHERE;
}


static ngx_uint_t
fuzz_hex24(ngx_str_t *id)
{
    size_t  i;

    if (id->len != 24) {
        return 0;
    }

    for (i = 0; i < id->len; i++) {
        if (ngx_strchr("0123456789abcdef", id->data[i]) == NULL
            || id->data[i] == '\0')
        {
            return 0;
        }
    }

    return 1;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t                       n;
    ngx_str_t                    base, uri, id;
    ngx_uint_t                   mode;
    ngx_pool_t                  *pool;
    const uint8_t               *nl, *nul;
    ngx_http_woportal_route_t    rt;
    ngx_http_woportal_target_e   want;

    if (size < 1) {
        return 0;
    }

    mode = data[0] % 4;
    data++;
    size--;

    pool = fuzz_pool();

    if (mode < 3) {
        base = fuzz_bases[mode];

    } else {
        nl = memchr(data, '\n', size);
        n = nl ? (size_t) (nl - data) : 0;

        nul = memchr(data, '\0', n);
        if (nul) {
            n = nul - data;
        }

        fuzz_copy(pool, &base, data, n, 1);

        if (nl) {
            size -= nl + 1 - data;
            data = nl + 1;
        }
    }

    fuzz_copy(pool, &uri, data, size, 1);

    ngx_memset(&rt, 0xa5, sizeof(ngx_http_woportal_route_t));

    ngx_http_woportal_route(&base, &uri, &rt);

    want = fuzz_expect(&base, &uri, &id);

    if (fuzz_verbose) {
        fprintf(stderr, "route: target %d, id_valid %d\n", (int) rt.target,
                (int) rt.id_valid);
    }

    if (rt.target != want) {
        fuzz_dump("location", &base);
        fuzz_dump("uri", &uri);
        fuzz_check(rt.target == want, "routed to %d, expected %d",
                   (int) rt.target, (int) want);
    }

    if (want == NGX_HTTP_WOPORTAL_ITEM
        || want == NGX_HTTP_WOPORTAL_ITEM_STATUS)
    {
        if (rt.id.data != id.data || rt.id.len != id.len) {
            fuzz_dump("uri", &uri);
            fuzz_dump("routed id", &rt.id);
            fuzz_dump("expected id", &id);
            fuzz_check(0, "the id is not the expected slice of the uri");
        }

        fuzz_check(rt.id_valid == fuzz_hex24(&id),
                   "id_valid %d for a %zu-byte id", (int) rt.id_valid,
                   id.len);

    } else {
        fuzz_check(rt.id_valid == 0, "id_valid without an entry target");
    }

    ngx_destroy_pool(pool);

    return 0;
}
