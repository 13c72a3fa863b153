#include "bench.h"
#include <stdint.h>
/* As the Ore version: each tree in a fresh array, freed when `one_tree` is done
   with it (the Ore version's `one_tree` frees its arrays when it returns). */
static int64_t next_node;
static int64_t build(int64_t *tree, int64_t depth) {
    int64_t node = next_node++;
    if (depth > 0) { tree[2 * node] = build(tree, depth - 1); tree[2 * node + 1] = build(tree, depth - 1); }
    else { tree[2 * node] = -1; tree[2 * node + 1] = -1; }
    return node;
}
static int64_t check(const int64_t *tree, int64_t node) {
    return tree[2 * node] < 0 ? 1 : 1 + check(tree, tree[2 * node]) + check(tree, tree[2 * node + 1]);
}
static int64_t one_tree(int64_t depth) {
    int64_t *tree = calloc(2 * ((1L << (depth + 1)) - 1), 8);
    next_node = 0;
    int64_t n = check(tree, build(tree, depth));
    free(tree);
    return n;
}
int64_t trees(int64_t n) {
    int64_t total = 0;
    for (int64_t depth = 4; depth <= n; depth += 2)
        for (int64_t i = 0; i < 1L << (n - depth + 4); i++) total += one_tree(depth);
    return total;
}
int main(int argc, char **argv) { TIMED(trees(atol(argv[1])), "%ld"); return 0; }
