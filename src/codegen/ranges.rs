//! Counted loops: their indexing checked once, before the loop (loop versioning),
//! and their deadline checks once per chunk of iterations (strip-mining).
//!
//! An innermost `while i < n` (or `i <= n`) loop whose body steps `i` by one as its
//! last statement, and assigns neither `i` nor `n` elsewhere, runs with `i` from
//! its value on entry up to `n` (`Counted`). So one test before the loop covers every `a[i]`, and every
//! `a[k]`, in its body whose array `a` and other index `k` the body does not
//! assign either: `i >= 0`, then `n <= len(a)` (`n < len(a)` for `<=`) or
//! `k < len(a)`. When the test holds, a copy of the loop without those checks
//! runs; when it fails, the loop as written, which raises the error where it
//! always did. (Locals are the function's own: no call can assign them, and an
//! array's length never changes.) Only optimised code does this: it doubles the
//! loop's code, which pays where LLVM can then keep values in registers and
//! vectorise.
//!
//! With deadline checks, such a loop over `i < n` runs as an outer loop that
//! checks the deadline and picks the next chunk, `i` up to `min(n, i + CHUNK)`,
//! and an inner loop over the chunk without checks, which LLVM can vectorise.
//! `continue` goes to the outer loop, so a loop that never steps still checks. (An
//! `i <= n` loop keeps its check per iteration: with `n` the largest integer, `i`
//! wraps and the loop never ends, which a chunk bound cannot express.)

use crate::syntax::ast::BinOp;
use crate::tir::{Expr, ExprKind, LocalId, Stmt};
use crate::types::Ty;

/// Iterations a strip-mined loop runs between two deadline checks: its body's
/// straight-line code is bounded (a function of over `tir::HUGE_FUNCTION_NODES`
/// is compiled at -O0, without strip-mining), and inner loops and calls check
/// for themselves, so a deadline is seen within a few milliseconds at worst,
/// while the check costs nothing measurable per iteration.
pub(super) const CHUNK: i64 = 1024;

/// A loop of the shape above: `while index < bound` (`<=` if `inclusive`).
pub(super) struct Counted<'e> {
    pub(super) index: LocalId,
    pub(super) bound: &'e Expr,
    pub(super) inclusive: bool,
    /// What its body does.
    scan: Scan,
}

/// What the test before a loop covers (`checked_once`).
pub(super) struct CheckedOnce<'e> {
    /// The loop's index, and the bound it stays below (or at, `inclusive`).
    pub(super) index: LocalId,
    pub(super) bound: &'e Expr,
    pub(super) inclusive: bool,
    /// Each (array, index) pair of the body's indexings that the test covers, once.
    pub(super) covered: Vec<(LocalId, LocalId)>,
}

/// The loop `while cond { body }`, if it has the shape above.
pub(super) fn counted<'e>(cond: &'e Expr, body: &'e Expr) -> Option<Counted<'e>> {
    let ExprKind::Binary(op @ (BinOp::Lt | BinOp::Le), i, bound) = &cond.kind else { return None };
    let ExprKind::Local(index) = i.kind else { return None };
    let ExprKind::Block(stmts, None) = &body.kind else { return None };
    let Some((Stmt::Assign(last, step), rest)) = stmts.split_last() else { return None };
    if i.ty != Ty::I64 || *last != index || !steps_by_one(step, index) {
        return None;
    }
    let mut scan = Scan { assigned: Vec::new(), indexed: Vec::new(), innermost: true };
    rest.iter().for_each(|s| scan.stmt(s));
    let assigned = &scan.assigned;
    let invariant = |e: &Expr| match &e.kind {
        ExprKind::Int(_) => true,
        ExprKind::Local(l) => *l != index && !assigned.contains(l),
        ExprKind::Len(a) => matches!(a.kind, ExprKind::Local(a) if !assigned.contains(&a)),
        _ => false,
    };
    if !scan.innermost || assigned.contains(&index) || !invariant(bound) {
        return None;
    }
    Some(Counted { index, bound, inclusive: *op == BinOp::Le, scan })
}

/// The test for the loop `while cond { body }`, if it is counted and has an
/// indexing the test covers.
pub(super) fn checked_once<'e>(cond: &'e Expr, body: &'e Expr) -> Option<CheckedOnce<'e>> {
    let Counted { index, bound, inclusive, scan } = counted(cond, body)?;
    let mut covered: Vec<(LocalId, LocalId)> = Vec::new();
    for (a, k) in scan.indexed {
        let fits = k == index || !scan.assigned.contains(&k);
        if fits && !scan.assigned.contains(&a) && !covered.contains(&(a, k)) {
            covered.push((a, k));
        }
    }
    (!covered.is_empty()).then_some(CheckedOnce { index, bound, inclusive, covered })
}

/// `i + 1`.
fn steps_by_one(e: &Expr, i: LocalId) -> bool {
    matches!(&e.kind, ExprKind::Binary(BinOp::Add, a, b)
        if matches!(a.kind, ExprKind::Local(l) if l == i) && matches!(b.kind, ExprKind::Int(1)))
}

/// What a loop's body does that the test depends on, anywhere inside it.
struct Scan {
    /// The locals it assigns or declares.
    assigned: Vec<LocalId>,
    /// The (array, index) locals of its indexings whose array and index are locals.
    indexed: Vec<(LocalId, LocalId)>,
    /// Whether it holds no loop.
    innermost: bool,
}

impl Scan {
    fn stmt(&mut self, s: &Stmt) {
        self.effect(s);
        s.for_each_expr(|e| self.expr(e));
    }

    /// What `s` itself does (its expressions are walked apart).
    fn effect(&mut self, s: &Stmt) {
        match s {
            Stmt::Let(l, _) | Stmt::Assign(l, _) => self.assigned.push(*l),
            Stmt::AssignIndex { array, index, .. } => self.indexing(array, index),
            Stmt::Expr(_) => {}
        }
    }

    fn expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::While(..) => self.innermost = false,
            ExprKind::Index(array, index) => self.indexing(array, index),
            // The statements' expressions are children, walked below.
            ExprKind::Block(stmts, _) => stmts.iter().for_each(|s| self.effect(s)),
            _ => {}
        }
        e.for_each_child(|c| self.expr(c));
    }

    fn indexing(&mut self, array: &Expr, index: &Expr) {
        if let (ExprKind::Local(a), ExprKind::Local(k)) = (&array.kind, &index.kind) {
            self.indexed.push((*a, *k));
        }
    }
}
