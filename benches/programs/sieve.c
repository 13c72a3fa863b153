#include "bench.h"
#include <stdint.h>
/* One int64_t per number, as the Ore version. */
int64_t sieve(int64_t n) {
    int64_t *composite = calloc(n + 1, sizeof(int64_t)), count = 0;
    for (int64_t i = 2; i <= n; i++)
        if (!composite[i]) { count++; for (int64_t j = i * i; j <= n; j += i) composite[j] = 1; }
    free(composite);
    return count;
}
int main(int argc, char **argv) { TIMED(sieve(atol(argv[1])), "%ld"); return 0; }
