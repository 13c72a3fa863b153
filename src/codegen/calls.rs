//! Calls: Ore functions through their slots (or a guarded copy, or directly with
//! `Unchecked::direct_calls`), `extern fn`s with the C convention, and Python.

use super::function::{Body, FnCodegen};
use super::{c_type, inline, ore_fn_type, value, value_type, InlineCopy};
use crate::abi::{self, py_arg, py_conversion, RuntimeFn};
use crate::llvm::ir::{Function, IntPredicate, Type, Value};
use crate::syntax::ast::Span;
use crate::tir::{self, Callee, PyOp};
use crate::types::{CType, FnSig, Ty};

impl<'m> FnCodegen<'m, '_> {
    /// A Python built-in: the runtime returns 64 bits, converted here to `ty`.
    /// (`at`: the call's span.)
    pub(super) fn python(&mut self, op: PyOp, args: &[tir::Expr], ty: Ty, at: Span) -> Option<Value<'m>> {
        let m = self.m;
        let i64t = m.i64();
        let conversion = m.const_int(
            i64t,
            match ty {
                Ty::I64 => py_conversion::I64,
                Ty::F64 => py_conversion::F64,
                Ty::Bool => py_conversion::BOOL,
                Ty::Str => py_conversion::STR,
                _ => py_conversion::DROP,
            },
        );
        let mut values = Vec::with_capacity(args.len());
        for a in args {
            values.push(value!(self.expr(a)));
        }
        let bits = match op {
            PyOp::Exec => {
                let exec = self.runtime(RuntimeFn::PyExec);
                m.call(exec, &[self.ctx, values[0]]);
                None
            }
            PyOp::Eval => {
                let eval = self.runtime(RuntimeFn::PyEval);
                Some(m.call(eval, &[self.ctx, values[0], conversion]))
            }
            PyOp::Call => {
                let mut call_args = vec![self.ctx, values[0], m.const_int(i64t, args.len() as i64 - 1)];
                let zero = m.const_int(i64t, 0);
                for i in 0..abi::MAX_PY_ARGS {
                    let (tag, bits) = match (args.get(i + 1), values.get(i + 1)) {
                        (Some(a), Some(v)) => match a.ty {
                            Ty::F64 => (py_arg::F64, m.bitcast(*v, i64t)),
                            Ty::Bool => (py_arg::BOOL, m.zext(*v, i64t)),
                            Ty::Str => (py_arg::STR, m.ptr_to_int(*v)),
                            _ => (py_arg::I64, *v),
                        },
                        _ => (py_arg::I64, zero),
                    };
                    call_args.push(m.const_int(i64t, tag));
                    call_args.push(bits);
                }
                call_args.push(conversion);
                Some(m.call(self.runtime(RuntimeFn::PyCall), &call_args))
            }
        };
        self.check_trapped(at);
        let bits = bits?;
        match ty {
            Ty::I64 => Some(bits),
            Ty::F64 => Some(m.bitcast(bits, m.f64())),
            Ty::Bool => Some(m.icmp(IntPredicate::LLVMIntNE, bits, m.const_int(i64t, 0))),
            Ty::Str => Some(m.int_to_ptr(bits)),
            _ => None,
        }
    }

    /// A call through `name`'s slot. The slot is read after the arguments: code they
    /// run (a `load`) may define or replace the callee. An empty slot means the
    /// current definition has not been compiled (or there is none): the runtime
    /// compiles it and fills the slot, or raises `undefined function`.
    pub(super) fn slot_call(&mut self, name: &str, sig: &FnSig, values: &[Value<'m>]) -> Value<'m> {
        let target = self.slot_target(name, name, RuntimeFn::Resolve);
        self.m.call_indirect(ore_fn_type(self.m, sig), target, values)
    }

    /// What the slot with `key` holds, or, when it is empty, what `resolve` finds
    /// for `name` (never null: after an error, code that returns at once, and the
    /// test after the call leaves).
    fn slot_target(&mut self, key: &str, name: &str, resolve: RuntimeFn) -> Value<'m> {
        let m = self.m;
        let slot = m.external_global(&abi::slot_symbol(key));
        let loaded = self.shared_load(m.ptr(), 8, slot);
        let empty = m.icmp(IntPredicate::LLVMIntEQ, loaded, m.const_null(m.ptr()));
        let (loaded_bb, resolve_bb, call_bb) =
            (m.current_block(), m.append_block(self.llvm_fn, "resolve"), m.append_block(self.llvm_fn, "call"));
        m.cond_br(self.unlikely(empty), resolve_bb, call_bb);
        m.position_at_end(resolve_bb);
        let resolve = self.runtime(resolve);
        let resolved = m.call(resolve, &[self.ctx, m.const_c_string(name.as_bytes())]);
        let resolved_bb = m.current_block();
        m.br(call_bb);
        m.position_at_end(call_bb);
        m.phi(m.ptr(), &[(loaded, loaded_bb), (resolved, resolved_bb)])
    }

    /// A call of a small callee of the same module through a copy of it in this
    /// module (which LLVM inlines), while the slot still stands for the definition
    /// the copy was made from; once that definition is replaced or unloaded, through
    /// the slot as usual.
    pub(super) fn guarded_copy_call(&mut self, name: &str, sig: &FnSig, copy: &InlineCopy, values: &[Value<'m>]) -> Value<'m> {
        let m = self.m;
        let current = self.shared_load(m.i64(), 8, self.definition_word(name));
        let same = self.is_definition(IntPredicate::LLVMIntEQ, name, current);
        let (copy_bb, slot_bb, join_bb) =
            (m.append_block(self.llvm_fn, "copy"), m.append_block(self.llvm_fn, "redefined"), m.append_block(self.llvm_fn, "joined"));
        m.cond_br(same, copy_bb, slot_bb);
        m.position_at_end(copy_bb);
        let callee = self.copy_of(name, copy);
        let from_copy = m.call(callee, values);
        let copy_end = m.current_block();
        m.br(join_bb);
        m.position_at_end(slot_bb);
        let from_slot = self.slot_call(name, sig, values);
        let slot_end = m.current_block();
        m.br(join_bb);
        m.position_at_end(join_bb);
        match value_type(m, sig.ret) {
            Some(t) => m.phi(t, &[(from_copy, copy_end), (from_slot, slot_end)]),
            None => from_copy,
        }
    }

    /// The word of `name`'s slot that holds its current definition's number.
    fn definition_word(&self, name: &str) -> Value<'m> {
        let m = self.m;
        let slot = m.external_global(&abi::slot_symbol(name));
        m.gep(m.i8(), slot, m.const_int(m.i64(), abi::slot::DEFINITION as i64))
    }

    /// Compares definition number `current` (`predicate`) with the number of the
    /// definition of `name` that this module was made from, which the linker
    /// gives `abi::definition_symbol(name)`.
    fn is_definition(&self, predicate: IntPredicate, name: &str, current: Value<'m>) -> Value<'m> {
        let m = self.m;
        m.icmp(predicate, current, m.ptr_to_int(m.external_global(&abi::definition_symbol(name))))
    }

    /// The prologue of a function whose calls of itself are direct calls
    /// (`recursion`), which LLVM can optimise as it cannot calls through the
    /// slot: once this code is no longer its name's current definition (replaced
    /// or unloaded), the call goes on through the slot, so a redefinition still
    /// wins at the next call. What that call returns is returned as it is: the
    /// caller tests for an error as after any call, so the trace has no frame
    /// of this one.
    pub(super) fn forward_if_replaced(&mut self) {
        let m = self.m;
        let name = &self.func.name;
        // Acquire: the engine empties the slot's code before it stores another
        // definition's number (release), so code that sees that number does not
        // find itself in the slot, and forwards at most once.
        let current = m.load_acquire(m.i64(), 8, self.definition_word(name));
        let replaced = self.is_definition(IntPredicate::LLVMIntNE, name, current);
        let (forward_bb, own_bb) = (m.append_block(self.llvm_fn, "replaced"), m.append_block(self.llvm_fn, "current"));
        m.cond_br(self.unlikely(replaced), forward_bb, own_bb);
        m.position_at_end(forward_bb);
        let params = 1 + self.func.sig.params.len() as u32;
        let values: Vec<Value<'m>> = (0..params).map(|i| m.param(self.llvm_fn, i)).collect();
        let result = self.slot_call(name, &self.func.sig, &values);
        match value_type(m, self.func.sig.ret) {
            Some(_) => m.ret(result),
            None => m.ret_void(),
        }
        m.position_at_end(own_bb);
    }

    /// This module's copy of `name`, defined on first use (copies make no copies).
    pub(super) fn copy_of(&mut self, name: &str, copy: &InlineCopy) -> Function<'m> {
        if let Some(f) = self.copies.get(name) {
            return *f;
        }
        let m = self.m;
        let here = m.current_block();
        // Copies call no Ore function, so they carry no copies themselves.
        let debug = self.debug.map(|(d, _)| d);
        let f =
            FnCodegen::emit(m, &copy.func, &abi::copy_symbol(name), Body::Copy, self.callees, inline::Budget::none(), self.options, debug);
        m.position_at_end(here);
        // The builder's location was the copy's.
        self.reapply_location();
        self.copies.insert(name.to_string(), f);
        f
    }

    /// The call at `at`.
    pub(super) fn call(&mut self, callee: &Callee, args: &[tir::Expr], ty: Ty, at: Span) -> Option<Value<'m>> {
        let m = self.m;
        let mut values = Vec::with_capacity(args.len() + 1);
        match callee {
            Callee::Ore { name, sig } => {
                values.push(self.ctx);
                for a in args {
                    values.push(value!(self.expr(a)));
                }
                let pays = self.options.hot || !self.loops.is_empty();
                let copy = if pays { self.budget.take(self.callees.inline(name)) } else { None };
                let direct = self.options.unchecked.direct_calls.then(|| self.callees.direct(name)).flatten();
                let recursion = self.recursion.filter(|_| *name == self.func.name);
                let result = match (copy, direct, recursion) {
                    (_, _, Some(own)) => m.call(own, &values),
                    (Some(copy), Some(_), _) => {
                        let callee = self.copy_of(name, &copy);
                        m.call(callee, &values)
                    }
                    (Some(copy), None, _) => self.guarded_copy_call(name, sig, &copy, &values),
                    (None, Some(symbol), _) => m.call(m.declare(&symbol, ore_fn_type(m, sig)), &values),
                    (None, None, None) => self.slot_call(name, sig, &values),
                };
                self.check_trapped(at);
                value_type(m, ty).map(|_| result)
            }
            Callee::Extern { symbol, sig, host } => {
                for (a, c) in args.iter().zip(&sig.params) {
                    let v = value!(self.expr(a));
                    values.push(match c {
                        CType::I32 => m.trunc(v, m.i32()),
                        CType::Bool => m.zext(v, m.i8()),
                        _ => v,
                    });
                }
                let params: Vec<Type<'m>> = sig.params.iter().map(|c| c_type(m, *c)).collect();
                let fn_type = m.fn_type(c_type(m, sig.ret), &params);
                // An LLVM IR function is called through its slot, so that its module
                // can be replaced or removed; it may call host functions that fail.
                let (result, may_fail) = if self.callees.extern_slot(symbol) {
                    let target = self.slot_target(&abi::extern_slot_key(symbol), symbol, RuntimeFn::ResolveExtern);
                    (m.call_indirect(fn_type, target, &values), true)
                } else {
                    (m.call(m.declare(symbol, fn_type), &values), *host)
                };
                if may_fail {
                    self.check_trapped(at);
                }
                match sig.ret {
                    CType::I32 => Some(m.sext(result, m.i64())),
                    CType::Bool => Some(m.icmp(IntPredicate::LLVMIntNE, result, m.const_int(m.i8(), 0))),
                    CType::Unit => None,
                    _ => Some(result),
                }
            }
        }
    }
}
