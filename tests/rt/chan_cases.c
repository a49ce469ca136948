/*
 * chan_cases.c - channels, select, mutex and wait group (rt/chan.c,
 * rt/sema.c), written once (tests/case.h) and run by both harnesses: the
 * host's test_rt_chan (coroutines on Linux threads under ASan/UBSan, with
 * CASE_ALL_PROCS = 4 Ps) and the in-kernel suite (every CPU the run has).
 *
 * Each case calls rt_run from outside any coroutine; coroutines never
 * assert or print (hosted ones must not call libc): they count what they
 * saw go wrong in `bad` and write results to statics, which the case
 * asserts after the world has ended. Shared objects (channels, mutexes,
 * wait groups) are heap or static, never a coroutine's locals (sched.h).
 * The panics (send on a closed channel, ...) are host-only: they are
 * checked in forked children (tests/host/test_rt_chan.c).
 *
 * Frames (kernel): the cases are CASE_KEEPS_FRAMES because what they
 * allocate stays by design - channels and their rings on the heap (no
 * collector yet), G structs and select sudogs in the runtime's metadata
 * (recycled, never given back), and the first heap arena the suite maps.
 * What must come back is checked instead, exactly: every stack (the
 * runtime's counts are zero, on both sides), and in the kernel every frame
 * owner but the runtime's heap and metadata (and their page tables) holds
 * as many frames as before the case.
 */
#define CASE_GROUP "rt.chan"
#include "tests/case.h"

#include "rt/rt.h"
#include "rt/sched.h"
#include "tests/rt/rt_cases.h"

#ifndef HOSTED
#include "kernel/lib/percpu.h"
#include "mm/buddy.h"
#endif

#define BAD(cond)                                                                                \
    do {                                                                                         \
        if (!(cond))                                                                             \
            __atomic_add_fetch(&bad, 1, __ATOMIC_RELAXED);                                       \
    } while (0)

static volatile uint64_t bad;     /* a coroutine saw something wrong */
static struct rt_waitgroup wg;
#ifndef HOSTED
static struct frame_stats frames_before;
#endif

static void begin(void)
{
    bad = 0;
    wg = (struct rt_waitgroup)RT_WAITGROUP_INIT;
#ifndef HOSTED
    frame_stats(&frames_before);
#endif
}

/*
 * Every stack went back to the OS when the world ended. In the kernel, the
 * only frames the case kept are the runtime's heap and metadata (and the
 * page tables that map them; per-CPU frame caches come and go): every other
 * owner's count is what it was.
 */
static void expect_stacks_returned(void)
{
    expect_nothing_held();
#ifndef HOSTED
    struct frame_stats fs;
    frame_stats(&fs);
    for (int o = FRAME_OWNER_METADATA; o <= FRAME_OWNER_TEST; o++) {
        if (o == FRAME_OWNER_HEAP || o == FRAME_OWNER_RTMETA || o == FRAME_OWNER_PAGETABLE)
            continue;
        if (fs.used_frames[o] != frames_before.used_frames[o])
            CASE_DIAG("frames owned by %s: %lu before, %lu after", frame_owner_name((enum frame_owner)o),
                      (unsigned long)frames_before.used_frames[o], (unsigned long)fs.used_frames[o]);
        EXPECT_EQ(fs.used_frames[o], frames_before.used_frames[o]);
    }
#endif
}

/* ---- unbuffered ping-pong: many coroutines, or many rounds ---- */

#define PP_PAIRS_MAX 5000
struct pair {
    struct rt_chan *ping, *pong;
    uint64_t sent, received;   /* by the pinger: its own counts, no sharing */
    uint64_t echoed;           /* by the ponger */
};
static struct pair *pairs;     /* on the heap */
static unsigned pp_pairs;
static uint64_t pp_rounds;

static void ponger(void *arg)
{
    struct pair *p = arg;
    uint64_t v;
    while (rt_chan_recv(p->ping, &v)) {
        v += 1;
        rt_chan_send(p->pong, &v);
        p->echoed++;
    }
    BAD(v == 0);   /* closed: the element reads as zero */
    rt_wg_done(&wg);
}

static void pinger(void *arg)
{
    struct pair *p = arg;
    for (uint64_t i = 1; i <= pp_rounds; i++) {
        uint64_t v = i << 20 | (uint64_t)(p - pairs), back = 0;
        rt_chan_send(p->ping, &v);
        p->sent++;
        BAD(rt_chan_recv(p->pong, &back));
        BAD(back == v + 1);
        p->received++;
    }
    rt_chan_close(p->ping);
    rt_wg_done(&wg);
}

static void pingpong_main(void *arg)
{
    (void)arg;
    static const struct rt_type pair_type = {sizeof(struct pair), 8, 16, (const uint8_t *)"\x03", "pair"};
    pairs = rt_alloc_array(&pair_type, pp_pairs);
    rt_wg_add(&wg, 2 * (int64_t)pp_pairs);
    for (unsigned i = 0; i < pp_pairs; i++) {
        pairs[i].ping = rt_chan_new(sizeof(uint64_t), 0);
        pairs[i].pong = rt_chan_new(sizeof(uint64_t), 0);
        rt_go(ponger, &pairs[i]);
        rt_go(pinger, &pairs[i]);
    }
    rt_wg_wait(&wg);
}

/* Runs pairs x rounds round trips on every P; exact counts per pair. */
static void pingpong(unsigned npairs, uint64_t rounds)
{
    pp_pairs = npairs;
    pp_rounds = rounds;
    uint64_t left = rt_run_joined(pingpong_main, NULL, CASE_ALL_PROCS);
    EXPECT_EQ(left, 0);
    EXPECT_EQ(bad, 0);
    uint64_t sent = 0, received = 0, echoed = 0;
    for (unsigned i = 0; i < pp_pairs; i++) {
        sent += pairs[i].sent;
        received += pairs[i].received;
        echoed += pairs[i].echoed;
    }
    CASE_DIAG("%u coroutines x %lu round trips: %lu messages", 2 * pp_pairs, (unsigned long)rounds,
              (unsigned long)(sent + received));
    EXPECT_EQ(sent, (uint64_t)pp_pairs * rounds);
    EXPECT_EQ(echoed, (uint64_t)pp_pairs * rounds);
    EXPECT_EQ(received, (uint64_t)pp_pairs * rounds);
    expect_stacks_returned();
}

#define PP_FRAMES(pairs) ((uint64_t)(pairs) * 5 / 2 + 1024)   /* 1.25 per coroutine + slack */

CASE_KEEPS_FRAMES(pingpong_10k)
{
    begin();
    unsigned npairs = PP_PAIRS_MAX;
#ifndef HOSTED
    /* A coroutine costs ~1.1 frames here (its 4 KiB stack, its G, its channel,
     * page tables); 10,000 of them fit in --mem 64M with little to spare. A
     * machine with less runs as many pairs as fit, and says so. */
    uint64_t free_frames = frame_free_count();
    if (free_frames < PP_FRAMES(PP_PAIRS_MAX)) {
        npairs = free_frames > PP_FRAMES(50) ? (unsigned)((free_frames - PP_FRAMES(0)) * 2 / 5) : 50;
        CASE_DIAG("only %lu frames free: %u pairs instead of %u", (unsigned long)free_frames, npairs,
                  PP_PAIRS_MAX);
    }
#endif
    pingpong(npairs, 10);
}

CASE_KEEPS_FRAMES(pingpong_500_rounds)
{
    begin();
    pingpong(64, 500);
}

/* ---- buffered: capacity, FIFO, trysend/tryrecv ---- */

#define BUF_CAP 8
static volatile uint64_t buf_sent, buf_len_full, buf_trysend_full, buf_order_ok, buf_empty_fail;

static void buffered_basic_main(void *arg)
{
    (void)arg;
    struct rt_chan *c = rt_chan_new(sizeof(uint32_t), BUF_CAP);
    buf_sent = 0;
    for (uint32_t i = 0; i < 100; i++)
        if (rt_chan_trysend(c, &i))
            buf_sent++;
        else
            break;
    buf_len_full = rt_chan_len(c);
    uint32_t extra = 99;
    buf_trysend_full = rt_chan_trysend(c, &extra);
    buf_order_ok = 1;
    for (uint32_t i = 0; i < BUF_CAP; i++) {
        uint32_t v = 0xffffffff;
        bool ok = false;
        if (!rt_chan_tryrecv(c, &v, &ok) || !ok || v != i)
            buf_order_ok = 0;
    }
    uint32_t v;
    bool ok;
    buf_empty_fail = !rt_chan_tryrecv(c, &v, &ok) && rt_chan_len(c) == 0;
}

CASE_KEEPS_FRAMES(buffered_trysend_fills_capacity)
{
    begin();
    EXPECT_EQ(rt_run_joined(buffered_basic_main, NULL, 1), 0);
    EXPECT_EQ(buf_sent, BUF_CAP);
    EXPECT_EQ(buf_len_full, BUF_CAP);
    EXPECT_EQ(buf_trysend_full, 0);
    expect_stacks_returned();
}

CASE_KEEPS_FRAMES(buffered_tryrecv_in_order)
{
    begin();
    EXPECT_EQ(rt_run_joined(buffered_basic_main, NULL, 1), 0);
    EXPECT_EQ(buf_order_ok, 1);     /* FIFO order */
    EXPECT_EQ(buf_empty_fail, 1);   /* then tryrecv fails when empty */
    expect_stacks_returned();
}

/* Producers send (id, seq) through a small buffer; the consumer checks each
 * producer's sequence arrives in order and complete. */
#define FIFO_PRODUCERS 8
#define FIFO_PER 2000
#define FIFO_CAP 32
static struct rt_chan *fifo_chan;
static volatile uint64_t fifo_received, fifo_order_bad;

static void fifo_producer(void *arg)
{
    uint64_t id = (uintptr_t)arg;
    for (uint64_t s = 0; s < FIFO_PER; s++) {
        uint64_t v = id << 32 | s;
        rt_chan_send(fifo_chan, &v);
    }
    rt_wg_done(&wg);
}

static void fifo_main(void *arg)
{
    (void)arg;
    fifo_chan = rt_chan_new(sizeof(uint64_t), FIFO_CAP);
    rt_wg_add(&wg, FIFO_PRODUCERS);
    for (uintptr_t i = 0; i < FIFO_PRODUCERS; i++)
        rt_go(fifo_producer, (void *)i);
    uint64_t next[FIFO_PRODUCERS] = {0};
    for (int n = 0; n < FIFO_PRODUCERS * FIFO_PER; n++) {
        uint64_t v;
        if (!rt_chan_recv(fifo_chan, &v)) {
            fifo_order_bad++;
            break;
        }
        uint64_t id = v >> 32, s = v & 0xffffffff;
        if (id >= FIFO_PRODUCERS || s != next[id])
            fifo_order_bad++;
        else
            next[id]++;
        BAD(rt_chan_len(fifo_chan) <= FIFO_CAP);
        fifo_received++;
    }
    rt_wg_wait(&wg);
    uint64_t v = 0, w = 0;
    bool ok;
    BAD(!rt_chan_tryrecv(fifo_chan, &v, &ok));   /* drained: nothing extra */
    v = 12345;
    BAD(rt_chan_trysend(fifo_chan, &v));
    rt_chan_close(fifo_chan);
    BAD(rt_chan_recv(fifo_chan, &w) && w == 12345);   /* closed: the buffered one first */
    w = 1;
    BAD(!rt_chan_recv(fifo_chan, &w) && w == 0);      /* then ok = false, zeroed */
}

CASE_KEEPS_FRAMES(buffered_fifo)
{
    begin();
    fifo_received = fifo_order_bad = 0;
    EXPECT_EQ(rt_run_joined(fifo_main, NULL, CASE_ALL_PROCS), 0);
    EXPECT_EQ(bad, 0);
    EXPECT_EQ(fifo_order_bad, 0);
    EXPECT_EQ(fifo_received, FIFO_PRODUCERS * FIFO_PER);
    expect_stacks_returned();
}

/* ---- close ---- */

#define CLOSE_WAITERS 20
static struct rt_chan *close_unbuf, *close_buf;
static volatile uint64_t close_woken_notok, close_zeroed, close_buf_values, close_buf_notok;

static void close_waiter(void *arg)
{
    (void)arg;
    uint64_t v = 0xdeadbeefdeadbeefull;
    bool ok = rt_chan_recv(close_unbuf, &v);
    if (!ok)
        __atomic_add_fetch(&close_woken_notok, 1, __ATOMIC_RELAXED);
    if (v == 0)
        __atomic_add_fetch(&close_zeroed, 1, __ATOMIC_RELAXED);
    rt_wg_done(&wg);
}

static void close_unbuffered_main(void *arg)
{
    (void)arg;
    close_unbuf = rt_chan_new(sizeof(uint64_t), 0);
    rt_wg_add(&wg, CLOSE_WAITERS);
    for (int i = 0; i < CLOSE_WAITERS; i++)
        rt_go(close_waiter, NULL);
    rt_sleep(20 * 1000 * 1000);   /* let them all block */
    rt_chan_close(close_unbuf);
    rt_wg_wait(&wg);
}

CASE_KEEPS_FRAMES(close_wakes_every_receiver)
{
    begin();
    close_woken_notok = close_zeroed = 0;
    EXPECT_EQ(rt_run_joined(close_unbuffered_main, NULL, CASE_ALL_PROCS), 0);
    EXPECT_EQ(close_woken_notok, CLOSE_WAITERS);   /* ok = false */
    EXPECT_EQ(close_zeroed, CLOSE_WAITERS);        /* and a zeroed element */
    expect_stacks_returned();
}

/* A closed buffered channel still delivers what it holds, then ok = false. */
static void close_buffered_main(void *arg)
{
    (void)arg;
    close_buf = rt_chan_new(sizeof(uint64_t), 4);
    for (uint64_t i = 1; i <= 3; i++)
        rt_chan_send(close_buf, &i);
    rt_chan_close(close_buf);
    for (uint64_t i = 1; i <= 3; i++) {
        uint64_t v = 0;
        if (rt_chan_recv(close_buf, &v) && v == i)
            close_buf_values++;
    }
    for (int i = 0; i < 2; i++) {
        uint64_t v = 7;
        bool ok = true;
        if (rt_chan_tryrecv(close_buf, &v, &ok) && !ok && v == 0 && !rt_chan_recv(close_buf, NULL))
            close_buf_notok++;
    }
}

CASE_KEEPS_FRAMES(close_buffered_drains_first)
{
    begin();
    close_buf_values = close_buf_notok = 0;
    EXPECT_EQ(rt_run_joined(close_buffered_main, NULL, 1), 0);
    EXPECT_EQ(close_buf_values, 3);
    EXPECT_EQ(close_buf_notok, 2);
    expect_stacks_returned();
}

/* ---- select fairness ---- */

#define FAIR_ROUNDS 30000
static uint64_t fair2[2], fair3[3], fair_pairs[4];   /* pairs: (previous, next) of the 2-case run */
static volatile uint64_t fair_bad_value;

/* Every channel always holds one element; each round refills the one taken. */
static void fairness_run(int k, uint64_t *counts)
{
    struct rt_chan *ch[3];
    for (int i = 0; i < k; i++) {
        ch[i] = rt_chan_new(sizeof(uint64_t), 1);
        uint64_t v = (uint64_t)i;
        rt_chan_send(ch[i], &v);
    }
    int prev = -1;
    for (int r = 0; r < FAIR_ROUNDS; r++) {
        uint64_t got[3];
        struct rt_select_case cs[3];
        for (int i = 0; i < k; i++)
            cs[i] = (struct rt_select_case){ch[i], RT_SELECT_RECV, &got[i], false};
        int idx = rt_select(cs, k, false);
        if (idx < 0 || idx >= k || !cs[idx].ok || got[idx] != (uint64_t)idx) {
            fair_bad_value++;
            return;
        }
        counts[idx]++;
        if (k == 2 && prev >= 0)
            fair_pairs[prev * 2 + idx]++;
        prev = idx;
        rt_chan_send(ch[idx], &got[idx]);
    }
}

static void fair2_main(void *arg)
{
    (void)arg;
    fairness_run(2, fair2);
}

static void fair3_main(void *arg)
{
    (void)arg;
    fairness_run(3, fair3);
}

/* 100 x Pearson's chi-square against uniform, in integers (the kernel has no
 * floating point): sum (k*o - n)^2 / (k*n) = sum (o - n/k)^2 / (n/k). */
static uint64_t chi_square_x100(const uint64_t *counts, int k, uint64_t n)
{
    uint64_t num = 0;
    for (int i = 0; i < k; i++) {
        int64_t d = (int64_t)(k * counts[i]) - (int64_t)n;
        num += (uint64_t)(d * d);
    }
    return num * 100 / ((uint64_t)k * n);
}

/*
 * Critical values at p = 1e-6 (a false alarm once in a million runs; a 2%
 * bias on 2 cases already gives ~48): 23.93 (1 degree of freedom), 27.63
 * (2), 30.66 (3). The pairs test catches a generator that alternates
 * (uniform counts, but not random).
 */
CASE_KEEPS_FRAMES(select_fair_among_2)
{
    begin();
    fair2[0] = fair2[1] = 0;
    for (int i = 0; i < 4; i++)
        fair_pairs[i] = 0;
    fair_bad_value = 0;
    EXPECT_EQ(rt_run_joined(fair2_main, NULL, 1), 0);
    EXPECT_EQ(fair_bad_value, 0);
    EXPECT_EQ(fair2[0] + fair2[1], FAIR_ROUNDS);
    uint64_t c2 = chi_square_x100(fair2, 2, FAIR_ROUNDS), cp = chi_square_x100(fair_pairs, 4, FAIR_ROUNDS - 1);
    CASE_DIAG("2 ready: %lu %lu (chi2 %lu.%02lu); pairs 00 01 10 11: %lu %lu %lu %lu (chi2 %lu.%02lu)",
              (unsigned long)fair2[0], (unsigned long)fair2[1], (unsigned long)(c2 / 100),
              (unsigned long)(c2 % 100), (unsigned long)fair_pairs[0], (unsigned long)fair_pairs[1],
              (unsigned long)fair_pairs[2], (unsigned long)fair_pairs[3], (unsigned long)(cp / 100),
              (unsigned long)(cp % 100));
    EXPECT_LT(c2, 2393);   /* uniform between the two */
    EXPECT_LT(cp, 3066);   /* successive picks independent */
    expect_stacks_returned();
}

CASE_KEEPS_FRAMES(select_fair_among_3)
{
    begin();
    fair3[0] = fair3[1] = fair3[2] = 0;
    fair_bad_value = 0;
    EXPECT_EQ(rt_run_joined(fair3_main, NULL, 1), 0);
    EXPECT_EQ(fair_bad_value, 0);
    EXPECT_EQ(fair3[0] + fair3[1] + fair3[2], FAIR_ROUNDS);
    uint64_t c3 = chi_square_x100(fair3, 3, FAIR_ROUNDS);
    CASE_DIAG("3 ready: %lu %lu %lu (chi2 %lu.%02lu)", (unsigned long)fair3[0], (unsigned long)fair3[1],
              (unsigned long)fair3[2], (unsigned long)(c3 / 100), (unsigned long)(c3 % 100));
    EXPECT_LT(c3, 2763);
    expect_stacks_returned();
}

/* ---- select: non-blocking, blocking, send cases, close ---- */

static struct rt_chan *sa, *sb;
static volatile int64_t sel_ret[3], sel_val;
static volatile int sel_ok;

static void select_nonblocking_main(void *arg)
{
    (void)arg;
    sa = rt_chan_new(sizeof(uint64_t), 0);
    sb = rt_chan_new(sizeof(uint64_t), 0);
    uint64_t x = 0, y = 0, out = 777;
    struct rt_select_case cs[3] = {
        {sa, RT_SELECT_RECV, &x, false},
        {sb, RT_SELECT_RECV, &y, false},
        {NULL, RT_SELECT_RECV, &y, false},
    };
    sel_ret[0] = rt_select(cs, 3, false);   /* nothing ready */
    struct rt_select_case nils[2] = {{NULL, RT_SELECT_RECV, NULL, false}, {NULL, RT_SELECT_SEND, &x, false}};
    sel_ret[1] = rt_select(nils, 2, false); /* only NULL channels */
    struct rt_select_case same[2] = {{sa, RT_SELECT_SEND, &out, false}, {sa, RT_SELECT_RECV, &x, false}};
    sel_ret[2] = rt_select(same, 2, false); /* send and receive on one channel: nobody there */
}

CASE_KEEPS_FRAMES(select_nonblocking_nothing_ready)
{
    begin();
    EXPECT_EQ(rt_run_joined(select_nonblocking_main, NULL, 1), 0);
    EXPECT_EQ(sel_ret[0], -1);
    EXPECT_EQ(sel_ret[1], -1);
    EXPECT_EQ(sel_ret[2], -1);
    expect_stacks_returned();
}

static void late_sender(void *arg)
{
    (void)arg;
    rt_sleep(10 * 1000 * 1000);
    uint64_t v = 4242;
    rt_chan_send(sb, &v);
}

static void select_blocking_main(void *arg)
{
    (void)arg;
    sa = rt_chan_new(sizeof(uint64_t), 0);
    sb = rt_chan_new(sizeof(uint64_t), 0);
    uint64_t x = 0, y = 0;
    struct rt_select_case cs[3] = {
        {sa, RT_SELECT_RECV, &x, false},
        {sb, RT_SELECT_RECV, &y, false},
        {NULL, RT_SELECT_RECV, &y, false},
    };
    rt_go(late_sender, NULL);
    sel_ret[0] = rt_select(cs, 3, true);    /* blocks until late_sender sends on sb */
    sel_val = (int64_t)y;
}

CASE_KEEPS_FRAMES(select_blocks_until_a_case_fires)
{
    begin();
    EXPECT_EQ(rt_run_joined(select_blocking_main, NULL, CASE_ALL_PROCS), 0);
    EXPECT_EQ(sel_ret[0], 1);
    EXPECT_EQ(sel_val, 4242);
    expect_stacks_returned();
}

static void late_receiver(void *arg)
{
    (void)arg;
    rt_sleep(5 * 1000 * 1000);
    uint64_t v = 0;
    BAD(rt_chan_recv(sa, &v));
    sel_val = (int64_t)v;
    rt_wg_done(&wg);
}

static void select_send_main(void *arg)
{
    (void)arg;
    sa = rt_chan_new(sizeof(uint64_t), 0);
    rt_wg_add(&wg, 1);
    rt_go(late_receiver, NULL);
    uint64_t out = 777;
    struct rt_select_case sends[2] = {{sa, RT_SELECT_SEND, &out, false}, {NULL, RT_SELECT_SEND, &out, false}};
    sel_ret[0] = rt_select(sends, 2, true);
    rt_wg_wait(&wg);
}

CASE_KEEPS_FRAMES(select_send_fires_when_a_receiver_comes)
{
    begin();
    EXPECT_EQ(rt_run_joined(select_send_main, NULL, CASE_ALL_PROCS), 0);
    EXPECT_EQ(bad, 0);
    EXPECT_EQ(sel_ret[0], 0);
    EXPECT_EQ(sel_val, 777);
    expect_stacks_returned();
}

static void late_closer(void *arg)
{
    (void)arg;
    rt_sleep(5 * 1000 * 1000);
    rt_chan_close(sa);
}

static void select_close_main(void *arg)
{
    (void)arg;
    sa = rt_chan_new(sizeof(uint64_t), 0);
    uint64_t x = 5;
    rt_go(late_closer, NULL);
    struct rt_select_case rc[1] = {{sa, RT_SELECT_RECV, &x, true}};
    sel_ret[0] = rt_select(rc, 1, true);
    sel_ok = rc[0].ok;
    sel_val = (int64_t)x;
}

CASE_KEEPS_FRAMES(select_recv_woken_by_close)
{
    begin();
    EXPECT_EQ(rt_run_joined(select_close_main, NULL, CASE_ALL_PROCS), 0);
    EXPECT_EQ(sel_ret[0], 0);
    EXPECT_EQ(sel_ok, 0);    /* ok = false */
    EXPECT_EQ(sel_val, 0);   /* and a zeroed element */
    expect_stacks_returned();
}

/* ---- select under contention: every value exactly once ---- */

/* Many selectors and senders over shared unbuffered channels: every value
 * arrives exactly once (the sudogs of losing cases are unlinked right). */
#define SS_CHANS 3
#define SS_SENDERS 24
#define SS_PER 200
#define SS_SELECTORS 16
static struct rt_chan *ss_chan[SS_CHANS], *ss_quit;
static volatile uint64_t ss_sum, ss_count, ss_nonblock_ret;

static void ss_sender(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    for (uint64_t i = 1; i <= SS_PER; i++) {
        uint64_t v = i;
        rt_chan_send(ss_chan[id % SS_CHANS], &v);
    }
    rt_wg_done(&wg);
}

static void ss_selector(void *arg)
{
    (void)arg;
    for (;;) {
        uint64_t v[SS_CHANS + 1];
        struct rt_select_case cs[SS_CHANS + 1];
        for (int i = 0; i < SS_CHANS; i++)
            cs[i] = (struct rt_select_case){ss_chan[i], RT_SELECT_RECV, &v[i], false};
        cs[SS_CHANS] = (struct rt_select_case){ss_quit, RT_SELECT_RECV, &v[SS_CHANS], false};
        int idx = rt_select(cs, SS_CHANS + 1, true);
        if (idx == SS_CHANS) {
            BAD(!cs[idx].ok);
            break;
        }
        BAD(cs[idx].ok && v[idx] >= 1 && v[idx] <= SS_PER);
        __atomic_add_fetch(&ss_sum, v[idx], __ATOMIC_RELAXED);
        __atomic_add_fetch(&ss_count, 1, __ATOMIC_RELAXED);
    }
    rt_wg_done(&wg);
}

static void select_stress_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < SS_CHANS; i++)
        ss_chan[i] = rt_chan_new(sizeof(uint64_t), 0);
    ss_quit = rt_chan_new(0, 0);
    uint64_t v;
    struct rt_select_case none[2] = {{ss_chan[0], RT_SELECT_RECV, &v, false}, {NULL, RT_SELECT_SEND, &v, false}};
    ss_nonblock_ret = (uint64_t)(int64_t)rt_select(none, 2, false);   /* nothing ready: -1 */
    rt_wg_add(&wg, SS_SENDERS);
    for (uintptr_t i = 0; i < SS_SENDERS; i++)
        rt_go(ss_sender, (void *)i);
    for (int i = 0; i < SS_SELECTORS; i++)
        rt_go(ss_selector, NULL);
    rt_wg_wait(&wg);                 /* every value was taken by some selector */
    rt_wg_add(&wg, SS_SELECTORS);
    rt_chan_close(ss_quit);         /* each selector leaves through its quit case */
    rt_wg_wait(&wg);
}

CASE_KEEPS_FRAMES(select_exactly_once)
{
    begin();
    ss_sum = ss_count = 0;
    EXPECT_EQ(rt_run_joined(select_stress_main, NULL, CASE_ALL_PROCS), 0);
    EXPECT_EQ(bad, 0);
    EXPECT_EQ(ss_nonblock_ret, (uint64_t)-1);
    EXPECT_EQ(ss_count, (uint64_t)SS_SENDERS * SS_PER);
    EXPECT_EQ(ss_sum, (uint64_t)SS_SENDERS * SS_PER * (SS_PER + 1) / 2);
    expect_stacks_returned();
}

/* ---- mutex on every P ---- */

#define MU_WORKERS 64
#define MU_ITERS 1000
#define MU_PROCS_MAX 64
static struct rt_mutex mu;
static uint64_t mu_counter;           /* plain: only the mutex protects it */
static volatile uint64_t mu_inside;
static volatile uint64_t mu_proc_seen[MU_PROCS_MAX];

static void mu_worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < MU_ITERS; i++) {
        rt_mutex_lock(&mu);
        BAD(__atomic_add_fetch(&mu_inside, 1, __ATOMIC_RELAXED) == 1);
        mu_proc_seen[rt_current_proc() % MU_PROCS_MAX] = 1;
        uint64_t c = mu_counter;
        if (i % 32 == 0)
            rt_gosched();             /* holding it: the others park */
        mu_counter = c + 1;
        __atomic_sub_fetch(&mu_inside, 1, __ATOMIC_RELAXED);
        rt_mutex_unlock(&mu);
    }
    rt_wg_done(&wg);
}

static volatile int mu_trylock_free, mu_trylock_held;

static void mutex_main(void *arg)
{
    (void)arg;
    rt_wg_add(&wg, MU_WORKERS);
    for (int i = 0; i < MU_WORKERS; i++)
        rt_go(mu_worker, NULL);
    rt_wg_wait(&wg);
    mu_trylock_free = rt_mutex_trylock(&mu);
    mu_trylock_held = rt_mutex_trylock(&mu);
    rt_mutex_unlock(&mu);
}

CASE_KEEPS_FRAMES(mutex_all_procs)
{
    begin();
    mu_counter = 0;
    for (unsigned c = 0; c < MU_PROCS_MAX; c++)
        mu_proc_seen[c] = 0;
    EXPECT_EQ(rt_run_joined(mutex_main, NULL, CASE_ALL_PROCS), 0);
    EXPECT_EQ(bad, 0);   /* never two inside */
    EXPECT_EQ(mu_counter, (uint64_t)MU_WORKERS * MU_ITERS);
    EXPECT_EQ(mu_trylock_free, 1);
    EXPECT_EQ(mu_trylock_held, 0);
    EXPECT_EQ(mu.state, 0);
    EXPECT_EQ(mu.nwait, 0);
    unsigned held_on = 0;
    for (unsigned c = 0; c < MU_PROCS_MAX; c++)
        held_on += mu_proc_seen[c] != 0;
    CASE_DIAG("the mutex was held on %u Ps", held_on);
    expect_stacks_returned();
}

/* ---- wait group on every P ---- */

#define WG_N 1000
#define WG_WAITERS 8
static struct rt_waitgroup wg2;
static volatile uint64_t wg_finished, wg_seen[WG_WAITERS];

static void wg_worker(void *arg)
{
    uintptr_t i = (uintptr_t)arg;
    for (volatile uintptr_t spin = 0; spin < (i % 13) * 100; spin++)
        ;
    if (i % 5 == 0)
        rt_sleep(100000);
    __atomic_add_fetch(&wg_finished, 1, __ATOMIC_RELAXED);
    rt_wg_done(&wg2);
}

static void wg_waiter(void *arg)
{
    uintptr_t i = (uintptr_t)arg;
    rt_wg_wait(&wg2);
    wg_seen[i] = __atomic_load_n(&wg_finished, __ATOMIC_RELAXED);
    rt_wg_done(&wg);
}

static void wg_main(void *arg)
{
    (void)arg;
    rt_wg_add(&wg2, WG_N);
    rt_wg_add(&wg, WG_WAITERS);
    for (uintptr_t i = 0; i < WG_WAITERS; i++)
        rt_go(wg_waiter, (void *)i);
    for (uintptr_t i = 0; i < WG_N; i++)
        rt_go(wg_worker, (void *)i);
    rt_wg_wait(&wg);
    rt_wg_wait(&wg2);   /* already zero: returns at once */
}

CASE_KEEPS_FRAMES(waitgroup)
{
    begin();
    wg2 = (struct rt_waitgroup)RT_WAITGROUP_INIT;
    wg_finished = 0;
    EXPECT_EQ(rt_run_joined(wg_main, NULL, CASE_ALL_PROCS), 0);
    EXPECT_EQ(wg_finished, WG_N);
    for (int i = 0; i < WG_WAITERS; i++)
        EXPECT_EQ(wg_seen[i], WG_N);   /* no waiter left before the last worker */
    EXPECT_EQ(wg2.count, 0);
    EXPECT_EQ(wg2.nwait, 0);
    expect_stacks_returned();
}
