//! Source bytes through UTF-8 decoding, the lexer, the parser and the checker:
//! never a panic, and bounded time and memory (nesting is limited by the parser).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = ore::SourceFile::from_bytes("fuzz.ore", data.to_vec()) {
        let _ = ore::check_program(&file);
    }
});
