//! `GET /openapi.json`: the API described by the code — every route's
//! parameters, body and answers, from the `#[utoipa::path]` annotations on
//! the handlers declared in `super::routes` and the request types the
//! handlers parse. A committed
//! snapshot (`docs/openapi.json`) is compared in a test, so changes to the
//! contract are deliberate; schemathesis checks the live server against it.

use axum::http::header;
use axum::response::IntoResponse;
use std::sync::OnceLock;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "rollback-host",
        description = "A Watcher-compatible (infra-optim v1) service that stores, applies and rolls back action plans.",
        license(name = "Apache-2.0")
    ),
    components(schemas(super::error::ErrorBody))
)]
struct ApiDoc;

/// The document.
pub fn document_json() -> &'static serde_json::Value {
    static DOC: OnceLock<serde_json::Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let (_, mut doc, _) = super::routes::build(ApiDoc::openapi());
        Conventions.modify(&mut doc);
        serde_json::to_value(doc).expect("the document serializes")
    })
}

/// The OpenAPI document of this API.
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub(super) async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], document_json().to_string())
}

/// What every operation shares, added once: the error answers (Watcher's
/// error body; 401 and 403 on guarded operations, which `routes::build`
/// marked with the token requirement), and the trailing-slash twins of the
/// collection routes.
struct Conventions;

/// Error statuses any operation may answer, with what they mean.
const ERRORS: &[(&str, &str)] = &[
    ("400", "Malformed request, wrong UUID, bad parameter, or Host not allowed"),
    ("401", "No valid X-Auth-Token"),
    ("403", "The policy does not allow it, or a cross-site write"),
    ("404", "No such record"),
    ("405", "Method not allowed"),
    ("406", "Unsupported microversion"),
    ("409", "Conflicts with the record's state"),
    ("413", "Body too large"),
    ("415", "Unsupported Content-Type"),
    ("422", "A plugin could not invert, or the rollback is too big"),
    ("503", "Overloaded, deadline passed, or identity service unavailable"),
];

impl Modify for Conventions {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Auth-Token",
                "A Keystone token (--auth keystone) or a static token (--auth tokens)",
            ))),
        );
        let error = |why: &str| {
            ResponseBuilder::new()
                .description(why)
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
                )
                .build()
        };
        for item in doc.paths.paths.values_mut() {
            for (_, op) in super::routes::operations(item) {
                let open = op.security.is_none();
                for (status, why) in ERRORS {
                    let guarded_only = matches!(*status, "401" | "403");
                    if open && guarded_only {
                        continue;
                    }
                    op.responses.responses.entry(status.to_string()).or_insert_with(|| error(why).into());
                }
            }
        }
        for base in super::routes::TWINS {
            if let Some(item) = doc.paths.paths.get(*base).cloned() {
                let mut twin = item;
                for (_, op) in super::routes::operations(&mut twin) {
                    op.operation_id = op.operation_id.as_ref().map(|id| format!("{id}_slash"));
                }
                doc.paths.paths.insert(format!("{base}/"), twin);
            }
        }
    }
}
