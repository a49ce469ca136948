/*
 * tour.h - the runtime section of the boot tour (kernel/tour.c).
 */
#ifndef KERNEL_TOUR_H
#define KERNEL_TOUR_H

/* Allocate on the runtime heap and print it from the runtime's and the OS's side. */
void tour_runtime(void);
/* Coroutines on every CPU, and a stack growing by copy (its ranges printed). */
void tour_coroutines(void);
/* One line per concept the tour showed, with the value it saw. */
void tour_checklist(void);

#endif
