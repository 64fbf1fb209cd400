//! The store's errors.

use uuid::Uuid;

/// Everything the store can report. Callers match on the variant; the
/// message is written for operators.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory is held by another running process.
    #[error("the data directory {path} is in use by another process (sled holds an exclusive lock on it)")]
    Locked {
        /// The data directory.
        path: String,
    },

    /// The database was written by a newer rollback-host.
    #[error("the data directory holds schema version {found}, newer than this build's {supported}; upgrade rollback-host")]
    SchemaTooNew {
        /// The version on disk.
        found: u32,
        /// The version this build writes.
        supported: u32,
    },

    /// No such record.
    #[error("{kind} {uuid} could not be found")]
    NotFound {
        /// `ActionPlan` or `Action`.
        kind: &'static str,
        /// The uuid asked for.
        uuid: Uuid,
    },

    /// A record with this uuid already exists.
    #[error("{kind} {uuid} already exists")]
    Exists {
        /// `ActionPlan` or `Action`.
        kind: &'static str,
        /// The uuid.
        uuid: Uuid,
    },

    /// A stored record cannot be decoded: the database is damaged.
    #[error("stored record {key} is unreadable: {reason}")]
    Corrupt {
        /// Which record.
        key: String,
        /// The decoding error.
        reason: String,
    },

    /// The storage engine failed.
    #[error("storage engine: {0}")]
    Engine(String),

    /// Writing or syncing a file failed.
    #[error("I/O on the data directory: {0}")]
    Io(#[from] std::io::Error),

    /// The committer thread is gone (the store is shutting down).
    #[error("the store is closed")]
    Closed,

    /// A flush or fsync failed: what was written may not be on the disk,
    /// and the kernel may already have dropped the pages, so no later
    /// fsync can be trusted to cover them. The store takes no more writes;
    /// the process should exit and restart from what is durable.
    #[error("the store stopped taking writes: a commit failed to reach the disk ({0}); restart the service")]
    Poisoned(String),

    /// The store's settings are wrong (e.g. a MySQL URL with a password in it).
    #[error("store settings: {0}")]
    Config(String),

    /// The database server cannot be reached, or kept refusing a write it
    /// would take later (MySQL store): nothing was written; try again.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),

    /// The write's own closure panicked; nothing of it was written, and
    /// the store goes on serving other writes.
    #[error("the write failed unexpectedly (it panicked) and was not stored: {0}")]
    JobPanicked(String),
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Io(io) => StoreError::Io(io),
            other => StoreError::Engine(other.to_string()),
        }
    }
}
