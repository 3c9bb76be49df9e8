/* pool: when an object pool pays off, and when it only costs.
 *
 * One pool per kind of object, kept in a global. The idiom for a type:
 *
 *     static gogc_pool *buf_pool;            // holds struct buf only
 *     static void *new_buf(void *arg) { return gogc_alloc(sizeof(struct buf)); }
 *     ...
 *     buf_pool = gogc_pool_new(new_buf, NULL);
 *     struct buf *b = gogc_pool_get(buf_pool); // any old one, or a new one
 *     buf_reset(b);                           // contents are whatever was left
 *     ...use b...
 *     gogc_pool_put(buf_pool, b);             // b must not be used after this
 *
 * Case 1 (helps): a request loop that needs a 4 KiB scratch buffer per
 * request, short-lived and allocated at a high rate. From a pool, the same
 * few buffers go round; fresh, every request allocates and the collector
 * runs again and again.
 *
 * Case 2 (only costs): objects that live long (here, kept in a table for
 * many requests) and are replaced rarely. Few of them ever come back, so
 * the pool rarely has one to give; each get that misses pays for the pool
 * lookup on top of the allocation, and what is put may sit in the pool
 * until two collections drop it.
 *
 * Run: ./build/examples/pool   (timings vary; the comparison is the point)
 */
#include <gogc.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SCRATCH 4096
#define REQUESTS 200000

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint32_t collections(void) {
  static gogc_memstats ms;
  gogc_read_memstats(&ms);
  return ms.num_gc;
}

static void *new_scratch(void *arg) {
  (void)arg;
  return gogc_alloc_noscan(SCRATCH);
}

/* A request: format a line into the scratch buffer and hash it. */
static uint64_t handle(char *scratch, int i) {
  int n = snprintf(scratch, SCRATCH, "request %d: user=%d item=%d", i, i % 97, i % 1009);
  uint64_t h = 1469598103934665603ull;
  for (int k = 0; k < n; k++) h = (h ^ (unsigned char)scratch[k]) * 1099511628211ull;
  return h;
}

static gogc_pool *scratch_pool;
static gogc_pool *record_pool;

struct record {
  uint64_t key, value;
  char name[48];
};

static void *new_record(void *arg) {
  (void)arg;
  return gogc_alloc(sizeof(struct record));
}

#define TABLE 4096
static struct record **table; /* long-lived records */

int main(void) {
  /* Globals holding collected objects are stored through the barrier. */
  gogc_store(&scratch_pool, gogc_pool_new(new_scratch, NULL));
  gogc_store(&record_pool, gogc_pool_new(new_record, NULL));
  uint64_t sum = 0;

  /* Case 1: a scratch buffer per request. */
  uint32_t g0 = collections();
  uint64_t t0 = now_ns();
  for (int i = 0; i < REQUESTS; i++) {
    char *s = gogc_pool_get(scratch_pool);
    sum += handle(s, i);
    gogc_pool_put(scratch_pool, s);
  }
  uint64_t pooled = now_ns() - t0;
  uint32_t g1 = collections();
  t0 = now_ns();
  for (int i = 0; i < REQUESTS; i++) {
    char *s = gogc_alloc_noscan(SCRATCH);
    sum += handle(s, i);
  }
  uint64_t fresh = now_ns() - t0;
  uint32_t g2 = collections();
  printf("case 1, scratch buffer per request: pool %.0f ns/request (%u collections), "
         "fresh %.0f ns/request (%u collections)\n",
         (double)pooled / REQUESTS, g1 - g0, (double)fresh / REQUESTS, g2 - g1);

  /* Case 2: long-lived records, one in 64 requests replaces one. */
  gogc_store(&table, gogc_alloc(TABLE * sizeof *table));
  for (int i = 0; i < TABLE; i++) gogc_store(&table[i], gogc_pool_get(record_pool));
  t0 = now_ns();
  for (int i = 0; i < REQUESTS; i++) {
    struct record *r = gogc_pool_get(record_pool); /* almost always a miss */
    r->key = (uint64_t)i;
    r->value = sum;
    struct record *old = table[i % TABLE];
    gogc_store(&table[i % TABLE], r);
    if (i % 64 == 0) gogc_pool_put(record_pool, old); /* rarely given back */
  }
  pooled = now_ns() - t0;
  t0 = now_ns();
  for (int i = 0; i < REQUESTS; i++) {
    struct record *r = gogc_alloc(sizeof *r);
    r->key = (uint64_t)i;
    r->value = sum;
    gogc_store(&table[i % TABLE], r);
  }
  fresh = now_ns() - t0;
  printf("case 2, long-lived records: pool %.0f ns/record, plain allocation %.0f ns/record\n",
         (double)pooled / REQUESTS, (double)fresh / REQUESTS);
  return sum == 42; /* keep sum alive; never true */
}
