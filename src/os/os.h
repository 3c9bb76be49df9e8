/* gogc: the operating-system contract.
 *
 * Everything the collector needs from the OS goes through the functions
 * declared here; one implementation file per OS (os_linux.c today) defines
 * them. Shared rules:
 *  - addresses and sizes passed to the memory functions are multiples of
 *    the OS page size (gogc_os_page_size()), sizes are non-zero;
 *  - functions returning int return 0 on success and an errno-style
 *    positive code on failure; they never print and never allocate with
 *    malloc (they may run while other threads are stopped);
 *  - every byte moved between the address-space states below is accounted
 *    in gogc_os_stats so the memory limit and memstats see all of it.
 *
 * Address-space states (as in Go's mem.go):
 *   None     -> reserve  -> Reserved (PROT_NONE, no memory)
 *   Reserved -> commit   -> Ready    (read/write, zero-filled on first touch)
 *   Ready    -> decommit -> Reserved (pages returned to the OS)
 *   any      -> release  -> None
 */
#ifndef GOGC_OS_H
#define GOGC_OS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gogc_os_stats {
  uint64_t reserved;  /* bytes in Reserved or Ready state */
  uint64_t committed; /* bytes in Ready state */
} gogc_os_stats_t;

size_t gogc_os_page_size(void);
int gogc_os_ncpu(void);

/* Reserve size bytes aligned to `align` (a power of two >= page size). */
void *gogc_os_reserve(size_t size, size_t align);
int gogc_os_commit(void *addr, size_t size);
int gogc_os_decommit(void *addr, size_t size);
void gogc_os_release(void *addr, size_t size);
/* Drop the contents of Ready pages (they read as zero after); they stay
 * Ready and counted as committed. */
int gogc_os_purge(void *addr, size_t size);
/* Ready pages made inaccessible (rw false) or accessible again, contents
 * and accounting unchanged (arena chunks). */
int gogc_os_protect(void *addr, size_t size, bool rw);
/* Ask the OS to back Ready pages with huge pages (on) or never to (off).
 * A hint: 0, or an error code where the OS has none (nothing changes). */
int gogc_os_hugepage(void *addr, size_t size, bool on);
/* Does the OS give huge pages at all (false where the system setting is
 * "never" or there is none)? Where it does not, gogc_os_hugepage may
 * still return 0. */
bool gogc_os_hugepages_possible(void);
/* Tag Ready pages (tag 0 or 1) so that the OS keeps them in a mapping of
 * their own, apart from neighbours with the other tag or none (tag -1
 * clears it): a later gogc_os_protect of exactly the range then neither
 * splits nor merges mappings. Nothing else changes. A hint: 0 or an error
 * code. */
int gogc_os_isolate(void *addr, size_t size, int tag);
/* Reserve and commit in one step: internal metadata. NULL on failure. */
void *gogc_os_alloc(size_t size);
void gogc_os_free(void *addr, size_t size);
void gogc_os_read_stats(gogc_os_stats_t *out);

/* Clocks, in nanoseconds. */
uint64_t gogc_os_nanotime(void);     /* monotonic */
uint64_t gogc_os_walltime(void);     /* Unix time */
uint64_t gogc_os_thread_cputime(void);
uint64_t gogc_os_process_cputime(void);

/* Name a thread (shown by top -H, ps -L, gdb, perf); at most 15 bytes
 * are kept. Best effort: failures are ignored. */
void gogc_os_thread_set_name(pthread_t tid, const char *name);

/* Futex-style wait/wake on a 32-bit word; async-signal-safe. */
void gogc_os_futex_wait(volatile uint32_t *addr, uint32_t expect);
void gogc_os_futex_wake(volatile uint32_t *addr, int n);
/* Wait at most ns nanoseconds. */
void gogc_os_futex_wait_ns(volatile uint32_t *addr, uint32_t expect, uint64_t ns);


/* Stack bounds of the calling thread: [*lo, *hi). 0 on success. */
int gogc_os_thread_stack(uintptr_t *lo, uintptr_t *hi);

/* Write a string to stderr without stdio (async-signal-safe). */
void gogc_os_write_err(const char *s, size_t n);

/* Fault injection (tests, GODEBUG=failmem): the Nth memory request from
 * now fails, and with persistent every later one too (n 0 disables).
 * Counts reserve, commit, alloc and protect-to-accessible requests.
 * gogc_os_fail_count: failures delivered since the process started. */
void gogc_os_fail_set(uint64_t n, bool persistent);
void gogc_os_fail_nth(uint64_t n);
uint64_t gogc_os_fail_count(void);

#endif
