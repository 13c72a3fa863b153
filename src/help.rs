//! What each subcommand's `--help` ends with: its exit statuses, the environment
//! variables it reads, and examples.

pub const RUN: &str = "\
Exit status:
  0 success, 1 compile error, 2 runtime error (with the Ore call stack),
  64 usage error (wrong ARGs, unreadable FILE), 70 internal error

Environment:
  ORE_LOG       log filter for standard error, as `tracing` reads it: `info` logs
                tier-ups, `debug` every phase and compiled function with timings;
                LLVM's remarks are under `ore::llvm::remarks=trace`
  ORE_PERF      `map` or `jitdump`: tell perf each compiled function's name and
                address (docs/PROFILING.md); ORE_PERF_DIR says where the jitdump goes
  ORE_DEBUG     `1`: as -g
  ORE_CACHE_DIR as --cache-dir

Examples:
  ore run examples/demo.ore
  ore run --cache-dir ~/.cache/ore --stats prog.ore   # a second run links, not compiles
  gdb --args ore run -g -O0 prog.ore
  ore run -O0 --stats prog.ore 10 20
  ore run --tier auto --stats prog.ore                # -O0 first, -O2 once hot
  echo 'fn main() -> i64 { 6 * 7 }' | ore run -";

pub const CHECK: &str = "\
Exit status:
  0 the program checks, 1 compile errors, 64 usage error (unreadable FILE)

Environment:
  ORE_LOG   log filter for standard error (`debug`: phases with timings)

Examples:
  ore check prog.ore
  ore check --json prog.ore | jq '.diagnostics[].message'";

pub const BENCH: &str = "\
Exit status:
  0 success, 1 compile error, 2 runtime error, 64 usage error, 70 internal error

Environment:
  ORE_LOG   log filter for standard error (`debug`: phases with timings)

Examples:
  ore bench --repeat 41 -O0 examples/demo.ore
  ore bench --repeat 3 --runs 10 --tier auto benches/programs/fib.ore 30
  ore bench --json --link helpers.ll prog.ore 1000 | jq .time_to_result_us";

pub const SERVE: &str = "\
Exit status:
  0 after a clean shutdown (SIGTERM or Ctrl-C), 1 when the server cannot start
  (address in use, unreadable --state), 64 usage error

Environment:
  ORE_TOKEN     the bearer token (as --token)
  ORE_CACHE_DIR as --cache-dir
  ORE_LOG       log filter for standard error (`info` logs requests)

Examples:
  ore serve --listen 127.0.0.1:7070 --state ore.db
  ORE_TOKEN=secret ore serve --listen 0.0.0.0:7070 --allow-extern getpid";

pub const REPL: &str = "\
Exit status:
  0 at the end of input, :quit or Ctrl-D (errors in entries are shown, and the
  session goes on)

Environment:
  ORE_HISTORY  the history file (default ~/.ore_history)
  ORE_LOG      log filter for standard error (`debug`: phases with timings)

Examples:
  ore repl
  printf 'fn sq(x: i64) -> i64 { x * x }\\nsq(7)\\n' | ore repl";

pub const CACHE: &str = "\
The cache holds compiled functions' object code, keyed by a hash of their IR, the
optimisation level, Ore's build, LLVM and the CPU: an entry is reused only for
exactly the code it was compiled from. Processes may share a directory.

Exit status:
  0 success, 64 usage error, 70 the directory cannot be read or emptied

Environment:
  ORE_CACHE_DIR as --cache-dir

Examples:
  ore cache stats --cache-dir ~/.cache/ore
  ORE_CACHE_DIR=/var/cache/ore ore cache clear";

pub const EMIT_IR: &str = "\
Exit status:
  0 success, 1 compile error, 64 usage error

Examples:
  ore emit-ir prog.ore > prog.ll";
