//! `rollback-host plan …`: action plans over the API (list, show, create,
//! import, start, cancel, delete, rollback, graph).

use super::client::{self, print_json, table, uuid_arg, wait, Client, ClientError, Connection};
use reqwest::Method;
use rollback_host::api::views::PlanView;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    conn: Connection,
    #[command(subcommand)]
    cmd: PlanCommand,
}

#[derive(Debug, clap::Subcommand)]
enum PlanCommand {
    /// List action plans, newest first.
    List {
        /// Most plans shown.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Show a plan and its actions.
    Show {
        /// The plan's UUID.
        uuid: String,
    },
    /// Create a plan from a JSON file (`-` for stdin): `{"actions": [...]}`
    /// with each action's `action_type`, `input_parameters` and `parents`
    /// (indices of earlier actions).
    Create {
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: PathBuf,
    },
    /// Import the RECOMMENDED action plan of a live Watcher (found in the
    /// service's Keystone catalog): stored under Watcher's uuid, cancelled
    /// in Watcher so that Watcher's applier never runs it too.
    Import {
        /// Watcher's action plan UUID.
        uuid: String,
        /// Start the imported plan at once.
        #[arg(long)]
        start: bool,
        /// With --start: follow it until it ends; exit 3 unless it SUCCEEDED.
        #[arg(long, requires = "start")]
        wait: bool,
    },
    /// Start a RECOMMENDED plan.
    Start {
        /// The plan's UUID.
        uuid: String,
        /// Follow it until it ends; exit 3 unless it SUCCEEDED having done
        /// something (every action SKIPPED exits 3 too).
        #[arg(long)]
        wait: bool,
    },
    /// Cancel a plan (a running one stops after its actions in flight).
    Cancel {
        /// The plan's UUID.
        uuid: String,
    },
    /// Delete a plan that is not running.
    Delete {
        /// The plan's UUID.
        uuid: String,
    },
    /// Plan the rollback of a finished plan: a new plan whose actions undo it.
    Rollback {
        /// The plan's UUID.
        uuid: String,
        /// Show the rollback plan; store nothing.
        #[arg(long, conflicts_with_all = ["start", "wait"])]
        dry_run: bool,
        /// Leave out actions no plugin can invert (listed) instead of refusing.
        #[arg(long)]
        allow_partial: bool,
        /// Start the rollback plan at once.
        #[arg(long)]
        start: bool,
        /// With --start: follow it until it ends; exit 3 unless it SUCCEEDED.
        #[arg(long, requires = "start")]
        wait: bool,
    },
    /// Draw a plan (beside its rollback, if any) as SVG or DOT.
    Graph {
        /// The plan's UUID.
        uuid: String,
        /// Write here instead of standard output.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        /// `svg` or `dot` (default: from the output's extension, else svg).
        #[arg(long, value_parser = ["svg", "dot"])]
        format: Option<String>,
        /// Draw it beside the rollback it would get now.
        #[arg(long)]
        dry_run: bool,
    },
}

pub fn run(args: PlanArgs) -> Result<ExitCode, ClientError> {
    let c = Client::connect(&args.conn)?;
    match args.cmd {
        PlanCommand::List { limit } => list(&c, limit),
        PlanCommand::Show { uuid } => show(&c, &uuid),
        PlanCommand::Create { file } => create(&c, &file),
        PlanCommand::Import { uuid, start, wait } => import(&c, &uuid, start, wait),
        PlanCommand::Start { uuid, wait } => start(&c, &uuid, wait),
        PlanCommand::Cancel { uuid } => cancel(&c, &uuid),
        PlanCommand::Delete { uuid } => {
            c.send_json(Method::DELETE, &format!("/v1/action_plans/{}", uuid_arg(&uuid)?), None)?;
            if c.json {
                print_json(&json!({"deleted": uuid}));
            } else {
                out!("Deleted action plan {uuid}");
            }
            Ok(ExitCode::SUCCESS)
        }
        PlanCommand::Rollback { uuid, dry_run, allow_partial, start, wait } => {
            rollback(&c, &uuid, dry_run, allow_partial, start, wait)
        }
        PlanCommand::Graph { uuid, output, format, dry_run } => graph(&c, &uuid, output, format, dry_run),
    }
}

fn link(p: &PlanView) -> String {
    match (p.rollback_of.flatten(), p.rolled_back_by.flatten()) {
        (Some(of), _) => format!("undoes {of}"),
        (None, Some(by)) => format!("undone by {by}"),
        _ => String::new(),
    }
}

fn list(c: &Client, limit: usize) -> Result<ExitCode, ClientError> {
    let page = limit.clamp(1, 1000);
    let plans = c.collect(
        &format!("/v1/action_plans/detail?limit={page}&sort_key=id&sort_dir=desc"),
        "action_plans",
        limit,
    )?;
    if c.json {
        print_json(&json!({ "action_plans": plans }));
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = table::new(&["UUID", "State", "Strategy", "Created At", "Rollback"]);
    for p in client::views::<PlanView>(&plans, "an action plan")? {
        t.add_row(vec![
            p.uuid.to_string(),
            p.state.clone(),
            p.strategy_name.clone().unwrap_or_default(),
            p.created_at.clone().unwrap_or_default(),
            link(&p),
        ]);
    }
    out!("{t}");
    Ok(ExitCode::SUCCESS)
}

const PLAN_FIELDS: &[&str] = &[
    "uuid",
    "state",
    "status_message",
    "strategy_name",
    "audit_uuid",
    "created_at",
    "updated_at",
    "finished_at",
    "rollback_of",
    "rolled_back_by",
    "hostname",
    "source",
];

/// The plan with its `source` (an imported plan's) as one line.
fn readable(plan: &Value) -> Value {
    let mut plan = plan.clone();
    let s = &plan["source"];
    if s.is_object() {
        let t = |k: &str| s[k].as_str().unwrap_or("-").to_string();
        let line = format!(
            "Watcher action plan {} of audit {} ({}), strategy {}, goal {}; imported {}; {} in Watcher ({})",
            t("action_plan_uuid"),
            t("audit_uuid"),
            t("audit_name"),
            t("strategy_name"),
            t("goal_name"),
            t("imported_at"),
            t("watcher_state"),
            t("watcher_url")
        );
        plan["source"] = json!(line);
    }
    plan
}

fn show(c: &Client, uuid: &str) -> Result<ExitCode, ClientError> {
    let plan = c.get(&format!("/v1/action_plans/{}", uuid_arg(uuid)?))?;
    let actions = c.plan_actions(uuid)?;
    if c.json {
        let mut plan = plan;
        plan["actions"] = Value::Array(actions);
        print_json(&plan);
        return Ok(ExitCode::SUCCESS);
    }
    out!("{}", table::fields(&readable(&plan), PLAN_FIELDS));
    out!("{}", table::actions(&client::views(&actions, "an action")?));
    Ok(ExitCode::SUCCESS)
}

fn create(c: &Client, file: &std::path::Path) -> Result<ExitCode, ClientError> {
    let bytes = client::read_input(file)?;
    let body: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ClientError::Usage(format!("{} is not JSON: {e}", file.display())))?;
    let plan = c.send_json(Method::POST, "/v1/action_plans", Some(&body))?;
    if c.json {
        print_json(&plan);
    } else {
        out!("{}", table::fields(&plan, PLAN_FIELDS));
        let view: PlanView = client::view(&plan, "an action plan")?;
        out!("{}", table::actions(&view.actions.unwrap_or_default()));
    }
    Ok(ExitCode::SUCCESS)
}

fn import(c: &Client, uuid: &str, start: bool, follow: bool) -> Result<ExitCode, ClientError> {
    let body = json!({"action_plan_uuid": uuid_arg(uuid)?, "auto_start": start});
    let plan = c.send_json(Method::POST, "/v1/action_plans/import", Some(&body))?;
    if follow {
        if !c.json {
            eprintln!("imported action plan {uuid} started");
        }
        return Ok(settled(c, &wait::follow(c, uuid)?));
    }
    if c.json {
        print_json(&plan);
    } else {
        out!("{}", table::fields(&readable(&plan), PLAN_FIELDS));
        let view: PlanView = client::view(&plan, "an action plan")?;
        out!("{}", table::actions(&view.actions.unwrap_or_default()));
    }
    Ok(ExitCode::SUCCESS)
}

/// After `--wait`: exit 0 only for SUCCEEDED with something done (a plan
/// whose every action was SKIPPED also exits 3; `wait::follow` printed
/// the plan's message).
fn settled(c: &Client, plan: &Value) -> ExitCode {
    if c.json {
        print_json(plan);
    }
    let nothing = plan["status_message"].as_str().is_some_and(|m| m.starts_with("Nothing was done:"));
    if plan["state"] == "SUCCEEDED" && !nothing {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(client::EXIT_NOT_SUCCEEDED)
    }
}

fn start(c: &Client, uuid: &str, follow: bool) -> Result<ExitCode, ClientError> {
    let plan = c.send_json(Method::POST, &format!("/v1/action_plans/{}/start", uuid_arg(uuid)?), None)?;
    if follow {
        return Ok(settled(c, &wait::follow(c, uuid)?));
    }
    if c.json {
        print_json(&plan);
    } else {
        out!("Action plan {uuid} is {}", table::cell(&plan["state"]));
    }
    Ok(ExitCode::SUCCESS)
}

fn cancel(c: &Client, uuid: &str) -> Result<ExitCode, ClientError> {
    let path = format!("/v1/action_plans/{}", uuid_arg(uuid)?);
    let now = c.get(&path)?;
    // Watcher's rule: a plan not yet running is CANCELLED at once, a
    // running one CANCELLING until its actions in flight end.
    let to = if now["state"] == "ONGOING" { "CANCELLING" } else { "CANCELLED" };
    let plan = c.patch(&path, &json!([{"op": "replace", "path": "/state", "value": to}]))?;
    if c.json {
        print_json(&plan);
    } else {
        out!("Action plan {uuid} is {}", table::cell(&plan["state"]));
    }
    Ok(ExitCode::SUCCESS)
}

fn rollback(
    c: &Client,
    uuid: &str,
    dry_run: bool,
    allow_partial: bool,
    start: bool,
    follow: bool,
) -> Result<ExitCode, ClientError> {
    let body = json!({"dry_run": dry_run, "allow_partial": allow_partial, "auto_start": start});
    let plan =
        c.send_json(Method::POST, &format!("/v1/action_plans/{}/rollback", uuid_arg(uuid)?), Some(&body))?;
    let view: PlanView = client::view(&plan, "an action plan")?;
    let new_uuid = view.uuid.to_string();
    if follow {
        if !c.json {
            eprintln!(
                "rollback plan {new_uuid} started ({} actions)",
                view.actions.as_ref().map_or(0, Vec::len)
            );
        }
        return Ok(settled(c, &wait::follow(c, &new_uuid)?));
    }
    if c.json {
        print_json(&plan);
        return Ok(ExitCode::SUCCESS);
    }
    if dry_run {
        out!("Dry run: the rollback of {uuid} would be these actions (nothing was stored):");
    } else {
        out!("{}", table::fields(&plan, PLAN_FIELDS));
    }
    out!("{}", table::actions(view.actions.as_deref().unwrap_or_default()));
    for a in view.not_inverted.iter().flatten() {
        out!("left out (no inverter): {} {}", a.action_type, a.uuid);
    }
    for a in view.unknown.iter().flatten() {
        out!("not rolled back: {} {}: {}", a.action_type, a.uuid, a.reason);
    }
    Ok(ExitCode::SUCCESS)
}

fn graph(
    c: &Client,
    uuid: &str,
    output: Option<PathBuf>,
    format: Option<String>,
    dry_run: bool,
) -> Result<ExitCode, ClientError> {
    let format = format.unwrap_or_else(|| {
        let dot = output.as_ref().and_then(|p| p.extension()).is_some_and(|e| e == "dot" || e == "gv");
        if dot { "dot" } else { "svg" }.to_string()
    });
    let text =
        c.get_text(&format!("/v1/action_plans/{}/graph?format={format}&dry_run={dry_run}", uuid_arg(uuid)?))?;
    match output {
        Some(path) => {
            std::fs::write(&path, text)
                .map_err(|e| ClientError::Usage(format!("cannot write {}: {e}", path.display())))?;
            if !c.json {
                eprintln!("wrote {}", path.display());
            }
        }
        None => out!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
