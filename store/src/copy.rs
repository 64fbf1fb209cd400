//! Copying a whole store into an empty one (`rollback-host store copy`):
//! sled into MySQL when a deployment outgrows one machine, and back.

use crate::error::StoreError;
use crate::model::{Action, ActionPlan};
use crate::sort::PlanSortKey;
use crate::Store;

/// Plans copied per write.
const BATCH: usize = 200;

/// What [`Store::copy_to`] copied.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Copied {
    /// Plans, deleted ones included.
    pub plans: usize,
    /// Their actions.
    pub actions: usize,
    /// Named documents.
    pub documents: usize,
    /// Blobs (uploaded plugins, plan leases).
    pub blobs: usize,
}

impl Store {
    /// Copies every record, document and blob of this store into `to`,
    /// which must be empty, keeping uuids, ids and order; `progress` is told
    /// the plans copied so far and their total. Writes go in batches, each
    /// durable before the next; a copy cut short leaves `to` partly filled
    /// (empty it and copy again). Stop the service on this store first.
    pub fn copy_to(&self, to: &Store, mut progress: impl FnMut(usize, usize)) -> Result<Copied, StoreError> {
        let occupied = !to.plans_page(PlanSortKey::Id, None, false, 1, |_| true)?.is_empty()
            || !to.documents()?.is_empty()
            || !to.blobs("")?.is_empty();
        if occupied {
            return Err(StoreError::Config("the store to copy into is not empty".into()));
        }
        let plans = self.plans()?;
        let total = plans.len();
        let mut copied = Copied::default();
        for chunk in plans.chunks(BATCH) {
            let mut batch: Vec<(ActionPlan, Vec<Action>)> = Vec::with_capacity(chunk.len());
            for p in chunk {
                batch.push((p.clone(), self.actions_of(p.uuid)?));
            }
            let max_id =
                batch.iter().flat_map(|(p, a)| std::iter::once(p.id).chain(a.iter().map(|a| a.id))).max();
            copied.actions += batch.iter().map(|(_, a)| a.len()).sum::<usize>();
            to.write(move |txn| {
                for (p, actions) in &batch {
                    txn.insert_plan(p.clone())?;
                    for a in actions {
                        txn.insert_action(a.clone())?;
                    }
                }
                if let Some(id) = max_id {
                    txn.reserve_ids_through(id)?;
                }
                Ok::<_, StoreError>(())
            })?;
            copied.plans += chunk.len();
            progress(copied.plans, total);
        }
        let documents = self.documents()?;
        copied.documents = documents.len();
        to.write(move |txn| {
            for (name, value) in &documents {
                txn.put_document(name, value.clone());
            }
            Ok::<_, StoreError>(())
        })?;
        for (name, bytes) in self.blobs("")? {
            copied.blobs += 1;
            to.write(move |txn| {
                txn.put_blob(&name, bytes.clone());
                Ok::<_, StoreError>(())
            })?;
        }
        Ok(copied)
    }
}
