//! One function body: scopes and locals, statements and blocks.

use super::items::{resolve_type, ModuleChecker};
use crate::diagnostics::Diagnostic;
use crate::syntax::ast::{self, Block, ExprKind, FnItem, Span, Stmt};
use crate::tir::{self, Local, LocalId};
use crate::types::{FnSig, Ty};

/// Checks one function body.
pub(super) struct FnChecker<'m, 'a> {
    pub(super) module: &'m ModuleChecker<'a>,
    pub(super) name: String,
    pub(super) span: Span,
    pub(super) sig: FnSig,
    pub(super) locals: Vec<Local>,
    pub(super) mutable: Vec<bool>,
    /// Visible locals, innermost last; `scope_starts` marks where each block began.
    pub(super) scope: Vec<LocalId>,
    pub(super) scope_starts: Vec<usize>,
    pub(super) loop_depth: usize,
    pub(super) diags: Vec<Diagnostic>,
    /// Checking an input to evaluate (`Options::infer_result`), which has no
    /// result type for `return` to meet.
    pub(super) inferring: bool,
}

/// The result of a failed expression: `!` fits anywhere, so no follow-on errors.
pub(super) fn poisoned(span: Span) -> tir::Expr {
    tir::Expr { ty: Ty::Never, span, kind: tir::ExprKind::Block(Vec::new(), None) }
}

/// The common type of two branches, where `!` yields to the other.
pub(super) fn join(a: Ty, b: Ty) -> Option<Ty> {
    match (a, b) {
        (Ty::Never, t) | (t, Ty::Never) => Some(t),
        (a, b) if a == b => Some(a),
        _ => None,
    }
}

pub(super) fn fits(actual: Ty, expected: Ty) -> bool {
    actual == expected || actual == Ty::Never
}

impl<'m, 'a> FnChecker<'m, 'a> {
    pub(super) fn new(module: &'m ModuleChecker<'a>, f: &FnItem, sig: FnSig) -> Self {
        let mut checker = FnChecker {
            module,
            name: f.name.name.clone(),
            span: f.name.span,
            sig,
            locals: Vec::new(),
            mutable: Vec::new(),
            scope: Vec::new(),
            scope_starts: Vec::new(),
            loop_depth: 0,
            diags: Vec::new(),
            inferring: false,
        };
        for (i, p) in f.params.iter().enumerate() {
            checker.declare(&p.name, checker.sig.params[i], false);
        }
        checker
    }

    pub(super) fn error(&mut self, span: Span, message: impl Into<String>) -> tir::Expr {
        self.diags.push(Diagnostic::new(span, message));
        poisoned(span)
    }

    pub(super) fn declare(&mut self, name: &ast::Ident, ty: Ty, mutable: bool) -> LocalId {
        let id = self.locals.len();
        self.locals.push(Local { ty, name: name.name.clone(), span: name.span });
        self.mutable.push(mutable);
        self.scope.push(id);
        id
    }

    pub(super) fn lookup(&self, name: &str) -> Option<LocalId> {
        self.scope.iter().rev().copied().find(|&id| self.locals[id].name == name)
    }

    /// The function, checked; with `infer`, its result type becomes its body's.
    pub(super) fn check_body(mut self, body: &Block, infer: bool) -> Result<tir::Function, Vec<Diagnostic>> {
        self.inferring = infer;
        let body_expr = self.block(body);
        if infer {
            self.sig.ret = if body_expr.ty == Ty::Never { Ty::Unit } else { body_expr.ty };
        }
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
        let source = self.module.source.clone();
        Ok(tir::Function { name: self.name, span: self.span, source, sig: self.sig, locals: self.locals, body: body_expr })
    }

    pub(super) fn name(&self) -> &str {
        &self.name
    }
}

impl FnChecker<'_, '_> {
    pub(super) fn if_expr(&mut self, cond: &ast::Expr, then: &Block, els: Option<&ast::Expr>, span: Span) -> tir::Expr {
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

    pub(super) fn block(&mut self, block: &Block) -> tir::Expr {
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

    pub(super) fn stmt(&mut self, stmt: &Stmt) -> tir::Stmt {
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
                let id = self.declare(name, local_ty, *mutable);
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

    pub(super) fn assign(&mut self, target: &ast::Expr, value: &ast::Expr) -> tir::Stmt {
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
                tir::Stmt::AssignIndex { array: Box::new(array), index: Box::new(index), value: Box::new(value) }
            }
            _ => tir::Stmt::Expr(self.error(target.span, "invalid assignment target")),
        }
    }
}
