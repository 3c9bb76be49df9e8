/* Helpers shared by the gogc black-box tests (public API only). */
#ifndef GOGC_TESTS_TESTUTIL_H
#define GOGC_TESTS_TESTUTIL_H

#include <gogc.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TU_FN static __attribute__((unused))
#define TU_NOINLINE static __attribute__((noinline, unused))

/* ---------------------------------------------------------------------------
 * Hiding addresses from the conservative scanner.
 *
 * Tests that check that an object DIES must remember its address somewhere
 * the collector does not treat as a reference. An address XORed with this
 * mask is not a plausible heap pointer. Encoding and decoding happen only
 * inside noinline helpers so that the compiler cannot keep the decoded
 * pointer around in a register or stack slot of the caller.
 * ------------------------------------------------------------------------- */
#define TU_MASK ((uintptr_t)0x5a5a5a5a5a5a5a5aULL)

static inline uintptr_t tu_enc(const void *p) { return (uintptr_t)p ^ TU_MASK; }

/* The top 16 bits (never set in a user-space address) may carry a tag:
 * see tu_make_large. */
#define TU_ADDR_BITS ((uintptr_t)0x0000ffffffffffffULL)

TU_NOINLINE void *tu_dec(uintptr_t e) {
  void *p = (void *)((e ^ TU_MASK) & TU_ADDR_BITS);
  __asm__ volatile("" : "+r"(p));
  return p;
}

/* splitmix64 finaliser: a cheap, good hash for checksums. */
static inline uint64_t tu_mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/* xorshift64* generator; state must be non-zero. */
static inline uint64_t tu_rand(uint64_t *s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545f4914f6cdd1dULL;
}

/* Overwrite a large part of the stack below the caller, so dead frames of
 * earlier calls do not hold stale copies of pointers (the stack is scanned
 * conservatively). Not instrumented by AddressSanitizer, which could
 * otherwise move buf to its own "fake stack" elsewhere in memory. */
#if defined(__clang__) || defined(__GNUC__)
__attribute__((no_sanitize_address))
#endif
TU_NOINLINE void tu_clobber_stack(void) {
  char buf[64 * 1024];
  memset(buf, 0, sizeof buf);
  __asm__ volatile("" : : "r"(buf) : "memory");
}

/* Fill the byte range [p, p+n) with a pattern derived from seed. */
TU_FN void tu_fill(void *p, size_t n, uint64_t seed) {
  unsigned char *b = (unsigned char *)p;
  for (size_t i = 0; i < n; i++)
    b[i] = (unsigned char)(tu_mix(seed + (i >> 3)) >> ((i & 7) * 8));
}

/* Number of bytes in [p, p+n) that differ from tu_fill(p, n, seed). */
TU_FN size_t tu_verify(const void *p, size_t n, uint64_t seed) {
  const unsigned char *b = (const unsigned char *)p;
  size_t bad = 0;
  for (size_t i = 0; i < n; i++)
    if (b[i] != (unsigned char)(tu_mix(seed + (i >> 3)) >> ((i & 7) * 8)))
      bad++;
  return bad;
}

TU_FN int tu_all_zero(const void *p, size_t n) {
  const unsigned char *b = (const unsigned char *)p;
  for (size_t i = 0; i < n; i++)
    if (b[i] != 0)
      return 0;
  return 1;
}

/* Running under GODEBUG=gcstress or gcstressslow: collections are forced
 * at allocations, so checks on how many collections ran, or on what an
 * allocation pattern alone triggers, do not apply (what survives and what
 * is reclaimed still does). */
TU_FN int tu_stressed(void) {
  const char *g = getenv("GODEBUG");
  return g != NULL && strstr(g, "gcstress") != NULL;
}

/* Collections forced at least every 100th allocation of a thread
 * (GODEBUG=gcstress=N with N <= 100), or at allocation slow paths
 * (gcstressslow=1): a cycle costs about as much as marking the whole live
 * heap, so a test whose live heap grows to hundreds of thousands of
 * objects runs for hours. Tests make smaller structures then (under
 * gcstress=1000 they keep their size, and their run time in CI). */
TU_FN int tu_stress_heavy(void) {
  const char *g = getenv("GODEBUG");
  while (g != NULL && *g != '\0') {
    long v = 0;
    if (strncmp(g, "gcstressslow=", 13) == 0) {
      v = strtol(g + 13, NULL, 10);
      if (v != 0) return 1;
    } else if (strncmp(g, "gcstress=", 9) == 0) {
      v = strtol(g + 9, NULL, 10);
      if (v > 0 && v <= 100) return 1;
    }
    g = strchr(g, ',');
    if (g != NULL) g++;
  }
  return 0;
}

/* Under gcstress, or on a much slower machine (GOGC_TEST_SLOW=1: valgrind,
 * which also runs one thread at a time): checks on how much work a run of
 * fixed length does, or on what background threads keep up with, do not
 * apply either. */
TU_FN int tu_slow(void) {
  return tu_stressed() || getenv("GOGC_TEST_SLOW") != NULL;
}

TU_FN double tu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Resident set size of this process now, bytes (0 if unknown). */
TU_FN long tu_rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long size = 0, res = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &size, &res) != 2)
      res = 0;
    fclose(f);
  }
  return res * sysconf(_SC_PAGESIZE);
}

TU_FN void tu_sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* ---------------------------------------------------------------------------
 * Garbage: allocate `total` bytes of unreachable objects of sizes in
 * [minsz, maxsz], writing a pattern into each so that wrongly freed memory
 * that gets reused shows up as corruption. Returns the number of objects.
 * kind: 0 conservative, 1 noscan, 2 alternate.
 * ------------------------------------------------------------------------- */
TU_NOINLINE uint64_t tu_garbage(size_t total, size_t minsz, size_t maxsz, int kind,
                                uint64_t seed) {
  uint64_t rng = seed | 1, count = 0;
  size_t done = 0;
  /* Under gcstress every collection is forced and full: a sixteenth of
   * the garbage exercises the same paths in reasonable time. */
  if (tu_stressed() && total > ((size_t)1 << 20)) total = total / 16 > ((size_t)1 << 20) ? total / 16 : ((size_t)1 << 20);
  while (done < total) {
    size_t sz = minsz + (maxsz > minsz ? (size_t)(tu_rand(&rng) % (maxsz - minsz + 1)) : 0);
    int k = kind == 2 ? (int)(count & 1) : kind;
    unsigned char *p = k ? (unsigned char *)gogc_alloc_noscan(sz)
                         : (unsigned char *)gogc_alloc(sz);
    if (p == NULL)
      break;
    /* Odd, non-pointer-looking junk in the first and last words. */
    memset(p, 0xEB, sz < 64 ? sz : 64);
    if (sz > 64)
      memset(p + sz - 32, 0xEB, 32);
    done += sz;
    count++;
  }
  return count;
}

/* ---------------------------------------------------------------------------
 * Liveness probes with large objects.
 *
 * A large object (> 32 KiB) has its own pages; once it is swept they are
 * returned, so gogc_size(old address) == 0 until the pages are reused.
 * Checking right after gogc_collect (which sweeps completely), with no
 * allocation in between, tells whether the object survived.
 * ------------------------------------------------------------------------- */
#define TU_LARGE_SIZE ((size_t)256 * 1024)

/* Each probe carries a tag unique in the process, in its encoding's top
 * bits and in the object (at offset 64): once a probe dies, a later large
 * object may get the same address, and without the tag it would pass for
 * the probe. */
static uint64_t tu_ntags;

/* Allocate a noscan large object filled with a pattern; returns it encoded. */
TU_NOINLINE uintptr_t tu_make_large(uint64_t seed) {
  void *p = gogc_alloc_noscan(TU_LARGE_SIZE);
  if (p == NULL)
    return 0;
  tu_fill(p, 64, seed);
  tu_fill((char *)p + TU_LARGE_SIZE - 64, 64, seed + 1000);
  /* Bit 63 of the encoding stays set: never a plausible address. */
  uint64_t tag = 0x8000 | __atomic_add_fetch(&tu_ntags, 1, __ATOMIC_RELAXED) % 0x7fff;
  *(uint64_t *)((char *)p + 64) = tu_mix(tag);
  uintptr_t e = tu_enc(p) ^ ((uintptr_t)tag << 48);
  p = NULL;
  return e;
}

/* Store the decoded pointer into *slot (raw store if raw != 0, e.g. into a
 * noscan object or a non-pointer field; the barrier is still used). */
TU_NOINLINE void tu_stash(void *slot, uintptr_t e) { gogc_store(slot, tu_dec(e)); }

/* 1 if the object encoded in e is still a live collected object (for a
 * probe of tu_make_large: that very object, its tag intact). */
TU_NOINLINE int tu_is_live(uintptr_t e) {
  char *p = (char *)tu_dec(e);
  if (gogc_size(p) == 0 || gogc_base(p) != p)
    return 0;
  uint64_t tag = (uint64_t)((e ^ TU_MASK) >> 48);
  if (tag == 0)
    return 1;
  return gogc_size(p) >= TU_LARGE_SIZE && *(const uint64_t *)(p + 64) == tu_mix(tag);
}

/* 1 if the large object is live AND its pattern is intact. */
TU_NOINLINE int tu_large_intact(uintptr_t e, uint64_t seed) {
  char *p = (char *)tu_dec(e);
  if (gogc_size(p) < TU_LARGE_SIZE || gogc_base(p) != p || !tu_is_live(e))
    return 0;
  return tu_verify(p, 64, seed) == 0 &&
         tu_verify(p + TU_LARGE_SIZE - 64, 64, seed + 1000) == 0;
}

/* Collect (after wiping stale stack) up to `tries` times; 1 as soon as the
 * object is dead, 0 if it stayed alive. A conservative scan may retain an
 * object by accident, hence the retries. */
TU_NOINLINE int tu_dies(uintptr_t e, int tries) {
  for (int i = 0; i < tries; i++) {
    tu_clobber_stack();
    gogc_collect();
    if (!tu_is_live(e))
      return 1;
  }
  return 0;
}

/* ---------------------------------------------------------------------------
 * Child processes: run this executable again (fork + exec /proc/self/exe)
 * with `mode` as argv[1] and an environment that is the current one with
 * GOGC and GODEBUG removed and `extra_env` (NULL-terminated "K=V" list)
 * added. stdout and stderr are captured (malloc'd, NUL-terminated).
 * Returns the wait status, or -1 if the child could not be run.
 * ------------------------------------------------------------------------- */
extern char **environ;

TU_FN char *tu_read_fd_all(int fd) {
  size_t cap = 4096, len = 0;
  char *buf = (char *)malloc(cap);
  if (buf == NULL)
    return NULL;
  lseek(fd, 0, SEEK_SET);
  for (;;) {
    if (len + 1024 > cap) {
      cap *= 2;
      char *nb = (char *)realloc(buf, cap);
      if (nb == NULL)
        break;
      buf = nb;
    }
    ssize_t r = read(fd, buf + len, cap - len - 1);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    len += (size_t)r;
  }
  buf[len] = '\0';
  return buf;
}

TU_FN int tu_run_child(const char *mode, const char *const *extra_env, char **out,
                       char **err) {
  char outname[] = "/tmp/gogc_test_outXXXXXX";
  char errname[] = "/tmp/gogc_test_errXXXXXX";
  int ofd = mkstemp(outname), efd = mkstemp(errname);
  if (ofd < 0 || efd < 0)
    return -1;
  unlink(outname);
  unlink(errname);

  /* Build the environment before forking. */
  size_t n = 0, nextra = 0;
  while (environ[n])
    n++;
  while (extra_env && extra_env[nextra])
    nextra++;
  char **envp = (char **)calloc(n + nextra + 1, sizeof(char *));
  if (envp == NULL)
    return -1;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (strncmp(environ[i], "GOGC=", 5) == 0 || strncmp(environ[i], "GODEBUG=", 8) == 0)
      continue;
    envp[k++] = environ[i];
  }
  for (size_t i = 0; i < nextra; i++)
    envp[k++] = (char *)extra_env[i];
  envp[k] = NULL;

  char self[4096];
  ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
  if (sl <= 0)
    return -1;
  self[sl] = '\0';

  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    struct rlimit rl = {0, 0};
    setrlimit(RLIMIT_CORE, &rl); /* no core dumps from expected aborts */
    dup2(ofd, 1);
    dup2(efd, 2);
    char *argv[] = {self, (char *)mode, NULL};
    execve(self, argv, envp);
    _exit(127);
  }
  free(envp);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      status = -1;
      break;
    }
  }
  *out = tu_read_fd_all(ofd);
  *err = tu_read_fd_all(efd);
  close(ofd);
  close(efd);
  return status;
}

/* Describe a wait status, for failure messages. */
TU_FN const char *tu_status_str(int st, char *buf, size_t n) {
  if (st == -1)
    snprintf(buf, n, "could not run");
  else if (WIFEXITED(st))
    snprintf(buf, n, "exit %d", WEXITSTATUS(st));
  else if (WIFSIGNALED(st))
    snprintf(buf, n, "signal %d", WTERMSIG(st));
  else
    snprintf(buf, n, "status 0x%x", st);
  return buf;
}

#endif /* GOGC_TESTS_TESTUTIL_H */
