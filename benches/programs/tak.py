import sys
from bench import timed
sys.setrecursionlimit(100000)
def tak(x, y, z):
    return tak(tak(x - 1, y, z), tak(y - 1, z, x), tak(z - 1, x, y)) if y < x else z
timed(lambda n: tak(3 * n, 2 * n, n), int(sys.argv[1]))
