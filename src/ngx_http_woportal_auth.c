
/*
 * API keys: the first check of every request in a woportal location, and
 * the company namespaces a key may see and write.
 *
 * Keys come from "woportal_api_key <key> [<name>]" (every namespace) and
 * from "woportal_api_keys <file>", one key a line:
 *
 *     <name> <sha256 hex of the key> <namespace>[,<namespace>...] | *
 *
 * Only SHA-256 digests are kept.  A request's key is hashed once and its
 * digest looked up among the configured ones: nothing of what the time
 * taken depends on brings anyone nearer to a key.
 *
 * A key with namespaces sees an entry when they share one; an entry it
 * does not see is answered exactly as a missing one (404).  It may change
 * the fields of an entry it sees; what would take the entry from another
 * tenant (deleting it, making it final, changing its namespaces) needs
 * every namespace of the entry (403).
 *
 * Two header lines of the key, or a value with a comma (a list, as two
 * lines may be joined), are ambiguous: no key (401).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_auth.h"
#include "ngx_http_woportal_entry.h"
#include "ngx_http_woportal_id.h"


#define NGX_HTTP_WOPORTAL_KEY_NAME_MAX  64


static ngx_int_t ngx_http_woportal_sha256(u_char *data, size_t len,
    u_char *digest);
static int ngx_libc_cdecl ngx_http_woportal_key_cmp(const void *one,
    const void *two);
static int ngx_libc_cdecl ngx_http_woportal_name_cmp(const void *one,
    const void *two);
static ngx_int_t ngx_http_woportal_keys_line(ngx_conf_t *cf,
    ngx_array_t *keys, u_char *p, u_char *last, ngx_str_t *file,
    ngx_uint_t line);
static char *ngx_http_woportal_keys_field(u_char **pp, u_char *last,
    ngx_str_t *field);
static char *ngx_http_woportal_keys_namespaces(ngx_conf_t *cf,
    ngx_str_t *field, ngx_array_t **namespaces);
static ngx_http_woportal_key_t *ngx_http_woportal_key_push(ngx_conf_t *cf,
    ngx_array_t *keys, ngx_str_t *name, u_char *digest, char **reason);
static ngx_int_t ngx_http_woportal_forbidden(ngx_pool_t *pool,
    ngx_http_woportal_key_t *key, ngx_array_t *namespaces, char *stored,
    ngx_http_woportal_error_t *err);
static ngx_int_t ngx_http_woportal_key_detail(ngx_pool_t *pool,
    ngx_http_woportal_error_t *err, char *field, size_t index,
    char *message);


/* SHA-256 of "": no key may be empty */
static u_char  ngx_http_woportal_empty_digest[] = {
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14,
    0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
    0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55
};


/*
 * The key of the request, NULL when it has none or an unknown one.  The
 * digests are sorted (ngx_http_woportal_auth_sort()), so the search takes
 * log2(keys) steps.  The order of the steps depends on SHA-256 digests
 * only, and learning how a digest compares to a key's digest gets nobody
 * nearer to the key (that would take a preimage of SHA-256); the key's
 * own digest is then compared whole, in constant time.
 */

ngx_http_woportal_key_t *
ngx_http_woportal_authorized(ngx_http_request_t *r,
    ngx_http_woportal_loc_conf_t *wlcf)
{
    u_char                    digest[SHA256_DIGEST_LENGTH];
    ngx_int_t                 c;
    ngx_uint_t                lo, hi, mid, n;
    ngx_table_elt_t          *h;
    ngx_http_woportal_key_t  *keys;

    h = ngx_http_woportal_header_in(r, &wlcf->api_key_header, &n);

    if (h == NULL || wlcf->api_keys == NULL) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "woportal auth: no key");
        return NULL;
    }

    if (n > 1
        || ngx_strlchr(h->value.data, h->value.data + h->value.len, ',')
           != NULL)
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "woportal auth: ambiguous key: %ui header lines, "
                       "or a list", n);
        return NULL;
    }

    if (ngx_http_woportal_sha256(h->value.data, h->value.len, digest)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "woportal: SHA-256 failed");
        return NULL;
    }

    keys = wlcf->api_keys->elts;
    lo = 0;
    hi = wlcf->api_keys->nelts;

    while (hi - lo > 1) {
        mid = lo + (hi - lo) / 2;
        c = ngx_memcmp(digest, keys[mid].digest, SHA256_DIGEST_LENGTH);

        if (c < 0) {
            hi = mid;

        } else {
            lo = mid;
        }
    }

    if (lo < hi
        && CRYPTO_memcmp(digest, keys[lo].digest, SHA256_DIGEST_LENGTH)
           == 0)
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "woportal auth: key \"%V\"", &keys[lo].name);
        return &keys[lo];
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "woportal auth: unknown key");

    return NULL;
}


/*
 * EVP_Digest() with EVP_sha256(): OpenSSL 3's SHA256() looks the algorithm
 * up anew on every call, which takes four times as long.
 */

static ngx_int_t
ngx_http_woportal_sha256(u_char *data, size_t len, u_char *digest)
{
    if (EVP_Digest(data, len, digest, NULL, EVP_sha256(), NULL) != 1) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * After each directive that adds keys: a name or a key given twice fails
 * the configuration, and the keys are left in the order of their digests,
 * for the search.  Sorting finds the twins of 20000 keys in milliseconds.
 */

ngx_int_t
ngx_http_woportal_auth_sort(ngx_conf_t *cf, ngx_array_t *keys)
{
    ngx_uint_t                i;
    ngx_http_woportal_key_t  *k;

    k = keys->elts;

    ngx_qsort(k, keys->nelts, sizeof(ngx_http_woportal_key_t),
              ngx_http_woportal_name_cmp);

    for (i = 1; i < keys->nelts; i++) {
        if (ngx_http_woportal_name_cmp(&k[i - 1], &k[i]) == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "two API keys are named \"%V\"", &k[i].name);
            return NGX_ERROR;
        }
    }

    ngx_qsort(k, keys->nelts, sizeof(ngx_http_woportal_key_t),
              ngx_http_woportal_key_cmp);

    for (i = 1; i < keys->nelts; i++) {
        if (ngx_http_woportal_key_cmp(&k[i - 1], &k[i]) == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "API keys \"%V\" and \"%V\" are the same key",
                               &k[i - 1].name, &k[i].name);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static int ngx_libc_cdecl
ngx_http_woportal_key_cmp(const void *one, const void *two)
{
    const ngx_http_woportal_key_t  *a = one;
    const ngx_http_woportal_key_t  *b = two;

    return ngx_memcmp(a->digest, b->digest, SHA256_DIGEST_LENGTH);
}


static int ngx_libc_cdecl
ngx_http_woportal_name_cmp(const void *one, const void *two)
{
    const ngx_http_woportal_key_t  *a = one;
    const ngx_http_woportal_key_t  *b = two;

    if (a->name.len != b->name.len) {
        return (a->name.len < b->name.len) ? -1 : 1;
    }

    return ngx_memcmp(a->name.data, b->name.data, a->name.len);
}


/* woportal_api_key <key> [<name>]: a key for every namespace */

ngx_int_t
ngx_http_woportal_auth_add_key(ngx_conf_t *cf, ngx_array_t *keys,
    ngx_str_t *key, ngx_str_t *name)
{
    u_char                    digest[SHA256_DIGEST_LENGTH];
    u_char                   *p, *last;
    char                     *reason;
    ngx_http_woportal_key_t  *k;

    if (key->len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "empty API key");
        return NGX_ERROR;
    }

    last = key->data + key->len;

    for (p = key->data; p < last; p++) {
        if (*p <= ' ' || *p >= 0x7f) {
            /* the key itself is never written to a log */
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "API key holds a character that cannot be "
                               "sent in an HTTP header value");
            return NGX_ERROR;
        }

        if (*p == ',') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "API key holds a comma: a key sent with one "
                               "is taken for a list, and refused");
            return NGX_ERROR;
        }
    }

    if (ngx_http_woportal_sha256(key->data, key->len, digest) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "SHA-256 failed");
        return NGX_ERROR;
    }

    k = ngx_http_woportal_key_push(cf, keys, name, digest, &reason);

    if (k == NULL) {
        if (reason) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "API key: %s", reason);
        }

        return NGX_ERROR;
    }

    return NGX_OK;
}


/* woportal_api_keys <file>: every key of the file */

ngx_int_t
ngx_http_woportal_auth_read_keys(ngx_conf_t *cf, ngx_array_t *keys,
    ngx_str_t *name)
{
    u_char           *buf, *p, *eol, *last;
    size_t            size;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_str_t         file;
    ngx_uint_t        line, before;
    ngx_file_t        f;
    ngx_file_info_t   fi;

    file = *name;

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    fd = ngx_open_file(file.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &file);
        return NGX_ERROR;
    }

    ngx_memzero(&f, sizeof(ngx_file_t));
    f.fd = fd;
    f.name = file;
    f.log = cf->log;

    buf = NULL;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", &file);
        goto failed;
    }

    size = (size_t) ngx_file_size(&fi);

    buf = ngx_pnalloc(cf->temp_pool, size + 1);
    if (buf == NULL) {
        goto failed;
    }

    n = ngx_read_file(&f, buf, size, 0);

    if (n != (ssize_t) size) {
        if (n != NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" changed while it was read", &file);
        }

        goto failed;
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           ngx_close_file_n " \"%V\" failed", &file);
    }

    before = keys->nelts;
    last = buf + size;
    line = 0;

    for (p = buf; p < last; p = eol + 1) {
        line++;

        eol = ngx_strlchr(p, last, '\n');
        if (eol == NULL) {
            eol = last;
        }

        if (ngx_http_woportal_keys_line(cf, keys, p, eol, &file, line)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (keys->nelts == before) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" holds no key",
                           &file);
        return NGX_ERROR;
    }

    return NGX_OK;

failed:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           ngx_close_file_n " \"%V\" failed", &file);
    }

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_woportal_keys_line(ngx_conf_t *cf, ngx_array_t *keys, u_char *p,
    u_char *last, ngx_str_t *file, ngx_uint_t line)
{
    u_char                    digest[SHA256_DIGEST_LENGTH];
    char                     *reason;
    ngx_str_t                 field[3], extra;
    ngx_uint_t                i;
    ngx_http_woportal_key_t  *k;

    reason = NULL;

    for (i = 0; i < 3; i++) {
        reason = ngx_http_woportal_keys_field(&p, last, &field[i]);

        if (reason != NULL) {
            goto invalid;
        }

        if (field[i].len == 0) {
            if (i == 0) {
                /* a blank line or a comment */
                return NGX_OK;
            }

            reason = "expected \"<name> <sha256 hex of the key> "
                     "<namespaces>\"";
            goto invalid;
        }
    }

    reason = ngx_http_woportal_keys_field(&p, last, &extra);

    if (reason == NULL && extra.len) {
        reason = "expected \"<name> <sha256 hex of the key> "
                 "<namespaces>\", and more follows";
    }

    if (reason != NULL) {
        goto invalid;
    }

    ngx_strlow(field[1].data, field[1].data, field[1].len);

    if (field[1].len != 2 * SHA256_DIGEST_LENGTH
        || ngx_http_woportal_hex_decode(digest, field[1].data,
                                        field[1].len)
           != NGX_OK)
    {
        reason = "the key's digest must be 64 hex digits (SHA-256)";
        goto invalid;
    }

    k = ngx_http_woportal_key_push(cf, keys, &field[0], digest, &reason);

    if (k == NULL) {
        if (reason == NULL) {
            return NGX_ERROR;
        }

        goto invalid;
    }

    reason = ngx_http_woportal_keys_namespaces(cf, &field[2],
                                               &k->namespaces);

    if (reason == NULL) {
        return NGX_OK;
    }

    if (reason == NGX_CONF_ERROR) {
        return NGX_ERROR;
    }

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid key in \"%V\" line %ui: "
                       "%s", file, line, reason);

    return NGX_ERROR;
}


/*
 * The next blank-separated field of a line, empty at its end or at a
 * comment ('#' that starts a field); NULL, or what is wrong.
 */

static char *
ngx_http_woportal_keys_field(u_char **pp, u_char *last, ngx_str_t *field)
{
    u_char  *p;

    p = *pp;

    while (p < last && (*p == ' ' || *p == '\t' || *p == '\r')) {
        p++;
    }

    field->data = p;

    if (p == last || *p == '#') {
        field->len = 0;
        *pp = last;
        return NULL;
    }

    while (p < last && *p != ' ' && *p != '\t' && *p != '\r') {
        if (*p < ' ' || *p == 0x7f) {
            return "a control character";
        }

        p++;
    }

    field->len = p - field->data;
    *pp = p;

    return NULL;
}


/* "*", or namespaces separated by commas */

static char *
ngx_http_woportal_keys_namespaces(ngx_conf_t *cf, ngx_str_t *field,
    ngx_array_t **namespaces)
{
    u_char     *p, *comma, *last;
    ngx_str_t  *ns;

    if (field->len == 1 && field->data[0] == '*') {
        *namespaces = NULL;
        return NULL;
    }

    *namespaces = ngx_array_create(cf->pool, 1, sizeof(ngx_str_t));
    if (*namespaces == NULL) {
        return NGX_CONF_ERROR;
    }

    last = field->data + field->len;

    for (p = field->data; p <= last; p = comma + 1) {
        comma = ngx_strlchr(p, last, ',');
        if (comma == NULL) {
            comma = last;
        }

        if (comma == p) {
            return "an empty namespace";
        }

        if (comma - p == 1 && *p == '*') {
            return "\"*\" stands alone: it means every namespace";
        }

        if (ngx_http_woportal_utf8_chars(p, comma - p)
            > NGX_HTTP_WOPORTAL_NS_MAX)
        {
            return "a namespace of more than 128 characters";
        }

        ns = ngx_array_push(*namespaces);
        if (ns == NULL) {
            return NGX_CONF_ERROR;
        }

        /* the file's buffer is freed with the configuration's temp pool */

        ns->data = p;
        ns->len = comma - p;
        ns->data = ngx_pstrdup(cf->pool, ns);
        if (ns->data == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    return NULL;
}


/*
 * A new key: NULL with *reason when the name or digest cannot be taken,
 * NULL alone when out of memory.  The name and digest are copied.
 */

static ngx_http_woportal_key_t *
ngx_http_woportal_key_push(ngx_conf_t *cf, ngx_array_t *keys,
    ngx_str_t *name, u_char *digest, char **reason)
{
    u_char                   *p, *last;
    ngx_http_woportal_key_t  *k;

    *reason = NULL;

    if (name->len == 0 || name->len > NGX_HTTP_WOPORTAL_KEY_NAME_MAX) {
        *reason = "a key's name has 1 to 64 characters";
        return NULL;
    }

    last = name->data + name->len;

    for (p = name->data; p < last; p++) {
        if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '\\') {
            *reason = "a key's name is printable ASCII, without blanks, "
                      "quotes or backslashes";
            return NULL;
        }
    }

    if (ngx_memcmp(digest, ngx_http_woportal_empty_digest,
                   SHA256_DIGEST_LENGTH)
        == 0)
    {
        *reason = "that is the digest of an empty key";
        return NULL;
    }

    /* a name or key given twice: ngx_http_woportal_auth_sort() */

    k = ngx_array_push(keys);
    if (k == NULL) {
        return NULL;
    }

    k->name.data = ngx_pstrdup(cf->pool, name);
    if (k->name.data == NULL) {
        return NULL;
    }

    k->name.len = name->len;
    ngx_memcpy(k->digest, digest, SHA256_DIGEST_LENGTH);
    k->namespaces = NULL;

    return k;
}


/* whether a key may see and write a namespace */

ngx_uint_t
ngx_http_woportal_key_allows(ngx_http_woportal_key_t *key, u_char *ns,
    size_t len)
{
    ngx_str_t   *own;
    ngx_uint_t   i;

    if (key->namespaces == NULL) {
        return 1;
    }

    own = key->namespaces->elts;

    for (i = 0; i < key->namespaces->nelts; i++) {
        if (own[i].len == len && ngx_memcmp(own[i].data, ns, len) == 0) {
            return 1;
        }
    }

    return 0;
}


/* whether a key sees an entry of these namespaces (of ngx_str_t) */

ngx_uint_t
ngx_http_woportal_key_sees(ngx_http_woportal_key_t *key,
    ngx_array_t *namespaces)
{
    ngx_str_t   *ns;
    ngx_uint_t   i;

    if (key->namespaces == NULL) {
        return 1;
    }

    ns = namespaces->elts;

    for (i = 0; i < namespaces->nelts; i++) {
        if (ngx_http_woportal_key_allows(key, ns[i].data, ns[i].len)) {
            return 1;
        }
    }

    return 0;
}


/*
 * What a key may write, checked on a decoded body before the store is
 * asked anything: NGX_OK; NGX_DECLINED with the answer in err; NGX_ERROR.
 *
 *   create: every namespace must be the key's (403); without any, the
 *           entry gets the key's namespace if it has exactly one, else
 *           422;
 *   update: a company_namespace sent must hold only the key's namespaces
 *           (403), and at least one (422): the entry must stay visible
 *           to the key that changes it.
 */

ngx_int_t
ngx_http_woportal_key_writes(ngx_pool_t *pool, ngx_http_woportal_ctx_t *ctx,
    ngx_http_woportal_entry_t *e, ngx_http_woportal_error_t *err)
{
    ngx_str_t                *ns;
    ngx_http_woportal_key_t  *key;

    key = ctx->key;

    if (key->namespaces == NULL
        || ctx->op == NGX_HTTP_WOPORTAL_OP_STATUS
        || (ctx->op == NGX_HTTP_WOPORTAL_OP_UPDATE
            && !(e->set & (1 << NGX_HTTP_WOPORTAL_F_COMPANY_NAMESPACE))))
    {
        return NGX_OK;
    }

    if (e->namespaces.nelts) {
        return ngx_http_woportal_forbidden(pool, key, &e->namespaces, NULL,
                                           err);
    }

    if (ctx->op == NGX_HTTP_WOPORTAL_OP_CREATE
        && key->namespaces->nelts == 1)
    {
        ns = ngx_array_push(&e->namespaces);
        if (ns == NULL) {
            return NGX_ERROR;
        }

        *ns = ((ngx_str_t *) key->namespaces->elts)[0];
        e->set |= 1 << NGX_HTTP_WOPORTAL_F_COMPANY_NAMESPACE;

        return NGX_OK;
    }

    err->status = NGX_HTTP_UNPROCESSABLE_ENTITY;
    err->code = NGX_HTTP_WOPORTAL_E_VALIDATION_FAILED;
    ngx_str_set(&err->message, "the request is invalid");

    return ngx_http_woportal_key_detail(pool, err, "company_namespace",
                                        (size_t) -1,
                                        "this API key writes to several "
                                        "namespaces: name at least one");
}


/*
 * A change by a key with namespaces, on the stored entry the key sees.
 * One rule for entries shared with other tenants: the key may change
 * their fields, but what takes the entry from the others needs all of
 * its namespaces:
 *
 *   - DELETE;
 *   - a status of completed or cancelled (final: nobody changes it again);
 *   - company_namespace sent (it could drop another's namespace).
 *
 * NGX_OK; NGX_DECLINED with the answer (403) in err; NGX_ERROR.
 */

ngx_int_t
ngx_http_woportal_key_replaces(ngx_pool_t *pool, ngx_http_woportal_ctx_t *ctx,
    ngx_http_woportal_error_t *err)
{
    char  *why;

    if (ctx->key->namespaces == NULL) {
        return NGX_OK;
    }

    if (ctx->op == NGX_HTTP_WOPORTAL_OP_DELETE) {
        why = "the entry is shared with a namespace that is not this API "
              "key's: deleting it needs them all";

    } else if ((ctx->patch.set & (1 << NGX_HTTP_WOPORTAL_F_STATUS))
               && (ctx->patch.status == NGX_HTTP_WOPORTAL_COMPLETED
                   || ctx->patch.status == NGX_HTTP_WOPORTAL_CANCELLED))
    {
        why = "the entry is shared with a namespace that is not this API "
              "key's: making it final needs them all";

    } else if (ctx->patch.set & (1 << NGX_HTTP_WOPORTAL_F_COMPANY_NAMESPACE)) {
        why = "the entry's namespace is not this API key's to remove";

    } else {
        return NGX_OK;
    }

    return ngx_http_woportal_forbidden(pool, ctx->key, &ctx->entry.namespaces,
                                       why, err);
}


/*
 * NGX_OK when every namespace is the key's, else NGX_DECLINED and a 403
 * in err: a detail for each namespace sent that is not the key's, or one
 * for the field, saying "stored", when they are the stored entry's.
 */

static ngx_int_t
ngx_http_woportal_forbidden(ngx_pool_t *pool, ngx_http_woportal_key_t *key,
    ngx_array_t *namespaces, char *stored, ngx_http_woportal_error_t *err)
{
    ngx_str_t   *ns;
    ngx_int_t    rc;
    ngx_uint_t   i;

    err->status = NGX_HTTP_FORBIDDEN;
    err->code = NGX_HTTP_WOPORTAL_E_FORBIDDEN;
    ngx_str_set(&err->message, "this API key may not write to that company "
                               "namespace");

    ns = namespaces->elts;
    rc = NGX_OK;

    for (i = 0; i < namespaces->nelts; i++) {
        if (ngx_http_woportal_key_allows(key, ns[i].data, ns[i].len)) {
            continue;
        }

        if (stored) {
            return ngx_http_woportal_key_detail(pool, err,
                                                "company_namespace",
                                                (size_t) -1, stored);
        }

        rc = ngx_http_woportal_key_detail(pool, err, "company_namespace", i,
                                          "not a namespace of this API key");
        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }
    }

    return rc;
}


/*
 * Adds a detail to err, for field or field[index]: NGX_DECLINED (the
 * request is refused), or NGX_ERROR.
 */

static ngx_int_t
ngx_http_woportal_key_detail(ngx_pool_t *pool, ngx_http_woportal_error_t *err,
    char *field, size_t index, char *message)
{
    size_t                       len;
    ngx_http_woportal_detail_t  *d;

    if (err->details.nalloc == 0
        && ngx_array_init(&err->details, pool, 1,
                          sizeof(ngx_http_woportal_detail_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    d = ngx_array_push(&err->details);
    if (d == NULL) {
        return NGX_ERROR;
    }

    len = ngx_strlen(field);

    if (index == (size_t) -1) {
        d->field.data = (u_char *) field;
        d->field.len = len;

    } else {
        d->field.data = ngx_pnalloc(pool, len + 2 + NGX_SIZE_T_LEN);
        if (d->field.data == NULL) {
            return NGX_ERROR;
        }

        d->field.len = ngx_sprintf(d->field.data, "%s[%uz]", field, index)
                       - d->field.data;
    }

    d->message.data = (u_char *) message;
    d->message.len = ngx_strlen(message);

    return NGX_DECLINED;
}


/* the first request header line of a name; *n: how many there are */

ngx_table_elt_t *
ngx_http_woportal_header_in(ngx_http_request_t *r, ngx_str_t *name,
    ngx_uint_t *n)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *first;

    first = NULL;
    *n = 0;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return first;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == name->len
            && ngx_strncasecmp(h[i].key.data, name->data, name->len) == 0)
        {
            if (first == NULL) {
                first = &h[i];
            }

            (*n)++;
        }
    }
}
