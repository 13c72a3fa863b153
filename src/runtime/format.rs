//! Number formatting shared by `print` and the CLI.

/// Formats like Python's `repr(float)`: the shortest digits that round-trip, in
/// positional notation when the exponent is in [-4, 16), scientific otherwise.
pub fn python_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    // Rust's `{:e}` gives the shortest round-trip digits ("-1.2345e-5"), but where
    // two strings of that length round-trip and the value lies exactly halfway
    // between them it rounds up, and Python to even (`94188835846944.625` is
    // `94188835846944.62`). The value correctly rounded to that many digits is
    // Python's answer, and Rust's fixed-precision formatting rounds exactly, half to
    // even.
    let digits = format!("{x:e}").split('e').next().map_or(1, |m| m.bytes().filter(u8::is_ascii_digit).count());
    let sci = format!("{:.*e}", digits - 1, x);
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` always has an exponent");
    let exp: i32 = exp.parse().expect("exponent is an integer");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let body = if (-4..16).contains(&exp) {
        if exp >= 0 {
            let point = exp as usize + 1;
            if digits.len() <= point {
                format!("{}{}.0", digits, "0".repeat(point - digits.len()))
            } else {
                format!("{}.{}", &digits[..point], &digits[point..])
            }
        } else {
            format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
        }
    } else {
        let frac = if digits.len() > 1 { format!(".{}", &digits[1..]) } else { String::new() };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        format!("{}{}e{}{:02}", &digits[..1], frac, exp_sign, exp.abs())
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::python_repr;

    #[test]
    // The ties below are written as their exact values, which is the point.
    #[allow(clippy::excessive_precision)]
    fn matches_python_repr() {
        let cases: &[(f64, &str)] = &[
            (0.1, "0.1"),
            (1.0, "1.0"),
            (-2.5, "-2.5"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789.0, "123456789.0"),
            (1e-4, "0.0001"),
            (1e-5, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (0.1 + 0.2, "0.30000000000000004"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (1.2345678901234567e17, "1.2345678901234566e+17"),
            (100.0, "100.0"),
            (3.25, "3.25"),
            // Ties between two shortest strings go to the even digit, as in Python.
            (94188835846944.625, "94188835846944.62"),
            (33362295447245.5625, "33362295447245.562"),
        ];
        for (x, want) in cases {
            assert_eq!(python_repr(*x), *want, "repr of {x:?}");
        }
    }
}
