mod serve;

fn main() {}
