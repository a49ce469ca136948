/*
 * hosted.h - extras of the hosted (Linux user-space) port, for tests and benchmarks.
 */
#ifndef RT_PORT_HOSTED_H
#define RT_PORT_HOSTED_H

/* Bind the calling thread to P number p (0 <= p < RT_MAX_PROCS). Default: P 0. */
void rt_hosted_set_p(int p);

/* How many Ms (threads) rt_run(..., 0) starts. Default 1. */
void rt_hosted_set_default_procs(int n);

/* Applies GOGC=N|off (0 <= N <= INT_MAX) and RT_GODEBUG=gctrace=N,gccheckmark=N,
 * gcstress=N,gcstoptheworld=N,memprofilerate=N from the environment; a
 * malformed value prints "runtime: bad setting ..." and exits with status 2.
 * RT_HEAPPROFILE=FILE: the heap profile is written to FILE at exit (a
 * profile.proto for `go tool pprof BINARY FILE`). Runs before main; tests
 * call it again. */
void rt_hosted_read_settings(void);

/* Writes the heap profile (rt_write_heap_profile) to fd; returns the bytes
 * written, or -1 with errno set if a write failed. */
long rt_hosted_write_heap_profile(int fd);

#endif
