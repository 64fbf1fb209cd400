//! The sled trees, their keys, and the encoding of records in them.
//!
//! | tree          | key                            | value             |
//! |---------------|--------------------------------|-------------------|
//! | `plans`       | plan uuid (16 bytes)           | ActionPlan (JSON) |
//! | `actions`     | action uuid                    | Action (JSON)     |
//! | `action_lists`| plan uuid                      | its actions' uuids, 16 bytes each |
//! | `audit_plans` | audit uuid ‖ plan uuid         | empty             |
//! | `plan_sort`   | field ‖ value ‖ id (see `sort`) | plan uuid         |
//! | `action_sort` | field ‖ value ‖ id             | action uuid       |
//! | `documents`   | a name, e.g. `cloud`           | any JSON document |
//! | `blobs`       | a name, e.g. `plugin/migrate`  | bytes             |
//! | `meta`        | `schema_version`, `sort_orders/…` | u32 big-endian |
//!
//! A plan's actions are listed under one key (schema 3; schema 2 had a key
//! per action, `plan_actions`, plan uuid ‖ action uuid): a plan and its
//! actions are written together, and one key fewer per action halves what
//! sled spends on a stored rollback (BENCHMARKS.md, issue 27).
//!
//! Index entries are written in the same transaction as the records they
//! index (see [`Tables::apply`]). The two `_sort` trees keep the list
//! orders in use (creation order always, each other sortable field from the
//! first list that asks for it: [`Tables::build_order`]), so a page of a
//! list is read from them without loading every record. Which orders a tree
//! keeps is a bit mask under `sort_orders/plans` and `sort_orders/actions`
//! in `meta`.

use crate::error::StoreError;
use crate::model::{Action, ActionPlan};
use serde::de::DeserializeOwned;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// One staged write.
#[derive(Debug)]
pub(crate) enum Write {
    /// A plan record; `new`: it must not exist yet (the sled store checks
    /// that as it writes, see [`Tables::apply`]).
    Plan {
        record: ActionPlan,
        new: bool,
    },
    /// An action record; `new` as for plans.
    Action {
        record: Action,
        new: bool,
    },
    PlanIndex {
        plan: Uuid,
        action: Uuid,
    },
    /// A sort-index entry of a plan (`actions: false`) or action: insert
    /// with `Some(uuid)`, remove with `None`.
    Sort {
        actions: bool,
        key: Vec<u8>,
        uuid: Option<Uuid>,
    },
    AuditIndex {
        audit: Uuid,
        plan: Uuid,
    },
    Document {
        name: String,
        value: serde_json::Value,
    },
    Blob {
        name: String,
        bytes: Option<Vec<u8>>,
    },
}

/// The open trees.
#[derive(Clone)]
pub(crate) struct Tables {
    pub(crate) plans: sled::Tree,
    pub(crate) actions: sled::Tree,
    pub(crate) action_lists: sled::Tree,
    pub(crate) audit_plans: sled::Tree,
    pub(crate) plan_sort: sled::Tree,
    pub(crate) action_sort: sled::Tree,
    pub(crate) documents: sled::Tree,
    pub(crate) blobs: sled::Tree,
    pub(crate) meta: sled::Tree,
    /// Records and index entries read so far (see `Store::reads`).
    reads: Arc<AtomicU64>,
    /// Transactions applied so far (tests: jobs of a group commit share one).
    applied: Arc<AtomicU64>,
    /// The sort orders each `_sort` tree keeps (bit f: field f), plans
    /// then actions. Changed only on the committer thread (or at open).
    orders: Arc<[AtomicU32; 2]>,
    /// Orders being built, and how far. Used only on the committer thread.
    building: Arc<Mutex<Builds>>,
}

/// (actions?, field) → the last record key a build has done, if any.
type Builds = BTreeMap<(bool, usize), Option<sled::IVec>>;

/// The orders a write of one kind maintains ([`Tables::maintained`]).
pub(crate) struct Maintained {
    kept: Vec<usize>,
    /// Orders being built, with the last record key done so far.
    building: Vec<(usize, sled::IVec)>,
}

impl Maintained {
    /// Every order of actions (or plans), none being built: what a store
    /// that keeps every order maintains (the MySQL store).
    pub(crate) fn all(actions: bool) -> Self {
        let n =
            if actions { crate::sort::ActionSortKey::ALL.len() } else { crate::sort::PlanSortKey::ALL.len() };
        Maintained { kept: (0..n).collect(), building: Vec::new() }
    }

    /// The orders a write of record `uuid` maintains: those kept, and those
    /// being built whose build has passed `uuid` (the build's later steps
    /// read the records after it as committed).
    pub(crate) fn for_record(&self, uuid: Uuid) -> std::borrow::Cow<'_, [usize]> {
        if self.building.is_empty() {
            return self.kept.as_slice().into();
        }
        let passed =
            self.building.iter().filter(|(_, done)| uuid.as_bytes()[..] <= done[..]).map(|(f, _)| *f);
        self.kept.iter().copied().chain(passed).collect::<Vec<_>>().into()
    }
}

/// The schema-2 plan index, a key per action (see the module's table).
const OLD_PLAN_INDEX: &str = "plan_actions";

fn has_tree(db: &sled::Db, name: &str) -> bool {
    db.tree_names().iter().any(|t| t.as_ref() == name.as_bytes())
}

/// A plan's list of action uuids, 16 bytes each.
fn uuid_list(plan: Uuid, list: &[u8]) -> Result<Vec<Uuid>, StoreError> {
    if !list.len().is_multiple_of(16) {
        return Err(StoreError::Corrupt {
            key: format!("action_lists/{plan}"),
            reason: format!("{} bytes: not a list of uuids", list.len()),
        });
    }
    Ok(list.chunks_exact(16).map(|c| Uuid::from_bytes(c.try_into().unwrap_or_default())).collect())
}

/// Records one step of an order's build reads, so other writes wait at
/// most one step while an order of a large table is built.
pub(crate) const BUILD_STEP: usize = 4096;

/// Where [`Tables::orders`] is kept in `meta`: plans, then actions.
const ORDERS_KEYS: [&[u8]; 2] = [b"sort_orders/plans", b"sort_orders/actions"];

/// The mask of every order of a kind: `n` sortable fields.
pub(crate) fn all_orders(n: usize) -> u32 {
    (1u32 << n) - 1
}

fn pair(a: Uuid, b: Uuid) -> [u8; 32] {
    let mut k = [0u8; 32];
    k[..16].copy_from_slice(a.as_bytes());
    k[16..].copy_from_slice(b.as_bytes());
    k
}

fn decode<T: DeserializeOwned>(tree: &str, key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        key: format!("{tree}/{}", Uuid::from_slice(key).map(|u| u.to_string()).unwrap_or_default()),
        reason: e.to_string(),
    })
}

fn encode<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("records serialize to JSON")
}

impl Tables {
    pub(crate) fn open(db: &sled::Db) -> Result<Self, StoreError> {
        Ok(Tables {
            plans: db.open_tree("plans")?,
            actions: db.open_tree("actions")?,
            action_lists: db.open_tree("action_lists")?,
            audit_plans: db.open_tree("audit_plans")?,
            plan_sort: db.open_tree("plan_sort")?,
            action_sort: db.open_tree("action_sort")?,
            documents: db.open_tree("documents")?,
            blobs: db.open_tree("blobs")?,
            meta: db.open_tree("meta")?,
            reads: Arc::new(AtomicU64::new(0)),
            applied: Arc::new(AtomicU64::new(0)),
            orders: Arc::new([AtomicU32::new(0), AtomicU32::new(0)]),
            building: Arc::default(),
        })
    }

    /// Counts `n` records or index entries read.
    fn read(&self, n: u64) {
        self.reads.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// How many transactions [`Tables::apply`] has run (refused ones too).
    #[cfg(test)]
    pub(crate) fn applied(&self) -> u64 {
        self.applied.load(Ordering::Relaxed)
    }

    pub(crate) fn plan(&self, uuid: Uuid) -> Result<Option<ActionPlan>, StoreError> {
        self.read(1);
        match self.plans.get(uuid.as_bytes())? {
            Some(v) => decode("plans", uuid.as_bytes(), &v).map(Some),
            None => Ok(None),
        }
    }

    pub(crate) fn action(&self, uuid: Uuid) -> Result<Option<Action>, StoreError> {
        self.read(1);
        match self.actions.get(uuid.as_bytes())? {
            Some(v) => decode("actions", uuid.as_bytes(), &v).map(Some),
            None => Ok(None),
        }
    }

    pub(crate) fn document(&self, name: &str) -> Result<Option<serde_json::Value>, StoreError> {
        self.read(1);
        match self.documents.get(name.as_bytes())? {
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| StoreError::Corrupt { key: format!("documents/{name}"), reason: e.to_string() }),
            None => Ok(None),
        }
    }

    pub(crate) fn blobs(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.blobs
            .scan_prefix(prefix.as_bytes())
            .map(|kv| {
                let (k, v) = kv?;
                self.read(1);
                Ok((String::from_utf8_lossy(&k).into_owned(), v.to_vec()))
            })
            .collect()
    }

    pub(crate) fn all_plans(&self) -> Result<Vec<ActionPlan>, StoreError> {
        self.plans
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                self.read(1);
                decode("plans", &k, &v)
            })
            .collect()
    }

    pub(crate) fn all_actions(&self) -> Result<Vec<Action>, StoreError> {
        self.actions
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                self.read(1);
                decode("actions", &k, &v)
            })
            .collect()
    }

    /// Entries (key, uuid) in the order of sort field `field` from a `_sort` tree:
    /// strictly after the key `after` (from the start when `None`),
    /// ascending or descending, lazily, one index entry read per item.
    pub(crate) fn sorted<'t>(
        &'t self,
        tree: &'t sled::Tree,
        field: u8,
        after: Option<Vec<u8>>,
        descending: bool,
    ) -> Box<dyn Iterator<Item = Result<(sled::IVec, Uuid), StoreError>> + 't> {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let low = vec![field];
        let high = match field.checked_add(1) {
            Some(next) => Excluded(vec![next]),
            None => Unbounded,
        };
        let range = match (after, descending) {
            (None, _) => tree.range::<Vec<u8>, _>((Included(low), high)),
            (Some(k), false) => tree.range::<Vec<u8>, _>((Excluded(k), high)),
            (Some(k), true) => tree.range::<Vec<u8>, _>((Included(low), Excluded(k))),
        };
        let decode_entry = move |kv: Result<(sled::IVec, sled::IVec), sled::Error>| {
            let (k, v) = kv?;
            self.read(1);
            let uuid = Uuid::from_slice(&v)
                .map_err(|e| StoreError::Corrupt { key: "sort index".into(), reason: e.to_string() })?;
            Ok((k, uuid))
        };
        if descending {
            Box::new(range.rev().map(decode_entry))
        } else {
            Box::new(range.map(decode_entry))
        }
    }

    fn sort_tree(&self, actions: bool) -> &sled::Tree {
        if actions {
            &self.action_sort
        } else {
            &self.plan_sort
        }
    }

    /// Whether the actions' (or plans') sort tree keeps order `field`.
    pub(crate) fn keeps(&self, actions: bool, field: usize) -> bool {
        self.orders[actions as usize].load(Ordering::Acquire) & (1 << field) != 0
    }

    /// The orders writes of actions (or plans) must maintain, read once
    /// per transaction (they change only on the committer thread).
    pub(crate) fn maintained(&self, actions: bool) -> Maintained {
        let n =
            if actions { crate::sort::ActionSortKey::ALL.len() } else { crate::sort::PlanSortKey::ALL.len() };
        let building = self.building.lock().unwrap_or_else(|e| e.into_inner());
        Maintained {
            kept: (0..n).filter(|&f| self.keeps(actions, f)).collect(),
            building: building
                .iter()
                .filter(|((kind, _), _)| *kind == actions)
                .filter_map(|((_, f), done)| Some((*f, done.clone()?)))
                .collect(),
        }
    }

    /// Reads which orders each tree keeps from `meta` (none when unset).
    pub(crate) fn load_orders(&self) -> Result<(), StoreError> {
        for (i, key) in ORDERS_KEYS.iter().enumerate() {
            let mask = match self.meta.get(key)? {
                Some(v) => <[u8; 4]>::try_from(v.as_ref()).map(u32::from_be_bytes).map_err(|_| {
                    StoreError::Corrupt {
                        key: format!("meta/{}", String::from_utf8_lossy(key)),
                        reason: "not a u32".into(),
                    }
                })?,
                None => 0,
            };
            self.orders[i].store(mask, Ordering::Release);
        }
        Ok(())
    }

    /// Records that the actions' (or plans') tree keeps the orders `mask`.
    pub(crate) fn set_orders(&self, actions: bool, mask: u32) -> Result<(), StoreError> {
        self.meta.insert(ORDERS_KEYS[actions as usize], &mask.to_be_bytes())?;
        self.orders[actions as usize].store(mask, Ordering::Release);
        Ok(())
    }

    /// Builds order `field` of the actions' (or plans') sort tree from the
    /// records in one step, then marks it kept (every later write maintains
    /// it). Returns how many entries were written. For the store's open and
    /// tests; the committer builds in steps of [`BUILD_STEP`].
    pub(crate) fn build_order(&self, actions: bool, field: usize) -> Result<usize, StoreError> {
        Ok(self.build_order_step(actions, field, usize::MAX)?.0)
    }

    /// One step of building order `field`: the entries of the next `step`
    /// records in key order, after those of the steps before. Runs on the
    /// committer thread, between writes: a write meanwhile maintains the
    /// order for the records already done ([`Tables::maintained`]), and a
    /// later step reads the others as they are then. The first step removes
    /// what a build cut short by a crash left behind; the last marks the
    /// order kept, after its entries (sled's log is ordered: a durable mark
    /// implies durable entries). Returns (entries written, whether done).
    pub(crate) fn build_order_step(
        &self,
        actions: bool,
        field: usize,
        step: usize,
    ) -> Result<(usize, bool), StoreError> {
        use std::ops::Bound::{Excluded, Unbounded};
        if self.keeps(actions, field) {
            return Ok((0, true));
        }
        let tree = self.sort_tree(actions);
        let mut building = self.building.lock().unwrap_or_else(|e| e.into_inner());
        let after = match building.get(&(actions, field)) {
            Some(after) => after.clone(),
            None => {
                let field_byte = field as u8;
                let left: Vec<sled::IVec> =
                    tree.range(vec![field_byte]..vec![field_byte + 1]).keys().collect::<Result<_, _>>()?;
                for k in left {
                    tree.remove(k)?;
                }
                None
            }
        };
        let records = if actions { &self.actions } else { &self.plans };
        let range = match &after {
            None => records.iter(),
            Some(k) => records.range::<&[u8], _>((Excluded(k.as_ref()), Unbounded)),
        };
        let (mut n, mut last) = (0, None);
        for kv in range.take(step) {
            let (k, v) = kv?;
            self.read(1);
            let (key, uuid) = if actions {
                let a: Action = decode("actions", &k, &v)?;
                (crate::sort::action_key(&a, field), a.uuid)
            } else {
                let p: ActionPlan = decode("plans", &k, &v)?;
                (crate::sort::plan_key(&p, field), p.uuid)
            };
            tree.insert(key, uuid.as_bytes())?;
            n += 1;
            last = Some(k);
        }
        if n < step {
            building.remove(&(actions, field));
            let mask = self.orders[actions as usize].load(Ordering::Acquire) | (1 << field);
            self.set_orders(actions, mask)?;
            Ok((n, true))
        } else {
            building.insert((actions, field), last.or(after));
            Ok((n, false))
        }
    }

    /// The uuids stored under `prefix` in a pair index.
    fn index(&self, tree: &sled::Tree, prefix: Uuid) -> Result<Vec<Uuid>, StoreError> {
        tree.scan_prefix(prefix.as_bytes())
            .keys()
            .map(|k| {
                let k = k?;
                self.read(1);
                Uuid::from_slice(&k[16..]).map_err(|e| StoreError::Corrupt {
                    key: format!("index/{prefix}"),
                    reason: e.to_string(),
                })
            })
            .collect()
    }

    pub(crate) fn action_uuids_of(&self, plan: Uuid) -> Result<Vec<Uuid>, StoreError> {
        self.read(1);
        match self.action_lists.get(plan.as_bytes())? {
            Some(list) => uuid_list(plan, &list),
            None => Ok(Vec::new()),
        }
    }

    /// Moves a schema-2 plan index (`plan_actions`, a key per action) into
    /// `action_lists`, once, at open, before any write: every plan's list
    /// is rewritten whole from the old index, so a move cut short by a
    /// crash is simply done again (the schema version is raised only after
    /// it is flushed, and the old tree dropped after that: see
    /// [`Tables::drop_old_plan_index`]). Returns how many entries it moved.
    pub(crate) fn move_old_plan_index(&self, db: &sled::Db) -> Result<usize, StoreError> {
        if !has_tree(db, OLD_PLAN_INDEX) {
            return Ok(0);
        }
        let old = db.open_tree(OLD_PLAN_INDEX)?;
        let mut lists: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut n = 0;
        for k in old.iter().keys() {
            let k = k?;
            let (plan, action) = match (k.get(..16), k.get(16..)) {
                (Some(plan), Some(action)) if action.len() == 16 => (plan, action),
                _ => {
                    return Err(StoreError::Corrupt {
                        key: format!("{OLD_PLAN_INDEX}/{k:?}"),
                        reason: "not a plan uuid and an action uuid".into(),
                    })
                }
            };
            lists.entry(plan.to_vec()).or_default().extend_from_slice(action);
            n += 1;
        }
        for (plan, list) in lists {
            self.action_lists.insert(plan, list)?;
        }
        Ok(n)
    }

    /// Drops the schema-2 plan index once the store is marked schema 3.
    pub(crate) fn drop_old_plan_index(&self, db: &sled::Db) -> Result<(), StoreError> {
        if has_tree(db, OLD_PLAN_INDEX) {
            db.drop_tree(OLD_PLAN_INDEX)?;
        }
        Ok(())
    }

    pub(crate) fn plan_uuids_of_audit(&self, audit: Uuid) -> Result<Vec<Uuid>, StoreError> {
        self.index(&self.audit_plans, audit)
    }

    /// Applies `writes` atomically: records and index entries together.
    pub(crate) fn apply(&self, writes: &[Write]) -> Result<(), StoreError> {
        self.applied.fetch_add(1, Ordering::Relaxed);
        // A plan's new actions, appended to its list in one insert.
        let mut new_of: BTreeMap<Uuid, Vec<u8>> = BTreeMap::new();
        for w in writes {
            if let Write::PlanIndex { plan, action } = w {
                new_of.entry(*plan).or_default().extend_from_slice(action.as_bytes());
            }
        }
        // New sort-index entries go in before the transaction and old ones
        // come out after it, outside it: a transaction holds every node
        // version it creates until it ends (~4 KiB per entry, 0.4 GiB for
        // a 10,000-action plan), and readers check each entry against its
        // record anyway (`sort` module), so an entry whose record does not
        // (yet, or any more) have that key is skipped. sled's log is
        // ordered: a durable transaction implies durable entries before it.
        // The writes of several jobs (a group commit) may add and remove
        // the same entry: the last one wins.
        let mut sort: BTreeMap<(bool, &[u8]), Option<Uuid>> = BTreeMap::new();
        for w in writes {
            if let Write::Sort { actions, key, uuid } = w {
                sort.insert((*actions, key.as_slice()), *uuid);
            }
        }
        for ((actions, key), uuid) in &sort {
            if let Some(u) = uuid {
                self.sort_tree(*actions).insert(key, u.as_bytes())?;
            }
        }
        let result: Result<(), TransactionError<StoreError>> =
            (&self.plans, &self.actions, &self.action_lists, &self.audit_plans, &self.documents, &self.blobs)
                .transaction(|(plans, actions, action_lists, audit_plans, documents, blobs)| {
                    for (plan, new) in &new_of {
                        let list = match action_lists.get(plan.as_bytes())? {
                            Some(old) => [old.as_ref(), new].concat(),
                            None => new.clone(),
                        };
                        action_lists.insert(plan.as_bytes(), list)?;
                    }
                    for w in writes {
                        match w {
                            // sled's insert reads the old value anyway: a new
                            // record's uniqueness is checked here, not by a
                            // read of its own while staging (`Txn::insert_action`).
                            Write::Plan { record: p, new } => {
                                if plans.insert(p.uuid.as_bytes(), encode(p))?.is_some() && *new {
                                    return Err(exists("ActionPlan", p.uuid));
                                }
                            }
                            Write::Action { record: a, new } => {
                                if actions.insert(a.uuid.as_bytes(), encode(a))?.is_some() && *new {
                                    return Err(exists("Action", a.uuid));
                                }
                            }
                            Write::PlanIndex { .. } => {}
                            Write::AuditIndex { audit, plan } => {
                                audit_plans.insert(&pair(*audit, *plan)[..], &[][..])?;
                            }
                            Write::Sort { .. } => {}
                            Write::Document { name, value } => {
                                documents.insert(name.as_bytes(), encode(value))?;
                            }
                            Write::Blob { name, bytes: Some(b) } => {
                                blobs.insert(name.as_bytes(), b.as_slice())?;
                            }
                            Write::Blob { name, bytes: None } => {
                                blobs.remove(name.as_bytes())?;
                            }
                        }
                    }
                    Ok::<(), ConflictableTransactionError<StoreError>>(())
                });
        match result {
            Ok(()) => {
                for ((actions, key), uuid) in &sort {
                    if uuid.is_none() {
                        self.sort_tree(*actions).remove(key)?;
                    }
                }
                Ok(())
            }
            Err(TransactionError::Storage(e)) => Err(e.into()),
            // Nothing of the transaction was written; the sort entries put
            // in before it name a record without their key, and readers skip
            // them (as after a crash between the two).
            Err(TransactionError::Abort(refused)) => Err(refused),
        }
    }
}

/// Aborts a transaction that would overwrite a record it inserts as new.
fn exists(kind: &'static str, uuid: Uuid) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(StoreError::Exists { kind, uuid })
}
