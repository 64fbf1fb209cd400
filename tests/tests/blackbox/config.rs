//! The configuration file: precedence file < environment < flag, a bad
//! key's or value's message naming the file and the key, and the shipped
//! example and reference docs covering every `serve` flag.

use rollback_tests::{host_bin, repo_root, run_cli};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A free loopback port (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `serve ARGS` with `env`, returns the address it says it listens
/// on, and stops it.
fn listening_address(args: &[&str], env: &[(&str, &str)]) -> String {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(host_bin())
        .arg("serve")
        .args(args)
        .env("ROLLBACK_DATA_DIR", data.path())
        .env_remove("ROLLBACK_LISTEN")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut log = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.split("address=").nth(1) {
                let _ = tx.send(Ok(addr.split_whitespace().next().unwrap_or("").to_string()));
                return;
            }
            log.push_str(&line);
            log.push('\n');
        }
        let _ = tx.send(Err(log));
    });
    let got = rx.recv_timeout(Duration::from_secs(30));
    let _ = child.kill();
    let _ = child.wait();
    match got {
        Ok(Ok(addr)) => addr,
        other => panic!("serve {args:?} did not start: {other:?}"),
    }
}

#[test]
fn file_then_environment_then_flag_each_override_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rollback.toml");
    let (a, b, c) = (free_port(), free_port(), free_port());
    std::fs::write(
        &file,
        format!("listen = \"127.0.0.1:{a}\"\nrollback-window = 60\nlog-format = \"text\"\n"),
    )
    .unwrap();
    let file = file.to_str().unwrap();
    assert_eq!(listening_address(&["--config", file], &[]), format!("127.0.0.1:{a}"));
    assert_eq!(
        listening_address(&[], &[("ROLLBACK_CONFIG", file)]),
        format!("127.0.0.1:{a}"),
        "the file named by ROLLBACK_CONFIG"
    );
    let env_b = format!("127.0.0.1:{b}");
    assert_eq!(listening_address(&["--config", file], &[("ROLLBACK_LISTEN", &env_b)]), env_b);
    let flag_c = format!("127.0.0.1:{c}");
    assert_eq!(
        listening_address(&["--config", file, "--listen", &flag_c], &[("ROLLBACK_LISTEN", &env_b)]),
        flag_c
    );
}

#[test]
fn a_bad_key_or_value_is_named_with_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    let path = file.to_str().unwrap();
    for (text, want) in [
        ("listn = \"127.0.0.1:1\"\n", format!("{path}: unknown key `listn`")),
        (
            "plugin-deadline-ms = \"soon\"\n",
            format!("{path}: key `plugin-deadline-ms`: invalid value 'soon'"),
        ),
        ("auth = \"magic\"\n", format!("{path}: key `auth`: invalid value 'magic'")),
        ("listen = [\"a\", \"b\"]\n", format!("{path}: key `listen`: takes one value")),
        ("listen = \n", format!("{path}: not valid TOML")),
    ] {
        std::fs::write(&file, text).unwrap();
        let out = run_cli(&["serve", "--config", path], None);
        assert_eq!(out.code, Some(2), "{text}: {out:?}");
        assert!(out.stderr.contains(&want), "{text}: want {want:?} in {}", out.stderr);
    }
    let out = run_cli(&["serve", "--config", "/nonexistent/rollback.toml"], None);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("/nonexistent/rollback.toml"), "{}", out.stderr);
}

/// Every `--flag` of `serve --help` with its environment variable and
/// default (when it has one).
fn serve_flags() -> Vec<(String, String, Option<String>)> {
    let help = run_cli(&["serve", "--help"], None).stdout;
    let mut flags: Vec<(String, String, Option<String>)> = Vec::new();
    for line in help.lines() {
        let l = line.trim_start();
        if let Some(rest) = l.strip_prefix("--") {
            let name = rest.split([' ', '<']).next().unwrap().to_string();
            flags.push((name, String::new(), None));
        } else if let (Some(last), Some(env)) = (flags.last_mut(), l.strip_prefix("[env: ")) {
            last.1 = env.split(['=', ']']).next().unwrap().to_string();
        } else if let (Some(last), Some(d)) = (flags.last_mut(), l.strip_prefix("[default: ")) {
            last.2 = Some(d.trim_end_matches(']').to_string());
        }
    }
    flags.retain(|(f, _, _)| f != "help" && f != "config");
    assert!(flags.len() > 30, "{flags:?}");
    flags
}

#[test]
fn the_example_file_and_the_reference_cover_every_serve_flag() {
    let example = std::fs::read_to_string(repo_root().join("rollback-host.example.toml")).unwrap();
    let reference = std::fs::read_to_string(repo_root().join("docs/operations.md")).unwrap();
    for (flag, env, default) in serve_flags() {
        let key = format!("{flag} =");
        assert!(
            example.lines().any(|l| l.trim_start_matches("# ").starts_with(&key)),
            "`{flag}` is not in rollback-host.example.toml"
        );
        assert!(!env.is_empty(), "--{flag} has an environment variable");
        let default = default.map_or("—".to_string(), |d| format!("`{d}`"));
        let row = format!("| `{flag}` | `{env}` | {default} |");
        assert!(reference.contains(&row), "docs/operations.md lacks the row {row}");
    }
    // And every example value is one its flag accepts (`--help` exits after
    // the file was checked).
    let dir = tempfile::tempdir().unwrap();
    let all_set: String = example
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(kv) if kv.contains(" = ") => kv,
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let file = dir.path().join("all.toml");
    std::fs::write(&file, all_set).unwrap();
    let out = run_cli(&["serve", "--config", file.to_str().unwrap(), "--help"], None);
    assert_eq!(out.code, Some(0), "{out:?}");
}
