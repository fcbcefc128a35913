//! The service's secrets and the audit signing key: from the environment, or generated once
//! into files under the data directory (0600), never into the database.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{Config, var};

/// The service's secrets. Start-up refuses any that is missing or shorter than
/// [`Secrets::MIN_BYTES`]; `Debug` shows none of them, so a log line cannot leak one.
#[derive(Clone)]
pub struct Secrets {
    pub jwt: Vec<u8>,
    pub internal_token: String,
    pub callback: Vec<u8>,
    /// Signs the local object store's URLs.
    pub storage: Vec<u8>,
}

impl Secrets {
    /// An HMAC-SHA256 key of fewer bytes than its output is guessable sooner than it needs to be.
    pub const MIN_BYTES: usize = 32;
    /// Each secret: its environment variable and its entry in `secrets.json`.
    const SOURCES: [(&'static str, &'static str); 4] = [
        ("JWT_SECRET", "jwt"),
        ("INTERNAL_TOKEN", "internal_token"),
        ("CALLBACK_SECRET", "callback"),
        ("STORAGE_SECRET", "storage"),
    ];
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets { .. }")
    }
}

impl Config {
    /// Secrets from the environment, or generated once into `<data dir>/secrets.json` (0600).
    /// A secret that is in neither, or is shorter than [`Secrets::MIN_BYTES`], stops the
    /// start with an error naming its variable: the service never runs on an empty key.
    pub fn secrets(&self) -> anyhow::Result<Secrets> {
        let path = self.data_dir.join("secrets.json");
        let stored = load_or_create(&path)?;
        let [jwt, internal_token, callback, storage] = Secrets::SOURCES.map(|(name, key)| {
            let value = var(name).or_else(|| stored.get(key)?.as_str().map(str::to_owned));
            match value {
                None => anyhow::bail!(
                    "TOQ_MEDIA_{name} is not set and {} has no {key:?} entry",
                    path.display()
                ),
                Some(v) if v.len() < Secrets::MIN_BYTES => anyhow::bail!(
                    "TOQ_MEDIA_{name} (or {key:?} in {}) is {} bytes; secrets must be at \
                     least {} bytes (e.g. `openssl rand -hex 32`)",
                    path.display(),
                    v.len(),
                    Secrets::MIN_BYTES
                ),
                Some(v) => Ok(v),
            }
        });
        Ok(Secrets {
            jwt: jwt?.into_bytes(),
            internal_token: internal_token?,
            callback: callback?.into_bytes(),
            storage: storage?.into_bytes(),
        })
    }

    /// The key that signs audit checkpoints, never stored in the database: the hex seed in
    /// `TOQ_MEDIA_AUDIT_KEY`, else the file `TOQ_MEDIA_AUDIT_KEY_FILE`, else
    /// `<data dir>/audit.key`, created once (0600) when absent. `toq-media secret audit-key`
    /// prints a new one. For what signs; what only checks takes [`Config::existing_audit_key`].
    pub fn audit_key(&self) -> anyhow::Result<toq_evidence::SigningKey> {
        self.load_audit_key(true)
    }

    /// The configured audit key, never created: a check against a key made up on the spot
    /// could only fail, and would leave the key behind.
    pub fn existing_audit_key(&self) -> anyhow::Result<toq_evidence::SigningKey> {
        self.load_audit_key(false)
    }

    fn load_audit_key(&self, create: bool) -> anyhow::Result<toq_evidence::SigningKey> {
        let (seed, source) = match (var("AUDIT_KEY"), var("AUDIT_KEY_FILE")) {
            (Some(seed), _) => (seed, "TOQ_MEDIA_AUDIT_KEY".to_owned()),
            (None, file) => {
                let explicit = file.is_some();
                let path = file.map_or_else(|| self.data_dir.join("audit.key"), PathBuf::from);
                let shown = path.display().to_string();
                let seed = match std::fs::read_to_string(&path) {
                    Ok(text) => text,
                    Err(e) if explicit || !create || e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(e).with_context(|| {
                            format!(
                                "reading the audit key {shown} (set TOQ_MEDIA_AUDIT_KEY, or give \
                                 the public key with --key)"
                            )
                        });
                    }
                    Err(_) => {
                        let seed = new_audit_key()?;
                        write_private(&path, &seed)?;
                        seed
                    }
                };
                (seed, shown)
            }
        };
        let bytes: [u8; 32] = hex::decode(seed.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .with_context(|| format!("{source} must hold 64 hex characters (a 32-byte seed)"))?;
        Ok(toq_evidence::SigningKey::from_bytes(&bytes))
    }
}

/// A new Ed25519 signing key, as the hex of its 32-byte seed.
pub fn new_audit_key() -> anyhow::Result<String> {
    random_hex()
}

fn random_hex() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(hex::encode(bytes))
}

fn load_or_create(path: &Path) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid JSON", path.display()));
    }
    let mut map = serde_json::Map::new();
    for (_, key) in Secrets::SOURCES {
        map.insert(key.to_owned(), random_hex()?.into());
    }
    write_private(path, &serde_json::to_string_pretty(&map)?)?;
    Ok(map)
}

/// Writes a file only its owner may read (0600).
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_debug() {
        let secrets = Secrets {
            jwt: b"jwt-secret-jwt-secret-jwt-secret".to_vec(),
            internal_token: "internal-internal-internal-token".into(),
            callback: b"callback-callback-callback-callb".to_vec(),
            storage: b"storage-storage-storage-storage-".to_vec(),
        };
        let shown = format!("{secrets:?} {secrets:#?}");
        for part in [
            "jwt-secret",
            "internal-internal",
            "callback-callback",
            "storage-storage",
        ] {
            assert!(!shown.contains(part), "{shown}");
        }
    }
}
