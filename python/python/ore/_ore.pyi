"""Type stubs of the native part of the `ore` package."""

import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

class Module:
    """A module that was added: its name and the functions it defines or declares."""

    name: str
    functions: List[Tuple[str, Optional[str]]]

class Function:
    """A function of a Jit, found once; calls see every redefinition."""

    name: str
    signature: str
    jit: "Jit"
    def __call__(self, *args: Any, timeout: Optional[float] = None) -> Any: ...

class Jit:
    """Modules of Ore source or LLVM IR, compiled one function at a time at its first call."""

    def __init__(
        self,
        *,
        opt_level: int = 2,
        interruptible: bool = False,
        eager: bool = False,
        python: bool = True,
        max_functions: Optional[int] = None,
        max_source_bytes: Optional[int] = None,
        release_gil: bool = True,
        keep_code: bool = False,
        cache_dir: Optional[Union[str, os.PathLike[str]]] = None,
        tier: str = "fixed",
        hot_calls: int = 1000,
        compile_threads: int = 1,
    ) -> None: ...
    def add_source(self, name: str, source: str) -> Module: ...
    def add_ir(self, name: str, ir: Union[str, bytes]) -> Module: ...
    def remove(self, name: str) -> None: ...
    def call(self, name: str, *args: Any, timeout: Optional[float] = None) -> Any: ...
    def evaluate(self, source: str, name: str = "<input>") -> Any: ...
    def code(self, name: str) -> Optional[Dict[str, str]]: ...
    def function(self, name: str, params: Optional[Sequence[str]] = None, ret: Optional[str] = None) -> Function: ...
    def register(self, name: str, fn: Callable[..., Any], params: Sequence[str], ret: Optional[str] = None) -> None: ...
    def stats(self) -> Dict[str, int]: ...
    def functions(self) -> List[Dict[str, Any]]: ...
    def wait_for_tier_ups(self, timeout: float = 60.0) -> bool: ...
