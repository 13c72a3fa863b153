//! Ore: a lazy-compiling JIT for the Ore language on LLVM ORCv2.
//!
//! An [`Engine`] is one LLJIT; each [`Namespace`] in it has its own functions,
//! modules and host functions. Every function is compiled at its first call.
//!
//! ```
//! let engine = ore::Engine::new()?;
//! let ns = engine.namespace(ore::Config::default())?;
//! ns.add_module("demo", "fn square(x: i64) -> i64 { x * x }")?;
//! let square = ns.func("square")?.typed::<(i64,), i64>()?;
//! assert_eq!(square.call((7,))?, 49);
//! # Ok::<(), ore::Error>(())
//! ```
//!
//! docs/EMBEDDING.md is the embedder's guide; docs/ARCHITECTURE.md says how the
//! pieces fit.

#![warn(missing_docs)]
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub(crate) mod abi;
pub mod cache;
pub(crate) mod check;
pub(crate) mod codegen;
mod diagnostics;
mod engine;
#[allow(unsafe_code)]
pub(crate) mod llvm;
pub mod reference;
#[allow(unsafe_code)]
pub(crate) mod runtime;
#[cfg(feature = "server")]
pub mod server;
mod standalone;
pub(crate) mod syntax;
pub(crate) mod tir;
mod types;

pub use codegen::inline::NODES_PER_FUNCTION as INLINE_NODES_PER_FUNCTION;
pub use codegen::Unchecked;
pub use diagnostics::{CompileError, LocatedDiagnostic, SourceFile};
pub use engine::{
    allow_list, known_signature, parse_signature, stop_background_compiles, Arg, CAbi, CParam, CResult, CallOptions, CallReport, Caller,
    Closure, CompileRecord, CompiledCode, Config, Emit, Engine, Error, Evaluation, Func, FunctionInfo, FunctionState, HostImpl, HostOwner,
    HostParam, HostResult, IntoHostFunction, IrModuleInfo, Limit, Limits, ModuleId, ModuleInfo, Namespace, OptLevel, OreType, Params,
    Policy, Results, Stats, Tier, Tiering, TypedFunc, Value, WithCaller, COMPILE_BUCKETS_US, DEFAULT_EXTERN_ALLOW_LIST, EVALUATION_PREFIX,
    KNOWN_C_FUNCTIONS,
};
pub use runtime::deadline::Interrupt;
pub use runtime::trace::{Frame, Location, Trace, MAX_FRAMES as MAX_TRACE_FRAMES};
pub use runtime::{process_array_bytes, set_process_array_limit, RuntimeError, MAX_ARRAY_LEN};
pub use standalone::{check_program, program_ir};
pub use syntax::MAX_NESTING;
pub use tir::HUGE_FUNCTION_NODES;
pub use types::{CType, ExternSig, FnSig, Ty};

/// What Ore code prints. It goes through C's `stdout` stream (as `puts` called from
/// Ore does), not Rust's: a host that prints too should `flush` before it does,
/// or Ore's output may come after its own when stdout is a pipe or a file.
pub mod output {
    pub use crate::runtime::output::{flush, print_line, write, Captured};
}

/// The Python interpreter Ore starts when code uses Python.
pub mod python {
    pub use crate::runtime::python::finish;
}

/// Formatting as Ore's `print` does.
pub mod format {
    pub use crate::runtime::format::python_repr;
}

/// docs/EMBEDDING.md, whose examples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/EMBEDDING.md")]
pub struct EmbeddingGuide;

/// README.md, whose Rust example runs as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeExample;
