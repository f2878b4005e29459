//! The WebSocket framing of protocol v1 (PROTOCOL.md §8): the same control
//! messages, frames and stream layout as over WebTransport, each piece carried
//! in one binary WebSocket message that starts with a kind byte.
//!
//! ```text
//! 0x00 Control   bytes of the control stream (any split; whole messages from the server)
//! 0x01 Datagram  one datagram exactly as over WebTransport (0x01 | frame header | payload)
//! 0x02 Stream    stream-header | bytes of that unidirectional stream
//! 0x03 Finish    stream-header          (the stream ended normally: FIN)
//! 0x04 Reset     stream-header          (the stream was abandoned: RESET_STREAM)
//! ```
//!
//! A unidirectional stream is named by its stream header (kind, track,
//! group), which is unique per direction: the first `Stream` message with a
//! header opens that stream, later ones append to it.

use bytes::BufMut;

use super::WireError;
use super::media::StreamHeader;

/// Kind byte of a control-stream message.
pub const WS_CONTROL: u8 = 0x00;
/// Kind byte of a datagram message.
pub const WS_DATAGRAM: u8 = 0x01;
/// Kind byte of a stream-data message.
pub const WS_STREAM: u8 = 0x02;
/// Kind byte of a stream-finished message.
pub const WS_FINISH: u8 = 0x03;
/// Kind byte of a stream-reset message.
pub const WS_RESET: u8 = 0x04;

/// The largest WebSocket message: a 1 MiB stream frame with its length and
/// the kind byte and stream header in front.
pub const MAX_WS_MESSAGE: usize = super::media::MAX_FRAME_SIZE + 64;

/// One decoded WebSocket message; slices borrow the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsMessage<'a> {
    /// Bytes of the control stream.
    Control(&'a [u8]),
    /// A datagram (its own type byte included).
    Datagram(&'a [u8]),
    /// Bytes of the unidirectional stream named by the header.
    Stream(StreamHeader, &'a [u8]),
    /// The stream ended normally.
    Finish(StreamHeader),
    /// The stream was abandoned.
    Reset(StreamHeader),
}

impl<'a> WsMessage<'a> {
    /// Decodes one binary WebSocket message.
    pub fn decode(buf: &'a [u8]) -> Result<WsMessage<'a>, WireError> {
        if buf.len() > MAX_WS_MESSAGE {
            return Err(WireError::Oversized {
                what: "WebSocket message",
                len: buf.len() as u64,
                max: MAX_WS_MESSAGE as u64,
            });
        }
        let (&kind, rest) = buf.split_first().ok_or(WireError::Truncated {
            what: "WebSocket message kind",
        })?;
        match kind {
            WS_CONTROL => {
                if rest.is_empty() {
                    return Err(WireError::Truncated {
                        what: "control bytes",
                    });
                }
                Ok(WsMessage::Control(rest))
            }
            WS_DATAGRAM => Ok(WsMessage::Datagram(rest)),
            WS_STREAM => {
                let (header, n) = StreamHeader::decode(rest)?;
                Ok(WsMessage::Stream(header, &rest[n..]))
            }
            WS_FINISH | WS_RESET => {
                let (header, n) = StreamHeader::decode(rest)?;
                if n != rest.len() {
                    return Err(WireError::TrailingBytes {
                        what: "stream end",
                        extra: rest.len() - n,
                    });
                }
                Ok(if kind == WS_FINISH {
                    WsMessage::Finish(header)
                } else {
                    WsMessage::Reset(header)
                })
            }
            other => Err(WireError::UnknownWebSocketMessage(other)),
        }
    }

    /// Appends the encoded message.
    pub fn encode<B: BufMut>(&self, out: &mut B) -> Result<(), WireError> {
        match self {
            WsMessage::Control(bytes) => {
                out.put_u8(WS_CONTROL);
                out.put_slice(bytes);
            }
            WsMessage::Datagram(bytes) => {
                out.put_u8(WS_DATAGRAM);
                out.put_slice(bytes);
            }
            WsMessage::Stream(header, bytes) => {
                out.put_u8(WS_STREAM);
                header.encode(out)?;
                out.put_slice(bytes);
            }
            WsMessage::Finish(header) => {
                out.put_u8(WS_FINISH);
                header.encode(out)?;
            }
            WsMessage::Reset(header) => {
                out.put_u8(WS_RESET);
                header.encode(out)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(m: WsMessage<'_>) {
        let mut out = Vec::new();
        m.encode(&mut out).unwrap();
        assert_eq!(WsMessage::decode(&out).unwrap(), m);
    }

    #[test]
    fn every_kind_roundtrips() {
        roundtrip(WsMessage::Control(&[0, 0, 0, 3, 8, b'{', b'}']));
        roundtrip(WsMessage::Datagram(&[1, 0, 5, 0, 0, 0, 9]));
        roundtrip(WsMessage::Stream(StreamHeader::video(5, 300), &[1, 2, 3]));
        roundtrip(WsMessage::Stream(StreamHeader::audio(7), &[]));
        roundtrip(WsMessage::Finish(StreamHeader::video(5, 300)));
        roundtrip(WsMessage::Reset(StreamHeader::audio(7)));
    }

    #[test]
    fn bad_messages_are_refused_with_their_code() {
        let big = vec![WS_STREAM; MAX_WS_MESSAGE + 1];
        let table: [(&[u8], &str); 7] = [
            (&[], "truncated"),
            (&[WS_CONTROL], "truncated"),
            (&[0x05, 1, 2], "unknown_websocket_message"),
            (&[WS_STREAM, 0x09, 1, 1], "unknown_stream_type"),
            (&[WS_STREAM, 0x01], "truncated"),
            (&[WS_FINISH, 0x01, 5, 1, 0], "trailing_bytes"),
            (&big, "oversized"),
        ];
        for (bytes, code) in table {
            let e = WsMessage::decode(bytes).unwrap_err();
            assert_eq!(e.code(), code, "{bytes:?}");
        }
    }
}
