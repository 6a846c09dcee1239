/* fc_keepalive.h - the engine's one keep-alive rule (Apache's ap_set_keepalive).
 *
 * The C twin of fastcore/core/keepalive.py: the same inputs, the same decision, the same
 * header bytes; tests/core/test_keepalive_parity.py compares them on generated inputs
 * through _fastpath.keepalive_decision.  Pure C, no allocation: safe without the GIL.
 */
#ifndef FC_KEEPALIVE_H
#define FC_KEEPALIVE_H
#include <stdio.h>
#include <string.h>

typedef struct {
    int http11;              /* HTTP/1.1 or later */
    int close_token;         /* Connection lists close */
    int ka_token;            /* Connection lists keep-alive (Apache's ka_sent) */
    int status;
    int delimited;           /* the client can tell where the body ends */
    int forced_close;        /* the answer itself ends the connection */
    int framing_reusable;    /* 0: a head whose framing forbids reuse */
    int unanswered_continue; /* Expect: 100-continue never answered */
    int keep_alive;          /* KeepAlive */
    long max_requests;       /* MaxKeepAliveRequests, <= 0 unlimited */
    long requests;           /* answers already sent on the connection */
    int timeout;             /* KeepAliveTimeout, whole seconds */
    int draining;            /* graceful stop */
} fc_ka_in;

/* The most fc_keepalive writes: "Keep-Alive: timeout=<int>, max=<long>\r\nConnection: Keep-Alive\r\n" */
#define FC_KA_HDR_MAX 96

static inline int fc_ka_drops(int status) {
    switch (status) {  /* ap_status_drops_connection */
    case 400: case 408: case 411: case 413: case 414: case 500: case 501: case 503: return 1;
    default: return 0;
    }
}

/* Decide keep (1) or close (0) and write the Connection/Keep-Alive header to out (at
 * least FC_KA_HDR_MAX bytes); *len gets its length (0 on a kept connection whose client
 * sent no keep-alive token). */
static inline int fc_keepalive(const fc_ka_in *in, char *out, size_t *len) {
    int keep = !in->close_token && (in->http11 || in->ka_token) && in->framing_reusable
               && in->delimited && !in->forced_close && in->keep_alive && !in->draining
               && !in->unanswered_continue && !fc_ka_drops(in->status)
               && !(in->max_requests > 0 && in->requests >= in->max_requests);
    if (!keep) {
        memcpy(out, "Connection: close\r\n", 19);
        *len = 19;
        return 0;
    }
    if (!in->ka_token) { *len = 0; return 1; }
    int n;
    if (in->max_requests <= 0)
        n = snprintf(out, FC_KA_HDR_MAX, "Keep-Alive: timeout=%d\r\nConnection: Keep-Alive\r\n",
                     in->timeout);
    else
        n = snprintf(out, FC_KA_HDR_MAX,
                     "Keep-Alive: timeout=%d, max=%ld\r\nConnection: Keep-Alive\r\n",
                     in->timeout, in->max_requests - in->requests);
    *len = n > 0 ? (size_t)n : 0;
    return 1;
}

#endif /* FC_KEEPALIVE_H */
