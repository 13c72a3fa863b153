//! `ORE_PERF`: the perf map and the jitdump name every compiled function with its
//! real address and size, and, where perf may run, `perf report` shows Ore names.
//! `ORE_PERF` is read once per process, so every part runs in a process of its
//! own: the map's in this binary started again (`map_in_a_process_of_its_own`),
//! the jitdump and perf runs in `ore`.

use ore::{Config, Namespace, OptLevel, Value};
use std::process::Command;
use std::sync::Mutex;

/// Return addresses on the stack of every `where_am_i` call.
static STACK: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// What `map_in_a_process_of_its_own` says when no return address lies in any
/// compiled function.
const NO_JIT_FRAME: &str = "no return address in a function of the map";

/// `(address, size, name)` of each line of a perf map.
fn parse_map(text: &str) -> Vec<(u64, u64, String)> {
    text.lines()
        .map(|line| {
            let mut fields = line.splitn(3, ' ');
            let mut hex = || u64::from_str_radix(fields.next().unwrap(), 16).unwrap();
            let (address, size) = (hex(), hex());
            (address, size, fields.next().unwrap().to_string())
        })
        .collect()
}

#[test]
fn the_perf_map_holds_each_function_where_its_code_runs() {
    // The return addresses come from `backtrace()`, whose unwinder (libgcc's) now
    // and then finds no unwind entry for the first JIT'd frame and stops there
    // (about one run in 30 under load; the map was right each time): a process
    // whose stacks hold no return address inside any function of the map tries
    // again, twice.
    for attempt in 1.. {
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "map_in_a_process_of_its_own", "--ignored", "--nocapture"])
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
        if out.status.success() && said.contains("1 passed") {
            break;
        }
        assert!(attempt < 3 && said.contains(NO_JIT_FRAME), "attempt {attempt}:\n{said}");
    }
    jitdump_and_map_agree();
}

#[test]
#[ignore = "run by the_perf_map_holds_each_function_where_its_code_runs in a process of its own"]
fn map_in_a_process_of_its_own() {
    // SAFETY: set before this process starts any other thread that reads the
    // environment (the only test this process runs, before any engine exists).
    unsafe { std::env::set_var("ORE_PERF", "map") };
    // The map is appended to: a process that had this id before may have left one.
    let _ = std::fs::remove_file(format!("/tmp/perf-{}.map", std::process::id()));
    let ns = Namespace::new(Config { opt_level: OptLevel::O0, ..Config::default() }).unwrap();
    ns.register("where_am_i", || -> i64 {
        let mut frames = [std::ptr::null_mut(); 64];
        // SAFETY: fills at most 64 entries of the buffer.
        let n = unsafe { libc::backtrace(frames.as_mut_ptr(), 64) };
        STACK.lock().unwrap().extend(frames[..n.max(0) as usize].iter().map(|&p| p as usize));
        1
    })
    .unwrap();
    // At -O0, `probe`'s object holds `probe` and, after it, its copy of `g` (called
    // in a loop, not inlined at -O0), so the second function's offset counts.
    let source = "extern fn where_am_i() -> i64;
fn g() -> i64 { where_am_i() + 1 }
fn probe() -> i64 { var s = where_am_i(); var i = 0; while i < 1 { s = s + g(); i = i + 1; } s }
fn unused() -> i64 { 2 }";
    ns.add_module("probe.ore", source).unwrap();
    assert_eq!(ns.call("probe", &[]).unwrap(), Value::I64(3));
    let map = std::fs::read_to_string(format!("/tmp/perf-{}.map", std::process::id())).expect("ORE_PERF=map writes the map");
    let _ = std::fs::remove_file(format!("/tmp/perf-{}.map", std::process::id()));
    let entries = parse_map(&map);
    let mut names: Vec<&str> = entries.iter().map(|e| e.2.as_str()).collect();
    names.sort();
    assert_eq!(names, ["g (copy)", "probe"], "compiled functions only, once each");
    let stack = STACK.lock().unwrap().clone();
    let inside = |(start, size, _): &(u64, u64, String)| stack.iter().any(|&ra| (*start..start + size).contains(&(ra as u64)));
    assert!(entries.iter().any(inside), "{NO_JIT_FRAME}:\n{stack:x?}\n{map}");
    for entry in &entries {
        assert!(
            inside(entry),
            "a return address of a where_am_i call lies in {}'s [{:x}, +{:x}):\n{stack:x?}\n{map}",
            entry.2,
            entry.0,
            entry.1
        );
    }
    let mut ranges: Vec<_> = entries.iter().map(|e| (e.0, e.0 + e.1)).collect();
    ranges.sort();
    assert!(ranges.windows(2).all(|w| w[0].1 <= w[1].0), "entries do not overlap:\n{map}");
}

/// The jitdump of a program lists the functions of its perf map, with the same
/// sizes.
fn jitdump_and_map_agree() {
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("p.ore");
    std::fs::write(&prog, "fn f(x: i64) -> i64 { x * 3 }\nfn main() -> i64 { f(2) }\n").unwrap();
    // Runs the program under ORE_PERF=kind; returns the process id.
    let ore = |kind: &str| {
        let child = Command::new(env!("CARGO_BIN_EXE_ore"))
            .arg("run")
            .arg(&prog)
            .env("ORE_PERF", kind)
            .env("ORE_PERF_DIR", dir.path())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let out = child.wait_with_output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "6\n");
        pid
    };
    let pid = ore("map");
    let map_path = format!("/tmp/perf-{pid}.map");
    let sizes: Vec<(String, u64)> = parse_map(&std::fs::read_to_string(&map_path).unwrap()).into_iter().map(|e| (e.2, e.1)).collect();
    let _ = std::fs::remove_file(map_path);
    ore("jitdump");
    let dump = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).find(|p| p.extension().is_some_and(|e| e == "dump"));
    let records = jitdump_records(&std::fs::read(dump.expect("a jit-PID.dump in ORE_PERF_DIR")).unwrap());
    let dumped: Vec<(String, u64)> = records.iter().map(|r| (r.0.clone(), r.2)).collect();
    assert_eq!(dumped.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), ["main", "f"], "in compile order");
    assert_eq!(dumped, sizes, "the same functions and sizes as the map");
    assert!(records.iter().all(|r| r.2 > 0 && r.3.len() as u64 == r.2), "code bytes of each size");

    perf_report_shows_ore_names(dir.path());
}

/// Where `perf record` may run (it is installed, and `perf_event_paranoid`
/// allows it), its report names the Ore function the time went to.
fn perf_report_shows_ore_names(dir: &std::path::Path) {
    let prog = dir.join("hot.ore");
    std::fs::write(&prog, "fn spin(n: i64) -> i64 {\n  var s = 0;\n  var i = 0;\n  while i < n { s = s + i * i % 7; i = i + 1; }\n  s\n}\nfn main() -> i64 { spin(100000000) }\n").unwrap();
    let data = dir.join("perf.data");
    let recorded = Command::new("perf")
        .args(["record", "-q", "-F", "999", "-o"])
        .arg(&data)
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_ore"))
        .arg("run")
        .arg(&prog)
        .env("ORE_PERF", "map")
        .output();
    match recorded {
        Ok(out) if out.status.success() && data.exists() => {}
        Ok(out) => return eprintln!("skipped: perf record is not permitted here: {}", String::from_utf8_lossy(&out.stderr)),
        Err(e) => return eprintln!("skipped: no perf: {e}"),
    }
    let report = Command::new("perf").args(["report", "--stdio", "--no-children", "-i"]).arg(&data).output().unwrap();
    let text = String::from_utf8_lossy(&report.stdout);
    let top = text.lines().find(|l| !l.starts_with('#') && !l.trim().is_empty()).unwrap_or_default();
    assert!(top.contains("[JIT]") && top.trim_end().ends_with("[.] spin"), "the hottest symbol is spin, by name:\n{text}");
}

/// `(name, address, size, code)` of each `JIT_CODE_LOAD` record, after checking
/// the header.
fn jitdump_records(bytes: &[u8]) -> Vec<(String, u64, u64, Vec<u8>)> {
    let u32_at = |at: usize| u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap());
    let u64_at = |at: usize| u64::from_ne_bytes(bytes[at..at + 8].try_into().unwrap());
    assert_eq!((u32_at(0), u32_at(4), u32_at(8)), (0x4A69_5444, 1, 40), "magic, version, header size");
    let mut records = Vec::new();
    let mut at = 40;
    while at < bytes.len() {
        let (id, total) = (u32_at(at), u32_at(at + 4) as usize);
        assert_eq!(id, 0, "JIT_CODE_LOAD");
        let (address, size) = (u64_at(at + 24), u64_at(at + 40));
        let name_end = at + 56 + bytes[at + 56..].iter().position(|&b| b == 0).unwrap();
        let name = String::from_utf8(bytes[at + 56..name_end].to_vec()).unwrap();
        records.push((name, address, size, bytes[name_end + 1..at + total].to_vec()));
        at += total;
    }
    records
}
