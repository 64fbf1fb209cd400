//! The OpenAPI document names exactly the routes declared in
//! `api::routes`, each guarded (with the token requirement and its rule) or
//! open as declared.

use rollback_host::api::routes::{table, Guard};
use std::collections::BTreeSet;

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
        let rule = match r.guard {
            Guard::Open => None,
            Guard::Policy(rule) => Some(rule.name()),
        };
        assert_eq!(op.get("x-policy-rule").and_then(|v| v.as_str()), rule, "{} {}", r.method, r.path);
    }
}
