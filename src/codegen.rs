//! LLVM IR generation: one typed function in, one LLVM module out. Each function is
//! generated on its own, at its first call (see `engine`), which is what makes a
//! never-called function cost nothing beyond parsing and checking.
//!
//! Calling convention of Ore functions: `ret f(ptr ctx, params...)`, where `ctx` is
//! the caller's `runtime::CallCtx`. A call to an Ore function loads the callee's
//! *slot* (a word owned by the engine, whose address is baked into the code) and
//! calls what it holds: the compiled body, or null while there is none, in which
//! case the call goes to `ore.rt.resolve`, which compiles the current definition
//! (or raises `undefined function NAME`). Replacing a function is one store to its
//! slot. After every call that can fail, the caller tests `ctx.trapped` and returns
//! at once if it is set.

use crate::abi::{self, py_arg, py_conversion, AbiType, RuntimeFn};
use crate::llvm::ir::{Block, Function, IntPredicate, IrModule, RealPredicate, Type, Value};
use crate::syntax::ast::BinOp;
use crate::tir::{self, Callee, ExprKind, PyOp, Stmt};
use crate::types::{CType, ExternSig, FnSig, Ty};
use std::collections::HashMap;
use std::ffi::CStr;

/// Where the code generator finds the address of each Ore function's slot.
pub type SlotResolver<'a> = &'a dyn Fn(&str) -> usize;

/// With `Unchecked::direct_calls`: the symbol to call a function by directly, if it
/// is one of the same module's.
pub type DirectResolver<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A function whose callers may carry a copy of it (`tir::Function::is_inline_candidate`),
/// as the definition numbered `definition`.
pub struct InlineCopy {
    pub func: std::sync::Arc<tir::Function>,
    pub definition: u64,
}

/// Which callees to copy into the caller's module, where LLVM can inline them.
pub type Inliner<'a> = &'a dyn Fn(&str) -> Option<InlineCopy>;

/// What the code generator asks the engine about other functions.
#[derive(Clone, Copy)]
pub struct Resolvers<'a> {
    pub slots: SlotResolver<'a>,
    pub direct: DirectResolver<'a>,
    pub inline: Inliner<'a>,
}

/// The symbol of the host-entry trampoline for one signature.
pub fn trampoline_symbol(sig: &FnSig) -> String {
    let code = |t: &Ty| match t {
        Ty::I64 => 'i',
        Ty::F64 => 'f',
        Ty::Bool => 'b',
        Ty::Str => 's',
        Ty::Ptr => 'p',
        Ty::ArrayI64 => 'a',
        Ty::ArrayF64 => 'd',
        Ty::Unit | Ty::Never => 'u',
    };
    let params: String = sig.params.iter().map(code).collect();
    format!("{}{params}.{}", abi::TRAMPOLINE_PREFIX, code(&sig.ret))
}

/// The LLVM type of an Ore value; `None` for unit and `!`, which have no value.
fn value_type<'m>(m: &'m IrModule, ty: Ty) -> Option<Type<'m>> {
    match ty {
        Ty::I64 => Some(m.i64()),
        Ty::F64 => Some(m.f64()),
        Ty::Bool => Some(m.i1()),
        Ty::Str | Ty::Ptr | Ty::ArrayI64 | Ty::ArrayF64 => Some(m.ptr()),
        Ty::Unit | Ty::Never => None,
    }
}

fn ore_fn_type<'m>(m: &'m IrModule, sig: &FnSig) -> Type<'m> {
    let mut params = vec![m.ptr()];
    params.extend(sig.params.iter().map(|t| value_type(m, *t).expect("parameters have values")));
    m.fn_type(value_type(m, sig.ret).unwrap_or_else(|| m.void()), &params)
}

fn c_type<'m>(m: &'m IrModule, ty: CType) -> Type<'m> {
    match ty {
        CType::I64 => m.i64(),
        CType::I32 => m.i32(),
        CType::F64 => m.f64(),
        CType::Bool => m.i8(),
        CType::Str | CType::Ptr => m.ptr(),
        CType::Unit => m.void(),
    }
}

/// Choices the engine makes for all the code it generates.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Test the call's interrupt word at function entry and loop back-edges
    /// (deadlines; see `runtime::deadline`).
    pub interruptible: bool,
    /// Safety checks left out, to measure what they cost (`Unchecked`).
    pub unchecked: Unchecked,
}

/// For measurement only (`ore run --unchecked`): each flag removes one of the
/// checks LANGUAGE.md requires, so programs that would trip it are undefined
/// behaviour. `direct_calls` calls functions of the same module by symbol instead of
/// through their slots, so a redefinition does not reach those callers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unchecked {
    /// No bounds checks on array indexing.
    pub bounds: bool,
    /// No division-by-zero checks (and `i64::MIN / -1` is undefined).
    pub division: bool,
    /// No stack-depth checks on calls.
    pub stack: bool,
    /// Calls between functions go straight to their symbols, not through slots (no late binding).
    pub direct_calls: bool,
}

/// Generates the module defining `func` as `symbol`.
pub fn generate_function(
    func: &tir::Function,
    symbol: &str,
    resolvers: Resolvers<'_>,
    options: Options,
    triple: &CStr,
    data_layout: &CStr,
) -> IrModule {
    let module = IrModule::new(symbol, triple, data_layout);
    FnCodegen::emit(&module, func, symbol, false, resolvers, options);
    debug_assert_eq!(module.verify(), Ok(()), "invalid IR for `{}`:\n{}", func.name, module.print());
    module
}

/// Generates `void @ore.tramp.SIG(ptr fn, ptr ctx, ptr args, ptr ret)`, which calls
/// an Ore function of signature `sig` with arguments read from 8-byte slots, the
/// shape `runtime::HostCall::invoke` calls.
pub fn generate_trampoline(sig: &FnSig, triple: &CStr, data_layout: &CStr) -> IrModule {
    let name = trampoline_symbol(sig);
    let m = IrModule::new(&name, triple, data_layout);
    {
        let ptr = m.ptr();
        let tramp = m.add_function(&name, m.fn_type(m.void(), &[ptr, ptr, ptr, ptr]), false);
        m.position_at_end(m.append_block(tramp, "entry"));
        let (target, ctx, args, ret) = (m.param(tramp, 0), m.param(tramp, 1), m.param(tramp, 2), m.param(tramp, 3));
        let mut values = vec![ctx];
        for (i, ty) in sig.params.iter().enumerate() {
            let slot = m.gep(m.i64(), args, m.const_int(m.i64(), i as i64));
            values.push(match ty {
                Ty::Bool => m.trunc(m.load(m.i64(), slot), m.i1()),
                other => m.load(value_type(&m, *other).expect("parameters have values"), slot),
            });
        }
        let result = m.call_indirect(ore_fn_type(&m, sig), target, &values);
        match sig.ret {
            Ty::Bool => m.store(m.zext(result, m.i64()), ret),
            Ty::Unit | Ty::Never => {}
            _ => m.store(result, ret),
        }
        m.ret_void();
    }
    debug_assert_eq!(m.verify(), Ok(()));
    m
}

struct FnCodegen<'m, 'f> {
    m: &'m IrModule,
    func: &'f tir::Function,
    resolvers: Resolvers<'f>,
    options: Options,
    /// Inlined copies of callees defined in this module so far, by callee name.
    copies: HashMap<String, Function<'m>>,
    /// Expression nodes this function may still inline (`tir::INLINE_NODES_PER_FUNCTION`).
    inline_budget: usize,
    ctx: Value<'m>,
    /// One stack slot per local (none for unit-typed locals).
    locals: Vec<Option<Value<'m>>>,
    /// (continue target, break target) of each enclosing loop.
    loops: Vec<(Block<'m>, Block<'m>)>,
    /// Returns a dummy value after a runtime error; created on first use.
    unwind: Option<Block<'m>>,
    llvm_fn: Function<'m>,
}

/// Unwraps a value, or ends the current expression: `None` means control cannot
/// reach this point (a `return`/`break` came first), so there is nothing to emit.
macro_rules! value {
    ($e:expr) => {
        match $e {
            Some(v) => v,
            None => return None,
        }
    };
}

impl<'m, 'f> FnCodegen<'m, 'f> {
    /// Defines `func` as `symbol` (with internal linkage for an inlined copy).
    fn emit(
        m: &'m IrModule,
        func: &'f tir::Function,
        symbol: &str,
        internal: bool,
        resolvers: Resolvers<'f>,
        options: Options,
    ) -> Function<'m> {
        let llvm_fn = m.add_function(symbol, ore_fn_type(m, &func.sig), internal);
        m.add_fn_attribute(llvm_fn, "nounwind");
        let entry = m.append_block(llvm_fn, "entry");
        m.position_at_end(entry);
        let locals = func.locals.iter().map(|l| value_type(m, l.ty).map(|t| m.alloca(t))).collect();
        let ctx = m.param(llvm_fn, 0);
        let copies = HashMap::new();
        let mut cg = FnCodegen {
            m,
            func,
            resolvers,
            options,
            copies,
            inline_budget: tir::INLINE_NODES_PER_FUNCTION,
            ctx,
            locals,
            loops: Vec::new(),
            unwind: None,
            llvm_fn,
        };
        for i in 0..func.sig.params.len() {
            if let Some(slot) = cg.locals[i] {
                m.store(m.param(llvm_fn, i as u32 + 1), slot);
            }
        }
        cg.stack_check();
        cg.interrupt_check();
        let result = cg.expr(&func.body);
        if !m.is_terminated() {
            match (result, value_type(m, func.sig.ret)) {
                (Some(v), Some(_)) => m.ret(v),
                (_, None) => m.ret_void(),
                (None, Some(_)) => m.unreachable(),
            }
        }
        llvm_fn
    }

    /// Continues code generation in a fresh block with no predecessors, after a
    /// terminator; LLVM deletes such blocks.
    fn start_dead_block(&mut self) {
        let dead = self.m.append_block(self.llvm_fn, "dead");
        self.m.position_at_end(dead);
    }

    fn unwind_block(&mut self) -> Block<'m> {
        if let Some(b) = self.unwind {
            return b;
        }
        let m = self.m;
        let here = m.current_block();
        let block = m.append_block(self.llvm_fn, "unwind");
        m.position_at_end(block);
        match value_type(m, self.func.sig.ret) {
            Some(t) => m.ret(m.undef(t)),
            None => m.ret_void(),
        }
        m.position_at_end(here);
        self.unwind = Some(block);
        block
    }

    /// Declares an LLVM intrinsic.
    fn intrinsic(&self, name: &str, params: &[Type<'m>], ret: Type<'m>) -> Function<'m> {
        self.m.declare(name, self.m.fn_type(ret, params))
    }

    fn runtime(&self, f: RuntimeFn) -> Function<'m> {
        declare_runtime(self.m, f)
    }

    /// `llvm.expect(cond, false)`: tells LLVM the error path is cold.
    fn unlikely(&self, cond: Value<'m>) -> Value<'m> {
        let m = self.m;
        let expect = self.intrinsic("llvm.expect.i1", &[m.i1(), m.i1()], m.i1());
        m.call(expect, &[cond, m.const_int(m.i1(), 0)])
    }

    /// If `failed`, runs `raise` (which records a runtime error) and leaves the
    /// function; code generation continues on the path where it did not fail.
    fn fail_if(&mut self, failed: Value<'m>, raise: impl FnOnce(&mut Self)) {
        let m = self.m;
        let fail_bb = m.append_block(self.llvm_fn, "fail");
        let ok = m.append_block(self.llvm_fn, "ok");
        m.cond_br(self.unlikely(failed), fail_bb, ok);
        m.position_at_end(fail_bb);
        raise(self);
        let unwind = self.unwind_block();
        m.br(unwind);
        m.position_at_end(ok);
    }

    /// Raises runtime error `code` (with details `a`, `b`) if `failed`.
    fn trap_if(&mut self, failed: Value<'m>, code: i64, a: Value<'m>, b: Value<'m>) {
        self.fail_if(failed, |cg| {
            let m = cg.m;
            let trap = cg.runtime(RuntimeFn::Trap);
            m.call(trap, &[cg.ctx, m.const_int(m.i64(), code), a, b]);
        });
    }

    /// After a call that may have raised an error: leave if it did.
    fn check_trapped(&mut self) {
        let m = self.m;
        let flag_ptr = m.gep(m.i8(), self.ctx, m.const_int(m.i64(), abi::ctx::TRAPPED));
        let flag = m.load(m.i32(), flag_ptr);
        let trapped = m.icmp(IntPredicate::LLVMIntNE, flag, m.const_int(m.i32(), 0));
        let unwind = self.unwind_block();
        let cont = m.append_block(self.llvm_fn, "cont");
        m.cond_br(self.unlikely(trapped), unwind, cont);
        m.position_at_end(cont);
    }

    /// Function entry: refuse to run below the thread's stack limit.
    fn stack_check(&mut self) {
        if self.options.unchecked.stack {
            return;
        }
        let m = self.m;
        let stacksave = self.intrinsic("llvm.stacksave.p0", &[], m.ptr());
        let sp = m.call(stacksave, &[]);
        let limit_ptr = m.gep(m.i8(), self.ctx, m.const_int(m.i64(), abi::ctx::STACK_LIMIT));
        let limit = m.load(m.ptr(), limit_ptr);
        let overflow = m.icmp(IntPredicate::LLVMIntULT, sp, limit);
        let zero = m.const_int(m.i64(), 0);
        self.trap_if(overflow, abi::trap::STACK_OVERFLOW, zero, zero);
    }

    /// With `Options::interruptible`: leave with a timeout error once the watchdog
    /// has set the call's interrupt word. An atomic load, so LLVM cannot hoist it
    /// out of a loop.
    fn interrupt_check(&mut self) {
        if !self.options.interruptible {
            return;
        }
        let m = self.m;
        let word_ptr = m.gep(m.i8(), self.ctx, m.const_int(m.i64(), abi::ctx::INTERRUPT));
        let word = m.load_atomic(m.i32(), 4, word_ptr);
        let interrupted = m.icmp(IntPredicate::LLVMIntNE, word, m.const_int(m.i32(), 0));
        let zero = m.const_int(m.i64(), 0);
        self.trap_if(interrupted, abi::trap::TIMEOUT, zero, zero);
    }

    fn expr(&mut self, e: &tir::Expr) -> Option<Value<'m>> {
        // Nesting is bounded by the parser; this covers threads with small stacks.
        stacker::maybe_grow(64 * 1024, 1024 * 1024, || self.expr_inner(e))
    }

    fn expr_inner(&mut self, e: &tir::Expr) -> Option<Value<'m>> {
        let m = self.m;
        match &e.kind {
            ExprKind::Int(v) => Some(m.const_int(m.i64(), *v)),
            ExprKind::Float(v) => Some(m.const_f64(*v)),
            ExprKind::Bool(b) => Some(m.const_int(m.i1(), *b as i64)),
            ExprKind::Str(s) => Some(m.const_c_string(s.as_bytes())),
            ExprKind::Local(id) => {
                let slot = self.locals[*id]?;
                Some(m.load(value_type(m, e.ty)?, slot))
            }
            ExprKind::Neg(x) => {
                let v = value!(self.expr(x));
                Some(match e.ty {
                    Ty::F64 => m.fneg(v),
                    _ => m.sub(m.const_int(m.i64(), 0), v),
                })
            }
            ExprKind::Not(x) => {
                let v = value!(self.expr(x));
                Some(m.not(v))
            }
            ExprKind::Binary(op @ (BinOp::And | BinOp::Or), a, b) => self.short_circuit(*op, a, b),
            ExprKind::Binary(op, a, b) => {
                let operand_ty = if a.ty == Ty::Never { b.ty } else { a.ty };
                let l = value!(self.expr(a));
                let r = value!(self.expr(b));
                Some(self.binary(*op, operand_ty, l, r))
            }
            ExprKind::Cast(x) => {
                let v = value!(self.expr(x));
                Some(match (x.ty, e.ty) {
                    (Ty::I64, Ty::F64) => m.sitofp(v, m.f64()),
                    (Ty::F64, Ty::I64) => {
                        // Saturating, NaN to 0: exactly LANGUAGE.md's rule.
                        let sat = self.intrinsic("llvm.fptosi.sat.i64.f64", &[m.f64()], m.i64());
                        m.call(sat, &[v])
                    }
                    (Ty::Bool, Ty::I64) => m.zext(v, m.i64()),
                    _ => v,
                })
            }
            ExprKind::Call(callee, args) => self.call(callee, args, e.ty),
            ExprKind::Print(x) => {
                let v = value!(self.expr(x));
                let (print, arg) = match x.ty {
                    Ty::I64 => (RuntimeFn::PrintI64, v),
                    Ty::F64 => (RuntimeFn::PrintF64, v),
                    Ty::Bool => (RuntimeFn::PrintBool, m.zext(v, m.i64())),
                    _ => (RuntimeFn::PrintStr, v),
                };
                m.call(self.runtime(print), &[self.ctx, arg]);
                None
            }
            ExprKind::Load(source) => {
                let src = value!(self.expr(source));
                let load = self.runtime(RuntimeFn::Load);
                let ok = m.call(load, &[self.ctx, src]);
                // A NULL source is a runtime error.
                self.check_trapped();
                Some(m.icmp(IntPredicate::LLVMIntNE, ok, m.const_int(m.i64(), 0)))
            }
            ExprKind::Python(op, args) => self.python(*op, args, e.ty),
            ExprKind::Len(x) => {
                let array = value!(self.expr(x));
                Some(m.load_invariant(m.i64(), array))
            }
            ExprKind::ArrayNew { value, len } => {
                let v = value!(self.expr(value));
                let n = value!(self.expr(len));
                let bits = if value.ty == Ty::F64 { m.bitcast(v, m.i64()) } else { v };
                let new = self.runtime(RuntimeFn::ArrayNew);
                let array = m.call(new, &[self.ctx, n, bits]);
                self.check_trapped();
                Some(array)
            }
            ExprKind::Index(array, index) => {
                let a = value!(self.expr(array));
                let i = value!(self.expr(index));
                let slot = self.element(a, i);
                Some(m.load(value_type(m, e.ty)?, slot))
            }
            ExprKind::Block(stmts, tail) => {
                for s in stmts {
                    value!(self.stmt(s));
                }
                match tail {
                    Some(t) => self.expr(t),
                    None => None,
                }
            }
            ExprKind::If(cond, then, els) => self.if_expr(cond, then, els.as_deref(), e.ty),
            ExprKind::While(cond, body) => {
                let header = m.append_block(self.llvm_fn, "while.cond");
                let body_bb = m.append_block(self.llvm_fn, "while.body");
                let exit = m.append_block(self.llvm_fn, "while.end");
                m.br(header);
                m.position_at_end(header);
                // Every iteration, `continue` included, passes here.
                self.interrupt_check();
                match self.expr(cond) {
                    Some(c) => m.cond_br(c, body_bb, exit),
                    None => m.unreachable(),
                }
                m.position_at_end(body_bb);
                self.loops.push((header, exit));
                self.expr(body);
                self.loops.pop();
                if !m.is_terminated() {
                    m.br(header);
                }
                m.position_at_end(exit);
                None
            }
            ExprKind::Return(value) => {
                let v = value.as_ref().map(|v| self.expr(v));
                match (v, value_type(m, self.func.sig.ret)) {
                    (Some(Some(v)), Some(_)) => m.ret(v),
                    (_, None) => m.ret_void(),
                    // The returned expression itself left: this point is dead.
                    (_, Some(_)) => m.unreachable(),
                }
                self.start_dead_block();
                None
            }
            ExprKind::Break | ExprKind::Continue => {
                let (header, exit) = *self.loops.last().expect("checker ensures a loop");
                m.br(if matches!(e.kind, ExprKind::Break) { exit } else { header });
                self.start_dead_block();
                None
            }
        }
    }

    /// Returns `Some(())` if control continues after the statement.
    fn stmt(&mut self, s: &Stmt) -> Option<()> {
        let m = self.m;
        match s {
            Stmt::Let(id, init) | Stmt::Assign(id, init) => {
                let v = self.expr(init);
                if init.ty == Ty::Never {
                    return None;
                }
                if let (Some(v), Some(slot)) = (v, self.locals[*id]) {
                    m.store(v, slot);
                }
            }
            Stmt::AssignIndex { array, index, value } => {
                let v = self.expr(value)?;
                let a = self.expr(array)?;
                let i = self.expr(index)?;
                let slot = self.element(a, i);
                m.store(v, slot);
            }
            Stmt::Expr(e) => {
                self.expr(e);
                if e.ty == Ty::Never {
                    return None;
                }
            }
        }
        Some(())
    }

    /// The address of `array[index]`, after the bounds check.
    fn element(&mut self, array: Value<'m>, index: Value<'m>) -> Value<'m> {
        let m = self.m;
        if !self.options.unchecked.bounds {
            // An array's length never changes after it is made.
            let len = m.load_invariant(m.i64(), array);
            // Unsigned comparison also catches negative indices.
            let out = m.icmp(IntPredicate::LLVMIntUGE, index, len);
            self.trap_if(out, abi::trap::INDEX_OUT_OF_BOUNDS, index, len);
        }
        let skip_len = m.add(index, m.const_int(m.i64(), 1));
        m.gep(m.i64(), array, skip_len)
    }

    fn binary(&mut self, op: BinOp, operand: Ty, l: Value<'m>, r: Value<'m>) -> Value<'m> {
        let m = self.m;
        use BinOp::*;
        use IntPredicate::*;
        use RealPredicate::*;
        if operand == Ty::F64 {
            return match op {
                Add => m.fadd(l, r),
                Sub => m.fsub(l, r),
                Mul => m.fmul(l, r),
                Div => m.fdiv(l, r),
                Rem => m.frem(l, r),
                Eq => m.fcmp(LLVMRealOEQ, l, r),
                Ne => m.fcmp(LLVMRealUNE, l, r),
                Lt => m.fcmp(LLVMRealOLT, l, r),
                Le => m.fcmp(LLVMRealOLE, l, r),
                Gt => m.fcmp(LLVMRealOGT, l, r),
                Ge => m.fcmp(LLVMRealOGE, l, r),
                _ => unreachable!("checker allows only arithmetic and comparison on f64"),
            };
        }
        match op {
            Add => m.add(l, r),
            Sub => m.sub(l, r),
            Mul => m.mul(l, r),
            Div | Rem => self.int_division(op, l, r),
            Shl | Shr => {
                let amount = m.and(r, m.const_int(m.i64(), 63));
                if op == Shl {
                    m.shl(l, amount)
                } else {
                    m.ashr(l, amount)
                }
            }
            BitAnd => m.and(l, r),
            BitOr => m.or(l, r),
            BitXor => m.xor(l, r),
            Eq => m.icmp(LLVMIntEQ, l, r),
            Ne => m.icmp(LLVMIntNE, l, r),
            Lt => m.icmp(LLVMIntSLT, l, r),
            Le => m.icmp(LLVMIntSLE, l, r),
            Gt => m.icmp(LLVMIntSGT, l, r),
            Ge => m.icmp(LLVMIntSGE, l, r),
            And | Or => unreachable!("short-circuit operators are handled by the caller"),
        }
    }

    /// Truncating division with LANGUAGE.md's edges: a zero divisor traps, and a
    /// divisor of -1 (where `sdiv` would overflow on i64::MIN) gives `-l` and `0`.
    fn int_division(&mut self, op: BinOp, l: Value<'m>, r: Value<'m>) -> Value<'m> {
        let m = self.m;
        if self.options.unchecked.division {
            return if op == BinOp::Div { m.sdiv(l, r) } else { m.srem(l, r) };
        }
        let zero = m.const_int(m.i64(), 0);
        let is_zero = m.icmp(IntPredicate::LLVMIntEQ, r, zero);
        self.trap_if(is_zero, abi::trap::DIVISION_BY_ZERO, zero, zero);
        let minus_one = m.icmp(IntPredicate::LLVMIntEQ, r, m.const_int(m.i64(), -1));
        let divisor = m.select(minus_one, m.const_int(m.i64(), 1), r);
        if op == BinOp::Div {
            let q = m.sdiv(l, divisor);
            m.select(minus_one, m.sub(zero, l), q)
        } else {
            // x % 1 == 0, which is also the defined result of x % -1.
            m.srem(l, divisor)
        }
    }

    fn short_circuit(&mut self, op: BinOp, a: &tir::Expr, b: &tir::Expr) -> Option<Value<'m>> {
        let m = self.m;
        let l = value!(self.expr(a));
        let from_left = m.current_block();
        let rhs = m.append_block(self.llvm_fn, "logic.rhs");
        let merge = m.append_block(self.llvm_fn, "logic.end");
        if op == BinOp::And {
            m.cond_br(l, rhs, merge);
        } else {
            m.cond_br(l, merge, rhs);
        }
        m.position_at_end(rhs);
        let r = self.expr(b);
        let mut incoming = vec![(m.const_int(m.i1(), (op == BinOp::Or) as i64), from_left)];
        match r {
            Some(r) => {
                incoming.push((r, m.current_block()));
                m.br(merge);
            }
            None => m.unreachable(),
        }
        m.position_at_end(merge);
        Some(m.phi(m.i1(), &incoming))
    }

    fn if_expr(&mut self, cond: &tir::Expr, then: &tir::Expr, els: Option<&tir::Expr>, ty: Ty) -> Option<Value<'m>> {
        let m = self.m;
        let c = value!(self.expr(cond));
        let then_bb = m.append_block(self.llvm_fn, "if.then");
        let else_bb = m.append_block(self.llvm_fn, "if.else");
        let merge = m.append_block(self.llvm_fn, "if.end");
        m.cond_br(c, then_bb, else_bb);
        // A branch whose value is missing although its type has one is dead code
        // (it returned or broke out): it must not feed the phi.
        let value_ty = value_type(m, ty);
        let mut incoming = Vec::new();
        for (block, branch) in [(then_bb, Some(then)), (else_bb, els)] {
            m.position_at_end(block);
            let v = branch.and_then(|b| self.expr(b));
            match (value_ty, v) {
                (Some(_), Some(v)) => {
                    incoming.push((v, m.current_block()));
                    m.br(merge);
                }
                (Some(_), None) => m.unreachable(),
                (None, _) => m.br(merge),
            }
        }
        m.position_at_end(merge);
        match value_ty {
            Some(t) if !incoming.is_empty() => Some(m.phi(t, &incoming)),
            Some(_) => {
                m.unreachable();
                self.start_dead_block();
                None
            }
            None => None,
        }
    }

    /// A Python built-in: the runtime returns 64 bits, converted here to `ty`.
    fn python(&mut self, op: PyOp, args: &[tir::Expr], ty: Ty) -> Option<Value<'m>> {
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
        self.check_trapped();
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
    fn slot_call(&mut self, name: &str, sig: &FnSig, values: &[Value<'m>]) -> Value<'m> {
        let m = self.m;
        let slot = m.int_to_ptr(m.const_int(m.i64(), (self.resolvers.slots)(name) as i64));
        let loaded = m.load_atomic(m.ptr(), 8, slot);
        let empty = m.icmp(IntPredicate::LLVMIntEQ, loaded, m.const_null(m.ptr()));
        let (loaded_bb, resolve_bb, call_bb) =
            (m.current_block(), m.append_block(self.llvm_fn, "resolve"), m.append_block(self.llvm_fn, "call"));
        m.cond_br(self.unlikely(empty), resolve_bb, call_bb);
        m.position_at_end(resolve_bb);
        let resolve = self.runtime(RuntimeFn::Resolve);
        let resolved = m.call(resolve, &[self.ctx, m.const_c_string(name.as_bytes())]);
        let failed = m.icmp(IntPredicate::LLVMIntEQ, resolved, m.const_null(m.ptr()));
        let unwind = self.unwind_block();
        let resolved_bb = m.current_block();
        m.cond_br(failed, unwind, call_bb);
        m.position_at_end(call_bb);
        let target = m.phi(m.ptr(), &[(loaded, loaded_bb), (resolved, resolved_bb)]);
        m.call_indirect(ore_fn_type(m, sig), target, values)
    }

    /// A call of a small callee of the same module through a copy of it in this
    /// module (which LLVM inlines), while the slot still stands for the definition
    /// the copy was made from; once that definition is replaced or unloaded, through
    /// the slot as usual.
    fn guarded_copy_call(&mut self, name: &str, sig: &FnSig, copy: &InlineCopy, values: &[Value<'m>]) -> Value<'m> {
        let m = self.m;
        let word = (self.resolvers.slots)(name) + abi::slot::DEFINITION;
        let current = m.load_atomic(m.i64(), 8, m.int_to_ptr(m.const_int(m.i64(), word as i64)));
        let same = m.icmp(IntPredicate::LLVMIntEQ, current, m.const_int(m.i64(), copy.definition as i64));
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

    /// This module's copy of `name`, defined on first use (copies make no copies).
    fn copy_of(&mut self, name: &str, copy: &InlineCopy) -> Function<'m> {
        if let Some(f) = self.copies.get(name) {
            return *f;
        }
        let m = self.m;
        let here = m.current_block();
        let resolvers = Resolvers { inline: &|_| None, ..self.resolvers };
        let f = FnCodegen::emit(m, &copy.func, &abi::copy_symbol(name), true, resolvers, self.options);
        m.position_at_end(here);
        self.copies.insert(name.to_string(), f);
        f
    }

    fn call(&mut self, callee: &Callee, args: &[tir::Expr], ty: Ty) -> Option<Value<'m>> {
        let m = self.m;
        let mut values = Vec::with_capacity(args.len() + 1);
        match callee {
            Callee::Ore { name, sig } => {
                values.push(self.ctx);
                for a in args {
                    values.push(value!(self.expr(a)));
                }
                // Copies only where they pay: calls inside loops. Elsewhere the
                // callee stays a function of its own, compiled at its first call.
                let copy = if self.loops.is_empty() { None } else { (self.resolvers.inline)(name) };
                let copy = copy.filter(|c| {
                    let cost = c.func.inline_cost().unwrap_or(usize::MAX);
                    let fits = cost <= self.inline_budget;
                    if fits {
                        self.inline_budget -= cost;
                    }
                    fits
                });
                let direct = self.options.unchecked.direct_calls.then(|| (self.resolvers.direct)(name)).flatten();
                let result = match (copy, direct) {
                    (Some(copy), Some(_)) => {
                        let callee = self.copy_of(name, &copy);
                        m.call(callee, &values)
                    }
                    (Some(copy), None) => self.guarded_copy_call(name, sig, &copy, &values),
                    (None, Some(symbol)) => m.call(m.declare(&symbol, ore_fn_type(m, sig)), &values),
                    (None, None) => self.slot_call(name, sig, &values),
                };
                self.check_trapped();
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
                let f = m.declare(symbol, m.fn_type(c_type(m, sig.ret), &params));
                let result = m.call(f, &values);
                if *host {
                    self.check_trapped();
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

/// Declares a runtime function with the signature `abi`'s table gives it.
fn declare_runtime<'m>(m: &'m IrModule, f: RuntimeFn) -> Function<'m> {
    let ty = |t: AbiType| match t {
        AbiType::Ctx | AbiType::Str | AbiType::Array | AbiType::Code | AbiType::Closure | AbiType::Slots => m.ptr(),
        AbiType::I64 => m.i64(),
        AbiType::F64 => m.f64(),
        AbiType::Void => m.void(),
    };
    let params: Vec<Type<'m>> = f.params().iter().map(|&t| ty(t)).collect();
    m.declare(f.symbol(), m.fn_type(ty(f.ret()), &params))
}

/// Generates `RET NAME(params...)` with the C calling convention: it stores its
/// arguments as 8-byte slots and calls `ore.rt.call_closure(closure, slots)`, which
/// runs a Rust closure registered as a host function and returns its result's bits.
pub fn generate_closure_thunk(name: &str, sig: &ExternSig, closure: usize, triple: &CStr, data_layout: &CStr) -> IrModule {
    let m = IrModule::new(name, triple, data_layout);
    {
        let i64t = m.i64();
        let params: Vec<Type<'_>> = sig.params.iter().map(|c| c_type(&m, *c)).collect();
        let thunk = m.add_function(name, m.fn_type(c_type(&m, sig.ret), &params), false);
        m.position_at_end(m.append_block(thunk, "entry"));
        let slots = m.alloca(m.array_type(i64t, sig.params.len().max(1) as u32));
        for (i, c) in sig.params.iter().enumerate() {
            let p = m.param(thunk, i as u32);
            let bits = match c {
                CType::F64 => m.bitcast(p, i64t),
                CType::I32 => m.sext(p, i64t),
                CType::Bool => m.zext(p, i64t),
                CType::Str | CType::Ptr => m.ptr_to_int(p),
                _ => p,
            };
            m.store(bits, m.gep(i64t, slots, m.const_int(i64t, i as i64)));
        }
        let dispatch = declare_runtime(&m, RuntimeFn::CallClosure);
        let closure_ptr = m.int_to_ptr(m.const_int(i64t, closure as i64));
        let bits = m.call(dispatch, &[closure_ptr, slots]);
        match sig.ret {
            CType::Unit => m.ret_void(),
            CType::F64 => m.ret(m.bitcast(bits, m.f64())),
            CType::I32 => m.ret(m.trunc(bits, m.i32())),
            CType::Bool => m.ret(m.trunc(bits, m.i8())),
            CType::Str | CType::Ptr => m.ret(m.int_to_ptr(bits)),
            CType::I64 => m.ret(bits),
        }
    }
    debug_assert_eq!(m.verify(), Ok(()));
    m
}
