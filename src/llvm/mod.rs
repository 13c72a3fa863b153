//! The only place that calls the LLVM C API. Each ORC and IR concept is wrapped
//! once, with its ownership rule written where the object is created; everything
//! above this module is safe Rust.

pub mod ir;
mod memory;
pub mod object;
pub mod orc;
mod target;

pub use target::{host_code_identity, host_triple_and_layout};

use llvm_sys::error::*;
use std::ffi::{CStr, CString};
use std::fmt;

/// An error reported by LLVM, as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LlvmError(pub String);

impl fmt::Display for LlvmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LlvmError {}

/// Consumes an `LLVMErrorRef`: success is the null pointer.
fn check(err: LLVMErrorRef) -> Result<(), LlvmError> {
    if err.is_null() {
        return Ok(());
    }
    // SAFETY: a non-null error is owned by us; LLVMGetErrorMessage consumes it and
    // hands back a message we must free with LLVMDisposeErrorMessage.
    unsafe {
        let msg = LLVMGetErrorMessage(err);
        let text = CStr::from_ptr(msg).to_string_lossy().into_owned();
        LLVMDisposeErrorMessage(msg);
        Err(LlvmError(text))
    }
}

/// Symbol and module names never contain NUL (the lexer's identifiers cannot); any
/// other text is cut at the first NUL rather than rejected.
pub(crate) fn c_string(s: &str) -> CString {
    let bytes = s.as_bytes();
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    CString::new(&bytes[..end]).expect("NUL removed above")
}

/// Copies and frees a message string allocated by LLVM (null gives "").
///
/// # Safety
/// `msg` must be null or a string LLVM allocated for the caller to dispose.
unsafe fn owned_message(msg: *mut libc::c_char) -> String {
    if msg.is_null() {
        return String::new();
    }
    // SAFETY: a non-null message is a NUL-terminated string we own (the caller's
    // contract), freed once, after it is copied.
    unsafe {
        let text = CStr::from_ptr(msg).to_string_lossy().into_owned();
        llvm_sys::core::LLVMDisposeMessage(msg);
        text
    }
}

/// Copies out and disposes of a memory buffer LLVM handed to the caller.
///
/// # Safety
/// `buffer` must be a live memory buffer the caller owns.
unsafe fn take_buffer(buffer: llvm_sys::prelude::LLVMMemoryBufferRef) -> Vec<u8> {
    use llvm_sys::core::*;
    // SAFETY: the buffer is live and ours (the caller's contract): its bytes are
    // copied, then it is disposed of once.
    unsafe {
        let bytes = std::slice::from_raw_parts(LLVMGetBufferStart(buffer).cast::<u8>(), LLVMGetBufferSize(buffer)).to_vec();
        LLVMDisposeMemoryBuffer(buffer);
        bytes
    }
}
