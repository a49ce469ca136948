/*
 * test_rt_chan.c - channels, select, mutex and wait group (rt/chan.c,
 * rt/sema.c) on coroutines over Linux threads, under ASan and UBSan.
 *
 * As in test_rt_sched.c, coroutine code is built with -fsplit-stack and never
 * prints: results go to globals, checked with tap_check after rt_run returns.
 * Shared objects (channels, mutexes, wait groups) are heap or static, never a
 * coroutine's locals (sched.h). Panics are checked in forked children.
 */
#include "rt/rt.h"
#include "rt/sched.h"
#include "tests/host/tap.h"

#include <stdint.h>
#include <string.h>

int run_child(void (*fn)(void), char *out, size_t outsize);
bool died_with(int status, const char *out, const char *what);

#define NPROCS 4
#define BAD(cond) do { if (!(cond)) __atomic_add_fetch(&bad, 1, __ATOMIC_RELAXED); } while (0)

static volatile uint64_t bad;          /* a coroutine saw something wrong */
static struct rt_waitgroup wg;

static void reset(void)
{
	bad = 0;
	memset(&wg, 0, sizeof wg);
}

/* ---- 1. unbuffered ping-pong: exact counts on all Ps ---- */

#define PP_PAIRS 64
#define PP_ROUNDS 500
struct pair { struct rt_chan *ping, *pong; };
static struct pair *pairs;             /* on the heap */
static volatile uint64_t pp_msgs;

static void ponger(void *arg)
{
	struct pair *p = arg;
	uint64_t v;
	while (rt_chan_recv(p->ping, &v)) {
		__atomic_add_fetch(&pp_msgs, 1, __ATOMIC_RELAXED);
		v += 1;
		rt_chan_send(p->pong, &v);
	}
	BAD(v == 0);   /* closed: the element reads as zero */
	rt_wg_done(&wg);
}

static void pinger(void *arg)
{
	struct pair *p = arg;
	for (uint64_t i = 1; i <= PP_ROUNDS; i++) {
		uint64_t v = i * 1000, back = 0;
		rt_chan_send(p->ping, &v);
		__atomic_add_fetch(&pp_msgs, 1, __ATOMIC_RELAXED);
		BAD(rt_chan_recv(p->pong, &back));
		BAD(back == i * 1000 + 1);
		__atomic_add_fetch(&pp_msgs, 1, __ATOMIC_RELAXED);
	}
	rt_chan_close(p->ping);
	rt_wg_done(&wg);
}

static void pingpong_main(void *arg)
{
	(void)arg;
	pairs = rt_alloc(PP_PAIRS * sizeof(struct pair), NULL);
	rt_wg_add(&wg, 2 * PP_PAIRS);
	for (int i = 0; i < PP_PAIRS; i++) {
		pairs[i].ping = rt_chan_new(sizeof(uint64_t), 0);
		pairs[i].pong = rt_chan_new(sizeof(uint64_t), 0);
		rt_go(ponger, &pairs[i]);
		rt_go(pinger, &pairs[i]);
	}
	rt_wg_wait(&wg);
}

/* ---- 2. buffered: capacity, FIFO, trysend/tryrecv ---- */

#define BUF_CAP 8
static volatile uint64_t buf_sent, buf_len_full, buf_trysend_full, buf_order_ok, buf_empty_fail;

static void buffered_basic_main(void *arg)
{
	(void)arg;
	struct rt_chan *c = rt_chan_new(sizeof(uint32_t), BUF_CAP);
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

/* Producers send (id, seq) through a small buffer; the consumer checks each
 * producer's sequence arrives in order and complete. */
#define FIFO_PRODUCERS 6
#define FIFO_PER 3000
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
	fifo_chan = rt_chan_new(sizeof(uint64_t), 16);
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
		BAD(rt_chan_len(fifo_chan) <= 16);
		fifo_received++;
	}
	rt_wg_wait(&wg);
	uint64_t v;
	bool ok;
	BAD(!rt_chan_tryrecv(fifo_chan, &v, &ok));   /* nothing extra */
}

/* ---- 3. close ---- */

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

static void close_main(void *arg)
{
	(void)arg;
	close_unbuf = rt_chan_new(sizeof(uint64_t), 0);
	rt_wg_add(&wg, CLOSE_WAITERS);
	for (int i = 0; i < CLOSE_WAITERS; i++)
		rt_go(close_waiter, NULL);
	rt_sleep(20 * 1000 * 1000);   /* let them all block */
	rt_chan_close(close_unbuf);
	rt_wg_wait(&wg);

	/* A closed buffered channel still delivers what it holds, then ok = false. */
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

/* ---- 4. panics (children) ---- */

static void send_closed_main(void *arg)
{
	(void)arg;
	struct rt_chan *c = rt_chan_new(8, 1);
	uint64_t v = 1;
	rt_chan_close(c);
	rt_chan_send(c, &v);
}
static void send_closed_child(void) { rt_run(send_closed_main, NULL, 1); }

static struct rt_chan *blocked_sender_chan;
static void blocked_sender(void *arg)
{
	(void)arg;
	uint64_t v = 1;
	rt_chan_send(blocked_sender_chan, &v);
}
static void close_blocked_sender_main(void *arg)
{
	(void)arg;
	blocked_sender_chan = rt_chan_new(8, 0);
	rt_go(blocked_sender, NULL);
	rt_sleep(5 * 1000 * 1000);
	rt_chan_close(blocked_sender_chan);   /* the parked sender wakes and panics */
	rt_sleep(1000 * 1000 * 1000);
}
static void close_blocked_sender_child(void) { rt_run(close_blocked_sender_main, NULL, 2); }

static void close_closed_main(void *arg)
{
	(void)arg;
	struct rt_chan *c = rt_chan_new(8, 0);
	rt_chan_close(c);
	rt_chan_close(c);
}
static void close_closed_child(void) { rt_run(close_closed_main, NULL, 1); }

static void nil_send_main(void *arg)
{
	(void)arg;
	uint64_t v = 1;
	rt_chan_send(NULL, &v);
}
static void nil_send_child(void) { rt_run(nil_send_main, NULL, 1); }

static void wg_negative_main(void *arg)
{
	(void)arg;
	static struct rt_waitgroup w;
	rt_wg_add(&w, 1);
	rt_wg_done(&w);
	rt_wg_done(&w);
}
static void wg_negative_child(void) { rt_run(wg_negative_main, NULL, 1); }

static void mutex_on_stack_main(void *arg)
{
	(void)arg;
	struct rt_mutex mu = RT_MUTEX_INIT;
	rt_mutex_lock(&mu);
}
static void mutex_on_stack_child(void) { rt_run(mutex_on_stack_main, NULL, 1); }

static void unlock_unlocked_main(void *arg)
{
	(void)arg;
	static struct rt_mutex mu;
	rt_mutex_unlock(&mu);
}
static void unlock_unlocked_child(void) { rt_run(unlock_unlocked_main, NULL, 1); }

/* ---- 5. select fairness ---- */

#define FAIR_ROUNDS 30000
static uint64_t fair2[2], fair3[3], fair_pairs[4];   /* pairs: (previous, next) of the 2-case run */
static volatile uint64_t fair_bad_value;

/* Every channel always holds an element: each round the case that fired is refilled. */
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

/* Pearson's chi-square of counts against the uniform distribution. */
static double chi_square(const uint64_t *counts, int k, uint64_t total)
{
	double expect = (double)total / k, chi = 0;
	for (int i = 0; i < k; i++) {
		double d = (double)counts[i] - expect;
		chi += d * d / expect;
	}
	return chi;
}

/* ---- 6. select blocking and non-blocking ---- */

static struct rt_chan *sa, *sb, *sc_;
static volatile int64_t sel_empty_ret, sel_nil_ret, sel_block_idx, sel_block_val, sel_closed_idx,
	sel_closed_ok, sel_send_idx, sel_send_recv_val, sel_same_chan_idx;

static void late_sender(void *arg)
{
	(void)arg;
	rt_sleep(10 * 1000 * 1000);
	uint64_t v = 4242;
	rt_chan_send(sb, &v);
}

static void late_receiver(void *arg)
{
	(void)arg;
	rt_sleep(5 * 1000 * 1000);
	uint64_t v = 0;
	BAD(rt_chan_recv(sc_, &v));
	sel_send_recv_val = (int64_t)v;
	rt_wg_done(&wg);
}

static void late_closer(void *arg)
{
	(void)arg;
	rt_sleep(5 * 1000 * 1000);
	rt_chan_close(sa);
}

static void select_main(void *arg)
{
	(void)arg;
	sa = rt_chan_new(sizeof(uint64_t), 0);
	sb = rt_chan_new(sizeof(uint64_t), 0);
	sc_ = rt_chan_new(sizeof(uint64_t), 0);
	uint64_t x = 0, y = 0;
	struct rt_select_case cs[3] = {
		{sa, RT_SELECT_RECV, &x, false},
		{sb, RT_SELECT_RECV, &y, false},
		{NULL, RT_SELECT_RECV, &y, false},
	};
	sel_empty_ret = rt_select(cs, 3, false);   /* nothing ready: -1 */
	struct rt_select_case nils[2] = {{NULL, RT_SELECT_RECV, NULL, false}, {NULL, RT_SELECT_SEND, &x, false}};
	sel_nil_ret = rt_select(nils, 2, false);

	rt_go(late_sender, NULL);
	sel_block_idx = rt_select(cs, 3, true);    /* blocks until late_sender sends on sb */
	sel_block_val = (int64_t)y;

	/* A send case fires when a receiver arrives. */
	rt_wg_add(&wg, 1);
	rt_go(late_receiver, NULL);
	uint64_t out = 777;
	struct rt_select_case sends[2] = {{sc_, RT_SELECT_SEND, &out, false}, {NULL, RT_SELECT_SEND, &out, false}};
	sel_send_idx = rt_select(sends, 2, true);
	rt_wg_wait(&wg);

	/* Send and receive on one channel in one select: nobody there, -1. */
	x = 5;
	struct rt_select_case same[2] = {{sa, RT_SELECT_SEND, &out, false}, {sa, RT_SELECT_RECV, &x, false}};
	sel_same_chan_idx = rt_select(same, 2, false);
	/* A closer wakes a blocked receive case: ok = false. */
	rt_go(late_closer, NULL);
	struct rt_select_case rc[1] = {{sa, RT_SELECT_RECV, &x, true}};
	sel_closed_idx = rt_select(rc, 1, true);
	sel_closed_ok = rc[0].ok ? 1 : (x == 0 ? 0 : 2);
}

/* Many selectors and senders over shared unbuffered channels: every value
 * arrives exactly once (the sudogs of losing cases are unlinked right). */
#define SS_CHANS 3
#define SS_SENDERS 12
#define SS_PER 400
#define SS_SELECTORS 8
static struct rt_chan *ss_chan[SS_CHANS], *ss_quit;
static volatile uint64_t ss_sum, ss_count;

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
	rt_wg_add(&wg, SS_SENDERS);
	for (uintptr_t i = 0; i < SS_SENDERS; i++)
		rt_go(ss_sender, (void *)i);
	for (int i = 0; i < SS_SELECTORS; i++)
		rt_go(ss_selector, NULL);
	rt_wg_wait(&wg);                /* every value was taken by some selector */
	rt_wg_add(&wg, SS_SELECTORS);
	rt_chan_close(ss_quit);        /* wakes every selector through its quit case */
	rt_wg_wait(&wg);
}

/* ---- 7. mutex ---- */

#define MU_WORKERS 64
#define MU_ITERS 2000
static struct rt_mutex mu;
static uint64_t mu_counter;          /* plain: only the mutex protects it */
static volatile uint64_t mu_inside;
static volatile uint64_t mu_per_proc[64];

static void mu_worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < MU_ITERS; i++) {
		rt_mutex_lock(&mu);
		BAD(__atomic_add_fetch(&mu_inside, 1, __ATOMIC_RELAXED) == 1);
		uint64_t c = mu_counter;
		if (i % 64 == 0)
			rt_gosched();        /* holding the mutex: others must park */
		mu_counter = c + 1;
		__atomic_sub_fetch(&mu_inside, 1, __ATOMIC_RELAXED);
		rt_mutex_unlock(&mu);
	}
	__atomic_add_fetch(&mu_per_proc[rt_current_proc()], 1, __ATOMIC_RELAXED);
	rt_wg_done(&wg);
}

static void mutex_main(void *arg)
{
	(void)arg;
	rt_wg_add(&wg, MU_WORKERS);
	for (int i = 0; i < MU_WORKERS; i++)
		rt_go(mu_worker, NULL);
	rt_wg_wait(&wg);
	BAD(rt_mutex_trylock(&mu));
	BAD(!rt_mutex_trylock(&mu));
	rt_mutex_unlock(&mu);
}

/* ---- 8. wait group ---- */

#define WG_N 200
#define WG_WAITERS 5
static volatile uint64_t wg_finished, wg_seen_at_wait[WG_WAITERS];
static struct rt_waitgroup wg2;

static void wg_worker(void *arg)
{
	uintptr_t i = (uintptr_t)arg;
	rt_sleep((i % 7) * 100000);
	__atomic_add_fetch(&wg_finished, 1, __ATOMIC_RELAXED);
	rt_wg_done(&wg2);
}

static void wg_waiter(void *arg)
{
	uintptr_t i = (uintptr_t)arg;
	rt_wg_wait(&wg2);
	wg_seen_at_wait[i] = __atomic_load_n(&wg_finished, __ATOMIC_RELAXED);
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

int main(void)
{
	rt_init();
	uint64_t left;

	reset();
	left = rt_run(pingpong_main, NULL, NPROCS);
	tap_check(bad == 0 && left == 0 && pp_msgs == (uint64_t)PP_PAIRS * PP_ROUNDS * 3,
		  "ping-pong: %d pairs x %d round trips on %d Ps: %lu messages, all values right (%lu bad)",
		  PP_PAIRS, PP_ROUNDS, NPROCS, (unsigned long)pp_msgs, (unsigned long)bad);

	reset();
	rt_run(buffered_basic_main, NULL, 1);
	tap_check(buf_sent == BUF_CAP && buf_len_full == BUF_CAP && !buf_trysend_full,
		  "buffered: trysend fills exactly %d slots (%lu), len %lu, then fails", BUF_CAP,
		  (unsigned long)buf_sent, (unsigned long)buf_len_full);
	tap_check(buf_order_ok && buf_empty_fail, "buffered: tryrecv returns them in FIFO order, then fails when empty");

	reset();
	rt_run(fifo_main, NULL, NPROCS);
	tap_check(bad == 0 && fifo_order_bad == 0 && fifo_received == FIFO_PRODUCERS * FIFO_PER,
		  "buffered: %d producers' sequences arrive complete and in order (%lu received, %lu out of order)",
		  FIFO_PRODUCERS, (unsigned long)fifo_received, (unsigned long)fifo_order_bad);

	reset();
	rt_run(close_main, NULL, NPROCS);
	tap_check(close_woken_notok == CLOSE_WAITERS && close_zeroed == CLOSE_WAITERS,
		  "close wakes all %d blocked receivers with ok=false (%lu) and a zeroed element (%lu)",
		  CLOSE_WAITERS, (unsigned long)close_woken_notok, (unsigned long)close_zeroed);
	tap_check(close_buf_values == 3 && close_buf_notok == 2,
		  "a closed buffered channel delivers its 3 elements first (%lu), then ok=false (%lu)",
		  (unsigned long)close_buf_values, (unsigned long)close_buf_notok);

	char out[4096];
	int st = run_child(send_closed_child, out, sizeof out);
	tap_check(died_with(st, out, "send on closed channel"), "send on a closed channel panics");
	st = run_child(close_blocked_sender_child, out, sizeof out);
	tap_check(died_with(st, out, "send on closed channel"), "close makes a blocked sender panic");
	st = run_child(close_closed_child, out, sizeof out);
	tap_check(died_with(st, out, "close of closed channel"), "close of a closed channel panics");
	st = run_child(nil_send_child, out, sizeof out);
	tap_check(died_with(st, out, "nil channel"), "send on a NULL channel panics instead of hanging");
	st = run_child(wg_negative_child, out, sizeof out);
	tap_check(died_with(st, out, "negative wait group counter"), "a negative wait group counter panics");
	st = run_child(mutex_on_stack_child, out, sizeof out);
	tap_check(died_with(st, out, "is on a coroutine stack"), "a mutex on a coroutine stack is refused");
	st = run_child(unlock_unlocked_child, out, sizeof out);
	tap_check(died_with(st, out, "is not locked"), "unlock of an unlocked mutex panics");

	reset();
	rt_run(fairness_main, NULL, 1);
	/* Chi-square critical values at p = 1e-6 (a false alarm once in a million
	 * runs; a 2% bias on 2 cases already gives ~48): 23.93 (1 degree of
	 * freedom), 27.63 (2), 30.66 (3). The pairs test catches a generator that
	 * alternates (uniform counts, but not random). */
	double chi2 = chi_square(fair2, 2, FAIR_ROUNDS), chi3 = chi_square(fair3, 3, FAIR_ROUNDS);
	double chip = chi_square(fair_pairs, 4, FAIR_ROUNDS - 1);
	tap_diag("select over 2 ready: %lu %lu (chi2 %.2f); pairs 00 01 10 11: %lu %lu %lu %lu (chi2 %.2f)",
		 (unsigned long)fair2[0], (unsigned long)fair2[1], chi2, (unsigned long)fair_pairs[0],
		 (unsigned long)fair_pairs[1], (unsigned long)fair_pairs[2], (unsigned long)fair_pairs[3], chip);
	tap_diag("select over 3 ready: %lu %lu %lu (chi2 %.2f)", (unsigned long)fair3[0],
		 (unsigned long)fair3[1], (unsigned long)fair3[2], chi3);
	tap_check(fair_bad_value == 0 && fair2[0] + fair2[1] == FAIR_ROUNDS && chi2 < 23.93,
		  "select picks uniformly among 2 ready cases (chi-square %.2f < 23.93)", chi2);
	tap_check(fair_bad_value == 0 && chip < 30.66,
		  "successive picks are independent (pairs chi-square %.2f < 30.66)", chip);
	tap_check(fair_bad_value == 0 && fair3[0] + fair3[1] + fair3[2] == FAIR_ROUNDS && chi3 < 27.63,
		  "select picks uniformly among 3 ready cases (chi-square %.2f < 27.63)", chi3);

	reset();
	rt_run(select_main, NULL, NPROCS);
	tap_check(sel_empty_ret == -1 && sel_nil_ret == -1 && sel_same_chan_idx == -1,
		  "non-blocking select with nothing ready returns -1 (%ld, %ld, %ld)", (long)sel_empty_ret,
		  (long)sel_nil_ret, (long)sel_same_chan_idx);
	tap_check(sel_block_idx == 1 && sel_block_val == 4242,
		  "blocking select waits for the case that fires (case %ld, value %ld)", (long)sel_block_idx,
		  (long)sel_block_val);
	tap_check(bad == 0 && sel_send_idx == 0 && sel_send_recv_val == 777,
		  "a select send case fires when a receiver comes (case %ld, received %ld)",
		  (long)sel_send_idx, (long)sel_send_recv_val);
	tap_check(sel_closed_idx == 0 && sel_closed_ok == 0,
		  "a select receive woken by close gets ok=false and a zeroed element");

	reset();
	left = rt_run(select_stress_main, NULL, NPROCS);
	uint64_t want_sum = (uint64_t)SS_SENDERS * SS_PER * (SS_PER + 1) / 2;
	tap_check(bad == 0 && left == 0 && ss_count == (uint64_t)SS_SENDERS * SS_PER && ss_sum == want_sum,
		  "%d selectors over %d channels take %d senders' values exactly once (%lu of %lu, sum %s)",
		  SS_SELECTORS, SS_CHANS, SS_SENDERS, (unsigned long)ss_count,
		  (unsigned long)SS_SENDERS * SS_PER, ss_sum == want_sum ? "right" : "WRONG");

	reset();
	rt_run(mutex_main, NULL, NPROCS);
	int procs_used = 0;
	for (int p = 0; p < NPROCS; p++)
		procs_used += mu_per_proc[p] != 0;
	tap_check(bad == 0 && mu_counter == (uint64_t)MU_WORKERS * MU_ITERS,
		  "mutex: %d coroutines x %d increments on %d Ps: %lu, never two inside (%lu bad)",
		  MU_WORKERS, MU_ITERS, NPROCS, (unsigned long)mu_counter, (unsigned long)bad);
	tap_diag("mutex workers finished on %d of %d Ps", procs_used, NPROCS);

	reset();
	left = rt_run(wg_main, NULL, NPROCS);
	bool all_saw = true;
	for (int i = 0; i < WG_WAITERS; i++)
		all_saw = all_saw && wg_seen_at_wait[i] == WG_N;
	tap_check(left == 0 && all_saw && wg_finished == WG_N,
		  "wait group: %d waiters each return only after all %d workers finished", WG_WAITERS, WG_N);

	return tap_done();
}
