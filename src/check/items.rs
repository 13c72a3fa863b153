//! A module's items: every signature and `extern fn` first (so bodies may call
//! functions defined later), then `main` if required, against what the namespace
//! already has.

use super::{CheckedModule, Environment, Signature, SymbolStatus, BUILTINS};
use crate::diagnostics::Diagnostic;
use crate::syntax::ast::{FnItem, Item, Span, TypeExpr};
use crate::types::{CType, ExternSig, FnSig, Ty};
use std::collections::hash_map::{Entry, HashMap};

pub(super) struct FnEntry {
    pub(super) sig: FnSig,
    pub(super) defined: bool,
    /// Its place in `CheckedModule::signatures` (a module may declare all its
    /// functions before defining them: finding each by name would be quadratic).
    signature: usize,
}

pub(super) struct ModuleChecker<'a> {
    pub(super) env: &'a dyn Environment,
    pub(super) source: &'a std::sync::Arc<crate::diagnostics::SourceFile>,
    pub(super) diags: Vec<Diagnostic>,
    /// This module's functions (defined or declared), for forward references.
    pub(super) functions: HashMap<String, FnEntry>,
    pub(super) externs: HashMap<String, ExternSig>,
    /// Set by any function body that uses a `py_*` built-in.
    pub(super) uses_python: std::cell::Cell<bool>,
    pub(super) allow_python: bool,
}

impl ModuleChecker<'_> {
    pub(super) fn error(&mut self, span: Span, message: impl Into<String>) {
        self.diags.push(Diagnostic::new(span, message));
    }

    /// Registers every item's signature so bodies can refer to functions defined
    /// later. For each item: whether it is a function whose own signature is the
    /// one registered for its name, so that its body can be checked against it
    /// (a function whose signature was refused has its error already).
    pub(super) fn collect(&mut self, items: &[Item], module: &mut CheckedModule) -> Vec<bool> {
        let mut own = Vec::with_capacity(items.len());
        for item in items {
            own.push(match item {
                Item::Fn(f) => self.collect_fn(f, module),
                Item::Extern(f) => {
                    self.collect_extern(f, module);
                    false
                }
            });
        }
        own
    }

    /// Registers `f`'s signature; whether it is the one its name has now.
    pub(super) fn collect_fn(&mut self, f: &FnItem, module: &mut CheckedModule) -> bool {
        let name = &f.name.name;
        if BUILTINS.contains(&name.as_str()) {
            self.error(f.name.span, format!("`{name}` is a built-in function and cannot be redefined"));
            return false;
        }
        let Some(sig) = self.fn_signature(f) else { return false };
        if self.externs.contains_key(name) || self.env.extern_fn(name).is_some() {
            self.error(f.name.span, format!("`{name}` is already declared as an `extern fn`"));
            return false;
        }
        if let Some(existing) = self.env.function(name) {
            // Same signature: this module replaces (or declares again) the function.
            if existing.sig != sig {
                let message =
                    format!("`{name}` is `{sig}` here, but `{}` where it was first declared, at {}", existing.sig, existing.origin);
                self.error(f.span, message);
                return false;
            }
        }
        let defines = f.body.is_some();
        let entry = match self.functions.entry(name.clone()) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(new) => {
                let signature = module.signatures.len();
                module.signatures.push(Signature { name: name.clone(), sig: sig.clone(), defines, span: f.span });
                new.insert(FnEntry { sig, defined: defines, signature });
                return true;
            }
        };
        if entry.sig != sig {
            let message = format!("`{name}` is declared as `{}` elsewhere in this module, not `{sig}`", entry.sig);
            self.error(f.span, message);
            return false;
        }
        if entry.defined && defines {
            self.error(f.name.span, format!("`{name}` is defined more than once in this module"))
        } else {
            entry.defined |= defines;
            module.signatures[entry.signature].defines |= defines;
        }
        true
    }

    pub(super) fn collect_extern(&mut self, f: &FnItem, module: &mut CheckedModule) {
        let name = &f.name.name;
        if BUILTINS.contains(&name.as_str()) {
            return self.error(f.name.span, format!("`{name}` is a built-in function and cannot be redefined"));
        }
        let Some(sig) = self.extern_signature(f) else { return };
        if self.functions.contains_key(name) || self.env.function(name).is_some() {
            return self.error(f.name.span, format!("`{name}` is already an Ore function of this namespace"));
        }
        let earlier = self.externs.get(name).cloned().or_else(|| self.env.extern_fn(name));
        if let Some(earlier) = earlier {
            if earlier != sig {
                self.error(f.span, format!("`{name}` is already declared as `{earlier}`, not `{sig}`"));
            }
            return;
        }
        match self.env.resolve_symbol(name) {
            SymbolStatus::Missing => {
                return self.error(f.name.span, format!("symbol `{name}` not found in the process"));
            }
            SymbolStatus::Host(host) if host != sig => {
                return self.error(f.span, format!("host function `{name}` is registered as `{host}`, not `{sig}`"));
            }
            SymbolStatus::Pinned(allowed) if allowed != sig => {
                return self.error(
                    f.span,
                    format!("`extern fn {name}` must be declared as `{allowed}` here: this engine's allow-list pins its signature, and `{sig}` differs"),
                );
            }
            SymbolStatus::Forbidden(why) => {
                return self.error(f.name.span, format!("`extern fn {name}` is not allowed here: {why}"));
            }
            _ => {}
        }
        self.externs.insert(name.clone(), sig.clone());
        module.externs.push((name.clone(), sig));
    }

    pub(super) fn check_main(&mut self, items: &[Item]) {
        let main = items.iter().find_map(|item| match item {
            Item::Fn(f) if f.name.name == "main" && f.body.is_some() => Some(f),
            _ => None,
        });
        let Some(main) = main else {
            return self.error(Span::new(0, 0), "no `main` function");
        };
        let Some(entry) = self.functions.get("main") else { return };
        let sig = entry.sig.clone();
        if let Some(p) = main.params.iter().zip(&sig.params).find(|(_, ty)| **ty != Ty::I64) {
            self.error(p.0.ty.span(), "`main` may only take `i64` parameters (they are parsed from the command line)");
        }
        if !(sig.ret.is_printable() || sig.ret == Ty::Unit) {
            let span = main.ret.as_ref().map_or(main.span, |t| t.span());
            self.error(span, format!("`main` must return `i64`, `f64`, `bool`, `str` or nothing, not `{}`", sig.ret));
        }
    }

    pub(super) fn fn_signature(&mut self, f: &FnItem) -> Option<FnSig> {
        let mut ok = true;
        let mut params = Vec::new();
        for (i, p) in f.params.iter().enumerate() {
            if f.params[..i].iter().any(|q| q.name.name == p.name.name) {
                self.error(p.name.span, format!("parameter `{}` is declared twice", p.name.name));
                ok = false;
            }
            match self.ore_type(&p.ty) {
                Some(Ty::Unit) => {
                    self.error(p.ty.span(), "a parameter cannot have type `()`");
                    ok = false;
                }
                Some(ty) => params.push(ty),
                None => ok = false,
            }
        }
        let ret = match &f.ret {
            Some(t) => self.ore_type(t),
            None => Some(Ty::Unit),
        };
        match (ok, ret) {
            (true, Some(ret)) => Some(FnSig { params, ret }),
            _ => None,
        }
    }

    pub(super) fn extern_signature(&mut self, f: &FnItem) -> Option<ExternSig> {
        let params: Vec<Option<CType>> = f.params.iter().map(|p| self.c_type(&p.ty, false)).collect();
        let ret = match &f.ret {
            Some(t) => self.c_type(t, true),
            None => Some(CType::Unit),
        };
        let params: Option<Vec<CType>> = params.into_iter().collect();
        Some(ExternSig { params: params?, ret: ret? })
    }

    pub(super) fn ore_type(&mut self, t: &TypeExpr) -> Option<Ty> {
        resolve_type(t).map_err(|d| self.diags.push(d)).ok()
    }

    pub(super) fn c_type(&mut self, t: &TypeExpr, is_return: bool) -> Option<CType> {
        match t {
            TypeExpr::Unit(_) if is_return => Some(CType::Unit),
            TypeExpr::Named(id) => match CType::from_name(&id.name) {
                Some(c) => Some(c),
                None => {
                    let message = format!("`{}` is not allowed in an `extern fn`; use i64, i32, f64, bool, str or ptr", id.name);
                    self.error(id.span, message);
                    None
                }
            },
            other => {
                self.error(other.span(), "arrays and `()` are not allowed in an `extern fn` parameter; use `ptr`");
                None
            }
        }
    }
}

/// Resolves a written Ore type (not `i32`, which only `extern fn` may use).
pub(super) fn resolve_type(t: &TypeExpr) -> Result<Ty, Diagnostic> {
    match t {
        TypeExpr::Unit(_) => Ok(Ty::Unit),
        TypeExpr::Named(id) => match id.name.as_str() {
            "i64" => Ok(Ty::I64),
            "f64" => Ok(Ty::F64),
            "bool" => Ok(Ty::Bool),
            "str" => Ok(Ty::Str),
            "ptr" => Ok(Ty::Ptr),
            "i32" => Err(Diagnostic::new(id.span, "`i32` is only allowed in `extern fn` signatures")),
            other => Err(Diagnostic::new(id.span, format!("unknown type `{other}`"))),
        },
        TypeExpr::Array(elem, span) => {
            let elem = resolve_type(elem)?;
            Ty::array_of(elem).ok_or_else(|| Diagnostic::new(*span, format!("arrays hold `i64` or `f64`, not `{elem}`")))
        }
    }
}
