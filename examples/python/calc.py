"""calc: a tiny language whose compiler is written in Python, JIT'd by Ore.

    def square(x) = x * x
    def fib(n) = if n < 2 then n else fib(n - 1) + fib(n - 2)
    main = fib(square(3)) + 1

Each `def` is compiled to LLVM IR only when it is first called, *while the
program runs*: a call between calc functions is a call to the host function
`calc_call(id, arg)`, a Python callback that compiles the callee the first time
(parsing its source, emitting IR, `jit.add_ir`) and then calls it in the JIT. So
JIT'd code calls back into this compiler, which loads more code into the running
JIT, nested as deep as the program recurses.

    python3 examples/python/calc.py [FILE]     # without FILE: the program above
"""

import re
import sys

import ore

TOKEN = re.compile(r"\s*(?:(\d+)|([A-Za-z_]\w*)|(==|<=|>=|[-+*/()<>=]))")


class CalcError(Exception):
    """A syntax error in a calc program."""


def tokenize(text):
    pos, tokens = 0, []
    text = text.rstrip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m:
            raise CalcError(f"unexpected {text[pos:pos + 10]!r}")
        tokens.append(m.group(1) or m.group(2) or m.group(3))
        pos = m.end()
    return tokens


class FunctionCompiler:
    """Parses one expression and emits its IR, by recursive descent."""

    PRECEDENCE = {"==": 1, "<": 1, ">": 1, "<=": 1, ">=": 1, "+": 2, "-": 2, "*": 3, "/": 3}
    OPS = {"+": "add", "-": "sub", "*": "mul", "/": "sdiv"}
    CMPS = {"==": "eq", "<": "slt", ">": "sgt", "<=": "sle", ">=": "sge"}

    def __init__(self, tokens, param, ids):
        self.tokens, self.pos, self.param, self.ids = tokens, 0, param, ids
        self.lines, self.temps, self.labels = [], 0, 0

    def next(self):
        tok = self.tokens[self.pos] if self.pos < len(self.tokens) else None
        self.pos += 1
        return tok

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def temp(self, instruction):
        self.temps += 1
        self.lines.append(f"  %t{self.temps} = {instruction}")
        return f"%t{self.temps}"

    def expr(self, min_prec=0):
        left = self.atom()
        while self.peek() in self.PRECEDENCE and self.PRECEDENCE[self.peek()] > min_prec:
            op = self.next()
            right = self.expr(self.PRECEDENCE[op])
            if op in self.OPS:
                left = self.temp(f"{self.OPS[op]} i64 {left}, {right}")
            else:
                bit = self.temp(f"icmp {self.CMPS[op]} i64 {left}, {right}")
                left = self.temp(f"zext i1 {bit} to i64")
        return left

    def atom(self):
        tok = self.next()
        if tok is None:
            raise CalcError("unexpected end of expression")
        if tok.isdigit():
            return tok
        if tok == "(":
            value = self.expr()
            self.expect(")")
            return value
        if tok == "-":
            return self.temp(f"sub i64 0, {self.atom()}")
        if tok == "if":
            return self.conditional()
        if tok == self.param:
            return "%arg"
        if self.peek() == "(":
            self.next()
            arg = self.expr()
            self.expect(")")
            if tok not in self.ids:
                raise CalcError(f"unknown function {tok!r}")
            return self.temp(f"call i64 @calc_call(i64 {self.ids[tok]}, i64 {arg})")
        raise CalcError(f"unknown name {tok!r}")

    def conditional(self):
        cond = self.expr()
        self.expect("then")
        self.labels += 1
        n = self.labels
        test = self.temp(f"icmp ne i64 {cond}, 0")
        self.lines.append(f"  br i1 {test}, label %then{n}, label %else{n}")
        self.lines.append(f"then{n}:")
        a = self.expr()
        self.lines.append(f"  br label %then_end{n}")
        self.lines.append(f"then_end{n}:")
        self.lines.append(f"  br label %join{n}")
        self.expect("else")
        self.lines.append(f"else{n}:")
        b = self.expr()
        self.lines.append(f"  br label %else_end{n}")
        self.lines.append(f"else_end{n}:")
        self.lines.append(f"  br label %join{n}")
        self.lines.append(f"join{n}:")
        return self.temp(f"phi i64 [ {a}, %then_end{n} ], [ {b}, %else_end{n} ]")

    def expect(self, tok):
        got = self.next()
        if got != tok:
            raise CalcError(f"expected {tok!r}, found {got!r}")


class Calc:
    """A calc program in an Ore Jit: definitions are compiled when first called."""

    def __init__(self, source):
        self.jit = ore.Jit()
        self.defs, self.main = {}, None
        for line in source.splitlines():
            line = line.split("#")[0].strip()
            if m := re.fullmatch(r"def\s+(\w+)\((\w+)\)\s*=\s*(.+)", line):
                self.defs[m.group(1)] = (m.group(2), m.group(3))
            elif m := re.fullmatch(r"main\s*=\s*(.+)", line):
                self.main = m.group(1)
            elif line:
                raise CalcError(f"expected `def f(x) = ...` or `main = ...`, found {line!r}")
        self.ids = {name: i for i, name in enumerate(self.defs)}
        self.names = list(self.defs)
        self.compiled = []
        # Compiled functions, as handles to be called from Python.
        self.entries = {}
        self.jit.register("calc_call", self.call, ["i64", "i64"], "i64")

    def emit(self, symbol, param, body):
        fc = FunctionCompiler(tokenize(body), param, self.ids)
        result = fc.expr()
        if fc.peek() is not None:
            raise CalcError(f"unexpected {fc.peek()!r} in {body!r}")
        lines = "\n".join(fc.lines)
        return f"declare i64 @calc_call(i64, i64)\n\ndefine i64 @{symbol}(i64 %arg) {{\n{lines}\n  ret i64 {result}\n}}\n"

    def load(self, name, param, body):
        """Compiles one function to IR, adds it to the JIT, and returns a handle to it."""
        symbol = f"calc_{name}"
        self.jit.add_ir(name, self.emit(symbol, param, body))
        self.compiled.append(name)
        # IR carries no signature Ore could check: the handle is told it.
        return self.jit.function(symbol, ["i64"], "i64")

    def call(self, function_id, arg):
        """calc_call: runs in the middle of JIT'd code; compiles the callee on first use."""
        name = self.names[function_id]
        if name not in self.entries:
            self.entries[name] = self.load(name, *self.defs[name])
        return self.entries[name](arg)

    def run(self):
        if self.main is None:
            raise CalcError("no `main = ...`")
        return self.load("main", "_", self.main)(0)


EXAMPLE = """
def square(x) = x * x
def fib(n) = if n < 2 then n else fib(n - 1) + fib(n - 2)
def unused(x) = x / 0
main = fib(square(3)) + 1
"""

if __name__ == "__main__":
    source = open(sys.argv[1]).read() if len(sys.argv) > 1 else EXAMPLE
    calc = Calc(source)
    print(calc.run())
    print("compiled while running:", ", ".join(calc.compiled))
