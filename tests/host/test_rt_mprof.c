/*
 * test_rt_mprof.c - the heap profile on coroutines over Linux threads, under
 * ASan and UBSan. The cases are tests/rt/mprof_cases.c, which the in-kernel
 * suite runs too; they run first. Then what only the host can check: the
 * fixed-point scale and interval against libm over their whole range, and
 * RT_HEAPPROFILE / RT_GODEBUG=memprofilerate=N in forked children (the file
 * is written at exit and decodes; a bad rate is refused by name).
 *
 * `test_rt_mprof --profile-demo` instead allocates 1 MiB from demo_site_small
 * and 4 MiB from demo_site_large and exits: tests/boot/pprof runs it with
 * RT_HEAPPROFILE and checks what `go tool pprof -top` makes of the file.
 */
#include "rt/port/hosted.h"
#include "rt/rt.h"
#include "tests/host/cases.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int run_child(void (*fn)(void), char *out, size_t outsize);

/* The largest relative error of rt_mprof_scale against 1 / (1 - e^-x) over sizes 1 B .. 64 MiB. */
static double worst_scale_error(uint64_t rate, uint64_t *worst_avg)
{
	double worst = 0;
	*worst_avg = 0;
	for (double avg = 1; avg < 64.0 * 1024 * 1024; avg *= 1.07) {
		uint64_t a = (uint64_t)avg, c, b;
		rt_mprof_scale(1000000, 1000000 * a, rate, &c, &b);
		double want = 1e6 / (1.0 - exp(-(double)a / (double)rate));
		double err = fabs((double)c - want) / want;
		if (err > worst) {
			worst = err;
			*worst_avg = a;
		}
	}
	return worst;
}

static char profile_path[64];

static void profile_file_child(void)
{
	/* RT_HEAPPROFILE is read by the settings; the file is written by atexit. */
	setenv("RT_GODEBUG", "memprofilerate=1", 1);
	setenv("RT_HEAPPROFILE", profile_path, 1);
	rt_hosted_read_settings();
	for (int i = 0; i < 1000; i++)
		*(volatile char *)rt_alloc(100, NULL) = 1;
	rt_gc();
	exit(0);
}

static void bad_rate_child(void)
{
	setenv("RT_GODEBUG", "memprofilerate=lots", 1);
	rt_hosted_read_settings();
}

__attribute__((noinline)) static void demo_site_small(void)
{
	for (int i = 0; i < 16384; i++)
		*(volatile uint64_t *)rt_alloc(64, NULL) = (uint64_t)i;   /* 1 MiB */
}

__attribute__((noinline)) static void demo_site_large(void)
{
	for (int i = 0; i < 1024; i++)
		*(volatile uint64_t *)rt_alloc(4096, NULL) = (uint64_t)i;   /* 4 MiB */
}

int main(int argc, char **argv)
{
	rt_init();
	if (argc == 2 && strcmp(argv[1], "--profile-demo") == 0) {
		demo_site_small();
		demo_site_large();
		rt_gc();
		return 0;   /* RT_HEAPPROFILE is written at exit */
	}
	run_cases();

	uint64_t at;
	double e = worst_scale_error(RT_MEMPROFILE_RATE, &at);
	printf("# scale at rate 512 KiB: worst relative error %.2e (at %lu B)\n", e, (unsigned long)at);
	tap_check(e < 2e-6, "the fixed-point scale is within 2e-6 of 1/(1-e^-x) from 1 B to 64 MiB at 512 KiB");
	e = worst_scale_error(4096, &at);
	printf("# scale at rate 4 KiB: worst relative error %.2e (at %lu B)\n", e, (unsigned long)at);
	tap_check(e < 2e-6, "... and at a 4 KiB rate");

	/* The interval: its quantiles against -ln(1 - p) * rate. */
	uint64_t state = 12345, rate = 1u << 20;
	enum { N = 200000 };
	static uint64_t v[N];
	for (int i = 0; i < N; i++)
		v[i] = rt_mprof_interval(&state, rate);
	int below_median = 0, below_p90 = 0, below_p99 = 0;
	for (int i = 0; i < N; i++) {
		below_median += (double)v[i] < log(2.0) * (double)rate;
		below_p90 += (double)v[i] < -log(0.1) * (double)rate;
		below_p99 += (double)v[i] < -log(0.01) * (double)rate;
	}
	printf("# interval quantiles: %.4f %.4f %.4f below the median, p90, p99 of Exp(rate)\n",
	       (double)below_median / N, (double)below_p90 / N, (double)below_p99 / N);
	tap_check(fabs((double)below_median / N - 0.5) < 0.006 && fabs((double)below_p90 / N - 0.9) < 0.004 &&
			  fabs((double)below_p99 / N - 0.99) < 0.0015,
		  "the sampling interval follows the exponential distribution (median, p90, p99)");

	char out[4096];
	snprintf(profile_path, sizeof(profile_path), "/tmp/test_rt_mprof.%d.pb", (int)getpid());
	unlink(profile_path);
	int st = run_child(profile_file_child, out, sizeof out);
	struct stat sb;
	bool wrote = WIFEXITED(st) && WEXITSTATUS(st) == 0 && stat(profile_path, &sb) == 0 &&
		     sb.st_size > 100 && strstr(out, "heap profile:") != NULL;
	if (!wrote)
		printf("# child status %#x, output: %s\n", (unsigned)st, out);
	tap_check(wrote, "RT_HEAPPROFILE=FILE: the profile is written at exit, and the run says where");
	unlink(profile_path);

	st = run_child(bad_rate_child, out, sizeof out);
	tap_check(WIFEXITED(st) && WEXITSTATUS(st) == 2 && strstr(out, "memprofilerate") != NULL,
		  "RT_GODEBUG=memprofilerate=lots is refused by name");
	return tap_done();
}
