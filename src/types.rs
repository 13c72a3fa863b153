//! Ore's types and function signatures, shared by the checker, the code generator
//! and the embedding API.

use std::fmt;

/// An Ore type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ty {
    /// `i64`.
    I64,
    /// `f64`.
    F64,
    /// `bool`.
    Bool,
    /// `str`.
    Str,
    /// `ptr`.
    Ptr,
    /// `[i64]`.
    #[serde(rename = "[i64]")]
    ArrayI64,
    /// `[f64]`.
    #[serde(rename = "[f64]")]
    ArrayF64,
    /// No value (a function without `->`).
    #[serde(rename = "()")]
    Unit,
    /// The type of `return`, `break` and `continue`: fits wherever a value is expected.
    #[serde(rename = "!")]
    Never,
}

impl Ty {
    /// The element type of an array type.
    pub fn element(self) -> Option<Ty> {
        match self {
            Ty::ArrayI64 => Some(Ty::I64),
            Ty::ArrayF64 => Some(Ty::F64),
            _ => None,
        }
    }

    /// The array type of elements `elem`, if there is one.
    pub fn array_of(elem: Ty) -> Option<Ty> {
        match elem {
            Ty::I64 => Some(Ty::ArrayI64),
            Ty::F64 => Some(Ty::ArrayF64),
            _ => None,
        }
    }

    /// `[i64]` or `[f64]`.
    pub fn is_array(self) -> bool {
        matches!(self, Ty::ArrayI64 | Ty::ArrayF64)
    }

    /// Types `print` accepts, and so the types `main` may return besides unit.
    pub fn is_printable(self) -> bool {
        matches!(self, Ty::I64 | Ty::F64 | Ty::Bool | Ty::Str)
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ty::I64 => "i64",
            Ty::F64 => "f64",
            Ty::Bool => "bool",
            Ty::Str => "str",
            Ty::Ptr => "ptr",
            Ty::ArrayI64 => "[i64]",
            Ty::ArrayF64 => "[f64]",
            Ty::Unit => "()",
            Ty::Never => "!",
        })
    }
}

/// The signature of an Ore function.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FnSig {
    /// The parameters' types.
    pub params: Vec<Ty>,
    /// The result type.
    pub ret: Ty,
}

/// `PREFIX(p1, p2) -> ret`
fn write_signature(f: &mut fmt::Formatter<'_>, prefix: &str, params: &[impl fmt::Display], ret: impl fmt::Display) -> fmt::Result {
    write!(f, "{prefix}(")?;
    for (i, p) in params.iter().enumerate() {
        if i > 0 {
            write!(f, ", ")?;
        }
        write!(f, "{p}")?;
    }
    write!(f, ") -> {ret}")
}

/// `NAME(p0: T0, p1: T1) -> R;`, the result left out when it is unit.
fn declaration(name: &str, params: &[impl fmt::Display], ret: impl fmt::Display + PartialEq<&'static str>) -> String {
    let params: Vec<String> = params.iter().enumerate().map(|(i, p)| format!("p{i}: {p}")).collect();
    let ret = if ret == "()" { String::new() } else { format!(" -> {ret}") };
    format!("{name}({}){ret};", params.join(", "))
}

impl FnSig {
    /// Ore source declaring a function `name` of this signature.
    pub fn declaration(&self, name: &str) -> String {
        format!("fn {}", declaration(name, &self.params, self.ret.to_string()))
    }
}

impl ExternSig {
    /// Ore source declaring a C function `name` of this signature.
    pub fn declaration(&self, name: &str) -> String {
        format!("extern fn {}", declaration(name, &self.params, self.ret.to_string()))
    }
}

impl fmt::Display for FnSig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_signature(f, "fn", &self.params, self.ret)
    }
}

/// A type at the C boundary of an `extern fn`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CType {
    /// `i64`.
    I64,
    /// Takes an i64 value (truncated); as a result it is widened to i64.
    I32,
    /// `f64`.
    F64,
    /// `bool`, as a C `bool` (one byte).
    Bool,
    /// A pointer to NUL-terminated bytes.
    Str,
    /// `ptr`: `void *`.
    Ptr,
    /// No result: `void`.
    Unit,
}

impl CType {
    /// The Ore type a value of this C type has on the Ore side.
    pub fn ore_type(self) -> Ty {
        match self {
            CType::I64 | CType::I32 => Ty::I64,
            CType::F64 => Ty::F64,
            CType::Bool => Ty::Bool,
            CType::Str => Ty::Str,
            CType::Ptr => Ty::Ptr,
            CType::Unit => Ty::Unit,
        }
    }

    /// The type an `extern fn` declaration spells `name`.
    pub fn from_name(name: &str) -> Option<CType> {
        Some(match name {
            "i64" => CType::I64,
            "i32" => CType::I32,
            "f64" => CType::F64,
            "bool" => CType::Bool,
            "str" => CType::Str,
            "ptr" => CType::Ptr,
            _ => return None,
        })
    }
}

impl fmt::Display for CType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CType::I64 => "i64",
            CType::I32 => "i32",
            CType::F64 => "f64",
            CType::Bool => "bool",
            CType::Str => "str",
            CType::Ptr => "ptr",
            CType::Unit => "()",
        })
    }
}

/// The signature of a C function called through `extern fn`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExternSig {
    /// The parameters' C types.
    pub params: Vec<CType>,
    /// The result's C type.
    pub ret: CType,
}

impl fmt::Display for ExternSig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_signature(f, "extern fn", &self.params, self.ret)
    }
}
