//! Compiling components within bounds: in a worker process with a memory
//! limit and a deadline.
//!
//! Compiling is the one step of loading a plugin that no sandbox bounds:
//! wasmtime's compilers run in the host, and a Python component (CPython
//! inside) takes seconds and hundreds of MiB, a JavaScript one about 1 GiB
//! with Cranelift; a crafted component can ask for more. So a runtime given
//! a worker executable ([`super::Runtime::compile_in_workers`]; the service
//! and the CLI give their own binary) compiles each component in a child
//! process, `rollback-host plugin compile-worker`, that
//! - limits its own data segment (`RLIMIT_DATA`, every private writable
//!   mapping: heap, `mmap`ed allocations, thread stacks) to
//!   `--plugin-compile-memory-mib` and its CPU time to a little more than
//!   the deadline times its compile threads, before it reads anything;
//! - reads the component on stdin, compiles it with the same engine
//!   settings as the service's (the allocator aside: it does not change the
//!   code) and writes the artifact on stdout;
//!
//! and the parent kills it at `--plugin-compile-timeout-ms`. A compile that
//! ran out of either is refused with [`PluginError::CompileBounds`], which
//! names the bound; the parent's memory never holds the compiler's. The
//! artifact is deserialized under the contract in the `cache` module. One
//! compile runs at a time (the runtime's lock), so a burst of uploads
//! queues instead of taking every core.
//!
//! Without a worker executable (the library's default: tests, benches)
//! compiles run in the calling process, unbounded.

use super::error::PluginError;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

/// Which compiler makes the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Compiler {
    /// Winch: single pass, fast to compile, slower code.
    Baseline,
    /// Cranelift: optimizing.
    Optimized,
}

/// The engine settings for `compiler`, shared by the service's engines and
/// the compile worker's (everything that shapes compiled code; the
/// allocator is the caller's).
///
/// Bounds-checked memory without guard pages: a slot's memory then stays
/// accessible up to its high-water mark between instances, instead of two
/// mprotect calls (each a TLB shootdown on every core) per call when a
/// plugin grows its memory. The checks are in the compiled code; the memory
/// cap stays the limiter's. Initial data is mapped copy-on-write: a
/// language runtime's 10-14 MiB pre-initialized heap is then not copied
/// into every instance (Python 8.0 → 1.6 ms a call, JavaScript 1.2 → 0.47
/// ms; a Rust plugin no slower: BENCHMARKS.md). Winch needs signal-based
/// traps, so the baseline engine keeps them.
pub(crate) fn config(compiler: Compiler, parallel: bool) -> Config {
    let winch = compiler == Compiler::Baseline;
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .strategy(if winch { wasmtime::Strategy::Winch } else { wasmtime::Strategy::Cranelift })
        .parallel_compilation(parallel)
        .epoch_interruption(true)
        .signals_based_traps(winch)
        .memory_guard_size(0)
        .memory_init_cow(true);
    config
}

/// The bounds one compile runs within.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    pub(crate) timeout: Duration,
    pub(crate) memory_mib: usize,
}

/// Most bytes of a worker's stderr kept for the refusal message.
const MAX_WORKER_STDERR: usize = 4096;

/// What a worker writes on stderr when its memory limit refused something:
/// Rust's allocation-failure message, a buffer that could not grow, or an
/// `mmap` refused (ENOMEM, or EAGAIN for a thread's stack) that ended in a
/// panic.
const OUT_OF_MEMORY: &[&str] = &[
    "memory allocation of",
    "out of memory",
    "Cannot allocate memory",
    "os error 12",
    "Resource temporarily unavailable",
];

/// Most threads one compile uses (the service keeps one compile at a time;
/// more threads than this mostly add stacks).
const MAX_WORKER_THREADS: usize = 8;

/// Exit code of a worker that compiled nothing because the component is
/// invalid (its reason on stderr).
const EXIT_INVALID: i32 = 2;

/// Compiles `bytes` in a worker started from `exe`: the artifact, for
/// `engine` (made from [`config`] with the same `compiler` and `parallel`).
pub(crate) fn in_worker(
    exe: &Path,
    compiler: Compiler,
    parallel: bool,
    bytes: &[u8],
    bounds: Bounds,
) -> Result<Vec<u8>, PluginError> {
    let spawn_failed = |e: std::io::Error| {
        PluginError::Config(format!("cannot start the compile worker {}: {e}", exe.display()))
    };
    // The name the worker's own `--compiler` parses back.
    let compiler_name = clap::ValueEnum::to_possible_value(&compiler).expect("no variant is skipped");
    let compiler_name = compiler_name.get_name();
    let cpu_seconds = bounds.timeout.as_secs().saturating_add(2).to_string();
    let memory = bounds.memory_mib.to_string();
    let mut args = vec!["plugin", "compile-worker", "--compiler", compiler_name];
    args.extend(["--memory-mib", memory.as_str(), "--cpu-seconds", cpu_seconds.as_str()]);
    if parallel {
        args.push("--parallel");
    }
    let mut child = Command::new(exe)
        .args(&args)
        // Nothing of the service's environment (its ROLLBACK_* settings,
        // credentials) reaches the worker.
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_failed)?;
    let started = Instant::now();
    // Feed and drain on their own threads: the pipes hold 64 KiB, the
    // component and its artifact tens of MiB.
    let mut stdin = child.stdin.take().expect("piped");
    let input = bytes.to_vec();
    let feeder = std::thread::spawn(move || {
        // A worker that died early closes its end: its status says why.
        let _ = stdin.write_all(&input);
    });
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut artifact = Vec::new();
        stdout.read_to_end(&mut artifact).map(|_| artifact)
    });
    let mut stderr = child.stderr.take().expect("piped");
    let errors = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = (&mut stderr).take(MAX_WORKER_STDERR as u64).read_to_end(&mut text);
        // Drain the rest so that the worker never blocks on a full pipe.
        let _ = std::io::copy(&mut stderr, &mut std::io::sink());
        String::from_utf8_lossy(&text).into_owned()
    });
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() >= bounds.timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(PluginError::Config(format!("waiting for the compile worker: {e}"))),
        }
    };
    let _ = feeder.join();
    let artifact = reader.join().unwrap_or_else(|_| Ok(Vec::new()));
    let stderr = errors.join().unwrap_or_default();
    let timeout = || {
        PluginError::CompileBounds(format!(
            "compiling took longer than {} ms (--plugin-compile-timeout-ms)",
            bounds.timeout.as_millis()
        ))
    };
    let Some(status) = status else { return Err(timeout()) };
    if status.success() {
        return artifact
            .map_err(|e| PluginError::Config(format!("reading the compile worker's output: {e}")));
    }
    if status.code() == Some(EXIT_INVALID) {
        return Err(PluginError::Invalid(stderr.trim_end().to_string()));
    }
    if OUT_OF_MEMORY.iter().any(|m| stderr.contains(m)) {
        return Err(PluginError::CompileBounds(format!(
            "compiling needed more than {} MiB of memory (--plugin-compile-memory-mib)",
            bounds.memory_mib
        )));
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        // SIGXCPU: the CPU-time backstop fired before the parent's deadline.
        if status.signal() == Some(24) {
            return Err(timeout());
        }
    }
    Err(PluginError::Config(format!("the compile worker failed ({status}): {}", stderr.trim_end())))
}

/// The worker's CPU-time limit, in seconds, for a wall-clock allowance of
/// `seconds` on `threads` compile threads: the kernel sums CPU time over
/// every thread of the process, so a parallel compile spends up to
/// `threads` CPU-seconds per second. (Regression: the limit was the wall
/// allowance itself, and on a slow 2-core machine a Python component that
/// compiled in 33 s of wall time was killed as "longer than 60000 ms".)
fn cpu_limit(seconds: u64, threads: usize) -> u64 {
    seconds.saturating_mul(threads.max(1) as u64)
}

/// The worker's side (`rollback-host plugin compile-worker`): limits
/// itself, reads a component on stdin, writes its artifact on stdout.
/// Returns the process's exit code.
pub fn worker_main(compiler: Compiler, parallel: bool, memory_mib: usize, cpu_seconds: u64) -> i32 {
    // A panic says what and stops, without a backtrace (capturing one
    // allocates, and under the limit that can fail inside the panic).
    std::panic::set_hook(Box::new(|info| eprintln!("compile worker: {info}")));
    // The threads wasmtime compiles on (rayon's global pool) are started
    // before the limit, so that their stacks are not what a small limit
    // refuses first: the limit is for the compile.
    let threads = if parallel {
        std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_WORKER_THREADS)
    } else {
        1
    };
    if let Err(e) = rayon::ThreadPoolBuilder::new().num_threads(threads).build_global() {
        eprintln!("cannot start the compile threads: {e}");
        return 1;
    }
    let memory = (memory_mib as u64).saturating_mul(1 << 20);
    let cpu = cpu_limit(cpu_seconds, threads);
    if let Err(e) = rlimit::setrlimit(rlimit::Resource::DATA, memory, memory)
        .and_then(|()| rlimit::setrlimit(rlimit::Resource::CPU, cpu, cpu.saturating_add(1)))
        .and_then(|()| rlimit::setrlimit(rlimit::Resource::CORE, 0, 0))
    {
        eprintln!("cannot limit the compile worker: {e}");
        return 1;
    }
    // An allocation refused by the limit aborts the process with Rust's
    // message ("memory allocation of N bytes failed"), which the parent
    // reads as the memory bound; so does a refused read buffer here.
    let mut bytes = Vec::new();
    let limit = super::MAX_COMPONENT_BYTES as u64 + 1;
    if let Err(e) = std::io::stdin().lock().take(limit).read_to_end(&mut bytes) {
        eprintln!("reading the component: {e}");
        return 1;
    }
    if bytes.len() > super::MAX_COMPONENT_BYTES {
        eprintln!("the component is larger than {} bytes", super::MAX_COMPONENT_BYTES);
        return EXIT_INVALID;
    }
    let engine = match Engine::new(&config(compiler, parallel)) {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("engine: {e:?}");
            return 1;
        }
    };
    match engine.precompile_component(&bytes) {
        Ok(artifact) => match std::io::stdout().lock().write_all(&artifact) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("writing the artifact: {e}");
                1
            }
        },
        Err(e) => {
            eprintln!("{e:?}");
            EXIT_INVALID
        }
    }
}

/// Compiles `bytes` on `engine` in this process: the component and its
/// artifact (for the cache).
pub(crate) fn in_process(engine: &Engine, bytes: &[u8]) -> Result<(Component, Vec<u8>), PluginError> {
    let artifact = engine.precompile_component(bytes).map_err(|e| PluginError::Invalid(format!("{e:?}")))?;
    let component = super::cache::deserialize_own(engine, &artifact)?;
    Ok((component, artifact))
}

#[cfg(test)]
mod tests {
    use super::cpu_limit;

    /// Regression: a parallel compile was stopped by its CPU time summed
    /// over the threads (SIGXCPU, reported as the deadline) well before
    /// the wall-clock deadline it was given.
    #[test]
    fn a_parallel_compile_gets_cpu_time_for_each_thread() {
        assert_eq!(cpu_limit(62, 1), 62);
        assert_eq!(cpu_limit(62, 2), 124);
        assert_eq!(cpu_limit(62, 8), 496);
        assert_eq!(cpu_limit(62, 0), 62, "never below the wall allowance");
        assert_eq!(cpu_limit(u64::MAX, 8), u64::MAX);
    }
}
