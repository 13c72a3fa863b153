//! What the embedding API's operations fail with.

use crate::diagnostics::CompileError;
use crate::llvm::LlvmError;
use crate::runtime::RuntimeError;
use crate::types::{FnSig, Ty};

use super::ModuleId;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Compile(#[from] CompileError),
    #[error("runtime error: {0}")]
    Runtime(#[from] RuntimeError),
    #[error("no function named `{0}`")]
    UnknownFunction(String),
    #[error("`{name}` takes {expected} argument(s), but {given} were given")]
    Arity { name: String, expected: usize, given: usize },
    #[error("argument {index} of `{name}` must be `{expected}`, not `{given}`")]
    ArgumentType { name: String, index: usize, expected: Ty, given: Ty },
    /// `Func::typed` with types that are not the function's.
    #[error("`{name}` is `{actual}`, not `{requested}`")]
    Signature { name: String, actual: FnSig, requested: FnSig },
    #[error("host function `{0}` is already registered")]
    HostFunctionExists(String),
    #[error("no module {0:?} in this engine")]
    UnknownModule(ModuleId),
    /// A `Limits` bound or a `CallOptions` the engine cannot honour.
    #[error("{0}")]
    Limit(String),
    /// A shared library, object file or LLVM IR module that could not be used.
    #[error("{0}")]
    External(String),
    #[error("JIT error: {0}")]
    Jit(#[from] LlvmError),
}
