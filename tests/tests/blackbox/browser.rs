//! `GET /ui` in a real browser: headless Chromium (Debian's package,
//! installed by `scripts/browser.sh`) loads the page against a running
//! server holding a rolled-back plan; the test checks the rendered DOM and
//! keeps a screenshot in `target/test-output/ui.png`.
//!
//! Ignored by default; `make test-ui` runs it with `ROLLBACK_CHROMIUM` set.

use rollback_tests::plans::maintenance4;
use rollback_tests::{plugins_dir_with, repo_root, Server};
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs the browser on `url` with `args`, killing it after 60 s.
fn chromium(url: &str, args: &[&str]) -> std::process::Output {
    let browser =
        std::env::var("ROLLBACK_CHROMIUM").expect("ROLLBACK_CHROMIUM names the browser (make test-ui)");
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let until = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > until {
            let _ = child.kill();
            panic!("chromium did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

#[test]
#[ignore = "needs Chromium: make test-ui"]
fn the_page_shows_plans_actions_pre_states_and_the_graph_of_a_rollback() {
    let dir = plugins_dir_with(&[]);
    let s = Server::start(&["--sleep-scale", "0.01", "--plugins-dir", dir.path().to_str().unwrap()]);
    let plan = s.create_plan(maintenance4())["uuid"].as_str().unwrap().to_string();
    assert_eq!(s.call("POST", &format!("/v1/action_plans/{plan}/start"), &[], None).status, 200);
    s.wait_for_plan(&plan, &["SUCCEEDED"]);
    let rb = s
        .send_json("POST", &format!("/v1/action_plans/{plan}/rollback"), &json!({"auto_start": true}))
        .json();
    let rb = rb["uuid"].as_str().unwrap().to_string();
    s.wait_for_plan(&rb, &["SUCCEEDED"]);
    let rb_actions =
        s.get15(&format!("/v1/actions/detail?action_plan_uuid={rb}"), &[]).json()["actions"].clone();

    let url = format!("{}/ui#plan={rb}", s.base);
    let out = chromium(&url, &["--dump-dom"]);
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(dom.contains("2 plan(s)"), "the plans were listed: {dom}");
    // Both plans are rows; the rollback's row links to its original.
    assert!(dom.contains(&format!("<tr data-uuid=\"{rb}\"")), "{dom}");
    assert!(dom.contains(&format!("<tr data-uuid=\"{plan}\"")), "{dom}");
    assert!(
        dom.contains(&format!("undoes <a href=\"#plan={plan}\"")),
        "the rollback links to its original: {dom}"
    );
    assert!(dom.contains(&format!("undone by <a href=\"#plan={rb}\"")), "{dom}");
    // The selected plan's fields and actions, with pre-state and result.
    assert!(dom.contains(&format!("<code id=\"plan-uuid\">{rb}</code>")), "{dom}");
    for a in rb_actions.as_array().unwrap() {
        assert!(
            dom.contains(&format!("<tr data-uuid=\"{}\"", a["uuid"].as_str().unwrap())),
            "action row: {dom}"
        );
    }
    assert!(dom.contains("\"power\": \"off\""), "a pre-state is shown: {dom}");
    assert!(dom.contains("\"power\": \"on\""), "a result is shown: {dom}");
    // The graph: the original's 4 actions and their 4 inverses.
    let drawn = dom.matches("class=\"action\" data-uuid=").count();
    assert_eq!(drawn, 8, "{dom}");
    assert!(!dom.contains("class=\"status error\"") && !dom.contains("Cannot "), "no error shown: {dom}");

    let shots = repo_root().join("target/test-output");
    std::fs::create_dir_all(&shots).unwrap();
    let png = shots.join("ui.png");
    let _ = std::fs::remove_file(&png);
    let out = chromium(&url, &[&format!("--screenshot={}", png.display()), "--window-size=1400,1100"]);
    let bytes = std::fs::read(&png)
        .unwrap_or_else(|e| panic!("no screenshot ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000, "a real screenshot");
    eprintln!("screenshot: {}", png.display());
}
