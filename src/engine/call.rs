//! Calls from the host into Ore code.

use super::stats::Recording;
use super::*;

/// How one call from the host runs.
#[derive(Clone, Debug, Default)]
pub struct CallOptions {
    /// Interrupt the call after this long: the runtime error `timeout`. Needs an
    /// engine with `Config::interruptible`.
    pub timeout: Option<std::time::Duration>,
    /// Capture up to this many bytes of what the call prints, instead of writing it
    /// to stdout (`CallReport::output`).
    pub capture_output: Option<usize>,
    /// Bytes all arrays of the call may take together; more is the runtime error
    /// `memory limit exceeded`.
    pub max_array_bytes: Option<u64>,
    /// Modules the call may add with `load` (code they replace is freed only when
    /// the call ends); more is the runtime error `load limit exceeded`.
    pub max_loads: Option<u32>,
}

/// What one call did.
#[derive(Debug)]
pub struct CallReport {
    pub result: Result<Value, Error>,
    /// With `CallOptions::capture_output`: what the call printed.
    pub output: Option<output::Captured>,
    /// Functions compiled on this call's thread during the call, in order.
    pub compiled: Vec<String>,
    pub elapsed: std::time::Duration,
}

impl Namespace {
    /// Calls an Ore function. Runtime errors end the call and leave the engine usable.
    pub fn call(&self, name: &str, args: &[Value]) -> Result<Value, Error> {
        self.call_with(name, args, &CallOptions::default()).result
    }

    /// Calls an Ore function with a deadline, output capture or memory limit, and
    /// reports what the call compiled and how long it took.
    pub fn call_with(&self, name: &str, args: &[Value], options: &CallOptions) -> CallReport {
        let start = Instant::now();
        let recording = Recording::start();
        let (result, output) = match options.capture_output {
            Some(limit) => {
                let (result, captured) = output::capture(limit, || self.call_inner(name, args, options));
                (result, Some(captured))
            }
            None => (self.call_inner(name, args, options), None),
        };
        let (compiled, compile_us) = recording.finish();
        let elapsed = start.elapsed();
        let run_us = (elapsed.as_micros() as u64).saturating_sub(compile_us);
        self.inner.counters.run_us.fetch_add(run_us, Relaxed);
        CallReport { result, output, compiled, elapsed }
    }

    fn call_inner(&self, name: &str, args: &[Value], options: &CallOptions) -> Result<Value, Error> {
        let inner = &self.inner;
        if options.timeout.is_some() && !inner.config.interruptible {
            return Err(Error::Limit("a timeout needs an engine created with `Config::interruptible`".into()));
        }
        let (sig, slot) = {
            let ns = inner.tables.read();
            let f = ns.functions.get(name).ok_or_else(|| Error::UnknownFunction(name.to_string()))?;
            f.calls.fetch_add(1, Relaxed);
            (f.sig.clone(), f.slot.clone())
        };
        values::check_arguments(name, &sig, args)?;
        let trampoline = trampolines::get(&sig)?;

        let _span = tracing::debug_span!("call", function = name).entered();
        let deadline = options.timeout.map(|t| Instant::now() + t);
        let epoch = inner.reclaimer.enter();
        let result = self.invoke(name, &sig, &slot, trampoline, args, deadline, options);
        inner.free(inner.reclaimer.exit(epoch));
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn invoke(
        &self,
        name: &str,
        sig: &FnSig,
        slot: &Slot,
        trampoline: usize,
        args: &[Value],
        deadline: Option<Instant>,
        options: &CallOptions,
    ) -> Result<Value, Error> {
        let call = HostCall::enter(options.max_array_bytes, options.max_loads);
        // Strings passed as `str` must outlive the call.
        let mut strings = Vec::new();
        let mut slots = Vec::with_capacity(args.len());
        for arg in args {
            slots.push(values::encode(arg, &call, &mut strings)?);
        }
        // Read after registering the call, so code it reaches cannot be freed under it.
        let function = match slot.code.load(Relaxed) {
            0 => self.inner.resolve(name)?,
            address => address,
        };
        // The deadline covers compiling: a compile that outlived it ends the call
        // (compiles inside the call are caught by the checks of the code they made).
        if runtime::deadline::effective(deadline).is_some_and(|d| Instant::now() >= d) {
            return Err(RuntimeError::Timeout.into());
        }
        // SAFETY: the trampoline was generated for `sig`, `function` is a definition
        // of `name` (of that signature: redefinitions must keep it), and `slots`
        // encodes `args`, checked against `sig`, as the trampoline reads them;
        // `strings` outlive the call.
        let raw = unsafe { call.invoke(self, trampoline, function, &slots, deadline) }?;
        // SAFETY: `raw` is a value of type `sig.ret` produced by this call; arrays and
        // strings it refers to are still alive (arena and module memory).
        Ok(unsafe { values::decode(sig.ret, raw, &call) })
    }
}
