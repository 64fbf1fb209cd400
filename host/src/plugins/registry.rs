//! The active inverter per action type, changeable at run time.
//!
//! Two sources feed it: a plugins directory (polled; adding, replacing or
//! deleting a `*.wasm` takes effect within a second) and uploads over the
//! REST API (kept in the store, so they survive restarts). An upload for a
//! type wins over the directory's. Changes swap a whole new snapshot in
//! atomically; a caller that took a [`Snapshot`] (a rollback in flight)
//! keeps using the versions it started with. A file or upload that fails to
//! load is refused and the previous version stays active.

use super::{LoadedPlugin, PluginError, Runtime};
use crate::action_types::{builtin_validator, Validator};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

/// Where an active plugin came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Source {
    /// A file in the plugins directory.
    Directory {
        /// The file.
        file: PathBuf,
    },
    /// Uploaded with `PUT /v1/plugins/{action_type}`.
    Upload,
}

/// One active plugin.
#[derive(Debug, Clone)]
pub struct Active {
    /// The loaded component.
    pub plugin: LoadedPlugin,
    /// Where it came from.
    pub source: Source,
    /// When it became active.
    pub loaded_at: DateTime<Utc>,
}

/// An immutable view of the active plugins.
pub type Snapshot = Arc<BTreeMap<String, Active>>;

/// The validator for `action_type`: the active plugin's, else the built-in
/// fallback; `None` when neither knows the type.
pub fn validator_for(plugins: &Snapshot, action_type: &str) -> Option<Validator> {
    match plugins.get(action_type) {
        Some(active) => Some(active.plugin.validator().clone()),
        None => builtin_validator(action_type),
    }
}

/// The registry. Cheap to clone.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

struct Inner {
    runtime: Runtime,
    active: RwLock<Snapshot>,
    sources: Mutex<Sources>,
    /// Held for a whole directory scan, so two scans never interleave.
    scanning: Mutex<()>,
    pins: BTreeMap<String, Vec<String>>,
}

#[derive(Default)]
struct Sources {
    directory: BTreeMap<String, Active>,
    uploads: BTreeMap<String, Active>,
    /// What the directory held at the last scan: file → (mtime, size, type).
    seen: BTreeMap<PathBuf, (Option<SystemTime>, u64, Option<String>)>,
}

/// What a scan remembers of a file to notice a change: mtime and size.
type Stat = (Option<SystemTime>, u64);

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The component itself was refused.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// The component inverts another type than the one it was uploaded for.
    #[error("the component inverts `{found}`, not `{expected}`")]
    WrongType {
        /// The type in the URL.
        expected: String,
        /// The type in its metadata.
        found: String,
    },
    /// Its sha256 is not among the pinned digests for its type.
    #[error("sha256 {sha256} is not among the digests pinned for `{action_type}`")]
    NotPinned {
        /// The type.
        action_type: String,
        /// The component's digest.
        sha256: String,
    },
}

impl Registry {
    /// An empty registry over `runtime`. `pins` optionally lists, per action
    /// type, the only sha256 digests that may be loaded for it.
    pub fn new(runtime: Runtime, pins: BTreeMap<String, Vec<String>>) -> Self {
        Registry {
            inner: Arc::new(Inner {
                runtime,
                active: RwLock::new(Arc::new(BTreeMap::new())),
                sources: Mutex::new(Sources::default()),
                scanning: Mutex::new(()),
                pins,
            }),
        }
    }

    /// The runtime its plugins are loaded by.
    pub fn runtime(&self) -> &Runtime {
        &self.inner.runtime
    }

    /// The active plugins now.
    pub fn snapshot(&self) -> Snapshot {
        self.inner.active.read().expect("registry lock").clone()
    }

    fn publish(&self, sources: &Sources) {
        let mut merged = sources.directory.clone();
        merged.extend(sources.uploads.iter().map(|(k, v)| (k.clone(), v.clone())));
        *self.inner.active.write().expect("registry lock") = Arc::new(merged);
    }

    fn check_pin(&self, plugin: &LoadedPlugin) -> Result<(), RegistryError> {
        let ty = &plugin.metadata().action_type;
        match self.inner.pins.get(ty) {
            Some(allowed) if !allowed.iter().any(|d| d.eq_ignore_ascii_case(plugin.sha256())) => {
                Err(RegistryError::NotPinned { action_type: ty.clone(), sha256: plugin.sha256().into() })
            }
            _ => Ok(()),
        }
    }

    /// Loads `bytes` as a candidate for `action_type` without activating
    /// it: every check an upload must pass.
    pub fn check(&self, action_type: &str, bytes: &[u8]) -> Result<LoadedPlugin, RegistryError> {
        let plugin = self.inner.runtime.load(bytes, &format!("upload for {action_type}"))?;
        let found = &plugin.metadata().action_type;
        if found != action_type {
            return Err(RegistryError::WrongType { expected: action_type.into(), found: found.clone() });
        }
        self.check_pin(&plugin)?;
        Ok(plugin)
    }

    /// Makes a checked plugin (see [`Registry::check`]) the upload for its
    /// action type.
    pub fn activate_upload(&self, plugin: LoadedPlugin) -> Active {
        let action_type = plugin.metadata().action_type.clone();
        let active = Active { plugin, source: Source::Upload, loaded_at: Utc::now() };
        let mut sources = self.inner.sources.lock().expect("registry lock");
        sources.uploads.insert(action_type.clone(), active.clone());
        self.publish(&sources);
        tracing::info!(action_type = %action_type, sha256 = active.plugin.sha256(), "uploaded plugin active");
        active
    }

    /// Removes the upload for `action_type` (the directory's version, if
    /// any, becomes active again). Returns whether there was one.
    pub fn remove_upload(&self, action_type: &str) -> bool {
        let mut sources = self.inner.sources.lock().expect("registry lock");
        let had = sources.uploads.remove(action_type).is_some();
        self.publish(&sources);
        had
    }

    /// Scans `dir` once: loads new and changed `*.wasm` files, drops the
    /// types of deleted ones. A file that fails to load is logged and the
    /// previous version of its type stays. Compiling happens outside the
    /// lock that uploads take, so an upload never waits for a scan's compile.
    pub fn scan(&self, dir: &Path) {
        let _one_scan_at_a_time = self.inner.scanning.lock().expect("scan lock");
        let mut files: BTreeMap<PathBuf, Stat> = BTreeMap::new();
        match std::fs::read_dir(dir) {
            Ok(entries) => {
                for e in entries.flatten() {
                    let path = e.path();
                    if path.extension().is_some_and(|x| x == "wasm") {
                        if let Ok(m) = e.metadata() {
                            files.insert(path, (m.modified().ok(), m.len()));
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(dir = %dir.display(), "cannot read the plugins directory: {e}");
                return;
            }
        }
        // What changed, under the lock; scans do not interleave, so `seen` holds still.
        let changed_files: Vec<(PathBuf, Stat)> = {
            let sources = self.inner.sources.lock().expect("registry lock");
            files
                .iter()
                .filter(|(path, (mtime, len))| {
                    !matches!(sources.seen.get(*path), Some((m, l, _)) if m == mtime && l == len)
                })
                .map(|(p, s)| (p.clone(), *s))
                .collect()
        };
        // Compile without the lock, a file per core at once (compiles
        // themselves still take turns: see `Runtime::load`).
        let loaded: Vec<(PathBuf, Stat, Result<LoadedPlugin, String>)> =
            in_parallel(changed_files, |(path, stat)| {
                let started = std::time::Instant::now();
                let result = read_capped(&path)
                    .and_then(|b| {
                        self.inner.runtime.load(&b, &path.display().to_string()).map_err(|e| e.to_string())
                    })
                    .and_then(|p| self.check_pin(&p).map(|()| p).map_err(|e| e.to_string()));
                if let Ok(plugin) = &result {
                    tracing::info!(
                        action_type = %plugin.metadata().action_type,
                        file = %path.display(),
                        sha256 = plugin.sha256(),
                        millis = started.elapsed().as_millis() as u64,
                        "plugin loaded"
                    );
                }
                (path, stat, result)
            });

        let mut sources = self.inner.sources.lock().expect("registry lock");
        let mut changed = false;
        // Deleted files.
        let gone: Vec<PathBuf> = sources.seen.keys().filter(|p| !files.contains_key(*p)).cloned().collect();
        for path in gone {
            if let Some((_, _, Some(ty))) = sources.seen.remove(&path) {
                if matches!(sources.directory.get(&ty), Some(a) if a.source == (Source::Directory { file: path.clone() }))
                {
                    sources.directory.remove(&ty);
                    tracing::info!(action_type = %ty, file = %path.display(), "plugin file deleted; type removed");
                    changed = true;
                }
            }
        }
        // New or changed files.
        for (path, (mtime, len), result) in loaded {
            match result {
                Ok(plugin) => {
                    let ty = plugin.metadata().action_type.clone();
                    let source = Source::Directory { file: path.clone() };
                    // The file used to provide another type: that type leaves with it.
                    if let Some((_, _, Some(old))) = sources.seen.get(&path) {
                        if *old != ty && sources.directory.get(old).is_some_and(|a| a.source == source) {
                            let old = old.clone();
                            sources.directory.remove(&old);
                        }
                    }
                    let active = Active { plugin, source, loaded_at: Utc::now() };
                    sources.directory.insert(ty.clone(), active);
                    sources.seen.insert(path, (mtime, len, Some(ty)));
                    changed = true;
                }
                Err(e) => {
                    tracing::error!(file = %path.display(), "plugin refused: {e}; the previous version stays active");
                    let ty = sources.seen.get(&path).and_then(|s| s.2.clone());
                    sources.seen.insert(path, (mtime, len, ty));
                }
            }
        }
        if changed {
            self.publish(&sources);
        }
    }

    /// Scans `dir` now and then every `every` on a background thread, for
    /// as long as the registry lives.
    pub fn watch(&self, dir: PathBuf, every: Duration) -> std::io::Result<()> {
        self.scan(&dir);
        let weak = Arc::downgrade(&self.inner);
        std::thread::Builder::new().name("plugins-watch".into()).spawn(move || loop {
            std::thread::sleep(every);
            let Some(inner) = weak.upgrade() else { return };
            Registry { inner }.scan(&dir);
        })?;
        Ok(())
    }
}

/// Reads a plugin file, refusing one over [`super::MAX_COMPONENT_BYTES`]
/// before reading it.
fn read_capped(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let max = super::MAX_COMPONENT_BYTES;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(max as u64 + 1).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    if bytes.len() > max {
        return Err(format!("the file is over {max} bytes, the most a plugin may be"));
    }
    Ok(bytes)
}

/// `f` of every item, in order, on up to one thread per core.
fn in_parallel<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(items.len());
    if threads <= 1 {
        return items.into_iter().map(f).collect();
    }
    let queue = Mutex::new(items.into_iter().enumerate());
    let mut done: Vec<(usize, R)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let next = queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).next();
                        match next {
                            Some((i, item)) => done.push((i, f(item))),
                            None => return done,
                        }
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}
