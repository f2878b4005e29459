//! Media framing: the frame header shared by datagrams and streams, audio
//! datagrams, and unidirectional streams (one per video group of pictures, or
//! one per audio track as the datagram fallback). See `media/PROTOCOL.md` §4.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::{WireError, varint};

/// Highest temporal layer id (L1T3 has layers 0, 1 and 2).
pub const MAX_TEMPORAL_LAYER: u8 = 2;
/// Largest datagram, type byte and header included.
pub const MAX_DATAGRAM_SIZE: usize = 1200;
/// Largest frame (header + payload) inside a stream: 1 MiB.
pub const MAX_FRAME_SIZE: usize = 1 << 20;
/// Datagram type byte: one media frame.
pub const DATAGRAM_FRAME: u8 = 0x01;

const FLAG_KEYFRAME: u8 = 0b0000_0001;
const LAYER_SHIFT: u32 = 1;
const LAYER_MASK: u8 = 0b0000_0110;
const FLAGS_RESERVED: u8 = !(FLAG_KEYFRAME | LAYER_MASK);

/// The header in front of every media frame's payload.
///
/// Layout: `flags (u8) | track | group | sequence | timestamp_us` (the last four
/// are QUIC varints). Flags: bit 0 keyframe, bits 1-2 temporal layer, bits 3-7 zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FrameHeader {
    /// Track id: the publisher's own id on the way in, the global id on the way out.
    pub track: u32,
    /// Group of pictures; a keyframe opens a new, larger group. 0 for audio.
    pub group: u64,
    /// Per-track frame counter, +1 per frame (receivers see gaps where layers were dropped).
    pub sequence: u64,
    /// Capture timestamp in microseconds (the WebCodecs `timestamp`).
    pub timestamp_us: u64,
    /// The frame is a keyframe (video) or independently decodable (audio: always).
    pub keyframe: bool,
    /// Temporal layer 0..=2; 0 for keyframes and audio.
    pub temporal_layer: u8,
}

impl FrameHeader {
    /// The longest possible encoded header.
    pub const MAX_LEN: usize = 1 + 4 * 8;

    /// Checks the protocol's rules for the fields.
    pub fn validate(&self) -> Result<(), WireError> {
        if self.temporal_layer > MAX_TEMPORAL_LAYER {
            return Err(WireError::InvalidField {
                field: "temporal layer",
                reason: "must be 0, 1 or 2",
            });
        }
        if self.keyframe && self.temporal_layer != 0 {
            return Err(WireError::InvalidField {
                field: "temporal layer",
                reason: "a keyframe is in layer 0",
            });
        }
        varint::check(self.group, "group")?;
        varint::check(self.sequence, "sequence")?;
        varint::check(self.timestamp_us, "timestamp")?;
        Ok(())
    }

    /// The encoded length.
    pub fn encoded_len(&self) -> usize {
        1 + varint::len(u64::from(self.track))
            + varint::len(self.group)
            + varint::len(self.sequence)
            + varint::len(self.timestamp_us)
    }

    /// Appends the header; fails (writing nothing) if [`validate`](Self::validate) fails.
    pub fn encode<B: BufMut>(&self, out: &mut B) -> Result<(), WireError> {
        self.validate()?;
        let mut flags = (self.temporal_layer << LAYER_SHIFT) & LAYER_MASK;
        if self.keyframe {
            flags |= FLAG_KEYFRAME;
        }
        out.put_u8(flags);
        varint::put(out, u64::from(self.track));
        varint::put(out, self.group);
        varint::put(out, self.sequence);
        varint::put(out, self.timestamp_us);
        Ok(())
    }

    /// Reads a header from the start of `buf`; returns it and its length.
    pub fn decode(buf: &[u8]) -> Result<(FrameHeader, usize), WireError> {
        let flags = *buf.first().ok_or(WireError::Truncated {
            what: "frame flags",
        })?;
        if flags & FLAGS_RESERVED != 0 {
            return Err(WireError::InvalidField {
                field: "frame flags",
                reason: "reserved bits 3-7 must be zero",
            });
        }
        let mut at = 1;
        let (track, n) = varint::get(&buf[at..], "track id")?;
        at += n;
        let track = u32::try_from(track).map_err(|_| WireError::InvalidField {
            field: "track id",
            reason: "larger than 2^32 - 1",
        })?;
        let (group, n) = varint::get(&buf[at..], "group")?;
        at += n;
        let (sequence, n) = varint::get(&buf[at..], "sequence")?;
        at += n;
        let (timestamp_us, n) = varint::get(&buf[at..], "timestamp")?;
        at += n;
        let header = FrameHeader {
            track,
            group,
            sequence,
            timestamp_us,
            keyframe: flags & FLAG_KEYFRAME != 0,
            temporal_layer: (flags & LAYER_MASK) >> LAYER_SHIFT,
        };
        header.validate()?;
        Ok((header, at))
    }
}

fn check_payload(payload_len: usize) -> Result<(), WireError> {
    if payload_len == 0 {
        return Err(WireError::InvalidField {
            field: "payload",
            reason: "empty",
        });
    }
    Ok(())
}

/// The size of the datagram carrying `header` and `payload_len` bytes.
pub fn datagram_len(header: &FrameHeader, payload_len: usize) -> usize {
    1 + header.encoded_len() + payload_len
}

/// Appends an audio datagram: `0x01 | header | payload`.
///
/// Fails with [`WireError::Oversized`] if it would exceed [`MAX_DATAGRAM_SIZE`]
/// (send the frame on the track's audio stream instead); writes nothing on error.
pub fn encode_datagram<B: BufMut>(
    header: &FrameHeader,
    payload: &[u8],
    out: &mut B,
) -> Result<(), WireError> {
    header.validate()?;
    check_payload(payload.len())?;
    let len = datagram_len(header, payload.len());
    if len > MAX_DATAGRAM_SIZE {
        return Err(WireError::Oversized {
            what: "datagram",
            len: len as u64,
            max: MAX_DATAGRAM_SIZE as u64,
        });
    }
    out.put_u8(DATAGRAM_FRAME);
    header.encode(out)?;
    out.put_slice(payload);
    Ok(())
}

/// Decodes a datagram into its header and payload (a sub-slice of `buf`; with
/// `Bytes`, use `Bytes::slice_ref` to keep it zero-copy).
pub fn decode_datagram(buf: &[u8]) -> Result<(FrameHeader, &[u8]), WireError> {
    if buf.len() > MAX_DATAGRAM_SIZE {
        return Err(WireError::Oversized {
            what: "datagram",
            len: buf.len() as u64,
            max: MAX_DATAGRAM_SIZE as u64,
        });
    }
    let kind = *buf.first().ok_or(WireError::Truncated {
        what: "datagram type",
    })?;
    if kind != DATAGRAM_FRAME {
        return Err(WireError::UnknownDatagramType(kind));
    }
    let (header, n) = FrameHeader::decode(&buf[1..])?;
    let payload = &buf[1 + n..];
    check_payload(payload.len())?;
    Ok((header, payload))
}

/// What a unidirectional media stream carries (its first byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum StreamKind {
    /// One group of pictures of a video track: a keyframe, then its dependent frames.
    VideoGroup = 0x01,
    /// Audio frames of one track that did not fit (or could not use) a datagram.
    Audio = 0x02,
}

impl StreamKind {
    fn from_byte(b: u8) -> Result<StreamKind, WireError> {
        match b {
            0x01 => Ok(StreamKind::VideoGroup),
            0x02 => Ok(StreamKind::Audio),
            other => Err(WireError::UnknownStreamType(other)),
        }
    }
}

/// The header opening a unidirectional media stream: `kind (u8) | track | group`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamHeader {
    /// What the stream carries.
    pub kind: StreamKind,
    /// Track id (same meaning as in [`FrameHeader::track`]).
    pub track: u32,
    /// The group (video); always 0 for audio streams.
    pub group: u64,
}

impl StreamHeader {
    /// The longest possible encoded stream header.
    pub const MAX_LEN: usize = 1 + 8 + 8;

    /// A video group stream header.
    pub fn video(track: u32, group: u64) -> StreamHeader {
        StreamHeader {
            kind: StreamKind::VideoGroup,
            track,
            group,
        }
    }

    /// An audio stream header.
    pub fn audio(track: u32) -> StreamHeader {
        StreamHeader {
            kind: StreamKind::Audio,
            track,
            group: 0,
        }
    }

    fn validate(&self) -> Result<(), WireError> {
        varint::check(self.group, "group")?;
        if self.kind == StreamKind::Audio && self.group != 0 {
            return Err(WireError::InvalidField {
                field: "group",
                reason: "must be 0 on an audio stream",
            });
        }
        Ok(())
    }

    /// The encoded length.
    pub fn encoded_len(&self) -> usize {
        1 + varint::len(u64::from(self.track)) + varint::len(self.group)
    }

    /// Appends the stream header.
    pub fn encode<B: BufMut>(&self, out: &mut B) -> Result<(), WireError> {
        self.validate()?;
        out.put_u8(self.kind as u8);
        varint::put(out, u64::from(self.track));
        varint::put(out, self.group);
        Ok(())
    }

    /// Reads a stream header from the start of `buf`; returns it and its length.
    pub fn decode(buf: &[u8]) -> Result<(StreamHeader, usize), WireError> {
        let kind = *buf.first().ok_or(WireError::Truncated {
            what: "stream type",
        })?;
        let kind = StreamKind::from_byte(kind)?;
        let (track, n1) = varint::get(&buf[1..], "track id")?;
        let track = u32::try_from(track).map_err(|_| WireError::InvalidField {
            field: "track id",
            reason: "larger than 2^32 - 1",
        })?;
        let (group, n2) = varint::get(&buf[1 + n1..], "group")?;
        let header = StreamHeader { kind, track, group };
        header.validate()?;
        Ok((header, 1 + n1 + n2))
    }

    /// Checks that `frame` may be the `index`-th (from 0) frame of this stream.
    fn admits(&self, frame: &FrameHeader, index: u64) -> Result<(), WireError> {
        if frame.track != self.track {
            return Err(WireError::InvalidField {
                field: "track id",
                reason: "frame's track differs from the stream's",
            });
        }
        if frame.group != self.group {
            return Err(WireError::InvalidField {
                field: "group",
                reason: "frame's group differs from the stream's",
            });
        }
        if self.kind == StreamKind::VideoGroup && frame.keyframe != (index == 0) {
            return Err(WireError::InvalidField {
                field: "keyframe flag",
                reason: "a video group starts with its only keyframe",
            });
        }
        Ok(())
    }
}

/// Appends one stream frame: `length (varint) | header | payload`, where length
/// counts header and payload and is at most [`MAX_FRAME_SIZE`].
pub fn encode_stream_frame<B: BufMut>(
    header: &FrameHeader,
    payload: &[u8],
    out: &mut B,
) -> Result<(), WireError> {
    header.validate()?;
    check_payload(payload.len())?;
    let len = header.encoded_len() + payload.len();
    if len > MAX_FRAME_SIZE {
        return Err(WireError::Oversized {
            what: "stream frame",
            len: len as u64,
            max: MAX_FRAME_SIZE as u64,
        });
    }
    varint::put(out, len as u64);
    header.encode(out)?;
    out.put_slice(payload);
    Ok(())
}

/// Decodes one stream frame from the start of `buf`: header, payload, bytes used.
///
/// [`WireError::Truncated`] means `buf` holds only part of the frame.
pub fn decode_stream_frame(buf: &[u8]) -> Result<(FrameHeader, &[u8], usize), WireError> {
    let (len, n) = varint::get(buf, "stream frame length")?;
    let len = check_frame_len(len)?;
    let frame = buf.get(n..n + len).ok_or(WireError::Truncated {
        what: "stream frame",
    })?;
    let (header, h) = decode_framed_header(frame)?;
    Ok((header, &frame[h..], n + len))
}

/// Decodes the header of a complete, length-delimited frame and checks that a
/// payload follows. Running out of bytes here is a bad length, not truncation.
fn decode_framed_header(frame: &[u8]) -> Result<(FrameHeader, usize), WireError> {
    let (header, h) = FrameHeader::decode(frame).map_err(|e| match e {
        WireError::Truncated { .. } => WireError::InvalidField {
            field: "stream frame length",
            reason: "shorter than the frame header",
        },
        other => other,
    })?;
    check_payload(frame.len() - h)?;
    Ok((header, h))
}

fn check_frame_len(len: u64) -> Result<usize, WireError> {
    if len > MAX_FRAME_SIZE as u64 {
        return Err(WireError::Oversized {
            what: "stream frame",
            len,
            max: MAX_FRAME_SIZE as u64,
        });
    }
    Ok(len as usize)
}

/// Incremental decoder for one unidirectional media stream (sans-IO).
///
/// Push bytes as they are read, take the [`header`](Self::header) once it is
/// available, then [`next_frame`](Self::next_frame) until `Ok(None)`. Payloads are
/// zero-copy [`Bytes`]. After an error the stream is unusable: stop reading it.
#[derive(Debug, Default)]
pub struct StreamReader {
    buf: BytesMut,
    header: Option<StreamHeader>,
    frames: u64,
}

impl StreamReader {
    /// An empty reader.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The stream header, `Ok(None)` until enough bytes have arrived.
    pub fn header(&mut self) -> Result<Option<StreamHeader>, WireError> {
        if self.header.is_none() {
            match StreamHeader::decode(&self.buf) {
                Ok((header, n)) => {
                    self.buf.advance(n);
                    self.header = Some(header);
                }
                Err(WireError::Truncated { .. }) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        Ok(self.header)
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed.
    ///
    /// Checks that the frame belongs to the stream (same track and group, and
    /// for a video group: keyframe first and only first).
    pub fn next_frame(&mut self) -> Result<Option<(FrameHeader, Bytes)>, WireError> {
        let Some(stream) = self.header()? else {
            return Ok(None);
        };
        let (len, n) = match varint::get(&self.buf, "stream frame length") {
            Ok(v) => v,
            Err(WireError::Truncated { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let len = check_frame_len(len)?;
        if self.buf.len() < n + len {
            return Ok(None);
        }
        let mut frame = self.buf.split_to(n + len).freeze();
        frame.advance(n);
        let (header, h) = decode_framed_header(&frame)?;
        stream.admits(&header, self.frames)?;
        self.frames += 1;
        Ok(Some((header, frame.slice(h..))))
    }

    /// Frames returned so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Call when the stream ends: a missing header or unfinished frame is an error.
    pub fn finish(&self) -> Result<(), WireError> {
        if self.header.is_none() {
            return Err(WireError::Truncated {
                what: "stream header",
            });
        }
        if !self.buf.is_empty() {
            return Err(WireError::Truncated {
                what: "stream frame",
            });
        }
        Ok(())
    }
}
