/* fc_scoreboard.h - layout and nogil operations of fastcore's shared-memory scoreboard.
 *
 * One MAP_SHARED|MAP_ANONYMOUS mapping, created by the parent before fork:
 *   [counters: ACCESSES, BYTES, BUSY, IDLE - one cache line each (fc_atomic.h)]
 *   [global record: start time, restart generation, limits - its own cache line]
 *   [slots: one per worker (server_limit x thread_limit), each padded to whole cache lines]
 * A slot has a single writer (its worker) and is written with plain stores, as Apache's
 * worker_score; only the global counters need atomics (or the portable mutex).
 */
#ifndef FC_SCOREBOARD_H
#define FC_SCOREBOARD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "fc_atomic.h"
#include "fc_stats.h"

enum { FC_SB_ACCESSES = 0, FC_SB_BYTES = 1, FC_SB_BUSY = 2, FC_SB_IDLE = 3, FC_SB_NCOUNTERS = 4 };
enum { FC_SB_REQ_LEN = 64, FC_SB_CLIENT_LEN = 48, FC_SB_VHOST_LEN = 32 };
#define FC_SB_MAGIC 0x66635f73636f7265ULL /* "fc_score" */
#define FC_SB_STATUS_CHARS "_SRWKDCLGI."

typedef struct {
    int32_t pid;
    int32_t tid;
    int64_t generation;
    uint64_t accesses;
    uint64_t bytes;
    double start; /* epoch seconds of the last request's start */
    double end;   /* epoch seconds of the last request's end */
    char status;  /* one of FC_SB_STATUS_CHARS */
    char request[FC_SB_REQ_LEN]; /* NUL-terminated, truncated to 63 bytes as Apache's */
    char client[FC_SB_CLIENT_LEN];
    char vhost[FC_SB_VHOST_LEN];
    double duration; /* seconds spent on this slot's requests (mod_status's Total Duration) */
} __attribute__((aligned(FC_CACHELINE))) fc_slot_t;

typedef struct {
    uint64_t magic;
    double start_time;
    int64_t generation;
    int32_t server_limit;
    int32_t thread_limit;
} __attribute__((aligned(FC_CACHELINE))) fc_sb_global_t;

typedef struct {
    fc_counter_t counters[FC_SB_NCOUNTERS];
    fc_sb_global_t global;
    fc_slot_t slots[];
} fc_sb_t;

_Static_assert(sizeof(fc_slot_t) % FC_CACHELINE == 0, "slot must fill whole cache lines");
_Static_assert(offsetof(fc_slot_t, duration) == 200, "the pure twin reads duration at 200");
_Static_assert(offsetof(fc_sb_t, slots) % FC_CACHELINE == 0, "slots must start a cache line");

static inline size_t fc_sb_size(int nslots) {
    return sizeof(fc_sb_t) + (size_t)nslots * sizeof(fc_slot_t);
}

/* The whole mapping: the board, then fastcore's own counters (fc_stats.h). */
static inline size_t fc_sb_map_size(int server_limit, int thread_limit) {
    int n = server_limit * thread_limit;
    return fc_sb_size(n) + sizeof(fc_st_head_t) + (size_t)(n + server_limit) * sizeof(fc_strec_t);
}
static inline fc_st_head_t *fc_sb_st_head(fc_sb_t *sb) {
    return (fc_st_head_t *)((char *)sb + fc_sb_size(sb->global.server_limit
                                                    * sb->global.thread_limit));
}
/* Record i: [0, nslots) a slot's, then [nslots, nslots + server_limit) a process's. */
static inline fc_strec_t *fc_sb_strec(fc_sb_t *sb, int i) {
    return (fc_strec_t *)((char *)fc_sb_st_head(sb) + sizeof(fc_st_head_t)) + i;
}
static inline int fc_sb_nrecords(fc_sb_t *sb) {
    return sb->global.server_limit * (sb->global.thread_limit + 1);
}

static inline double fc_sb_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Which global count a status belongs to: IDLE for '_', BUSY for a worker serving a
 * connection (as mod_status counts them), none (-1) for starting, idle-kill and open slots. */
static inline int fc_sb_status_class(char s) {
    switch (s) {
    case '_': return FC_SB_IDLE;
    case 'R': case 'W': case 'K': case 'D': case 'C': case 'L': case 'G': return FC_SB_BUSY;
    default: return -1;
    }
}

static inline int fc_sb_valid_status(char s) {
    return s != '\0' && strchr(FC_SB_STATUS_CHARS, s) != NULL;
}

/* Initialise a fresh (zeroed) mapping. 0 or errno. */
static int fc_sb_init(fc_sb_t *sb, int server_limit, int thread_limit) {
    int n = server_limit * thread_limit;
    for (int i = 0; i < FC_SB_NCOUNTERS; i++) {
        int rc = fc_counter_init(&sb->counters[i], 0);
        if (rc) return rc;
    }
    sb->global.start_time = fc_sb_now();
    sb->global.generation = 0;
    sb->global.server_limit = server_limit;
    sb->global.thread_limit = thread_limit;
    for (int i = 0; i < n; i++) sb->slots[i].status = '.';
    sb->global.magic = FC_SB_MAGIC;
    return 0;
}

static inline int64_t fc_sb_add(fc_sb_t *sb, int counter, int64_t delta) {
    return fc_counter_add(&sb->counters[counter], delta);
}
static inline int fc_sb_cas(fc_sb_t *sb, int counter, int64_t expected, int64_t desired) {
    return fc_counter_cas(&sb->counters[counter], expected, desired);
}
static inline int64_t fc_sb_get(fc_sb_t *sb, int counter) {
    return fc_counter_get(&sb->counters[counter]);
}

/* Single writer (the slot's worker, or the parent for a dead child's slot): plain store.
 * A change between idle and busy moves one unit between the global IDLE/BUSY counts. */
static inline void fc_sb_set_status(fc_sb_t *sb, int slot, char status) {
    fc_slot_t *s = &sb->slots[slot];
    int before = fc_sb_status_class(s->status), after = fc_sb_status_class(status);
    s->status = status;
    if (before != after) {
        if (before >= 0) fc_counter_add(&sb->counters[before], -1);
        if (after >= 0) fc_counter_add(&sb->counters[after], 1);
    }
}

static inline char fc_sb_get_status(fc_sb_t *sb, int slot) { return sb->slots[slot].status; }

static inline void fc_sb_copy(char *dst, size_t cap, const char *src, size_t len) {
    if (len > cap - 1) len = cap - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* A worker takes its slot: new pid/thread/generation, per-slot counts reset, status 'S'. */
static inline void fc_sb_slot_init(fc_sb_t *sb, int slot, int32_t pid, int32_t tid,
                                   int64_t generation) {
    fc_slot_t *s = &sb->slots[slot];
    s->pid = pid;
    s->tid = tid;
    s->generation = generation;
    s->accesses = 0;
    s->bytes = 0;
    s->start = 0.0;
    s->end = 0.0;
    s->duration = 0.0;
    s->request[0] = s->client[0] = s->vhost[0] = '\0';
    fc_sb_set_status(sb, slot, 'S');
}

/* The request line has been read: record it (truncated), the client, the vhost, the start
 * time, and set status 'W' (busy writing the reply, as Apache after reading the request). */
static inline void fc_sb_request_start(fc_sb_t *sb, int slot, const char *req, size_t reqlen,
                                       const char *client, size_t clientlen, const char *vhost,
                                       size_t vhostlen) {
    fc_slot_t *s = &sb->slots[slot];
    fc_sb_copy(s->request, FC_SB_REQ_LEN, req, reqlen);
    fc_sb_copy(s->client, FC_SB_CLIENT_LEN, client, clientlen);
    fc_sb_copy(s->vhost, FC_SB_VHOST_LEN, vhost, vhostlen);
    s->start = fc_sb_now();
    fc_sb_set_status(sb, slot, 'W');
}

/* The response is done: the slot's own counts (plain stores) and the global ACCESSES/BYTES. */
static inline void fc_sb_request_end_timed(fc_sb_t *sb, int slot, int64_t nbytes,
                                           double seconds) {
    fc_slot_t *s = &sb->slots[slot];
    s->accesses += 1;
    s->bytes += (uint64_t)nbytes;
    s->end = fc_sb_now();
    if (seconds > 0.0)
        s->duration += seconds;  /* only ever grows: a counter */
    fc_counter_add(&sb->counters[FC_SB_ACCESSES], 1);
    fc_counter_add(&sb->counters[FC_SB_BYTES], nbytes);
}

/* The same, timed from the slot's request_start (when one came after the last end). */
static inline void fc_sb_request_end(fc_sb_t *sb, int slot, int64_t nbytes) {
    fc_slot_t *s = &sb->slots[slot];
    double now = fc_sb_now();
    fc_sb_request_end_timed(sb, slot, nbytes, s->start > s->end ? now - s->start : 0.0);
}

#endif /* FC_SCOREBOARD_H */
