//! On-disk cache of compiled components, for fast starts.
//!
//! Entries are keyed by the sha256 of the component's bytes and a digest of
//! the engine's `precompile_compatibility_hash` (wasmtime version, target,
//! settings), so a different build or configuration simply misses.
//!
//! # Safety contract
//! `Component::deserialize*` runs native code from the bytes it is given and
//! cannot validate them. This module therefore only ever deserializes:
//! - bytes that `Engine::precompile_component` produced in this process, or
//! - files in the cache directory, which only this module writes (to a
//!   temporary name, then an atomic rename) and which it creates with mode
//!   0700.
//!
//! Bytes from users (uploads, plugin files) are never deserialized: they are
//! compiled. Whoever can write to the cache directory can run code as the
//! service, exactly like whoever can replace its binary; keep it private.
//! A cache file that fails to load is treated as a miss and rewritten.
//! Entries are read into memory rather than mapped, so changing a file
//! never affects components already loaded from it.

use super::error::PluginError;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::component::Component;
use wasmtime::Engine;

/// A cache directory bound to one engine configuration.
pub(crate) struct Cache {
    dir: PathBuf,
    engine_key: String,
}

impl Cache {
    pub(crate) fn open(dir: &Path, engine: &Engine) -> std::io::Result<Cache> {
        std::fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        Ok(Cache { dir: dir.to_path_buf(), engine_key: format!("{:016x}", h.finish()) })
    }

    fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}-{}.cwasm", self.engine_key))
    }

    /// The compiled component for `bytes` (whose digest is `sha256`): from
    /// the cache when present and loadable, else compiled and cached.
    pub(crate) fn component(
        &self,
        engine: &Engine,
        sha256: &str,
        bytes: &[u8],
    ) -> Result<Component, PluginError> {
        let path = self.path(sha256);
        // Read, not mmap: a file-backed mapping would let anyone truncating
        // the file crash the process (SIGBUS) through components already
        // loaded from it.
        if let Ok(cached) = std::fs::read(&path) {
            // SAFETY: only this module writes files in the cache directory,
            // from `precompile_component` output (see the module docs).
            match unsafe { Component::deserialize(engine, &cached) } {
                Ok(c) => {
                    tracing::debug!(sha256, "compile cache hit");
                    return Ok(c);
                }
                Err(e) => {
                    tracing::warn!(file = %path.display(), "unusable compile cache entry, recompiling: {e:?}")
                }
            }
        }
        let compiled =
            engine.precompile_component(bytes).map_err(|e| PluginError::Invalid(format!("{e:?}")))?;
        // SAFETY: `compiled` was produced just now by this engine from the
        // component's own bytes.
        let component = unsafe { Component::deserialize(engine, &compiled) }
            .map_err(|e| PluginError::Invalid(format!("{e:?}")))?;
        // A name no other load (in this process or another) uses, and the
        // artifact synced before it is renamed in place and the rename synced.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = self.dir.join(format!(".{sha256}.{}.{n}.tmp", std::process::id()));
        let written = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            std::io::Write::write_all(&mut f, &compiled)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(&self.dir)?.sync_all()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            tracing::warn!(file = %path.display(), "cannot write the compile cache: {e}");
        }
        Ok(component)
    }
}
