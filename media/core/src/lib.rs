//! Sans-IO core of Podium's SFU: wire format, rooms, tracks, subscriptions and
//! the forwarding plan. No sockets, no clocks: time is an input.
#![forbid(unsafe_code)]
