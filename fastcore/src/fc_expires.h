/* fc_expires.h - mod_expires' two fields on an engine cache hit, formatted per request.
 *
 * An entry carries a rule, not bytes (core/cacheable.py's Expiry): "access plus N"
 * (FC_EXP_ACCESS, value N seconds) or a fixed instant (FC_EXP_AT, value in microseconds:
 * "modification plus").  An instant already past is the request time (max-age=0), as
 * mod_expires' set_expiration_fields.  The date text is rebuilt at most once per distinct
 * second per thread (as fc_date_header), so a hit costs one comparison and a short
 * integer format; entries without a rule never come here.
 */
#ifndef FC_EXPIRES_H
#define FC_EXPIRES_H
#include <stdint.h>
#include <string.h>
#include "fc_send.h"

#define FC_EXP_NONE 0
#define FC_EXP_ACCESS 1
#define FC_EXP_AT 2
#define FC_EXP_DATE 3            /* Expires equal to Date alone (a type map's r->no_cache) */
#define FC_EXP_MAX 96            /* longest "Cache-Control: ...\r\nExpires: ...\r\n" */

static __thread int64_t fc_exp_sec = INT64_MIN;
static __thread char fc_exp_date[32];

/* Write the fields for a request at now_us into out (FC_EXP_MAX bytes); returns length. */
static size_t fc_expiry_fields(int kind, int64_t value, int64_t now_us, char *out) {
    if (kind != FC_EXP_ACCESS && kind != FC_EXP_AT && kind != FC_EXP_DATE) return 0;
    int64_t at_us = kind == FC_EXP_AT ? value : now_us + value * 1000000LL;
    if (at_us < now_us) at_us = now_us;
    int64_t age = (at_us - now_us) / 1000000LL;
    int64_t at = at_us / 1000000LL;   /* both non-negative here: truncation is floor */
    if (at != fc_exp_sec) {
        if (fc_http_date(at, fc_exp_date) < 0) return 0;
        fc_exp_sec = at;
    }
    char *o = out;
    if (kind == FC_EXP_DATE) {
        memcpy(o, "Expires: ", 9); o += 9;
        memcpy(o, fc_exp_date, 29); o += 29;
        memcpy(o, "\r\n", 2); o += 2;
        return (size_t)(o - out);
    }
    memcpy(o, "Cache-Control: max-age=", 23); o += 23;
    char digits[24];
    int nd = 0;
    do { digits[nd++] = (char)('0' + age % 10); age /= 10; } while (age);
    while (nd) *o++ = digits[--nd];
    memcpy(o, "\r\nExpires: ", 11); o += 11;
    memcpy(o, fc_exp_date, 29); o += 29;
    memcpy(o, "\r\n", 2); o += 2;
    return (size_t)(o - out);
}
#endif
