"""The exceptions and diagnostics of the `ore` package."""

from dataclasses import dataclass
from typing import List


@dataclass(frozen=True)
class Diagnostic:
    """One compile error: where it is, what is wrong, and the rendered excerpt."""

    file: str
    line: int
    column: int
    message: str
    rendered: str


class Error(Exception):
    """Base class of every error Ore raises."""


class CompileError(Error):
    """A module did not compile; nothing of it was added. `diagnostics` lists every error."""

    def __init__(self, message: str, diagnostics: List[Diagnostic]):
        super().__init__(message)
        self.diagnostics = diagnostics


class RuntimeError(Error):  # noqa: A001 - the name Ore's own errors have
    """An Ore call ended with a runtime error; the Jit stays usable.

    When a Python callback raised, the original exception is `__cause__`.
    """


class Timeout(RuntimeError):
    """An Ore call ran past the deadline given with `timeout=`."""
