/* gogc: roots outside the heap.
 *
 *   - data and bss: every writable PT_LOAD segment of the executable and of
 *     each loaded shared library, found with dl_iterate_phdr. The walk
 *     takes the dynamic loader's lock, so it runs before the world is
 *     stopped (a stopped thread may hold that lock inside dlopen) and its
 *     result is kept in a snapshot for the cycle.
 *   - ranges the program added with gogc_add_roots.
 *   - thread stacks and saved registers (stw.c adds them while the world
 *     is stopped: gogc_roots_add_threads).
 * The library's own state lives in memory from the OS, reached from one
 * pointer (gogc_rt), so scanning our own .data finds no heap addresses.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <link.h>


static gogc_root_range *seg;
static uint32_t nseg, seg_cap;

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  (void)data;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W)) continue;
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    uintptr_t hi = lo + ph->p_memsz;
    if (nseg == seg_cap) {
      uint32_t cap = seg_cap ? seg_cap * 2 : 64;
      gogc_root_range *n = gogc_meta_alloc(cap * sizeof *n);
      if (n == NULL) return 1;
      if (nseg) memcpy(n, seg, nseg * sizeof *n);
      seg = n; /* the old table is small and stays as metadata */
      seg_cap = cap;
    }
    seg[nseg++] = (gogc_root_range){lo & ~(uintptr_t)7, hi};
  }
  return 0;
}

void gogc_roots_snapshot_data(void) {
  nseg = 0;
  dl_iterate_phdr(phdr_cb, NULL);
}

/* World stopped: turn the snapshot and the added ranges into root jobs. */
void gogc_roots_prepare_static(void) {
  gogc_runtime *rt = gogc_rt;
  uint64_t globals = 0;
  for (uint32_t i = 0; i < nseg; i++) {
    gogc_roots_push_range(seg[i].lo, seg[i].hi, ROOT_DATA);
    globals += seg[i].hi - seg[i].lo;
  }
  rt->globals_scan = globals;
  gogc_lock(&rt->roots_lock);
  for (uint32_t i = 0; i < rt->nadded; i++)
    gogc_roots_push_range(rt->added[i].lo, rt->added[i].hi, ROOT_ADDED);
  pthread_mutex_unlock(&rt->roots_lock);
  /* One job for the finalizers, cleanups, weak handles and the queue:
   * its size is in gogc_specials_scan's hands, not a range. */
  if (gogc_specials_any()) gogc_roots_push_range(0, 1, ROOT_SPECIALS);
  gogc_pools_push_roots();
}

GOGC_API int gogc_add_roots(void *lo, void *hi) {
  if (gogc_ensure_init() != 0) return -1;
  uintptr_t l = (uintptr_t)lo, h = (uintptr_t)hi;
  if (l > h) {
    gogc_warn("gogc_add_roots(%p, %p): lo is above hi", lo, hi);
    return -1;
  }
  gogc_runtime *rt = gogc_rt;
  /* roots_lock is taken with the world stopped (the roots of a cycle): a
   * registered thread holds it only inside a critical section. */
  gogc_thread *t = gogc_self;
  if (t == NULL) t = gogc_thread_register_self();
  if (t != NULL) gogc_critical_enter(t);
  gogc_lock(&rt->roots_lock);
  for (uint32_t i = 0; i < rt->nadded; i++) {
    if (l < rt->added[i].hi && rt->added[i].lo < h) {
      pthread_mutex_unlock(&rt->roots_lock);
      if (t != NULL) gogc_critical_leave(t);
      gogc_warn("gogc_add_roots(%p, %p): overlaps a range already added", lo, hi);
      return -1;
    }
  }
  if (rt->nadded == rt->added_cap) {
    uint32_t cap = rt->added_cap ? rt->added_cap * 2 : 16;
    gogc_root_range *n = gogc_meta_alloc(cap * sizeof *n);
    if (n == NULL) {
      pthread_mutex_unlock(&rt->roots_lock);
      if (t != NULL) gogc_critical_leave(t);
      return -1;
    }
    if (rt->nadded) memcpy(n, rt->added, rt->nadded * sizeof *n);
    rt->added = n;
    rt->added_cap = cap;
  }
  rt->added[rt->nadded++] = (gogc_root_range){l, h};
  pthread_mutex_unlock(&rt->roots_lock);
  if (t != NULL) gogc_critical_leave(t);
  /* Marking now: the range was not a root when the cycle started, and
   * what it holds was stored without the barrier's knowledge. */
  if (t != NULL && gogc_wb_marking()) gogc_mark_shade_range(t, l, h);
  return 0;
}

GOGC_API int gogc_remove_roots(void *lo, void *hi) {
  if (gogc_ensure_init() != 0) return -1;
  gogc_runtime *rt = gogc_rt;
  int rc = -1;
  gogc_thread *t = gogc_self;
  if (t != NULL) gogc_critical_enter(t);
  gogc_lock(&rt->roots_lock);
  for (uint32_t i = 0; i < rt->nadded; i++) {
    if (rt->added[i].lo == (uintptr_t)lo && rt->added[i].hi == (uintptr_t)hi) {
      rt->added[i] = rt->added[--rt->nadded];
      rc = 0;
      break;
    }
  }
  pthread_mutex_unlock(&rt->roots_lock);
  if (t != NULL) gogc_critical_leave(t);
  return rc;
}
