//! Calls: Ore functions (this module's, the namespace's), `extern fn`s, the
//! built-ins, and the `py_*` built-ins.

use super::function::FnChecker;
use crate::abi::MAX_PY_ARGS;
use crate::syntax::ast::{self, Span};
use crate::tir::{self, Callee};
use crate::types::Ty;

impl FnChecker<'_, '_> {
    pub(super) fn call(&mut self, callee: &ast::Ident, args: &[ast::Expr], span: Span) -> tir::Expr {
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
    pub(super) fn python_builtin(&mut self, name: &str, args: &[ast::Expr], span: Span) -> tir::Expr {
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

    pub(super) fn arity_error(&mut self, name: &str, expected: usize, given: usize, span: Span) -> tir::Expr {
        let plural = if expected == 1 { "" } else { "s" };
        self.error(span, format!("`{name}` takes {expected} argument{plural}, but {given} were given"))
    }
}
