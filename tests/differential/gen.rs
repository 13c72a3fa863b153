//! A seeded generator of well-typed Ore programs that always terminate: calls go
//! only to functions defined after the caller (plus bounded recursion), loops
//! count to small bounds, and runtime errors are planted on purpose now and then
//! (division by zero, bounds, negative lengths, stack overflow, undefined
//! functions). It covers LANGUAGE.md's constructs: wrapping arithmetic, division
//! and shifts, casts with NaN and infinities, float printing, arrays, recursion and
//! mutual recursion, shadowing, short-circuit operators with effects, early
//! returns, `break`/`continue`, declarations defined later, `load`, redefinition,
//! and loops of the shape whose indexing codegen checks once (`range_loop`).

use crate::common::rng::Rng;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ty {
    I64,
    F64,
    Bool,
    ArrI64,
    ArrF64,
    Unit,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::I64 => "i64",
            Ty::F64 => "f64",
            Ty::Bool => "bool",
            Ty::ArrI64 => "[i64]",
            Ty::ArrF64 => "[f64]",
            Ty::Unit => "()",
        }
    }
}

const SCALARS: [Ty; 3] = [Ty::I64, Ty::F64, Ty::Bool];

struct Func {
    name: String,
    params: Vec<Ty>,
    ret: Ty,
    /// Has no loops and calls nothing but the bounded recursive helpers: the only
    /// functions loops may call, so the amount of work stays small.
    leaf: bool,
}

#[derive(Clone)]
struct Var {
    name: String,
    ty: Ty,
    mutable: bool,
}

/// Where code is being generated: visible variables, loops, the function.
struct Ctx {
    vars: Vec<Var>,
    loops: usize,
    /// Index of the function being generated (it may call later ones only).
    func: usize,
    ret: Ty,
    depth: usize,
    /// The counters of the enclosing range loops (`range_loop`), innermost last.
    ranges: Vec<String>,
    /// In a range loop's own body, where `continue` would skip its step.
    no_continue: bool,
}

pub struct Generator {
    rng: Rng,
    funcs: Vec<Func>,
    next_name: usize,
    /// Percent chance of planting each kind of runtime error where it can go.
    hazard: u64,
    /// Declarations defined only by `load`, and the `load` that defines them.
    late: Vec<(String, String)>,
}

const MAX_DEPTH: usize = 3;

impl Generator {
    pub fn new(seed: u64) -> Generator {
        let mut rng = Rng::new(seed);
        let hazard = if rng.chance(40) { 8 } else { 0 };
        Generator { rng, funcs: Vec::new(), next_name: 0, hazard, late: Vec::new() }
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.next_name += 1;
        format!("{prefix}{}", self.next_name)
    }

    /// One program, with `main`.
    pub fn program(mut self) -> String {
        let helpers = 1 + self.rng.below(4) as usize;
        for i in 0..helpers {
            let params = (0..self.rng.below(4)).map(|_| if self.rng.chance(15) { Ty::ArrI64 } else { *self.rng.pick(&SCALARS) }).collect();
            let ret = *self.rng.pick(&[Ty::I64, Ty::I64, Ty::F64, Ty::Bool, Ty::Unit]);
            // The last two are leaves.
            self.funcs.push(Func { name: format!("f{i}"), params, ret, leaf: i + 2 >= helpers });
        }
        let mut out = String::from("// generated\n");
        out.push_str("fn rec(n: i64, k: i64) -> i64 { if n <= 0 { k } else { (rec(n - 1, (k * 31) + n) ^ n) } }\n");
        out.push_str("fn is_even(n: i64) -> bool { if n == 0 { true } else { is_odd(n - 1) } }\n");
        out.push_str("fn is_odd(n: i64) -> bool { if n == 0 { false } else { is_even(n - 1) } }\n");
        out.push_str("fn forever(n: i64) -> i64 { forever(n + 1) + 1 }\n");
        for i in 0..helpers {
            if self.rng.chance(20) {
                // A declaration before its definition.
                out.push_str(&self.signature(i));
                out.push_str(";\n");
            }
            let body = self.function_body(i);
            out.push_str(&format!("{} {body}\n", self.signature(i)));
        }
        let main = self.main_body(helpers);
        for (name, _) in &self.late {
            out.push_str(&format!("fn {name}(x: i64) -> i64;\n"));
        }
        out.push_str(&main);
        out
    }

    fn signature(&self, i: usize) -> String {
        let f = &self.funcs[i];
        let params: Vec<String> = f.params.iter().enumerate().map(|(k, t)| format!("p{k}: {}", t.name())).collect();
        let ret = if f.ret == Ty::Unit { String::new() } else { format!(" -> {}", f.ret.name()) };
        format!("fn {}({}){ret}", f.name, params.join(", "))
    }

    fn function_body(&mut self, i: usize) -> String {
        let vars = self.funcs[i].params.iter().enumerate().map(|(k, t)| Var { name: format!("p{k}"), ty: *t, mutable: false }).collect();
        let ret = self.funcs[i].ret;
        let mut ctx = Ctx { vars, loops: 0, func: i, ret, depth: 0, ranges: Vec::new(), no_continue: false };
        self.block(&mut ctx, ret, 1, 4)
    }

    fn main_body(&mut self, helpers: usize) -> String {
        let ret = if self.rng.chance(50) { Ty::I64 } else { Ty::Unit };
        let mut ctx = Ctx { vars: Vec::new(), loops: 0, func: usize::MAX, ret, depth: 0, ranges: Vec::new(), no_continue: false };
        let mut body = String::new();
        // Calls of every helper, so all of them run.
        for i in 0..helpers {
            let call = self.call(&mut ctx, i);
            body.push_str(&match self.funcs[i].ret {
                Ty::Unit => format!("    {call};\n"),
                _ => format!("    print({call});\n"),
            });
        }
        for _ in 0..2 + self.rng.below(4) {
            body.push_str(&self.stmt(&mut ctx));
        }
        if self.rng.chance(40) {
            body.push_str(&self.late_binding(&mut ctx));
        }
        if self.rng.chance(35) {
            body.push_str(&self.redefinition(&mut ctx, helpers));
        }
        let ret_text = if ret == Ty::Unit { String::new() } else { " -> i64".into() };
        let tail = if ret == Ty::Unit { String::new() } else { format!("    {}\n", self.expr(&mut ctx, Ty::I64)) };
        format!("fn main(){ret_text} {{\n{body}{tail}}}\n")
    }

    /// A declaration defined at run time by `load`: called before (an error, now
    /// and then) or after.
    fn late_binding(&mut self, ctx: &mut Ctx) -> String {
        let name = self.fresh("late");
        let mut inner = Ctx {
            vars: vec![Var { name: "x".into(), ty: Ty::I64, mutable: false }],
            loops: 0,
            func: usize::MAX - 1,
            ret: Ty::I64,
            depth: 2,
            ranges: Vec::new(),
            no_continue: false,
        };
        let body = self.expr(&mut inner, Ty::I64);
        let load = format!("load(\"fn {name}(x: i64) -> i64 {{ {body} }}\")");
        self.late.push((name.clone(), load.clone()));
        let arg = self.expr(ctx, Ty::I64);
        if self.rng.chance(self.hazard * 5) {
            format!("    print({name}({arg}));\n    print({load});\n")
        } else {
            format!("    print({load});\n    print({name}({arg}));\n")
        }
    }

    /// A helper replaced by `load` (same signature), inside a loop that calls it
    /// before and after: compiled code, inlined copies included, must see it.
    fn redefinition(&mut self, ctx: &mut Ctx, helpers: usize) -> String {
        let i = self.rng.below(helpers as u64) as usize;
        let vars = self.funcs[i].params.iter().enumerate().map(|(k, t)| Var { name: format!("p{k}"), ty: *t, mutable: false }).collect();
        let ret = self.funcs[i].ret;
        let mut inner = Ctx { vars, loops: 0, func: usize::MAX - 1, ret, depth: 2, ranges: Vec::new(), no_continue: false };
        let body = if ret == Ty::Unit { format!("print({});", self.expr(&mut inner, Ty::I64)) } else { self.expr(&mut inner, ret) };
        let source = format!("{} {{ {body} }}", self.signature(i));
        let counter = self.fresh("r");
        let call = self.call(ctx, i);
        let use_call = if ret == Ty::Unit { format!("{call};") } else { format!("print({call});") };
        format!(
            "    var {counter} = 0;\n    while {counter} < 3 {{\n        {counter} = {counter} + 1;\n        if {counter} == 2 {{ print(load(\"{source}\")); }}\n        {use_call}\n    }}\n"
        )
    }

    /// `{ stmts; tail }` of type `ty`, with `least` plus up to `extra - 1` statements.
    fn block(&mut self, ctx: &mut Ctx, ty: Ty, least: usize, extra: u64) -> String {
        let stmts = least + self.rng.below(extra) as usize;
        let saved = ctx.vars.len();
        ctx.depth += 1;
        let mut out = String::from("{ ");
        for _ in 0..stmts {
            out.push_str(self.stmt(ctx).trim());
            out.push(' ');
        }
        if ty != Ty::Unit {
            out.push_str(&self.expr(ctx, ty));
            out.push(' ');
        }
        out.push('}');
        ctx.depth -= 1;
        ctx.vars.truncate(saved);
        out
    }

    fn stmt(&mut self, ctx: &mut Ctx) -> String {
        let deep = ctx.depth >= MAX_DEPTH;
        let s = match self.rng.below(14) {
            0..=2 => {
                let ty = if self.rng.chance(20) { *self.rng.pick(&[Ty::ArrI64, Ty::ArrF64]) } else { *self.rng.pick(&SCALARS) };
                let value = self.expr(ctx, ty);
                // Shadowing: now and then a name that is already in scope.
                let name = match ctx.vars.last() {
                    // Not a range loop's counter: its step must stay its own.
                    Some(v) if !ctx.ranges.contains(&v.name) && self.rng.chance(25) => v.name.clone(),
                    _ => self.fresh("v"),
                };
                let mutable = self.rng.chance(50);
                ctx.vars.push(Var { name: name.clone(), ty, mutable });
                let keyword = if mutable { "var" } else { "let" };
                format!("{keyword} {name} = {value};")
            }
            3 | 4 => match self.visible(ctx, |v| v.mutable && SCALARS.contains(&v.ty)) {
                Some(v) => format!("{} = {};", v.name, self.expr(ctx, v.ty)),
                None => format!("print({});", self.expr(ctx, Ty::I64)),
            },
            5 => match self.visible(ctx, |v| matches!(v.ty, Ty::ArrI64 | Ty::ArrF64)) {
                Some(v) => {
                    let elem = if v.ty == Ty::ArrI64 { Ty::I64 } else { Ty::F64 };
                    let value = self.expr(ctx, elem);
                    let index = self.index(ctx, &v.name);
                    format!("{}[{index}] = {value};", v.name)
                }
                None => format!("print({});", self.expr(ctx, Ty::F64)),
            },
            6 | 7 => {
                let ty = *self.rng.pick(&SCALARS);
                format!("print({});", self.expr(ctx, ty))
            }
            8 if !deep => {
                let c = self.expr(ctx, Ty::Bool);
                let then = self.block(ctx, Ty::Unit, 1, 2);
                if self.rng.chance(50) {
                    let els = self.block(ctx, Ty::Unit, 1, 1);
                    format!("if {c} {then} else {els}")
                } else {
                    format!("if {c} {then}")
                }
            }
            9 if !deep && ctx.loops < 2 && !self.is_leaf(ctx) => {
                let counter = self.fresh("i");
                let bound = 1 + self.rng.below(4);
                ctx.loops += 1;
                let no_continue = std::mem::replace(&mut ctx.no_continue, false);
                // The counter is not in `vars`: nothing else assigns it.
                let body = self.block(ctx, Ty::Unit, 1, 3);
                ctx.no_continue = no_continue;
                ctx.loops -= 1;
                format!("var {counter} = 0; while {counter} < {bound} {{ {counter} = {counter} + 1; {body} }}")
            }
            10 if ctx.loops > 0 => {
                let c = self.expr(ctx, Ty::Bool);
                let jump = if ctx.no_continue || self.rng.chance(50) { "break" } else { "continue" };
                format!("if {c} {{ {jump}; }}")
            }
            13 if !deep && ctx.loops < 2 && !self.is_leaf(ctx) => self.range_loop(ctx),
            11 if ctx.func != usize::MAX - 1 => {
                // An early return.
                let c = self.expr(ctx, Ty::Bool);
                let value = if ctx.ret == Ty::Unit { String::new() } else { format!(" {}", self.expr(ctx, ctx.ret)) };
                format!("if {c} {{ return{value}; }}")
            }
            12 if !deep => {
                let saved = ctx.vars.len();
                let inner = self.stmt(ctx);
                ctx.vars.truncate(saved);
                format!("{{ {} }}", inner.trim())
            }
            _ => format!("print({});", self.expr(ctx, Ty::Bool)),
        };
        format!("    {s}\n")
    }

    fn is_leaf(&self, ctx: &Ctx) -> bool {
        self.funcs.get(ctx.func).is_some_and(|f| f.leaf)
    }

    fn visible(&mut self, ctx: &Ctx, want: impl Fn(&Var) -> bool) -> Option<Var> {
        // The latest binding of each name is the visible one.
        let candidates: Vec<&Var> = ctx
            .vars
            .iter()
            .enumerate()
            .filter(|(i, v)| !ctx.vars[i + 1..].iter().any(|w| w.name == v.name))
            .map(|(_, v)| v)
            .filter(|v| want(v))
            .collect();
        if candidates.is_empty() {
            None
        } else {
            Some((*self.rng.pick(&candidates)).clone())
        }
    }

    /// A call of helper `i` from `ctx`, with arguments.
    fn call(&mut self, ctx: &mut Ctx, i: usize) -> String {
        let params = self.funcs[i].params.clone();
        let args: Vec<String> = params.iter().map(|t| self.expr(ctx, *t)).collect();
        format!("{}({})", self.funcs[i].name, args.join(", "))
    }

    /// Helpers `ctx` may call and that return `ty`.
    fn callable(&self, ctx: &Ctx, ty: Ty) -> Vec<usize> {
        if ctx.func >= usize::MAX - 1 && ctx.func != usize::MAX {
            return Vec::new(); // code given to `load` calls nothing
        }
        let first = if ctx.func == usize::MAX { 0 } else { ctx.func + 1 };
        (first..self.funcs.len())
            .filter(|&j| self.funcs[j].ret == ty && (ctx.loops == 0 || self.funcs[j].leaf) && !self.is_leaf(ctx))
            .collect()
    }

    /// A loop whose indexing codegen checks once, before it (`codegen::ranges`):
    /// `var r = 0; while r < BOUND { ...; r = r + 1; }`, with `r` an index in its
    /// body; now and then starting below 0 or running past the array's end.
    fn range_loop(&mut self, ctx: &mut Ctx) -> String {
        let counter = self.fresh("r");
        let start = if self.rng.chance(self.hazard) { -1 } else { 0 };
        // An array in scope, or one made here; each iteration reads it at the
        // counter, and the bound is often its length.
        let (array, made) = match self.visible(ctx, |v| matches!(v.ty, Ty::ArrI64 | Ty::ArrF64)) {
            Some(v) if self.rng.chance(50) => (v.name, String::new()),
            _ => {
                let a = self.fresh("a");
                let made = format!("let {a} = [{}; {}]; ", self.expr(ctx, Ty::I64), self.rng.below(6));
                (a, made)
            }
        };
        let (bound_let, bound) = if self.rng.chance(self.hazard) {
            let b = self.fresh("b");
            (format!("let {b} = len({array}) + 1; "), b)
        } else if self.rng.chance(50) {
            (String::new(), format!("len({array})"))
        } else {
            (String::new(), (1 + self.rng.below(4)).to_string())
        };
        let saved = ctx.vars.len();
        // In `vars` as immutable: the body reads it and never assigns it.
        ctx.vars.push(Var { name: counter.clone(), ty: Ty::I64, mutable: false });
        ctx.loops += 1;
        ctx.ranges.push(counter.clone());
        let no_continue = std::mem::replace(&mut ctx.no_continue, true);
        let body = self.block(ctx, Ty::Unit, 1, 3);
        ctx.no_continue = no_continue;
        ctx.ranges.pop();
        ctx.loops -= 1;
        ctx.vars.truncate(saved);
        let body = body.strip_prefix('{').and_then(|b| b.strip_suffix('}')).expect("a block").trim();
        format!(
            "{made}var {counter} = {start}; {bound_let}while {counter} < {bound} {{ print({array}[{counter}]); {body} {counter} = {counter} + 1; }}"
        )
    }

    /// An index into array `name`: in range, or now and then anything; in a range
    /// loop, often its counter.
    fn index(&mut self, ctx: &mut Ctx, name: &str) -> String {
        if let Some(r) = ctx.ranges.last() {
            if self.rng.chance(40) {
                return r.clone();
            }
        }
        let i = self.expr(ctx, Ty::I64);
        if self.rng.chance(self.hazard) {
            i
        } else {
            format!("(({i}) & 1023) % len({name})")
        }
    }

    fn expr(&mut self, ctx: &mut Ctx, ty: Ty) -> String {
        ctx.depth += 1;
        let e = if ctx.depth > MAX_DEPTH + 2 { self.leaf_expr(ctx, ty) } else { self.compound(ctx, ty) };
        ctx.depth -= 1;
        e
    }

    fn leaf_expr(&mut self, ctx: &mut Ctx, ty: Ty) -> String {
        if let Some(v) = self.visible(ctx, |v| v.ty == ty) {
            if self.rng.chance(60) {
                return v.name;
            }
        }
        match ty {
            Ty::I64 => self.int_literal(),
            Ty::F64 => self.float_literal(),
            Ty::Bool => if self.rng.chance(50) { "true" } else { "false" }.into(),
            Ty::ArrI64 => format!("[{}; {}]", self.int_literal(), self.length()),
            Ty::ArrF64 => format!("[{}; {}]", self.float_literal(), self.length()),
            Ty::Unit => "{}".into(),
        }
    }

    fn length(&mut self) -> String {
        if self.rng.chance(self.hazard) {
            "(0 - 2)".into()
        } else {
            (1 + self.rng.below(6)).to_string()
        }
    }

    fn int_literal(&mut self) -> String {
        match self.rng.below(10) {
            0 => "9223372036854775807".into(),
            1 => "(-9223372036854775808)".into(),
            2 => format!("0x{:X}", (self.rng.next() >> 1) >> self.rng.below(63)),
            3 => {
                let v = self.rng.next() as i64 >> self.rng.below(64);
                if v < 0 {
                    format!("({v})")
                } else {
                    v.to_string()
                }
            }
            _ => {
                let v = self.rng.below(21) as i64 - 10;
                if v < 0 {
                    format!("({v})")
                } else {
                    v.to_string()
                }
            }
        }
    }

    fn float_literal(&mut self) -> String {
        self.rng.pick(&["0.5", "1.0", "0.1", "3.25", "1e300", "1e-300", "(-0.0)", "2.0e-3", "123456789.125", "(-7.5)", "1e16"]).to_string()
    }

    fn compound(&mut self, ctx: &mut Ctx, ty: Ty) -> String {
        let calls = self.callable(ctx, ty);
        match ty {
            Ty::I64 => match self.rng.below(12) {
                0 | 1 => self.leaf_expr(ctx, ty),
                2 | 3 => {
                    let op = *self.rng.pick(&["+", "-", "*", "&", "|", "^", "<<", ">>"]);
                    format!("({} {op} {})", self.expr(ctx, ty), self.expr(ctx, ty))
                }
                4 => {
                    let op = *self.rng.pick(&["/", "%"]);
                    let a = self.expr(ctx, ty);
                    let d = match self.rng.below(10) {
                        0 => "(-1)".to_string(),
                        _ if self.rng.chance(self.hazard * 3) => self.expr(ctx, ty),
                        _ => format!("({} | 1)", self.expr(ctx, ty)),
                    };
                    format!("({a} {op} {d})")
                }
                5 => format!("(-{})", self.expr(ctx, ty)),
                6 => format!("(!{})", self.expr(ctx, ty)),
                7 => match self.rng.below(3) {
                    0 => format!("({} as i64)", self.expr(ctx, Ty::Bool)),
                    _ => format!("({} as i64)", self.expr(ctx, Ty::F64)),
                },
                8 if !calls.is_empty() => {
                    let j = *self.rng.pick(&calls);
                    self.call(ctx, j)
                }
                8 => {
                    let n = self.expr(ctx, ty);
                    if self.rng.chance(self.hazard) {
                        "forever(0)".to_string()
                    } else {
                        format!("rec(({n}) & 15, {})", self.int_literal())
                    }
                }
                9 => match self.visible(ctx, |v| v.ty == Ty::ArrI64) {
                    Some(a) if self.rng.chance(50) => format!("len({})", a.name),
                    Some(a) => format!("{}[{}]", a.name, self.index(ctx, &a.name)),
                    None => self.leaf_expr(ctx, ty),
                },
                10 => self.if_expr(ctx, ty),
                _ => self.block_expr(ctx, ty),
            },
            Ty::F64 => match self.rng.below(9) {
                0 | 1 => self.leaf_expr(ctx, ty),
                2..=4 => {
                    let op = *self.rng.pick(&["+", "-", "*", "/", "%"]);
                    format!("({} {op} {})", self.expr(ctx, ty), self.expr(ctx, ty))
                }
                5 => format!("({} as f64)", self.expr(ctx, Ty::I64)),
                6 if !calls.is_empty() => {
                    let j = *self.rng.pick(&calls);
                    self.call(ctx, j)
                }
                6 => match self.visible(ctx, |v| v.ty == Ty::ArrF64) {
                    Some(a) => format!("{}[{}]", a.name, self.index(ctx, &a.name)),
                    None => format!("(-{})", self.expr(ctx, ty)),
                },
                7 => self.if_expr(ctx, ty),
                _ => self.block_expr(ctx, ty),
            },
            Ty::Bool => match self.rng.below(9) {
                0 => self.leaf_expr(ctx, ty),
                1 | 2 => {
                    let op = *self.rng.pick(&["<", "<=", ">", ">=", "==", "!="]);
                    let t = if self.rng.chance(60) { Ty::I64 } else { Ty::F64 };
                    format!("({} {op} {})", self.expr(ctx, t), self.expr(ctx, t))
                }
                3 => format!("({} == {})", self.expr(ctx, ty), self.expr(ctx, ty)),
                4 => format!("(!{})", self.expr(ctx, ty)),
                5 => {
                    // Short-circuit, with an effect on the right that shows whether it ran.
                    let op = if self.rng.chance(50) { "&&" } else { "||" };
                    let mark = self.rng.below(100);
                    format!("({} {op} {{ print({mark}); {} }})", self.expr(ctx, ty), self.expr(ctx, ty))
                }
                6 if !calls.is_empty() => {
                    let j = *self.rng.pick(&calls);
                    self.call(ctx, j)
                }
                6 => format!("is_even(({}) & 31)", self.expr(ctx, Ty::I64)),
                7 => self.if_expr(ctx, ty),
                _ => self.block_expr(ctx, ty),
            },
            Ty::ArrI64 | Ty::ArrF64 | Ty::Unit => self.leaf_expr(ctx, ty),
        }
    }

    fn if_expr(&mut self, ctx: &mut Ctx, ty: Ty) -> String {
        let c = self.expr(ctx, Ty::Bool);
        let then = self.block(ctx, ty, 0, 2);
        let els = self.block(ctx, ty, 0, 2);
        format!("(if {c} {then} else {els})")
    }

    fn block_expr(&mut self, ctx: &mut Ctx, ty: Ty) -> String {
        format!("({})", self.block(ctx, ty, 1, 2))
    }
}
