//! What sled 0.34 alone costs for the keys a stored rollback of N actions
//! writes (issue 27, P3): the floor under `Store::write`, without the
//! store's staging, sort keys or answer.
//!
//! Into a fresh database on local disk, N real `Action` records (JSON, as
//! the store encodes them: a live migration with its expected state), then
//! `flush` and an fsync of the log, six ways:
//! - `per-key-txn`: what the store did until schema 3: one sled transaction
//!   over the `actions` and `plan_actions` trees (a record and an index key
//!   per action), each action's creation-order sort key inserted beside it;
//! - `per-key-batch`: the same keys, one `apply_batch` per tree (atomic
//!   per tree only, so not a drop-in replacement);
//! - `runs-of-64`: the records in runs, one key per 64 actions (the "fewer
//!   keys per write" lever; an action's own lookups would need more);
//! - `plan-list`: what the store does since schema 3: the plan index as one
//!   key per plan (the list of its action uuids) instead of one per action:
//!   two keys per action (record, sort entry), the records and the list in
//!   one transaction;
//! - `records+list`: `plan-list` without the sort entries (what serving
//!   the actions' creation order from the plans' would buy);
//! - `runs+lookup`: the runs, plus what an action's own lookup by uuid
//!   needs: a small key per action (uuid → its run's key), both trees in one
//!   transaction, so the records stay atomic with their index.
//!
//! ```text
//! cargo run --release -p rollback-store --example sled_keys -- --actions 10000 --runs 5
//! ```
//! prints one line per way (`--way NAME`, repeated, for only some): the
//! median over the runs, in ms and µs per action.

use chrono::Utc;
use clap::Parser;
use rollback_store::Action;
use serde_json::json;
use sled::Transactional;
use std::time::{Duration, Instant};
use uuid::Uuid;

#[derive(Parser)]
struct Args {
    /// Actions in the plan.
    #[arg(long, default_value_t = 10_000)]
    actions: usize,
    /// Only these ways (all when none is given).
    #[arg(long)]
    way: Vec<String>,
    /// Runs per way (each in a fresh database); the median is printed.
    #[arg(long, default_value_t = 5)]
    runs: usize,
}

/// The records of one plan: (uuid, JSON).
fn records(n: usize) -> (Uuid, Vec<(Uuid, Vec<u8>)>) {
    let plan = Uuid::new_v4();
    let now = Utc::now();
    let mut parent: Option<Uuid> = None;
    let out = (0..n)
        .map(|i| {
            let uuid = Uuid::new_v4();
            let params = json!({"resource_id": "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a01", "migration_type": "live",
                "source_node": format!("compute-{}", i % 7), "destination_node": format!("compute-{}", (i + 1) % 7)});
            let mut a = Action::new(uuid, plan, "migrate", params.as_object().unwrap().clone(), parent.into_iter().collect(), now);
            a.id = i as u64 + 2;
            a.expected_state = Some(json!({"host": format!("compute-{}", (i + 1) % 7), "status": "ACTIVE"}));
            a.description = format!("Migrate instance back from compute-{} to compute-{}", (i + 1) % 7, i % 7);
            parent = Some(uuid);
            (uuid, serde_json::to_vec(&a).unwrap())
        })
        .collect();
    (plan, out)
}

fn pair(a: Uuid, b: Uuid) -> [u8; 32] {
    let mut k = [0; 32];
    k[..16].copy_from_slice(a.as_bytes());
    k[16..].copy_from_slice(b.as_bytes());
    k
}

fn sort_key(id: u64) -> [u8; 17] {
    let mut k = [0; 17];
    k[1..9].copy_from_slice(&id.to_be_bytes());
    k[9..].copy_from_slice(&id.to_be_bytes());
    k
}

/// The records in runs of 64: (plan uuid ‖ run number, the run's records
/// one per line).
fn runs(plan: Uuid, recs: &[(Uuid, Vec<u8>)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    recs.chunks(64)
        .enumerate()
        .map(|(k, run)| {
            let mut value = Vec::with_capacity(run.iter().map(|(_, r)| r.len() + 1).sum());
            for (_, r) in run {
                value.extend_from_slice(r);
                value.push(b'\n');
            }
            let mut key = plan.as_bytes().to_vec();
            key.extend_from_slice(&(k as u32).to_be_bytes());
            (key, value)
        })
        .collect()
}

/// One way, timed from the first insert to the fsync's return.
fn once(way: &str, plan: Uuid, recs: &[(Uuid, Vec<u8>)]) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new().path(dir.path().join("db")).open().unwrap();
    let log = std::fs::File::open(dir.path().join("db").join("db")).unwrap();
    let (actions, index, sort) = (
        db.open_tree("actions").unwrap(),
        db.open_tree("plan_actions").unwrap(),
        db.open_tree("action_sort").unwrap(),
    );
    // A table that already holds one plan, as a serving store would.
    for (u, r) in records(1000).1 {
        actions.insert(u.as_bytes(), r).unwrap();
    }
    db.flush().unwrap();
    let started = Instant::now();
    match way {
        "per-key-txn" => {
            for (i, (u, _)) in recs.iter().enumerate() {
                sort.insert(sort_key(i as u64), u.as_bytes()).unwrap();
            }
            (&actions, &index)
                .transaction(|(actions, index)| {
                    for (u, r) in recs {
                        actions.insert(u.as_bytes(), r.as_slice())?;
                        index.insert(&pair(plan, *u)[..], &[][..])?;
                    }
                    Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
                })
                .unwrap();
        }
        "per-key-batch" => {
            let (mut a, mut x, mut s) =
                (sled::Batch::default(), sled::Batch::default(), sled::Batch::default());
            for (i, (u, r)) in recs.iter().enumerate() {
                s.insert(&sort_key(i as u64)[..], u.as_bytes());
                a.insert(u.as_bytes(), r.as_slice());
                x.insert(&pair(plan, *u)[..], &[][..]);
            }
            sort.apply_batch(s).unwrap();
            actions.apply_batch(a).unwrap();
            index.apply_batch(x).unwrap();
        }
        "runs-of-64" => {
            let mut b = sled::Batch::default();
            for (key, value) in runs(plan, recs) {
                b.insert(key, value);
            }
            actions.apply_batch(b).unwrap();
        }
        "plan-list" | "records+list" => {
            if way == "plan-list" {
                for (i, (u, _)) in recs.iter().enumerate() {
                    sort.insert(sort_key(i as u64), u.as_bytes()).unwrap();
                }
            }
            let list: Vec<u8> = recs.iter().flat_map(|(u, _)| *u.as_bytes()).collect();
            (&actions, &index)
                .transaction(|(actions, index)| {
                    for (u, r) in recs {
                        actions.insert(u.as_bytes(), r.as_slice())?;
                    }
                    index.insert(plan.as_bytes(), list.as_slice())?;
                    Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
                })
                .unwrap();
        }
        "runs+lookup" => {
            let runs = runs(plan, recs);
            (&actions, &index)
                .transaction(|(actions, index)| {
                    for (k, (key, value)) in runs.iter().enumerate() {
                        actions.insert(key.as_slice(), value.as_slice())?;
                        for (u, _) in &recs[k * 64..(k * 64 + 64).min(recs.len())] {
                            index.insert(u.as_bytes(), key.as_slice())?;
                        }
                    }
                    Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
                })
                .unwrap();
        }
        _ => unreachable!(),
    }
    db.flush().unwrap();
    log.sync_data().unwrap();
    started.elapsed()
}

fn main() {
    let args = Args::parse();
    let (plan, recs) = records(args.actions);
    let bytes: usize = recs.iter().map(|(_, r)| r.len()).sum();
    println!("{} actions, {:.1} MB of JSON records", args.actions, bytes as f64 / 1e6);
    let all = ["per-key-txn", "per-key-batch", "plan-list", "records+list", "runs-of-64", "runs+lookup"];
    for way in all.into_iter().filter(|w| args.way.is_empty() || args.way.iter().any(|a| a == w)) {
        let mut runs: Vec<Duration> = (0..args.runs).map(|_| once(way, plan, &recs)).collect();
        runs.sort();
        let median = runs[runs.len() / 2];
        println!(
            "{way:14} {:8.1} ms  {:6.2} µs per action",
            median.as_secs_f64() * 1e3,
            median.as_secs_f64() * 1e6 / args.actions as f64
        );
    }
}
