//! Live thumbnails: decode one AV1 keyframe with dav1d and shrink it into a
//! small JPEG (at most 160x90 by default, aspect kept) for session cards and
//! the people list. Runs on a codec worker thread, never on the forwarding path.

use dav1d::{PixelLayout, PlanarImageComponent};

use super::CodecError;
use super::av1::Av1Decoder;

/// Default thumbnail box.
pub const THUMBNAIL_WIDTH: u32 = 160;
/// Default thumbnail box.
pub const THUMBNAIL_HEIGHT: u32 = 90;
const JPEG_QUALITY: u8 = 75;

/// A JPEG thumbnail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    /// Baseline JPEG (JFIF) bytes.
    pub jpeg: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// Decodes a keyframe temporal unit (with its sequence header) and returns a
/// JPEG fitting in `max_width` x `max_height`.
pub fn keyframe_thumbnail(
    keyframe: &[u8],
    max_width: u32,
    max_height: u32,
) -> Result<Thumbnail, CodecError> {
    let mut decoder = Av1Decoder::new()?;
    let picture = decoder
        .decode(keyframe)?
        .ok_or_else(|| CodecError::Dav1d("the keyframe produced no picture".into()))?;
    picture_thumbnail(&picture, max_width, max_height)
}

/// Shrinks a decoded picture into a JPEG fitting in `max_width` x `max_height`.
pub fn picture_thumbnail(
    picture: &dav1d::Picture,
    max_width: u32,
    max_height: u32,
) -> Result<Thumbnail, CodecError> {
    let (w, h) = (picture.width(), picture.height());
    if w == 0 || h == 0 {
        return Err(CodecError::Image("empty picture".into()));
    }
    let scale = f64::min(
        f64::from(max_width) / f64::from(w),
        f64::from(max_height) / f64::from(h),
    )
    .min(1.0);
    let out_w = ((f64::from(w) * scale).round() as u32).clamp(1, max_width.max(1));
    let out_h = ((f64::from(h) * scale).round() as u32).clamp(1, max_height.max(1));

    let high_bit_depth = picture.bit_depth() > 8;
    let shift = picture.bit_depth().saturating_sub(8);
    let plane = |component: PlanarImageComponent, pw: u32, ph: u32| -> Vec<u8> {
        let data = picture.plane(component);
        let stride = picture.stride(component) as usize;
        box_scale(&data, stride, pw, ph, out_w, out_h, high_bit_depth, shift)
    };
    let (cw, ch) = match picture.pixel_layout() {
        PixelLayout::I420 => (w.div_ceil(2), h.div_ceil(2)),
        PixelLayout::I422 => (w.div_ceil(2), h),
        PixelLayout::I444 => (w, h),
        PixelLayout::I400 => (0, 0),
    };
    let y = plane(PlanarImageComponent::Y, w, h);
    let (u, v) = if cw == 0 {
        let grey = vec![128; y.len()];
        (grey.clone(), grey)
    } else {
        (
            plane(PlanarImageComponent::U, cw, ch),
            plane(PlanarImageComponent::V, cw, ch),
        )
    };
    let mut ycbcr = Vec::with_capacity(y.len() * 3);
    for i in 0..y.len() {
        ycbcr.extend_from_slice(&[y[i], u[i], v[i]]);
    }
    let mut jpeg = Vec::new();
    let encoder = jpeg_encoder::Encoder::new(&mut jpeg, JPEG_QUALITY);
    let (ew, eh) = (
        u16::try_from(out_w).map_err(|_| CodecError::Image("too wide".into()))?,
        u16::try_from(out_h).map_err(|_| CodecError::Image("too tall".into()))?,
    );
    encoder
        .encode(&ycbcr, ew, eh, jpeg_encoder::ColorType::Ycbcr)
        .map_err(|e| CodecError::Image(e.to_string()))?;
    Ok(Thumbnail {
        jpeg,
        width: out_w,
        height: out_h,
    })
}

/// Box-filters one plane of `pw` x `ph` samples (8-bit, or 16-bit little-endian
/// shifted down by `shift`) to `ow` x `oh`.
#[allow(clippy::too_many_arguments)]
fn box_scale(
    data: &[u8],
    stride: usize,
    pw: u32,
    ph: u32,
    ow: u32,
    oh: u32,
    wide: bool,
    shift: usize,
) -> Vec<u8> {
    let sample = |x: u32, y: u32| -> u32 {
        let row = y as usize * stride;
        if wide {
            let i = row + 2 * x as usize;
            let v = data
                .get(i..i + 2)
                .map_or(0, |b| u32::from(u16::from_le_bytes([b[0], b[1]])));
            v >> shift
        } else {
            data.get(row + x as usize).copied().map_or(0, u32::from)
        }
    };
    let mut out = Vec::with_capacity((ow * oh) as usize);
    for oy in 0..oh {
        let y0 = oy * ph / oh;
        let y1 = ((oy + 1) * ph / oh).max(y0 + 1).min(ph);
        for ox in 0..ow {
            let x0 = ox * pw / ow;
            let x1 = ((ox + 1) * pw / ow).max(x0 + 1).min(pw);
            let (mut sum, mut n) = (0u32, 0u32);
            for y in y0..y1 {
                for x in x0..x1 {
                    sum += sample(x, y);
                    n += 1;
                }
            }
            out.push((sum / n.max(1)).min(255) as u8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_scale_averages_blocks() {
        // 4x2 plane -> 2x1
        let plane = [0, 10, 100, 110, 20, 30, 120, 130];
        assert_eq!(box_scale(&plane, 4, 4, 2, 2, 1, false, 0), vec![15, 115]);
        // 16-bit samples (10-bit depth), shifted down by 2
        let wide: Vec<u8> = [400u16, 800].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(box_scale(&wide, 4, 2, 1, 1, 1, true, 2), vec![150]);
    }
}
