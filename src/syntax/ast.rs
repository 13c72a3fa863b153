//! The untyped syntax tree produced by the parser.

/// A byte range in the source text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }
}

#[derive(Clone, Debug)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum TypeExpr {
    Named(Ident),
    Array(Box<TypeExpr>, Span),
    Unit(Span),
}

impl TypeExpr {
    pub fn span(&self) -> Span {
        match self {
            TypeExpr::Named(id) => id.span,
            TypeExpr::Array(_, span) | TypeExpr::Unit(span) => *span,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Param {
    pub name: Ident,
    pub ty: TypeExpr,
}

#[derive(Clone, Debug)]
pub enum Item {
    /// `fn name(params) -> ret { body }`, or a declaration when `body` is `None`.
    Fn(Box<FnItem>),
    /// `extern fn name(params) -> ret;`
    Extern(Box<FnItem>),
}

#[derive(Clone, Debug)]
pub struct FnItem {
    pub name: Ident,
    pub params: Vec<Param>,
    pub ret: Option<TypeExpr>,
    pub body: Option<Block>,
    /// From `fn` (or `extern`) to the end of the signature: where diagnostics point.
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Shl,
    Shr,
    BitAnd,
    BitOr,
    BitXor,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        use BinOp::*;
        match self {
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Rem => "%",
            Shl => "<<",
            Shr => ">>",
            BitAnd => "&",
            BitOr => "|",
            BitXor => "^",
            Eq => "==",
            Ne => "!=",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            And => "&&",
            Or => "||",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
    /// Height of this subtree; bounded by the parser (see `MAX_NESTING`) so that every
    /// later recursive pass, and dropping the tree, has a known stack need.
    pub depth: u32,
}

#[derive(Clone, Debug)]
pub enum ExprKind {
    /// A literal's magnitude, possibly negated by folding; range-checked by the checker.
    Int(i128),
    Float(f64),
    Bool(bool),
    Str(String),
    Name(String),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Cast(Box<Expr>, TypeExpr),
    Call(Ident, Vec<Expr>),
    Index(Box<Expr>, Box<Expr>),
    /// `[value; len]`
    ArrayRepeat(Box<Expr>, Box<Expr>),
    Block(Block),
    /// The else branch is a `Block` or another `If` expression.
    If(Box<Expr>, Block, Option<Box<Expr>>),
    While(Box<Expr>, Block),
    Return(Option<Box<Expr>>),
    Break,
    Continue,
}

#[derive(Clone, Debug)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub tail: Option<Box<Expr>>,
    pub span: Span,
}

/// Expressions are boxed: a block's statements are a `Vec`, whose every element
/// would otherwise be as large as the largest statement (two expressions).
#[derive(Clone, Debug)]
pub enum Stmt {
    Let {
        mutable: bool,
        name: Ident,
        ty: Option<Box<TypeExpr>>,
        init: Box<Expr>,
    },
    /// `target = value;` where target is a name or an index expression.
    Assign {
        target: Box<Expr>,
        value: Box<Expr>,
    },
    /// An expression statement; `semi` tells whether it ended with `;`.
    Expr {
        expr: Box<Expr>,
        semi: bool,
    },
}

impl Block {
    pub fn depth(&self) -> u32 {
        let stmt_depth = self.stmts.iter().map(|s| match s {
            Stmt::Let { init, .. } => init.depth,
            Stmt::Assign { target, value } => target.depth.max(value.depth),
            Stmt::Expr { expr, .. } => expr.depth,
        });
        stmt_depth.chain(self.tail.iter().map(|e| e.depth)).max().unwrap_or(0)
    }

    /// The statement's or tail's expression that gives the block its depth.
    pub fn deepest(&self) -> Option<&Expr> {
        let exprs = self.stmts.iter().map(|s| match s {
            Stmt::Let { init, .. } => &**init,
            Stmt::Assign { target, value } => {
                if target.depth >= value.depth {
                    target
                } else {
                    value
                }
            }
            Stmt::Expr { expr, .. } => expr,
        });
        exprs.chain(self.tail.as_deref()).max_by_key(|e| e.depth)
    }
}

impl Expr {
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        let child = match &kind {
            ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Bool(_)
            | ExprKind::Str(_)
            | ExprKind::Name(_)
            | ExprKind::Break
            | ExprKind::Continue => 0,
            ExprKind::Unary(_, e) | ExprKind::Cast(e, _) => e.depth,
            ExprKind::Return(e) => e.as_ref().map_or(0, |e| e.depth),
            ExprKind::Binary(_, a, b) | ExprKind::Index(a, b) | ExprKind::ArrayRepeat(a, b) => a.depth.max(b.depth),
            ExprKind::Call(_, args) => args.iter().map(|a| a.depth).max().unwrap_or(0),
            ExprKind::Block(b) => b.depth(),
            ExprKind::If(c, then, els) => c.depth.max(then.depth()).max(els.as_ref().map_or(0, |e| e.depth)),
            ExprKind::While(c, body) => c.depth.max(body.depth()),
        };
        Expr { kind, span, depth: child + 1 }
    }
}
