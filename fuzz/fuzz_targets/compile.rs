//! Checked source compiled eagerly (every function, at -O2) with LLVM's verifier
//! on: a program that checks must compile to valid IR. Python is not allowed, so
//! nothing runs outside LLVM.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ore::{Config, Error, Namespace, Policy};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let policy = Policy { extern_allow_list: Some(Default::default()), python: false };
    let config = Config { eager: true, verify_ir: true, policy, ..Config::default() };
    let engine = Namespace::new(config).expect("engine");
    match engine.add_module("fuzz", text) {
        Ok(_) | Err(Error::Compile(_)) | Err(Error::Limit { .. }) => {}
        Err(other) => panic!("a module that checked failed to compile: {other}"),
    }
});
