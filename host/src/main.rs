//! The `rollback-host` binary: command-line parsing and the process edge.
//! Library errors are typed; only here do they become `anyhow` reports.

#![forbid(unsafe_code)]

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
