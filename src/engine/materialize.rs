//! Compiling one version of a function when it is first looked up: IR
//! generation, the optimisation pipeline, code generation on this thread's target
//! machine, and linking.

use super::stats::{exclusive_micros, record_compiled_here};
use super::*;

fn dump(module: &crate::llvm::ir::IrModule, function: &str, kind: Emit, level: OptLevel) {
    let text = match kind {
        Emit::Ir => module.print(),
        Emit::Asm => module.assembly(level.level()).unwrap_or_else(|e| format!("; assembly unavailable: {e}\n")),
    };
    eprint!("; ---- {function} ----\n{text}");
}

/// A compiled function's callees (`codegen::Callees`), built once per function.
struct CalleeTable {
    slots: HashMap<String, usize>,
    /// Current definitions of callees made by the caller's module.
    same_module: HashMap<String, Arc<Version>>,
    /// Slots of the LLVM IR functions it calls.
    extern_slots: HashMap<String, usize>,
}

impl codegen::Callees for CalleeTable {
    fn slot(&self, name: &str) -> usize {
        // Every callee was collected from the body being compiled.
        self.slots[name]
    }

    fn direct(&self, name: &str) -> Option<String> {
        self.same_module.get(name).map(|v| v.symbol.clone())
    }

    fn inline(&self, name: &str) -> Option<codegen::InlineCopy> {
        let callee = self.same_module.get(name)?;
        Some(codegen::InlineCopy { func: callee.inline.clone()?, definition: callee.number })
    }

    fn extern_slot(&self, symbol: &str) -> Option<usize> {
        self.extern_slots.get(symbol).copied()
    }
}

impl Inner {
    /// Defines the version's symbol as a unit that generates and compiles `func` when
    /// first looked up.
    pub(super) fn define_body(&self, dylib: Dylib, func: Arc<tir::Function>, version: Arc<Version>, me: Weak<Inner>) -> Result<(), Error> {
        let symbol = version.symbol.clone();
        let materializer = Box::new(move |mr: MaterializationResponsibility| {
            let Some(inner) = me.upgrade() else { return mr.fail() };
            // This runs on the stack of the JIT'd code that made the call, possibly
            // deep in a recursion: make sure LLVM has room.
            stacker::maybe_grow(1024 * 1024, 16 * 1024 * 1024, || inner.materialize(&func, &version, mr));
        });
        self.jit().define_materializer(dylib, &symbol, materializer)?;
        Ok(())
    }

    fn materialize(&self, func: &tir::Function, version: &Version, mr: MaterializationResponsibility) {
        let _span = tracing::debug_span!("materialize", function = %func.name).entered();
        let start = Instant::now();
        let callees = self.callees(func, version);
        let options = codegen::Options {
            interruptible: self.config.interruptible,
            unchecked: self.config.unchecked,
            debug_info: self.config.debug_info,
        };
        let module = codegen::generate_function(func, &version.symbol, &callees, options, self.jit().triple(), self.jit().data_layout());
        let irgen = micros(start);
        let level = if func.is_huge() { OptLevel::O0 } else { version.level };
        self.compile(&func.name, irgen, mr, module, level, Some(version));
    }

    /// What `func`'s body needs to know about its callees, looked up once: their
    /// slots, and the current definitions the same module made.
    fn callees(&self, func: &tir::Function, version: &Version) -> CalleeTable {
        let (names, symbols) = func.callees();
        let (same_module, ir_symbols) = {
            let tables = self.tables.read();
            let current = |name: &str| tables.functions.get(name)?.current.clone().filter(|v| v.module == version.module);
            let same_module = names.iter().filter_map(|name| Some((name.to_string(), current(name)?))).collect();
            let ir: Vec<&str> = symbols.into_iter().filter(|s| tables.ir_symbols.contains(*s)).collect();
            (same_module, ir)
        };
        let slot_address = |key: &str| Arc::as_ptr(&self.slot(key)) as usize;
        let slots = names.iter().map(|name| (name.to_string(), slot_address(name))).collect();
        let extern_slots = ir_symbols.iter().map(|s| (s.to_string(), slot_address(&crate::abi::extern_slot_key(s)))).collect();
        CalleeTable { slots, same_module, extern_slots }
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
        module: crate::llvm::ir::IrModule,
        level: OptLevel,
        version: Option<&Version>,
    ) {
        let mut optimize_us = 0;
        let mut codegen_us = 0;
        let mut linked = false;
        let total = exclusive_micros(|| {
            let start = Instant::now();
            let verified = if self.config.verify_ir { module.verify().map_err(|e| format!("invalid IR generated: {e}")) } else { Ok(()) };
            let compiled = verified.and_then(|()| module.optimize(level.level())).and_then(|()| {
                optimize_us = micros(start);
                if let Some(kind) = self.config.emit {
                    dump(&module, function, kind, level);
                }
                if self.config.keep_code {
                    let asm = module.assembly(level.level()).unwrap_or_else(|e| format!("; assembly unavailable: {e}\n"));
                    self.code.lock().insert(function.to_string(), Arc::new(CompiledCode { ir: module.print(), asm }));
                }
                let start = Instant::now();
                let compiled = module.emit_object(level.level());
                codegen_us = micros(start);
                compiled
            });
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
        tracing::debug!(function, irgen_us, optimize_us, codegen_us, total_us = total, "compiled");
        if self.config.profile {
            let record = CompileRecord {
                function: function.to_string(),
                opt_level: level.level(),
                irgen_us,
                optimize_us,
                codegen_us,
                link_us: total.saturating_sub(irgen_us + optimize_us + codegen_us),
            };
            self.compile_records.lock().push(record);
        }
    }

    /// Records the functions of an object just linked for `perf` (`ORE_PERF`).
    /// Their addresses follow from any one defined symbol's, looked up once it is
    /// ready: JITLink keeps `.text` in one block, so offsets in it are preserved.
    fn tell_profiler(&self, code: crate::llvm::object::Code, defined: &[String], dylib: crate::llvm::orc::Dylib) {
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
