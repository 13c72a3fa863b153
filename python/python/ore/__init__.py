"""Ore: a lazy-compiling JIT on LLVM ORCv2, driven from Python.

Every function is compiled at its first call. JIT'd code can call registered Python
functions, which may add or replace code while the call runs::

    import ore
    jit = ore.Jit()
    jit.add_source("m", "fn add(a: i64, b: i64) -> i64 { a + b }")
    assert jit.call("add", 2, 3) == 5

See docs/PYTHON.md.
"""

from ._errors import CompileError, Diagnostic, Error, Frame, RuntimeError, Timeout
from ._ore import Function, Jit, Module

__all__ = ["CompileError", "Diagnostic", "Error", "Frame", "Function", "Jit", "Module", "RuntimeError", "Timeout"]
