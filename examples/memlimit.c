/* memlimit: a soft memory limit, and memory given back to the OS.
 *
 * With GOGC off and a 64 MiB limit (Go's "use the memory you are given"
 * mode), a program churning through 512 MiB of garbage with 16 MiB live
 * stays near the limit; then gogc_free_os_memory returns what is free.
 *
 * Run: ./build/examples/memlimit
 */
#include <gogc.h>

#include <stdint.h>
#include <stdio.h>

#define MiB (1024.0 * 1024.0)

static double rss_mib(void) {
  long pages = 0, res = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f != NULL) {
    if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
    fclose(f);
  }
  return res * 4096.0 / MiB;
}

static void *live[256]; /* 16 MiB live: 256 objects of 64 KiB */

int main(void) {
  gogc_set_percent(-1);                 /* GOGC=off */
  gogc_set_memory_limit(64ll << 20);    /* GOMEMLIMIT=64MiB */
  for (int i = 0; i < 256; i++) gogc_store(&live[i], gogc_alloc_noscan(64 << 10));
  double peak = 0;
  for (int i = 0; i < 8192; i++) { /* 512 MiB of garbage, 64 KiB at a time */
    char *g = gogc_alloc_noscan(64 << 10);
    g[0] = 1;
    if (i % 8 == 0) gogc_store(&live[i % 256], gogc_alloc_noscan(64 << 10)); /* turnover */
    double r = rss_mib();
    if (r > peak) peak = r;
  }
  gogc_memstats ms;
  gogc_read_memstats(&ms);
  printf("limit 64 MiB, GOGC off: %u collections, peak RSS %.1f MiB, memory held %.1f MiB\n",
         ms.num_gc, peak, ms.memory_held / MiB);
  for (int i = 128; i < 256; i++) gogc_store(&live[i], NULL); /* half the live data goes */
  gogc_free_os_memory();
  gogc_read_memstats(&ms);
  printf("after gogc_free_os_memory: RSS %.1f MiB, heap released %.1f MiB\n", rss_mib(),
         ms.heap_released / MiB);
  return peak < 64 + 32 ? 0 : 1; /* the limit is soft: some slack for the rest of the process */
}
