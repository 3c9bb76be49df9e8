/* gogc: size classes.
 *
 * The 67 object sizes and span lengths are Go's (internal/runtime/gc;
 * five span lengths differ, see gogc_class_npages), so
 * tail waste per span is at most 12.5% and worst-case internal waste is
 * bounded as in Go's table. Unlike Go we keep no malloc header, so the
 * largest small object is the full 32768 bytes.
 *
 * Lookup tables are derived at start-up from the two columns below:
 *   size <= 1024: gogc_size_to_class8[(size + 7) >> 3]
 *   size >  1024: gogc_size_to_class128[(size - 1024 + 127) >> 7]
 * and each class gets divmagic = 2^32 / size + 1, so that for every offset
 * within a span, (offset * divmagic) >> 32 == offset / size (checked for
 * every class and offset by tests/unit_sizeclass.c).
 */
#include "internal.h"

uint32_t gogc_class_size[NUM_SIZE_CLASSES] = {
    0,     8,     16,    24,    32,    48,    64,    80,    96,    112,
    128,   144,   160,   176,   192,   208,   224,   240,   256,   288,
    320,   352,   384,   416,   448,   480,   512,   576,   640,   704,
    768,   896,   1024,  1152,  1280,  1408,  1536,  1792,  2048,  2304,
    2688,  3072,  3200,  3456,  4096,  4864,  5376,  6144,  6528,  6784,
    6912,  8192,  9472,  9728,  10240, 10880, 12288, 13568, 14336, 16384,
    18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768};

/* Go's span lengths, except for 16 and 64 bytes (4 pages; Go: 1) and 24,
 * 32 and 48 bytes (2 pages; Go: 1). A thread takes a new span from its
 * class's mcentral, under the class lock, each time its cached one fills;
 * at 16 bytes that was every 512 objects, and with 2 threads allocating
 * 16-byte nodes the lock was contended at every refill (binary-trees, 2
 * threads: the lock and the refill 7% of all CPU). With fewer refills,
 * binary-trees (medians of 4 alternating pairs) takes 7% less time with 2
 * threads and 10% less with 1, and its peak RSS is 5-11% lower; 4 pages
 * for 16 bytes were 6% faster than 2 with 2 threads. The latency workload
 * (64-byte nodes, 2 threads), alternating runs: 2 pages for 48 and 64
 * bytes, 12% less time (3 pairs), 26% less under a 1.5 GiB memory limit
 * (2 pairs, 49 cycles instead of 52); 4 pages for 64 bytes, 6-8% less
 * again, 12% under the limit (GC CPU 44% -> 41-44%); peak RSS alike, the
 * drop to 10% of the live set as fast. The price of long spans: a thread
 * caches a span per class it allocates from, so a program with many
 * threads each allocating a few such objects holds up to 32 KiB a class
 * and thread. Assists on spans of several pages come at each cache word
 * while the refill's debt is unpaid (alloc.c, alloc_small_slow), so they
 * stay as short as on one page. */
uint8_t gogc_class_npages[NUM_SIZE_CLASSES] = {
    0, 1, 4, 2, 2, 2, 4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 2, 1, 2, 1, 3, 2, 3, 1, 3,
    2, 3, 4, 5, 6, 1, 7, 6, 5, 4, 3, 5, 7, 2, 9, 7, 5, 8, 3, 10, 7, 4};

uint32_t gogc_class_divmagic[NUM_SIZE_CLASSES];
uint8_t gogc_size_to_class8[1024 / 8 + 1];
uint8_t gogc_size_to_class128[(MAX_SMALL_SIZE - 1024) / 128 + 1];

void gogc_sizeclass_init(void) {
  for (int c = 1; c < NUM_SIZE_CLASSES; c++)
    gogc_class_divmagic[c] = (uint32_t)(UINT32_MAX / gogc_class_size[c] + 1);
  /* Smallest class whose size is >= the rounded-up request. */
  int c = 1;
  for (size_t i = 0; i <= 1024 / 8; i++) {
    size_t size = i * 8;
    while (gogc_class_size[c] < size) c++;
    gogc_size_to_class8[i] = (uint8_t)(size == 0 ? 1 : c);
  }
  c = 1;
  for (size_t i = 0; i <= (MAX_SMALL_SIZE - 1024) / 128; i++) {
    size_t size = 1024 + i * 128;
    while (gogc_class_size[c] < size) c++;
    gogc_size_to_class128[i] = (uint8_t)c;
  }
}
