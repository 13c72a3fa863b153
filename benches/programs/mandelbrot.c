#include "bench.h"
#include <stdint.h>
int64_t mandelbrot(int64_t w, int64_t h, int64_t iters) {
    int64_t count = 0;
    for (int64_t y = 0; y < h; y++) {
        double ci = (double)y * 2.0 / (double)h - 1.0;
        for (int64_t x = 0; x < w; x++) {
            double cr = (double)x * 3.0 / (double)w - 2.0, zr = 0.0, zi = 0.0;
            int64_t i = 0;
            while (i < iters && zr * zr + zi * zi <= 4.0) {
                double t = zr * zr - zi * zi + cr;
                zi = 2.0 * zr * zi + ci;
                zr = t;
                i++;
            }
            if (i == iters) count++;
        }
    }
    return count;
}
int main(int argc, char **argv) { TIMED(mandelbrot(atol(argv[1]), atol(argv[2]), atol(argv[3])), "%ld"); return 0; }
