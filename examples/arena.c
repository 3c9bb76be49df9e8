/* arena: the objects of one request from an arena, freed in one call.
 *
 * Each request parses a line of "key=value" pairs into a list of nodes
 * allocated from an arena, looks something up, keeps one value beyond the
 * request with gogc_arena_clone, and frees the arena. Any use of the
 * request's nodes after the free would fault with a clear report (not
 * done here: run with ARENA_DEMO_FAULT=1 to see it).
 *
 * Run: ./build/examples/arena
 */
#include <gogc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pair {
  struct pair *next;
  char *key, *value; /* pointer-free strings, also in the arena */
};

static char *arena_strndup(gogc_arena *a, const char *s, size_t n) {
  char *d = gogc_arena_alloc_noscan(a, n + 1);
  memcpy(d, s, n);
  return d;
}

/* Parse "k1=v1;k2=v2;..." into a list in the arena. */
static struct pair *parse(gogc_arena *a, const char *line) {
  struct pair *head = NULL;
  while (*line) {
    const char *eq = strchr(line, '='), *end = strchr(line, ';');
    if (eq == NULL) break;
    if (end == NULL) end = line + strlen(line);
    struct pair *p = gogc_arena_alloc(a, sizeof *p);
    gogc_store(&p->key, arena_strndup(a, line, (size_t)(eq - line)));
    gogc_store(&p->value, arena_strndup(a, eq + 1, (size_t)(end - eq - 1)));
    gogc_store(&p->next, head);
    head = p;
    line = *end ? end + 1 : end;
  }
  return head;
}

static char **kept; /* values kept beyond their request: heap copies */

int main(void) {
  gogc_store(&kept, gogc_alloc(1000 * sizeof *kept)); /* a global: through the barrier */
  char line[256];
  struct pair *last = NULL;
  for (int r = 0; r < 1000; r++) {
    snprintf(line, sizeof line, "user=u%d;item=%d;qty=%d;note=request number %d", r % 17, r * 7, r % 5,
             r);
    gogc_arena *a = gogc_arena_new();
    struct pair *pairs = parse(a, line);
    for (struct pair *p = pairs; p != NULL; p = p->next)
      if (strcmp(p->key, "user") == 0) /* outlives the request: copy it out */
        gogc_store(&kept[r], gogc_arena_clone(p->value, strlen(p->value) + 1));
    last = pairs;
    gogc_arena_free(a);
  }
  gogc_memstats ms;
  gogc_read_memstats(&ms);
  printf("1000 requests: last user %s; arenas live %llu, chunks quarantined %llu, ready %llu\n",
         kept[999], (unsigned long long)ms.arenas_live,
         (unsigned long long)ms.arena_chunks_quarantined, (unsigned long long)ms.arena_chunks_ready);
  if (getenv("ARENA_DEMO_FAULT")) printf("%s\n", last->key); /* faults: freed arena */
  return strcmp(kept[999], "u13") == 0 ? 0 : 1;
}
