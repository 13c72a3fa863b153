//! `GET /metrics`: Prometheus text format (version 0.0.4).

use super::namespaces::Registry;
use crate::engine::COMPILE_BUCKETS_US;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

/// Counters the HTTP layer keeps; the engines keep the rest.
#[derive(Default)]
pub struct Metrics {
    pub calls: AtomicU64,
    pub calls_in_flight: AtomicI64,
    /// Failed requests by error kind (`runtime`, `timeout`, `compile`, ...).
    errors: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    pub fn error(&self, kind: &'static str) {
        *self.errors.lock().entry(kind).or_default() += 1;
    }

    pub fn render(&self, registry: &Registry) -> String {
        let (stats, namespaces) = registry.total_stats();
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, f64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let one = |v: f64| vec![(String::new(), v)];
        metric("ore_calls_total", "counter", "Calls of Ore functions over HTTP.", &one(self.calls.load(Relaxed) as f64));
        metric("ore_calls_in_flight", "gauge", "Calls running now.", &one(self.calls_in_flight.load(Relaxed) as f64));
        let errors: Vec<(String, f64)> = self.errors.lock().iter().map(|(kind, n)| (format!("{{kind=\"{kind}\"}}"), *n as f64)).collect();
        metric("ore_errors_total", "counter", "Failed requests, by error kind.", &errors);
        metric("ore_functions_compiled_total", "counter", "Functions compiled (each definition once).", &one(stats.compiled as f64));
        let cache =
            vec![("{result=\"hit\"}".to_string(), stats.cache_hits as f64), ("{result=\"miss\"}".to_string(), stats.cache_misses as f64)];
        metric("ore_object_cache_lookups_total", "counter", "Compiled functions looked up in the object cache, by result.", &cache);
        metric(
            "ore_tier_ups_total",
            "counter",
            "Functions recompiled at the top tier once hot (--tier auto).",
            &one(stats.tier_ups as f64),
        );
        metric("ore_functions_defined_total", "counter", "Function definitions added.", &one(stats.functions as f64));
        metric(
            "ore_jit_code_bytes_total",
            "counter",
            "Bytes of object code compiled (freed code included).",
            &one(stats.code_bytes as f64),
        );
        metric("ore_namespaces", "gauge", "Namespaces loaded.", &one(namespaces as f64));
        metric(
            "ore_resident_memory_bytes",
            "gauge",
            "Resident set size of the server process.",
            &one(crate::runtime::process::resident_bytes() as f64),
        );

        // Histogram: cumulative buckets in seconds.
        let mut samples = Vec::new();
        let mut cumulative = 0;
        for (i, count) in stats.compile_buckets.iter().enumerate() {
            cumulative += count;
            let le = match COMPILE_BUCKETS_US.get(i) {
                Some(us) => format!("{}", *us as f64 / 1e6),
                None => "+Inf".to_string(),
            };
            samples.push((format!("_bucket{{le=\"{le}\"}}"), cumulative as f64));
        }
        samples.push(("_sum".to_string(), (stats.irgen_us + stats.compile_us) as f64 / 1e6));
        samples.push(("_count".to_string(), cumulative as f64));
        metric("ore_compile_seconds", "histogram", "Time to compile one function, IR generation to linked code.", &samples);
        out
    }
}
