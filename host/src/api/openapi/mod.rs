//! `GET /openapi.json`: the API described by the code — every route's
//! parameters, body and answers, from the `#[utoipa::path]` annotations on
//! the handlers and the request types the handlers parse. A committed
//! snapshot (`docs/openapi.json`) is compared in a test, so changes to the
//! contract are deliberate; schemathesis checks the live server against it.

pub mod schemas;

use super::guard::OPEN;
use axum::http::header;
use axum::response::IntoResponse;
use std::sync::OnceLock;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "rollback-host",
        description = "A Watcher-compatible (infra-optim v1) service that stores, applies and rolls back action plans.",
        license(name = "Apache-2.0")
    ),
    paths(
        super::root::root,
        super::root::v1,
        super::healthz,
        super::metrics::metrics,
        super::ui::index,
        super::ui::script,
        super::ui::style,
        document,
        super::action_plans::list,
        super::action_plans::detail,
        super::action_plans::show,
        super::action_plans::create,
        super::action_plans::patch,
        super::action_plans::delete,
        super::action_plans::start,
        super::rollback::rollback,
        super::graph::graph,
        super::actions::list,
        super::actions::detail,
        super::actions::show,
        super::actions::patch,
        super::plugins::list,
        super::plugins::show,
        super::plugins::upload,
        super::plugins::remove,
        super::cloud::show,
        super::cloud::replace,
    ),
    components(schemas(schemas::ErrorBody)),
    modifiers(&Conventions)
)]
struct ApiDoc;

/// The document.
pub fn document_json() -> &'static serde_json::Value {
    static DOC: OnceLock<serde_json::Value> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_value(ApiDoc::openapi()).expect("the document serializes"))
}

/// The OpenAPI document of this API.
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub(super) async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], document_json().to_string())
}

/// What every operation shares, added once: the error answers (Watcher's
/// error body), the token requirement of guarded routes, and the
/// trailing-slash twins of the collection routes.
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
        for (path, item) in doc.paths.paths.iter_mut() {
            let open = OPEN.contains(&path.as_str());
            for op in operations(item) {
                for (status, why) in ERRORS {
                    let guarded_only = matches!(*status, "401" | "403");
                    if open && guarded_only {
                        continue;
                    }
                    op.responses.responses.entry(status.to_string()).or_insert_with(|| error(why).into());
                }
                if !open {
                    op.security = Some(vec![SecurityRequirement::new("token", Vec::<String>::new())]);
                }
            }
        }
        for base in ["/v1", "/v1/action_plans", "/v1/actions", "/v1/plugins"] {
            if let Some(item) = doc.paths.paths.get(base).cloned() {
                let mut twin = item;
                for op in operations(&mut twin) {
                    op.operation_id = op.operation_id.as_ref().map(|id| format!("{id}_slash"));
                }
                doc.paths.paths.insert(format!("{base}/"), twin);
            }
        }
    }
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch, &mut item.head]
        .into_iter()
        .filter_map(|o| o.as_mut())
}
