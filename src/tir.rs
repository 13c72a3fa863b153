//! The typed intermediate representation: what the checker produces and the code
//! generator consumes. Names are resolved (locals to slots, calls to callees) and
//! every expression carries its type, so code generation makes no decisions of its own.

use crate::diagnostics::SourceFile;
use crate::syntax::ast::{BinOp, Span};
use crate::types::{ExternSig, FnSig, Ty};
use std::collections::BTreeSet;
use std::sync::Arc;

/// A local variable slot of one function.
pub type LocalId = usize;

#[derive(Clone, Debug)]
pub struct Local {
    pub ty: Ty,
    /// Its name and where it is declared, for debuggers.
    pub name: String,
    pub span: Span,
}

/// A checked function body, ready for IR generation.
#[derive(Clone, Debug)]
pub struct Function {
    pub name: String,
    /// The function's name where it is defined.
    pub span: Span,
    /// The module it is defined in, to locate runtime errors.
    pub source: Arc<SourceFile>,
    pub sig: FnSig,
    /// One slot per parameter, in order, followed by the `let`/`var` slots.
    pub locals: Vec<Local>,
    pub body: Expr,
}

/// Expression nodes above which a function is compiled at -O0 whatever its level:
/// LLVM's optimiser and register allocator take time superlinear in a function's
/// size (a loop body of 4,000 calls: 17 s at -O2 against 0.5 s at -O0; 330 calls,
/// about this bound: 0.5 s at -O2), so a huge function is not worth optimising at
/// its first call. HotSpot, for the same reason, does not compile methods over
/// 8,000 bytecodes at all. The largest function of the benchmark programs (nbody's
/// `main`) has 241 nodes.
pub const HUGE_FUNCTION_NODES: usize = 2000;

/// The most expression nodes of a function of straight-line code
/// (`Function::is_straight_line`).
pub const STRAIGHT_LINE_NODES: usize = 200;

impl Function {
    /// The names of the Ore functions the body calls, and of the C symbols it
    /// calls through `extern fn`, each once.
    pub fn callees(&self) -> (Vec<&str>, Vec<&str>) {
        fn walk<'e>(e: &'e Expr, ore: &mut BTreeSet<&'e str>, c: &mut BTreeSet<&'e str>) {
            match &e.kind {
                ExprKind::Call(Callee::Ore { name, .. }, _) => drop(ore.insert(name)),
                ExprKind::Call(Callee::Extern { symbol, .. }, _) => drop(c.insert(symbol)),
                _ => {}
            }
            e.for_each_child(|child| walk(child, ore, c));
        }
        let (mut ore, mut c) = (BTreeSet::new(), BTreeSet::new());
        walk(&self.body, &mut ore, &mut c);
        (ore.into_iter().collect(), c.into_iter().collect())
    }

    /// Whether the body calls the function of the same name (itself, while it
    /// is its name's definition).
    pub fn calls_itself(&self) -> bool {
        self.callees().0.contains(&self.name.as_str())
    }

    /// Whether the function frees the arrays made during its call when it returns
    /// (`runtime::arena`): it returns no array, and makes one or calls a function
    /// that returns one (otherwise there is nothing to free).
    pub fn frees_arrays(&self) -> bool {
        fn makes(e: &Expr) -> bool {
            let here = match &e.kind {
                ExprKind::ArrayNew { .. } => true,
                ExprKind::Call(Callee::Ore { sig, .. }, _) => sig.ret.is_array(),
                _ => false,
            };
            let mut below = false;
            e.for_each_child(|child| below = below || makes(child));
            here || below
        }
        !self.sig.ret.is_array() && makes(&self.body)
    }

    /// The loops where tier-0 code may move a running call into the top tier
    /// (on-stack replacement), by the start of their span, in evaluation order:
    /// those in statement position all the way up to the body (loop bodies,
    /// blocks' statements and tails, `if` branches), where no partly evaluated
    /// expression is live, so the locals are the whole state of the call.
    pub fn osr_loops(&self) -> Vec<usize> {
        fn walk(e: &Expr, statement: bool, found: &mut Vec<usize>) {
            match &e.kind {
                ExprKind::While(cond, body) => {
                    if statement {
                        found.push(e.span.start);
                    }
                    walk(cond, false, found);
                    walk(body, statement, found);
                }
                ExprKind::Block(stmts, tail) => {
                    for s in stmts {
                        match s {
                            Stmt::Expr(e) => walk(e, statement, found),
                            Stmt::Let(_, e) | Stmt::Assign(_, e) => walk(e, false, found),
                            Stmt::AssignIndex { array, index, value } => {
                                [value, array, index].into_iter().for_each(|e| walk(e, false, found))
                            }
                        }
                    }
                    tail.iter().for_each(|t| walk(t, statement, found));
                }
                ExprKind::If(cond, then, els) => {
                    walk(cond, false, found);
                    walk(then, statement, found);
                    els.iter().for_each(|e| walk(e, statement, found));
                }
                _ => e.for_each_child(|c| walk(c, false, found)),
            }
        }
        let mut found = Vec::new();
        walk(&self.body, true, &mut found);
        found
    }

    /// Whether the function is small straight-line code: at most
    /// `STRAIGHT_LINE_NODES` nodes, no loop, no call of an Ore function, `extern
    /// fn` or Python, no `load`, no array made or indexed, no integer division by
    /// anything but a literal that needs no check. Its top tier has no copies to
    /// inline either, so it gets a short IR pipeline (`llvm::ir::Pipeline`).
    /// (Indexing and checked division are left out: `default<O2>` drops a check
    /// that a condition before it implies, and the short pipeline does not.)
    pub fn is_straight_line(&self) -> bool {
        let mut budget = STRAIGHT_LINE_NODES;
        let simple = |e: &Expr| match &e.kind {
            ExprKind::Block(stmts, _) => !stmts.iter().any(|s| matches!(s, Stmt::AssignIndex { .. })),
            ExprKind::While(..) | ExprKind::Call(..) | ExprKind::Load(_) | ExprKind::Python(..) => false,
            ExprKind::ArrayNew { .. } | ExprKind::Index(..) => false,
            _ => !checked_division(e),
        };
        self.body.within(&mut budget, &simple)
    }

    /// Whether the function is over `HUGE_FUNCTION_NODES`.
    pub fn is_huge(&self) -> bool {
        let mut budget = HUGE_FUNCTION_NODES;
        !self.body.within(&mut budget, &|_| true)
    }
}

/// An integer `/` or `%` whose divisor may be 0 or -1, so it has a check.
fn checked_division(e: &Expr) -> bool {
    matches!(&e.kind, ExprKind::Binary(BinOp::Div | BinOp::Rem, _, d)
        if d.ty == Ty::I64 && !matches!(d.kind, ExprKind::Int(v) if v != 0 && v != -1))
}

#[derive(Clone, Debug)]
pub struct Expr {
    pub ty: Ty,
    pub span: Span,
    pub kind: ExprKind,
}

impl Expr {
    /// Calls `f` on each direct subexpression, in evaluation order.
    pub fn for_each_child<'e>(&'e self, mut f: impl FnMut(&'e Expr)) {
        match &self.kind {
            ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Bool(_)
            | ExprKind::Str(_)
            | ExprKind::Local(_)
            | ExprKind::Break
            | ExprKind::Continue => {}
            ExprKind::Neg(x) | ExprKind::Not(x) | ExprKind::Cast(x) | ExprKind::Print(x) | ExprKind::Len(x) | ExprKind::Load(x) => f(x),
            ExprKind::Return(x) => x.iter().for_each(|x| f(x)),
            ExprKind::Binary(_, a, b) | ExprKind::Index(a, b) | ExprKind::While(a, b) => {
                f(a);
                f(b);
            }
            ExprKind::ArrayNew { value, len } => {
                f(value);
                f(len);
            }
            ExprKind::Call(_, args) | ExprKind::Python(_, args) => args.iter().for_each(f),
            ExprKind::If(c, t, e) => {
                f(c);
                f(t);
                e.iter().for_each(|e| f(e));
            }
            ExprKind::Block(stmts, tail) => {
                for s in stmts {
                    s.for_each_expr(&mut f);
                }
                tail.iter().for_each(|t| f(t));
            }
        }
    }

    /// Whether the tree has at most `budget` nodes, all `allowed`; spends one unit
    /// of `budget` per node and stops at the first that fails.
    pub(crate) fn within(&self, budget: &mut usize, allowed: &impl Fn(&Expr) -> bool) -> bool {
        if *budget == 0 || !allowed(self) {
            return false;
        }
        *budget -= 1;
        let mut ok = true;
        self.for_each_child(|c| ok = ok && c.within(budget, allowed));
        ok
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PyOp {
    /// `py_exec(code)`
    Exec,
    /// `py_eval_*(expr)`
    Eval,
    /// `py_call*(callable, args...)`
    Call,
}

#[derive(Clone, Debug)]
pub enum Callee {
    /// An Ore function of the namespace, called through its slot.
    Ore { name: String, sig: FnSig },
    /// A C symbol of the process (libc, a host callback, ...); `host`: registered
    /// by the host, so the call may raise a runtime error.
    Extern { symbol: String, sig: ExternSig, host: bool },
}

#[derive(Clone, Debug)]
pub enum ExprKind {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    Local(LocalId),
    /// Wrapping negation for i64, IEEE negation for f64.
    Neg(Box<Expr>),
    /// Bitwise not for i64, logical not for bool.
    Not(Box<Expr>),
    /// Arithmetic, bitwise, comparison; `&&`/`||` short-circuit.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// Conversion from the operand's type to `Expr::ty`.
    Cast(Box<Expr>),
    Call(Callee, Vec<Expr>),
    Print(Box<Expr>),
    /// `load(source)`: compiles a module into the namespace at run time.
    Load(Box<Expr>),
    /// A Python built-in; the result is converted to `Expr::ty` (unit drops it).
    /// For `Call`, the first argument is the callable's name.
    Python(PyOp, Vec<Expr>),
    Len(Box<Expr>),
    ArrayNew {
        value: Box<Expr>,
        len: Box<Expr>,
    },
    Index(Box<Expr>, Box<Expr>),
    Block(Vec<Stmt>, Option<Box<Expr>>),
    If(Box<Expr>, Box<Expr>, Option<Box<Expr>>),
    While(Box<Expr>, Box<Expr>),
    Return(Option<Box<Expr>>),
    Break,
    Continue,
}

impl Stmt {
    /// Calls `f` on each expression of the statement, in evaluation order.
    pub fn for_each_expr<'e>(&'e self, mut f: impl FnMut(&'e Expr)) {
        match self {
            Stmt::Let(_, e) | Stmt::Assign(_, e) | Stmt::Expr(e) => f(e),
            Stmt::AssignIndex { array, index, value } => {
                f(value);
                f(array);
                f(index);
            }
        }
    }
}

// Statements are built once and walked by reference, so the size of the index
// assignment variant costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Stmt {
    /// Initialises a `let`/`var` slot.
    Let(LocalId, Expr),
    Assign(LocalId, Expr),
    /// `array[index] = value`; `value` is evaluated first. Boxed, so that a
    /// statement is one expression's size, not three.
    AssignIndex {
        array: Box<Expr>,
        index: Box<Expr>,
        value: Box<Expr>,
    },
    Expr(Expr),
}
