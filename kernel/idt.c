/*
 * idt.c - the IDT (gate format: Intel SDM vol. 3A 6.14.1, figure 6-8).
 * Every gate is an interrupt gate (IF cleared on entry) with an IST stack:
 * exceptions on IST_EXC (#DF, NMI, #MC on their own), interrupts on IST_IRQ
 * (kernel/lapic.c installs those); see kernel/gdt.h.
 */
#include "kernel/idt.h"

#include "kernel/gdt.h"
#include "kernel/trap.h"

struct idt_gate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;       /* bits 0-2 */
    uint8_t type_attr; /* P, DPL, type */
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct idt_gate) == 16, "64-bit IDT gate");

#define GATE_INTERRUPT 0x8e /* P=1, DPL 0, type 0xE: 64-bit interrupt gate */

static struct idt_gate idt[256] __attribute__((aligned(16)));

extern const uint64_t trap_stubs[TRAP_NVECTORS]; /* trap_entry.S */

void idt_set_gate(unsigned vector, uint64_t handler, unsigned ist)
{
    struct idt_gate *g = &idt[vector & 255];
    g->offset_low = (uint16_t)handler;
    g->selector = GDT_KCODE;
    g->ist = (uint8_t)(ist & 7);
    g->type_attr = GATE_INTERRUPT;
    g->offset_mid = (uint16_t)(handler >> 16);
    g->offset_high = (uint32_t)(handler >> 32);
    g->reserved = 0;
}

void idt_init(void)
{
    for (unsigned v = 0; v < TRAP_NVECTORS; v++) {
        /* Never the interrupted stack (it may be a coroutine's 2 KiB one): kernel/gdt.h. */
        unsigned ist = v == VEC_DF ? IST_DF : v == VEC_NMI ? IST_NMI : v == VEC_MC ? IST_MC : IST_EXC;
        idt_set_gate(v, trap_stubs[v], ist);
    }
    idt_load();
}

void idt_load(void)
{
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } d = { sizeof(idt) - 1, (uint64_t)idt };
    __asm__ volatile("lidt %0" : : "m"(d) : "memory");
}
