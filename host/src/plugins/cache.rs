//! On-disk cache of compiled components, for fast starts.
//!
//! Entries are keyed by the sha256 of the component's bytes and a digest of
//! the engine's `precompile_compatibility_hash` (wasmtime version, target,
//! settings), so a different build or configuration simply misses.
//!
//! # Safety contract
//! `Component::deserialize*` runs native code from the bytes it is given and
//! cannot validate them. This module therefore only ever deserializes:
//! - bytes that `Engine::precompile_component` produced in this process
//!   ([`deserialize_own`]), or in a compile worker: this service's own
//!   executable, started by this process, the bytes read from a pipe only
//!   the two hold (see the `compile` module); a worker built from another
//!   wasmtime or with other settings is caught by `deserialize`'s own
//!   compatibility check, or
//! - a cache file whose tag verifies: every file is
//!   `HMAC-SHA256(key, engine ‖ source sha256 ‖ artifact) ‖ artifact`, with
//!   a 32-byte key the service keeps in its store (never in the cache
//!   directory). A file planted by someone who can write the directory but
//!   does not have the key, or one plugin's artifact copied under another's
//!   name (the source digest is in the tag), does not verify: it is a miss,
//!   the component is compiled from its own bytes and the file rewritten.
//!
//! The directory must be private: it is created with mode 0700, and one
//! that is group- or world-writable or owned by another user is refused.
//! Files are written only after every load-time check passed, to a unique
//! temporary name, fsynced, renamed, and the rename fsynced. Entries no
//! active plugin uses are evicted ([`Cache::evict_except`]). Bytes from
//! users are never deserialized: they are compiled. Entries are read into
//! memory rather than mapped, so changing a file never affects components
//! already loaded from it.

use super::error::PluginError;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::component::Component;
use wasmtime::Engine;

/// A cache directory bound to one engine configuration and one key.
pub(crate) struct Cache {
    dir: PathBuf,
    engine_key: String,
    key: [u8; 32],
}

/// Length of the tag at the head of every cache file.
const TAG: usize = 32;

impl Cache {
    pub(crate) fn open(dir: &Path, engine: &Engine, key: [u8; 32]) -> std::io::Result<Cache> {
        std::fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            let meta = std::fs::metadata(dir)?;
            // Whoever owns the directory could swap entries: it must be us.
            let probe = dir.join(format!(".owner.{}", std::process::id()));
            std::fs::write(&probe, b"")?;
            let ours = std::fs::metadata(&probe)?.uid();
            let _ = std::fs::remove_file(&probe);
            if meta.uid() != ours {
                return Err(std::io::Error::other(format!(
                    "{} is owned by uid {}, not by this service (uid {ours}); refusing to load code from it",
                    dir.display(),
                    meta.uid()
                )));
            }
            if meta.mode() & 0o022 != 0 {
                return Err(std::io::Error::other(format!(
                    "{} is group- or world-writable (mode {:o}); make it private (chmod 700) or choose another --compile-cache",
                    dir.display(),
                    meta.mode() & 0o7777
                )));
            }
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        Ok(Cache { dir: dir.to_path_buf(), engine_key: format!("{:016x}", h.finish()), key })
    }

    fn mac(&self, sha256: &str, artifact: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(self.engine_key.as_bytes());
        mac.update(b"\0");
        mac.update(sha256.as_bytes());
        mac.update(b"\0");
        mac.update(artifact);
        mac
    }

    fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}-{}.cwasm", self.engine_key))
    }

    /// The cached compiled component of digest `sha256` for `engine`, when
    /// an entry verifies (counted as a cache hit).
    pub(crate) fn lookup(&self, engine: &Engine, sha256: &str) -> Option<Component> {
        let path = self.path(sha256);
        // Read, not mmap: a file-backed mapping would let anyone truncating
        // the file crash the process (SIGBUS) through components already
        // loaded from it.
        let file = std::fs::read(&path).ok()?;
        match file.split_at_checked(TAG) {
            Some((tag, artifact)) if self.mac(sha256, artifact).verify_slice(tag).is_ok() => {
                // SAFETY: the tag verifies, so this module wrote these
                // bytes from `precompile_component` output for this
                // very component under this engine (see the module docs).
                match unsafe { Component::deserialize(engine, artifact) } {
                    Ok(c) => {
                        tracing::debug!(sha256, "compile cache hit");
                        crate::metrics::METRICS.compile_cache(true);
                        return Some(c);
                    }
                    Err(e) => tracing::warn!(file = %path.display(), "unusable compile cache entry: {e:?}"),
                }
            }
            _ => tracing::warn!(
                file = %path.display(),
                "compile cache entry does not verify (not written by this service for this component); compiling"
            ),
        }
        None
    }

    /// Writes a compiled artifact (call only after the component passed
    /// every load-time check).
    pub(crate) fn store(&self, sha256: &str, artifact: &[u8]) {
        let path = self.path(sha256);
        // A name no other load (in this process or another) uses, and the
        // file synced before it is renamed in place and the rename synced.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = self.dir.join(format!(".{sha256}.{}.{n}.tmp", std::process::id()));
        let tag = self.mac(sha256, artifact).finalize().into_bytes();
        let written = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            std::io::Write::write_all(&mut f, &tag)?;
            std::io::Write::write_all(&mut f, artifact)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(&self.dir)?.sync_all()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            tracing::warn!(file = %path.display(), "cannot write the compile cache: {e}");
        }
    }

    /// Removes the entries (of any engine) of components not in `keep`
    /// (source digests), and stray temporary files.
    pub(crate) fn evict_except(&self, keep: &std::collections::HashSet<String>) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return 0 };
        let mut removed = 0;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let source = name.strip_suffix(".cwasm").and_then(|n| n.split('-').next());
            let stale = match source {
                Some(sha) => !keep.contains(sha),
                None => name.ends_with(".tmp"),
            };
            if stale && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        removed
    }
}

/// The component of an artifact compiled for `engine` in this process or
/// by one of its compile workers (never bytes from anywhere else).
pub(crate) fn deserialize_own(engine: &Engine, artifact: &[u8]) -> Result<Component, PluginError> {
    // SAFETY: `artifact` is `precompile_component` output from this
    // process or its compile worker, for this very component (see the
    // module docs); a mismatched engine is refused by `deserialize`.
    unsafe { Component::deserialize(engine, artifact) }.map_err(|e| PluginError::Invalid(format!("{e:?}")))
}
