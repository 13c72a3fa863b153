//! The `ore` command line: `ore run`, `ore check`, `ore bench`, `ore serve`.

mod bench;
mod help;
mod repl;
mod status;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Parsing and checking a large module is mostly small allocations and frees;
/// glibc's malloc spent a quarter of that time consolidating chunks.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use ore::{output, Config, Emit, Error, Namespace, OptLevel, SourceFile, Value};
use status::{EXIT_COMPILE_ERROR, EXIT_INTERNAL, EXIT_USAGE};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const RUN_STACK_SIZE: usize = 64 * 1024 * 1024;

#[derive(Parser)]
#[command(name = "ore", version, about = "Ore: a lazy-compiling JIT on LLVM ORCv2")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile FILE and call its `main`; each function is compiled at its first call.
    #[command(after_help = help::RUN)]
    Run(RunArgs),
    /// Parse and type-check FILE without running it.
    #[command(after_help = help::CHECK)]
    Check {
        /// Print the diagnostics as one JSON object (`{"diagnostics": [...]}`, each
        /// as the server reports them) on standard output.
        #[arg(long)]
        json: bool,
        /// The Ore source file (`-` reads standard input).
        file: PathBuf,
    },
    /// Run FILE and report where each reached function's first-call compile time goes
    /// (the program's own output is silenced).
    #[command(after_help = help::BENCH)]
    Bench(BenchArgs),
    /// Type Ore interactively: definitions are added as you go, expressions are
    /// evaluated and printed with their type.
    #[command(after_help = help::REPL)]
    Repl {
        /// Optimisation level, 0 to 3.
        #[arg(short = 'O', value_name = "LEVEL", default_value_t = 2, value_parser = clap::value_parser!(u8).range(0..=3))]
        opt: u8,
    },
    /// Serve the JIT over HTTP/JSON (see docs/SERVER.md).
    #[command(after_help = help::SERVE)]
    Serve(ServeArgs),
    /// Show or empty an object cache directory (`run --cache-dir`, `serve`).
    #[command(after_help = help::CACHE)]
    Cache {
        #[command(subcommand)]
        action: CacheAction,
    },
    /// Print FILE's LLVM IR as one standalone module (unoptimised, direct calls,
    /// functions named `ore.NAME` taking the call context first), for other tools.
    #[command(after_help = help::EMIT_IR)]
    EmitIr {
        /// The Ore source file (`-` reads standard input).
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum CacheAction {
    /// Print how many entries the cache holds and their size.
    Stats {
        /// Print one JSON object instead.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        dir: CacheDirArg,
    },
    /// Remove every entry.
    Clear {
        #[command(flatten)]
        dir: CacheDirArg,
    },
}

#[derive(Args)]
struct CacheDirArg {
    /// The cache directory.
    #[arg(long, value_name = "DIR", env = ore::cache::DIR_VARIABLE)]
    cache_dir: PathBuf,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on; a non-loopback address needs a token. Port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:7070")]
    listen: std::net::SocketAddr,
    /// Require `Authorization: Bearer TOKEN` on every endpoint but /healthz.
    #[arg(long, env = "ORE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// C functions `extern fn` may name, besides the default math and string list:
    /// a name Ore knows the C signature of (`getpid`), or `NAME:(TYPES) -> TYPE`
    /// (`frob:(i64, str) -> i32`). Declarations must match the signature exactly.
    /// Comma-separated, repeatable.
    #[arg(long, value_name = "ENTRIES")]
    allow_extern: Vec<String>,
    /// Allow the `py_*` built-ins and Python C-API symbols.
    #[arg(long)]
    allow_python: bool,
    /// Allow modules in LLVM IR (trusted code: it can do anything the process can).
    #[arg(long)]
    allow_llvm_ir: bool,
    /// Default optimisation level of modules, 0 to 3 (with `--tier auto`, the
    /// top tier's).
    #[arg(short = 'O', value_name = "LEVEL", default_value_t = 2, value_parser = clap::value_parser!(u8).range(0..=3))]
    opt: u8,
    #[command(flatten)]
    tiers: TierArgs,
    /// Keep modules in this SQLite file and load them again at start.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Keep compiled code here, so that a restart links it instead of compiling it
    /// again [default with --state: FILE.cache beside it; without: none].
    #[arg(long, value_name = "DIR", env = ore::cache::DIR_VARIABLE)]
    cache_dir: Option<PathBuf>,
    /// Compile everything anew: no object cache, not even beside --state.
    #[arg(long, conflicts_with = "cache_dir")]
    no_cache: bool,
    /// After SIGTERM, how long in-flight requests may take to finish.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    grace_ms: u64,
    /// Timeout of calls that give no `timeout_ms`.
    #[arg(long, value_name = "MS", default_value_t = 5_000)]
    default_timeout_ms: u64,
    /// Largest `timeout_ms` a call may ask for.
    #[arg(long, value_name = "MS", default_value_t = 60_000)]
    max_timeout_ms: u64,
    /// Largest request body.
    #[arg(long, value_name = "BYTES", default_value_t = 2 << 20)]
    max_body_bytes: usize,
    /// Largest module source.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    max_source_bytes: usize,
    /// Deepest nesting of expressions and blocks in a function.
    #[arg(long, value_name = "LEVELS", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=ore::MAX_NESTING as i64))]
    max_nesting: u32,
    /// Functions (defined or declared) per namespace.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    max_functions: usize,
    /// Namespaces per server.
    #[arg(long, value_name = "N", default_value_t = 256)]
    max_namespaces: usize,
    /// Bytes the arrays of one call may hold at once.
    #[arg(long, value_name = "BYTES", default_value_t = 256 << 20)]
    max_array_bytes: u64,
    /// Bytes of `print` output one call may return (the rest is dropped).
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    max_output_bytes: usize,
    /// Modules one call may add with `load` (what they replace is freed when the call ends).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    max_loads_per_call: u32,
    /// Calls running at once; one more is answered 503 `busy`.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    max_concurrent_calls: u64,
    /// Bytes the arrays of all running calls may take together.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 30)]
    max_total_array_bytes: u64,
    /// Open connections; one more is closed at once.
    #[arg(long, value_name = "N", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: u64,
    /// Time a client has to send a request's head (headers).
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    header_timeout_ms: u64,
    /// Time a client has to send a request's body.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    body_timeout_ms: u64,
}

#[derive(Args)]
struct BenchArgs {
    /// Run in this many fresh engines and report min, median and p99.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    repeat: u64,
    /// Call `main` this many times in each engine, and report the steady run
    /// time (the median of the later half) and when runs reached it.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    runs: u64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    program: ProgramArgs,
}

#[derive(Args)]
struct RunArgs {
    /// Print one JSON line of compile and run statistics on standard error.
    #[arg(long)]
    stats: bool,
    /// Dump every compiled function, as optimised LLVM IR or assembly, on standard error.
    #[arg(long, value_enum, value_name = "KIND")]
    emit: Option<EmitArg>,
    #[command(flatten)]
    program: ProgramArgs,
}

/// How `run` and `bench` compile a program and what it may call.
#[derive(Args)]
struct ProgramArgs {
    /// Optimisation level, 0 to 3 (`-O0` .. `-O3`).
    #[arg(short = 'O', value_name = "LEVEL", default_value_t = 2, value_parser = clap::value_parser!(u8).range(0..=3))]
    opt: u8,
    #[command(flatten)]
    tiers: TierArgs,
    /// Compile every function before `main` runs (for comparison with lazy mode).
    #[arg(long)]
    eager: bool,
    /// Emit debug info (functions, lines, locals) and register the code with
    /// debuggers: `gdb --args ore run -g -O0 FILE` (see docs/PROFILING.md).
    #[arg(short = 'g')]
    debug: bool,
    /// Interrupt `main` after this many milliseconds (compiles deadline checks into
    /// every function entry and loop).
    #[arg(long, value_name = "MS")]
    timeout: Option<u64>,
    /// For measuring what safety checks cost: leave out `bounds`, `division` or
    /// `stack` checks, or call functions of the same module `direct`ly instead of
    /// through their slots (comma-separated). A program that would trip an omitted
    /// check is undefined behaviour.
    #[arg(long, value_name = "CHECKS", value_delimiter = ',', value_parser = ["bounds", "division", "stack", "direct"])]
    unchecked: Vec<String>,
    /// Load a shared library whose functions `extern fn` can call (repeatable).
    #[arg(long = "lib", value_name = "PATH")]
    libs: Vec<PathBuf>,
    /// Add an object file (.o) or an LLVM IR module (.ll, .bc, compiled lazily per
    /// function) whose functions `extern fn` can call (repeatable).
    #[arg(long = "link", value_name = "FILE")]
    links: Vec<PathBuf>,
    /// Keep compiled code in this directory and link it from there when a later
    /// run compiles the same code (see `ore cache`).
    #[arg(long, value_name = "DIR", env = ore::cache::DIR_VARIABLE)]
    cache_dir: Option<PathBuf>,
    /// Size cap of the cache directory, such as 64M or 2G [default: 512M].
    #[arg(long, value_name = "SIZE", value_parser = ore::cache::parse_size, requires = "cache_dir")]
    cache_max_size: Option<u64>,
    /// The Ore source file (`-` reads standard input).
    file: PathBuf,
    /// Arguments for `main` (integers).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// How functions move between tiers (`run`, `bench`, `serve`).
#[derive(Args)]
struct TierArgs {
    /// `auto`: compile each function at -O0 first, and again at the -O level in
    /// the background once it is hot (a call in a loop moves to the new code);
    /// `fixed`: every function at the -O level at its first call.
    #[arg(long, value_enum, value_name = "POLICY", default_value = "fixed")]
    tier: TierArg,
    /// With `--tier auto`: the calls and loop iterations that make a function hot.
    #[arg(long, value_name = "N", default_value_t = ore::Tiering::DEFAULT_HOT_CALLS, value_parser = clap::value_parser!(u32).range(1..))]
    hot_calls: u32,
    /// With `--tier auto`: background compile threads; 0 compiles a hot
    /// function's top tier on the thread that made it hot, at once.
    #[arg(long, value_name = "N", default_value_t = 1)]
    compile_threads: usize,
}

impl TierArgs {
    fn tiering(&self) -> Option<ore::Tiering> {
        (self.tier == TierArg::Auto).then_some(ore::Tiering { hot_calls: self.hot_calls, threads: self.compile_threads })
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TierArg {
    Auto,
    Fixed,
}

#[derive(Clone, Copy, ValueEnum)]
enum EmitArg {
    Ir,
    Asm,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    init_tracing();
    if !matches!(cli.command, Command::Serve(_)) {
        // `ore bench --json | head`: end quietly, as other tools do, rather than
        // fail on every write. The server keeps ignoring SIGPIPE: a client that
        // goes away must not end it.
        default_sigpipe();
    }
    let worker = std::thread::Builder::new().name("ore-main".into()).stack_size(RUN_STACK_SIZE);
    let status = worker.spawn(move || match cli.command {
        Command::Run(args) => {
            let status = run(args);
            // On the thread that started Python: threading's main thread.
            ore::python::finish();
            status
        }
        Command::Check { file, json } => check(&file, json),
        Command::Repl { opt } => {
            let status = repl::run(opt);
            ore::python::finish();
            status
        }
        Command::Bench(args) => bench(args),
        Command::Serve(args) => serve(args),
        Command::EmitIr { file } => emit_ir(&file),
        Command::Cache { action } => cache(action),
    });
    let status = status.expect("spawning the main thread").join().unwrap_or(EXIT_INTERNAL);
    exit_now(status)
}

/// Ends the process without running static destructors, as LLVM's own tools do
/// (`sys::Process::Exit` with `NoCleanup`). A normal exit destroys LLVM's statics,
/// so a tier-up still compiling in the background would first have to finish
/// (`ore::stop_background_compiles`): up to a whole top-tier compile at the end of
/// a run, for code that will never run. Nothing needs a destructor at exit: output
/// is flushed here, perf files are written unbuffered, and an object cache entry
/// is renamed into place whole (a temporary file left behind goes at a later scan).
fn exit_now(status: u8) -> ! {
    output::flush();
    let _ = std::io::Write::flush(&mut std::io::stdout());
    // SAFETY: `_exit` ends the process at once; the other threads stop with it,
    // wherever they are, and nothing of theirs is needed after it.
    unsafe { libc::_exit(status.into()) }
}

/// `ore cache stats` and `ore cache clear`.
fn cache(action: CacheAction) -> u8 {
    let dir = match &action {
        CacheAction::Stats { dir, .. } | CacheAction::Clear { dir } => &dir.cache_dir,
    };
    if !dir.is_dir() {
        eprintln!("error: no cache directory at {}", dir.display());
        return EXIT_USAGE;
    }
    let result = ore::cache::ObjectCache::open(dir, ore::cache::DEFAULT_MAX_BYTES).and_then(|cache| match action {
        CacheAction::Stats { json, .. } => {
            let stats = cache.stats()?;
            if json {
                println!("{}", serde_json::json!({"dir": dir, "entries": stats.entries, "bytes": stats.bytes}));
            } else {
                println!("{}: {} entries, {} bytes", dir.display(), stats.entries, stats.bytes);
            }
            Ok(())
        }
        CacheAction::Clear { .. } => {
            let removed = cache.clear()?;
            println!("{}: removed {} entries, {} bytes", dir.display(), removed.entries, removed.bytes);
            Ok(())
        }
    });
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: cache {}: {e}", dir.display());
            EXIT_INTERNAL
        }
    }
}

/// The server's cache for state file `state`: `STATE.cache` beside it.
fn cache_beside(state: &Path) -> PathBuf {
    let mut dir = state.as_os_str().to_owned();
    dir.push(".cache");
    PathBuf::from(dir)
}

/// Restores SIGPIPE's default action, which Rust's start-up sets to ignore.
fn default_sigpipe() {
    // SAFETY: sets a signal disposition to the default at start-up, while this is
    // the only thread.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

/// `ORE_LOG=debug` (any `tracing` filter) logs phases and materialisations to stderr.
fn init_tracing() {
    if let Ok(filter) = std::env::var("ORE_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(std::io::stderr)
            .init();
    }
}

/// Reads FILE, or standard input for `-` (named `<stdin>` in diagnostics).
fn read_source(path: &Path) -> Result<SourceFile, u8> {
    let stdin = path == Path::new("-");
    let bytes = if stdin {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes).map(|_| bytes)
    } else {
        std::fs::read(path)
    };
    let bytes = bytes.map_err(|e| {
        eprintln!("error: cannot read `{}`: {e}", path.display());
        EXIT_USAGE
    })?;
    let name = if stdin { "<stdin>".to_string() } else { path.display().to_string() };
    SourceFile::from_bytes(&name, bytes).map_err(|e| {
        eprintln!("{e}");
        EXIT_COMPILE_ERROR
    })
}

fn emit_ir(path: &Path) -> u8 {
    let file = match read_source(path) {
        Ok(f) => f,
        Err(code) => return code,
    };
    match ore::program_ir(&file) {
        Ok(text) => {
            output::write(text.as_bytes());
            0
        }
        Err(e) => status::report(&e),
    }
}

fn check(path: &Path, json: bool) -> u8 {
    let file = match read_source(path) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let result = ore::check_program(&file);
    if json {
        let diagnostics = result.as_ref().err().map_or(&[][..], |e| &e.diagnostics[..]);
        output::print_line(serde_json::json!({ "diagnostics": diagnostics }).to_string().as_bytes());
    }
    match result {
        Ok(()) => 0,
        Err(e) => {
            if !json {
                eprintln!("{e}");
            }
            EXIT_COMPILE_ERROR
        }
    }
}

impl ProgramArgs {
    fn config(&self) -> Config {
        Config {
            opt_level: OptLevel::new(self.opt).expect("clap checks the range"),
            tiering: self.tiers.tiering(),
            eager: self.eager,
            debug_info: self.debug,
            interruptible: self.timeout.is_some(),
            unchecked: ore::Unchecked {
                bounds: self.unchecked.iter().any(|c| c == "bounds"),
                division: self.unchecked.iter().any(|c| c == "division"),
                stack: self.unchecked.iter().any(|c| c == "stack"),
                direct_calls: self.unchecked.iter().any(|c| c == "direct"),
            },
            cache_dir: self.cache_dir.clone(),
            cache_max_bytes: self.cache_max_size,
            ..Config::default()
        }
    }

    fn call_options(&self) -> ore::CallOptions {
        ore::CallOptions { timeout: self.timeout.map(std::time::Duration::from_millis), ..ore::CallOptions::default() }
    }

    /// `--lib` and `--link`: code the program may call, added to `ns` before it.
    /// Fails with the exit status and the message to print.
    fn add_external_code(&self, ns: &Namespace) -> Result<(), (u8, String)> {
        let unusable = |e: Error| (EXIT_COMPILE_ERROR, format!("error: {e}"));
        for lib in &self.libs {
            if !lib.exists() {
                return Err((EXIT_USAGE, format!("error: cannot read `{}`: no such file", lib.display())));
            }
            ns.load_library(lib).map_err(unusable)?;
        }
        for path in &self.links {
            let bytes = std::fs::read(path).map_err(|e| (EXIT_USAGE, format!("error: cannot read `{}`: {e}", path.display())))?;
            let name = path.display().to_string();
            match path.extension().and_then(|e| e.to_str()) {
                Some("o") => drop(ns.add_object(&name, &bytes).map_err(unusable)?),
                Some("ll" | "bc") => drop(ns.add_ir(&name, &bytes).map_err(unusable)?),
                _ => return Err((EXIT_USAGE, format!("error: `{name}`: --link takes .o, .ll or .bc files"))),
            }
        }
        Ok(())
    }
}

fn run(args: RunArgs) -> u8 {
    let program = &args.program;
    let file = match read_source(&program.file) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let emit = args.emit.map(|e| match e {
        EmitArg::Ir => Emit::Ir,
        EmitArg::Asm => Emit::Asm,
    });
    let engine = match Namespace::new(Config { emit, ..program.config() }) {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INTERNAL;
        }
    };
    if let Err((code, message)) = program.add_external_code(&engine) {
        eprintln!("{message}");
        return code;
    }
    let status = run_main(&engine, file, &program.args, &program.call_options());
    if args.stats {
        output::flush();
        let mut stats = serde_json::to_value(engine.stats()).expect("stats serialise");
        stats["peak_rss_kib"] = serde_json::json!(peak_rss_kib());
        eprintln!("{stats}");
    }
    // The process exits next: freeing every unit and compiled function (about 35 ms
    // for 10,000 functions) is work the OS does for free, as clang's -disable-free.
    std::mem::forget(engine);
    status
}

/// The process's peak resident set (`VmHWM`). Not `getrusage`: its `ru_maxrss`
/// carries over the parent's peak across fork and exec, which would make every run
/// started by a large process (a benchmark driver) look as large as that process.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"));
    line.and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0)
}

/// Parses `main`'s integer arguments, reporting usage errors.
fn main_arguments(count: usize, raw_args: &[String], command: &str) -> Result<Vec<Value>, u8> {
    if raw_args.len() != count {
        let plural = if count == 1 { "" } else { "s" };
        eprintln!("error: `main` takes {count} argument{plural}, but {} were given", raw_args.len());
        eprintln!("usage: ore {command} FILE{}", " INT".repeat(count));
        return Err(EXIT_USAGE);
    }
    raw_args
        .iter()
        .map(|raw| {
            raw.parse::<i64>().map(Value::I64).map_err(|_| {
                eprintln!("error: argument `{raw}` is not an integer (main takes i64 arguments)");
                EXIT_USAGE
            })
        })
        .collect()
}

fn bench(args: BenchArgs) -> u8 {
    let program = &args.program;
    let file = match read_source(&program.file) {
        Ok(f) => f,
        Err(code) => return code,
    };
    // A namespace as each repeat makes it, with the external code added.
    let fresh = || -> Result<Namespace, (u8, String)> {
        let ns = Namespace::new(Config { profile: true, ..program.config() }).map_err(|e| status::of_error(&e))?;
        program.add_external_code(&ns)?;
        Ok(ns)
    };
    // Adding the program once (compiling nothing: lazily) checks it and tells how
    // many arguments `main` takes.
    let probe = fresh().and_then(|ns| {
        ns.add_program(SourceFile::new(file.name(), file.text().to_string())).map_err(|e| status::of_error(&e))?;
        Ok(ns.function("main").map_or(0, |s| s.params.len()))
    });
    let main_params = match probe {
        Ok(n) => n,
        Err((code, message)) => {
            eprintln!("{message}");
            return code;
        }
    };
    let values = match main_arguments(main_params, &program.args, "bench") {
        Ok(values) => values,
        Err(code) => return code,
    };
    let options = bench::BenchOptions {
        opt: program.opt,
        tiered: program.tiers.tier == TierArg::Auto,
        repeat: args.repeat as usize,
        runs: args.runs as usize,
        json: args.json,
        call: program.call_options(),
    };
    match bench::run(&file, &values, &options, fresh) {
        Ok(()) => 0,
        Err((code, message)) => {
            eprintln!("{message}");
            code
        }
    }
}

fn run_main(engine: &Namespace, file: SourceFile, raw_args: &[String], options: &ore::CallOptions) -> u8 {
    if let Err(e) = engine.add_program(file) {
        return status::report(&e);
    }
    let sig = engine.function("main").expect("add_program requires main");
    let values = match main_arguments(sig.params.len(), raw_args, "run") {
        Ok(values) => values,
        Err(code) => return code,
    };
    match engine.call_with("main", &values, options).result {
        Ok(Value::Unit) => 0,
        Ok(value) => {
            output::print_line(value.to_string().as_bytes());
            0
        }
        Err(e) => status::report(&e),
    }
}

fn serve(args: ServeArgs) -> u8 {
    use ore::server::{self, namespaces::Settings};
    let entries = ore::DEFAULT_EXTERN_ALLOW_LIST.iter().copied().chain(args.allow_extern.iter().map(String::as_str));
    let allowed = match ore::allow_list(entries) {
        Ok(list) => list,
        Err(message) => {
            eprintln!("error: --allow-extern: {message}");
            return EXIT_USAGE;
        }
    };
    let settings = Settings {
        opt_level: OptLevel::new(args.opt).expect("clap checks the range"),
        tiering: args.tiers.tiering(),
        policy: ore::Policy { extern_allow_list: Some(allowed), python: args.allow_python },
        limits: ore::Limits { max_source_bytes: args.max_source_bytes, max_nesting: args.max_nesting, max_functions: args.max_functions },
        allow_llvm_ir: args.allow_llvm_ir,
        max_namespaces: args.max_namespaces,
        default_timeout: std::time::Duration::from_millis(args.default_timeout_ms),
        max_timeout: std::time::Duration::from_millis(args.max_timeout_ms),
        max_array_bytes: args.max_array_bytes,
        max_output_bytes: args.max_output_bytes,
        max_loads_per_call: args.max_loads_per_call,
        cache_dir: match (args.no_cache, args.cache_dir, &args.state) {
            (true, _, _) => None,
            (false, Some(dir), _) => Some(dir),
            (false, None, Some(state)) => Some(cache_beside(state)),
            (false, None, None) => None,
        },
    };
    let options = server::ServeOptions {
        listen: args.listen,
        token: args.token.filter(|t| !t.is_empty()),
        settings,
        max_body_bytes: args.max_body_bytes,
        connections: server::ConnectionLimits {
            max_connections: args.max_connections as usize,
            header_timeout: std::time::Duration::from_millis(args.header_timeout_ms),
            body_timeout: std::time::Duration::from_millis(args.body_timeout_ms),
        },
        max_concurrent_calls: args.max_concurrent_calls as usize,
        max_total_array_bytes: args.max_total_array_bytes,
        grace: std::time::Duration::from_millis(args.grace_ms),
        state: args.state,
    };
    match server::run(options) {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("error: {message}");
            EXIT_COMPILE_ERROR
        }
    }
}
