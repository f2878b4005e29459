//! TLS certificates of the WebTransport endpoint: a configured certificate
//! (PEM files, trusted by browsers as usual) or self-signed ECDSA P-256
//! certificates valid 13 days, which browsers accept through
//! `serverCertificateHashes` (Chromium requires a validity of at most 14 days).
//!
//! Self-signed certificates come in pairs: the *current* one is served, the
//! *next* one already exists and its hash is handed out too, so a page loaded
//! before a rotation still connects after it. Rotation makes *next* current,
//! reloads the endpoint's config for new connections (existing ones keep
//! theirs), and makes a new *next*.

use std::fmt;
use std::path::PathBuf;
use std::sync::RwLock;
use std::time::Duration;

use base64::Engine as _;
use serde::Serialize;
use wtransport::Identity;
use wtransport::tls::self_signed::time::{Duration as TimeDuration, OffsetDateTime};

use crate::error::MediaError;

/// Longest validity Chromium accepts for a certificate given by hash.
pub const MAX_HASHED_CERT_VALIDITY: Duration = Duration::from_secs(14 * 24 * 3600);

/// Where the endpoint's certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateConfig {
    /// Generated and rotated in memory; pages pass [`CertHashes`] to the browser.
    SelfSigned(SelfSignedConfig),
    /// PEM files (certificate chain and PKCS#8/SEC1/RSA private key), e.g. from an ACME client.
    /// [`SfuHandle::rotate_certificate`](crate::SfuHandle::rotate_certificate) re-reads them.
    Files {
        /// Certificate chain, leaf first.
        cert_pem: PathBuf,
        /// Private key.
        key_pem: PathBuf,
    },
}

impl Default for CertificateConfig {
    fn default() -> Self {
        CertificateConfig::SelfSigned(SelfSignedConfig::default())
    }
}

/// Parameters of self-signed certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfSignedConfig {
    /// Subject alternative names (host names or IP addresses). Browsers do not
    /// check them for hashed certificates; other clients may.
    pub subject_alt_names: Vec<String>,
    /// Validity of each certificate (at most 14 days; default 13).
    pub validity: Duration,
    /// How often the next certificate takes over (default 6 days). Must be less
    /// than half the validity, so the served certificate never expires.
    pub rotate_every: Duration,
}

impl Default for SelfSignedConfig {
    fn default() -> Self {
        Self {
            subject_alt_names: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            validity: Duration::from_secs(13 * 24 * 3600),
            rotate_every: Duration::from_secs(6 * 24 * 3600),
        }
    }
}

/// The SHA-256 of a certificate (DER), as `serverCertificateHashes` wants it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
pub struct CertHash(pub [u8; 32]);

impl CertHash {
    /// Lower-case hex, e.g. for a page's JSON.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Standard padded base64.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }
}

impl fmt::Display for CertHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for CertHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CertHash({})", self.to_hex())
    }
}

impl From<CertHash> for String {
    fn from(h: CertHash) -> String {
        h.to_hex()
    }
}

/// The hashes a page passes to `new WebTransport(url, { serverCertificateHashes })`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CertHashes {
    /// The certificate served now.
    pub current: CertHash,
    /// The self-signed certificate served after the next rotation (`None` with
    /// configured certificate files, which browsers trust without hashes).
    pub next: Option<CertHash>,
}

impl CertHashes {
    /// Current, then next: what to pass to the browser.
    pub fn all(&self) -> Vec<CertHash> {
        std::iter::once(self.current).chain(self.next).collect()
    }
}

struct State {
    current: Identity,
    next: Option<Identity>,
}

/// The endpoint's certificates (current and next) and how to renew them.
pub(crate) struct Certificates {
    config: CertificateConfig,
    state: RwLock<State>,
}

impl Certificates {
    /// Loads the configured files or generates the first two self-signed certificates.
    pub async fn load(config: CertificateConfig) -> Result<Self, MediaError> {
        let state = match &config {
            CertificateConfig::SelfSigned(c) => {
                validate(c)?;
                State {
                    current: self_signed(c)?,
                    next: Some(self_signed(c)?),
                }
            }
            CertificateConfig::Files { cert_pem, key_pem } => State {
                current: load_files(cert_pem, key_pem).await?,
                next: None,
            },
        };
        Ok(Self {
            config,
            state: RwLock::new(state),
        })
    }

    /// A copy of the identity to serve.
    pub fn current(&self) -> Identity {
        self.state
            .read()
            .expect("certificate lock")
            .current
            .clone_identity()
    }

    /// Hashes of the current and next certificates.
    pub fn hashes(&self) -> CertHashes {
        let s = self.state.read().expect("certificate lock");
        CertHashes {
            current: hash(&s.current),
            next: s.next.as_ref().map(hash),
        }
    }

    /// How often [`rotate`](Self::rotate) should run on its own, if at all.
    pub fn rotate_every(&self) -> Option<Duration> {
        match &self.config {
            CertificateConfig::SelfSigned(c) => Some(c.rotate_every),
            CertificateConfig::Files { .. } => None,
        }
    }

    /// Self-signed: next becomes current and a new next is made. Files: re-read.
    /// Returns the identity to serve from now on.
    pub async fn rotate(&self) -> Result<Identity, MediaError> {
        let fresh = match &self.config {
            CertificateConfig::SelfSigned(c) => self_signed(c)?,
            CertificateConfig::Files { cert_pem, key_pem } => load_files(cert_pem, key_pem).await?,
        };
        let mut s = self.state.write().expect("certificate lock");
        match s.next.take() {
            Some(next) => {
                s.current = next;
                s.next = Some(fresh);
            }
            None => s.current = fresh,
        }
        Ok(s.current.clone_identity())
    }
}

fn hash(identity: &Identity) -> CertHash {
    let leaf = &identity.certificate_chain().as_slice()[0];
    CertHash(*leaf.hash().as_ref())
}

fn validate(c: &SelfSignedConfig) -> Result<(), MediaError> {
    if c.validity > MAX_HASHED_CERT_VALIDITY || c.validity < Duration::from_secs(60) {
        return Err(MediaError::Config(
            "self-signed certificate validity must be between 1 minute and 14 days".into(),
        ));
    }
    if c.rotate_every.saturating_mul(2) >= c.validity || c.rotate_every.is_zero() {
        return Err(MediaError::Config(
            "self-signed certificates must rotate in less than half their validity".into(),
        ));
    }
    Ok(())
}

fn self_signed(c: &SelfSignedConfig) -> Result<Identity, MediaError> {
    // Back-date a little for clients whose clock is behind; the total validity
    // (what Chromium checks) stays `validity`.
    let skew = TimeDuration::minutes(10).min(TimeDuration::seconds(
        i64::try_from(c.validity.as_secs() / 10).unwrap_or(0),
    ));
    let not_before = OffsetDateTime::now_utc() - skew;
    let validity = TimeDuration::seconds(i64::try_from(c.validity.as_secs()).unwrap_or(i64::MAX));
    Identity::self_signed_builder()
        .subject_alt_names(&c.subject_alt_names)
        .not_before(not_before)
        .offset_from_not_before(validity)
        .build()
        .map_err(|e| MediaError::Certificate(format!("invalid subject alternative name: {e}")))
}

/// Whether a certificate chain and key load as WebTransport would load
/// them (`podium config check`).
pub async fn check_files(cert: &std::path::Path, key: &std::path::Path) -> Result<(), MediaError> {
    load_files(cert, key).await.map(|_| ())
}

async fn load_files(cert: &std::path::Path, key: &std::path::Path) -> Result<Identity, MediaError> {
    Identity::load_pemfiles(cert, key).await.map_err(|e| {
        MediaError::Certificate(format!("{} / {}: {e}", cert.display(), key.display()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn self_signed_pair_rotates_next_into_current() {
        let certs = Certificates::load(CertificateConfig::default())
            .await
            .unwrap();
        let before = certs.hashes();
        let next = before.next.expect("self-signed has a next certificate");
        assert_ne!(before.current, next);
        certs.rotate().await.unwrap();
        let after = certs.hashes();
        assert_eq!(after.current, next);
        assert_ne!(after.next, Some(next));
        assert_eq!(after.all().len(), 2);
        assert_eq!(after.current.to_hex().len(), 64);
    }

    #[test]
    fn validity_rules_table() {
        let day = Duration::from_secs(24 * 3600);
        let table = [
            (13 * day, 6 * day, true),
            (14 * day, 6 * day, true),
            (15 * day, 6 * day, false),
            (13 * day, 7 * day, false),
            (13 * day, Duration::ZERO, false),
        ];
        for (validity, rotate_every, ok) in table {
            let c = SelfSignedConfig {
                validity,
                rotate_every,
                ..Default::default()
            };
            assert_eq!(validate(&c).is_ok(), ok, "{validity:?} {rotate_every:?}");
        }
    }
}
