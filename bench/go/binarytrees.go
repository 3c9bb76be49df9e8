// binary-trees (Benchmarks Game rules), Go peer of bench/binarytrees.c.
//
//	binarytrees [DEPTH [THREADS]]   DEPTH default 21, THREADS default 1
//
// With THREADS > 1 the trees of every depth are split evenly across that
// many goroutines (GOMAXPROCS is left at its default, the number of CPUs).
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

const minDepth = 4

type node struct {
	left, right *node
}

func makeTree(depth int) *node {
	if depth <= 0 {
		return &node{}
	}
	l := makeTree(depth - 1)
	r := makeTree(depth - 1)
	return &node{l, r}
}

func (n *node) check() int64 {
	if n.left == nil {
		return 1
	}
	return 1 + n.left.check() + n.right.check()
}

func worker(id, nthreads, maxDepth int, out []int64) {
	for d := minDepth; d <= maxDepth; d += 2 {
		iters := 1 << (maxDepth - d + minDepth)
		mine := iters / nthreads
		if id < iters%nthreads {
			mine++
		}
		var sum int64
		for i := 0; i < mine; i++ {
			sum += makeTree(d).check()
		}
		out[d] = sum
	}
}

func main() {
	t0 := time.Now()
	n, threads := 21, 1
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	if len(os.Args) > 2 {
		threads, _ = strconv.Atoi(os.Args[2])
	}
	if threads < 1 || n > 40 {
		fmt.Fprintln(os.Stderr, "usage: binarytrees [DEPTH [THREADS]]")
		os.Exit(2)
	}
	maxDepth := n
	if maxDepth < minDepth+2 {
		maxDepth = minDepth + 2
	}

	stretch := maxDepth + 1
	fmt.Printf("stretch tree of depth %d\t check: %d\n", stretch, makeTree(stretch).check())

	longLived := makeTree(maxDepth)

	checks := make([][]int64, threads)
	for t := range checks {
		checks[t] = make([]int64, maxDepth+1)
	}
	if threads == 1 {
		worker(0, 1, maxDepth, checks[0])
	} else {
		var wg sync.WaitGroup
		for t := 0; t < threads; t++ {
			wg.Add(1)
			go func(t int) {
				defer wg.Done()
				worker(t, threads, maxDepth, checks[t])
			}(t)
		}
		wg.Wait()
	}
	for d := minDepth; d <= maxDepth; d += 2 {
		var sum int64
		for t := 0; t < threads; t++ {
			sum += checks[t][d]
		}
		fmt.Printf("%d\t trees of depth %d\t check: %d\n", 1<<(maxDepth-d+minDepth), d, sum)
	}
	fmt.Printf("long lived tree of depth %d\t check: %d\n", maxDepth, longLived.check())

	wall := time.Since(t0).Seconds()
	printResult("binarytrees", threads, wall, fmt.Sprintf(" depth=%d", maxDepth))
}
