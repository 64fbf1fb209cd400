//! TEST ONLY. A hostile plugin whose `invert` never returns: the host's CPU
//! deadline must stop it. Its metadata is well-behaved so that it loads.

use rollback_plugin_sdk::{export_inverter, json, Error, Executed, Inverse, Inverter, Metadata};

/// Loops forever in `invert`.
pub struct SpinForever;

impl Inverter for SpinForever {
    fn metadata() -> Metadata {
        Metadata::new("test_spin_forever", "0.0.0", "TEST ONLY: loops forever", json!({"type": "object"}))
    }

    fn invert(_action: &Executed) -> Result<Vec<Inverse>, Error> {
        let mut n: u64 = 0;
        loop {
            // A volatile read keeps the optimizer from proving the loop empty.
            n = unsafe { core::ptr::read_volatile(&n) }.wrapping_add(1);
        }
    }
}

export_inverter!(SpinForever);
