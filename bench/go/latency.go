// latency, Go peer of bench/latency.c; see that file for what it does.
//
//	latency [LIVE_MIB [CHURN [THREADS [DROP_S]]]]    defaults 1024, 16, 2, 0
package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"
	"unsafe"
)

const chain = 64

type lnode struct {
	next  *lnode
	stamp uint64 // same for every node of a chain
	pos   uint64 // 0..chain-1 along the chain
	pad   [5]uint64
}

var roots []*lnode

func makeChain(stamp uint64) *lnode {
	var head *lnode
	for pos := chain - 1; pos >= 0; pos-- {
		head = &lnode{next: head, stamp: stamp, pos: uint64(pos)}
	}
	return head
}

type worker struct {
	id       int
	lo, hi   int
	gaps     []int64 // ns between consecutive iterations
	steadyNs int64
}

func (w *worker) run(start *sync.WaitGroup) {
	tag := uint64(w.id) << 56
	var gen uint64
	for c := w.lo; c < w.hi; c++ {
		gen++
		roots[c] = makeChain(tag | gen)
	}
	start.Done()
	start.Wait()

	cur := w.lo
	base := time.Now()
	var prev int64
	for it := range w.gaps {
		gen++
		roots[cur] = makeChain(tag | gen)
		cur++
		if cur == w.hi {
			cur = w.lo
		}
		now := int64(time.Since(base))
		w.gaps[it] = now - prev
		prev = now
	}
	w.steadyNs = prev
}

func verify() bool { return verifyRange(0, len(roots)) }

func verifyRange(lo, hi int) bool {
	for _, n := range roots[lo:hi] {
		if n == nil {
			return false
		}
		stamp := n.stamp
		for pos := uint64(0); pos < chain; pos++ {
			if n == nil || n.pos != pos || n.stamp != stamp {
				return false
			}
			n = n.next
		}
		if n != nil {
			return false
		}
	}
	return true
}

// percentile is the nearest-rank percentile of a sorted slice.
func percentile(v []int64, p float64) int64 {
	rank := int(p/100*float64(len(v)) + 0.999999)
	if rank < 1 {
		rank = 1
	}
	if rank > len(v) {
		rank = len(v)
	}
	return v[rank-1]
}

// dropPhase: see bench/latency.c.
func dropPhase(dropS float64, liveMiB int) (string, bool) {
	nchains := len(roots)
	keep := nchains / 10
	if keep < 1 {
		keep = 1
	}
	for c := keep; c < nchains; c++ {
		roots[c] = nil
	}
	target := 2.2*float64(liveMiB)*float64(keep)/float64(nchains) + 64
	reach := -1.0
	t0 := time.Now()
	tick := 10 * time.Millisecond
	perTick := int(float64(liveMiB) * 1024 * 1024 / 100 / (64 * chain)) // liveMiB MiB/s
	cur := 0
	var gen uint64
	for next := t0.Add(tick); ; next = next.Add(tick) {
		for i := 0; i < perTick; i++ {
			gen++
			roots[cur] = makeChain(uint64(0x7f)<<56 | gen)
			cur++
			if cur == keep {
				cur = 0
			}
		}
		el := time.Since(t0).Seconds()
		if reach < 0 && rssNowMiB() <= target {
			reach = el
		}
		if el >= dropS {
			break
		}
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
	}
	return fmt.Sprintf(" drop_target_mib=%.1f drop_reach_s=%.3f drop_rss_end_mib=%.1f",
		target, reach, rssNowMiB()), verifyRange(0, keep)
}

func main() {
	t0 := time.Now()
	liveMiB, churn, threads := 1024, 16.0, 2
	if len(os.Args) > 1 {
		liveMiB, _ = strconv.Atoi(os.Args[1])
	}
	if len(os.Args) > 2 {
		churn, _ = strconv.ParseFloat(os.Args[2], 64)
	}
	if len(os.Args) > 3 {
		threads, _ = strconv.Atoi(os.Args[3])
	}
	dropS := 0.0
	if len(os.Args) > 4 {
		dropS, _ = strconv.ParseFloat(os.Args[4], 64)
	}
	if liveMiB < 1 || churn <= 0 || threads < 1 {
		fmt.Fprintln(os.Stderr, "usage: latency [LIVE_MIB [CHURN [THREADS]]]")
		os.Exit(2)
	}
	if unsafe.Sizeof(lnode{}) != 64 {
		panic("node must be 64 bytes")
	}
	nchains := liveMiB * 1024 * 1024 / (64 * chain)
	if nchains < threads {
		nchains = threads
	}
	roots = make([]*lnode, nchains)
	totalIters := int(churn * float64(nchains))

	workers := make([]*worker, threads)
	for t := range workers {
		w := &worker{id: t, lo: nchains * t / threads, hi: nchains * (t + 1) / threads}
		n := totalIters * (w.hi - w.lo) / nchains
		if n < 1 {
			n = 1
		}
		w.gaps = make([]int64, n)
		for i := range w.gaps { // touch the buffer now, as the C versions do
			w.gaps[i] = 0
		}
		workers[t] = w
	}
	var start, done sync.WaitGroup
	start.Add(threads)
	done.Add(threads)
	for _, w := range workers {
		go func(w *worker) {
			defer done.Done()
			w.run(&start)
		}(w)
	}
	done.Wait()
	wall := time.Since(t0).Seconds()

	var all []int64
	var steady int64
	for _, w := range workers {
		all = append(all, w.gaps...)
		if w.steadyNs > steady {
			steady = w.steadyNs
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	if !verify() {
		fmt.Fprintln(os.Stderr, "latency: FAILED: live set damaged")
		os.Exit(1)
	}
	fmt.Printf("live set: %d chains of %d nodes (%d MiB), %d replacements\n",
		nchains, chain, liveMiB, len(all))
	drop := ""
	if dropS > 0 {
		var ok bool
		if drop, ok = dropPhase(dropS, liveMiB); !ok {
			fmt.Fprintln(os.Stderr, "latency: FAILED: live set damaged after the drop")
			os.Exit(1)
		}
	}
	printResult("latency", threads, wall, fmt.Sprintf(
		" live_mib=%d iters=%d steady_s=%.3f gap_max_ms=%.3f gap_p999_us=%.1f gap_p99_us=%.1f%s",
		liveMiB, len(all), float64(steady)/1e9, float64(all[len(all)-1])/1e6,
		float64(percentile(all, 99.9))/1e3, float64(percentile(all, 99))/1e3, drop))
}
