/*
 * sections.h - the bounds of the kernel image's sections, defined by
 * linker/kernel.ld (see its header for the layout and its invariants).
 * Compare addresses with (uintptr_t)__text_start etc.; never dereference
 * the *_end symbols.
 */
#ifndef KERNEL_SECTIONS_H
#define KERNEL_SECTIONS_H

extern char __text_start[], __text_end[];
extern char __rodata_start[], __rodata_end[];
extern char __ktest_start[], __ktest_end[];
extern char __data_start[], __data_end[];
/* RT_NOSCAN statics (rt/sys.h), at the start of .data: [__start_rt_noscan, __stop_rt_noscan). */
extern char __start_rt_noscan[], __stop_rt_noscan[];
extern char __bss_start[], __bss_end[];
/* The boot stacks (.bss.kstacks, with unmapped guard pages) are [__bss_start, __bss_kstacks_end). */
extern char __bss_kstacks_end[];
extern char __image_end[];
extern char __ksyms_start[], __ksyms_end[];
extern char __kernel_end[];

#endif
