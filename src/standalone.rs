//! Checking and emitting a whole program without a JIT (`ore check`, `ore emit-ir`).

use crate::check::{self, Environment, ExistingFunction, SymbolStatus};
use crate::codegen;
use crate::diagnostics::{CompileError, SourceFile};
use crate::engine::{Error, Policy};
use crate::syntax;
use crate::types::ExternSig;

/// Parses and checks a program (`ore check`) without creating a JIT.
pub fn check_program(file: &SourceFile) -> Result<(), CompileError> {
    check_alone(file, true).map(drop)
}

/// Parses and checks `file` as the only module of an empty namespace.
fn check_alone(file: &SourceFile, require_main: bool) -> Result<check::CheckedModule, CompileError> {
    let items = syntax::parse(file.text()).map_err(|d| file.error(vec![d]))?;
    let options = check::Options { require_main, allow_python: Policy::default().allows_python(), ..check::Options::default() };
    let source = std::sync::Arc::new(file.clone());
    check::check_module(items, &source, &EmptyNamespace, &options).map_err(|d| file.error(d))
}

/// The LLVM IR of a whole program as one standalone module, for other tools and
/// JITs (`ore emit-ir`): every function unoptimised, named `ore.NAME`, calling the
/// others directly (no slots, so no addresses of this process), with the usual
/// checks; runtime functions it would call are defined as `abort()`.
pub fn program_ir(file: &SourceFile) -> Result<String, Error> {
    let checked = check_alone(file, false)?;
    let (triple, layout) = crate::llvm::host_triple_and_layout();
    let program = crate::llvm::ir::IrModule::new(file.name(), &triple, &layout);
    let symbol = crate::abi::function_symbol;
    let options = codegen::Options { unchecked: codegen::Unchecked { direct_calls: true, ..Default::default() }, ..Default::default() };
    for func in &checked.functions {
        let module = codegen::generate_function(func, &symbol(&func.name), &Standalone, options, &triple, &layout);
        program.link_in(module).map_err(Error::External)?;
    }
    program.define_as_abort(crate::abi::RUNTIME_PREFIX);
    Ok(program.print())
}

/// A namespace with nothing in it, under the default policy.
struct EmptyNamespace;

impl Environment for EmptyNamespace {
    fn function(&self, _name: &str) -> Option<ExistingFunction> {
        None
    }

    fn extern_fn(&self, _name: &str) -> Option<ExternSig> {
        None
    }

    fn is_host_function(&self, _name: &str) -> bool {
        false
    }

    fn resolve_symbol(&self, name: &str) -> SymbolStatus {
        Policy::default().resolve_process_symbol(name)
    }
}

/// Callees of a standalone program: every function called directly by its
/// `ore.NAME`, no slots, no copies.
struct Standalone;

impl codegen::Callees for Standalone {
    fn direct(&self, name: &str) -> Option<String> {
        Some(crate::abi::function_symbol(name))
    }

    fn inline(&self, _name: &str) -> Option<codegen::InlineCopy> {
        None
    }

    fn extern_slot(&self, _symbol: &str) -> bool {
        false
    }
}
