//! Ore values to and from JSON, as the call endpoint takes and returns them.

use crate::engine::Value;
use crate::types::Ty;

/// A JSON argument as a value of type `ty`. Non-finite floats are the strings
/// `"nan"`, `"inf"` and `"-inf"`, since JSON has no literal for them.
pub(super) fn from_json(json: &serde_json::Value, ty: Ty) -> Result<Value, String> {
    use serde_json::Value as J;
    let float = |j: &J| match j {
        J::Number(n) => n.as_f64(),
        J::String(s) => match s.as_str() {
            "nan" => Some(f64::NAN),
            "inf" => Some(f64::INFINITY),
            "-inf" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    };
    let value = match (ty, json) {
        (Ty::I64, J::Number(n)) => n.as_i64().map(Value::I64),
        (Ty::F64, j) => float(j).map(Value::F64),
        (Ty::Bool, J::Bool(b)) => Some(Value::Bool(*b)),
        (Ty::Str, J::String(s)) if !s.contains('\0') => Some(Value::Str(s.clone())),
        (Ty::ArrayI64, J::Array(items)) => items.iter().map(|j| j.as_i64()).collect::<Option<Vec<_>>>().map(Value::ArrayI64),
        (Ty::ArrayF64, J::Array(items)) => items.iter().map(float).collect::<Option<Vec<_>>>().map(Value::ArrayF64),
        _ => None,
    };
    value.ok_or_else(|| match ty {
        Ty::Ptr => "`ptr` values cannot be passed over HTTP".to_string(),
        _ => format!("expected {}, got {json}", describe(ty)),
    })
}

fn describe(ty: Ty) -> &'static str {
    match ty {
        Ty::I64 => "an integer (i64)",
        Ty::F64 => "a number (f64)",
        Ty::Bool => "true or false (bool)",
        Ty::Str => "a string without NUL (str)",
        Ty::ArrayI64 => "an array of integers ([i64])",
        Ty::ArrayF64 => "an array of numbers ([f64])",
        _ => "a value Ore functions cannot take",
    }
}

fn float_json(v: f64) -> serde_json::Value {
    if v.is_finite() {
        serde_json::json!(v)
    } else if v.is_nan() {
        serde_json::json!("nan")
    } else if v > 0.0 {
        serde_json::json!("inf")
    } else {
        serde_json::json!("-inf")
    }
}

pub(super) fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::json;
    match v {
        Value::Unit => serde_json::Value::Null,
        Value::I64(i) => json!(i),
        Value::F64(f) => float_json(*f),
        Value::Bool(b) => json!(b),
        Value::Str(s) => json!(s),
        Value::Ptr(p) => json!(p),
        Value::ArrayI64(a) => json!(a),
        Value::ArrayF64(a) => serde_json::Value::Array(a.iter().map(|f| float_json(*f)).collect()),
    }
}
