
/*
 * An entry's value in memcached, item flags FORMAT_ENTRY: a small binary
 * header, then the entry's JSON exactly as encode_entry() made it, the
 * "data" a get answers.
 *
 * The header holds what a get needs besides the JSON: the id the value
 * must be, the version for the ETag, and the namespaces the request's key
 * must share.  A get serves the JSON without parsing it: decoding an
 * entry with a long status_history cost a get half its speed, only to
 * pass the bytes on.  What changes an entry (updates, status changes,
 * checked deletions) and lists decode the JSON part, and refuse a value
 * whose header does not agree with it.
 *
 * Nothing guards the JSON's bytes: a checksum over them would cost what
 * parsing did.  The header is checked strictly instead (its lengths add
 * up to the value's exactly, the JSON is an object), so that a value
 * truncated, extended or written over is refused (503), never served.
 * The magic is neither '{' nor an index record's: a JSON entry or a shard
 * under the wrong flags is never read as a header.
 *
 * Layout, little-endian, as the index records (index.c):
 *
 *     0  magic 0xe5       1  format 1          2  JSON length (4)
 *     6  _id (12 bytes)  18  version (8)      26  namespaces (1)
 *    27  each namespace: length (2), bytes; then the JSON
 *
 * FORMAT_JSON values (the JSON alone, written by earlier versions) are
 * still read, and decoded (request.c); the next write of the entry
 * stores it as FORMAT_ENTRY.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_auth.h"
#include "ngx_http_woportal_id.h"
#include "ngx_http_woportal_value.h"


#define NGX_HTTP_WOPORTAL_VALUE_MAGIC   0xe5
#define NGX_HTTP_WOPORTAL_VALUE_FORMAT  1
#define NGX_HTTP_WOPORTAL_VALUE_HEAD    27

/* a namespace is 1 to NS_MAX characters of UTF-8 (decode.c) */
#define NGX_HTTP_WOPORTAL_VALUE_NS_LEN  (4 * NGX_HTTP_WOPORTAL_NS_MAX)

/* decode.c takes versions of up to 18 digits */
#define NGX_HTTP_WOPORTAL_VALUE_VERSION_MAX  999999999999999999ULL




/*
 * The length of e's value with json as its JSON part; 0 when e cannot
 * have one (never for an entry that passed decode.c)
 */

size_t
ngx_http_woportal_value_size(ngx_http_woportal_entry_t *e, size_t json_len)
{
    size_t       size;
    ngx_str_t   *ns;
    ngx_uint_t   i;

    if (e->namespaces.nelts > NGX_HTTP_WOPORTAL_NS_ITEMS
        || json_len > NGX_MAX_UINT32_VALUE)
    {
        return 0;
    }

    size = NGX_HTTP_WOPORTAL_VALUE_HEAD + json_len;
    ns = e->namespaces.elts;

    for (i = 0; i < e->namespaces.nelts; i++) {
        if (ns[i].len == 0 || ns[i].len > NGX_HTTP_WOPORTAL_VALUE_NS_LEN) {
            return 0;
        }

        size += 2 + ns[i].len;
    }

    return size;
}


/* writes the value, value_size() bytes at p: NGX_OK, or NGX_ERROR */

ngx_int_t
ngx_http_woportal_value_write(u_char *p, ngx_http_woportal_entry_t *e,
    ngx_str_t *json)
{
    ngx_str_t   *ns;
    ngx_uint_t   i;

    p[0] = NGX_HTTP_WOPORTAL_VALUE_MAGIC;
    p[1] = NGX_HTTP_WOPORTAL_VALUE_FORMAT;
    ngx_http_woportal_put32(p + 2, (uint32_t) json->len);

    if (ngx_http_woportal_hex_decode(p + 6, e->id, NGX_HTTP_WOPORTAL_ID_LEN)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_woportal_put64(p + 18, e->version);
    p[26] = (u_char) e->namespaces.nelts;
    p += NGX_HTTP_WOPORTAL_VALUE_HEAD;

    ns = e->namespaces.elts;

    for (i = 0; i < e->namespaces.nelts; i++) {
        ngx_http_woportal_put16(p, (uint16_t) ns[i].len);
        p = ngx_cpymem(p + 2, ns[i].data, ns[i].len);
    }

    ngx_memcpy(p, json->data, json->len);

    return NGX_OK;
}


/* e's value, json its JSON part, from the pool: NGX_OK or NGX_ERROR */

ngx_int_t
ngx_http_woportal_value_make(ngx_pool_t *pool, ngx_http_woportal_entry_t *e,
    ngx_str_t *json, ngx_str_t *value)
{
    size_t   size;
    u_char  *p;

    size = ngx_http_woportal_value_size(e, json->len);
    if (size == 0) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(pool, size);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_woportal_value_write(p, e, json) != NGX_OK) {
        return NGX_ERROR;
    }

    value->data = p;
    value->len = size;

    return NGX_OK;
}


/*
 * Opens a FORMAT_ENTRY value that must be the entry id (24 hex digits):
 * NGX_OK with v's fields pointing into the value, or NGX_DECLINED with
 * v->reason when it is not such a value.
 */

ngx_int_t
ngx_http_woportal_value_open(ngx_str_t *value, u_char *id,
    ngx_http_woportal_stored_t *v)
{
    u_char      *p, *last;
    u_char       bin[NGX_HTTP_WOPORTAL_ID_LEN / 2];
    size_t       len;
    uint32_t     json_len;
    ngx_uint_t   i;

    /* an empty value may have no data at all: NULL + 0 is undefined */

    if (value->len < NGX_HTTP_WOPORTAL_VALUE_HEAD) {
        v->reason = "it is shorter than an entry's header";
        return NGX_DECLINED;
    }

    p = value->data;
    last = p + value->len;

    if (p[0] != NGX_HTTP_WOPORTAL_VALUE_MAGIC
        || p[1] != NGX_HTTP_WOPORTAL_VALUE_FORMAT)
    {
        v->reason = "it does not start with an entry's header";
        return NGX_DECLINED;
    }

    if (ngx_http_woportal_hex_decode(bin, id, NGX_HTTP_WOPORTAL_ID_LEN)
        != NGX_OK
        || ngx_memcmp(bin, p + 6, sizeof(bin)) != 0)
    {
        v->reason = "its header holds another entry's id";
        return NGX_DECLINED;
    }

    json_len = ngx_http_woportal_get32(p + 2);
    v->id = p + 6;
    v->version = ngx_http_woportal_get64(p + 18);
    v->nns = p[26];

    if (v->version == 0
        || v->version > NGX_HTTP_WOPORTAL_VALUE_VERSION_MAX)
    {
        v->reason = "its header's version is not one";
        return NGX_DECLINED;
    }

    if (v->nns > NGX_HTTP_WOPORTAL_NS_ITEMS) {
        v->reason = "its header has too many namespaces";
        return NGX_DECLINED;
    }

    p += NGX_HTTP_WOPORTAL_VALUE_HEAD;
    v->ns = p;

    for (i = 0; i < v->nns; i++) {
        if (last - p < 2) {
            v->reason = "its header's namespaces run past its end";
            return NGX_DECLINED;
        }

        len = ngx_http_woportal_get16(p);

        if (len == 0 || len > NGX_HTTP_WOPORTAL_VALUE_NS_LEN) {
            v->reason = "its header has a namespace of a wrong length";
            return NGX_DECLINED;
        }

        if ((size_t) (last - p) - 2 < len) {
            v->reason = "its header's namespaces run past its end";
            return NGX_DECLINED;
        }

        p += 2 + len;
    }

    /* a value cut short, or with more after it, is not the one stored */

    if ((size_t) (last - p) != json_len) {
        v->reason = "its length is not its header's and its JSON's";
        return NGX_DECLINED;
    }

    if (json_len < 2 || p[0] != '{' || last[-1] != '}') {
        v->reason = "its JSON is not an object";
        return NGX_DECLINED;
    }

    v->json.data = p;
    v->json.len = json_len;

    return NGX_OK;
}


/* whether the key sees the entry: key_sees() on the header's namespaces */

ngx_uint_t
ngx_http_woportal_value_visible(ngx_http_woportal_key_t *key,
    ngx_http_woportal_stored_t *v)
{
    u_char      *p;
    size_t       len;
    ngx_uint_t   i;

    if (key->namespaces == NULL) {
        return 1;
    }

    p = v->ns;

    for (i = 0; i < v->nns; i++) {
        len = ngx_http_woportal_get16(p);

        if (ngx_http_woportal_key_allows(key, p + 2, len)) {
            return 1;
        }

        p += 2 + len;
    }

    return 0;
}


/*
 * Whether the header says what the JSON part, decoded into e, does: a
 * value whose header lies about the entry is corrupt, as one whose JSON
 * does not decode
 */

ngx_uint_t
ngx_http_woportal_value_agrees(ngx_http_woportal_stored_t *v,
    ngx_http_woportal_entry_t *e)
{
    u_char      *p;
    u_char       bin[NGX_HTTP_WOPORTAL_ID_LEN / 2];
    size_t       len;
    ngx_str_t   *ns;
    ngx_uint_t   i;

    if (v->version != e->version
        || v->nns != e->namespaces.nelts
        || ngx_http_woportal_hex_decode(bin, e->id, NGX_HTTP_WOPORTAL_ID_LEN)
           != NGX_OK
        || ngx_memcmp(bin, v->id, sizeof(bin)) != 0)
    {
        return 0;
    }

    p = v->ns;
    ns = e->namespaces.elts;

    for (i = 0; i < v->nns; i++) {
        len = ngx_http_woportal_get16(p);

        if (len != ns[i].len || ngx_memcmp(p + 2, ns[i].data, len) != 0) {
            return 0;
        }

        p += 2 + len;
    }

    return 1;
}






