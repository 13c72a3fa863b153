//! Program output. Everything Ore prints goes through C's `stdout` stream, the same
//! buffer `puts` and `printf` called through `extern fn` use, so output appears in
//! program order even when stdout is a pipe or a file.
//!
//! A call may instead *capture* what Ore's `print` (and Python, when Ore started it)
//! writes on its thread, as the server does for each request. C functions writing to
//! `stdout` themselves are not captured.

use std::cell::RefCell;

extern "C" {
    static mut stdout: *mut libc::FILE;
}

/// Output captured from one call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Captured {
    pub bytes: Vec<u8>,
    /// Output beyond the capture's limit was dropped.
    pub truncated: bool,
}

struct Capture {
    out: Captured,
    limit: usize,
}

thread_local! {
    static CAPTURE: RefCell<Option<Capture>> = const { RefCell::new(None) };
}

/// Runs `f`, collecting up to `limit` bytes of what it prints on this thread instead
/// of writing them to stdout.
pub fn capture<R>(limit: usize, f: impl FnOnce() -> R) -> (R, Captured) {
    let fresh = Capture { out: Captured::default(), limit };
    let outer = CAPTURE.with(|c| c.replace(Some(fresh)));
    let result = f();
    let mine = CAPTURE.with(|c| c.replace(outer)).expect("capture is restored in order");
    (result, mine.out)
}

/// Appends to this thread's capture, if there is one; `false` if there is none.
fn captured(parts: &[&[u8]]) -> bool {
    CAPTURE.with(|c| {
        let mut c = c.borrow_mut();
        let Some(cap) = c.as_mut() else { return false };
        for part in parts {
            let room = cap.limit.saturating_sub(cap.out.bytes.len());
            cap.out.truncated |= part.len() > room;
            cap.out.bytes.extend_from_slice(&part[..part.len().min(room)]);
        }
        true
    })
}

/// Writes `bytes` to C's stdout (or the capture).
pub fn write(bytes: &[u8]) {
    if captured(&[bytes]) {
        return;
    }
    // SAFETY: as in `print_line`.
    unsafe {
        libc::fwrite(bytes.as_ptr().cast(), 1, bytes.len(), stdout);
    }
}

/// Writes `bytes` and a newline to C's stdout (or the capture).
pub fn print_line(bytes: &[u8]) {
    if captured(&[bytes, b"\n"]) {
        return;
    }
    // SAFETY: `stdout` is libc's stream, initialised before main; stdio locks it
    // internally, so concurrent writers interleave whole writes.
    unsafe {
        let out = stdout;
        libc::fwrite(bytes.as_ptr().cast(), 1, bytes.len(), out);
        libc::fputc(b'\n' as i32, out);
    }
}

/// Flushes C's stdout, e.g. before reporting an error on stderr or exiting.
pub fn flush() {
    // SAFETY: as above.
    unsafe {
        libc::fflush(stdout);
    }
}
