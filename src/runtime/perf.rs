//! Telling `perf` about JIT'd code (`ORE_PERF`): with `map`, a line per compiled
//! function in `/tmp/perf-PID.map` (address, size, name), which `perf report`
//! reads by itself; with `jitdump`, a `jit-PID.dump` file in `ORE_PERF_DIR` (or
//! /tmp) with each function's code too, for `perf inject --jit` and annotate.
//! Functions are recorded once their code is linked; nothing is written, or even
//! looked at, when `ORE_PERF` is unset.
//!
//! The jitdump format is perf's (tools/perf/Documentation/jitdump-specification.txt):
//! a header, then one `JIT_CODE_LOAD` record per function. perf finds the file
//! through the process's mapping of it, so its first page stays mapped
//! executable; timestamps are `CLOCK_MONOTONIC`, so record with `perf record -k mono`.

use parking_lot::Mutex;
use std::fs::File;
use std::io::Write;
use std::sync::OnceLock;

/// What `ORE_PERF` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PerfOutput {
    /// `/tmp/perf-PID.map`.
    Map,
    /// `jit-PID.dump`, code bytes included.
    Jitdump,
}

/// A compiled function, as the profiler sees it.
pub struct CodeRegion<'a> {
    /// The name to show.
    pub name: &'a str,
    pub address: u64,
    /// Its machine code (as compiled, before linking patched in addresses).
    pub code: &'a [u8],
}

struct Sink {
    file: File,
    kind: PerfOutput,
    /// Records written, the `code_index` of jitdump records.
    records: u64,
}

/// The process's profiler output, opened on first use; `None` if `ORE_PERF` is
/// unset or the file cannot be made (logged once).
fn sink() -> Option<&'static Mutex<Sink>> {
    static SINK: OnceLock<Option<Mutex<Sink>>> = OnceLock::new();
    SINK.get_or_init(|| {
        let kind = match std::env::var("ORE_PERF").ok()?.as_str() {
            "map" => PerfOutput::Map,
            "jitdump" => PerfOutput::Jitdump,
            other => {
                tracing::warn!("ORE_PERF={other:?}: use `map` or `jitdump`");
                return None;
            }
        };
        match open(kind) {
            Ok(file) => Some(Mutex::new(Sink { file, kind, records: 0 })),
            Err(e) => {
                tracing::warn!("ORE_PERF: cannot create {}: {e}", path(kind).display());
                None
            }
        }
    })
    .as_ref()
}

/// Whether compiled functions are recorded (`ORE_PERF` is set).
pub fn enabled() -> bool {
    sink().is_some()
}

/// The file profiler output goes to.
pub fn path(kind: PerfOutput) -> std::path::PathBuf {
    let pid = std::process::id();
    match kind {
        PerfOutput::Map => format!("/tmp/perf-{pid}.map").into(),
        PerfOutput::Jitdump => {
            let dir = std::env::var_os("ORE_PERF_DIR").unwrap_or_else(|| "/tmp".into());
            std::path::Path::new(&dir).join(format!("jit-{pid}.dump"))
        }
    }
}

fn open(kind: PerfOutput) -> std::io::Result<File> {
    let mut file = std::fs::OpenOptions::new().create(true).read(true).append(true).open(path(kind))?;
    if kind == PerfOutput::Jitdump {
        file.set_len(0)?;
        file.write_all(&jitdump_header())?;
        // perf learns of the file from this mapping (`perf inject --jit`); it stays
        // for the life of the process.
        // SAFETY: maps one page of a file we own, read-only; the mapping is never
        // touched by this process.
        let mapped = unsafe {
            use std::os::fd::AsRawFd;
            let page = libc::sysconf(libc::_SC_PAGESIZE) as usize;
            libc::mmap(std::ptr::null_mut(), page, libc::PROT_READ | libc::PROT_EXEC, libc::MAP_PRIVATE, file.as_raw_fd(), 0)
        };
        if mapped == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(file)
}

/// `CLOCK_MONOTONIC` in nanoseconds, perf's `-k mono`.
fn timestamp() -> u64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: fills the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

const JITDUMP_MAGIC: u32 = 0x4A69_5444;
const JITDUMP_VERSION: u32 = 1;
const JITDUMP_HEADER_BYTES: u32 = 40;
const JIT_CODE_LOAD: u32 = 0;
/// `jr_code_load` without its name and code.
const CODE_LOAD_BYTES: usize = 56;
const EM_X86_64: u32 = 62;
const EM_AARCH64: u32 = 183;

fn jitdump_header() -> Vec<u8> {
    let machine = if cfg!(target_arch = "aarch64") { EM_AARCH64 } else { EM_X86_64 };
    let mut header = Vec::with_capacity(JITDUMP_HEADER_BYTES as usize);
    for word in [JITDUMP_MAGIC, JITDUMP_VERSION, JITDUMP_HEADER_BYTES, machine, 0, std::process::id()] {
        header.extend_from_slice(&word.to_ne_bytes());
    }
    header.extend_from_slice(&timestamp().to_ne_bytes());
    header.extend_from_slice(&0u64.to_ne_bytes());
    header
}

/// Records functions whose code was just linked.
pub fn record(regions: &[CodeRegion<'_>]) {
    let Some(sink) = sink() else { return };
    let mut sink = sink.lock();
    let mut bytes = Vec::new();
    // One batch is one object, linked now on this thread.
    let now = timestamp();
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() } as u32;
    for region in regions {
        match sink.kind {
            PerfOutput::Map => {
                bytes.extend_from_slice(format!("{:x} {:x} {}\n", region.address, region.code.len(), region.name).as_bytes())
            }
            PerfOutput::Jitdump => {
                let total = CODE_LOAD_BYTES + region.name.len() + 1 + region.code.len();
                for word in [JIT_CODE_LOAD, total as u32] {
                    bytes.extend_from_slice(&word.to_ne_bytes());
                }
                bytes.extend_from_slice(&now.to_ne_bytes());
                for word in [std::process::id(), tid] {
                    bytes.extend_from_slice(&word.to_ne_bytes());
                }
                let index = sink.records;
                for word in [region.address, region.address, region.code.len() as u64, index] {
                    bytes.extend_from_slice(&word.to_ne_bytes());
                }
                bytes.extend_from_slice(region.name.as_bytes());
                bytes.push(0);
                bytes.extend_from_slice(region.code);
            }
        }
        sink.records += 1;
    }
    // One write per batch: with O_APPEND, whole records even if others write too.
    if let Err(e) = sink.file.write_all(&bytes) {
        tracing::warn!("ORE_PERF: cannot write: {e}");
    }
}
