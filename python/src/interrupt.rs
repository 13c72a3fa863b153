//! Ctrl-C during a call of an interruptible Jit. While the outermost such call runs
//! on the main thread, a SIGINT handler of ours triggers one process-wide
//! `ore::Interrupt` (the call ends at its next interrupt check) and passes the
//! signal on to the handler it replaced, Python's, which records it; when the call
//! returns, Python raises `KeyboardInterrupt` as it would have.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, LazyLock};

/// The interrupt every call of an interruptible Jit is given.
pub static INTERRUPT: LazyLock<Arc<ore::Interrupt>> = LazyLock::new(|| Arc::new(ore::Interrupt::new()));

/// The handler ours replaced, as its address (0: none to pass the signal to), and
/// whether it takes `siginfo`.
static PREVIOUS: AtomicUsize = AtomicUsize::new(0);
static PREVIOUS_SIGINFO: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Interruptible calls running on this thread (callbacks nest them).
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

extern "C" fn on_sigint(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // Async-signal-safe: atomic loads and stores, and the replaced handler, which
    // was itself installed as a signal handler.
    INTERRUPT.trigger();
    let previous = PREVIOUS.load(Relaxed);
    if previous == 0 {
        return;
    }
    if PREVIOUS_SIGINFO.load(Relaxed) != 0 {
        // SAFETY: the address came from `sa_sigaction` of a handler installed with
        // SA_SIGINFO, which has this signature.
        let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) = unsafe { std::mem::transmute(previous) };
        handler(signal, info, context);
    } else {
        // SAFETY: the address came from `sa_handler` of a handler installed
        // without SA_SIGINFO, which has this signature.
        let handler: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(previous) };
        handler(signal);
    }
}

/// Ours, while installed; puts the replaced handler back on drop.
pub struct Guard {
    previous: Option<libc::sigaction>,
}

/// Starts an interruptible call on this thread: installs our handler if this is the
/// outermost one on the main thread and Python handles SIGINT.
pub fn enter() -> Guard {
    let depth = DEPTH.with(|d| d.replace(d.get() + 1));
    // SAFETY: getpid and gettid have no preconditions; the main thread's id is the pid.
    let main_thread = unsafe { libc::getpid() == libc::gettid() };
    if depth > 0 || !main_thread {
        return Guard { previous: None };
    }
    LazyLock::force(&INTERRUPT);
    // SAFETY: sigaction reads and writes the structs we pass; the handler we install
    // is async-signal-safe (see `on_sigint`).
    unsafe {
        let mut previous: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGINT, std::ptr::null(), &mut previous) != 0 {
            return Guard { previous: None };
        }
        // Only a real handler (Python's) is replaced: with SIG_IGN or SIG_DFL, Ctrl-C
        // keeps its usual meaning.
        if previous.sa_sigaction == libc::SIG_IGN || previous.sa_sigaction == libc::SIG_DFL {
            return Guard { previous: None };
        }
        PREVIOUS.store(previous.sa_sigaction, Relaxed);
        PREVIOUS_SIGINFO.store((previous.sa_flags & libc::SA_SIGINFO != 0) as usize, Relaxed);
        let mut ours: libc::sigaction = std::mem::zeroed();
        ours.sa_sigaction = on_sigint as *const () as usize;
        ours.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigemptyset(&mut ours.sa_mask);
        if libc::sigaction(libc::SIGINT, &ours, std::ptr::null_mut()) != 0 {
            return Guard { previous: None };
        }
        Guard { previous: Some(previous) }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get() - 1));
        if let Some(previous) = self.previous.take() {
            // SAFETY: puts back the handler `enter` read; both are valid sigactions.
            unsafe { libc::sigaction(libc::SIGINT, &previous, std::ptr::null_mut()) };
            PREVIOUS.store(0, Relaxed);
        }
    }
}
