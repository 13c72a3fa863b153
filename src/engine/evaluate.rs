//! `Namespace::evaluate`: statements and an expression run at once, for a REPL.
//! The input becomes the body of a function whose result type is the body's:
//! checked once to learn that type (the checker's `infer_result`), then defined as
//! `__ore_eval_TYPE`, called, and unloaded. One such name per result type, so a
//! name never changes its signature and the namespace gains at most nine names.
//! Since threads share those names, a namespace runs one evaluation at a time;
//! the lock is reentrant, so an input's host function may evaluate again.

use super::*;

/// What `Namespace::evaluate` computed.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// The value of the input's final expression (`Value::Unit` if it has none).
    pub value: Value,
    /// Its type.
    pub ty: crate::types::Ty,
}

/// The prefix of the functions `evaluate` defines (a REPL leaves them out of
/// listings).
pub const EVALUATION_PREFIX: &str = "__ore_eval";

impl Namespace {
    /// Runs `source`, statements optionally followed by an expression (a block's
    /// body without its braces), as a call from the host, with the namespace's
    /// functions in scope. Diagnostics and runtime errors name the module `name`,
    /// with `source`'s own lines and columns. `let` bindings last for this input
    /// only; functions are defined with `add_module`.
    pub fn evaluate(&self, name: &str, source: &str) -> Result<Evaluation, Error> {
        let probe = format!("{EVALUATION_PREFIX}_probe");
        let file = Arc::new(SourceFile::with_wrapper_line(name, &format!("fn {probe}() {{"), source, "}"));
        let items = self.inner.parse(&file)?;
        // A `}` in the input could close the wrapper early and define functions
        // of its own: the input must be one body.
        if let Some(syntax::ast::Item::Fn(extra) | syntax::ast::Item::Extern(extra)) = items.get(1) {
            let message = "an input is statements and an expression: close no block it did not open, and define functions as modules";
            return Err(file.error(vec![crate::diagnostics::Diagnostic::new(extra.span, message)]).into());
        }
        let options = check::Options { infer_result: Some(probe), ..check::Options::default() };
        let checked = self.inner.check(items, &file, &self.inner.tables.read(), options)?;
        let ty = checked.functions[0].sig.ret;
        let function = format!("{EVALUATION_PREFIX}_{}", type_tag(ty));
        let wrapper = format!("fn {function}() -> {ty} {{");
        let value = {
            let _one_at_a_time = self.inner.evaluation.lock();
            let info = self.add_file(SourceFile::with_wrapper_line(name, &wrapper, source, "}"))?;
            let value = self.call(&function, &[]);
            self.remove_module(info.id)?;
            value
        };
        match value {
            Ok(value) => Ok(Evaluation { value, ty }),
            // The wrapper is not the user's: its frame is the input's.
            Err(Error::Runtime { error, mut trace }) => {
                trace.frames.iter_mut().filter(|f| f.function == function).for_each(|f| f.function = "<input>".into());
                Err(Error::Runtime { error, trace })
            }
            Err(e) => Err(e),
        }
    }
}

/// A name for each type a function can return.
fn type_tag(ty: crate::types::Ty) -> &'static str {
    use crate::types::Ty;
    match ty {
        Ty::I64 => "i64",
        Ty::F64 => "f64",
        Ty::Bool => "bool",
        Ty::Str => "str",
        Ty::Ptr => "ptr",
        Ty::ArrayI64 => "i64s",
        Ty::ArrayF64 => "f64s",
        Ty::Unit | Ty::Never => "unit",
    }
}
