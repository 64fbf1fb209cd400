//! The one thread that writes.
//!
//! sled's `flush()` is not an fsync (it uses `sync_file_range`), and
//! concurrent `flush_async()` calls can deadlock against transactions. So
//! every mutation is sent here: the thread takes everything queued, stages
//! the jobs one after the other, each over what the ones before staged, and
//! applies their writes in one sled transaction (see [`crate::group`]: a
//! refused transaction runs them again one at a time, so that one refused
//! job does not sink the others), then calls `flush()` once and
//! `sync_data()` on the database file once, and only then answers each
//! waiting caller (group commit).
//!
//! Fail-stop: when the flush or the fsync fails — or sled refuses to take
//! a batch's writes at all (a full disk: sled's own background flusher
//! meets ENOSPC first, and from then on every insert fails) — the waiting
//! callers get [`StoreError::Poisoned`] (as does a write whose staging met
//! the storage failing: `Txn::next_id` writes sled's id counter), and so
//! does every later write,
//! without being run; the store reports itself unhealthy ([`crate::Store::health`]) so the
//! service can exit and restart from what is durable (after a failed
//! fsync the kernel may have dropped the dirty pages, and a later fsync
//! would report success for data that is gone). A job that panics fails
//! alone: its caller gets [`StoreError::JobPanicked`], nothing it staged is
//! written, and the thread goes on.

use crate::error::StoreError;
use crate::group::{GroupBase, Staged, MAX_GROUP_WRITES};
use crate::tables::{Tables, Write};
use crate::txn::{Base, SledBase, Txn};
use std::fs::File;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Arc, OnceLock};

/// The most jobs folded into one flush.
const MAX_BATCH: usize = 1024;

/// How to answer a job's caller once its writes are durable (or failed).
pub(crate) type Answer = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// What a job hands back: whether to commit what it staged, and its answer.
pub(crate) struct Outcome {
    pub(crate) commit: bool,
    pub(crate) answer: Answer,
}

/// A unit of work: stages writes in a [`Txn`]. It may be run more than
/// once (a group that must be run again, see [`crate::group`]); only the
/// last run's outcome is answered. `fail` answers its caller when the job
/// cannot run or panicked.
pub(crate) struct Job {
    pub(crate) run: Box<dyn FnMut(&mut Txn<'_>) -> Outcome + Send>,
    pub(crate) fail: Answer,
    /// Writes sled's trees itself (a step of building a sort order): runs
    /// after the jobs before it are applied, alone.
    pub(crate) exclusive: bool,
}

/// Set once a commit failed to reach the disk: the reason.
pub(crate) type Poison = Arc<OnceLock<String>>;

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}

/// The committer's state: sled, and the jobs staged but not yet applied.
struct Committer {
    db: sled::Db,
    tables: Tables,
    poison: Poison,
    staged: Staged,
    /// The jobs behind `staged`, with their answers, in order.
    jobs: Vec<(Job, Answer)>,
    /// Answers owed once the batch is durable.
    waiting: Vec<Answer>,
}

/// Runs until every sender is dropped.
pub(crate) fn run(
    db: sled::Db,
    tables: Tables,
    file: File,
    jobs: Receiver<Job>,
    poison: Poison,
    mut blobs: BlobDir,
) {
    let mut c =
        Committer { db, tables, poison, staged: Staged::default(), jobs: Vec::new(), waiting: Vec::new() };
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(j) => batch.push(j),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        for job in batch {
            if let Some(why) = c.poison.get() {
                (job.fail)(Err(StoreError::Poisoned(why.clone())));
                continue;
            }
            if job.exclusive {
                c.apply_group();
                c.run_alone(job);
            } else {
                c.stage(job);
                if c.staged.writes.len() >= MAX_GROUP_WRITES {
                    c.apply_group();
                }
            }
        }
        c.apply_group();
        let waiting = std::mem::take(&mut c.waiting);
        if let Some(why) = c.poison.get() {
            // Applied before the failure, not synced: not durable.
            waiting.into_iter().for_each(|a| a(Err(StoreError::Poisoned(why.clone()))));
            continue;
        }
        if waiting.is_empty() {
            continue;
        }
        match sync(&c.db, &file, &mut blobs) {
            Ok(()) => waiting.into_iter().for_each(|a| a(Ok(()))),
            Err(e) => {
                let why = e.to_string();
                tracing::error!("a commit failed to reach the disk: {why}; the store takes no more writes");
                let _ = c.poison.set(why.clone());
                waiting.into_iter().for_each(|a| a(Err(StoreError::Poisoned(why.clone()))));
            }
        }
    }
    if c.poison.get().is_none() {
        let _ = c.db.flush();
        let _ = file.sync_data();
    }
}

/// What running a job once gave: its writes and answer, or that it failed.
enum Ran {
    Staged(Vec<Write>, Answer),
    /// Answered already (it panicked, or met the storage failing).
    Done,
}

impl Committer {
    /// Runs `job` over sled's trees and what `staged` holds (empty: sled's
    /// alone). Staging that meets the storage failing stops the store; a
    /// job that panics fails alone.
    fn run_job(&self, job: &mut Job, over_group: bool) -> Ran {
        let staged = catch_unwind(AssertUnwindSafe(|| {
            let sled = SledBase { tables: &self.tables, db: &self.db };
            let group =
                GroupBase { sled: SledBase { tables: &self.tables, db: &self.db }, staged: &self.staged };
            let base: &dyn Base = if over_group { &group } else { &sled };
            let mut txn = Txn::new(base, Some(&self.tables));
            let Outcome { commit, answer } = (job.run)(&mut txn);
            let failed = txn.engine_failed();
            let writes: Vec<Write> = if commit && failed.is_none() { txn.into_writes() } else { Vec::new() };
            (writes, answer, failed)
        }));
        match staged {
            Ok((_, answer, Some(why))) => {
                // Staging met the storage failing (a full disk): stop.
                tracing::error!("the storage engine failed while a write was staged: {why}; the store takes no more writes");
                let _ = self.poison.set(why.clone());
                answer(Err(StoreError::Poisoned(why)));
                Ran::Done
            }
            Ok((writes, answer, None)) => Ran::Staged(writes, answer),
            Err(panic) => {
                let why = panic_message(panic.as_ref());
                tracing::error!("a store write panicked and was dropped: {why}");
                let fail = std::mem::replace(&mut job.fail, Box::new(|_| {}));
                fail(Err(StoreError::JobPanicked(why)));
                Ran::Done
            }
        }
    }

    /// Stages `job` after the group's others; its answer waits for the
    /// group (what it read may be what they staged).
    fn stage(&mut self, mut job: Job) {
        if let Ran::Staged(writes, answer) = self.run_job(&mut job, true) {
            self.staged.absorb(writes);
            self.jobs.push((job, answer));
        }
    }

    /// Applies the group's writes in one transaction. A refused one (a
    /// stored uuid inserted as new) wrote nothing: the group's jobs run
    /// again one at a time.
    fn apply_group(&mut self) {
        let jobs = std::mem::take(&mut self.jobs);
        if jobs.is_empty() {
            return;
        }
        if let Some(why) = self.poison.get() {
            // A later job's staging met the storage failing: nothing more
            // goes to sled.
            self.staged.clear();
            jobs.into_iter().for_each(|(_, answer)| answer(Err(StoreError::Poisoned(why.clone()))));
            return;
        }
        if self.staged.is_empty() {
            // Nothing to make durable (refused or read-only jobs).
            jobs.into_iter().for_each(|(_, answer)| answer(Ok(())));
            return;
        }
        let applied = catch_unwind(AssertUnwindSafe(|| self.tables.apply(&self.staged.writes)));
        self.staged.clear();
        match applied {
            Ok(Ok(())) => self.waiting.extend(jobs.into_iter().map(|(_, answer)| answer)),
            Ok(Err(StoreError::Exists { .. })) | Err(_) => {
                for (job, _) in jobs {
                    match self.poison.get() {
                        Some(why) => (job.fail)(Err(StoreError::Poisoned(why.clone()))),
                        None => self.run_alone(job),
                    }
                }
            }
            Ok(Err(e)) => {
                let why = self.refused(e);
                jobs.into_iter().for_each(|(_, answer)| answer(Err(StoreError::Poisoned(why.clone()))));
            }
        }
    }

    /// sled refused to apply writes for another reason than a stored uuid:
    /// applying only writes, that is the storage failing (ENOSPC, EIO), and
    /// what sled holds in memory may no longer match the disk. Stops the
    /// store, as for a failed fsync; answers why.
    fn refused(&self, e: StoreError) -> String {
        let why = e.to_string();
        tracing::error!("the storage engine refused a commit: {why}; the store takes no more writes");
        let _ = self.poison.set(why.clone());
        why
    }

    /// Runs `job` over sled's trees alone and applies its writes in a
    /// transaction of its own.
    fn run_alone(&mut self, mut job: Job) {
        let (writes, answer) = match self.run_job(&mut job, false) {
            Ran::Staged(writes, answer) => (writes, answer),
            Ran::Done => return,
        };
        if writes.is_empty() {
            // Nothing to make durable (a refused or read-only job).
            answer(Ok(()));
            return;
        }
        match catch_unwind(AssertUnwindSafe(|| self.tables.apply(&writes))) {
            Ok(Ok(())) => self.waiting.push(answer),
            // A new record's uuid was stored: the transaction wrote
            // nothing, and the job fails alone.
            Ok(Err(e @ StoreError::Exists { .. })) => answer(Err(e)),
            Ok(Err(e)) => {
                let why = self.refused(e);
                answer(Err(StoreError::Poisoned(why)));
            }
            Err(panic) => answer(Err(StoreError::JobPanicked(panic_message(panic.as_ref())))),
        }
    }
}

/// sled's flush (writes, no fsync), then an fsync of every blob file sled
/// wrote since the last commit and of their directory, then an fsync of
/// the log file — in that order, so a durable log never points at a blob
/// that is not. The `store::sync` failpoint (tests only) makes it fail.
fn sync(db: &sled::Db, file: &File, blobs: &mut BlobDir) -> Result<(), StoreError> {
    fail::fail_point!("store::sync", |why| Err(StoreError::Io(std::io::Error::other(
        why.unwrap_or_else(|| "injected fsync failure".into())
    ))));
    db.flush()?;
    blobs.sync_new()?;
    file.sync_data()?;
    Ok(())
}

/// sled writes any value (or node) larger than a quarter of its segment
/// size to a file of its own under `blobs/`, with `write_all` and no fsync
/// (sled 0.34.7, `pagecache/blob_io.rs`), and its flush does not sync them
/// either. This keeps track of which of those files are already synced.
pub(crate) struct BlobDir {
    dir: std::path::PathBuf,
    synced: std::collections::HashSet<std::ffi::OsString>,
}

impl BlobDir {
    /// The blob files of the store in `data_dir`, all to be synced once.
    pub(crate) fn new(data_dir: &std::path::Path) -> Self {
        BlobDir { dir: data_dir.join("blobs"), synced: Default::default() }
    }

    /// fsyncs every blob file not synced yet, then the directory if any was.
    pub(crate) fn sync_new(&mut self) -> std::io::Result<()> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut present = std::collections::HashSet::new();
        let mut new = 0;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            if !self.synced.contains(&name) {
                match File::open(entry.path()) {
                    Ok(f) => f.sync_all()?,
                    // Collected by sled meanwhile: nothing to sync.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                }
                new += 1;
            }
            present.insert(name);
        }
        if new > 0 {
            File::open(&self.dir)?.sync_all()?;
        }
        self.synced = present;
        Ok(())
    }
}
