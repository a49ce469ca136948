/*
 * sys.h - the boundary between the runtime (rt/) and the OS that lends it memory.
 *
 * The runtime never touches a page-table entry. It sees address space as ranges
 * that move through four states, as in Go's runtime/mem.go:
 *
 *            sys_reserve           sys_map              sys_used
 *     None ---------------> Reserved ----------> Prepared ----------> Ready
 *       ^                     |   ^                 |  ^                |
 *       |     sys_free        |   |   sys_fault     |  |   sys_unused   |
 *       +---------------------+   +-----------------+  +----------------+
 *       (sys_free from any state; sys_fault from Prepared or Ready)
 *
 *   None      nothing: the OS may hand the range to anyone.
 *   Reserved  address space owned by the runtime; no frames, no commit charge.
 *             Any access faults, and the OS reports it as "reserved, not
 *             committed" for the region it lies in.
 *   Prepared  counted against the OS's commit limit (sys_map took the charge
 *             and the caller's Sys statistic) but holding no frames. Access is a
 *             runtime bug: the kernel port faults; the hosted port faults in
 *             strict mode (SYS_STRICT), otherwise it may silently commit a page.
 *   Ready     backed by frames, readable and writable.
 *
 * Rules written once (checked by rt/sys.c for every port, panicking with the
 * call, the range and the rule broken):
 *   1. v and n are multiples of SYS_PAGE_SIZE (4 KiB hardware pages); n > 0;
 *      v + n does not wrap.
 *   2. A call names reserved address space and moves it only along the arrows
 *      above. sys_free names exactly one whole reservation; sys_map, sys_used,
 *      sys_unused and sys_fault may cover adjacent reservations of one region
 *      (the heap grows into arenas reserved next to each other, and coalesces
 *      free runs across them; one sys_map keeps such a growth all-or-nothing). rt/sys.c checks this;
 *      the per-page state is the caller's to keep (the heap's page bitmaps).
 *   3. Only sys_reserve and sys_map can fail, and only for resource reasons:
 *      they return SYS_OK (0) or a negative SYS_E* code; sys_strerror() names it.
 *      Everything else is a programming error and panics.
 *   4. sys_used cannot fail: the frames were promised by sys_map's commit charge.
 *   5. Zeroing: memory that becomes Ready through sys_used reads as ZERO, whether
 *      it was never touched or was given back by sys_unused. (Hosted: fresh
 *      anonymous mmap pages and pages dropped with MADV_DONTNEED read as zero.
 *      Kernel: sys_used must hand out zeroed frames.) The heap relies on this
 *      to skip zeroing fresh and scavenged pages (Go's needzero).
 *   6. sys_unused loses the contents; the frames go back to the OS at once, and
 *      the OS's free-frame count shows them.
 *
 * Regions (DESIGN.md section 2): every reservation belongs to one region. The
 * heap asks for arenas at exact hints inside its region (RT_HEAP_REGION_BASE in
 * rt/port.h), and stacks at exact hints inside theirs (rt/stack.c's cursor,
 * which keeps reservations a page apart); metadata passes hint NULL and lets
 * the port choose.
 *
 * Accounting hooks (what each call changes):
 *
 *   call                    struct sys_stats (the OS view)      runtime stat
 *   sys_reserve(n)          reserved += n                       -
 *   sys_map(v,n,stat)       prepared += n                       *stat += n
 *   sys_used(v,n)           prepared -= n, ready += n           -  (the heap moves
 *   sys_unused(v,n)         ready -= n, prepared += n           -   HeapReleased)
 *   sys_fault(v,n)          faulted += n (debug only)           -
 *   sys_free(v,n,stat,st)   reserved -= n; prepared/ready -=    *stat -= mapped part
 *                           the part in that state
 *
 * So the OS view and the runtime view agree by construction:
 *   sys_stats.prepared + sys_stats.ready == MemStats.Sys (every Sys byte was mapped
 *   through sys_map with that stat), and sys_stats.ready == Sys - HeapReleased
 *   (the heap is the only caller of sys_unused). tests/host/test_rt_heap.c checks both.
 *
 * Concurrency: every sys_* call is thread-safe; statistics are updated atomically.
 * The runtime may call sys_* with its own locks held, so ports must not call back
 * into the runtime allocator.
 */
#ifndef RT_SYS_H
#define RT_SYS_H

#include <stddef.h>
#include <stdint.h>

#define SYS_PAGE_SHIFT 12
#define SYS_PAGE_SIZE  ((size_t)1 << SYS_PAGE_SHIFT)

/* Error codes of sys_reserve and sys_map (rule 3). */
#define SYS_OK       0
#define SYS_ENOMEM  (-1)  /* the OS has no memory / no address space left */
#define SYS_ELIMIT  (-2)  /* a configured limit (sys_set_limits) would be exceeded */
#define SYS_EBUSY   (-3)  /* the hinted range is in use */
#define SYS_ERANGE  (-4)  /* the hinted range is outside the region */

enum sys_region {
	SYS_REGION_HEAP,   /* arenas of the garbage-collected heap */
	SYS_REGION_STACK,  /* coroutine stacks */
	SYS_REGION_META,   /* off-heap runtime metadata (spans, bitmaps, mcaches) */
	SYS_NREGIONS
};

/* Per-range states, for documentation and for debug checks in ports. */
enum sys_state { SYS_NONE, SYS_RESERVED, SYS_PREPARED, SYS_READY };

/*
 * None -> Reserved. Reserves n bytes of address space in region r. With hint
 * non-NULL the range is exactly [hint, hint+n) or the call fails (SYS_EBUSY,
 * SYS_ERANGE); with hint NULL the port picks. *out is set only on SYS_OK.
 */
int sys_reserve(enum sys_region r, void *hint, size_t n, void **out);

/* Reserved -> Prepared. Takes the commit charge for n bytes; on success *stat += n. */
int sys_map(void *v, size_t n, uint64_t *stat);

/* Prepared -> Ready. The range reads as zero afterwards (rule 5). Never fails. */
void sys_used(void *v, size_t n);

/* Ready -> Prepared. Contents are lost; frames return to the OS now. */
void sys_unused(void *v, size_t n);

/*
 * Any -> None. `mapped` is how many of the n bytes are Prepared or Ready
 * (0 for a range only reserved) and `ready` how many of those are Ready; the
 * caller knows this from its own state. *stat -= mapped (stat may be NULL if
 * mapped == 0).
 */
void sys_free(void *v, size_t n, size_t mapped, size_t ready, uint64_t *stat);

/* Prepared/Ready -> a state in which every access faults (debug: freed stacks). */
void sys_fault(void *v, size_t n);

/* The OS view of the runtime's memory (bytes), read atomically field by field. */
struct sys_stats {
	uint64_t reserved;      /* in Reserved or later states */
	uint64_t prepared;      /* Prepared: commit charge held, no frames */
	uint64_t ready;         /* Ready: frames in use */
	uint64_t faulted;       /* made to fault with sys_fault */
	uint64_t nmap, nused, nunused, nfree;  /* calls, for tests and the tour */
};
void sys_read_stats(struct sys_stats *out);

/*
 * Limits (0 = none): the total of reserved bytes, and of Prepared+Ready bytes.
 * Exceeding one makes sys_reserve/sys_map fail with SYS_ELIMIT. Tests lower
 * them to provoke the heap's out-of-memory path; the kernel port may set the
 * map limit from its free-frame count.
 */
void sys_set_limits(uint64_t reserve_limit, uint64_t map_limit);

const char *sys_strerror(int err);
const char *sys_region_name(enum sys_region r);

/*
 * The port's half: called only by rt/sys.c after the rules above are checked.
 * Each port file (rt/port/hosted.c, later rt/port/kernel.c) implements these.
 */
int  sys_port_reserve(enum sys_region r, void *hint, size_t n, void **out);
int  sys_port_map(void *v, size_t n);
void sys_port_used(void *v, size_t n);
void sys_port_unused(void *v, size_t n);
void sys_port_free(void *v, size_t n);
void sys_port_fault(void *v, size_t n);

/*
 * RT_NOSCAN on a static: it holds addresses of the heap's address space that
 * are not references to objects (reservation tables, bump pointers, the
 * heap's own bookkeeping), so the collector does not scan it as a root: a
 * reservation's base equals the first object's address and would keep that
 * object alive for ever. Both sides of sys_* use it (section rt_noscan:
 * the kernel's linker script and the hosted linker bound it).
 */
#define RT_NOSCAN __attribute__((section("rt_noscan")))

#endif
