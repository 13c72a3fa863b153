import sys
from bench import timed
def sieve(n):
    composite = [0] * (n + 1)
    count = 0
    i = 2
    while i <= n:
        if composite[i] == 0:
            count += 1
            j = i * i
            while j <= n:
                composite[j] = 1
                j += i
        i += 1
    return count
timed(sieve, int(sys.argv[1]))
