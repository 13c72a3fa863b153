//! What the embedding API's operations fail with.

use crate::diagnostics::CompileError;
use crate::llvm::LlvmError;
use crate::runtime::trace::{Failure, Trace};
use crate::runtime::RuntimeError;
use crate::types::{FnSig, Ty};

use super::ModuleId;

impl Error {
    pub(super) fn limit(limit: Limit, message: String) -> Error {
        Error::Limit { limit, message }
    }

    /// The Ore call stack of a runtime error (`Error::Runtime`).
    pub fn trace(&self) -> Option<&Trace> {
        match self {
            Error::Runtime { trace, .. } => Some(trace),
            _ => None,
        }
    }
}

/// A runtime error raised outside Ore code (by the engine, before the call runs).
impl From<RuntimeError> for Error {
    fn from(error: RuntimeError) -> Error {
        Error::Runtime { error, trace: Trace::default() }
    }
}

impl From<Failure> for Error {
    fn from(Failure { error, trace }: Failure) -> Error {
        Error::Runtime { error, trace }
    }
}

/// Why an operation of the embedding API failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The module does not compile: located diagnostics.
    #[error("{0}")]
    Compile(#[from] CompileError),
    /// The call ended with a runtime error; the namespace stays usable. Displays
    /// as one line, `runtime error: MESSAGE`; the trace has lines of its own.
    #[error("runtime error: {error}")]
    Runtime {
        /// What went wrong.
        error: RuntimeError,
        /// Where: the Ore frames it returned through, innermost first.
        trace: Trace,
    },
    /// The namespace has no function of that name.
    #[error("no function named `{0}`")]
    UnknownFunction(String),
    /// A call with the wrong number of arguments.
    #[error("`{name}` takes {expected} argument(s), but {given} were given")]
    Arity {
        /// The function.
        name: String,
        /// Parameters it takes.
        expected: usize,
        /// Arguments passed.
        given: usize,
    },
    /// A call with an argument of the wrong type.
    #[error("argument {index} of `{name}` must be `{expected}`, not `{given}`")]
    ArgumentType {
        /// The function.
        name: String,
        /// The argument's position, from 0.
        index: usize,
        /// The parameter's type.
        expected: Ty,
        /// The argument's type.
        given: Ty,
    },
    /// `Func::typed` with types that are not the function's.
    #[error("`{name}` is `{actual}`, not `{requested}`")]
    Signature {
        /// The function.
        name: String,
        /// Its signature.
        actual: FnSig,
        /// The signature the types ask for.
        requested: FnSig,
    },
    /// `register` of a name already registered in the namespace.
    #[error("host function `{0}` is already registered")]
    HostFunctionExists(String),
    /// `register_dynamic` with a signature a host function cannot have.
    #[error("host function `{name}` cannot be registered: {reason}")]
    HostSignature {
        /// The name it was to be registered under.
        name: String,
        /// Why not.
        reason: String,
    },
    /// An IR module that another IR module links to cannot be replaced or removed.
    #[error("IR module `{module}` cannot be replaced or removed: IR module `{user}` calls its function `{function}`")]
    ModuleInUse {
        /// The module to replace or remove.
        module: String,
        /// The IR module that calls it.
        user: String,
        /// One of its functions that `user` declares.
        function: String,
    },
    /// `remove_module` of a module that is not (or no longer) loaded.
    #[error("no module {0:?} in this engine")]
    UnknownModule(ModuleId),
    /// A module went over one of the namespace's `Limits`.
    #[error("{message}")]
    Limit {
        /// The bound it went over.
        limit: Limit,
        /// What went over it, by how much.
        message: String,
    },
    /// `CallOptions::timeout` or `interrupt` in a namespace whose code has no
    /// interrupt checks.
    #[error("a timeout or interrupt needs a namespace created with `Config::interruptible`")]
    NotInterruptible,
    /// A shared library, object file or LLVM IR module that could not be used.
    #[error("{0}")]
    External(String),
    /// LLVM or ORC failed (not the program's fault).
    #[error("JIT error: {0}")]
    Jit(#[from] LlvmError),
}

/// The bound of `Limits` that an `Error::Limit` went over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// `Limits::max_source_bytes`: a module's source (Ore or IR) is too large.
    SourceBytes,
    /// `Limits::max_functions`: the namespace would hold too many functions.
    Functions,
}
