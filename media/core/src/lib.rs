//! Sans-IO core of Podium's SFU: wire format, rooms, tracks, subscriptions and
//! the forwarding plan. No sockets, no clocks: time is an input.
//!
//! The IO edge (the `podium-media` crate) owns the WebTransport sessions. It
//! decodes bytes with [`wire`], feeds the [`Router`] with `handle_*` calls and
//! control-plane calls (`join`, `move_participant`, `set_permission`, ...),
//! carries out the [`ForwardPlan`] returned for every media frame, and after
//! every input drains [`Router::poll_output`] and re-arms its timer from
//! [`Router::poll_timeout`]. The wire protocol is documented in
//! `media/PROTOCOL.md`.

#![forbid(unsafe_code)]

pub mod ids;
pub mod router;
pub mod track;
pub mod wire;

pub use ids::{Millis, ParticipantId, RoomId, TrackId};
pub use router::{
    Action, BacklogPolicy, BudgetPolicy, CacheOp, Delivery, DropReason, DropStats, EndMode,
    ForwardPlan, LinkReport, Output, Priority, RejectReason, RejectStats, Router, RouterConfig,
    RouterError, Stats, StreamEnd, TrackInfo,
};
pub use track::{Codec, MediaKind, MediaParams, TrackConfig, TrackSource};
pub use wire::control::{ClientMessage, ControlReader, Message, ServerMessage};
pub use wire::media::{FrameHeader, StreamHeader, StreamKind, StreamReader};
pub use wire::{CloseCode, PROTOCOL_VERSION, WireError};
