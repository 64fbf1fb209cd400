//! `rollback-host plugin ...`: offline work on plugin components (`check`,
//! `invert`), new projects (`new`, `wit`: see `plugin_new`) and the
//! service's plugins over the API (`list`, `add`, `remove`).

use super::client::{print_json, table, Client, ClientError, Connection};
use anyhow::Context;
use rollback_host::plugins::{
    compile_worker_main, Compile, Compiler, Executed, Limits, LoadedPlugin, Runtime,
};
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
    /// List the service's active plugins.
    List {
        #[command(flatten)]
        conn: Connection,
    },
    /// Upload a component to the service (it is checked there as at start).
    Add {
        /// The component file.
        file: PathBuf,
        /// Its action type (default: the file name without `.wasm`).
        #[arg(long = "type")]
        action_type: Option<String>,
        #[command(flatten)]
        conn: Connection,
    },
    /// Remove an uploaded plugin from the service.
    Remove {
        /// The action type.
        action_type: String,
        #[command(flatten)]
        conn: Connection,
    },
    /// Write a standalone inverter project for a new action type, outside
    /// this repository: the SDK, an inverter that refuses until written,
    /// a native test and the build command.
    New {
        /// The action type the inverter undoes.
        name: String,
        /// The language.
        #[arg(long, value_enum)]
        lang: super::plugin_new::Lang,
        /// Where (default: ./NAME). Existing files are kept.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Write the SDK's own files again (never the inverter or its test).
        #[arg(long)]
        force: bool,
    },
    /// Internal: compile a component read on stdin within bounds and write
    /// its artifact on stdout (the service and `plugin check` start this;
    /// see `--plugin-compile-timeout-ms` and `--plugin-compile-memory-mib`).
    #[command(hide = true)]
    CompileWorker {
        #[arg(long, value_enum)]
        compiler: Compiler,
        #[arg(long)]
        parallel: bool,
        #[arg(long)]
        memory_mib: usize,
        #[arg(long)]
        cpu_seconds: u64,
    },
    /// Print the plugin contract (WIT) this binary speaks, or write it to a
    /// file or directory.
    Wit {
        /// A file, or a directory to write `rollback.wit` into.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub fn run(cmd: PluginCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PluginCommand::Check { file, json, limits } => check(file, json, limits),
        PluginCommand::Invert { file, action, limits } => invert(file, action, limits),
        PluginCommand::List { conn } => Ok(super::remote(list(&conn))),
        PluginCommand::Add { file, action_type, conn } => Ok(super::remote(add(&conn, &file, action_type))),
        PluginCommand::Remove { action_type, conn } => Ok(super::remote(remove(&conn, &action_type))),
        PluginCommand::New { name, lang, dir, force } => super::plugin_new::new(&name, lang, dir, force),
        PluginCommand::Wit { out } => super::plugin_new::wit(out),
        PluginCommand::CompileWorker { compiler, parallel, memory_mib, cpu_seconds } => {
            let code = compile_worker_main(compiler, parallel, memory_mib, cpu_seconds);
            Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
        }
    }
}

fn list(conn: &Connection) -> Result<ExitCode, ClientError> {
    let c = Client::connect(conn)?;
    let answer = c.get("/v1/plugins")?;
    if c.json {
        print_json(&answer);
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = table::new(&["Action type", "Version", "SHA-256", "Source", "Description"]);
    for p in answer["plugins"].as_array().into_iter().flatten() {
        t.add_row(vec![
            table::cell(&p["action_type"]),
            table::cell(&p["plugin_version"]),
            p["sha256"].as_str().unwrap_or("").chars().take(12).collect(),
            table::cell(&p["source"]["kind"]),
            table::cell(&p["description"]),
        ]);
    }
    out!("{t}");
    Ok(ExitCode::SUCCESS)
}

fn add(
    conn: &Connection,
    file: &std::path::Path,
    action_type: Option<String>,
) -> Result<ExitCode, ClientError> {
    let ty = match action_type {
        Some(t) => t,
        None => file.file_stem().and_then(|s| s.to_str()).map(str::to_string).ok_or_else(|| {
            ClientError::Usage(format!("give --type: {} names no action type", file.display()))
        })?,
    };
    if !rollback_host::plugins::valid_action_type(&ty) {
        return Err(ClientError::Usage(format!("{ty:?} is not a valid action type (use --type)")));
    }
    let bytes = super::client::read_input(file)?;
    let c = Client::connect(conn)?;
    let answer = c.put_bytes(&format!("/v1/plugins/{ty}"), bytes, "application/wasm")?;
    if c.json {
        print_json(&answer);
    } else {
        out!(
            "{}",
            table::fields(
                &answer,
                &["action_type", "plugin_version", "contract_version", "sha256", "size", "description"]
            )
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn remove(conn: &Connection, ty: &str) -> Result<ExitCode, ClientError> {
    let c = Client::connect(conn)?;
    c.send_json(reqwest::Method::DELETE, &format!("/v1/plugins/{ty}"), None)?;
    if c.json {
        print_json(&serde_json::json!({"removed": ty}));
    } else {
        out!("Removed the uploaded plugin for {ty}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads and loads a component, printing the refusal when there is one.
fn load(file: &PathBuf, limits: Limits) -> anyhow::Result<Result<LoadedPlugin, String>> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    // One call and out: no background compile to wait for, so `tiered`
    // means the code the service ends up running, Cranelift's.
    let limits = match limits.compile {
        Compile::Tiered => Limits { compile: Compile::Optimized, ..limits },
        _ => limits,
    };
    let runtime = Runtime::new(limits).context("starting the plugin runtime")?;
    // Compiled within the same bounds as the service compiles in.
    if let Some(exe) = compile_worker_exe() {
        runtime.compile_in_workers(exe);
    }
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
            "invert_batch": plugin.batched(),
            "sha256": plugin.sha256(),
            "size": plugin.size(),
            "memory_cap_bytes": plugin.memory_cap(),
            "parameters_schema": m.parameters_schema,
        });
        out!("{report:#}");
    } else {
        out!("ok: {}", file.display());
        out!("action type:       {}", m.action_type);
        out!("plugin version:    {}", m.plugin_version);
        out!("description:       {}", m.description);
        out!("contract:          watcher:rollback@{}", plugin.contract_version());
        out!(
            "invert-batch:      {}",
            if plugin.batched() { "yes" } else { "no (inverted one action a call)" }
        );
        out!("sha256:            {}", plugin.sha256());
        out!("size:              {} bytes", plugin.size());
        out!("memory cap:        {} MiB (at rest and in use)", plugin.memory_cap() >> 20);
        out!("parameters schema: {:#}", m.parameters_schema);
    }
    Ok(ExitCode::SUCCESS)
}

/// This binary, to run compile workers (`None` when the OS cannot say:
/// compiles then run unbounded in the process, with a warning). On Linux
/// `/proc/self/exe`: the running binary itself even after a package upgrade
/// replaced the file, so a worker always makes code this process can load.
pub fn compile_worker_exe() -> Option<PathBuf> {
    let own = std::path::Path::new("/proc/self/exe");
    if own.exists() {
        return Some(own.to_path_buf());
    }
    match std::env::current_exe() {
        Ok(exe) => Some(exe),
        Err(e) => {
            tracing::warn!("cannot find this executable ({e}); plugins compile in this process, without the compile bounds");
            None
        }
    }
}
