//! Write to the host's log, tagged with this plugin's action type. Natively
//! (in unit tests) lines go to stderr instead.

use crate::bindings::watcher::rollback::log::Level;

fn write(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    crate::bindings::watcher::rollback::log::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{level:?}] {message}");
}

/// Very detailed tracing.
pub fn trace(message: &str) {
    write(Level::Trace, message)
}

/// Debugging detail.
pub fn debug(message: &str) {
    write(Level::Debug, message)
}

/// Normal operation.
pub fn info(message: &str) {
    write(Level::Info, message)
}

/// Something odd, but the call goes on.
pub fn warn(message: &str) {
    write(Level::Warn, message)
}

/// Something failed. The host attaches the last such line to a trap report.
pub fn error(message: &str) {
    write(Level::Error, message)
}
