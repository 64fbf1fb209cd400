//! Inverter for Watcher's `change_nova_service_state`: restore the state
//! and disabled reason recorded before the action. A service that was
//! already in the requested state is left alone.

use rollback_plugin_sdk::{export_inverter, json, Error, Executed, Inverse, Inverter, Metadata};

/// The `change_nova_service_state` inverter.
pub struct ChangeNovaServiceState;

impl Inverter for ChangeNovaServiceState {
    fn metadata() -> Metadata {
        Metadata::new(
            "change_nova_service_state",
            env!("CARGO_PKG_VERSION"),
            "Restores the compute service's recorded state and disabled reason.",
            json!({
                "type": "object",
                "properties": {
                    "resource_id": {"type": "string", "minLength": 1},
                    "resource_name": {"type": "string"},
                    "state": {"type": "string", "enum": ["enabled", "disabled"]},
                    "disabled_reason": {"type": "string"}
                },
                "required": ["resource_id", "state"],
                "additionalProperties": false
            }),
        )
    }

    fn invert(action: &Executed) -> Result<Vec<Inverse>, Error> {
        let id = action.param_str("resource_id")?;
        let was = action.pre_str("state")?;
        let was_reason = action.pre_opt_str("disabled_reason")?;
        let now = action.res_str("state")?;
        let now_reason = action.res_opt_str("disabled_reason")?;
        if (was, was_reason) == (now, now_reason) {
            return Ok(vec![]);
        }
        let mut params = json!({"resource_id": id, "state": was});
        if let (Some(reason), "disabled") = (was_reason, was) {
            params["disabled_reason"] = json!(reason);
        }
        let inverse = Inverse::new("change_nova_service_state", params)
            .expecting(&action.result)
            .describe(format!("Set the compute service on {id} back to {was}"));
        // Re-enabling restores capacity that moving instances back needs.
        Ok(vec![if was == "enabled" { inverse.before_dependents() } else { inverse }])
    }
}

export_inverter!(ChangeNovaServiceState);

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pre: rollback_plugin_sdk::Value, res: rollback_plugin_sdk::Value) -> Vec<Inverse> {
        let a = Executed::new(
            "change_nova_service_state",
            json!({"resource_id": "c1", "state": "disabled"}),
            pre,
            res,
        )
        .unwrap();
        ChangeNovaServiceState::invert(&a).unwrap()
    }

    #[test]
    fn restores_enabled() {
        let inv = run(
            json!({"state": "enabled", "disabled_reason": null}),
            json!({"state": "disabled", "disabled_reason": "maint"}),
        );
        assert_eq!(inv[0].parameters, *json!({"resource_id": "c1", "state": "enabled"}).as_object().unwrap());
        assert!(inv[0].before_dependents, "re-enabling runs before instances move back");
    }

    #[test]
    fn restores_disabled_with_its_old_reason() {
        let inv = run(
            json!({"state": "disabled", "disabled_reason": "spare"}),
            json!({"state": "enabled", "disabled_reason": null}),
        );
        assert_eq!(
            inv[0].parameters,
            *json!({"resource_id": "c1", "state": "disabled", "disabled_reason": "spare"})
                .as_object()
                .unwrap()
        );
    }

    #[test]
    fn a_service_that_was_already_disabled_is_not_enabled() {
        let same = json!({"state": "disabled", "disabled_reason": "maint"});
        assert!(run(same.clone(), same).is_empty());
    }
}
