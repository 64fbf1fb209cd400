//! `rollback-host plugin ...`: offline work on plugin components.

use anyhow::Context;

/// `println!` that does not panic when stdout is closed (`... | head`).
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}
use rollback_host::plugins::{Executed, Limits, LoadedPlugin, Runtime};
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum PluginCommand {
    /// Load a component exactly as the server would and print its metadata,
    /// or the precise reason it would be refused (exit code 1).
    Check {
        /// The component file.
        file: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        limits: Limits,
    },
    /// Run a component's `invert` offline on one executed action and print
    /// the inverse actions as JSON (exit code 1 when the plugin fails).
    Invert {
        /// The component file.
        file: PathBuf,
        /// JSON file (or `-` for stdin) holding `input_parameters`,
        /// `pre_state` and `result`, and optionally `uuid` and `action_type`.
        #[arg(long, default_value = "-")]
        action: PathBuf,
        #[command(flatten)]
        limits: Limits,
    },
}

pub fn run(cmd: PluginCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PluginCommand::Check { file, json, limits } => check(file, json, limits),
        PluginCommand::Invert { file, action, limits } => invert(file, action, limits),
    }
}

/// Reads and loads a component, printing the refusal when there is one.
fn load(file: &PathBuf, limits: Limits) -> anyhow::Result<Result<LoadedPlugin, String>> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let runtime = Runtime::new(limits).context("starting the plugin runtime")?;
    Ok(runtime.load(&bytes, &file.display().to_string()).map_err(|e| e.to_string()))
}

fn invert(file: PathBuf, action: PathBuf, limits: Limits) -> anyhow::Result<ExitCode> {
    let text = if action.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading the action from stdin")?
    } else {
        std::fs::read_to_string(&action).with_context(|| format!("reading {}", action.display()))?
    };
    let input: Value = serde_json::from_str(&text).context("the action is not JSON")?;
    let plugin = match load(&file, limits)? {
        Ok(p) => p,
        Err(e) => {
            eprintln!("refused: {}: {e}", file.display());
            return Ok(ExitCode::FAILURE);
        }
    };
    let empty = Value::Object(Default::default());
    let field = |k: &str| input.get(k).unwrap_or(&empty);
    let action_type =
        input.get("action_type").and_then(Value::as_str).unwrap_or(&plugin.metadata().action_type);
    let executed = Executed {
        action_uuid: input
            .get("uuid")
            .and_then(Value::as_str)
            .unwrap_or("00000000-0000-0000-0000-000000000000"),
        action_type,
        input_parameters: field("input_parameters"),
        pre_state: field("pre_state"),
        result: field("result"),
    };
    match plugin.invert(executed) {
        Ok(list) => {
            out!("{:#}", serde_json::to_value(&list)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn check(file: PathBuf, json: bool, limits: Limits) -> anyhow::Result<ExitCode> {
    let plugin = match load(&file, limits)? {
        Ok(p) => p,
        Err(e) => {
            if json {
                let report = serde_json::json!({"ok": false, "file": file, "error": e});
                out!("{report:#}");
            } else {
                eprintln!("refused: {}: {e}", file.display());
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let m = plugin.metadata();
    if json {
        let report = serde_json::json!({
            "ok": true,
            "file": file,
            "action_type": m.action_type,
            "plugin_version": m.plugin_version,
            "description": m.description,
            "contract_version": plugin.contract_version(),
            "sha256": plugin.sha256(),
            "size": plugin.size(),
            "parameters_schema": m.parameters_schema,
        });
        out!("{report:#}");
    } else {
        out!("ok: {}", file.display());
        out!("action type:       {}", m.action_type);
        out!("plugin version:    {}", m.plugin_version);
        out!("description:       {}", m.description);
        out!("contract:          watcher:rollback@{}", plugin.contract_version());
        out!("sha256:            {}", plugin.sha256());
        out!("size:              {} bytes", plugin.size());
        out!("parameters schema: {:#}", m.parameters_schema);
    }
    Ok(ExitCode::SUCCESS)
}
