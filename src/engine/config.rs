//! How an engine is configured: optimisation level, dumps, policy, limits.

use super::Policy;
use crate::codegen;
use crate::syntax;

/// Optimisation level of the per-function pipeline (LLVM's `default<On>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptLevel(u8);

impl OptLevel {
    /// No optimisation: the fastest compile.
    pub const O0: OptLevel = OptLevel(0);
    /// LLVM's `default<O1>` pipeline.
    pub const O1: OptLevel = OptLevel(1);
    /// LLVM's `default<O2>` pipeline (the default).
    pub const O2: OptLevel = OptLevel(2);
    /// LLVM's `default<O3>` pipeline.
    pub const O3: OptLevel = OptLevel(3);

    /// The level `level` (0-3), if it is one.
    pub fn new(level: u8) -> Option<OptLevel> {
        (level <= 3).then_some(OptLevel(level))
    }

    /// The level as a number, 0-3.
    pub fn level(self) -> u8 {
        self.0
    }
}

/// `O2`: a function is compiled once, at its first call, and then runs for the rest
/// of the process (see docs/ARCHITECTURE.md for the measurements behind this).
impl Default for OptLevel {
    fn default() -> Self {
        OptLevel::O2
    }
}

/// Tiered compilation (`Config::tiering`, `ore run --tier auto`): a function is
/// first compiled at -O0 (tier 0, which counts its calls and loop iterations),
/// and recompiled at `Config::opt_level` (the top tier) by a background thread
/// once the count reaches `hot_calls`; its slot then points at the new code, and
/// a call still running at tier 0 in a loop moves into it at the loop's header
/// (docs/ARCHITECTURE.md, "Tiers").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tiering {
    /// Calls and loop iterations of a tier-0 function that make it hot (at
    /// least 1).
    pub hot_calls: u32,
    /// Background compile threads the namespace asks for. The threads are the
    /// process's, shared by every engine: there are as many as the most any
    /// tiered namespace asked for. 0: the call that makes a function hot compiles
    /// its top tier itself, before it returns, so every later call runs it (for
    /// tests that need to know which tier runs).
    pub threads: usize,
}

impl Tiering {
    /// `hot_calls` when not set (docs/ARCHITECTURE.md, "Tiers", says why).
    pub const DEFAULT_HOT_CALLS: u32 = 1000;
}

impl Default for Tiering {
    fn default() -> Self {
        Tiering { hot_calls: Tiering::DEFAULT_HOT_CALLS, threads: 1 }
    }
}

/// What to dump, to standard error, for every function the JIT compiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Emit {
    /// LLVM IR after optimisation.
    Ir,
    /// Host assembly.
    Asm,
}

/// How a namespace compiles and what its modules may do.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// The default for modules that do not choose their own (`add_module_at`);
    /// with `tiering`, the top tier.
    pub opt_level: OptLevel,
    /// Compile functions at -O0 first, and at `opt_level` once hot (`None`: every
    /// function at `opt_level` at its first call).
    pub tiering: Option<Tiering>,
    /// Compile every function when its module is added instead of at first call.
    pub eager: bool,
    /// Print each function's IR or assembly to stderr as it is compiled.
    pub emit: Option<Emit>,
    /// Emit DWARF for Ore code (functions, line tables, parameters and locals)
    /// and register it with debuggers through the GDB JIT interface (`ore run
    /// -g`; `ORE_DEBUG=1` turns it on for every namespace). Locals are best seen
    /// at -O0.
    pub debug_info: bool,
    /// Keep the optimised IR and the assembly of each function's latest compile,
    /// for `Namespace::code` (a REPL's `:ir`); costs a second code generation per
    /// compile.
    pub keep_code: bool,
    /// Keep a `CompileRecord` of every compilation (see `Namespace::compile_records`).
    pub profile: bool,
    /// Compile a deadline check into every function entry and loop back-edge, so that
    /// calls can be given a timeout (`CallOptions::timeout`).
    pub interruptible: bool,
    /// What modules may call (`extern fn`, Python).
    pub policy: Policy,
    /// Bounds on what modules may add.
    pub limits: Limits,
    /// Safety checks to leave out, for measuring their cost only.
    pub unchecked: codegen::Unchecked,
    /// Run LLVM's verifier on every generated function before optimising it (the
    /// fuzz targets do): invalid IR then fails the compile with the verifier's
    /// message instead of being undefined behaviour in LLVM.
    pub verify_ir: bool,
    /// Keep compiled functions' object code in this directory and link it from
    /// there when the same code is compiled again, here or in a later process
    /// (`ore run --cache-dir`, `ORE_CACHE_DIR`; see `ore::cache`). Unused while
    /// `emit` or `keep_code` asks to see what LLVM generates. Entries are machine
    /// code this process will run: the directory must be writable only by users
    /// trusted with the process (checksums catch damage, not forgery).
    pub cache_dir: Option<std::path::PathBuf>,
    /// The cache directory's size cap (`cache::DEFAULT_MAX_BYTES` if `None`): past
    /// it, the least recently used entries are removed. Namespaces of one engine
    /// share a directory's cache, with the cap of the first to open it.
    pub cache_max_bytes: Option<u64>,
}

/// Bounds on what modules may add; exceeding one is an error, not a crash.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Bytes of source text in one module.
    pub max_source_bytes: usize,
    /// Nesting of expressions and blocks in one function (the parser's own bound is
    /// `syntax::MAX_NESTING`).
    pub max_nesting: u32,
    /// Ore function names (defined or declared) in the namespace.
    pub max_functions: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_source_bytes: usize::MAX, max_nesting: syntax::MAX_NESTING, max_functions: usize::MAX }
    }
}
