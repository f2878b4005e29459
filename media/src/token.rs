//! Join tokens: short-lived, HMAC-SHA256-signed claims that admit one
//! participant to one live session. The app issues them over HTTP with the same
//! [`JoinTokenKey`] the SFU verifies them with; the browser passes the token in
//! `Hello` (PROTOCOL.md §3.2).
//!
//! Format: `v1.<payload>.<mac>`, where `payload` is the claims as JSON and `mac`
//! the HMAC-SHA256 of `v1.<payload>` under the key, both unpadded base64url.
//! Tokens are bearer credentials: never log them.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use podium_media_core::{ParticipantId, RoomId};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const PREFIX: &str = "v1.";
/// The longest token accepted; longer ones are refused before any work.
pub const MAX_TOKEN_LEN: usize = 4096;
/// The longest role name accepted in a token.
const MAX_ROLE_LEN: usize = 64;

/// A live session (one community or career-fair session while it is in progress).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub u64);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What a join token asserts. Issued by the app's control plane, which decides
/// room and publish right; the SFU only checks the signature, expiry and session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinClaims {
    /// The live session the token admits to.
    pub session: SessionId,
    /// Who joins (the same id on every reconnect: a new connection replaces the old one).
    pub participant: ParticipantId,
    /// Display name shown in rosters.
    pub name: String,
    /// The app's role name (`host`, `presenter`, `guest`, ...); opaque to the SFU.
    pub role: String,
    /// The room to join in (created if it is a breakout room not open yet).
    pub room: RoomId,
    /// Whether the participant may publish in that room.
    pub may_publish: bool,
    /// Expiry, in seconds since the Unix epoch. Checked when `Hello` arrives.
    pub expires_at: u64,
}

impl JoinClaims {
    /// Sets `expires_at` to `ttl` after `now`.
    pub fn expiring(mut self, now: SystemTime, ttl: Duration) -> Self {
        self.expires_at = unix_secs(now).saturating_add(ttl.as_secs());
        self
    }
}

/// Why a token was refused. [`code`](TokenError::code) goes into the close reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token of this format (or too long, or its claims are not valid JSON).
    #[error("the join token is malformed")]
    Malformed,
    /// The signature does not match: forged, tampered with, or signed with another key.
    #[error("the join token's signature is invalid")]
    BadSignature,
    /// `expires_at` has passed.
    #[error("the join token has expired")]
    Expired,
    /// The token is for another live session.
    #[error("the join token is for another session")]
    WrongSession,
    /// A key shorter than [`JoinTokenKey::MIN_LEN`] bytes.
    #[error("a join token key needs at least 32 bytes")]
    KeyTooShort,
}

impl TokenError {
    /// A stable machine-readable code (snake_case).
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Malformed => "token_malformed",
            TokenError::BadSignature => "token_bad_signature",
            TokenError::Expired => "token_expired",
            TokenError::WrongSession => "token_wrong_session",
            TokenError::KeyTooShort => "token_key_too_short",
        }
    }
}

/// The secret that signs and verifies join tokens. Its `Debug` hides the bytes.
#[derive(Clone)]
pub struct JoinTokenKey {
    key: Vec<u8>,
}

impl fmt::Debug for JoinTokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JoinTokenKey(..)")
    }
}

impl JoinTokenKey {
    /// The shortest accepted key, in bytes.
    pub const MIN_LEN: usize = 32;

    /// A key from secret bytes (e.g. read from the data dir); at least 32 bytes.
    pub fn from_bytes(key: &[u8]) -> Result<Self, TokenError> {
        if key.len() < Self::MIN_LEN {
            return Err(TokenError::KeyTooShort);
        }
        Ok(Self { key: key.to_vec() })
    }

    /// A new random 32-byte key (for a process that issues and verifies its own tokens).
    pub fn generate() -> Self {
        Self {
            key: rand::random::<[u8; 32]>().to_vec(),
        }
    }

    /// The key's bytes, to persist it.
    pub fn as_bytes(&self) -> &[u8] {
        &self.key
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length; ours is at least 32 bytes.
        HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length")
    }

    /// Signs the claims into a token string.
    pub fn sign(&self, claims: &JoinClaims) -> String {
        let json = serde_json::to_vec(claims).expect("claims serialize");
        let mut token = String::with_capacity(PREFIX.len() + json.len() * 4 / 3 + 48);
        token.push_str(PREFIX);
        B64.encode_string(json, &mut token);
        let mut mac = self.mac();
        mac.update(token.as_bytes());
        token.push('.');
        B64.encode_string(mac.finalize().into_bytes(), &mut token);
        token
    }

    /// Verifies a token for `session` at time `now`: signature first (in
    /// constant time), then the claims, expiry and session.
    pub fn verify(
        &self,
        token: &str,
        session: SessionId,
        now: SystemTime,
    ) -> Result<JoinClaims, TokenError> {
        if token.len() > MAX_TOKEN_LEN || !token.starts_with(PREFIX) {
            return Err(TokenError::Malformed);
        }
        let (signed, mac_b64) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let payload = signed.strip_prefix(PREFIX).ok_or(TokenError::Malformed)?;
        let tag = B64.decode(mac_b64).map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(signed.as_bytes());
        mac.verify_slice(&tag)
            .map_err(|_| TokenError::BadSignature)?;
        let json = B64.decode(payload).map_err(|_| TokenError::Malformed)?;
        let claims: JoinClaims =
            serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
        if claims.role.len() > MAX_ROLE_LEN {
            return Err(TokenError::Malformed);
        }
        if unix_secs(now) >= claims.expires_at {
            return Err(TokenError::Expired);
        }
        if claims.session != session {
            return Err(TokenError::WrongSession);
        }
        Ok(claims)
    }
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> JoinClaims {
        JoinClaims {
            session: SessionId(7),
            participant: ParticipantId(42),
            name: "Ada".into(),
            role: "guest".into(),
            room: RoomId::MAIN,
            may_publish: false,
            expires_at: 0,
        }
        .expiring(
            UNIX_EPOCH + Duration::from_secs(1000),
            Duration::from_secs(60),
        )
    }

    #[test]
    fn sign_verify_table() {
        let key = JoinTokenKey::from_bytes(&[1; 32]).unwrap();
        let other = JoinTokenKey::from_bytes(&[2; 32]).unwrap();
        let good = key.sign(&claims());
        let at = |s| UNIX_EPOCH + Duration::from_secs(s);
        let mut tampered = good.clone().into_bytes();
        tampered[5] ^= 1;
        let tampered = String::from_utf8(tampered).unwrap();
        type Case = (
            &'static str,
            String,
            SessionId,
            SystemTime,
            Result<(), TokenError>,
        );
        let table: Vec<Case> = vec![
            ("valid", good.clone(), SessionId(7), at(1000), Ok(())),
            ("last second", good.clone(), SessionId(7), at(1059), Ok(())),
            (
                "expired",
                good.clone(),
                SessionId(7),
                at(1060),
                Err(TokenError::Expired),
            ),
            (
                "wrong session",
                good.clone(),
                SessionId(8),
                at(1000),
                Err(TokenError::WrongSession),
            ),
            (
                "other key",
                other.sign(&claims()),
                SessionId(7),
                at(1000),
                Err(TokenError::BadSignature),
            ),
            (
                "tampered",
                tampered,
                SessionId(7),
                at(1000),
                Err(TokenError::BadSignature),
            ),
            (
                "empty",
                String::new(),
                SessionId(7),
                at(1000),
                Err(TokenError::Malformed),
            ),
            (
                "no mac",
                "v1.abc".into(),
                SessionId(7),
                at(1000),
                Err(TokenError::Malformed),
            ),
            (
                "too long",
                "v1.".repeat(2000),
                SessionId(7),
                at(1000),
                Err(TokenError::Malformed),
            ),
        ];
        for (name, token, session, now, want) in table {
            let got = key
                .verify(&token, session, now)
                .map(|c| assert_eq!(c, claims()));
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn short_keys_are_refused_and_debug_hides_the_key() {
        assert_eq!(
            JoinTokenKey::from_bytes(&[0; 31]).unwrap_err(),
            TokenError::KeyTooShort
        );
        let key = JoinTokenKey::generate();
        assert_eq!(format!("{key:?}"), "JoinTokenKey(..)");
        assert_eq!(key.as_bytes().len(), 32);
    }
}
