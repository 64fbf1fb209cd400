//! The transition table, checked over every pair of states for every
//! trigger: allowed exactly where Watcher allows it, refused elsewhere with
//! Watcher's message for that cause.

use super::*;

/// Watcher's plan moves, written out independently of the table.
fn plan_allowed(trigger: PlanTrigger, from: PlanState, to: PlanState) -> bool {
    use PlanState::*;
    match trigger {
        PlanTrigger::Patch => matches!(
            (from, to),
            (Recommended, Pending) | (Recommended, Cancelled) | (Pending, Cancelled) | (Ongoing, Cancelling)
        ),
        PlanTrigger::Start => (from, to) == (Recommended, Pending),
        PlanTrigger::Delete => {
            to == Deleted && matches!(from, Succeeded | Recommended | Failed | Superseded | Cancelled)
        }
        PlanTrigger::Begin => (from, to) == (Pending, Ongoing),
        PlanTrigger::Settle => {
            matches!((from, to), (Ongoing, Succeeded) | (Ongoing, Failed) | (Cancelling, Cancelled))
        }
        PlanTrigger::Interrupt => matches!((from, to), (Ongoing, Failed) | (Cancelling, Cancelled)),
    }
}

const PLAN_TRIGGERS: [PlanTrigger; 6] = [
    PlanTrigger::Patch,
    PlanTrigger::Start,
    PlanTrigger::Delete,
    PlanTrigger::Begin,
    PlanTrigger::Settle,
    PlanTrigger::Interrupt,
];

#[test]
fn every_plan_state_pair_is_allowed_or_refused_with_watchers_message() {
    let mut allowed = 0;
    for trigger in PLAN_TRIGGERS {
        for &from in PlanState::ALL {
            for &to in PlanState::ALL {
                let got = plan_transition(trigger, from, to);
                assert_eq!(got.is_ok(), plan_allowed(trigger, from, to), "{trigger:?} {from} -> {to}");
                allowed += got.is_ok() as usize;
                let Err(e) = got else { continue };
                let want = match trigger {
                    PlanTrigger::Patch => format!("State transition not allowed: ({from} -> {to})"),
                    PlanTrigger::Start => format!("Couldn't start when state is '{from}'."),
                    PlanTrigger::Delete => format!("Couldn't delete when state is '{from}'."),
                    _ => {
                        let m = e.to_string();
                        assert!(m.contains(from.as_str()), "{trigger:?} {from} -> {to}: {m}");
                        continue;
                    }
                };
                assert_eq!(e.to_string(), want);
            }
        }
    }
    assert_eq!(allowed, PLAN_TRANSITIONS.len(), "the table has no duplicate rows");
}

/// Watcher's action moves, written out independently of the table.
fn action_allowed(trigger: ActionTrigger, from: ActionState, to: ActionState) -> bool {
    use ActionState::*;
    match trigger {
        ActionTrigger::Skip => matches!((from, to), (Pending, Skipped) | (Skipped, Skipped)),
        ActionTrigger::Run => (from, to) == (Pending, Ongoing),
        ActionTrigger::Finish => matches!((from, to), (Ongoing, Succeeded) | (Ongoing, Failed)),
        ActionTrigger::Refuse => matches!((from, to), (Pending, Skipped) | (Pending, Failed)),
        ActionTrigger::Cancel => (from, to) == (Pending, Cancelled),
        // After a restart an ONGOING action is settled by what the driver observed.
        ActionTrigger::Interrupt => {
            matches!((from, to), (Ongoing, Failed) | (Ongoing, Succeeded) | (Pending, Cancelled))
        }
        ActionTrigger::Delete => {
            to == Deleted && matches!(from, Pending | Succeeded | Failed | Skipped | Cancelled)
        }
    }
}

#[test]
fn every_action_state_pair_is_allowed_or_refused_with_a_message() {
    let triggers = [
        ActionTrigger::Skip,
        ActionTrigger::Run,
        ActionTrigger::Finish,
        ActionTrigger::Refuse,
        ActionTrigger::Cancel,
        ActionTrigger::Interrupt,
        ActionTrigger::Delete,
    ];
    let mut allowed = 0;
    for trigger in triggers {
        for &from in ActionState::ALL {
            for &to in ActionState::ALL {
                let got = action_transition(trigger, from, to);
                assert_eq!(got.is_ok(), action_allowed(trigger, from, to), "{trigger:?} {from} -> {to}");
                allowed += got.is_ok() as usize;
                if let Err(e) = got {
                    let m = e.to_string();
                    assert!(m.contains(&format!("{from}")) && m.contains(&format!("{to}")), "{m}");
                    if trigger == ActionTrigger::Skip {
                        assert!(
                            m.starts_with(&format!("State transition not allowed: ({from} -> {to})")),
                            "{m}"
                        );
                    }
                }
            }
        }
    }
    assert_eq!(allowed, ACTION_TRANSITIONS.len(), "the table has no duplicate rows");
}

#[test]
fn only_finished_plans_may_be_rolled_back() {
    for &s in PlanState::ALL {
        let want = matches!(s, PlanState::Succeeded | PlanState::Failed | PlanState::Cancelled);
        assert_eq!(may_roll_back(s), want, "{s}");
    }
}

mod in_a_store {
    use super::*;
    use rollback_store::{Store, StoreError};
    use serde_json::Map;

    fn store_with_plan(state: PlanState, actions: usize) -> (tempfile::TempDir, Store, Uuid) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let uuid = Uuid::new_v4();
        store
            .write(move |txn| {
                let now = Utc::now();
                let plan = ActionPlan::new(uuid, "manual", state, now);
                let acts: Vec<Action> = (0..actions)
                    .map(|_| Action::new(Uuid::new_v4(), uuid, "nop", Map::new(), vec![], now))
                    .collect();
                insert(txn, &plan, &acts).map(drop)
            })
            .map_err(|e: StoreError| e)
            .unwrap();
        (dir, store, uuid)
    }

    #[test]
    fn cancelling_a_pending_plan_cancels_its_actions_and_stamps_it_finished() {
        let (_d, store, uuid) = store_with_plan(PlanState::Pending, 3);
        let plan = store.write(move |txn| patch(txn, uuid, |_| Ok(PlanState::Cancelled))).unwrap();
        assert_eq!(plan.state, PlanState::Cancelled);
        assert!(plan.finished_at.is_some());
        assert!(store.actions_of(uuid).unwrap().iter().all(|a| a.state == ActionState::Cancelled));
    }

    #[test]
    fn a_refused_move_writes_nothing() {
        let (_d, store, uuid) = store_with_plan(PlanState::Ongoing, 2);
        let before = (store.plan(uuid).unwrap(), store.actions_of(uuid).unwrap());
        let e = store.write(move |txn| delete(txn, uuid)).unwrap_err();
        assert_eq!(e.to_string(), "Couldn't delete when state is 'ONGOING'.");
        let e = store.write(move |txn| start(txn, uuid)).unwrap_err();
        assert_eq!(e.to_string(), "Couldn't start when state is 'ONGOING'.");
        assert_eq!((store.plan(uuid).unwrap(), store.actions_of(uuid).unwrap()), before);
    }

    #[test]
    fn begin_takes_a_pending_plan_once_with_its_actions() {
        let (_d, store, uuid) = store_with_plan(PlanState::Pending, 4);
        let (plan, actions) = store.write(move |txn| begin(txn, uuid)).unwrap().unwrap();
        assert_eq!((plan.state, actions.len()), (PlanState::Ongoing, 4));
        assert!(
            store.write(move |txn| begin(txn, uuid)).unwrap().is_none(),
            "a second begin finds it ONGOING"
        );
        let e = store.write(move |txn| skip_action(txn, actions[0].uuid, |_| unreachable!())).unwrap_err();
        assert!(matches!(e, LifecycleError::Conflict(_)), "{e}");
    }

    #[test]
    fn interrupt_fails_running_actions_and_cancels_the_rest() {
        let (_d, store, uuid) = store_with_plan(PlanState::Ongoing, 2);
        let first = store.actions_of(uuid).unwrap()[0].clone();
        store
            .write(move |txn| {
                let mut a = first.clone();
                move_action(txn, &mut a, ActionTrigger::Run, ActionState::Ongoing, None, Utc::now())
            })
            .unwrap();
        let plan = store.write(move |txn| interrupt(txn, uuid, &Default::default())).unwrap();
        assert_eq!(plan.state, PlanState::Failed);
        assert_eq!(plan.status_message.as_deref(), Some(interrupted_message(1, 1).as_str()));
        let states: Vec<ActionState> = store.actions_of(uuid).unwrap().iter().map(|a| a.state).collect();
        assert_eq!(states, vec![ActionState::Failed, ActionState::Cancelled]);
    }

    #[test]
    fn interrupted_actions_are_settled_by_what_the_driver_observed() {
        let (_d, store, uuid) = store_with_plan(PlanState::Ongoing, 4);
        let all = store.actions_of(uuid).unwrap();
        let running: Vec<_> = all[..3].to_vec();
        store
            .write(move |txn| {
                for mut a in running.clone() {
                    move_action(txn, &mut a, ActionTrigger::Run, ActionState::Ongoing, None, Utc::now())?;
                }
                Ok::<_, LifecycleError>(())
            })
            .unwrap();
        let observed: std::collections::HashMap<_, _> = [
            (all[0].uuid, Observed::Happened(serde_json::json!({"host": "c2"}))),
            (all[1].uuid, Observed::NotHappened),
            (all[2].uuid, Observed::Unknown("the API timed out".into())),
        ]
        .into();
        store.write(move |txn| interrupt(txn, uuid, &observed)).unwrap();
        let after = store.actions_of(uuid).unwrap();
        let states: Vec<_> = after.iter().map(|a| a.state).collect();
        assert_eq!(
            states,
            [ActionState::Succeeded, ActionState::Failed, ActionState::Failed, ActionState::Cancelled]
        );
        assert_eq!(after[0].result, Some(serde_json::json!({"host": "c2"})), "the observed result");
        assert!(after[1].status_message.as_deref().unwrap().contains("nothing changed"));
        let unknown = after[2].status_message.as_deref().unwrap();
        assert!(unknown.starts_with(UNKNOWN_PREFIX) && unknown.contains("timed out"), "{unknown}");
        let flags: Vec<_> = after.iter().map(|a| a.outcome_unknown).collect();
        assert_eq!(flags, [false, false, true, false], "only the unobserved action is marked unknown");
        assert_eq!(after.iter().filter(|a| outcome_unknown(a)).count(), 1);
    }

    #[test]
    fn an_unknown_outcome_recorded_before_the_field_is_still_recognised() {
        let mut a = Action::new(Uuid::new_v4(), Uuid::new_v4(), "nop", Map::new(), vec![], Utc::now());
        a.state = ActionState::Failed;
        a.status_message = Some(format!("{UNKNOWN_PREFIX} the API timed out"));
        assert!(outcome_unknown(&a), "a legacy record, marked by its message only");
        a.status_message = Some("Nova refused it".into());
        assert!(!outcome_unknown(&a));
        a.outcome_unknown = true;
        assert!(outcome_unknown(&a));
        a.state = ActionState::Succeeded;
        assert!(!outcome_unknown(&a), "only a FAILED action can have an unknown outcome");
    }

    #[test]
    fn a_new_plan_comes_back_with_the_ids_the_store_gave_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (uuid, now) = (Uuid::new_v4(), Utc::now());
        let acts: Vec<Action> =
            (0..3).map(|_| Action::new(Uuid::new_v4(), uuid, "nop", Map::new(), vec![], now)).collect();
        let new = NewPlan::new(ActionPlan::new(uuid, "manual", PlanState::Recommended, now), acts);
        let shared = new.share();
        let ids = store.write(move |txn| shared.insert(txn)).map_err(|e: StoreError| e).unwrap();
        let (plan, actions) = new.stored(ids);
        assert_eq!(plan, store.plan(uuid).unwrap().unwrap());
        assert_eq!(actions, store.actions_of(uuid).unwrap(), "the same records, ids included, in order");
        assert!(actions.windows(2).all(|w| w[0].id < w[1].id) && plan.id < actions[0].id);
    }
}
