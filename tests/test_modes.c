/* test_modes: the same program under the three collector modes
 * (concurrent, GODEBUG=gcstoptheworld=1, =2) keeps the same objects.
 *
 * A deterministic single-threaded workload (typed trees, conservative
 * lists, noscan payloads, a large pointer array, garbage between them,
 * graphs rebuilt and dropped while cycles run at GOGC=25) runs in a child
 * process per mode; each child walks what is reachable at the end and
 * prints the number of objects and a checksum of their contents, plus
 * the heap's object count after a final collection. The graphs must be
 * identical; the heap counts may differ only by conservative noise (a
 * stale word on a stack keeps one object or a small chain). */
#include <gogc.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "testutil.h"

struct tnode {
  struct tnode *left, *right;
  uint64_t id;
  unsigned char *payload; /* noscan, 24 bytes derived from id */
};

struct lnode {
  struct lnode *next;
  uint64_t id;
};

#define NROOTS 64
static void *g_roots[NROOTS]; /* globals: stored with gogc_store */
static void **g_big;          /* large conservative array */
static const gogc_type *g_tnode_type;
static uint64_t g_rng = 12345;
static void *volatile tu_sink; /* garbage goes through here, then is overwritten */

static uint64_t next_rand(void) { return tu_rand(&g_rng); }

static unsigned char *payload(uint64_t id) {
  unsigned char *p = gogc_alloc_noscan(24);
  for (int i = 0; i < 24; i++) p[i] = (unsigned char)(tu_mix(id) >> (i % 8 * 8));
  return p;
}

static struct tnode *tree(int depth, uint64_t *id) {
  if (depth == 0) return NULL;
  struct tnode *n = gogc_alloc_typed(g_tnode_type);
  n->id = (*id)++;
  gogc_store(&n->payload, payload(n->id));
  gogc_store(&n->left, tree(depth - 1, id));
  gogc_store(&n->right, tree(depth - 1, id));
  return n;
}

static struct lnode *list(int len, uint64_t *id) {
  struct lnode *head = NULL;
  for (int i = 0; i < len; i++) {
    struct lnode *x = gogc_alloc(sizeof *x);
    x->id = (*id)++;
    gogc_store(&x->next, head);
    head = x;
  }
  return head;
}

struct digest {
  uint64_t objects, sum;
};

static void walk_tree(const struct tnode *n, struct digest *d) {
  for (; n; n = n->right) {
    d->objects += 2;
    d->sum = tu_mix(d->sum ^ n->id);
    for (int i = 0; i < 24; i++) d->sum += n->payload[i];
    walk_tree(n->left, d);
  }
}

static void walk(struct digest *d) {
  for (int i = 0; i < NROOTS; i++) {
    if (g_roots[i] == NULL) continue;
    if (i % 2 == 0) {
      walk_tree(g_roots[i], d);
    } else {
      for (const struct lnode *x = g_roots[i]; x; x = x->next) {
        d->objects++;
        d->sum = tu_mix(d->sum ^ x->id);
      }
    }
  }
  for (int i = 0; i < 4096; i++) {
    const struct lnode *x = g_big[i];
    if (x) {
      d->objects++;
      d->sum = tu_mix(d->sum ^ x->id ^ (uint64_t)i);
    }
  }
}

TU_NOINLINE void workload(void) {
  uint64_t id = 1;
  gogc_store(&g_big, gogc_alloc(4096 * sizeof(void *)));
  for (int round = 0; round < 400; round++) {
    int slot = (int)(next_rand() % NROOTS);
    if (slot % 2 == 0) gogc_store(&g_roots[slot], tree(1 + (int)(next_rand() % 9), &id));
    else gogc_store(&g_roots[slot], list(1 + (int)(next_rand() % 200), &id));
    int b = (int)(next_rand() % 4096);
    gogc_store(&g_big[b], list(1, &id));
    for (int g = 0; g < 50; g++) gogc_store((void *)&tu_sink, gogc_alloc(16 + next_rand() % 2000)); /* garbage */
    if (round % 97 == 0) gogc_store((void *)&tu_sink, tree(6, &id)); /* a dropped graph */
  }
}

static int child(void) {
  g_tnode_type = GOGC_TYPE(struct tnode, offsetof(struct tnode, left),
                           offsetof(struct tnode, right), offsetof(struct tnode, payload));
  gogc_set_percent(25);
  workload();
  tu_clobber_stack();
  gogc_collect();
  gogc_collect();
  struct digest d = {0, 0};
  walk(&d);
  gogc_memstats ms;
  gogc_read_memstats(&ms);
  printf("graph objects=%llu sum=%llx\nheap objects=%llu gcs=%u\n",
         (unsigned long long)d.objects, (unsigned long long)d.sum,
         (unsigned long long)ms.heap_objects, ms.num_gc);
  return 0;
}

static int parse(const char *out, unsigned long long *objs, unsigned long long *sum,
                 unsigned long long *heap) {
  unsigned gcs;
  return out && sscanf(out, "graph objects=%llu sum=%llx\nheap objects=%llu gcs=%u", objs, sum,
                       heap, &gcs) == 4;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "child") == 0) return child();
  static const char *const modes[3][2] = {
      {"GODEBUG=gcverify=1,gccheckmark=1", NULL},
      {"GODEBUG=gcverify=1,gcstoptheworld=1", NULL},
      {"GODEBUG=gcverify=1,gcstoptheworld=2", NULL},
  };
  unsigned long long objs[3], sum[3], heap[3];
  for (int m = 0; m < 3; m++) {
    char *out = NULL, *err = NULL;
    int st = tu_run_child("child", modes[m], &out, &err);
    int ok = st == 0 && parse(out, &objs[m], &sum[m], &heap[m]);
    CHECKF(ok, "%s: status %d, stdout %s, stderr %s", modes[m][0], st, out ? out : "",
           err ? err : "");
    if (!ok) return check_done();
    printf("%-40s %s", modes[m][0], out);
    free(out);
    free(err);
  }
  for (int m = 1; m < 3; m++) {
    CHECKF(objs[m] == objs[0] && sum[m] == sum[0], "%s: graph differs (%llu objects, %llx)",
           modes[m][0], objs[m], sum[m]);
    unsigned long long lo = heap[0] < heap[m] ? heap[0] : heap[m];
    unsigned long long hi = heap[0] < heap[m] ? heap[m] : heap[0];
    CHECKF(hi - lo <= lo / 100 + 16, "%s: %llu heap objects against %llu concurrent",
           modes[m][0], heap[m], heap[0]);
  }
  return check_done();
}
