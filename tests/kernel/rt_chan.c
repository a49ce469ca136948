/*
 * rt_chan.c - in-kernel tests of channels, select, mutex and wait group
 * (rt/chan.c, rt/sema.c) on every CPU the run has.
 *
 * Each test calls rt_run from the boot CPU's system stack; coroutines write
 * their findings to statics, asserted after the world has ended.
 *
 * Frames: the tests are KTEST_KEEPS_FRAMES because what they allocate stays
 * by design - channels and their rings on the heap (no collector yet), G
 * structs and select sudogs in the runtime's metadata (recycled, never given
 * back), and the first heap arena the suite maps. What must come back is
 * checked here instead, exactly: every stack (the runtime's counts are zero),
 * and every frame owner but the runtime's heap and metadata (and their page
 * tables) holds as many frames as before the test. Measured: run first, the
 * tests keep 6 to 900 frames of heap arenas and G structs; run again, none.
 */
#include "kernel/ktest.h"
#include "kernel/lib/percpu.h"
#include "mm/buddy.h"
#include "rt/rt.h"
#include "rt/sched.h"

#define BAD(cond)                                                                                \
    do {                                                                                         \
        if (!(cond))                                                                             \
            __atomic_add_fetch(&bad, 1, __ATOMIC_RELAXED);                                       \
    } while (0)

static volatile uint64_t bad;     /* a coroutine saw something wrong */
static struct rt_waitgroup wg;
static struct frame_stats frames_before;

static void begin(void)
{
    bad = 0;
    wg = (struct rt_waitgroup)RT_WAITGROUP_INIT;
    frame_stats(&frames_before);
}

/*
 * Every stack went back to the OS when the world ended, and the only frames
 * the test kept are the runtime's heap and metadata (and the page tables
 * that map them; per-CPU frame caches come and go): every other owner's
 * count is what it was.
 */
static void expect_stacks_returned(void)
{
    struct rt_sched_stats ss;
    rt_read_sched_stats(&ss);
    KT_EQ(ss.stacks_inuse, 0);
    KT_EQ(ss.stack_chunks, 0);
    struct rt_memstats ms;
    rt_read_memstats(&ms);
    KT_EQ(ms.stack_inuse, 0);
    KT_EQ(ms.stack_sys, 0);
    struct frame_stats fs;
    frame_stats(&fs);
    for (int o = FRAME_OWNER_METADATA; o <= FRAME_OWNER_TEST; o++) {
        if (o == FRAME_OWNER_HEAP || o == FRAME_OWNER_RTMETA || o == FRAME_OWNER_PAGETABLE)
            continue;
        if (fs.used_frames[o] != frames_before.used_frames[o])
            ktest_diag("frames owned by %s: %lu before, %lu after", frame_owner_name((enum frame_owner)o),
                       (unsigned long)frames_before.used_frames[o], (unsigned long)fs.used_frames[o]);
        KT_EQ(fs.used_frames[o], frames_before.used_frames[o]);
    }
}

/* ---- 10,000 coroutines ping-ponging ---- */

#define PP_PAIRS_MAX 5000
#define PP_ROUNDS 10
#define PP_FRAMES(pairs) ((uint64_t)(pairs) * 5 / 2 + 1024)   /* 1.25 per coroutine + slack */
struct pair {
    struct rt_chan *ping, *pong;
    uint64_t sent, received;   /* by the pinger: its own counts, no sharing */
    uint64_t echoed;           /* by the ponger */
};
static struct pair *pairs;     /* on the heap */
static unsigned pp_pairs;

static void ponger(void *arg)
{
    struct pair *p = arg;
    uint64_t v;
    while (rt_chan_recv(p->ping, &v)) {
        v += 1;
        rt_chan_send(p->pong, &v);
        p->echoed++;
    }
    rt_wg_done(&wg);
}

static void pinger(void *arg)
{
    struct pair *p = arg;
    for (uint64_t i = 1; i <= PP_ROUNDS; i++) {
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

KTEST_KEEPS_FRAMES(rt_chan_pingpong, "rt.chan.pingpong_10k")
{
    begin();
    /* A coroutine costs ~1.1 frames here (its 4 KiB stack, its G, its channel,
     * page tables); 10,000 of them fit in --mem 64M with little to spare. A
     * machine with less runs as many pairs as fit, and says so. */
    uint64_t free_frames = frame_free_count();
    pp_pairs = PP_PAIRS_MAX;
    if (free_frames < PP_FRAMES(PP_PAIRS_MAX)) {
        pp_pairs = free_frames > PP_FRAMES(50) ? (unsigned)((free_frames - PP_FRAMES(0)) * 2 / 5) : 50;
        ktest_diag("only %lu frames free: %u pairs instead of %u", (unsigned long)free_frames,
                   pp_pairs, PP_PAIRS_MAX);
    }
    uint64_t left = rt_run(pingpong_main, NULL, 0);
    KT_EQ(left, 0);
    KT_EQ(bad, 0);
    uint64_t sent = 0, received = 0, echoed = 0;
    for (unsigned i = 0; i < pp_pairs; i++) {
        sent += pairs[i].sent;
        received += pairs[i].received;
        echoed += pairs[i].echoed;
    }
    ktest_diag("%u coroutines on %u CPUs: %lu messages", 2 * pp_pairs, cpu_count(),
               (unsigned long)(sent + received));
    KT_EQ(sent, (uint64_t)pp_pairs * PP_ROUNDS);
    KT_EQ(echoed, (uint64_t)pp_pairs * PP_ROUNDS);
    KT_EQ(received, (uint64_t)pp_pairs * PP_ROUNDS);
    expect_stacks_returned();
}

/* ---- buffered FIFO across CPUs ---- */

#define FIFO_PRODUCERS 8
#define FIFO_PER 2000
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
    fifo_chan = rt_chan_new(sizeof(uint64_t), 32);
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
        BAD(rt_chan_len(fifo_chan) <= 32);
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

KTEST_KEEPS_FRAMES(rt_chan_fifo, "rt.chan.buffered_fifo")
{
    begin();
    fifo_received = fifo_order_bad = 0;
    KT_EQ(rt_run(fifo_main, NULL, 0), 0);
    KT_EQ(bad, 0);
    KT_EQ(fifo_order_bad, 0);
    KT_EQ(fifo_received, FIFO_PRODUCERS * FIFO_PER);
    expect_stacks_returned();
}

/* ---- select fairness ---- */

#define FAIR_ROUNDS 30000
static uint64_t fair2[2], fair3[3], fair_pairs[4];
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

static void fairness_main(void *arg)
{
    (void)arg;
    fairness_run(2, fair2);
    fairness_run(3, fair3);
}

/* 100 x Pearson's chi-square against uniform, in integers (no floating point
 * here): sum (k*o - n)^2 / (k*n) = sum (o - n/k)^2 / (n/k). */
static uint64_t chi_square_x100(const uint64_t *counts, int k, uint64_t n)
{
    uint64_t num = 0;
    for (int i = 0; i < k; i++) {
        int64_t d = (int64_t)(k * counts[i]) - (int64_t)n;
        num += (uint64_t)(d * d);
    }
    return num * 100 / ((uint64_t)k * n);
}

KTEST_KEEPS_FRAMES(rt_chan_select_fair, "rt.chan.select_fairness")
{
    begin();
    for (int i = 0; i < 4; i++)
        fair_pairs[i] = 0;
    fair2[0] = fair2[1] = 0;
    fair3[0] = fair3[1] = fair3[2] = 0;
    fair_bad_value = 0;
    KT_EQ(rt_run(fairness_main, NULL, 0), 0);
    KT_EQ(fair_bad_value, 0);
    KT_EQ(fair2[0] + fair2[1], FAIR_ROUNDS);
    KT_EQ(fair3[0] + fair3[1] + fair3[2], FAIR_ROUNDS);
    uint64_t c2 = chi_square_x100(fair2, 2, FAIR_ROUNDS), c3 = chi_square_x100(fair3, 3, FAIR_ROUNDS);
    uint64_t cp = chi_square_x100(fair_pairs, 4, FAIR_ROUNDS - 1);
    ktest_diag("2 ready: %lu %lu (chi2 %lu.%02lu); pairs %lu %lu %lu %lu (chi2 %lu.%02lu)",
               (unsigned long)fair2[0], (unsigned long)fair2[1], (unsigned long)(c2 / 100),
               (unsigned long)(c2 % 100), (unsigned long)fair_pairs[0], (unsigned long)fair_pairs[1],
               (unsigned long)fair_pairs[2], (unsigned long)fair_pairs[3], (unsigned long)(cp / 100),
               (unsigned long)(cp % 100));
    ktest_diag("3 ready: %lu %lu %lu (chi2 %lu.%02lu)", (unsigned long)fair3[0], (unsigned long)fair3[1],
               (unsigned long)fair3[2], (unsigned long)(c3 / 100), (unsigned long)(c3 % 100));
    /* Critical values at p = 1e-6: 23.93 (1 dof), 27.63 (2), 30.66 (3). */
    KT_LT(c2, 2393);
    KT_LT(cp, 3066);
    KT_LT(c3, 2763);
    expect_stacks_returned();
}

/* ---- select under contention: every value exactly once ---- */

#define SS_CHANS 3
#define SS_SENDERS 24
#define SS_PER 200
#define SS_SELECTORS 16
static struct rt_chan *ss_chan[SS_CHANS], *ss_quit;
static volatile uint64_t ss_sum, ss_count, ss_blocked_idx, ss_nonblock_ret;

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

static void select_main(void *arg)
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

KTEST_KEEPS_FRAMES(rt_chan_select_stress, "rt.chan.select_exactly_once")
{
    begin();
    ss_sum = ss_count = 0;
    KT_EQ(rt_run(select_main, NULL, 0), 0);
    KT_EQ(bad, 0);
    KT_EQ(ss_nonblock_ret, (uint64_t)-1);
    KT_EQ(ss_count, (uint64_t)SS_SENDERS * SS_PER);
    KT_EQ(ss_sum, (uint64_t)SS_SENDERS * SS_PER * (SS_PER + 1) / 2);
    expect_stacks_returned();
}

/* ---- mutex on every CPU ---- */

#define MU_WORKERS 64
#define MU_ITERS 500
static struct rt_mutex mu;
static uint64_t mu_counter;           /* plain: only the mutex protects it */
static volatile uint64_t mu_inside;
static volatile uint64_t mu_cpu_seen[MAX_CPUS];

static void mu_worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < MU_ITERS; i++) {
        rt_mutex_lock(&mu);
        BAD(__atomic_add_fetch(&mu_inside, 1, __ATOMIC_RELAXED) == 1);
        mu_cpu_seen[cpu_id()] = 1;
        uint64_t c = mu_counter;
        if (i % 32 == 0)
            rt_gosched();             /* holding it: the others park */
        mu_counter = c + 1;
        __atomic_sub_fetch(&mu_inside, 1, __ATOMIC_RELAXED);
        rt_mutex_unlock(&mu);
    }
    rt_wg_done(&wg);
}

static void mutex_main(void *arg)
{
    (void)arg;
    rt_wg_add(&wg, MU_WORKERS);
    for (int i = 0; i < MU_WORKERS; i++)
        rt_go(mu_worker, NULL);
    rt_wg_wait(&wg);
}

KTEST_KEEPS_FRAMES(rt_chan_mutex, "rt.chan.mutex_all_cpus")
{
    begin();
    mu_counter = 0;
    for (unsigned c = 0; c < MAX_CPUS; c++)
        mu_cpu_seen[c] = 0;
    KT_EQ(rt_run(mutex_main, NULL, 0), 0);
    KT_EQ(bad, 0);
    KT_EQ(mu_counter, (uint64_t)MU_WORKERS * MU_ITERS);
    KT_EQ(mu.state, 0);
    KT_EQ(mu.nwait, 0);
    unsigned held_on = 0;
    for (unsigned c = 0; c < cpu_count(); c++)
        held_on += mu_cpu_seen[c] != 0;
    ktest_diag("the mutex was held on %u of %u CPUs", held_on, cpu_count());
    expect_stacks_returned();
}

/* ---- wait group on every CPU ---- */

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
}

KTEST_KEEPS_FRAMES(rt_chan_waitgroup, "rt.chan.waitgroup")
{
    begin();
    wg2 = (struct rt_waitgroup)RT_WAITGROUP_INIT;
    wg_finished = 0;
    KT_EQ(rt_run(wg_main, NULL, 0), 0);
    KT_EQ(wg_finished, WG_N);
    for (int i = 0; i < WG_WAITERS; i++)
        KT_EQ(wg_seen[i], WG_N);   /* no waiter left before the last worker */
    KT_EQ(wg2.count, 0);
    KT_EQ(wg2.nwait, 0);
    expect_stacks_returned();
}
