#!/usr/bin/env python3
"""Write the seed corpus of tests/fuzz_api.c into tests/fuzz/corpus.

An input is a list of 6-byte operations: the opcode (its index in
k_op_name of fuzz_api.c, read from the source so the two cannot drift
apart) and 5 argument bytes. The seeds are hand-written scenarios, one or
more per operation, plus random programs from a fixed generator, so the
output is the same on every run. Files are named seed-*; inputs that
libFuzzer adds (scripts/fuzz.sh --merge) keep their hash names and are left
alone, except that --clean removes them too.

Usage: tests/fuzz/make_corpus.py [--clean] [OUTDIR]
"""
import os
import random
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "fuzz_api.c")


def op_names():
    text = open(SRC).read()
    m = re.search(r"k_op_name\[NOPS\]\s*=\s*\{(.*?)\};", text, re.S)
    if not m:
        sys.exit("make_corpus.py: k_op_name not found in fuzz_api.c")
    return re.findall(r'"([a-z_]+)"', m.group(1))


OPS = op_names()
CODE = {name: i for i, name in enumerate(OPS)}


def op(name, *args):
    a = [x % 256 for x in args] + [0] * (5 - len(args))
    assert len(a) == 5, (name, args)
    return bytes([CODE[name]] + a)


# Indices into the size tables of fuzz_api.c (k_sizes, k_counts,
# k_arena_sizes), by what they hold.
SZ = {0: 0, 1: 1, 7: 2, 8: 3, 12: 4, 16: 5, 24: 6, 31: 7, 32: 8, 48: 9, 64: 10,
      100: 11, 128: 12, 256: 13, 513: 14, 1024: 15, 2000: 16, 4096: 17, 8000: 18,
      16384: 19, 32767: 20, 32768: 21, 32769: 22, 40000: 23, 65536: 24,
      131072: 25, 262145: 26, 1048576: 27}
COUNT = {1: 0, 2: 3, 3: 4, 5: 5, 16: 6, 64: 7, 255: 8, 256: 9, 257: 10, 300: 11,
         1000: 12, 2048: 13}
ASZ = {0: 0, 8: 1, 16: 2, 24: 3, 40: 4, 64: 5, 100: 6, 256: 7, 1000: 8,
       4096: 9, 30000: 10, 262144: 11, 300000: 12}


def scenarios():
    s = {}
    # Every kind and size of heap object, checked, collected, checked.
    p = []
    for i, size in enumerate(SZ):
        p.append(op("alloc", i, SZ[size]))
    for i, size in enumerate([0, 8, 100, 4096, 40000]):
        p.append(op("alloc_noscan", 30 + i, SZ[size]))
    for i, c in enumerate(COUNT):
        p.append(op("alloc_typed", 40 + i, COUNT[c], i & 1))
    p.append(op("calloc", 60, 9, 15))
    p += [op("verify", 1), op("collect"), op("verify", 1)]
    s["alloc_all_sizes"] = p

    # A list through field 0 held only by its head; interior references.
    p = [op("alloc", 0, SZ[64])]
    for i in range(1, 12):
        p += [op("alloc", i, SZ[[32, 128, 4096, 48][i % 4]]),
              op("copy_slot", 63, 0), op("link", 0, 0, 0, 0)]
    p += [op("collect")] + [op("drop_slot", i) for i in range(1, 12)]
    p += [op("collect"), op("link", 1, 1, 2, 200), op("unlink", 2, 0),
          op("collect"), op("verify", 1)]
    s["list_and_drop"] = p

    # Typed objects linking each other and conservative ones.
    p = [op("alloc_typed", i, COUNT[1]) for i in range(6)]
    p += [op("alloc", 6 + i, SZ[256]) for i in range(4)]
    for i in range(12):
        p.append(op("link", i * 3, i, i * 5 + 1, i * 40 + 3))
    p += [op("drop_slot", i) for i in range(0, 10, 2)]
    p += [op("collect"), op("unlink", 1, 2), op("unlink", 3, 1), op("collect")]
    s["typed_graph"] = p

    # Atomic swap, compare-and-swap (succeeding and failing), store.
    p = [op("alloc", i, SZ[64]) for i in range(4)] + [op("alloc_typed", 4, COUNT[1])]
    for i in range(10):
        p += [op("atomic_swap", i, i, i + 1, 7 * i),
              op("atomic_cas", i + 1, i, i + 2, 0, 1),
              op("atomic_cas", i + 2, i, i + 3, 0, 2 * i),
              op("atomic_store", i + 3, i + 1, i, 99)]
    p += [op("collect"), op("verify", 1)]
    s["atomics"] = p

    # memmove of fields (overlapping too), memclr, whole-object copies.
    p = [op("alloc", i, SZ[128]) for i in range(6)]
    p += [op("alloc_typed", 6 + i, COUNT[16]) for i in range(3)]
    p += [op("alloc", 10 + i, SZ[40000]) for i in range(2)]
    for i in range(8):
        p.append(op("link", i, i, i + 2, 5))
    p += [op("memmove_fields", 0, 0, 0, 1, 3), op("memmove_fields", 1, 1, 3, 0, 2),
          op("memmove_fields", 6, 0, 7, 2, 1), op("memclr_fields", 2, 1, 2),
          op("memmove_whole", 0, 1), op("memmove_whole", 6, 2), op("memmove_whole", 9, 0),
          op("collect"), op("memclr_fields", 5, 0, 3), op("collect"), op("verify", 1)]
    s["memmove"] = p

    # gogc_free of objects nothing else refers to, then reuse.
    p = []
    for r in range(3):
        p += [op("alloc", i, SZ[[16, 64, 513, 40000, 131072][i % 5]]) for i in range(8)]
        p += [op("alloc_noscan", 8, SZ[1048576]), op("alloc_typed", 9, COUNT[300])]
        p += [op("free", i) for i in range(10)]
        p += [op("alloc", i, SZ[64]) for i in range(4)] + [op("collect")]
    p += [op("alloc", 20, SZ[64]), op("alloc", 21, SZ[64]), op("link", 0, 0, 1),
          op("free", 21), op("free", 20), op("collect")]
    s["free"] = p

    # Finalizers: set, removed, run by the finalizer thread and by hand.
    p = [op("alloc", i, SZ[[16, 32, 100, 1024][i % 4]]) for i in range(10)]
    p += [op("alloc_typed", 10, COUNT[1]), op("alloc_noscan", 11, SZ[64])]
    p += [op("finalizer", i) for i in range(12)]
    p += [op("link", 0, 0, 3), op("finalizer", 5, 1), op("finalizer", 5)]
    p += [op("drop_slot", i) for i in range(0, 12, 2)]
    p += [op("wait_finalizers"), op("run_finalizers"), op("verify", 1)]
    p += [op("drop_slot", i) for i in range(12)] + [op("wait_finalizers"), op("memstats")]
    s["finalizers"] = p

    # Cleanups with tag and object arguments, stopped and run.
    p = [op("alloc", i, SZ[64]) for i in range(8)]
    for i in range(8):
        p.append(op("cleanup", i, i * 30, i, i & 1))
    p += [op("cleanup_stop", 0), op("cleanup_stop", 0), op("cleanup_stop", 3)]
    p += [op("drop_slot", i) for i in range(1, 8)]
    p += [op("wait_finalizers"), op("run_finalizers"), op("collect"), op("memstats")]
    s["cleanups"] = p

    # Weak pointers: made twice for one object, kept, dropped.
    p = [op("alloc", i, SZ[[8, 64, 40000][i % 3]]) for i in range(6)]
    p += [op("weak_make", i, i * 50, i) for i in range(6)]
    p += [op("weak_make", 0, 3, 10), op("weak_make", 2, 255, 11), op("memstats")]
    p += [op("drop_slot", 1), op("drop_slot", 3), op("collect"), op("verify"),
          op("collect"), op("verify"), op("memstats")]
    s["weak"] = p

    # A pool: gets (new and reused), puts, collections between.
    p = []
    for r in range(4):
        p += [op("pool_get", i, r) for i in range(8)]
        p += [op("pool_put", i) for i in range(0, 8, 2)] + [op("pool_put", 0), op("collect")]
        p += [op("pool_get", i) for i in range(8)] + [op("pool_put", i) for i in range(8)]
    s["pool"] = p

    # Arenas: every kind of object, heap <-> arena references, clones, frees.
    p = [op("arena_new", 0), op("arena_new", 1)]
    for i, size in enumerate(ASZ):
        p.append(op("arena_alloc", 0, i % 3, ASZ[size], i))
    p += [op("alloc", 20, SZ[64]), op("alloc_typed", 21, COUNT[1])]
    for i in range(10):
        p.append(op("link", i * 7, i, i * 11 + 2, i * 25))
    p += [op("arena_alloc", 1, 0, ASZ[64], 30), op("arena_alloc", 1, 2, 0, 31)]
    p += [op("arena_clone", 0, 40), op("arena_clone", 5, 41), op("arena_clone", 9, 42)]
    p += [op("collect"), op("memstats"), op("arena_free", 0), op("collect"),
          op("memstats"), op("arena_new", 0), op("arena_alloc", 0, 0, ASZ[100], 50),
          op("collect"), op("verify", 1), op("arena_free", 1)]
    s["arenas"] = p

    # Settings: GOGC small and off, a memory limit and back, statistics.
    p = []
    for i in range(9):
        p += [op("set_percent", i), op("alloc", i, SZ[65536]), op("memstats")]
    p += [op("memlimit", 1), op("memstats"), op("alloc", 10, SZ[1048576]), op("collect"),
          op("memlimit"), op("memstats"), op("memlimit", 3), op("set_percent", 0)]
    p += [op("alloc", i % 64, SZ[8000]) for i in range(40)] + [op("memstats")]
    s["settings"] = p

    # A helper thread allocating a chain while the main thread collects.
    p = []
    for r in range(5):
        p += [op("thread_start", 7, r * 40, r), op("alloc", 1, SZ[4096]), op("collect"),
              op("thread_join", r), op("link", r, 0, r), op("collect")]
    p += [op("thread_start", 3, 200, 1)]  # joined at the end
    s["threads"] = p

    # Large objects only, linked together.
    p = [op("alloc", i, SZ[[32769, 40000, 65536, 262145, 1048576][i % 5]]) for i in range(8)]
    p += [op("alloc_typed", 8 + i, COUNT[[257, 300, 1000, 2048][i]]) for i in range(4)]
    for i in range(10):
        p.append(op("link", i, i, i + 3, 100 + i))
    p += [op("drop_slot", i) for i in range(0, 12, 3)] + [op("collect"), op("verify", 1)]
    s["large"] = p
    return s


def random_program(rng, nops, weights=None):
    out = []
    names = list(CODE)
    w = [weights.get(n, 1.0) if weights else 1.0 for n in names]
    for _ in range(nops):
        name = rng.choices(names, w)[0]
        out.append(op(name, *[rng.randrange(256) for _ in range(5)]))
    return out


def main():
    args = sys.argv[1:]
    clean = "--clean" in args
    args = [a for a in args if a != "--clean"]
    outdir = args[0] if args else os.path.join(HERE, "corpus")
    os.makedirs(outdir, exist_ok=True)
    for f in os.listdir(outdir):
        if f.startswith("seed-") or clean:
            os.remove(os.path.join(outdir, f))
    files = {}
    for name, prog in scenarios().items():
        files["seed-" + name] = b"".join(prog)
    rng = random.Random(20260101)
    # Allocation-heavy, graph-heavy and uniform random programs.
    heavy = {"alloc": 4, "alloc_typed": 2, "link": 4, "copy_slot": 2, "drop_slot": 2}
    for i in range(12):
        files["seed-random-%02d" % i] = b"".join(random_program(rng, rng.randrange(20, 200)))
    for i in range(10):
        files["seed-graph-%02d" % i] = b"".join(random_program(rng, rng.randrange(40, 200), heavy))
    for i in range(6):  # a truncated last operation
        files["seed-short-%02d" % i] = b"".join(random_program(rng, rng.randrange(1, 10)))[:-rng.randrange(1, 6)]
    used = set()
    for data in files.values():
        for k in range(0, len(data), 6):
            used.add(data[k] % len(OPS))
    missing = [OPS[i] for i in range(len(OPS)) if i not in used]
    if missing:
        sys.exit("make_corpus.py: no seed uses " + ", ".join(missing))
    for name, data in sorted(files.items()):
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
    total = sum(len(d) for d in files.values())
    print("make_corpus.py: %d seeds, %d bytes, %d operations covered, in %s"
          % (len(files), total, len(used), outdir))


if __name__ == "__main__":
    main()
