//! Program output. Everything Ore prints goes through C's `stdout` stream, the same
//! buffer `puts` and `printf` called through `extern fn` use, so output appears in
//! program order even when stdout is a pipe or a file.

extern "C" {
    static mut stdout: *mut libc::FILE;
}

/// Writes `bytes` to C's stdout.
pub fn write(bytes: &[u8]) {
    // SAFETY: as in `print_line`.
    unsafe {
        libc::fwrite(bytes.as_ptr().cast(), 1, bytes.len(), stdout);
    }
}

/// Writes `bytes` and a newline to C's stdout.
pub fn print_line(bytes: &[u8]) {
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
