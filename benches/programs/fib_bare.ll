; fib as plain LLVM IR: no stack check, no trap-flag test, no slot. Linked into
; benches/programs/fib_bare.ore by the suite, to measure what LLVM's -O2 makes of
; the recursion on its own (docs/PERFORMANCE.md, section 3).
define i64 @fib_bare(i64 %n) {
entry:
  %small = icmp slt i64 %n, 2
  br i1 %small, label %base, label %recurse
base:
  ret i64 %n
recurse:
  %n1 = add nsw i64 %n, -1
  %a = call i64 @fib_bare(i64 %n1)
  %n2 = add nsw i64 %n, -2
  %b = call i64 @fib_bare(i64 %n2)
  %sum = add i64 %a, %b
  ret i64 %sum
}
