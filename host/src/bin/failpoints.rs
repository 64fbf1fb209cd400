//! `rollback-host-failpoints`: the `rollback-host` binary with failpoints
//! compiled in and configured from the `FAILPOINTS` environment variable
//! (the `fail` crate's syntax, e.g. `store::sync=2*off->return(EIO)`). Built
//! only with the `failpoints` feature, for the fault-injection tests; the
//! service's own binary never reads `FAILPOINTS`.

#![forbid(unsafe_code)]

#[path = "../cli/mod.rs"]
mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    cli::init_tracing(&args);
    let _failpoints = fail::FailScenario::setup();
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
