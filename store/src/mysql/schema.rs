//! The MySQL/MariaDB schema, its version, and its upgrades.
//!
//! | table               | key                         | holds                              |
//! |---------------------|-----------------------------|------------------------------------|
//! | `rollback_plans`    | `uuid`                      | id, audit_uuid, the plan (JSON)    |
//! | `rollback_actions`  | `uuid`                      | id, action_plan_uuid, the action   |
//! | `rollback_sort`     | `kind`, `sort_key`          | the record's uuid (see `sort`)     |
//! | `rollback_documents`| `name`                      | a JSON document                    |
//! | `rollback_blobs`    | `name`, `seq`               | a blob, in chunks of [`CHUNK`]     |
//! | `rollback_lock`     | `id` = 1                    | the next record id; every write locks and updates it |
//! | `rollback_commits`  | `token`                     | when: proof that a write landed    |
//! | `rollback_meta`     | `name`                      | `schema_version`                   |
//!
//! Records are the same JSON the sled store keeps; the columns beside them
//! are what the lists and lookups need indexes on (`by_id` for creation
//! order, `by_plan`, `by_audit`). Every list order is kept in
//! `rollback_sort`, whose keys are the sled store's sort keys (byte order is
//! the API's order), at most [`MAX_SORT_KEY`] bytes. Every table has a
//! primary key (Galera replicates only such tables safely) and is InnoDB.

use super::{db_error, Conn};
use crate::error::StoreError;
use mysql::prelude::Queryable;

/// The schema version this build writes. Each entry of [`MIGRATIONS`]
/// brings a database from the version before it to its own.
pub(crate) const SCHEMA_VERSION: u32 = 1;

/// Blob chunk size: well under MariaDB's default `max_allowed_packet`
/// (16 MiB), and small enough for one Galera write set to carry many.
pub(crate) const CHUNK: usize = 1 << 20;

/// The longest sort key kept: InnoDB indexes at most 3072 bytes of a key,
/// and the primary key also holds `kind`.
pub(crate) const MAX_SORT_KEY: usize = 3000;

/// (version, statements): applied in order to a database below `version`.
const MIGRATIONS: &[(u32, &[&str])] = &[(
    1,
    &[
        "CREATE TABLE IF NOT EXISTS rollback_plans (
            uuid BINARY(16) NOT NULL PRIMARY KEY,
            id BIGINT UNSIGNED NOT NULL,
            audit_uuid BINARY(16) NULL,
            body LONGBLOB NOT NULL,
            UNIQUE KEY by_id (id),
            KEY by_audit (audit_uuid, id)
        ) ENGINE=InnoDB",
        "CREATE TABLE IF NOT EXISTS rollback_actions (
            uuid BINARY(16) NOT NULL PRIMARY KEY,
            id BIGINT UNSIGNED NOT NULL,
            action_plan_uuid BINARY(16) NOT NULL,
            body LONGBLOB NOT NULL,
            UNIQUE KEY by_id (id),
            KEY by_plan (action_plan_uuid, id)
        ) ENGINE=InnoDB",
        "CREATE TABLE IF NOT EXISTS rollback_sort (
            kind TINYINT UNSIGNED NOT NULL,
            sort_key VARBINARY(3000) NOT NULL,
            uuid BINARY(16) NOT NULL,
            PRIMARY KEY (kind, sort_key)
        ) ENGINE=InnoDB",
        "CREATE TABLE IF NOT EXISTS rollback_documents (
            name VARBINARY(255) NOT NULL PRIMARY KEY,
            body LONGBLOB NOT NULL
        ) ENGINE=InnoDB",
        "CREATE TABLE IF NOT EXISTS rollback_blobs (
            name VARBINARY(255) NOT NULL,
            seq INT UNSIGNED NOT NULL,
            body MEDIUMBLOB NOT NULL,
            PRIMARY KEY (name, seq)
        ) ENGINE=InnoDB",
        "CREATE TABLE IF NOT EXISTS rollback_lock (
            id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
            next_id BIGINT UNSIGNED NOT NULL,
            writes BIGINT UNSIGNED NOT NULL
        ) ENGINE=InnoDB",
        "INSERT IGNORE INTO rollback_lock (id, next_id, writes) VALUES (1, 1, 0)",
        "CREATE TABLE IF NOT EXISTS rollback_commits (
            token BINARY(16) NOT NULL PRIMARY KEY,
            at BIGINT NOT NULL,
            KEY by_at (at)
        ) ENGINE=InnoDB",
    ],
)];

/// Creates the tables of a new database, upgrades an older one, refuses a
/// newer one. Safe to run from several processes at once: every statement
/// is idempotent and the version only moves up.
pub(crate) fn prepare(conn: &mut Conn) -> Result<Option<u32>, StoreError> {
    conn.query_drop(
        "CREATE TABLE IF NOT EXISTS rollback_meta (
            name VARCHAR(64) NOT NULL PRIMARY KEY,
            value BIGINT UNSIGNED NOT NULL
        ) ENGINE=InnoDB",
    )
    .map_err(db_error)?;
    let found: Option<u64> = conn
        .query_first("SELECT value FROM rollback_meta WHERE name = 'schema_version'")
        .map_err(db_error)?;
    let found = found.map(|v| v as u32);
    if let Some(v) = found {
        if v > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew { found: v, supported: SCHEMA_VERSION });
        }
    }
    let at = found.unwrap_or(0);
    for (version, statements) in MIGRATIONS.iter().filter(|(v, _)| *v > at) {
        for s in *statements {
            conn.query_drop(*s).map_err(db_error)?;
        }
        conn.exec_drop(
            "INSERT INTO rollback_meta (name, value) VALUES ('schema_version', ?)
             ON DUPLICATE KEY UPDATE value = GREATEST(value, VALUES(value))",
            (*version,),
        )
        .map_err(db_error)?;
        tracing::info!(version, "store schema upgraded");
    }
    Ok(found)
}

/// A sort key as stored: keys longer than [`MAX_SORT_KEY`] keep their
/// first bytes and their last eight (the record's id), so they stay unique
/// and in order up to that prefix.
pub(crate) fn fit(key: Vec<u8>) -> Vec<u8> {
    if key.len() <= MAX_SORT_KEY {
        return key;
    }
    let mut k = key[..MAX_SORT_KEY - 8].to_vec();
    k.extend_from_slice(&key[key.len() - 8..]);
    k
}
