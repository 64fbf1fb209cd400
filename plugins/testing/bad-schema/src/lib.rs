//! TEST ONLY. A plugin whose parameters schema is JSON but not a valid JSON
//! Schema (`"type": "no-such-type"`): the host must refuse it at load,
//! saying why, rather than fail later when a plan is validated.

use rollback_plugin_sdk::{export_inverter, json, Error, Executed, Inverse, Inverter, Metadata};

/// Declares a schema no validator can compile.
pub struct BadSchema;

impl Inverter for BadSchema {
    fn metadata() -> Metadata {
        Metadata::new(
            "test_bad_schema",
            "0.0.0",
            "TEST ONLY: declares an invalid JSON Schema",
            json!({"type": "no-such-type"}),
        )
    }

    fn invert(_action: &Executed) -> Result<Vec<Inverse>, Error> {
        Ok(Vec::new())
    }
}

export_inverter!(BadSchema);
