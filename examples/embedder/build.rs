fn main() {
    ore_build::configure();
}
