//! The control stream: the first client-opened bidirectional stream carries
//! length-prefixed messages, `u32` big-endian length, one type byte, then a
//! JSON object body. See `media/PROTOCOL.md` §3.

use std::marker::PhantomData;

use bytes::{Buf, BytesMut};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{PROTOCOL_VERSION, WireError};
use crate::ids::{ParticipantId, RoomId, TrackId};
use crate::track::TrackConfig;
use crate::wire::media::MAX_TEMPORAL_LAYER;

/// Size of the length prefix.
pub const LENGTH_PREFIX_LEN: usize = 4;
/// The largest value of the length prefix (type byte + body): 64 KiB.
pub const MAX_MESSAGE_LEN: usize = 64 * 1024;
/// The quietest audio level (silence); levels run from 0 (0 dBov, loudest) to 127.
pub const SILENCE_LEVEL: u8 = 127;

/// A control message of one direction ([`ClientMessage`] or [`ServerMessage`]).
pub trait Message: Sized {
    /// The message's type byte.
    fn message_type(&self) -> u8;
    /// The message's name, as used in `PROTOCOL.md`.
    fn name(&self) -> &'static str;
    /// Decodes a body of type `message_type`.
    fn decode_body(message_type: u8, body: &[u8]) -> Result<Self, WireError>;
    /// Appends the JSON body.
    fn encode_body(&self, out: &mut Vec<u8>) -> Result<(), WireError>;

    /// Appends the framed message (length prefix, type byte, body) to `out`.
    ///
    /// Fails only if the message would exceed [`MAX_MESSAGE_LEN`]; `out` is then
    /// left as it was.
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        let start = out.len();
        out.extend_from_slice(&[0; LENGTH_PREFIX_LEN]);
        out.push(self.message_type());
        if let Err(e) = self.encode_body(out) {
            out.truncate(start);
            return Err(e);
        }
        let len = out.len() - start - LENGTH_PREFIX_LEN;
        if len > MAX_MESSAGE_LEN {
            out.truncate(start);
            return Err(WireError::Oversized {
                what: "control message",
                len: len as u64,
                max: MAX_MESSAGE_LEN as u64,
            });
        }
        out[start..start + LENGTH_PREFIX_LEN].copy_from_slice(&(len as u32).to_be_bytes());
        Ok(())
    }

    /// The framed message as a new buffer.
    fn to_bytes(&self) -> Result<Vec<u8>, WireError> {
        let mut out = Vec::new();
        self.encode(&mut out)?;
        Ok(out)
    }

    /// Decodes exactly one framed message; truncated input or trailing bytes are errors.
    fn decode(frame: &[u8]) -> Result<Self, WireError> {
        let Some(len) = frame_len(frame)? else {
            return Err(WireError::Truncated {
                what: "control message",
            });
        };
        if frame.len() > len {
            return Err(WireError::TrailingBytes {
                what: "control message",
                extra: frame.len() - len,
            });
        }
        decode_framed(frame)
    }
}

/// Looks at the start of `buf`: the total length (prefix included) of the first
/// framed message once its prefix is readable, `None` while fewer than 4 bytes are
/// buffered, or an error as soon as the prefix announces an invalid length.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, WireError> {
    let Some(prefix) = buf.get(..LENGTH_PREFIX_LEN) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
    if len == 0 {
        return Err(WireError::InvalidField {
            field: "control message length",
            reason: "zero; it must count the type byte",
        });
    }
    if len > MAX_MESSAGE_LEN {
        return Err(WireError::Oversized {
            what: "control message",
            len: len as u64,
            max: MAX_MESSAGE_LEN as u64,
        });
    }
    Ok(Some(LENGTH_PREFIX_LEN + len))
}

/// Decodes one complete framed message (`frame` is exactly its bytes).
fn decode_framed<M: Message>(frame: &[u8]) -> Result<M, WireError> {
    let Some(len) = frame_len(frame)? else {
        return Err(WireError::Truncated {
            what: "control message length",
        });
    };
    let Some(message) = frame.get(LENGTH_PREFIX_LEN..len) else {
        return Err(WireError::Truncated {
            what: "control message",
        });
    };
    // `frame_len` guarantees at least the type byte.
    M::decode_body(message[0], &message[1..])
}

/// Parses a JSON object body into `T` and applies its extra checks.
fn parse_body<T: Body>(name: &'static str, body: &[u8]) -> Result<T, WireError> {
    let invalid = |reason: String| WireError::InvalidBody {
        message: name,
        reason,
    };
    // serde accepts a JSON array for a struct; the protocol only allows objects.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(invalid("the body must be a JSON object".into()));
    }
    let value: T = serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
    value.check().map_err(|e| match e {
        BodyError::Version(got) => WireError::UnsupportedVersion {
            got,
            supported: PROTOCOL_VERSION,
        },
        BodyError::Invalid(reason) => invalid(reason.into()),
    })?;
    Ok(value)
}

/// Rules a body's type cannot express.
enum BodyError {
    Version(u32),
    Invalid(&'static str),
}

/// A message body: JSON plus extra checks.
trait Body: Serialize + DeserializeOwned {
    fn check(&self) -> Result<(), BodyError> {
        Ok(())
    }
}

macro_rules! messages {
    (
        $(#[$meta:meta])*
        $enum:ident { $( $(#[$vmeta:meta])* $code:literal => $variant:ident($body:ty), )* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $enum {
            $( $(#[$vmeta])* $variant($body), )*
        }

        impl Message for $enum {
            fn message_type(&self) -> u8 {
                match self { $( $enum::$variant(_) => $code, )* }
            }

            fn name(&self) -> &'static str {
                match self { $( $enum::$variant(_) => stringify!($variant), )* }
            }

            fn decode_body(message_type: u8, body: &[u8]) -> Result<Self, WireError> {
                match message_type {
                    $( $code => parse_body::<$body>(stringify!($variant), body).map($enum::$variant), )*
                    other => Err(WireError::UnknownMessageType(other)),
                }
            }

            fn encode_body(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
                let (name, result) = match self {
                    $( $enum::$variant(m) => (stringify!($variant), serde_json::to_writer(&mut *out, m)), )*
                };
                result.map_err(|e| WireError::InvalidBody { message: name, reason: e.to_string() })
            }
        }

        $(
            impl From<$body> for $enum {
                fn from(m: $body) -> Self {
                    $enum::$variant(m)
                }
            }
        )*
    };
}

messages! {
    /// A message from a client (browser or bot) to the server.
    ClientMessage {
        /// First message on the control stream.
        0x01 => Hello(Hello),
        /// Announce a track.
        0x02 => Publish(Publish),
        /// Withdraw a track.
        0x03 => Unpublish(Unpublish),
        /// Receive a track of one's room.
        0x04 => Subscribe(Subscribe),
        /// Stop receiving a track.
        0x05 => Unsubscribe(Unsubscribe),
        /// Cap the temporal layers received on a track.
        0x06 => LayerPreference(LayerPreference),
        /// Ask for a keyframe on a subscribed track.
        0x07 => KeyframeRequest(KeyframeRequest),
        /// Liveness and round-trip probe.
        0x08 => Ping(Ping),
        /// How tall the receiver shows a video track (picks its quality).
        0x09 => ViewSize(ViewSize),
    }
}

messages! {
    /// A message from the server to a client.
    ServerMessage {
        /// Answer to `Hello`: the session is joined.
        0x81 => Welcome(Welcome),
        /// A track became available in the receiver's room.
        0x82 => TrackAdded(TrackAdded),
        /// A track is no longer available.
        0x83 => TrackRemoved(TrackRemoved),
        /// Who is in the rooms the receiver can see.
        0x84 => Roster(Roster),
        /// The receiver's room or publish permission changed.
        0x85 => Permission(Permission),
        /// To a publisher: encode a keyframe on this track soon.
        0x86 => RequestKeyframe(RequestKeyframe),
        /// Recent audio levels in the receiver's room.
        0x87 => AudioLevels(AudioLevels),
        /// A request was refused (not fatal).
        0x88 => Error(ErrorMessage),
        /// Answer to `Ping`.
        0x89 => Pong(Pong),
        /// Answer to `Publish`: the track's global id.
        0x8a => Published(Published),
        /// To a publisher of a simulcast camera: whether anyone wants its full quality.
        0x8b => TrackWanted(TrackWanted),
    }
}

impl ClientMessage {
    /// Decodes exactly one framed message (see [`Message::decode`]).
    pub fn decode(frame: &[u8]) -> Result<Self, WireError> {
        <Self as Message>::decode(frame)
    }

    /// Appends the framed message (see [`Message::encode`]).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        <Self as Message>::encode(self, out)
    }
}

impl ServerMessage {
    /// Decodes exactly one framed message (see [`Message::decode`]).
    pub fn decode(frame: &[u8]) -> Result<Self, WireError> {
        <Self as Message>::decode(frame)
    }

    /// Appends the framed message (see [`Message::encode`]).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        <Self as Message>::encode(self, out)
    }

    /// An `Error` message.
    pub fn error(code: &str, reason: impl Into<String>) -> ServerMessage {
        ServerMessage::Error(ErrorMessage {
            code: code.to_owned(),
            reason: reason.into(),
        })
    }
}

/// `Hello` (0x01): the join token, verified by the IO edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hello {
    /// Must be [`PROTOCOL_VERSION`].
    pub version: u32,
    /// The join token the web app handed out.
    pub token: String,
}

impl Body for Hello {
    fn check(&self) -> Result<(), BodyError> {
        check_version(self.version)
    }
}

/// `Publish` (0x02): announce a track the client will send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Publish {
    /// The client's own id for the track, used in its frame headers.
    pub track_id: u32,
    /// Codec and parameters.
    pub config: TrackConfig,
    /// Simulcast: this track is a smaller encoding of the same camera as the
    /// client's track `simulcast_of` (already published, video, same codec,
    /// at most one small encoding per track). It is not announced to others:
    /// subscribers of `simulcast_of` get one of the two, chosen by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulcast_of: Option<u32>,
}

impl Body for Publish {}

/// `Unpublish` (0x03): the client stops sending a track.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unpublish {
    /// The client's id for the track.
    pub track_id: u32,
}

impl Body for Unpublish {}

/// `Subscribe` (0x04).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscribe {
    /// Global track id from `TrackAdded`.
    pub track: TrackId,
}

impl Body for Subscribe {}

/// `Unsubscribe` (0x05).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unsubscribe {
    /// Global track id.
    pub track: TrackId,
}

impl Body for Unsubscribe {}

/// `LayerPreference` (0x06).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerPreference {
    /// Global track id.
    pub track: TrackId,
    /// Highest temporal layer wanted, 0..=2.
    pub max_temporal_layer: u8,
}

impl Body for LayerPreference {
    fn check(&self) -> Result<(), BodyError> {
        if self.max_temporal_layer > MAX_TEMPORAL_LAYER {
            return Err(BodyError::Invalid("max_temporal_layer must be 0, 1 or 2"));
        }
        Ok(())
    }
}

/// `KeyframeRequest` (0x07): a subscriber's decoder needs a keyframe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyframeRequest {
    /// Global track id.
    pub track: TrackId,
}

impl Body for KeyframeRequest {}

/// `ViewSize` (0x09): the receiver shows a subscribed video track at most
/// `max_height` device pixels high (0: not shown). Where the track has a
/// small quality (simulcast), a view that the small one fills well enough
/// gets it whatever the bandwidth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewSize {
    /// Global track id.
    pub track: TrackId,
    /// Height of the view in device pixels, 0..=8192.
    pub max_height: u32,
}

impl Body for ViewSize {
    fn check(&self) -> Result<(), BodyError> {
        if self.max_height > crate::track::TrackConfig::MAX_DIMENSION {
            return Err(BodyError::Invalid("max_height must be at most 8192"));
        }
        Ok(())
    }
}

/// `Ping` (0x08).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ping {
    /// Echoed in `Pong`.
    pub nonce: u64,
}

impl Body for Ping {}

/// `Welcome` (0x81).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Welcome {
    /// [`PROTOCOL_VERSION`].
    pub version: u32,
    /// The receiver's participant id.
    pub participant: ParticipantId,
    /// The room the receiver is in.
    pub room: RoomId,
    /// Whether the receiver may publish in that room.
    pub may_publish: bool,
    /// The server's clock in milliseconds (arbitrary epoch; for offset/RTT only).
    pub server_time: u64,
}

impl Body for Welcome {
    fn check(&self) -> Result<(), BodyError> {
        check_version(self.version)
    }
}

/// `TrackAdded` (0x82).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackAdded {
    /// Global track id.
    pub track: TrackId,
    /// Its publisher.
    pub participant: ParticipantId,
    /// Codec and parameters.
    pub config: TrackConfig,
}

impl Body for TrackAdded {}

/// `TrackRemoved` (0x83).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackRemoved {
    /// Global track id.
    pub track: TrackId,
    /// Its publisher.
    pub participant: ParticipantId,
}

impl Body for TrackRemoved {}

/// `Roster` (0x84): the full list, replacing any earlier one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roster {
    /// Participants of the main room and of the receiver's room, by id.
    pub participants: Vec<RosterEntry>,
}

impl Body for Roster {}

/// One participant in a [`Roster`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RosterEntry {
    /// Participant id.
    pub id: ParticipantId,
    /// Display name, as given by the control plane.
    pub name: String,
    /// The room they are in.
    pub room: RoomId,
    /// Whether they may publish there.
    pub may_publish: bool,
}

/// `Permission` (0x85).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Permission {
    /// Whether the receiver may publish now; `false` means its tracks were removed.
    pub may_publish: bool,
    /// The receiver's room now.
    pub room: RoomId,
}

impl Body for Permission {}

/// `RequestKeyframe` (0x86), to a publisher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestKeyframe {
    /// The publisher's own id for the track.
    pub track_id: u32,
}

impl Body for RequestKeyframe {}

/// `AudioLevels` (0x87).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioLevels {
    /// Levels measured since the previous `AudioLevels`.
    pub levels: Vec<AudioLevel>,
}

impl Body for AudioLevels {
    fn check(&self) -> Result<(), BodyError> {
        if self.levels.iter().any(|l| l.level > SILENCE_LEVEL) {
            return Err(BodyError::Invalid("level must be 0..=127"));
        }
        Ok(())
    }
}

/// One audio track's level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioLevel {
    /// Global track id.
    pub track: TrackId,
    /// Its publisher.
    pub participant: ParticipantId,
    /// Loudness in -dBov (RFC 6464): 0 is loudest, 127 silence.
    pub level: u8,
}

/// `Error` (0x88): a refused request; the session stays open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorMessage {
    /// Stable machine-readable code, e.g. `track_not_in_room`.
    pub code: String,
    /// Human-readable explanation.
    pub reason: String,
}

impl Body for ErrorMessage {}

/// `Pong` (0x89).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pong {
    /// The `Ping`'s nonce.
    pub nonce: u64,
    /// The server's clock in milliseconds, as in `Welcome`.
    pub server_time: u64,
}

impl Body for Pong {}

/// `Published` (0x8a): answer to a successful `Publish`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Published {
    /// The client's id for the track.
    pub track_id: u32,
    /// The global id subscribers see.
    pub track: TrackId,
}

impl Body for Published {}

/// `TrackWanted` (0x8b): to the publisher of a simulcast camera (only to
/// one that sent `Publish` with `simulcast_of`): whether any subscriber
/// wants the camera's full quality now. While `false` the publisher may stop
/// encoding it (the small quality goes on); when `true` again it resumes
/// with a keyframe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackWanted {
    /// The publisher's id for the camera's (full quality's) track.
    pub track_id: u32,
    /// Whether anyone wants it.
    pub wanted: bool,
}

impl Body for TrackWanted {}

fn check_version(version: u32) -> Result<(), BodyError> {
    if version != PROTOCOL_VERSION {
        return Err(BodyError::Version(version));
    }
    Ok(())
}

/// Incremental decoder for one direction of a control stream (sans-IO).
///
/// Push the bytes read from the stream, then call [`next_message`](Self::next_message) until it
/// returns `Ok(None)`. After an error the stream is unusable: close the session
/// with [`WireError::code`] as the reason.
#[derive(Debug)]
pub struct ControlReader<M> {
    buf: BytesMut,
    _message: PhantomData<fn() -> M>,
}

impl<M> Default for ControlReader<M> {
    fn default() -> Self {
        Self {
            buf: BytesMut::new(),
            _message: PhantomData,
        }
    }
}

impl<M: Message> ControlReader<M> {
    /// An empty reader.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete message, `Ok(None)` if more bytes are needed.
    ///
    /// An oversized length prefix is refused as soon as its 4 bytes arrive.
    pub fn next_message(&mut self) -> Result<Option<M>, WireError> {
        let Some(len) = frame_len(&self.buf)? else {
            return Ok(None);
        };
        if self.buf.len() < len {
            return Ok(None);
        }
        let message = decode_framed(&self.buf[..len]);
        self.buf.advance(len);
        message.map(Some)
    }

    /// Bytes buffered but not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Call when the stream ends: an unfinished message is an error.
    pub fn finish(&self) -> Result<(), WireError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(WireError::Truncated {
                what: "control message",
            })
        }
    }
}
