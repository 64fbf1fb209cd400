//! TEST ONLY. A plugin shaped like one built against contract 0.1.0: it
//! targets the `plugin-core` world, so it exports `inverter` and no
//! `batch-inverter`. The host must still load it and call `invert` once per
//! action. Each action inverts to one `nop` whose message names the action,
//! so a test can see every action was inverted on its own.

// Natively (unit-test builds) nothing exports the type.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

wit_bindgen::generate!({
    path: "../../../wit",
    world: "plugin-core",
});

use exports::watcher::rollback::inverter::{
    ExecutedAction, Guest, InverseAction, InvertError, PluginMetadata,
};

struct CoreOnly;

impl Guest for CoreOnly {
    fn metadata() -> PluginMetadata {
        PluginMetadata {
            action_type: "test_core_only".into(),
            plugin_version: "0.0.0".into(),
            description: "TEST ONLY: exports invert and no invert-batch".into(),
            parameters_schema: r#"{"type":"object"}"#.into(),
        }
    }

    fn invert(action: ExecutedAction) -> Result<Vec<InverseAction>, InvertError> {
        Ok(vec![InverseAction {
            action_type: "nop".into(),
            input_parameters: format!(r#"{{"message":"undo {}"}}"#, action.action_uuid),
            depends_on: vec![],
            description: String::new(),
            expected_state: "{}".into(),
            before_dependents: false,
        }])
    }
}

#[cfg(target_arch = "wasm32")]
export!(CoreOnly);
