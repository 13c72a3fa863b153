//! Reading the symbol table of an object file Ore compiled, for profilers: which
//! functions it holds, where in their section and how long. The `LLVMBinaryRef`
//! made here borrows the object's buffer and is disposed before returning.

use super::ir::ObjectFile;
use llvm_sys::object::*;
use std::ffi::CStr;

/// A function in an object file's code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeSymbol {
    pub name: String,
    /// Offset in `.text`.
    pub offset: u64,
    pub size: u64,
}

/// An object's `.text` section, which holds every function Ore generates (no
/// function sections), and its sized symbols in the order of the symbol table.
#[derive(Debug, Default)]
pub struct Code {
    /// As compiled, before linking patches addresses in.
    pub text: Vec<u8>,
    pub symbols: Vec<CodeSymbol>,
}

impl ObjectFile {
    /// Its code and the functions in it.
    pub fn code(&self) -> Code {
        let mut code = Code::default();
        let mut message = std::ptr::null_mut();
        // SAFETY: the binary borrows our live buffer (it does not take it) and is
        // disposed, with both iterators, before this returns. A null context is
        // allowed for anything but IR files. Names and section contents point into
        // the buffer and are copied at once (`.text` is `size` bytes long).
        unsafe {
            let binary = LLVMCreateBinary(self.0, std::ptr::null_mut(), &mut message);
            if binary.is_null() {
                super::owned_message(message);
                return code;
            }
            let sections = LLVMObjectFileCopySectionIterator(binary);
            while LLVMObjectFileIsSectionIteratorAtEnd(binary, sections) == 0 {
                if is_text(LLVMGetSectionName(sections)) {
                    let contents = LLVMGetSectionContents(sections).cast::<u8>();
                    code.text = std::slice::from_raw_parts(contents, LLVMGetSectionSize(sections) as usize).to_vec();
                }
                LLVMMoveToNextSection(sections);
            }
            let iter = LLVMObjectFileCopySymbolIterator(binary);
            while LLVMObjectFileIsSymbolIteratorAtEnd(binary, iter) == 0 {
                LLVMMoveToContainingSection(sections, iter);
                let in_text = LLVMObjectFileIsSectionIteratorAtEnd(binary, sections) == 0 && is_text(LLVMGetSectionName(sections));
                let size = LLVMGetSymbolSize(iter);
                if in_text && size > 0 && !LLVMGetSymbolName(iter).is_null() {
                    let name = CStr::from_ptr(LLVMGetSymbolName(iter)).to_string_lossy().into_owned();
                    code.symbols.push(CodeSymbol { name, offset: LLVMGetSymbolAddress(iter), size });
                }
                LLVMMoveToNextSymbol(iter);
            }
            LLVMDisposeSymbolIterator(iter);
            LLVMDisposeSectionIterator(sections);
            LLVMDisposeBinary(binary);
        }
        code
    }
}

/// Whether a section name LLVM gave (null for the ELF null section) is `.text`.
///
/// # Safety
/// `name` is null or a NUL-terminated string.
unsafe fn is_text(name: *const libc::c_char) -> bool {
    // SAFETY: the caller's contract.
    !name.is_null() && unsafe { CStr::from_ptr(name) }.to_bytes() == b".text"
}
