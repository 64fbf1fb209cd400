//! One write: a database transaction around the caller's closure, retried
//! whole when it loses a race or its connection (see the module above).

use super::retry::{self, Kind};
use super::schema::{fit, CHUNK};
use super::{decode, Conn, MysqlStore};
use crate::error::StoreError;
use crate::model::{Action, ActionPlan};
use crate::tables::{Maintained, Write};
use crate::txn::{Base, Txn};
use mysql::prelude::Queryable;
use mysql::Value;
use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use uuid::Uuid;

/// Commit tokens older than this are pruned (a client that lost its
/// connection during COMMIT asks for its token within seconds).
const KEEP_TOKENS_SECS: i64 = 24 * 3600;

/// The most bytes of values in one multi-row statement.
const STATEMENT_BYTES: usize = 4 << 20;

/// Locks the lock row: the next id to hand out and the row's version.
const LOCK_SQL: &str = "SELECT next_id, writes FROM rollback_lock WHERE id = 1 FOR UPDATE";

/// The highest id of any record.
const MAX_ID_SQL: &str = "SELECT GREATEST((SELECT COALESCE(MAX(id), 0) FROM rollback_plans), \
                          (SELECT COALESCE(MAX(id), 0) FROM rollback_actions))";

/// Why staged writes were not applied.
enum Refused {
    Db(mysql::Error),
    /// The lock row is not the version this transaction locked.
    Moved,
    /// A new record's id is another record's (in this table).
    IdTaken(&'static str),
}

impl From<mysql::Error> for Refused {
    fn from(e: mysql::Error) -> Refused {
        Refused::Db(e)
    }
}

/// How one attempt ended.
enum Attempt<T> {
    Done(T),
    Again(String),
    /// Run again, its ids above the highest stored (the counter handed out
    /// one already taken).
    Fence(String),
}

pub(super) fn write<R, E, F>(store: &MysqlStore, mut f: F) -> Result<R, E>
where
    F: FnMut(&mut Txn<'_>) -> Result<R, E>,
    E: From<StoreError>,
{
    let (mut attempt, mut fence) = (0, false);
    loop {
        match once(store, &mut f, fence) {
            Attempt::Done(r) => return r,
            Attempt::Again(why) | Attempt::Fence(why) if attempt + 1 >= retry::MAX_ATTEMPTS => {
                return Err(E::from(StoreError::Unavailable(format!(
                    "a write was tried {} times and lost every time; the last: {why}",
                    attempt + 1
                ))));
            }
            Attempt::Fence(why) => {
                attempt += 1;
                fence = true;
                tracing::warn!(%why, "store write run again with its ids fenced");
            }
            Attempt::Again(why) => {
                attempt += 1;
                tracing::debug!(attempt, %why, "store write retried");
                std::thread::sleep(retry::backoff(attempt));
            }
        }
    }
}

/// What a failed statement means for the attempt.
fn lost<T>(e: mysql::Error) -> Attempt<Result<T, StoreError>> {
    match retry::classify(&e) {
        Kind::Fatal => Attempt::Done(Err(StoreError::Engine(format!("database: {e}")))),
        Kind::Race | Kind::Lost => Attempt::Again(e.to_string()),
    }
}

fn once<R, E, F>(store: &MysqlStore, f: &mut F, fence: bool) -> Attempt<Result<R, E>>
where
    F: FnMut(&mut Txn<'_>) -> Result<R, E>,
    E: From<StoreError>,
{
    let from_store = |a: Attempt<Result<(), StoreError>>| match a {
        Attempt::Done(Err(e)) => Attempt::Done(Err(E::from(e))),
        Attempt::Done(Ok(())) => unreachable!("only failures are converted"),
        Attempt::Again(why) | Attempt::Fence(why) => Attempt::Again(why),
    };
    let mut conn = match store.pool.try_get_conn(std::time::Duration::from_secs(10)) {
        Ok(c) => c,
        Err(e) => return Attempt::Again(e.to_string()),
    };
    if let Err(e) = conn.query_drop("START TRANSACTION") {
        return from_store(lost(e));
    }
    let (next, version): (u64, u64) = match conn.query_first(LOCK_SQL) {
        Ok(Some(n)) => n,
        Ok(None) => {
            let _ = conn.query_drop("ROLLBACK");
            return Attempt::Done(Err(E::from(StoreError::Corrupt {
                key: "rollback_lock".into(),
                reason: "its row is missing".into(),
            })));
        }
        Err(e) => {
            // The connection goes back to the pool: never with a transaction open.
            let _ = conn.query_drop("ROLLBACK");
            return from_store(lost(e));
        }
    };
    let base = MyBase {
        conn: RefCell::new(conn),
        next: Cell::new(next),
        version,
        fence: Cell::new(fence),
        allocated: Cell::new(false),
        failed: RefCell::new(None),
        store,
    };
    let mut txn = Txn::new(&base, None);
    let outcome = catch_unwind(AssertUnwindSafe(|| f(&mut txn)));
    if let Some(why) = base.failed.borrow_mut().take() {
        base.rollback();
        return Attempt::Again(why);
    }
    let answer = match outcome {
        Err(panic) => {
            base.rollback();
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            tracing::error!("a store write panicked and was dropped: {why}");
            return Attempt::Done(Err(E::from(StoreError::JobPanicked(why))));
        }
        Ok(Err(e)) => {
            base.rollback();
            return Attempt::Done(Err(e));
        }
        Ok(Ok(r)) => r,
    };
    let writes = txn.into_writes();
    if writes.is_empty() {
        base.rollback();
        return Attempt::Done(Ok(answer));
    }
    let token = Uuid::new_v4();
    match base.apply(&writes, token) {
        Ok(()) => {}
        Err(Refused::Db(e)) => {
            base.rollback();
            return from_store(lost(e));
        }
        Err(Refused::Moved) => {
            base.rollback();
            return Attempt::Again(format!(
                "the lock row moved on from version {version} while this write ran (a write through another Galera node)"
            ));
        }
        Err(Refused::IdTaken(table)) if base.allocated.get() && !fence => {
            base.rollback();
            return Attempt::Fence(format!("the lock row's counter handed out an id {table} already has"));
        }
        Err(Refused::IdTaken(table)) => {
            base.rollback();
            return Attempt::Done(Err(E::from(StoreError::Corrupt {
                key: table.into(),
                reason: "a new record was given an id another record has; nothing was written".into(),
            })));
        }
    }
    let committed = base.conn.borrow_mut().query_drop("COMMIT");
    tracing::debug!(lock = next, next = base.next.get(), version, %token, ok = committed.is_ok(), "store write committed");
    match committed {
        Ok(()) => Attempt::Done(Ok(answer)),
        Err(e) => match retry::classify(&e) {
            // Refused at COMMIT (a Galera certification failure or abort):
            // nothing should have landed; the token says (a write run
            // again after it landed would be applied twice).
            Kind::Race => match landed(store, token) {
                Ok(true) => {
                    tracing::warn!(%token, "COMMIT was refused ({e}) but the write landed; answered as done");
                    Attempt::Done(Ok(answer))
                }
                _ => Attempt::Again(e.to_string()),
            },
            Kind::Fatal => Attempt::Done(Err(E::from(StoreError::Engine(format!("database: {e}"))))),
            // The connection broke during COMMIT: did it land?
            Kind::Lost => match landed(store, token) {
                Ok(true) => Attempt::Done(Ok(answer)),
                Ok(false) => Attempt::Again(e.to_string()),
                Err(unknown) => Attempt::Done(Err(E::from(StoreError::Unavailable(format!(
                    "the connection to the database broke while a write was being committed ({e}), \
                     and whether it landed cannot be told now ({unknown}); read the record to see"
                ))))),
            },
        },
    }
}

/// Whether the write with commit token `token` is in the database, asked on
/// a new connection (a few tries: the server may be restarting).
fn landed(store: &MysqlStore, token: Uuid) -> Result<bool, String> {
    let mut why = String::new();
    for attempt in 0..5 {
        let asked = store.pool.try_get_conn(std::time::Duration::from_secs(5)).and_then(|mut c| {
            c.exec_first::<u8, _, _>("SELECT 1 FROM rollback_commits WHERE token = ?", (token.as_bytes(),))
        });
        match asked {
            Ok(found) => return Ok(found.is_some()),
            Err(e) => why = e.to_string(),
        }
        std::thread::sleep(retry::backoff(attempt));
    }
    Err(why)
}

/// An open transaction as a [`Base`]: reads through it; remembers a
/// failure that calls for running the write again.
struct MyBase<'s> {
    conn: RefCell<Conn>,
    next: Cell<u64>,
    /// The lock row's `writes` when this transaction locked it.
    version: u64,
    /// Whether `next` is to be raised past the highest id stored before
    /// the first id is handed out.
    fence: Cell<bool>,
    /// Whether this attempt handed out ids from the counter.
    allocated: Cell<bool>,
    failed: RefCell<Option<String>>,
    store: &'s MysqlStore,
}

impl MyBase<'_> {
    fn rollback(&self) {
        let _ = self.conn.borrow_mut().query_drop("ROLLBACK");
    }

    /// Runs a read of the transaction; a lost race or connection is
    /// remembered (the write is run again, whatever the closure answers).
    fn query<T>(&self, f: impl FnOnce(&mut Conn) -> Result<T, mysql::Error>) -> Result<T, StoreError> {
        if let Some(why) = self.failed.borrow().as_ref() {
            return Err(StoreError::Unavailable(why.clone()));
        }
        f(&mut self.conn.borrow_mut()).map_err(|e| {
            if retry::classify(&e) != Kind::Fatal {
                *self.failed.borrow_mut() = Some(e.to_string());
            }
            super::db_error(e)
        })
    }

    fn body<T: serde::de::DeserializeOwned>(&self, table: &str, uuid: Uuid) -> Result<Option<T>, StoreError> {
        let sql = format!("SELECT body FROM {table} WHERE uuid = ?");
        let body: Option<Vec<u8>> = self.query(|c| c.exec_first(sql, (uuid.as_bytes(),)))?;
        self.store.read(1);
        body.map(|b| decode(table, uuid.as_bytes(), &b)).transpose()
    }

    /// Everything staged, then the lock row and the commit token.
    fn apply(&self, writes: &[Write], token: Uuid) -> Result<(), Refused> {
        let mut conn = self.conn.borrow_mut();
        let c = &mut *conn;
        let (mut plans, mut actions, mut sort_in, mut sort_out) = (vec![], vec![], vec![], vec![]);
        for w in writes {
            match w {
                // A new record was checked while staging (a read of its own).
                Write::Plan { record: p, .. } => plans.push(vec![
                    p.uuid.as_bytes().to_vec().into(),
                    p.id.into(),
                    p.audit_uuid.map(|a| a.as_bytes().to_vec()).into(),
                    encode(p).into(),
                ]),
                Write::Action { record: a, .. } => actions.push(vec![
                    a.uuid.as_bytes().to_vec().into(),
                    a.id.into(),
                    a.action_plan_uuid.as_bytes().to_vec().into(),
                    encode(a).into(),
                ]),
                // The plan and audit indexes are the records' own columns.
                Write::PlanIndex { .. } | Write::AuditIndex { .. } => {}
                Write::Sort { actions, key, uuid: Some(u) } => sort_in.push(vec![
                    Value::from(*actions as u8),
                    fit(key.clone()).into(),
                    u.as_bytes().to_vec().into(),
                ]),
                Write::Sort { actions, key, uuid: None } => {
                    sort_out.push(vec![Value::from(*actions as u8), fit(key.clone()).into()])
                }
                Write::Document { name, value } => c.exec_drop(
                    "INSERT INTO rollback_documents (name, body) VALUES (?, ?)
                     ON DUPLICATE KEY UPDATE body = VALUES(body)",
                    (name.as_bytes(), encode(value)),
                )?,
                Write::Blob { name, bytes } => {
                    c.exec_drop("DELETE FROM rollback_blobs WHERE name = ?", (name.as_bytes(),))?;
                    for (seq, chunk) in bytes.iter().flat_map(|b| b.chunks(CHUNK)).enumerate() {
                        c.exec_drop(
                            "INSERT INTO rollback_blobs (name, seq, body) VALUES (?, ?, ?)",
                            (name.as_bytes(), seq as u32, chunk),
                        )?;
                    }
                }
            }
        }
        for row in &sort_out {
            c.exec_drop("DELETE FROM rollback_sort WHERE kind = ? AND sort_key = ?", row.clone())?;
        }
        many(
            c,
            "INSERT INTO rollback_sort (kind, sort_key, uuid) VALUES",
            "ON DUPLICATE KEY UPDATE uuid = VALUES(uuid)",
            sort_in,
        )?;
        // A row is updated only by its own uuid: one whose id is another
        // row's sets `body` NULL, which strict mode refuses (1048).
        let id_taken = |table| {
            move |e: mysql::Error| match e {
                mysql::Error::MySqlError(ref m) if m.code == 1048 => Refused::IdTaken(table),
                e => Refused::Db(e),
            }
        };
        many(
            c,
            "INSERT INTO rollback_plans (uuid, id, audit_uuid, body) VALUES",
            "ON DUPLICATE KEY UPDATE body = IF(uuid = VALUES(uuid), VALUES(body), NULL)",
            plans,
        )
        .map_err(id_taken("rollback_plans"))?;
        many(
            c,
            "INSERT INTO rollback_actions (uuid, id, action_plan_uuid, body) VALUES",
            "ON DUPLICATE KEY UPDATE body = IF(uuid = VALUES(uuid), VALUES(body), NULL)",
            actions,
        )
        .map_err(id_taken("rollback_actions"))?;
        // Compare-and-set: Galera does not stop a transaction on one node
        // from overwriting what another node committed after this one read
        // it (no first-committer-wins across nodes, MDEV-29044), even under
        // `SELECT … FOR UPDATE`. Every write bumps `writes`, so a row that
        // moved on since it was locked means another write came between.
        c.exec_drop(
            "UPDATE rollback_lock SET next_id = ?, writes = writes + 1 WHERE id = 1 AND writes = ?",
            (self.next.get(), self.version),
        )?;
        if c.affected_rows() != 1 {
            return Err(Refused::Moved);
        }
        let now = chrono::Utc::now().timestamp();
        c.exec_drop("INSERT INTO rollback_commits (token, at) VALUES (?, ?)", (token.as_bytes(), now))?;
        if token.as_bytes()[0] == 0 {
            // One write in 256 prunes old tokens.
            c.exec_drop("DELETE FROM rollback_commits WHERE at < ? LIMIT 10000", (now - KEEP_TOKENS_SECS,))?;
        }
        Ok(())
    }
}

fn encode<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("records serialize to JSON")
}

/// `head (?, …), (?, …) tail` over `rows`, as few statements as the
/// statement size allows.
fn many(c: &mut Conn, head: &str, tail: &str, rows: Vec<Vec<Value>>) -> Result<(), mysql::Error> {
    let Some(width) = rows.first().map(Vec::len) else { return Ok(()) };
    let row_marks = format!("({})", vec!["?"; width].join(","));
    let mut params: Vec<Value> = Vec::new();
    let (mut n, mut bytes) = (0usize, 0usize);
    let flush = |c: &mut Conn, params: &mut Vec<Value>, n: &mut usize| -> Result<(), mysql::Error> {
        if *n == 0 {
            return Ok(());
        }
        let sql = format!("{head} {} {tail}", vec![row_marks.as_str(); *n].join(","));
        c.exec_drop(sql, std::mem::take(params))?;
        *n = 0;
        Ok(())
    };
    for row in rows {
        let size: usize = row.iter().map(|v| if let Value::Bytes(b) = v { b.len() } else { 8 }).sum();
        if n > 0 && (bytes + size > STATEMENT_BYTES || (n + 1) * width > 60_000) {
            flush(c, &mut params, &mut n)?;
            bytes = 0;
        }
        params.extend(row);
        n += 1;
        bytes += size;
    }
    flush(c, &mut params, &mut n)
}

impl Base for MyBase<'_> {
    fn plan(&self, uuid: Uuid) -> Result<Option<ActionPlan>, StoreError> {
        self.body("rollback_plans", uuid)
    }

    fn action(&self, uuid: Uuid) -> Result<Option<Action>, StoreError> {
        self.body("rollback_actions", uuid)
    }

    fn action_uuids_of(&self, plan: Uuid) -> Result<Vec<Uuid>, StoreError> {
        let rows: Vec<Vec<u8>> = self.query(|c| {
            c.exec(
                "SELECT uuid FROM rollback_actions WHERE action_plan_uuid = ? ORDER BY id",
                (plan.as_bytes(),),
            )
        })?;
        self.store.read(rows.len());
        rows.iter().map(|u| super::uuid_of(u)).collect()
    }

    fn document(&self, name: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let body: Option<Vec<u8>> = self.query(|c| c.exec_first(super::DOCUMENT_SQL, (name.as_bytes(),)))?;
        self.store.read(1);
        body.map(|b| super::decode_document(name, &b)).transpose()
    }

    fn blob(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let chunks: Vec<Vec<u8>> = self.query(|c| c.exec(super::BLOB_SQL, (name.as_bytes(),)))?;
        self.store.read(1);
        Ok(super::join_chunks(chunks))
    }

    fn reserve_ids_through(&self, id: u64) -> Result<(), StoreError> {
        let counter = match self.store.node {
            Some(_) => id / super::ID_STRIDE,
            None => id,
        };
        self.next.set(self.next.get().max(counter + 1));
        Ok(())
    }

    fn next_id(&self) -> Result<u64, StoreError> {
        if self.fence.replace(false) {
            // The counter handed out a taken id last attempt (it was set
            // back: a lost update across Galera nodes once did): hand out
            // ids above the highest stored.
            let highest: Option<u64> = self.query(|c| c.query_first(MAX_ID_SQL))?;
            self.reserve_ids_through(highest.unwrap_or(0))?;
        }
        self.allocated.set(true);
        let counter = self.next.get();
        self.next.set(counter + 1);
        Ok(match self.store.node {
            Some(node) => counter * super::ID_STRIDE + node,
            None => counter,
        })
    }

    fn maintained(&self, actions: bool) -> Maintained {
        Maintained::all(actions)
    }

    fn shared(&self) -> bool {
        true
    }
}
