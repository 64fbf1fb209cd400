//! Plans the tests share, in Watcher's JSON, over the simulated cloud's
//! built-in seed (the instances, volume and hosts below are in it).

use serde_json::{json, Value};

/// An instance on compute-1 in the built-in seed.
pub const WEB1: &str = "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a01";
/// Another instance on compute-1.
pub const WEB2: &str = "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a02";
/// A database instance.
pub const DB1: &str = "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a03";
/// A volume.
pub const VOL: &str = "8a2b3c4d-1111-4a22-9b33-5c6d7e8f9a01";

/// One action of a plan.
pub fn act(ty: &str, params: Value, parents: &[usize]) -> Value {
    json!({"action_type": ty, "input_parameters": params, "parents": parents})
}

/// Watcher's host-maintenance shape and then some.
pub fn maintenance() -> Vec<Value> {
    vec![
        act(
            "change_nova_service_state",
            json!({"resource_id": "compute-1", "state": "disabled", "disabled_reason": "maintenance"}),
            &[],
        ),
        act(
            "migrate",
            json!({"resource_id": WEB1, "migration_type": "live", "source_node": "compute-1", "destination_node": null}),
            &[0],
        ),
        act(
            "migrate",
            json!({"resource_id": WEB2, "migration_type": "live", "source_node": "compute-1", "destination_node": "compute-3"}),
            &[0],
        ),
        act("change_node_power_state", json!({"resource_id": "compute-1", "state": "off"}), &[1, 2]),
        act(
            "volume_migrate",
            json!({"resource_id": VOL, "migration_type": "migrate", "destination_node": "storage-1@lvm#pool-b"}),
            &[],
        ),
        act("resize", json!({"resource_id": DB1, "flavor": "m1.small"}), &[]),
        act("stop", json!({"resource_id": DB1}), &[5]),
        act("nop", json!({"message": "done"}), &[3]),
        act("sleep", json!({"duration": 1}), &[]),
    ]
}

/// Host maintenance in four actions: disable, two migrations, power off.
pub fn maintenance4() -> Value {
    json!({"actions": [
        {"action_type": "change_nova_service_state", "input_parameters": {"resource_id": "compute-1", "state": "disabled", "disabled_reason": "maintenance"}, "parents": []},
        {"action_type": "migrate", "input_parameters": {"resource_id": WEB1, "migration_type": "live", "source_node": "compute-1", "destination_node": null}, "parents": [0]},
        {"action_type": "migrate", "input_parameters": {"resource_id": WEB2, "migration_type": "live", "source_node": "compute-1", "destination_node": "compute-3"}, "parents": [0]},
        {"action_type": "change_node_power_state", "input_parameters": {"resource_id": "compute-1", "state": "off"}, "parents": [1, 2]}
    ]})
}
