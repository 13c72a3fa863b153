//! Tiered compilation (`Config::tiering`): the top tier of hot tier-0 functions,
//! compiled by background threads and published into their slots.
//!
//! Tier 0 is a function's first compile at -O0 with a countdown in its slot
//! (`codegen::Options::count_calls`) of calls and loop iterations; what counts it
//! down to 0 runs `ore.rt.tier_up`, which queues the version here and returns. A
//! compile thread then generates the body again without the countdown, at the
//! top level (with an entry at the loop that made it hot, if tier 0 can leave
//! there: `abi::osr_table`), links it into the version's own dylib as
//! `abi::top_tier_symbol` and stores its addresses in the slot if the version is
//! still current: the same check, under the same lock, as `Inner::resolve`'s, so
//! a redefinition or unload that lands during the compile always wins. The
//! compile counts as a running call for the namespace's reclaimer, so the dylib
//! it links into is not freed under it; tier-0 code stays in its dylib (it may
//! still be running) and goes with it.
//!
//! The threads are the process's: one queue for every engine bounds the threads
//! however many engines there are, and lets process exit wait for the compile in
//! flight (`stop_background_compiles`: LLVM's static destructors run at exit,
//! and must not run under a compile).

use super::stats::micros;
use super::*;
use std::collections::VecDeque;
use std::sync::{Condvar, PoisonError};
use std::time::Duration;

/// Which code a compiled function runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Compiled at its first call at the namespace's level: no tiering, -O0, or a
    /// function over `tir::HUGE_FUNCTION_NODES` (always -O0).
    Direct,
    /// Tier 0 (-O0, counting): not hot yet, or its top tier is compiling.
    Baseline,
    /// Recompiled at the top tier after it became hot.
    Optimized,
}

impl Tier {
    pub(super) fn from_u8(tier: u8) -> Tier {
        match tier {
            1 => Tier::Baseline,
            2 => Tier::Optimized,
            _ => Tier::Direct,
        }
    }
}

/// A version to recompile at its top tier.
struct Job {
    namespace: Weak<Inner>,
    name: String,
    version: Arc<Version>,
    body: Arc<tir::Function>,
    /// The loop whose iterations made it hot, which gets an entry.
    at_loop: Option<usize>,
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    /// Jobs taken by a thread and not finished.
    running: usize,
    threads: usize,
    /// The most threads a namespace asked for.
    wanted: usize,
    /// Set at process exit: queued jobs are dropped.
    exiting: bool,
}

/// The process's queue of tier-up compiles and its threads.
struct Queue {
    state: runtime::process::ForkLock<State>,
    /// Signalled when a job is queued.
    work: Condvar,
    /// Signalled when a job finishes.
    done: Condvar,
}

static QUEUE: Queue = Queue {
    state: runtime::process::ForkLock::new(State { jobs: VecDeque::new(), running: 0, threads: 0, wanted: 0, exiting: false }),
    work: Condvar::new(),
    done: Condvar::new(),
};

impl Queue {
    fn submit(&'static self, job: Job, threads: usize) {
        let mut state = self.state.lock();
        if state.exiting {
            return;
        }
        state.jobs.push_back(job);
        state.wanted = state.wanted.max(threads);
        self.start_threads(&mut state);
        if state.threads == 0 {
            // No thread to run it: the function stays at tier 0.
            state.jobs.clear();
        }
        self.work.notify_one();
    }

    /// Starts threads up to the most asked for: at the first tier-up, and in a
    /// fork's child, which has none of its parent's threads.
    fn start_threads(&'static self, state: &mut State) {
        static HOOKS: std::sync::Once = std::sync::Once::new();
        HOOKS.call_once(|| {
            if !runtime::process::at_exit(drain_at_exit) {
                tracing::warn!("process exit will not wait for background compiles");
            }
            if !runtime::process::at_fork(before_fork, after_fork_in_parent, after_fork_in_child) {
                tracing::warn!("a fork's child will not compile tier-ups");
            }
        });
        while state.threads < state.wanted {
            let spawned = std::thread::Builder::new().name("ore-tier-up".into()).spawn(move || self.serve());
            if let Err(e) = spawned {
                tracing::warn!("no background compile thread: {e}");
                break;
            }
            state.threads += 1;
        }
    }

    fn serve(&'static self) {
        loop {
            let job = {
                let mut state = self.state.lock();
                loop {
                    if let Some(job) = state.jobs.pop_front() {
                        state.running += 1;
                        break job;
                    }
                    state = self.work.wait(state).unwrap_or_else(PoisonError::into_inner);
                }
            };
            if let Some(inner) = job.namespace.upgrade() {
                // A compile runs on a thread's own stack, not deep in a recursion,
                // but LLVM may still want more than a thread's default.
                stacker::maybe_grow(1024 * 1024, 16 * 1024 * 1024, || inner.compile_top_tier(&job));
            }
            drop(job);
            let mut state = self.state.lock();
            state.running -= 1;
            self.done.notify_all();
        }
    }

    /// Waits until no tier-up is queued or compiling, at most `timeout`; whether
    /// that happened.
    fn wait_idle(&'static self, timeout: Duration) -> bool {
        let mut state = self.state.lock();
        if !state.jobs.is_empty() && !state.exiting {
            // A fork's child may have inherited jobs and no thread.
            self.start_threads(&mut state);
        }
        let busy = |s: &mut State| !s.jobs.is_empty() || s.running > 0;
        let waited = self.done.wait_timeout_while(state, timeout, busy).unwrap_or_else(PoisonError::into_inner);
        !waited.1.timed_out()
    }
}

/// Stops background compiles for good: queued tier-ups are dropped (their
/// functions stay at tier 0), later ones are not queued, and this waits for the
/// one compiling, if any (at most two seconds). Call it before the process
/// exits, as `ore` and the Python package do: exit runs the destructors of
/// LLVM's static objects, and a compile running meanwhile may use one already
/// destroyed. (An `atexit` handler does the same as a fallback, but runs after
/// the destructors of statics LLVM created after it was registered.)
pub fn stop_background_compiles() {
    let mut state = QUEUE.state.lock();
    state.exiting = true;
    state.jobs.clear();
    drop(state);
    QUEUE.wait_idle(Duration::from_secs(2));
}

extern "C" fn drain_at_exit() {
    stop_background_compiles()
}

extern "C" fn before_fork() {
    // A compile in flight may hold LLVM's locks, which the child would inherit
    // held: wait for it (as exit does). The queue's lock is kept across the fork,
    // so the child's copy is not locked by a thread it lacks.
    QUEUE.state.hold(|state| {
        let compiling = |s: &mut State| s.running > 0;
        QUEUE.done.wait_timeout_while(state, Duration::from_secs(2), compiling).unwrap_or_else(PoisonError::into_inner).0
    });
}

extern "C" fn after_fork_in_parent() {
    QUEUE.state.release(|_| {});
}

extern "C" fn after_fork_in_child() {
    // Queued jobs stay, for the threads the child starts at its next tier-up or
    // wait; a compile that was running in the parent is not the child's.
    QUEUE.state.release(|state| {
        state.threads = 0;
        state.running = 0;
    });
}

/// Waits until every tier-up queued so far, by any engine of the process, has
/// been compiled and published (or dropped); false if that took over `timeout`.
pub(super) fn wait_for_tier_ups(timeout: Duration) -> bool {
    QUEUE.wait_idle(timeout)
}

impl Inner {
    /// Whether a function is compiled at tier 0 at its first call, given the
    /// `level` its code would otherwise get: with tiering, if that is above -O0.
    pub(super) fn starts_at_tier_0(&self, level: OptLevel) -> bool {
        self.config.tiering.is_some() && level != OptLevel::O0
    }

    /// `ore.rt.tier_up` for `name`: queues its current version's top tier, once.
    pub(super) fn queue_tier_up(&self, name: &str, at_loop: Option<usize>, me: Weak<Inner>) {
        let Some(tiering) = self.config.tiering else { return };
        let version = self.tables.read().functions.get(name).and_then(|f| f.current.clone());
        let Some(version) = version else { return };
        // Taken once: later calls reaching 0 (after a lost count) queue nothing.
        let Some(body) = version.tier_up_body.lock().take() else { return };
        let job = Job { namespace: me, name: name.to_string(), version, body, at_loop };
        if tiering.threads == 0 {
            // On the stack of JIT'd code, possibly deep in a recursion.
            return stacker::maybe_grow(1024 * 1024, 16 * 1024 * 1024, || self.compile_top_tier(&job));
        }
        tracing::debug!(function = name, at_loop, "hot: top tier queued");
        QUEUE.submit(job, tiering.threads);
    }

    /// Compiles the job's top tier and points its slot at it, if its version is
    /// still current when the code is ready.
    fn compile_top_tier(&self, job: &Job) {
        // Counts as a running call: the dylib linked into is not freed under us.
        let epoch = self.reclaimer.enter();
        // A panic (a bug) costs this tier-up, not the epoch or the compile thread.
        let published = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.publish_top_tier(job)));
        self.free(self.reclaimer.exit(epoch));
        if published.is_err() {
            tracing::error!("compiling the top tier of `{}` panicked", job.name);
        }
    }

    fn publish_top_tier(&self, job: &Job) {
        let (name, version) = (job.name.as_str(), &job.version);
        let start = Instant::now();
        let current = |tables: &Tables| {
            let entry = tables.functions.get(name)?;
            entry.current.as_ref().is_some_and(|v| Arc::ptr_eq(v, version)).then(|| entry.slot.clone())
        };
        if current(&self.tables.read()).is_none() {
            return;
        }
        let (address, table) = match self.link_top_tier(job) {
            Ok(linked) => linked,
            Err(e) => {
                tracing::error!("compiling the top tier of `{name}`: {e}");
                return;
            }
        };
        let us = micros(start);
        let tables = self.tables.read();
        let Some(slot) = current(&tables) else { return };
        // Release: whoever loads an address also sees the linked code.
        slot.code.store(address, std::sync::atomic::Ordering::Release);
        slot.osr_table.store(table, std::sync::atomic::Ordering::Release);
        version.tier.store(Tier::Optimized as u8, Relaxed);
        self.counters.tier_ups.fetch_add(1, Relaxed);
        self.counters.tier_up_us.fetch_add(us, Relaxed);
        tracing::info!(function = name, us, level = version.level.level(), "tier-up");
    }

    /// Generates, compiles and links the job's top tier in its version's dylib;
    /// the addresses of its code and of its table of loop entries (0: none).
    fn link_top_tier(&self, job: &Job) -> Result<(usize, usize), String> {
        let (name, version, body) = (job.name.as_str(), &job.version, &job.body);
        let mut callees = self.callees(body, version);
        callees.links.push(self.own_definition_link(name, version));
        self.define_link_symbols(version, &callees.links).map_err(|e| e.to_string())?;
        let options = codegen::Options { hot: true, ..self.code_options() };
        let (module, has_table) =
            codegen::generate_top_tier(body, job.at_loop, &callees, options, self.jit().triple(), self.jit().data_layout());
        let code = self.object_code(name, &module, super::materialize::Build::of(body, version.level), &mut Default::default())?;
        drop(module);
        self.counters.code_bytes.fetch_add(code.len() as u64, Relaxed);
        let dylib = version.link_symbols.0;
        let profiled = runtime::perf::enabled().then(|| code.code());
        self.jit().add_object(dylib, code).map_err(|e| e.to_string())?;
        let mut symbols = vec![crate::abi::top_tier_symbol(name)];
        if has_table {
            symbols.push(crate::abi::osr_table_symbol(name));
        }
        let addresses = self.jit().lookup_all(dylib, &symbols).map_err(|e| e.to_string())?;
        if let Some(code) = profiled {
            self.tell_profiler(code, &symbols[..1], dylib);
        }
        Ok((addresses[0], addresses.get(1).copied().unwrap_or(0)))
    }

    /// The link-time symbol of `version`'s own definition number, which tier 0
    /// compares with a loop entry table's (`abi::osr_table`).
    pub(super) fn own_definition_link(&self, name: &str, version: &Version) -> (String, usize) {
        (crate::abi::definition_symbol(name), version.number as usize)
    }
}
