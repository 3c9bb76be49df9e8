// pool: sync.Pool against fresh allocation; the Go peer of bench/pool.c
// (same parts, same RESULT fields).
//
//	pool [SECONDS_PER_PART]
package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

const bufSize = 1024
const scratchSize = 4096

var partS = 0.5
var sink uint64
var sinkBuf []byte

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}
var scratchPool = sync.Pool{New: func() any { b := make([]byte, scratchSize); return &b }}

// timed runs body in batches of 1024 for partS seconds; ns per op.
func timed(body func()) float64 {
	t0 := time.Now()
	dl := t0.Add(time.Duration(partS * 1e9))
	n := 0
	for {
		for i := 0; i < 1024; i++ {
			body()
		}
		n += 1024
		if time.Now().After(dl) {
			break
		}
	}
	return float64(time.Since(t0).Nanoseconds()) / float64(n)
}

func pairOnce() {
	b := bufPool.Get().(*[]byte)
	(*b)[0]++
	bufPool.Put(b)
}

func pair2() float64 {
	var wg sync.WaitGroup
	var ops [2]int
	dl := time.Now().Add(time.Duration(partS*1e9) + 10*time.Millisecond)
	t0 := time.Now()
	for k := 0; k < 2; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			n := 0
			for {
				for i := 0; i < 1024; i++ {
					pairOnce()
				}
				n += 1024
				if time.Now().After(dl) {
					break
				}
			}
			ops[k] = n
		}(k)
	}
	wg.Wait()
	return float64(time.Since(t0).Nanoseconds()) / float64(ops[0]+ops[1])
}

func request(b []byte, r uint64) uint64 {
	for i := 0; i < bufSize; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r)
		r = r*6364136223846793005 + 1
	}
	var sum uint64
	for i := 0; i < bufSize; i += 8 {
		sum += binary.LittleEndian.Uint64(b[i:])
	}
	return sum
}

func numGC() uint32 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.NumGC
}

func main() {
	if len(os.Args) > 1 {
		if v, err := strconv.ParseFloat(os.Args[1], 64); err == nil {
			partS = v
		}
	}
	start := time.Now()
	p1 := timed(pairOnce)
	p2 := pair2()
	fr := timed(func() {
		b := make([]byte, bufSize)
		b[0] = 1
		sinkBuf = b
	})
	var r uint64 = 1
	g0 := numGC()
	rp := timed(func() {
		b := scratchPool.Get().(*[]byte)
		sink += request(*b, r)
		r++
		scratchPool.Put(b)
	})
	gp := numGC() - g0
	g0 = numGC()
	rf := timed(func() {
		b := make([]byte, scratchSize)
		sink += request(b, r)
		r++
		sinkBuf = b
	})
	gf := numGC() - g0
	fmt.Println("pool: done")
	printResult("pool", 2, time.Since(start).Seconds(),
		fmt.Sprintf(" pair1_ns=%.1f pair2_ns=%.1f fresh_ns=%.1f req_pool_ns=%.1f req_fresh_ns=%.1f req_pool_gcs=%d req_fresh_gcs=%d",
			p1, p2, fr, rp, rf, gp, gf))
}
