#include "bench.h"
#include <math.h>
#include <stdint.h>
static double x[5], y[5], z[5], vx[5], vy[5], vz[5], m[5];
static void advance(double dt) {
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++) {
            double dx = x[i] - x[j], dy = y[i] - y[j], dz = z[i] - z[j];
            double d2 = dx * dx + dy * dy + dz * dz, mag = dt / (d2 * sqrt(d2));
            vx[i] -= dx * m[j] * mag; vy[i] -= dy * m[j] * mag; vz[i] -= dz * m[j] * mag;
            vx[j] += dx * m[i] * mag; vy[j] += dy * m[i] * mag; vz[j] += dz * m[i] * mag;
        }
    for (int k = 0; k < 5; k++) { x[k] += dt * vx[k]; y[k] += dt * vy[k]; z[k] += dt * vz[k]; }
}
static double energy(void) {
    double e = 0.0;
    for (int i = 0; i < 5; i++) {
        e += 0.5 * m[i] * (vx[i] * vx[i] + vy[i] * vy[i] + vz[i] * vz[i]);
        for (int j = i + 1; j < 5; j++) {
            double dx = x[i] - x[j], dy = y[i] - y[j], dz = z[i] - z[j];
            e -= m[i] * m[j] / sqrt(dx * dx + dy * dy + dz * dz);
        }
    }
    return e;
}
static double run(int64_t steps) {
    const double pi = 3.141592653589793, solar = 4.0 * pi * pi, days = 365.24;
    double init[5][7] = {
        {0, 0, 0, 0, 0, 0, 1},
        {4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01, 1.66007664274403694e-03, 7.69901118419740425e-03, -6.90460016972063023e-05, 9.54791938424326609e-04},
        {8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01, -2.76742510726862411e-03, 4.99852801234917238e-03, 2.30417297573763929e-05, 2.85885980666130812e-04},
        {1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01, 2.96460137564761618e-03, 2.37847173959480950e-03, -2.96589568540237556e-05, 4.36624404335156298e-05},
        {1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01, 2.68067772490389322e-03, 1.62824170038242295e-03, -9.51592254519715870e-05, 5.15138902046611451e-05}};
    for (int i = 0; i < 5; i++) {
        x[i] = init[i][0]; y[i] = init[i][1]; z[i] = init[i][2];
        vx[i] = init[i][3] * days; vy[i] = init[i][4] * days; vz[i] = init[i][5] * days;
        m[i] = init[i][6] * solar;
    }
    double px = 0, py = 0, pz = 0;
    for (int i = 0; i < 5; i++) { px += vx[i] * m[i]; py += vy[i] * m[i]; pz += vz[i] * m[i]; }
    vx[0] = -px / solar; vy[0] = -py / solar; vz[0] = -pz / solar;
    for (int64_t s = 0; s < steps; s++) advance(0.01);
    return energy();
}
int main(int argc, char **argv) { TIMED(run(atol(argv[1])), "%.15g"); return 0; }
