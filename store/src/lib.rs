//! rollback-store: action plans and actions, kept durably in sled or in
//! MySQL/MariaDB.
//!
//! A small database with no idea that HTTP or Wasm exist: typed plan and
//! action records, plus named JSON documents and blobs for state it need not
//! know. Two backends behind one [`Store`]:
//! - **sled** (`sled_store`), the embedded default: one process owns a data
//!   directory; every write runs on a single committer thread and returns
//!   once flushed and fsynced (group commit).
//! - **MySQL/MariaDB** (`mysql`), Galera included: any number of processes
//!   share one database; every write is one database transaction,
//!   serialized across all of them, retried whole on the errors Galera and
//!   InnoDB answer for a lost race or a lost connection.
//!
//! Every write goes through [`Store::write`], which runs a closure over a
//! [`Txn`]; the closure may run more than once (a retried transaction), so
//! it must only stage writes and compute its answer, nothing else.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod committer;
mod copy;
mod error;
mod group;
mod model;
mod mysql;
mod sled_store;
mod sort;
mod tables;
mod txn;

pub use copy::Copied;
pub use error::StoreError;
pub use model::{Action, ActionPlan, ActionState, PlanSource, PlanState, Timestamp};
pub use mysql::MysqlOptions;
pub use sort::{ActionSortKey, PlanSortKey};
pub use txn::Txn;

use mysql::MysqlStore;
use sled_store::SledStore;
use std::path::Path;
use uuid::Uuid;

/// The schema version this build writes. Bump it with a migration when a
/// record's encoding changes incompatibly. 2: sort orders other than
/// creation order are kept only once used (`sort_orders/…` in `meta`); a
/// build of version 1 would list such a store's unkept orders short. 3: a
/// plan's actions are listed under one key (`action_lists`), not a key per
/// action; a build of version 2 would find no plan's actions. (The MySQL
/// schema has its own version: `mysql::SCHEMA_VERSION`.)
pub const SCHEMA_VERSION: u32 = 3;

/// An open store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Sled(SledStore),
    Mysql(MysqlStore),
}

/// Calls the same method on whichever backend the store is.
macro_rules! each {
    ($self:ident . $($call:tt)+) => {
        match &$self.backend {
            Backend::Sled(s) => s.$($call)+,
            Backend::Mysql(s) => s.$($call)+,
        }
    };
}

/// How a new sled store keeps its pages on disk. A store keeps the setting
/// it was created with: sled refuses to open it with the other one, so an
/// existing store opens as it is whatever is asked, and `rollback-host
/// store copy` into a new directory is how a store changes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    /// As they are: the fastest writes.
    #[default]
    None,
    /// zstd (level 1): about half the disk for these JSON records, at about
    /// twice the committer's CPU per write (BENCHMARKS.md, issue 27, P6).
    Zstd,
}

impl Store {
    /// Opens (creating if needed) the sled store in directory `path`. Fails
    /// clearly when another process holds it or its schema is newer.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        Store::open_with(path, Compression::None)
    }

    /// As [`Store::open`], creating a new store with `compression` (an
    /// existing store keeps its own: see [`Store::compression`]).
    pub fn open_with(path: impl AsRef<Path>, compression: Compression) -> Result<Store, StoreError> {
        Ok(Store { backend: Backend::Sled(SledStore::open(path, compression)?) })
    }

    /// How the sled store's pages are kept; `None` for MySQL.
    pub fn compression(&self) -> Option<Compression> {
        match &self.backend {
            Backend::Sled(s) => Some(s.compression()),
            Backend::Mysql(_) => None,
        }
    }

    /// Connects to the MySQL/MariaDB store `options` name, creating or
    /// upgrading its tables; refuses a schema newer than this build's.
    pub fn connect(options: &MysqlOptions) -> Result<Store, StoreError> {
        Ok(Store { backend: Backend::Mysql(MysqlStore::connect(options)?) })
    }

    /// The sled store under this one (the sled store's own tests).
    #[cfg(test)]
    fn sled(&self) -> &SledStore {
        match &self.backend {
            Backend::Sled(s) => s,
            Backend::Mysql(_) => panic!("a MySQL store"),
        }
    }

    /// `sled` or `mysql`.
    pub fn backend(&self) -> &'static str {
        match self.backend {
            Backend::Sled(_) => "sled",
            Backend::Mysql(_) => "mysql",
        }
    }

    /// Whether several processes may share this store (MySQL): then plans
    /// being executed are claimed with leases, and plugin uploads are
    /// polled for.
    pub fn shared(&self) -> bool {
        matches!(self.backend, Backend::Mysql(_))
    }

    /// How many records and index entries have been read since the store
    /// was opened (each key fetched or scanned counts one), transactions
    /// included. For tests and benchmarks that bound the cost of an operation.
    pub fn reads(&self) -> u64 {
        each!(self.reads())
    }

    /// Runs `f` over a [`Txn`]. When `f` returns `Ok`, what it staged is
    /// applied atomically and made durable before this returns; when it
    /// returns `Err`, nothing is written. Writes from all callers (on MySQL:
    /// of every process sharing the database) are serialized, so a check
    /// made inside `f` still holds when its writes land. `f` may be called
    /// more than once — the MySQL store reruns a transaction that lost a
    /// race (a deadlock, a Galera certification failure) or its connection
    /// — so it must have no effect but what it stages.
    pub fn write<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnMut(&mut Txn<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        match &self.backend {
            Backend::Sled(s) => s.write(f),
            Backend::Mysql(s) => s.write(f),
        }
    }

    /// Whether the store can still make writes durable: `Poisoned` once a
    /// flush or fsync failed (then the process should exit; see the
    /// committer), `Closed` if the committer is gone. A MySQL store is
    /// healthy while open: a database that cannot be reached makes requests
    /// fail (503), not the process exit.
    pub fn health(&self) -> Result<(), StoreError> {
        each!(self.health())
    }

    /// Bytes the store takes on disk (sled's own count; for MySQL, the
    /// server's count of its tables' data and indexes).
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        each!(self.size_on_disk())
    }

    /// One plan.
    pub fn plan(&self, uuid: Uuid) -> Result<Option<ActionPlan>, StoreError> {
        each!(self.plan(uuid))
    }

    /// One action.
    pub fn action(&self, uuid: Uuid) -> Result<Option<Action>, StoreError> {
        each!(self.action(uuid))
    }

    /// Every plan, deleted ones included, in creation order.
    pub fn plans(&self) -> Result<Vec<ActionPlan>, StoreError> {
        each!(self.plans())
    }

    /// Every action, deleted ones included, in creation order.
    pub fn actions(&self) -> Result<Vec<Action>, StoreError> {
        each!(self.actions())
    }

    /// Up to `limit` plans in the order of `sort_key` (equal values in
    /// creation order), descending when `descending`, starting after the
    /// plan `marker`, keeping only those `keep` accepts. Reads the sort
    /// index and one record per plan looked at, not the whole table. An
    /// unknown marker is `NotFound`.
    pub fn plans_page(
        &self,
        sort_key: PlanSortKey,
        marker: Option<Uuid>,
        descending: bool,
        limit: usize,
        keep: impl FnMut(&ActionPlan) -> bool,
    ) -> Result<Vec<ActionPlan>, StoreError> {
        each!(self.plans_page(sort_key, marker, descending, limit, keep))
    }

    /// Like [`Store::plans_page`], for actions.
    pub fn actions_page(
        &self,
        sort_key: ActionSortKey,
        marker: Option<Uuid>,
        descending: bool,
        limit: usize,
        keep: impl FnMut(&Action) -> bool,
    ) -> Result<Vec<Action>, StoreError> {
        each!(self.actions_page(sort_key, marker, descending, limit, keep))
    }

    /// A named JSON document (e.g. the simulated cloud's state).
    pub fn document(&self, name: &str) -> Result<Option<serde_json::Value>, StoreError> {
        each!(self.document(name))
    }

    /// Every blob whose name starts with `prefix`, by name.
    pub fn blobs(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        each!(self.blobs(prefix))
    }

    /// Every named document, by name.
    pub fn documents(&self) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        each!(self.documents())
    }

    /// One blob.
    pub fn blob(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        each!(self.blob(name))
    }

    /// The plans of an audit, in creation order.
    pub fn plans_of_audit(&self, audit: Uuid) -> Result<Vec<ActionPlan>, StoreError> {
        each!(self.plans_of_audit(audit))
    }

    /// The actions of a plan, in creation order.
    pub fn actions_of(&self, plan: Uuid) -> Result<Vec<Action>, StoreError> {
        each!(self.actions_of(plan))
    }
}

#[cfg(test)]
mod tests;
