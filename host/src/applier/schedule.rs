//! The in-memory state of one running plan: which actions are ready, which
//! wait, which can never run. Built once from the plan's actions when the
//! applier begins it; every finished action updates only its children, so
//! the cost per action does not grow with the size of the plan.

use rollback_store::{Action, ActionState};
use std::collections::{HashMap, VecDeque};
use uuid::Uuid;

/// The scheduling state of a plan's actions.
pub(super) struct Schedule {
    /// The actions, in creation order, as last recorded.
    actions: Vec<Action>,
    /// Positions of each action's children.
    children: Vec<Vec<usize>>,
    /// Parents of each action that have not SUCCEEDED or been SKIPPED yet.
    waiting: Vec<usize>,
    /// PENDING actions whose parents are all done, in the order they became ready.
    ready: VecDeque<usize>,
    /// PENDING actions that can never run, with the reason, not yet taken.
    doomed: Vec<(usize, String)>,
    /// Whether an action was ever doomed.
    is_doomed: Vec<bool>,
}

/// A parent in this state lets its children run.
fn lets_children_run(s: ActionState) -> bool {
    matches!(s, ActionState::Succeeded | ActionState::Skipped)
}

/// A parent in this state means its children never run.
fn blocks_children(s: ActionState) -> bool {
    matches!(s, ActionState::Failed | ActionState::Cancelled | ActionState::Deleted)
}

fn not_run(parent: Uuid, state: impl std::fmt::Display) -> String {
    format!("Not run: parent action {parent} is {state}.")
}

impl Schedule {
    /// The schedule of `actions` (one plan's, in creation order).
    pub(super) fn new(actions: Vec<Action>) -> Self {
        let index: HashMap<Uuid, usize> = actions.iter().enumerate().map(|(i, a)| (a.uuid, i)).collect();
        let n = actions.len();
        let mut children = vec![Vec::new(); n];
        let mut waiting = vec![0; n];
        let mut doomed = Vec::new();
        for (i, a) in actions.iter().enumerate() {
            let mut blocked: Option<String> = None;
            for p in &a.parents {
                match index.get(p) {
                    None => blocked = blocked.or_else(|| Some(not_run(*p, "missing"))),
                    Some(&j) => {
                        children[j].push(i);
                        let s = actions[j].state;
                        if blocks_children(s) {
                            blocked = blocked.or_else(|| Some(not_run(*p, s)));
                        } else if !lets_children_run(s) {
                            waiting[i] += 1;
                        }
                    }
                }
            }
            if a.state == ActionState::Pending {
                if let Some(why) = blocked {
                    doomed.push((i, why));
                }
            }
        }
        let mut is_doomed = vec![false; n];
        doomed.iter().for_each(|(i, _)| is_doomed[*i] = true);
        let ready = (0..n)
            .filter(|&i| actions[i].state == ActionState::Pending && waiting[i] == 0 && !is_doomed[i])
            .collect();
        Schedule { actions, children, waiting, ready, doomed, is_doomed }
    }

    /// The next action ready to run, if any (it is then in flight).
    pub(super) fn next_ready(&mut self) -> Option<(usize, Action)> {
        while let Some(i) = self.ready.pop_front() {
            if self.actions[i].state == ActionState::Pending {
                return Some((i, self.actions[i].clone()));
            }
        }
        None
    }

    /// Takes the actions that can never run (each with its reason).
    pub(super) fn take_doomed(&mut self) -> Vec<(usize, String)> {
        std::mem::take(&mut self.doomed)
    }

    /// The action at `i`.
    pub(super) fn action(&self, i: usize) -> &Action {
        &self.actions[i]
    }

    /// Records that action `i` ended as `action` (its final record):
    /// children whose parents are now all done become ready; children of a
    /// failed or cancelled action are doomed.
    pub(super) fn finished(&mut self, i: usize, action: Action) {
        let (uuid, state) = (action.uuid, action.state);
        self.actions[i] = action;
        for k in 0..self.children[i].len() {
            let c = self.children[i][k];
            if self.actions[c].state != ActionState::Pending {
                continue;
            }
            if lets_children_run(state) {
                self.waiting[c] -= 1;
                if self.waiting[c] == 0 {
                    self.ready.push_back(c);
                }
            } else if blocks_children(state) && !self.is_doomed[c] {
                self.is_doomed[c] = true;
                self.doomed.push((c, not_run(uuid, state)));
            }
        }
    }

    /// The actions as last recorded, in creation order.
    pub(super) fn into_actions(self) -> Vec<Action> {
        self.actions
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn plan(parents: &[&[usize]]) -> Vec<Action> {
        let uuids: Vec<Uuid> = parents.iter().map(|_| Uuid::new_v4()).collect();
        let plan = Uuid::new_v4();
        parents
            .iter()
            .zip(&uuids)
            .map(|(ps, u)| {
                let ps = ps.iter().map(|&p| uuids[p]).collect();
                Action::new(*u, plan, "nop", Map::new(), ps, chrono::Utc::now())
            })
            .collect()
    }

    fn end(s: &mut Schedule, i: usize, state: ActionState) {
        let mut a = s.action(i).clone();
        a.state = state;
        s.finished(i, a);
    }

    #[test]
    fn children_run_after_all_parents_and_failures_doom_descendants() {
        // 0 → 2, 1 → 2, 2 → 3
        let mut s = Schedule::new(plan(&[&[], &[], &[0, 1], &[2]]));
        let first: Vec<usize> = std::iter::from_fn(|| s.next_ready().map(|(i, _)| i)).collect();
        assert_eq!(first, vec![0, 1]);
        end(&mut s, 0, ActionState::Succeeded);
        assert!(s.next_ready().is_none(), "2 still waits for 1");
        end(&mut s, 1, ActionState::Skipped);
        assert_eq!(s.next_ready().map(|(i, _)| i), Some(2));
        end(&mut s, 2, ActionState::Failed);
        let doomed = s.take_doomed();
        assert_eq!(doomed.len(), 1);
        assert_eq!(doomed[0].0, 3);
        assert!(doomed[0].1.contains("is FAILED"), "{}", doomed[0].1);
    }

    #[test]
    fn actions_already_ended_before_the_run_count_as_done() {
        let mut actions = plan(&[&[], &[0], &[1]]);
        actions[0].state = ActionState::Skipped; // skipped by an operator
        actions[1].parents.push(Uuid::new_v4()); // a parent outside the plan
        let mut s = Schedule::new(actions);
        assert!(s.next_ready().is_none());
        let doomed = s.take_doomed();
        assert_eq!(doomed.iter().map(|d| d.0).collect::<Vec<_>>(), vec![1]);
        assert!(doomed[0].1.contains("missing"));
        end(&mut s, 1, ActionState::Cancelled);
        assert_eq!(s.take_doomed()[0].0, 2, "the cascade goes on to grandchildren");
    }
}
