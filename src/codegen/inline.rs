//! When a callee is compiled into its caller: the whole inlining policy.
//!
//! Each function is its own LLVM module, so LLVM cannot inline across functions.
//! Ore copies a callee into its caller's module, where LLVM's inliner takes it,
//! when all of these hold:
//! 1. the callee is a candidate (`cost` is `Some`): at most `CANDIDATE_NODES`
//!    expression nodes, calling no Ore function (so copies never chain or recurse),
//!    making no array (which the callee frees when it returns, and a copy would
//!    not), and nothing with effects beyond the call (`load`, Python);
//! 2. the caller's module defines it (`Callees::inline` answers only for those);
//! 3. the call is inside a loop, or anywhere in the top tier of a hot function
//!    (`Options::hot`): where it pays. Elsewhere the callee stays a function of
//!    its own, compiled at its first call;
//! 4. the caller has budget left (`Budget`): `NODES_PER_FUNCTION` nodes of copies.
//!
//! A copy runs only while the callee's slot still holds the definition it was made
//! from (`calls.rs`, `guarded_copy_call`), so redefinition keeps its meaning.

use crate::tir::{self, Callee, ExprKind};
use std::sync::Arc;

/// Expression nodes a function may have and still be copied into its callers.
pub const CANDIDATE_NODES: usize = 40;

/// Expression nodes of copies one function may inline in all: LLVM's compile time
/// grows faster than linearly in a function's size, so without a bound a loop with
/// thousands of calls to a small function took minutes to compile (N = 2,000 calls:
/// 36 s). Call sites past the budget call through the slot.
pub const NODES_PER_FUNCTION: usize = 1000;

/// A function whose callers may carry a copy of it: its current definition, whose
/// number the linker gives the copy's guard (`abi::definition_symbol`).
pub struct InlineCopy {
    /// The callee's typed IR.
    pub func: Arc<tir::Function>,
}

/// The expression nodes of `func` if it is a candidate for copies (rule 1): what a
/// copy spends of its caller's budget.
pub fn cost(func: &tir::Function) -> Option<usize> {
    let mut budget = CANDIDATE_NODES;
    func.body.within(&mut budget, &allowed_in_copies).then_some(CANDIDATE_NODES - budget)
}

/// Whether callers may carry a copy of `func` (rule 1).
pub fn is_candidate(func: &tir::Function) -> bool {
    cost(func).is_some()
}

/// Nodes a copy may not contain: calls of Ore functions, new arrays, `load` and
/// Python.
fn allowed_in_copies(e: &tir::Expr) -> bool {
    !matches!(e.kind, ExprKind::Call(Callee::Ore { .. }, _) | ExprKind::ArrayNew { .. } | ExprKind::Load(_) | ExprKind::Python(..))
}

/// What a function being compiled may still spend on copies (rule 4).
pub(super) struct Budget(usize);

impl Budget {
    /// The budget of a function compiled on its own.
    pub(super) fn per_function() -> Budget {
        Budget(NODES_PER_FUNCTION)
    }

    /// No copies (for a copy itself, which calls no Ore function anyway).
    pub(super) fn none() -> Budget {
        Budget(0)
    }

    /// `copy`, if it fits what is left, which it then spends.
    pub(super) fn take(&mut self, copy: Option<InlineCopy>) -> Option<InlineCopy> {
        let copy = copy?;
        let cost = cost(&copy.func)?;
        if cost > self.0 {
            return None;
        }
        self.0 -= cost;
        Some(copy)
    }
}
