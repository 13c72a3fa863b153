//! What modules of an engine may use: which C functions, pinned to which exact
//! signatures, and whether Python.
//!
//! A C function is only as safe as the signature it is called with: `labs` declared
//! as `fn(str) -> i64` returns the address of a string, and `strlen` declared as
//! `fn(i64) -> i64` reads any address. So an allow-list entry is a name *and* its C
//! signature, and a declaration with any other signature is refused.

use crate::check::SymbolStatus;
use crate::types::{CType, ExternSig};
use std::collections::BTreeMap;

/// What modules of this engine may use.
#[derive(Clone, Debug)]
pub struct Policy {
    /// The C functions `extern fn` may name, each with the only signature it may be
    /// declared with; `None` allows every symbol of the process with any signature
    /// (trusted code). Registered host functions, object files and IR modules are
    /// allowed either way (the host added them on purpose).
    pub extern_allow_list: Option<BTreeMap<String, ExternSig>>,
    /// Whether the `py_*` built-ins and Python C-API symbols may be used (never in
    /// a build without the `python` feature).
    pub python: bool,
}

// Derivable only in builds without Python.
#[allow(clippy::derivable_impls)]
impl Default for Policy {
    fn default() -> Self {
        Policy { extern_allow_list: None, python: cfg!(feature = "python") }
    }
}

impl Policy {
    /// `python`, in a build that has Python.
    pub(crate) fn allows_python(&self) -> bool {
        self.python && cfg!(feature = "python")
    }

    /// Whether a module may name `name`, a symbol of the process (not one the host
    /// added), and with which signature.
    pub(crate) fn resolve_process_symbol(&self, name: &str) -> SymbolStatus {
        if !self.allows_python() && crate::abi::is_python_symbol(name) {
            return SymbolStatus::Forbidden("this engine does not allow Python".into());
        }
        let pinned = match &self.extern_allow_list {
            Some(allowed) => match allowed.get(name) {
                Some(sig) => Some(sig.clone()),
                None => return SymbolStatus::Forbidden("it is not on this engine's allow-list".into()),
            },
            None => None,
        };
        match (crate::runtime::process::exports(name), pinned) {
            (false, _) => SymbolStatus::Missing,
            (true, Some(sig)) => SymbolStatus::Pinned(sig),
            (true, None) => SymbolStatus::Process,
        }
    }
}

/// C library functions whose signatures Ore knows, as Ore declares them on x86-64
/// Linux (`long` is i64, `int` i32, `const char *` str).
pub const KNOWN_C_FUNCTIONS: &[(&str, &str)] = &[
    ("abs", "(i32) -> i32"),
    ("labs", "(i64) -> i64"),
    ("llabs", "(i64) -> i64"),
    ("fabs", "(f64) -> f64"),
    ("sqrt", "(f64) -> f64"),
    ("cbrt", "(f64) -> f64"),
    ("pow", "(f64, f64) -> f64"),
    ("exp", "(f64) -> f64"),
    ("exp2", "(f64) -> f64"),
    ("expm1", "(f64) -> f64"),
    ("log", "(f64) -> f64"),
    ("log2", "(f64) -> f64"),
    ("log10", "(f64) -> f64"),
    ("log1p", "(f64) -> f64"),
    ("sin", "(f64) -> f64"),
    ("cos", "(f64) -> f64"),
    ("tan", "(f64) -> f64"),
    ("asin", "(f64) -> f64"),
    ("acos", "(f64) -> f64"),
    ("atan", "(f64) -> f64"),
    ("atan2", "(f64, f64) -> f64"),
    ("sinh", "(f64) -> f64"),
    ("cosh", "(f64) -> f64"),
    ("tanh", "(f64) -> f64"),
    ("floor", "(f64) -> f64"),
    ("ceil", "(f64) -> f64"),
    ("round", "(f64) -> f64"),
    ("trunc", "(f64) -> f64"),
    ("fmod", "(f64, f64) -> f64"),
    ("hypot", "(f64, f64) -> f64"),
    ("fmin", "(f64, f64) -> f64"),
    ("fmax", "(f64, f64) -> f64"),
    ("strlen", "(str) -> i64"),
    ("strcmp", "(str, str) -> i32"),
    ("atol", "(str) -> i64"),
    ("atoll", "(str) -> i64"),
    ("atof", "(str) -> f64"),
    ("getpid", "() -> i32"),
    ("getenv", "(str) -> str"),
    ("puts", "(str) -> i32"),
    ("abort", "() -> ()"),
];

/// What `ore serve` allows when the operator adds nothing: functions that compute
/// only from their arguments. The string functions read their `str` arguments, and
/// every Ore `str` a module can hold under this list is a valid NUL-terminated
/// string (no listed function returns `str` or takes or returns `ptr`).
pub const DEFAULT_EXTERN_ALLOW_LIST: &[&str] = &[
    "labs", "llabs", "fabs", "sqrt", "cbrt", "pow", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan", "asin",
    "acos", "atan", "atan2", "sinh", "cosh", "tanh", "floor", "ceil", "round", "trunc", "fmod", "hypot", "fmin", "fmax", "strlen",
    "strcmp", "atol", "atoll", "atof",
];

/// The signature of a function of `KNOWN_C_FUNCTIONS`.
pub fn known_signature(name: &str) -> Option<ExternSig> {
    let (_, sig) = KNOWN_C_FUNCTIONS.iter().find(|(n, _)| *n == name)?;
    Some(parse_signature(sig).expect("KNOWN_C_FUNCTIONS holds valid signatures"))
}

/// Builds an allow-list from entries `name` (a function of `KNOWN_C_FUNCTIONS`) or
/// `name:(params) -> ret` (any C symbol, with the signature given). Each string may
/// hold several entries separated by commas outside parentheses.
pub fn allow_list<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<BTreeMap<String, ExternSig>, String> {
    let mut list = BTreeMap::new();
    for entry in entries.into_iter().flat_map(split_entries) {
        let (name, sig) = match entry.split_once(':') {
            Some((name, sig)) => (name.trim(), parse_signature(sig).map_err(|e| format!("allow-list entry `{entry}`: {e}"))?),
            None => (entry, known_signature(entry).ok_or_else(|| {
                format!("no known C signature for `{entry}`: give it as `{entry}:(i64, f64) -> i64` (types i64 i32 f64 bool str ptr, result () for none)")
            })?),
        };
        let valid = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return Err(format!("allow-list entry `{entry}`: `{name}` is not a C identifier"));
        }
        if let Some(earlier) = list.insert(name.to_string(), sig.clone()) {
            if earlier != sig {
                return Err(format!("`{name}` is allowed twice, as `{earlier}` and as `{sig}`"));
            }
        }
    }
    Ok(list)
}

/// `a, b:(i64, str) -> i32` as `a` and `b:(i64, str) -> i32`; empty entries dropped.
fn split_entries(text: &str) -> impl Iterator<Item = &str> {
    let mut depth = 0i32;
    text.split(move |c| {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        c == ',' && depth == 0
    })
    .map(str::trim)
    .filter(|e| !e.is_empty())
}

/// Parses `(i64, str) -> i32` (a leading `fn` or `extern fn` is allowed; no result
/// is `()`).
pub fn parse_signature(text: &str) -> Result<ExternSig, String> {
    let text = text.trim();
    let text = text.strip_prefix("extern").map_or(text, str::trim_start);
    let text = text.strip_prefix("fn").map_or(text, str::trim_start);
    let bad = || format!("`{text}` is not a signature like `(i64, str) -> i32`");
    let rest = text.strip_prefix('(').ok_or_else(bad)?;
    let (params, ret) = rest.split_once(')').ok_or_else(bad)?;
    let c_type = |t: &str| CType::from_name(t.trim()).ok_or_else(|| format!("unknown C type `{}` in `{text}`", t.trim()));
    let params = if params.trim().is_empty() { Vec::new() } else { params.split(',').map(c_type).collect::<Result<_, _>>()? };
    let ret = match ret.trim() {
        "" | "-> ()" => CType::Unit,
        r => c_type(r.strip_prefix("->").ok_or_else(bad)?)?,
    };
    Ok(ExternSig { params, ret })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_parse_in_every_spelling() {
        let sig = parse_signature("(str, i64) -> i32").unwrap();
        assert_eq!(sig, ExternSig { params: vec![CType::Str, CType::I64], ret: CType::I32 });
        assert_eq!(parse_signature("extern fn(str, i64) -> i32").unwrap(), sig);
        assert_eq!(parse_signature("fn()").unwrap(), ExternSig { params: vec![], ret: CType::Unit });
        assert_eq!(parse_signature("() -> ()").unwrap(), ExternSig { params: vec![], ret: CType::Unit });
        assert!(parse_signature("(string) -> i64").unwrap_err().contains("unknown C type `string`"));
        assert!(parse_signature("i64 -> i64").is_err());
    }

    #[test]
    fn every_known_signature_is_valid_and_defaults_are_known() {
        for (name, _) in KNOWN_C_FUNCTIONS {
            assert!(known_signature(name).is_some(), "{name}");
        }
        let list = allow_list(DEFAULT_EXTERN_ALLOW_LIST.iter().copied()).unwrap();
        assert_eq!(list.len(), DEFAULT_EXTERN_ALLOW_LIST.len());
        // The default list holds no pointer and no `str` result.
        for (name, sig) in &list {
            assert!(!sig.params.contains(&CType::Ptr) && !matches!(sig.ret, CType::Ptr | CType::Str), "{name}: {sig}");
        }
    }

    #[test]
    fn allow_list_entries_are_checked() {
        assert!(allow_list(["frobnicate"]).unwrap_err().contains("no known C signature for `frobnicate`"));
        let list = allow_list(["frobnicate:(ptr, i64) -> ptr, labs", "sqrt"]).unwrap();
        assert_eq!(list.keys().collect::<Vec<_>>(), ["frobnicate", "labs", "sqrt"]);
        assert_eq!(list["frobnicate"].to_string(), "extern fn(ptr, i64) -> ptr");
        assert!(allow_list(["labs", "labs:(f64) -> f64"]).unwrap_err().contains("allowed twice"));
        assert!(allow_list(["a-b:(i64) -> i64"]).unwrap_err().contains("not a C identifier"));
    }
}
