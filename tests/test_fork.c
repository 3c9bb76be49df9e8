/* test_fork: fork() from a program whose threads allocate and collect
 * all the time. Each child (one thread left) must be able to allocate,
 * create a thread, collect, and find its data intact; the parent goes on
 * as if nothing happened. A child that hangs is killed by alarm().
 * Under GODEBUG=gcstress=N (N <= 100) or gcstressslow=1, inherited by the
 * children (no exec), a cycle runs at nearly every allocation: the
 * children's chains are 1/50 as long (child_n). */
#include <gogc.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "testutil.h"

struct node {
  struct node *next;
  uint64_t id, check;
};

#define NCHURN 4
static void *g_keep[NCHURN];
static int g_stop;
static void *volatile g_sink;

static struct node *chain(int n, uint64_t base) {
  struct node *head = NULL;
  for (int i = 0; i < n; i++) {
    struct node *x = gogc_alloc(sizeof *x);
    if (x == NULL) return NULL;
    x->id = base + (uint64_t)i;
    x->check = tu_mix(x->id);
    gogc_store(&x->next, head);
    head = x;
  }
  return head;
}

static int chain_ok(const struct node *x, int n) {
  int k = 0;
  for (; x; x = x->next, k++)
    if (x->check != tu_mix(x->id)) return 0;
  return k == n;
}

static void *churn(void *arg) {
  int idx = (int)(intptr_t)arg;
  uint64_t base = (uint64_t)idx << 40;
  while (!__atomic_load_n(&g_stop, __ATOMIC_RELAXED)) {
    gogc_store(&g_keep[idx], chain(500, base));
    if (!chain_ok(g_keep[idx], 500)) {
      fprintf(stderr, "churn %d: chain corrupted\n", idx);
      abort();
    }
    base += 500;
  }
  return NULL;
}

static int child_n(int n) { return tu_stress_heavy() ? n / 50 : n; }

static void *child_thread(void *arg) {
  (void)arg;
  struct node *c = chain(child_n(20000), 7);
  gogc_collect();
  return (void *)(intptr_t)chain_ok(c, child_n(20000));
}

static void in_child(void) {
  alarm(30); /* a hang fails the test instead of stalling CI */
  struct node *c = chain(child_n(100000), 1);
  gogc_collect();
  pthread_t tid;
  void *res = NULL;
  if (pthread_create(&tid, NULL, child_thread, NULL) != 0 || pthread_join(tid, &res) != 0) _exit(3);
  gogc_collect();
  for (int i = 0; i < child_n(100000); i++)
    gogc_store((void *)&g_sink, gogc_alloc(64)); /* garbage; cycles */
  if (!chain_ok(c, child_n(100000)) || res != (void *)1) _exit(2);
  _exit(0);
}

int main(void) {
  gogc_set_percent(25);
  pthread_t tids[NCHURN];
  for (int i = 0; i < NCHURN; i++)
    CHECK(pthread_create(&tids[i], NULL, churn, (void *)(intptr_t)i) == 0);
  int forks = 0, good = 0;
  for (int i = 0; i < 12; i++) {
    tu_sleep_ms(20);
    pid_t pid = fork();
    if (pid == 0) in_child();
    if (pid < 0) continue;
    forks++;
    int st = 0;
    waitpid(pid, &st, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) good++;
    else fprintf(stderr, "child %d: %s %d\n", i, WIFEXITED(st) ? "exit" : "signal",
                 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
  }
  __atomic_store_n(&g_stop, 1, __ATOMIC_RELAXED);
  for (int i = 0; i < NCHURN; i++) pthread_join(tids[i], NULL);
  CHECK(forks == 12);
  CHECKF(good == forks, "%d of %d children failed", forks - good, forks);
  gogc_memstats ms;
  gogc_read_memstats(&ms);
  CHECKF(tu_slow() || ms.num_gc > 12, "only %u collections in the parent", ms.num_gc);
  return check_done();
}
