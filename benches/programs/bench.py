"""Shared by the Python versions: the result on stdout, the compute time
(excluding interpreter start) on stderr in microseconds."""
import sys, time

def timed(f, *args):
    t0 = time.perf_counter()
    r = f(*args)
    t1 = time.perf_counter()
    print(r)
    print(round((t1 - t0) * 1e6), file=sys.stderr)
