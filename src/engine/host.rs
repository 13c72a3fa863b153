//! Host functions: Rust closures and functions, and `extern "C"` functions, that
//! Ore code calls through `extern fn`, all registered with `Namespace::register`
//! (in the spirit of wasmtime's `Linker::func_wrap`).
//!
//! An `extern "C"` function is called directly. Anything else that is `Fn` is
//! called through a thunk: JIT'd code for the declared C signature that packs the
//! arguments into 8-byte slots and calls `ore.rt.call_closure`, which runs the Rust
//! closure and turns an `Err` or a panic into the calling Ore call's runtime error
//! (codegen tests `trapped` after every call to a registered host function).

use super::*;
use crate::abi::MAX_HOST_PARAMS;
use crate::types::CType;
use std::ffi::{c_char, c_void, CStr};
use std::fmt::Display;
use std::marker::PhantomData;

impl Namespace {
    /// Registers a host function under `name`, callable from Ore through
    /// `extern fn name(...)` in modules added afterwards. It may be
    /// - a Rust closure or function (`Fn`, `Send + Sync + 'static`) of up to
    ///   `MAX_HOST_PARAMS` parameters of type `i64`, `i32`, `f64`, `bool`, `String`
    ///   (an Ore `str`, copied) or `*mut c_void` (a `ptr`), returning one of those
    ///   but `String`, `()`, or a `Result` of them whose `Err` (any `Display`) ends
    ///   the Ore call with the runtime error `host function `NAME` failed: MESSAGE`.
    ///   A panic ends it with `host function `NAME` panicked: MESSAGE`. Its first
    ///   parameter may be a `Caller`, to call back into the namespace or add code.
    /// - an `extern "C" fn` of the same types, with `*const c_char` for `str`, called
    ///   directly (a panic in one aborts the process, as Rust defines).
    pub fn register<Marker, F: IntoHostFunction<Marker>>(&self, name: &str, f: F) -> Result<(), Error> {
        let sig = F::signature();
        match f.into_host(HostOwner(Arc::downgrade(&self.inner))) {
            // SAFETY: `IntoHostFunction` (sealed) gives addresses only for `extern "C"
            // fn` pointer types whose parameter and result types map one-to-one to
            // `F::signature()`.
            HostImpl::Address(address) => unsafe { self.register_raw(name, sig, address) },
            HostImpl::Closure(call) => self.register_slot_fn(name, sig, call),
        }
    }

    /// Registers a host function whose signature is known only at run time, as a
    /// language binding's callbacks are. `f` gets the namespace and the arguments as
    /// `Value`s (`i64` and `i32` as `I64`, `ptr` as `Ptr`, `str` copied as `Str`) and
    /// returns a value of the result type (`I64` for `i32`, which is truncated;
    /// `Unit` for none), or the message that ends the Ore call. A result of another
    /// type ends the call too. `str` results are refused: nothing would own them.
    pub fn register_dynamic<F>(&self, name: &str, sig: ExternSig, f: F) -> Result<(), Error>
    where
        F: Fn(Caller, &[Value]) -> Result<Value, String> + Send + Sync + 'static,
    {
        let refuse = |reason: &str| Err(Error::HostSignature { name: name.to_string(), reason: reason.to_string() });
        if sig.params.len() > MAX_HOST_PARAMS {
            return refuse(&format!("a host function takes at most {MAX_HOST_PARAMS} parameters"));
        }
        if matches!(sig.ret, CType::Str) {
            return refuse("a host function cannot return `str`");
        }
        let owner = HostOwner(Arc::downgrade(&self.inner));
        let (params, ret) = (sig.params.clone(), sig.ret);
        let call = move |slots: &[u64]| {
            // On the stack, and a loop rather than `collect`: both cost more than the rest.
            let mut args = smallvec::SmallVec::<[Value; MAX_HOST_PARAMS]>::new();
            for (ty, bits) in params.iter().zip(slots) {
                args.push(dynamic_arg(*ty, *bits)?);
            }
            dynamic_result(ret, f(owner.caller()?, &args)?)
        };
        self.register_slot_fn(name, sig, Box::new(call))
    }

    fn register_slot_fn(&self, name: &str, sig: ExternSig, call: Box<runtime::SlotFn>) -> Result<(), Error> {
        let inner = &self.inner;
        if inner.host_functions.read().contains_key(name) {
            return Err(Error::HostFunctionExists(name.to_string()));
        }
        let closure = Box::new(runtime::HostClosure { name: name.to_string(), arity: sig.params.len(), call });
        let address = &*closure as *const runtime::HostClosure as usize;
        let thunk_name = crate::abi::closure_thunk_symbol(name);
        let module = codegen::generate_closure_thunk(&thunk_name, &sig, address, inner.jit().triple(), inner.jit().data_layout());
        let thunk = {
            let mut host_dylib = inner.host_dylib.lock();
            let dylib = match *host_dylib {
                Some(dylib) => dylib,
                None => *host_dylib.insert(inner.module_dylib()?),
            };
            inner.jit().add_module(dylib, module.into_thread_safe_module())?;
            let _glue = inner.engine.glue.lock();
            inner.jit().lookup_all(dylib, std::slice::from_ref(&thunk_name))?[0]
        };
        inner.closures.lock().push(closure);
        // SAFETY: the thunk was generated for exactly `sig`, with the C convention,
        // and calls a closure the namespace keeps alive as long as its dylibs.
        unsafe { self.register_raw(name, sig, thunk) }
    }

    /// Registers a host function by address and signature.
    ///
    /// # Safety
    /// `address` must be a function with the C calling convention and exactly the
    /// signature `sig` (see `CType`), callable from any thread for as long as the
    /// namespace lives.
    pub unsafe fn register_raw(&self, name: &str, sig: ExternSig, address: usize) -> Result<(), Error> {
        // Modules added from now on get it in their dylibs; earlier ones cannot
        // refer to it (their `extern fn`s were checked when they were added).
        let mut hosts = self.inner.host_functions.write();
        if hosts.contains_key(name) {
            return Err(Error::HostFunctionExists(name.to_string()));
        }
        hosts.insert(name.to_string(), HostSymbol { sig: Some(sig), address, ir: None });
        Ok(())
    }
}

/// An argument of a `register_dynamic` function, from its slot. (Inlined: a
/// returned `Value` read back from memory costs a store-forwarding stall.)
#[inline(always)]
fn dynamic_arg(ty: CType, bits: u64) -> Result<Value, String> {
    // The typed host functions' decodings, so that both read slots alike.
    Ok(match ty {
        CType::I64 => Value::I64(i64::from_slot(bits)?),
        CType::I32 => Value::I64(i32::from_slot(bits)?.into()),
        CType::F64 => Value::F64(f64::from_slot(bits)?),
        CType::Bool => Value::Bool(bool::from_slot(bits)?),
        CType::Ptr => Value::Ptr(<*mut c_void>::from_slot(bits)? as usize),
        CType::Str => Value::Str(String::from_slot(bits)?),
        CType::Unit => Value::Unit,
    })
}

/// The slot of a `register_dynamic` function's result, which must be of type `ty`.
#[inline(always)]
fn dynamic_result(ty: CType, value: Value) -> Result<u64, String> {
    match (ty, value) {
        (CType::I64, Value::I64(v)) => v.into_slot(),
        (CType::I32, Value::I64(v)) => (v as i32).into_slot(),
        (CType::F64, Value::F64(v)) => v.into_slot(),
        (CType::Bool, Value::Bool(v)) => v.into_slot(),
        (CType::Ptr, Value::Ptr(v)) => (v as *mut c_void).into_slot(),
        (CType::Unit, _) => Ok(0),
        (ty, value) => Err(format!("returned {} where `{ty}` is expected", value.ty())),
    }
}

/// The first parameter of a host function that wants one: the namespace whose code
/// called it, to call back into (`namespace().call`, `func`) or to add code to
/// (`add_module`, as Ore's `load` does).
pub struct Caller {
    namespace: Namespace,
}

impl Caller {
    /// The namespace whose code called the host function.
    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }
}

/// The namespace a host function is registered in, held weakly: its closures must
/// not keep it alive.
#[doc(hidden)]
pub struct HostOwner(Weak<Inner>);

impl HostOwner {
    fn caller(&self) -> Result<Caller, String> {
        let inner = self.0.upgrade().ok_or("the namespace is gone")?;
        Ok(Caller { namespace: Namespace { inner } })
    }
}

/// What a registered function becomes.
#[doc(hidden)]
pub enum HostImpl {
    /// A C function to call directly.
    Address(usize),
    /// A Rust function over argument slots, to call through a thunk.
    Closure(Box<runtime::SlotFn>),
}

mod sealed {
    pub trait Sealed<Marker> {}
    pub trait SealedType {}
}

/// Something `Namespace::register` takes: see there. `Marker` tells the kinds
/// apart (`CAbi`, `Closure`, `WithCaller`); it is inferred. Sealed: the
/// conversions are what makes registration sound.
pub trait IntoHostFunction<Marker>: sealed::Sealed<Marker> {
    #[doc(hidden)]
    fn signature() -> ExternSig;
    #[doc(hidden)]
    fn into_host(self, owner: HostOwner) -> HostImpl;
}

/// Marks an `extern "C" fn` for `IntoHostFunction`.
pub struct CAbi<Params, R>(PhantomData<fn(Params) -> R>);
/// Marks a Rust closure or function for `IntoHostFunction`.
pub struct Closure<Params, R>(PhantomData<fn(Params) -> R>);
/// Marks a Rust closure or function taking a `Caller` first.
pub struct WithCaller<Params, R>(PhantomData<fn(Params) -> R>);

/// A parameter type of an `extern "C"` host function. Sealed.
pub trait CParam: sealed::SealedType {
    #[doc(hidden)]
    const C_TYPE: CType;
}

/// A result type of an `extern "C"` host function. Sealed.
pub trait CResult: sealed::SealedType {
    #[doc(hidden)]
    const C_TYPE: CType;
}

/// A parameter type of a Rust host function, decoded from its 8-byte slot. Sealed.
pub trait HostParam: sealed::SealedType + Sized {
    #[doc(hidden)]
    const C_TYPE: CType;
    /// What the thunk stored for an argument of type `C_TYPE`.
    #[doc(hidden)]
    fn from_slot(bits: u64) -> Result<Self, String>;
}

/// A result type of a Rust host function, encoded as the thunk returns it. Sealed.
pub trait HostResult: sealed::SealedType {
    #[doc(hidden)]
    const C_TYPE: CType;
    #[doc(hidden)]
    fn into_slot(self) -> Result<u64, String>;
}

macro_rules! c_types {
    ($($t:ty => $c:ident),*) => {$(
        impl sealed::SealedType for $t {}
        impl CParam for $t { const C_TYPE: CType = CType::$c; }
        impl CResult for $t { const C_TYPE: CType = CType::$c; }
    )*};
}
c_types!(i64 => I64, i32 => I32, f64 => F64, bool => Bool, *const c_char => Str, *mut c_void => Ptr);
impl sealed::SealedType for () {}
impl CResult for () {
    const C_TYPE: CType = CType::Unit;
}
impl sealed::SealedType for String {}
impl<T: HostResult, E: Display> sealed::SealedType for Result<T, E> {}

macro_rules! slot_types {
    ($($t:ty => $c:ident, |$b:ident| $from:expr, |$v:ident| $into:expr;)*) => {$(
        impl HostParam for $t {
            const C_TYPE: CType = CType::$c;
            fn from_slot($b: u64) -> Result<Self, String> { Ok($from) }
        }
        impl HostResult for $t {
            const C_TYPE: CType = CType::$c;
            fn into_slot(self) -> Result<u64, String> { let $v = self; Ok($into) }
        }
    )*};
}
// The thunk sign-extends `i32`, zero-extends `bool` and truncates results back.
slot_types! {
    i64 => I64, |b| b as i64, |v| v as u64;
    i32 => I32, |b| b as i32, |v| v as i64 as u64;
    f64 => F64, |b| f64::from_bits(b), |v| v.to_bits();
    bool => Bool, |b| b != 0, |v| v as u64;
    *mut c_void => Ptr, |b| b as usize as *mut c_void, |v| v as usize as u64;
}

/// A `str` argument, copied. A NULL `str` (a C function's result) is an error
/// naming the host function.
impl HostParam for String {
    const C_TYPE: CType = CType::Str;
    fn from_slot(bits: u64) -> Result<Self, String> {
        if bits == 0 {
            return Err("null string passed as an argument".into());
        }
        // SAFETY: the thunk passes `str` arguments as Ore holds them: non-NULL ones
        // are NUL-terminated strings alive during the call.
        Ok(unsafe { CStr::from_ptr(bits as *const c_char) }.to_string_lossy().into_owned())
    }
}

impl HostResult for () {
    const C_TYPE: CType = CType::Unit;
    fn into_slot(self) -> Result<u64, String> {
        Ok(0)
    }
}

/// `Err` ends the Ore call with its message.
impl<T: HostResult, E: Display> HostResult for Result<T, E> {
    const C_TYPE: CType = T::C_TYPE;
    fn into_slot(self) -> Result<u64, String> {
        self.map_err(|e| e.to_string()).and_then(T::into_slot)
    }
}

macro_rules! host_functions {
    ($($p:ident),*) => {
        const _: () = assert!(<[&str]>::len(&[$(stringify!($p)),*]) <= MAX_HOST_PARAMS);

        impl<R: CResult, $($p: CParam),*> sealed::Sealed<CAbi<($($p,)*), R>> for extern "C" fn($($p),*) -> R {}
        impl<R: CResult, $($p: CParam),*> IntoHostFunction<CAbi<($($p,)*), R>> for extern "C" fn($($p),*) -> R {
            fn signature() -> ExternSig {
                ExternSig { params: vec![$($p::C_TYPE),*], ret: R::C_TYPE }
            }
            fn into_host(self, _: HostOwner) -> HostImpl {
                HostImpl::Address(self as *const () as usize)
            }
        }

        impl<F, R, $($p),*> sealed::Sealed<Closure<($($p,)*), R>> for F
        where F: Fn($($p),*) -> R + Send + Sync + 'static, R: HostResult, $($p: HostParam),* {}
        impl<F, R, $($p),*> IntoHostFunction<Closure<($($p,)*), R>> for F
        where F: Fn($($p),*) -> R + Send + Sync + 'static, R: HostResult, $($p: HostParam),*
        {
            fn signature() -> ExternSig {
                ExternSig { params: vec![$($p::C_TYPE),*], ret: R::C_TYPE }
            }
            #[allow(non_snake_case, unused_mut, unused_variables)]
            fn into_host(self, _: HostOwner) -> HostImpl {
                HostImpl::Closure(Box::new(move |slots: &[u64]| {
                    let mut it = slots.iter().copied();
                    $(let $p = $p::from_slot(it.next().unwrap_or(0))?;)*
                    self($($p),*).into_slot()
                }))
            }
        }

        impl<F, R, $($p),*> sealed::Sealed<WithCaller<($($p,)*), R>> for F
        where F: Fn(Caller, $($p),*) -> R + Send + Sync + 'static, R: HostResult, $($p: HostParam),* {}
        impl<F, R, $($p),*> IntoHostFunction<WithCaller<($($p,)*), R>> for F
        where F: Fn(Caller, $($p),*) -> R + Send + Sync + 'static, R: HostResult, $($p: HostParam),*
        {
            fn signature() -> ExternSig {
                ExternSig { params: vec![$($p::C_TYPE),*], ret: R::C_TYPE }
            }
            #[allow(non_snake_case, unused_mut, unused_variables)]
            fn into_host(self, owner: HostOwner) -> HostImpl {
                HostImpl::Closure(Box::new(move |slots: &[u64]| {
                    let mut it = slots.iter().copied();
                    $(let $p = $p::from_slot(it.next().unwrap_or(0))?;)*
                    self(owner.caller()?, $($p),*).into_slot()
                }))
            }
        }
    };
}
host_functions!();
host_functions!(A);
host_functions!(A, B);
host_functions!(A, B, C);
host_functions!(A, B, C, D);
host_functions!(A, B, C, D, E);
host_functions!(A, B, C, D, E, G);
