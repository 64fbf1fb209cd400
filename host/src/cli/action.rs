//! `rollback-host action …` and `rollback-host cloud show`: actions and the
//! simulated cloud over the API.

use super::client::{self, print_json, table, uuid_arg, Client, ClientError, Connection};
use serde_json::Value;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct ActionArgs {
    #[command(flatten)]
    conn: Connection,
    #[command(subcommand)]
    cmd: ActionCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ActionCommand {
    /// List the actions of a plan.
    List {
        /// The plan's UUID.
        #[arg(long)]
        plan: String,
    },
    /// Show one action with its pre-state and result.
    Show {
        /// The action's UUID.
        uuid: String,
    },
}

pub fn run(args: ActionArgs) -> Result<ExitCode, ClientError> {
    let c = Client::connect(&args.conn)?;
    match args.cmd {
        ActionCommand::List { plan } => {
            let actions = c.plan_actions(uuid_arg(&plan)?)?;
            if c.json {
                print_json(&serde_json::json!({ "actions": actions }));
                return Ok(ExitCode::SUCCESS);
            }
            out!("{}", table::actions(&client::views(&actions, "an action")?));
        }
        ActionCommand::Show { uuid } => {
            let a = c.get(&format!("/v1/actions/{}", uuid_arg(&uuid)?))?;
            if c.json {
                print_json(&a);
            } else {
                let order = [
                    "uuid",
                    "action_plan_uuid",
                    "action_type",
                    "state",
                    "status_message",
                    "description",
                    "parents",
                    "input_parameters",
                    "pre_state",
                    "result",
                    "expected_state",
                    "inverse_of",
                    "created_at",
                    "updated_at",
                ];
                out!("{}", table::fields(&a, &order));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct CloudArgs {
    #[command(flatten)]
    conn: Connection,
    #[command(subcommand)]
    cmd: CloudCommand,
}

#[derive(Debug, clap::Subcommand)]
enum CloudCommand {
    /// Show the simulated cloud: one table per kind of resource.
    Show,
}

pub fn run_cloud(args: CloudArgs) -> Result<ExitCode, ClientError> {
    let c = Client::connect(&args.conn)?;
    let CloudCommand::Show = args.cmd;
    let cloud = c.get("/v1/cloud")?;
    if c.json {
        print_json(&cloud);
        return Ok(ExitCode::SUCCESS);
    }
    for (kind, items) in cloud.as_object().into_iter().flatten() {
        let Some(items) = items.as_object() else { continue };
        let mut columns: Vec<String> = Vec::new();
        for item in items.values().filter_map(Value::as_object) {
            for k in item.keys() {
                if !columns.contains(k) {
                    columns.push(k.clone());
                }
            }
        }
        let mut header = vec!["id"];
        header.extend(columns.iter().map(String::as_str));
        let mut t = table::new(&header);
        for (id, item) in items {
            let mut row = vec![id.clone()];
            row.extend(columns.iter().map(|k| table::cell(&item[k])));
            t.add_row(row);
        }
        out!("{kind}\n{t}");
    }
    Ok(ExitCode::SUCCESS)
}
