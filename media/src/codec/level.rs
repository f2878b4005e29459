//! Audio levels for active-speaker detection: decode an Opus frame and measure
//! its loudness in -dBov (RFC 6464: 0 loudest, 127 silence).

use podium_media_core::wire::control::SILENCE_LEVEL;

use super::CodecError;

/// Samples in the longest Opus frame (120 ms) at 48 kHz.
const MAX_FRAME_SAMPLES: usize = 5760;

/// A mono 48 kHz Opus decoder that reports each frame's level.
pub struct LevelMeter {
    decoder: opus::Decoder,
    pcm: Vec<i16>,
}

impl std::fmt::Debug for LevelMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LevelMeter")
    }
}

impl LevelMeter {
    /// A new meter (decodes mono or stereo packets, mixed to mono).
    pub fn new() -> Result<Self, CodecError> {
        let decoder = opus::Decoder::new(48_000, opus::Channels::Mono)
            .map_err(|e| CodecError::Opus(e.to_string()))?;
        Ok(Self {
            decoder,
            pcm: vec![0; MAX_FRAME_SAMPLES],
        })
    }

    /// Decodes one Opus packet and returns its level.
    pub fn level(&mut self, packet: &[u8]) -> Result<u8, CodecError> {
        let n = self
            .decoder
            .decode(packet, &mut self.pcm, false)
            .map_err(|e| CodecError::Opus(e.to_string()))?;
        Ok(level_of(&self.pcm[..n]))
    }
}

/// The level of 16-bit PCM in -dBov, 0..=127 (a full-scale square wave is 0).
pub fn level_of(pcm: &[i16]) -> u8 {
    if pcm.is_empty() {
        return SILENCE_LEVEL;
    }
    let energy: f64 = pcm.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let rms = (energy / pcm.len() as f64).sqrt() / 32768.0;
    if rms <= 0.0 {
        return SILENCE_LEVEL;
    }
    let dbov = 20.0 * rms.log10();
    (-dbov).round().clamp(0.0, f64::from(SILENCE_LEVEL)) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_table() {
        let square: Vec<i16> = (0..960)
            .map(|i| if i % 2 == 0 { i16::MAX } else { -i16::MAX })
            .collect();
        let sine = |amp: f64| -> Vec<i16> {
            (0..960)
                .map(|i| {
                    (amp * 32767.0 * (i as f64 * 440.0 * std::f64::consts::TAU / 48_000.0).sin())
                        as i16
                })
                .collect()
        };
        assert_eq!(level_of(&square), 0);
        assert_eq!(level_of(&sine(1.0)), 3);
        assert_eq!(level_of(&sine(0.1)), 23);
        assert_eq!(level_of(&[0; 960]), 127);
        assert_eq!(level_of(&[]), 127);
    }

    #[test]
    fn decodes_opus_and_measures() {
        let mut enc =
            opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
        let mut meter = LevelMeter::new().unwrap();
        let tone: Vec<i16> = (0..960)
            .map(|i| {
                (0.5 * 32767.0 * (i as f64 * 440.0 * std::f64::consts::TAU / 48_000.0).sin()) as i16
            })
            .collect();
        let mut last = 127;
        for _ in 0..10 {
            let packet = enc.encode_vec(&tone, 4000).unwrap();
            last = meter.level(&packet).unwrap();
        }
        assert!((6..=14).contains(&last), "a -6 dBFS tone measured {last}");
    }
}
