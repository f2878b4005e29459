//! Pure rules: no IO, no tokio, no redb, no clock reads. Callers pass `now`.

pub mod accounts;
pub mod events;
pub mod live;
pub mod materials;
pub mod ratelimit;
pub mod roster;
pub mod sessions;

use std::borrow::Cow;

/// Explicit bidirectional embeddings, overrides and isolates (U+202A-U+202E,
/// U+2066-U+2069). One-line texts others see (names, titles) may not carry
/// them: an unbalanced override in a title reverses whatever the page shows
/// after it ("Trojan Source" spoofing). Right-to-left text needs none of
/// them; the pages isolate each name and title (`unicode-bidi: isolate`).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// What sort of refusal an error is; the HTTP layer maps it to a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is malformed or out of range (400).
    Invalid,
    /// Not signed in, or wrong credentials (401).
    Unauthenticated,
    /// Signed in but not allowed (403).
    Forbidden,
    /// The thing does not exist (404).
    NotFound,
    /// The request conflicts with the current state (409).
    Conflict,
    /// Too many attempts; try again later (429).
    TooMany,
    /// An upload is larger than allowed (413).
    TooLarge,
    /// An upload is not of a type accepted here (415).
    UnsupportedType,
}

/// A rule was broken: a kind, a stable machine-readable code, a human message
/// and, when the problem is one input, that input's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DomainError {
    pub kind: ErrorKind,
    pub code: &'static str,
    pub message: String,
    pub field: Option<Cow<'static, str>>,
    /// For a limit: when trying again can succeed (HTTP `Retry-After`).
    pub retry_after_secs: Option<u64>,
}

impl DomainError {
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
            field: None,
            retry_after_secs: None,
        }
    }

    /// A bad value of one input field.
    pub fn field(
        code: &'static str,
        field: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind: ErrorKind::Invalid,
            code,
            message: message.into(),
            field: Some(field.into()),
            retry_after_secs: None,
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, code, message)
    }

    /// Marks the error as about one input field.
    pub fn on(mut self, field: impl Into<Cow<'static, str>>) -> Self {
        self.field = Some(field.into());
        self
    }
}
