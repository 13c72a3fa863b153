//! Expressions and operators.

use super::function::{fits, join, poisoned, FnChecker};
use super::BUILTINS;
use crate::syntax::ast::{self, BinOp, ExprKind, Span, TypeExpr, UnOp};
use crate::tir;
use crate::types::Ty;

impl FnChecker<'_, '_> {
    pub(super) fn expr(&mut self, e: &ast::Expr) -> tir::Expr {
        // Nesting is bounded by the parser; this covers threads with small stacks.
        stacker::maybe_grow(64 * 1024, 1024 * 1024, || self.expr_inner(e))
    }

    pub(super) fn typed(ty: Ty, span: Span, kind: tir::ExprKind) -> tir::Expr {
        tir::Expr { ty, span, kind }
    }

    pub(super) fn expr_inner(&mut self, e: &ast::Expr) -> tir::Expr {
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
            ExprKind::Return(_) if self.inferring => {
                self.error(span, "`return` cannot end an input early: its value is its final expression")
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
    pub(super) fn expect(&mut self, e: &ast::Expr, expected: Ty) -> tir::Expr {
        let checked = self.expr(e);
        if !fits(checked.ty, expected) {
            self.error(checked.span, format!("expected `{expected}`, found `{}`", checked.ty));
        }
        checked
    }

    pub(super) fn callable(&self, name: &str) -> bool {
        BUILTINS.contains(&name)
            || self.module.functions.contains_key(name)
            || self.module.externs.contains_key(name)
            || self.module.env.function(name).is_some()
            || self.module.env.extern_fn(name).is_some()
    }

    pub(super) fn unary(&mut self, op: UnOp, operand: &ast::Expr, span: Span) -> tir::Expr {
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

    pub(super) fn binary(&mut self, op: BinOp, a: &ast::Expr, b: &ast::Expr, span: Span) -> tir::Expr {
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

    pub(super) fn mismatched_operands(&mut self, op: BinOp, a: Ty, b: Ty, span: Span) -> tir::Expr {
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

    pub(super) fn cast(&mut self, operand: &ast::Expr, target: &TypeExpr, span: Span) -> tir::Expr {
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
}
