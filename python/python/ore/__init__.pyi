from ._errors import CompileError as CompileError
from ._errors import Diagnostic as Diagnostic
from ._errors import Error as Error
from ._errors import RuntimeError as RuntimeError
from ._errors import Timeout as Timeout
from ._ore import Function as Function
from ._ore import Jit as Jit
from ._ore import Module as Module
