//! The shared backend: MySQL or MariaDB (Galera included), for several
//! rollback-host processes on one database.
//!
//! A write is one database transaction (`txn`): it first locks the single
//! row of `rollback_lock` (`SELECT … FOR UPDATE`), so writes of every
//! process are serialized and a check made inside a write ("this plan is not
//! rolled back yet") still holds when it commits; it then runs the caller's
//! closure over a [`Txn`] that reads through the open transaction, applies
//! what was staged, bumps the lock row and records a commit token, and
//! commits. On Galera, row locks do not reach other nodes, and Galera does
//! not stop a transaction on one node from overwriting a row another node
//! changed after this one read it (no first-committer-wins across nodes,
//! MDEV-29044; seen here: two plans given one id). So the lock row is
//! bumped by compare-and-set (`UPDATE … WHERE writes = <the version
//! locked>`): a write that another node's write came between finds the row
//! moved on, or is refused at certification or aborted by the replicated
//! write (error 1213), and is run again — the whole closure, as oslo.db
//! retries a whole transaction; every write being a bump of that one row,
//! writes are serialized across nodes too. A COMMIT that fails — its
//! connection lost, or refused — is settled by the commit token before the
//! write is run again, so it is never applied twice. The server's
//! `innodb_flush_log_at_trx_commit = 1` (MariaDB's default) makes a
//! committed write durable before it is acknowledged.
//!
//! Reads outside a write go to the database directly: records by their
//! primary key, lists through `rollback_sort` (see `schema`). On Galera each
//! connection sets `wsrep_sync_wait = 1`, so a read through one node sees
//! what was committed through another before it.

mod retry;
mod schema;
mod txn;

use crate::error::StoreError;
use crate::model::{Action, ActionPlan};
use crate::sort::{self, ActionSortKey, PlanSortKey};
use crate::txn::Txn;
use mysql::prelude::Queryable;
use mysql::Value;
use serde::de::DeserializeOwned;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

type Conn = mysql::PooledConn;

/// Where the MySQL store is and how to log in.
#[derive(Clone)]
pub struct MysqlOptions {
    /// `mysql://USER@HOST[:PORT]/DATABASE` — with no password in it.
    pub url: String,
    /// The password (from a file or the environment, never the command line).
    pub password: Option<String>,
    /// Connections this process keeps at most.
    pub max_connections: usize,
}

impl std::fmt::Debug for MysqlOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MysqlOptions")
            .field("url", &self.url)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

impl MysqlOptions {
    /// Options for `url` (checked: a `mysql://` URL naming a database and
    /// holding no password).
    pub fn new(url: &str, password: Option<String>) -> Result<Self, StoreError> {
        let opts = mysql::Opts::from_url(url).map_err(|e| StoreError::Config(format!("{e}")))?;
        if opts.get_pass().is_some() {
            return Err(StoreError::Config(
                "the store URL holds a password; give it in a file (store-password-file) or \
                 the ROLLBACK_STORE_PASSWORD environment variable instead, so that it never \
                 shows in a process list or a log"
                    .into(),
            ));
        }
        if opts.get_db_name().is_none_or(str::is_empty) {
            return Err(StoreError::Config(format!(
                "the store URL {url} names no database (mysql://USER@HOST/DATABASE)"
            )));
        }
        Ok(MysqlOptions { url: url.to_string(), password, max_connections: 32 })
    }
}

/// An open MySQL store. Cheap to clone.
#[derive(Clone)]
pub(crate) struct MysqlStore {
    pool: mysql::Pool,
    reads: Arc<AtomicU64>,
    url: Arc<str>,
    /// On Galera, this node's number, the low part of every id it hands
    /// out (see [`ID_STRIDE`]).
    node: Option<u64>,
}

/// On Galera, ids are `counter × ID_STRIDE + node`: the counter (the lock
/// row's) orders them by creation, and the node tells which node handed
/// an id out. The lock row's compare-and-set (`txn`) already keeps two
/// writes from drawing the same counter; the node part is a second fence.
/// A new record given a taken id is never written over the other: a write
/// whose counter handed it out is run again with ids above the highest
/// stored; one given it by its caller is refused.
pub(crate) const ID_STRIDE: u64 = 16;

pub(crate) fn db_error(e: mysql::Error) -> StoreError {
    match retry::classify(&e) {
        retry::Kind::Fatal => StoreError::Engine(format!("database: {e}")),
        _ => StoreError::Unavailable(e.to_string()),
    }
}

fn decode<T: DeserializeOwned>(table: &str, uuid: &[u8], body: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(body).map_err(|e| StoreError::Corrupt {
        key: format!("{table}/{}", Uuid::from_slice(uuid).map(|u| u.to_string()).unwrap_or_default()),
        reason: e.to_string(),
    })
}

/// A named document's stored text, decoded.
pub(crate) fn decode_document(name: &str, body: &[u8]) -> Result<serde_json::Value, StoreError> {
    serde_json::from_slice(body)
        .map_err(|e| StoreError::Corrupt { key: format!("documents/{name}"), reason: e.to_string() })
}

/// One named document (its body).
pub(crate) const DOCUMENT_SQL: &str = "SELECT body FROM rollback_documents WHERE name = ?";

/// One blob's chunks, in order.
pub(crate) const BLOB_SQL: &str = "SELECT body FROM rollback_blobs WHERE name = ? ORDER BY seq";

/// A blob from its chunks (`None`: no chunk, no blob).
pub(crate) fn join_chunks(chunks: Vec<Vec<u8>>) -> Option<Vec<u8>> {
    (!chunks.is_empty()).then(|| chunks.concat())
}

fn uuid_of(bytes: &[u8]) -> Result<Uuid, StoreError> {
    Uuid::from_slice(bytes)
        .map_err(|e| StoreError::Corrupt { key: "a uuid column".into(), reason: e.to_string() })
}

/// Which records a sort index lists: (`kind` column, table, its kind name).
struct Listed {
    kind: u8,
    table: &'static str,
    name: &'static str,
}

const PLANS: Listed = Listed { kind: 0, table: "rollback_plans", name: "ActionPlan" };
const ACTIONS: Listed = Listed { kind: 1, table: "rollback_actions", name: "Action" };

impl MysqlStore {
    pub(crate) fn connect(options: &MysqlOptions) -> Result<MysqlStore, StoreError> {
        let url = mysql::Opts::from_url(&options.url).map_err(|e| StoreError::Config(e.to_string()))?;
        let pool_opts = mysql::PoolOpts::new()
            .with_constraints(
                mysql::PoolConstraints::new(0, options.max_connections.max(1))
                    .ok_or_else(|| StoreError::Config("bad connection count".into()))?,
            )
            .with_reset_connection(false);
        let mut init = vec![
            "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED".to_string(),
            "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ENGINE_SUBSTITUTION'".into(),
            "SET SESSION innodb_lock_wait_timeout = 20".into(),
        ];
        let builder = mysql::OptsBuilder::from_opts(url)
            .pass(options.password.clone())
            .tcp_connect_timeout(Some(Duration::from_secs(5)))
            .read_timeout(Some(Duration::from_secs(60)))
            .write_timeout(Some(Duration::from_secs(60)))
            .prefer_socket(false);
        let mut probe =
            mysql::Conn::new(builder.clone()).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let wsrep: Option<(String, String)> =
            probe.query_first("SHOW GLOBAL VARIABLES LIKE 'wsrep_on'").map_err(db_error)?;
        let mut node = None;
        if wsrep.is_some_and(|(_, on)| on.eq_ignore_ascii_case("ON")) {
            init.push("SET SESSION wsrep_sync_wait = 1".into());
            // Galera gives each node its own auto_increment_offset (1..N).
            let offset: Option<u64> =
                probe.query_first("SELECT @@auto_increment_offset").map_err(db_error)?;
            node = Some(offset.unwrap_or(1) % ID_STRIDE);
        }
        drop(probe);
        let pool = mysql::Pool::new(builder.init(init).pool_opts(pool_opts))
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let store = MysqlStore { pool, reads: Arc::default(), url: options.url.clone().into(), node };
        let mut conn = store.conn()?;
        schema::prepare(&mut conn)?;
        tracing::info!(url = %store.url, galera_node = ?store.node, "store open (MySQL)");
        Ok(store)
    }

    fn conn(&self) -> Result<Conn, StoreError> {
        self.pool.try_get_conn(Duration::from_secs(10)).map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    fn read(&self, n: usize) {
        self.reads.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// Runs a read, once more on a new connection if the first one broke.
    fn reading<T>(&self, mut f: impl FnMut(&mut Conn) -> Result<T, mysql::Error>) -> Result<T, StoreError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let mut conn = self.conn()?;
            match f(&mut conn) {
                Ok(v) => return Ok(v),
                Err(e) if tries < 3 && retry::classify(&e) != retry::Kind::Fatal => {
                    std::thread::sleep(retry::backoff(tries));
                }
                Err(e) => return Err(db_error(e)),
            }
        }
    }

    pub(crate) fn write<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnMut(&mut Txn<'_>) -> Result<R, E>,
        E: From<StoreError>,
    {
        txn::write(self, f)
    }

    pub(crate) fn health(&self) -> Result<(), StoreError> {
        Ok(())
    }

    pub(crate) fn size_on_disk(&self) -> Result<u64, StoreError> {
        let n: Option<u64> = self.reading(|c| {
            c.query_first(
                "SELECT CAST(COALESCE(SUM(data_length + index_length), 0) AS UNSIGNED)
                 FROM information_schema.tables
                 WHERE table_schema = DATABASE() AND table_name LIKE 'rollback\\_%'",
            )
        })?;
        Ok(n.unwrap_or(0))
    }

    fn bodies<T: DeserializeOwned>(
        &self,
        table: &str,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<Vec<T>, StoreError> {
        let rows: Vec<(Vec<u8>, Vec<u8>)> = self.reading(|c| c.exec(sql, params.clone()))?;
        self.read(rows.len());
        rows.iter().map(|(uuid, body)| decode(table, uuid, body)).collect()
    }

    pub(crate) fn plan(&self, uuid: Uuid) -> Result<Option<ActionPlan>, StoreError> {
        let sql = "SELECT uuid, body FROM rollback_plans WHERE uuid = ?";
        Ok(self.bodies("plans", sql, vec![uuid.as_bytes().to_vec().into()])?.pop())
    }

    pub(crate) fn action(&self, uuid: Uuid) -> Result<Option<Action>, StoreError> {
        let sql = "SELECT uuid, body FROM rollback_actions WHERE uuid = ?";
        Ok(self.bodies("actions", sql, vec![uuid.as_bytes().to_vec().into()])?.pop())
    }

    pub(crate) fn plans(&self) -> Result<Vec<ActionPlan>, StoreError> {
        self.bodies("plans", "SELECT uuid, body FROM rollback_plans ORDER BY id", vec![])
    }

    pub(crate) fn actions(&self) -> Result<Vec<Action>, StoreError> {
        self.bodies("actions", "SELECT uuid, body FROM rollback_actions ORDER BY id", vec![])
    }

    pub(crate) fn plans_of_audit(&self, audit: Uuid) -> Result<Vec<ActionPlan>, StoreError> {
        let sql = "SELECT uuid, body FROM rollback_plans WHERE audit_uuid = ? ORDER BY id";
        self.bodies("plans", sql, vec![audit.as_bytes().to_vec().into()])
    }

    pub(crate) fn actions_of(&self, plan: Uuid) -> Result<Vec<Action>, StoreError> {
        let sql = "SELECT uuid, body FROM rollback_actions WHERE action_plan_uuid = ? ORDER BY id";
        self.bodies("actions", sql, vec![plan.as_bytes().to_vec().into()])
    }

    pub(crate) fn document(&self, name: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let body: Option<Vec<u8>> = self.reading(|c| c.exec_first(DOCUMENT_SQL, (name.as_bytes(),)))?;
        self.read(1);
        body.map(|b| decode_document(name, &b)).transpose()
    }

    pub(crate) fn documents(&self) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        let rows: Vec<(Vec<u8>, Vec<u8>)> =
            self.reading(|c| c.query("SELECT name, body FROM rollback_documents ORDER BY name"))?;
        self.read(rows.len());
        rows.into_iter()
            .map(|(name, body)| {
                let name = String::from_utf8_lossy(&name).into_owned();
                let v = decode_document(&name, &body)?;
                Ok((name, v))
            })
            .collect()
    }

    pub(crate) fn blob(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let chunks: Vec<Vec<u8>> = self.reading(|c| c.exec(BLOB_SQL, (name.as_bytes(),)))?;
        self.read(1);
        Ok(join_chunks(chunks))
    }

    pub(crate) fn blobs(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        // Names after the prefix's last: the prefix with its last byte raised.
        let mut upper = prefix.as_bytes().to_vec();
        while upper.last() == Some(&0xFF) {
            upper.pop();
        }
        if let Some(last) = upper.last_mut() {
            *last += 1;
        }
        let rows: Vec<(Vec<u8>, Vec<u8>)> = self.reading(|c| {
            if upper.is_empty() {
                c.exec(
                    "SELECT name, body FROM rollback_blobs WHERE name >= ? ORDER BY name, seq",
                    (prefix.as_bytes(),),
                )
            } else {
                c.exec(
                    "SELECT name, body FROM rollback_blobs WHERE name >= ? AND name < ? ORDER BY name, seq",
                    (prefix.as_bytes(), upper.as_slice()),
                )
            }
        })?;
        let mut out: Vec<(String, Vec<u8>)> = Vec::new();
        for (name, body) in rows {
            if !name.starts_with(prefix.as_bytes()) {
                break;
            }
            self.read(1);
            let name = String::from_utf8_lossy(&name).into_owned();
            match out.last_mut() {
                Some((last, bytes)) if *last == name => bytes.extend_from_slice(&body),
                _ => out.push((name, body)),
            }
        }
        Ok(out)
    }

    pub(crate) fn plans_page(
        &self,
        sort_key: PlanSortKey,
        marker: Option<Uuid>,
        descending: bool,
        limit: usize,
        keep: impl FnMut(&ActionPlan) -> bool,
    ) -> Result<Vec<ActionPlan>, StoreError> {
        self.page(
            PLANS,
            sort_key.field(),
            marker,
            descending,
            limit,
            |p: &ActionPlan, f| sort::plan_key(p, f),
            keep,
        )
    }

    pub(crate) fn actions_page(
        &self,
        sort_key: ActionSortKey,
        marker: Option<Uuid>,
        descending: bool,
        limit: usize,
        keep: impl FnMut(&Action) -> bool,
    ) -> Result<Vec<Action>, StoreError> {
        self.page(
            ACTIONS,
            sort_key.field(),
            marker,
            descending,
            limit,
            |a: &Action, f| sort::action_key(a, f),
            keep,
        )
    }

    /// One page from `rollback_sort`: index entries in key order from after
    /// the marker's key, then their records by primary key, a batch at a
    /// time until `limit` records are kept.
    #[allow(clippy::too_many_arguments)]
    fn page<T: DeserializeOwned>(
        &self,
        listed: Listed,
        field: usize,
        marker: Option<Uuid>,
        descending: bool,
        limit: usize,
        key_of: impl Fn(&T, usize) -> Vec<u8>,
        mut keep: impl FnMut(&T) -> bool,
    ) -> Result<Vec<T>, StoreError> {
        let mut after = match marker {
            Some(m) => Some(schema::fit(key_of(
                &self
                    .load_many::<T>(&listed, &[m])?
                    .remove(&m)
                    .ok_or(StoreError::NotFound { kind: listed.name, uuid: m })?,
                field,
            ))),
            None => None,
        };
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        let (low, high) = (vec![field as u8], vec![field as u8 + 1]);
        let batch = (limit + 1).clamp(16, 1000);
        loop {
            // The field's key range, less what the pages before covered.
            let (bound, order, from, to) = match (&after, descending) {
                (None, false) => ("sort_key >= ? AND sort_key < ?", "ASC", low.clone(), high.clone()),
                (None, true) => ("sort_key >= ? AND sort_key < ?", "DESC", low.clone(), high.clone()),
                (Some(k), false) => ("sort_key > ? AND sort_key < ?", "ASC", k.clone(), high.clone()),
                (Some(k), true) => ("sort_key >= ? AND sort_key < ?", "DESC", low.clone(), k.clone()),
            };
            let sql = format!(
                "SELECT sort_key, uuid FROM rollback_sort WHERE kind = ? AND {bound} ORDER BY sort_key {order} LIMIT {batch}"
            );
            let entries: Vec<(Vec<u8>, Vec<u8>)> =
                self.reading(|c| c.exec(&sql, (listed.kind, from.clone(), to.clone())))?;
            self.read(entries.len());
            let uuids: Vec<Uuid> = entries.iter().map(|(_, u)| uuid_of(u)).collect::<Result<_, _>>()?;
            let mut records = self.load_many::<T>(&listed, &uuids)?;
            for ((key, _), uuid) in entries.iter().zip(&uuids) {
                if let Some(record) = records.remove(uuid) {
                    if *key == schema::fit(key_of(&record, field)) && keep(&record) {
                        out.push(record);
                        if out.len() >= limit {
                            return Ok(out);
                        }
                    }
                }
            }
            if entries.len() < batch {
                return Ok(out);
            }
            after = entries.last().map(|(k, _)| k.clone());
        }
    }

    fn load_many<T: DeserializeOwned>(
        &self,
        listed: &Listed,
        uuids: &[Uuid],
    ) -> Result<std::collections::HashMap<Uuid, T>, StoreError> {
        if uuids.is_empty() {
            return Ok(Default::default());
        }
        let marks = vec!["?"; uuids.len()].join(",");
        let sql = format!("SELECT uuid, body FROM {} WHERE uuid IN ({marks})", listed.table);
        let params: Vec<Value> = uuids.iter().map(|u| u.as_bytes().to_vec().into()).collect();
        let rows: Vec<(Vec<u8>, Vec<u8>)> = self.reading(|c| c.exec(&sql, params.clone()))?;
        self.read(rows.len());
        rows.iter().map(|(u, body)| Ok((uuid_of(u)?, decode(listed.table, u, body)?))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls_that_cannot_be_used_are_refused_with_the_reason() {
        let err = |url: &str| MysqlOptions::new(url, None).unwrap_err().to_string();
        assert!(err("not a url").starts_with("store settings:"), "{}", err("not a url"));
        assert!(err("postgres://u@h/db").starts_with("store settings:"), "{}", err("postgres://u@h/db"));
        assert!(err("mysql://u@127.0.0.1").contains("names no database"), "{}", err("mysql://u@127.0.0.1"));
        let with_password = err("mysql://u:hunter2@127.0.0.1/db");
        assert!(with_password.contains("ROLLBACK_STORE_PASSWORD"), "{with_password}");
        assert!(!with_password.contains("hunter2"), "the password is not echoed: {with_password}");
        let ok = MysqlOptions::new("mysql://u@127.0.0.1:3306/db", Some("secret".into())).unwrap();
        assert!(!format!("{ok:?}").contains("secret"), "Debug hides the password");
    }
}
