/* fc_ipmatch.h - Require ip / Require not ip / <RequireAll|Any|None> of such lines, and
 * `Require all`, evaluated against the peer address on an engine hit (issue 12), without
 * the GIL.
 *
 * Python compiles a scope's Require tree when it holds nothing else
 * (fastcore/modules/mod_authz_core/peer.py) into a program:
 *   node  := group | leaf
 *   group := 'A' (RequireAll) | 'Y' (RequireAny) | 'Z' (RequireNone), count:u8, node*count
 *   leaf  := 'L', negated:u8, ('g' | 'd' | 'i' count:u8 net*count | 'h' count:u8 name*count)
 *   net   := family:u8 (4 or 6), address[16], mask[16]   (IPv4 in the first 4 bytes)
 *   name  := len:u8, bytes                                (`Require host`'s domains)
 * A host leaf reads the connection's double-reverse state (fc_host): unknown (no lookup
 * made yet on this connection) is FC_AZ_NEED unless its group was decided already
 * (Apache stops evaluating there and looks nothing up), so the hit goes to the Python path, which
 * makes the lookup (Apache's REMOTE_DOUBLE_REV, cached on the conn_rec); no confirmed
 * name is a denial; a confirmed name grants when a domain matches it as mod_authz_host's
 * in_domain (case-insensitive suffix on a label boundary).
 * and fc_peer_granted answers 1 only when the tree grants the address, with
 * mod_authz_core's combination rules (the result words as evaluate.py's: granted 1,
 * denied 0, neutral -1).  Anything else (a denial, a malformed program or address)
 * answers 0 and the hit goes to the Python path, which builds the 403 and its AH01630
 * line.  Twin: fastcore/_pure/ipmatch.py.
 */
#ifndef FC_IPMATCH_H
#define FC_IPMATCH_H
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#define FC_AZ_GRANTED 1
#define FC_AZ_DENIED 0
#define FC_AZ_NEUTRAL (-1)
#define FC_AZ_BAD (-2)
#define FC_AZ_NEED (-3)  /* a host leaf and no lookup made: the Python path decides */
#define FC_AZ_DEPTH 32

typedef struct { int family; unsigned char a[16]; } fc_peer;

/* The connection's double-reverse lookup: state -1 not made, 0 no confirmed name,
 * 1 confirmed (name/len: the reverse name the forward lookup confirmed). */
typedef struct { int state; const char *name; size_t len; } fc_host;
#define FC_HOST_UNKNOWN (-1)

/* mod_authz_host's in_domain: `domain` is a suffix of `what` (ignoring case) on a label
 * boundary, or starts with a dot. */
static int fc_in_domain(const unsigned char *d, size_t dl, const char *w, size_t wl) {
    if (wl < dl) return 0;
    for (size_t i = 0; i < dl; i++) {
        unsigned char a = d[i], b = (unsigned char)w[wl - dl + i];
        if (a >= 'A' && a <= 'Z') a = (unsigned char)(a + 32);
        if (b >= 'A' && b <= 'Z') b = (unsigned char)(b + 32);
        if (a != b) return 0;
    }
    return wl == dl || (dl > 0 && d[0] == '.') || w[wl - dl - 1] == '.';
}

/* The client's address text as the connection holds it; an IPv4-mapped IPv6 address
 * counts as IPv4 (apr_ipsubnet_test).  0 when it does not parse (family 0: no ip line
 * matches it, as evaluate.py's _address None). */
static int fc_peer_parse(const char *s, size_t n, fc_peer *out) {
    char buf[64];
    size_t m = 0;
    memset(out, 0, sizeof *out);
    while (m < n && s[m] != '%') m++;  /* drop an IPv6 zone */
    if (m == 0 || m >= sizeof buf) return 0;
    memcpy(buf, s, m); buf[m] = 0;
    if (inet_pton(AF_INET, buf, out->a) == 1) { out->family = 4; return 1; }
    unsigned char v6[16];
    if (inet_pton(AF_INET6, buf, v6) != 1) return 0;
    static const unsigned char mapped[12] = {0,0,0,0,0,0,0,0,0,0,0xff,0xff};
    if (memcmp(v6, mapped, 12) == 0) { out->family = 4; memcpy(out->a, v6 + 12, 4); return 1; }
    out->family = 6; memcpy(out->a, v6, 16);
    return 1;
}

static int fc_az_node(const unsigned char *p, size_t len, size_t *pos, const fc_peer *who,
                      const fc_host *host, int depth);

static int fc_az_leaf(const unsigned char *p, size_t len, size_t *pos, const fc_peer *who,
                      const fc_host *host) {
    if (*pos + 2 > len) return FC_AZ_BAD;
    int neg = p[(*pos)++];
    int kind = p[(*pos)++];
    int r;
    if (kind == 'g') r = FC_AZ_GRANTED;
    else if (kind == 'd') r = FC_AZ_DENIED;
    else if (kind == 'i') {
        if (*pos + 1 > len) return FC_AZ_BAD;
        int count = p[(*pos)++];
        r = FC_AZ_DENIED;
        for (int i = 0; i < count; i++) {
            if (*pos + 33 > len) return FC_AZ_BAD;
            int fam = p[*pos];
            const unsigned char *addr = p + *pos + 1, *mask = p + *pos + 17;
            *pos += 33;
            if (fam != 4 && fam != 6) return FC_AZ_BAD;
            if (fam != who->family || r == FC_AZ_GRANTED) continue;
            int nb = fam == 4 ? 4 : 16, ok = 1;
            for (int b = 0; b < nb; b++)
                if ((who->a[b] & mask[b]) != addr[b]) { ok = 0; break; }
            if (ok) r = FC_AZ_GRANTED;
        }
    } else if (kind == 'h') {
        if (*pos + 1 > len) return FC_AZ_BAD;
        int count = p[(*pos)++];
        r = FC_AZ_DENIED;
        for (int i = 0; i < count; i++) {
            if (*pos + 1 > len) return FC_AZ_BAD;
            size_t dl = p[(*pos)++];
            if (dl == 0 || *pos + dl > len) return FC_AZ_BAD;
            if (host->state == 1 && r != FC_AZ_GRANTED
                && fc_in_domain(p + *pos, dl, host->name, host->len)) r = FC_AZ_GRANTED;
            *pos += dl;
        }
        /* no lookup made yet: the Python path makes it (never the engine: a stall) */
        if (host->state == FC_HOST_UNKNOWN) return FC_AZ_NEED;
    } else return FC_AZ_BAD;
    if (neg) r = r == FC_AZ_GRANTED ? FC_AZ_DENIED : FC_AZ_NEUTRAL;
    return r;
}

static int fc_az_node(const unsigned char *p, size_t len, size_t *pos, const fc_peer *who,
                      const fc_host *host, int depth) {
    if (*pos >= len || depth > FC_AZ_DEPTH) return FC_AZ_BAD;
    int op = p[(*pos)++];
    if (op == 'L') return fc_az_leaf(p, len, pos, who, host);
    if (op != 'A' && op != 'Y' && op != 'Z') return FC_AZ_BAD;
    if (*pos >= len) return FC_AZ_BAD;
    int count = p[(*pos)++];
    int all = op == 'A', result = FC_AZ_NEUTRAL, decided = 0;
    for (int i = 0; i < count; i++) {
        /* every child is parsed (to find the end); a decided group ignores the rest,
         * as mod_authz_core stops evaluating there */
        int r = fc_az_node(p, len, pos, who, host, depth + 1);
        if (r == FC_AZ_BAD) return FC_AZ_BAD;
        if (decided || r == FC_AZ_NEUTRAL) continue;
        if (r == FC_AZ_NEED) return FC_AZ_NEED;
        if (all) {
            if (r == FC_AZ_DENIED) { result = FC_AZ_DENIED; decided = 1; }
            else if (result == FC_AZ_NEUTRAL) result = r;
        } else {
            if (r == FC_AZ_GRANTED) { result = FC_AZ_GRANTED; decided = 1; }
            else if (result == FC_AZ_NEUTRAL) result = r;
        }
    }
    if (op == 'Z') result = result == FC_AZ_GRANTED ? FC_AZ_DENIED : FC_AZ_NEUTRAL;
    return result;
}

/* 1 when the program grants the client (address text, double-reverse state), else 0. */
static int fc_peer_granted_host(const unsigned char *prog, size_t len, const char *client,
                                size_t clientlen, const fc_host *host) {
    fc_peer who;
    fc_peer_parse(client, clientlen, &who);  /* family 0 when it does not parse */
    size_t pos = 0;
    int r = fc_az_node(prog, len, &pos, &who, host, 0);
    return r == FC_AZ_GRANTED && pos == len;
}

/* The same with no lookup made: a host leaf sends the hit to the Python path. */
static int fc_peer_granted(const unsigned char *prog, size_t len, const char *client,
                           size_t clientlen) {
    const fc_host none = { FC_HOST_UNKNOWN, "", 0 };
    return fc_peer_granted_host(prog, len, client, clientlen, &none);
}

#endif /* FC_IPMATCH_H */
