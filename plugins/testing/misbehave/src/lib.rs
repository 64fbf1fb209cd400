//! TEST ONLY. A plugin that breaks the contract in the way its input's
//! `mode` parameter asks, to prove the host reports each case and survives.
//! It implements the raw bindings, not the SDK trait, so that it can return
//! output the SDK would never produce.

// Natively (unit-test builds) nothing exports the type.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

#[cfg(target_arch = "wasm32")]
use rollback_plugin_sdk::bindings::__export_plugin_world;
use rollback_plugin_sdk::bindings::exports::watcher::rollback::batch_inverter::Guest as BatchGuest;
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
        } else if mode("fine") {
            Ok(vec![inverse(r#"{"message":"fine"}"#, vec![])])
        } else if mode("batch_trap") || mode("batch_short") {
            // Well-behaved alone (see `invert_batch`).
            Ok(vec![inverse(r#"{"message":"inverted alone"}"#, vec![])])
        } else {
            Err(InvertError::NotInvertible(format!("unknown mode in {p}")))
        }
    }
}

impl BatchGuest for Misbehave {
    /// Each action's `invert`, except in the batch-only modes, which break
    /// only the batch so that the host must fall back to single calls:
    /// `batch_trap` panics, `batch_short` answers one result too few.
    fn invert_batch(actions: Vec<ExecutedAction>) -> Vec<Result<Vec<InverseAction>, InvertError>> {
        let any = |m: &str| actions.iter().any(|a| a.input_parameters.contains(&format!("\"mode\":\"{m}\"")));
        if any("batch_trap") {
            panic!("misbehave was asked to trap in a batch");
        }
        let short = any("batch_short");
        let mut out: Vec<_> = actions.into_iter().map(Misbehave::invert).collect();
        if short {
            out.pop();
        }
        out
    }
}

#[cfg(target_arch = "wasm32")]
__export_plugin_world!(Misbehave with_types_in rollback_plugin_sdk::bindings);
