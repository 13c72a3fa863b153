#include "bench.h"
#include <stdint.h>
/* fannkuch-redux, as the Ore version: checksum * 1000 + the most flips. */
int64_t fannkuch(int64_t n) {
    int64_t *perm = calloc(n, 8), *perm1 = calloc(n, 8), *count = calloc(n, 8);
    for (int64_t i = 0; i < n; i++) perm1[i] = i;
    int64_t max_flips = 0, checksum = 0, permutations = 0, r = n;
    for (;;) {
        for (; r != 1; r--) count[r - 1] = r;
        for (int64_t i = 0; i < n; i++) perm[i] = perm1[i];
        int64_t flips = 0;
        for (int64_t k = perm[0]; k != 0; k = perm[0]) {
            for (int64_t lo = 0, hi = k; lo < hi; lo++, hi--) { int64_t t = perm[lo]; perm[lo] = perm[hi]; perm[hi] = t; }
            flips++;
        }
        if (flips > max_flips) max_flips = flips;
        checksum += permutations % 2 == 0 ? flips : -flips;
        permutations++;
        for (;;) {
            if (r == n) { free(perm); free(perm1); free(count); return checksum * 1000 + max_flips; }
            int64_t first = perm1[0];
            for (int64_t i = 0; i < r; i++) perm1[i] = perm1[i + 1];
            perm1[r] = first;
            if (--count[r] > 0) break;
            r++;
        }
    }
}
int main(int argc, char **argv) { TIMED(fannkuch(atol(argv[1])), "%ld"); return 0; }
