/* Shared by the C versions: the result on stdout, the compute time (excluding
   process start) on stderr in microseconds. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}
#define TIMED(expr, fmt) do { double t0 = now_us(); __typeof__(expr) r = (expr); double t1 = now_us(); \
    printf(fmt "\n", r); fprintf(stderr, "%.0f\n", t1 - t0); } while (0)
