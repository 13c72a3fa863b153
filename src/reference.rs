//! A reference interpreter of Ore, for differential testing: it walks the checked
//! program (typed IR) with the semantics LANGUAGE.md gives, sharing nothing with the
//! JIT but the front end (parser and checker) and float formatting (which is itself
//! tested against CPython). The differential fuzzer (`tests/differential.rs`,
//! `scripts/fuzz.sh`) runs every generated program here and through the JIT in each
//! mode, and compares output, result and runtime error.
//!
//! Not supported (the generator does not produce them): `extern fn`, Python.

use crate::check::{self, Environment, ExistingFunction, SymbolStatus};
use crate::diagnostics::SourceFile;
use crate::runtime::format::python_repr;
use crate::syntax::{self, ast::BinOp};
use crate::tir::{Callee, Expr, ExprKind, Function, Stmt};
use crate::types::{ExternSig, FnSig, Ty};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Deepest call nesting before `stack overflow` (LANGUAGE.md promises at least
/// 10,000; generated programs recurse far less, or without end).
const MAX_DEPTH: usize = 20_000;

/// What running a program gave.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// What `print` wrote, with `main`'s result printed last, as `ore run` does.
    pub stdout: String,
    /// The runtime error that ended the program, as `ore run` prints it (without
    /// the `runtime error: ` prefix).
    pub error: Option<String>,
}

#[derive(Clone, Debug)]
enum Value {
    Unit,
    I64(i64),
    F64(f64),
    Bool(bool),
    Str(Rc<str>),
    /// Elements as bit patterns (f64 arrays hold `to_bits`).
    Array(Rc<RefCell<Vec<u64>>>),
}

impl Value {
    fn i64(&self) -> i64 {
        match self {
            Value::I64(v) => *v,
            other => unreachable!("checked program: expected i64, got {other:?}"),
        }
    }
    fn bool(&self) -> bool {
        match self {
            Value::Bool(v) => *v,
            other => unreachable!("checked program: expected bool, got {other:?}"),
        }
    }
    fn array(&self) -> &Rc<RefCell<Vec<u64>>> {
        match self {
            Value::Array(a) => a,
            other => unreachable!("checked program: expected an array, got {other:?}"),
        }
    }

    /// As `print` writes it.
    fn printed(&self) -> String {
        match self {
            Value::I64(v) => v.to_string(),
            Value::F64(v) => python_repr(*v),
            Value::Bool(v) => v.to_string(),
            Value::Str(s) => s.to_string(),
            Value::Unit | Value::Array(_) => unreachable!("not printable"),
        }
    }
}

/// Why evaluation left an expression early.
enum Flow {
    Break,
    Continue,
    Return(Value),
    Error(String),
}

type Eval = Result<Value, Flow>;

struct Entry {
    sig: FnSig,
    origin: crate::diagnostics::Origin,
    current: Option<Rc<Function>>,
}

/// The namespace: every function name with its current definition.
#[derive(Default)]
struct Namespace {
    functions: HashMap<String, Entry>,
}

impl Environment for Namespace {
    fn function(&self, name: &str) -> Option<ExistingFunction> {
        self.functions.get(name).map(|e| ExistingFunction { sig: e.sig.clone(), origin: e.origin.clone() })
    }
    fn extern_fn(&self, _name: &str) -> Option<ExternSig> {
        None
    }
    fn resolve_symbol(&self, _name: &str) -> SymbolStatus {
        SymbolStatus::Forbidden("the reference interpreter has no C functions".into())
    }
    fn is_host_function(&self, _name: &str) -> bool {
        false
    }
}

struct Interpreter {
    namespace: RefCell<Namespace>,
    stdout: RefCell<String>,
    depth: std::cell::Cell<usize>,
}

/// Runs `source` as `ore run` would (`main` without arguments). `Err` is a compile
/// error of the program itself, rendered.
pub fn run(name: &str, source: &str) -> Result<Outcome, String> {
    let interpreter = Interpreter { namespace: RefCell::default(), stdout: RefCell::default(), depth: Default::default() };
    interpreter.add(name, source, true)?;
    let main = interpreter.namespace.borrow().functions["main"].current.clone().expect("checked: main is defined");
    let result = stacker::maybe_grow(1 << 20, 64 << 20, || interpreter.call(&main, Vec::new()));
    let mut stdout = interpreter.stdout.take();
    let error = match result {
        Ok(Value::Unit) => None,
        Ok(v) => {
            stdout.push_str(&v.printed());
            stdout.push('\n');
            None
        }
        Err(Flow::Error(message)) => Some(message),
        Err(_) => unreachable!("break, continue and return end inside their function"),
    };
    Ok(Outcome { stdout, error })
}

impl Interpreter {
    /// Checks a module against the namespace and installs it, as the engine does:
    /// new names first, then every definition replaces the current one.
    fn add(&self, name: &str, source: &str, require_main: bool) -> Result<(), String> {
        let file = std::sync::Arc::new(SourceFile::new(name, source.to_string()));
        let items = syntax::parse(file.text()).map_err(|d| file.error(vec![d]).to_string())?;
        let options = check::Options { require_main, ..check::Options::default() };
        let checked = check::check_module(items, &file, &*self.namespace.borrow(), &options).map_err(|d| file.error(d).to_string())?;
        let mut ns = self.namespace.borrow_mut();
        let file_name: std::sync::Arc<str> = name.into();
        for s in checked.signatures {
            let origin = file.origin(&file_name, s.span.start);
            ns.functions.entry(s.name).or_insert(Entry { sig: s.sig, origin, current: None });
        }
        for f in checked.functions {
            let entry = ns.functions.get_mut(&f.name).expect("entered above");
            entry.current = Some(Rc::new(f));
        }
        Ok(())
    }

    fn call(&self, f: &Function, args: Vec<Value>) -> Eval {
        if self.depth.get() >= MAX_DEPTH {
            return Err(Flow::Error("stack overflow".into()));
        }
        self.depth.set(self.depth.get() + 1);
        let mut locals: Vec<Value> = args;
        locals.resize(f.locals.len(), Value::Unit);
        let result = stacker::maybe_grow(64 << 10, 4 << 20, || self.eval(&f.body, &mut locals));
        self.depth.set(self.depth.get() - 1);
        match result {
            Err(Flow::Return(v)) => Ok(v),
            other => other,
        }
    }

    fn eval(&self, e: &Expr, locals: &mut Vec<Value>) -> Eval {
        Ok(match &e.kind {
            ExprKind::Int(v) => Value::I64(*v),
            ExprKind::Float(v) => Value::F64(*v),
            ExprKind::Bool(v) => Value::Bool(*v),
            ExprKind::Str(s) => Value::Str(s.as_str().into()),
            ExprKind::Local(id) => locals[*id].clone(),
            ExprKind::Neg(x) => match self.eval(x, locals)? {
                Value::I64(v) => Value::I64(v.wrapping_neg()),
                Value::F64(v) => Value::F64(-v),
                other => unreachable!("negating {other:?}"),
            },
            ExprKind::Not(x) => match self.eval(x, locals)? {
                Value::I64(v) => Value::I64(!v),
                Value::Bool(v) => Value::Bool(!v),
                other => unreachable!("`!` of {other:?}"),
            },
            ExprKind::Binary(op, a, b) => self.binary(*op, a, b, locals)?,
            ExprKind::Cast(x) => {
                let v = self.eval(x, locals)?;
                match (v, e.ty) {
                    (Value::I64(v), Ty::F64) => Value::F64(v as f64),
                    // Truncates toward zero and saturates; NaN is 0: Rust's `as`.
                    (Value::F64(v), Ty::I64) => Value::I64(v as i64),
                    (Value::Bool(v), Ty::I64) => Value::I64(v as i64),
                    (same, _) => same,
                }
            }
            ExprKind::Call(callee, args) => {
                let mut values = Vec::with_capacity(args.len());
                for a in args {
                    values.push(self.eval(a, locals)?);
                }
                match callee {
                    Callee::Ore { name, .. } => {
                        let current = self.namespace.borrow().functions.get(name).and_then(|e| e.current.clone());
                        let f = current.ok_or_else(|| Flow::Error(format!("undefined function {name}")))?;
                        self.call(&f, values)?
                    }
                    Callee::Extern { symbol, .. } => unreachable!("the checker refused `extern fn {symbol}`"),
                }
            }
            ExprKind::Print(x) => {
                let text = self.eval(x, locals)?.printed();
                let mut out = self.stdout.borrow_mut();
                out.push_str(&text);
                out.push('\n');
                Value::Unit
            }
            ExprKind::Load(x) => {
                let Value::Str(source) = self.eval(x, locals)? else { unreachable!("load takes str") };
                // Diagnostics go to the error output, which the comparison leaves out.
                Value::Bool(self.add("<load>", &source, false).is_ok())
            }
            ExprKind::Python(..) => unreachable!("the checker refused Python"),
            ExprKind::Len(x) => Value::I64(self.eval(x, locals)?.array().borrow().len() as i64),
            ExprKind::ArrayNew { value, len } => {
                let fill = match self.eval(value, locals)? {
                    Value::I64(v) => v as u64,
                    Value::F64(v) => v.to_bits(),
                    other => unreachable!("array of {other:?}"),
                };
                let n = self.eval(len, locals)?.i64();
                if n < 0 {
                    return Err(Flow::Error(format!("negative array length: {n}")));
                }
                Value::Array(Rc::new(RefCell::new(vec![fill; n as usize])))
            }
            ExprKind::Index(a, i) => {
                let array = self.eval(a, locals)?;
                let index = self.eval(i, locals)?.i64();
                let bits = {
                    let elements = array.array().borrow();
                    *checked_index(&elements, index)?
                };
                if e.ty == Ty::F64 {
                    Value::F64(f64::from_bits(bits))
                } else {
                    Value::I64(bits as i64)
                }
            }
            ExprKind::Block(stmts, tail) => {
                for s in stmts {
                    self.stmt(s, locals)?;
                }
                match tail {
                    Some(t) => self.eval(t, locals)?,
                    None => Value::Unit,
                }
            }
            ExprKind::If(c, then, els) => {
                if self.eval(c, locals)?.bool() {
                    self.eval(then, locals)?
                } else if let Some(els) = els {
                    self.eval(els, locals)?
                } else {
                    Value::Unit
                }
            }
            ExprKind::While(c, body) => {
                while self.eval(c, locals)?.bool() {
                    match self.eval(body, locals) {
                        Ok(_) | Err(Flow::Continue) => {}
                        Err(Flow::Break) => break,
                        Err(other) => return Err(other),
                    }
                }
                Value::Unit
            }
            ExprKind::Return(x) => {
                let v = match x {
                    Some(x) => self.eval(x, locals)?,
                    None => Value::Unit,
                };
                return Err(Flow::Return(v));
            }
            ExprKind::Break => return Err(Flow::Break),
            ExprKind::Continue => return Err(Flow::Continue),
        })
    }

    fn stmt(&self, s: &Stmt, locals: &mut Vec<Value>) -> Result<(), Flow> {
        match s {
            Stmt::Let(id, e) | Stmt::Assign(id, e) => locals[*id] = self.eval(e, locals)?,
            Stmt::AssignIndex { array, index, value } => {
                // The value first, then the array and the index, as in Rust.
                let bits = match self.eval(value, locals)? {
                    Value::I64(v) => v as u64,
                    Value::F64(v) => v.to_bits(),
                    other => unreachable!("storing {other:?}"),
                };
                let array = self.eval(array, locals)?;
                let index = self.eval(index, locals)?.i64();
                let mut elements = array.array().borrow_mut();
                *checked_index_mut(&mut elements, index)? = bits;
            }
            Stmt::Expr(e) => drop(self.eval(e, locals)?),
        }
        Ok(())
    }

    fn binary(&self, op: BinOp, a: &Expr, b: &Expr, locals: &mut Vec<Value>) -> Eval {
        use BinOp::*;
        match op {
            And => return Ok(Value::Bool(self.eval(a, locals)?.bool() && self.eval(b, locals)?.bool())),
            Or => return Ok(Value::Bool(self.eval(a, locals)?.bool() || self.eval(b, locals)?.bool())),
            _ => {}
        }
        let (x, y) = (self.eval(a, locals)?, self.eval(b, locals)?);
        Ok(match (x, y) {
            (Value::I64(x), Value::I64(y)) => match op {
                Add => Value::I64(x.wrapping_add(y)),
                Sub => Value::I64(x.wrapping_sub(y)),
                Mul => Value::I64(x.wrapping_mul(y)),
                Div | Rem if y == 0 => return Err(Flow::Error("division by zero".into())),
                Div => Value::I64(x.wrapping_div(y)),
                Rem => Value::I64(x.wrapping_rem(y)),
                Shl => Value::I64(x.wrapping_shl((y & 63) as u32)),
                Shr => Value::I64(x.wrapping_shr((y & 63) as u32)),
                BitAnd => Value::I64(x & y),
                BitOr => Value::I64(x | y),
                BitXor => Value::I64(x ^ y),
                comparison => Value::Bool(compare(comparison, &x, &y)),
            },
            (Value::F64(x), Value::F64(y)) => match op {
                Add => Value::F64(x + y),
                Sub => Value::F64(x - y),
                Mul => Value::F64(x * y),
                Div => Value::F64(x / y),
                // C's fmod, which Rust's `%` on f64 is.
                Rem => Value::F64(x % y),
                comparison => Value::Bool(compare(comparison, &x, &y)),
            },
            (Value::Bool(x), Value::Bool(y)) => Value::Bool(compare(op, &x, &y)),
            (x, y) => unreachable!("checked program: {x:?} {op:?} {y:?}"),
        })
    }
}

/// A comparison operator applied to two values of one type (IEEE semantics for
/// f64: every comparison with NaN is false but `!=`).
fn compare<T: PartialOrd>(op: BinOp, x: &T, y: &T) -> bool {
    match op {
        BinOp::Eq => x == y,
        BinOp::Ne => x != y,
        BinOp::Lt => x < y,
        BinOp::Le => x <= y,
        BinOp::Gt => x > y,
        BinOp::Ge => x >= y,
        other => unreachable!("checked program: `{}` is not a comparison", other.symbol()),
    }
}

fn out_of_bounds(index: i64, len: usize) -> Flow {
    Flow::Error(format!("index out of bounds: index {index}, length {len}"))
}

fn checked_index(elements: &[u64], index: i64) -> Result<&u64, Flow> {
    usize::try_from(index).ok().and_then(|i| elements.get(i)).ok_or_else(|| out_of_bounds(index, elements.len()))
}

fn checked_index_mut(elements: &mut [u64], index: i64) -> Result<&mut u64, Flow> {
    let len = elements.len();
    usize::try_from(index).ok().and_then(|i| elements.get_mut(i)).ok_or_else(|| out_of_bounds(index, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(source: &str) -> Outcome {
        run("t.ore", source).unwrap()
    }

    #[test]
    fn arithmetic_follows_the_language_reference() {
        let o = outcome(
            "fn main() -> i64 { print(-9223372036854775808 / -1); print(-7 / 2); print(-7 % 2); print(1 << 65); print(-16 >> 2);
             print(7.5 % 2.0); print(0.0 / 0.0); print((0.0 / 0.0) as i64); print(1e300 as i64); print(true as i64); 3 }",
        );
        assert_eq!(o.stdout, "-9223372036854775808\n-3\n-1\n2\n-4\n1.5\nnan\n0\n9223372036854775807\n1\n3\n");
        assert_eq!(o.error, None);
    }

    #[test]
    fn runtime_errors_end_the_program_with_the_output_so_far() {
        let o = outcome("fn main() { let a = [1; 3]; print(len(a)); a[5] = 1; print(0); }");
        assert_eq!((o.stdout.as_str(), o.error.as_deref()), ("3\n", Some("index out of bounds: index 5, length 3")));
        let o = outcome("fn f(n: i64) -> i64 { f(n + 1) + 1 }\nfn main() -> i64 { f(0) }");
        assert_eq!(o.error.as_deref(), Some("stack overflow"));
        let o = outcome("fn g() -> i64;\nfn main() -> i64 { g() }");
        assert_eq!(o.error.as_deref(), Some("undefined function g"));
    }

    #[test]
    fn load_defines_and_redefines() {
        let o = outcome(
            "fn g() -> i64;\nfn h() -> i64 { 1 }\nfn main() -> i64 { print(load(\"fn g() -> i64 { 41 }\")); print(load(\"fn h() -> i64 { 2 }\")); print(load(\"fn (\")); g() + h() }",
        );
        assert_eq!(o.stdout, "true\ntrue\nfalse\n43\n");
    }
}
