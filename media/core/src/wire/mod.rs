//! Wire format, protocol version 1: control messages ([`control`]) and media
//! framing ([`media`]). Every decoder returns a [`WireError`] on bad input and
//! never panics; every encoder is the exact inverse of its decoder.

pub mod control;
pub mod media;
pub(crate) mod varint;
pub mod ws;

#[cfg(test)]
mod tests;

/// The protocol version this crate speaks; sent in `Hello` and `Welcome`.
pub const PROTOCOL_VERSION: u32 = 1;

/// Why bytes from the network could not be decoded (or a value could not be encoded).
///
/// Every variant maps to a stable machine-readable [`code`](WireError::code),
/// used as the `Error` message code and the session close reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The input ended inside `what`.
    #[error("truncated {what}")]
    Truncated {
        /// The field or structure that was cut short.
        what: &'static str,
    },
    /// A length exceeds the protocol's limit.
    #[error("{what} is {len} bytes, more than the limit of {max}")]
    Oversized {
        /// What was too large.
        what: &'static str,
        /// Its length (as announced by a length prefix, or as measured).
        len: u64,
        /// The limit.
        max: u64,
    },
    /// Bytes follow a structure that should have ended the input.
    #[error("{extra} unexpected bytes after {what}")]
    TrailingBytes {
        /// The structure that should have been last.
        what: &'static str,
        /// How many bytes follow it.
        extra: usize,
    },
    /// A control message type this side does not know (or that flows the other way).
    #[error("unknown control message type 0x{0:02x}")]
    UnknownMessageType(u8),
    /// A unidirectional stream type this side does not know.
    #[error("unknown stream type 0x{0:02x}")]
    UnknownStreamType(u8),
    /// A datagram type this side does not know.
    #[error("unknown datagram type 0x{0:02x}")]
    UnknownDatagramType(u8),
    /// A WebSocket message kind this side does not know (PROTOCOL.md §8).
    #[error("unknown WebSocket message kind 0x{0:02x}")]
    UnknownWebSocketMessage(u8),
    /// `Hello`/`Welcome` named a protocol version this side does not speak.
    #[error("unsupported protocol version {got}, this side speaks version {supported}")]
    UnsupportedVersion {
        /// The version received.
        got: u32,
        /// [`PROTOCOL_VERSION`].
        supported: u32,
    },
    /// A control message body is not valid JSON for its type.
    #[error("invalid {message} body: {reason}")]
    InvalidBody {
        /// The message type's name, e.g. `Publish`.
        message: &'static str,
        /// What is wrong, as reported by the JSON decoder or the validation.
        reason: String,
    },
    /// A binary field holds a value the protocol forbids.
    #[error("invalid {field}: {reason}")]
    InvalidField {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl WireError {
    /// A stable machine-readable code (snake_case) for this error.
    pub fn code(&self) -> &'static str {
        match self {
            WireError::Truncated { .. } => "truncated",
            WireError::Oversized { .. } => "oversized",
            WireError::TrailingBytes { .. } => "trailing_bytes",
            WireError::UnknownMessageType(_) => "unknown_message_type",
            WireError::UnknownStreamType(_) => "unknown_stream_type",
            WireError::UnknownDatagramType(_) => "unknown_datagram_type",
            WireError::UnknownWebSocketMessage(_) => "unknown_websocket_message",
            WireError::UnsupportedVersion { .. } => "unsupported_version",
            WireError::InvalidBody { .. } => "invalid_body",
            WireError::InvalidField { .. } => "invalid_field",
        }
    }
}

/// WebTransport session close codes (the `closeCode` a browser sees), with the
/// reason string carrying detail (for a protocol error: the [`WireError::code`]
/// and message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum CloseCode {
    /// Normal close (the participant left, or the session ended).
    Normal = 0,
    /// Bytes that do not decode (any [`WireError`]), or `Hello` missing or late.
    ProtocolError = 1,
    /// `Hello` named an unsupported protocol version.
    UnsupportedVersion = 2,
    /// The join token (or the page's Origin) was refused.
    Unauthorized = 3,
    /// The same participant connected again; this older session is closed.
    Replaced = 4,
    /// A moderator removed the participant.
    Removed = 5,
}

impl CloseCode {
    /// The close code for a decode error.
    pub fn for_error(error: &WireError) -> CloseCode {
        match error {
            WireError::UnsupportedVersion { .. } => CloseCode::UnsupportedVersion,
            _ => CloseCode::ProtocolError,
        }
    }
}
