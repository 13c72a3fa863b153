//! Checking and emitting a whole program without a JIT (`ore check`, `ore emit-ir`).

use crate::check::{self, Environment, ExistingFunction, SymbolStatus};
use crate::codegen;
use crate::diagnostics::{CompileError, SourceFile};
use crate::engine::{Error, Policy};
use crate::syntax;
use crate::types::ExternSig;

/// Parses and checks a program (`ore check`) without creating a JIT.
pub fn check_program(file: &SourceFile) -> Result<(), CompileError> {
    check_alone(file, true).map(drop)
}

/// Parses and checks `file` as the only module of an empty namespace.
fn check_alone(file: &SourceFile, require_main: bool) -> Result<check::CheckedModule, CompileError> {
    let items = syntax::parse(file.text()).map_err(|d| file.error(vec![d]))?;
    let options = check::Options { require_main, allow_python: Policy::default().allows_python(), ..check::Options::default() };
    let source = std::sync::Arc::new(file.clone());
    check::check_module(items, &source, &EmptyNamespace, &options).map_err(|d| file.error(d))
}

/// The LLVM IR of a whole program as one standalone module, for other tools and
/// JITs (`ore emit-ir`): every function unoptimised, named `ore.NAME`, calling the
/// others directly (no slots, so no addresses of this process), with the usual
/// checks; runtime functions it would call are defined as `abort()`.
pub fn program_ir(file: &SourceFile) -> Result<String, Error> {
    let checked = check_alone(file, false)?;
    let (triple, layout) = crate::llvm::host_triple_and_layout();
    let program = crate::llvm::ir::IrModule::new(file.name(), &triple, &layout);
    let symbol = crate::abi::function_symbol;
    let options = codegen::Options { unchecked: codegen::Unchecked { direct_calls: true, ..Default::default() }, ..Default::default() };
    for func in &checked.functions {
        let module = codegen::generate_function(func, &symbol(&func.name), &Standalone, options, &triple, &layout);
        program.link_in(module).map_err(Error::External)?;
    }
    program.define_as_abort(crate::abi::RUNTIME_PREFIX);
    Ok(program.print())
}

/// A namespace with nothing in it, under the default policy.
struct EmptyNamespace;

impl Environment for EmptyNamespace {
    fn function(&self, _name: &str) -> Option<ExistingFunction> {
        None
    }

    fn extern_fn(&self, _name: &str) -> Option<ExternSig> {
        None
    }

    fn is_host_function(&self, _name: &str) -> bool {
        false
    }

    fn resolve_symbol(&self, name: &str) -> SymbolStatus {
        Policy::default().resolve_process_symbol(name)
    }
}

/// Callees of a standalone program: every function called directly by its
/// `ore.NAME`, no slots, no copies.
struct Standalone;

impl codegen::Callees for Standalone {
    fn direct(&self, name: &str) -> Option<String> {
        Some(crate::abi::function_symbol(name))
    }

    fn inline(&self, _name: &str) -> Option<codegen::InlineCopy> {
        None
    }

    fn extern_slot(&self, _symbol: &str) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llvm::ir::Pipeline;

    /// The short pipeline's code for straight-line functions is no longer than
    /// `default<O2>`'s: mostly the same, sometimes a `cmov` for a branch.
    #[test]
    fn straight_line_functions_get_code_as_short_as_default_o2_s_from_the_short_pipeline() {
        let text = "fn f(x: i64) -> i64 { x * 3 + 2 }
fn g(a: i64, b: i64) -> i64 { let t = a - b; if t < 0 { 0 - t } else { t } }
fn h(x: f64, y: f64) -> f64 { let d = x * x + y * y; if d > 1.0 { d / 2.0 } else { d } }
fn k(a: i64, b: i64, c: i64) -> i64 { var m = a; if b > m { m = b; } if c > m { m = c; } m * 2 - a % 7 }
fn q(a: [f64], i: i64) -> f64 { if i >= 0 && i < len(a) { a[i] / (i + 1) as f64 } else { a[0] } }
fn d(a: i64, b: i64) -> i64 { if b != 0 && b != -1 { a / b + a % b } else { 0 } }
fn e(a: i64, b: i64) -> i64 { if a > b { a / b } else { b - a } }
fn r(b: bool, n: i64) -> bool { print(n); !b || n % 2 == 0 }
fn m(x: f64) -> i64 { if x < 0.0 { return -1; } let y = x * 2.5; if y > 10.0 { 10 - y as i64 } else { 5 } }
fn n(a: i64, b: i64) -> bool { let c = a * b; c > 100 || (a == b && c != 0) }
fn p(s: str, x: f64) { print(s); print({ let t = x / 3.0; t * t }); }
fn t(a: i64, b: i64, c: i64) -> i64 { if a < b { if b < c { c - a } else { b - a } } else { a + b * c } }
fn u(x: i64) -> f64 { let y = x as f64; y * y + 1.0 / (y + 0.5) }
fn looping(n: i64) -> i64 { var i = 0; while i < n { i = i + 1; } i }
fn calling(n: i64) -> i64 { f(n) + 1 }";
        let checked = check_alone(&SourceFile::new("p.ore", text.to_string()), false).expect("checks");
        let (triple, layout) = crate::llvm::host_triple_and_layout();
        let straight: Vec<&str> = checked.functions.iter().filter(|f| f.is_straight_line()).map(|f| f.name.as_str()).collect();
        assert_eq!(straight, ["f", "g", "h", "k", "r", "m", "n", "p", "t", "u"]);
        let mut same = 0;
        for func in checked.functions.iter().filter(|f| f.is_straight_line()) {
            for interruptible in [false, true] {
                let asm = |pipeline| {
                    let options = codegen::Options { interruptible, ..codegen::Options::default() };
                    let symbol = crate::abi::function_symbol(&func.name);
                    let module = codegen::generate_function(func, &symbol, &Standalone, options, &triple, &layout);
                    module.optimize(2, pipeline).expect("optimises");
                    module.assembly(2).expect("assembles")
                };
                let instructions = |asm: &str| asm.lines().filter(|l| l.starts_with('\t') && !l.starts_with("\t.")).count();
                let (short, standard) = (asm(Pipeline::StraightLine), asm(Pipeline::Standard));
                assert!(
                    instructions(&short) <= instructions(&standard),
                    "`{}`, deadlines {interruptible}:\n{short}\nagainst default<O2>:\n{standard}",
                    func.name
                );
                same += usize::from(short == standard);
            }
        }
        // All but `t`, whose branches the short pipeline turns into a `cmov`.
        assert_eq!(same, 18, "the same code for {same} of 20");
    }
}
