//! Deadlines for calls, in the spirit of wasmtime's epoch interruption: compiled code
//! (with `Config::interruptible`) tests its call's `interrupt` word at every function
//! entry and loop back-edge, and one watchdog thread sets that word when the call's
//! deadline passes. The test is a monotonic atomic load (so LLVM cannot hoist it out
//! of a loop), a compare and a branch; no clock is read in JIT'd code.
//!
//! Code that is not Ore (a C function, Python) cannot be interrupted: the call ends
//! at the next check after it returns.

use super::process::ForkLock;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, MutexGuard, Once, PoisonError};
use std::time::{Duration, Instant};

/// How often the watchdog looks at the `Interrupt`s of running calls.
const INTERRUPT_POLL: Duration = Duration::from_millis(10);

/// A request to interrupt calls, which the host may make from anywhere, a signal
/// handler included: `trigger` is one atomic store. Calls given it
/// (`CallOptions::interrupt`) end at their next interrupt check, within about
/// 10 ms of the request.
#[derive(Debug, Default)]
pub struct Interrupt {
    requested: AtomicBool,
}

impl Interrupt {
    /// A request not made yet.
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// Asks every call given this interrupt to stop. Async-signal-safe.
    pub fn trigger(&self) {
        self.requested.store(true, Ordering::Relaxed);
    }

    /// Whether it was triggered since it was last reset.
    pub fn is_triggered(&self) -> bool {
        self.requested.load(Ordering::Relaxed)
    }

    /// Withdraws the request (for the next calls).
    pub fn reset(&self) {
        self.requested.store(false, Ordering::Relaxed);
    }
}

/// The interrupt word of a running call, to be set when the call's time is up.
struct Flag(*const AtomicU32);

// SAFETY: the pointer is only dereferenced by the watchdog while the entry is in the
// table, and `Armed::drop` removes it (under the table's lock) before the word dies.
unsafe impl Send for Flag {}

struct Watchdog {
    table: ForkLock<Table>,
    wake: Condvar,
}

struct Table {
    /// (deadline, arm number) -> the word to set.
    armed: BTreeMap<(Instant, u64), Flag>,
    /// When the watchdog will wake up by itself (`None`: when notified). Arming a
    /// later deadline needs no wake-up, which keeps calls from waking the thread.
    wakes_at: Option<Instant>,
    /// Running calls' words to set once their interrupt is triggered, by watch number.
    watched: BTreeMap<u64, (Flag, Arc<Interrupt>)>,
    /// Whether this process runs the watchdog thread: not yet, or a fork's child,
    /// which has none of its parent's threads.
    running: bool,
}

static WATCHDOG: Watchdog = Watchdog {
    table: ForkLock::new(Table { armed: BTreeMap::new(), wakes_at: None, watched: BTreeMap::new(), running: false }),
    wake: Condvar::new(),
};

extern "C" fn before_fork() {
    // Held across the fork, so the child's copy is not locked by the watchdog.
    WATCHDOG.table.hold(|table| table);
}

extern "C" fn after_fork_in_parent() {
    WATCHDOG.table.release(|_| {});
}

extern "C" fn after_fork_in_child() {
    WATCHDOG.table.release(|table| table.running = false);
}

impl Watchdog {
    /// Makes sure the watchdog thread runs and wakes up by `at`, waking it now if it
    /// would sleep longer.
    fn wake_by(&'static self, mut table: MutexGuard<'_, Table>, at: Instant) {
        if !table.running {
            static FORK_HOOKS: Once = Once::new();
            FORK_HOOKS.call_once(|| {
                if !super::process::at_fork(before_fork, after_fork_in_parent, after_fork_in_child) {
                    tracing::warn!("a fork's child will not time calls out");
                }
            });
            std::thread::Builder::new().name("ore-deadlines".into()).spawn(move || self.run()).expect("cannot start the deadline thread");
            table.running = true;
        }
        let sooner = table.wakes_at.is_none_or(|wakes| at < wakes);
        if sooner {
            table.wakes_at = Some(at);
        }
        drop(table);
        if sooner {
            self.wake.notify_one();
        }
    }

    fn run(&'static self) {
        let mut table = self.table.lock();
        loop {
            let now = Instant::now();
            while let Some(entry) = table.armed.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                // SAFETY: see `Flag`: the word is alive while its entry is in the table.
                unsafe { &*entry.get().0 }.store(1, Ordering::Relaxed);
                entry.remove();
            }
            for (flag, interrupt) in table.watched.values() {
                if interrupt.is_triggered() {
                    // SAFETY: as above, for watched words.
                    unsafe { &*flag.0 }.store(1, Ordering::Relaxed);
                }
            }
            let poll = (!table.watched.is_empty()).then(|| now + INTERRUPT_POLL);
            table.wakes_at = match (table.armed.keys().next().map(|k| k.0), poll) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            table = match table.wakes_at {
                Some(next) => {
                    let wait = next.saturating_duration_since(Instant::now());
                    self.wake.wait_timeout(table, wait).unwrap_or_else(PoisonError::into_inner).0
                }
                None => self.wake.wait(table).unwrap_or_else(PoisonError::into_inner),
            };
        }
    }
}

/// A deadline in force on this thread; disarmed on drop.
pub struct Armed {
    key: (Instant, u64),
    /// The deadline of the enclosing call, restored on drop.
    outer: Option<Instant>,
    _not_send: std::marker::PhantomData<*const ()>,
}

thread_local! {
    /// The earliest deadline of the calls running on this thread, so that a call
    /// nested in another (through a host callback) cannot outlive its caller's.
    static INHERITED: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// The deadline a new call on this thread gets: its own, or its caller's if earlier.
pub fn effective(own: Option<Instant>) -> Option<Instant> {
    match (own, INHERITED.with(Cell::get)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Sets `*flag` to 1 at `deadline` unless the returned guard is dropped first.
///
/// # Safety
/// `flag` must stay valid until the guard is dropped.
pub unsafe fn arm(flag: *const AtomicU32, deadline: Instant) -> Armed {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let key = (deadline, NEXT.fetch_add(1, Ordering::Relaxed));
    let mut table = WATCHDOG.table.lock();
    table.armed.insert(key, Flag(flag));
    WATCHDOG.wake_by(table, deadline);
    let outer = INHERITED.with(|i| i.replace(Some(deadline)));
    Armed { key, outer, _not_send: std::marker::PhantomData }
}

/// An interrupt being watched for one call; unwatched on drop.
pub struct Watched(u64);

/// Sets `*flag` to 1 once `interrupt` is triggered, unless the returned guard is
/// dropped first.
///
/// # Safety
/// `flag` must stay valid until the guard is dropped.
pub unsafe fn watch(flag: *const AtomicU32, interrupt: Arc<Interrupt>) -> Watched {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut table = WATCHDOG.table.lock();
    table.watched.insert(id, (Flag(flag), interrupt));
    WATCHDOG.wake_by(table, Instant::now() + INTERRUPT_POLL);
    Watched(id)
}

impl Drop for Watched {
    fn drop(&mut self) {
        WATCHDOG.table.lock().watched.remove(&self.0);
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        INHERITED.with(|i| i.set(self.outer));
        WATCHDOG.table.lock().armed.remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Waits (boundedly) for the watchdog to set `flag`.
    fn wait_for(flag: &AtomicU32) -> bool {
        let give_up = Instant::now() + Duration::from_secs(10);
        while Instant::now() < give_up {
            if flag.load(Ordering::Relaxed) == 1 {
                return true;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        false
    }

    #[test]
    fn an_armed_deadline_sets_its_flag_and_a_sooner_one_is_not_kept_waiting() {
        let (late, soon) = (AtomicU32::new(0), AtomicU32::new(0));
        // SAFETY: both flags outlive their guards (dropped at the end of the test).
        let _late = unsafe { arm(&late, Instant::now() + Duration::from_secs(3600)) };
        // SAFETY: as above.
        let _soon = unsafe { arm(&soon, Instant::now() + Duration::from_millis(10)) };
        assert!(wait_for(&soon), "the sooner deadline fired");
        assert_eq!(late.load(Ordering::Relaxed), 0, "the hour-long one did not");
    }

    #[test]
    fn a_disarmed_deadline_never_writes_its_flag() {
        let flag = Box::new(AtomicU32::new(0));
        // SAFETY: the guard is dropped before the flag.
        let guard = unsafe { arm(&*flag, Instant::now() + Duration::from_millis(20)) };
        drop(guard);
        // Another deadline after it fires, so the watchdog has passed the first one's time.
        let later = AtomicU32::new(0);
        // SAFETY: as above.
        let _later = unsafe { arm(&later, Instant::now() + Duration::from_millis(40)) };
        assert!(wait_for(&later));
        assert_eq!(flag.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn nested_calls_inherit_the_earlier_deadline_until_they_end() {
        let flag = AtomicU32::new(0);
        let outer = Instant::now() + Duration::from_secs(3600);
        assert_eq!(effective(None), None);
        // SAFETY: the guard is dropped before the flag.
        let guard = unsafe { arm(&flag, outer) };
        assert_eq!(effective(None), Some(outer));
        assert_eq!(effective(Some(outer + Duration::from_secs(1))), Some(outer), "cannot outlive the caller");
        let sooner = outer - Duration::from_secs(1);
        assert_eq!(effective(Some(sooner)), Some(sooner));
        drop(guard);
        assert_eq!(effective(None), None);
    }

    #[test]
    fn a_triggered_interrupt_sets_the_flags_it_watches() {
        let (watched, other) = (AtomicU32::new(0), AtomicU32::new(0));
        let interrupt = Arc::new(Interrupt::new());
        // SAFETY: both flags outlive their guards.
        let _w = unsafe { watch(&watched, interrupt.clone()) };
        // SAFETY: as above.
        let _o = unsafe { watch(&other, Arc::new(Interrupt::new())) };
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(watched.load(Ordering::Relaxed), 0, "not before it is triggered");
        interrupt.trigger();
        assert!(wait_for(&watched));
        assert_eq!(other.load(Ordering::Relaxed), 0, "another interrupt's call goes on");
    }
}
