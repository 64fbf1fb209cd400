//! The one background thread that makes CPU deadlines tick.
//!
//! wasmtime checks, at function entries and loop back-edges, whether the
//! engine's epoch has passed the store's deadline. This thread advances the
//! epoch every [`EPOCH_TICK`]; each call sets its own deadline in ticks. The
//! thread holds only a weak reference and exits once the engine is dropped.

use super::limits::EPOCH_TICK;

/// Start the ticker for `engine`. Called once per engine.
pub(crate) fn start_ticker(engine: &wasmtime::Engine) -> std::io::Result<()> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("plugin-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(EPOCH_TICK);
            match weak.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => return,
            }
        })
        .map(drop)
}
