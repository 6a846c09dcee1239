/* fc_rwfixed.h - putting a fixed answer (fc_rwprobe.h: a redirect mod_rewrite's rules made,
 * issue 14) into the cache: its body counts against the content budget like a small file's.
 * Included by fc_fast.h after fc_cache_link.  Twin: FastCache.put_fixed in
 * fastcore/_pure/fastpath.py. */
#ifndef FC_RWFIXED_H
#define FC_RWFIXED_H

/* e->content holds e->size bytes; returns 1 linked (the table owns e), 0 over budget. */
static int fc_cache_link_fixed(fc_fcache *c, fc_fentry *e) {
    pthread_mutex_lock(&c->mu);
    if (c->content_bytes + (size_t)e->size > c->budget) {
        pthread_mutex_unlock(&c->mu);
        return 0;
    }
    c->content_bytes += (size_t)e->size;  /* fc_entry_free gives it back */
    pthread_mutex_unlock(&c->mu);
    fc_cache_link(c, e);
    return 1;
}

#endif /* FC_RWFIXED_H */
