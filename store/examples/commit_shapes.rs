//! What a group commit costs in sled 0.34 alone, by how its writes are cut
//! into transactions (issue 27, P2): the floor under the committer.
//!
//! Each round stands for one batch of the committer: `--jobs` writes, each
//! a plan record, `--actions` action records and the plan's list of them
//! (the records' creation-order sort entries inserted outside, as the store
//! does), then one `flush` and one fsync of the log. Two ways:
//! - `per-job`: a sled transaction per write (what the committer did until
//!   it staged a batch's jobs over each other);
//! - `per-batch`: one transaction for the whole batch (what it does now).
//!
//! sled rolls its log buffer before and after pinning the log for every
//! transaction (`PageCache::pin_log`), so each transaction costs two buffer
//! writes (`pwrite` and `sync_file_range`) on sled's I/O threads, whatever
//! it holds.
//!
//! ```text
//! cargo run --release -p rollback-store --example commit_shapes -- --jobs 32 --actions 10
//! ```
//! prints one line per way: durable writes per second, over `--seconds`,
//! and the process's CPU time per write (every thread: sled's I/O threads
//! too), from `/proc/self/stat`.

use clap::Parser;
use sled::transaction::ConflictableTransactionError;
use sled::Transactional;
use std::time::Instant;
use uuid::Uuid;

#[derive(Parser)]
struct Args {
    /// Writes per batch (the load generator's connections, at most).
    #[arg(long, default_value_t = 32)]
    jobs: usize,
    /// Actions in each write's plan.
    #[arg(long, default_value_t = 10)]
    actions: usize,
    /// How long each way runs.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
}

/// One write: a plan and its actions' uuids.
type Job = (Uuid, Vec<Uuid>);

/// The process's CPU time so far (user and system, all threads), in
/// seconds, from `/proc/self/stat` (clock ticks of 1/100 s on Linux).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which may hold spaces), from the
    // third: utime and stime are the 14th and 15th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let field =
        |n: usize| rest.split_whitespace().nth(n - 3).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (field(14) + field(15)) / 100.0
}

/// Writes per second and CPU seconds per write, one way, in a fresh
/// database.
fn run(args: &Args, per_batch: bool) -> (f64, f64) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = sled::Config::new().path(dir.path().join("db")).open().expect("sled opens");
    let tree = |name: &str| db.open_tree(name).expect("a tree");
    let (plans, actions, lists, sort) = (tree("plans"), tree("actions"), tree("lists"), tree("sort"));
    let log = std::fs::File::open(dir.path().join("db").join("db")).expect("sled's log file");
    // About the size of a stored record.
    let record = vec![b'x'; 400];
    let apply = |jobs: &[Job]| {
        (&plans, &actions, &lists)
            .transaction(|(plans, actions, lists)| {
                for (plan, uuids) in jobs {
                    plans.insert(plan.as_bytes(), record.clone())?;
                    let mut list = Vec::with_capacity(16 * uuids.len());
                    for u in uuids {
                        actions.insert(u.as_bytes(), record.clone())?;
                        list.extend_from_slice(u.as_bytes());
                    }
                    if !uuids.is_empty() {
                        lists.insert(plan.as_bytes(), list)?;
                    }
                }
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .expect("the transaction commits")
    };
    let (started, cpu) = (Instant::now(), cpu_seconds());
    let mut writes = 0usize;
    while started.elapsed().as_secs_f64() < args.seconds {
        let jobs: Vec<Job> = (0..args.jobs)
            .map(|_| (Uuid::new_v4(), (0..args.actions).map(|_| Uuid::new_v4()).collect()))
            .collect();
        for (plan, uuids) in &jobs {
            for u in std::iter::once(plan).chain(uuids) {
                let id = db.generate_id().expect("an id");
                sort.insert(id.to_be_bytes(), u.as_bytes()).expect("a sort entry");
            }
        }
        if per_batch {
            apply(&jobs);
        } else {
            jobs.chunks(1).for_each(apply);
        }
        db.flush().expect("sled flushes");
        log.sync_data().expect("the log is synced");
        writes += jobs.len();
    }
    (writes as f64 / started.elapsed().as_secs_f64(), (cpu_seconds() - cpu) / writes as f64)
}

fn main() {
    let args = Args::parse();
    for (name, per_batch) in [("per-job", false), ("per-batch", true)] {
        let (rate, cpu) = run(&args, per_batch);
        println!(
            "{name:10} {} writes of {} actions per batch: {rate:8.0} writes/s, {:5.0} µs CPU per write",
            args.jobs,
            args.actions,
            cpu * 1e6
        );
    }
}
