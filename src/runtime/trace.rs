//! The Ore call stack of a runtime error, recorded on the way out.
//!
//! Nothing is recorded while code runs. Each place a function leaves from after an
//! error (the failing operation, or the call that failed) has a cold block that
//! passes the function's names and that place (`abi::site`) to `ore.rt.frame`, or
//! to `ore.rt.trap` with the error itself (`codegen::checks`). So each frame is
//! added as control comes back through it, innermost first, and the success path
//! has no instruction for traces at all.
//!
//! A host function between two Ore frames (a Rust closure or a Python callable that
//! called back into the JIT) is a frame too: a nested call that fails leaves its
//! trace on the thread (`NESTED`), and the runtime function that called out to the
//! host adopts it if the host's error carries the nested error's message (it was
//! passed on, not handled).

use super::RuntimeError;
use std::cell::RefCell;
use std::fmt;

/// Frames kept per trace, innermost first; deeper ones are counted in
/// `Trace::omitted` (a stack overflow can unwind through thousands).
pub const MAX_FRAMES: usize = 100;

/// Where in an Ore source file: what a trace's frames point at.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Location {
    /// The module's name (`ore run`'s FILE, `<load>` for code given to `load`).
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub column: u32,
}

/// One frame of a trace.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Frame {
    /// The Ore function, or the host function.
    pub function: String,
    /// In the innermost Ore frame, the operation that failed; in the others, the
    /// call that did. `None` for a host function.
    #[serde(flatten)]
    pub location: Option<Location>,
}

/// The Ore call stack of a runtime error, innermost frame first.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Trace {
    /// At most `MAX_FRAMES` frames.
    pub frames: Vec<Frame>,
    /// Frames beyond `frames`, further out, that were not kept.
    pub omitted: usize,
}

impl Trace {
    fn push(&mut self, frame: impl FnOnce() -> Frame) {
        if self.frames.len() < MAX_FRAMES {
            self.frames.push(frame());
        } else {
            self.omitted += 1;
        }
    }

    fn append(&mut self, inner: Trace) {
        self.omitted += inner.omitted;
        for frame in inner.frames {
            self.push(|| frame);
        }
    }

    /// Whether it has no frame (an error raised outside Ore code).
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty() && self.omitted == 0
    }
}

/// One `  at FUNCTION (FILE:LINE:COLUMN)` line per frame, a run of identical
/// frames (direct recursion) shown once with its count.
impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut frames = self.frames.iter().peekable();
        let mut first = true;
        while let Some(frame) = frames.next() {
            let mut repeated = 0;
            while frames.next_if_eq(&frame).is_some() {
                repeated += 1;
            }
            if !first {
                writeln!(f)?;
            }
            first = false;
            match &frame.location {
                Some(l) => write!(f, "  at {} ({}:{}:{})", frame.function, l.file, l.line, l.column)?,
                None => write!(f, "  at {} (host function)", frame.function)?,
            }
            if repeated > 0 {
                write!(f, "\n  [the frame above repeated {repeated} more times]")?;
            }
        }
        if self.omitted > 0 {
            write!(f, "\n  ... {} more frames", self.omitted)?;
        }
        Ok(())
    }
}

/// A runtime error and where it happened: how a call from the host fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub error: RuntimeError,
    pub trace: Trace,
}

/// Adds the frame `ore.rt.frame` describes: a function and its module (`names`)
/// at `site`; names are read only for frames that are kept.
pub(super) fn record(trace: &RefCell<Trace>, names: impl FnOnce() -> (String, String), site: i64) {
    let (line, column) = crate::abi::site::unpack(site);
    trace.borrow_mut().push(|| {
        let (function, file) = names();
        Frame { function, location: Some(Location { file, line, column }) }
    });
}

thread_local! {
    /// The failure of the last nested call from the host on this thread (a call a
    /// host function made back into the JIT), until the host function returns.
    static NESTED: RefCell<Option<Failure>> = const { RefCell::new(None) };
}

/// Keeps a nested call's failure for the host function that made the call.
pub(super) fn leave_nested(failure: &Failure) {
    NESTED.with(|n| *n.borrow_mut() = Some(failure.clone()));
}

/// Runs host function `function`, which may call back into the JIT; if it fails
/// by passing on a nested call's error, the nested call's frames and a frame for
/// the host function go into `trace`, ahead of the Ore frames added as the error
/// returns through them.
pub(super) fn across_host<T>(
    trace: &RefCell<Trace>,
    function: &str,
    run: impl FnOnce() -> Result<T, RuntimeError>,
) -> Result<T, RuntimeError> {
    NESTED.with(|n| n.borrow_mut().take());
    let result = run();
    let nested = NESTED.with(|n| n.borrow_mut().take());
    if let (Err(error), Some(nested)) = (&result, nested) {
        if error.to_string().contains(&nested.error.to_string()) {
            let mut trace = trace.borrow_mut();
            trace.append(nested.trace);
            trace.push(|| Frame { function: function.to_string(), location: None });
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(function: &str, line: u32) -> Frame {
        Frame { function: function.into(), location: Some(Location { file: "p.ore".into(), line, column: 5 }) }
    }

    #[test]
    fn display_collapses_recursion_and_counts_omitted_frames() {
        let trace = Trace { frames: vec![at("f", 2), at("f", 2), at("f", 2), at("main", 9)], omitted: 7 };
        assert_eq!(
            trace.to_string(),
            "  at f (p.ore:2:5)\n  [the frame above repeated 2 more times]\n  at main (p.ore:9:5)\n  ... 7 more frames"
        );
        let host = Trace { frames: vec![Frame { function: "cb".into(), location: None }], omitted: 0 };
        assert_eq!(host.to_string(), "  at cb (host function)");
    }

    #[test]
    fn frames_past_the_limit_are_counted() {
        let trace = RefCell::new(Trace::default());
        for _ in 0..MAX_FRAMES + 3 {
            record(&trace, || ("f".into(), "p.ore".into()), crate::abi::site::pack(4, 12));
        }
        let trace = trace.into_inner();
        assert_eq!((trace.frames.len(), trace.omitted), (MAX_FRAMES, 3));
        assert_eq!(trace.frames[0], Frame { function: "f".into(), location: Some(Location { file: "p.ore".into(), line: 4, column: 12 }) });
    }

    #[test]
    fn a_host_function_adopts_the_nested_failure_it_passes_on() {
        let nested = Failure { error: RuntimeError::DivisionByZero, trace: Trace { frames: vec![at("inner", 3)], omitted: 0 } };
        let trace = RefCell::new(Trace::default());
        leave_nested(&nested);
        // Handled: the host's own error does not carry the nested one.
        let handled = across_host(&trace, "cb", || {
            leave_nested(&nested);
            Err::<(), _>(RuntimeError::HostError { function: "cb".into(), message: "no".into() })
        });
        assert!(handled.is_err() && trace.borrow().is_empty());
        let passed_on = across_host(&trace, "cb", || {
            leave_nested(&nested);
            Err::<(), _>(RuntimeError::HostError { function: "cb".into(), message: "runtime error: division by zero".into() })
        });
        assert!(passed_on.is_err());
        assert_eq!(trace.borrow().frames, vec![at("inner", 3), Frame { function: "cb".into(), location: None }]);
    }
}
