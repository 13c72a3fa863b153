//! Ore: a lazy-compiling JIT for the Ore language on LLVM ORCv2.
//!
//! ```
//! let engine = ore::Engine::new()?;
//! let ns = engine.namespace(ore::Config::default())?;
//! ns.add_module("demo", "fn square(x: i64) -> i64 { x * x }")?;
//! assert_eq!(ns.call("square", &[ore::Value::I64(7)])?, ore::Value::I64(49));
//! # Ok::<(), ore::Error>(())
//! ```
//!
//! See docs/ARCHITECTURE.md for how the pieces fit.

pub mod abi;
pub mod codegen;
pub mod diagnostics;
pub mod engine;
pub mod llvm;
pub mod reference;
pub mod runtime;
pub mod server;
pub mod syntax;
pub mod tir;
pub mod typeck;
pub mod types;

pub use codegen::Unchecked;
pub use diagnostics::{CompileError, LocatedDiagnostic, SourceFile};
pub use engine::{
    check_program, program_ir, CallOptions, CallReport, Caller, CompileRecord, Config, Emit, Engine, Error, Func, FunctionInfo,
    FunctionState, IntoHostFunction, Limits, ModuleId, ModuleInfo, Namespace, OptLevel, Policy, Stats, TypedFunc, Value,
};
pub use runtime::RuntimeError;
pub use types::{CType, ExternSig, FnSig, Ty};
