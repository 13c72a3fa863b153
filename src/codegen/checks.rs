//! Runtime-error paths: the unwind block, traps, the `trapped` test after calls,
//! and the stack and interrupt checks at function entry and loop back-edges.
//!
//! Each place a function leaves from after an error (the failing operation, or a
//! call that failed) has a block of its own that records the function's frame of
//! the error's trace with that place (`ore.rt.frame`, `runtime::trace`) on the way
//! to the shared unwind block. Only the error path pays for it: with one frame
//! call fed by a phi instead, LLVM kept the phi's constant in a callee-saved
//! register on the hot path (fib 5% slower).

use super::declare_runtime;
use super::function::FnCodegen;
use super::value_type;
use crate::abi::{self, RuntimeFn};
use crate::llvm::ir::{Block, Function, IntPredicate, Type, Value};
use crate::syntax::ast::Span;

/// Where a function leaves from after a runtime error.
#[derive(Clone, Copy)]
pub(super) struct Unwind<'m> {
    /// Returns a dummy value.
    block: Block<'m>,
    /// The function's frame names (`abi::frame_names`).
    names: Value<'m>,
}

impl<'m> FnCodegen<'m, '_> {
    /// The unwind block, and the arguments that describe this function's frame
    /// when it leaves from `at`: its names and the site.
    fn frame(&mut self, at: Span) -> (Block<'m>, Value<'m>, Value<'m>) {
        let m = self.m;
        let unwind = match self.unwind {
            Some(u) => u,
            None => {
                let here = m.current_block();
                let block = m.append_block(self.llvm_fn, "unwind");
                m.position_at_end(block);
                match value_type(m, self.func.sig.ret) {
                    Some(t) => m.ret(m.undef(t)),
                    None => m.ret_void(),
                }
                m.position_at_end(here);
                let names = m.const_c_string(&abi::frame_names(&self.func.name, self.func.source.name()));
                *self.unwind.insert(Unwind { block, names })
            }
        };
        let (line, column) = self.func.source.location(at.start);
        (unwind.block, unwind.names, m.const_int(m.i64(), abi::site::pack(line, column)))
    }

    /// The function's name as a C string: its frame names, which start with it
    /// and a NUL (one constant fewer for the object file).
    fn name_string(&mut self) -> Value<'m> {
        self.frame(self.func.span).1
    }

    /// A block to branch to when leaving from `at` after an error raised
    /// elsewhere: it records the function's frame, then returns a dummy value.
    pub(super) fn unwind_from(&mut self, at: Span) -> Block<'m> {
        let m = self.m;
        let (unwind, names, site) = self.frame(at);
        let here = m.current_block();
        let leave = m.append_block(self.llvm_fn, "leave");
        m.position_at_end(leave);
        m.call(self.runtime(RuntimeFn::Frame), &[self.ctx, names, site]);
        m.br(unwind);
        m.position_at_end(here);
        leave
    }

    /// Declares an LLVM intrinsic.
    pub(super) fn intrinsic(&self, name: &str, params: &[Type<'m>], ret: Type<'m>) -> Function<'m> {
        self.m.declare(name, self.m.fn_type(ret, params))
    }

    pub(super) fn runtime(&self, f: RuntimeFn) -> Function<'m> {
        declare_runtime(self.m, f)
    }

    /// `llvm.expect(cond, false)`: tells LLVM the error path is cold.
    pub(super) fn unlikely(&self, cond: Value<'m>) -> Value<'m> {
        let m = self.m;
        let expect = self.intrinsic("llvm.expect.i1", &[m.i1(), m.i1()], m.i1());
        m.call(expect, &[cond, m.const_int(m.i1(), 0)])
    }

    /// Raises runtime error `code` (with details `a`, `b`) if `failed`, and leaves
    /// the function from `at`; code generation continues where it did not fail.
    pub(super) fn trap_if(&mut self, failed: Value<'m>, code: i64, a: Value<'m>, b: Value<'m>, at: Span) {
        let m = self.m;
        let fail_bb = m.append_block(self.llvm_fn, "fail");
        let ok = m.append_block(self.llvm_fn, "ok");
        m.cond_br(self.unlikely(failed), fail_bb, ok);
        m.position_at_end(fail_bb);
        // The error and the innermost frame in one call.
        let (unwind, names, site) = self.frame(at);
        m.call(self.runtime(RuntimeFn::Trap), &[self.ctx, m.const_int(m.i64(), code), a, b, names, site]);
        m.br(unwind);
        m.position_at_end(ok);
    }

    /// After the call at `at`, which may have raised an error: leave if it did.
    pub(super) fn check_trapped(&mut self, at: Span) {
        let m = self.m;
        let flag_ptr = m.gep(m.i8(), self.ctx, m.const_int(m.i64(), abi::ctx::TRAPPED));
        let flag = m.load(m.i32(), flag_ptr);
        let trapped = m.icmp(IntPredicate::LLVMIntNE, flag, m.const_int(m.i32(), 0));
        let unwind = self.unwind_from(at);
        let cont = m.append_block(self.llvm_fn, "cont");
        m.cond_br(self.unlikely(trapped), unwind, cont);
        m.position_at_end(cont);
    }

    /// Function entry: refuse to run below the thread's stack limit.
    pub(super) fn stack_check(&mut self) {
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
        self.trap_if(overflow, abi::trap::STACK_OVERFLOW, zero, zero, self.func.span);
    }

    /// Tier 0: one down-count of the function's countdown (`abi::slot::COUNTDOWN`)
    /// with relaxed loads and stores (concurrent calls may lose a count, never
    /// the zero: a stale store is a higher count, which counts down through 0
    /// again); the count left.
    fn count_down(&mut self) -> Value<'m> {
        let m = self.m;
        let countdown = self.own_slot_word(abi::slot::COUNTDOWN);
        let left = m.sub(m.load_atomic(m.i64(), 8, countdown), m.const_int(m.i64(), 1));
        m.store_atomic(left, 8, countdown);
        left
    }

    fn own_slot_word(&self, offset: usize) -> Value<'m> {
        let m = self.m;
        let slot = m.external_global(&abi::slot_symbol(&self.func.name));
        m.gep(m.i8(), slot, m.const_int(m.i64(), offset as i64))
    }

    /// Asks for the top tier (`ore.rt.tier_up`, with an entry at loop `at_loop`
    /// of `osr_loops`) if `left` is 0, then goes on at `next`.
    fn tier_up_if_hot(&mut self, left: Value<'m>, at_loop: Option<usize>, next: Block<'m>) {
        let m = self.m;
        let hot = m.icmp(IntPredicate::LLVMIntEQ, left, m.const_int(m.i64(), 0));
        let tier_up = m.append_block(self.llvm_fn, "tier_up");
        m.cond_br(self.unlikely(hot), tier_up, next);
        m.position_at_end(tier_up);
        let name = self.name_string();
        let at_loop = m.const_int(m.i64(), at_loop.map_or(-1, |i| i as i64));
        m.call(self.runtime(RuntimeFn::TierUp), &[self.ctx, name, at_loop]);
        m.br(next);
    }

    /// Tier 0, at function entry: counts the call.
    pub(super) fn count_call(&mut self) {
        let m = self.m;
        let left = self.count_down();
        let body = m.append_block(self.llvm_fn, "body");
        self.tier_up_if_hot(left, None, body);
        m.position_at_end(body);
    }

    /// Tier 0, at the header of the loop at `at`: counts the iteration as a
    /// call. Once the count is spent, at a loop of `osr_loops`, the call moves
    /// into the top tier's entry at this loop as soon as that is linked.
    pub(super) fn count_iteration(&mut self, at: Span) {
        let Some(loops) = &self.counting else { return };
        let index = loops.iter().position(|&l| l == at.start);
        let m = self.m;
        let left = self.count_down();
        let spent = m.icmp(IntPredicate::LLVMIntSLE, left, m.const_int(m.i64(), 0));
        let cold = m.append_block(self.llvm_fn, "spent");
        let cont = m.append_block(self.llvm_fn, "counted");
        m.cond_br(self.unlikely(spent), cold, cont);
        m.position_at_end(cold);
        let Some(index) = index else {
            self.tier_up_if_hot(left, None, cont);
            m.position_at_end(cont);
            return;
        };
        let check = m.append_block(self.llvm_fn, "entry_linked");
        self.tier_up_if_hot(left, Some(index), check);
        m.position_at_end(check);
        // Acquire: the table and the code it points to were linked before the
        // engine stored its address (with release).
        let table = m.load_acquire(self.own_slot_word(abi::slot::OSR_TABLE));
        let linked = m.icmp(IntPredicate::LLVMIntNE, table, m.const_null(m.ptr()));
        let ours = m.append_block(self.llvm_fn, "entry_ours");
        m.cond_br(linked, ours, cont);
        m.position_at_end(ours);
        // The table of another definition (this code was replaced) is not ours.
        let definition = m.load(m.ptr(), table);
        let mine = m.icmp(IntPredicate::LLVMIntEQ, definition, m.external_global(&abi::definition_symbol(&self.func.name)));
        let has_entry = m.append_block(self.llvm_fn, "entry_here");
        m.cond_br(mine, has_entry, cont);
        m.position_at_end(has_entry);
        let at = abi::osr_table::FIRST_ENTRY + 8 * index as i64;
        let entry = m.load(m.ptr(), m.gep(m.i8(), table, m.const_int(m.i64(), at)));
        let here = m.icmp(IntPredicate::LLVMIntNE, entry, m.const_null(m.ptr()));
        let enter = m.append_block(self.llvm_fn, "enter_top_tier");
        m.cond_br(here, enter, cont);
        m.position_at_end(enter);
        self.enter_top_tier(entry);
        m.position_at_end(cont);
    }

    /// Runs the rest of the call in the top tier's loop `entry`, with this call's
    /// locals, and returns what it returns. No frame is recorded here on an
    /// error: the entry records this function's.
    fn enter_top_tier(&mut self, entry: Value<'m>) {
        let m = self.m;
        let buffer = m.alloca(m.array_type(m.i64(), self.locals.len() as u32));
        for (i, local) in self.func.locals.iter().enumerate() {
            if let (Some(slot), Some(ty)) = (self.locals[i], value_type(m, local.ty)) {
                m.store(m.load(ty, slot), m.gep(m.i8(), buffer, m.const_int(m.i64(), 8 * i as i64)));
            }
        }
        let name = self.name_string();
        m.call(self.runtime(RuntimeFn::OsrEntered), &[self.ctx, name]);
        let ret = value_type(m, self.func.sig.ret);
        let result = m.call_indirect(m.fn_type(ret.unwrap_or_else(|| m.void()), &[m.ptr(), m.ptr()]), entry, &[self.ctx, buffer]);
        match ret {
            Some(_) => m.ret(result),
            None => m.ret_void(),
        }
    }

    /// A loop entry's prologue: each local from the buffer `enter_top_tier` filled.
    pub(super) fn load_locals(&mut self, buffer: Value<'m>) {
        let m = self.m;
        for (i, local) in self.func.locals.iter().enumerate() {
            if let (Some(slot), Some(ty)) = (self.locals[i], value_type(m, local.ty)) {
                m.store(m.load(ty, m.gep(m.i8(), buffer, m.const_int(m.i64(), 8 * i as i64))), slot);
            }
        }
    }

    /// With `Options::interruptible`: leave from `at` with a timeout error once the
    /// watchdog has set the call's interrupt word. An atomic load, so LLVM cannot
    /// hoist it out of a loop.
    pub(super) fn interrupt_check(&mut self, at: Span) {
        if !self.options.interruptible {
            return;
        }
        let m = self.m;
        let word_ptr = m.gep(m.i8(), self.ctx, m.const_int(m.i64(), abi::ctx::INTERRUPT));
        let word = m.load_atomic(m.i32(), 4, word_ptr);
        let interrupted = m.icmp(IntPredicate::LLVMIntNE, word, m.const_int(m.i32(), 0));
        let zero = m.const_int(m.i64(), 0);
        self.trap_if(interrupted, abi::trap::TIMEOUT, zero, zero, at);
    }
}
