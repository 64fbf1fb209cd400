//! The jobs of one group commit, staged before any of them is applied.
//!
//! sled 0.34 writes out its log buffer twice for every transaction (it
//! rolls the buffer before and after pinning the log: `pin_log`), a
//! `pwrite` and a `sync_file_range` each, on its I/O threads: most of a
//! small write's cost (`examples/commit_shapes.rs`). So the committer stages
//! the jobs it took from the queue one after the other, each over what the
//! ones before it staged ([`GroupBase`]: their records, list entries,
//! documents and blobs, then sled's), and applies all their writes in one
//! transaction. Each job sees exactly what it would have seen had the ones
//! before it been applied first.
//!
//! The one way such a transaction is refused is a new record whose uuid is
//! stored (checked as sled's insert reads the old value: `Tables::apply`).
//! Then nothing of it was written, and the committer runs the group's jobs
//! again one at a time (a job may run more than once: `Store::write`), so
//! that the refusal fails its own job alone and no other job keeps an answer
//! that relied on what the refused one staged.

use crate::error::StoreError;
use crate::model::{Action, ActionPlan};
use crate::tables::{Maintained, Write};
use crate::txn::{Base, SledBase};
use std::collections::HashMap;
use uuid::Uuid;

/// The most writes one group applies in one transaction: a transaction
/// holds what it writes in memory until it ends (a 10,000-action plan is
/// one job, and still one transaction).
pub(crate) const MAX_GROUP_WRITES: usize = 16_384;

/// What the jobs staged so far in a group wrote, newest last, with where
/// each record's latest version is.
#[derive(Default)]
pub(crate) struct Staged {
    pub(crate) writes: Vec<Write>,
    plans: HashMap<Uuid, usize>,
    actions: HashMap<Uuid, usize>,
    new_actions_of: HashMap<Uuid, Vec<Uuid>>,
    documents: HashMap<String, usize>,
    blobs: HashMap<String, usize>,
}

impl Staged {
    /// Adds one job's writes after the others'.
    pub(crate) fn absorb(&mut self, writes: Vec<Write>) {
        for (i, w) in writes.iter().enumerate() {
            let at = self.writes.len() + i;
            match w {
                Write::Plan { record, .. } => {
                    self.plans.insert(record.uuid, at);
                }
                Write::Action { record, .. } => {
                    self.actions.insert(record.uuid, at);
                }
                Write::PlanIndex { plan, action } => {
                    self.new_actions_of.entry(*plan).or_default().push(*action)
                }
                Write::Document { name, .. } => {
                    self.documents.insert(name.clone(), at);
                }
                Write::Blob { name, .. } => {
                    self.blobs.insert(name.clone(), at);
                }
                Write::Sort { .. } | Write::AuditIndex { .. } => {}
            }
        }
        self.writes.extend(writes);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// Forgets everything (the group was applied, or will be run again).
    pub(crate) fn clear(&mut self) {
        *self = Staged::default();
    }
}

/// sled's trees under what the group's earlier jobs staged.
pub(crate) struct GroupBase<'a> {
    pub(crate) sled: SledBase<'a>,
    pub(crate) staged: &'a Staged,
}

impl Base for GroupBase<'_> {
    fn plan(&self, uuid: Uuid) -> Result<Option<ActionPlan>, StoreError> {
        match self.staged.plans.get(&uuid).map(|&i| &self.staged.writes[i]) {
            Some(Write::Plan { record, .. }) => Ok(Some(record.clone())),
            _ => self.sled.plan(uuid),
        }
    }
    fn action(&self, uuid: Uuid) -> Result<Option<Action>, StoreError> {
        match self.staged.actions.get(&uuid).map(|&i| &self.staged.writes[i]) {
            Some(Write::Action { record, .. }) => Ok(Some(record.clone())),
            _ => self.sled.action(uuid),
        }
    }
    fn action_uuids_of(&self, plan: Uuid) -> Result<Vec<Uuid>, StoreError> {
        let mut uuids = self.sled.action_uuids_of(plan)?;
        uuids.extend(self.staged.new_actions_of.get(&plan).into_iter().flatten().copied());
        Ok(uuids)
    }
    fn document(&self, name: &str) -> Result<Option<serde_json::Value>, StoreError> {
        match self.staged.documents.get(name).map(|&i| &self.staged.writes[i]) {
            Some(Write::Document { value, .. }) => Ok(Some(value.clone())),
            _ => self.sled.document(name),
        }
    }
    fn next_id(&self) -> Result<u64, StoreError> {
        self.sled.next_id()
    }
    fn maintained(&self, actions: bool) -> Maintained {
        self.sled.maintained(actions)
    }
    fn blob(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.staged.blobs.get(name).map(|&i| &self.staged.writes[i]) {
            Some(Write::Blob { bytes, .. }) => Ok(bytes.clone()),
            _ => self.sled.blob(name),
        }
    }
    fn reserve_ids_through(&self, id: u64) -> Result<(), StoreError> {
        self.sled.reserve_ids_through(id)
    }
    fn refuses_stored_uuids(&self) -> bool {
        self.sled.refuses_stored_uuids()
    }
}
