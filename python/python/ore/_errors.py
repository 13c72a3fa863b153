"""The exceptions and diagnostics of the `ore` package."""

from dataclasses import dataclass
from typing import List, Optional, Sequence


@dataclass(frozen=True)
class Diagnostic:
    """One compile error: where it is, what is wrong, and the rendered excerpt."""

    file: str
    line: int
    column: int
    message: str
    rendered: str


@dataclass(frozen=True)
class Frame:
    """One frame of a runtime error's Ore call stack: the function, and where in it
    the error left it (the failing operation, or the call that failed). `file`,
    `line` and `column` are None for a host function (a registered callback)."""

    function: str
    file: Optional[str]
    line: Optional[int]
    column: Optional[int]


class Error(Exception):
    """Base class of every error Ore raises."""


class CompileError(Error):
    """A module did not compile; nothing of it was added. `diagnostics` lists every error."""

    def __init__(self, message: str, diagnostics: List[Diagnostic]):
        super().__init__(message)
        self.diagnostics = diagnostics


class RuntimeError(Error):  # noqa: A001 - the name Ore's own errors have
    """An Ore call ended with a runtime error; the Jit stays usable.

    `frames` is the Ore call stack, innermost first; a traceback shows it as a
    note, one `at FUNCTION (FILE:LINE:COLUMN)` line per frame. When a Python
    callback raised, the original exception is `__cause__`.
    """

    def __init__(self, message: str, frames: Sequence[Frame] = (), rendered: str = ""):
        super().__init__(message)
        self.frames = list(frames)
        if rendered:
            self.add_note(rendered)


class Timeout(RuntimeError):
    """An Ore call ran past the deadline given with `timeout=`."""


# Tracebacks and reprs name the classes where users find them: `ore.RuntimeError`.
for _class in (Diagnostic, Frame, Error, CompileError, RuntimeError, Timeout):
    _class.__module__ = "ore"
