//! The typed intermediate representation: what the checker produces and the code
//! generator consumes. Names are resolved (locals to slots, calls to callees) and
//! every expression carries its type, so code generation makes no decisions of its own.

use crate::syntax::ast::{BinOp, Span};
use crate::types::{ExternSig, FnSig, Ty};

/// A local variable slot of one function.
pub type LocalId = usize;

#[derive(Clone, Debug)]
pub struct Local {
    pub name: String,
    pub ty: Ty,
}

/// A checked function body, ready for IR generation.
#[derive(Clone, Debug)]
pub struct Function {
    pub name: String,
    pub sig: FnSig,
    /// One slot per parameter, in order, followed by the `let`/`var` slots.
    pub locals: Vec<Local>,
    pub body: Expr,
}

#[derive(Clone, Debug)]
pub struct Expr {
    pub ty: Ty,
    pub span: Span,
    pub kind: ExprKind,
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
    /// An Ore function of the namespace, called through its lazy entry point.
    Ore { name: String, sig: FnSig },
    /// A C symbol of the process (libc, a host callback, ...).
    Extern { symbol: String, sig: ExternSig },
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
    ArrayNew { value: Box<Expr>, len: Box<Expr> },
    Index(Box<Expr>, Box<Expr>),
    Block(Vec<Stmt>, Option<Box<Expr>>),
    If(Box<Expr>, Box<Expr>, Option<Box<Expr>>),
    While(Box<Expr>, Box<Expr>),
    Return(Option<Box<Expr>>),
    Break,
    Continue,
}

// Statements are built once and walked by reference, so the size of the index
// assignment variant costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Stmt {
    /// Initialises a `let`/`var` slot.
    Let(LocalId, Expr),
    Assign(LocalId, Expr),
    /// `array[index] = value`; `value` is evaluated first.
    AssignIndex { array: Expr, index: Expr, value: Expr },
    Expr(Expr),
}
