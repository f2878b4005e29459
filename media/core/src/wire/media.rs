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
/// Datagram type byte: one audio frame with copies of the frames just before
/// it on its track (redundancy against loss, PROTOCOL.md §4.3).
pub const DATAGRAM_REDUNDANT: u8 = 0x02;
/// The most earlier frames a redundant datagram carries.
pub const MAX_REDUNDANT_FRAMES: usize = 2;
/// How far back (in sequence numbers) an earlier frame may lie.
pub const MAX_REDUNDANT_BACK: u64 = 15;

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

/// Appends a redundant audio datagram: the frame `header`/`payload` with
/// copies of `earlier` frames of the same track, oldest first:
/// `0x02 | header | count (u8) | count x (back (u8) | timestamp back (varint)
/// | length (varint) | payload) | payload`, where `back` is how many
/// sequence numbers before `header.sequence` the copy lies (1..=15, falling)
/// and the timestamp back is in microseconds.
///
/// Fails (writing nothing) on an empty payload, more than
/// [`MAX_REDUNDANT_FRAMES`] copies or none, a copy that is not an earlier
/// frame of the track, or more than [`MAX_DATAGRAM_SIZE`] bytes.
pub fn encode_redundant_datagram<B: BufMut>(
    header: &FrameHeader,
    payload: &[u8],
    earlier: &[(FrameHeader, &[u8])],
    out: &mut B,
) -> Result<(), WireError> {
    header.validate()?;
    check_payload(payload.len())?;
    if earlier.is_empty() || earlier.len() > MAX_REDUNDANT_FRAMES {
        return Err(WireError::InvalidField {
            field: "redundant frames",
            reason: "a redundant datagram carries 1 or 2 earlier frames",
        });
    }
    let mut len = 1 + header.encoded_len() + 1 + payload.len();
    let mut last_back = MAX_REDUNDANT_BACK + 1;
    for (h, p) in earlier {
        check_payload(p.len())?;
        let back = header.sequence.wrapping_sub(h.sequence);
        if h.track != header.track
            || h.sequence >= header.sequence
            || back > MAX_REDUNDANT_BACK
            || back >= last_back
            || h.timestamp_us > header.timestamp_us
        {
            return Err(WireError::InvalidField {
                field: "redundant frames",
                reason: "copies must be earlier frames of the track, oldest first, at most 15 back",
            });
        }
        last_back = back;
        let ts_back = header.timestamp_us - h.timestamp_us;
        len += 1 + varint::len(ts_back) + varint::len(p.len() as u64) + p.len();
    }
    if len > MAX_DATAGRAM_SIZE {
        return Err(WireError::Oversized {
            what: "datagram",
            len: len as u64,
            max: MAX_DATAGRAM_SIZE as u64,
        });
    }
    out.put_u8(DATAGRAM_REDUNDANT);
    header.encode(out)?;
    out.put_u8(earlier.len() as u8);
    for (h, p) in earlier {
        out.put_u8((header.sequence - h.sequence) as u8);
        varint::put(out, header.timestamp_us - h.timestamp_us);
        varint::put(out, p.len() as u64);
        out.put_slice(p);
    }
    out.put_slice(payload);
    Ok(())
}

/// The frames of one datagram, oldest first: the earlier copies a redundant
/// datagram carries, then its own frame (the only one of a `0x01` datagram).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatagramFrames<'a> {
    frames: [(FrameHeader, &'a [u8]); MAX_REDUNDANT_FRAMES + 1],
    len: usize,
}

impl<'a> DatagramFrames<'a> {
    /// Every frame, oldest first; `true` marks a copy (an earlier frame).
    pub fn iter(&self) -> impl Iterator<Item = (FrameHeader, &'a [u8], bool)> + '_ {
        let last = self.len - 1;
        self.frames[..self.len]
            .iter()
            .enumerate()
            .map(move |(i, (h, p))| (*h, *p, i < last))
    }

    /// The datagram's own (newest) frame.
    pub fn newest(&self) -> (FrameHeader, &'a [u8]) {
        self.frames[self.len - 1]
    }

    /// How many frames (1 + copies).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never true: a datagram carries at least its own frame.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Decodes a datagram of either type into its frames (see [`DatagramFrames`]);
/// payloads are sub-slices of `buf`.
pub fn decode_datagram_frames(buf: &[u8]) -> Result<DatagramFrames<'_>, WireError> {
    match buf.first() {
        Some(&DATAGRAM_REDUNDANT) => {}
        _ => {
            let (header, payload) = decode_datagram(buf)?;
            let mut frames = [(FrameHeader::default(), &[][..]); MAX_REDUNDANT_FRAMES + 1];
            frames[0] = (header, payload);
            return Ok(DatagramFrames { frames, len: 1 });
        }
    }
    if buf.len() > MAX_DATAGRAM_SIZE {
        return Err(WireError::Oversized {
            what: "datagram",
            len: buf.len() as u64,
            max: MAX_DATAGRAM_SIZE as u64,
        });
    }
    let (header, n) = FrameHeader::decode(&buf[1..])?;
    let mut at = 1 + n;
    let count = usize::from(*buf.get(at).ok_or(WireError::Truncated {
        what: "redundant frame count",
    })?);
    at += 1;
    if count == 0 || count > MAX_REDUNDANT_FRAMES {
        return Err(WireError::InvalidField {
            field: "redundant frame count",
            reason: "must be 1 or 2",
        });
    }
    let mut frames = [(FrameHeader::default(), &[][..]); MAX_REDUNDANT_FRAMES + 1];
    let mut last_back = MAX_REDUNDANT_BACK + 1;
    for slot in frames.iter_mut().take(count) {
        let back = u64::from(*buf.get(at).ok_or(WireError::Truncated {
            what: "redundant frame",
        })?);
        at += 1;
        if back == 0 || back >= last_back || back > header.sequence {
            return Err(WireError::InvalidField {
                field: "redundant frame",
                reason: "must lie 1 to 15 frames back, oldest first",
            });
        }
        last_back = back;
        let (ts_back, k) = varint::get(&buf[at..], "redundant frame timestamp")?;
        at += k;
        if ts_back > header.timestamp_us {
            return Err(WireError::InvalidField {
                field: "redundant frame timestamp",
                reason: "before the epoch",
            });
        }
        let (len, k) = varint::get(&buf[at..], "redundant frame length")?;
        at += k;
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| at.checked_add(l))
            .filter(|&e| e <= buf.len())
            .ok_or(WireError::Truncated {
                what: "redundant frame payload",
            })?;
        check_payload(end - at)?;
        *slot = (
            FrameHeader {
                sequence: header.sequence - back,
                timestamp_us: header.timestamp_us - ts_back,
                ..header
            },
            &buf[at..end],
        );
        at = end;
    }
    let payload = &buf[at..];
    check_payload(payload.len())?;
    frames[count] = (header, payload);
    Ok(DatagramFrames {
        frames,
        len: count + 1,
    })
}

/// Which of a track's last 64 sequence numbers arrived: with redundant
/// datagrams a frame comes once alone and again as a copy in the next one(s);
/// receivers (the SFU's router, bots, pages) take each sequence once.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeqWindow {
    newest: Option<u64>,
    /// Bit `i`: `newest - i` arrived.
    seen: u64,
}

impl SeqWindow {
    /// Marks `sequence` as arrived; false if it had.
    ///
    /// A sequence 64 or more below the newest cannot be a copy (copies lie at
    /// most 15 back): the publisher started counting again, and the window
    /// starts over from it.
    pub fn first_time(&mut self, sequence: u64) -> bool {
        match self.newest {
            Some(newest) if sequence <= newest && newest - sequence < 64 => {
                let bit = 1u64 << (newest - sequence);
                let first = self.seen & bit == 0;
                self.seen |= bit;
                first
            }
            Some(newest) if sequence > newest => {
                let shift = sequence - newest;
                self.seen = if shift >= 64 { 0 } else { self.seen << shift } | 1;
                self.newest = Some(sequence);
                true
            }
            _ => {
                self.newest = Some(sequence);
                self.seen = 1;
                true
            }
        }
    }
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
