//! Placeholder; the owner of this bench replaces it.
fn main() {}
