#include "bench.h"
#include <stdint.h>
int64_t tak(int64_t x, int64_t y, int64_t z) { return y < x ? tak(tak(x - 1, y, z), tak(y - 1, z, x), tak(z - 1, x, y)) : z; }
int main(int argc, char **argv) { int64_t n = atol(argv[1]); TIMED(tak(3 * n, 2 * n, n), "%ld"); return 0; }
