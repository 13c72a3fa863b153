//! Program output. Everything Ore prints goes through C's `stdout` stream, the same
//! buffer `puts` and `printf` called through `extern fn` use, so output appears in
//! program order even when stdout is a pipe or a file.
//!
//! A call may instead *capture* what Ore's `print` (and Python, when Ore started it)
//! writes on its thread, and the diagnostics of a failed `load`, as the server does
//! for each request. C functions writing to `stdout` themselves are not captured.

use std::cell::RefCell;

extern "C" {
    static mut stdout: *mut libc::FILE;
}

/// Output captured from one call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Captured {
    /// What the call printed.
    pub stdout: Vec<u8>,
    /// Diagnostics the call would have written to stderr (a failed `load`).
    pub stderr: Vec<u8>,
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
    /// Puts the enclosing capture back, even if `f` panics (threads are reused).
    struct Restore(Option<Option<Capture>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(outer) = self.0.take() {
                CAPTURE.with(|c| c.replace(outer));
            }
        }
    }
    let fresh = Capture { out: Captured::default(), limit };
    let mut restore = Restore(Some(CAPTURE.with(|c| c.replace(Some(fresh)))));
    let result = f();
    let outer = restore.0.take().expect("taken only here or on drop");
    let mine = CAPTURE.with(|c| c.replace(outer)).expect("capture is restored in order");
    (result, mine.out)
}

/// Appends to this thread's capture (its stdout, or its stderr if `error`), if
/// there is one; `false` if there is none. The limit counts both.
fn captured(error: bool, parts: &[&[u8]]) -> bool {
    CAPTURE.with(|c| {
        let mut c = c.borrow_mut();
        let Some(cap) = c.as_mut() else { return false };
        for part in parts {
            let room = cap.limit.saturating_sub(cap.out.stdout.len() + cap.out.stderr.len());
            cap.out.truncated |= part.len() > room;
            let buffer = if error { &mut cap.out.stderr } else { &mut cap.out.stdout };
            buffer.extend_from_slice(&part[..part.len().min(room)]);
        }
        true
    })
}

/// Writes `bytes` to C's stdout (or the capture).
pub fn write(bytes: &[u8]) {
    if captured(false, &[bytes]) {
        return;
    }
    // SAFETY: as in `print_line`.
    unsafe {
        libc::fwrite(bytes.as_ptr().cast(), 1, bytes.len(), stdout);
    }
}

/// Writes `bytes` and a newline to C's stdout (or the capture).
pub fn print_line(bytes: &[u8]) {
    if captured(false, &[bytes, b"\n"]) {
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

/// Reports a diagnostic on stderr (after flushing stdout, to keep the order), or to
/// the capture.
pub fn diagnostic(text: &str) {
    if captured(true, &[text.as_bytes(), b"\n"]) {
        return;
    }
    flush();
    eprintln!("{text}");
}
