//! Human tables for the CLI (comfy-table), one row per item.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use rollback_host::api::views::ActionView;
use serde_json::Value;

/// A table with `header`, sized to the terminal.
pub fn new(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header);
    t
}

/// A field as table text: strings bare, null as empty, the rest as JSON.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A `Field | Value` table of an object's fields, in `order` first.
pub fn fields(obj: &Value, order: &[&str]) -> Table {
    let mut t = new(&["Field", "Value"]);
    for k in order {
        if let Some(v) = obj.get(*k) {
            t.add_row(vec![k.to_string(), cell(v)]);
        }
    }
    t
}

/// The first 8 characters of a uuid, as tables and progress lines show it.
pub fn short(uuid: &str) -> &str {
    uuid.get(..8).unwrap_or(uuid)
}

/// What an action acts on (the graph's rule, `graph::target_of`).
pub fn target(action: &ActionView) -> String {
    action.input_parameters.as_ref().map(rollback_host::graph::target_of).unwrap_or("").to_string()
}

/// One row per action: uuid, type, target, state, parents (short), message.
pub fn actions(actions: &[ActionView]) -> Table {
    let mut t = new(&["UUID", "Type", "Target", "State", "Parents", "Message"]);
    for a in actions {
        let parents: Vec<String> = a.parents.iter().map(|p| short(&p.to_string()).to_string()).collect();
        t.add_row(vec![
            a.uuid.to_string(),
            a.action_type.clone(),
            target(a),
            a.state.clone(),
            parents.join(" "),
            a.status_message.clone().flatten().unwrap_or_default(),
        ]);
    }
    t
}
