//! Source text to syntax tree: logos lexer, lalrpop parser, and the helpers the
//! grammar's actions call.

pub mod ast;
pub mod lexer;

use crate::diagnostics::Diagnostic;
use ast::*;
use lalrpop_util::ParseError;
use lexer::Token;
use logos::Logos;

lalrpop_util::lalrpop_mod!(
    #[allow(clippy::all, unused_parens)]
    grammar,
    "/grammar/ore.rs"
);

/// The deepest expression or block nesting the parser accepts. Recursive passes
/// (checker, IR generation, drop) then have a known bound; `stacker` covers whatever
/// stack the calling thread lacks.
pub const MAX_NESTING: u32 = 1000;

/// An error raised by the lexer or by a grammar action.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntaxError {
    pub span: Span,
    pub message: String,
}

type ActionResult<T> = Result<T, ParseError<usize, Token, SyntaxError>>;

fn user_error<T>(span: Span, message: impl Into<String>) -> ActionResult<T> {
    Err(ParseError::User { error: SyntaxError { span, message: message.into() } })
}

/// Builds an expression node, refusing nesting beyond `MAX_NESTING`.
pub fn node(kind: ExprKind, l: usize, r: usize) -> ActionResult<Box<Expr>> {
    let expr = Expr::new(kind, Span::new(l, r));
    if expr.depth > MAX_NESTING {
        return user_error(expr.span, format!("expression nests too deeply (more than {MAX_NESTING} levels)"));
    }
    Ok(Box::new(expr))
}

/// A parenthesised expression counts as one level of nesting, so that 100k nested
/// parentheses are refused like 100k nested blocks.
pub fn paren(mut e: Box<Expr>, l: usize, r: usize) -> ActionResult<Box<Expr>> {
    e.depth += 1;
    e.span = Span::new(l, r);
    if e.depth > MAX_NESTING {
        return user_error(e.span, format!("expression nests too deeply (more than {MAX_NESTING} levels)"));
    }
    if let ExprKind::Int(v) = e.kind {
        // Only a `-` written directly before a literal folds into it; inside
        // parentheses the literal must fit on its own.
        if v > i64::MAX as i128 {
            return user_error(e.span, "integer literal out of range for i64");
        }
    }
    Ok(e)
}

/// `-e`: a minus written directly before an integer literal folds into it, so
/// `-9223372036854775808` is representable. Any other operand (a literal that is
/// already negative, as in `-(-9223372036854775808)` or `- -1`) is negated at run
/// time, with wrapping.
pub fn negate(operand: Box<Expr>, l: usize, r: usize) -> ActionResult<Box<Expr>> {
    match operand.kind {
        ExprKind::Int(v) if v >= 0 => node(ExprKind::Int(-v), l, r),
        _ => node(ExprKind::Unary(UnOp::Neg, operand), l, r),
    }
}

pub fn assign(target: Box<Expr>, value: Box<Expr>) -> ActionResult<Stmt> {
    match target.kind {
        ExprKind::Name(_) | ExprKind::Index(..) => Ok(Stmt::Assign { target, value }),
        _ => user_error(target.span, "invalid assignment target: expected a variable or an array element"),
    }
}

/// A trailing block-like statement without `;` is the block's value, as in Rust.
pub fn block(mut stmts: Vec<Stmt>, mut tail: Option<Box<Expr>>, l: usize, r: usize) -> ActionResult<Block> {
    if tail.is_none() {
        if let Some(Stmt::Expr { semi: false, .. }) = stmts.last() {
            if let Some(Stmt::Expr { expr, .. }) = stmts.pop() {
                tail = Some(expr);
            }
        }
    }
    let block = Block { stmts, tail, span: Span::new(l, r) };
    if block.depth() >= MAX_NESTING {
        // Point at what crossed the limit: the deepest statement or expression
        // inside, not the block's own `{` (which may be a whole function away).
        let (span, what) = match block.deepest() {
            Some(e) if !matches!(e.kind, ExprKind::Block(_)) => (e.span, "expression"),
            _ => (block.span, "block"),
        };
        return user_error(span, format!("{what} nests too deeply (more than {MAX_NESTING} levels)"));
    }
    Ok(block)
}

/// Parses a whole module. Reports the first syntax error.
pub fn parse(text: &str) -> Result<Vec<Item>, Diagnostic> {
    let tokens = Token::lexer(text).spanned().map(|(tok, range)| match tok {
        Ok(tok) => Ok((range.start, tok, range.end)),
        Err(err) => Err(SyntaxError { span: Span::new(range.start, range.end), message: err.message(&text[range.clone()]) }),
    });
    grammar::ModuleParser::new().parse(tokens).map_err(|err| to_diagnostic(err, text))
}

fn to_diagnostic(err: ParseError<usize, Token, SyntaxError>, text: &str) -> Diagnostic {
    let end = text.len();
    match err {
        ParseError::User { error } => Diagnostic::new(error.span, error.message),
        ParseError::InvalidToken { location } => Diagnostic::new(Span::new(location, location + 1), "invalid token"),
        ParseError::UnrecognizedEof { expected, .. } => {
            Diagnostic::new(Span::new(end, end), format!("unexpected end of file{}", expected_list(&expected)))
        }
        ParseError::UnrecognizedToken { token: (l, tok, r), expected } if expected.iter().any(|e| e == "\";\"") && expected.len() > 6 => {
            // Where a statement could end, and the token does not continue the
            // expression: most likely a forgotten `;`. Point where it goes, as
            // rustc does, when the token starts a later line.
            let found = lexer::describe(&tok);
            let before = text[..l].trim_end();
            if text[before.len()..l].contains('\n') {
                Diagnostic::new(Span::new(before.len(), before.len()), format!("expected `;` here, found {found} on the next line"))
            } else {
                Diagnostic::new(Span::new(l, r), format!("unexpected {found}, expected `;` or an operator"))
            }
        }
        ParseError::UnrecognizedToken { token: (l, tok, r), expected } => {
            let mut message = format!("unexpected {}{}", lexer::describe(&tok), expected_list(&expected));
            if matches!(tok, Token::EqEq | Token::NotEq | Token::Lt | Token::Le | Token::Gt | Token::Ge) {
                message.push_str(" (comparison operators cannot be chained)");
            }
            Diagnostic::new(Span::new(l, r), message)
        }
        ParseError::ExtraToken { token: (l, tok, r) } => Diagnostic::new(Span::new(l, r), format!("unexpected {}", lexer::describe(&tok))),
    }
}

/// "; expected one of `)`, `,`" for short lists; a long one is summed up by what
/// it allows (an expression, or the end of a block), or left out as noise.
fn expected_list(expected: &[String]) -> String {
    let allows = |name: &str| expected.iter().any(|e| e == name);
    if expected.len() > 6 {
        return if allows("Int") && allows("Ident") && allows("\"}\"") {
            ", expected an expression or `}`".to_string()
        } else if allows("Int") && allows("Ident") {
            ", expected an expression".to_string()
        } else if allows("\"}\"") {
            ", expected `}`".to_string()
        } else {
            String::new()
        };
    }
    if expected.is_empty() {
        return String::new();
    }
    let names: Vec<String> = expected.iter().map(|e| pretty_expected(e)).collect();
    if names.len() == 1 {
        format!(", expected {}", names[0])
    } else {
        format!(", expected one of {}", names.join(", "))
    }
}

/// lalrpop names terminals by their grammar spelling: `"fn"` for keywords, `Ident`...
fn pretty_expected(name: &str) -> String {
    match name {
        "Ident" => "identifier".to_string(),
        "Int" => "integer".to_string(),
        "Float" => "float".to_string(),
        "Str" => "string literal".to_string(),
        quoted => format!("`{}`", quoted.trim_matches('"')),
    }
}

/// Refuses a function nesting deeper than `max` levels (a host's own bound, below
/// the parser's `MAX_NESTING`).
pub fn check_nesting(items: &[Item], max: u32) -> Result<(), Diagnostic> {
    for item in items {
        if let Item::Fn(f) = item {
            let FnItem { name, body: Some(body), .. } = &**f else { continue };
            let depth = body.depth() + 1;
            if depth > max {
                let message = format!("`{}` nests {depth} levels deep, over the limit of {max}", name.name);
                return Err(Diagnostic::new(body.span, message));
            }
        }
    }
    Ok(())
}
