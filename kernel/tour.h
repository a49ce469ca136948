/*
 * tour.h - the runtime section of the boot tour (kernel/tour.c).
 */
#ifndef KERNEL_TOUR_H
#define KERNEL_TOUR_H

/* Allocate on the runtime heap and print it from the runtime's and the OS's side. */
void tour_runtime(void);

#endif
