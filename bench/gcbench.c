/* GCBench, after the classic benchmark by Ellis, Kovac and Boehm,
 * written here from its description.
 *
 *   gcbench            (no arguments; single-threaded)
 *
 * 1. Build and drop a "stretch" tree of depth 18 (bottom-up).
 * 2. Build a long-lived tree of depth 16 (top-down) and a long-lived array
 *    of 500000 doubles (pointer-free), both kept until the end.
 * 3. For depth d = 4, 6, ..., 16, build and drop NumIters(d) trees of depth
 *    d top-down (allocate the parent, then populate its children), then the
 *    same number bottom-up (children first). NumIters(d) is chosen so every
 *    depth allocates about twice the nodes of the stretch tree.
 * 4. Check that the long-lived tree and array are still intact. */
#include "common.h"

enum {
  kStretchTreeDepth = 18,
  kLongLivedTreeDepth = 16,
  kArraySize = 500000,
  kMinTreeDepth = 4,
  kMaxTreeDepth = 16,
};

struct gnode {
  struct gnode *left, *right;
  int i, j;
};

#if defined(IMPL_GOGC)
static const gogc_type *gnode_type;
static inline struct gnode *new_gnode(void) {
  struct gnode *n = gogc_alloc_typed(gnode_type);
  if (!n) bench_out_of_memory();
  return n;
}
static inline double *new_array(size_t n) {
  double *a = gogc_alloc_noscan(n * sizeof(double));
  if (!a) bench_out_of_memory();
  return a;
}
#elif defined(IMPL_BOEHM)
static inline struct gnode *new_gnode(void) {
  struct gnode *n = GC_MALLOC(sizeof(struct gnode));
  if (!n) bench_out_of_memory();
  return n;
}
static inline double *new_array(size_t n) {
  double *a = GC_MALLOC_ATOMIC(n * sizeof(double));
  if (!a) bench_out_of_memory();
  return a;
}
#else
static inline struct gnode *new_gnode(void) {
  struct gnode *n = calloc(1, sizeof(struct gnode));
  if (!n) bench_out_of_memory();
  return n;
}
static inline double *new_array(size_t n) {
  double *a = malloc(n * sizeof(double));
  if (!a) bench_out_of_memory();
  return a;
}
#endif

static void drop_tree(struct gnode *n) {
#if defined(IMPL_MALLOC)
  if (!n) return;
  drop_tree(n->left);
  drop_tree(n->right);
  free(n);
#else
  (void)n;
#endif
}

static long tree_size(int depth) { return (1L << (depth + 1)) - 1; }

static long num_iters(int depth) {
  return 2 * tree_size(kStretchTreeDepth) / tree_size(depth);
}

static long count_nodes(const struct gnode *n) {
  if (!n) return 0;
  return 1 + count_nodes(n->left) + count_nodes(n->right);
}

/* Top-down: give an existing node two fresh children, then recurse. */
static void populate(int depth, struct gnode *n) {
  if (depth <= 0) return;
  depth--;
  struct gnode *l = new_gnode();
  STORE(&n->left, l);
  struct gnode *r = new_gnode();
  STORE(&n->right, r);
  populate(depth, l);
  populate(depth, r);
}

/* Bottom-up: build both subtrees, then the node holding them. */
static struct gnode *make_tree(int depth) {
  if (depth <= 0) return new_gnode();
  struct gnode *l = make_tree(depth - 1);
  struct gnode *r = make_tree(depth - 1);
  struct gnode *n = new_gnode();
  STORE(&n->left, l);
  STORE(&n->right, r);
  return n;
}

static int time_construction(int depth) {
  long iters = num_iters(depth);
  int ok = 1;
  printf("Creating %ld trees of depth %d\n", iters, depth);
  for (long k = 0; k < iters; k++) {
    struct gnode *t = new_gnode();
    populate(depth, t);
    if (k == 0 && count_nodes(t) != tree_size(depth)) ok = 0;
    drop_tree(t);
  }
  printf("\tTop down construction done\n");
  for (long k = 0; k < iters; k++) {
    struct gnode *t = make_tree(depth);
    if (k == 0 && count_nodes(t) != tree_size(depth)) ok = 0;
    drop_tree(t);
  }
  printf("\tBottom up construction done\n");
  return ok;
}

int main(void) {
  uint64_t t0 = bench_now_ns();
  bench_init();
#if defined(IMPL_GOGC)
  gnode_type = GOGC_TYPE(struct gnode, offsetof(struct gnode, left),
                         offsetof(struct gnode, right));
  if (!gnode_type) return 2;
#endif
  int ok = 1;

  printf("Garbage Collector Test\n");
  printf(" Stretching memory with a binary tree of depth %d\n",
         kStretchTreeDepth);
  {
    struct gnode *t = make_tree(kStretchTreeDepth);
    if (count_nodes(t) != tree_size(kStretchTreeDepth)) ok = 0;
    drop_tree(t);
  }

  printf(" Creating a long-lived binary tree of depth %d\n",
         kLongLivedTreeDepth);
  struct gnode *long_lived = new_gnode();
  populate(kLongLivedTreeDepth, long_lived);

  printf(" Creating a long-lived array of %d doubles\n", kArraySize);
  double *array = new_array(kArraySize);
  for (int i = 0; i < kArraySize / 2; i++) array[i] = 1.0 / i;
  for (int i = kArraySize / 2; i < kArraySize; i++) array[i] = 0.0;

  for (int d = kMinTreeDepth; d <= kMaxTreeDepth; d += 2)
    if (!time_construction(d)) ok = 0;

  if (count_nodes(long_lived) != tree_size(kLongLivedTreeDepth)) {
    fprintf(stderr, "gcbench: long-lived tree damaged\n");
    ok = 0;
  }
  if (array[1000] != 1.0 / 1000 || array[kArraySize / 2 - 1] !=
                                       1.0 / (kArraySize / 2 - 1)) {
    fprintf(stderr, "gcbench: long-lived array damaged\n");
    ok = 0;
  }
  if (!ok) {
    fprintf(stderr, "gcbench: FAILED (wrong tree size)\n");
    return 1;
  }
  printf(" Completed\n");
  drop_tree(long_lived);
#if defined(IMPL_MALLOC)
  free(array);
#endif

  double wall = (bench_now_ns() - t0) / 1e9;
  bench_result("gcbench", 1, wall, bench_cpu_s(), "");
  return 0;
}
