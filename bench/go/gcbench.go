// GCBench (after Ellis, Kovac and Boehm), Go peer of bench/gcbench.c;
// see that file for what it does.
package main

import (
	"fmt"
	"os"
	"time"
)

const (
	kStretchTreeDepth   = 18
	kLongLivedTreeDepth = 16
	kArraySize          = 500000
	kMinTreeDepth       = 4
	kMaxTreeDepth       = 16
)

type gnode struct {
	left, right *gnode
	i, j        int32
}

func treeSize(depth int) int { return (1 << (depth + 1)) - 1 }

func numIters(depth int) int { return 2 * treeSize(kStretchTreeDepth) / treeSize(depth) }

func countNodes(n *gnode) int {
	if n == nil {
		return 0
	}
	return 1 + countNodes(n.left) + countNodes(n.right)
}

// populate gives an existing node two fresh children, then recurses.
func populate(depth int, n *gnode) {
	if depth <= 0 {
		return
	}
	depth--
	n.left = &gnode{}
	n.right = &gnode{}
	populate(depth, n.left)
	populate(depth, n.right)
}

// makeTree builds both subtrees, then the node holding them.
func makeTree(depth int) *gnode {
	if depth <= 0 {
		return &gnode{}
	}
	l := makeTree(depth - 1)
	r := makeTree(depth - 1)
	return &gnode{left: l, right: r}
}

func timeConstruction(depth int) bool {
	iters := numIters(depth)
	ok := true
	fmt.Printf("Creating %d trees of depth %d\n", iters, depth)
	for k := 0; k < iters; k++ {
		t := &gnode{}
		populate(depth, t)
		if k == 0 && countNodes(t) != treeSize(depth) {
			ok = false
		}
	}
	fmt.Printf("\tTop down construction done\n")
	for k := 0; k < iters; k++ {
		t := makeTree(depth)
		if k == 0 && countNodes(t) != treeSize(depth) {
			ok = false
		}
	}
	fmt.Printf("\tBottom up construction done\n")
	return ok
}

func main() {
	t0 := time.Now()
	ok := true
	fmt.Printf("Garbage Collector Test\n")
	fmt.Printf(" Stretching memory with a binary tree of depth %d\n", kStretchTreeDepth)
	if countNodes(makeTree(kStretchTreeDepth)) != treeSize(kStretchTreeDepth) {
		ok = false
	}

	fmt.Printf(" Creating a long-lived binary tree of depth %d\n", kLongLivedTreeDepth)
	longLived := &gnode{}
	populate(kLongLivedTreeDepth, longLived)

	fmt.Printf(" Creating a long-lived array of %d doubles\n", kArraySize)
	array := make([]float64, kArraySize)
	for i := 0; i < kArraySize/2; i++ {
		array[i] = 1.0 / float64(i)
	}

	for d := kMinTreeDepth; d <= kMaxTreeDepth; d += 2 {
		if !timeConstruction(d) {
			ok = false
		}
	}

	if countNodes(longLived) != treeSize(kLongLivedTreeDepth) {
		fmt.Fprintln(os.Stderr, "gcbench: long-lived tree damaged")
		ok = false
	}
	if array[1000] != 1.0/1000 || array[kArraySize/2-1] != 1.0/float64(kArraySize/2-1) {
		fmt.Fprintln(os.Stderr, "gcbench: long-lived array damaged")
		ok = false
	}
	if !ok {
		fmt.Fprintln(os.Stderr, "gcbench: FAILED (wrong tree size)")
		os.Exit(1)
	}
	fmt.Printf(" Completed\n")
	printResult("gcbench", 1, time.Since(t0).Seconds(), "")
}
