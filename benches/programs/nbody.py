import sys
from math import sqrt
from bench import timed
PI = 3.141592653589793
SOLAR = 4 * PI * PI
DAYS = 365.24
INIT = [
    (0, 0, 0, 0, 0, 0, 1),
    (4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01, 1.66007664274403694e-03, 7.69901118419740425e-03, -6.90460016972063023e-05, 9.54791938424326609e-04),
    (8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01, -2.76742510726862411e-03, 4.99852801234917238e-03, 2.30417297573763929e-05, 2.85885980666130812e-04),
    (1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01, 2.96460137564761618e-03, 2.37847173959480950e-03, -2.96589568540237556e-05, 4.36624404335156298e-05),
    (1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01, 2.68067772490389322e-03, 1.62824170038242295e-03, -9.51592254519715870e-05, 5.15138902046611451e-05),
]
def run(steps):
    x = [b[0] for b in INIT]; y = [b[1] for b in INIT]; z = [b[2] for b in INIT]
    vx = [b[3] * DAYS for b in INIT]; vy = [b[4] * DAYS for b in INIT]; vz = [b[5] * DAYS for b in INIT]
    m = [b[6] * SOLAR for b in INIT]
    px = sum(vx[i] * m[i] for i in range(5)); py = sum(vy[i] * m[i] for i in range(5)); pz = sum(vz[i] * m[i] for i in range(5))
    vx[0] = -px / SOLAR; vy[0] = -py / SOLAR; vz[0] = -pz / SOLAR
    dt = 0.01
    for _ in range(steps):
        for i in range(5):
            for j in range(i + 1, 5):
                dx = x[i] - x[j]; dy = y[i] - y[j]; dz = z[i] - z[j]
                d2 = dx * dx + dy * dy + dz * dz
                mag = dt / (d2 * sqrt(d2))
                vx[i] -= dx * m[j] * mag; vy[i] -= dy * m[j] * mag; vz[i] -= dz * m[j] * mag
                vx[j] += dx * m[i] * mag; vy[j] += dy * m[i] * mag; vz[j] += dz * m[i] * mag
        for k in range(5):
            x[k] += dt * vx[k]; y[k] += dt * vy[k]; z[k] += dt * vz[k]
    e = 0.0
    for i in range(5):
        e += 0.5 * m[i] * (vx[i] * vx[i] + vy[i] * vy[i] + vz[i] * vz[i])
        for j in range(i + 1, 5):
            dx = x[i] - x[j]; dy = y[i] - y[j]; dz = z[i] - z[j]
            e -= m[i] * m[j] / sqrt(dx * dx + dy * dy + dz * dz)
    return e
timed(run, int(sys.argv[1]))
