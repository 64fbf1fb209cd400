//! `rollback-host serve`: starts, loads the plugins directory, answers
//! `/healthz`; a broken plugin file is refused and the rest still load.

use rollback_tests::{plugin, Server};

#[test]
fn healthz_answers_and_lists_the_loaded_plugins() {
    let dir = plugin("nop").parent().unwrap().to_path_buf();
    let server = Server::start(&["--plugins-dir", dir.to_str().unwrap()]);
    let health = server.get_json("/healthz");
    assert_eq!(health["status"], "ok");
    let plugins = health["plugins"].as_array().unwrap();
    assert!(plugins.iter().any(|p| p == "nop"), "{health}");
}

#[test]
fn a_broken_plugin_file_is_refused_and_the_others_load() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(plugin("nop"), dir.path().join("nop.wasm")).unwrap();
    std::fs::write(dir.path().join("broken.wasm"), b"\0asm garbage").unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"not a plugin").unwrap();
    let server = Server::start(&["--plugins-dir", dir.path().to_str().unwrap()]);
    assert_eq!(server.get_json("/healthz")["plugins"], serde_json::json!(["nop"]));
    assert!(server.wait_for_log("plugin refused"), "{}", server.log());
    assert!(server.log().contains("broken.wasm"), "{}", server.log());
}

#[test]
fn unknown_paths_are_404() {
    let server = Server::start(&[]);
    assert_eq!(server.get("/no/such/thing").0, 404);
    assert_eq!(server.get_json("/healthz")["plugins"], serde_json::json!([]));
}

#[test]
fn a_second_server_on_the_same_data_dir_is_refused_clearly() {
    let first = Server::start(&[]);
    let dir = first.data_dir.as_ref().unwrap().path().to_str().unwrap().to_string();
    let out = rollback_tests::run_cli(&["serve", "--listen", "127.0.0.1:0", "--data-dir", &dir], None);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("in use by another process"), "{}", out.stderr);
    assert_eq!(first.get_json("/healthz")["status"], "ok", "the first server is unharmed");
}

/// Tiered compilation seen from outside: a cold start serves every plugin
/// at once (on baseline code), `GET /v1/plugins` then shows each one
/// moving to optimized code, and a restart on the same data directory
/// loads optimized code straight from the compile cache.
#[test]
fn a_cold_start_moves_every_plugin_to_optimized_code_and_a_restart_starts_there() {
    let dir = plugin("nop").parent().unwrap().to_path_buf();
    let server = Server::start(&["--plugins-dir", dir.to_str().unwrap()]);
    let codes = |s: &Server| -> Vec<String> {
        s.get_json("/v1/plugins")["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["code"].as_str().unwrap().to_string())
            .collect()
    };
    let first = codes(&server);
    assert_eq!(first.len(), 9, "{first:?}");
    assert!(first.iter().any(|c| c == "baseline"), "nothing cached: baseline code first: {first:?}");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(180);
    while codes(&server).iter().any(|c| c != "optimized") {
        assert!(std::time::Instant::now() < until, "still {:?}", codes(&server));
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(server.log().contains("plugin optimized code swapped in"), "{}", server.log());
    let server = server.restart();
    assert!(codes(&server).iter().all(|c| c == "optimized"), "{:?}", codes(&server));
    assert!(!server.log().contains("plugin optimized code swapped in"), "no recompile: {}", server.log());
}

/// A data directory keeps the page compression it was created with: `store
/// copy --compression zstd` moves a plain one into a compressed one with the
/// same listings, and a server started on it without the flag serves it
/// compressed (sled refuses the other setting) and says so.
#[test]
fn a_data_directory_keeps_the_compression_it_was_created_with() {
    use rollback_tests::plans::maintenance;
    let plugins = rollback_tests::plugins_dir_with(&[]);
    let args = ["--sleep-scale", "0.001", "--plugins-dir", plugins.path().to_str().unwrap()];
    let sled = [("ROLLBACK_STORE", "")];
    let plain = Server::start_env(&args, &sled);
    let plan = plain.create_plan(serde_json::json!({"actions": maintenance()}))["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let r = plain.call("POST", &format!("/v1/action_plans/{plan}/start"), &[], None);
    assert_eq!(r.status, 200, "{}", r.body);
    plain.wait_for_plan(&plan, &["SUCCEEDED"]);
    let listing = |s: &Server, path: &str| s.get15(path, &[]).body.replace(&s.base, "BASE");
    let (plans, actions) = ("/v1/action_plans/detail?limit=100", "/v1/actions/detail?limit=1000");
    let (before, before_actions) = (listing(&plain, plans), listing(&plain, actions));
    let from = plain.stop_keeping_data();
    let conf = |dir: &std::path::Path| {
        String::from_utf8_lossy(&std::fs::read(dir.join("conf")).unwrap()).into_owned()
    };
    assert!(conf(from.path()).contains("use_compression: false"), "{}", conf(from.path()));

    let to = tempfile::tempdir().unwrap();
    let zstd = to.path().join("zstd");
    let (from_arg, to_arg) = (from.path().to_str().unwrap(), zstd.to_str().unwrap());
    let copy = ["store", "copy", "--from", from_arg, "--to", to_arg, "--compression", "zstd"];
    let out = rollback_tests::run_cli(&copy, None);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(conf(&zstd).contains("use_compression: true"), "{}", conf(&zstd));

    let served = Server::start_env(&[&args[..], &["--data-dir", zstd.to_str().unwrap()]].concat(), &sled);
    assert!(served.wait_for_log("keeps the compression it was created with"), "{}", served.log());
    assert_eq!(listing(&served, plans), before);
    assert_eq!(listing(&served, actions), before_actions);
    let r = served.call("POST", &format!("/v1/action_plans/{plan}/rollback"), &[], None);
    assert_eq!(r.status, 200, "{}", r.body);
}
