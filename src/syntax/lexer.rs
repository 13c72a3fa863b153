//! Tokens of Ore, recognised by logos. The lexer owns escape processing and numeric
//! literal parsing so that the grammar only ever sees well-formed values.

use logos::Logos;

/// What went wrong while lexing; rendered with the span of the offending text.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum LexError {
    #[default]
    UnexpectedChar,
    UnterminatedString,
    BadEscape(char),
    IntTooLarge,
    FloatTooLarge,
}

impl LexError {
    pub fn message(&self, text: &str) -> String {
        match self {
            LexError::UnexpectedChar => match text.chars().next() {
                Some(c) => format!("unexpected character `{}`", c.escape_debug()),
                None => "unexpected end of input".to_string(),
            },
            LexError::UnterminatedString => "unterminated string literal".to_string(),
            LexError::BadEscape(c) => format!("unknown escape sequence `\\{}`", c.escape_debug()),
            LexError::IntTooLarge => "integer literal out of range for i64".to_string(),
            LexError::FloatTooLarge => "float literal out of range for f64".to_string(),
        }
    }
}

#[derive(Logos, Clone, Debug, PartialEq)]
#[logos(error = LexError)]
#[logos(skip r"[ \t\r\n\f]+")]
#[logos(skip r"//[^\n]*")]
pub enum Token {
    #[token("fn")]
    Fn,
    #[token("extern")]
    Extern,
    #[token("let")]
    Let,
    #[token("var")]
    Var,
    #[token("if")]
    If,
    #[token("else")]
    Else,
    #[token("while")]
    While,
    #[token("break")]
    Break,
    #[token("continue")]
    Continue,
    #[token("return")]
    Return,
    #[token("true")]
    True,
    #[token("false")]
    False,
    #[token("as")]
    As,

    #[regex("[A-Za-z_][A-Za-z0-9_]*", |lex| lex.slice().to_string())]
    Ident(String),
    /// The magnitude only: a leading `-` is folded by the parser, which is what lets
    /// `-9223372036854775808` through.
    #[regex("[0-9][0-9_]*", |lex| parse_int(lex.slice(), 10))]
    #[regex("0x[0-9A-Fa-f_]+", |lex| parse_int(&lex.slice()[2..], 16))]
    Int(u64),
    #[regex(r"[0-9][0-9_]*\.[0-9][0-9_]*([eE][+-]?[0-9]+)?", |lex| parse_float(lex.slice()))]
    #[regex(r"[0-9][0-9_]*[eE][+-]?[0-9]+", |lex| parse_float(lex.slice()))]
    Float(f64),
    /// A string body with escapes resolved. The closing quote is optional in the regex
    /// so that a missing one is reported as such instead of as a stray `"`.
    #[regex(r#""([^"\\]|\\(.|\n))*"?"#, |lex| unescape(lex.slice()))]
    Str(String),

    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token(",")]
    Comma,
    #[token(";")]
    Semi,
    #[token(":")]
    Colon,
    #[token("->")]
    Arrow,
    #[token("=")]
    Assign,
    #[token("==")]
    EqEq,
    #[token("!=")]
    NotEq,
    #[token("<")]
    Lt,
    #[token("<=")]
    Le,
    #[token(">")]
    Gt,
    #[token(">=")]
    Ge,
    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("*")]
    Star,
    #[token("/")]
    Slash,
    #[token("%")]
    Percent,
    #[token("&")]
    Amp,
    #[token("|")]
    Pipe,
    #[token("^")]
    Caret,
    #[token("<<")]
    Shl,
    #[token(">>")]
    Shr,
    #[token("!")]
    Bang,
    #[token("&&")]
    AndAnd,
    #[token("||")]
    OrOr,
}

fn parse_int(digits: &str, radix: u32) -> Result<u64, LexError> {
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    u64::from_str_radix(&clean, radix).map_err(|_| LexError::IntTooLarge)
}

fn parse_float(text: &str) -> Result<f64, LexError> {
    let clean: String = text.chars().filter(|&c| c != '_').collect();
    match clean.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(LexError::FloatTooLarge),
    }
}

fn unescape(quoted: &str) -> Result<String, LexError> {
    if quoted.len() < 2 || !quoted.ends_with('"') || is_escaped_quote(quoted) {
        return Err(LexError::UnterminatedString);
    }
    let body = &quoted[1..quoted.len() - 1];
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some('0') => out.push('\0'),
            Some(other) => return Err(LexError::BadEscape(other)),
            None => return Err(LexError::UnterminatedString),
        }
    }
    Ok(out)
}

/// True when the final `"` is itself escaped (`"abc\"` at end of input).
fn is_escaped_quote(quoted: &str) -> bool {
    let backslashes = quoted[..quoted.len() - 1].bytes().rev().take_while(|&b| b == b'\\').count();
    backslashes % 2 == 1
}

/// Display form used in "unexpected token" diagnostics.
pub fn describe(token: &Token) -> String {
    match token {
        Token::Ident(name) => format!("identifier `{name}`"),
        Token::Int(v) => format!("integer `{v}`"),
        Token::Float(v) => format!("float `{v}`"),
        Token::Str(_) => "string literal".to_string(),
        other => format!("`{}`", spelling(other)),
    }
}

fn spelling(token: &Token) -> &'static str {
    use Token::*;
    match token {
        Fn => "fn",
        Extern => "extern",
        Let => "let",
        Var => "var",
        If => "if",
        Else => "else",
        While => "while",
        Break => "break",
        Continue => "continue",
        Return => "return",
        True => "true",
        False => "false",
        As => "as",
        LParen => "(",
        RParen => ")",
        LBrace => "{",
        RBrace => "}",
        LBracket => "[",
        RBracket => "]",
        Comma => ",",
        Semi => ";",
        Colon => ":",
        Arrow => "->",
        Assign => "=",
        EqEq => "==",
        NotEq => "!=",
        Lt => "<",
        Le => "<=",
        Gt => ">",
        Ge => ">=",
        Plus => "+",
        Minus => "-",
        Star => "*",
        Slash => "/",
        Percent => "%",
        Amp => "&",
        Pipe => "|",
        Caret => "^",
        Shl => "<<",
        Shr => ">>",
        Bang => "!",
        AndAnd => "&&",
        OrOr => "||",
        Ident(_) | Int(_) | Float(_) | Str(_) => unreachable!("literal tokens are described by `describe`"),
    }
}
