//! Compiling one version of a function when it is first looked up: IR
//! generation, the optimisation pipeline, code generation on this thread's target
//! machine, and linking.

use super::stats::{exclusive_micros, record_compiled_here};
use super::*;
use crate::cache::{Key, KeyBuilder};
use crate::llvm::ir::{IrModule, ObjectFile, Pipeline};
use std::sync::LazyLock;

/// The object cache's key for `module`'s code at `level`: the module's IR as
/// generated (unoptimised), the level, and everything else the code depends on:
/// the runtime contract, Ore's build, LLVM and the host CPU. A tier needs no part
/// of its own: tier 0's IR counts calls and the top tier's names its function
/// differently, so their IR differs.
fn cache_key(module: &IrModule, build: Build) -> Key {
    static IDENTITY: LazyLock<KeyBuilder> = LazyLock::new(|| {
        KeyBuilder::default()
            .part("ore object")
            .part(crate::abi::VERSION.to_le_bytes())
            .part(env!("ORE_BUILD_ID"))
            .part(crate::llvm::host_code_identity())
    });
    IDENTITY.clone().part([build.level.level(), build.pipeline as u8]).part(module.to_bitcode()).finish()
}

/// How a module is compiled: at which level, through which IR pipeline.
#[derive(Clone, Copy)]
pub(super) struct Build {
    pub(super) level: OptLevel,
    pub(super) pipeline: Pipeline,
}

impl Build {
    /// For `func`'s code at `level`.
    pub(super) fn of(func: &tir::Function, level: OptLevel) -> Build {
        let pipeline = if func.is_straight_line() { Pipeline::StraightLine } else { Pipeline::Standard };
        Build { level, pipeline }
    }

    /// For code at `level` through LLVM's standard pipeline (IR modules' functions).
    pub(super) fn standard(level: OptLevel) -> Build {
        Build { level, pipeline: Pipeline::Standard }
    }
}

fn dump(module: &IrModule, function: &str, kind: Emit, level: OptLevel) {
    let text = match kind {
        Emit::Ir => module.print(),
        Emit::Asm => module.assembly(level.level()).unwrap_or_else(|e| format!("; assembly unavailable: {e}\n")),
    };
    eprint!("; ---- {function} ----\n{text}");
}

/// Where a compile's time went, besides IR generation and linking.
#[derive(Default)]
pub(super) struct Phases {
    optimize_us: u64,
    codegen_us: u64,
}

/// A compiled function's callees (`codegen::Callees`), built once per function.
pub(super) struct CalleeTable {
    /// What the code links against besides the runtime: the symbol and address of
    /// every slot it calls through, and the definition number of every callee it
    /// may carry a copy of and of the function itself if it calls itself
    /// (`abi::definition_symbol`).
    pub(super) links: Vec<(String, usize)>,
    /// Current definitions of callees made by the caller's module.
    same_module: HashMap<String, Arc<Version>>,
    /// The LLVM IR functions it calls (through their slots).
    ir_functions: std::collections::HashSet<String>,
}

impl codegen::Callees for CalleeTable {
    fn direct(&self, name: &str) -> Option<String> {
        self.same_module.get(name).map(|v| v.symbol.clone())
    }

    fn inline(&self, name: &str) -> Option<codegen::InlineCopy> {
        let callee = self.same_module.get(name)?;
        Some(codegen::InlineCopy { func: callee.inline.clone()? })
    }

    fn extern_slot(&self, symbol: &str) -> bool {
        self.ir_functions.contains(symbol)
    }
}

impl Inner {
    /// Defines the version's symbol in its dylib, once, as a unit that generates
    /// and compiles its body the first time the symbol is looked up. (Concurrent
    /// callers wait on the lock until the unit is defined.)
    pub(super) fn define_unit(self: &Arc<Self>, version: &Arc<Version>) -> Result<(), Error> {
        let mut body = version.undefined_body.lock();
        let Some(func) = body.take() else { return Ok(()) };
        let (me, unit_version) = (Arc::downgrade(self), version.clone());
        let materializer = Box::new(move |mr: MaterializationResponsibility| {
            let Some(inner) = me.upgrade() else { return mr.fail() };
            // This runs on the stack of the JIT'd code that made the call, possibly
            // deep in a recursion: make sure LLVM has room.
            stacker::maybe_grow(1024 * 1024, 16 * 1024 * 1024, || inner.materialize(&func, &unit_version, mr));
        });
        self.jit().define_materializer(version.link_symbols.0, &version.symbol, materializer)?;
        Ok(())
    }

    fn materialize(&self, func: &Arc<tir::Function>, version: &Version, mr: MaterializationResponsibility) {
        let _span = tracing::debug_span!("materialize", function = %func.name).entered();
        let start = Instant::now();
        let level = if func.is_huge() { OptLevel::O0 } else { version.level };
        let tier_0 = self.starts_at_tier_0(level);
        let mut callees = self.callees(func, version);
        if tier_0 {
            // The countdown and the table of loop entries are in the function's
            // own slot, and the table is checked against its definition number.
            let own = &func.name;
            callees.links.push((crate::abi::slot_symbol(own), Arc::as_ptr(&self.slot(own)) as usize));
            callees.links.push(self.own_definition_link(own, version));
        }
        if let Err(e) = self.define_link_symbols(version, &callees.links) {
            tracing::error!("compiling `{}`: {e}", func.name);
            return mr.fail();
        }
        let fast_isel = tier_0 || level == OptLevel::O0;
        let options = codegen::Options { count_calls: tier_0, fast_isel, ..self.code_options() };
        let module = codegen::generate_function(func, &version.symbol, &callees, options, self.jit().triple(), self.jit().data_layout());
        let irgen = micros(start);
        if tier_0 {
            // Before linking: the code may run, and turn hot, as soon as it is.
            *version.tier_up_body.lock() = Some(func.clone());
            version.tier.store(super::tiering::Tier::Baseline as u8, Relaxed);
            self.counters.tier_0_compiled.fetch_add(1, Relaxed);
        }
        self.compile(&func.name, irgen, mr, module, Build::of(func, if tier_0 { OptLevel::O0 } else { level }), Some(version));
    }

    /// The namespace's code options, before the tier's.
    pub(super) fn code_options(&self) -> codegen::Options {
        codegen::Options {
            interruptible: self.config.interruptible,
            unchecked: self.config.unchecked,
            debug_info: self.config.debug_info,
            ..codegen::Options::default()
        }
    }

    /// What `func`'s body needs to know about its callees, looked up once: their
    /// slots, and the current definitions the same module made.
    pub(super) fn callees(&self, func: &tir::Function, version: &Version) -> CalleeTable {
        let (names, symbols) = func.callees();
        let (same_module, ir_symbols) = {
            let tables = self.tables.read();
            let current = |name: &str| tables.functions.get(name)?.current.clone().filter(|v| v.module == version.module);
            let same_module: HashMap<String, Arc<Version>> =
                names.iter().filter_map(|name| Some((name.to_string(), current(name)?))).collect();
            let ir: Vec<&str> = symbols.into_iter().filter(|s| tables.ir_symbols.contains(*s)).collect();
            (same_module, ir)
        };
        let keys = names.iter().map(|name| name.to_string()).chain(ir_symbols.iter().map(|s| crate::abi::extern_slot_key(s)));
        let mut links: Vec<(String, usize)> =
            keys.map(|key| (crate::abi::slot_symbol(&key), Arc::as_ptr(&self.slot(&key)) as usize)).collect();
        let copied = same_module.iter().filter(|(_, v)| v.inline.is_some());
        links.extend(copied.map(|(name, v)| (crate::abi::definition_symbol(name), v.number as usize)));
        if names.contains(&func.name.as_str()) {
            // Its direct calls of itself check that it is still the definition.
            links.push(self.own_definition_link(&func.name, version));
        }
        CalleeTable { links, same_module, ir_functions: ir_symbols.into_iter().map(str::to_string).collect() }
    }

    /// Defines in the version's dylib the symbols of `links` not defined there yet,
    /// each once (a self-recursive tier-0 function lists its own slot twice: as a
    /// callee and for its countdown). (Its module's definitions do not change, so
    /// neither do their numbers.)
    pub(super) fn define_link_symbols(&self, version: &Version, links: &[(String, usize)]) -> Result<(), crate::llvm::LlvmError> {
        let (dylib, defined) = &*version.link_symbols;
        let mut defined = defined.lock();
        let mut listed = std::collections::HashSet::new();
        let new: Vec<(&str, usize)> =
            links.iter().filter(|(s, _)| !defined.contains(s) && listed.insert(s.as_str())).map(|(s, a)| (s.as_str(), *a)).collect();
        if new.is_empty() {
            return Ok(());
        }
        self.jit().define_absolute(*dylib, &new)?;
        defined.extend(new.iter().map(|(s, _)| s.to_string()));
        Ok(())
    }

    /// Optimises, compiles (on this thread's target machine) and links one
    /// function's module, fulfilling `mr`, and counts it in the stats; for an Ore
    /// function, records it in `version`. If LLVM refuses the module, `mr` is failed
    /// and the error logged.
    ///
    /// The compile count and `version.compiled` are set before the code is linked:
    /// linking makes the symbol ready, and a caller waiting for it (possibly on
    /// another thread: the engine's session may run any namespace's pending units on
    /// whichever thread drives a lookup) must find them up to date. Times that
    /// include linking are recorded after it.
    pub(super) fn compile(
        &self,
        function: &str,
        irgen_us: u64,
        mr: MaterializationResponsibility,
        module: IrModule,
        build: Build,
        version: Option<&Version>,
    ) {
        let mut times = Phases::default();
        let mut linked = false;
        let total = exclusive_micros(|| {
            let compiled = self.object_code(function, &module, build, &mut times);
            drop(module);
            match compiled {
                Ok(code) => {
                    let c = &self.counters;
                    c.compiled.fetch_add(1, Relaxed);
                    c.code_bytes.fetch_add(code.len() as u64, Relaxed);
                    if let Some(version) = version {
                        version.compiled.store(true, Relaxed);
                    }
                    let profiled = runtime::perf::enabled().then(|| (code.code(), mr.symbols(), mr.target_dylib()));
                    self.jit().emit_object(mr, code);
                    if let Some((code, defined, dylib)) = profiled {
                        self.tell_profiler(code, &defined, dylib);
                    }
                    linked = true;
                }
                Err(e) => {
                    tracing::error!("compiling `{function}`: {e}");
                    mr.fail();
                }
            }
        });
        if !linked {
            return;
        }
        // `total` leaves out units that linking ran in place: only this one's time.
        let total = total + irgen_us;
        let c = &self.counters;
        c.irgen_us.fetch_add(irgen_us, Relaxed);
        c.compile_us.fetch_add(total - irgen_us, Relaxed);
        let bucket = COMPILE_BUCKETS_US.iter().position(|&b| total <= b).unwrap_or(COMPILE_BUCKETS_US.len());
        c.compile_buckets[bucket].fetch_add(1, Relaxed);
        if let Some(version) = version {
            version.compile_us.store(total, Relaxed);
        }
        record_compiled_here(self, function, total);
        let Phases { optimize_us, codegen_us } = times;
        tracing::debug!(function, irgen_us, optimize_us, codegen_us, total_us = total, "compiled");
        if self.config.profile {
            let record = CompileRecord {
                function: function.to_string(),
                opt_level: build.level.level(),
                irgen_us,
                optimize_us,
                codegen_us,
                link_us: total.saturating_sub(irgen_us + optimize_us + codegen_us),
            };
            self.compile_records.lock().push(record);
        }
    }

    /// `module`'s object code, built as `build` says: from the object cache if it has it,
    /// else compiled by LLVM (and stored in the cache), with the time its
    /// optimisation and code generation took.
    pub(super) fn object_code(&self, function: &str, module: &IrModule, build: Build, times: &mut Phases) -> Result<ObjectFile, String> {
        if self.config.verify_ir {
            module.verify().map_err(|e| format!("invalid IR generated: {e}"))?;
        }
        // `emit` and `keep_code` are there to see what LLVM makes of the module.
        let Some(cache) = self.cache.as_deref().filter(|_| self.config.emit.is_none() && !self.config.keep_code) else {
            return self.generate_code(function, module, build, times);
        };
        let key = cache_key(module, build);
        if let Some(object) = cache.get(&key) {
            self.counters.cache_hits.fetch_add(1, Relaxed);
            return Ok(ObjectFile::from_bytes(&object));
        }
        let code = self.generate_code(function, module, build, times)?;
        self.counters.cache_misses.fetch_add(1, Relaxed);
        if let Err(e) = cache.put(&key, code.bytes()) {
            tracing::warn!("storing `{function}` in the object cache {}: {e}", cache.dir().display());
        }
        Ok(code)
    }

    /// Optimises and compiles `module` (dumping or keeping its code as configured).
    fn generate_code(&self, function: &str, module: &IrModule, build: Build, times: &mut Phases) -> Result<ObjectFile, String> {
        let level = build.level;
        let start = Instant::now();
        module.optimize(level.level(), build.pipeline)?;
        times.optimize_us = micros(start);
        if let Some(kind) = self.config.emit {
            dump(module, function, kind, level);
        }
        if self.config.keep_code {
            let asm = module.assembly(level.level()).unwrap_or_else(|e| format!("; assembly unavailable: {e}\n"));
            self.code.lock().insert(function.to_string(), Arc::new(CompiledCode { ir: module.print(), asm }));
        }
        let start = Instant::now();
        let code = module.emit_object(level.level());
        times.codegen_us = micros(start);
        code
    }

    /// Records the functions of an object just linked for `perf` (`ORE_PERF`).
    /// Their addresses follow from any one defined symbol's, looked up once it is
    /// ready: JITLink keeps `.text` in one block, so offsets in it are preserved.
    pub(super) fn tell_profiler(&self, code: crate::llvm::object::Code, defined: &[String], dylib: crate::llvm::orc::Dylib) {
        let Some(anchor) = code.symbols.iter().find(|s| defined.contains(&s.name)).cloned() else { return };
        self.jit().lookup_async(
            dylib,
            std::slice::from_ref(&anchor.name),
            Box::new(move |found| {
                let Ok(addresses) = found else { return };
                let base = addresses[0] as u64 - anchor.offset;
                let names: Vec<String> = code.symbols.iter().map(|s| crate::abi::display_name(&s.name)).collect();
                let regions: Vec<runtime::perf::CodeRegion> = code
                    .symbols
                    .iter()
                    .zip(&names)
                    .filter_map(|(s, name)| {
                        let bytes = code.text.get(s.offset as usize..(s.offset + s.size) as usize)?;
                        Some(runtime::perf::CodeRegion { name, address: base + s.offset, code: bytes })
                    })
                    .collect();
                runtime::perf::record(&regions);
            }),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::{Config, Namespace};

    /// The functions whose current version has no ORC unit yet.
    fn undefined(ns: &Namespace) -> Vec<String> {
        let tables = ns.inner.tables.read();
        let mut names: Vec<String> = tables
            .functions
            .iter()
            .filter(|(_, f)| f.current.as_ref().is_some_and(|v| v.undefined_body.lock().is_some()))
            .map(|(name, _)| name.clone())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_unit_is_defined_at_the_first_call_or_at_once_when_eager() {
        for eager in [false, true] {
            let ns = Namespace::new(Config { eager, ..Config::default() }).unwrap();
            ns.add_module("m", "fn a() -> i64 { 1 }\nfn b() -> i64 { a() + 1 }\nfn c() -> i64 { 3 }").unwrap();
            let all: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
            assert_eq!(undefined(&ns), if eager { Vec::new() } else { all });
            assert_eq!(ns.call("b", &[]).unwrap(), crate::Value::I64(2));
            assert_eq!(undefined(&ns), if eager { Vec::new() } else { vec!["c".to_string()] });
            // A redefinition's version starts without a unit again, and still runs.
            ns.add_module("m2", "fn a() -> i64 { 10 }").unwrap();
            assert_eq!(undefined(&ns).contains(&"a".to_string()), !eager);
            assert_eq!(ns.call("b", &[]).unwrap(), crate::Value::I64(11));
        }
    }
}
