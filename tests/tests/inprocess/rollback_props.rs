//! Properties of rollback, on random plans over every built-in action type:
//!
//! 1. run a plan, roll it back, run the rollback: the cloud equals its
//!    starting state, and every action of both plans SUCCEEDED;
//! 2. with drift injected between the two (an instance deleted or moved
//!    away, a host disabled, a node powered off), the rollback never acts on
//!    a resource that no longer matches what the original left: every
//!    rollback action that ran found its expected state, the others ended
//!    SKIPPED or FAILED with a reason, and untouched resources come back.
//!
//! Plans are generated the way Watcher's strategies build them: actions on
//! one resource form a chain (an instance's moves, a volume's moves, the
//! spare host's service and power), chains are independent branches, and
//! random extra edges join them into an arbitrary DAG. A host maintenance
//! step builds Watcher 9's `host_maintenance` shape: disable a host, move
//! its instances off side by side, the last one after all the others (a
//! chain through a restore-first action, fan-in after fan-out). Each action
//! is valid for the state its chain leaves, so every original action
//! succeeds.
//!
//! Runs in-process over a store on tmpfs. `PROPTEST_CASES` sets the number
//! of cases (default 1000 for property 1, 250 for property 2).

use proptest::prelude::*;
use rollback_host::plugins::{Limits, Registry, Runtime};
use rollback_host::rollback::Options;
use rollback_host::service::Service;
use rollback_store::{Action, ActionPlan, ActionState, PlanState, Store, StoreError};
use serde_json::{json, Value};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use uuid::Uuid;

const INSTANCES: [&str; 4] = [
    "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a01",
    "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a02",
    "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a03",
    "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a04",
];
const VOLUMES: [&str; 2] = ["8a2b3c4d-1111-4a22-9b33-5c6d7e8f9a01", "8a2b3c4d-1111-4a22-9b33-5c6d7e8f9a02"];
/// Hosts instances move between; never disabled by a generated plan.
const HOSTS: [&str; 3] = ["compute-1", "compute-2", "compute-3"];
/// The spare host: its service and power change; only a resize on Nova
/// (the scheduler's choice) may put an instance on it.
const SPARE: &str = "compute-4";
const FLAVORS: [&str; 3] = ["m1.small", "m1.medium", "m1.large"];
const POOLS: [&str; 2] = ["storage-1@lvm#pool-a", "storage-1@lvm#pool-b"];
const TYPES: [&str; 2] = ["standard", "ssd"];

/// A registry with the built-in plugins loaded from `target/plugins`, as
/// `serve --plugins-dir` loads them, shared by every case.
pub(crate) fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let registry = Registry::new(Runtime::new(Limits::default()).unwrap(), Default::default());
        registry.scan(&rollback_tests::repo_root().join("target/plugins"));
        let loaded = registry.snapshot();
        assert!(
            loaded.len() >= 9,
            "every built-in inverter is needed (run `make plugins`): {:?}",
            loaded.keys()
        );
        registry
    })
}

pub(crate) fn tokio() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
    })
}

/// One generated action: type, parameters, parents (indices).
pub(crate) type Gen = (String, Value, Vec<usize>);

/// One generator step: (chain selector, op selector, target selector).
pub(crate) type Step = (u8, u8, u8);
/// An extra DAG edge between two generated actions (taken modulo the count).
pub(crate) type Edge = (usize, usize);

/// Choices that drive the generator.
pub(crate) fn steps() -> impl Strategy<Value = (Vec<Step>, Vec<Edge>)> {
    (
        prop::collection::vec((any::<u8>(), any::<u8>(), any::<u8>()), 1..14),
        prop::collection::vec((any::<usize>(), any::<usize>()), 0..6),
    )
}

struct Model {
    host: Vec<String>,
    status: Vec<&'static str>,
    flavor: Vec<String>,
    pool: Vec<String>,
    vtype: Vec<String>,
    spare_enabled: bool,
    spare_on: bool,
    /// Whether a resize on Nova may have put a server on the spare.
    spare_maybe_occupied: bool,
    /// Whether each of `HOSTS` is enabled (instances move only to those).
    enabled: Vec<bool>,
    /// Whether each instance's host is known: on real Nova (and its
    /// double) a resize lands where the scheduler likes, so a plan cannot
    /// name the source of a later move, as Watcher's strategies do not.
    placed: Vec<bool>,
    /// Whether a resize moves the instance (real Nova's default).
    resize_moves: bool,
}

impl Model {
    /// Hosts other than `from` that take instances.
    /// Whether Nova's scheduler surely finds another enabled host for a
    /// resize of instance `i` (the spare too when powered on; where an earlier resize put
    /// it is not known, so then two are needed).
    fn resize_has_a_host(&self, i: usize) -> bool {
        let enabled: Vec<&str> = HOSTS
            .iter()
            .zip(&self.enabled)
            .filter(|(_, on)| **on)
            .map(|(h, _)| *h)
            .chain((self.spare_enabled && self.spare_on).then_some(SPARE))
            .collect();
        if self.placed[i] {
            enabled.iter().any(|h| *h != self.host[i])
        } else {
            enabled.len() >= 2
        }
    }

    fn destinations(&self, from: &str) -> Vec<&'static str> {
        HOSTS.iter().zip(&self.enabled).filter(|(h, on)| **on && **h != from).map(|(h, _)| *h).collect()
    }
}

fn model(seed: &Value) -> Model {
    let inst = |i: usize, k: &str| seed["instances"][INSTANCES[i]][k].as_str().unwrap().to_string();
    Model {
        host: (0..4).map(|i| inst(i, "host")).collect(),
        status: (0..4).map(|i| if inst(i, "status") == "ACTIVE" { "ACTIVE" } else { "SHUTOFF" }).collect(),
        flavor: (0..4).map(|i| inst(i, "flavor")).collect(),
        pool: VOLUMES.iter().map(|v| seed["volumes"][v]["pool"].as_str().unwrap().to_string()).collect(),
        vtype: VOLUMES.iter().map(|v| seed["volumes"][v]["type"].as_str().unwrap().to_string()).collect(),
        spare_enabled: seed["compute_services"][SPARE]["state"] == "enabled",
        spare_on: seed["nodes"][SPARE]["power"] == "on",
        spare_maybe_occupied: false,
        enabled: HOSTS.iter().map(|h| seed["compute_services"][h]["state"] == "enabled").collect(),
        placed: vec![true; 4],
        resize_moves: false,
    }
}

/// Builds a valid plan from the choices.
pub(crate) fn generate(seed: &Value, choices: &[Step], extra_edges: &[Edge]) -> Vec<Gen> {
    generate_with(model(seed), choices, extra_edges)
}

/// The same, for real Nova's behaviour (a resized instance's host is not
/// known in advance; it is not moved by name afterwards).
pub(crate) fn generate_on_nova(seed: &Value, choices: &[Step], extra_edges: &[Edge]) -> Vec<Gen> {
    generate_with(Model { resize_moves: true, ..model(seed) }, choices, extra_edges)
}

fn generate_with(mut m: Model, choices: &[Step], extra_edges: &[Edge]) -> Vec<Gen> {
    let mut out: Vec<Gen> = Vec::new();
    // Last action of each chain: 4 instances, 2 volumes, the spare host,
    // the three hosts' services.
    let mut last: [Option<usize>; 10] = [None; 10];
    // Resizes so far (on Nova).
    let mut resizes: Vec<usize> = Vec::new();
    for &(chain, op, pick) in choices {
        let chain = chain as usize % 10; // 7 chains, nop, sleep, maintenance
        if chain == 9 {
            maintenance(&mut m, &mut out, &mut last, op, pick);
            continue;
        }
        let (ty, params, key): (&str, Value, Option<usize>) = match chain {
            0..=3 => {
                let i = chain;
                let id = INSTANCES[i];
                // Where a resize put it is not known: only toggles and resizes.
                let op = if m.placed[i] { op } else { op % 2 };
                match op % 4 {
                    0 => {
                        let ty = if m.status[i] == "ACTIVE" { "stop" } else { "start" };
                        m.status[i] = if ty == "stop" { "SHUTOFF" } else { "ACTIVE" };
                        (ty, json!({"resource_id": id}), Some(i))
                    }
                    1 if m.resize_moves && !m.resize_has_a_host(i) => {
                        out.push(("nop".into(), json!({"message": "no host to resize onto"}), vec![]));
                        continue;
                    }
                    1 => {
                        let others: Vec<&str> =
                            FLAVORS.iter().copied().filter(|f| *f != m.flavor[i]).collect();
                        let f = others[pick as usize % others.len()];
                        m.flavor[i] = f.to_string();
                        if m.resize_moves {
                            m.placed[i] = false;
                            m.spare_maybe_occupied |= m.spare_enabled && m.spare_on;
                        }
                        ("resize", json!({"resource_id": id, "flavor": f}), Some(i))
                    }
                    _ => {
                        let others = m.destinations(&m.host[i]);
                        if others.is_empty() {
                            out.push(("nop".into(), json!({"message": "nowhere to go"}), vec![]));
                            continue;
                        }
                        let dest = others[pick as usize % others.len()];
                        let kind = if m.status[i] == "ACTIVE" && op % 2 == 0 { "live" } else { "cold" };
                        let src = std::mem::replace(&mut m.host[i], dest.to_string());
                        (
                            "migrate",
                            json!({"resource_id": id, "migration_type": kind, "source_node": src, "destination_node": dest}),
                            Some(i),
                        )
                    }
                }
            }
            4 | 5 => {
                let v = chain - 4;
                let id = VOLUMES[v];
                match op % 3 {
                    0 => {
                        let p = POOLS.iter().copied().find(|p| *p != m.pool[v]).unwrap();
                        m.pool[v] = p.into();
                        (
                            "volume_migrate",
                            json!({"resource_id": id, "migration_type": "migrate", "destination_node": p}),
                            Some(chain),
                        )
                    }
                    1 => {
                        let t = TYPES.iter().copied().find(|t| *t != m.vtype[v]).unwrap();
                        m.vtype[v] = t.into();
                        (
                            "volume_migrate",
                            json!({"resource_id": id, "migration_type": "retype", "destination_type": t}),
                            Some(chain),
                        )
                    }
                    _ => {
                        let p = POOLS.iter().copied().find(|p| *p != m.pool[v]).unwrap();
                        let t = TYPES.iter().copied().find(|t| *t != m.vtype[v]).unwrap();
                        m.pool[v] = p.into();
                        m.vtype[v] = t.into();
                        (
                            "volume_migrate",
                            json!({"resource_id": id, "migration_type": "swap", "destination_node": p, "destination_type": t}),
                            Some(chain),
                        )
                    }
                }
            }
            6 => {
                if op % 2 == 0 {
                    m.spare_enabled = !m.spare_enabled;
                    let state = if m.spare_enabled { "enabled" } else { "disabled" };
                    let mut p = json!({"resource_id": SPARE, "state": state});
                    if !m.spare_enabled && pick % 2 == 0 {
                        p["disabled_reason"] = json!(format!("reason {pick}"));
                    }
                    ("change_nova_service_state", p, Some(6))
                } else if m.spare_on && m.spare_maybe_occupied {
                    // Nova's guard would refuse: a resize may have put a
                    // server there.
                    out.push(("nop".into(), json!({"message": "the spare may hold a server"}), vec![]));
                    continue;
                } else {
                    m.spare_on = !m.spare_on;
                    (
                        "change_node_power_state",
                        json!({"resource_id": SPARE, "state": if m.spare_on { "on" } else { "off" }}),
                        Some(6),
                    )
                }
            }
            7 => ("nop", json!({"message": format!("step {}", out.len())}), None),
            _ => ("sleep", json!({"duration": (pick % 3) as f64}), None),
        };
        let mut parents: Vec<usize> = key.and_then(|k| last[k]).into_iter().collect();
        // A move onto a host waits for the host's last service change.
        parents.extend(host_chain(&params).and_then(|c| last[c]));
        // On Nova a resize lands wherever the scheduler puts it, the spare
        // too: it waits for every host's last service and power change, as
        // in Watcher's weight planner, whose layers order each kind after
        // the one before. (Unordered, a rollback may find the spare's
        // power-off refused by the driver's guard, the resized server
        // still on it: a safe failure, not a restored cloud.)
        // And the spare's changes wait for the resizes before them (its
        // power-off must not catch a resize landing there).
        if m.resize_moves && ty == "resize" {
            parents.extend(last[6..].iter().flatten().copied());
            resizes.push(out.len());
        }
        if m.resize_moves && key == Some(6) {
            parents.extend(resizes.iter().copied());
        }
        if let Some(k) = key {
            last[k] = Some(out.len());
        }
        parents.sort_unstable();
        parents.dedup();
        out.push((ty.to_string(), params, parents));
    }
    // Extra edges from an earlier to a later action keep the DAG acyclic.
    let n = out.len();
    for &(a, b) in extra_edges {
        if n >= 2 {
            let (x, y) = (a % n, b % n);
            let (from, to) = (x.min(y), x.max(y));
            if from != to && !out[to].2.contains(&from) {
                out[to].2.push(from);
            }
        }
    }
    out
}

/// The chain of the host a migration moves onto, if any.
fn host_chain(params: &Value) -> Option<usize> {
    let dest = params.get("destination_node")?.as_str()?;
    HOSTS.iter().position(|h| *h == dest).map(|h| 7 + h)
}

/// Host maintenance, as Watcher 9's `host_maintenance` strategy plans it:
/// disable the host, migrate its instances off (all but the last side by
/// side after the disable, the last after all of them), or, when the host
/// is already disabled, enable it again; the service change waits for
/// everything before it.
fn maintenance(m: &mut Model, out: &mut Vec<Gen>, last: &mut [Option<usize>; 10], op: u8, pick: u8) {
    let h = pick as usize % HOSTS.len();
    let chain = 7 + h;
    // Watcher's weight planner runs its plan in layers: a change of a
    // host's service waits for everything before it (a migration off the
    // host in an unrelated branch would otherwise come back unordered with
    // the service's own undo).
    let mut parents: Vec<usize> = last.iter().flatten().copied().collect();
    parents.sort_unstable();
    parents.dedup();
    if !m.enabled[h] {
        m.enabled[h] = true;
        last[chain] = Some(out.len());
        out.push((
            "change_nova_service_state".into(),
            json!({"resource_id": HOSTS[h], "state": "enabled"}),
            parents,
        ));
        return;
    }
    if m.destinations(HOSTS[h]).is_empty() {
        return;
    }
    m.enabled[h] = false;
    let disable = out.len();
    last[chain] = Some(disable);
    let reason =
        json!({"resource_id": HOSTS[h], "state": "disabled", "disabled_reason": "watcher_maintaining"});
    out.push(("change_nova_service_state".into(), reason, std::mem::take(&mut parents)));
    let on_host: Vec<usize> =
        (0..INSTANCES.len()).filter(|&i| m.placed[i] && m.host[i] == HOSTS[h]).collect();
    let mut moved: Vec<usize> = Vec::new();
    for (n, &i) in on_host.iter().enumerate() {
        let others = m.destinations(HOSTS[h]);
        let dest = others[(op as usize + n) % others.len()];
        let kind = if m.status[i] == "ACTIVE" { "live" } else { "cold" };
        let src = std::mem::replace(&mut m.host[i], dest.to_string());
        // The last one waits for all the others, not for the disable.
        let mut ps: Vec<usize> = if n + 1 == on_host.len() && n > 0 { moved.clone() } else { vec![disable] };
        ps.extend(last[i]);
        ps.extend(last[7 + HOSTS.iter().position(|x| *x == dest).unwrap()]);
        ps.sort_unstable();
        ps.dedup();
        last[i] = Some(out.len());
        moved.push(out.len());
        out.push((
            "migrate".into(),
            json!({"resource_id": INSTANCES[i], "migration_type": kind, "source_node": src, "destination_node": dest}),
            ps,
        ));
    }
}

/// A fresh world: the service as the binary wires it, over a store on
/// tmpfs with the seeded cloud.
pub(crate) struct World {
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) store: Store,
    pub(crate) service: Service,
}

impl World {
    /// The simulated cloud the applier acts on.
    pub(crate) fn cloud(&self) -> &rollback_host::cloud::simulated::Simulated {
        self.service.cloud.as_ref().expect("the simulated cloud is the driver")
    }
}

fn world() -> World {
    let dir = rollback_tests::tmpfs_dir();
    let store = Store::open(dir.path()).unwrap();
    let service = super::in_process::simulated(tokio(), &store, Some(registry())).service;
    World { _dir: dir, store, service }
}

/// Stores `actions` as a plan, starts it and runs it to its end.
pub(crate) fn run(w: &World, actions: &[Gen]) -> Uuid {
    let now = chrono::Utc::now();
    let plan = Uuid::new_v4();
    let uuids: Vec<Uuid> = actions.iter().map(|_| Uuid::new_v4()).collect();
    let records: Vec<(String, Value, Vec<Uuid>, Uuid)> = actions
        .iter()
        .zip(&uuids)
        .map(|((t, p, ps), u)| (t.clone(), p.clone(), ps.iter().map(|&i| uuids[i]).collect(), *u))
        .collect();
    w.store
        .write(move |txn| {
            txn.insert_plan(ActionPlan {
                id: txn.next_id()?,
                ..ActionPlan::new(plan, "generated", PlanState::Recommended, now)
            })?;
            for (t, p, parents, u) in records.clone() {
                txn.insert_action(Action {
                    id: txn.next_id()?,
                    ..Action::new(u, plan, t, p.as_object().unwrap().clone(), parents, now)
                })?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    tokio().block_on(w.service.plans.start(plan)).unwrap();
    wait_for_end(w, plan);
    plan
}

pub(crate) fn wait_for_end(w: &World, plan: Uuid) {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let p = w.store.plan(plan).unwrap().unwrap();
        if matches!(p.state, PlanState::Succeeded | PlanState::Failed | PlanState::Cancelled) {
            return;
        }
        assert!(Instant::now() < until, "plan {plan} did not finish: {:?}", p.state);
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Plans the rollback of `plan` (auto-started) and runs it.
pub(crate) fn roll_back(w: &World, plan: Uuid) -> Uuid {
    let planned = tokio()
        .block_on(w.service.plans.rollback(plan, Options { auto_start: true, ..Options::default() }))
        .unwrap();
    wait_for_end(w, planned.plan.uuid);
    planned.plan.uuid
}

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(1000), ..ProptestConfig::default() })]

    #[test]
    fn rolling_back_restores_the_cloud((choices, edges) in steps()) {
        let w = world();
        let start = w.cloud().get().unwrap();
        let actions = generate(&start, &choices, &edges);
        let plan = run(&w, &actions);
        let executed = w.store.actions_of(plan).unwrap();
        for a in &executed {
            prop_assert_eq!(a.state, ActionState::Succeeded, "{} {:?}: {:?}", a.action_type, a.input_parameters, a.status_message);
        }
        let rb = roll_back(&w, plan);
        for a in w.store.actions_of(rb).unwrap() {
            prop_assert_eq!(a.state, ActionState::Succeeded, "rollback {} {:?}: {:?}", a.action_type, a.input_parameters, a.status_message);
        }
        prop_assert_eq!(w.cloud().get().unwrap(), start);
    }
}

/// One kind of drift, applied to the cloud document.
fn drift(cloud: &mut Value, kind: u8, pick: u8) -> String {
    let i = INSTANCES[pick as usize % 4];
    match kind % 4 {
        0 => {
            cloud["instances"].as_object_mut().unwrap().remove(i);
            format!("instance {i} deleted")
        }
        1 if cloud["instances"].get(i).is_none() => format!("instance {i} already gone"),
        1 => {
            let h = cloud["instances"][i]["host"].as_str().unwrap().to_string();
            let other = HOSTS.iter().find(|x| **x != h).unwrap();
            cloud["instances"][i]["host"] = json!(other);
            format!("instance {i} moved to {other}")
        }
        2 => {
            let h = HOSTS[pick as usize % 3];
            cloud["compute_services"][h] = json!({"state": "disabled", "disabled_reason": "drift"});
            format!("host {h} disabled")
        }
        _ => {
            cloud["nodes"][SPARE]["power"] = json!("off");
            format!("node {SPARE} powered off")
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(250), ..ProptestConfig::default() })]

    #[test]
    fn a_rollback_never_acts_on_a_drifted_resource((choices, edges) in steps(), kinds in prop::collection::vec((any::<u8>(), any::<u8>()), 1..3)) {
        let w = world();
        let start = w.cloud().get().unwrap();
        let plan = run(&w, &generate(&start, &choices, &edges));
        let mut c = w.cloud().get().unwrap();
        let what: Vec<String> = kinds.iter().map(|&(k, p)| drift(&mut c, k, p)).collect();
        w.cloud().put(c).unwrap();
        let rb = roll_back(&w, plan);
        let p = w.store.plan(rb).unwrap().unwrap();
        prop_assert!(matches!(p.state, PlanState::Succeeded | PlanState::Failed), "{:?} after {:?}", p.state, what);
        for a in w.store.actions_of(rb).unwrap() {
            match a.state {
                ActionState::Succeeded => {
                    // It acted: what it found must be what the original left.
                    let (Some(expected), Some(found)) = (a.expected_state.as_ref(), a.pre_state.as_ref()) else { continue };
                    for (k, v) in expected.as_object().unwrap() {
                        prop_assert_eq!(found.get(k), Some(v), "{} acted on a drifted resource ({:?})", a.action_type, what);
                    }
                }
                ActionState::Skipped | ActionState::Failed | ActionState::Cancelled => {
                    prop_assert!(a.status_message.as_deref().is_some_and(|m| !m.is_empty()), "{} {:?} without a reason", a.action_type, a.state);
                }
                other => prop_assert!(false, "rollback action left {:?}", other),
            }
        }
        // Only descendants of a real failure are cancelled: the rest ran.
        let actions = w.store.actions_of(rb).unwrap();
        for a in actions.iter().filter(|a| a.state == ActionState::Cancelled) {
            let failed_parent = a.parents.iter().any(|p| {
                actions.iter().any(|x| x.uuid == *p && matches!(x.state, ActionState::Failed | ActionState::Cancelled))
            });
            prop_assert!(failed_parent, "{} was cancelled without a failed parent ({:?})", a.action_type, what);
        }
        // Volumes are never drifted: each comes back unless a failure elsewhere blocked its rollback.
        let now = w.cloud().get().unwrap();
        for v in VOLUMES {
            let mine: Vec<&Action> = actions.iter().filter(|a| a.input_parameters["resource_id"] == v).collect();
            if mine.iter().all(|a| a.state == ActionState::Succeeded) {
                prop_assert_eq!(&now["volumes"][v], &start["volumes"][v], "volume {} after {:?}", v, what);
            }
        }
    }
}
