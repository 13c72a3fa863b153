//! Compiling one version of a function when it is first looked up: IR
//! generation, the optimisation pipeline, code generation on this thread's target
//! machine, and linking.

use super::stats::{exclusive_micros, COMPILED_HERE};
use super::*;

fn dump(module: &crate::llvm::ir::IrModule, function: &str, kind: Emit, level: OptLevel) {
    let text = match kind {
        Emit::Ir => module.print(),
        Emit::Asm => module.assembly(level.level()).unwrap_or_else(|e| format!("; assembly unavailable: {e}\n")),
    };
    eprint!("; ---- {function} ----\n{text}");
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
        let slot_address = |name: &str| Arc::as_ptr(&self.slot(name)) as usize;
        // The current definition of a callee, if the same module made it.
        let same_module = |name: &str| {
            let ns = self.tables.read();
            let callee = ns.functions.get(name)?.current.clone()?;
            (callee.module == version.module).then_some(callee)
        };
        let direct = |name: &str| same_module(name).map(|v| v.symbol.clone());
        let inline = |name: &str| {
            let callee = same_module(name)?;
            let func = callee.inline.clone()?;
            Some(codegen::InlineCopy { func, definition: callee.number })
        };
        let resolvers = codegen::Resolvers { slots: &slot_address, direct: &direct, inline: &inline };
        let options = codegen::Options { interruptible: self.config.interruptible, unchecked: self.config.unchecked };
        let module = codegen::generate_function(func, &version.symbol, resolvers, options, self.jit().triple(), self.jit().data_layout());
        let irgen = micros(start);
        let level = if func.is_huge() { OptLevel::O0 } else { version.level };
        let Some(total) = self.compile(&func.name, irgen, mr, module, level) else { return };
        version.compile_us.store(total, Relaxed);
        version.compiled.store(true, Relaxed);
    }

    /// Optimises, compiles (on this thread's target machine) and links one
    /// function's module, fulfilling `mr`, and counts it in the stats. Returns the
    /// total time from IR generation to linked code, or `None` (with `mr` failed and
    /// the error logged) if LLVM refused the module.
    pub(super) fn compile(
        &self,
        function: &str,
        irgen_us: u64,
        mr: MaterializationResponsibility,
        module: crate::llvm::ir::IrModule,
        level: OptLevel,
    ) -> Option<u64> {
        let mut optimize_us = 0;
        let mut codegen_us = 0;
        let mut object = None;
        let total = exclusive_micros(|| {
            let start = Instant::now();
            let verified = if self.config.verify_ir { module.verify().map_err(|e| format!("invalid IR generated: {e}")) } else { Ok(()) };
            let compiled = verified.and_then(|()| module.optimize(level.level())).and_then(|()| {
                optimize_us = micros(start);
                if let Some(kind) = self.config.emit {
                    dump(&module, function, kind, level);
                }
                let start = Instant::now();
                let compiled = module.emit_object(level.level());
                codegen_us = micros(start);
                compiled
            });
            drop(module);
            match compiled {
                Ok(code) => {
                    object = Some(code.len() as u64);
                    self.jit().emit_object(mr, code);
                }
                Err(e) => {
                    tracing::error!("compiling `{function}`: {e}");
                    mr.fail();
                }
            }
        });
        let code_bytes = object?;
        let total = total + irgen_us;
        let c = &self.counters;
        c.compiled.fetch_add(1, Relaxed);
        c.irgen_us.fetch_add(irgen_us, Relaxed);
        c.compile_us.fetch_add(total - irgen_us, Relaxed);
        c.code_bytes.fetch_add(code_bytes, Relaxed);
        let bucket = COMPILE_BUCKETS_US.iter().position(|&b| total <= b).unwrap_or(COMPILE_BUCKETS_US.len());
        c.compile_buckets[bucket].fetch_add(1, Relaxed);
        COMPILED_HERE.with(|here| {
            let mut here = here.borrow_mut();
            if here.calls > 0 {
                here.names.push(function.to_string());
                here.total_us += total;
            }
        });
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
        Some(total)
    }
}
