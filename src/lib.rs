pub mod diagnostics;
pub mod syntax;
pub mod tir;
pub mod typeck;
pub mod types;
pub mod llvm;
