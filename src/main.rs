//! The `sentral` binary: command line, configuration, start-up. See `cli` for the
//! commands; `serve` runs the switchboard.

mod cli;
mod demo;
mod live;
mod serve;
mod settings;

fn main() -> std::process::ExitCode {
    cli::main()
}
