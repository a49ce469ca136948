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
 * gcstress=N from the environment; a malformed value prints "runtime: bad
 * setting ..." and exits with status 2. Runs before main; tests call it again. */
void rt_hosted_read_settings(void);

#endif
