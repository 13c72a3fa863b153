//! The type checker: syntax tree plus the namespace's existing symbols in, typed IR
//! (`tir`) or every diagnostic out. It keeps going after an error (the failed
//! expression gets type `!`, which fits anywhere) so one mistake yields one message.
//!
//! Files: `items.rs` (a module's items: signatures, `extern fn`s, `main`),
//! `function.rs` (a function body: scopes, locals, statements, blocks),
//! `expr.rs` (expressions and operators), `calls.rs` (calls of Ore functions,
//! `extern fn`s and built-ins, Python included).

mod calls;
mod expr;
mod function;
mod items;

use crate::diagnostics::{Diagnostic, SourceFile};
use crate::syntax::ast::{Item, Span};
use crate::tir;
use crate::types::{ExternSig, FnSig};
use function::FnChecker;
use items::ModuleChecker;
use std::collections::HashMap;
use std::sync::Arc;

/// Names the language reserves for built-in functions.
pub const BUILTINS: &[&str] = &[
    "print",
    "len",
    "load",
    "py_exec",
    "py_eval_i64",
    "py_eval_f64",
    "py_eval_bool",
    "py_eval_str",
    "py_call",
    "py_call_i64",
    "py_call_f64",
    "py_call_bool",
    "py_call_str",
];

/// What a module can see of its namespace besides its own items.
pub trait Environment {
    /// An Ore function the namespace already has.
    fn function(&self, name: &str) -> Option<ExistingFunction>;
    /// An `extern fn` already declared in the namespace.
    fn extern_fn(&self, name: &str) -> Option<ExternSig>;
    /// Whether the process (or the engine's host functions) provides a C symbol, and
    /// with which signature if the host registered one.
    fn resolve_symbol(&self, name: &str) -> SymbolStatus;
    /// Whether `name` is a function the host registered: such calls may end the Ore
    /// call with an error (a panic), so generated code tests for one after them.
    fn is_host_function(&self, name: &str) -> bool;
}

pub struct ExistingFunction {
    pub sig: FnSig,
    /// Where it was first declared or defined.
    pub origin: crate::diagnostics::Origin,
}

pub enum SymbolStatus {
    Missing,
    /// Found in the process; its signature is whatever the declaration says.
    Process,
    /// A host function registered with this signature.
    Host(ExternSig),
    /// Allowed by the engine's policy with exactly this signature.
    Pinned(ExternSig),
    /// Exists, but the engine's policy does not let modules call it; says why.
    Forbidden(String),
}

/// A module that passed checking.
#[derive(Debug, Default)]
pub struct CheckedModule {
    /// Function bodies defined by this module.
    pub functions: Vec<tir::Function>,
    /// Every Ore function this module defines or declares, once each.
    pub signatures: Vec<Signature>,
    /// `extern fn` declarations of this module.
    pub externs: Vec<(String, ExternSig)>,
    /// Whether the module uses a `py_*` built-in or a Python C-API symbol, so that
    /// Python must be running before its code does.
    pub uses_python: bool,
}

#[derive(Debug)]
pub struct Signature {
    pub name: String,
    pub sig: FnSig,
    /// Whether this module gives it a body.
    pub defines: bool,
    /// Where the module first names it.
    pub span: Span,
}

#[derive(Default)]
pub struct Options {
    /// Require a `main` suitable for `ore run` (i64 parameters, printable result).
    pub require_main: bool,
    /// Whether the `py_*` built-ins may be used.
    pub allow_python: bool,
    /// A function, declared as returning `()`, whose result type is instead its
    /// body's (the REPL's wrapper of an expression; `Namespace::evaluate`).
    pub infer_result: Option<String>,
}

/// Checks `items`, parsed from `source`.
pub fn check_module(
    items: Vec<Item>,
    source: &Arc<SourceFile>,
    env: &dyn Environment,
    options: &Options,
) -> Result<CheckedModule, Vec<Diagnostic>> {
    let mut checker = ModuleChecker {
        env,
        source,
        diags: Vec::new(),
        functions: HashMap::new(),
        externs: HashMap::new(),
        uses_python: std::cell::Cell::new(false),
        allow_python: options.allow_python,
    };
    let mut module = CheckedModule::default();
    let own_signature = checker.collect(&items, &mut module);
    if options.require_main {
        checker.check_main(&items);
    }
    // Each item's syntax tree is dropped once its body is checked, so that its
    // memory is reused for the next function's typed IR (a large module's check
    // spent a third of its time having the kernel zero fresh pages).
    for (item, own) in items.into_iter().zip(own_signature) {
        let Item::Fn(f) = item else { continue };
        let Some(body) = f.body.as_ref().filter(|_| own) else { continue };
        let Some(sig) = checker.functions.get(&f.name.name).map(|e| e.sig.clone()) else { continue };
        let infer = options.infer_result.as_deref() == Some(f.name.name.as_str());
        match FnChecker::new(&checker, &f, sig).check_body(body, infer) {
            Ok(func) => {
                if infer {
                    let declared = module.signatures.iter_mut().find(|s| s.name == func.name).expect("collected above");
                    declared.sig = func.sig.clone();
                }
                module.functions.push(func)
            }
            Err(mut diags) => checker.diags.append(&mut diags),
        }
    }
    module.uses_python = checker.uses_python.get() || module.externs.iter().any(|(name, _)| crate::abi::is_python_symbol(name));
    if checker.diags.is_empty() {
        Ok(module)
    } else {
        Err(checker.diags)
    }
}
