//! Human tables for the CLI (comfy-table), one row per item.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
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

/// What an action acts on (the same rule as the graph's).
pub fn target(action: &Value) -> String {
    let p = &action["input_parameters"];
    ["resource_name", "resource_id", "host", "node", "uuid"]
        .iter()
        .find_map(|k| p[*k].as_str())
        .unwrap_or("")
        .to_string()
}
