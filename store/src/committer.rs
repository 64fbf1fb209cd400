//! The one thread that writes.
//!
//! sled's `flush()` is not an fsync (it uses `sync_file_range`), and
//! concurrent `flush_async()` calls can deadlock against transactions. So
//! every mutation is sent here: the thread takes everything queued, runs
//! each job (its own sled transaction, so one refused job does not sink the
//! others), then calls `flush()` once and `sync_data()` on the database file
//! once, and only then answers each waiting caller (group commit).

use crate::error::StoreError;
use crate::tables::{Tables, Write};
use crate::txn::Txn;
use std::fs::File;
use std::sync::mpsc::{Receiver, TryRecvError};

/// The most jobs folded into one flush.
const MAX_BATCH: usize = 1024;

/// How to answer a job's caller once its writes are durable (or failed).
pub(crate) type Answer = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// What a job hands back: whether to commit what it staged, and its answer.
pub(crate) struct Outcome {
    pub(crate) commit: bool,
    pub(crate) answer: Answer,
}

/// A unit of work: stages writes in a [`Txn`].
pub(crate) type Job = Box<dyn FnOnce(&mut Txn<'_>) -> Outcome + Send>;

/// Runs until every sender is dropped.
pub(crate) fn run(db: sled::Db, tables: Tables, file: File, jobs: Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(j) => batch.push(j),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        let mut waiting = Vec::with_capacity(batch.len());
        for job in batch {
            let mut txn = Txn::new(&tables, &db);
            let Outcome { commit, answer } = job(&mut txn);
            let writes: Vec<Write> = if commit { txn.into_writes() } else { Vec::new() };
            if writes.is_empty() {
                // Nothing to make durable (a refused or read-only job).
                answer(Ok(()));
                continue;
            }
            match tables.apply(&writes) {
                Ok(()) => waiting.push(answer),
                Err(e) => answer(Err(e)),
            }
        }
        if waiting.is_empty() {
            continue;
        }
        let durable = db.flush().map_err(StoreError::from).and_then(|_| Ok(file.sync_data()?));
        match durable {
            Ok(()) => waiting.into_iter().for_each(|a| a(Ok(()))),
            Err(e) => {
                tracing::error!("commit failed to reach the disk: {e}");
                let msg = e.to_string();
                waiting
                    .into_iter()
                    .for_each(|a| a(Err(StoreError::Engine(format!("commit not durable: {msg}")))));
            }
        }
    }
    let _ = db.flush();
    let _ = file.sync_data();
}
