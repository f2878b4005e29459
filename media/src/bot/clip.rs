//! Media the bots publish: real Opus packets encoded from a generated
//! speech-like signal, and real AV1 frames from the fixture clip
//! (`media/fixtures/clip-640x360-30fps.ivf`, see `media/fixtures/README.md`).

use std::f64::consts::TAU;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use podium_media_core::TrackConfig;

use crate::codec::CodecError;
use crate::codec::av1::{is_keyframe, parse_ivf};

/// The fixture clip: 640x360, 30 fps, 2 s, AV1 (libaom, realtime), a keyframe every 30 frames.
pub const FIXTURE_IVF: &[u8] = include_bytes!("../../fixtures/clip-640x360-30fps.ivf");
/// The same picture at 320x180 (~125 kbit/s): the small quality of a
/// simulcast camera, keyframes at the same frames.
pub const FIXTURE_SMALL_IVF: &[u8] = include_bytes!("../../fixtures/clip-320x180-30fps.ivf");

/// Opus frame length the bots use.
pub const AUDIO_FRAME: Duration = Duration::from_millis(20);
const SAMPLE_RATE: u32 = 48_000;
const FRAME_SAMPLES: usize = 960;

/// One AV1 temporal unit.
#[derive(Debug, Clone)]
pub struct VideoFrame {
    /// The OBUs.
    pub data: Bytes,
    /// A key frame (starts a group of pictures).
    pub keyframe: bool,
}

/// An AV1 clip the bots loop over.
#[derive(Debug, Clone)]
pub struct VideoClip {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Time between frames.
    pub frame_duration: Duration,
    /// The frames; the first is a keyframe.
    pub frames: Vec<VideoFrame>,
}

impl VideoClip {
    /// The fixture clip.
    pub fn fixture() -> Arc<VideoClip> {
        Arc::new(Self::from_ivf(FIXTURE_IVF).expect("the fixture clip is valid"))
    }

    /// The fixture clip's small quality (320x180), for simulcast.
    pub fn fixture_small() -> Arc<VideoClip> {
        Arc::new(Self::from_ivf(FIXTURE_SMALL_IVF).expect("the small fixture clip is valid"))
    }

    /// Reads an AV1 IVF file; its first frame must be a keyframe.
    pub fn from_ivf(file: &[u8]) -> Result<VideoClip, CodecError> {
        let ivf = parse_ivf(file)?;
        if &ivf.fourcc != b"AV01" || ivf.rate == 0 || ivf.scale == 0 {
            return Err(CodecError::Malformed("IVF header (not AV1)"));
        }
        let frames = ivf
            .frames
            .iter()
            .map(|f| {
                Ok(VideoFrame {
                    keyframe: is_keyframe(&f.data)?,
                    data: f.data.clone(),
                })
            })
            .collect::<Result<Vec<_>, CodecError>>()?;
        if !frames.first().is_some_and(|f| f.keyframe) {
            return Err(CodecError::Malformed(
                "clip (first frame is not a keyframe)",
            ));
        }
        Ok(VideoClip {
            width: u32::from(ivf.width),
            height: u32::from(ivf.height),
            frame_duration: Duration::from_secs_f64(f64::from(ivf.scale) / f64::from(ivf.rate)),
            frames,
        })
    }

    /// The index of the first keyframe after `index` (wrapping to 0).
    pub fn next_keyframe_after(&self, index: usize) -> usize {
        (index + 1..self.frames.len())
            .find(|&i| self.frames[i].keyframe)
            .unwrap_or(0)
    }

    /// The track configuration to publish it with.
    pub fn track_config(&self) -> TrackConfig {
        TrackConfig::av1(self.width, self.height)
            .with_source(podium_media_core::TrackSource::Camera)
    }

    /// Average bitrate in bits per second.
    pub fn bitrate(&self) -> f64 {
        let bytes: usize = self.frames.iter().map(|f| f.data.len()).sum();
        bytes as f64 * 8.0 / (self.frames.len() as f64 * self.frame_duration.as_secs_f64())
    }
}

/// Opus packets (20 ms, 48 kHz mono) the bots loop over.
#[derive(Debug, Clone)]
pub struct AudioClip {
    /// One packet per 20 ms.
    pub packets: Vec<Bytes>,
}

impl AudioClip {
    /// `seconds` of a speech-like signal (a gliding voiced tone with harmonics,
    /// syllable-rate loudness and pauses), encoded with libopus at 32 kbps.
    pub fn speech_like(seconds: u32) -> Result<Arc<AudioClip>, CodecError> {
        let err = |e: opus::Error| CodecError::Opus(e.to_string());
        let mut encoder =
            opus::Encoder::new(SAMPLE_RATE, opus::Channels::Mono, opus::Application::Voip)
                .map_err(err)?;
        encoder
            .set_bitrate(opus::Bitrate::Bits(32_000))
            .map_err(err)?;
        let total = seconds.max(1) as usize * SAMPLE_RATE as usize;
        let mut phase = 0.0f64;
        let mut pcm = Vec::with_capacity(total);
        for n in 0..total {
            let t = n as f64 / f64::from(SAMPLE_RATE);
            let f0 = 120.0 + 30.0 * (TAU * 0.5 * t).sin();
            phase += TAU * f0 / f64::from(SAMPLE_RATE);
            let voiced: f64 = (1..=8)
                .map(|k| (phase * f64::from(k)).sin() / f64::from(k))
                .sum();
            let syllables = 0.5 * (1.0 - (TAU * 4.0 * t).cos());
            let talking = if t % 1.5 < 1.2 { 1.0 } else { 0.0 };
            pcm.push((0.3 * 32767.0 * 0.5 * voiced * syllables * talking) as i16);
        }
        let packets = pcm
            .chunks_exact(FRAME_SAMPLES)
            .map(|frame| {
                encoder
                    .encode_vec(frame, 1000)
                    .map(Bytes::from)
                    .map_err(err)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Arc::new(AudioClip { packets }))
    }

    /// The track configuration to publish it with.
    pub fn track_config() -> TrackConfig {
        TrackConfig::opus(SAMPLE_RATE, 1).with_source(podium_media_core::TrackSource::Microphone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::av1::{Av1Decoder, has_sequence_header};

    #[test]
    fn fixture_clip_has_keyframes_every_30_frames_and_decodes() {
        let clip = VideoClip::fixture();
        assert_eq!((clip.width, clip.height, clip.frames.len()), (640, 360, 60));
        let keys: Vec<usize> = (0..60).filter(|&i| clip.frames[i].keyframe).collect();
        assert_eq!(keys, [0, 30]);
        assert_eq!(clip.next_keyframe_after(5), 30);
        assert_eq!(clip.next_keyframe_after(30), 0);
        let kbps = clip.bitrate() / 1000.0;
        assert!((300.0..800.0).contains(&kbps), "{kbps} kbps");
        // Every keyframe carries its sequence header, so it decodes alone.
        for &k in &keys {
            assert!(has_sequence_header(&clip.frames[k].data));
            let mut d = Av1Decoder::new().unwrap();
            let p = d.decode(&clip.frames[k].data).unwrap().expect("a picture");
            assert_eq!((p.width(), p.height()), (640, 360));
        }
        // A whole group decodes in order.
        let mut d = Av1Decoder::new().unwrap();
        for f in &clip.frames[..30] {
            assert!(d.decode(&f.data).unwrap().is_some());
        }
    }

    #[test]
    fn small_fixture_clip_matches_the_full_one_at_a_quarter_of_the_pixels() {
        let clip = VideoClip::fixture_small();
        assert_eq!((clip.width, clip.height, clip.frames.len()), (320, 180, 60));
        let keys: Vec<usize> = (0..60).filter(|&i| clip.frames[i].keyframe).collect();
        assert_eq!(keys, [0, 30], "keyframes where the full clip has them");
        let kbps = clip.bitrate() / 1000.0;
        assert!((90.0..160.0).contains(&kbps), "{kbps} kbps");
        assert!(kbps < VideoClip::fixture().bitrate() / 1000.0 / 3.0);
        for &k in &keys {
            let mut d = Av1Decoder::new().unwrap();
            let p = d.decode(&clip.frames[k].data).unwrap().expect("a picture");
            assert_eq!((p.width(), p.height()), (320, 180));
        }
    }

    #[test]
    fn thumbnail_of_a_fixture_keyframe() {
        let clip = VideoClip::fixture();
        let t = crate::codec::thumbnail::keyframe_thumbnail(&clip.frames[0].data, 160, 90).unwrap();
        assert_eq!((t.width, t.height), (160, 90));
        assert_eq!(&t.jpeg[..2], &[0xff, 0xd8]);
        assert_eq!(&t.jpeg[t.jpeg.len() - 2..], &[0xff, 0xd9]);
        assert!(t.jpeg.len() < 20_000, "{} bytes", t.jpeg.len());
    }

    #[test]
    fn speech_clip_is_real_opus_with_pauses() {
        let clip = AudioClip::speech_like(2).unwrap();
        assert_eq!(clip.packets.len(), 100);
        let mut meter = crate::codec::level::LevelMeter::new().unwrap();
        let levels: Vec<u8> = clip
            .packets
            .iter()
            .map(|p| meter.level(p).unwrap())
            .collect();
        assert!(levels.iter().any(|&l| l < 40), "loud parts: {levels:?}");
        assert!(levels.iter().any(|&l| l > 90), "pauses: {levels:?}");
    }
}
