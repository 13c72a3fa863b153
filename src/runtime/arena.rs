//! Array storage. An Ore array is a pointer to an `ArrayHeader` (`abi::array`):
//! its length and where its 8-byte elements are (i64, or f64 bit patterns). An
//! array Ore makes is one block, the header followed by the elements; an array
//! lent by the host (`lend`) is a header pointing at the host's memory. Arrays
//! live until the outermost call from the host into the JIT on this thread
//! returns (LANGUAGE.md), so they go into a thread-local arena emptied when that
//! call ends. The outermost call may limit the bytes its arrays take at once
//! (`enter`); going over is a runtime error.
//!
//! Arrays a function made can be freed when it returns, earlier than that, if it
//! returns no array: none of them can be reached then (Ore has no globals, array
//! elements are numbers, and no `extern fn`, host function or Python call takes an
//! array). Such a function takes a `mark` when it is called and `release`s to it
//! when it returns, so a loop calling it holds one call's arrays at a time, not all
//! of them.

//!
//! Besides each call's budget, one process-wide cap bounds the bytes that the
//! arenas of all threads hold at once (`set_process_limit`), so that many calls,
//! each within its own budget, cannot exhaust the machine together.

use super::RuntimeError;
use crate::abi;
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Bytes held by the arenas of every thread.
static PROCESS_BYTES: AtomicU64 = AtomicU64::new(0);
/// The most `PROCESS_BYTES` may reach.
static PROCESS_LIMIT: AtomicU64 = AtomicU64::new(u64::MAX);

/// Caps the bytes that arrays and strings of all calls in the process may take
/// together; going over is the runtime error `memory limit exceeded`.
pub fn set_process_limit(bytes: u64) {
    PROCESS_LIMIT.store(bytes, Relaxed);
}

/// Bytes the arenas of all threads hold now.
pub fn process_bytes() -> u64 {
    PROCESS_BYTES.load(Relaxed)
}

/// Arrays longer than this are refused with an error instead of risking the process.
pub const MAX_ARRAY_LEN: i64 = 1 << 32;

thread_local! {
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    static ARRAYS: RefCell<Vec<Box<[i64]>>> = const { RefCell::new(Vec::new()) };
    /// Strings made during the call (`py_eval_str`, `py_call_str`), NUL-terminated.
    static STRINGS: RefCell<Vec<Box<[u8]>>> = const { RefCell::new(Vec::new()) };
    /// Bytes the arrays of the outermost call may still take.
    static BUDGET: Cell<u64> = const { Cell::new(u64::MAX) };
    /// Bytes this thread's arena holds, counted in `PROCESS_BYTES`.
    static HELD: Cell<u64> = const { Cell::new(0) };
}

/// Starts a host call; `limit` (bytes of arrays) counts only for an outermost call,
/// since nested calls share its arena. Returns whether it is the outermost.
pub fn enter(limit: Option<u64>) -> bool {
    let outermost = DEPTH.with(|d| d.replace(d.get() + 1)) == 0;
    if outermost {
        BUDGET.with(|b| b.set(limit.unwrap_or(u64::MAX)));
    }
    outermost
}

pub fn leave() {
    let outermost = DEPTH.with(|d| {
        d.set(d.get() - 1);
        d.get() == 0
    });
    // Most calls make no arrays: they need not touch the process-wide counter.
    if outermost && HELD.with(Cell::get) > 0 {
        // Take the arrays out first so no RefCell borrow is held while they drop.
        let arrays = ARRAYS.with(|a| std::mem::take(&mut *a.borrow_mut()));
        let strings = STRINGS.with(|s| std::mem::take(&mut *s.borrow_mut()));
        drop((arrays, strings));
        PROCESS_BYTES.fetch_sub(HELD.with(|h| h.replace(0)), Relaxed);
    }
}

/// Where the arena is now, for `release`: the blocks it holds.
pub fn mark() -> usize {
    ARRAYS.with(|a| a.borrow().len())
}

/// Frees the arrays made since `mark` was taken, giving their bytes back to the
/// outermost call's budget and the process's cap. The caller guarantees that
/// nothing reaches them any more (the module comment says when).
pub fn release(mark: usize) {
    let bytes = ARRAYS.with(|a| {
        let mut arrays = a.borrow_mut();
        let Some(freed) = arrays.get(mark..) else { return 0 };
        let bytes: usize = freed.iter().map(|block| std::mem::size_of_val(&**block)).sum();
        // Dropping a block frees its memory and nothing else: no borrow of the
        // arena is taken again meanwhile.
        arrays.truncate(mark);
        bytes as u64
    });
    if bytes > 0 {
        HELD.with(|h| h.set(h.get() - bytes));
        PROCESS_BYTES.fetch_sub(bytes, Relaxed);
        BUDGET.with(|b| b.set(b.get().saturating_add(bytes)));
    }
}

/// What an Ore array points at.
#[repr(C)]
struct ArrayHeader {
    len: i64,
    data: *mut i64,
}

const _: () = assert!(std::mem::offset_of!(ArrayHeader, len) == abi::array::LEN as usize);
const _: () = assert!(std::mem::offset_of!(ArrayHeader, data) == abi::array::DATA as usize);
/// The header's size in 8-byte words.
const HEADER_WORDS: usize = std::mem::size_of::<ArrayHeader>() / 8;

/// Keeps `block` (a header, then its elements if it has them) in the arena and
/// points its header at `data`, or at its own elements; returns the array.
fn store(block: Vec<i64>, data: Option<*mut i64>) -> *mut i64 {
    // Addresses are taken from the Box, whose buffer does not move from here on.
    let mut block = block.into_boxed_slice();
    let array = block.as_mut_ptr();
    // SAFETY: the block holds at least the header's words; `array` is the start
    // of its allocation, aligned for `ArrayHeader` (two 8-byte words).
    unsafe {
        let header = array.cast::<ArrayHeader>();
        (*header).data = data.unwrap_or_else(|| array.add(HEADER_WORDS));
    }
    ARRAYS.with(|a| a.borrow_mut().push(block));
    array
}

/// A block with room for the header and `len` elements, charged to the budgets,
/// with the header's words pushed (the data pointer is set by `store`).
fn reserve(len: i64) -> Result<Vec<i64>, RuntimeError> {
    if len < 0 {
        return Err(RuntimeError::NegativeArrayLength(len));
    }
    if len > MAX_ARRAY_LEN {
        return Err(RuntimeError::OutOfMemory(len));
    }
    let mut block = charged_block(len as usize + HEADER_WORDS, len)?;
    block.extend([len, 0]);
    Ok(block)
}

/// An empty Vec with room for `count` elements, charged to the budgets; `len` is
/// what errors report.
fn charged_block<T>(count: usize, len: i64) -> Result<Vec<T>, RuntimeError> {
    charge((count * std::mem::size_of::<T>()) as u64).map_err(|()| RuntimeError::MemoryLimit(len))?;
    let mut block = Vec::new();
    block.try_reserve_exact(count).map_err(|_| RuntimeError::OutOfMemory(len))?;
    Ok(block)
}

/// Takes `bytes` from the outermost call's budget and from the process's cap.
fn charge(bytes: u64) -> Result<(), ()> {
    let left = BUDGET.with(Cell::get).checked_sub(bytes).ok_or(())?;
    let limit = PROCESS_LIMIT.load(Relaxed);
    PROCESS_BYTES.fetch_update(Relaxed, Relaxed, |held| held.checked_add(bytes).filter(|&total| total <= limit)).map_err(drop)?;
    HELD.with(|h| h.set(h.get() + bytes));
    BUDGET.with(|b| b.set(left));
    Ok(())
}

/// Copies `text` (without NUL bytes) into the arena as a NUL-terminated Ore `str`.
#[cfg(feature = "python")]
pub fn alloc_str(text: &[u8]) -> Result<*const std::ffi::c_char, RuntimeError> {
    let mut block = charged_block(text.len() + 1, text.len() as i64)?;
    block.extend_from_slice(text);
    block.push(0);
    let block = block.into_boxed_slice();
    let ptr = block.as_ptr().cast();
    STRINGS.with(|s| s.borrow_mut().push(block));
    Ok(ptr)
}

pub fn alloc_filled(len: i64, fill: i64) -> Result<*mut i64, RuntimeError> {
    let mut block = reserve(len)?;
    block.resize(len as usize + HEADER_WORDS, fill);
    Ok(store(block, None))
}

/// An array of `elements`, as many as their `len()` says: an iterator that yields
/// more or fewer (the trait cannot promise it) gets its excess dropped or its
/// shortfall zeroed, so the block is always the header's length, and the bytes
/// charged, which `release` gives back.
pub fn alloc_from(elements: impl ExactSizeIterator<Item = i64>) -> Result<*mut i64, RuntimeError> {
    let len = elements.len();
    let mut block = reserve(len as i64)?;
    block.extend(elements.take(len));
    block.resize(len + HEADER_WORDS, 0);
    Ok(store(block, None))
}

/// An array whose elements are the host's `len` words at `data`: only its header
/// is in the arena.
///
/// # Safety
/// `data` must point at `len` initialised 8-byte words that Ore code may read and
/// write, and nothing else may access them, until the host call that lends them
/// ends. (The header lives on, to the end of the outermost call, but nothing
/// reaches it: a call's results are copied out, and Ore has no globals.)
pub unsafe fn lend(data: *mut i64, len: usize) -> Result<*mut i64, RuntimeError> {
    let len = i64::try_from(len).map_err(|_| RuntimeError::OutOfMemory(i64::MAX))?;
    if len > MAX_ARRAY_LEN {
        return Err(RuntimeError::OutOfMemory(len));
    }
    let mut block = charged_block(HEADER_WORDS, len)?;
    block.extend([len, 0]);
    Ok(store(block, Some(data)))
}

/// # Safety
/// `ptr` must be an array pointer from this arena, still alive.
pub unsafe fn read(ptr: *const i64) -> Vec<i64> {
    // SAFETY: an arena array is a header whose data pointer points at `len` live
    // elements (the caller's contract).
    unsafe {
        let header = &*ptr.cast::<ArrayHeader>();
        std::slice::from_raw_parts(header.data, header.len as usize).to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` inside an outermost host call with the given budget, on a fresh
    /// thread (the arena is thread-local).
    fn in_call<T: Send + 'static>(limit: Option<u64>, f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::spawn(move || {
            assert!(enter(limit), "outermost");
            let result = f();
            leave();
            result
        })
        .join()
        .unwrap()
    }

    #[test]
    fn the_budget_covers_every_array_and_string_of_the_call() {
        let outcome = in_call(Some(100), || {
            let a = alloc_filled(4, 7).is_ok(); // 48 bytes with the header
            let s = alloc_str(b"0123456789").is_ok(); // 11 bytes
            let b = alloc_filled(6, 0).map(drop); // 64 more: over 100
            (a, s, b)
        });
        assert!(outcome.0 && outcome.1);
        assert_eq!(outcome.2, Err(RuntimeError::MemoryLimit(6)));
    }

    #[test]
    fn nested_calls_share_the_outermost_budget() {
        let refused = in_call(Some(80), || {
            assert!(!enter(Some(u64::MAX)), "nested");
            let first = alloc_filled(5, 0).is_ok(); // 56 bytes
            leave();
            // Arrays of the nested call live on, and still count.
            (first, alloc_filled(5, 0).map(drop))
        });
        assert_eq!(refused, (true, Err(RuntimeError::MemoryLimit(5))));
    }

    #[test]
    fn lengths_are_checked_before_any_memory_is_taken() {
        let (negative, huge) = in_call(None, || (alloc_filled(-3, 0).map(drop), alloc_filled(MAX_ARRAY_LEN + 1, 0).map(drop)));
        assert_eq!(negative, Err(RuntimeError::NegativeArrayLength(-3)));
        assert_eq!(huge, Err(RuntimeError::OutOfMemory(MAX_ARRAY_LEN + 1)));
    }

    #[test]
    fn a_release_frees_the_arrays_made_since_its_mark_and_credits_their_bytes() {
        let before = process_bytes();
        let (kept, reused, refused) = in_call(Some(200), || {
            let kept = alloc_from([7, 8].into_iter()).unwrap(); // 32 bytes
            let mark = mark();
            alloc_filled(10, 1).unwrap(); // 96 bytes, then 112 would be over 200
            let refused = alloc_filled(12, 1).map(drop);
            release(mark);
            // The budget has the 96 bytes back.
            // SAFETY: both were made in this call, which still runs; `kept` before
            // the mark, so the release left it.
            let read_now = |p: *mut i64| unsafe { read(p) };
            (read_now(kept), alloc_filled(12, 3).map(read_now), refused)
        });
        assert_eq!(kept, vec![7, 8], "an array made before the mark stays");
        assert_eq!(reused, Ok(vec![3; 12]));
        assert_eq!(refused, Err(RuntimeError::MemoryLimit(12)));
        assert!(process_bytes() <= before + 1024, "{} bytes still held", process_bytes() - before);
    }

    /// Says it yields `claimed` elements, and yields `actual`.
    struct Lying {
        claimed: usize,
        actual: std::ops::Range<i64>,
    }
    impl Iterator for Lying {
        type Item = i64;
        fn next(&mut self) -> Option<i64> {
            self.actual.next()
        }
        fn size_hint(&self) -> (usize, Option<usize>) {
            (self.claimed, Some(self.claimed))
        }
    }
    impl ExactSizeIterator for Lying {}

    #[test]
    fn an_array_from_a_lying_iterator_has_the_length_it_was_charged_for() {
        let before = process_bytes();
        let (long, short) = in_call(None, || {
            let mark = mark();
            let long = alloc_from(Lying { claimed: 2, actual: 1..100 }).unwrap();
            let short = alloc_from(Lying { claimed: 4, actual: 1..3 }).unwrap();
            // SAFETY: both were made in this call, which still runs.
            let read_now = |p: *mut i64| unsafe { read(p) };
            let read = (read_now(long), read_now(short));
            // Gives back exactly what was charged (more would underflow the counts).
            release(mark);
            read
        });
        assert_eq!((long, short), (vec![1, 2], vec![1, 2, 0, 0]));
        assert!(process_bytes() <= before + 1024, "{} bytes still held", process_bytes() - before);
    }

    #[test]
    fn arrays_are_readable_until_the_call_ends_and_their_bytes_return() {
        let before = process_bytes();
        let values = in_call(None, || {
            let p = alloc_from([1, 2, 3].into_iter()).unwrap();
            // SAFETY: `p` was allocated in this call, which is still running.
            unsafe { read(p) }
        });
        assert_eq!(values, vec![1, 2, 3]);
        // Other tests may hold arena bytes at the same moment; this call's are back.
        assert!(process_bytes() <= before + 1024, "{} bytes still held", process_bytes() - before);
    }
}
