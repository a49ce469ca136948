/*
 * shell.c - `run=shell` (make shell): a prompt on the serial console for
 * looking at the running system: the address space, the frames, the heap,
 * MemStats, a collection, a page-table walk, and allocations and coroutines
 * made on request.
 *
 * What. One line at a time from COM1 (polled: the UART raises no interrupt),
 * echoed as typed, split into words; the first word names a command in
 * `commands` below, the rest are its arguments. Everything runs on the boot
 * CPU outside a world, as the tour does, except `go`, which runs a world on
 * every CPU and returns when it ends.
 *
 * Contract: nothing a user types panics the kernel. Every number is parsed
 * whole (decimal, 0x hex, a K/M/G suffix for sizes) or refused naming the
 * word; every request is bounded before it is made, by half of what sys_map
 * could still commit after one heap growth (budget_bytes: past that, a heap
 * growth is refused and the runtime panics out of memory), and coroutines
 * by a count too; an
 * unknown command is answered with the list of commands; a line longer than
 * SHELL_LINE_MAX is refused whole. `walk` reads page tables only through the
 * direct map (kernel/pgwalk.c), so any address is safe to ask about.
 *
 * Line editing: backspace (BS or DEL) erases, ^U erases the line, ^C drops
 * it, CR, LF or CR LF end it; other control bytes are ignored.
 *
 * Roots: objects made by `alloc ... keep` are held in the global shell_kept
 * (a root: the image's .bss), so `gc` keeps them until `drop`; objects made
 * without keep are garbage as soon as the command returns.
 */
#include <stdbool.h>
#include <stdint.h>

#include "kernel/diagram.h"
#include "kernel/krun.h"
#include "kernel/lib/kprintf.h"
#include "kernel/lib/percpu.h"
#include "kernel/lib/serial.h"
#include "kernel/lib/string.h"
#include "kernel/lib/x86.h"
#include "kernel/pgwalk.h"
#include "kernel/profile.h"
#include "kernel/smp.h"
#include "mm/buddy.h"
#include "mm/layout.h"
#include "mm/paging.h"
#include "mm/sysmem.h"
#include "rt/mbarrier.h"
#include "rt/rt.h"
#include "rt/sched.h"

#define SHELL_LINE_MAX 120      /* bytes of one command line */
#define SHELL_ARGS_MAX 8
#define SHELL_KEEP_MAX 64       /* `alloc ... keep` batches held at once */
#define SHELL_ALLOC_MAX 1000000 /* objects per `alloc` */
#define SHELL_GO_MAX 10000      /* coroutines per `go` */
#define SHELL_GO_FRAMES 4       /* frames a coroutine may need (G, a 4 KiB stack, growth) */
/* Room one request may need beyond its own bytes: a heap growth maps a 4 MiB
 * chunk at once (rt/mheap.h RT_HEAP_MAP_CHUNK) and a new arena ~1.1 MiB of
 * metadata and page tables. */
#define SHELL_GROWTH_SLACK_FRAMES (1024 + 512)

/* ---- reading a line ---- */

/* Polls: outside a world no tick runs, so a hlt would wait for nothing (the
 * UART raises no interrupt). An idle prompt keeps one vCPU busy. */
static int getc_blocking(void)
{
    for (;;) {
        int c = serial_try_getc();
        if (c >= 0)
            return c;
        cpu_relax();
    }
}

/* Reads one line into buf (NUL-terminated). Returns its length, or -1 if it
 * was longer than SHELL_LINE_MAX (the whole line is then dropped). */
static int read_line(char *buf)
{
    static bool last_was_cr;
    int n = 0;
    bool too_long = false;
    for (;;) {
        int c = getc_blocking();
        if (c == '\n' && last_was_cr) { /* the LF of a CR LF */
            last_was_cr = false;
            continue;
        }
        last_was_cr = c == '\r';
        if (c == '\r' || c == '\n') {
            kprintf("\n");
            buf[n] = '\0';
            return too_long ? -1 : n;
        }
        if (c == 0x08 || c == 0x7f) { /* BS, DEL */
            if (n > 0) {
                n--;
                kprintf("\b \b");
            }
        } else if (c == 0x15) { /* ^U */
            for (; n > 0; n--)
                kprintf("\b \b");
            too_long = false;
        } else if (c == 0x03) { /* ^C */
            kprintf("^C\n");
            buf[0] = '\0';
            return 0;
        } else if (c == '\t' || (c >= 0x20 && c < 0x7f)) {
            if (n < SHELL_LINE_MAX) {
                buf[n++] = c == '\t' ? ' ' : (char)c;
                kprintf("%c", buf[n - 1]);
            } else {
                too_long = true;
            }
        }
    }
}

/* Splits line into words in place; returns how many (at most max, then -1). */
static int split_words(char *line, char **argv, int max)
{
    int argc = 0;
    for (char *p = line; *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        if (argc == max)
            return -1;
        argv[argc++] = p;
        while (*p && *p != ' ')
            p++;
        if (*p)
            *p++ = '\0';
    }
    return argc;
}

/* ---- numbers ---- */

/* Parses all of s: decimal or 0x hex, with a K, M or G suffix if suffix_ok.
 * False (and a message naming s and what) if s is anything else or overflows. */
static bool parse_u64(const char *s, bool suffix_ok, const char *what, uint64_t *out)
{
    uint64_t v = 0, base = 10;
    const char *p = s;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    const char *digits = p;
    for (; *p; p++) {
        uint64_t d;
        if (*p >= '0' && *p <= '9')
            d = (uint64_t)(*p - '0');
        else if (base == 16 && *p >= 'a' && *p <= 'f')
            d = (uint64_t)(*p - 'a' + 10);
        else if (base == 16 && *p >= 'A' && *p <= 'F')
            d = (uint64_t)(*p - 'A' + 10);
        else
            break;
        if (v > (UINT64_MAX - d) / base)
            goto bad;
        v = v * base + d;
    }
    if (p == digits)
        goto bad;
    if (*p && suffix_ok && p[1] == '\0') {
        unsigned shift = *p == 'K' || *p == 'k' ? 10 : *p == 'M' || *p == 'm' ? 20 : *p == 'G' || *p == 'g' ? 30 : 0;
        if (shift == 0 || v > (UINT64_MAX >> shift))
            goto bad;
        v <<= shift;
        p++;
    }
    if (*p)
        goto bad;
    *out = v;
    return true;
bad:
    kprintf("bad %s '%s': want a number (decimal or 0x hex%s) that fits in 64 bits\n", what, s,
            suffix_ok ? ", optionally with a K, M or G suffix" : "");
    return false;
}

/* ---- commands ---- */

struct command {
    const char *name;
    const char *usage;
    const char *what;
    int min_args, max_args; /* words after the name */
    void (*run)(int argc, char **argv);
};
static void cmd_help(int argc, char **argv);

static void cmd_layout(int argc, char **argv)
{
    (void)argc, (void)argv;
    layout_report();
}

static void cmd_frames(int argc, char **argv)
{
    (void)argc, (void)argv;
    frame_report();
    smp_report();
}

static void cmd_heap(int argc, char **argv)
{
    (void)argc, (void)argv;
    rt_print_heap(0);
}

static void cmd_memstats(int argc, char **argv)
{
    (void)argc, (void)argv;
    rt_print_memstats();
}

static struct rt_memstats ms0, ms1; /* 6 KiB each: not on the boot stack */

static void cmd_gc(int argc, char **argv)
{
    (void)argc, (void)argv;
    rt_read_memstats(&ms0);
    rt_gc();
    rt_read_memstats(&ms1);
    kprintf("gc: cycle %u: %lu objects freed, HeapAlloc %lu -> %lu KiB, HeapInuse %lu -> %lu KiB, pause %lu us\n",
            ms1.num_gc, (unsigned long)(ms1.frees - ms0.frees), (unsigned long)(ms0.heap_alloc >> 10),
            (unsigned long)(ms1.heap_alloc >> 10), (unsigned long)(ms0.heap_inuse >> 10),
            (unsigned long)(ms1.heap_inuse >> 10), (unsigned long)(ms1.pause_ns[(ms1.num_gc + 255) % 256] / 1000));
    struct rt_gc_cycle c;
    rt_gc_last_cycle(&c);
    kprintf("gc: it marked %lu objects (on P 0: outside a world the caller marks); the sweep of the cycle before "
            "it swept %lu spans and gave %lu pages back to the heap\n", (unsigned long)c.objs_marked[0],
            (unsigned long)c.spans_swept, (unsigned long)c.pages_freed);
}

static void cmd_gctrace(int argc, char **argv)
{
    (void)argc;
    if (strcmp(argv[1], "on") == 0)
        rt_gc_set_trace(true);
    else if (strcmp(argv[1], "off") == 0)
        rt_gc_set_trace(false);
    else {
        kprintf("gctrace: want 'on' or 'off', got '%s'\n", argv[1]);
        return;
    }
    kprintf("gctrace %s: each collection prints Go's gctrace line\n", argv[1]);
}

static void cmd_profile(int argc, char **argv)
{
    if (argc == 1 || strcmp(argv[1], "top") == 0) {
        if (argc > 2) {
            kprintf("usage: profile [top|dump|rate N]\n");
            return;
        }
        profile_print_top(12);
    } else if (strcmp(argv[1], "dump") == 0 && argc == 2) {
        kprintf("profile: the heap profile for go tool pprof (scripts/qemu saves it as build/profiles/heap-shell.pb)\n");
        profile_print_block("shell");
    } else if (strcmp(argv[1], "rate") == 0 && argc == 3) {
        uint64_t rate;
        if (!parse_u64(argv[2], true, "profile rate", &rate))
            return;
        uint64_t old = rt_set_mem_profile_rate(rate);
        kprintf("profile: one sample per %llu bytes allocated (was %llu)%s\n", (unsigned long long)rt_mem_profile_rate(),
                (unsigned long long)old, rate == 0 ? ": sampling off" : "");
    } else {
        kprintf("usage: profile [top|dump|rate N]\n");
    }
}

/* `alloc ... keep`: each batch is an array of the objects' addresses. */
static void **shell_kept[SHELL_KEEP_MAX];
/* The first object of the last `alloc`, for `follow last`: hidden (XOR), so
 * that it is not a root and an object made without keep stays garbage. */
#define SHELL_HIDE 0x5a5a5a5a5a5a5a5aull
static uintptr_t shell_last_alloc;
static uint64_t shell_kept_count[SHELL_KEEP_MAX];

static const uint8_t ptr_mask[] = {0x1};
static const struct rt_type ptr_type = {sizeof(void *), 8, 8, ptr_mask, "void *"};

/* The memory n objects of size bytes will take at most: a slot rounds up to
 * its size class (at most 1/8 more) or a large object to whole 8 KiB pages,
 * plus one partly used span (up to 80 KiB for the largest classes), plus
 * each 64 MiB arena's metadata (bitmaps, span map: about 1.1 MiB). */
static uint64_t alloc_footprint(uint64_t n, uint64_t size)
{
    uint64_t slot = size <= 32768 ? size + size / 8 + 16 : (size + 8191) & ~8191ull;
    uint64_t bytes = n * slot + (80u << 10);
    return bytes + ((bytes >> 26) + 1) * (1280u << 10);
}

/*
 * The bytes one request may take: half of what sys_map could still commit
 * (the free frames, minus those already promised to committed pages, minus
 * the OS's reserve: mm/sysmem.c refuses a commit past that, and a refused
 * heap growth is the runtime's out-of-memory panic), after room for one
 * growth. Kept batches lower it for the next request.
 */
static uint64_t budget_bytes(void)
{
    uint64_t free = frame_free_count();
    uint64_t held = sysmem_charge_pages() + SYSMEM_RESERVE_FRAMES + SHELL_GROWTH_SLACK_FRAMES;
    return free > held ? (free - held) / 2 * 4096 : 0;
}

static void cmd_alloc(int argc, char **argv)
{
    uint64_t count, size;
    if (!parse_u64(argv[1], false, "COUNT", &count) || !parse_u64(argv[2], true, "SIZE", &size))
        return;
    bool keep = argc == 4;
    if (keep && strcmp(argv[3], "keep") != 0) {
        kprintf("alloc: the third word may only be 'keep', got '%s'\n", argv[3]);
        return;
    }
    if (count == 0 || count > SHELL_ALLOC_MAX || size == 0 || size > (64u << 20)) {
        kprintf("alloc: COUNT must be 1..%d and SIZE 1..64M\n", SHELL_ALLOC_MAX);
        return;
    }
    uint64_t need = alloc_footprint(count, size) + (keep ? alloc_footprint(1, count * 8) : 0);
    uint64_t budget = budget_bytes();
    if (need > budget) {
        kprintf("alloc: %lu x %lu B needs up to %lu KiB; only half the memory the heap could still get "
                "(%lu KiB) may be asked for\n",
                (unsigned long)count, (unsigned long)size, (unsigned long)(need >> 10),
                (unsigned long)(budget >> 10));
        return;
    }
    int slot = -1;
    if (keep) {
        for (int i = 0; i < SHELL_KEEP_MAX && slot < 0; i++)
            if (shell_kept[i] == NULL)
                slot = i;
        if (slot < 0) {
            kprintf("alloc: %d batches are kept already; 'drop' them first\n", SHELL_KEEP_MAX);
            return;
        }
        RT_STORE_PTR(shell_kept[slot], (void **)rt_alloc_array(&ptr_type, count));
        shell_kept_count[slot] = count;
    }
    rt_read_memstats(&ms0);
    void *first = NULL;
    for (uint64_t i = 0; i < count; i++) {
        void *p = rt_alloc(size, NULL);
        if (i == 0) {
            first = p;
            shell_last_alloc = (uintptr_t)p ^ SHELL_HIDE;
        }
        if (keep)
            RT_STORE_PTR(shell_kept[slot][i], p);
    }
    rt_read_memstats(&ms1);
    kprintf("alloc: %lu x %lu B, the first at %p (%s); HeapAlloc %lu -> %lu KiB, %u collections ran\n",
            (unsigned long)count, (unsigned long)size, first,
            keep ? "kept until 'drop'" : "garbage from now on", (unsigned long)(ms0.heap_alloc >> 10),
            (unsigned long)(ms1.heap_alloc >> 10), ms1.num_gc - ms0.num_gc);
}

static void cmd_drop(int argc, char **argv)
{
    (void)argc, (void)argv;
    uint64_t objects = 0;
    int batches = 0;
    for (int i = 0; i < SHELL_KEEP_MAX; i++) {
        if (shell_kept[i] == NULL)
            continue;
        objects += shell_kept_count[i];
        batches++;
        RT_STORE_PTR(shell_kept[i], (void **)NULL);
        shell_kept_count[i] = 0;
    }
    kprintf("drop: %lu objects in %d batches are garbage now ('gc' frees them)\n", (unsigned long)objects, batches);
}

static volatile uint64_t go_ran_on[MAX_CPUS];
static volatile uint64_t go_done;
static uint64_t go_count;

static void go_worker(void *arg)
{
    (void)arg;
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 16; i++)
            *(volatile uint64_t *)rt_alloc(16, NULL) = (uint64_t)i;
        rt_gosched();
    }
    __atomic_add_fetch(&go_ran_on[cpu_id()], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&go_done, 1, __ATOMIC_RELEASE);
}

static void go_main(void *arg)
{
    (void)arg;
    for (uint64_t i = 0; i < go_count; i++)
        rt_go(go_worker, NULL);
    while (__atomic_load_n(&go_done, __ATOMIC_ACQUIRE) < go_count)
        rt_sleep(1000000);
}

static void cmd_go(int argc, char **argv)
{
    (void)argc;
    uint64_t count;
    if (!parse_u64(argv[1], false, "COUNT", &count))
        return;
    if (count == 0 || count > SHELL_GO_MAX) {
        kprintf("go: COUNT must be 1..%d\n", SHELL_GO_MAX);
        return;
    }
    /* Each: its G and stack frames, and the 1 KiB it allocates (kept until the world ends). */
    uint64_t need = count * (SHELL_GO_FRAMES * 4096 + 64 * 16 * 2);
    uint64_t budget = budget_bytes();
    if (need > budget) {
        kprintf("go: %lu coroutines may need %lu KiB; only half the memory the heap and stacks could still "
                "get (%lu KiB) may be asked for\n", (unsigned long)count, (unsigned long)(need >> 10),
                (unsigned long)(budget >> 10));
        return;
    }
    for (unsigned c = 0; c < MAX_CPUS; c++)
        go_ran_on[c] = 0;
    go_done = 0;
    go_count = count;
    struct rt_sched_stats s0, s1;
    rt_read_sched_stats(&s0);
    uint64_t t0 = rt_nanotime();
    rt_run(go_main, NULL, 0);
    uint64_t t1 = rt_nanotime();
    rt_read_sched_stats(&s1);
    kprintf("go: %lu coroutines on %u CPUs in %lu us; %lu preemptions, %lu stack growths\n",
            (unsigned long)count, cpu_count(), (unsigned long)((t1 - t0) / 1000),
            (unsigned long)(s1.preempt_async + s1.preempt_sync - s0.preempt_async - s0.preempt_sync),
            (unsigned long)(s1.stack_grows - s0.stack_grows));
    for (unsigned c = 0; c < cpu_count(); c++)
        kprintf("  CPU %u finished %lu\n", c, (unsigned long)go_ran_on[c]);
}

static void cmd_walk(int argc, char **argv)
{
    (void)argc;
    uint64_t va;
    if (parse_u64(argv[1], false, "ADDR", &va))
        diagram_walk(va);
}

static void cmd_follow(int argc, char **argv)
{
    (void)argc;
    uint64_t va;
    if (strcmp(argv[1], "last") == 0) {
        if (shell_last_alloc == 0) {
            kprintf("follow last: no 'alloc' yet\n");
            return;
        }
        diagram_follow((const void *)(shell_last_alloc ^ SHELL_HIDE), NULL);
    } else if (parse_u64(argv[1], false, "ADDR", &va))
        diagram_follow((const void *)va, NULL);
}

static void cmd_diagram(int argc, char **argv)
{
    (void)argc;
    if (strcmp(argv[1], "os") == 0)
        diagram_os();
    else if (strcmp(argv[1], "rt") == 0)
        diagram_rt();
    else if (strcmp(argv[1], "both") == 0)
        diagram_both();
    else
        kprintf("diagram: want 'os', 'rt' or 'both', got '%s'\n", argv[1]);
}

/* `stacks`: a world of coroutines parked at different depths, listed by one more. */
#define STACKS_WORKERS 8
static struct rt_chan *stacks_release;
static volatile uint64_t stacks_parked;

__attribute__((noinline)) static uint64_t stacks_descend(uint64_t depth)
{
    volatile char frame[512];
    frame[0] = (char)depth;
    if (depth > 0)
        return stacks_descend(depth - 1) + frame[0];
    __atomic_add_fetch(&stacks_parked, 1, __ATOMIC_RELEASE);
    rt_chan_recv(stacks_release, NULL); /* parked here until the listing is done */
    return frame[0];
}

static void stacks_worker(void *arg) { stacks_descend((uintptr_t)arg); }

static void stacks_main(void *arg)
{
    (void)arg;
    RT_STORE_PTR(stacks_release, rt_chan_new(8, 0));
    for (uintptr_t i = 0; i < STACKS_WORKERS; i++)
        rt_go(stacks_worker, (void *)(i * i * 4)); /* 0 .. 196 frames of 512+ bytes: 4 KiB to 128 KiB */
    while (__atomic_load_n(&stacks_parked, __ATOMIC_ACQUIRE) < STACKS_WORKERS)
        rt_sleep(1000000);
    rt_sleep(2000000); /* let the last one reach its channel */
    diagram_stacks();
    rt_chan_close(stacks_release);
}

static void cmd_stacks(int argc, char **argv)
{
    (void)argc, (void)argv;
    uint64_t need = STACKS_WORKERS * (256u << 10);
    if (need > budget_bytes()) {
        kprintf("stacks: its %d coroutines may need %lu KiB of stacks; not that much memory is left\n",
                STACKS_WORKERS, (unsigned long)(need >> 10));
        return;
    }
    kprintf("stacks: %d coroutines park at depths of 0 to %d frames; one more lists every live coroutine:\n",
            STACKS_WORKERS, (STACKS_WORKERS - 1) * (STACKS_WORKERS - 1) * 4);
    stacks_parked = 0;
    rt_run(stacks_main, NULL, 0);
    RT_STORE_PTR(stacks_release, (struct rt_chan *)NULL);
}

static bool shell_exit;

static void cmd_exit(int argc, char **argv)
{
    (void)argc, (void)argv;
    shell_exit = true;
}

static const struct command commands[] = {
    {"help", "help", "this list", 0, 0, cmd_help},
    {"layout", "layout", "the virtual address space: regions, sizes, bytes mapped", 0, 0, cmd_layout},
    {"frames", "frames", "the frame allocator: free blocks per order, owners, per-CPU caches", 0, 0, cmd_frames},
    {"heap", "heap", "the runtime heap: arenas and spans per size class (P 0's mcache)", 0, 0, cmd_heap},
    {"memstats", "memstats", "the runtime's MemStats, as Go prints them", 0, 0, cmd_memstats},
    {"gc", "gc", "a full collection (rt_gc); what it freed and its pause", 0, 0, cmd_gc},
    {"gctrace", "gctrace on|off", "print Go's gctrace line for each collection", 1, 1, cmd_gctrace},
    {"alloc", "alloc COUNT SIZE [keep]", "allocate COUNT objects of SIZE bytes; keep holds them until drop", 2, 3,
     cmd_alloc},
    {"drop", "drop", "let go of every kept object", 0, 0, cmd_drop},
    {"go", "go COUNT", "run COUNT coroutines on every CPU, each allocating and yielding", 1, 1, cmd_go},
    {"walk", "walk ADDR", "the page-table walk of ADDR: each level's entry, the frame, the region", 1, 1, cmd_walk},
    {"follow", "follow ADDR|last", "where a heap object sits (last: the last alloc's first): mcache, span, "
     "mcentral, arena, sys_*, page tables, frame", 1, 1, cmd_follow},
    {"stacks", "stacks", "coroutines parked at different depths: every live G with its stack range and use", 0, 0,
     cmd_stacks},
    {"profile", "profile [top|dump|rate N]", "the heap profile: top allocating functions, the pprof block, the "
     "sampling rate", 0, 2, cmd_profile},
    {"diagram", "diagram os|rt|both", "the memory layout drawn with this boot's addresses: OS, runtime, combined", 1,
     1, cmd_diagram},
    {"exit", "exit", "end the run (QEMU exits with success)", 0, 0, cmd_exit},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void cmd_help(int argc, char **argv)
{
    (void)argc, (void)argv;
    for (unsigned i = 0; i < NCOMMANDS; i++)
        kprintf("  %-24s %s\n", commands[i].usage, commands[i].what);
}

static void run_line(char *line)
{
    char *argv[SHELL_ARGS_MAX];
    int argc = split_words(line, argv, SHELL_ARGS_MAX);
    if (argc < 0) {
        kprintf("too many words (at most %d)\n", SHELL_ARGS_MAX);
        return;
    }
    if (argc == 0)
        return;
    for (unsigned i = 0; i < NCOMMANDS; i++) {
        const struct command *c = &commands[i];
        if (strcmp(argv[0], c->name) != 0)
            continue;
        if (argc - 1 < c->min_args || argc - 1 > c->max_args) {
            kprintf("usage: %s\n", c->usage);
            return;
        }
        c->run(argc, argv);
        return;
    }
    kprintf("unknown command '%s'; the commands are:", argv[0]);
    for (unsigned i = 0; i < NCOMMANDS; i++)
        kprintf(" %s", commands[i].name);
    kprintf("\n");
}

KRUN(shell, "shell", "an interactive prompt on the serial console (make shell); 'help' lists the commands")
{
    while (serial_try_getc() >= 0)
        ; /* whatever the firmware left unread is not a command */
    kprintf("shell: %u CPUs; type 'help' for the commands, 'exit' to end\n", cpu_count());
    char line[SHELL_LINE_MAX + 1];
    while (!shell_exit) {
        kprintf("shell> ");
        int n = read_line(line);
        if (n < 0)
            kprintf("line too long (at most %d characters): ignored\n", SHELL_LINE_MAX);
        else
            run_line(line);
    }
    kprintf("shell: bye\n");
}
