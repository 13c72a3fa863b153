//! Runtime-error paths: the unwind block, traps, the `trapped` test after calls,
//! and the stack and interrupt checks at function entry and loop back-edges.
//!
//! A failing operation calls `ore.rt.trap` with the error and the innermost
//! frame. Each call that failed has a block of its own that stores its place in
//! the call context (`abi::ctx::SITE`) on the way to the function's one call of
//! `ore.rt.frame`, which records the function's frame of the error's trace
//! (`runtime::trace`), and on to the shared unwind block. Only the error path
//! pays for it. The store is volatile, so LLVM keeps it in its block: merged into
//! one store fed by a phi, the constant sat in a callee-saved register on the hot
//! path (fib 5% slower, when the frame call took the site itself); and a frame
//! call per call site made code generation slow for functions with many calls
//! (tail merging compares them all).

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
    /// Calls `ore.rt.frame`, then goes to `block`; made on first use.
    frame: Option<Block<'m>>,
}

impl<'m> FnCodegen<'m, '_> {
    /// The unwind block, and the arguments that describe this function's frame
    /// when it leaves from `at`: its names and the site.
    fn frame(&mut self, at: Span) -> (Unwind<'m>, Value<'m>) {
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
                *self.unwind.insert(Unwind { block, names, frame: None })
            }
        };
        let (line, column) = self.func.source.location(at.start);
        (unwind, m.const_int(m.i64(), abi::site::pack(line, column)))
    }

    /// The function's name as a C string: its frame names, which start with it
    /// and a NUL (one constant fewer for the object file).
    pub(super) fn name_string(&mut self) -> Value<'m> {
        self.frame(self.func.span).0.names
    }

    /// A block to branch to when leaving from `at` after an error raised
    /// elsewhere: it records the function's frame, then returns a dummy value.
    pub(super) fn unwind_from(&mut self, at: Span) -> Block<'m> {
        let m = self.m;
        let (unwind, site) = self.frame(at);
        let here = m.current_block();
        let frame = match unwind.frame {
            Some(frame) => frame,
            None => {
                let frame = m.append_block(self.llvm_fn, "frame");
                m.position_at_end(frame);
                m.call(self.runtime(RuntimeFn::Frame), &[self.ctx, unwind.names]);
                m.br(unwind.block);
                self.unwind.as_mut().expect("made by frame()").frame = Some(frame);
                frame
            }
        };
        let leave = m.append_block(self.llvm_fn, "leave");
        m.position_at_end(leave);
        let site_ptr = m.gep(m.i8(), self.ctx, m.const_int(m.i64(), abi::ctx::SITE));
        m.store_volatile(site, 8, site_ptr);
        // SimplifyCFG sinks the common ends of the blocks that branch to `frame`
        // into it, the stores too, as one fed by a phi of the sites; an unmergeable
        // call after each store ends that (and generates no code).
        let barrier = m.call(self.intrinsic("llvm.sideeffect", &[], m.void()), &[]);
        m.add_call_attribute(barrier, "nomerge");
        m.br(frame);
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
        let (unwind, site) = self.frame(at);
        m.call(self.runtime(RuntimeFn::Trap), &[self.ctx, m.const_int(m.i64(), code), a, b, unwind.names, site]);
        m.br(unwind.block);
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
        let sp = if self.options.fast_isel {
            // FastISel cannot select `llvm.stacksave` and hands the rest of the
            // block to SelectionDAG (30-40 µs of a trivial function's compile);
            // a fresh stack slot's address is as good a stack position.
            m.alloca(m.i8())
        } else {
            let stacksave = self.intrinsic("llvm.stacksave.p0", &[], m.ptr());
            m.call(stacksave, &[])
        };
        let limit_ptr = m.gep(m.i8(), self.ctx, m.const_int(m.i64(), abi::ctx::STACK_LIMIT));
        let limit = m.load(m.ptr(), limit_ptr);
        let overflow = m.icmp(IntPredicate::LLVMIntULT, sp, limit);
        let zero = m.const_int(m.i64(), 0);
        self.trap_if(overflow, abi::trap::STACK_OVERFLOW, zero, zero, self.func.span);
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
        let word = self.shared_load(m.i32(), 4, word_ptr);
        let interrupted = m.icmp(IntPredicate::LLVMIntNE, word, m.const_int(m.i32(), 0));
        let zero = m.const_int(m.i64(), 0);
        self.trap_if(interrupted, abi::trap::TIMEOUT, zero, zero, at);
    }
}
