//! Plugins at run time: upload, list and remove over HTTP; uploads survive a
//! restart; the plugins directory is watched (add, replace, delete; a broken
//! file keeps the previous version).

use rollback_tests::{plugin, test_plugin, Server};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn put(s: &Server, ty: &str, bytes: &[u8], content_type: &str) -> rollback_tests::Resp {
    s.call("PUT", &format!("/v1/plugins/{ty}"), &[("Content-Type", content_type)], Some(bytes))
}

fn listed(s: &Server) -> Vec<Value> {
    s.get15("/v1/plugins", &[]).json()["plugins"].as_array().unwrap().clone()
}

fn types(s: &Server) -> Vec<String> {
    listed(s).iter().map(|p| p["action_type"].as_str().unwrap().to_string()).collect()
}

/// Polls until `cond` holds (5 s at most).
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < until, "never: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn upload_list_replace_and_delete_over_http() {
    let s = Server::start(&[]);
    assert_eq!(types(&s), Vec::<String>::new());
    let bytes = std::fs::read(plugin("nop")).unwrap();
    let r = put(&s, "nop", &bytes, "application/wasm");
    assert_eq!(r.status, 201, "{}", r.body);
    let p = r.json();
    assert_eq!(p["action_type"], "nop");
    assert_eq!(p["source"], json!({"kind": "upload"}));
    assert_eq!(p["size"], bytes.len());
    assert_eq!(p["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(p["schema"]["required"], json!(["message"]));
    assert!(p["loaded_at"].is_string());
    assert_eq!(listed(&s), vec![p.clone()]);
    assert_eq!(s.get15("/v1/plugins/nop", &[]).json(), p);

    let again = put(&s, "nop", &bytes, "application/octet-stream");
    assert_eq!(again.status, 200, "replacing answers 200: {}", again.body);
    assert_eq!(s.get_json("/healthz")["plugins"], json!(["nop"]));

    assert_eq!(s.call("DELETE", "/v1/plugins/nop", &[], None).status, 204);
    assert_eq!(s.get15("/v1/plugins/nop", &[]).status, 404);
    assert_eq!(s.call("DELETE", "/v1/plugins/nop", &[], None).status, 404);
}

#[test]
fn bad_uploads_are_refused_precisely_and_change_nothing() {
    let s = Server::start(&[]);
    let nop = std::fs::read(plugin("nop")).unwrap();
    let migrate = std::fs::read(plugin("migrate")).unwrap();
    let r = put(&s, "nop", &migrate, "application/wasm");
    assert_eq!(r.status, 400);
    assert!(r.fault().contains("the component inverts `migrate`, not `nop`"), "{}", r.fault());
    let r = put(&s, "nop", b"garbage", "application/wasm");
    assert!(r.status == 400 && r.fault().contains("not a WebAssembly file"), "{}", r.body);
    let r = put(&s, "nop", &nop, "application/json");
    assert_eq!(r.status, 415, "{}", r.body);
    let r = put(&s, "Not-A-Type", &nop, "application/wasm");
    assert!(r.status == 400 && r.fault().contains("Invalid action type"), "{}", r.body);
    // Larger than the API's 1 MiB JSON limit but within the 32 MiB plugin limit: refused for what it is.
    let mut two_mib = b"\0asm\x01\0\0\0".to_vec();
    two_mib.resize(2 << 20, 0);
    let r = put(&s, "nop", &two_mib, "application/wasm");
    assert_eq!(r.status, 400, "{}", &r.body[..r.body.len().min(200)]);
    let huge = vec![0u8; (32 << 20) + 1];
    assert_eq!(put(&s, "nop", &huge, "application/wasm").status, 413);
    let hostile = std::fs::read(test_plugin("test_grow_memory")).unwrap();
    let r = put(&s, "test_grow_memory", &hostile, "application/wasm");
    assert_eq!(r.status, 201, "a hostile invert still has honest metadata: {}", r.body);
    assert_eq!(types(&s), vec!["test_grow_memory".to_string()], "nothing else was installed");
}

#[test]
fn an_upload_that_cannot_compile_within_bounds_is_refused_with_the_bound() {
    let nop = std::fs::read(plugin("nop")).unwrap();
    for (flag, value, reason) in [
        ("--plugin-compile-timeout-ms", "1", "compiling took longer than 1 ms (--plugin-compile-timeout-ms)"),
        (
            "--plugin-compile-memory-mib",
            "2",
            "compiling needed more than 2 MiB of memory (--plugin-compile-memory-mib)",
        ),
    ] {
        let s = Server::start(&[flag, value]);
        let r = put(&s, "nop", &nop, "application/wasm");
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.fault().contains("cannot be compiled within bounds"), "{}", r.fault());
        assert!(r.fault().contains(reason), "{}", r.fault());
        assert_eq!(types(&s), Vec::<String>::new(), "nothing was installed");
        assert_eq!(s.get("/healthz").0, 200, "the server serves on");
    }
    // The same server compiles it with the default bounds.
    let s = Server::start(&[]);
    assert_eq!(put(&s, "nop", &nop, "application/wasm").status, 201);
}

#[test]
fn uploads_still_compile_after_the_binary_file_is_replaced() {
    // A package upgrade replaces the file under a running service: its
    // compile workers must still be the running binary (a newer one would
    // make code this process cannot load).
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("rollback-host");
    std::fs::copy(rollback_tests::host_bin(), &copy).unwrap();
    let s = Server::start_bin(copy.clone(), &[], &[]);
    std::fs::remove_file(&copy).unwrap();
    std::fs::write(&copy, b"#!/bin/sh\nexit 1\n").unwrap();
    let nop = std::fs::read(plugin("nop")).unwrap();
    let r = put(&s, "nop", &nop, "application/wasm");
    assert_eq!(r.status, 201, "{}", r.body);
}

#[test]
fn uploaded_plugins_survive_a_restart() {
    let s = Server::start(&[]);
    let bytes = std::fs::read(plugin("resize")).unwrap();
    let sha = put(&s, "resize", &bytes, "application/wasm").json()["sha256"].clone();
    let s = s.restart();
    let p = s.get15("/v1/plugins/resize", &[]).json();
    assert_eq!(p["sha256"], sha);
    assert_eq!(p["source"], json!({"kind": "upload"}));
}

#[test]
fn the_plugins_directory_is_watched() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(plugin("nop"), dir.path().join("nop.wasm")).unwrap();
    let s = Server::start(&["--plugins-dir", dir.path().to_str().unwrap()]);
    assert_eq!(types(&s), vec!["nop"]);
    let nop_sha = s.get15("/v1/plugins/nop", &[]).json()["sha256"].clone();

    std::fs::copy(plugin("migrate"), dir.path().join("migrate.wasm")).unwrap();
    eventually("migrate.wasm is picked up", || types(&s) == ["migrate", "nop"]);

    std::fs::write(dir.path().join("nop.wasm"), b"\0asm broken on purpose").unwrap();
    assert!(s.wait_for_log("the previous version stays active"), "{}", s.log());
    assert_eq!(s.get15("/v1/plugins/nop", &[]).json()["sha256"], nop_sha, "the old nop is still active");

    std::fs::copy(plugin("sleep"), dir.path().join("nop.wasm")).unwrap();
    eventually("the replaced file now provides sleep instead of nop", || types(&s) == ["migrate", "sleep"]);

    std::fs::remove_file(dir.path().join("migrate.wasm")).unwrap();
    eventually("migrate is gone with its file", || !types(&s).contains(&"migrate".to_string()));

    let r = s.call("DELETE", "/v1/plugins/sleep", &[], None);
    assert_eq!(r.status, 409, "a directory plugin is removed by deleting its file: {}", r.body);
    assert!(r.fault().contains("nop.wasm"), "{}", r.fault());
}

#[test]
fn an_upload_wins_over_the_directory_and_removing_it_restores_the_file_version() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(plugin("nop"), dir.path().join("nop.wasm")).unwrap();
    let s = Server::start(&["--plugins-dir", dir.path().to_str().unwrap()]);
    assert_eq!(s.get15("/v1/plugins/nop", &[]).json()["source"]["kind"], "directory");
    put(&s, "nop", &std::fs::read(plugin("nop")).unwrap(), "application/wasm");
    assert_eq!(s.get15("/v1/plugins/nop", &[]).json()["source"]["kind"], "upload");
    assert_eq!(s.call("DELETE", "/v1/plugins/nop", &[], None).status, 204);
    assert_eq!(s.get15("/v1/plugins/nop", &[]).json()["source"]["kind"], "directory");
}

#[test]
fn a_new_kind_goes_from_upload_to_rolled_back_without_a_restart() {
    let builtins = plugin("nop").parent().unwrap().to_path_buf();
    let s = Server::start(&["--sleep-scale", "0.001", "--plugins-dir", builtins.to_str().unwrap()]);
    let plan = json!({"actions": [
        {"action_type": "snapshot_instance", "input_parameters": {"resource_id": "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a01", "snapshot_name": "before-upgrade"}},
        {"action_type": "stop", "input_parameters": {"resource_id": "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a01"}, "parents": [0]},
    ]});
    let r = s.send_json("POST", "/v1/action_plans", &plan);
    assert!(r.status == 400 && r.fault().contains("unknown action_type \"snapshot_instance\""), "{}", r.body);

    for kind in ["snapshot_instance", "delete_snapshot"] {
        let bytes = std::fs::read(rollback_tests::example_plugin(kind)).unwrap();
        assert_eq!(put(&s, kind, &bytes, "application/wasm").status, 201);
    }
    let uuid = s.create_plan(plan)["uuid"].as_str().unwrap().to_string();
    assert_eq!(s.call("POST", &format!("/v1/action_plans/{uuid}/start"), &[], None).status, 200);
    assert_eq!(s.wait_for_plan(&uuid, &["SUCCEEDED", "FAILED"])["state"], "SUCCEEDED");

    let r = s.send_json("POST", &format!("/v1/action_plans/{uuid}/rollback"), &json!({"auto_start": true}));
    assert_eq!(r.status, 200, "{}", r.body);
    let rb = r.json();
    let actions: Vec<(&str, &Value)> = rb["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["action_type"].as_str().unwrap(), &a["input_parameters"]))
        .collect();
    assert_eq!(actions.len(), 2, "{actions:?}");
    assert_eq!(actions[0].0, "start", "undo the stop first");
    assert_eq!(
        actions[1],
        (
            "delete_snapshot",
            &json!({"resource_id": "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a01", "snapshot_name": "before-upgrade"})
        )
    );
    let rb_uuid = rb["uuid"].as_str().unwrap();
    assert_eq!(s.wait_for_plan(rb_uuid, &["SUCCEEDED", "FAILED"])["state"], "SUCCEEDED");

    // Redoing it would need to undo a delete: the example plugin refuses, clearly.
    let r = s.call("POST", &format!("/v1/action_plans/{rb_uuid}/rollback"), &[], None);
    assert_eq!(r.status, 422);
    assert!(r.fault().contains("its data cannot be restored"), "{}", r.fault());
}

#[test]
fn pinned_types_accept_only_their_digests() {
    use sha2::{Digest, Sha256};
    let nop = std::fs::read(plugin("nop")).unwrap();
    let sleep = std::fs::read(plugin("sleep")).unwrap();
    let pin = format!("nop={}", hex::encode(Sha256::digest(&nop)));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("nop.wasm"), &nop).unwrap();
    let s = Server::start(&["--pin", &pin, "--plugins-dir", dir.path().to_str().unwrap()]);
    assert_eq!(types(&s), vec!["nop"], "the pinned digest loads from the directory");
    assert_eq!(put(&s, "nop", &nop, "application/wasm").status, 201, "and uploads");
    assert_eq!(put(&s, "sleep", &sleep, "application/wasm").status, 201, "unpinned types are free");

    // Another build of nop (same behaviour, other bytes) is refused.
    let mut other = nop.clone();
    other.extend_from_slice(&[0, 5, 4, b'p', b'a', b'd', b'!']); // a trailing custom section
    let r = put(&s, "nop", &other, "application/wasm");
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.fault().contains("not among the digests pinned for `nop`"), "{}", r.fault());

    let r = rollback_tests::run_cli(&["serve", "--pin", "nop=xyz"], None);
    assert_eq!(r.code, Some(2), "a malformed pin is a usage error: {r:?}");
    assert!(r.stderr.contains("is not a sha256 hex digest"), "{}", r.stderr);
}

#[test]
fn the_number_of_uploaded_types_is_capped() {
    let s = Server::start(&["--max-uploaded-plugins", "1"]);
    let (nop, stop) = (std::fs::read(plugin("nop")).unwrap(), std::fs::read(plugin("stop")).unwrap());
    assert_eq!(put(&s, "nop", &nop, "application/wasm").status, 201);
    let r = put(&s, "stop", &stop, "application/wasm");
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.fault().contains("1 plugin types are uploaded already"), "{}", r.fault());
    assert_eq!(types(&s), ["nop"]);
    assert_eq!(put(&s, "nop", &nop, "application/wasm").status, 200, "replacing is not a new type");
    assert_eq!(s.call("DELETE", "/v1/plugins/nop", &[], None).status, 204);
    assert_eq!(put(&s, "stop", &stop, "application/wasm").status, 201);
}

/// Uploads and deletes of one type racing each other: afterwards, and after
/// a restart, the stored plugin and the active one are the same.
#[test]
fn racing_uploads_and_deletes_leave_store_and_registry_agreeing() {
    let mut s = Server::start(&[]);
    let nop = std::fs::read(plugin("nop")).unwrap();
    for round in 0..6 {
        std::thread::scope(|scope| {
            for k in 0..4 {
                let (s, nop) = (&s, &nop);
                scope.spawn(move || {
                    for i in 0..4 {
                        if (k + i + round) % 2 == 0 {
                            let st = put(s, "nop", nop, "application/wasm").status;
                            assert!(st == 200 || st == 201, "{st}");
                        } else {
                            let st = s.call("DELETE", "/v1/plugins/nop", &[], None).status;
                            assert!(st == 204 || st == 404, "{st}");
                        }
                    }
                });
            }
        });
        let active = s.get15("/v1/plugins/nop", &[]).status;
        s = s.restart();
        assert_eq!(
            s.get15("/v1/plugins/nop", &[]).status,
            active,
            "round {round}: restart changed the answer"
        );
    }
}
