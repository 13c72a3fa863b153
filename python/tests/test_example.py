"""examples/python/calc.py: a language whose compiler, in Python, is called back by
the JIT'd code to compile and load more functions while the program runs."""

import pathlib
import subprocess
import sys

import pytest

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "python"
sys.path.insert(0, str(EXAMPLE))

import calc  # noqa: E402


def test_the_example_runs_and_compiles_only_what_runs():
    out = subprocess.run([sys.executable, str(EXAMPLE / "calc.py")], capture_output=True, text=True, check=True)
    assert out.stdout == "35\ncompiled while running: main, square, fib\n"


def test_recursion_compiles_each_function_once_mid_call():
    program = calc.Calc(
        """
        def even(n) = if n == 0 then 1 else odd(n - 1)
        def odd(n) = if n == 0 then 0 else even(n - 1)
        main = even(40) * 10 + odd(7)
        """
    )
    assert program.run() == 11
    assert program.compiled == ["main", "even", "odd"]
    stats = program.jit.stats()
    assert stats["compiled"] >= 3


def test_errors_in_the_compiler_reach_the_caller_with_their_cause():
    program = calc.Calc("def broken(x) = x +\nmain = broken(1)")
    with pytest.raises(Exception) as caught:
        program.run()
    # The syntax error was raised inside the callback, in the middle of JIT'd code.
    assert isinstance(caught.value.__cause__, calc.CalcError)
