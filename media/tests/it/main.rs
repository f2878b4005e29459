//! Integration tests of the SFU's IO edge: real WebTransport on 127.0.0.1,
//! the server started in-process on port 0, Rust bots as clients.

mod auth;
mod baseline;
mod certs;
mod congestion;
mod exchange;
mod keyframes;
mod malformed;
mod rooms;
mod setup_race;
mod simulcast;
mod support;
