/* binary-trees (Computer Language Benchmarks Game rules).
 *
 *   binarytrees [DEPTH [THREADS]]      DEPTH default 21, THREADS default 1
 *
 * A stretch tree of depth DEPTH+1 is built, checked and dropped; a
 * long-lived tree of depth DEPTH is kept for the whole run; then for each
 * depth d = 4, 6, ..., DEPTH, 2^(DEPTH-d+4) trees of depth d are built,
 * checked (node count) and dropped. With THREADS > 1 the trees of every
 * depth are split evenly across that many threads. */
#include "common.h"

#define MIN_DEPTH 4
#define MAX_THREADS 64
#define MAX_DEPTH 40

struct node {
  struct node *left, *right;
};

#if defined(IMPL_GOGC)
static const gogc_type *node_type;
static inline struct node *new_node(void) {
  struct node *n = gogc_alloc_typed(node_type);
  if (!n) bench_out_of_memory();
  return n;
}
#elif defined(IMPL_BOEHM)
static inline struct node *new_node(void) {
  struct node *n = GC_MALLOC(sizeof(struct node));
  if (!n) bench_out_of_memory();
  return n;
}
#else
static inline struct node *new_node(void) {
  struct node *n = malloc(sizeof(struct node));
  if (!n) bench_out_of_memory();
  n->left = n->right = NULL;
  return n;
}
#endif

/* Bottom-up: children first, then their parent. */
static struct node *make_tree(int depth) {
  if (depth <= 0) return new_node();
  struct node *l = make_tree(depth - 1);
  struct node *r = make_tree(depth - 1);
  struct node *n = new_node();
  STORE(&n->left, l);
  STORE(&n->right, r);
  return n;
}

static long check_tree(const struct node *n) {
  if (!n->left) return 1;
  return 1 + check_tree(n->left) + check_tree(n->right);
}

static void drop_tree(struct node *n) {
#if defined(IMPL_MALLOC)
  if (n->left) {
    drop_tree(n->left);
    drop_tree(n->right);
  }
  free(n);
#else
  (void)n; /* the collector reclaims it */
#endif
}

struct worker {
  pthread_t thread;
  int id, nthreads, max_depth;
  long check[MAX_DEPTH + 1]; /* summed checks, indexed by depth */
};

static void *worker_main(void *arg) {
  struct worker *w = arg;
  for (int d = MIN_DEPTH; d <= w->max_depth; d += 2) {
    long iters = 1L << (w->max_depth - d + MIN_DEPTH);
    long mine = iters / w->nthreads + (w->id < iters % w->nthreads ? 1 : 0);
    long sum = 0;
    for (long i = 0; i < mine; i++) {
      struct node *t = make_tree(d);
      sum += check_tree(t);
      drop_tree(t);
    }
    w->check[d] = sum;
  }
  return NULL;
}

int main(int argc, char **argv) {
  uint64_t t0 = bench_now_ns();
  int n = argc > 1 ? atoi(argv[1]) : 21;
  int nthreads = argc > 2 ? atoi(argv[2]) : 1;
  if (nthreads < 1 || nthreads > MAX_THREADS || n > MAX_DEPTH) {
    fprintf(stderr, "usage: binarytrees [DEPTH<=%d [THREADS 1..%d]]\n",
            MAX_DEPTH, MAX_THREADS);
    return 2;
  }
  bench_init();
#if defined(IMPL_GOGC)
  node_type = GOGC_TYPE(struct node, offsetof(struct node, left),
                        offsetof(struct node, right));
  if (!node_type) return 2;
#endif
  int max_depth = n < MIN_DEPTH + 2 ? MIN_DEPTH + 2 : n;

  {
    int sd = max_depth + 1;
    struct node *stretch = make_tree(sd);
    printf("stretch tree of depth %d\t check: %ld\n", sd, check_tree(stretch));
    drop_tree(stretch);
  }

  struct node *long_lived = make_tree(max_depth);

  static struct worker workers[MAX_THREADS];
  for (int t = 0; t < nthreads; t++) {
    workers[t].id = t;
    workers[t].nthreads = nthreads;
    workers[t].max_depth = max_depth;
  }
  if (nthreads == 1) {
    worker_main(&workers[0]);
  } else {
    for (int t = 0; t < nthreads; t++)
      if (pthread_create(&workers[t].thread, NULL, worker_main, &workers[t])) {
        fprintf(stderr, "pthread_create failed\n");
        return 1;
      }
    for (int t = 0; t < nthreads; t++) bench_join(workers[t].thread);
  }

  for (int d = MIN_DEPTH; d <= max_depth; d += 2) {
    long sum = 0;
    for (int t = 0; t < nthreads; t++) sum += workers[t].check[d];
    printf("%ld\t trees of depth %d\t check: %ld\n",
           1L << (max_depth - d + MIN_DEPTH), d, sum);
  }
  printf("long lived tree of depth %d\t check: %ld\n", max_depth,
         check_tree(long_lived));
  drop_tree(long_lived);

  double wall = (bench_now_ns() - t0) / 1e9;
  char extra[64];
  snprintf(extra, sizeof extra, " depth=%d", max_depth);
  bench_result("binarytrees", nthreads, wall, bench_cpu_s(), extra);
  return 0;
}
