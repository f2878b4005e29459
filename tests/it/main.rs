//! Podium's integration tests: one binary, real server on 127.0.0.1 port 0,
//! a temp data dir with a real redb file, real headless Chromium.

mod accounts;
mod accounts_join;
mod architecture;
mod backgrounds;
mod backup;
mod browser;
mod browser_accounts;
mod browser_events;
mod browser_firefox;
mod browser_rooms;
mod browser_simulcast;
mod browser_slides;
mod browser_throttle;
mod browser_video;
mod browser_ws;
mod cli;
mod events;
mod http_basics;
mod live;
mod live_rules;
mod media;
mod media_ws;
mod metrics;
mod rooms_media;
mod sessions;
mod slides;
mod storage;
mod support;
mod video;
