//! What an engine reports: counters, per-compilation records, listings of its
//! functions, and the bookkeeping of what each host call compiled.

use crate::types::FnSig;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

/// Whether a function of the namespace has code, and which.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FunctionState {
    /// Declared, but no module defines it.
    Undefined,
    /// Defined, not compiled yet.
    Lazy,
    /// Compiled: its code is linked and its slot filled (or about to be).
    Compiled,
}

/// A function of the namespace, for listings.
#[derive(Clone, Debug, PartialEq)]
pub struct FunctionInfo {
    /// The function's name.
    pub name: String,
    /// Its signature.
    pub sig: FnSig,
    /// Whether its current definition exists and is compiled.
    pub state: FunctionState,
    /// Time to compile the current definition (IR generation to linking).
    pub compile_us: u64,
    /// Calls from the host (`Namespace::call`), all definitions together; calls made
    /// by Ore code are not counted.
    pub calls: u64,
    /// Which code it runs, once compiled.
    pub tier: Option<super::Tier>,
}

/// A function's code as it was last compiled (`Config::keep_code`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledCode {
    /// The optimised LLVM IR of its module.
    pub ir: String,
    /// The host assembly.
    pub asm: String,
}

/// Where the time of one function's compilation went, in microseconds. The split is
/// exact for lazy compilation; when ORC compiles several functions nested in one
/// another (eager mode), nested ones are attributed to the outermost.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CompileRecord {
    /// The function compiled.
    pub function: String,
    /// The optimisation level it was compiled at (0-3).
    pub opt_level: u8,
    /// Generating its IR.
    pub irgen_us: u64,
    /// Running the optimisation pipeline.
    pub optimize_us: u64,
    /// Code generation (instruction selection to object file).
    pub codegen_us: u64,
    /// Linking the object and everything else until the code was ready.
    pub link_us: u64,
}

impl CompileRecord {
    /// The whole compilation.
    pub fn total_us(&self) -> u64 {
        self.irgen_us + self.optimize_us + self.codegen_us + self.link_us
    }
}

/// Counters since the engine was created; times in microseconds.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Stats {
    /// Ore function bodies added (each redefinition counts).
    pub functions: u64,
    /// Ore function bodies compiled (materialised).
    pub compiled: u64,
    /// Parsing added modules.
    pub parse_us: u64,
    /// Checking added modules.
    pub check_us: u64,
    /// IR generation, inside materialisations.
    pub irgen_us: u64,
    /// Optimisation, code generation and linking: materialisations minus IR generation.
    pub compile_us: u64,
    /// Time in calls from the host made with `call_with` (their
    /// `CallReport::elapsed`), minus the compilation that happened inside them.
    /// Plain `call`s read no clock and are not counted.
    pub run_us: u64,
    /// Bytes of object code produced (freed code included).
    pub code_bytes: u64,
    /// Of the `compiled` and `tier_ups`, those whose object code came from the
    /// object cache (`Config::cache_dir`).
    pub cache_hits: u64,
    /// Of the `compiled` and `tier_ups`, those the cache did not have: compiled by
    /// LLVM, then stored.
    pub cache_misses: u64,
    /// Of the `compiled`, those compiled at tier 0 (`Config::tiering`); their
    /// compile times are in `irgen_us` and `compile_us` with the others'.
    pub tier_0_compiled: u64,
    /// Tier-0 functions recompiled at the top tier, in the background, and
    /// published (not included in `compiled`).
    pub tier_ups: u64,
    /// Time the background threads took for `tier_ups`, IR generation to link.
    pub tier_up_us: u64,
    /// Calls that moved from tier 0 into the top tier at a loop header
    /// (on-stack replacement), because the top tier was ready while they ran.
    pub loop_entries: u64,
    /// Compilations by total time (IR generation to linking): `compile_buckets[i]`
    /// took at most `COMPILE_BUCKETS_US[i]`; the last entry counts the rest.
    pub compile_buckets: Vec<u64>,
}

impl Stats {
    /// Adds `other`'s counters to these (a server's total over its namespaces).
    pub fn add(&mut self, other: &Stats) {
        let Stats {
            functions,
            compiled,
            parse_us,
            check_us,
            irgen_us,
            compile_us,
            run_us,
            code_bytes,
            cache_hits,
            cache_misses,
            tier_0_compiled,
            tier_ups,
            tier_up_us,
            loop_entries,
            compile_buckets,
        } = other;
        self.functions += functions;
        self.compiled += compiled;
        self.parse_us += parse_us;
        self.check_us += check_us;
        self.irgen_us += irgen_us;
        self.compile_us += compile_us;
        self.run_us += run_us;
        self.code_bytes += code_bytes;
        self.cache_hits += cache_hits;
        self.cache_misses += cache_misses;
        self.tier_0_compiled += tier_0_compiled;
        self.tier_ups += tier_ups;
        self.tier_up_us += tier_up_us;
        self.loop_entries += loop_entries;
        self.compile_buckets.resize(compile_buckets.len().max(self.compile_buckets.len()), 0);
        for (t, b) in self.compile_buckets.iter_mut().zip(compile_buckets) {
            *t += b;
        }
    }
}

/// Upper bounds of the compile-time histogram's buckets, in microseconds.
pub const COMPILE_BUCKETS_US: [u64; 10] = [100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 100_000, 1_000_000];

#[derive(Default)]
pub(super) struct Counters {
    pub(super) functions: AtomicU64,
    pub(super) compiled: AtomicU64,
    pub(super) parse_us: AtomicU64,
    pub(super) check_us: AtomicU64,
    pub(super) irgen_us: AtomicU64,
    pub(super) compile_us: AtomicU64,
    pub(super) run_us: AtomicU64,
    pub(super) code_bytes: AtomicU64,
    pub(super) cache_hits: AtomicU64,
    pub(super) cache_misses: AtomicU64,
    pub(super) tier_0_compiled: AtomicU64,
    pub(super) tier_ups: AtomicU64,
    pub(super) tier_up_us: AtomicU64,
    pub(super) loop_entries: AtomicU64,
    pub(super) compile_buckets: [AtomicU64; COMPILE_BUCKETS_US.len() + 1],
}

pub(super) fn micros(since: Instant) -> u64 {
    since.elapsed().as_micros() as u64
}

/// What was compiled on one thread during host calls: each call reports (and takes
/// out) what was added while it ran.
struct CompiledHere {
    /// The namespace of each host call running on this thread, innermost last.
    /// Only compiles for the innermost call's namespace are recorded: the engine's
    /// session may run another namespace's units on this thread, and their names
    /// must not show up in this call's report.
    owners: Vec<usize>,
    names: Vec<String>,
    total_us: u64,
}

thread_local! {
    static COMPILED_HERE: std::cell::RefCell<CompiledHere> = const {
        std::cell::RefCell::new(CompiledHere { owners: Vec::new(), names: Vec::new(), total_us: 0 })
    };
}

/// Records that `function` of `namespace` was compiled on this thread, in `us`.
pub(super) fn record_compiled_here(namespace: &super::Inner, function: &str, us: u64) {
    COMPILED_HERE.with(|here| {
        let mut here = here.borrow_mut();
        if here.owners.last() == Some(&(namespace as *const super::Inner as usize)) {
            here.names.push(function.to_string());
            here.total_us += us;
        }
    });
}

/// One host call's share of `COMPILED_HERE`; ends on drop too, so a panic cannot
/// leave the thread recording forever.
pub(super) struct Recording {
    names_before: usize,
    us_before: u64,
    done: bool,
}

impl Recording {
    /// Starts recording for a host call into `namespace`.
    pub(super) fn start(namespace: &super::Inner) -> Recording {
        COMPILED_HERE.with(|h| {
            let mut h = h.borrow_mut();
            h.owners.push(namespace as *const super::Inner as usize);
            Recording { names_before: h.names.len(), us_before: h.total_us, done: false }
        })
    }

    /// The functions compiled during the call, and the time that took.
    pub(super) fn finish(mut self) -> (Vec<String>, u64) {
        self.done = true;
        self.end()
    }

    fn end(&self) -> (Vec<String>, u64) {
        COMPILED_HERE.with(|h| {
            let mut h = h.borrow_mut();
            h.owners.pop();
            let at = self.names_before.min(h.names.len());
            (h.names.split_off(at), h.total_us - self.us_before)
        })
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        if !self.done {
            self.end();
        }
    }
}

thread_local! {
    /// Microseconds spent in materializations nested inside the current one: ORC
    /// may run pending materializations in place while linking another.
    static NESTED_COMPILE_US: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Runs one materialization; returns the microseconds it took excluding any
/// materializations nested in it, so that nested ones are not counted twice.
pub(super) fn exclusive_micros(f: impl FnOnce()) -> u64 {
    let outer = NESTED_COMPILE_US.with(|n| n.replace(0));
    let start = Instant::now();
    f();
    let total = micros(start);
    let nested = NESTED_COMPILE_US.with(|n| n.replace(outer + total));
    total.saturating_sub(nested)
}
