//! `rollback-host-failpoints`: the `rollback-host` binary with failpoints
//! compiled in and configured from the `FAILPOINTS` environment variable
//! (the `fail` crate's syntax, e.g. `store::sync=2*off->return(EIO)`). Built
//! only with the `failpoints` feature, for the fault-injection tests; the
//! service's own binary never reads `FAILPOINTS`.

#![forbid(unsafe_code)]

#[path = "../cli/mod.rs"]
mod cli;

fn main() -> std::process::ExitCode {
    let _failpoints = fail::FailScenario::setup();
    cli::main()
}
