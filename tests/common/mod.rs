pub mod rng;
pub mod server;
