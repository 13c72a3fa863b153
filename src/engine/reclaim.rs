//! When replaced or unloaded code may be freed.
//!
//! Policy: code retired (by a redefinition or an unload) may still be running in any
//! host call that was active when it was retired, and in nothing else: new calls
//! reach functions through their slots, which no longer point at it. So each host
//! call registers the epoch it started in, retiring code tags it with the current
//! epoch and advances it, and retired code is freed as soon as no call that started
//! at or before its tag is still running. Freeing happens on whichever thread ends
//! the last such call (or retires code while none runs).

use parking_lot::Mutex;
use std::collections::BTreeMap;

/// Tracks running host calls and retired code of type `T` (a handle to the code).
pub struct Reclaimer<T> {
    state: Mutex<State<T>>,
}

struct State<T> {
    epoch: u64,
    /// Host calls still running that started in the current epoch: the common
    /// case, kept out of the map so that a call costs no map update.
    current: usize,
    /// Earlier start epoch -> number of host calls still running that started then.
    older: BTreeMap<u64, usize>,
    /// Retired code with the epoch it was retired in.
    retired: Vec<(u64, T)>,
}

impl<T> Default for Reclaimer<T> {
    fn default() -> Self {
        Reclaimer { state: Mutex::new(State { epoch: 0, current: 0, older: BTreeMap::new(), retired: Vec::new() }) }
    }
}

impl<T> State<T> {
    /// Takes out the retired code no running call can reach.
    fn collect(&mut self) -> Vec<T> {
        if self.retired.is_empty() {
            return Vec::new();
        }
        let current = (self.current > 0).then_some(self.epoch);
        let oldest_running = self.older.keys().next().copied().or(current).unwrap_or(u64::MAX);
        let (free, keep): (Vec<_>, Vec<_>) = self.retired.drain(..).partition(|(tag, _)| *tag < oldest_running);
        self.retired = keep;
        free.into_iter().map(|(_, t)| t).collect()
    }
}

impl<T> Reclaimer<T> {
    /// Registers a host call; returns its start epoch for `exit`.
    pub fn enter(&self) -> u64 {
        let mut s = self.state.lock();
        s.current += 1;
        s.epoch
    }

    /// Ends a host call; returns code that has become safe to free.
    pub fn exit(&self, epoch: u64) -> Vec<T> {
        let mut s = self.state.lock();
        if epoch == s.epoch {
            s.current -= 1;
        } else if let Some(count) = s.older.get_mut(&epoch) {
            *count -= 1;
            if *count == 0 {
                s.older.remove(&epoch);
            }
        }
        s.collect()
    }

    /// Retires code; returns code that is safe to free now (possibly this one).
    pub fn retire(&self, code: T) -> Vec<T> {
        let mut s = self.state.lock();
        let tag = s.epoch;
        if s.current > 0 {
            let running = std::mem::take(&mut s.current);
            s.older.insert(tag, running);
        }
        s.epoch += 1;
        s.retired.push((tag, code));
        s.collect()
    }

    /// Takes out all retired code, whether or not calls run (for an owner that
    /// knows none can).
    pub fn take_all(&self) -> Vec<T> {
        self.state.lock().retired.drain(..).map(|(_, t)| t).collect()
    }

    /// How much retired code is waiting for running calls to end.
    pub fn pending(&self) -> usize {
        self.state.lock().retired.len()
    }
}

#[cfg(test)]
mod tests {
    use super::Reclaimer;

    #[test]
    fn code_is_freed_once_every_call_that_could_run_it_ended() {
        let r = Reclaimer::default();
        let old_call = r.enter();
        assert_eq!(r.retire("a"), Vec::<&str>::new(), "a call that began before may run it");
        let new_call = r.enter();
        assert_eq!(r.pending(), 1);
        // A call that began after the retirement cannot reach it, but the old one can.
        assert_eq!(r.exit(new_call), Vec::<&str>::new());
        assert_eq!(r.exit(old_call), vec!["a"]);
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn with_no_call_running_retired_code_is_free_at_once() {
        let r = Reclaimer::default();
        assert_eq!(r.retire(1), vec![1]);
        let call = r.enter();
        assert!(r.retire(2).is_empty());
        assert!(r.retire(3).is_empty());
        let mut freed = r.exit(call);
        freed.sort();
        assert_eq!(freed, vec![2, 3]);
    }

    #[test]
    fn nested_calls_of_one_epoch_are_counted() {
        let r = Reclaimer::default();
        let (a, b) = (r.enter(), r.enter());
        assert_eq!(a, b);
        assert!(r.retire('x').is_empty());
        assert!(r.exit(a).is_empty(), "the second call of that epoch still runs");
        assert_eq!(r.exit(b), vec!['x']);
    }

    #[test]
    fn calls_of_several_epochs_each_hold_what_was_retired_while_they_ran() {
        let r = Reclaimer::default();
        let a = r.enter();
        assert!(r.retire('x').is_empty());
        let b = r.enter();
        assert!(r.retire('y').is_empty());
        let c = r.enter();
        assert!(r.exit(b).is_empty(), "a, which began first, may still run x and y");
        assert_eq!(r.exit(a), vec!['x', 'y'], "c began after both were retired");
        assert!(r.retire('z').is_empty(), "c may run z");
        assert_eq!(r.exit(c), vec!['z']);
    }
}
