import sys
from bench import timed
def fib(n): return n if n < 2 else fib(n - 1) + fib(n - 2)
timed(fib, int(sys.argv[1]))
