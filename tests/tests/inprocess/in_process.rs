//! Starting the service in process the way `rollback-host serve` starts it
//! (`server::start`), over a store a test has opened (and maybe written
//! to) first.

use rollback_host::plugins::Registry;
use rollback_host::server::{self, Cloud, Config, Running, StoreAt};
use rollback_host::service::Options;
use rollback_store::Store;

/// Starts the service over `store` on `rt`: recovery done, the simulated
/// cloud seeded (unless `cloud` is another driver). `registry` shares
/// plugins already compiled; `None` starts an empty one as `serve` would.
pub(crate) fn start(
    rt: &tokio::runtime::Runtime,
    store: &Store,
    registry: Option<&Registry>,
    options: Options,
    cloud: Cloud,
) -> Running {
    let config =
        Config { options, cloud, registry: registry.cloned(), ..Config::new(StoreAt::Open(store.clone())) };
    rt.block_on(server::start(config)).expect("the service starts")
}

/// [`start`] on the simulated cloud, with the built-in seed and no sleeps.
pub(crate) fn simulated(rt: &tokio::runtime::Runtime, store: &Store, registry: Option<&Registry>) -> Running {
    let options = Options { sleep_scale: 0.0, ..Options::default() };
    start(rt, store, registry, options, Cloud::Simulated { seed: None })
}
