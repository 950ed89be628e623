//! Criterion benches of the XIVE hot paths (being written).
fn main() {}
