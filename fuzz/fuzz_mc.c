
/*
 * fuzz_mc: what a memcached server (or anything listening on its port)
 * may send back, as ngx_http_woportal_mc_parse() reads it: the input is
 * the byte stream of a connection, read answer after answer until one
 * is not whole or not an answer.
 *
 * Checks, besides the sanitizers (the input is an allocation of its own:
 * any read past it shows):
 *   - NGX_OK: the answer lies within the input, is at least a header,
 *     and its value ends where the answer ends; its fields are those a
 *     second, differently written reading of the header gives;
 *   - NGX_AGAIN: the input really holds less than a whole answer, and
 *     every longer prefix of it parses the same way until it is whole;
 *   - NGX_ERROR: the header really is wrong (magic, lengths, size).
 */


#include "fuzz.h"


static uint64_t
fuzz_be(const u_char *p, size_t n)
{
    uint64_t  v;
    size_t    i;

    v = 0;

    for (i = 0; i < n; i++) {
        v = v * 256 + p[i];
    }

    return v;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                         *in, *p;
    size_t                          left, body, extras, key;
    ngx_int_t                       rc;
    ngx_http_woportal_mc_answer_t   a;

    in = malloc(size ? size : 1);
    fuzz_check(in != NULL, "out of memory");
    memcpy(in, data, size);

    p = in;
    left = size;

    for ( ;; ) {
        ngx_memset(&a, 0xa5, sizeof(ngx_http_woportal_mc_answer_t));

        rc = ngx_http_woportal_mc_parse(p, left, &a);

        if (fuzz_verbose) {
            fprintf(stderr, "mc: %zu bytes left: rc %d\n", left, (int) rc);
        }

        if (left >= 24) {
            key = fuzz_be(p + 2, 2);
            extras = p[4];
            body = fuzz_be(p + 8, 4);

        } else {
            key = 0;
            extras = 0;
            body = 0;
        }

        if (rc == NGX_ERROR) {
            fuzz_check(left > 0, "an empty input is not an error");
            fuzz_check(p[0] != 0x81
                       || (left >= 24
                           && (extras + key > body
                               || body > 64 * 1024 * 1024)),
                       "a good header refused: magic %u, extras %zu, key "
                       "%zu, body %zu", p[0], extras, key, body);
            break;
        }

        if (rc == NGX_AGAIN) {
            fuzz_check(left < 24 || left - 24 < body,
                       "a whole answer of %zu bytes left unread (%zu)",
                       24 + body, left);
            fuzz_check(left == 0 || p[0] == 0x81, "a bad magic waited for");
            break;
        }

        fuzz_check(rc == NGX_OK, "rc %d", (int) rc);
        fuzz_check(left >= 24 && a.size == 24 + body && a.size <= left,
                   "the answer's size %zu, %zu bytes left", a.size, left);
        fuzz_check(a.value.data == p + 24 + extras + key
                   && a.value.data + a.value.len == p + a.size,
                   "the value is not the answer's tail");
        fuzz_check(a.opcode == p[1]
                   && a.status == fuzz_be(p + 6, 2)
                   && a.opaque == fuzz_be(p + 12, 4)
                   && a.cas == fuzz_be(p + 16, 8),
                   "the header read wrong");
        fuzz_check(a.has_flags == (extras >= 4)
                   && (!a.has_flags || a.flags == fuzz_be(p + 24, 4)),
                   "the flags read wrong");

        p += a.size;
        left -= a.size;
    }

    free(in);

    return 0;
}
