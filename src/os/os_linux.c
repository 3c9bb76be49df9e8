/* gogc: the Linux implementation of os/os.h.
 *
 * Plain system calls: mmap/mprotect/madvise for memory, clock_gettime for
 * time, the futex system call for waiting, pthread_getattr_np for stack
 * bounds. Accounting of reserved and committed bytes is kept here, with
 * relaxed atomics (the counters are statistics, not synchronisation).
 */
#define _GNU_SOURCE
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint64_t os_reserved, os_committed;
/* Fault injection: requests counted from the last gogc_os_fail_set. */
static uint64_t os_fail_at, os_requests, os_failed;
static bool os_fail_persist;

static int os_should_fail(void) {
  uint64_t at = __atomic_load_n(&os_fail_at, __ATOMIC_RELAXED);
  if (at == 0) return 0;
  uint64_t n = __atomic_add_fetch(&os_requests, 1, __ATOMIC_RELAXED);
  bool fail = n == at || (n > at && __atomic_load_n(&os_fail_persist, __ATOMIC_RELAXED));
  if (fail) __atomic_add_fetch(&os_failed, 1, __ATOMIC_RELAXED);
  return fail;
}

void gogc_os_fail_set(uint64_t n, bool persistent) {
  __atomic_store_n(&os_fail_at, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&os_requests, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&os_fail_persist, persistent, __ATOMIC_RELAXED);
  __atomic_store_n(&os_fail_at, n, __ATOMIC_RELAXED);
}

void gogc_os_fail_nth(uint64_t n) {
  gogc_os_fail_set(n, false);
}

uint64_t gogc_os_fail_count(void) {
  return __atomic_load_n(&os_failed, __ATOMIC_RELAXED);
}

size_t gogc_os_page_size(void) {
  static size_t ps;
  if (ps == 0) ps = (size_t)sysconf(_SC_PAGESIZE);
  return ps;
}

int gogc_os_ncpu(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

void *gogc_os_reserve(size_t size, size_t align) {
  if (os_should_fail()) return NULL;
  size_t total = size + align;
  char *p = mmap(NULL, total, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return NULL;
  uintptr_t a = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
  size_t head = a - (uintptr_t)p, tail = total - head - size;
  if (head) munmap(p, head);
  if (tail) munmap((char *)a + size, tail);
  __atomic_add_fetch(&os_reserved, size, __ATOMIC_RELAXED);
  return (void *)a;
}

int gogc_os_commit(void *addr, size_t size) {
  if (os_should_fail()) return ENOMEM;
  if (mprotect(addr, size, PROT_READ | PROT_WRITE) != 0) return errno;
  __atomic_add_fetch(&os_committed, size, __ATOMIC_RELAXED);
  return 0;
}

int gogc_os_decommit(void *addr, size_t size) {
  /* MADV_DONTNEED frees the pages now; the range reads as zero after. */
  if (madvise(addr, size, MADV_DONTNEED) != 0) return errno;
  if (mprotect(addr, size, PROT_NONE) != 0) return errno;
  __atomic_sub_fetch(&os_committed, size, __ATOMIC_RELAXED);
  return 0;
}

int gogc_os_purge(void *addr, size_t size) {
  return madvise(addr, size, MADV_DONTNEED) == 0 ? 0 : errno;
}

int gogc_os_protect(void *addr, size_t size, bool rw) {
  if (rw && os_should_fail()) return ENOMEM;
  return mprotect(addr, size, rw ? PROT_READ | PROT_WRITE : PROT_NONE) == 0 ? 0 : errno;
}

/* MADV_HUGEPAGE: transparent huge pages for the range even where the
 * system gives them only on request (/sys/kernel/mm/transparent_hugepage
 * "madvise", the common default); MADV_NOHUGEPAGE: none even where it
 * gives them always. EINVAL: a kernel without them. */
#ifndef MADV_HUGEPAGE
#define MADV_HUGEPAGE 14
#endif
#ifndef MADV_NOHUGEPAGE
#define MADV_NOHUGEPAGE 15
#endif
int gogc_os_hugepage(void *addr, size_t size, bool on) {
  return madvise(addr, size, on ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) == 0 ? 0 : errno;
}

/* The read-ahead advice only sets a flag on the mapping for anonymous
 * memory (it guides swap-in read-ahead alone), and mappings whose flags
 * differ are never merged. A protection change of a whole mapping costs
 * about half as much as one that splits or merges (a 2 MiB range with 6
 * resident pages: 1.7 us against 3.3 us on the development VM). */
int gogc_os_isolate(void *addr, size_t size, int tag) {
  int advice = tag < 0 ? MADV_NORMAL : tag == 0 ? MADV_RANDOM : MADV_SEQUENTIAL;
  return madvise(addr, size, advice) == 0 ? 0 : errno;
}

/* The setting reads like "always [madvise] never", the bracketed word in
 * force; with "[never]" madvise(MADV_HUGEPAGE) succeeds and does nothing. */
bool gogc_os_hugepages_possible(void) {
  int fd = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[128];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = 0;
  return strstr(buf, "[never]") == NULL;
}

void gogc_os_release(void *addr, size_t size) {
  munmap(addr, size);
  __atomic_sub_fetch(&os_reserved, size, __ATOMIC_RELAXED);
}

void *gogc_os_alloc(size_t size) {
  if (os_should_fail()) return NULL;
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return NULL;
  __atomic_add_fetch(&os_reserved, size, __ATOMIC_RELAXED);
  __atomic_add_fetch(&os_committed, size, __ATOMIC_RELAXED);
  return p;
}

void gogc_os_free(void *addr, size_t size) {
  munmap(addr, size);
  __atomic_sub_fetch(&os_reserved, size, __ATOMIC_RELAXED);
  __atomic_sub_fetch(&os_committed, size, __ATOMIC_RELAXED);
}

void gogc_os_read_stats(gogc_os_stats_t *out) {
  out->reserved = __atomic_load_n(&os_reserved, __ATOMIC_RELAXED);
  out->committed = __atomic_load_n(&os_committed, __ATOMIC_RELAXED);
}

static uint64_t ts_ns(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
uint64_t gogc_os_nanotime(void) { return ts_ns(CLOCK_MONOTONIC); }
uint64_t gogc_os_walltime(void) { return ts_ns(CLOCK_REALTIME); }
uint64_t gogc_os_thread_cputime(void) { return ts_ns(CLOCK_THREAD_CPUTIME_ID); }
uint64_t gogc_os_process_cputime(void) { return ts_ns(CLOCK_PROCESS_CPUTIME_ID); }

void gogc_os_thread_set_name(pthread_t tid, const char *name) {
  char buf[16];
  size_t n = 0;
  for (; name[n] != 0 && n < sizeof buf - 1; n++) buf[n] = name[n];
  buf[n] = 0;
  (void)pthread_setname_np(tid, buf);
}

#if defined(__SANITIZE_THREAD__)
#define OS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define OS_TSAN 1
#endif
#endif
#if defined(OS_TSAN)
/* ThreadSanitizer holds back a signal that arrives outside an intercepted
 * call until the thread makes one; a raw futex system call is not one, so
 * a thread parked there would never see the suspend signal and a stop of
 * the world would never complete. Under TSan a wait is therefore a short
 * nanosleep (intercepted, and a point where TSan delivers held signals),
 * ended early by nothing: callers already treat every return as possibly
 * spurious and test their condition again. */
static void tsan_wait(volatile uint32_t *addr, uint32_t expect, uint64_t ns) {
  if (__atomic_load_n(addr, __ATOMIC_ACQUIRE) != expect) return;
  if (ns > 100000) ns = 100000;
  struct timespec ts = {0, (long)ns};
  nanosleep(&ts, NULL);
}
void gogc_os_futex_wait(volatile uint32_t *addr, uint32_t expect) {
  tsan_wait(addr, expect, 100000);
}
void gogc_os_futex_wait_ns(volatile uint32_t *addr, uint32_t expect, uint64_t ns) {
  tsan_wait(addr, expect, ns);
}
#else
void gogc_os_futex_wait(volatile uint32_t *addr, uint32_t expect) {
  syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, expect, NULL, NULL, 0);
}

void gogc_os_futex_wait_ns(volatile uint32_t *addr, uint32_t expect, uint64_t ns) {
  struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
  syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, expect, &ts, NULL, 0);
}
#endif

void gogc_os_futex_wake(volatile uint32_t *addr, int n) {
  syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

int gogc_os_thread_stack(uintptr_t *lo, uintptr_t *hi) {
  pthread_attr_t attr;
  void *addr;
  size_t size;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) return -1;
  int rc = pthread_attr_getstack(&attr, &addr, &size);
  pthread_attr_destroy(&attr);
  if (rc != 0) return -1;
  *lo = (uintptr_t)addr;
  *hi = (uintptr_t)addr + size;
  return 0;
}

void gogc_os_write_err(const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = write(2, s, n);
    if (w <= 0) {
      if (w < 0 && errno == EINTR) continue;
      return;
    }
    s += w;
    n -= (size_t)w;
  }
}
