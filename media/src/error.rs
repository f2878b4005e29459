//! The IO edge's error type: what starting the SFU or a control-plane call can fail with.

use podium_media_core::RouterError;

/// An error of the SFU's IO edge or of a control-plane call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// Binding the UDP socket or starting the QUIC endpoint failed.
    #[error("cannot start the WebTransport endpoint on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The configured certificate or key could not be loaded.
    #[error("cannot load the TLS certificate: {0}")]
    Certificate(String),
    /// The configuration is not usable.
    #[error("invalid media configuration: {0}")]
    Config(String),
    /// The live session is not open in the SFU.
    #[error("live session {0} is not open")]
    UnknownSession(crate::SessionId),
    /// The live session is already open.
    #[error("live session {0} is already open")]
    SessionExists(crate::SessionId),
    /// The participant is not connected to the live session.
    #[error("participant {0} is not connected")]
    NotConnected(u64),
    /// The router refused the call.
    #[error(transparent)]
    Router(#[from] RouterError),
    /// The SFU has shut down.
    #[error("the media engine has shut down")]
    Shutdown,
}

impl MediaError {
    /// A stable machine-readable code (snake_case), e.g. for the app's HTTP errors.
    pub fn code(&self) -> &'static str {
        match self {
            MediaError::Bind { .. } => "media_bind_failed",
            MediaError::Certificate(_) => "media_certificate",
            MediaError::Config(_) => "media_config",
            MediaError::UnknownSession(_) => "session_not_live",
            MediaError::SessionExists(_) => "session_already_live",
            MediaError::NotConnected(_) => "participant_not_connected",
            MediaError::Router(e) => e.code(),
            MediaError::Shutdown => "media_shutdown",
        }
    }
}
