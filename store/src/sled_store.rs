//! The embedded backend: sled in a data directory, one process.
//!
//! Reads go straight to sled from any thread; every write goes through
//! [`SledStore::write`], which runs a closure over a [`Txn`] on the single
//! committer thread and returns only once the change is flushed and fsynced
//! (see `committer`).

use crate::committer::{self, Job, Outcome, Poison};
use crate::error::StoreError;
use crate::model::{Action, ActionPlan};
use crate::sort::{self, ActionSortKey, PlanSortKey};
use crate::tables;
use crate::txn::Txn;
use crate::{Compression, SCHEMA_VERSION};
use std::path::Path;
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Arc, Mutex};
use tables::Tables;
use uuid::Uuid;

pub(crate) const SCHEMA_KEY: &[u8] = b"schema_version";
/// The layout of the sort indexes: absent before they existed, `[1]` when
/// every order was kept, `[2]` when only the orders marked in
/// `sort_orders/…` are.
pub(crate) const SORT_INDEX_KEY: &[u8] = b"sort_index";

/// Jobs that may wait for the committer before callers block.
const QUEUE_DEPTH: usize = 4096;

/// An open sled store. Cheap to clone; the committer stops when the last
/// clone is dropped.
#[derive(Clone)]
pub(crate) struct SledStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) db: sled::Db,
    pub(crate) tables: Tables,
    compression: Compression,
    poison: Poison,
    jobs: Mutex<Option<SyncSender<Job>>>,
    committer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.jobs.lock().map(|mut j| j.take()).ok();
        if let Some(handle) = self.committer.lock().ok().and_then(|mut h| h.take()) {
            let _ = handle.join();
        }
    }
}

fn is_lock_error(e: &sled::Error) -> bool {
    match e {
        sled::Error::Io(io) => io.kind() == std::io::ErrorKind::WouldBlock || io.to_string().contains("lock"),
        _ => false,
    }
}

/// The most sled keeps of the database in memory (its page cache; the
/// rest is read back through the kernel's page cache when needed). sled's
/// default is 1 GiB, which a store of a million plans fills: the server
/// then held 1.5 GiB resident; with 128 MiB it holds 404 MiB (464 MiB with
/// the binary's jemalloc), and list pages and the rollback endpoint's rate
/// did not change beyond noise (BENCHMARKS.md, issue 27, P6). sled counts
/// a cached page at its size in the log, so a compressed store's cap is smaller by about the pages'
/// compression ratio (2.5 for these records) to hold as much in memory.
const CACHE_BYTES: u64 = 128 << 20;
const CACHE_BYTES_COMPRESSED: u64 = 48 << 20;

/// zstd level for a compressed store's pages: the lowest sled takes, as
/// sled compresses every page it writes with a new zstd context.
const COMPRESSION_LEVEL: i32 = 1;

/// Whether the store in `path` compresses its pages. sled records the
/// setting in its `conf` file at creation and refuses to open the store
/// with the other one, so an existing store keeps what it was created with
/// and only a new one (no `conf` yet) takes `wanted`.
fn compressed(path: &Path, wanted: Compression) -> Result<bool, StoreError> {
    // `conf` is sled's settings as `key: value` lines and a CRC-32 after
    // them; sled treats a file of 8 bytes or fewer as no file.
    let conf = match std::fs::read(path.join("conf")) {
        Ok(conf) if conf.len() > 8 => conf,
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => return Ok(wanted == Compression::Zstd),
    };
    let conf = String::from_utf8_lossy(&conf[..conf.len() - 4]);
    match conf.lines().find_map(|l| l.strip_prefix("use_compression:")).map(str::trim) {
        Some("true") => Ok(true),
        Some("false") | None => Ok(false),
        Some(other) => Err(StoreError::Corrupt {
            key: path.join("conf").display().to_string(),
            reason: format!("use_compression: {other}"),
        }),
    }
}

impl SledStore {
    /// How this store's pages are kept (what it was created with).
    pub(crate) fn compression(&self) -> Compression {
        self.inner.compression
    }

    /// Opens (creating if needed) the store in directory `path`. Fails
    /// clearly when another process holds it or its schema is newer.
    pub(crate) fn open(path: impl AsRef<Path>, compression: Compression) -> Result<SledStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        std::fs::create_dir_all(&path)?;
        private(&path)?;
        let compressed = compressed(&path, compression)?;
        let db = sled::Config::new()
            .path(&path)
            .cache_capacity(if compressed { CACHE_BYTES_COMPRESSED } else { CACHE_BYTES })
            .use_compression(compressed)
            .compression_factor(COMPRESSION_LEVEL)
            .open()
            .map_err(|e| {
                if is_lock_error(&e) {
                    StoreError::Locked { path: path.display().to_string() }
                } else {
                    e.into()
                }
            })?;
        let tables = Tables::open(&db)?;
        let found = check_schema(&tables)?;
        let layout = tables.meta.get(SORT_INDEX_KEY)?;
        let upgrade = layout.as_deref() != Some(&[2u8][..]) || found != Some(SCHEMA_VERSION);
        match layout.as_deref() {
            None => {
                // New, or from before the sort indexes: creation order only.
                let n = tables.build_order(false, 0)? + tables.build_order(true, 0)?;
                if n > 0 {
                    tracing::info!(entries = n, "built the creation-order index of an older store");
                }
            }
            Some([1]) => {
                // Every order was kept and is complete: go on keeping them all.
                tables.set_orders(false, tables::all_orders(PlanSortKey::ALL.len()))?;
                tables.set_orders(true, tables::all_orders(ActionSortKey::ALL.len()))?;
            }
            Some(_) => {}
        }
        if found != Some(SCHEMA_VERSION) {
            // Schema 2's plan index, a key per action, into one list per plan.
            let n = tables.move_old_plan_index(&db)?;
            if n > 0 {
                db.flush()?;
                tracing::info!(entries = n, "moved an older store's plan index into a list per plan");
            }
        }
        if upgrade {
            // New, or written by an older build: recorded once, not at every open.
            tables.meta.insert(SORT_INDEX_KEY, &[2u8][..])?;
            tables.meta.insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())?;
            db.flush()?;
        }
        // Only once the lists and the new version are durable.
        tables.drop_old_plan_index(&db)?;
        tables.load_orders()?;
        let file = std::fs::OpenOptions::new().read(true).open(path.join("db"))?;
        // sled creates `conf`, `db` and `blobs/` without syncing them or
        // the directory: make what it created at open durable now.
        sync_created(&path)?;
        let mut blobs = committer::BlobDir::new(&path);
        blobs.sync_new()?;

        let (tx, rx) = mpsc::sync_channel(QUEUE_DEPTH);
        let poison = Poison::default();
        let committer = {
            let (db, tables, poison) = (db.clone(), tables.clone(), Arc::clone(&poison));
            std::thread::Builder::new()
                .name("store-committer".into())
                .spawn(move || committer::run(db, tables, file, rx, poison, blobs))?
        };
        Ok(SledStore {
            inner: Arc::new(Inner {
                db,
                tables,
                compression: if compressed { Compression::Zstd } else { Compression::None },
                poison,
                jobs: Mutex::new(Some(tx)),
                committer: Mutex::new(Some(committer)),
            }),
        })
    }

    /// How many records and index entries have been read since the store
    /// was opened (each key fetched or scanned counts one), transactions
    /// included. For tests and benchmarks that bound the cost of an operation.
    pub(crate) fn reads(&self) -> u64 {
        self.inner.tables.reads()
    }

    /// Runs `f` on the committer thread over a [`Txn`]. When `f` returns
    /// `Ok`, what it staged is applied atomically (in one sled transaction,
    /// with the other writes of its group commit) and made durable before
    /// this returns; when it returns `Err`, nothing is written. Writes from
    /// all callers are serialized. `f` may run more than once (a refused
    /// group runs again job by job); the last run's answer is returned.
    pub(crate) fn write<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnMut(&mut Txn<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.write_job(f, false)
    }

    /// [`SledStore::write`] for a job that writes sled's trees itself:
    /// it runs once the jobs before it are applied.
    fn write_exclusive<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnMut(&mut Txn<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.write_job(f, true)
    }

    fn write_job<R, E, F>(&self, mut f: F, exclusive: bool) -> Result<R, E>
    where
        F: FnMut(&mut Txn<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        if let Some(why) = self.inner.poison.get() {
            return Err(E::from(StoreError::Poisoned(why.clone())));
        }
        let (reply_tx, reply_rx) = mpsc::sync_channel::<Result<R, E>>(1);
        let fail_tx = reply_tx.clone();
        let run: Box<dyn FnMut(&mut Txn<'_>) -> Outcome + Send> = Box::new(move |txn| {
            let outcome = f(txn);
            let commit = outcome.is_ok();
            let reply_tx = reply_tx.clone();
            Outcome {
                commit,
                answer: Box::new(move |durable| {
                    let reply = match (outcome, durable) {
                        (Ok(r), Ok(())) => Ok(r),
                        (Ok(_), Err(e)) => Err(E::from(e)),
                        (Err(e), _) => Err(e),
                    };
                    let _ = reply_tx.send(reply);
                }),
            }
        });
        let job = Job {
            run,
            fail: Box::new(move |result| {
                if let Err(e) = result {
                    let _ = fail_tx.send(Err(E::from(e)));
                }
            }),
            exclusive,
        };
        let sender = self.inner.jobs.lock().ok().and_then(|j| j.clone()).ok_or(StoreError::Closed)?;
        sender.send(job).map_err(|_| StoreError::Closed)?;
        reply_rx.recv().map_err(|_| StoreError::Closed)?
    }

    /// Whether the store can still make writes durable: `Poisoned` once a
    /// flush or fsync failed (then the process should exit; see the
    /// committer), `Closed` if the committer is gone.
    pub(crate) fn health(&self) -> Result<(), StoreError> {
        if let Some(why) = self.inner.poison.get() {
            return Err(StoreError::Poisoned(why.clone()));
        }
        let alive =
            self.inner.committer.lock().ok().is_some_and(|h| h.as_ref().is_some_and(|h| !h.is_finished()));
        if alive {
            Ok(())
        } else {
            Err(StoreError::Closed)
        }
    }

    /// Reads stop too once a commit failed: what the store holds in memory
    /// may then include writes that never reached the disk.
    fn readable(&self) -> Result<(), StoreError> {
        match self.inner.poison.get() {
            Some(why) => Err(StoreError::Poisoned(why.clone())),
            None => Ok(()),
        }
    }

    /// Bytes the store's files take on disk (sled's own count).
    pub(crate) fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.inner.db.size_on_disk()?)
    }

    /// One plan.
    pub(crate) fn plan(&self, uuid: Uuid) -> Result<Option<ActionPlan>, StoreError> {
        self.readable()?;
        self.inner.tables.plan(uuid)
    }

    /// One action.
    pub(crate) fn action(&self, uuid: Uuid) -> Result<Option<Action>, StoreError> {
        self.readable()?;
        self.inner.tables.action(uuid)
    }

    /// Every plan, deleted ones included, in creation order.
    pub(crate) fn plans(&self) -> Result<Vec<ActionPlan>, StoreError> {
        self.readable()?;
        let mut all = self.inner.tables.all_plans()?;
        all.sort_by_key(|p| p.id);
        Ok(all)
    }

    /// Every action, deleted ones included, in creation order.
    pub(crate) fn actions(&self) -> Result<Vec<Action>, StoreError> {
        self.readable()?;
        let mut all = self.inner.tables.all_actions()?;
        all.sort_by_key(|a| a.id);
        Ok(all)
    }

    /// Up to `limit` plans in the order of `sort_key` (equal values in
    /// creation order), descending when
    /// `descending`, starting after the plan `marker`, keeping only those
    /// `keep` accepts. Reads the sort index and one record per plan looked
    /// at, not the whole table — except the first list in an order the
    /// store does not keep yet, which builds it (see `sort`). An unknown
    /// marker is `NotFound`.
    pub(crate) fn plans_page(
        &self,
        sort_key: PlanSortKey,
        marker: Option<Uuid>,
        descending: bool,
        limit: usize,
        keep: impl FnMut(&ActionPlan) -> bool,
    ) -> Result<Vec<ActionPlan>, StoreError> {
        let t = &self.inner.tables;
        let index = SortIndex { tree: &t.plan_sort, actions: false, kind: "ActionPlan" };
        self.page(
            index,
            (sort_key.field(), sort_key.name()),
            marker,
            descending,
            limit,
            |u| t.plan(u),
            sort::plan_key,
            keep,
        )
    }

    /// Like [`SledStore::plans_page`], for actions.
    pub(crate) fn actions_page(
        &self,
        sort_key: ActionSortKey,
        marker: Option<Uuid>,
        descending: bool,
        limit: usize,
        keep: impl FnMut(&Action) -> bool,
    ) -> Result<Vec<Action>, StoreError> {
        let t = &self.inner.tables;
        let index = SortIndex { tree: &t.action_sort, actions: true, kind: "Action" };
        self.page(
            index,
            (sort_key.field(), sort_key.name()),
            marker,
            descending,
            limit,
            |u| t.action(u),
            sort::action_key,
            keep,
        )
    }

    /// One page from a sort index: `load` reads a record, `key_of` computes
    /// its key under a field (an entry whose record now has another key is
    /// stale, and skipped).
    #[allow(clippy::too_many_arguments)]
    fn page<T>(
        &self,
        index: SortIndex<'_>,
        (field, sort_key): (usize, &str),
        marker: Option<Uuid>,
        descending: bool,
        limit: usize,
        load: impl Fn(Uuid) -> Result<Option<T>, StoreError>,
        key_of: fn(&T, usize) -> Vec<u8>,
        mut keep: impl FnMut(&T) -> bool,
    ) -> Result<Vec<T>, StoreError> {
        self.readable()?;
        if !self.inner.tables.keeps(index.actions, field) {
            self.build_order(index.actions, field, sort_key)?;
        }
        let after = match marker {
            Some(m) => {
                Some(key_of(&load(m)?.ok_or(StoreError::NotFound { kind: index.kind, uuid: m })?, field))
            }
            None => None,
        };
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        for entry in self.inner.tables.sorted(index.tree, field as u8, after, descending) {
            let (key, uuid) = entry?;
            if let Some(record) = load(uuid)? {
                if key == key_of(&record, field) && keep(&record) {
                    out.push(record);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
        }
        Ok(out)
    }

    /// Builds a sort order on the committer thread, one step of records at
    /// a time (other writes run between the steps and keep the part built
    /// so far up to date). The first list in an order pays the whole table
    /// once; every write after that keeps the order up to date.
    fn build_order(&self, actions: bool, field: usize, name: &str) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let mut entries = 0;
        loop {
            let (wrote, done) = self.write_exclusive(move |txn| {
                txn.tables()?.build_order_step(actions, field, tables::BUILD_STEP)
            })?;
            entries += wrote;
            if done {
                break;
            }
        }
        if entries > 0 {
            let kind = if actions { "actions" } else { "action plans" };
            tracing::info!(
                entries,
                ms = started.elapsed().as_millis() as u64,
                "built the sort index of {kind} by {name} on its first use"
            );
        }
        Ok(())
    }

    /// A named JSON document (e.g. the simulated cloud's state).
    pub(crate) fn document(&self, name: &str) -> Result<Option<serde_json::Value>, StoreError> {
        self.readable()?;
        self.inner.tables.document(name)
    }

    /// Every named document, by name.
    pub(crate) fn documents(&self) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        self.readable()?;
        let mut out = Vec::new();
        for kv in self.inner.tables.documents.iter() {
            let (k, _) = kv?;
            let name = String::from_utf8_lossy(&k).into_owned();
            if let Some(v) = self.inner.tables.document(&name)? {
                out.push((name, v));
            }
        }
        Ok(out)
    }

    /// One blob.
    pub(crate) fn blob(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.readable()?;
        Ok(self.inner.tables.blobs.get(name.as_bytes())?.map(|v| v.to_vec()))
    }

    /// Every blob whose name starts with `prefix`, by name.
    pub(crate) fn blobs(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.readable()?;
        self.inner.tables.blobs(prefix)
    }

    /// The plans of an audit, in creation order (via the audit index).
    pub(crate) fn plans_of_audit(&self, audit: Uuid) -> Result<Vec<ActionPlan>, StoreError> {
        self.readable()?;
        let mut out = Vec::new();
        for uuid in self.inner.tables.plan_uuids_of_audit(audit)? {
            out.extend(self.plan(uuid)?);
        }
        out.sort_by_key(|p| p.id);
        Ok(out)
    }

    /// The actions of a plan, in creation order (via the plan index).
    pub(crate) fn actions_of(&self, plan: Uuid) -> Result<Vec<Action>, StoreError> {
        self.readable()?;
        let mut out = Vec::new();
        for uuid in self.inner.tables.action_uuids_of(plan)? {
            out.extend(self.action(uuid)?);
        }
        out.sort_by_key(|a| a.id);
        Ok(out)
    }
}

/// fsyncs the files sled creates at open and the directories holding them.
fn sync_created(path: &Path) -> Result<(), StoreError> {
    for name in ["conf", "db"] {
        let f = path.join(name);
        if f.exists() {
            std::fs::File::open(&f)?.sync_all()?;
        }
    }
    let blobs = path.join("blobs");
    if blobs.is_dir() {
        std::fs::File::open(&blobs)?.sync_all()?;
    }
    std::fs::File::open(path)?.sync_all()?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        // The data directory itself may be new.
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

/// A sort-index tree, the fields it orders by, and its records' kind (for
/// an unknown marker's error).
struct SortIndex<'a> {
    tree: &'a sled::Tree,
    /// Whether it is the actions' tree.
    actions: bool,
    kind: &'static str,
}

/// Makes the data directory private to the service's user (mode 0700):
/// it holds the plans, the uploaded plugins and the compile cache's key.
/// sled creates its files with the process's umask (usually 0644); the
/// directory's mode is what keeps them from other users.
fn private(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
        if mode != 0o700 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
            tracing::info!(dir = %dir.display(), from = format!("{mode:o}"), "data directory made private (0700)");
        }
    }
    Ok(())
}

/// The store's schema version (`None`: a new database); refuses a newer
/// one than this build writes.
fn check_schema(tables: &Tables) -> Result<Option<u32>, StoreError> {
    match tables.meta.get(SCHEMA_KEY)? {
        Some(v) => {
            let found = <[u8; 4]>::try_from(v.as_ref()).map(u32::from_be_bytes).map_err(|_| {
                StoreError::Corrupt { key: "meta/schema_version".into(), reason: "not a u32".into() }
            })?;
            if found > SCHEMA_VERSION {
                return Err(StoreError::SchemaTooNew { found, supported: SCHEMA_VERSION });
            }
            Ok(Some(found))
        }
        None => Ok(None),
    }
}
