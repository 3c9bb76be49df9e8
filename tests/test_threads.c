/* test_threads: multi-threaded stress.
 *
 * NWORK worker threads pass small object graphs (typed trees, conservative
 * lists, typed arrays grown with gogc_realloc) to each other through an
 * array of global slots (atomic exchange / compare-exchange) and through
 * per-worker "home" globals (gogc_store). Every node carries an id, a
 * checksum of the id and a noscan payload derived from the id; every graph
 * has a header with its node count. Whoever takes a graph verifies it,
 * mutates it and passes it on. Workers call gogc_collect() at random,
 * exit after a random lifetime and are replaced (thread churn); one more
 * thread keeps a graph only in its locals across gogc_enter_blocking() /
 * sleep / gogc_leave_blocking().
 *
 * At the end every graph reachable from the globals is verified: nothing
 * lost or corrupted. Runs for GOGC_TEST_SECONDS (default 12) seconds.
 */
#include <gogc.h>

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "testutil.h"

#define NWORK 8
#define NSLOTS 64
#define MAX_NODES 300

enum { K_TREE, K_LIST, K_ARRAY, K_NKINDS };
#define MAGIC 0x6f67636773747275ULL

struct tn { /* typed */
  struct tn *left;
  uint64_t id;
  struct tn *right;
  uint64_t check;
  unsigned char *data;
};
struct ln { /* conservative */
  uint64_t id;
  struct ln *next;
  uint64_t check;
  unsigned char *data;
};
struct ae { /* typed array element */
  uint64_t id;
  unsigned char *data;
  uint64_t check;
};
struct hdr { /* conservative */
  uint64_t magic;
  uint64_t kind;
  uint64_t count;
  uint64_t check;
  void *root;
};

static void *g_slots[NSLOTS];
void *g_home[NWORK + 1]; /* written with gogc_store only */
static const gogc_type *g_tn_type, *g_ae_type;
static uint64_t g_next_id = 1;
static int g_stop;

/* Counters (atomic). */
static uint64_t g_iters, g_built, g_verified, g_nodes_verified, g_bad, g_collects,
    g_threads_started, g_block_iters;

static void add(uint64_t *c, uint64_t v) { __atomic_fetch_add(c, v, __ATOMIC_RELAXED); }
static uint64_t get(const uint64_t *c) { return __atomic_load_n(c, __ATOMIC_RELAXED); }

static uint64_t node_check(uint64_t id) { return tu_mix(id ^ 0xabcdef12345ULL); }
static size_t payload_len(uint64_t id) { return 1 + (size_t)(id % 100); }
static uint64_t hdr_check(const struct hdr *h) {
  return tu_mix(h->magic ^ (h->kind << 40) ^ h->count);
}

static unsigned char *mk_payload(uint64_t id) {
  size_t n = payload_len(id);
  unsigned char *d = gogc_alloc_noscan(n);
  if (d)
    tu_fill(d, n, id);
  return d;
}
static int payload_ok(const unsigned char *d, uint64_t id) {
  return d != NULL && gogc_size(d) >= payload_len(id) && tu_verify(d, payload_len(id), id) == 0;
}
static uint64_t new_id(void) { return __atomic_fetch_add(&g_next_id, 1, __ATOMIC_RELAXED); }

/* --------------------------------------------------------------------- */
static struct tn *mk_tn(void) {
  struct tn *t = gogc_alloc_typed(g_tn_type);
  if (!t)
    return NULL;
  t->id = new_id();
  t->check = node_check(t->id);
  gogc_store(&t->data, mk_payload(t->id));
  return t;
}

static struct tn *build_tree(int depth) {
  if (depth == 0)
    return NULL;
  struct tn *t = mk_tn();
  if (!t)
    return NULL;
  gogc_store(&t->left, build_tree(depth - 1));
  gogc_store(&t->right, build_tree(depth - 1));
  return t;
}

static struct hdr *build(uint64_t *rng) {
  struct hdr *h = gogc_alloc(sizeof *h);
  if (!h)
    return NULL;
  h->magic = MAGIC;
  h->kind = tu_rand(rng) % K_NKINDS;
  size_t n = 0;
  if (h->kind == K_TREE) {
    int depth = 1 + (int)(tu_rand(rng) % 5);
    gogc_store(&h->root, build_tree(depth));
    n = ((size_t)1 << depth) - 1;
  } else if (h->kind == K_LIST) {
    n = 1 + tu_rand(rng) % 40;
    struct ln *head = NULL;
    for (size_t i = 0; i < n; i++) {
      struct ln *x = gogc_alloc(sizeof *x);
      if (!x)
        return NULL;
      x->id = new_id();
      x->check = node_check(x->id);
      gogc_store(&x->data, mk_payload(x->id));
      gogc_store(&x->next, head);
      head = x;
    }
    gogc_store(&h->root, head);
  } else {
    n = 1 + tu_rand(rng) % 40;
    struct ae *a = gogc_alloc_typed_array(g_ae_type, n);
    if (!a)
      return NULL;
    for (size_t i = 0; i < n; i++) {
      a[i].id = new_id();
      a[i].check = node_check(a[i].id);
      gogc_store(&a[i].data, mk_payload(a[i].id));
    }
    gogc_store(&h->root, a);
  }
  h->count = n;
  h->check = hdr_check(h);
  add(&g_built, 1);
  return h;
}

static void report(const struct hdr *h, const char *what, const void *obj, uint64_t id);
static size_t verify_tree(const struct hdr *h, const struct tn *t, size_t *count, int depth) {
  if (t == NULL)
    return 0;
  if (depth > MAX_NODES + 10 || gogc_base(t) != t) {
    report(h, "tree node not live", t, 0);
    return 1;
  }
  (*count)++;
  size_t bad = (t->check != node_check(t->id) || !payload_ok(t->data, t->id));
  if (bad)
    report(h, t->check != node_check(t->id) ? "tree node checksum" : "tree node payload", t,
           t->id);
  return bad + verify_tree(h, t->left, count, depth + 1) +
         verify_tree(h, t->right, count, depth + 1);
}

/* Describe the first few problems on stderr. */
static int g_reports;
static void report(const struct hdr *h, const char *what, const void *obj, uint64_t id) {
  if (__atomic_fetch_add(&g_reports, 1, __ATOMIC_RELAXED) >= 10)
    return;
  fprintf(stderr,
          "corrupt graph %p (kind %llu, count %llu): %s: object %p id %llu, gogc_base %p, "
          "gogc_size %zu\n",
          (const void *)h, (unsigned long long)h->kind, (unsigned long long)h->count, what, obj,
          (unsigned long long)id, gogc_base(obj), gogc_size(obj));
}

/* Number of problems found in the graph (0: intact). */
static size_t verify(const struct hdr *h) {
  if (h == NULL)
    return 0;
  if (gogc_base(h) != h || h->magic != MAGIC || h->check != hdr_check(h) || h->kind >= K_NKINDS) {
    report(h, "bad header", h, h->magic);
    return 1;
  }
  size_t bad = 0, count = 0;
  if (h->kind == K_TREE) {
    bad += verify_tree(h, h->root, &count, 0);
  } else if (h->kind == K_LIST) {
    for (const struct ln *x = h->root; x != NULL && count <= MAX_NODES + 10; x = x->next) {
      count++;
      if (gogc_base(x) != x || x->check != node_check(x->id) || !payload_ok(x->data, x->id)) {
        report(h,
               gogc_base(x) != x                ? "list node not live"
               : x->check != node_check(x->id) ? "list node checksum"
                                                : "list node payload",
               x, x->id);
        bad++;
      }
    }
  } else {
    const struct ae *a = h->root;
    if (a == NULL || gogc_base(a) != a || gogc_size(a) < h->count * sizeof *a) {
      report(h, "array not live or too small", a, 0);
      return bad + 1;
    }
    for (size_t i = 0; i < h->count; i++, count++)
      if (a[i].check != node_check(a[i].id) || !payload_ok(a[i].data, a[i].id)) {
        report(h, a[i].check != node_check(a[i].id) ? "array element checksum"
                                                    : "array element payload",
               &a[i], a[i].id);
        bad++;
      }
  }
  if (count != h->count) {
    report(h, "node count differs", h, count);
    bad++;
  }
  add(&g_verified, 1);
  add(&g_nodes_verified, count);
  return bad;
}

/* Change the graph in place (the caller owns it exclusively). */
static void mutate(struct hdr *h, uint64_t *rng) {
  if (h->count >= MAX_NODES)
    return;
  if (h->kind == K_TREE) {
    /* Walk down a random path; re-id a node or graft a new leaf. */
    struct tn *t = h->root;
    if (t == NULL)
      return;
    for (;;) {
      uint64_t r = tu_rand(rng);
      if (r % 4 == 0) { /* re-id this node */
        uint64_t id = new_id();
        unsigned char *d = mk_payload(id);
        if (!d)
          return;
        t->id = id;
        t->check = node_check(id);
        gogc_store(&t->data, d);
        return;
      }
      struct tn **child = (r & 2) ? &t->left : &t->right;
      if (*child == NULL) {
        struct tn *n = mk_tn();
        if (!n)
          return;
        gogc_store(child, n);
        h->count++;
        h->check = hdr_check(h);
        return;
      }
      t = *child;
    }
  } else if (h->kind == K_LIST) {
    struct ln *head = h->root;
    if ((tu_rand(rng) & 1) && head && head->next) { /* unlink the 2nd node */
      gogc_store(&head->next, head->next->next);
      h->count--;
    } else { /* push a new node */
      struct ln *x = gogc_alloc(sizeof *x);
      if (!x)
        return;
      x->id = new_id();
      x->check = node_check(x->id);
      gogc_store(&x->data, mk_payload(x->id));
      gogc_store(&x->next, head);
      gogc_store(&h->root, x);
      h->count++;
    }
    h->check = hdr_check(h);
  } else { /* grow the typed array by one element with gogc_realloc */
    struct ae *a = gogc_realloc(h->root, (h->count + 1) * sizeof(struct ae));
    if (!a)
      return;
    struct ae *e = &a[h->count];
    e->id = new_id();
    e->check = node_check(e->id);
    gogc_store(&e->data, mk_payload(e->id));
    gogc_store(&h->root, a);
    h->count++;
    h->check = hdr_check(h);
  }
}

/* Put a graph into an empty slot; drop it if none is found quickly. */
static void put_back(struct hdr *h, uint64_t *rng) {
  for (int tries = 0; tries < 4; tries++) {
    size_t j = tu_rand(rng) % NSLOTS;
    if (gogc_atomic_cas(&g_slots[j], NULL, h))
      return;
  }
}

/* Short-lived garbage. */
static void garbage(uint64_t *rng) {
  int n = 1 + (int)(tu_rand(rng) % 8);
  for (int i = 0; i < n; i++) {
    size_t sz = 8 + tu_rand(rng) % 1500;
    unsigned char *p = (i & 1) ? gogc_alloc_noscan(sz) : gogc_alloc(sz);
    if (p)
      memset(p, 0xEB, sz < 32 ? sz : 32);
  }
  if (tu_rand(rng) % 64 == 0) {
    unsigned char *big = gogc_alloc(40000 + tu_rand(rng) % 100000);
    if (big)
      big[100] = 1;
  }
}

/* --------------------------------------------------------------------- */
struct worker {
  pthread_t tid;
  int index;
  int running;
  int done;
  double lifetime;
  uint64_t seed;
};

static void *worker_main(void *arg) {
  struct worker *w = arg;
  uint64_t rng = w->seed | 1, iters = 0, bad = 0;
  double end = tu_now() + w->lifetime;
  /* Pick up the graph the previous thread at this index left behind. */
  bad += verify(g_home[w->index]);
  while (!__atomic_load_n(&g_stop, __ATOMIC_RELAXED)) {
    if ((iters & 63) == 0 && tu_now() > end)
      break;
    iters++;
    uint64_t r = tu_rand(&rng) % 10000;
    size_t slot = tu_rand(&rng) % NSLOTS;
    if (r < 2500) { /* publish a new graph */
      struct hdr *h = build(&rng);
      struct hdr *old = gogc_atomic_swap(&g_slots[slot], h);
      bad += verify(old);
    } else if (r < 6000) { /* take, check, mutate, pass on */
      struct hdr *h = gogc_atomic_swap(&g_slots[slot], NULL);
      if (h) {
        bad += verify(h);
        mutate(h, &rng);
        mutate(h, &rng);
        bad += verify(h);
        put_back(h, &rng);
      }
    } else if (r < 6800) { /* swap the home graph with a slot */
      struct hdr *mine = g_home[w->index];
      bad += verify(mine);
      if (mine)
        mutate(mine, &rng);
      struct hdr *h = gogc_atomic_swap(&g_slots[slot], mine);
      if (h == NULL)
        h = build(&rng);
      bad += verify(h);
      gogc_store(&g_home[w->index], h);
    } else if (r < 9996) {
      garbage(&rng);
    } else {
      gogc_collect();
      add(&g_collects, 1);
    }
  }
  add(&g_iters, iters);
  add(&g_bad, bad);
  __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
  return NULL;
}

/* Keeps a graph only in a local across blocking sections. */
static void *blocking_main(void *arg) {
  uint64_t rng = 0x1234567 | 1, bad = 0, iters = 0;
  (void)arg;
  while (!__atomic_load_n(&g_stop, __ATOMIC_RELAXED)) {
    struct hdr *h = build(&rng);
    bad += verify(h);
    gogc_enter_blocking();
    tu_sleep_ms(2);
    gogc_leave_blocking();
    bad += verify(h); /* locals stay roots while blocking */
    garbage(&rng);
    gogc_enter_blocking();
    gogc_enter_blocking(); /* nests */
    tu_sleep_ms(1);
    gogc_leave_blocking();
    gogc_leave_blocking();
    bad += verify(h);
    if (iters % 8 == 0) {
      struct hdr *old = gogc_atomic_swap(&g_slots[tu_rand(&rng) % NSLOTS], h);
      bad += verify(old);
    }
    iters++;
  }
  add(&g_block_iters, iters);
  add(&g_bad, bad);
  return NULL;
}

static int start_worker(struct worker *w, uint64_t *rng) {
  w->done = 0;
  w->lifetime = 0.3 + (double)(tu_rand(rng) % 1500) / 1000.0;
  w->seed = tu_rand(rng);
  int rc = pthread_create(&w->tid, NULL, worker_main, w);
  w->running = rc == 0;
  if (rc == 0)
    add(&g_threads_started, 1);
  return rc;
}

int main(void) {
  g_tn_type = GOGC_TYPE(struct tn, offsetof(struct tn, left), offsetof(struct tn, right),
                        offsetof(struct tn, data));
  g_ae_type = GOGC_TYPE(struct ae, offsetof(struct ae, data));
  CHECK(g_tn_type != NULL && g_ae_type != NULL);
  if (!g_tn_type || !g_ae_type)
    return check_done();

  double seconds = 12;
  const char *env = getenv("GOGC_TEST_SECONDS");
  if (env && atof(env) > 0)
    seconds = atof(env);

  gogc_memstats *ms0 = malloc(sizeof *ms0), *ms1 = malloc(sizeof *ms1);
  if (!ms0 || !ms1)
    return 1;
  gogc_read_memstats(ms0);

  uint64_t rng = 0x9e3779b97f4a7c15ULL;
  static struct worker workers[NWORK];
  for (int i = 0; i < NWORK; i++) {
    workers[i].index = i;
    CHECK(start_worker(&workers[i], &rng) == 0);
  }
  pthread_t bt;
  CHECK(pthread_create(&bt, NULL, blocking_main, NULL) == 0);

  double t0 = tu_now(), end = t0 + seconds;
  int create_failures = 0;
  while (tu_now() < end) {
    tu_sleep_ms(10);
    for (int i = 0; i < NWORK; i++) {
      struct worker *w = &workers[i];
      if (w->running && __atomic_load_n(&w->done, __ATOMIC_ACQUIRE)) {
        pthread_join(w->tid, NULL);
        w->running = 0;
      }
      if (!w->running && start_worker(w, &rng) != 0)
        create_failures++;
    }
  }
  __atomic_store_n(&g_stop, 1, __ATOMIC_RELAXED);
  for (int i = 0; i < NWORK; i++)
    if (workers[i].running)
      pthread_join(workers[i].tid, NULL);
  pthread_join(bt, NULL);
  CHECKF(create_failures == 0, "%d pthread_create failures", create_failures);

  /* Final check: everything reachable from the globals is intact. */
  gogc_collect();
  tu_garbage(16u << 20, 8, 600, 2, 77);
  gogc_collect();
  uint64_t v0 = get(&g_verified), n0 = get(&g_nodes_verified);
  size_t final_bad = 0, graphs = 0;
  for (int i = 0; i < NSLOTS; i++) {
    if (g_slots[i])
      graphs++;
    final_bad += verify(g_slots[i]);
  }
  for (int i = 0; i <= NWORK; i++) {
    if (g_home[i])
      graphs++;
    final_bad += verify(g_home[i]);
  }
  gogc_read_memstats(ms1);
  double elapsed = tu_now() - t0;
  uint64_t bytes = ms1->total_alloc - ms0->total_alloc;
  printf("%.1f s: %llu iterations, %llu graphs built, %llu graphs / %llu nodes verified, "
         "%llu threads started, %llu blocking iterations\n",
         elapsed, (unsigned long long)get(&g_iters), (unsigned long long)get(&g_built),
         (unsigned long long)get(&g_verified), (unsigned long long)get(&g_nodes_verified),
         (unsigned long long)get(&g_threads_started), (unsigned long long)get(&g_block_iters));
  printf("allocated %.0f MiB in %llu objects; %u collections (%u forced, %llu from workers); "
         "final: %zu graphs, %llu nodes\n",
         (double)bytes / (1 << 20), (unsigned long long)(ms1->mallocs - ms0->mallocs),
         ms1->num_gc - ms0->num_gc, ms1->num_forced_gc - ms0->num_forced_gc,
         (unsigned long long)get(&g_collects), graphs,
         (unsigned long long)(get(&g_nodes_verified) - n0));

  CHECKF(get(&g_bad) == 0, "%llu lost or corrupted objects seen while running",
         (unsigned long long)get(&g_bad));
  CHECKF(final_bad == 0, "%zu lost or corrupted objects in the final check", final_bad);
  CHECKF(graphs >= NSLOTS / 2, "only %zu graphs left in the globals", graphs);
  CHECKF(get(&g_verified) - v0 == graphs, "final check verified %llu of %zu graphs",
         (unsigned long long)(get(&g_verified) - v0), graphs);
  /* How much work a run of fixed length does; under gcstress, less. */
  uint64_t scale = tu_slow() ? 64 : 1;
  CHECKF(bytes >= ((uint64_t)64 << 20) / scale, "only %llu bytes allocated", (unsigned long long)bytes);
  CHECKF(get(&g_threads_started) >= NWORK + (scale == 1 ? 4 : 0), "only %llu threads started (no churn)",
         (unsigned long long)get(&g_threads_started));
  CHECKF(get(&g_collects) >= 3 / scale, "only %llu collections from workers",
         (unsigned long long)get(&g_collects));
  CHECKF(tu_stressed() || ms1->num_gc - ms0->num_gc > ms1->num_forced_gc - ms0->num_forced_gc,
         "no automatic collection ran");
  CHECKF(get(&g_block_iters) >= 20 / scale, "blocking thread ran only %llu iterations",
         (unsigned long long)get(&g_block_iters));
  CHECKF(get(&g_nodes_verified) >= 100000 / scale, "only %llu nodes verified",
         (unsigned long long)get(&g_nodes_verified));
  free(ms0);
  free(ms1);
  return check_done();
}
