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
    /// Bytes the arrays of the call may hold at once; more is the runtime error
    /// `memory limit exceeded`. (A function that returns no array gives back the
    /// arrays made during its call when it returns: `runtime::arena`.)
    pub max_array_bytes: Option<u64>,
    /// Modules the call may add with `load` (code they replace is freed only when
    /// the call ends); more is the runtime error `load limit exceeded`.
    pub max_loads: Option<u32>,
    /// Ends the call with the runtime error `interrupted` once triggered (from any
    /// thread, or a signal handler). Needs `Config::interruptible`.
    pub interrupt: Option<Arc<runtime::deadline::Interrupt>>,
}

/// What one call did.
#[derive(Debug)]
pub struct CallReport<T = Value> {
    /// What the function returned, or why the call failed.
    pub result: Result<T, Error>,
    /// With `CallOptions::capture_output`: what the call printed.
    pub output: Option<output::Captured>,
    /// Functions of this namespace compiled on this call's thread during the call,
    /// in order. ORC runs pending compiles on whichever thread drives a lookup, so
    /// with concurrent calls one may compile (and list) a function another waits for.
    pub compiled: Vec<String>,
    /// Wall time of the whole call, compilation included.
    pub elapsed: std::time::Duration,
}

/// What a call from the host goes to: found by name, or held by a `Func`.
pub(super) struct Target<'a> {
    pub(super) name: &'a str,
    /// The function's signature is the one `trampoline` was made for.
    pub(super) slot: &'a Slot,
    /// The entry trampoline for its signature.
    pub(super) trampoline: usize,
    /// An LLVM IR function (C convention, resolved by `resolve_extern`).
    pub(super) external: bool,
}

/// A call's arguments as 8-byte slots, on the stack for up to 8 parameters.
pub(super) type Slots = smallvec::SmallVec<[u64; 8]>;

/// Encodes a call's arguments as 8-byte slots (see `values::encode`) into the
/// `Slots`; `str`s it makes go in the Vec, which outlives the call.
pub(super) type Encode<'a> = &'a mut dyn FnMut(&HostCall, &mut Vec<std::ffi::CString>, &mut Slots) -> Result<(), RuntimeError>;

impl Namespace {
    /// Calls an Ore function. Runtime errors end the call and leave the namespace
    /// usable. To call one function often, get a `Func` (`func`) once instead.
    ///
    /// Unlike `call_with`, it reads no clock: its time is not in `Stats::run_us`.
    pub fn call(&self, name: &str, args: &[Value]) -> Result<Value, Error> {
        self.call_by_name(name, args, &CallOptions::default())
    }

    /// Calls an Ore function with a deadline, output capture or memory limit, and
    /// reports what the call compiled and how long it took.
    pub fn call_with(&self, name: &str, args: &[Value], options: &CallOptions) -> CallReport {
        self.report(options, || self.call_by_name(name, args, options))
    }

    fn call_by_name(&self, name: &str, args: &[Value], options: &CallOptions) -> Result<Value, Error> {
        let (sig, slot) = self.lookup(name)?;
        let target = Target { name, slot: &slot, trampoline: trampolines::get(&sig)?, external: false };
        self.call_values(&target, &sig, args, options)
    }

    /// Calls `target`, of signature `sig`, with `args` (checked against `sig`).
    pub(super) fn call_values(&self, target: &Target, sig: &FnSig, args: &[Value], options: &CallOptions) -> Result<Value, Error> {
        values::check_arguments(target.name, sig, args.iter().map(Value::ty))?;
        // (A loop, not `collect`: collecting `Result`s costs more than a short call.)
        let mut encode = |call: &HostCall, strings: &mut Vec<_>, slots: &mut Slots| {
            for arg in args {
                slots.push(values::encode(arg, call, strings)?);
            }
            Ok(())
        };
        // SAFETY: `call_target` passes the result of a call of `sig`.
        let decode = |raw, call: &HostCall| unsafe { values::decode(sig.ret, raw, call) };
        // SAFETY: `encode` encodes `args`, which were checked against `sig`, the
        // signature `target`'s trampoline was made for.
        unsafe { self.call_target(target, &mut encode, options, decode) }
    }

    /// `call_values`, with arguments that may lend arrays.
    pub(super) fn call_args(&self, target: &Target, sig: &FnSig, args: &mut [Arg], options: &CallOptions) -> Result<Value, Error> {
        values::check_arguments(target.name, sig, args.iter().map(Arg::ty))?;
        // Lent arrays are encoded through `&mut`, which `encode` (an `FnMut`) keeps.
        let mut encode = |call: &HostCall, strings: &mut Vec<_>, slots: &mut Slots| {
            for arg in args.iter_mut() {
                slots.push(arg.encode(call, strings)?);
            }
            Ok(())
        };
        // SAFETY: `call_target` passes the result of a call of `sig`.
        let decode = |raw, call: &HostCall| unsafe { values::decode(sig.ret, raw, call) };
        // SAFETY: `encode` encodes `args`, which were checked against `sig`, the
        // signature `target`'s trampoline was made for.
        unsafe { self.call_target(target, &mut encode, options, decode) }
    }

    /// Runs `call` as one call from the host: output capture, and what it compiled
    /// and how long it took. Plain `call`s skip this: two clock reads are nearly
    /// half the cost of a short call.
    pub(super) fn report<T>(&self, options: &CallOptions, call: impl FnOnce() -> Result<T, Error>) -> CallReport<T> {
        let start = Instant::now();
        let recording = Recording::start(&self.inner);
        let (result, output) = match options.capture_output {
            Some(limit) => {
                let (result, captured) = output::capture(limit, call);
                (result, Some(captured))
            }
            None => (call(), None),
        };
        let (compiled, compile_us) = recording.finish();
        let elapsed = start.elapsed();
        let run_us = (elapsed.as_micros() as u64).saturating_sub(compile_us);
        self.inner.counters.run_us.fetch_add(run_us, Relaxed);
        CallReport { result, output, compiled, elapsed }
    }

    /// Calls `target` with the arguments `encode` makes, and decodes the result.
    ///
    /// # Safety
    /// `target.trampoline` must be the trampoline of the function's signature;
    /// `encode` must produce one slot per parameter of it, of its type, as
    /// `values::encode` does; `decode` must read a result of its result type.
    pub(super) unsafe fn call_target<R>(
        &self,
        target: &Target,
        encode: Encode,
        options: &CallOptions,
        decode: impl FnOnce(u64, &HostCall) -> R,
    ) -> Result<R, Error> {
        let inner = &self.inner;
        if (options.timeout.is_some() || options.interrupt.is_some()) && !inner.config.interruptible {
            return Err(Error::NotInterruptible);
        }
        target.slot.calls.fetch_add(1, Relaxed);
        let _span = tracing::debug_span!("call", function = target.name).entered();
        let deadline = options.timeout.map(|t| Instant::now() + t);
        let epoch = inner.reclaimer.enter();
        let result = (|| {
            let call = HostCall::enter(options.max_array_bytes, options.max_loads);
            // Strings passed as `str` must outlive the call.
            let mut strings = Vec::new();
            let mut slots = Slots::new();
            encode(&call, &mut strings, &mut slots)?;
            // Read after registering the call, so code it reaches cannot be freed under it.
            let function = match target.slot.code.load(Relaxed) {
                0 if target.external => self.resolve_extern(target.name)?,
                0 => inner.resolve(target.name)?,
                address => address,
            };
            // The deadline covers compiling: a compile that outlived it ends the call
            // (compiles inside the call are caught by the checks of the code they made).
            if runtime::deadline::effective(deadline).is_some_and(|d| Instant::now() >= d) {
                return Err(RuntimeError::Timeout.into());
            }
            // SAFETY: the trampoline was generated for `sig`, `function` is a
            // definition of `name` (of that signature: redefinitions must keep it),
            // and `slots` encode arguments of `sig` as the trampoline reads them (the
            // caller's duty); `strings` outlive the call.
            let raw = unsafe { call.invoke(self, target.trampoline, function, &slots, deadline, options.interrupt.as_ref()) }?;
            // A value of type `sig.ret` produced by this call, whose arrays and
            // strings are still alive (arena and module memory).
            Ok(decode(raw, &call))
        })();
        inner.free(inner.reclaimer.exit(epoch));
        result
    }
}
