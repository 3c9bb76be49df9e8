/* Tiny test harness for the gogc black-box tests.
 *
 *   CHECK(cond)              count a pass, or print file:line and the
 *                            expression and count a failure
 *   CHECKF(cond, fmt, ...)   the same, with a printf-style explanation
 *   check_done()             print "N passed, M failed", return the exit code
 *
 * The counters are atomic so CHECK may be used from any thread.
 */
#ifndef GOGC_TESTS_CHECK_H
#define GOGC_TESTS_CHECK_H

#include <stdio.h>

static unsigned long check_passed_count;
static unsigned long check_failed_count;

#define CHECK_PASS_() __atomic_fetch_add(&check_passed_count, 1, __ATOMIC_RELAXED)
#define CHECK_FAIL_() __atomic_fetch_add(&check_failed_count, 1, __ATOMIC_RELAXED)

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (cond) {                                                                \
      CHECK_PASS_();                                                           \
    } else {                                                                   \
      CHECK_FAIL_();                                                           \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      fflush(stderr);                                                          \
    }                                                                          \
  } while (0)

#define CHECKF(cond, ...)                                                      \
  do {                                                                         \
    if (cond) {                                                                \
      CHECK_PASS_();                                                           \
    } else {                                                                   \
      CHECK_FAIL_();                                                           \
      fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                            \
      fputc('\n', stderr);                                                     \
      fflush(stderr);                                                          \
    }                                                                          \
  } while (0)

static inline int check_done(void) {
  unsigned long passed = __atomic_load_n(&check_passed_count, __ATOMIC_RELAXED);
  unsigned long failed = __atomic_load_n(&check_failed_count, __ATOMIC_RELAXED);
  fflush(stderr);
  printf("%lu passed, %lu failed\n", passed, failed);
  fflush(stdout);
  return failed == 0 && passed > 0 ? 0 : 1;
}

#endif /* GOGC_TESTS_CHECK_H */
