import sys
from bench import timed
def build(tree, nxt, depth):
    node = nxt[0]
    nxt[0] = node + 1
    if depth > 0:
        tree[2 * node] = build(tree, nxt, depth - 1)
        tree[2 * node + 1] = build(tree, nxt, depth - 1)
    else:
        tree[2 * node] = tree[2 * node + 1] = -1
    return node
def check(tree, node):
    return 1 if tree[2 * node] < 0 else 1 + check(tree, tree[2 * node]) + check(tree, tree[2 * node + 1])
def one_tree(depth):
    tree = [0] * (2 * ((1 << (depth + 1)) - 1))
    return check(tree, build(tree, [0], depth))
def trees(n):
    total = 0
    for depth in range(4, n + 1, 2):
        for _ in range(1 << (n - depth + 4)):
            total += one_tree(depth)
    return total
timed(trees, int(sys.argv[1]))
