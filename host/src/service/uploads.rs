//! Plugins uploaded over the API: checked, kept durably in the store, then
//! activated; restored at start; removed on request. On a shared store
//! (several instances) the uploads' digests are also kept in one document,
//! [`UPLOAD_INDEX`], which every instance polls ([`Service::sync_uploads`])
//! to load what another instance uploaded and drop what it removed.

use super::Service;
use crate::plugins::{Active, RegistryError, Source};
use rollback_store::StoreError;

/// The largest component accepted for upload (32 MiB).
pub const MAX_PLUGIN_BYTES: usize = crate::plugins::MAX_COMPONENT_BYTES;

/// Store blob names of uploads: `plugin/<action_type>`.
pub const BLOB_PREFIX: &str = "plugin/";

/// On a shared store, the document of every upload's type → sha256.
pub const UPLOAD_INDEX: &str = "plugin-uploads";

/// How often an instance on a shared store follows the upload index: an
/// upload or removal through one instance is active or gone on every other
/// within this and the compile time.
pub const UPLOAD_SYNC_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// The upload index as a map (empty when absent or unreadable).
fn index_of(doc: Option<serde_json::Value>) -> std::collections::BTreeMap<String, String> {
    doc.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default()
}

/// Sets (`Some`) or removes `action_type`'s digest in the upload index.
fn index_in(
    txn: &mut rollback_store::Txn<'_>,
    action_type: &str,
    sha256: Option<&str>,
) -> Result<(), StoreError> {
    if !txn.shared() {
        return Ok(());
    }
    let mut index = index_of(txn.document(UPLOAD_INDEX)?);
    match sha256 {
        Some(d) => index.insert(action_type.to_string(), d.to_string()),
        None => index.remove(action_type),
    };
    txn.put_document(UPLOAD_INDEX, serde_json::to_value(index).expect("a map serializes"));
    Ok(())
}

/// Why an upload or removal was refused.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The component was refused (it does not load, inverts another type,
    /// or is not pinned).
    #[error("Plugin refused: {0}")]
    Refused(#[from] RegistryError),
    /// No plugin inverts the type.
    #[error("No plugin inverts `{0}`.")]
    NotFound(String),
    /// The active plugin comes from the plugins directory, not an upload.
    #[error(
        "The plugin for `{action_type}` comes from the plugins directory ({file}); delete that file instead."
    )]
    FromDirectory {
        /// The type.
        action_type: String,
        /// The file it was loaded from.
        file: String,
    },
    /// As many types are uploaded as allowed.
    #[error("{max} plugin types are uploaded already, the most allowed; remove one first.")]
    TooMany {
        /// The cap.
        max: usize,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The blocking task did not finish.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Service {
    /// Checks `bytes` as the inverter of `action_type`, stores it durably,
    /// then activates it. Returns it and whether it replaced an upload.
    pub async fn upload_plugin(
        &self,
        action_type: String,
        bytes: Vec<u8>,
    ) -> Result<(Active, bool), UploadError> {
        // Uploads and removals take turns, so what is stored and what is
        // active stay the same whatever the interleaving. The turn goes with
        // the blocking work, not with the request: a request abandoned at its
        // deadline keeps the turn until its check, store and activation end.
        let turn = self.uploads.clone().lock_owned().await;
        let snapshot = self.registry.snapshot();
        let replaced = snapshot.get(&action_type).is_some_and(|a| a.source == Source::Upload);
        let uploaded = snapshot.values().filter(|a| a.source == Source::Upload).count();
        if !replaced && uploaded >= self.max_uploads {
            return Err(UploadError::TooMany { max: self.max_uploads });
        }
        let (registry, store) = (self.registry.clone(), self.store.clone());
        let active = tokio::task::spawn_blocking(move || {
            let _turn = turn;
            // Check first (nothing changes if refused), store durably, then activate.
            let plugin = registry.check(&action_type, &bytes)?;
            let name = format!("{BLOB_PREFIX}{action_type}");
            let digest = plugin.sha256().to_string();
            store.write(move |txn| {
                txn.put_blob(&name, bytes.clone());
                index_in(txn, &action_type, Some(&digest))
            })?;
            Ok::<_, UploadError>(registry.activate_upload(plugin))
        })
        .await
        .map_err(|e| UploadError::Internal(e.to_string()))??;
        Ok((active, replaced))
    }

    /// Removes the upload for `action_type` (durably first).
    pub async fn remove_plugin(&self, action_type: String) -> Result<(), UploadError> {
        let turn = self.uploads.clone().lock_owned().await;
        match self.registry.snapshot().get(&action_type).map(|a| a.source.clone()) {
            None => return Err(UploadError::NotFound(action_type)),
            Some(Source::Directory { file }) => {
                return Err(UploadError::FromDirectory { action_type, file: file.display().to_string() })
            }
            Some(Source::Upload) => {}
        }
        let (registry, store) = (self.registry.clone(), self.store.clone());
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            let name = format!("{BLOB_PREFIX}{action_type}");
            let ty = action_type.clone();
            store.write(move |txn| {
                txn.delete_blob(&name);
                index_in(txn, &ty, None)
            })?;
            registry.remove_upload(&action_type);
            Ok::<_, UploadError>(())
        })
        .await
        .map_err(|e| UploadError::Internal(e.to_string()))?
    }

    /// On a shared store: makes the uploads active here what the upload
    /// index says (what other instances uploaded or removed since). Returns
    /// the types loaded and removed. A plugin that does not load here is
    /// logged and skipped (it is tried again at the next sync).
    pub async fn sync_uploads(&self) -> Result<(Vec<String>, Vec<String>), UploadError> {
        let turn = self.uploads.clone().lock_owned().await;
        let (registry, store) = (self.registry.clone(), self.store.clone());
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            let Some(doc) = store.document(UPLOAD_INDEX)? else {
                // No upload through a shared store yet: nothing to follow.
                return Ok((Vec::new(), Vec::new()));
            };
            let index = index_of(Some(doc));
            let snapshot = registry.snapshot();
            let (mut loaded, mut removed) = (Vec::new(), Vec::new());
            for (ty, digest) in &index {
                let current = snapshot.get(ty).filter(|a| a.source == Source::Upload);
                if current.is_some_and(|a| a.plugin.sha256() == digest) {
                    continue;
                }
                let Some(bytes) = store.blob(&format!("{BLOB_PREFIX}{ty}"))? else { continue };
                match registry.check(ty, &bytes) {
                    Ok(plugin) if plugin.sha256() == digest => {
                        registry.activate_upload(plugin);
                        loaded.push(ty.clone());
                    }
                    Ok(_) => {} // replaced meanwhile: the next sync takes the new one
                    Err(e) => tracing::error!(action_type = %ty, "a plugin uploaded through another instance does not load here: {e}"),
                }
            }
            for (ty, active) in snapshot.iter() {
                if active.source == Source::Upload && !index.contains_key(ty) {
                    registry.remove_upload(ty);
                    removed.push(ty.clone());
                }
            }
            Ok::<_, UploadError>((loaded, removed))
        })
        .await
        .map_err(|e| UploadError::Internal(e.to_string()))?
    }

    /// Loads the plugins uploaded earlier. One that no longer loads (e.g. a
    /// contract this build refuses) is logged and skipped. Returns how many
    /// loaded.
    pub fn restore_uploads(&self) -> Result<usize, StoreError> {
        let mut loaded = 0;
        let mut index = std::collections::BTreeMap::new();
        for (name, bytes) in self.store.blobs(BLOB_PREFIX)? {
            let ty = name.trim_start_matches(BLOB_PREFIX);
            match self.registry.check(ty, &bytes) {
                Ok(plugin) => {
                    index.insert(ty.to_string(), plugin.sha256().to_string());
                    self.registry.activate_upload(plugin);
                    loaded += 1;
                }
                Err(e) => tracing::error!(action_type = ty, "uploaded plugin no longer loads: {e}"),
            }
        }
        if self.store.shared() && self.store.document(UPLOAD_INDEX)?.is_none() && !index.is_empty() {
            // Uploads copied in from a sled store: index them once, so that
            // instances follow them from now on.
            self.store.write(move |txn| {
                if txn.document(UPLOAD_INDEX)?.is_none() {
                    txn.put_document(UPLOAD_INDEX, serde_json::to_value(&index).expect("a map serializes"));
                }
                Ok::<_, StoreError>(())
            })?;
        }
        Ok(loaded)
    }
}
