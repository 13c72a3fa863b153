//! The type checker: syntax tree plus the namespace's existing symbols in, typed IR
//! (`tir`) or every diagnostic out. It keeps going after an error (the failed
//! expression gets type `!`, which fits anywhere) so one mistake yields one message.

use crate::diagnostics::Diagnostic;
use crate::syntax::ast::{self, BinOp, Block, ExprKind, FnItem, Item, Span, Stmt, TypeExpr, UnOp};
use crate::tir::{self, Callee, Local, LocalId};
use crate::types::{CType, ExternSig, FnSig, Ty};
use std::collections::HashMap;

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

use crate::abi::MAX_PY_ARGS;

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
    /// Where it was first declared or defined, as `FILE:LINE:COL`.
    pub origin: String,
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

pub struct Options {
    /// Require a `main` suitable for `ore run` (i64 parameters, printable result).
    pub require_main: bool,
    /// Whether the `py_*` built-ins may be used.
    pub allow_python: bool,
}

pub fn check_module(items: &[Item], env: &dyn Environment, options: &Options) -> Result<CheckedModule, Vec<Diagnostic>> {
    let mut checker = ModuleChecker {
        env,
        diags: Vec::new(),
        functions: HashMap::new(),
        externs: HashMap::new(),
        uses_python: std::cell::Cell::new(false),
        allow_python: options.allow_python,
    };
    let mut module = CheckedModule::default();
    checker.collect(items, &mut module);
    if options.require_main {
        checker.check_main(items);
    }
    for item in items {
        if let Item::Fn(f @ FnItem { body: Some(body), .. }) = item {
            if let Some(sig) = checker.functions.get(&f.name.name).map(|e| e.sig.clone()) {
                let func = FnChecker::new(&checker, f, sig).check_body(body);
                match func {
                    Ok(func) => module.functions.push(func),
                    Err(mut diags) => checker.diags.append(&mut diags),
                }
            }
        }
    }
    module.uses_python = checker.uses_python.get() || module.externs.iter().any(|(name, _)| crate::abi::is_python_symbol(name));
    if checker.diags.is_empty() {
        Ok(module)
    } else {
        Err(checker.diags)
    }
}

struct FnEntry {
    sig: FnSig,
    defined: bool,
}

struct ModuleChecker<'a> {
    env: &'a dyn Environment,
    diags: Vec<Diagnostic>,
    /// This module's functions (defined or declared), for forward references.
    functions: HashMap<String, FnEntry>,
    externs: HashMap<String, ExternSig>,
    /// Set by any function body that uses a `py_*` built-in.
    uses_python: std::cell::Cell<bool>,
    allow_python: bool,
}

impl ModuleChecker<'_> {
    fn error(&mut self, span: Span, message: impl Into<String>) {
        self.diags.push(Diagnostic::new(span, message));
    }

    /// Registers every item's signature so bodies can refer to functions defined later.
    fn collect(&mut self, items: &[Item], module: &mut CheckedModule) {
        for item in items {
            match item {
                Item::Fn(f) => self.collect_fn(f, module),
                Item::Extern(f) => self.collect_extern(f, module),
            }
        }
    }

    fn collect_fn(&mut self, f: &FnItem, module: &mut CheckedModule) {
        let name = &f.name.name;
        if BUILTINS.contains(&name.as_str()) {
            return self.error(f.name.span, format!("`{name}` is a built-in function and cannot be redefined"));
        }
        let Some(sig) = self.fn_signature(f) else { return };
        if self.externs.contains_key(name) || self.env.extern_fn(name).is_some() {
            return self.error(f.name.span, format!("`{name}` is already declared as an `extern fn`"));
        }
        if let Some(existing) = self.env.function(name) {
            // Same signature: this module replaces (or declares again) the function.
            if existing.sig != sig {
                let message =
                    format!("`{name}` is `{sig}` here, but `{}` where it was first declared, at {}", existing.sig, existing.origin);
                return self.error(f.span, message);
            }
        }
        let defines = f.body.is_some();
        match self.functions.get_mut(name) {
            Some(entry) if entry.sig != sig => {
                let message = format!("`{name}` is declared as `{}` elsewhere in this module, not `{sig}`", entry.sig);
                self.error(f.span, message)
            }
            Some(entry) if entry.defined && defines => {
                self.error(f.name.span, format!("`{name}` is defined more than once in this module"))
            }
            Some(entry) => {
                entry.defined |= defines;
                if defines {
                    if let Some(s) = module.signatures.iter_mut().find(|s| s.name == *name) {
                        s.defines = true;
                    }
                }
            }
            None => {
                module.signatures.push(Signature { name: name.clone(), sig: sig.clone(), defines, span: f.span });
                self.functions.insert(name.clone(), FnEntry { sig, defined: defines });
            }
        }
    }

    fn collect_extern(&mut self, f: &FnItem, module: &mut CheckedModule) {
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

    fn check_main(&mut self, items: &[Item]) {
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

    fn fn_signature(&mut self, f: &FnItem) -> Option<FnSig> {
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

    fn extern_signature(&mut self, f: &FnItem) -> Option<ExternSig> {
        let params: Vec<Option<CType>> = f.params.iter().map(|p| self.c_type(&p.ty, false)).collect();
        let ret = match &f.ret {
            Some(t) => self.c_type(t, true),
            None => Some(CType::Unit),
        };
        let params: Option<Vec<CType>> = params.into_iter().collect();
        Some(ExternSig { params: params?, ret: ret? })
    }

    fn ore_type(&mut self, t: &TypeExpr) -> Option<Ty> {
        resolve_type(t).map_err(|d| self.diags.push(d)).ok()
    }

    fn c_type(&mut self, t: &TypeExpr, is_return: bool) -> Option<CType> {
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
fn resolve_type(t: &TypeExpr) -> Result<Ty, Diagnostic> {
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

/// Checks one function body.
struct FnChecker<'m, 'a> {
    module: &'m ModuleChecker<'a>,
    name: String,
    sig: FnSig,
    locals: Vec<Local>,
    mutable: Vec<bool>,
    /// Visible names, innermost last; `scope_starts` marks where each block began.
    scope: Vec<(String, LocalId)>,
    scope_starts: Vec<usize>,
    loop_depth: usize,
    diags: Vec<Diagnostic>,
}

/// The result of a failed expression: `!` fits anywhere, so no follow-on errors.
fn poisoned(span: Span) -> tir::Expr {
    tir::Expr { ty: Ty::Never, span, kind: tir::ExprKind::Block(Vec::new(), None) }
}

/// The common type of two branches, where `!` yields to the other.
fn join(a: Ty, b: Ty) -> Option<Ty> {
    match (a, b) {
        (Ty::Never, t) | (t, Ty::Never) => Some(t),
        (a, b) if a == b => Some(a),
        _ => None,
    }
}

fn fits(actual: Ty, expected: Ty) -> bool {
    actual == expected || actual == Ty::Never
}

impl<'m, 'a> FnChecker<'m, 'a> {
    fn new(module: &'m ModuleChecker<'a>, f: &FnItem, sig: FnSig) -> Self {
        let mut checker = FnChecker {
            module,
            name: f.name.name.clone(),
            sig: sig.clone(),
            locals: Vec::new(),
            mutable: Vec::new(),
            scope: Vec::new(),
            scope_starts: Vec::new(),
            loop_depth: 0,
            diags: Vec::new(),
        };
        for (p, ty) in f.params.iter().zip(&sig.params) {
            checker.declare(&p.name.name, *ty, false);
        }
        checker
    }

    fn error(&mut self, span: Span, message: impl Into<String>) -> tir::Expr {
        self.diags.push(Diagnostic::new(span, message));
        poisoned(span)
    }

    fn declare(&mut self, name: &str, ty: Ty, mutable: bool) -> LocalId {
        let id = self.locals.len();
        self.locals.push(Local { ty });
        self.mutable.push(mutable);
        self.scope.push((name.to_string(), id));
        id
    }

    fn lookup(&self, name: &str) -> Option<LocalId> {
        self.scope.iter().rev().find(|(n, _)| n == name).map(|(_, id)| *id)
    }

    fn check_body(mut self, body: &Block) -> Result<tir::Function, Vec<Diagnostic>> {
        let body_expr = self.block(body);
        let ret = self.sig.ret;
        if !fits(body_expr.ty, ret) {
            let span = body.tail.as_ref().map_or(Span::new(body.span.end - 1, body.span.end), |t| t.span);
            let message = if ret == Ty::Unit {
                format!("function `{}` returns nothing, but its body has type `{}`", self.name(), body_expr.ty)
            } else {
                format!("function `{}` must return `{ret}`, but its body has type `{}`", self.name(), body_expr.ty)
            };
            self.error(span, message);
        }
        if !self.diags.is_empty() {
            return Err(self.diags);
        }
        Ok(tir::Function { name: self.name, sig: self.sig, locals: self.locals, body: body_expr })
    }

    fn name(&self) -> &str {
        &self.name
    }
}

impl FnChecker<'_, '_> {
    fn expr(&mut self, e: &ast::Expr) -> tir::Expr {
        // Nesting is bounded by the parser; this covers threads with small stacks.
        stacker::maybe_grow(64 * 1024, 1024 * 1024, || self.expr_inner(e))
    }

    fn typed(ty: Ty, span: Span, kind: tir::ExprKind) -> tir::Expr {
        tir::Expr { ty, span, kind }
    }

    fn expr_inner(&mut self, e: &ast::Expr) -> tir::Expr {
        let span = e.span;
        match &e.kind {
            ExprKind::Int(v) => match i64::try_from(*v) {
                Ok(v) => Self::typed(Ty::I64, span, tir::ExprKind::Int(v)),
                Err(_) => self.error(span, "integer literal out of range for i64"),
            },
            ExprKind::Float(v) => Self::typed(Ty::F64, span, tir::ExprKind::Float(*v)),
            ExprKind::Bool(b) => Self::typed(Ty::Bool, span, tir::ExprKind::Bool(*b)),
            ExprKind::Str(s) => Self::typed(Ty::Str, span, tir::ExprKind::Str(s.clone())),
            ExprKind::Name(name) => match self.lookup(name) {
                Some(id) => Self::typed(self.locals[id].ty, span, tir::ExprKind::Local(id)),
                None if self.callable(name) => self.error(span, format!("`{name}` is a function; call it with `{name}(...)`")),
                None => self.error(span, format!("unknown variable `{name}`")),
            },
            ExprKind::Unary(op, operand) => self.unary(*op, operand, span),
            ExprKind::Binary(op, a, b) => self.binary(*op, a, b, span),
            ExprKind::Cast(operand, target) => self.cast(operand, target, span),
            ExprKind::Call(callee, args) => self.call(callee, args, span),
            ExprKind::Index(array, index) => {
                let array = self.expr(array);
                let index = self.expect(index, Ty::I64);
                match array.ty {
                    Ty::Never => poisoned(span),
                    ty => match ty.element() {
                        Some(elem) => Self::typed(elem, span, tir::ExprKind::Index(Box::new(array), Box::new(index))),
                        None => self.error(array.span, format!("cannot index a value of type `{ty}`")),
                    },
                }
            }
            ExprKind::ArrayRepeat(value, len) => {
                let value = self.expr(value);
                let len = self.expect(len, Ty::I64);
                match Ty::array_of(value.ty) {
                    Some(ty) => Self::typed(ty, span, tir::ExprKind::ArrayNew { value: Box::new(value), len: Box::new(len) }),
                    None if value.ty == Ty::Never => poisoned(span),
                    None => self.error(value.span, format!("array elements must be `i64` or `f64`, not `{}`", value.ty)),
                }
            }
            ExprKind::Block(b) => self.block(b),
            ExprKind::If(cond, then, els) => self.if_expr(cond, then, els.as_deref(), span),
            ExprKind::While(cond, body) => {
                let cond = self.expect(cond, Ty::Bool);
                self.loop_depth += 1;
                let body_span = body.span;
                let body = self.block(body);
                self.loop_depth -= 1;
                if !fits(body.ty, Ty::Unit) {
                    self.error(body_span, format!("the body of `while` must have type `()`, not `{}`", body.ty));
                }
                Self::typed(Ty::Unit, span, tir::ExprKind::While(Box::new(cond), Box::new(body)))
            }
            ExprKind::Return(value) => {
                let ret = self.sig.ret;
                let value = match value {
                    Some(v) => {
                        let v = self.expr(v);
                        if !fits(v.ty, ret) {
                            let message = if ret == Ty::Unit {
                                format!("function `{}` returns nothing, but this is `{}`", self.name, v.ty)
                            } else {
                                format!("expected `{ret}` (the return type of `{}`), found `{}`", self.name, v.ty)
                            };
                            self.error(v.span, message);
                        }
                        Some(Box::new(v))
                    }
                    None if ret != Ty::Unit => {
                        return self.error(span, format!("`return` needs a value of type `{ret}` here"));
                    }
                    None => None,
                };
                Self::typed(Ty::Never, span, tir::ExprKind::Return(value))
            }
            ExprKind::Break | ExprKind::Continue if self.loop_depth == 0 => {
                let word = if matches!(e.kind, ExprKind::Break) { "break" } else { "continue" };
                self.error(span, format!("`{word}` outside of a loop"))
            }
            ExprKind::Break => Self::typed(Ty::Never, span, tir::ExprKind::Break),
            ExprKind::Continue => Self::typed(Ty::Never, span, tir::ExprKind::Continue),
        }
    }

    /// Checks `e` and reports a mismatch with `expected` at `e`'s span.
    fn expect(&mut self, e: &ast::Expr, expected: Ty) -> tir::Expr {
        let checked = self.expr(e);
        if !fits(checked.ty, expected) {
            self.error(checked.span, format!("expected `{expected}`, found `{}`", checked.ty));
        }
        checked
    }

    fn callable(&self, name: &str) -> bool {
        BUILTINS.contains(&name)
            || self.module.functions.contains_key(name)
            || self.module.externs.contains_key(name)
            || self.module.env.function(name).is_some()
            || self.module.env.extern_fn(name).is_some()
    }

    fn unary(&mut self, op: UnOp, operand: &ast::Expr, span: Span) -> tir::Expr {
        let operand = self.expr(operand);
        let ty = operand.ty;
        let ok = match op {
            UnOp::Neg => matches!(ty, Ty::I64 | Ty::F64 | Ty::Never),
            UnOp::Not => matches!(ty, Ty::I64 | Ty::Bool | Ty::Never),
        };
        if !ok {
            let (symbol, wants) = match op {
                UnOp::Neg => ("-", "`i64` or `f64`"),
                UnOp::Not => ("!", "`i64` or `bool`"),
            };
            return self.error(span, format!("operator `{symbol}` takes {wants}, not `{ty}`"));
        }
        let kind = match op {
            UnOp::Neg => tir::ExprKind::Neg(Box::new(operand)),
            UnOp::Not => tir::ExprKind::Not(Box::new(operand)),
        };
        Self::typed(ty, span, kind)
    }

    fn binary(&mut self, op: BinOp, a: &ast::Expr, b: &ast::Expr, span: Span) -> tir::Expr {
        let a = self.expr(a);
        let b = self.expr(b);
        let Some(operand) = join(a.ty, b.ty) else {
            return self.mismatched_operands(op, a.ty, b.ty, span);
        };
        use BinOp::*;
        let result = match op {
            Add | Sub | Mul | Div | Rem if matches!(operand, Ty::I64 | Ty::F64 | Ty::Never) => operand,
            Shl | Shr | BitAnd | BitOr | BitXor if matches!(operand, Ty::I64 | Ty::Never) => Ty::I64,
            Lt | Le | Gt | Ge if matches!(operand, Ty::I64 | Ty::F64 | Ty::Never) => Ty::Bool,
            Eq | Ne if matches!(operand, Ty::I64 | Ty::F64 | Ty::Bool | Ty::Never) => Ty::Bool,
            And | Or if matches!(operand, Ty::Bool | Ty::Never) => Ty::Bool,
            _ => return self.mismatched_operands(op, a.ty, b.ty, span),
        };
        Self::typed(result, span, tir::ExprKind::Binary(op, Box::new(a), Box::new(b)))
    }

    fn mismatched_operands(&mut self, op: BinOp, a: Ty, b: Ty, span: Span) -> tir::Expr {
        use BinOp::*;
        let wants = match op {
            Add | Sub | Mul | Div | Rem | Lt | Le | Gt | Ge => "two `i64` or two `f64`",
            Shl | Shr | BitAnd | BitOr | BitXor => "two `i64`",
            Eq | Ne => "two `i64`, two `f64` or two `bool`",
            And | Or => "two `bool`",
        };
        let hint = if matches!((a, b), (Ty::I64, Ty::F64) | (Ty::F64, Ty::I64)) { " (convert with `as`)" } else { "" };
        self.error(span, format!("operator `{}` takes {wants}, not `{a}` and `{b}`{hint}", op.symbol()))
    }

    fn cast(&mut self, operand: &ast::Expr, target: &TypeExpr, span: Span) -> tir::Expr {
        let operand = self.expr(operand);
        let target_ty = match target {
            TypeExpr::Named(id) => match id.name.as_str() {
                "i64" => Ty::I64,
                "f64" => Ty::F64,
                "bool" => Ty::Bool,
                other => return self.error(target.span(), format!("cannot cast to `{other}`; `as` converts between i64, f64 and bool")),
            },
            other => return self.error(other.span(), "`as` converts between i64, f64 and bool only"),
        };
        let allowed = matches!((operand.ty, target_ty), (Ty::Never, _) | (Ty::I64, Ty::F64) | (Ty::F64, Ty::I64) | (Ty::Bool, Ty::I64))
            || operand.ty == target_ty;
        if !allowed {
            return self.error(span, format!("cannot cast `{}` to `{target_ty}`", operand.ty));
        }
        Self::typed(target_ty, span, tir::ExprKind::Cast(Box::new(operand)))
    }

    fn call(&mut self, callee: &ast::Ident, args: &[ast::Expr], span: Span) -> tir::Expr {
        let name = callee.name.as_str();
        if self.lookup(name).is_some() {
            return self.error(callee.span, format!("`{name}` is a variable, not a function"));
        }
        match name {
            "print" => {
                let [arg] = args else { return self.arity_error(name, 1, args.len(), span) };
                let arg = self.expr(arg);
                if !(arg.ty.is_printable() || arg.ty == Ty::Never) {
                    return self.error(arg.span, format!("`print` takes i64, f64, bool or str, not `{}`", arg.ty));
                }
                return Self::typed(Ty::Unit, span, tir::ExprKind::Print(Box::new(arg)));
            }
            _ if name.starts_with("py_") => return self.python_builtin(name, args, span),
            "load" => {
                let [arg] = args else { return self.arity_error(name, 1, args.len(), span) };
                let arg = self.expect(arg, Ty::Str);
                return Self::typed(Ty::Bool, span, tir::ExprKind::Load(Box::new(arg)));
            }
            "len" => {
                let [arg] = args else { return self.arity_error(name, 1, args.len(), span) };
                let arg = self.expr(arg);
                if arg.ty.element().is_none() && arg.ty != Ty::Never {
                    return self.error(arg.span, format!("`len` takes an array, not `{}`", arg.ty));
                }
                return Self::typed(Ty::I64, span, tir::ExprKind::Len(Box::new(arg)));
            }
            _ => {}
        }
        let module = self.module;
        let (param_tys, ret, target) = if let Some(entry) = module.functions.get(name) {
            let sig = entry.sig.clone();
            (sig.params.clone(), sig.ret, Callee::Ore { name: name.to_string(), sig })
        } else if let Some(existing) = module.env.function(name) {
            let sig = existing.sig;
            (sig.params.clone(), sig.ret, Callee::Ore { name: name.to_string(), sig })
        } else if let Some(sig) = module.externs.get(name).cloned().or_else(|| module.env.extern_fn(name)) {
            let params = sig.params.iter().map(|c| c.ore_type()).collect();
            let host = module.env.is_host_function(name);
            (params, sig.ret.ore_type(), Callee::Extern { symbol: name.to_string(), sig, host })
        } else {
            return self.error(callee.span, format!("unknown function `{name}`"));
        };
        if args.len() != param_tys.len() {
            return self.arity_error(name, param_tys.len(), args.len(), span);
        }
        let args = args.iter().zip(&param_tys).map(|(a, ty)| self.expect(a, *ty)).collect();
        Self::typed(ret, span, tir::ExprKind::Call(target, args))
    }

    /// `py_exec`, `py_eval_*`, `py_call*` (LANGUAGE.md).
    fn python_builtin(&mut self, name: &str, args: &[ast::Expr], span: Span) -> tir::Expr {
        if !self.module.allow_python {
            return self.error(span, format!("`{name}` is not allowed here: this engine does not allow Python"));
        }
        self.module.uses_python.set(true);
        let (op, result) = match name {
            "py_exec" => (tir::PyOp::Exec, Ty::Unit),
            "py_eval_i64" => (tir::PyOp::Eval, Ty::I64),
            "py_eval_f64" => (tir::PyOp::Eval, Ty::F64),
            "py_eval_bool" => (tir::PyOp::Eval, Ty::Bool),
            "py_eval_str" => (tir::PyOp::Eval, Ty::Str),
            "py_call" => (tir::PyOp::Call, Ty::Unit),
            "py_call_i64" => (tir::PyOp::Call, Ty::I64),
            "py_call_f64" => (tir::PyOp::Call, Ty::F64),
            "py_call_bool" => (tir::PyOp::Call, Ty::Bool),
            "py_call_str" => (tir::PyOp::Call, Ty::Str),
            _ => return self.error(span, format!("unknown function `{name}`")),
        };
        let checked = if op == tir::PyOp::Call {
            let Some((callable, rest)) = args.split_first() else {
                return self.error(span, format!("`{name}` takes the callable's name and up to {MAX_PY_ARGS} arguments"));
            };
            if rest.len() > MAX_PY_ARGS {
                return self.error(span, format!("`{name}` passes at most {MAX_PY_ARGS} arguments to Python"));
            }
            let mut checked = vec![self.expect(callable, Ty::Str)];
            for a in rest {
                let a = self.expr(a);
                if !matches!(a.ty, Ty::I64 | Ty::F64 | Ty::Bool | Ty::Str | Ty::Never) {
                    return self.error(a.span, format!("Python arguments are i64, f64, bool or str, not `{}`", a.ty));
                }
                checked.push(a);
            }
            checked
        } else {
            let [code] = args else { return self.arity_error(name, 1, args.len(), span) };
            vec![self.expect(code, Ty::Str)]
        };
        Self::typed(result, span, tir::ExprKind::Python(op, checked))
    }

    fn arity_error(&mut self, name: &str, expected: usize, given: usize, span: Span) -> tir::Expr {
        let plural = if expected == 1 { "" } else { "s" };
        self.error(span, format!("`{name}` takes {expected} argument{plural}, but {given} were given"))
    }

    fn if_expr(&mut self, cond: &ast::Expr, then: &Block, els: Option<&ast::Expr>, span: Span) -> tir::Expr {
        let cond = self.expect(cond, Ty::Bool);
        let then_span = then.span;
        let then = self.block(then);
        let Some(els) = els else {
            if !fits(then.ty, Ty::Unit) {
                self.error(then_span, format!("an `if` without `else` must have type `()`, but this block has type `{}`", then.ty));
            }
            return Self::typed(Ty::Unit, span, tir::ExprKind::If(Box::new(cond), Box::new(then), None));
        };
        let els = self.expr(els);
        let Some(ty) = join(then.ty, els.ty) else {
            return self.error(els.span, format!("`if` and `else` have different types: `{}` and `{}`", then.ty, els.ty));
        };
        Self::typed(ty, span, tir::ExprKind::If(Box::new(cond), Box::new(then), Some(Box::new(els))))
    }

    fn block(&mut self, block: &Block) -> tir::Expr {
        self.scope_starts.push(self.scope.len());
        let mut stmts = Vec::with_capacity(block.stmts.len());
        let mut diverges = false;
        for stmt in &block.stmts {
            let checked = self.stmt(stmt);
            diverges |= match &checked {
                tir::Stmt::Let(_, e) | tir::Stmt::Assign(_, e) | tir::Stmt::Expr(e) => e.ty == Ty::Never,
                tir::Stmt::AssignIndex { array, index, value } => [array, index, value].iter().any(|e| e.ty == Ty::Never),
            };
            stmts.push(checked);
        }
        let tail = block.tail.as_ref().map(|t| Box::new(self.expr(t)));
        let start = self.scope_starts.pop().expect("scope pushed above");
        self.scope.truncate(start);
        let ty = match &tail {
            Some(t) => t.ty,
            None if diverges => Ty::Never,
            None => Ty::Unit,
        };
        Self::typed(ty, block.span, tir::ExprKind::Block(stmts, tail))
    }

    fn stmt(&mut self, stmt: &Stmt) -> tir::Stmt {
        match stmt {
            Stmt::Let { mutable, name, ty, init } => {
                let init = self.expr(init);
                let declared = ty.as_ref().and_then(|t| resolve_type(t).map_err(|d| self.diags.push(d)).ok());
                let local_ty = match declared {
                    Some(d) => {
                        if !fits(init.ty, d) {
                            self.error(init.span, format!("expected `{d}`, found `{}`", init.ty));
                        }
                        d
                    }
                    None if init.ty == Ty::Never => Ty::Unit,
                    None => init.ty,
                };
                let id = self.declare(&name.name, local_ty, *mutable);
                tir::Stmt::Let(id, init)
            }
            Stmt::Assign { target, value } => self.assign(target, value),
            Stmt::Expr { expr, semi } => {
                let checked = self.expr(expr);
                if !semi && !fits(checked.ty, Ty::Unit) {
                    self.error(
                        checked.span,
                        format!("expected `()`, found `{}` (end this expression with `;` to discard its value)", checked.ty),
                    );
                }
                tir::Stmt::Expr(checked)
            }
        }
    }

    fn assign(&mut self, target: &ast::Expr, value: &ast::Expr) -> tir::Stmt {
        // The value is evaluated first (LANGUAGE.md), so it is checked first too.
        let value = self.expr(value);
        match &target.kind {
            ExprKind::Name(name) => {
                let Some(id) = self.lookup(name) else {
                    return tir::Stmt::Expr(self.error(target.span, format!("unknown variable `{name}`")));
                };
                if !self.mutable[id] {
                    let message = format!("cannot assign to `{name}`: it is declared with `let`; use `var` to make it mutable");
                    return tir::Stmt::Expr(self.error(target.span, message));
                }
                let ty = self.locals[id].ty;
                if !fits(value.ty, ty) {
                    self.error(value.span, format!("expected `{ty}`, found `{}`", value.ty));
                }
                tir::Stmt::Assign(id, value)
            }
            ExprKind::Index(array, index) => {
                let array = self.expr(array);
                let index = self.expect(index, Ty::I64);
                match array.ty.element() {
                    Some(elem) => {
                        if !fits(value.ty, elem) {
                            self.error(value.span, format!("expected `{elem}`, found `{}`", value.ty));
                        }
                    }
                    None if array.ty == Ty::Never => {}
                    None => {
                        self.error(array.span, format!("cannot index a value of type `{}`", array.ty));
                    }
                }
                tir::Stmt::AssignIndex { array, index, value }
            }
            _ => tir::Stmt::Expr(self.error(target.span, "invalid assignment target")),
        }
    }
}
