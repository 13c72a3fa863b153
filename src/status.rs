//! Exit statuses of the `ore` command (LANGUAGE.md's, and sysexits' for usage and
//! internal errors), and how an engine error is reported: shared by every
//! subcommand, `ore bench` included.

use ore::Error;

pub const EXIT_COMPILE_ERROR: u8 = 1;
pub const EXIT_RUNTIME_ERROR: u8 = 2;
/// EX_USAGE: bad command line.
pub const EXIT_USAGE: u8 = 64;
/// EX_SOFTWARE: Ore itself failed.
pub const EXIT_INTERNAL: u8 = 70;

/// Reports `e` on stderr, after what the program printed; returns its exit status.
pub fn report(e: &Error) -> u8 {
    ore::output::flush();
    let (status, text) = of_error(e);
    eprintln!("{text}");
    status
}

/// The exit status for `e`, and the text that reports it on stderr.
pub fn of_error(e: &Error) -> (u8, String) {
    match e {
        Error::Compile(e) => (EXIT_COMPILE_ERROR, e.to_string()),
        // `runtime error: MESSAGE`, then a line per frame.
        Error::Runtime { trace, .. } if trace.is_empty() => (EXIT_RUNTIME_ERROR, e.to_string()),
        Error::Runtime { trace, .. } => (EXIT_RUNTIME_ERROR, format!("{e}\n{trace}")),
        e => (EXIT_INTERNAL, format!("error: {e}")),
    }
}
