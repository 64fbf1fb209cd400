//! TEST ONLY. A hostile plugin whose `invert` allocates without bound: the
//! host's memory cap must stop it. Its metadata is well-behaved so it loads.

use rollback_plugin_sdk::{export_inverter, json, Error, Executed, Inverse, Inverter, Metadata};

/// Allocates 1 MiB blocks in `invert` until something stops it.
pub struct GrowMemory;

impl Inverter for GrowMemory {
    fn metadata() -> Metadata {
        Metadata::new(
            "test_grow_memory",
            "0.0.0",
            "TEST ONLY: allocates without bound",
            json!({"type": "object"}),
        )
    }

    fn invert(_action: &Executed) -> Result<Vec<Inverse>, Error> {
        let mut blocks: Vec<Vec<u8>> = Vec::new();
        loop {
            // Touch every block so it is really committed.
            blocks.push(vec![0xA5; 1 << 20]);
            if blocks.len() == usize::MAX {
                return Ok(Vec::new());
            }
        }
    }
}

export_inverter!(GrowMemory);
