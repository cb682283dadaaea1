/*
 * server/store/store_mem.c — the memory store's backend: each message's header
 * block and payload in one malloc'd block, hung off its index slot.
 *
 * The subject is not copied: the index keeps each distinct subject once,
 * and a read takes it from there. One allocation per message is the price
 * of freeing exactly what a removal frees; packing messages into big chunks
 * (as the file store packs them into segments) would pin a whole chunk for
 * one long-lived message, which a KV bucket does all the time. Nothing to
 * log and nothing to sync: a memory store is gone with the process.
 */
#include "server/store/store_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int mem_append(struct store *st, struct store_slot *slot, uint64_t seq, int64_t ts,
                      const char *subj, size_t subj_len, const char *hdr, size_t hdr_len,
                      const char *data, size_t data_len)
{
    (void)st, (void)seq, (void)ts, (void)subj, (void)subj_len;
    char *mem = NULL;
    if (hdr_len + data_len) {
        if (!(mem = malloc(hdr_len + data_len)))
            return -ENOMEM;
        if (hdr_len)
            memcpy(mem, hdr, hdr_len);
        if (data_len)
            memcpy(mem + hdr_len, data, data_len);
    }
    slot->at.mem = mem;
    slot->len = (uint32_t)(hdr_len + data_len);
    slot->hdr_len = (uint32_t)hdr_len;
    return 0;
}

static int mem_read(struct store *st, const struct store_slot *slot, uint64_t seq,
                    struct store_msg *m)
{
    (void)st;
    size_t subj_len = slot->subj->key.len;
    int rc = store__msg_grow(m, subj_len + slot->len);
    if (rc < 0)
        return rc;
    memcpy(m->buf, slot->subj->name, subj_len);
    if (slot->len)
        memcpy(m->buf + subj_len, slot->at.mem, slot->len);
    m->seq = seq;
    m->ts = slot->ts;
    m->subject = m->buf;
    m->subject_len = subj_len;
    m->hdr = m->buf + subj_len;
    m->hdr_len = slot->hdr_len;
    m->data = m->hdr + slot->hdr_len;
    m->data_len = slot->len - slot->hdr_len;
    return 0;
}

static int mem_log_del(struct store *st, const uint64_t *seqs, size_t n)
{
    (void)st, (void)seqs, (void)n;
    return 0;
}

static int mem_log_floor(struct store *st, uint64_t floor)
{
    (void)st, (void)floor;
    return 0;
}

static void mem_release(struct store *st, struct store_slot *slot)
{
    (void)st;
    free(slot->at.mem);
    slot->at.mem = NULL;
}

static int mem_sync(struct store *st)
{
    (void)st;
    return 0;
}

static int mem_set_last(struct store *st, uint64_t last_seq, int64_t last_ts)
{
    st->ix.last_seq = last_seq;
    st->ix.last_ts = last_ts;
    return 0;
}

const struct store_backend store__mem_backend = {
    .append = mem_append,
    .read = mem_read,
    .log_del = mem_log_del,
    .log_floor = mem_log_floor,
    .release = mem_release,
    .sync = mem_sync,
    .set_last = mem_set_last,
};
