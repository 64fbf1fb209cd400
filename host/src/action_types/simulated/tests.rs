//! Every action type against the default seed: what it records, and each
//! pre-condition path (SKIPPED / FAILED) with its message.

use super::*;
use serde_json::Map;

type Params = Map<String, Value>;

/// `super::prepare` on the typed parameters of `ty`.
fn prepare(cloud: &Cloud, ty: &str, p: &Params) -> Prepared {
    super::prepare(cloud, &Operation::parse(ty, p).unwrap())
}

/// `super::apply` on the typed parameters of `ty`.
fn apply(cloud: &mut Cloud, ty: &str, p: &Params, pre_state: &Value) -> Result<Value, String> {
    super::apply(cloud, &Operation::parse(ty, p).unwrap(), pre_state)
}

const WEB1: &str = "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a01";
const BATCH1: &str = "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a04";
const VOL: &str = "8a2b3c4d-1111-4a22-9b33-5c6d7e8f9a01";

fn seed() -> Cloud {
    serde_json::from_str(DEFAULT_SEED).unwrap()
}

fn params(v: Value) -> Params {
    v.as_object().unwrap().clone()
}

/// Prepares and applies, returning (pre_state, result).
fn execute(cloud: &mut Cloud, ty: &str, p: Value) -> (Value, Value) {
    let p = params(p);
    let pre = match prepare(cloud, ty, &p) {
        Prepared::Run { pre_state, .. } => pre_state,
        other => panic!("{ty} did not run: {other:?}"),
    };
    let result = apply(cloud, ty, &p, &pre).unwrap();
    (pre, result)
}

fn reason(p: Prepared) -> String {
    match p {
        Prepared::Skip { reason, .. } => format!("SKIP {reason}"),
        Prepared::Fail { reason, .. } => format!("FAIL {reason}"),
        Prepared::Run { .. } => "RUN".into(),
    }
}

#[test]
fn migrate_to_a_named_host_records_source_and_destination() {
    let mut c = seed();
    let (pre, res) = execute(
        &mut c,
        "migrate",
        json!({"resource_id": WEB1, "migration_type": "live", "source_node": "compute-1", "destination_node": "compute-2"}),
    );
    assert_eq!(pre, json!({"host": "compute-1"}));
    assert_eq!(res, json!({"host": "compute-2"}));
    assert_eq!(c.instances[WEB1].host, "compute-2");
}

#[test]
fn migrate_without_destination_records_the_scheduler_pick() {
    let mut c = seed();
    let (_, res) = execute(
        &mut c,
        "migrate",
        json!({"resource_id": WEB1, "migration_type": "cold", "source_node": "compute-1", "destination_node": null}),
    );
    // compute-4 is disabled; compute-2 and compute-3 hold one instance each: the first by name wins.
    assert_eq!(res["host"], "compute-2");
    assert_eq!(c.instances[WEB1].host, "compute-2");
}

#[test]
fn migrate_preconditions() {
    let c = seed();
    let p = |v: Value| reason(prepare(&c, "migrate", &params(v)));
    let gone = "00000000-0000-4000-8000-000000000000";
    assert!(p(json!({"resource_id": gone, "migration_type": "live", "source_node": "compute-1"}))
        .starts_with("SKIP Instance"));
    assert!(p(json!({"resource_id": WEB1, "migration_type": "live", "source_node": "compute-3"})).contains(
        "SKIP Instance 6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a01 is on compute-1, not on source_node compute-3"
    ));
    assert_eq!(
        p(
            json!({"resource_id": WEB1, "migration_type": "live", "source_node": "compute-1", "destination_node": "compute-9"})
        ),
        "FAIL Destination host compute-9 not found."
    );
    assert_eq!(
        p(
            json!({"resource_id": WEB1, "migration_type": "live", "source_node": "compute-1", "destination_node": "compute-4"})
        ),
        "FAIL Destination host compute-4 is disabled."
    );
    assert!(p(json!({"resource_id": BATCH1, "migration_type": "live", "source_node": "compute-3", "destination_node": "compute-1"})).starts_with("FAIL Live migration needs an ACTIVE instance"));
    let mut lonely = seed();
    for s in lonely.compute_services.values_mut() {
        s.state = ServiceState::Disabled;
    }
    let r = reason(prepare(
        &lonely,
        "migrate",
        &params(json!({"resource_id": WEB1, "migration_type": "cold", "source_node": "compute-1"})),
    ));
    assert!(r.starts_with("FAIL No valid host"), "{r}");
}

#[test]
fn service_state_records_the_previous_state_and_reason() {
    let mut c = seed();
    let (pre, res) = execute(
        &mut c,
        "change_nova_service_state",
        json!({"resource_id": "compute-1", "state": "disabled", "disabled_reason": "maintenance"}),
    );
    assert_eq!(pre, json!({"state": "enabled", "disabled_reason": null}));
    assert_eq!(res, json!({"state": "disabled", "disabled_reason": "maintenance"}));
    let (pre, res) =
        execute(&mut c, "change_nova_service_state", json!({"resource_id": "compute-4", "state": "enabled"}));
    assert_eq!(pre, json!({"state": "disabled", "disabled_reason": "spare"}));
    assert_eq!(res, json!({"state": "enabled", "disabled_reason": null}));
    assert_eq!(
        reason(prepare(
            &c,
            "change_nova_service_state",
            &params(json!({"resource_id": "x", "state": "enabled"}))
        )),
        "FAIL Compute service on host x not found."
    );
}

#[test]
fn node_power_refuses_to_cut_a_busy_node() {
    let mut c = seed();
    let r = reason(prepare(
        &c,
        "change_node_power_state",
        &params(json!({"resource_id": "compute-1", "state": "off"})),
    ));
    assert!(r.starts_with("FAIL Node compute-1 still hosts 2 ACTIVE instance(s)"), "{r}");
    let (pre, res) =
        execute(&mut c, "change_node_power_state", json!({"resource_id": "compute-4", "state": "on"}));
    assert_eq!((pre, res), (json!({"power": "off"}), json!({"power": "on"})));
    assert_eq!(
        reason(prepare(&c, "change_node_power_state", &params(json!({"resource_id": "n9", "state": "on"})))),
        "FAIL Node n9 not found."
    );
}

#[test]
fn resize_records_the_old_flavor() {
    let mut c = seed();
    let (pre, res) = execute(&mut c, "resize", json!({"resource_id": WEB1, "flavor": "m1.large"}));
    assert_eq!(pre["flavor"], "m1.small");
    assert_eq!(res["flavor"], "m1.large");
    assert_eq!(
        reason(prepare(&c, "resize", &params(json!({"resource_id": WEB1, "flavor": "m9"})))),
        "FAIL Flavor m9 not found."
    );
}

#[test]
fn volume_migrate_records_pool_and_type() {
    let mut c = seed();
    let (pre, res) = execute(
        &mut c,
        "volume_migrate",
        json!({"resource_id": VOL, "migration_type": "migrate", "destination_node": "storage-1@lvm#pool-b"}),
    );
    assert_eq!(pre, json!({"pool": "storage-1@lvm#pool-a", "type": "ssd"}));
    assert_eq!(res, json!({"pool": "storage-1@lvm#pool-b", "type": "ssd"}));
    let (_, res) = execute(
        &mut c,
        "volume_migrate",
        json!({"resource_id": VOL, "migration_type": "retype", "destination_type": "standard"}),
    );
    assert_eq!(res["type"], "standard");
    let r = reason(prepare(
        &c,
        "volume_migrate",
        &params(json!({"resource_id": VOL, "migration_type": "migrate", "destination_node": "nowhere"})),
    ));
    assert_eq!(r, "FAIL Destination pool nowhere not found.");
    let r = reason(prepare(
        &c,
        "volume_migrate",
        &params(json!({"resource_id": VOL, "migration_type": "retype"})),
    ));
    assert!(r.contains("needs a destination"), "{r}");
}

#[test]
fn stop_skips_a_stopped_instance_and_start_restarts_it() {
    let mut c = seed();
    assert_eq!(
        reason(prepare(&c, "stop", &params(json!({"resource_id": BATCH1})))),
        format!("SKIP Instance {BATCH1} is already SHUTOFF.")
    );
    let (pre, res) = execute(&mut c, "stop", json!({"resource_id": WEB1}));
    assert_eq!((pre["status"].clone(), res["status"].clone()), (json!("ACTIVE"), json!("SHUTOFF")));
    let (_, res) = execute(&mut c, "start", json!({"resource_id": WEB1}));
    assert_eq!(res["status"], "ACTIVE");
}

#[test]
fn nop_sleep_and_unknown_types_change_nothing() {
    let mut c = seed();
    let before = c.clone();
    assert_eq!(execute(&mut c, "nop", json!({"message": "hi"})).1, json!({"message": "hi"}));
    execute(&mut c, "sleep", json!({"duration": 1}));
    match prepare(&c, "snapshot_instance", &params(json!({}))) {
        Prepared::Run { note: Some(n), .. } => assert!(n.contains("no executor"), "{n}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(c, before);
}

#[test]
fn apply_refuses_when_the_cloud_drifted_since_prepare() {
    let mut c = seed();
    let p = params(
        json!({"resource_id": WEB1, "migration_type": "live", "source_node": "compute-1", "destination_node": "compute-2"}),
    );
    let Prepared::Run { pre_state, .. } = prepare(&c, "migrate", &p) else { panic!() };
    c.instances.get_mut(WEB1).unwrap().host = "compute-3".into();
    let err = apply(&mut c, "migrate", &p, &pre_state).unwrap_err();
    assert!(err.starts_with("the cloud changed since the action was prepared"), "{err}");
    assert_eq!(c.instances[WEB1].host, "compute-3", "nothing was moved");
}

#[test]
fn a_change_whose_resource_vanished_is_an_error_not_a_panic() {
    let mut c = seed();
    c.instances.remove(WEB1);
    let err = make(&mut c, Change::Host { instance: WEB1.into(), to: "compute-2".into() }).unwrap_err();
    assert!(err.contains("vanished"), "{err}");
    let err = make(&mut c, Change::Power { node: "n9".into(), power: PowerState::On }).unwrap_err();
    assert!(err.contains("n9"), "{err}");
}
