/*
 * sys.c - the portable half of the sys_* boundary (see sys.h for the contract).
 *
 * Checks the rules of sys.h once for every port, keeps the OS-view statistics
 * and the limits, and forwards to the port's sys_port_* functions.
 *
 * Reservations are recorded in a small table (SYS_MAX_RESERVATIONS) so that
 * every later call can be checked to lie inside one reservation; sys_free
 * must name a whole reservation. The table records each reservation as the
 * runtime made it, for every port. The kernel keeps a second table
 * (mm/sysmem.c's g_resv) that records something else: the OS's allocation of
 * address space, merged into sorted ranges and read by its fault reports.
 * Neither can stand in for the other: merged ranges have lost the
 * boundaries sys_free is checked against, and the hosted port has no OS
 * table to ask; the kernel must not take a runtime lock or trust the
 * client's records. The table and the limits are protected by
 * sys_lock (rank LOCKRANK_SYS, the innermost runtime lock); statistics are
 * updated with atomics so sys_read_stats needs no lock.
 */
#include "rt/sys.h"
#include "rt/port.h"

#define SYS_MAX_RESERVATIONS 4096

struct sys_reservation {
	uintptr_t base;
	size_t size;             /* 0: slot unused */
	enum sys_region region;
};

RT_NOSCAN static struct {
	struct rt_lock lock;
	bool init;
	struct sys_reservation res[SYS_MAX_RESERVATIONS];
	int nres;                /* slots [0, nres) may be in use */
	uint64_t reserve_limit, map_limit;
} sys;

static struct sys_stats stats;

static void sys_init_once(void)
{
	/* Called before any concurrency exists (rt_init) or under the first caller. */
	if (!sys.init) {
		rt_lock_init(&sys.lock, LOCKRANK_SYS, "sys");
		sys.init = true;
	}
}

static void add(uint64_t *p, uint64_t n) { __atomic_add_fetch(p, n, __ATOMIC_RELAXED); }
static void sub(uint64_t *p, uint64_t n) { __atomic_sub_fetch(p, n, __ATOMIC_RELAXED); }
static uint64_t load(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

/* Rule 1: page alignment, n > 0, no wrap. */
static void check_range(const char *call, void *v, size_t n)
{
	uintptr_t a = (uintptr_t)v;
	RT_ASSERT_MSG(n > 0 && (a & (SYS_PAGE_SIZE - 1)) == 0 && (n & (SYS_PAGE_SIZE - 1)) == 0
		      && a + n > a,
		      "%s(%p, %zu): range must be non-empty, %zu-byte aligned and not wrap",
		      call, v, n, SYS_PAGE_SIZE);
}

/* Rule 2: the range lies in one reservation; returns its slot. Caller holds sys.lock. */
static int find_reservation(const char *call, void *v, size_t n)
{
	uintptr_t a = (uintptr_t)v;
	for (int i = 0; i < sys.nres; i++) {
		struct sys_reservation *r = &sys.res[i];
		if (r->size != 0 && a >= r->base && a + n <= r->base + r->size)
			return i;
	}
	rt_throw("%s(%p, %zu): range is not inside one reservation", call, v, n);
}

/*
 * Rule 2 for sys_map/sys_used/sys_unused/sys_fault: the range is covered by adjacent
 * reservations of one region (the heap coalesces free runs across arenas).
 */
static void check_reserved(const char *call, void *v, size_t n)
{
	uintptr_t a = (uintptr_t)v, end = a + n;
	int region = -1;
	while (a < end) {
		int i;
		for (i = 0; i < sys.nres; i++) {
			struct sys_reservation *r = &sys.res[i];
			if (r->size != 0 && a >= r->base && a < r->base + r->size &&
			    (region < 0 || (int)r->region == region))
				break;
		}
		if (i == sys.nres)
			rt_throw("%s(%p, %zu): %p is not reserved (in this range's region)", call, v,
				 n, (void *)a);
		region = (int)sys.res[i].region;
		a = sys.res[i].base + sys.res[i].size;
	}
}

int sys_reserve(enum sys_region r, void *hint, size_t n, void **out)
{
	sys_init_once();
	RT_ASSERT_MSG((unsigned)r < SYS_NREGIONS, "sys_reserve: bad region %d", (int)r);
	if (hint != NULL)
		check_range("sys_reserve", hint, n);
	else
		check_range("sys_reserve", (void *)SYS_PAGE_SIZE, n);

	rt_lock(&sys.lock);
	int slot = -1;
	for (int i = 0; i < sys.nres; i++)
		if (sys.res[i].size == 0) {
			slot = i;
			break;
		}
	if (slot < 0 && sys.nres < SYS_MAX_RESERVATIONS)
		slot = sys.nres;
	int err = SYS_OK;
	if (slot < 0)
		err = SYS_ENOMEM;
	else if (sys.reserve_limit != 0 && load(&stats.reserved) + n > sys.reserve_limit)
		err = SYS_ELIMIT;
	void *p = NULL;
	if (err == SYS_OK)
		err = sys_port_reserve(r, hint, n, &p);
	if (err == SYS_OK) {
		RT_ASSERT_MSG(hint == NULL || p == hint, "sys_port_reserve ignored hint %p (got %p)",
			      hint, p);
		sys.res[slot] = (struct sys_reservation){ (uintptr_t)p, n, r };
		if (slot == sys.nres)
			sys.nres++;
		add(&stats.reserved, n);
		*out = p;
	}
	rt_unlock(&sys.lock);
	return err;
}

int sys_map(void *v, size_t n, uint64_t *stat)
{
	check_range("sys_map", v, n);
	RT_ASSERT_MSG(stat != NULL, "sys_map(%p, %zu): no statistic to charge", v, n);
	rt_lock(&sys.lock);
	check_reserved("sys_map", v, n);
	int err = SYS_OK;
	if (sys.map_limit != 0 && load(&stats.prepared) + load(&stats.ready) + n > sys.map_limit)
		err = SYS_ELIMIT;
	if (err == SYS_OK)
		err = sys_port_map(v, n);
	if (err == SYS_OK) {
		add(&stats.prepared, n);
		add(&stats.nmap, 1);
		add(stat, n);
	}
	rt_unlock(&sys.lock);
	return err;
}

void sys_used(void *v, size_t n)
{
	check_range("sys_used", v, n);
	if (RT_DEBUG >= 1) {
		rt_lock(&sys.lock);
		check_reserved("sys_used", v, n);
		rt_unlock(&sys.lock);
	}
	RT_ASSERT_MSG(load(&stats.prepared) >= n, "sys_used(%p, %zu): more than is Prepared", v, n);
	sys_port_used(v, n);
	sub(&stats.prepared, n);
	add(&stats.ready, n);
	add(&stats.nused, 1);
}

void sys_unused(void *v, size_t n)
{
	check_range("sys_unused", v, n);
	if (RT_DEBUG >= 1) {
		rt_lock(&sys.lock);
		check_reserved("sys_unused", v, n);
		rt_unlock(&sys.lock);
	}
	RT_ASSERT_MSG(load(&stats.ready) >= n, "sys_unused(%p, %zu): more than is Ready", v, n);
	sys_port_unused(v, n);
	sub(&stats.ready, n);
	add(&stats.prepared, n);
	add(&stats.nunused, 1);
}

void sys_free(void *v, size_t n, size_t mapped, size_t ready, uint64_t *stat)
{
	check_range("sys_free", v, n);
	RT_ASSERT_MSG(ready <= mapped && mapped <= n && (mapped == 0 || stat != NULL),
		      "sys_free(%p, %zu): inconsistent mapped=%zu ready=%zu", v, n, mapped, ready);
	rt_lock(&sys.lock);
	int i = find_reservation("sys_free", v, n);
	RT_ASSERT_MSG(sys.res[i].base == (uintptr_t)v && sys.res[i].size == n,
		      "sys_free(%p, %zu): must free a whole reservation [%p, +%zu)", v, n,
		      (void *)sys.res[i].base, sys.res[i].size);
	sys_port_free(v, n);
	sys.res[i].size = 0;
	sub(&stats.reserved, n);
	sub(&stats.ready, ready);
	sub(&stats.prepared, mapped - ready);
	if (mapped != 0)
		sub(stat, mapped);
	add(&stats.nfree, 1);
	rt_unlock(&sys.lock);
}

void sys_fault(void *v, size_t n)
{
	check_range("sys_fault", v, n);
	rt_lock(&sys.lock);
	check_reserved("sys_fault", v, n);
	rt_unlock(&sys.lock);
	sys_port_fault(v, n);
	add(&stats.faulted, n);
}

void sys_read_stats(struct sys_stats *out)
{
	out->reserved = load(&stats.reserved);
	out->prepared = load(&stats.prepared);
	out->ready = load(&stats.ready);
	out->faulted = load(&stats.faulted);
	out->nmap = load(&stats.nmap);
	out->nused = load(&stats.nused);
	out->nunused = load(&stats.nunused);
	out->nfree = load(&stats.nfree);
}

void sys_set_limits(uint64_t reserve_limit, uint64_t map_limit)
{
	sys_init_once();
	rt_lock(&sys.lock);
	sys.reserve_limit = reserve_limit;
	sys.map_limit = map_limit;
	rt_unlock(&sys.lock);
}

const char *sys_strerror(int err)
{
	switch (err) {
	case SYS_OK: return "ok";
	case SYS_ENOMEM: return "the OS has no memory or address space left";
	case SYS_ELIMIT: return "a configured limit (sys_set_limits) would be exceeded";
	case SYS_EBUSY: return "the hinted range is in use";
	case SYS_ERANGE: return "the hinted range is outside its region";
	default: return "unknown sys error";
	}
}

const char *sys_region_name(enum sys_region r)
{
	switch (r) {
	case SYS_REGION_HEAP: return "heap";
	case SYS_REGION_STACK: return "stack";
	case SYS_REGION_META: return "meta";
	default: return "?";
	}
}
