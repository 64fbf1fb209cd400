//! `GET /openapi.json`: the document matches the committed snapshot
//! (`docs/openapi.json`; regenerate with `ROLLBACK_BLESS=1` and review the
//! diff). (That it names exactly the declared routes is checked in
//! process: `inprocess/routes.rs`.) schemathesis checks the live answers against it
//! (`scripts/schemathesis.sh`, run by `make test`).

use rollback_tests::{repo_root, Server};

#[test]
fn the_document_matches_the_committed_snapshot() {
    let s = Server::start(&[]);
    let r = s.call("GET", "/openapi.json", &[], None);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let live = r.json();
    let path = repo_root().join("docs/openapi.json");
    if std::env::var_os("ROLLBACK_BLESS").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&live).unwrap() + "\n").unwrap();
    }
    let text = std::fs::read_to_string(&path).expect("docs/openapi.json (ROLLBACK_BLESS=1 writes it)");
    let committed: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(
        committed == live,
        "the API's OpenAPI document changed; if that is deliberate, run \
         `ROLLBACK_BLESS=1 cargo test -p rollback-tests openapi` and commit docs/openapi.json"
    );
}
