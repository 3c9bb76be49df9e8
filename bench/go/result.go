// Shared by the Go peers; every program is built together with this file:
//
//	go build -o binarytrees-go binarytrees.go result.go
package main

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
)

// printResult prints the one machine-readable result line. extra is
// appended as is (starts with a space, or is "").
func printResult(bench string, threads int, wall float64, extra string) {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("RESULT impl=go bench=%s threads=%d wall_s=%.3f cpu_s=%.3f rss_mib=%.1f gcs=%d gc_cpu=%.4f%s\n",
		bench, threads, wall, cpu, float64(ru.Maxrss)/1024, ms.NumGC, ms.GCCPUFraction, extra)
}

// rssNowMiB is the resident set size now (from /proc/self/statm).
func rssNowMiB() float64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, res int64
	fmt.Sscan(string(b), &size, &res)
	return float64(res) * 4096 / (1024 * 1024)
}
