//! LLVM IR modules: `module` (ownership), `surgery` (reading and rewriting
//! parsed IR), `builder` (types, constants and instructions) and `pipeline`
//! (verification, optimisation, code generation).
//!
//! Ownership: an `IrModule` owns a reference to its own `ThreadSafeContext`, the
//! `LLVMModuleRef` (until `into_thread_safe_module` hands it to ORC) and a builder.
//! Optimising and compiling a module (`optimize`, `emit_object`) use the calling
//! thread's target machines, so modules compile on several threads at once.
//! Every `Value`, `Type` and `Block` borrows the `IrModule`, so none outlives the
//! context that owns it. Type-correct use (e.g. not adding an i64 to a double) is the
//! caller's contract, checked by the verifier in debug builds: the typed IR the code
//! generator consumes makes such mistakes bugs, not user errors.

mod builder;
mod debug;
mod module;
mod pipeline;
mod surgery;

pub use builder::{Block, Function, IntPredicate, RealPredicate, Type, Value};
pub use debug::{DebugInfo, DebugType, Scope};
pub use module::{IrModule, ObjectFile, ThreadSafeModule};
pub use pipeline::Pipeline;
