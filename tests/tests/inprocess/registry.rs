//! The plugin registry: a snapshot taken for a rollback in flight keeps its
//! plugin versions while uploads replace them.

use rollback_tests::plugin;

#[test]
fn a_taken_snapshot_keeps_its_versions_while_the_registry_changes() {
    use rollback_host::plugins::{Limits, Registry, Runtime};
    let registry = Registry::new(Runtime::new(Limits::default()).unwrap(), Default::default());
    let nop = std::fs::read(plugin("nop")).unwrap();
    registry.activate_upload(registry.check("nop", &nop).unwrap());
    let in_flight = registry.snapshot();
    let first = in_flight["nop"].plugin.sha256().to_string();
    let mut other = nop.clone();
    other.extend_from_slice(&[0, 5, 4, b'p', b'a', b'd', b'!']);
    registry.activate_upload(registry.check("nop", &other).unwrap());
    assert_ne!(registry.snapshot()["nop"].plugin.sha256(), first, "new callers get the new version");
    assert_eq!(in_flight["nop"].plugin.sha256(), first, "the in-flight snapshot still has the old one");
    registry.remove_upload("nop");
    assert!(registry.snapshot().is_empty());
    assert_eq!(in_flight["nop"].plugin.sha256(), first);
}
