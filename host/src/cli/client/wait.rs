//! `--wait`: follow a plan until it settles, with a progress bar of
//! actions done out of total, the action in progress, and each SKIPPED or
//! FAILED action's reason printed as it happens. Without a terminal on
//! stderr the bar is hidden and the reasons are plain lines; for a plan of
//! at most [`LOG_EACH_UP_TO`] actions every action's end is a line too
//! (`done: …`), those that started and ended between two looks included,
//! so that a log shows the order they ended in.

use super::{view, views, Client, ClientError};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rollback_host::api::views::{ActionView, PlanView};
use serde_json::Value;
use std::collections::HashSet;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Plan states that end a plan.
const FINAL: &[&str] = &["SUCCEEDED", "FAILED", "CANCELLED", "SUPERSEDED", "DELETED"];
/// Action states that end an action.
const DONE: &[&str] = &["SUCCEEDED", "FAILED", "SKIPPED", "CANCELLED", "DELETED"];

/// Plans of at most this many actions get a line per ended action when
/// stderr is not a terminal.
const LOG_EACH_UP_TO: usize = 100;

/// Follows plan `uuid` until it reaches a final state; returns the plan.
pub fn follow(client: &Client, uuid: &str) -> Result<Value, ClientError> {
    let started = Instant::now();
    let tty = std::io::stderr().is_terminal();
    let bar = ProgressBar::with_draw_target(
        Some(0),
        if tty { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() },
    );
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} actions  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let say = |line: String| {
        if tty {
            bar.println(line);
        } else {
            eprintln!("{line}");
        }
    };
    let mut reported: HashSet<String> = HashSet::new();
    let mut last_current = String::new();
    loop {
        let answer = client.get(&format!("/v1/action_plans/{uuid}"))?;
        let plan: PlanView = view(&answer, "an action plan")?;
        let actions: Vec<ActionView> = views(&client.plan_actions(uuid)?, "an action")?;
        bar.set_length(actions.len() as u64);
        let done = actions.iter().filter(|a| DONE.contains(&a.state.as_str())).count();
        bar.set_position(done as u64);
        let log_each = !tty && actions.len() <= LOG_EACH_UP_TO;
        for a in &actions {
            let state = a.state.as_str();
            let id = a.uuid.to_string();
            if log_each && matches!(state, "SUCCEEDED" | "CANCELLED") && reported.insert(id.clone()) {
                say(format!("done: {} {} {state}", a.action_type, label(a)));
            }
            if matches!(state, "SKIPPED" | "FAILED") && reported.insert(id.clone()) {
                let why = a.status_message.clone().flatten().unwrap_or_else(|| "no reason given".into());
                say(format!(
                    "{state} {} {} ({}): {why}",
                    a.action_type,
                    super::table::target(a),
                    super::table::short(&id)
                ));
            }
        }
        let current: Vec<String> = actions
            .iter()
            .filter(|a| a.state == "ONGOING")
            .map(|a| format!("{} {}", a.action_type, label(a)))
            .collect();
        let msg = if current.is_empty() { plan.state.clone() } else { current.join(", ") };
        if !tty && !current.is_empty() && msg != last_current {
            eprintln!("running: {msg}");
        }
        last_current = msg.clone();
        bar.set_message(msg);
        let state = plan.state.as_str();
        if FINAL.contains(&state) {
            bar.finish_and_clear();
            let count = |s: &str| actions.iter().filter(|a| a.state == s).count();
            eprintln!(
                "action plan {uuid} {state} in {:.1} s: {} succeeded, {} skipped, {} failed, {} cancelled",
                started.elapsed().as_secs_f64(),
                count("SUCCEEDED"),
                count("SKIPPED"),
                count("FAILED"),
                count("CANCELLED"),
            );
            if let Some(m) = plan.status_message.flatten().filter(|m| !m.is_empty()) {
                eprintln!("  {m}");
            }
            return Ok(answer);
        }
        bar.tick();
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// What an action acts on, or its short uuid when that is unknown.
fn label(a: &ActionView) -> String {
    let target = super::table::target(a);
    if target.is_empty() {
        super::table::short(&a.uuid.to_string()).to_string()
    } else {
        target
    }
}
