//! Podium: a self-hosted platform for live interactive sessions, in one binary.
//! See ARCHITECTURE.md for the map.
#![forbid(unsafe_code)]

pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod hashing;
pub mod http;
pub mod live;
pub mod loadtest;
pub mod mail;
pub mod metrics;
pub mod service;
pub mod slides;
pub mod store;
pub mod util;

/// Our version and the native codec libraries linked into this binary.
pub fn version_long() -> String {
    format!(
        "{} ({})",
        env!("CARGO_PKG_VERSION"),
        podium_media::codec_versions()
    )
}
