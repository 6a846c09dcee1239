"""mod_ssl's section of /server-status (ssl_scache_status via its status_hook): the
shared session cache's figures, in the HTML page and as ?auto's TLSSessionCacheStatus
lines, with the keys Apache's shmcb prints.  fastcore's cache is one table of fixed
slots (fc_tlscache.h), so it reports one subcache whose indexes are its slots."""
from __future__ import annotations

from fastcore._ext import load
from fastcore.config.model import ServerConfig

_tls = load("tls")


def _pct(part: int, whole: int) -> int:
    return part * 100 // whole if whole else 0


def section(cfg: ServerConfig, short: bool) -> str:
    st = _tls.cache_stats()
    if not st:
        return ""
    usage = _pct(st["used_bytes"], st["bytes"])
    index = _pct(st["entries"], st["slots"])
    if short:
        rows = [("CacheType", "SHMCB"), ("CacheSharedMemory", st["bytes"]),
                ("CacheCurrentEntries", st["entries"]), ("CacheSubcaches", 1),
                ("CacheIndexesPerSubcaches", st["slots"])]
        if st["entries"]:
            rows += [("CacheTimeLeftOldestAvg", st["left_avg"]),
                     ("CacheTimeLeftOldestMin", st["left_min"]),
                     ("CacheTimeLeftOldestMax", st["left_max"])]
        rows += [("CacheIndexUsage", f"{index}%"), ("CacheUsage", f"{usage}%"),
                 ("CacheStoreCount", st["stores"]), ("CacheReplaceCount", st["replaces"]),
                 ("CacheExpireCount", st["expires"]), ("CacheDiscardCount", st["discards"]),
                 ("CacheRetrieveHitCount", st["hits"]),
                 ("CacheRetrieveMissCount", st["misses"]),
                 ("CacheRemoveHitCount", st["remove_hits"]),
                 ("CacheRemoveMissCount", st["remove_misses"])]
        return "TLSSessionCacheStatus\n" + "".join(f"{k}: {v}\n" for k, v in rows)
    left = (f"time left on oldest entries' objects: avg: <b>{st['left_avg']}</b> seconds, "
            f"(range: {st['left_min']}...{st['left_max']})<br>") if st["entries"] else ""
    return ("<hr>\n<table cellspacing=0 cellpadding=0>\n<tr><td bgcolor=\"#000000\">\n"
            "<b><font color=\"#ffffff\" face=\"Arial,Helvetica\">SSL/TLS Session Cache "
            "Status:</font></b>\r</td></tr>\n<tr><td bgcolor=\"#ffffff\">\n"
            f"cache type: <b>SHMCB</b>, shared memory: <b>{st['bytes']}</b> bytes, current "
            f"entries: <b>{st['entries']}</b><br>subcaches: <b>1</b>, indexes per subcache: "
            f"<b>{st['slots']}</b><br>{left}index usage: <b>{index}%</b>, cache usage: "
            f"<b>{usage}%</b><br>total entries stored since starting: <b>{st['stores']}</b>"
            f"<br>total entries replaced since starting: <b>{st['replaces']}</b><br>total "
            f"entries expired since starting: <b>{st['expires']}</b><br>total (pre-expiry) "
            f"entries scrolled out of the cache: <b>{st['discards']}</b><br>total retrieves "
            f"since starting: <b>{st['hits']}</b> hit, <b>{st['misses']}</b> miss<br>total "
            f"removes since starting: <b>{st['remove_hits']}</b> hit, "
            f"<b>{st['remove_misses']}</b> miss<br></td></tr>\n</table>\n")
