//! `print(f64)` against CPython's `repr(float)` itself, on random doubles (every
//! bit pattern alike, so all exponents are covered) and on constructed ties, where
//! the value lies exactly halfway between two shortest round-trip strings.
//! `ORE_FLOAT_CASES=10000000 cargo test --test float_repr -- --nocapture` runs more.

mod common;

use common::rng::Rng;
use ore::format::python_repr;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

/// Python's repr of each value, in order.
fn python_reprs(values: &[f64]) -> Vec<String> {
    let script = "import sys, struct\nw = sys.stdout.write\nfor line in sys.stdin:\n    w(repr(struct.unpack('<d', bytes.fromhex(line.strip()))[0]) + '\\n')\n";
    let mut child = Command::new("python3").args(["-c", script]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("python3");
    let mut stdin = child.stdin.take().unwrap();
    let input: String = values.iter().map(|v| v.to_le_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>() + "\n").collect();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
    let out: Vec<String> = BufReader::new(child.stdout.take().unwrap()).lines().map(Result::unwrap).collect();
    writer.join().unwrap();
    assert!(child.wait().unwrap().success());
    out
}

fn mismatches(values: &[f64]) -> Vec<(f64, String, String)> {
    let expected = python_reprs(values);
    assert_eq!(expected.len(), values.len());
    values.iter().zip(expected).filter_map(|(v, want)| (python_repr(*v) != want).then(|| (*v, python_repr(*v), want))).collect()
}

#[test]
fn random_doubles_print_as_python_does() {
    let count: usize = std::env::var("ORE_FLOAT_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300_000);
    let mut rng = Rng::new(0x2545_f491_4f6c_dd1d);
    let mut checked = 0;
    let mut wrong = Vec::new();
    while checked < count {
        let batch: Vec<f64> = (0..count.min(1_000_000)).map(|_| f64::from_bits(rng.next())).collect();
        wrong.extend(mismatches(&batch));
        checked += batch.len();
    }
    eprintln!("{checked} random doubles, {} differ from Python", wrong.len());
    assert!(wrong.is_empty(), "{:?}", &wrong[..wrong.len().min(10)]);
}

#[test]
fn ties_round_half_to_even_as_python_does() {
    // An integer part of 13 to 16 digits and a fraction of few bits is exact in a
    // double and often lies halfway between two shortest round-trip strings.
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    let mut values = Vec::new();
    for digits in 13..=16u32 {
        for bits in 1..=8u32 {
            for _ in 0..2000 {
                let int = 10u64.pow(digits - 1) + rng.next() % (9 * 10u64.pow(digits - 1));
                let frac = (rng.next() % (1 << bits)) | 1;
                let v = int as f64 + frac as f64 / (1u64 << bits) as f64;
                values.push(if rng.next().is_multiple_of(2) { v } else { -v });
            }
        }
    }
    // Real ties: Rust's own shortest printing (which rounds them up) differs.
    let ties = values.iter().filter(|v| format!("{v}") != python_repr(**v)).count();
    let wrong = mismatches(&values);
    eprintln!("{} constructed values, {ties} differing from Rust's own shortest digits, {} differ from Python", values.len(), wrong.len());
    assert!(wrong.is_empty(), "{:?}", &wrong[..wrong.len().min(10)]);
    assert!(ties > 1000, "only {ties} ties constructed");
}
