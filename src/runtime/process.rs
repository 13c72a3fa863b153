//! The process: shared libraries loaded into it and the names it exports (which
//! JIT'd code reaches through ORC's process symbol generator), and the resources
//! it holds.

use std::any::Any;
use std::cell::RefCell;
use std::ffi::CStr;
use std::path::Path;
use std::sync::{MutexGuard, PoisonError};

/// Loads a shared library (`dlopen`, global scope) for good: compiled code may call
/// into it at any time, so it is never closed. The error is `dlerror`'s.
pub fn load_library(path: &Path) -> Result<(), String> {
    let cpath = crate::llvm::c_string(&path.to_string_lossy());
    // SAFETY: dlopen runs the library's initialisers, which is what loading a
    // library means; the handle is deliberately never closed (see above).
    let handle = unsafe { libc::dlopen(cpath.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
    if handle.is_null() {
        // SAFETY: after a failed dlopen, dlerror returns a message owned by libc,
        // valid until the next dl* call on this thread; it is copied at once.
        return Err(unsafe { CStr::from_ptr(libc::dlerror()) }.to_string_lossy().into_owned());
    }
    Ok(())
}

/// Whether the process (the executable or a loaded library) exports `name`.
pub fn exports(name: &str) -> bool {
    let cname = crate::llvm::c_string(name);
    // SAFETY: dlsym with RTLD_DEFAULT only reads the loaded objects' symbol tables.
    unsafe { !libc::dlsym(libc::RTLD_DEFAULT, cname.as_ptr()).is_null() }
}

/// Raises the soft limit on open descriptors to the hard limit, so the connection
/// cap, not the descriptor table, is what bounds connections.
#[cfg(feature = "server")]
pub fn raise_descriptor_limit() -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return raised.rlim_cur;
            }
        }
    }
    limit.rlim_cur
}

/// The process's resident set size, from /proc (0 where unavailable).
#[cfg(feature = "server")]
pub fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(0) as u64;
    pages * page
}

/// Runs `prepare` in the parent just before each `fork`, then `parent` in the
/// parent and `child` in the child just after it (`pthread_atfork`); false if they
/// cannot be registered. Only the forking thread lives on in the child, so the
/// owner of a background thread takes its lock in `prepare` (no thread the child
/// lacks can then hold it), releases it in both, and in `child` notes that its
/// thread is gone, to start another when next needed.
pub fn at_fork(prepare: extern "C" fn(), parent: extern "C" fn(), child: extern "C" fn()) -> bool {
    // SAFETY: `pthread_atfork` only records the pointers; the handlers are plain
    // functions that live as long as the process.
    unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) == 0 }
}

/// A lock that its owner keeps across `fork` (see `at_fork`): `hold` in the
/// `prepare` handler, `release` in the `parent` and `child` ones. It is std's
/// futex-based Mutex, not parking_lot's: parking_lot queues waiters in a
/// process-wide table, and in a child that table still lists the parent's
/// threads, to which an unlock may hand the lock.
pub struct ForkLock<T: Send + 'static>(std::sync::Mutex<T>);

thread_local! {
    /// The guards `hold` keeps, by lock address: `at_fork`'s handlers all run on
    /// the forking thread (which, in the child, is the only one).
    static HELD: RefCell<Vec<(usize, Box<dyn Any>)>> = const { RefCell::new(Vec::new()) };
}

impl<T: Send + 'static> ForkLock<T> {
    pub const fn new(value: T) -> ForkLock<T> {
        ForkLock(std::sync::Mutex::new(value))
    }

    /// The lock (a panic while it was held poisons nothing: its holders keep
    /// their data consistent at every unwind point).
    pub fn lock(&'static self) -> MutexGuard<'static, T> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the lock, lets `settle` wait on it (a condvar wait gives the guard
    /// back), and keeps it until `release` on this thread.
    pub fn hold(&'static self, settle: impl FnOnce(MutexGuard<'static, T>) -> MutexGuard<'static, T>) {
        let guard = self.lock();
        let value: *const T = &*guard;
        let guard = settle(guard);
        assert!(std::ptr::eq(&*guard, value), "`settle` returned a guard of another lock");
        HELD.with(|held| held.borrow_mut().push((self as *const Self as usize, Box::new(guard))));
    }

    /// Runs `f` on the value `hold` kept locked, and unlocks it.
    pub fn release(&'static self, f: impl FnOnce(&mut T)) {
        let me = self as *const Self as usize;
        let guard = HELD.with(|held| {
            let mut held = held.borrow_mut();
            let at = held.iter().position(|(lock, _)| *lock == me)?;
            Some(held.swap_remove(at).1)
        });
        if let Some(Ok(mut guard)) = guard.map(|g| g.downcast::<MutexGuard<'static, T>>()) {
            f(&mut guard);
        }
    }
}

/// Runs `f` when the process exits (C's `atexit`), before the static destructors
/// of libraries loaded earlier, LLVM's among them; false if it cannot be
/// registered.
pub fn at_exit(f: extern "C" fn()) -> bool {
    // SAFETY: `atexit` only records the pointer; `f` is a plain function that
    // lives as long as the process.
    unsafe { libc::atexit(f) == 0 }
}
