//! Function bodies: expressions, statements and operators.

use super::checks::Unwind;
use super::{inline, ore_fn_type, ranges, value, value_type, Callees, Options};
use crate::abi::{self, RuntimeFn};
use crate::llvm::ir::{Block, DebugInfo, DebugType, Function, IntPredicate, IrModule, RealPredicate, Scope, Type, Value};
use crate::syntax::ast::{BinOp, Span};
use crate::tir::{self, ExprKind, Stmt};
use crate::types::Ty;
use std::collections::HashMap;

pub(super) struct FnCodegen<'m, 'f> {
    pub(super) m: &'m IrModule,
    pub(super) func: &'f tir::Function,
    pub(super) callees: &'f dyn Callees,
    pub(super) options: Options,
    /// Inlined copies of callees defined in this module so far, by callee name.
    pub(super) copies: HashMap<String, Function<'m>>,
    /// What is left of the function's inlining budget.
    pub(super) budget: inline::Budget,
    pub(super) ctx: Value<'m>,
    /// One stack slot per local (none for unit-typed locals).
    pub(super) locals: Vec<Option<Value<'m>>>,
    /// (continue target, break target) of each enclosing loop.
    pub(super) loops: Vec<(Block<'m>, Block<'m>)>,
    /// The (array, index) locals of the indexings that the test before the loop
    /// being emitted covers (`ranges`): they need no check of their own.
    covered: Vec<(tir::LocalId, tir::LocalId)>,
    /// Tier 0 (`Options::count_calls`, not a copy): the loops where the call
    /// may move into the top tier (`tir::Function::osr_loops`).
    pub(super) counting: Option<Vec<usize>>,
    /// A loop entry: the loop to enter (by span start) and the block that
    /// jumps to its header once it is emitted.
    enter_at: Option<(usize, Block<'m>)>,
    /// Tier 0 with loops it can leave at: the buffer the locals go to, a static
    /// stack slot (FastISel cannot select an alloca outside the entry block).
    pub(super) locals_buffer: Option<Value<'m>>,
    /// The top tier of a function that calls itself: what its calls of itself
    /// call directly, the function being built (`forward_if_replaced`).
    pub(super) recursion: Option<Function<'m>>,
    /// Created on first use.
    pub(super) unwind: Option<Unwind<'m>>,
    /// A function that frees its arrays when it returns (`tir::Function::
    /// frees_arrays`): the arena's mark, taken on entry. (Not in a loop entry:
    /// its tier-0 caller frees them. An error path frees nothing: the error ends
    /// the host's call, which empties the arena.)
    arena_mark: Option<Value<'m>>,
    pub(super) llvm_fn: Function<'m>,
    /// With `Options::debug_info`: the module's debug info and this function's
    /// scope, and the location instructions get now.
    pub(super) debug: Option<(&'f DebugInfo<'m>, Scope<'m>)>,
    location: (u32, u32),
}

/// What code for a function's body is for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Body {
    /// The function, called with its parameters.
    Function,
    /// A caller's inlined copy (internal linkage).
    Copy,
    /// The top tier's entry at the loop whose span starts here, called by tier-0
    /// code with the locals in a buffer (`abi::osr_table`): it runs the rest of
    /// the call from the loop's header.
    LoopEntry(usize),
}

impl<'m, 'f> FnCodegen<'m, 'f> {
    /// Defines `func`'s `body` as `symbol`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn emit(
        m: &'m IrModule,
        func: &'f tir::Function,
        symbol: &str,
        body: Body,
        callees: &'f dyn Callees,
        budget: inline::Budget,
        options: Options,
        debug: Option<&'f DebugInfo<'m>>,
    ) -> Function<'m> {
        let ty = match body {
            Body::LoopEntry(_) => m.fn_type(value_type(m, func.sig.ret).unwrap_or_else(|| m.void()), &[m.ptr(), m.ptr()]),
            _ => ore_fn_type(m, &func.sig),
        };
        let llvm_fn = m.add_function(symbol, ty, body == Body::Copy);
        m.add_fn_attribute(llvm_fn, "nounwind");
        let line = |span: Span| func.source.location(span.start).0 as u32;
        let debug = debug.map(|d| {
            // Nothing of the function that was being built (the caller of a copy)
            // may carry over.
            d.clear_location();
            // Frame pointers let a debugger walk the stack through JIT'd frames.
            m.add_string_fn_attribute(llvm_fn, "frame-pointer", "all");
            (d, d.function(llvm_fn, &func.name, func.source.name(), line(func.span)))
        });
        let entry = m.append_block(llvm_fn, "entry");
        m.position_at_end(entry);
        let locals: Vec<Option<Value<'m>>> = func.locals.iter().map(|l| value_type(m, l.ty).map(|t| m.alloca(t))).collect();
        if let Some((d, scope)) = debug {
            for (i, (local, slot)) in func.locals.iter().zip(&locals).enumerate() {
                let Some(slot) = *slot else { continue };
                let argument = (i < func.sig.params.len()).then_some(i as u32 + 1);
                d.local(scope, slot, &local.name, argument, line(local.span), debug_type(local.ty), entry);
            }
        }
        let ctx = m.param(llvm_fn, 0);
        let copies = HashMap::new();
        let mut cg = FnCodegen {
            m,
            func,
            callees,
            options,
            copies,
            budget,
            ctx,
            locals,
            loops: Vec::new(),
            covered: Vec::new(),
            counting: (options.count_calls && body == Body::Function).then(|| func.osr_loops()),
            enter_at: None,
            locals_buffer: None,
            recursion: None,
            unwind: None,
            arena_mark: None,
            llvm_fn,
            debug,
            location: (0, 0),
        };
        if cg.counting.as_ref().is_some_and(|loops| !loops.is_empty()) {
            cg.locals_buffer = Some(m.alloca(m.array_type(m.i64(), cg.locals.len() as u32)));
        }
        // The parameters' stores have no location, so they are part of the prologue
        // a debugger's breakpoint on the function skips: it then sees them.
        match body {
            Body::LoopEntry(_) => cg.load_locals(m.param(llvm_fn, 1)),
            _ => {
                for i in 0..func.sig.params.len() {
                    if let Some(slot) = cg.locals[i] {
                        m.store(m.param(llvm_fn, i as u32 + 1), slot);
                    }
                }
            }
        }
        cg.locate(func.span);
        if body != Body::Copy {
            // A copy is a small leaf inside its caller (rule 1 of `inline`), so
            // the caller's checks bound it: it adds no frame once inlined, and
            // its straight-line work is bounded (its own loops check themselves).
            cg.stack_check();
            // After the stack check: a forwarded call is one more frame.
            if body == Body::Function && !options.fast_isel && func.calls_itself() {
                cg.forward_if_replaced();
                cg.recursion = Some(llvm_fn);
            }
            cg.interrupt_check(func.span);
        }
        if body == Body::Function && func.frees_arrays() {
            cg.arena_mark = Some(m.call(cg.runtime(RuntimeFn::ArenaMark), &[ctx]));
        }
        if cg.counting.is_some() {
            cg.count_call();
        }
        if let Body::LoopEntry(at) = body {
            // The code before the loop is emitted as usual, but nothing reaches
            // it: LLVM deletes it.
            let enter = m.append_block(llvm_fn, "enter");
            m.br(enter);
            cg.enter_at = Some((at, enter));
            cg.start_dead_block();
        }
        let result = cg.expr(&func.body);
        if !m.is_terminated() {
            match (result, value_type(m, func.sig.ret)) {
                (Some(v), Some(_)) => cg.ret(Some(v)),
                (_, None) => cg.ret(None),
                (None, Some(_)) => m.unreachable(),
            }
        }
        if let Some((_, enter)) = cg.enter_at {
            // The loop was dead code, so tier 0 has no way to reach this entry.
            m.position_at_end(enter);
            m.unreachable();
        }
        llvm_fn
    }

    /// Returns `value` (none: unit), first freeing the call's arrays if the
    /// function frees them (`arena_mark`).
    pub(super) fn ret(&mut self, value: Option<Value<'m>>) {
        let m = self.m;
        if let Some(mark) = self.arena_mark {
            m.call(self.runtime(RuntimeFn::ArenaRelease), &[self.ctx, mark]);
        }
        match value {
            Some(v) => m.ret(v),
            None => m.ret_void(),
        }
    }

    /// A load of a word other threads store to (a slot, the interrupt word): a
    /// relaxed atomic load, or under FastISel a volatile one: FastISel cannot
    /// select atomics and would hand the rest of the block to SelectionDAG, and
    /// it emits a volatile load as the one aligned `mov` the relaxed atomic is on
    /// x86-64 (no pass runs at -O0 that could tell the difference).
    pub(super) fn shared_load(&self, ty: Type<'m>, bytes: u32, ptr: Value<'m>) -> Value<'m> {
        if self.options.fast_isel {
            self.m.load_volatile(ty, bytes, ptr)
        } else {
            self.m.load_atomic(ty, bytes, ptr)
        }
    }

    /// Continues code generation in a fresh block with no predecessors, after a
    /// terminator; LLVM deletes such blocks.
    pub(super) fn start_dead_block(&mut self) {
        let dead = self.m.append_block(self.llvm_fn, "dead");
        self.m.position_at_end(dead);
    }

    pub(super) fn expr(&mut self, e: &tir::Expr) -> Option<Value<'m>> {
        let outer = self.locate(e.span);
        // Nesting is bounded by the parser; this covers threads with small stacks.
        let value = stacker::maybe_grow(64 * 1024, 1024 * 1024, || self.expr_inner(e));
        // What the enclosing expression builds after this one is its own.
        self.set_location(outer);
        value
    }

    /// With debug info: gives the instructions built from now on `span`'s line
    /// and column; returns the location they had.
    fn locate(&mut self, span: Span) -> (u32, u32) {
        let outer = self.location;
        if self.debug.is_some() {
            let (line, column) = self.func.source.location(span.start);
            self.set_location((line as u32, column as u32));
        }
        outer
    }

    /// Gives the builder this function's current location again, after another
    /// function (a copy) was built with it.
    pub(super) fn reapply_location(&mut self) {
        let location = std::mem::take(&mut self.location);
        self.set_location(location);
    }

    fn set_location(&mut self, location: (u32, u32)) {
        if let Some((d, scope)) = self.debug {
            if location != self.location && location.0 > 0 {
                d.set_location(scope, location.0, location.1);
            }
        }
        self.location = location;
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
                Some(self.binary(*op, operand_ty, l, r, e.span))
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
            ExprKind::Call(callee, args) => self.call(callee, args, e.ty, e.span),
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
                self.check_trapped(e.span);
                Some(m.icmp(IntPredicate::LLVMIntNE, ok, m.const_int(m.i64(), 0)))
            }
            ExprKind::Python(op, args) => self.python(*op, args, e.ty, e.span),
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
                self.check_trapped(e.span);
                Some(array)
            }
            ExprKind::Index(array, index) => {
                let covered = self.covers(array, index);
                let a = value!(self.expr(array));
                let i = value!(self.expr(index));
                let slot = self.element(a, i, e.span, covered);
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
                let once = if self.options.fast_isel || self.options.unchecked.bounds { None } else { ranges::checked_once(cond, body) };
                match once {
                    Some(once) => self.range_loop(e.span, cond, body, once),
                    None => self.while_loop(e.span, cond, body),
                }
                None
            }
            ExprKind::Return(value) => {
                let v = value.as_ref().map(|v| self.expr(v));
                match (v, value_type(m, self.func.sig.ret)) {
                    (Some(Some(v)), Some(_)) => self.ret(Some(v)),
                    (_, None) => self.ret(None),
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
                let covered = self.covers(array, index);
                let v = self.expr(value)?;
                let a = self.expr(array)?;
                let i = self.expr(index)?;
                let slot = self.element(a, i, array.span, covered);
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

    /// Goes on at `start`, the block that begins the loop at `at`, from here and
    /// from this top tier's loop entry if it enters there (`Body::LoopEntry`).
    fn start_loop(&mut self, at: Span, start: Block<'m>) {
        let m = self.m;
        m.br(start);
        if let Some((_, enter)) = self.enter_at.take_if(|(loop_start, _)| *loop_start == at.start) {
            m.position_at_end(enter);
            m.br(start);
        }
        m.position_at_end(start);
    }

    /// `while cond { body }` (the loop at `at`), ending at its exit.
    fn while_loop(&mut self, at: Span, cond: &tir::Expr, body: &tir::Expr) {
        let m = self.m;
        let header = m.append_block(self.llvm_fn, "while.cond");
        let body_bb = m.append_block(self.llvm_fn, "while.body");
        let exit = m.append_block(self.llvm_fn, "while.end");
        // Deadline checks once per chunk of a counted loop (`ranges`): optimised
        // code only (tier 0 counts each iteration here).
        let chunked = (self.options.interruptible && !self.options.fast_isel)
            .then(|| ranges::counted(cond, body))
            .flatten()
            .filter(|counted| !counted.inclusive);
        let chunk_bb = chunked.as_ref().map(|_| m.append_block(self.llvm_fn, "while.chunk"));
        self.start_loop(at, header);
        // Every iteration, `continue` included, passes here (every chunk, in a
        // chunked loop).
        self.interrupt_check(at);
        self.count_iteration(at);
        match self.expr(cond) {
            Some(c) => m.cond_br(c, chunk_bb.unwrap_or(body_bb), exit),
            None => m.unreachable(),
        }
        let back = match (chunked, chunk_bb) {
            (Some(counted), Some(chunk_bb)) => {
                m.position_at_end(chunk_bb);
                self.chunk(counted.index, counted.bound, header, body_bb)
            }
            _ => header,
        };
        m.position_at_end(body_bb);
        self.loops.push((header, exit));
        self.expr(body);
        self.loops.pop();
        if !m.is_terminated() {
            m.br(back);
        }
        m.position_at_end(exit);
    }

    /// In the block a counted loop's `index < bound` test leads to: the next
    /// chunk's end, `index + min(bound - index, CHUNK)`, and the block that runs
    /// `body` while `index` is below it and goes back to `header` after; returns
    /// that block, which the body goes back to.
    fn chunk(&mut self, index: tir::LocalId, bound: &tir::Expr, header: Block<'m>, body: Block<'m>) -> Block<'m> {
        let m = self.m;
        let i64t = m.i64();
        let slot = self.locals[index].expect("an i64 local has a slot");
        let bound = self.expr(bound).expect("a bound is a literal, a local or a length");
        let start = m.load(i64t, slot);
        // Positive as an unsigned number, `index < bound` having held.
        let left = m.sub(bound, start);
        let most = m.const_int(i64t, ranges::CHUNK);
        let end = m.add(start, m.select(m.icmp(IntPredicate::LLVMIntULT, left, most), left, most));
        let inner = m.append_block(self.llvm_fn, "while.inner");
        m.br(inner);
        m.position_at_end(inner);
        let more = m.icmp(IntPredicate::LLVMIntSLT, m.load(i64t, slot), end);
        m.cond_br(more, body, header);
        inner
    }

    /// A loop whose indexing `once` checks before it (`ranges`): the test, then the
    /// loop without those indexings' checks if it holds, else the loop as written.
    fn range_loop(&mut self, at: Span, cond: &tir::Expr, body: &tir::Expr, once: ranges::CheckedOnce) {
        let m = self.m;
        let test = m.append_block(self.llvm_fn, "while.range");
        // A call moving into this loop from tier 0 passes the test too: it holds
        // for the rest of the loop from any iteration on.
        self.start_loop(at, test);
        let i64t = m.i64();
        let bound = self.expr(once.bound).expect("a bound is a literal, a local or a length");
        let local = |id: tir::LocalId, ty| m.load(ty, self.locals[id].expect("i64 and array locals have slots"));
        let index = local(once.index, i64t);
        let mut holds = m.icmp(IntPredicate::LLVMIntSGE, index, m.const_int(i64t, 0));
        for &(array, k) in &once.covered {
            let len = m.load_invariant(i64t, local(array, m.ptr()));
            let fits = if k == once.index {
                let below = if once.inclusive { IntPredicate::LLVMIntSLT } else { IntPredicate::LLVMIntSLE };
                m.icmp(below, bound, len)
            } else {
                m.icmp(IntPredicate::LLVMIntULT, local(k, i64t), len)
            };
            holds = m.and(holds, fits);
        }
        let (unchecked, checked, done) = (
            m.append_block(self.llvm_fn, "while.unchecked"),
            m.append_block(self.llvm_fn, "while.checked"),
            m.append_block(self.llvm_fn, "while.done"),
        );
        m.cond_br(holds, unchecked, checked);
        m.position_at_end(unchecked);
        self.covered = once.covered;
        self.while_loop(at, cond, body);
        self.covered.clear();
        m.br(done);
        m.position_at_end(checked);
        self.while_loop(at, cond, body);
        m.br(done);
        m.position_at_end(done);
    }

    /// Whether the test before the loop being emitted covers `array[index]`.
    fn covers(&self, array: &tir::Expr, index: &tir::Expr) -> bool {
        matches!((&array.kind, &index.kind), (ExprKind::Local(a), ExprKind::Local(k)) if self.covered.contains(&(*a, *k)))
    }

    /// The address of `array[index]`, after the bounds check (of the indexing at
    /// `at`) unless the test before the loop `covered` it.
    fn element(&mut self, array: Value<'m>, index: Value<'m>, at: Span, covered: bool) -> Value<'m> {
        let m = self.m;
        // Neither an array's length nor where its elements are ever changes; both
        // loads come before the check, so LLVM may hoist them out of loops.
        let data_ptr = m.gep(m.i8(), array, m.const_int(m.i64(), abi::array::DATA));
        let data = m.load_invariant(m.ptr(), data_ptr);
        if !self.options.unchecked.bounds && !covered {
            let len = m.load_invariant(m.i64(), array);
            // Unsigned comparison also catches negative indices.
            let out = m.icmp(IntPredicate::LLVMIntUGE, index, len);
            self.trap_if(out, abi::trap::INDEX_OUT_OF_BOUNDS, index, len, at);
        }
        m.gep(m.i64(), data, index)
    }

    /// `l op r`, the operation at `at`.
    fn binary(&mut self, op: BinOp, operand: Ty, l: Value<'m>, r: Value<'m>, at: Span) -> Value<'m> {
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
            Div | Rem => self.int_division(op, l, r, at),
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
    fn int_division(&mut self, op: BinOp, l: Value<'m>, r: Value<'m>, at: Span) -> Value<'m> {
        let m = self.m;
        if self.options.unchecked.division {
            return if op == BinOp::Div { m.sdiv(l, r) } else { m.srem(l, r) };
        }
        let zero = m.const_int(m.i64(), 0);
        let is_zero = m.icmp(IntPredicate::LLVMIntEQ, r, zero);
        self.trap_if(is_zero, abi::trap::DIVISION_BY_ZERO, zero, zero, at);
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
}

/// How a debugger shows a local of type `ty` (one with a value).
fn debug_type(ty: Ty) -> DebugType {
    match ty {
        Ty::I64 => DebugType::I64,
        Ty::F64 => DebugType::F64,
        Ty::Bool => DebugType::Bool,
        Ty::Str => DebugType::Str,
        _ => DebugType::Pointer,
    }
}
