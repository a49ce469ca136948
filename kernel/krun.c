/*
 * krun.c - find and run a `run=NAME` program (see krun.h).
 */
#include "kernel/krun.h"

#include "boot/boot_info.h"
#include "kernel/lib/kprintf.h"
#include "kernel/profile.h"
#include "kernel/lib/panic.h"
#include "kernel/lib/string.h"

extern const struct krun __krun_start[], __krun_end[];

static const struct cmdline *krun_cl;

const struct cmdline *krun_cmdline(void)
{
    if (krun_cl == NULL)
        panic("krun_cmdline: called outside a run=NAME program");
    return krun_cl;
}

_Noreturn void krun(const struct cmdline *cl)
{
    const char *name = cl->run;
    krun_cl = cl;
    for (const struct krun *p = __krun_start; p < __krun_end; p++) {
        if (strcmp(p->name, name) == 0) {
            kprintf("run=%s: %s\n", p->name, p->what);
            p->fn();
            kprintf("run=%s: done\n", p->name);
            profile_at_exit();
            kernel_exit(DEBUG_EXIT_SUCCESS);
        }
    }
    kprintf("run=%s: no program by that name; the programs are:\n", name);
    for (const struct krun *p = __krun_start; p < __krun_end; p++)
        kprintf("  run=%-20s %s\n", p->name, p->what);
    panic_quiet("run=%s: unknown program", name);
}
