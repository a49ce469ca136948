// bench/binarytrees.go: Go 1.19 in binary-trees, the collector benchmark.
// It follows the program and method written at the top of
// bench/binarytrees.h step for step (the same steps, the same top-down
// build, the same walk, one goroutine) and prints the same output and the
// same stderr line as bench/binarytrees_hosted.c:
//
//	binarytrees: impl=go procs=P gc_cycles=N gc_pause_ns=N gc_pause_p50_ns=N gc_pause_p99_ns=N gc_pause_max_ns=N
//
// from runtime.MemStats (NumGC, PauseTotalNs, and the PauseNs ring: the
// last 256 cycles' pauses, nearest-rank percentiles) read after the program.
// Usage: bt-go DEPTH. GOMAXPROCS comes from the environment (bench/run-gc
// sets it to 1 or 2) and is reported as procs; GOGC is Go's default, 100,
// unless the environment says otherwise (run-gc clears it).
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
)

const (
	minDepth = 4  // BT_MIN_DEPTH
	maxArg   = 30 // BT_MAX_DEPTH
)

type Node struct {
	left, right *Node
}

// tree builds a full tree of the given depth, the node before its subtrees.
func tree(depth int) *Node {
	n := &Node{}
	if depth > 0 {
		n.left = tree(depth - 1)
		n.right = tree(depth - 1)
	}
	return n
}

// check is the tree's node count, by walking it.
func (n *Node) check() uint64 {
	if n.left == nil {
		return 1
	}
	return 1 + n.left.check() + n.right.check()
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintf(os.Stderr, "usage: bt-go DEPTH  (DEPTH 0..%d)\n", maxArg)
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[1])
	if err != nil || n < 0 || n > maxArg {
		fmt.Fprintf(os.Stderr, "bt-go: DEPTH: '%s' is not an integer in [0, %d]\n", os.Args[1], maxArg)
		os.Exit(2)
	}
	max := n
	if max < minDepth+2 {
		max = minDepth + 2
	}
	out := bufio.NewWriter(os.Stdout)

	// 1. The stretch tree.
	fmt.Fprintf(out, "stretch tree of depth %d\t check: %d\n", max+1, tree(max+1).check())

	// 2. The long-lived tree.
	longLived := tree(max)

	// 3. Iterations per depth.
	for d := minDepth; d <= max; d += 2 {
		iterations := uint64(1) << uint(max-d+minDepth)
		var check uint64
		for i := uint64(0); i < iterations; i++ {
			check += tree(d).check()
		}
		fmt.Fprintf(out, "%d\t trees of depth %d\t check: %d\n", iterations, d, check)
	}

	// 4.
	fmt.Fprintf(out, "long lived tree of depth %d\t check: %d\n", max, longLived.check())
	if err := out.Flush(); err != nil {
		fmt.Fprintf(os.Stderr, "bt-go: writing the output: %v\n", err)
		os.Exit(1)
	}

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	np := int(ms.NumGC)
	if np > len(ms.PauseNs) {
		np = len(ms.PauseNs)
	}
	pauses := make([]uint64, np)
	for i := 0; i < np; i++ {
		pauses[i] = ms.PauseNs[(int(ms.NumGC)-1-i+len(ms.PauseNs))%len(ms.PauseNs)]
	}
	sort.Slice(pauses, func(i, j int) bool { return pauses[i] < pauses[j] })
	pct := func(p int) uint64 { // nearest rank, as bench/binarytrees_hosted.c
		if np == 0 {
			return 0
		}
		r := (p*np + 99) / 100
		if r == 0 {
			r = 1
		}
		return pauses[r-1]
	}
	fmt.Fprintf(os.Stderr, "binarytrees: impl=go procs=%d gc_cycles=%d gc_pause_ns=%d gc_pause_p50_ns=%d gc_pause_p99_ns=%d gc_pause_max_ns=%d\n",
		runtime.GOMAXPROCS(0), ms.NumGC, ms.PauseTotalNs, pct(50), pct(99), pct(100))
}
