//! Compile diagnostics: byte spans mapped to `FILE:LINE:COL` with the source line
//! and a caret, the format LANGUAGE.md fixes for the command line.

use crate::syntax::ast::Span;
use std::fmt;

/// One problem found in a module, located by a byte span.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub span: Span,
    pub message: String,
}

impl Diagnostic {
    pub fn new(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { span, message: message.into() }
    }
}

/// A diagnostic resolved against its source: what the CLI prints and the server returns.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LocatedDiagnostic {
    /// The source file's name.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// What is wrong, without the location.
    pub message: String,
    /// The full text: location line, source line, caret.
    pub rendered: String,
}

/// Every diagnostic of one failed module, in source order.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub struct CompileError {
    /// Every error found, in source order.
    pub diagnostics: Vec<LocatedDiagnostic>,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}", d.rendered)?;
        }
        Ok(())
    }
}

/// The most diagnostics one module's error lists; a last one says how many more.
pub const MAX_DIAGNOSTICS: usize = 100;

/// A source file with its line table.
#[derive(Clone)]
pub struct SourceFile {
    name: String,
    text: String,
    line_starts: Vec<usize>,
    /// The number of the text's first line: 1, or 0 for a text whose first line
    /// wraps the user's (`with_wrapper_line`).
    first_line: usize,
}

impl fmt::Debug for SourceFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceFile").field("name", &self.name).field("bytes", &self.text.len()).finish()
    }
}

/// Where a function was first declared or defined, formatted (`FILE:LINE:COL`)
/// only when a diagnostic shows it: adding a module enters every function it
/// defines, and a formatted string each was 4% of adding 10,000 one-line ones.
#[derive(Clone, Debug)]
pub struct Origin {
    file: std::sync::Arc<str>,
    line: usize,
    column: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Source lines longer than this are shown as a window around the column.
const MAX_SHOWN_LINE: usize = 160;

/// The UTF-8 byte-order mark, skipped at the very start of a file (LANGUAGE.md).
const BYTE_ORDER_MARK: char = '\u{feff}';

impl SourceFile {
    /// A file's text; a leading byte-order mark is dropped, so neither the parser
    /// nor diagnostic columns see it (editors do not show it either).
    pub fn new(name: &str, mut text: String) -> SourceFile {
        if text.starts_with(BYTE_ORDER_MARK) {
            text.drain(..BYTE_ORDER_MARK.len_utf8());
        }
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        SourceFile { name: name.to_string(), text, line_starts, first_line: 1 }
    }

    /// `text` after a line of Ore's own (`wrapper`, which must not contain a
    /// newline), numbered so that `text`'s lines keep their numbers: the REPL's
    /// input, wrapped in a function.
    pub fn with_wrapper_line(name: &str, wrapper: &str, text: &str, closing: &str) -> SourceFile {
        SourceFile { first_line: 0, ..SourceFile::new(name, format!("{wrapper}\n{text}\n{closing}")) }
    }

    /// Decodes UTF-8, reporting the first invalid byte with its line and column.
    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> Result<SourceFile, CompileError> {
        match String::from_utf8(bytes) {
            Ok(text) => Ok(SourceFile::new(name, text)),
            Err(err) => {
                let valid = err.utf8_error().valid_up_to();
                let prefix = String::from_utf8_lossy(&err.as_bytes()[..valid]).into_owned();
                let file = SourceFile::new(name, prefix);
                let diag = Diagnostic::new(Span::new(valid, valid), "source is not valid UTF-8");
                Err(file.error(vec![diag]))
            }
        }
    }

    /// The file's name, as diagnostics show it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file's text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// 1-based line and character column of a byte offset.
    pub fn location(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let column = self.text[self.line_starts[line]..offset].chars().count() + 1;
        (line + self.first_line, column)
    }

    /// Byte `offset` as an `Origin`, naming this file by `name` (one string shared
    /// by all of a module's functions).
    pub fn origin(&self, name: &std::sync::Arc<str>, offset: usize) -> Origin {
        let (line, column) = self.location(offset);
        Origin { file: name.clone(), line, column }
    }

    /// `diag`, with its line and column in this file and a rendered excerpt.
    pub fn locate(&self, diag: &Diagnostic) -> LocatedDiagnostic {
        let (line, column) = self.location(diag.span.start);
        let line_start = self.line_starts[line - self.first_line];
        let line_text = self.text[line_start..].split('\n').next().unwrap_or("").trim_end_matches('\r');
        let span_chars = self.text[diag.span.start.min(self.text.len())..diag.span.end.min(self.text.len())]
            .split('\n')
            .next()
            .map_or(0, |s| s.chars().count());
        let (shown, caret_col) = window(line_text, column);
        let gutter = line.to_string();
        let pad = " ".repeat(gutter.len());
        // Copy tabs so the caret lines up under the source in any terminal.
        let indent: String = shown.chars().take(caret_col - 1).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
        let carets = "^".repeat(span_chars.clamp(1, shown.chars().count().saturating_sub(caret_col - 1).max(1)));
        let rendered =
            format!("{}:{}:{}: error: {}\n{} | {}\n{} | {}{}", self.name, line, column, diag.message, gutter, shown, pad, indent, carets);
        LocatedDiagnostic { file: self.name.clone(), line, column, message: diag.message.clone(), rendered }
    }

    /// A compile error of this file made of `diags`, located.
    pub fn error(&self, mut diags: Vec<Diagnostic>) -> CompileError {
        diags.sort_by_key(|d| d.span.start);
        if diags.len() > MAX_DIAGNOSTICS {
            // A generated module can have an error per line: its report (and the
            // server's answer) stays bounded, and still says where the rest begin.
            let more = diags.len() - MAX_DIAGNOSTICS;
            let first_omitted = diags[MAX_DIAGNOSTICS].span;
            diags.truncate(MAX_DIAGNOSTICS);
            diags.push(Diagnostic::new(
                first_omitted,
                format!("and {more} more errors from here on (only the first {MAX_DIAGNOSTICS} are shown)"),
            ));
        }
        CompileError { diagnostics: diags.iter().map(|d| self.locate(d)).collect() }
    }
}

/// The part of a long line worth showing, and the caret's column within it.
fn window(line: &str, column: usize) -> (String, usize) {
    let count = line.chars().count();
    if count <= MAX_SHOWN_LINE {
        return (line.to_string(), column);
    }
    let start = column.saturating_sub(MAX_SHOWN_LINE / 2).min(count.saturating_sub(MAX_SHOWN_LINE));
    let shown: String = line.chars().skip(start).take(MAX_SHOWN_LINE).collect();
    (shown, column - start)
}
