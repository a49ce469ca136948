// bench/sched.go: Go 1.19's goroutines in the scheduler benchmarks. It
// follows the method written at the top of bench/sched_bench.h step for step
// (same operations per round, batch, frame size and depth, warm-up, rounds,
// median, checks) and prints the same line as bench/sched_hosted.c:
//
//	benchmark \t implementation \t ns_per_op \t note
//
// Usage: sched-go run BENCH NPROCS [OPS [ROUNDS]], BENCH one of create,
// pingpong, stackgrow; GOMAXPROCS is set to NPROCS here (implementation
// go-pNPROCS), so the environment cannot change what a row means.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"time"
)

const (
	createBatch    = 1000 // SCHED_CREATE_BATCH
	growFrameWords = 128  // SCHED_GROW_FRAME_BYTES / 8
	growFrames     = 896  // SCHED_GROW_FRAMES
	growStride     = 8    // one word read back per 64 bytes
	defaultRounds  = 5
	maxRounds      = 15
)

var defaultOps = map[string]uint64{"create": 100000, "pingpong": 100000, "stackgrow": 100}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "sched-go: "+format+"\n", args...)
	os.Exit(2)
}

// A global wait group and a top-level function: no closure is allocated per
// goroutine, as ours passes a static wait group to rt_go.
var wg sync.WaitGroup

func createExit() { wg.Done() }

func roundCreate(ops uint64) error {
	for started := uint64(0); started < ops; started += createBatch {
		wg.Add(createBatch)
		for i := 0; i < createBatch; i++ {
			go createExit()
		}
		wg.Wait()
	}
	return nil
}

var ping, pong chan uint64

func ponger() {
	for v := range ping {
		pong <- v
	}
	wg.Done()
}

func roundPingpong(ops uint64) error {
	ping, pong = make(chan uint64), make(chan uint64)
	wg.Add(1)
	go ponger()
	var err error
	for i := uint64(0); i < ops; i++ {
		ping <- i
		if back, ok := <-pong; !ok || back != i {
			err = fmt.Errorf("pingpong: a value came back changed, or the channel closed")
			break
		}
	}
	close(ping)
	wg.Wait()
	return err
}

// grow zeroes its frame (Go zeroes every local; ours writes every word),
// writes every 64th byte, recurses, and reads those back.
//
//go:noinline
func grow(depth int) uint64 {
	var buf [growFrameWords]uint64
	for i := 0; i < growFrameWords; i += growStride {
		buf[i] = uint64(depth + i)
	}
	var sum uint64
	if depth > 0 {
		sum = grow(depth - 1)
	}
	for i := 0; i < growFrameWords; i += growStride {
		sum += buf[i]
	}
	return sum
}

func growExpected() uint64 {
	n, per := uint64(growFrames), uint64(growFrameWords/growStride)
	return per*(n*(n-1)/2) + n*growStride*(per*(per-1)/2)
}

var growBadSum bool

func grower() {
	if grow(growFrames-1) != growExpected() {
		growBadSum = true
	}
	wg.Done()
}

func roundStackgrow(ops uint64) error {
	for i := uint64(0); i < ops; i++ {
		wg.Add(1)
		go grower()
		wg.Wait()
	}
	if growBadSum {
		return fmt.Errorf("stackgrow: a frame's contents changed across a stack copy (wrong sum)")
	}
	return nil
}

func parse(s, what string, lo, hi uint64) uint64 {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v < lo || v > hi {
		fail("%s: '%s' is not an integer in [%d, %d]", what, s, lo, hi)
	}
	return v
}

func main() {
	if len(os.Args) < 4 || len(os.Args) > 6 || os.Args[1] != "run" {
		fail("usage: sched-go run create|pingpong|stackgrow NPROCS [OPS [ROUNDS]]")
	}
	bench := os.Args[2]
	rounds := map[string]func(uint64) error{
		"create": roundCreate, "pingpong": roundPingpong, "stackgrow": roundStackgrow,
	}
	round, ok := rounds[bench]
	if !ok {
		fail("unknown benchmark '%s' (create, pingpong, stackgrow)", bench)
	}
	nprocs := int(parse(os.Args[3], "NPROCS", 1, 64))
	ops := defaultOps[bench]
	if len(os.Args) > 4 {
		ops = parse(os.Args[4], "OPS", 1, 1<<40)
	}
	nrounds := uint64(defaultRounds)
	if len(os.Args) > 5 {
		nrounds = parse(os.Args[5], "ROUNDS", 1, maxRounds)
	}
	if bench == "create" && ops%createBatch != 0 {
		fail("create: OPS must be a multiple of %d", createBatch)
	}
	runtime.GOMAXPROCS(nprocs)

	var ms runtime.MemStats
	var gc0 uint32
	ps := make([]uint64, 0, nrounds)
	for r := uint64(0); r <= nrounds; r++ { // round 0 warms up
		if r == 1 {
			runtime.ReadMemStats(&ms)
			gc0 = ms.NumGC
		}
		t0 := time.Now()
		if err := round(ops); err != nil {
			fail("%s with %d Ps: %v", bench, nprocs, err)
		}
		ns := uint64(time.Since(t0).Nanoseconds())
		if r > 0 {
			ps = append(ps, ns*1000/ops)
		}
	}
	runtime.ReadMemStats(&ms)
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	n := len(ps)
	med := ps[n/2]
	if n%2 == 0 {
		med = (ps[n/2-1] + ps[n/2]) / 2
	}
	note := "-"
	if gcs := ms.NumGC - gc0; gcs != 0 {
		note = fmt.Sprintf("%d GCs in the timed rounds", gcs)
	}
	fmt.Printf("%s\tgo-p%d\t%d.%03d\t%s\n", bench, nprocs, med/1000, med%1000, note)
}
