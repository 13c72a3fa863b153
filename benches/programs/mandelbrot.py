import sys
from bench import timed
def mandelbrot(w, h, iters):
    count = 0
    for y in range(h):
        ci = y * 2.0 / h - 1.0
        for x in range(w):
            cr = x * 3.0 / w - 2.0
            zr = zi = 0.0
            i = 0
            while i < iters and zr * zr + zi * zi <= 4.0:
                zr, zi = zr * zr - zi * zi + cr, 2.0 * zr * zi + ci
                i += 1
            if i == iters:
                count += 1
    return count
timed(mandelbrot, *map(int, sys.argv[1:4]))
