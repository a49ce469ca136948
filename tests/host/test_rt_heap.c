/*
 * test_rt_heap.c - the page heap (rt/mheap.c, rt/mpagealloc.c, rt/mgcscavenge.c)
 * below the allocator: page runs against a model, coalescing, spans larger than
 * an arena, manual spans, the scavenger seen from the OS, and growth failure.
 * Spans are freed here with mheap_free, standing in for the collector's sweeper.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "rt/mheap.h"
#include "rt/mstats.h"
#include "rt/rt.h"
#include "rt/sched.h"
#include "rt/sys.h"
#include "tests/host/tap.h"
#include "tests/xorshift.h"

/* TEST_RT_COMMON (tests/host/test_rt_common.c) */
bool rt_identities_ok(const char *phase);
int run_child(void (*fn)(void), char *out, size_t outsize);
bool died_with(int status, const char *out, const char *needle);
size_t resident_pages(const void *p, size_t n);
long rss_kib(void);

/* xorshift64*, seeded from TEST_SEED (or a fresh seed) in main; printed. */
static uint64_t rng;
static uint64_t next_rand(void) { return xorshift64star(&rng); }

/* Writes the run's tag into its first and last word. */
static void tag_span(struct mspan *s, uint64_t tag)
{
	*(uint64_t *)s->startaddr = tag;
	*(uint64_t *)(mspan_end(s) - 8) = tag;
}

static bool spanof_all_pages(struct mspan *s)
{
	for (uintptr_t p = s->startaddr; p < mspan_end(s); p += RT_PAGE_SIZE)
		if (spanof((void *)p) != s || spanof((void *)(p + RT_PAGE_SIZE - 1)) != s)
			return false;
	return spanof((void *)(s->startaddr - 1)) != s && spanof((void *)mspan_end(s)) != s;
}

#define NLIVE 256

static void test_random_runs(void)
{
	struct mspan *live[NLIVE] = { 0 };
	uint64_t tags[NLIVE] = { 0 };
	bool ok_tags = true, ok_lookup = true, ok_overlap = true;
	for (int op = 0; op < 6000; op++) {
		int i = (int)(next_rand() % NLIVE);
		if (live[i] != NULL) {
			struct mspan *s = live[i];
			if (*(uint64_t *)s->startaddr != tags[i] || *(uint64_t *)(mspan_end(s) - 8) != tags[i])
				ok_tags = false;
			mheap_free(s);
			live[i] = NULL;
		} else {
			uintptr_t r = next_rand() % 100;
			uintptr_t np = r < 70 ? 1 + next_rand() % 16 : r < 95 ? 1 + next_rand() % 300
									   : 128 + next_rand() % 3000;
			struct mspan *s = mheap_alloc(np, make_spanclass(0, 1));
			if (s == NULL || s->npages != np) {
				tap_diag("mheap_alloc(%lu) failed: %s", (unsigned long)np, mheap_error());
				ok_lookup = false;
				continue;
			}
			if (!spanof_all_pages(s))
				ok_lookup = false;
			/* no live run may share a page with the new one */
			for (int j = 0; j < NLIVE; j++)
				if (live[j] && live[j]->startaddr < mspan_end(s) &&
				    s->startaddr < mspan_end(live[j]))
					ok_overlap = false;
			live[i] = s;
			tags[i] = next_rand();
			tag_span(s, tags[i]);
		}
		if (op % 500 == 0)
			mheap_verify();
	}
	mheap_verify();
	tap_check(ok_lookup, "random runs: every page of every span maps to it (and not past it)");
	tap_check(ok_overlap, "random runs: no two live runs overlap (checked against the model)");
	tap_check(ok_tags, "random runs: tags written at both ends survive until free");
	tap_check(rt_identities_ok("random runs with live spans"), "identities with live spans");
	for (int i = 0; i < NLIVE; i++)
		if (live[i])
			mheap_free(live[i]);
	mheap_verify();
	struct rt_memstats m;
	rt_read_memstats(&m);
	uint64_t runs = 0;
	for (unsigned b = 0; b < PAGEFREE_NBUCKETS; b++)
		runs += mheap_.free[b].n;
	tap_check(m.heap_inuse == 0 && m.heap_idle == m.heap_sys && runs == 1,
		  "after freeing everything: one coalesced free run of HeapSys (%llu runs, inuse %llu)",
		  (unsigned long long)runs, (unsigned long long)m.heap_inuse);
}

static void test_coalesce(void)
{
	struct mspan *a = mheap_alloc(777, make_spanclass(0, 1));
	struct mspan *b = mheap_alloc(777, make_spanclass(0, 1));
	struct mspan *c = mheap_alloc(777, make_spanclass(0, 1));
	bool adjacent = mspan_end(a) == b->startaddr && mspan_end(b) == c->startaddr;
	tap_check(adjacent, "three 777-page runs are carved from one free run in address order");
	uintptr_t base = a->startaddr;
	mheap_free(a);
	mheap_free(c);
	struct mspan *fa = spanof_unchecked(base);
	tap_check(fa->state == MSPAN_FREE && fa->npages >= 777 && spanof((void *)base) == NULL,
		  "a freed run is a free run; spanof no longer finds it");
	mheap_free(b);
	struct mspan *f = spanof_unchecked(base);
	tap_check(f->state == MSPAN_FREE && f->startaddr <= base && mspan_end(f) >= base + 3 * 777 * RT_PAGE_SIZE,
		  "freeing the middle run coalesces all three (and their neighbours)");
	mheap_verify();
}

static void test_huge(void)
{
	uintptr_t np = (RT_ARENA_SIZE * 5 / 2) / RT_PAGE_SIZE;   /* 160 MiB */
	struct mspan *s = mheap_alloc(np, make_spanclass(0, 1));
	bool ok = s != NULL && s->npages == np;
	if (ok) {
		uintptr_t a0 = s->startaddr >> RT_ARENA_SHIFT, a1 = (mspan_end(s) - 1) >> RT_ARENA_SHIFT;
		ok = a1 >= a0 + 2 && spanof_all_pages(s);
		*(volatile char *)(mspan_end(s) - 1) = 1;   /* the last byte is usable */
	}
	tap_check(ok, "a 160 MiB span spans three or more contiguous arenas, every page mapped");
	mheap_verify();
	if (s)
		mheap_free(s);
	mheap_verify();
	tap_check(rt_identities_ok("after a huge span"), "identities after a huge span");
}

static void test_manual(void)
{
	struct rt_memstats before, during, after;
	rt_read_memstats(&before);
	struct mspan *s = mheap_alloc_manual(4);
	rt_read_memstats(&during);
	bool ok = s != NULL && s->state == MSPAN_MANUAL &&
		  during.stack_inuse == before.stack_inuse + 4 * RT_PAGE_SIZE &&
		  during.stack_sys == before.stack_sys + 4 * RT_PAGE_SIZE &&
		  during.heap_sys == before.heap_sys - 4 * RT_PAGE_SIZE && during.sys == before.sys;
	tap_check(ok, "a manual span moves its bytes from HeapSys to StackSys/StackInuse");
	tap_check(rt_identities_ok("with a manual span"), "identities with a manual span");
	mheap_free_manual(s);
	rt_read_memstats(&after);
	tap_check(after.stack_inuse == before.stack_inuse && after.heap_sys == before.heap_sys,
		  "freeing it moves them back");
	mheap_verify();
}

static void test_scavenge(void)
{
	const uintptr_t np = (32u << 20) / RT_PAGE_SIZE;   /* 32 MiB */
	struct mspan *s = mheap_alloc(np, make_spanclass(0, 1));
	uintptr_t base = s->startaddr;
	memset((void *)base, 0xa5, np * RT_PAGE_SIZE);
	size_t res_before = resident_pages((void *)base, np * RT_PAGE_SIZE);
	mheap_free(s);
	struct sys_stats os0, os1;
	struct rt_memstats m0, m1;
	sys_read_stats(&os0);
	rt_read_memstats(&m0);
	long rss0 = rss_kib();
	rt_free_os_memory();
	long rss1 = rss_kib();
	sys_read_stats(&os1);
	rt_read_memstats(&m1);
	size_t res_after = resident_pages((void *)base, np * RT_PAGE_SIZE);
	uint64_t freed = m1.heap_released - m0.heap_released;
	tap_diag("scavenge: released %llu KiB; OS ready %llu -> %llu KiB; resident pages %zu -> %zu; "
		 "Rss %ld -> %ld KiB", (unsigned long long)(freed >> 10),
		 (unsigned long long)(os0.ready >> 10), (unsigned long long)(os1.ready >> 10),
		 res_before, res_after, rss0, rss1);
	tap_check(freed >= np * RT_PAGE_SIZE && m1.heap_released == m1.heap_idle,
		  "rt_free_os_memory releases every free page (HeapReleased == HeapIdle)");
	tap_check(os0.ready - os1.ready == freed && os1.nunused > os0.nunused,
		  "the OS view's committed bytes drop by exactly the released bytes");
	tap_check(res_before == np * RT_PAGE_SIZE / 4096 && res_after == 0,
		  "mincore: the 32 MiB run was resident before, none of it after");
	tap_check(rss0 > 0 && rss0 - rss1 >= 30 * 1024, "smaps_rollup: Rss dropped by >= 30 MiB");
	tap_check(rt_identities_ok("after scavenging"), "identities after scavenging");

	/* Reuse: the pages come back through sys_used, zeroed, with needzero clear. */
	struct mspan *t = mheap_alloc(np, make_spanclass(0, 1));
	struct sys_stats os2;
	sys_read_stats(&os2);
	bool zero = true;
	for (uintptr_t p = t->startaddr; p < mspan_end(t); p += 8)
		if (*(uint64_t *)p != 0) {
			zero = false;
			break;
		}
	tap_check(t->startaddr == base && t->needzero == 0 && zero && os2.nused > os1.nused,
		  "reused scavenged pages: sys_used again, read as zero, needzero clear");
	memset((void *)t->startaddr, 1, RT_PAGE_SIZE);
	mheap_free(t);
	struct mspan *u = mheap_alloc(1, make_spanclass(0, 1));
	tap_check(u->startaddr == base && u->needzero == 1 &&
		  *(uint64_t *)u->startaddr == 0xdbdbdbdbdbdbdbdbull,
		  "reused dirty page: needzero set; debug junk (0xdb) shows it was filled on free");
	mheap_free(u);

	/* The goal-based scavenge keeps the heap goal (or HeapInuse, if more) + 10%. */
	struct mspan *keep = mheap_alloc(np, make_spanclass(0, 1));
	memset((void *)keep->startaddr, 7, np * RT_PAGE_SIZE);
	struct mspan *drop = mheap_alloc(np, make_spanclass(0, 1));
	memset((void *)drop->startaddr, 7, np * RT_PAGE_SIZE);
	mheap_free(drop);
	rt_scavenge_to_goal();
	struct rt_memstats g;
	rt_read_memstats(&g);
	uint64_t retained = g.heap_sys - g.heap_released;
	uint64_t goal = g.next_gc > g.heap_inuse ? g.next_gc : g.heap_inuse;
	tap_check(goal < (uint64_t)np * RT_PAGE_SIZE * 2 && retained <= goal + goal / 10 + RT_PAGE_SIZE &&
		  retained >= g.heap_inuse,
		  "rt_scavenge_to_goal: retained %llu KiB <= max(goal %llu KiB, in-use %llu KiB) + 10%% "
		  "(of %llu KiB before)",
		  (unsigned long long)(retained >> 10), (unsigned long long)(g.next_gc >> 10),
		  (unsigned long long)(g.heap_inuse >> 10), (unsigned long long)(np * RT_PAGE_SIZE * 2 >> 10));
	mheap_free(keep);
	mheap_verify();
}

static void test_grow_failure(void)
{
	struct sys_stats os;
	sys_read_stats(&os);
	struct rt_memstats before, after;
	rt_read_memstats(&before);
	uint64_t free_bytes = before.heap_idle;
	/* Allow at most 8 MiB more of mapping: a request beyond the free runs cannot be met. */
	sys_set_limits(0, os.prepared + os.ready + (8u << 20));
	uintptr_t np = (free_bytes + RT_ARENA_SIZE) / RT_PAGE_SIZE;
	struct mspan *s = mheap_alloc(np, make_spanclass(0, 1));
	tap_check(s == NULL && strstr(mheap_error(), "sys_map") && strstr(mheap_error(), "limit"),
		  "mheap_alloc beyond the map limit fails: \"%s\"", mheap_error());
	mheap_verify();
	rt_read_memstats(&after);
	tap_check(after.heap_sys == before.heap_sys && after.heap_idle == before.heap_idle &&
		  after.sys == before.sys, "a failed growth changes no statistic");
	sys_set_limits(os.reserved + (8u << 20), 0);
	s = mheap_alloc(np, make_spanclass(0, 1));
	tap_check(s == NULL && strstr(mheap_error(), "sys_reserve") != NULL,
		  "beyond the reserve limit: \"%s\"", mheap_error());
	sys_set_limits(0, 0);
	s = mheap_alloc(np, make_spanclass(0, 1));
	tap_check(s != NULL, "with the limits lifted the same request succeeds");
	if (s)
		mheap_free(s);
	mheap_verify();
	tap_check(rt_identities_ok("after growth failures"), "identities after growth failures");
}

static void bad_lock_order(void)
{
	rt_lock(&mheap_.lock);
	rt_lock(&mheap_.central[3].lock);   /* mcentral (10) under mheap (20): forbidden */
}

static void bad_sys_range(void)
{
	sys_used((void *)0x1000, 100);
}

/* A lock ranked at or above the stack pool, taken on a coroutine stack: a
 * growth under it would deadlock (make stress once hit one: persistent_alloc
 * under a select's sudog refill); rt/lockrank.c refuses it every time. */
static struct rt_lock high_lock;

static void high_lock_main(void *arg)
{
	(void)arg;
	rt_lock(&high_lock);
	rt_unlock(&high_lock);
}

static void high_lock_off_stack(void *arg)
{
	(void)arg;
	rt_lock(&high_lock);   /* on the system stack: allowed */
	rt_unlock(&high_lock);
}

static void high_lock_ok_main(void *arg)
{
	(void)arg;
	rt_systemstack(high_lock_off_stack, NULL);
}

static void high_lock_child(void)
{
	rt_lock_init(&high_lock, LOCKRANK_PERSISTENT, "test persistent-rank");
	rt_run(high_lock_ok_main, NULL, 1);   /* must not panic */
	rt_run(high_lock_main, NULL, 1);
}

static void test_checks(void)
{
	char out[4096];
	int st = run_child(bad_lock_order, out, sizeof(out));
	tap_check(died_with(st, out, "lock order violated: acquiring mcentral (rank 10) while holding mheap"),
		  "lock-rank check: mcentral under mheap panics naming both locks");
	st = run_child(bad_sys_range, out, sizeof(out));
	tap_check(died_with(st, out, "sys_used(0x1000, 100): range must be non-empty, 4096-byte aligned"),
		  "sys.h rule 1: a misaligned range panics naming the call");
	st = run_child(high_lock_child, out, sizeof(out));
	tap_check(died_with(st, out, "lock test persistent-rank (rank 30) taken on a coroutine stack"),
		  "a lock ranked above the stack pool is refused on a coroutine stack, allowed on the system stack");
}

int main(void)
{
	rng = tap_seed();
	rt_init();
	mheap_verify();
	tap_check(rt_identities_ok("fresh heap"), "identities on a fresh heap");
	test_random_runs();
	test_coalesce();
	test_huge();
	test_manual();
	test_scavenge();
	test_grow_failure();
	test_checks();
	return tap_done();
}
