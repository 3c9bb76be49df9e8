/* finalizers: releasing outside resources, and a cache that does not keep
 * its entries alive.
 *
 *  1. A "file" object wraps a descriptor from open(). Its cleanup closes
 *     the descriptor once the object is unreachable; the program never
 *     calls close itself. The cleanup's argument is a separate small block
 *     holding the descriptor, not the object (an argument that referenced
 *     the object would keep it alive for ever).
 *  2. A cache maps keys to values through weak pointers: an entry resolves
 *     while something else holds the value, and to NULL afterwards, so the
 *     cache never keeps memory alive and never hands out a freed value.
 *
 * Run: ./build/examples/finalizers
 */
#include <gogc.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- 1. a descriptor owned by a collected object ------------------------- */

struct file {
  int *fd; /* the descriptor, in a block the cleanup also gets */
  char name[48];
};

static int closed;

static void close_fd(void *arg) {
  int *fd = arg;
  close(*fd);
  closed++;
}

static struct file *file_open(const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return NULL;
  struct file *f = gogc_alloc(sizeof *f);
  int *box = gogc_alloc_noscan(sizeof *box);
  *box = fd;
  gogc_store(&f->fd, box);
  snprintf(f->name, sizeof f->name, "%s", path);
  gogc_add_cleanup(f, close_fd, box);
  return f;
}

static int first_byte(struct file *f) {
  unsigned char c = 0;
  ssize_t n = pread(*f->fd, &c, 1, 0);
  gogc_keep_alive(f); /* f must not be collected while its fd is in use */
  return n == 1 ? c : -1;
}

/* --- 2. a weak cache ----------------------------------------------------- */

#define SLOTS 64
struct value {
  int key;
  char text[40];
};
static gogc_weak **cache; /* collected table of weak pointers */

static struct value *lookup(int key) {
  struct value *v = gogc_weak_get(cache[key % SLOTS]);
  if (v != NULL && v->key == key) return v; /* a hit: the value is alive */
  v = gogc_alloc_noscan(sizeof *v);
  v->key = key;
  snprintf(v->text, sizeof v->text, "value for key %d", key);
  gogc_store(&cache[key % SLOTS], gogc_weak_make(v));
  return v;
}

int main(void) {
  /* 1. Open files, use them, drop them: the cleanups close them. */
  int opened = 0;
  for (int i = 0; i < 100; i++) {
    struct file *f = file_open("/proc/self/stat");
    if (f == NULL) continue;
    opened++;
    if (first_byte(f) < 0) printf("read failed\n");
  }
  for (int i = 0; i < 5 && closed < opened; i++) {
    gogc_collect();
    gogc_wait_finalizers();
  }
  printf("files: %d opened, %d closed by cleanups\n", opened, closed);

  /* 2. Values held by the program hit in the cache; dropped ones do not. */
  gogc_store(&cache, gogc_alloc(SLOTS * sizeof *cache)); /* a global: through the barrier */
  struct value *held = lookup(7);
  for (int k = 100; k < 100 + SLOTS; k++)
    if (k % SLOTS != 7) lookup(k); /* not held */
  gogc_collect();
  int resolve = 0;
  for (int k = 100; k < 100 + SLOTS; k++)
    if (k % SLOTS != 7) resolve += gogc_weak_get(cache[k % SLOTS]) != NULL;
  gogc_memstats ms;
  gogc_read_memstats(&ms);
  printf("cache: held key 7 %s; %d of %d dropped values still resolve "
         "(a stale stack word can keep one); weak pointers live: %llu\n",
         lookup(7) == held ? "hits" : "MISSES", resolve, SLOTS - 1,
         (unsigned long long)ms.weak_live);
  gogc_keep_alive(held);
  return closed >= opened * 9 / 10 ? 0 : 1;
}
