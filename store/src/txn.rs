//! A read-modify-write unit of work, run on the committer thread.
//!
//! A [`Txn`] reads through its own staged writes to the database, so a
//! closure sees what it wrote. Because one thread runs every `Txn` in turn,
//! no two of them interleave: a check made inside one (e.g. "this plan is
//! not rolled back yet") still holds when its writes land.

use crate::error::StoreError;
use crate::model::{Action, ActionPlan};
use crate::tables::{Maintained, Tables, Write};
use std::cell::RefCell;
use std::collections::BTreeMap;
use uuid::Uuid;

/// What a [`Txn`] reads through to: the committed records of one backend
/// (sled's trees, or a MySQL transaction in progress).
pub(crate) trait Base {
    fn plan(&self, uuid: Uuid) -> Result<Option<ActionPlan>, StoreError>;
    fn action(&self, uuid: Uuid) -> Result<Option<Action>, StoreError>;
    fn action_uuids_of(&self, plan: Uuid) -> Result<Vec<Uuid>, StoreError>;
    fn document(&self, name: &str) -> Result<Option<serde_json::Value>, StoreError>;
    /// A fresh, never reused id.
    fn next_id(&self) -> Result<u64, StoreError>;
    /// The sort orders a write of actions (or plans) maintains.
    fn maintained(&self, actions: bool) -> Maintained;
    fn blob(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Makes every later `next_id` larger than `id` (records copied in
    /// with their ids).
    fn reserve_ids_through(&self, id: u64) -> Result<(), StoreError>;
    /// Whether other processes share the store.
    fn shared(&self) -> bool {
        false
    }
    /// Whether applying the writes refuses a new record whose uuid is
    /// stored ([`Write::Plan`]'s `new`): then staging does not read the
    /// record first to refuse it.
    fn refuses_stored_uuids(&self) -> bool {
        false
    }
}

/// sled's trees as a [`Base`].
pub(crate) struct SledBase<'a> {
    pub(crate) tables: &'a Tables,
    pub(crate) db: &'a sled::Db,
}

impl Base for SledBase<'_> {
    fn plan(&self, uuid: Uuid) -> Result<Option<ActionPlan>, StoreError> {
        self.tables.plan(uuid)
    }
    fn action(&self, uuid: Uuid) -> Result<Option<Action>, StoreError> {
        self.tables.action(uuid)
    }
    fn action_uuids_of(&self, plan: Uuid) -> Result<Vec<Uuid>, StoreError> {
        self.tables.action_uuids_of(plan)
    }
    fn document(&self, name: &str) -> Result<Option<serde_json::Value>, StoreError> {
        self.tables.document(name)
    }
    fn next_id(&self) -> Result<u64, StoreError> {
        Ok(self.db.generate_id()?)
    }
    fn blob(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tables.blobs.get(name.as_bytes())?.map(|v| v.to_vec()))
    }
    fn reserve_ids_through(&self, id: u64) -> Result<(), StoreError> {
        while self.db.generate_id()? <= id {}
        Ok(())
    }
    fn maintained(&self, actions: bool) -> Maintained {
        self.tables.maintained(actions)
    }
    /// `Tables::apply` checks a new record as sled's insert reads the old
    /// value: a read less per new action (a tenth of the committer's time
    /// storing a large plan).
    fn refuses_stored_uuids(&self) -> bool {
        true
    }
}

/// Staged changes over the current database.
pub struct Txn<'a> {
    base: &'a dyn Base,
    /// sled's trees, for the sled store's own jobs (building an order).
    tables: Option<&'a Tables>,
    plans: BTreeMap<Uuid, ActionPlan>,
    actions: BTreeMap<Uuid, Action>,
    /// What each staged record was before this transaction (`None`: new),
    /// for the sort-index changes.
    plans_before: BTreeMap<Uuid, Option<ActionPlan>>,
    actions_before: BTreeMap<Uuid, Option<Action>>,
    new_actions_of: BTreeMap<Uuid, Vec<Uuid>>,
    documents: BTreeMap<String, serde_json::Value>,
    blobs: BTreeMap<String, Option<Vec<u8>>>,
    /// Records read from the store, kept for the transaction: a job reads
    /// a record, then stages its change, which reads it again for its
    /// before-image (a rollback, an action's state move).
    read_plans: RefCell<BTreeMap<Uuid, Option<ActionPlan>>>,
    read_actions: RefCell<BTreeMap<Uuid, Option<Action>>>,
    writes: Vec<Write>,
    /// Set when staging itself met the storage failing (`next_id` writes
    /// sled's id counter): the committer then stops the store, whatever the
    /// job answered.
    engine_failed: RefCell<Option<String>>,
}

impl<'a> Txn<'a> {
    pub(crate) fn new(base: &'a dyn Base, tables: Option<&'a Tables>) -> Self {
        Txn {
            base,
            tables,
            plans: BTreeMap::new(),
            actions: BTreeMap::new(),
            plans_before: BTreeMap::new(),
            actions_before: BTreeMap::new(),
            new_actions_of: BTreeMap::new(),
            documents: BTreeMap::new(),
            blobs: BTreeMap::new(),
            read_plans: Default::default(),
            read_actions: Default::default(),
            writes: Vec::new(),
            engine_failed: Default::default(),
        }
    }

    /// Why staging met the storage failing, if it did.
    pub(crate) fn engine_failed(&self) -> Option<String> {
        self.engine_failed.borrow().clone()
    }

    /// sled's trees (for the sled store's own jobs, e.g. building an order).
    pub(crate) fn tables(&self) -> Result<&Tables, StoreError> {
        self.tables.ok_or_else(|| StoreError::Engine("not a sled store".into()))
    }

    /// Whether other processes share the store (MySQL): then what one
    /// process runs must be claimed (see the host's leases).
    pub fn shared(&self) -> bool {
        self.base.shared()
    }

    /// Makes every later [`Txn::next_id`] larger than `id`: for records
    /// copied in with their own ids ([`crate::Store::copy_to`]).
    pub fn reserve_ids_through(&self, id: u64) -> Result<(), StoreError> {
        self.engine(self.base.reserve_ids_through(id))
    }

    /// A fresh, never reused id (creation order).
    pub fn next_id(&self) -> Result<u64, StoreError> {
        self.engine(self.base.next_id())
    }

    /// Passes `r` on, remembering an I/O or engine error: once sled's
    /// flusher has met a full disk, reads fail too (it answers its stored
    /// error), and a staging that meets that stops the store like a failed
    /// commit.
    fn engine<T>(&self, r: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(e @ (StoreError::Io(_) | StoreError::Engine(_))) = &r {
            self.engine_failed.borrow_mut().get_or_insert_with(|| e.to_string());
        }
        r
    }

    /// A plan, as staged or stored.
    pub fn plan(&self, uuid: Uuid) -> Result<Option<ActionPlan>, StoreError> {
        match self.plans.get(&uuid) {
            Some(p) => Ok(Some(p.clone())),
            None => self.stored(&self.read_plans, uuid, |uuid| self.base.plan(uuid)),
        }
    }

    /// A plan that must exist.
    pub fn plan_required(&self, uuid: Uuid) -> Result<ActionPlan, StoreError> {
        self.plan(uuid)?.ok_or(StoreError::NotFound { kind: "ActionPlan", uuid })
    }

    /// An action, as staged or stored.
    pub fn action(&self, uuid: Uuid) -> Result<Option<Action>, StoreError> {
        match self.actions.get(&uuid) {
            Some(a) => Ok(Some(a.clone())),
            None => self.stored(&self.read_actions, uuid, |uuid| self.base.action(uuid)),
        }
    }

    /// A stored record, read once per transaction (the store does not
    /// change under it: one writer, or a database transaction).
    fn stored<T: Clone>(
        &self,
        read: &RefCell<BTreeMap<Uuid, Option<T>>>,
        uuid: Uuid,
        load: impl FnOnce(Uuid) -> Result<Option<T>, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        if let Some(r) = read.borrow().get(&uuid) {
            return Ok(r.clone());
        }
        let r = self.engine(load(uuid))?;
        read.borrow_mut().insert(uuid, r.clone());
        Ok(r)
    }

    /// The actions of a plan, as staged or stored, in creation order.
    pub fn actions_of(&self, plan: Uuid) -> Result<Vec<Action>, StoreError> {
        let mut uuids = self.engine(self.base.action_uuids_of(plan))?;
        uuids.extend(self.new_actions_of.get(&plan).into_iter().flatten().copied());
        let mut out = Vec::with_capacity(uuids.len());
        for u in uuids {
            // Not kept as read (a plan may have 10,000 actions): a record
            // read for itself or staged is taken from there.
            let action = match (self.actions.get(&u), self.read_actions.borrow().get(&u)) {
                (Some(staged), _) => Some(staged.clone()),
                (None, Some(read)) => read.clone(),
                (None, None) => self.engine(self.base.action(u))?,
            };
            out.push(action.ok_or_else(|| StoreError::Corrupt {
                key: format!("action_lists/{plan}/{u}"),
                reason: "index names a missing action".into(),
            })?);
        }
        out.sort_by_key(|a| a.id);
        out.dedup_by_key(|a| a.uuid);
        Ok(out)
    }

    /// Stages a new plan; refuses a uuid that exists (a stored one here or
    /// when the write is applied, as the store does it: either way the
    /// write fails with [`StoreError::Exists`] and nothing is written).
    pub fn insert_plan(&mut self, plan: ActionPlan) -> Result<(), StoreError> {
        if self.exists(&self.plans, plan.uuid, || Ok(self.plan(plan.uuid)?.is_some()))? {
            return Err(StoreError::Exists { kind: "ActionPlan", uuid: plan.uuid });
        }
        if let Some(audit) = plan.audit_uuid {
            self.writes.push(Write::AuditIndex { audit, plan: plan.uuid });
        }
        self.plans_before.entry(plan.uuid).or_insert(None);
        self.stage_plan(plan);
        Ok(())
    }

    /// Stages a new action of an existing or staged plan; refuses a uuid
    /// that exists (as [`Txn::insert_plan`] does).
    pub fn insert_action(&mut self, action: Action) -> Result<(), StoreError> {
        if self.exists(&self.actions, action.uuid, || Ok(self.action(action.uuid)?.is_some()))? {
            return Err(StoreError::Exists { kind: "Action", uuid: action.uuid });
        }
        // Its plan must exist; a staged one is not copied to check that
        // (a new plan's actions are inserted in the same transaction).
        if !self.plans.contains_key(&action.action_plan_uuid) {
            self.plan_required(action.action_plan_uuid)?;
        }
        self.writes.push(Write::PlanIndex { plan: action.action_plan_uuid, action: action.uuid });
        self.actions_before.entry(action.uuid).or_insert(None);
        self.new_actions_of.entry(action.action_plan_uuid).or_default().push(action.uuid);
        self.stage_action(action);
        Ok(())
    }

    /// Stages a change to an existing plan. Its uuid and audit are fixed.
    pub fn update_plan(&mut self, plan: ActionPlan) -> Result<(), StoreError> {
        let old = self.plan_required(plan.uuid)?;
        if old.audit_uuid != plan.audit_uuid {
            return Err(StoreError::Engine("a plan's audit_uuid cannot change".into()));
        }
        if old.id != plan.id {
            return Err(StoreError::Engine("a plan's id cannot change".into()));
        }
        self.plans_before.entry(plan.uuid).or_insert(Some(old));
        self.stage_plan(plan);
        Ok(())
    }

    /// Stages a change to an existing action. Its plan is fixed.
    pub fn update_action(&mut self, action: Action) -> Result<(), StoreError> {
        let old =
            self.action(action.uuid)?.ok_or(StoreError::NotFound { kind: "Action", uuid: action.uuid })?;
        if old.action_plan_uuid != action.action_plan_uuid {
            return Err(StoreError::Engine("an action's action_plan_uuid cannot change".into()));
        }
        if old.id != action.id {
            return Err(StoreError::Engine("an action's id cannot change".into()));
        }
        self.actions_before.entry(action.uuid).or_insert(Some(old));
        self.stage_action(action);
        Ok(())
    }

    /// A named JSON document (e.g. the simulated cloud), as staged or stored.
    pub fn document(&self, name: &str) -> Result<Option<serde_json::Value>, StoreError> {
        match self.documents.get(name) {
            Some(v) => Ok(Some(v.clone())),
            None => self.engine(self.base.document(name)),
        }
    }

    /// Stages a named JSON document, replacing any previous one.
    pub fn put_document(&mut self, name: &str, value: serde_json::Value) {
        self.documents.insert(name.to_string(), value);
    }

    /// A named blob, as staged or stored.
    pub fn blob(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.blobs.get(name) {
            Some(b) => Ok(b.clone()),
            None => self.engine(self.base.blob(name)),
        }
    }

    /// Stages a named blob, replacing any previous one.
    pub fn put_blob(&mut self, name: &str, bytes: Vec<u8>) {
        self.blobs.insert(name.to_string(), Some(bytes));
    }

    /// Stages the removal of a named blob.
    pub fn delete_blob(&mut self, name: &str) {
        self.blobs.insert(name.to_string(), None);
    }

    /// Whether `uuid` is staged in `staged`, or stored when the store does
    /// not refuse stored uuids as it applies the writes.
    fn exists<T>(
        &self,
        staged: &BTreeMap<Uuid, T>,
        uuid: Uuid,
        stored: impl FnOnce() -> Result<bool, StoreError>,
    ) -> Result<bool, StoreError> {
        if staged.contains_key(&uuid) {
            return Ok(true);
        }
        if self.base.refuses_stored_uuids() {
            return Ok(false);
        }
        stored()
    }

    fn stage_plan(&mut self, plan: ActionPlan) {
        self.plans.insert(plan.uuid, plan);
    }

    fn stage_action(&mut self, action: Action) {
        self.actions.insert(action.uuid, action);
    }

    /// Everything staged, records and index entries, for one transaction.
    pub(crate) fn into_writes(self) -> Vec<Write> {
        use crate::sort::{action_key, changes, plan_key};
        let mut writes = self.writes;
        // Records, a sort entry or two each, documents and blobs: grown once.
        writes.reserve(3 * (self.plans.len() + self.actions.len()) + self.documents.len() + self.blobs.len());
        // Only the orders the store keeps or has built past this record
        // (see `sort`); they change only on this thread, between writes.
        let (plan_orders, action_orders) = (self.base.maintained(false), self.base.maintained(true));
        for (uuid, p) in &self.plans {
            let before = self.plans_before.get(uuid).and_then(Option::as_ref);
            for (key, uuid) in changes(before, p, &plan_orders.for_record(*uuid), plan_key, *uuid) {
                writes.push(Write::Sort { actions: false, key, uuid });
            }
        }
        for (uuid, a) in &self.actions {
            let before = self.actions_before.get(uuid).and_then(Option::as_ref);
            for (key, uuid) in changes(before, a, &action_orders.for_record(*uuid), action_key, *uuid) {
                writes.push(Write::Sort { actions: true, key, uuid });
            }
        }
        let (plans_before, actions_before) = (self.plans_before, self.actions_before);
        writes.extend(self.plans.into_values().map(|record| {
            let new = matches!(plans_before.get(&record.uuid), Some(None));
            Write::Plan { record, new }
        }));
        writes.extend(self.actions.into_values().map(|record| {
            let new = matches!(actions_before.get(&record.uuid), Some(None));
            Write::Action { record, new }
        }));
        writes.extend(self.documents.into_iter().map(|(name, value)| Write::Document { name, value }));
        writes.extend(self.blobs.into_iter().map(|(name, bytes)| Write::Blob { name, bytes }));
        writes
    }
}
