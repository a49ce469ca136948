/*
 * print.c - the runtime's formatted output and fatal errors (rt/port.h),
 * written once over the port's va_list primitives.
 */
#include "rt/port.h"

void rt_printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	rt_port_vprintf(fmt, ap);
	va_end(ap);
}

int rt_snprintf(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = rt_port_vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	return r;
}

void rt_throw(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	rt_port_vthrow(fmt, ap);
}
