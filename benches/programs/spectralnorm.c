#include "bench.h"
#include <math.h>
#include <stdint.h>
static double a(int64_t i, int64_t j) { return 1.0 / (double)((i + j) * (i + j + 1) / 2 + i + 1); }
static void mul_av(int64_t n, const double *v, double *out) {
    for (int64_t i = 0; i < n; i++) { double s = 0; for (int64_t j = 0; j < n; j++) s += a(i, j) * v[j]; out[i] = s; }
}
static void mul_atv(int64_t n, const double *v, double *out) {
    for (int64_t i = 0; i < n; i++) { double s = 0; for (int64_t j = 0; j < n; j++) s += a(j, i) * v[j]; out[i] = s; }
}
static double run(int64_t n) {
    double *u = malloc(n * sizeof(double)), *v = calloc(n, sizeof(double)), *tmp = calloc(n, sizeof(double));
    for (int64_t i = 0; i < n; i++) u[i] = 1.0;
    for (int k = 0; k < 10; k++) { mul_av(n, u, tmp); mul_atv(n, tmp, v); mul_av(n, v, tmp); mul_atv(n, tmp, u); }
    double vbv = 0, vv = 0;
    for (int64_t i = 0; i < n; i++) { vbv += u[i] * v[i]; vv += v[i] * v[i]; }
    return sqrt(vbv / vv);
}
int main(int argc, char **argv) { TIMED(run(atol(argv[1])), "%.15g"); return 0; }
