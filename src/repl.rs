//! `ore repl`: definitions added to one namespace as they are typed (and
//! redefined at will), expressions evaluated and printed with their type, and a
//! few `:` commands. Line editing and history (rustyline) on a terminal; piped
//! input is read line by line, without prompts, so sessions can be scripted.

use ore::{output, Config, FunctionState, Namespace, OptLevel, Value};
use rustyline::error::ReadlineError;
use std::io::{BufRead, IsTerminal};

const HELP: &str = "\
Type Ore: `fn` and `extern fn` items are added (a new definition replaces the old
one for every caller); anything else runs as statements and an expression, whose
value is printed with its type. Input continues over lines while brackets are open.
  :load FILE     add FILE's functions
  :ir NAME       the optimised LLVM IR of NAME's last compile
  :asm NAME      its assembly
  :functions     every function, with its signature and state
  :stats         compile and run statistics (JSON)
  :help          this text
  :quit          leave (or Ctrl-D)";

/// Where input lines come from.
enum Input {
    Terminal(Box<rustyline::DefaultEditor>, Option<std::path::PathBuf>),
    Piped(std::io::StdinLock<'static>),
}

impl Input {
    /// The next line, or `None` at the end of input.
    fn line(&mut self, prompt: &str) -> Option<String> {
        match self {
            Input::Terminal(editor, _) => loop {
                match editor.readline(prompt) {
                    Ok(line) => return Some(line),
                    // Ctrl-C drops the line being typed, as shells do.
                    Err(ReadlineError::Interrupted) => continue,
                    Err(_) => return None,
                }
            },
            Input::Piped(stdin) => {
                let mut line = String::new();
                match stdin.read_line(&mut line) {
                    Ok(0) | Err(_) => None,
                    Ok(_) => Some(line.trim_end_matches(['\n', '\r']).to_string()),
                }
            }
        }
    }

    fn remember(&mut self, entry: &str) {
        if let Input::Terminal(editor, _) = self {
            let _ = editor.add_history_entry(entry);
        }
    }
}

impl Drop for Input {
    fn drop(&mut self) {
        if let Input::Terminal(editor, Some(path)) = self {
            let _ = editor.save_history(path);
        }
    }
}

/// Where history is kept: `ORE_HISTORY`, or `~/.ore_history`.
fn history_path() -> Option<std::path::PathBuf> {
    std::env::var_os("ORE_HISTORY")
        .map(Into::into)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".ore_history")))
}

pub fn run(opt: u8) -> u8 {
    let config = Config { opt_level: OptLevel::new(opt).expect("clap checks the range"), keep_code: true, ..Config::default() };
    let ns = match Namespace::new(config) {
        Ok(ns) => ns,
        Err(e) => {
            eprintln!("error: {e}");
            return crate::status::EXIT_INTERNAL;
        }
    };
    let mut input = if std::io::stdin().is_terminal() {
        let mut editor = match rustyline::DefaultEditor::new() {
            Ok(editor) => editor,
            Err(e) => {
                eprintln!("error: cannot start line editing: {e}");
                return crate::status::EXIT_INTERNAL;
            }
        };
        let history = history_path();
        if let Some(path) = &history {
            let _ = editor.load_history(path);
        }
        say(&format!("Ore {} REPL; :help for help, Ctrl-D to leave", env!("CARGO_PKG_VERSION")));
        Input::Terminal(Box::new(editor), history)
    } else {
        Input::Piped(std::io::stdin().lock())
    };
    let mut count = 0;
    while let Some(entry) = read_entry(&mut input) {
        input.remember(&entry);
        count += 1;
        let keep_going = handle(&ns, &entry, count);
        output::flush();
        if !keep_going {
            break;
        }
    }
    0
}

/// One entry: lines until its brackets close; `None` at the end of input.
fn read_entry(input: &mut Input) -> Option<String> {
    let mut entry = String::new();
    loop {
        let line = input.line(if entry.is_empty() { "ore> " } else { "...> " })?;
        if !entry.is_empty() {
            entry.push('\n');
        }
        entry.push_str(&line);
        if entry.trim().is_empty() {
            entry.clear();
        } else if open_brackets(&entry) <= 0 {
            return Some(entry);
        }
    }
}

/// Opening brackets minus closing ones, outside strings and comments.
fn open_brackets(text: &str) -> i64 {
    let mut depth = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => drop(chars.next()),
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                chars.by_ref().take_while(|&c| c != '\n').for_each(drop);
            }
            _ => {}
        }
    }
    depth
}

/// Runs one entry; `false` to leave.
fn handle(ns: &Namespace, entry: &str, count: usize) -> bool {
    let trimmed = entry.trim();
    if let Some(command) = trimmed.strip_prefix(':') {
        return command_entry(ns, command);
    }
    let name = format!("REPL[{count}]");
    let first_word = trimmed.split_whitespace().next().unwrap_or("");
    if matches!(first_word, "fn" | "extern") {
        match ns.add_module(&name, entry) {
            Ok(info) => {
                for (function, sig) in info.functions {
                    say(&format!("{function}: {sig}"));
                }
            }
            Err(e) => {
                crate::status::report(&e);
            }
        }
        return true;
    }
    match ns.evaluate(&name, entry) {
        Ok(evaluation) if evaluation.value == Value::Unit => {
            if matches!(first_word, "let" | "var") {
                say("(a `let` lasts for its own entry; a function keeps a value: `fn a() -> i64 { ... }`)");
            }
        }
        Ok(evaluation) => say(&format!("{} : {}", shown(&evaluation.value), evaluation.ty)),
        Err(e) => {
            crate::status::report(&e);
        }
    }
    true
}

/// Prints a line of the session on the stream Ore's own `print` writes to, so
/// the two stay in order.
fn say(text: &str) {
    output::print_line(text.as_bytes());
}

/// A value as Ore source would write it (strings quoted).
fn shown(value: &Value) -> String {
    match value {
        Value::Str(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

fn command_entry(ns: &Namespace, command: &str) -> bool {
    let (name, argument) = command.split_once(char::is_whitespace).map_or((command, ""), |(n, a)| (n, a.trim()));
    match (name, argument) {
        ("q" | "quit", _) => return false,
        ("help" | "h", _) => say(HELP),
        ("functions", _) => {
            for f in ns.functions().into_iter().filter(|f| !f.name.starts_with(ore::EVALUATION_PREFIX)) {
                let state = match f.state {
                    FunctionState::Lazy => "not compiled yet",
                    FunctionState::Compiled => "compiled",
                    FunctionState::Undefined => "declared only",
                };
                say(&format!("{}: {} ({state})", f.name, f.sig));
            }
        }
        ("stats", _) => say(&serde_json::to_string_pretty(&ns.stats()).expect("stats serialise")),
        ("load", "") => eprintln!("error: :load takes a file"),
        ("load", path) => {
            match std::fs::read(path).map_err(|e| e.to_string()).and_then(|bytes| String::from_utf8(bytes).map_err(|e| e.to_string())) {
                Ok(source) => match ns.add_module(path, &source) {
                    Ok(info) => say(&format!("loaded {} function(s) from {path}", info.functions.len())),
                    Err(e) => {
                        crate::status::report(&e);
                    }
                },
                Err(e) => eprintln!("error: cannot read `{path}`: {e}"),
            }
        }
        ("ir" | "asm", "") => eprintln!("error: :{name} takes a function name"),
        ("ir" | "asm", function) => match (ns.code(function), ns.function(function)) {
            (Some(code), _) => output::write(if name == "ir" { code.ir.as_bytes() } else { code.asm.as_bytes() }),
            (None, Some(_)) => eprintln!("`{function}` is not compiled yet: it is compiled at its first call"),
            (None, None) => eprintln!("error: no function named `{function}`"),
        },
        _ => eprintln!("error: unknown command `:{name}` (:help lists them)"),
    }
    true
}
