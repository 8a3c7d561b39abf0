
/*
 * The entry model: enumerations, timestamps, defaults and the fields the
 * server sets.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_woportal.h"
#include "ngx_http_woportal_entry.h"


static int64_t ngx_http_woportal_days_from_civil(int64_t y, ngx_uint_t m,
    ngx_uint_t d);


/* in the order of the enumerations; terminated by an empty string */

ngx_str_t  ngx_http_woportal_statuses[] = {
    ngx_string("pending"),
    ngx_string("in_progress"),
    ngx_string("completed"),
    ngx_string("cancelled"),
    ngx_null_string
};

ngx_str_t  ngx_http_woportal_access_levels[] = {
    ngx_string("view_only"),
    ngx_string("comment"),
    ngx_string("full_access"),
    ngx_null_string
};

ngx_str_t  ngx_http_woportal_actions[] = {
    ngx_string("view"),
    ngx_string("comment"),
    ngx_string("upload_files"),
    ngx_string("approve"),
    ngx_string("reject"),
    ngx_null_string
};


ngx_int_t
ngx_http_woportal_enum(ngx_str_t *names, u_char *s, size_t len)
{
    ngx_int_t  i;

    for (i = 0; names[i].len; i++) {
        if (names[i].len == len && ngx_strncmp(names[i].data, s, len) == 0) {
            return i;
        }
    }

    return NGX_ERROR;
}


/* code points of valid UTF-8: the bytes that do not continue a sequence */

size_t
ngx_http_woportal_utf8_chars(u_char *s, size_t len)
{
    size_t  n;
    u_char *last;

    n = 0;

    for (last = s + len; s < last; s++) {
        n += ((*s & 0xc0) != 0x80);
    }

    return n;
}


/*
 * RFC 3339 date-time with a mandatory offset:
 *
 *     YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)
 *
 * "T" and "Z" in either case.  The fraction is kept to milliseconds.
 * A second of 60 is refused: the instant it would name is not kept.
 */

ngx_int_t
ngx_http_woportal_parse_time(u_char *s, size_t len, int64_t *ms)
{
    u_char      *p, *last;
    int64_t      days, t;
    ngx_int_t    year, month, day, hour, min, sec, frac, off, offmin, sign,
                 i;
    ngx_uint_t   mdays;

    static ngx_uint_t  days_in_month[] =
        { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

#define ngx_woportal_digits(v, n)                                            \
    v = 0;                                                                   \
    for (i = 0; i < n; i++) {                                                \
        if (p == last || *p < '0' || *p > '9') {                             \
            return NGX_ERROR;                                                \
        }                                                                    \
        v = v * 10 + (*p++ - '0');                                           \
    }

#define ngx_woportal_char(c1, c2)                                            \
    if (p == last || (*p != c1 && *p != c2)) {                               \
        return NGX_ERROR;                                                    \
    }                                                                        \
    p++;

    p = s;
    last = s + len;

    ngx_woportal_digits(year, 4);
    ngx_woportal_char('-', '-');
    ngx_woportal_digits(month, 2);
    ngx_woportal_char('-', '-');
    ngx_woportal_digits(day, 2);
    ngx_woportal_char('T', 't');
    ngx_woportal_digits(hour, 2);
    ngx_woportal_char(':', ':');
    ngx_woportal_digits(min, 2);
    ngx_woportal_char(':', ':');
    ngx_woportal_digits(sec, 2);

    frac = 0;

    if (p < last && *p == '.') {
        p++;

        if (p == last || *p < '0' || *p > '9') {
            return NGX_ERROR;
        }

        for (i = 0; p < last && *p >= '0' && *p <= '9'; i++, p++) {
            if (i < 3) {
                frac = frac * 10 + (*p - '0');
            }
        }

        for ( /* void */ ; i < 3; i++) {
            frac *= 10;
        }
    }

    if (p == last) {
        return NGX_ERROR;
    }

    off = 0;

    if (*p == 'Z' || *p == 'z') {
        p++;

    } else if (*p == '+' || *p == '-') {
        sign = (*p++ == '-') ? -1 : 1;

        ngx_woportal_digits(off, 2);

        if (off > 23) {
            return NGX_ERROR;
        }

        ngx_woportal_char(':', ':');
        ngx_woportal_digits(offmin, 2);

        if (offmin > 59) {
            return NGX_ERROR;
        }

        off = sign * (off * 60 + offmin);

    } else {
        return NGX_ERROR;
    }

#undef ngx_woportal_digits
#undef ngx_woportal_char

    if (p != last) {
        return NGX_ERROR;
    }

    if (month < 1 || month > 12 || hour > 23 || min > 59 || sec > 59) {
        return NGX_ERROR;
    }

    mdays = days_in_month[month - 1];

    if (month == 2
        && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
    {
        mdays = 29;
    }

    if (day < 1 || (ngx_uint_t) day > mdays) {
        return NGX_ERROR;
    }

    days = ngx_http_woportal_days_from_civil(year, month, day);

    t = ((days * 24 + hour) * 60 + min - off) * 60 + sec;

    /* the normalised UTC form must still have a four-digit year */

    if (t < -62167219200LL || t > 253402300799LL) {
        return NGX_ERROR;
    }

    *ms = t * 1000 + frac;

    return NGX_OK;
}


/* writes NGX_HTTP_WOPORTAL_TIME_LEN bytes: 2026-11-28T12:00:00.000Z */

u_char *
ngx_http_woportal_format_time(u_char *p, int64_t ms)
{
    int64_t  t, msec, days, z, era, doe, yoe, y, doy, mp, d, m, secs;

    t = ms / 1000;
    msec = ms % 1000;

    if (msec < 0) {
        msec += 1000;
        t--;
    }

    days = t / 86400;
    secs = t % 86400;

    if (secs < 0) {
        secs += 86400;
        days--;
    }

    /* civil from days, proleptic Gregorian (H. Hinnant's algorithm) */

    z = days + 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y += (m <= 2);

    return ngx_sprintf(p, "%04L-%02L-%02LT%02L:%02L:%02L.%03LZ",
                       y, m, d, secs / 3600, secs / 60 % 60, secs % 60,
                       msec);
}


static int64_t
ngx_http_woportal_days_from_civil(int64_t y, ngx_uint_t m, ngx_uint_t d)
{
    int64_t  era, yoe, doy, doe;

    y -= (m <= 2);
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}


int64_t
ngx_http_woportal_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (int64_t) tp->sec * 1000 + tp->msec;
}


ngx_int_t
ngx_http_woportal_entry_init(ngx_pool_t *pool, ngx_http_woportal_entry_t *e)
{
    ngx_uint_t  i;

    ngx_memzero(e, sizeof(ngx_http_woportal_entry_t));

    for (i = 0; i < NGX_HTTP_WOPORTAL_NFREE; i++) {
        ngx_str_set(&e->free[i], "{}");
    }

    if (ngx_array_init(&e->namespaces, pool, 1, sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_array_init(&e->history, pool, 1,
                       sizeof(ngx_http_woportal_change_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the server's part of a new entry; the caller sets the id */

ngx_int_t
ngx_http_woportal_entry_create(ngx_pool_t *pool, ngx_http_woportal_entry_t *e)
{
    ngx_http_woportal_change_t  *ch;

    if (!(e->set & (1 << NGX_HTTP_WOPORTAL_F_ALLOWED_ACTIONS))) {
        e->actions[0] = 0;     /* view */
        e->nactions = 1;
    }

    /* access_level defaults to view_only (0), disabled to false */

    e->status = NGX_HTTP_WOPORTAL_PENDING;
    e->version = 1;
    e->created_at = ngx_http_woportal_now();
    e->updated_at = e->created_at;

    ch = ngx_array_push(&e->history);
    if (ch == NULL) {
        return NGX_ERROR;
    }

    ch->status = NGX_HTTP_WOPORTAL_PENDING;
    ngx_str_null(&ch->notes);
    ch->changed_at = e->created_at;

    return NGX_OK;
}


/*
 * An update or a status change: the top-level fields sent replace the
 * stored ones whole.  A status may not leave completed or cancelled
 * (setting the same one again is allowed and recorded); a refused
 * transition changes nothing: NGX_DECLINED.
 */

ngx_int_t
ngx_http_woportal_entry_apply(ngx_http_woportal_entry_t *e,
    ngx_http_woportal_entry_t *patch)
{
    int64_t                      now;
    ngx_uint_t                   i;
    ngx_http_woportal_change_t  *ch;

#define ngx_woportal_sent(f)  (patch->set & ((uint32_t) 1 << (f)))

    if (ngx_woportal_sent(NGX_HTTP_WOPORTAL_F_STATUS)
        && (e->status == NGX_HTTP_WOPORTAL_COMPLETED
            || e->status == NGX_HTTP_WOPORTAL_CANCELLED)
        && patch->status != e->status)
    {
        return NGX_DECLINED;
    }

    now = ngx_http_woportal_now();

    if (ngx_woportal_sent(NGX_HTTP_WOPORTAL_F_STATUS)) {
        ch = ngx_array_push(&e->history);
        if (ch == NULL) {
            return NGX_ERROR;
        }

        ch->status = patch->status;
        ch->notes = patch->notes;       /* .data NULL: none sent */
        ch->changed_at = now;

        e->status = patch->status;
    }

    if (ngx_woportal_sent(NGX_HTTP_WOPORTAL_F_ACCESS_LEVEL)) {
        e->access_level = patch->access_level;
    }

    if (ngx_woportal_sent(NGX_HTTP_WOPORTAL_F_ALLOWED_ACTIONS)) {
        ngx_memcpy(e->actions, patch->actions, NGX_HTTP_WOPORTAL_NACTIONS);
        e->nactions = patch->nactions;
    }

    if (ngx_woportal_sent(NGX_HTTP_WOPORTAL_F_EXPIRY_DATE)) {
        e->has_expiry = patch->has_expiry;
        e->expiry_date = patch->expiry_date;
    }

    for (i = 0; i < NGX_HTTP_WOPORTAL_NFREE; i++) {
        if (ngx_woportal_sent(NGX_HTTP_WOPORTAL_F_NOTIFICATIONS + i)) {
            e->free[i] = patch->free[i];
        }
    }

    if (ngx_woportal_sent(NGX_HTTP_WOPORTAL_F_COMPANY_NAMESPACE)) {
        e->namespaces = patch->namespaces;
    }

    if (ngx_woportal_sent(NGX_HTTP_WOPORTAL_F_DISABLED)) {
        e->disabled = patch->disabled;
    }

#undef ngx_woportal_sent

    e->version++;
    e->updated_at = now;

    return NGX_OK;
}
