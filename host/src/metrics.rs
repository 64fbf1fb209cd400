//! Prometheus metrics, served as text at `GET /metrics`.
//!
//! One process-wide set ([`METRICS`]) that the parts of the service record
//! into as things happen (requests, rollbacks, plugin calls, actions,
//! compile-cache lookups); the gauges that describe the store (plans by
//! state, size on disk) are computed when scraped, at most every
//! [`GAUGE_TTL`], since counting plans reads them all. Every series is
//! prefixed `rollback_`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

/// How long the store gauges of one scrape serve the next ones.
pub const GAUGE_TTL: Duration = Duration::from_secs(10);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Request {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Route {
    route: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionType {
    action_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Trap {
    action_type: String,
    cause: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Executed {
    action_type: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct State {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CloudCall {
    api: String,
    method: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Api {
    api: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// The service's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<Request, Counter>,
    request_seconds: Histograms<Route>,
    rollbacks: Family<Outcome, Counter>,
    invert_seconds: Histograms<ActionType>,
    plugin_traps: Family<Trap, Counter>,
    actions: Family<Executed, Counter>,
    plans: Family<State, Gauge>,
    store_bytes: Gauge,
    cache_hits: Counter,
    cache_misses: Counter,
    cloud_calls: Family<CloudCall, Counter>,
    cloud_retries: Family<Api, Counter>,
    gauges_at: Mutex<Option<Instant>>,
}

fn request_buckets() -> Histogram {
    // 0.5 ms … ~8 s
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

fn invert_buckets() -> Histogram {
    // 50 µs … ~0.8 s (the default plugin deadline is 100 ms)
    Histogram::new(exponential_buckets(0.00005, 2.0, 15))
}

/// The process's metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Self {
        let mut m = Metrics {
            registry: Registry::with_prefix("rollback"),
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(request_buckets),
            rollbacks: Family::default(),
            invert_seconds: Family::new_with_constructor(invert_buckets),
            plugin_traps: Family::default(),
            actions: Family::default(),
            plans: Family::default(),
            store_bytes: Gauge::default(),
            cache_hits: Counter::default(),
            cache_misses: Counter::default(),
            cloud_calls: Family::default(),
            cloud_retries: Family::default(),
            gauges_at: Mutex::new(None),
        };
        let registry = &mut m.registry;
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            m.requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method",
            m.request_seconds.clone(),
        );
        registry.register(
            "rollbacks",
            "Rollback requests by outcome: created, dry_run, refused (4xx), error (5xx)",
            m.rollbacks.clone(),
        );
        registry.register(
            "plugin_invert_duration_seconds",
            "Time of one plugin invert call (instantiation included), by action type",
            m.invert_seconds.clone(),
        );
        registry.register(
            "plugin_traps",
            "Plugin calls stopped by the sandbox, by action type and cause (deadline, memory, trap, instantiate, output)",
            m.plugin_traps.clone(),
        );
        registry.register(
            "actions_executed",
            "Actions the applier ran to a final state (SUCCEEDED, FAILED, SKIPPED), by action type and state; actions cancelled before they ran are not counted",
            m.actions.clone(),
        );
        registry.register(
            "action_plans",
            "Action plans in the store by state (deleted ones excluded)",
            m.plans.clone(),
        );
        registry.register("store_size_bytes", "Bytes the store takes on disk", m.store_bytes.clone());
        registry.register(
            "compile_cache_hits",
            "Plugins loaded from the compile cache",
            m.cache_hits.clone(),
        );
        registry.register(
            "compile_cache_misses",
            "Plugins compiled because the cache had no usable entry",
            m.cache_misses.clone(),
        );
        registry.register(
            "cloud_api_calls",
            "Calls the OpenStack driver made, by service (identity, compute, block-storage, baremetal), method and status (the HTTP status, or unreachable)",
            m.cloud_calls.clone(),
        );
        registry.register(
            "cloud_api_retries",
            "Calls to OpenStack repeated after a transient failure, by service",
            m.cloud_retries.clone(),
        );
        m
    }

    /// One call to an OpenStack service; `status` is the HTTP status or
    /// `unreachable`.
    pub fn cloud_call(&self, api: &str, method: &str, status: &str) {
        let label =
            CloudCall { api: api.to_string(), method: method.to_string(), status: status.to_string() };
        self.cloud_calls.get_or_create(&label).inc();
    }

    /// A call repeated after a transient failure.
    pub fn cloud_retry(&self, api: &str) {
        self.cloud_retries.get_or_create(&Api { api: api.to_string() }).inc();
    }

    /// An answered request: `route` is the matched route template (or
    /// `unmatched`), so labels stay few whatever paths clients send.
    pub fn request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let (route, method) = (route.to_string(), method.to_string());
        self.requests.get_or_create(&Request { route: route.clone(), method: method.clone(), status }).inc();
        self.request_seconds.get_or_create(&Route { route, method }).observe(seconds);
    }

    /// A rollback request's outcome.
    pub fn rollback(&self, outcome: &str) {
        self.rollbacks.get_or_create(&Outcome { outcome: outcome.to_string() }).inc();
    }

    /// One invert call and, when the sandbox stopped it, why.
    pub fn invert(&self, action_type: &str, seconds: f64, trap: Option<&str>) {
        let action_type = action_type.to_string();
        self.invert_seconds.get_or_create(&ActionType { action_type: action_type.clone() }).observe(seconds);
        if let Some(cause) = trap {
            self.plugin_traps.get_or_create(&Trap { action_type, cause: cause.to_string() }).inc();
        }
    }

    /// An action that reached its final state.
    pub fn action_finished(&self, action_type: &str, state: &str) {
        self.actions
            .get_or_create(&Executed { action_type: action_type.to_string(), state: state.to_string() })
            .inc();
    }

    /// A compile-cache lookup.
    pub fn compile_cache(&self, hit: bool) {
        if hit {
            self.cache_hits.inc();
        } else {
            self.cache_misses.inc();
        }
    }

    /// Whether the store gauges are older than [`GAUGE_TTL`] (and, if so,
    /// marks them as being refreshed now).
    pub fn gauges_stale(&self) -> bool {
        let mut at = self.gauges_at.lock().unwrap_or_else(|p| p.into_inner());
        match *at {
            Some(t) if t.elapsed() < GAUGE_TTL => false,
            _ => {
                *at = Some(Instant::now());
                true
            }
        }
    }

    /// Sets the store gauges: plans per state (every state named, zero
    /// included) and size on disk.
    pub fn set_store(&self, plans_by_state: &[(&str, i64)], size_bytes: u64) {
        for (state, n) in plans_by_state {
            self.plans.get_or_create(&State { state: state.to_string() }).set(*n);
        }
        self.store_bytes.set(i64::try_from(size_bytes).unwrap_or(i64::MAX));
    }

    /// Everything, in the Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String");
        out
    }
}
