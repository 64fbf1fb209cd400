//! TEST ONLY. A plugin that breaks the contract in the way its input's
//! `mode` parameter asks, to prove the host reports each case and survives.
//! It implements the raw bindings, not the SDK trait, so that it can return
//! output the SDK would never produce.

// Natively (unit-test builds) nothing exports the type.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

#[cfg(target_arch = "wasm32")]
use rollback_plugin_sdk::bindings::__export_plugin_world;
use rollback_plugin_sdk::bindings::exports::watcher::rollback::inverter::{
    ExecutedAction, Guest, InverseAction, InvertError, PluginMetadata,
};
use rollback_plugin_sdk::bindings::watcher::rollback::log::{log, Level};

struct Misbehave;

fn inverse(params: &str, depends_on: Vec<u32>) -> InverseAction {
    InverseAction {
        action_type: "nop".into(),
        input_parameters: params.into(),
        depends_on,
        description: String::new(),
        expected_state: "{}".into(),
        before_dependents: false,
    }
}

impl Guest for Misbehave {
    fn metadata() -> PluginMetadata {
        PluginMetadata {
            action_type: "test_misbehave".into(),
            plugin_version: "0.0.0".into(),
            description: "TEST ONLY: breaks the contract on request".into(),
            parameters_schema: r#"{"type":"object"}"#.into(),
        }
    }

    fn invert(action: ExecutedAction) -> Result<Vec<InverseAction>, InvertError> {
        // Crude on purpose: no JSON parser, the mode is found by substring.
        let p = action.input_parameters;
        let mode = |m: &str| p.contains(&format!("\"mode\":\"{m}\""));
        if mode("panic") {
            std::panic::set_hook(Box::new(|info| log(Level::Error, &format!("panic: {info}"))));
            panic!("misbehave was asked to panic");
        } else if mode("bad_json") {
            Ok(vec![inverse("{not json", vec![])])
        } else if mode("forward_dependency") {
            Ok(vec![inverse("{}", vec![1]), inverse("{}", vec![])])
        } else if mode("too_many") {
            Ok((0..1001).map(|_| inverse("{}", vec![])).collect())
        } else if mode("log_spam") {
            for i in 0..10_000 {
                log(Level::Info, &format!("line {i}"));
            }
            Ok(vec![])
        } else if mode("huge_log_line") {
            log(Level::Warn, &"x".repeat(1 << 20));
            Ok(vec![])
        } else if mode("deep_recursion") {
            fn down(n: u64) -> u64 {
                if n == 0 {
                    0
                } else {
                    1 + down(std::hint::black_box(n - 1))
                }
            }
            Ok(vec![inverse(&format!("{{\"depth\":{}}}", down(u64::MAX)), vec![])])
        } else {
            Err(InvertError::NotInvertible(format!("unknown mode in {p}")))
        }
    }
}

#[cfg(target_arch = "wasm32")]
__export_plugin_world!(Misbehave with_types_in rollback_plugin_sdk::bindings);
