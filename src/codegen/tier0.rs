//! Tier 0's side of tiered compilation (`Options::count_calls`): counting calls
//! and loop iterations down in the function's slot, asking for the top tier, and
//! moving a running call into the top tier's entry at a loop (on-stack
//! replacement; `abi::osr_table`, docs/ARCHITECTURE.md "Tiers"). The top tier's
//! side, the entry's prologue, is `load_locals`.

use super::function::FnCodegen;
use super::value_type;
use crate::abi::{self, RuntimeFn};
use crate::llvm::ir::{Block, IntPredicate, Type, Value};
use crate::syntax::ast::Span;

impl<'m> FnCodegen<'m, '_> {
    /// Tier 0: one down-count of the function's countdown (`abi::slot::COUNTDOWN`)
    /// (concurrent calls may lose a count, never the zero: a stale store is a
    /// higher count, which counts down through 0 again); the count left. Tier 0
    /// is compiled by FastISel (`Options::count_calls` comes with `fast_isel`),
    /// so the words shared with other threads are read and written with
    /// volatile accesses, one aligned `mov` each: relaxed atomics on x86-64, and
    /// the table's load has acquire order there (`Options::fast_isel`).
    fn count_down(&mut self) -> Value<'m> {
        debug_assert!(self.options.fast_isel, "tier 0 is compiled by FastISel");
        let m = self.m;
        let countdown = self.own_slot_word(abi::slot::COUNTDOWN);
        let left = m.sub(m.load_volatile(m.i64(), 8, countdown), m.const_int(m.i64(), 1));
        m.store_volatile(left, 8, countdown);
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
        // Acquire (an x86-64 `mov` is one): the table and the code it points to
        // were linked before the engine stored its address (with release).
        let table = m.load_volatile(m.ptr(), 8, self.own_slot_word(abi::slot::OSR_TABLE));
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
        let buffer = self.locals_buffer.expect("made in the prologue of tier 0 with loop entries");
        for (slot, ty, word) in self.local_words(buffer) {
            m.store(m.load(ty, slot), word);
        }
        let name = self.name_string();
        m.call(self.runtime(RuntimeFn::OsrEntered), &[self.ctx, name]);
        let ret = value_type(m, self.func.sig.ret);
        let result = m.call_indirect(m.fn_type(ret.unwrap_or_else(|| m.void()), &[m.ptr(), m.ptr()]), entry, &[self.ctx, buffer]);
        self.ret(ret.map(|_| result));
    }

    /// A loop entry's prologue: each local from the buffer `enter_top_tier` filled.
    pub(super) fn load_locals(&mut self, buffer: Value<'m>) {
        let m = self.m;
        for (slot, ty, word) in self.local_words(buffer) {
            m.store(m.load(ty, word), slot);
        }
    }

    /// Each local with a value: its stack slot, its type, and its word in
    /// `buffer` (8 bytes per local, in `tir::Function::locals` order).
    fn local_words(&self, buffer: Value<'m>) -> Vec<(Value<'m>, Type<'m>, Value<'m>)> {
        let m = self.m;
        let word = |i: usize| m.gep(m.i8(), buffer, m.const_int(m.i64(), 8 * i as i64));
        let typed = self.func.locals.iter().zip(&self.locals).enumerate();
        typed.filter_map(|(i, (local, slot))| Some(((*slot)?, value_type(m, local.ty)?, word(i)))).collect()
    }
}
