
/*
 * Entry ids: 24-hex ObjectIds, unique across workers and hosts.
 *
 * 4 bytes of seconds, 5 bytes drawn at random when the worker starts,
 * 3 bytes of a counter that starts at random.  Ids are only made on the
 * event loop, so the counter needs no lock; the store refuses a second
 * entry under an id it already holds (memcached "add"), so even a
 * collision never overwrites.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_id.h"


static u_char    ngx_http_woportal_id_random[5];
static uint32_t  ngx_http_woportal_id_counter;


ngx_int_t
ngx_http_woportal_id_init(ngx_cycle_t *cycle)
{
    u_char     buf[8];
    ssize_t    n;
    ngx_fd_t   fd;
    ngx_uint_t i;

    fd = ngx_open_file("/dev/urandom", NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    n = -1;

    if (fd != NGX_INVALID_FILE) {
        n = read(fd, buf, sizeof(buf));
        (void) ngx_close_file(fd);
    }

    if (n != (ssize_t) sizeof(buf)) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, ngx_errno,
                      "woportal: cannot read /dev/urandom, "
                      "ids are seeded from time and pid");

        for (i = 0; i < sizeof(buf); i++) {
            buf[i] = (u_char) (ngx_random() ^ ngx_pid ^ (ngx_time() >> i));
        }
    }

    ngx_memcpy(ngx_http_woportal_id_random, buf, 5);

    ngx_http_woportal_id_counter = ((uint32_t) buf[5] << 16)
                                   | ((uint32_t) buf[6] << 8) | buf[7];

    return NGX_OK;
}


void
ngx_http_woportal_id_next(u_char *id)
{
    u_char    raw[12];
    uint32_t  t, c;

    t = (uint32_t) ngx_time();
    c = ngx_http_woportal_id_counter++ & 0xffffff;

    raw[0] = (u_char) (t >> 24);
    raw[1] = (u_char) (t >> 16);
    raw[2] = (u_char) (t >> 8);
    raw[3] = (u_char) t;
    ngx_memcpy(&raw[4], ngx_http_woportal_id_random, 5);
    raw[9] = (u_char) (c >> 16);
    raw[10] = (u_char) (c >> 8);
    raw[11] = (u_char) c;

    (void) ngx_hex_dump(id, raw, sizeof(raw));
}


ngx_int_t
ngx_http_woportal_id_valid(ngx_str_t *id)
{
    ngx_uint_t  i;

    if (id->len != NGX_HTTP_WOPORTAL_ID_LEN) {
        return 0;
    }

    for (i = 0; i < id->len; i++) {
        if (!((id->data[i] >= '0' && id->data[i] <= '9')
              || (id->data[i] >= 'a' && id->data[i] <= 'f')))
        {
            return 0;
        }
    }

    return 1;
}


/* len hex digits (lowercase) to len / 2 bytes: NGX_OK or NGX_ERROR */

ngx_int_t
ngx_http_woportal_hex_decode(u_char *dst, u_char *src, size_t len)
{
    u_char      c;
    ngx_uint_t  i, v;

    for (i = 0; i < len; i++) {
        c = src[i];

        if (c >= '0' && c <= '9') {
            v = c - '0';

        } else if (c >= 'a' && c <= 'f') {
            v = c - 'a' + 10;

        } else {
            return NGX_ERROR;
        }

        if (i % 2 == 0) {
            dst[i / 2] = (u_char) (v << 4);

        } else {
            dst[i / 2] |= (u_char) v;
        }
    }

    return NGX_OK;
}
