//! External code: shared libraries, object files and LLVM IR modules (lazily, per
//! function), through the command line and the API. The C code is built here with
//! the system's `cc`.

use ore::{Config, Namespace, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const C_LIBRARY: &str = r#"
int triple(int x) { return 3 * x; }
double halve(double x) { return x / 2; }
static long helper(long x) { return x + 1; }
long bump(long x) { return helper(x) * 10; }
"#;

const PROGRAM: &str = r#"
extern fn triple(x: i32) -> i32;
extern fn halve(x: f64) -> f64;
extern fn bump(x: i64) -> i64;
fn main() { print(triple(14)); print(halve(5.0)); print(bump(4)); }
"#;

/// An IR module with an internal global and an internal function, a chain of
/// calls, and a function nobody calls.
const IR_MODULE: &str = r#"
@counter = internal global i64 0

define internal i64 @inc() {
  %v = load i64, ptr @counter
  %n = add i64 %v, 1
  store i64 %n, ptr @counter
  ret i64 %n
}

define i64 @square_plus(i64 %x) {
  %c = call i64 @inc()
  %s = mul i64 %x, %x
  %r = add i64 %s, %c
  ret i64 %r
}

define i64 @unused(i64 %x) {
  ret i64 %x
}

define i64 @twice_square_plus(i64 %x) {
  %a = call i64 @square_plus(i64 %x)
  %b = call i64 @square_plus(i64 %x)
  %r = add i64 %a, %b
  ret i64 %r
}
"#;

const IR_PROGRAM: &str =
    "extern fn twice_square_plus(x: i64) -> i64;\nfn main() { print(twice_square_plus(3)); print(twice_square_plus(3)); }\n";

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Dir {
        Dir(tempfile::tempdir().expect("temp dir"))
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.path().join(name);
        std::fs::write(&path, contents).expect("write");
        path
    }

    fn cc(&self, args: &[&str]) {
        let status = Command::new("cc").args(args).current_dir(self.0.path()).status().expect("cc runs");
        assert!(status.success(), "cc {args:?}");
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
}

fn ore(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ore")).arg("run").args(args).output().expect("run ore")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn shared_library_from_the_command_line() {
    let dir = Dir::new();
    dir.write("lib.c", C_LIBRARY);
    dir.cc(&["-shared", "-fPIC", "-o", "libdemo.so", "lib.c"]);
    let prog = dir.write("prog.ore", PROGRAM);
    let out = ore(&[Path::new("--lib"), &dir.path("libdemo.so"), &prog]);
    assert_eq!(text(&out.stdout), "42\n2.5\n50\n", "{}", text(&out.stderr));
    // Without the library the symbols are missing, at compile time.
    let out = ore(&[&prog]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("symbol `triple` not found in the process"), "{}", text(&out.stderr));
}

#[test]
fn object_file_from_the_command_line_and_the_api() {
    let dir = Dir::new();
    dir.write("lib.c", C_LIBRARY);
    dir.cc(&["-c", "-fPIC", "-o", "lib.o", "lib.c"]);
    let prog = dir.write("prog.ore", PROGRAM);
    let out = ore(&[Path::new("--link"), &dir.path("lib.o"), &prog]);
    assert_eq!(text(&out.stdout), "42\n2.5\n50\n", "{}", text(&out.stderr));

    let e = Namespace::new(Config::default()).unwrap();
    let mut exported = e.add_object("lib.o", &std::fs::read(dir.path("lib.o")).unwrap()).unwrap();
    exported.sort();
    assert_eq!(exported, ["bump", "halve", "triple"], "the static helper is not exported");
    e.add_module("m", "extern fn bump(x: i64) -> i64;\nfn go() -> i64 { bump(1) }").unwrap();
    assert_eq!(e.call("go", &[]).unwrap(), Value::I64(20));
}

#[test]
fn ir_modules_compile_lazily_per_function() {
    let dir = Dir::new();
    let ll = dir.write("mod.ll", IR_MODULE);
    let prog = dir.write("prog.ore", IR_PROGRAM);
    let out = ore(&[Path::new("--stats"), Path::new("--link"), &ll, &prog]);
    assert_eq!(text(&out.stdout), "21\n25\n", "{}", text(&out.stderr));
    let stats: serde_json::Value = serde_json::from_str(text(&out.stderr).lines().last().unwrap()).unwrap();
    assert_eq!(stats["functions"], 5, "main and four IR functions");
    assert_eq!(stats["compiled"], 4, "`unused` is never compiled: {stats}");

    // The same module as bitcode.
    let status = Command::new("/usr/lib/llvm-19/bin/llvm-as").arg(&ll).arg("-o").arg(dir.path("mod.bc")).status();
    assert!(status.expect("llvm-as runs").success());
    let out = ore(&[Path::new("--link"), &dir.path("mod.bc"), &prog]);
    assert_eq!(text(&out.stdout), "21\n25\n", "{}", text(&out.stderr));
}

#[test]
fn ir_through_the_api_is_lazy_too() {
    let e = Namespace::new(Config::default()).unwrap();
    let mut functions = e.add_ir("mod.ll", IR_MODULE.as_bytes()).unwrap().functions;
    functions.sort();
    assert_eq!(functions, ["inc.ore1", "square_plus", "twice_square_plus", "unused"]);
    assert_eq!(e.stats().compiled, 0);
    e.add_module("m", "extern fn square_plus(x: i64) -> i64;\nfn go() -> i64 { square_plus(5) }").unwrap();
    assert_eq!(e.call("go", &[]).unwrap(), Value::I64(26));
    assert_eq!(e.stats().compiled, 3, "go, square_plus and inc");
}

#[test]
fn bad_external_code_is_a_clear_error() {
    let dir = Dir::new();
    let prog = dir.write("prog.ore", "fn main() {}\n");
    let bad = dir.write("bad.ll", "define i64 @f( {\n");
    let out = ore(&[Path::new("--link"), &bad, &prog]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("bad.ll"), "{}", text(&out.stderr));
    let out = ore(&[Path::new("--lib"), Path::new("/no/such/lib.so"), &prog]);
    assert_eq!(out.status.code(), Some(64));
    let not_lib = dir.write("not.so", "plain text");
    let out = ore(&[Path::new("--lib"), &not_lib, &prog]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot load library"), "{}", text(&out.stderr));
    let e = Namespace::new(Config::default()).unwrap();
    assert!(e.add_object("junk.o", b"not an object").is_err());
    assert!(e.add_ir("junk.bc", b"BC\xC0\xDEjunk").is_err());
}

const TRIPLE: &str = "define i64 @scale(i64 %x) {\n  %r = mul i64 %x, 3\n  ret i64 %r\n}\n";
const QUADRUPLE: &str = "define i64 @scale(i64 %x) {\n  %r = mul i64 %x, 4\n  ret i64 %r\n}\n";

#[test]
fn ir_modules_are_replaced_and_removed_like_ore_modules() {
    use ore::{Error, RuntimeError};
    let e = Namespace::new(Config::default()).unwrap();
    let first = e.add_ir("scale.ll", TRIPLE.as_bytes()).unwrap();
    assert_eq!(first.functions, ["scale"]);
    e.add_module("m", "extern fn scale(x: i64) -> i64;\nfn f(x: i64) -> i64 { scale(x) + 1 }").unwrap();
    assert_eq!(e.call("f", &[Value::I64(5)]).unwrap(), Value::I64(16));
    // Compiled Ore code sees the replacement at its next call.
    let second = e.replace_ir(first.id, "scale.ll", QUADRUPLE.as_bytes()).unwrap();
    assert_eq!(e.call("f", &[Value::I64(5)]).unwrap(), Value::I64(21));
    assert!(matches!(e.remove_module(first.id), Err(Error::UnknownModule(_))), "the old module is gone");
    e.remove_module(second.id).unwrap();
    let err = e.call("f", &[Value::I64(5)]).unwrap_err();
    assert!(matches!(&err, Error::Runtime { error: RuntimeError::UndefinedFunction(n), .. } if n == "scale"), "{err}");
    // Defined again by a new module, the same caller finds it.
    e.add_ir("again.ll", TRIPLE.as_bytes()).unwrap();
    assert_eq!(e.call("f", &[Value::I64(5)]).unwrap(), Value::I64(16));
    assert!(e.code_awaiting_release() == 0, "replaced IR code was freed");
}

#[test]
fn an_ir_module_that_another_calls_stays() {
    let e = Namespace::new(Config::default()).unwrap();
    let lib = e.add_ir("lib.ll", TRIPLE.as_bytes()).unwrap();
    let user = e.add_ir("user.ll", b"declare i64 @scale(i64)\ndefine i64 @twice_scaled(i64 %x) {\n  %s = call i64 @scale(i64 %x)\n  %r = mul i64 %s, 2\n  ret i64 %r\n}\n").unwrap();
    e.add_module("m", "extern fn twice_scaled(x: i64) -> i64;\nfn f() -> i64 { twice_scaled(7) }").unwrap();
    assert_eq!(e.call("f", &[]).unwrap(), Value::I64(42));
    let err = e.remove_module(lib.id).unwrap_err();
    assert!(matches!(&err, ore::Error::ModuleInUse { .. }));
    assert_eq!(err.to_string(), "IR module `lib.ll` cannot be replaced or removed: IR module `user.ll` calls its function `scale`");
    assert!(e.replace_ir(lib.id, "lib.ll", QUADRUPLE.as_bytes()).is_err());
    assert_eq!(e.call("f", &[]).unwrap(), Value::I64(42), "nothing changed");
    e.remove_module(user.id).unwrap();
    e.remove_module(lib.id).unwrap();
}

#[test]
fn ir_functions_are_called_from_the_host_with_their_c_signature() {
    use ore::{CType, Error, ExternSig, RuntimeError};
    let e = Namespace::new(Config::default()).unwrap();
    let ir = "define i32 @narrow(i32 %x) {\n  %r = mul i32 %x, 2\n  ret i32 %r\n}\n\
              define i1 @positive(double %x) {\n  %r = fcmp ogt double %x, 0.0\n  ret i1 %r\n}\n";
    let lib = e.add_ir("lib.ll", ir.as_bytes()).unwrap();
    let narrow = e.ir_func("narrow", &ExternSig { params: vec![CType::I32], ret: CType::I32 }).unwrap();
    assert_eq!(narrow.signature().to_string(), "fn(i64) -> i64");
    assert_eq!(narrow.call(&[Value::I64(21)]).unwrap(), Value::I64(42));
    assert_eq!(narrow.call(&[Value::I64(0x4000_0000)]).unwrap(), Value::I64(i32::MIN as i64), "i32 wraps, then widens");
    let positive = e.ir_func("positive", &ExternSig { params: vec![CType::F64], ret: CType::Bool }).unwrap();
    assert!(positive.typed::<(f64,), bool>().unwrap().call((2.5,)).unwrap());
    assert_eq!(positive.call(&[Value::F64(-1.0)]).unwrap(), Value::Bool(false));
    // The handle follows the module.
    e.replace_ir(lib.id, "lib.ll", b"define i32 @narrow(i32 %x) {\n  %r = mul i32 %x, 3\n  ret i32 %r\n}\n").unwrap();
    assert_eq!(narrow.call(&[Value::I64(2)]).unwrap(), Value::I64(6));
    assert!(
        matches!(positive.call(&[Value::F64(1.0)]), Err(Error::Runtime { error: RuntimeError::UndefinedFunction(n), .. }) if n == "positive")
    );
    assert!(matches!(e.ir_func("strlen", &ExternSig { params: vec![CType::Str], ret: CType::I64 }), Err(Error::UnknownFunction(_))));
}
