//! `cargo xtask`: the project's automation, in one place.
fn main() {}
