/*
 * rt_throw.c - the runtime's fatal-error hook for the harnesses that link
 * runtime sources without the rest of rt/ (rt_sizeclass, rt_span): print the
 * message and abort, which both fuzz builds report as a crash on the input.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "rt/port.h"

void rt_throw(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    abort();
}
