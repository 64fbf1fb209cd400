//! What the store's own group commit sustains for the records one stored
//! rollback of a 10-action plan writes, for `scripts/bench-load.py` to set
//! beside the endpoint's rate in the same run (issue 13, P2's ratio).
//!
//! W writer threads, each for D seconds, each write what
//! `Planner::store_linked` writes: the original plan read and updated
//! (`rolled_back_by`, `updated_at`), a new plan and `--actions` (10) new
//! live migrations with a parent chain and an expected state, with all their index entries, in
//! one job; every write answered only once flushed and fsynced.
//!
//! ```text
//! cargo run --release -p rollback-store --example group_commit -- --writers 32 --seconds 4
//! ```
//! prints one JSON line: `{"writers", "seconds", "writes", "per_second", "p50_ms", "p99_ms"}`.

use chrono::Utc;
use clap::Parser;
use rollback_store::{Action, ActionPlan, Compression, PlanState, Store, StoreError};
use serde_json::json;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The server's allocator, so that the ceiling is measured as the server
/// would reach it.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
struct Args {
    /// Writer threads (the load generator's connections).
    #[arg(long, default_value_t = 32)]
    writers: usize,
    /// How long each writer writes.
    #[arg(long, default_value_t = 4.0)]
    seconds: f64,
    /// Actions in each new plan (0: what a plan of `nop`s rolls back to).
    #[arg(long, default_value_t = 10)]
    actions: usize,
    /// Where the store goes (a fresh temporary directory when not given).
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
    /// Compress the new store's pages with zstd.
    #[arg(long)]
    zstd: bool,
}

/// One rollback's worth of records: `original` linked to a new 10-action plan.
fn store_rollback(store: &Store, original: Uuid, actions: usize) -> Result<(), StoreError> {
    store.write(move |txn| {
        let now = Utc::now();
        let mut orig = txn.plan_required(original)?;
        let plan = ActionPlan {
            id: txn.next_id()?,
            rollback_of: Some(original),
            ..ActionPlan::new(Uuid::new_v4(), "rollback", PlanState::Recommended, now)
        };
        txn.insert_plan(plan.clone())?;
        let mut parent = None;
        for i in 0..actions {
            let uuid = Uuid::new_v4();
            txn.insert_action(Action {
                id: txn.next_id()?,
                description: format!("Rollback of action {} (migrate)", Uuid::new_v4()),
                expected_state: Some(json!({"host": format!("compute-{}", 2 - i % 2)})),
                inverse_of: Some(Uuid::new_v4()),
                ..Action::new(
                    uuid,
                    plan.uuid,
                    "migrate",
                    json!({
                        "resource_id": original, "migration_type": "live",
                        "source_node": format!("compute-{}", 1 + i % 2),
                        "destination_node": format!("compute-{}", 2 - i % 2),
                    })
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                    parent.into_iter().collect(),
                    now,
                )
            })?;
            parent = Some(uuid);
        }
        orig.rolled_back_by = Some(plan.uuid);
        orig.updated_at = Some(now);
        txn.update_plan(orig)
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let temp = tempfile::tempdir()?;
    let compression = if args.zstd { Compression::Zstd } else { Compression::None };
    let store = Store::open_with(args.dir.as_deref().unwrap_or(temp.path()), compression)?;
    let run_for = Duration::from_secs_f64(args.seconds);
    let started = Instant::now();
    let latencies: Vec<Vec<Duration>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..args.writers)
            .map(|_| {
                let store = store.clone();
                s.spawn(move || -> Result<Vec<Duration>, StoreError> {
                    let original = Uuid::new_v4();
                    store.write(move |txn| {
                        let plan = ActionPlan {
                            id: txn.next_id()?,
                            ..ActionPlan::new(original, "bench", PlanState::Succeeded, Utc::now())
                        };
                        txn.insert_plan(plan)
                    })?;
                    let mut took = Vec::new();
                    while started.elapsed() < run_for {
                        let t = Instant::now();
                        store_rollback(&store, original, args.actions)?;
                        took.push(t.elapsed());
                    }
                    Ok(took)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("writer thread").expect("durable write")).collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let mut all: Vec<Duration> = latencies.into_iter().flatten().collect();
    all.sort();
    let pct = |p: f64| all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)));
    let ms = |d: Option<&Duration>| d.map(|d| d.as_secs_f64() * 1e3).unwrap_or(f64::NAN);
    println!(
        "{}",
        json!({
            "writers": args.writers,
            "seconds": elapsed,
            "writes": all.len(),
            "per_second": all.len() as f64 / elapsed,
            "p50_ms": ms(pct(0.50)),
            "p99_ms": ms(pct(0.99)),
        })
    );
    Ok(())
}
