//! `GET /openapi.json`: the document matches the committed snapshot
//! (`docs/openapi.json`; regenerate with `ROLLBACK_BLESS=1` and review the
//! diff), and it names exactly the routes declared (`api::routes`), each
//! guarded or open as declared. schemathesis checks the live answers against it
//! (`scripts/schemathesis.sh`, run by `make test`).

use rollback_host::api::routes::{table, Guard};
use rollback_tests::{repo_root, Server};
use std::collections::BTreeSet;

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

#[test]
fn the_document_and_the_policy_table_name_the_same_routes() {
    let doc = rollback_host::api::openapi::document_json();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    let routed: BTreeSet<(String, String)> =
        table().iter().map(|r| (r.method.as_str().to_string(), r.path.clone())).collect();
    assert_eq!(documented, routed, "every route is documented and guarded (or open), and nothing else");
    // Guarded operations declare the token; open ones do not.
    for r in table() {
        let op = &doc["paths"][&r.path][r.method.as_str().to_ascii_lowercase()];
        assert_eq!(op.get("security").is_some(), r.guard != Guard::Open, "{} {}", r.method, r.path);
    }
}
