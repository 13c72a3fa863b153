"""The `ore` package: modules, calls, values, errors, callbacks and re-entrant compiles."""

import array
import threading
import time

import numpy as np
import pytest

import ore


def test_add_call_and_function_handles():
    jit = ore.Jit(opt_level=2)
    m = jit.add_source("m", "fn add(a: i64, b: i64) -> i64 { a + b }\nfn later(x: i64) -> i64;")
    assert m.name == "m"
    assert m.functions == [("add", "fn(i64, i64) -> i64"), ("later", "fn(i64) -> i64")]
    assert jit.call("add", 2, 3) == 5
    add = jit.function("add")
    assert add(40, 2) == 42
    assert add.signature == "fn(i64, i64) -> i64"
    assert add.name == "add"
    assert add.jit is jit
    assert [f["state"] for f in jit.functions()] == ["compiled", "undefined"]
    stats = jit.stats()
    assert stats["functions"] == 1 and stats["compiled"] == 1


def test_values_of_every_type_cross_both_ways():
    jit = ore.Jit()
    jit.add_source(
        "types",
        """
        fn scale(x: f64, k: f64) -> f64 { x * k }
        fn negate(b: bool) -> bool { !b }
        fn shout(s: str) -> str { s }
        fn total(a: [i64]) -> i64 { var s = 0; var i = 0; while i < len(a) { s = s + a[i]; i = i + 1; } s }
        fn halves(a: [f64]) -> [f64] { var i = 0; while i < len(a) { a[i] = a[i] / 2.0; i = i + 1; } a }
        fn nothing() {}
        """,
    )
    assert jit.call("scale", 1.5, 4) == 6.0
    assert jit.call("negate", False) is True
    assert jit.call("shout", "héllo") == "héllo"
    assert jit.call("total", [1, 2, 3, 2**40]) == 6 + 2**40
    assert jit.call("halves", [1.0, -3.0]) == [0.5, -1.5]
    assert jit.call("nothing") is None


def test_arrays_from_buffers_and_numpy():
    jit = ore.Jit()
    jit.add_source(
        "m",
        """
        fn total(a: [i64]) -> i64 { var s = 0; var i = 0; while i < len(a) { s = s + a[i]; i = i + 1; } s }
        fn sum(a: [f64]) -> f64 { var s = 0.0; var i = 0; while i < len(a) { s = s + a[i]; i = i + 1; } s }
        """,
    )
    assert jit.call("total", array.array("q", [1, 2, 2**40])) == 3 + 2**40
    assert jit.call("sum", array.array("d", [0.5, 0.25])) == 0.75
    assert jit.call("total", np.arange(1000, dtype=np.int64)) == 999 * 1000 // 2
    assert jit.call("sum", np.linspace(0.0, 1.0, 5)) == 2.5
    # A strided view is read element by element, as the buffer gives them.
    assert jit.call("total", np.arange(10, dtype=np.int64)[::3]) == 0 + 3 + 6 + 9
    # Another dtype goes element by element; one that does not convert is refused.
    assert jit.call("total", np.array([1, 2], dtype=np.int32)) == 3
    with pytest.raises(TypeError, match="argument 0 of `total` must be `\\[i64\\]`, not ndarray"):
        jit.call("total", np.array([0.5]))
    with pytest.raises(TypeError, match="must be `\\[i64\\]`, not ndarray"):
        jit.call("total", np.zeros((2, 2), dtype=np.int64))


def test_numpy_arrays_are_lent_without_a_copy():
    jit = ore.Jit()
    jit.add_source(
        "m",
        """
        fn scale(a: [f64], k: f64) { var i = 0; while i < len(a) { a[i] = a[i] * k; i = i + 1; } }
        fn copy(to: [i64], from: [i64]) { var i = 0; while i < len(to) { to[i] = from[i] + 1; i = i + 1; } }
        """,
    )
    data = np.array([1.0, 2.0, 3.0])
    jit.call("scale", data, 10.0)
    assert data.tolist() == [10.0, 20.0, 30.0], "Ore wrote into NumPy's memory"
    # A read-only array or a strided view is copied in: the writes stay in the copy.
    frozen = np.array([1.0, 2.0])
    frozen.flags.writeable = False
    jit.call("scale", frozen, 10.0)
    assert frozen.tolist() == [1.0, 2.0]
    strided = np.arange(6, dtype=np.float64)
    jit.call("scale", strided[::2], 10.0)
    assert strided.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    # The same array twice: lent once, copied for the other.
    both = np.array([1, 2, 3], dtype=np.int64)
    jit.call("copy", both, both)
    assert both.tolist() == [2, 3, 4]
    target = np.zeros(3, dtype=np.int64)
    jit.call("copy", target, np.array([5, 6, 7], dtype=np.int64))
    assert target.tolist() == [6, 7, 8]


def test_arguments_are_checked():
    jit = ore.Jit()
    jit.add_source("m", "fn id(x: i64) -> i64 { x }")
    assert jit.call("id", 2**63 - 1) == 2**63 - 1
    with pytest.raises(OverflowError):
        jit.call("id", 2**63)
    with pytest.raises(TypeError, match="argument 0 of `id` must be `i64`, not str"):
        jit.call("id", "1")
    with pytest.raises(TypeError, match="must be `i64`, not bool"):
        jit.call("id", True)
    with pytest.raises(TypeError, match="takes 1 argument"):
        jit.call("id")
    with pytest.raises(KeyError):
        jit.call("missing")


def test_compile_errors_are_structured_and_change_nothing():
    jit = ore.Jit()
    jit.add_source("good", "fn f() -> i64 { 1 }")
    with pytest.raises(ore.CompileError) as caught:
        jit.add_source("bad", "fn f() -> i64 { 1 }\nfn g() -> i64 { true }")
    diagnostics = caught.value.diagnostics
    assert len(diagnostics) >= 1
    d = diagnostics[-1]
    assert (d.file, d.line) == ("bad", 2)
    assert "g" in d.rendered or "bool" in d.message
    assert jit.call("f") == 1


def test_runtime_errors_and_timeouts():
    jit = ore.Jit(interruptible=True)
    jit.add_source("m", "fn div(a: i64, b: i64) -> i64 { a / b }\nfn spin() -> i64 { var i = 0; while true { i = i + 1; } i }")
    with pytest.raises(ore.RuntimeError, match="division by zero"):
        jit.call("div", 1, 0)
    with pytest.raises(ore.Timeout):
        jit.call("spin", timeout=0.05)
    assert issubclass(ore.Timeout, ore.RuntimeError)
    assert jit.call("div", 7, 2) == 3, "the Jit stays usable"
    plain = ore.Jit()
    plain.add_source("m", "fn f() -> i64 { 1 }")
    with pytest.raises(ore.Error, match="interruptible"):
        plain.call("f", timeout=1.0)


def test_runtime_errors_carry_the_ore_call_stack():
    jit = ore.Jit()
    jit.add_source("calc.ore", "fn div(a: i64, b: i64) -> i64 {\n    a / b\n}\nfn mean(t: i64, n: i64) -> i64 { div(t, n) }")
    with pytest.raises(ore.RuntimeError) as caught:
        jit.call("mean", 10, 0)
    e = caught.value
    assert str(e) == "division by zero"
    assert e.frames == [ore.Frame("div", "calc.ore", 2, 5), ore.Frame("mean", "calc.ore", 4, 34)]
    # A traceback shows the Ore frames under the message.
    assert e.__notes__ == ["  at div (calc.ore:2:5)\n  at mean (calc.ore:4:34)"]

    def relay(n):
        return jit.call("div", 1, n)

    jit.register("relay", relay, ["i64"], "i64")
    jit.add_source("cb.ore", "extern fn relay(n: i64) -> i64;\nfn via(n: i64) -> i64 { relay(n) + 1 }")
    with pytest.raises(ore.RuntimeError) as caught:
        jit.call("via", 0)
    # The Python callback passed the nested error on: it is a frame between the two.
    assert caught.value.frames == [ore.Frame("div", "calc.ore", 2, 5), ore.Frame("relay", None, None, None), ore.Frame("via", "cb.ore", 2, 25)]
    assert caught.value.__notes__[0].splitlines()[1] == "  at relay (host function)"

    # The same through `py_call` from Ore code: the callable's path is the frame.
    import sys
    import types

    module = types.ModuleType("ore_trace_test")
    module.relay = relay
    sys.modules["ore_trace_test"] = module
    jit.add_source("py.ore", 'fn via_py(n: i64) -> i64 {\n  py_call_i64("ore_trace_test.relay", n)\n}')
    with pytest.raises(ore.RuntimeError) as caught:
        jit.call("via_py", 0)
    assert caught.value.frames == [
        ore.Frame("div", "calc.ore", 2, 5),
        ore.Frame("ore_trace_test.relay", None, None, None),
        ore.Frame("via_py", "py.ore", 2, 3),
    ]


def test_callbacks_and_their_exceptions():
    jit = ore.Jit()
    seen = []

    def log(message, value):
        seen.append((message, value))

    def checked_sqrt(x):
        if x < 0:
            raise ValueError(f"negative input {x}")
        return int(x**0.5)

    jit.register("log", log, ["str", "i64"])
    jit.register("checked_sqrt", checked_sqrt, ["i64"], "i64")
    jit.add_source(
        "m",
        """
        extern fn log(message: str, value: i64);
        extern fn checked_sqrt(x: i64) -> i64;
        fn go(x: i64) -> i64 { log("x", x); checked_sqrt(x) + 1 }
        """,
    )
    assert jit.call("go", 16) == 5
    assert seen == [("x", 16)]
    with pytest.raises(ore.RuntimeError) as caught:
        jit.call("go", -4)
    assert "host function `checked_sqrt` failed: ValueError: negative input -4" in str(caught.value)
    assert isinstance(caught.value.__cause__, ValueError)
    assert caught.value.__cause__.__traceback__ is not None, "the traceback is kept"
    assert jit.call("go", 9) == 4


def test_a_callback_compiles_more_code_that_the_running_call_then_calls():
    """The heart of it: JIT'd code asks the Python compiler for code, mid-call."""
    jit = ore.Jit()
    compiled = []

    def compile_more(n):
        # Defines `step_N`, and redefines `current`, the function that is running.
        compiled.append(n)
        jit.add_source(f"gen{n}", f"fn step(x: i64) -> i64 {{ x * {n} }}\nfn current() -> i64 {{ {n} }}")
        return True

    jit.register("compile_more", compile_more, ["i64"], "bool")
    jit.add_source(
        "driver",
        """
        extern fn compile_more(n: i64) -> bool;
        fn step(x: i64) -> i64;
        fn current() -> i64 { 0 }
        fn run(rounds: i64) -> i64 {
            var total = 0;
            var i = 1;
            while i <= rounds {
                if compile_more(i) { total = total + step(10) + current(); }
                i = i + 1;
            }
            total
        }
        """,
    )
    assert jit.call("run", 3) == (10 + 1) + (20 + 2) + (30 + 3)
    assert compiled == [1, 2, 3]


def test_nested_calls_through_callbacks():
    jit = ore.Jit()

    def down(n):
        return jit.call("depth", n - 1) + 1 if n > 0 else 0

    jit.register("down", down, ["i64"], "i64")
    jit.add_source("m", "extern fn down(n: i64) -> i64;\nfn depth(n: i64) -> i64 { down(n) }")
    assert jit.call("depth", 50) == 50

    def fail_deep(n):
        return jit.call("fails", n)

    jit.register("fail_deep", fail_deep, ["i64"], "i64")
    jit.add_source("n", "extern fn fail_deep(n: i64) -> i64;\nfn fails(n: i64) -> i64 { 1 / n }\nfn outer() -> i64 { fail_deep(0) }")
    with pytest.raises(ore.RuntimeError) as caught:
        jit.call("outer")
    inner = caught.value.__cause__
    assert isinstance(inner, ore.RuntimeError) and "division by zero" in str(inner)


def test_remove_makes_functions_undefined():
    jit = ore.Jit()
    jit.add_source("a", "fn f() -> i64 { 1 }")
    f = jit.function("f")
    jit.add_source("a", "fn f() -> i64 { 2 }")
    assert f() == 2, "replacing a module by name redefines for every caller"
    jit.remove("a")
    with pytest.raises(ore.RuntimeError, match="undefined function f"):
        f()
    with pytest.raises(KeyError):
        jit.remove("a")


def test_ir_modules_are_lazy_and_callable_from_ore():
    jit = ore.Jit()
    m = jit.add_ir("lib", "define i64 @triple(i64 %x) {\n  %r = mul i64 %x, 3\n  ret i64 %r\n}\n")
    assert m.functions == [("triple", None)]
    jit.add_source("m", "extern fn triple(x: i64) -> i64;\nfn f() -> i64 { triple(14) }")
    assert jit.call("f") == 42
    jit.add_ir("lib", "define i64 @triple(i64 %x) {\n  %r = mul i64 %x, 4\n  ret i64 %r\n}\n")
    assert jit.call("f") == 56, "replaced for the compiled caller"
    triple = jit.function("triple", ["i64"], "i64")
    assert triple(5) == 20, "IR functions are called directly with their C signature"
    assert triple.signature == "fn(i64) -> i64"
    jit.remove("lib")
    with pytest.raises(ore.RuntimeError, match="undefined function triple"):
        jit.call("f")
    with pytest.raises(ore.RuntimeError, match="undefined function triple"):
        triple(5)


def test_a_callback_replaces_ir_while_it_runs():
    jit = ore.Jit()
    version = [1]

    def bump():
        version[0] += 1
        jit.add_ir("gen", f"define i64 @gen() {{\n  ret i64 {version[0]}\n}}\n")
        return True

    jit.add_ir("gen", "define i64 @gen() {\n  ret i64 1\n}\n")
    jit.register("bump", bump, [], "bool")
    jit.add_source("m", "extern fn gen() -> i64;\nextern fn bump() -> bool;\nfn f() -> i64 { var a = gen(); if bump() { a * 10 + gen() } else { 0 } }")
    assert jit.call("f") == 12
    assert jit.call("f") == 23


def test_py_builtins_use_this_interpreter():
    import __main__

    __main__.ore_test_value = 41
    jit = ore.Jit()
    jit.add_source("m", 'fn f() -> i64 { py_eval_i64("ore_test_value + 1") }')
    assert jit.call("f") == 42


def test_the_gil_is_released_while_ore_code_runs():
    jit = ore.Jit(interruptible=True)
    jit.add_source("m", "fn spin() -> i64 { var i = 0; while true { i = i + 1; } i }")
    progress = []
    running = threading.Event()

    def other():
        running.set()
        deadline = time.monotonic() + 0.25
        while time.monotonic() < deadline:
            progress.append(1)

    t = threading.Thread(target=other)
    t.start()
    running.wait()
    with pytest.raises(ore.Timeout):
        jit.call("spin", timeout=0.3)
    t.join()
    # With the GIL held for the whole call, the thread could not have run.
    assert len(progress) > 1000


def test_handles_keep_their_jit_alive():
    jit = ore.Jit()
    jit.add_source("m", "fn f() -> i64 { 7 }")
    f = jit.function("f")
    del jit
    assert f() == 7


def test_ctrl_c_interrupts_a_long_call_of_an_interruptible_jit():
    import os
    import signal

    jit = ore.Jit(interruptible=True)
    jit.add_source("m", "fn spin() -> i64 { var i = 0; while true { i = i + 1; } i }\nfn quick() -> i64 { 7 }")
    timer = threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        jit.call("spin", timeout=20)
    assert time.monotonic() - started < 10
    assert jit.call("quick") == 7, "the next call runs"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, "Python's handler is back"


def test_a_jit_may_keep_the_gil_for_short_calls():
    jit = ore.Jit(release_gil=False)
    jit.register("twice", lambda x: 2 * x, ["i64"], "i64")
    jit.add_source("m", "extern fn twice(x: i64) -> i64;\nfn f(x: i64) -> i64 { twice(x) + 1 }\nfn g(x: i64) -> i64 { f(x) }")
    assert jit.function("f")(20) == 41
    # Callbacks and nested calls take the GIL the call already holds.
    jit.register("again", lambda x: jit.call("g", x), ["i64"], "i64")
    jit.add_source("n", "extern fn again(x: i64) -> i64;\nfn h(x: i64) -> i64 { again(x) * 10 }")
    assert jit.call("h", 1) == 30


def test_evaluate_runs_statements_and_an_expression():
    jit = ore.Jit()
    jit.add_source("m", "fn sq(x: i64) -> i64 { x * x }")
    assert jit.evaluate("let n = 6;\nsq(n) + 1") == 37
    assert jit.evaluate("[1.5; 2]") == [1.5, 1.5]
    assert jit.evaluate("let unused = 1;") is None
    with pytest.raises(ore.CompileError) as caught:
        jit.evaluate("let a = 1;\na + true", name="cell 3")
    d = caught.value.diagnostics[0]
    assert (d.file, d.line, d.column) == ("cell 3", 2, 1)
    with pytest.raises(ore.RuntimeError) as caught:
        jit.evaluate("sq(2) / 0")
    assert caught.value.frames == [ore.Frame("<input>", "<input>", 1, 1)]
    assert [f["name"] for f in jit.functions() if f["state"] != "undefined"] == ["sq"]


def test_code_shows_what_a_function_compiled_to():
    jit = ore.Jit(keep_code=True)
    jit.add_source("m", "fn triple(x: i64) -> i64 { x * 3 }")
    assert jit.code("triple") is None, "not compiled before its first call"
    assert jit.call("triple", 2) == 6
    code = jit.code("triple")
    assert "define i64 @ore.triple(" in code["ir"] and "mul i64" in code["ir"]
    assert "ret" in code["asm"]
    plain = ore.Jit()
    plain.add_source("m", "fn one() -> i64 { 1 }")
    plain.call("one")
    assert plain.code("one") is None, "kept only with keep_code=True"


def test_a_cache_dir_lets_a_new_jit_link_what_an_earlier_one_compiled(tmp_path):
    source = "fn sq(x: i64) -> i64 { x * x }\nfn main(n: i64) -> i64 { sq(n) + 1 }"
    first = ore.Jit(cache_dir=tmp_path)
    first.add_source("m", source)
    assert first.call("main", 6) == 37
    assert (first.stats()["cache_hits"], first.stats()["cache_misses"]) == (0, 2)
    second = ore.Jit(cache_dir=str(tmp_path))
    second.add_source("m", source)
    assert second.call("main", 7) == 50
    assert (second.stats()["cache_hits"], second.stats()["cache_misses"]) == (2, 0)


def test_tier_auto_starts_at_tier_0_and_recompiles_hot_functions():
    jit = ore.Jit(tier="auto", hot_calls=10)
    jit.add_source("m", "fn inc(x: i64) -> i64 { x + 1 }\nfn total(n: i64) -> i64 { var s = 0; var i = 0; while i < n { s = s + i; i = i + 1; } s }")
    assert jit.call("inc", 1) == 2
    assert jit.call("total", 4) == 6
    assert jit.wait_for_tier_ups()
    tiers = {f["name"]: f["tier"] for f in jit.functions()}
    assert tiers == {"inc": "baseline", "total": "baseline"}
    for i in range(9):
        assert jit.call("inc", i) == i + 1
    assert jit.wait_for_tier_ups()
    assert {f["name"]: f["tier"] for f in jit.functions()}["inc"] == "optimized"
    stats = jit.stats()
    assert (stats["compiled"], stats["tier_0_compiled"], stats["tier_ups"]) == (2, 2, 1)
    with pytest.raises(ValueError, match="tier must be"):
        ore.Jit(tier="fast")
    with pytest.raises(ValueError, match="hot_calls"):
        ore.Jit(tier="auto", hot_calls=0)


def test_the_interpreter_exits_cleanly_with_a_tier_up_compiling():
    import subprocess
    import sys

    script = (
        "import ore\n"
        "jit = ore.Jit(tier='auto', hot_calls=1)\n"
        "jit.add_source('m', 'fn depth(n: i64) -> i64 { if n == 0 { 0 } else { 1 + depth(n - 1) } }')\n"
        "print(jit.call('depth', 5000))\n"
    )
    for _ in range(10):
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
        assert (done.returncode, done.stdout) == (0, "5000\n"), done.stderr


def test_a_forked_child_times_calls_out_and_tiers_up():
    import multiprocessing

    jit = ore.Jit(tier="auto", hot_calls=1, interruptible=True)
    jit.add_source("m", "fn spin() { while true {} }\nfn sq(x: i64) -> i64 { x * x }\nfn inc(x: i64) -> i64 { x + 1 }")
    # Both background threads start in the parent.
    with pytest.raises(ore.Timeout):
        jit.call("spin", timeout=0.05)
    assert jit.call("sq", 3) == 9
    assert jit.wait_for_tier_ups()

    def child(results):
        try:
            jit.call("spin", timeout=0.05)
            results.put("no timeout")
        except ore.Timeout:
            results.put(jit.call("inc", 41))
            results.put(jit.wait_for_tier_ups(5.0))
            results.put({f["name"]: f["tier"] for f in jit.functions()}["inc"])

    context = multiprocessing.get_context("fork")
    results = context.Queue()
    process = context.Process(target=child, args=(results,))
    process.start()
    process.join(60)
    if process.is_alive():
        process.kill()
        pytest.fail("the child hung")
    assert [results.get(timeout=5) for _ in range(3)] == [42, True, "optimized"]
