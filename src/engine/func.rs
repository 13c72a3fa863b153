//! Handles to functions: `Func` (checked once, called by slot) and `TypedFunc`
//! (Rust types checked once against the signature), like wasmtime's `Func` and
//! `TypedFunc`. A handle calls through the function's slot, so it sees every
//! redefinition at once, and an unload makes its calls `undefined function NAME`.

use super::call::{Slots, Target};
use super::*;
use crate::types::Ty;
use std::ffi::CString;
use std::marker::PhantomData;

/// A function of a namespace, found once: calls skip the lookup by name.
#[derive(Clone)]
pub struct Func {
    namespace: Namespace,
    name: Arc<str>,
    sig: FnSig,
    slot: Arc<Slot>,
    trampoline: usize,
    /// A function of an LLVM IR module, called with the C convention.
    external: bool,
}

impl Namespace {
    /// A handle to function `name` (defined or only declared), for calling it often.
    pub fn func(&self, name: &str) -> Result<Func, Error> {
        let (sig, slot) = self.lookup(name)?;
        let trampoline = trampolines::get(&sig)?;
        Ok(Func { namespace: self.clone(), name: name.into(), sig, slot, trampoline, external: false })
    }

    /// The signature and slot of Ore function `name`.
    pub(super) fn lookup(&self, name: &str) -> Result<(FnSig, Arc<Slot>), Error> {
        let tables = self.inner.tables.read();
        let f = tables.functions.get(name).ok_or_else(|| Error::UnknownFunction(name.to_string()))?;
        Ok((f.sig.clone(), f.slot.clone()))
    }

    /// A handle to function `symbol` of an LLVM IR module, which has the C
    /// signature `sig`. IR is trusted code, and so is this: `sig` must be the
    /// function's, as an `extern fn` declaration must. The handle sees the module
    /// replaced or removed, as `func`'s handles do; its signature (`signature`) is
    /// `sig`'s on the Ore side (`i32` is `i64`).
    pub fn ir_func(&self, symbol: &str, sig: &ExternSig) -> Result<Func, Error> {
        if !self.inner.tables.read().ir_symbols.contains(symbol) {
            return Err(Error::UnknownFunction(symbol.to_string()));
        }
        let ore_sig = FnSig { params: sig.params.iter().map(|c| c.ore_type()).collect(), ret: sig.ret.ore_type() };
        let slot = self.inner.slot(&crate::abi::extern_slot_key(symbol));
        let trampoline = trampolines::get_c(sig)?;
        Ok(Func { namespace: self.clone(), name: symbol.into(), sig: ore_sig, slot, trampoline, external: true })
    }
}

impl Func {
    /// The function's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its signature, which every definition of the function keeps.
    pub fn signature(&self) -> &FnSig {
        &self.sig
    }

    /// Calls it with dynamically typed arguments (checked against the signature).
    /// Like `Namespace::call`, it is not timed in `Stats::run_us`.
    pub fn call(&self, args: &[Value]) -> Result<Value, Error> {
        self.namespace.call_values(&self.target(), &self.sig, args, &CallOptions::default())
    }

    /// `call`, with a deadline, output capture or memory limit (see `Namespace::call_with`).
    pub fn call_with(&self, args: &[Value], options: &CallOptions) -> CallReport {
        self.namespace.report(options, || self.namespace.call_values(&self.target(), &self.sig, args, options))
    }

    /// Calls it with arguments that may lend arrays to the call, which Ore code
    /// then reads and writes in place (see `Arg`).
    pub fn call_args(&self, args: &mut [Arg<'_>]) -> Result<Value, Error> {
        self.namespace.call_args(&self.target(), &self.sig, args, &CallOptions::default())
    }

    /// `call_args`, with a deadline, output capture or memory limit (see
    /// `Namespace::call_with`).
    pub fn call_args_with(&self, args: &mut [Arg<'_>], options: &CallOptions) -> CallReport {
        self.namespace.report(options, || self.namespace.call_args(&self.target(), &self.sig, args, options))
    }

    /// This function with Rust parameter and result types, checked against its
    /// signature now, so that calls check nothing: `func.typed::<(i64, i64), i64>()`.
    pub fn typed<P: Params, R: Results>(&self) -> Result<TypedFunc<P, R>, Error> {
        let params = P::types();
        let matches = params.len() == self.sig.params.len() && params.iter().zip(&self.sig.params).all(|(a, b)| a == b);
        if !matches || R::TYPE != self.sig.ret {
            let wanted = FnSig { params, ret: R::TYPE };
            return Err(Error::Signature { name: self.name.to_string(), actual: self.sig.clone(), requested: wanted });
        }
        Ok(TypedFunc { func: self.clone(), _types: PhantomData })
    }

    fn target(&self) -> Target<'_> {
        Target { name: &self.name, slot: &self.slot, trampoline: self.trampoline, external: self.external }
    }
}

/// A function whose Rust parameter types `P` (a tuple) and result type `R` were
/// checked against its signature when the handle was made (`Func::typed`).
pub struct TypedFunc<P, R> {
    func: Func,
    _types: PhantomData<fn(P) -> R>,
}

impl<P, R> Clone for TypedFunc<P, R> {
    fn clone(&self) -> Self {
        TypedFunc { func: self.func.clone(), _types: PhantomData }
    }
}

impl<P: Params, R: Results> TypedFunc<P, R> {
    /// Calls the function: `add.call((2, 3))`. Like `Namespace::call`, it is not
    /// timed in `Stats::run_us`.
    pub fn call(&self, params: P) -> Result<R, Error> {
        self.call_typed(params, &CallOptions::default())
    }

    /// `call`, with a deadline, output capture or memory limit (see
    /// `Namespace::call_with`).
    pub fn call_with(&self, params: P, options: &CallOptions) -> CallReport<R> {
        self.func.namespace.report(options, || self.call_typed(params, options))
    }

    fn call_typed(&self, params: P, options: &CallOptions) -> Result<R, Error> {
        let mut encode = |call: &HostCall, strings: &mut Vec<CString>, slots: &mut Slots| params.encode(call, strings, slots);
        // SAFETY: `call_target` passes the result of a call of `sig`, whose result
        // type is `R`'s (checked by `Func::typed`).
        let decode = |raw, call: &HostCall| unsafe { R::decode(raw, call) };
        // SAFETY: `P`'s types are the signature's parameters (checked by
        // `Func::typed`), encoded as `values::encode` does.
        unsafe { self.func.namespace.call_target(&self.func.target(), &mut encode, options, decode) }
    }

    /// The untyped handle.
    pub fn func(&self) -> &Func {
        &self.func
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A Rust type that Ore values of one type convert to and from (`i64`, `f64`,
/// `bool`, `String`, `Vec<i64>`, `Vec<f64>`; `()` as a result only). Sealed:
/// encoding depends on Ore's calling convention.
pub trait OreType: sealed::Sealed + Sized {
    #[doc(hidden)]
    const TYPE: Ty;
    #[doc(hidden)]
    fn encode(&self, call: &HostCall, strings: &mut Vec<CString>) -> Result<u64, RuntimeError>;
    /// # Safety
    /// `raw` is a value of type `TYPE` returned by JIT'd code during `call`.
    #[doc(hidden)]
    unsafe fn decode(raw: u64, call: &HostCall) -> Self;
}

macro_rules! ore_type {
    ($t:ty, $ty:ident, $variant:ident, $encode:expr) => {
        impl sealed::Sealed for $t {}
        impl OreType for $t {
            const TYPE: Ty = Ty::$ty;
            fn encode(&self, call: &HostCall, strings: &mut Vec<CString>) -> Result<u64, RuntimeError> {
                let encode: fn(&$t, &HostCall, &mut Vec<CString>) -> Result<u64, RuntimeError> = $encode;
                encode(self, call, strings)
            }
            unsafe fn decode(raw: u64, call: &HostCall) -> Self {
                // SAFETY: the caller's contract is `values::decode`'s.
                match unsafe { values::decode(Ty::$ty, raw, call) } {
                    Value::$variant(v) => v,
                    other => unreachable!("decoded {other:?} as {}", Ty::$ty),
                }
            }
        }
    };
}
// The same encodings as `values::encode`.
ore_type!(i64, I64, I64, |v, _, _| Ok(*v as u64));
ore_type!(f64, F64, F64, |v, _, _| Ok(v.to_bits()));
ore_type!(bool, Bool, Bool, |v, _, _| Ok(*v as u64));
ore_type!(String, Str, Str, |v, _, strings| Ok(values::encode_str(v, strings)));
ore_type!(Vec<i64>, ArrayI64, ArrayI64, |v, call, _| call.array(v.iter().copied()));
ore_type!(Vec<f64>, ArrayF64, ArrayF64, |v, call, _| call.array(v.iter().map(|x| x.to_bits() as i64)));

/// A tuple of `OreType`s: the parameters of a `TypedFunc`. Sealed.
pub trait Params: sealed::Sealed {
    #[doc(hidden)]
    fn types() -> Vec<Ty>;
    #[doc(hidden)]
    fn encode(&self, call: &HostCall, strings: &mut Vec<CString>, slots: &mut Slots) -> Result<(), RuntimeError>;
}

/// The result of a `TypedFunc`: an `OreType`, or `()`. Sealed.
pub trait Results: sealed::Sealed + Sized {
    #[doc(hidden)]
    const TYPE: Ty;
    /// # Safety
    /// As `OreType::decode`.
    #[doc(hidden)]
    unsafe fn decode(raw: u64, call: &HostCall) -> Self;
}

impl<T: OreType> Results for T {
    const TYPE: Ty = T::TYPE;
    unsafe fn decode(raw: u64, call: &HostCall) -> Self {
        // SAFETY: the caller's contract.
        unsafe { T::decode(raw, call) }
    }
}

impl Results for () {
    const TYPE: Ty = Ty::Unit;
    unsafe fn decode(_raw: u64, _call: &HostCall) -> Self {}
}

macro_rules! params {
    ($($p:ident),*) => {
        impl<$($p: OreType),*> sealed::Sealed for ($($p,)*) {}
        impl<$($p: OreType),*> Params for ($($p,)*) {
            fn types() -> Vec<Ty> {
                vec![$($p::TYPE),*]
            }
            #[allow(non_snake_case, unused_variables)]
            fn encode(&self, call: &HostCall, strings: &mut Vec<CString>, slots: &mut Slots) -> Result<(), RuntimeError> {
                let ($($p,)*) = self;
                $(slots.push($p.encode(call, strings)?);)*
                Ok(())
            }
        }
    };
}
params!();
params!(A);
params!(A, B);
params!(A, B, C);
params!(A, B, C, D);
params!(A, B, C, D, E);
params!(A, B, C, D, E, F);
