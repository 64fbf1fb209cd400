//! Load-time checks of a component's shape: what it imports and exports.
//!
//! A plugin may import only the contract's `log` (and the types-only
//! `types` interface it pulls in) and must export the contract's `inverter`,
//! at a version compatible with this host; it may also export
//! `batch-inverter` (0.1.1). Anything else, notably any WASI import, is
//! refused with the offending name before anything runs.

use super::bindings::{BATCH_INTERFACE, CONTRACT_PACKAGE, CONTRACT_VERSION};
use super::error::PluginError;
use wasmtime::component::Component;
use wasmtime::Engine;

/// Interfaces of the contract a plugin may import.
const IMPORTABLE: &[&str] = &["log", "types"];
/// The interface a plugin must export.
const EXPORTED: &str = "inverter";

/// A component import or export name split into its parts, e.g.
/// `watcher:rollback/log@0.1.0` → (`watcher:rollback`, `log`, `0.1.0`).
struct InterfaceName<'a> {
    package: &'a str,
    interface: &'a str,
    version: Option<&'a str>,
}

fn parse_name(name: &str) -> Option<InterfaceName<'_>> {
    let (path, version) = match name.split_once('@') {
        Some((p, v)) => (p, Some(v)),
        None => (name, None),
    };
    let (package, interface) = path.rsplit_once('/')?;
    Some(InterfaceName { package, interface, version })
}

/// The semver range of the contract this host accepts: `^0.1` means
/// 0.1.x, the usual rule for a 0.y version.
fn supported_range() -> String {
    let host = semver::Version::parse(CONTRACT_VERSION).expect("CONTRACT_VERSION is semver");
    format!("{CONTRACT_PACKAGE}@{}.{}.x", host.major, host.minor)
}

fn compatible(version: &str) -> bool {
    let host = semver::Version::parse(CONTRACT_VERSION).expect("CONTRACT_VERSION is semver");
    let Ok(v) = semver::Version::parse(version) else {
        return false;
    };
    // Cargo's caret rule: for 0.y.z, same y; for x.y.z (x > 0), same x.
    if host.major == 0 {
        v.major == 0 && v.minor == host.minor
    } else {
        v.major == host.major
    }
}

/// Checks the version of one contract name; returns it when usable.
fn check_contract_name(name: &InterfaceName<'_>) -> Result<String, PluginError> {
    let version = name.version.unwrap_or("(no version)");
    if !compatible(version) {
        return Err(PluginError::IncompatibleContract {
            found: format!("{}@{version}", name.package),
            supported: supported_range(),
        });
    }
    Ok(version.to_string())
}

/// What the checks found.
pub(crate) struct Shape {
    /// The contract version the component's `inverter` was built against.
    pub(crate) version: String,
    /// The full export name of its `batch-inverter`, when it has one.
    pub(crate) batch: Option<String>,
}

/// Verifies imports and exports.
pub(crate) fn check(engine: &Engine, component: &Component) -> Result<Shape, PluginError> {
    let ty = component.component_type();
    let allowed = format!("{CONTRACT_PACKAGE}/log@{CONTRACT_VERSION}");

    for (import, _) in ty.imports(engine) {
        let parsed =
            parse_name(import).filter(|n| n.package == CONTRACT_PACKAGE && IMPORTABLE.contains(&n.interface));
        match parsed {
            Some(name) => {
                check_contract_name(&name)?;
            }
            None => return Err(PluginError::ForbiddenImport { name: import.to_string(), allowed }),
        }
    }

    let mut found = Vec::new();
    let (mut version, mut batch) = (None, None);
    for (export, _) in ty.exports(engine) {
        found.push(export.to_string());
        if let Some(name) = parse_name(export) {
            if name.package == CONTRACT_PACKAGE && name.interface == EXPORTED {
                version = Some(check_contract_name(&name)?);
            } else if name.package == CONTRACT_PACKAGE && name.interface == BATCH_INTERFACE {
                check_contract_name(&name)?;
                batch = Some(export.to_string());
            }
        }
    }
    let version = version.ok_or_else(|| PluginError::MissingExport {
        expected: format!("{CONTRACT_PACKAGE}/{EXPORTED}@{CONTRACT_VERSION}"),
        found: if found.is_empty() { "nothing".into() } else { found.join(", ") },
    })?;
    Ok(Shape { version, batch })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_into_package_interface_version() {
        let n = parse_name("wasi:cli/environment@0.2.0").unwrap();
        assert_eq!((n.package, n.interface, n.version), ("wasi:cli", "environment", Some("0.2.0")));
        assert!(parse_name("log").is_none(), "a bare function name is not an interface");
    }

    #[test]
    fn only_same_minor_zero_versions_are_compatible() {
        assert!(compatible("0.1.0"));
        assert!(compatible("0.1.7"));
        assert!(!compatible("0.2.0"));
        assert!(!compatible("1.1.0"));
        assert!(!compatible("0.1"), "a version must be full semver");
    }
}
