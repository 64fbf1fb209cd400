//! `--auth tokens`: a file of static tokens for small sites without
//! Keystone. The file holds each token's sha256, never the token:
//!
//! ```yaml
//! tokens:
//!   - name: ci            # shown in logs instead of the token
//!     sha256: 9f86d08...  # `rollback-host token-hash` prints it
//!     roles: [admin]
//! ```
//!
//! A presented token is hashed and compared with every entry in constant
//! time (no early exit), so timing tells nothing about which bytes matched.

use super::Identity;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use subtle::ConstantTimeEq;

/// A tokens file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokensError {
    /// Unreadable.
    #[error("cannot read the tokens file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not the documented shape.
    #[error("tokens file {path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    tokens: Vec<Entry>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    sha256: String,
    roles: Vec<String>,
    #[serde(default)]
    project_id: Option<String>,
}

/// The loaded tokens.
#[derive(Debug, Clone)]
pub struct StaticTokens {
    entries: Vec<([u8; 32], Identity)>,
}

impl StaticTokens {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<StaticTokens, TokensError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| TokensError::Read { path: path.into(), source })?;
        StaticTokens::parse(&text, path)
    }

    /// Parses `text` (`path` names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<StaticTokens, TokensError> {
        let invalid = |reason: String| TokensError::Invalid { path: path.into(), reason };
        let file: File = serde_yaml_ng::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if file.tokens.is_empty() {
            return Err(invalid("no tokens: nobody could use the service".into()));
        }
        let mut entries = Vec::with_capacity(file.tokens.len());
        for e in file.tokens {
            let digest: [u8; 32] = hex::decode(e.sha256.trim())
                .ok()
                .and_then(|d| d.try_into().ok())
                .ok_or_else(|| invalid(format!("token {:?}: sha256 is not 64 hex digits", e.name)))?;
            if entries.iter().any(|(d, _)| d == &digest) {
                return Err(invalid(format!("token {:?}: the same token appears twice", e.name)));
            }
            if e.roles.is_empty() {
                return Err(invalid(format!("token {:?}: no roles", e.name)));
            }
            let identity = Identity {
                user: e.name,
                project_id: e.project_id,
                roles: e.roles.iter().map(|r| r.to_ascii_lowercase()).collect(),
            };
            entries.push((digest, identity));
        }
        Ok(StaticTokens { entries })
    }

    /// The identity `token` belongs to, if any.
    pub fn identify(&self, token: &str) -> Option<Identity> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for (d, identity) in &self.entries {
            if bool::from(d.ct_eq(&digest)) {
                found = Some(identity);
            }
        }
        found.cloned()
    }

    /// How many tokens are configured.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none (never true once loaded).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The sha256 hex of a token, as the file stores it.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(entries: &str) -> Result<StaticTokens, TokensError> {
        StaticTokens::parse(entries, Path::new("tokens.yaml"))
    }

    #[test]
    fn a_token_is_known_by_its_hash_only() {
        let text = format!(
            "tokens:\n  - name: ci\n    sha256: {}\n    roles: [Admin]\n  - name: ro\n    sha256: {}\n    roles: [reader]\n",
            hash_token("s3cret"),
            hash_token("r3ad")
        );
        assert!(!text.contains("s3cret"));
        let t = file(&text).unwrap();
        let ci = t.identify("s3cret").unwrap();
        assert_eq!((ci.user.as_str(), ci.roles.as_slice()), ("ci", &["admin".to_string()][..]));
        assert_eq!(t.identify("r3ad").unwrap().user, "ro");
        assert!(t.identify("s3cre").is_none());
        assert!(t.identify("").is_none());
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        let e = file("tokens: []").unwrap_err().to_string();
        assert!(e.contains("no tokens"), "{e}");
        let e = file("tokens:\n  - {name: a, sha256: abc, roles: [admin]}").unwrap_err().to_string();
        assert!(e.contains("not 64 hex digits"), "{e}");
        let h = hash_token("x");
        let e = file(&format!("tokens:\n  - {{name: a, sha256: {h}, roles: []}}")).unwrap_err().to_string();
        assert!(e.contains("no roles"), "{e}");
        let e = file(&format!(
            "tokens:\n  - {{name: a, sha256: {h}, roles: [a]}}\n  - {{name: b, sha256: {h}, roles: [a]}}"
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("twice"), "{e}");
        let e = file(&format!("tokens:\n  - {{name: a, token: {h}, roles: [a]}}")).unwrap_err().to_string();
        assert!(e.contains("unknown field"), "{e}");
    }
}
