//! Hand-written components (WAT) that break the contract in one way each.

/// Compiles WAT text (a core module or a component) to bytes.
pub fn wat(text: &str) -> Vec<u8> {
    wat::parse_str(text).expect("test WAT parses")
}

/// Imports a WASI interface, as every wasip2 build does.
pub fn wasi_import() -> Vec<u8> {
    wat(r#"(component
        (import "wasi:cli/environment@0.2.0" (instance
            (export "get-arguments" (func (result (list string))))))
    )"#)
}

/// A component whose only export is the function `hello`.
pub fn wrong_export() -> Vec<u8> {
    wat(r#"(component
        (core module $m (func (export "f")))
        (core instance $i (instantiate $m))
        (func $f (canon lift (core func $i "f")))
        (export "hello" (func $f))
    )"#)
}

/// Exports an instance named `interface` whose `metadata` takes and returns
/// nothing, and which has no `invert`.
pub fn inverter_with_wrong_signature(interface: &str) -> Vec<u8> {
    wat(&format!(
        r#"(component
        (core module $m (func (export "f")))
        (core instance $i (instantiate $m))
        (func $f (canon lift (core func $i "f")))
        (instance $inst (export "metadata" (func $f)))
        (export "{interface}" (instance $inst))
    )"#
    ))
}

/// Imports the contract's `log` at a version this host does not speak.
pub fn log_import_at(version: &str) -> Vec<u8> {
    wat(&format!(
        r#"(component
        (import "watcher:rollback/log@{version}" (instance
            (export "log" (func (param "message" string)))))
    )"#
    ))
}
