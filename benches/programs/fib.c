#include "bench.h"
#include <stdint.h>
int64_t fib(int64_t n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
int main(int argc, char **argv) { TIMED(fib(atol(argv[1])), "%ld"); return 0; }
