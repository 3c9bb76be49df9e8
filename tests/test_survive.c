/* test_survive: reachable objects survive collections with their contents
 * intact, whatever holds the reference, and objects referenced only from
 * places the collector must not scan do die.
 *
 * Between collections lots of garbage of the same sizes is allocated (and
 * written to), so memory freed by mistake is reused and shows up as a
 * checksum failure.
 *
 *  (a) conservative objects with the pointer at arbitrary word positions;
 *      a linked list of 100k nodes
 *  (b) typed objects (tree) and typed arrays
 *  (c) noscan data; a noscan object does NOT keep its referent alive, nor
 *      does a non-pointer field of a typed object
 *  (d) only interior pointers kept
 *  (e) roots in globals (.bss, .data, a global array)
 *  (f) roots in a malloc'd block registered with gogc_add_roots; after
 *      gogc_remove_roots the referent dies
 *  (g) roots on another thread's stack
 *  (h) x86-64: roots only in callee-saved registers of another thread
 *
 * Under GODEBUG=gcstress=N (N <= 100) or gcstressslow=1 (a cycle at
 * nearly every allocation, each marking everything built so far) the big
 * structures are a tenth to a fiftieth of their size and the garbage
 * between rounds a 256th (g_heavy); the structures and the checks are
 * the same.
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

static int g_heavy; /* tu_stress_heavy(), set first thing in main */

/* ------------------------------------------------------------------------ */
/* (a) conservative chain with pointers at arbitrary positions               */
/* ------------------------------------------------------------------------ */
#define CHAIN_N 3000

static size_t chain_words(uint64_t i) { return 2 + (size_t)(tu_mix(i * 3 + 1) % 63); }
static size_t chain_pos(uint64_t i) { return (size_t)(tu_mix(i * 5 + 2) % chain_words(i)); }
/* Odd values: data, not aligned pointers. */
static uint64_t chain_data(uint64_t i, size_t w) { return tu_mix((i << 8) ^ w ^ 0xc0ffee) | 1; }

__attribute__((noinline)) static void **build_chain(void) {
  void **next = NULL;
  for (uint64_t i = CHAIN_N; i-- > 0;) {
    size_t words = chain_words(i), pos = chain_pos(i);
    void **o = gogc_alloc(words * sizeof(void *));
    if (o == NULL)
      return NULL;
    for (size_t w = 0; w < words; w++)
      if (w != pos)
        ((uint64_t *)o)[w] = chain_data(i, w);
    gogc_store(&o[pos], next);
    next = o;
  }
  return next;
}

static size_t verify_chain(void **head) {
  size_t bad = 0;
  void **o = head;
  for (uint64_t i = 0; i < CHAIN_N; i++) {
    if (o == NULL)
      return bad + (CHAIN_N - i);
    size_t words = chain_words(i), pos = chain_pos(i);
    if (gogc_base(o) != o || gogc_size(o) < words * sizeof(void *)) {
      bad++;
      return bad + (CHAIN_N - i);
    }
    for (size_t w = 0; w < words; w++)
      if (w != pos && ((uint64_t *)o)[w] != chain_data(i, w))
        bad++;
    o = (void **)o[pos];
  }
  if (o != NULL)
    bad++;
  return bad;
}

/* A plain singly linked list of conservative nodes. */
struct lnode {
  struct lnode *next;
  uint64_t id;
  uint64_t check;
};

static uint64_t lcheck(uint64_t id) { return tu_mix(id ^ 0x11f7); }

__attribute__((noinline)) static struct lnode *build_list(uint64_t first_id, size_t n) {
  struct lnode *head = NULL;
  for (size_t i = n; i-- > 0;) {
    struct lnode *x = gogc_alloc(sizeof *x);
    if (x == NULL)
      return NULL;
    x->id = first_id + i;
    x->check = lcheck(x->id);
    gogc_store(&x->next, head);
    head = x;
  }
  return head;
}

static size_t verify_list(const struct lnode *x, uint64_t first_id, size_t n) {
  size_t bad = 0;
  for (size_t i = 0; i < n; i++) {
    if (x == NULL)
      return bad + (n - i);
    if (x->id != first_id + i || x->check != lcheck(first_id + i))
      bad++;
    if (gogc_base(x) != x)
      bad++;
    x = x->next;
  }
  return bad + (x != NULL);
}

/* ------------------------------------------------------------------------ */
/* (b) typed tree and typed arrays                                           */
/* ------------------------------------------------------------------------ */
struct tnode {
  uint64_t a;
  struct tnode *left;
  uint64_t b;
  struct tnode *right;
  unsigned char *data;
  uint64_t id;
};

static const gogc_type *g_tnode_type;

static size_t data_len(uint64_t id) { return 1 + (size_t)(id % 200); }

__attribute__((noinline)) static struct tnode *build_tree(int depth, uint64_t *next_id) {
  if (depth == 0)
    return NULL;
  struct tnode *t = gogc_alloc_typed(g_tnode_type);
  if (t == NULL)
    return NULL;
  uint64_t id = (*next_id)++;
  t->id = id;
  t->a = tu_mix(id);
  t->b = ~tu_mix(id);
  unsigned char *d = gogc_alloc_noscan(data_len(id));
  if (d == NULL)
    return NULL;
  tu_fill(d, data_len(id), id);
  gogc_store(&t->data, d);
  gogc_store(&t->left, build_tree(depth - 1, next_id));
  gogc_store(&t->right, build_tree(depth - 1, next_id));
  return t;
}

/* Returns the number of bad nodes; *count gets the number of nodes seen. */
static size_t verify_tree(const struct tnode *t, int depth, uint64_t *next_id, size_t *count) {
  if (depth == 0)
    return t != NULL;
  if (t == NULL)
    return 1;
  size_t bad = 0;
  uint64_t id = (*next_id)++;
  (*count)++;
  if (gogc_base(t) != t || t->id != id || t->a != tu_mix(id) || t->b != ~tu_mix(id))
    bad++;
  else if (t->data == NULL || gogc_size(t->data) < data_len(id) ||
           tu_verify(t->data, data_len(id), id) != 0)
    bad++;
  bad += verify_tree(t->left, depth - 1, next_id, count);
  bad += verify_tree(t->right, depth - 1, next_id, count);
  return bad;
}

#define TREE_DEPTH (g_heavy ? 9 : 13)
#define TREE_FIRST_ID 500000u

struct telem {
  uint64_t x;
  unsigned char *p;
  uint64_t y;
};
static const gogc_type *g_telem_type;

__attribute__((noinline)) static struct telem *build_tarray(size_t n, uint64_t seed) {
  struct telem *a = gogc_alloc_typed_array(g_telem_type, n);
  if (a == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++) {
    a[i].x = tu_mix(seed + i);
    a[i].y = ~tu_mix(seed + i);
    unsigned char *d = gogc_alloc_noscan(24);
    if (d == NULL)
      return NULL;
    tu_fill(d, 24, seed + i);
    gogc_store(&a[i].p, d);
  }
  return a;
}

static size_t verify_tarray(const struct telem *a, size_t n, uint64_t seed) {
  if (a == NULL || gogc_base(a) != a || gogc_size(a) < n * sizeof *a)
    return n;
  size_t bad = 0;
  for (size_t i = 0; i < n; i++) {
    if (a[i].x != tu_mix(seed + i) || a[i].y != ~tu_mix(seed + i) || a[i].p == NULL ||
        gogc_base(a[i].p) == NULL || tu_verify(a[i].p, 24, seed + i) != 0)
      bad++;
  }
  return bad;
}

/* ------------------------------------------------------------------------ */
/* (c) noscan data                                                           */
/* ------------------------------------------------------------------------ */
#define NOSCAN_N ((size_t)(g_heavy ? 500 : 5000))
static size_t noscan_len(size_t i) {
  if (i % 4 == 0)
    return 1 + i % 15; /* tiny */
  return 1 + (size_t)(tu_mix(i) % 3000);
}

__attribute__((noinline)) static unsigned char **build_noscan(void) {
  unsigned char **arr = gogc_alloc(NOSCAN_N * sizeof(void *));
  if (arr == NULL)
    return NULL;
  for (size_t i = 0; i < NOSCAN_N; i++) {
    unsigned char *d = gogc_alloc_noscan(noscan_len(i));
    if (d == NULL)
      return NULL;
    tu_fill(d, noscan_len(i), i * 7 + 3);
    gogc_store(&arr[i], d);
  }
  return arr;
}

static size_t verify_noscan(unsigned char **arr) {
  if (arr == NULL)
    return NOSCAN_N;
  size_t bad = 0;
  for (size_t i = 0; i < NOSCAN_N; i++) {
    unsigned char *d = arr[i];
    if (d == NULL || gogc_size(d) == 0 || tu_verify(d, noscan_len(i), i * 7 + 3) != 0)
      bad++;
  }
  return bad;
}

/* ------------------------------------------------------------------------ */
/* (d) interior pointers                                                     */
/* ------------------------------------------------------------------------ */
__attribute__((noinline)) static char *make_interior_small(void) {
  char *p = gogc_alloc(256);
  if (p == NULL)
    return NULL;
  tu_fill(p, 256, 4242);
  return p + 40;
}

#define BIG_INTERIOR_SIZE ((size_t)1 << 20)
#define BIG_INTERIOR_OFF ((size_t)500000)
__attribute__((noinline)) static char *make_interior_large(void) {
  char *p = gogc_alloc(BIG_INTERIOR_SIZE);
  if (p == NULL)
    return NULL;
  tu_fill(p, 4096, 4343);
  tu_fill(p + BIG_INTERIOR_SIZE - 4096, 4096, 4444);
  return p + BIG_INTERIOR_OFF;
}

/* A list whose links point 16 bytes into the next node. */
struct inode {
  uint64_t id;
  uint64_t check;
  char pad[16];
  void *next; /* points to &next_node->pad */
};
#define INODE_N 2000

__attribute__((noinline)) static void *build_ilist(void) {
  void *next = NULL;
  for (uint64_t i = INODE_N; i-- > 0;) {
    struct inode *x = gogc_alloc(sizeof *x);
    if (x == NULL)
      return NULL;
    x->id = 700000 + i;
    x->check = lcheck(x->id);
    gogc_store(&x->next, next);
    next = x->pad;
  }
  return next;
}

static size_t verify_ilist(void *p) {
  size_t bad = 0;
  for (uint64_t i = 0; i < INODE_N; i++) {
    if (p == NULL)
      return bad + (INODE_N - i);
    struct inode *x = (struct inode *)((char *)p - offsetof(struct inode, pad));
    if (gogc_base(p) != x || x->id != 700000 + i || x->check != lcheck(700000 + i))
      bad++;
    p = x->next;
  }
  return bad + (p != NULL);
}

/* ------------------------------------------------------------------------ */
/* (e) roots in globals                                                      */
/* ------------------------------------------------------------------------ */
static void *g_bss_root;                   /* .bss */
static void *g_data_root = &g_data_root;   /* .data (non-zero initialiser) */
void *g_root_array[64];                    /* .bss, external linkage */

#define GA_FIRST 2000000u
#define GA_LEN 50

__attribute__((noinline)) static void build_global_roots(void) {
  gogc_store(&g_bss_root, build_list(1000000, 1000));
  uint64_t id = 1500000;
  gogc_store(&g_data_root, build_tree(8, &id));
  for (size_t i = 0; i < 64; i++)
    gogc_store(&g_root_array[i], build_list(GA_FIRST + i * 100, GA_LEN));
}

static size_t verify_global_roots(void) {
  size_t bad = verify_list(g_bss_root, 1000000, 1000);
  uint64_t id = 1500000;
  size_t count = 0;
  bad += verify_tree(g_data_root, 8, &id, &count);
  for (size_t i = 0; i < 64; i++)
    bad += verify_list(g_root_array[i], GA_FIRST + i * 100, GA_LEN);
  return bad;
}

/* ------------------------------------------------------------------------ */
/* (f) roots in a malloc'd block                                             */
/* ------------------------------------------------------------------------ */
#define MR_N 64
#define MR_FIRST 3000000u
__attribute__((noinline)) static void fill_malloc_roots(void **blk) {
  for (size_t i = 0; i < MR_N - 1; i++)
    gogc_store(&blk[i], build_list(MR_FIRST + i * 100, 30));
}

static size_t verify_malloc_roots(void **blk) {
  size_t bad = 0;
  for (size_t i = 0; i < MR_N - 1; i++)
    bad += verify_list(blk[i], MR_FIRST + i * 100, 30);
  return bad;
}

/* ------------------------------------------------------------------------ */
/* (g) roots on another thread's stack                                       */
/* ------------------------------------------------------------------------ */
struct stack_ctl {
  int ready, go;
  size_t bad;
};

#define ST_FIRST 4000000u
#define ST_N (g_heavy ? 1000 : 20000)

static void *stack_thread(void *arg) {
  struct stack_ctl *c = arg;
  struct lnode *list = build_list(ST_FIRST, ST_N);
  uint64_t id = 4500000;
  struct tnode *tree = build_tree(10, &id);
  char *inner = make_interior_small();
  tu_clobber_stack();
  __atomic_store_n(&c->ready, 1, __ATOMIC_RELEASE);
  while (!__atomic_load_n(&c->go, __ATOMIC_ACQUIRE))
    tu_sleep_ms(1);
  size_t bad = verify_list(list, ST_FIRST, ST_N);
  id = 4500000;
  size_t count = 0;
  bad += verify_tree(tree, 10, &id, &count);
  if (inner == NULL || gogc_base(inner) != inner - 40 || tu_verify(inner - 40, 256, 4242) != 0)
    bad++;
  c->bad = bad;
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* (h) roots only in callee-saved registers (x86-64)                         */
/* ------------------------------------------------------------------------ */
/* (h) needs a thread stopped by a signal while it spins with no call at
 * all. ThreadSanitizer holds signals back until an intercepted call, so
 * under TSan such a thread cannot be stopped (docs/api.md): not there. */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#if defined(__x86_64__) && !defined(UNDER_TSAN)
#define REG_TEST 1
#else
#define REG_TEST 0
#endif
#if REG_TEST
#define REG_SMALL 256
#define REG_LARGE ((size_t)100000)
/* The objects are handed to the spinning thread through keep_small and
 * keep_large, real references in a static (a root). Only once the thread
 * holds them in r12/r13 does the main thread clear these with gogc_store, so
 * no collection ever sees the objects unreferenced: a cycle already past
 * this thread's stack scan is covered by the deletion barrier of that store,
 * the next cycle finds the registers. (An earlier version hid the pointers by
 * encoding them before the thread loaded them; a cycle running in that window
 * freed them, as it should, and the check failed under gcstress.) */
struct reg_ctl {
  int ready;
  int go;
  void *keep_small, *keep_large; /* cleared by main once loaded */
  void *out_small, *out_large;
};

__attribute__((noinline)) static void make_reg_objects(struct reg_ctl *c) {
  char *s = gogc_alloc(REG_SMALL);
  char *l = gogc_alloc(REG_LARGE);
  if (s)
    tu_fill(s, REG_SMALL, 5151);
  if (l) {
    tu_fill(l, 4096, 5252);
    tu_fill(l + REG_LARGE - 4096, 4096, 5353);
  }
  gogc_store(&c->keep_small, s);
  gogc_store(&c->keep_large, l);
}

/* Load both objects into r12/r13 and spin until told to go, without any
 * call or spill: once the main thread has cleared keep_small and keep_large,
 * the two objects are referenced only from these registers. The caller-saved registers are wiped too, so no stale
 * copy survives there. */
__attribute__((noinline)) static void reg_hold(struct reg_ctl *c) {
  /* Only one register (c) is needed besides the clobbered ones, so this
   * also assembles at -O0. */
  __asm__ volatile("mov %c[oks](%[c]), %%r12\n\t"
                   "mov %c[okl](%[c]), %%r13\n\t"
                   "xor %%eax, %%eax\n\t"
                   "xor %%ecx, %%ecx\n\t"
                   "xor %%edx, %%edx\n\t"
                   "xor %%esi, %%esi\n\t"
                   "xor %%r8d, %%r8d\n\t"
                   "xor %%r9d, %%r9d\n\t"
                   "xor %%r10d, %%r10d\n\t"
                   "xor %%r11d, %%r11d\n\t"
                   "movl $1, %c[ordy](%[c])\n\t"
                   "1:\n\t"
                   "pause\n\t"
                   "cmpl $0, %c[ogo](%[c])\n\t"
                   "je 1b\n\t"
                   "mov %%r12, %c[oos](%[c])\n\t"
                   "mov %%r13, %c[ool](%[c])\n\t"
                   :
                   : [c] "r"(c), [oks] "i"(offsetof(struct reg_ctl, keep_small)),
                     [okl] "i"(offsetof(struct reg_ctl, keep_large)),
                     [ordy] "i"(offsetof(struct reg_ctl, ready)),
                     [ogo] "i"(offsetof(struct reg_ctl, go)),
                     [oos] "i"(offsetof(struct reg_ctl, out_small)),
                     [ool] "i"(offsetof(struct reg_ctl, out_large))
                   : "rax", "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11", "r12", "r13",
                     "cc", "memory");
}

static void *reg_thread(void *arg) {
  struct reg_ctl *c = arg;
  make_reg_objects(c);
  tu_clobber_stack();
  reg_hold(c);
  return NULL;
}
#endif

/* ------------------------------------------------------------------------ */
/* negative checks                                                           */
/* ------------------------------------------------------------------------ */
static void test_not_kept_alive(void) {
  /* Control: a conservative holder keeps its referent. */
  void **cons = gogc_alloc(64);
  uintptr_t e_cons = tu_make_large(11);
  tu_stash(&cons[3], e_cons);
  /* A noscan holder does not. */
  void **ns = gogc_alloc_noscan(64);
  uintptr_t e_ns = tu_make_large(12);
  tu_stash(&ns[3], e_ns);
  /* A typed object keeps what its pointer fields reference... */
  struct tnode *t = gogc_alloc_typed(g_tnode_type);
  uintptr_t e_tp = tu_make_large(13);
  tu_stash(&t->right, e_tp);
  /* ...but not what its non-pointer fields hold. */
  uintptr_t e_ta = tu_make_large(14);
  tu_stash(&t->a, e_ta);
  uintptr_t e_tid = tu_make_large(15);
  tu_stash(&t->id, e_tid);
  CHECK(cons != NULL && ns != NULL && t != NULL);

  CHECKF(tu_dies(e_ns, 5), "object referenced only from a noscan object survived 3 cycles");
  CHECKF(tu_dies(e_ta, 5),
         "object referenced only from a non-pointer field of a typed object survived");
  CHECKF(tu_dies(e_tid, 5),
         "object referenced only from a non-pointer field of a typed object survived");
  CHECKF(tu_large_intact(e_cons, 11), "object referenced from a conservative object died");
  CHECKF(tu_large_intact(e_tp, 13), "object referenced from a typed pointer field died");
  CHECK(gogc_base(cons) == cons && gogc_base(ns) == ns && gogc_base(t) == t);

  /* A dead object's memory is reused: allocate until the address is handed
   * out again (only a sanity check that it was really freed). */
  tu_garbage(8u << 20, TU_LARGE_SIZE, TU_LARGE_SIZE, 1, 99);
}

/* Typed objects of two layouts in one size class. A span whose objects
 * all have one type keeps no heap bits, only the type; the first object of
 * another type gives it heap bits. Each object must still be scanned with
 * its own layout: A holds its pointer in word 0, B in word 2. */
struct lay_a {
  void *p;
  uintptr_t x, y, z;
};
struct lay_b {
  uintptr_t x, y;
  void *p;
  uintptr_t z;
};
static void *g_lay[16]; /* roots: the objects under test */

static void test_mixed_layouts(void) {
  const gogc_type *ta = GOGC_TYPE(struct lay_a, offsetof(struct lay_a, p));
  const gogc_type *tb = GOGC_TYPE(struct lay_b, offsetof(struct lay_b, p));
  CHECK(ta != NULL && tb != NULL);
  if (!ta || !tb)
    return;
  /* A run of A objects (a span of A alone), one of them under test, then B
   * objects among more A objects (the span gets heap bits). */
  struct lay_a *a0 = NULL;
  for (int i = 0; i < 40; i++) {
    struct lay_a *a = gogc_alloc_typed(ta);
    CHECK(a != NULL);
    if (i == 20)
      a0 = a;
  }
  gogc_store(&g_lay[0], a0);
  struct lay_b *b0 = NULL;
  struct lay_a *a1 = NULL;
  for (int i = 0; i < 8; i++) {
    struct lay_b *b = gogc_alloc_typed(tb);
    struct lay_a *a = gogc_alloc_typed(ta);
    CHECK(a != NULL && b != NULL);
    if (i == 3) {
      b0 = b;
      a1 = a;
    }
  }
  gogc_store(&g_lay[1], b0);
  gogc_store(&g_lay[2], a1);
  if (!a0 || !b0 || !a1)
    return;
  uintptr_t e_a0p = tu_make_large(21), e_a0x = tu_make_large(22);
  uintptr_t e_b0p = tu_make_large(23), e_b0x = tu_make_large(24);
  uintptr_t e_a1p = tu_make_large(25), e_a1y = tu_make_large(26);
  tu_stash(&a0->p, e_a0p);
  tu_stash(&a0->x, e_a0x);
  tu_stash(&b0->p, e_b0p);
  tu_stash(&b0->x, e_b0x); /* word 0: a pointer in A, not in B */
  tu_stash(&a1->p, e_a1p);
  tu_stash(&a1->y, e_a1y); /* word 2: a pointer in B, not in A */
  a0 = NULL;
  b0 = NULL;
  a1 = NULL;
  CHECKF(tu_dies(e_a0x, 5), "(mixed) non-pointer word 1 of an A object (uniform span) kept its referent");
  CHECKF(tu_dies(e_b0x, 5), "(mixed) non-pointer word 0 of a B object kept its referent");
  CHECKF(tu_dies(e_a1y, 5), "(mixed) non-pointer word 2 of an A object kept its referent");
  CHECKF(tu_large_intact(e_a0p, 21), "(mixed) object referenced from an A object's pointer died");
  CHECKF(tu_large_intact(e_b0p, 23), "(mixed) object referenced from a B object's pointer died");
  CHECKF(tu_large_intact(e_a1p, 25), "(mixed) object referenced from an A object's pointer died");
  for (int i = 0; i < 3; i++)
    gogc_store(&g_lay[i], NULL);
}

/* ------------------------------------------------------------------------ */

/* Garbage between rounds: under gcstress a 256th (each allocation's cycle
 * frees the one before, which the next of its size class reuses). */
#define GARBAGE(mib) (g_heavy ? ((size_t)(mib) << 20) / 256 : (size_t)(mib) << 20)

static void churn(int round) {
  tu_garbage(GARBAGE(24), 8, 512, 2, 1000 + (uint64_t)round);
  tu_garbage(GARBAGE(6), 256, 256, 0, 2000 + (uint64_t)round);  /* same class as (d), (h) */
  tu_garbage(GARBAGE(4), 24, 24, 0, 3000 + (uint64_t)round);    /* same class as lnode */
  tu_garbage(GARBAGE(4), 48, 48, 0, 3500 + (uint64_t)round);    /* tnode, inode */
  tu_garbage(GARBAGE(4), 100000, 100000, 0, 4000 + (uint64_t)round);
  tu_garbage(GARBAGE(8), (size_t)1 << 20, (size_t)1 << 20, 2, 5000 + (uint64_t)round);
  tu_clobber_stack();
}

int main(void) {
  g_heavy = tu_stress_heavy();
  const size_t list_n = g_heavy ? 2000 : 100000, tarr_n = g_heavy ? 500 : 5000;
  g_tnode_type = GOGC_TYPE(struct tnode, offsetof(struct tnode, left),
                           offsetof(struct tnode, right), offsetof(struct tnode, data));
  g_telem_type = GOGC_TYPE(struct telem, offsetof(struct telem, p));
  CHECK(g_tnode_type != NULL && g_telem_type != NULL);
  if (!g_tnode_type || !g_telem_type)
    return check_done();

  /* Threads first, so every later collection has to stop them. */
  pthread_t st;
  struct stack_ctl sc = {0, 0, 0};
  CHECK(pthread_create(&st, NULL, stack_thread, &sc) == 0);
#if REG_TEST
  pthread_t rt;
  static struct reg_ctl rc;
  CHECK(pthread_create(&rt, NULL, reg_thread, &rc) == 0);
#endif

  /* (a)-(d) held from this thread's stack. */
  void **chain = build_chain();
  struct lnode *list = build_list(1, list_n);
  uint64_t id = TREE_FIRST_ID;
  struct tnode *tree = build_tree(TREE_DEPTH, &id);
  struct telem *tarr = build_tarray(tarr_n, 9000);
  struct telem *tarr_small = build_tarray(10, 9900);
  unsigned char **noscan = build_noscan();
  char *inner = make_interior_small();
  char *inner_big = make_interior_large();
  void *ilist = build_ilist();
  /* (e) */
  build_global_roots();
  /* (f) */
  void **blk = calloc(MR_N, sizeof(void *));
  CHECK(blk != NULL);
  if (blk == NULL)
    return check_done();
  CHECK(gogc_add_roots(blk, blk + MR_N) == 0);
  fill_malloc_roots(blk);
  uintptr_t e_mr = tu_make_large(77);
  tu_stash(&blk[MR_N - 1], e_mr);

  while (!__atomic_load_n(&sc.ready, __ATOMIC_ACQUIRE))
    tu_sleep_ms(1);
#if REG_TEST
  while (!__atomic_load_n(&rc.ready, __ATOMIC_ACQUIRE))
    tu_sleep_ms(1);
  gogc_store(&rc.keep_small, NULL);
  gogc_store(&rc.keep_large, NULL);
#endif

  tu_clobber_stack();
  const int rounds = 5;
  for (int r = 0; r <= rounds; r++) {
    if (r > 0) {
      churn(r);
      gogc_collect();
    }
    size_t count = 0;
    id = TREE_FIRST_ID;
    CHECKF(verify_chain(chain) == 0, "round %d: (a) conservative chain: %zu bad", r,
           verify_chain(chain));
    CHECKF(verify_list(list, 1, list_n) == 0, "round %d: (a) %zu-node list: %zu bad", r, list_n,
           verify_list(list, 1, list_n));
    size_t tb = verify_tree(tree, TREE_DEPTH, &id, &count);
    CHECKF(tb == 0 && count == (1u << TREE_DEPTH) - 1, "round %d: (b) typed tree: %zu bad, %zu nodes", r,
           tb, count);
    CHECKF(verify_tarray(tarr, tarr_n, 9000) == 0, "round %d: (b) typed array: %zu bad", r,
           verify_tarray(tarr, tarr_n, 9000));
    CHECKF(verify_tarray(tarr_small, 10, 9900) == 0, "round %d: (b) small typed array: %zu bad",
           r, verify_tarray(tarr_small, 10, 9900));
    CHECKF(verify_noscan(noscan) == 0, "round %d: (c) noscan: %zu bad", r, verify_noscan(noscan));
    CHECKF(inner != NULL && gogc_base(inner) == inner - 40 &&
               tu_verify(inner - 40, 256, 4242) == 0,
           "round %d: (d) object held by an interior pointer lost", r);
    CHECKF(inner_big != NULL && gogc_base(inner_big) == inner_big - BIG_INTERIOR_OFF &&
               tu_verify(inner_big - BIG_INTERIOR_OFF, 4096, 4343) == 0 &&
               tu_verify(inner_big - BIG_INTERIOR_OFF + BIG_INTERIOR_SIZE - 4096, 4096, 4444) == 0,
           "round %d: (d) large object held by an interior pointer lost", r);
    CHECKF(verify_ilist(ilist) == 0, "round %d: (d) interior-linked list: %zu bad", r,
           verify_ilist(ilist));
    CHECKF(verify_global_roots() == 0, "round %d: (e) global roots: %zu bad", r,
           verify_global_roots());
    CHECKF(verify_malloc_roots(blk) == 0, "round %d: (f) gogc_add_roots block: %zu bad", r,
           verify_malloc_roots(blk));
    CHECKF(tu_large_intact(e_mr, 77), "round %d: (f) large object in gogc_add_roots block lost",
           r);
  }

  /* (g) and (h): release the threads and let them check. */
  __atomic_store_n(&sc.go, 1, __ATOMIC_RELEASE);
  pthread_join(st, NULL);
  CHECKF(sc.bad == 0, "(g) objects held on another thread's stack: %zu bad", sc.bad);
#if REG_TEST
  __atomic_store_n(&rc.go, 1, __ATOMIC_RELEASE);
  pthread_join(rt, NULL);
  char *s = rc.out_small, *l = rc.out_large;
  CHECKF(s != NULL && gogc_base(s) == s && gogc_size(s) >= REG_SMALL &&
             tu_verify(s, REG_SMALL, 5151) == 0,
         "(h) small object held only in r12 of another thread was lost or corrupted");
  CHECKF(l != NULL && gogc_base(l) == l && gogc_size(l) >= REG_LARGE &&
             tu_verify(l, 4096, 5252) == 0 && tu_verify(l + REG_LARGE - 4096, 4096, 5353) == 0,
         "(h) large object held only in r13 of another thread was lost or corrupted");
#endif

  /* (f) after gogc_remove_roots the block is no longer a root. */
  CHECK(gogc_remove_roots(blk, blk + MR_N) == 0);
  CHECKF(tu_dies(e_mr, 5), "(f) object referenced only from a removed root range survived");
  free(blk);

  /* (c) negative checks. */
  test_not_kept_alive();
  test_mixed_layouts();

  gogc_memstats ms;
  gogc_read_memstats(&ms);
  printf("num_gc %u, total_alloc %.0f MiB\n", ms.num_gc, (double)ms.total_alloc / (1 << 20));
  return check_done();
}
