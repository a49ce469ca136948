/*
 * serial.h - the 16550 UART at COM1 (I/O port 0x3f8): the kernel's console.
 * Polled input and output; 115200 baud, 8 data bits, no parity, 1 stop bit.
 */
#ifndef KERNEL_SERIAL_H
#define KERNEL_SERIAL_H

#include <stddef.h>

/* Programs the UART. Safe to call again (e.g. from a panic before init). */
void serial_init(void);

/* Writes n bytes, "\n" as "\r\n". Never blocks forever: if the transmitter
 * stays busy (no UART present) a byte is dropped after a bounded wait. */
void serial_write(const char *s, size_t n);

/* The next received byte, or -1 if none is waiting (never blocks). */
int serial_try_getc(void);

#endif
