// bench/alloc.go: Go 1.19's allocator in the side-by-side allocation
// benchmark. It follows the method written at the top of bench/alloc_bench.h
// step for step (same round sizes, warm-up, median, touch, live set, mixed
// size sequence) and prints the same raw line as the C harness:
//
//	benchmark \t implementation \t ns_per_op \t bytes_per_round \t
//	minor_faults_per_1000_objects \t collections
//
// Usage: alloc-go run IMPL BENCH, IMPL one of
//
//	go        make([]byte, size): noscan, GC percent 100 (Go's default)
//	go-ptr    make([]unsafe.Pointer, size/8): scanned, GC percent 100
//	go-gcoff  as go with the collector off (GOGC=off): allocation path only
//
// The GC setting is made here with debug.SetGCPercent, so the environment's
// GOGC cannot change what a row means. GOMAXPROCS follows the CPU affinity
// the driver sets (one CPU), so background mark workers share that CPU and
// their cost lands in the timed rounds.
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

const (
	warmupRounds   = 2
	rounds         = 9
	roundBytes     = 8 << 20
	minObjects     = 64
	maxObjects     = 1 << 20
	mixedObjects   = 32768
	mixedSeed      = 0x5eeda110c0ffee01
	mixedWeightSum = 10000
)

// The mixed workload's buckets; the twin of bench_mixed_buckets in alloc_bench.c.
var mixedBuckets = []struct{ lo, hi, weight uint64 }{
	{8, 16, 2500}, {24, 32, 2500}, {40, 64, 2000},
	{72, 128, 1200}, {136, 256, 800}, {264, 512, 500},
	{520, 1024, 300}, {1032, 4096, 150}, {4104, 32768, 45},
	{65536, 262144, 5},
}

func splitmix64(state *uint64) uint64 {
	*state += 0x9e3779b97f4a7c15
	z := *state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func mixedSize(state *uint64) int {
	r := splitmix64(state) % mixedWeightSum
	b := 0
	for r >= mixedBuckets[b].weight {
		r -= mixedBuckets[b].weight
		b++
	}
	lo, hi := mixedBuckets[b].lo, mixedBuckets[b].hi
	return int(lo + 8*(splitmix64(state)%((hi-lo)/8+1)))
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "alloc-go: "+format+"\n", args...)
	os.Exit(2)
}

func workload(arg string) (sizes []int, bytes uint64) {
	if arg == "mixed" {
		state := uint64(mixedSeed)
		sizes = make([]int, mixedObjects)
		for i := range sizes {
			sizes[i] = mixedSize(&state)
		}
	} else {
		v, err := strconv.ParseUint(arg, 10, 64)
		if err != nil || v < 8 || v > 1<<30 || v%8 != 0 {
			fail("benchmark '%s': want \"mixed\" or a size in bytes, a multiple of 8 in [8, 1 GiB]", arg)
		}
		n := uint64(roundBytes) / v
		if n < minObjects {
			n = minObjects
		} else if n > maxObjects {
			n = maxObjects
		}
		sizes = make([]int, n)
		for i := range sizes {
			sizes[i] = int(v)
		}
	}
	for _, s := range sizes {
		bytes += uint64(s)
	}
	return sizes, bytes
}

// Step 2 for noscan objects: allocate, write the object's own address into
// its first word, keep it live in slots.
//
//go:noinline
func roundNoscan(slots []unsafe.Pointer, sizes []int) time.Duration {
	t0 := time.Now()
	for i, s := range sizes {
		b := make([]byte, s)
		p := unsafe.Pointer(&b[0])
		*(*uintptr)(p) = uintptr(p)
		slots[i] = p
	}
	return time.Since(t0)
}

// Step 2 for pointerful objects (the self-pointer goes through Go's write
// barrier check, as any pointer store into the heap does).
//
//go:noinline
func roundPtr(slots []unsafe.Pointer, sizes []int) time.Duration {
	t0 := time.Now()
	for i, s := range sizes {
		b := make([]unsafe.Pointer, s/8)
		p := unsafe.Pointer(&b[0])
		b[0] = p
		slots[i] = p
	}
	return time.Since(t0)
}

func minflt() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fail("getrusage: %v", err)
	}
	return ru.Minflt
}

func numGC() uint32 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.NumGC
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "list" {
		fmt.Println("go\ngo-ptr\ngo-gcoff")
		return
	}
	if len(os.Args) != 4 || os.Args[1] != "run" {
		fail("usage: alloc-go list | run go|go-ptr|go-gcoff BENCH")
	}
	impl, bench := os.Args[2], os.Args[3]
	round := roundNoscan
	switch impl {
	case "go":
		debug.SetGCPercent(100)
	case "go-ptr":
		debug.SetGCPercent(100)
		round = roundPtr
	case "go-gcoff":
		debug.SetGCPercent(-1)
	default:
		fail("no implementation '%s' here (go, go-ptr, go-gcoff)", impl)
	}
	sizes, bytes := workload(bench)
	slots := make([]unsafe.Pointer, len(sizes))
	release := func() {
		for i := range slots {
			slots[i] = nil
		}
	}
	for r := 0; r < warmupRounds; r++ {
		round(slots, sizes)
		release()
	}
	gc0, flt0 := numGC(), minflt()
	ns := make([]float64, rounds)
	for r := range ns {
		ns[r] = float64(round(slots, sizes).Nanoseconds())
		release()
	}
	flt1, gc1 := minflt(), numGC()
	sort.Float64s(ns)
	n := float64(len(sizes))
	fmt.Printf("%s\t%s\t%.3f\t%d\t%.2f\t%d\n", bench, impl, ns[rounds/2]/n, bytes,
		1000*float64(flt1-flt0)/(n*rounds), gc1-gc0)
}
