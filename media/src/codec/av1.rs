//! AV1 helpers: an IVF reader (the bots' fixture clip), keyframe detection from
//! the OBUs of a temporal unit, and a dav1d decoder that turns one temporal
//! unit into at most one picture (no frame delay).

use bytes::Bytes;

use super::CodecError;

/// One frame (temporal unit) of an IVF file.
#[derive(Debug, Clone)]
pub struct IvfFrame {
    /// Presentation timestamp in the file's time base.
    pub pts: u64,
    /// The temporal unit's OBUs.
    pub data: Bytes,
}

/// An IVF file held in memory.
#[derive(Debug, Clone)]
pub struct Ivf {
    /// Codec FourCC, `AV01` for AV1.
    pub fourcc: [u8; 4],
    /// Frame width in pixels.
    pub width: u16,
    /// Frame height in pixels.
    pub height: u16,
    /// Time base numerator (frame rate = rate / scale).
    pub rate: u32,
    /// Time base denominator.
    pub scale: u32,
    /// The frames, in order.
    pub frames: Vec<IvfFrame>,
}

/// Parses an IVF file (32-byte header, then 12-byte frame headers + data).
pub fn parse_ivf(file: &[u8]) -> Result<Ivf, CodecError> {
    let bad = CodecError::Malformed("IVF file");
    if file.len() < 32 || &file[..4] != b"DKIF" {
        return Err(bad);
    }
    let u16_at = |i: usize| u16::from_le_bytes([file[i], file[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([file[i], file[i + 1], file[i + 2], file[i + 3]]);
    let header_len = usize::from(u16_at(6));
    let mut ivf = Ivf {
        fourcc: [file[8], file[9], file[10], file[11]],
        width: u16_at(12),
        height: u16_at(14),
        rate: u32_at(16),
        scale: u32_at(20),
        frames: Vec::new(),
    };
    let all = Bytes::copy_from_slice(file);
    let mut at = header_len.max(32);
    while at < file.len() {
        let head = file.get(at..at + 12).ok_or(bad.clone())?;
        let size = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let pts = u64::from_le_bytes(head[4..12].try_into().expect("8 bytes"));
        let start = at + 12;
        if file.len() < start + size || size == 0 {
            return Err(bad);
        }
        ivf.frames.push(IvfFrame {
            pts,
            data: all.slice(start..start + size),
        });
        at = start + size;
    }
    Ok(ivf)
}

const OBU_SEQUENCE_HEADER: u8 = 1;
const OBU_FRAME_HEADER: u8 = 3;
const OBU_FRAME: u8 = 6;

/// The OBUs of a temporal unit as `(type, payload)`.
fn obus(mut tu: &[u8]) -> impl Iterator<Item = Result<(u8, &[u8]), CodecError>> {
    std::iter::from_fn(move || {
        if tu.is_empty() {
            return None;
        }
        let bad = Err(CodecError::Malformed("AV1 OBU"));
        let header = tu[0];
        let kind = (header >> 3) & 0x0f;
        let extension = header & 0x04 != 0;
        let has_size = header & 0x02 != 0;
        let mut at = 1 + usize::from(extension);
        let size = if has_size {
            // leb128
            let mut value: u64 = 0;
            let mut i = 0;
            loop {
                let Some(&b) = tu.get(at) else {
                    tu = &[];
                    return Some(bad);
                };
                value |= u64::from(b & 0x7f) << (7 * i);
                at += 1;
                i += 1;
                if b & 0x80 == 0 || i == 8 {
                    break;
                }
            }
            value as usize
        } else {
            tu.len().saturating_sub(at)
        };
        let Some(payload) = tu.get(at..at.saturating_add(size)) else {
            tu = &[];
            return Some(bad);
        };
        tu = &tu[at + size..];
        Some(Ok((kind, payload)))
    })
}

/// Whether the temporal unit's first frame header is a shown key frame
/// (`show_existing_frame = 0`, `frame_type = KEY_FRAME`). Assumes the
/// sequence does not use `reduced_still_picture_header` (true for video).
pub fn is_keyframe(tu: &[u8]) -> Result<bool, CodecError> {
    for obu in obus(tu) {
        let (kind, payload) = obu?;
        if kind == OBU_FRAME || kind == OBU_FRAME_HEADER {
            let first = *payload
                .first()
                .ok_or(CodecError::Malformed("AV1 frame header"))?;
            let show_existing = first & 0x80 != 0;
            let frame_type = (first >> 5) & 0x03;
            return Ok(!show_existing && frame_type == 0);
        }
    }
    Ok(false)
}

/// Whether the temporal unit carries a sequence header OBU.
pub fn has_sequence_header(tu: &[u8]) -> bool {
    obus(tu).any(|o| matches!(o, Ok((OBU_SEQUENCE_HEADER, _))))
}

/// A single-threaded dav1d decoder without frame delay.
pub struct Av1Decoder {
    decoder: dav1d::Decoder,
}

impl std::fmt::Debug for Av1Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Av1Decoder")
    }
}

impl Av1Decoder {
    /// A new decoder.
    pub fn new() -> Result<Self, CodecError> {
        let mut settings = dav1d::Settings::new();
        settings.set_n_threads(1);
        settings.set_max_frame_delay(1);
        let decoder = dav1d::Decoder::with_settings(&settings)
            .map_err(|e| CodecError::Dav1d(e.to_string()))?;
        Ok(Self { decoder })
    }

    /// Decodes one temporal unit; `Ok(None)` if it produced no picture to show.
    pub fn decode(&mut self, tu: &[u8]) -> Result<Option<dav1d::Picture>, CodecError> {
        let err = |e: dav1d::Error| CodecError::Dav1d(e.to_string());
        let mut pending = match self.decoder.send_data(tu.to_vec(), None, None, None) {
            Ok(()) => false,
            Err(dav1d::Error::Again) => true,
            Err(e) => return Err(err(e)),
        };
        let mut picture = None;
        loop {
            match self.decoder.get_picture() {
                Ok(p) => picture = Some(p),
                Err(dav1d::Error::Again) if !pending => return Ok(picture),
                Err(dav1d::Error::Again) => {}
                Err(e) => return Err(err(e)),
            }
            if pending {
                pending = match self.decoder.send_pending_data() {
                    Ok(()) => false,
                    Err(dav1d::Error::Again) => true,
                    Err(e) => return Err(err(e)),
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obu_table() {
        // (temporal unit, keyframe, has sequence header)
        let table: [(&[u8], Result<bool, CodecError>, bool); 5] = [
            // temporal delimiter, sequence header, frame (key, shown)
            (
                &[0x12, 0x00, 0x0a, 0x01, 0xaa, 0x32, 0x01, 0x10],
                Ok(true),
                true,
            ),
            // temporal delimiter, frame: inter frame (frame_type 1)
            (&[0x12, 0x00, 0x32, 0x01, 0x30], Ok(false), false),
            // show_existing_frame
            (&[0x32, 0x01, 0x80], Ok(false), false),
            // truncated size
            (
                &[0x32, 0x05, 0x10],
                Err(CodecError::Malformed("AV1 OBU")),
                false,
            ),
            (&[], Ok(false), false),
        ];
        for (tu, key, seq) in table {
            assert_eq!(is_keyframe(tu), key, "{tu:02x?}");
            assert_eq!(has_sequence_header(tu), seq, "{tu:02x?}");
        }
    }

    #[test]
    fn ivf_rejects_garbage() {
        assert!(parse_ivf(b"nope").is_err());
        let mut f = b"DKIF".to_vec();
        f.resize(32, 0);
        f[6] = 32;
        f.extend_from_slice(&[100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert!(parse_ivf(&f).is_err(), "frame longer than the file");
    }
}
