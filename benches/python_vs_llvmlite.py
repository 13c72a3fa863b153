"""The `ore` Python package against llvmlite's LLJIT, side by side in one run.

    scripts/python-package.sh --release && python3 -m pip install llvmlite
    python3 benches/python_vs_llvmlite.py [--quick]

1. Time to first result of an IR module of 1,000 and of 10,000 functions, one of
   them called: Ore compiles that one (lazily); llvmlite links the whole library.
2. A Python callback called from JIT'd code: `jit.register` against a ctypes
   CFUNCTYPE pointer called from llvmlite-JIT'd IR, per call.
3. Calling a JIT'd `add(i64, i64)` from Python: an `ore.Function` against a ctypes
   function pointer into llvmlite's code, per call.
4. A re-entrant compile: a callback adds a one-function module that the JIT'd code
   then calls; time per cycle, and RSS growth over the cycles.
5. Two Python threads calling a CPU-bound JIT'd function at once, against one
   thread making both calls: the GIL is released while Ore code runs.
6. A NumPy array passed as an `[i64]` and summed: Ore copies it into the call's
   arena (in bulk); llvmlite's code reads NumPy's memory through a pointer.

Rows 2b and 3b keep the GIL while Ore code runs (`Jit(release_gil=False)`); ctypes
releases it around every call (CFUNCTYPE), as Ore does by default.

Each measurement is the median of several runs. Both JITs use codegen level 2 and
no IR optimisation pipeline for IR modules (Ore compiles IR at its `opt_level`,
set to 2 here, which runs `default<O2>` on the one function it compiles).
"""

import ctypes
import statistics
import sys
import time

import llvmlite.binding as llvm

import ore

QUICK = "--quick" in sys.argv
REPEATS = 3 if QUICK else 5

llvm.initialize_native_target()
llvm.initialize_native_asmprinter()


def lljit():
    target = llvm.Target.from_default_triple()
    tm = target.create_target_machine(
        cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(), opt=2, jit=True
    )
    return llvm.create_lljit_compiler(tm, use_jit_link=True)


def median(f):
    return statistics.median(f() for _ in range(REPEATS))


def rss_kib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def module_ir(n):
    """n functions `f_i(x) = x * i + (x >> 3)`, each distinct, as llvmlite and Ore read them."""
    return "\n".join(
        f"define i64 @f_{i}(i64 %x) {{\n  %a = mul i64 %x, {i}\n  %b = ashr i64 %x, 3\n  %c = add i64 %a, %b\n  ret i64 %c\n}}"
        for i in range(n)
    )


def counted_loop(signature, body):
    """LLVM IR of `define i64 SIGNATURE`: for %i in 0..%n, `body` makes %s1 from %s
    (starting at 0); returns the last %s."""
    return f"""
define i64 {signature} {{
entry:
  br label %head
head:
  %i = phi i64 [ 0, %entry ], [ %i1, %body ]
  %s = phi i64 [ 0, %entry ], [ %s1, %body ]
  %more = icmp slt i64 %i, %n
  br i1 %more, label %body, label %done
body:
  {body}
  %i1 = add i64 %i, 1
  br label %head
done:
  ret i64 %s
}}
"""


def first_result(n):
    ir = module_ir(n)
    expected = 7 * 5 + (7 >> 3)

    def with_ore():
        jit = ore.Jit(opt_level=2)
        t0 = time.perf_counter()
        jit.add_ir("lib", ir)
        assert jit.function("f_5", ["i64"], "i64")(7) == expected
        return time.perf_counter() - t0

    def with_llvmlite():
        jit = lljit()
        t0 = time.perf_counter()
        rt = llvm.JITLibraryBuilder().add_ir(ir).export_symbol("f_5").link(jit, "lib")
        f = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64)(rt["f_5"])
        assert f(7) == expected
        return time.perf_counter() - t0

    return median(with_ore), median(with_llvmlite)


def callbacks(n, release_gil=True):
    def with_ore():
        jit = ore.Jit(release_gil=release_gil)
        jit.register("inc", lambda x: x + 1, ["i64"], "i64")
        jit.add_source(
            "m", "extern fn inc(x: i64) -> i64;\nfn loop(n: i64) -> i64 { var i = 0; var s = 0; while i < n { s = inc(s); i = i + 1; } s }"
        )
        jit.call("loop", 10)
        t0 = time.perf_counter()
        assert jit.call("loop", n) == n
        return (time.perf_counter() - t0) / n

    callback_type = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64)
    keep = callback_type(lambda x: x + 1)  # llvmlite's users must keep it alive

    def with_llvmlite():
        ir = counted_loop("@loop(i64 (i64)* %inc, i64 %n)", "%s1 = call i64 %inc(i64 %s)")
        jit = lljit()
        rt = llvm.JITLibraryBuilder().add_ir(ir).export_symbol("loop").link(jit, "cb")
        loop = ctypes.CFUNCTYPE(ctypes.c_int64, callback_type, ctypes.c_int64)(rt["loop"])
        loop(keep, 10)
        t0 = time.perf_counter()
        assert loop(keep, n) == n
        return (time.perf_counter() - t0) / n

    return median(with_ore), median(with_llvmlite)


def calls_from_python(n, release_gil=True):
    def with_ore():
        jit = ore.Jit(release_gil=release_gil)
        jit.add_source("m", "fn add(a: i64, b: i64) -> i64 { a + b }")
        add = jit.function("add")
        add(1, 2)
        t0 = time.perf_counter()
        for i in range(n):
            add(i, 2)
        return (time.perf_counter() - t0) / n

    def with_llvmlite():
        jit = lljit()
        rt = llvm.JITLibraryBuilder().add_ir("define i64 @add(i64 %a, i64 %b) {\n  %c = add i64 %a, %b\n  ret i64 %c\n}").export_symbol("add").link(jit, "add")
        add = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64, ctypes.c_int64)(rt["add"])
        add(1, 2)
        t0 = time.perf_counter()
        for i in range(n):
            add(i, 2)
        return (time.perf_counter() - t0) / n

    return median(with_ore), median(with_llvmlite)


def array_argument(n):
    """A NumPy int64 array of n elements summed by JIT'd code: Ore copies it into
    the call's arena; llvmlite's code gets a pointer to NumPy's memory."""
    import numpy as np

    values = np.arange(n, dtype=np.int64)
    expected = n * (n - 1) // 2

    def with_ore():
        jit = ore.Jit()
        jit.add_source("m", "fn total(a: [i64]) -> i64 { var s = 0; var i = 0; while i < len(a) { s = s + a[i]; i = i + 1; } s }")
        total = jit.function("total")
        assert total(values) == expected
        t0 = time.perf_counter()
        assert total(values) == expected
        return time.perf_counter() - t0

    def with_llvmlite():
        ir = counted_loop(
            "@total(i64* %a, i64 %n)", "%p = getelementptr i64, i64* %a, i64 %i\n  %x = load i64, i64* %p\n  %s1 = add i64 %s, %x"
        )
        jit = lljit()
        rt = llvm.JITLibraryBuilder().add_ir(ir).export_symbol("total").link(jit, "arr")
        total = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64)(rt["total"])
        assert total(values.ctypes.data, n) == expected
        t0 = time.perf_counter()
        assert total(values.ctypes.data, n) == expected
        return time.perf_counter() - t0

    return median(with_ore), median(with_llvmlite)


def reentrant_cycles(n):
    jit = ore.Jit()
    counter = [0]

    def compile_next():
        counter[0] += 1
        jit.add_source("gen", f"fn generated() -> i64 {{ {counter[0]} }}")
        return True

    jit.register("compile_next", compile_next, [], "bool")
    jit.add_source("m", "extern fn compile_next() -> bool;\nfn generated() -> i64;\nfn cycle() -> i64 { if compile_next() { generated() } else { 0 } }")
    cycle = jit.function("cycle")
    for _ in range(200):
        cycle()
    before = rss_kib()
    t0 = time.perf_counter()
    for i in range(n):
        assert cycle() == counter[0]
    per_cycle = (time.perf_counter() - t0) / n
    return per_cycle, rss_kib() - before


def parallel_speedup():
    import threading

    jit = ore.Jit()
    jit.add_source(
        "m", "fn work(n: i64) -> i64 { var i = 0; var s = 0; while i < n { s = s + i * i % 7; i = i + 1; } s }"
    )
    work = jit.function("work")
    n = 200_000_000 if not QUICK else 20_000_000
    work(1000)

    def serial():
        t0 = time.perf_counter()
        work(n)
        work(n)
        return time.perf_counter() - t0

    def threaded():
        threads = [threading.Thread(target=work, args=(n,)) for _ in range(2)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.perf_counter() - t0

    return median(serial), median(threaded)


def main():
    import llvmlite

    llvm_version = ".".join(map(str, llvm.llvm_version_info))
    print(f"Ore's Python package (LLVM 19) vs llvmlite {llvmlite.__version__} (LLVM {llvm_version}), medians of {REPEATS} runs")
    print(f"{'':52} {'Ore':>12} {'llvmlite':>12} {'ratio':>7}")
    for n in (1_000, 10_000) if not QUICK else (1_000,):
        o, l = first_result(n)
        print(f"{f'1. first result, {n:,}-function IR module':52} {o * 1e3:>9.1f} ms {l * 1e3:>9.1f} ms {o / l:>7.3f}")
    o, l = callbacks(20_000 if QUICK else 200_000)
    print(f"{'2. Python callback from JIT code, per call':52} {o * 1e9:>9.0f} ns {l * 1e9:>9.0f} ns {o / l:>7.3f}")
    o, l = callbacks(20_000 if QUICK else 200_000, release_gil=False)
    print(f"{'2b. the same, Jit(release_gil=False)':52} {o * 1e9:>9.0f} ns {l * 1e9:>9.0f} ns {o / l:>7.3f}")
    o, l = calls_from_python(50_000 if QUICK else 500_000)
    print(f"{'3. add(i64, i64) from Python, per call':52} {o * 1e9:>9.0f} ns {l * 1e9:>9.0f} ns {o / l:>7.3f}")
    o, l = calls_from_python(50_000 if QUICK else 500_000, release_gil=False)
    print(f"{'3b. the same, Jit(release_gil=False)':52} {o * 1e9:>9.0f} ns {l * 1e9:>9.0f} ns {o / l:>7.3f}")
    o, l = array_argument(1_000_000)
    print(f"{'6. [i64] argument, a 1,000,000-element NumPy array':52} {o * 1e3:>9.2f} ms {l * 1e3:>9.2f} ms {o / l:>7.3f}")
    cycles = 1_000 if QUICK else 10_000
    per_cycle, growth = reentrant_cycles(cycles)
    print(f"{f'4. re-entrant compile cycle (Ore only), {cycles:,} cycles':52} {per_cycle * 1e6:>9.0f} us   RSS +{growth} KiB")
    one, two = parallel_speedup()
    print(f"{'5. two calls, one thread vs two threads (Ore only)':52} {one * 1e3:>9.0f} ms {two * 1e3:>9.0f} ms   speed-up {one / two:.2f}x")


if __name__ == "__main__":
    main()
