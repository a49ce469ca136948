/*
 * serial.c - polled 16550 driver for COM1.
 *
 * Registers (offsets from 0x3f8; PC16550D datasheet): 0 THR/RBR or divisor
 * low when LCR.DLAB=1, 1 IER or divisor high, 2 FCR, 3 LCR, 4 MCR, 5 LSR.
 * The divisor is 115200 / baud = 1. Output waits for LSR.THRE (transmit
 * holding register empty) before each byte, with a bound so that a machine
 * without a UART loses output instead of hanging. Input is read only when
 * asked (serial_try_getc: LSR.DR, then RBR): the UART raises no interrupt.
 */
#include "kernel/lib/serial.h"

#include <stdbool.h>

#include "kernel/lib/x86.h"

#define COM1 0x3f8
#define REG_DATA 0
#define REG_IER  1
#define REG_FCR  2
#define REG_LCR  3
#define REG_MCR  4
#define REG_LSR  5

#define LCR_8N1  0x03
#define LCR_DLAB 0x80
#define LSR_DR   0x01 /* a received byte waits in RBR */
#define LSR_THRE 0x20
#define FCR_ENABLE_CLEAR 0x07 /* enable FIFOs, clear both */
#define MCR_DTR_RTS 0x03

#define THRE_SPINS 100000 /* ~ms at port-I/O speed: far longer than a byte at 115200 */

static bool ready;

void serial_init(void)
{
    outb(COM1 + REG_IER, 0x00);      /* no UART interrupts: output is polled */
    outb(COM1 + REG_LCR, LCR_DLAB);  /* divisor latch */
    outb(COM1 + REG_DATA, 1);        /* 115200 baud, low byte */
    outb(COM1 + REG_IER, 0);         /* high byte */
    outb(COM1 + REG_LCR, LCR_8N1);
    outb(COM1 + REG_FCR, FCR_ENABLE_CLEAR);
    outb(COM1 + REG_MCR, MCR_DTR_RTS);
    ready = true;
}

static void put_byte(char c)
{
    for (int i = 0; i < THRE_SPINS; i++) {
        if (inb(COM1 + REG_LSR) & LSR_THRE) {
            outb(COM1 + REG_DATA, (uint8_t)c);
            return;
        }
        cpu_relax();
    }
}

void serial_write(const char *s, size_t n)
{
    if (!ready)
        serial_init();
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            put_byte('\r');
        put_byte(s[i]);
    }
}

int serial_try_getc(void)
{
    if (!ready)
        serial_init();
    uint8_t lsr = inb(COM1 + REG_LSR);
    if (lsr == 0xff || !(lsr & LSR_DR)) /* 0xff: no UART on the bus */
        return -1;
    return inb(COM1 + REG_DATA);
}
