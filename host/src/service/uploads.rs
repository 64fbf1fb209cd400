//! Plugins uploaded over the API: checked, kept durably in the store, then
//! activated; restored at start; removed on request.

use super::Service;
use crate::plugins::{Active, RegistryError, Source};
use rollback_store::StoreError;

/// The largest component accepted for upload (32 MiB).
pub const MAX_PLUGIN_BYTES: usize = crate::plugins::MAX_COMPONENT_BYTES;

/// Store blob names of uploads: `plugin/<action_type>`.
pub const BLOB_PREFIX: &str = "plugin/";

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
            store.write(move |txn| {
                txn.put_blob(&name, bytes.clone());
                Ok::<_, StoreError>(())
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
            store.write(move |txn| {
                txn.delete_blob(&name);
                Ok::<_, StoreError>(())
            })?;
            registry.remove_upload(&action_type);
            Ok::<_, UploadError>(())
        })
        .await
        .map_err(|e| UploadError::Internal(e.to_string()))?
    }

    /// Loads the plugins uploaded earlier. One that no longer loads (e.g. a
    /// contract this build refuses) is logged and skipped. Returns how many
    /// loaded.
    pub fn restore_uploads(&self) -> Result<usize, StoreError> {
        let mut loaded = 0;
        for (name, bytes) in self.store.blobs(BLOB_PREFIX)? {
            let ty = name.trim_start_matches(BLOB_PREFIX);
            match self.registry.check(ty, &bytes) {
                Ok(plugin) => {
                    self.registry.activate_upload(plugin);
                    loaded += 1;
                }
                Err(e) => tracing::error!(action_type = ty, "uploaded plugin no longer loads: {e}"),
            }
        }
        Ok(loaded)
    }
}
