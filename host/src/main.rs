//! The `rollback-host` binary: command-line parsing and the process edge.
//! Library errors are typed; only here do they become `anyhow` reports.

#![forbid(unsafe_code)]

mod cli;

/// jemalloc, not glibc's malloc: the store frees on sled's I/O threads what
/// the committer allocated, and glibc's arenas made malloc and free about a
/// sixth of the server's CPU under load; with jemalloc the rollback endpoint
/// serves 30–40 % more durable rollbacks per second for ~10 % more memory
/// (BENCHMARKS.md, issue 27, "The allocator").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
