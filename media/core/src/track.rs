//! What a published track carries: its media kind, codec and codec configuration,
//! as announced in `Publish` and repeated in `TrackAdded`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// Opus audio: one frame per datagram, never dropped for congestion.
    Audio,
    /// AV1 or VP8 video: one stream per group of pictures.
    Video,
}

/// The codecs protocol version 1 carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Codec {
    /// Opus audio (WebCodecs `"opus"`).
    Opus,
    /// AV1 video, ideally with L1T3 temporal layers.
    Av1,
    /// VP8 video (fallback for browsers without an AV1 encoder).
    Vp8,
}

impl Codec {
    /// The media kind this codec encodes.
    pub fn kind(self) -> MediaKind {
        match self {
            Codec::Opus => MediaKind::Audio,
            Codec::Av1 | Codec::Vp8 => MediaKind::Video,
        }
    }
}

/// Kind-specific parameters of a track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaParams {
    /// Audio parameters.
    Audio {
        /// Sample rate in Hz: 8000, 12000, 16000, 24000 or 48000.
        sample_rate: u32,
        /// 1 (mono) or 2 (stereo).
        channels: u8,
    },
    /// Video parameters.
    Video {
        /// Coded width in pixels, 1..=[`TrackConfig::MAX_DIMENSION`].
        width: u32,
        /// Coded height in pixels, 1..=[`TrackConfig::MAX_DIMENSION`].
        height: u32,
    },
}

/// What a track carries, so pages can lay a screen share out apart from cameras.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackSource {
    Camera,
    Screen,
    Microphone,
}

/// A track's codec configuration; enough for a WebCodecs decoder's `configure()`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawTrackConfig", into = "RawTrackConfig")]
pub struct TrackConfig {
    /// The codec.
    pub codec: Codec,
    /// Parameters; their kind must match the codec's.
    pub params: MediaParams,
    /// Optional codec description (WebCodecs `description`, e.g. an `av1C` box),
    /// at most [`TrackConfig::MAX_DESCRIPTION`] bytes.
    pub description: Option<Bytes>,
    /// What the track carries (optional; a video `camera` or `screen`, an audio `microphone`).
    pub source: Option<TrackSource>,
}

/// Why a [`TrackConfig`] is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TrackConfigError(pub &'static str);

impl TrackConfig {
    /// The largest accepted video width or height.
    pub const MAX_DIMENSION: u32 = 8192;
    /// The largest accepted codec description, in bytes (before base64).
    pub const MAX_DESCRIPTION: usize = 1024;

    /// An Opus track.
    pub fn opus(sample_rate: u32, channels: u8) -> TrackConfig {
        TrackConfig {
            codec: Codec::Opus,
            params: MediaParams::Audio {
                sample_rate,
                channels,
            },
            description: None,
            source: None,
        }
    }

    /// The same configuration, saying what the track carries.
    pub fn with_source(mut self, source: TrackSource) -> TrackConfig {
        self.source = Some(source);
        self
    }

    /// An AV1 track.
    pub fn av1(width: u32, height: u32) -> TrackConfig {
        Self::video(Codec::Av1, width, height)
    }

    /// A VP8 track.
    pub fn vp8(width: u32, height: u32) -> TrackConfig {
        Self::video(Codec::Vp8, width, height)
    }

    fn video(codec: Codec, width: u32, height: u32) -> TrackConfig {
        TrackConfig {
            codec,
            params: MediaParams::Video { width, height },
            description: None,
            source: None,
        }
    }

    /// The same configuration with a codec description.
    pub fn with_description(mut self, description: impl Into<Bytes>) -> TrackConfig {
        self.description = Some(description.into());
        self
    }

    /// The media kind (the codec's).
    pub fn kind(&self) -> MediaKind {
        self.codec.kind()
    }

    /// Checks the protocol's rules: parameters match the codec and are in range.
    pub fn validate(&self) -> Result<(), TrackConfigError> {
        match (self.codec.kind(), self.params) {
            (
                MediaKind::Audio,
                MediaParams::Audio {
                    sample_rate,
                    channels,
                },
            ) => {
                if ![8000, 12000, 16000, 24000, 48000].contains(&sample_rate) {
                    return Err(TrackConfigError(
                        "sample_rate must be 8000, 12000, 16000, 24000 or 48000",
                    ));
                }
                if !(1..=2).contains(&channels) {
                    return Err(TrackConfigError("channels must be 1 or 2"));
                }
            }
            (MediaKind::Video, MediaParams::Video { width, height }) => {
                let ok = 1..=Self::MAX_DIMENSION;
                if !ok.contains(&width) || !ok.contains(&height) {
                    return Err(TrackConfigError("width and height must be 1..=8192"));
                }
            }
            (MediaKind::Audio, MediaParams::Video { .. }) => {
                return Err(TrackConfigError(
                    "an audio codec needs sample_rate and channels, not width and height",
                ));
            }
            (MediaKind::Video, MediaParams::Audio { .. }) => {
                return Err(TrackConfigError(
                    "a video codec needs width and height, not sample_rate and channels",
                ));
            }
        }
        if self
            .description
            .as_ref()
            .is_some_and(|d| d.len() > Self::MAX_DESCRIPTION)
        {
            return Err(TrackConfigError("description is longer than 1024 bytes"));
        }
        Ok(())
    }
}

/// The JSON shape of a [`TrackConfig`]: flat, with optional kind-specific fields.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrackConfig {
    kind: MediaKind,
    codec: Codec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sample_rate: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    channels: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    height: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<TrackSource>,
}

impl TryFrom<RawTrackConfig> for TrackConfig {
    type Error = TrackConfigError;

    fn try_from(raw: RawTrackConfig) -> Result<Self, Self::Error> {
        if raw.kind != raw.codec.kind() {
            return Err(TrackConfigError("kind does not match codec"));
        }
        let params = match (
            raw.kind,
            raw.sample_rate,
            raw.channels,
            raw.width,
            raw.height,
        ) {
            (MediaKind::Audio, Some(sample_rate), Some(channels), None, None) => {
                MediaParams::Audio {
                    sample_rate,
                    channels,
                }
            }
            (MediaKind::Audio, ..) => {
                return Err(TrackConfigError(
                    "audio needs sample_rate and channels, and no width or height",
                ));
            }
            (MediaKind::Video, None, None, Some(width), Some(height)) => {
                MediaParams::Video { width, height }
            }
            (MediaKind::Video, ..) => {
                return Err(TrackConfigError(
                    "video needs width and height, and no sample_rate or channels",
                ));
            }
        };
        let description = match raw.description {
            None => None,
            Some(text) => {
                if text.len() > (TrackConfig::MAX_DESCRIPTION * 4).div_ceil(3) + 3 {
                    return Err(TrackConfigError("description is longer than 1024 bytes"));
                }
                let bytes = BASE64
                    .decode(text)
                    .map_err(|_| TrackConfigError("description is not padded standard base64"))?;
                Some(Bytes::from(bytes))
            }
        };
        match (raw.kind, raw.source) {
            (_, None)
            | (MediaKind::Video, Some(TrackSource::Camera | TrackSource::Screen))
            | (MediaKind::Audio, Some(TrackSource::Microphone)) => {}
            _ => {
                return Err(TrackConfigError(
                    "source must be camera or screen for video, microphone for audio",
                ));
            }
        }
        let config = TrackConfig {
            codec: raw.codec,
            params,
            description,
            source: raw.source,
        };
        config.validate()?;
        Ok(config)
    }
}

impl From<TrackConfig> for RawTrackConfig {
    fn from(c: TrackConfig) -> Self {
        let (sample_rate, channels, width, height) = match c.params {
            MediaParams::Audio {
                sample_rate,
                channels,
            } => (Some(sample_rate), Some(channels), None, None),
            MediaParams::Video { width, height } => (None, None, Some(width), Some(height)),
        };
        RawTrackConfig {
            kind: c.codec.kind(),
            codec: c.codec,
            sample_rate,
            channels,
            width,
            height,
            description: c.description.map(|d| BASE64.encode(d)),
            source: c.source,
        }
    }
}

impl fmt::Display for MediaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_says_what_a_track_carries() {
        let cam = TrackConfig::av1(640, 360).with_source(TrackSource::Camera);
        let json = serde_json::to_string(&cam).unwrap();
        assert!(json.contains("\"source\":\"camera\""), "{json}");
        assert_eq!(serde_json::from_str::<TrackConfig>(&json).unwrap(), cam);
        let plain = serde_json::to_string(&TrackConfig::av1(640, 360)).unwrap();
        assert!(!plain.contains("source"), "absent when unset: {plain}");
        for bad in [
            r#"{"kind":"video","codec":"av1","width":640,"height":360,"source":"microphone"}"#,
            r#"{"kind":"audio","codec":"opus","sample_rate":48000,"channels":1,"source":"screen"}"#,
            r#"{"kind":"video","codec":"av1","width":640,"height":360,"source":"webcam"}"#,
        ] {
            assert!(serde_json::from_str::<TrackConfig>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn json_round_trips() {
        let table = [
            TrackConfig::opus(48000, 2),
            TrackConfig::av1(1280, 720),
            TrackConfig::vp8(640, 360).with_description(vec![1u8, 2, 3, 255]),
            TrackConfig::av1(1, 8192).with_description(vec![0x81, 0x0d, 0x0c, 0x00]),
        ];
        for config in table {
            let json = serde_json::to_string(&config).unwrap();
            let back: TrackConfig = serde_json::from_str(&json).unwrap();
            assert_eq!(back, config, "{json}");
        }
    }

    #[test]
    fn json_shape_is_flat() {
        let json = serde_json::to_string(&TrackConfig::opus(48000, 1)).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"audio","codec":"opus","sample_rate":48000,"channels":1}"#
        );
        let json =
            serde_json::to_string(&TrackConfig::av1(2, 4).with_description(vec![0xff])).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"video","codec":"av1","width":2,"height":4,"description":"/w=="}"#
        );
    }

    #[test]
    fn invalid_configs_are_refused() {
        let table = [
            r#"{"kind":"video","codec":"opus","sample_rate":48000,"channels":1}"#,
            r#"{"kind":"audio","codec":"opus","sample_rate":44100,"channels":1}"#,
            r#"{"kind":"audio","codec":"opus","sample_rate":48000,"channels":3}"#,
            r#"{"kind":"audio","codec":"opus","sample_rate":48000}"#,
            r#"{"kind":"audio","codec":"opus","sample_rate":48000,"channels":1,"width":3}"#,
            r#"{"kind":"video","codec":"av1","width":0,"height":720}"#,
            r#"{"kind":"video","codec":"av1","width":1280,"height":8193}"#,
            r#"{"kind":"video","codec":"vp8","width":1280}"#,
            r#"{"kind":"video","codec":"h264","width":1280,"height":720}"#,
            r#"{"kind":"video","codec":"av1","width":1280,"height":720,"description":"%%"}"#,
            r#"{"kind":"video","codec":"av1","width":1280,"height":720,"fps":30}"#,
            r#"{"kind":"video","codec":"av1","width":-1,"height":720}"#,
        ];
        for json in table {
            assert!(serde_json::from_str::<TrackConfig>(json).is_err(), "{json}");
        }
        let long = BASE64.encode(vec![0u8; 1025]);
        let json = format!(
            r#"{{"kind":"video","codec":"av1","width":1,"height":1,"description":"{long}"}}"#
        );
        assert!(serde_json::from_str::<TrackConfig>(&json).is_err());
    }
}
