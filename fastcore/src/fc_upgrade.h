/* fc_upgrade.h - `Protocols h2 http/1.1` on a cache hit (issue 13): httpd's core announces
 * the protocols listed before http/1.1 on the first request of a connection that sends no
 * Upgrade field (core_upgrade_handler; fastcore/core/protocols.py), as the first fields of
 * the answer: "Upgrade: <names>" and "Connection: Upgrade", the keep-alive decision's own
 * Connection token joined to the latter ("Upgrade, close") and its Keep-Alive line where
 * the keep-alive header goes.  An entry of such a vhost carries the names; the engine
 * writes these fields when the request is the connection's first and has no Upgrade
 * field, and sends the plain answer otherwise.  Twin: core/protocols.py announced_fields.
 * Part of fc_fast.h; not a stand-alone header.
 */
#ifndef FC_UPGRADE_H
#define FC_UPGRADE_H
#include <stddef.h>
#include <string.h>

#define FC_UPG_ROOM 64   /* the fields' fixed text beyond the names */

/* Write the announcement to out; the Connection line of the keep-alive header ka[0..*kal)
 * (at most one, "Connection: <token>\r\n") moves into it, so ka is left without it.
 * Returns the bytes written. */
static size_t fc_upgrade_fields(char *out, const char *names, size_t nl, char *ka, size_t *kal) {
    char *o = out;
    memcpy(o, "Upgrade: ", 9); o += 9;
    memcpy(o, names, nl); o += nl;
    memcpy(o, "\r\nConnection: Upgrade", 21); o += 21;
    size_t i = 0, n = *kal;
    while (i < n) {
        char *eol = memchr(ka + i, '\n', n - i);
        size_t end = eol ? (size_t)(eol - ka) + 1 : n;
        if (end - i > 14 && memcmp(ka + i, "Connection: ", 12) == 0) {
            size_t vl = end - i - 12 - 2;  /* without "\r\n" */
            memcpy(o, ", ", 2); o += 2;
            memcpy(o, ka + i + 12, vl); o += vl;
            memmove(ka + i, ka + end, n - end);
            *kal = n - (end - i);
            break;
        }
        i = end;
    }
    memcpy(o, "\r\n", 2); o += 2;
    return (size_t)(o - out);
}

#endif /* FC_UPGRADE_H */
