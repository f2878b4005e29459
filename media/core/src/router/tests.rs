//! Router tests: virtual time, no sockets. Each rule of the module docs has a test.

use super::*;
use crate::wire::control::{LayerPreference, Ping, Subscribe};
use std::time::Duration;

const A: ParticipantId = ParticipantId(1);
const B: ParticipantId = ParticipantId(2);
const C: ParticipantId = ParticipantId(3);
const CAM: u32 = 10;
const MIC: u32 = 11;

/// A router, a virtual clock and a reusable plan.
struct Harness {
    router: Router,
    now: Millis,
    plan: ForwardPlan,
    seq: u64,
    audio_seq: u64,
}

impl Harness {
    fn new() -> Self {
        Self::with_config(RouterConfig::default())
    }

    fn with_config(config: RouterConfig) -> Self {
        Self {
            router: Router::new(config),
            now: Millis(0),
            plan: ForwardPlan::new(),
            seq: 0,
            audio_seq: 0,
        }
    }

    /// A router whose budget raises layers a second apart (the default is
    /// 100 ms; the rule is the same, and timelines in whole steps of 500 ms
    /// read more easily).
    fn with_raises_a_second_apart() -> Self {
        let mut config = RouterConfig::default();
        config.budget.raise_interval = Duration::from_secs(1);
        Self::with_config(config)
    }

    /// A router whose IO edge caches no group: starts need publisher keyframes.
    fn without_cache() -> Self {
        Self::with_config(RouterConfig {
            max_cached_group_bytes: 0,
            ..RouterConfig::default()
        })
    }

    fn at(&mut self, ms: u64) -> &mut Self {
        assert!(Millis(ms) >= self.now, "time goes forward");
        self.now = Millis(ms);
        self
    }

    fn join(&mut self, p: ParticipantId, room: RoomId, may_publish: bool) {
        let name = format!("p{}", p.0);
        self.router
            .join(self.now, p, &name, room, may_publish)
            .unwrap();
    }

    fn publish_video(&mut self, p: ParticipantId) -> TrackId {
        self.router
            .publish(self.now, p, CAM, TrackConfig::av1(640, 360))
            .unwrap()
    }

    fn publish_audio(&mut self, p: ParticipantId) -> TrackId {
        self.router
            .publish(self.now, p, MIC, TrackConfig::opus(48000, 1))
            .unwrap()
    }

    fn subscribe(&mut self, p: ParticipantId, track: TrackId) {
        self.router.subscribe(self.now, p, track).unwrap();
    }

    /// A video frame of `group` with the given layer (layer 0 + `key` for a keyframe).
    fn video(
        &mut self,
        from: ParticipantId,
        group: u64,
        key: bool,
        layer: u8,
    ) -> Result<(), RejectReason> {
        self.seq += 1;
        let header = FrameHeader {
            track: CAM,
            group,
            sequence: self.seq,
            timestamp_us: self.now.0 * 1000,
            keyframe: key,
            temporal_layer: layer,
        };
        self.router
            .handle_frame(self.now, from, &header, 1000, &mut self.plan)
    }

    fn audio(&mut self, from: ParticipantId) -> Result<(), RejectReason> {
        // Audio's own count: the router forwards each audio sequence once.
        self.audio_seq += 1;
        let header = FrameHeader {
            track: MIC,
            group: 0,
            sequence: self.audio_seq,
            timestamp_us: self.now.0 * 1000,
            keyframe: true,
            temporal_layer: 0,
        };
        self.router
            .handle_frame(self.now, from, &header, 100, &mut self.plan)
    }

    fn action(&self, p: ParticipantId) -> Option<Action> {
        self.plan.action_for(p)
    }

    fn drain(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.router.poll_output()).collect()
    }

    /// Control messages queued for `p` (drains all outputs).
    fn messages_to(&mut self, p: ParticipantId) -> Vec<ServerMessage> {
        control_to(&self.drain(), p)
    }
}

fn control_to(outputs: &[Output], p: ParticipantId) -> Vec<ServerMessage> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Control { to, message } if *to == p => Some(message.clone()),
            _ => None,
        })
        .collect()
}

fn keyframe_requests(outputs: &[Output]) -> usize {
    outputs
        .iter()
        .filter(|o| {
            matches!(
                o,
                Output::Control {
                    message: ServerMessage::RequestKeyframe(_),
                    ..
                }
            )
        })
        .count()
}

fn ends(outputs: &[Output]) -> Vec<StreamEnd> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::EndStream(e) => Some(*e),
            _ => None,
        })
        .collect()
}

const SEND: Action = Action::Stream {
    group: 1,
    open: false,
};

/// A publishes camera and microphone in the main room; B subscribes to both.
/// No keyframe cache (see `keyframe_cache_*` tests for it).
fn two_participants() -> (Harness, TrackId, TrackId) {
    let mut h = Harness::without_cache();
    h.join(A, RoomId::MAIN, true);
    h.join(B, RoomId::MAIN, false);
    let cam = h.publish_video(A);
    let mic = h.publish_audio(A);
    h.subscribe(B, cam);
    h.subscribe(B, mic);
    h.drain();
    (h, cam, mic)
}

#[test]
fn forwarding_between_two_participants() {
    let mut h = Harness::new();
    h.join(A, RoomId::MAIN, true);
    h.join(B, RoomId::MAIN, false);
    let welcome = h.messages_to(A);
    assert!(matches!(
        &welcome[0],
        ServerMessage::Welcome(w) if w.participant == A && w.room == RoomId::MAIN && w.may_publish && w.version == 1
    ));
    let cam = h.publish_video(A);
    let mic = h.publish_audio(A);
    let out = h.drain();
    assert_eq!(
        control_to(&out, A),
        vec![
            Published {
                track_id: CAM,
                track: cam
            }
            .into(),
            Published {
                track_id: MIC,
                track: mic
            }
            .into(),
        ]
    );
    let to_b = control_to(&out, B);
    assert!(
        matches!(&to_b[0], ServerMessage::TrackAdded(t) if t.track == cam && t.participant == A)
    );
    assert!(
        matches!(&to_b[1], ServerMessage::TrackAdded(t) if t.track == mic && t.config == TrackConfig::opus(48000, 1))
    );

    h.subscribe(B, cam);
    h.subscribe(B, mic);
    h.drain();

    // Keyframe opens B's stream for group 1; the header carries the global id.
    h.video(A, 1, true, 0).unwrap();
    assert_eq!(h.plan.track, cam);
    assert_eq!(h.plan.header.track, cam.0);
    assert_eq!(h.plan.priority, Priority::Normal);
    assert_eq!(
        h.action(B),
        Some(Action::Stream {
            group: 1,
            open: true
        })
    );
    assert!(h.plan.ends.is_empty());
    for layer in [2, 1, 2, 0, 2] {
        h.video(A, 1, false, layer).unwrap();
        assert_eq!(h.action(B), Some(SEND));
    }
    h.audio(A).unwrap();
    assert_eq!(h.plan.track, mic);
    assert_eq!(h.plan.priority, Priority::High);
    assert_eq!(h.action(B), Some(Action::Datagram { redundant: false }));

    let s = h.router.stats();
    assert_eq!((s.frames_in, s.deliveries, s.rejected_frames), (7, 7, 0));
    assert_eq!(s.bytes_out, 6 * 1000 + 100);
}

#[test]
fn late_joiner_starts_at_the_next_keyframe() {
    let (mut h, cam, _) = two_participants();
    h.join(C, RoomId::MAIN, false);
    h.video(A, 1, true, 0).unwrap();
    h.video(A, 1, false, 2).unwrap();
    h.drain();

    // C subscribes mid-group: nothing of group 1, and A is asked for a keyframe.
    h.at(2000).subscribe(C, cam);
    let out = h.drain();
    assert_eq!(
        control_to(&out, A),
        vec![RequestKeyframe { track_id: CAM }.into()]
    );
    for layer in [1, 2, 0] {
        h.video(A, 1, false, layer).unwrap();
        assert_eq!(h.action(B), Some(SEND));
        assert_eq!(
            h.action(C),
            Some(Action::Drop(DropReason::AwaitingKeyframe))
        );
    }
    // The next keyframe opens group 2 for both; B's group 1 stream is finished.
    h.at(2100).video(A, 2, true, 0).unwrap();
    let open = Action::Stream {
        group: 2,
        open: true,
    };
    assert_eq!((h.action(B), h.action(C)), (Some(open), Some(open)));
    assert_eq!(
        h.plan.ends,
        vec![StreamEnd {
            subscriber: B,
            track: cam,
            group: 1,
            mode: EndMode::Finish
        }]
    );
    h.video(A, 2, false, 2).unwrap();
    assert_eq!(h.router.stats().drops.awaiting_keyframe, 3);
}

#[test]
fn audio_subscription_starts_at_once() {
    let (mut h, _, mic) = two_participants();
    h.join(C, RoomId::MAIN, false);
    h.subscribe(C, mic);
    assert_eq!(keyframe_requests(&h.drain()), 0);
    h.audio(A).unwrap();
    assert_eq!(h.action(C), Some(Action::Datagram { redundant: false }));
}

#[test]
fn frames_of_non_publishers_reach_no_one_and_are_counted() {
    let (mut h, _, _) = two_participants();
    h.join(C, RoomId::MAIN, false);
    h.video(A, 1, true, 0).unwrap();
    h.drain();
    let stranger = ParticipantId(99);
    // (sender, client track id, expected reason)
    let table = [
        (stranger, CAM, RejectReason::UnknownParticipant),
        (C, CAM, RejectReason::NotAllowedToPublish),
        (B, CAM, RejectReason::NotAllowedToPublish),
        (A, 77, RejectReason::UnknownTrack),
    ];
    for (from, track, reason) in table {
        let header = FrameHeader {
            track,
            group: 1,
            keyframe: true,
            ..FrameHeader::default()
        };
        let got = h.router.handle_frame(h.now, from, &header, 10, &mut h.plan);
        assert_eq!(got, Err(reason));
        assert!(h.plan.deliveries.is_empty() && h.plan.ends.is_empty());
    }
    let s = *h.router.stats();
    assert_eq!(s.rejected_frames, 4);
    assert_eq!(
        s.rejected,
        RejectStats {
            unknown_participant: 1,
            not_allowed_to_publish: 2,
            unknown_track: 1,
            ..RejectStats::default()
        }
    );
    assert_eq!((s.frames_in, s.deliveries), (5, 1));

    // Not allowed to publish: Publish itself is refused with an Error message.
    let err = h
        .router
        .handle_control(
            h.now,
            C,
            crate::wire::control::Publish {
                track_id: 1,
                config: TrackConfig::av1(1, 1),
                simulcast_of: None,
            }
            .into(),
        )
        .unwrap_err();
    assert_eq!(err, RouterError::NotAllowedToPublish);
    assert_eq!(
        h.messages_to(C),
        vec![ServerMessage::error(
            "not_allowed_to_publish",
            "you may not publish in this room"
        )]
    );
}

#[test]
fn slow_subscriber_loses_layers_then_the_group_then_resumes_at_a_keyframe() {
    let (mut h, cam, mic) = two_participants();
    h.join(C, RoomId::MAIN, false);
    h.subscribe(C, cam);
    h.subscribe(C, mic);
    h.at(1000).video(A, 1, true, 0).unwrap();
    h.drain();

    // (backlog of C in KiB, C's expected actions for layers 2, 1, 0)
    let congested = Action::Drop(DropReason::Congestion);
    let table = [
        (0, [SEND, SEND, SEND]),
        (100, [congested, SEND, SEND]),
        (200, [congested, congested, SEND]),
    ];
    for (kib, expected) in table {
        h.router.handle_backlog(h.now, C, kib * 1024).unwrap();
        for (layer, want) in [2, 1, 0].into_iter().zip(expected) {
            h.video(A, 1, false, layer).unwrap();
            assert_eq!(h.action(C), Some(want), "{kib} KiB, layer {layer}");
            assert_eq!(h.action(B), Some(SEND), "B unaffected");
            h.audio(A).unwrap();
            assert_eq!(
                h.action(C),
                Some(Action::Datagram { redundant: false }),
                "audio never dropped"
            );
        }
    }
    assert_eq!(h.router.congestion_layer(C), Some(0));
    assert_eq!(h.drain(), vec![]);

    // Still behind: C's group stream is reset and a keyframe requested.
    h.at(1500);
    h.router.handle_backlog(h.now, C, 300 * 1024).unwrap();
    let out = h.drain();
    assert_eq!(
        ends(&out),
        vec![StreamEnd {
            subscriber: C,
            track: cam,
            group: 1,
            mode: EndMode::Reset
        }]
    );
    assert_eq!(keyframe_requests(&out), 1);
    for layer in [2, 1, 0] {
        h.video(A, 1, false, layer).unwrap();
        assert_eq!(
            h.action(C),
            Some(Action::Drop(DropReason::AwaitingKeyframe))
        );
        assert_eq!(h.action(B), Some(SEND));
        h.audio(A).unwrap();
        assert_eq!(h.action(C), Some(Action::Datagram { redundant: false }));
    }
    // A second report over the limit while waiting resets nothing more.
    h.router.handle_backlog(h.now, C, 300 * 1024).unwrap();
    assert!(ends(&h.drain()).is_empty());

    // The queue drains; C resumes at the next keyframe, base layer only.
    h.at(1600);
    h.router.handle_backlog(h.now, C, 0).unwrap();
    h.at(1700).video(A, 2, true, 0).unwrap();
    assert_eq!(
        h.action(C),
        Some(Action::Stream {
            group: 2,
            open: true
        })
    );
    assert!(
        h.plan.ends.iter().all(|e| e.subscriber == B),
        "C's group 1 stream was already reset"
    );
    h.video(A, 2, false, 1).unwrap();
    assert_eq!(h.action(C), Some(congested));

    // Layers come back one per quiet second, at layer-0 frames.
    assert_eq!(h.router.poll_timeout(), Some(Millis(2600)));
    h.at(2600);
    h.router.handle_timeout(h.now);
    assert_eq!(h.router.congestion_layer(C), Some(1));
    h.video(A, 2, false, 1).unwrap();
    assert_eq!(h.action(C), Some(congested), "raised only at layer 0");
    h.video(A, 2, false, 0).unwrap();
    h.video(A, 2, false, 1).unwrap();
    assert_eq!(
        h.action(C),
        Some(Action::Stream {
            group: 2,
            open: false
        })
    );
    h.at(3600);
    h.router.handle_timeout(h.now);
    assert_eq!(h.router.congestion_layer(C), Some(2));
    h.video(A, 2, false, 0).unwrap();
    h.video(A, 2, false, 2).unwrap();
    assert_eq!(
        h.action(C),
        Some(Action::Stream {
            group: 2,
            open: false
        })
    );

    let s = h.router.stats();
    assert_eq!(s.group_drops, 1);
    assert_eq!(s.drops.awaiting_keyframe, 3);
    assert_eq!(s.drops.congestion, 1 + 2 + 2);
}

#[test]
fn a_lagging_subscriber_s_superseded_group_is_reset_not_finished() {
    let (mut h, cam, _) = two_participants();
    h.join(C, RoomId::MAIN, false);
    h.subscribe(C, cam);
    h.video(A, 1, true, 0).unwrap();
    h.router.handle_backlog(h.now, C, 100 * 1024).unwrap();
    h.video(A, 5, true, 0).unwrap();
    let mode = |p| {
        h.plan
            .ends
            .iter()
            .find(|e| e.subscriber == p)
            .map(|e| e.mode)
    };
    assert_eq!(mode(B), Some(EndMode::Finish));
    assert_eq!(mode(C), Some(EndMode::Reset));
}

#[test]
fn twenty_joiners_in_a_second_cause_one_keyframe_request_per_second() {
    let mut h = Harness::without_cache();
    h.join(A, RoomId::MAIN, true);
    let cam = h.publish_video(A);
    h.video(A, 1, true, 0).unwrap();
    h.drain();
    let mut sent_at = Vec::new();
    // 20 joiners at 0, 50, ..., 950 ms; frames keep flowing (no keyframe).
    for i in 0..20u64 {
        h.at(i * 50);
        let p = ParticipantId(100 + i);
        h.join(p, RoomId::MAIN, false);
        h.subscribe(p, cam);
        h.router.handle_timeout(h.now);
        h.video(A, 1, false, 2).unwrap();
        let n = keyframe_requests(&h.drain());
        sent_at.extend(std::iter::repeat_n(h.now, n));
    }
    assert_eq!(sent_at, vec![Millis(0)]);
    // The wishes of the other 19 are served once, when the second is over.
    assert_eq!(h.router.poll_timeout(), Some(Millis(1000)));
    h.at(999);
    h.router.handle_timeout(h.now);
    assert_eq!(keyframe_requests(&h.drain()), 0);
    h.at(1000);
    h.router.handle_timeout(h.now);
    assert_eq!(keyframe_requests(&h.drain()), 1);
    // Without a keyframe, waiting subscribers ask again at most once a second.
    for t in (1000..=3000).step_by(100) {
        h.at(t);
        h.router.handle_timeout(h.now);
        h.video(A, 1, false, 2).unwrap();
        let n = keyframe_requests(&h.drain());
        sent_at.extend(std::iter::repeat_n(h.now, n));
    }
    assert_eq!(sent_at, vec![Millis(0), Millis(2000), Millis(3000)]);
    assert_eq!(h.router.stats().keyframe_requests_sent, 4);
    // The keyframe arrives: everyone is in, nothing pending.
    h.video(A, 2, true, 0).unwrap();
    assert_eq!(h.plan.sends().count(), 20);
    assert_eq!(h.router.poll_timeout(), None);
}

#[test]
fn moving_to_a_breakout_room_changes_what_is_received_and_sent() {
    let mut h = Harness::new();
    let room = RoomId(1);
    h.router.create_breakout_room(room).unwrap();
    h.join(A, RoomId::MAIN, true);
    h.join(B, RoomId::MAIN, false);
    h.join(C, RoomId::MAIN, false);
    let cam = h.publish_video(A);
    h.subscribe(B, cam);
    h.subscribe(C, cam);
    h.video(A, 1, true, 0).unwrap();
    h.drain();

    // A moves to the breakout room, still publishing: B and C lose its track.
    h.router.move_participant(h.now, A, room, true).unwrap();
    let out = h.drain();
    let removed: ServerMessage = TrackRemoved {
        track: cam,
        participant: A,
    }
    .into();
    assert!(control_to(&out, B).contains(&removed));
    assert!(control_to(&out, C).contains(&removed));
    assert!(
        control_to(&out, A).contains(
            &Permission {
                may_publish: true,
                room
            }
            .into()
        )
    );
    let mut e = ends(&out);
    e.sort_by_key(|e| e.subscriber);
    assert_eq!(
        e.iter()
            .map(|e| (e.subscriber, e.group, e.mode))
            .collect::<Vec<_>>(),
        vec![(B, 1, EndMode::Reset), (C, 1, EndMode::Reset)]
    );
    h.video(A, 1, false, 0).unwrap();
    assert!(
        h.plan.deliveries.is_empty(),
        "nobody left in A's room subscribes"
    );
    assert_eq!(
        h.router.subscribe(h.now, C, cam),
        Err(RouterError::TrackNotInRoom(cam))
    );

    // B follows: it sees A's track (same id) and receives it; C does not.
    h.router.move_participant(h.now, B, room, true).unwrap();
    let to_b = h.messages_to(B);
    assert!(
        to_b.contains(
            &Permission {
                may_publish: true,
                room
            }
            .into()
        )
    );
    assert!(
        to_b.iter()
            .any(|m| matches!(m, ServerMessage::TrackAdded(t) if t.track == cam))
    );
    h.subscribe(B, cam);
    h.video(A, 2, true, 0).unwrap();
    assert_eq!(h.plan.deliveries.len(), 1);
    assert_eq!(
        h.action(B),
        Some(Action::Stream {
            group: 2,
            open: true
        })
    );

    // B publishes in the breakout room; C in the main room never hears of it.
    let b_cam = h.publish_video(B);
    let out = h.drain();
    assert!(
        control_to(&out, A)
            .iter()
            .any(|m| matches!(m, ServerMessage::TrackAdded(t) if t.track == b_cam))
    );
    assert!(
        !control_to(&out, C)
            .iter()
            .any(|m| matches!(m, ServerMessage::TrackAdded(_)))
    );

    // Back to the main room without the right to publish: A's track is removed.
    h.router
        .move_participant(h.now, A, RoomId::MAIN, false)
        .unwrap();
    let out = h.drain();
    assert!(control_to(&out, A).contains(&removed), "owner is told");
    assert!(control_to(&out, B).contains(&removed));
    assert!(
        control_to(&out, A).contains(
            &TrackRemoved {
                track: b_cam,
                participant: B
            }
            .into()
        )
    );
    assert_eq!(h.router.track(cam), None);
    assert_eq!(
        h.video(A, 2, false, 0),
        Err(RejectReason::NotAllowedToPublish)
    );
    assert_eq!(h.router.room_of(A), Some(RoomId::MAIN));
    assert_eq!(h.router.members(room).collect::<Vec<_>>(), vec![B]);
}

#[test]
fn breakout_room_limits() {
    let mut h = Harness::new();
    for i in 1..=10 {
        h.router.create_breakout_room(RoomId(i)).unwrap();
    }
    // (call, expected result)
    let table: Vec<(&str, Result<(), RouterError>)> = vec![
        ("11th", h.router.create_breakout_room(RoomId(11))),
        ("existing", h.router.create_breakout_room(RoomId(3))),
        ("main", h.router.create_breakout_room(RoomId::MAIN)),
        ("close main", h.router.close_breakout_room(RoomId::MAIN)),
        ("close unknown", h.router.close_breakout_room(RoomId(42))),
    ];
    let expected = [
        Err(RouterError::TooManyBreakoutRooms { max: 10 }),
        Err(RouterError::RoomExists(RoomId(3))),
        Err(RouterError::RoomExists(RoomId::MAIN)),
        Err(RouterError::CannotCloseMainRoom),
        Err(RouterError::UnknownRoom(RoomId(42))),
    ];
    for ((name, got), want) in table.into_iter().zip(expected) {
        assert_eq!(got, want, "{name}");
    }
    h.join(A, RoomId(4), true);
    assert_eq!(
        h.router.close_breakout_room(RoomId(4)),
        Err(RouterError::RoomNotEmpty(RoomId(4)))
    );
    h.router.close_breakout_room(RoomId(5)).unwrap();
    h.router.create_breakout_room(RoomId(11)).unwrap();
    assert_eq!(h.router.rooms().count(), 11);
    assert_eq!(
        h.router.join(h.now, B, "b", RoomId(5), false),
        Err(RouterError::UnknownRoom(RoomId(5)))
    );
}

#[test]
fn revoking_permission_removes_tracks_at_once() {
    let (mut h, cam, mic) = two_participants();
    h.video(A, 1, true, 0).unwrap();
    h.router.set_permission(h.now, A, false).unwrap();
    let out = h.drain();
    let to_a = control_to(&out, A);
    assert!(
        to_a.contains(
            &TrackRemoved {
                track: cam,
                participant: A
            }
            .into()
        )
    );
    assert!(
        to_a.contains(
            &Permission {
                may_publish: false,
                room: RoomId::MAIN
            }
            .into()
        )
    );
    let to_b = control_to(&out, B);
    assert!(
        to_b.contains(
            &TrackRemoved {
                track: cam,
                participant: A
            }
            .into()
        )
    );
    assert!(
        to_b.contains(
            &TrackRemoved {
                track: mic,
                participant: A
            }
            .into()
        )
    );
    let mut e = ends(&out);
    e.sort_by_key(|e| e.track);
    assert_eq!(
        e,
        vec![
            StreamEnd {
                subscriber: B,
                track: cam,
                group: 1,
                mode: EndMode::Reset
            },
            StreamEnd {
                subscriber: B,
                track: mic,
                group: 0,
                mode: EndMode::Reset
            },
        ]
    );
    assert_eq!(h.router.subscriptions(B).count(), 0);
    assert_eq!(
        h.video(A, 1, false, 0),
        Err(RejectReason::NotAllowedToPublish)
    );
    assert_eq!(h.audio(A), Err(RejectReason::NotAllowedToPublish));
    // Granted again: A must publish again, with new global ids.
    h.router.set_permission(h.now, A, true).unwrap();
    assert_eq!(h.video(A, 2, true, 0), Err(RejectReason::UnknownTrack));
    let cam2 = h.publish_video(A);
    assert_ne!(cam2, cam);
}

#[test]
fn layer_preference_drops_upper_layers_and_rises_at_layer_zero() {
    let (mut h, cam, _) = two_participants();
    h.video(A, 1, true, 0).unwrap();
    h.router
        .handle_control(
            h.now,
            B,
            LayerPreference {
                track: cam,
                max_temporal_layer: 0,
            }
            .into(),
        )
        .unwrap();
    let pref = Action::Drop(DropReason::LayerPreference);
    // (layer of the frame, B's action) after the preference is set to 0, then 2.
    let table = [(2, pref), (1, pref), (0, SEND)];
    for (layer, want) in table {
        h.video(A, 1, false, layer).unwrap();
        assert_eq!(h.action(B), Some(want));
    }
    h.router.set_layer_preference(B, cam, 2).unwrap();
    let table = [(2, pref), (1, pref), (0, SEND), (2, SEND), (1, SEND)];
    for (layer, want) in table {
        h.video(A, 1, false, layer).unwrap();
        assert_eq!(h.action(B), Some(want), "layer {layer}");
    }
    assert_eq!(h.router.stats().drops.layer_preference, 4);
    assert_eq!(
        h.router.set_layer_preference(B, cam, 3),
        Err(RouterError::InvalidLayer(3))
    );
}

#[test]
fn group_rules() {
    let (mut h, _, _) = two_participants();
    // (group, keyframe, expected)
    let table = [
        (1, false, Err(RejectReason::MissingKeyframe)),
        (3, true, Ok(true)),
        (3, false, Ok(true)),
        (4, false, Err(RejectReason::MissingKeyframe)),
        (3, true, Err(RejectReason::GroupRegression)),
        (2, true, Err(RejectReason::GroupRegression)),
        (7, true, Ok(true)),
        (3, false, Ok(false)), // late frame of a superseded group
        (7, false, Ok(true)),
    ];
    for (i, (group, key, want)) in table.into_iter().enumerate() {
        let got = h
            .video(A, group, key, 0)
            .map(|()| !h.plan.deliveries.is_empty());
        assert_eq!(got, want, "row {i}");
    }
    let s = h.router.stats();
    assert_eq!(s.drops.stale_group, 1);
    assert_eq!(s.rejected.missing_keyframe, 2);
    assert_eq!(s.rejected.group_regression, 2);
}

#[test]
fn roster_is_coalesced_and_scoped_to_visible_rooms() {
    let mut h = Harness::new();
    let room = RoomId(2);
    h.router.create_breakout_room(room).unwrap();
    h.join(A, RoomId::MAIN, true);
    h.join(B, RoomId::MAIN, false);
    h.join(C, room, true);
    let out = h.drain();
    let rosters = |out: &[Output], p| {
        control_to(out, p)
            .into_iter()
            .filter_map(|m| match m {
                ServerMessage::Roster(r) => {
                    Some(r.participants.iter().map(|e| e.id).collect::<Vec<_>>())
                }
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    // One roster each for three joins; main-room people do not see breakout rooms.
    assert_eq!(rosters(&out, A), vec![vec![A, B]]);
    assert_eq!(rosters(&out, B), vec![vec![A, B]]);
    assert_eq!(rosters(&out, C), vec![vec![A, B, C]]);
    // A change inside the breakout room concerns only its members.
    h.router.set_permission(h.now, C, false).unwrap();
    let out = h.drain();
    assert_eq!(rosters(&out, A), Vec::<Vec<ParticipantId>>::new());
    assert_eq!(rosters(&out, C), vec![vec![A, B, C]]);
    // The first message a joiner gets is Welcome, the last its roster.
    h.join(ParticipantId(9), room, false);
    let to_9 = h.messages_to(ParticipantId(9));
    assert!(matches!(to_9.first(), Some(ServerMessage::Welcome(_))));
    assert!(matches!(to_9.last(), Some(ServerMessage::Roster(_))));
}

#[test]
fn audio_levels_go_to_the_publisher_s_room_only() {
    let (mut h, _, mic) = two_participants();
    let room = RoomId(1);
    h.router.create_breakout_room(room).unwrap();
    h.join(C, room, true);
    let c_mic = h.publish_audio(C);
    h.drain();
    h.at(100);
    h.router.handle_audio_level(h.now, mic, 40).unwrap();
    h.router.handle_audio_level(h.now, mic, 30).unwrap();
    h.router.handle_audio_level(h.now, c_mic, 200).unwrap();
    assert_eq!(h.router.poll_timeout(), Some(Millis(350)));
    h.at(350);
    h.router.handle_timeout(h.now);
    let out = h.drain();
    let main_levels: ServerMessage = AudioLevels {
        levels: vec![AudioLevel {
            track: mic,
            participant: A,
            level: 30,
        }],
    }
    .into();
    assert_eq!(control_to(&out, A), vec![main_levels.clone()]);
    assert_eq!(control_to(&out, B), vec![main_levels]);
    assert_eq!(
        control_to(&out, C),
        vec![
            AudioLevels {
                levels: vec![AudioLevel {
                    track: c_mic,
                    participant: C,
                    level: 127
                }]
            }
            .into()
        ]
    );
    assert_eq!(
        h.router.poll_timeout(),
        None,
        "nothing more until new levels"
    );
    let cam = h.router.resolve_track(A, CAM).unwrap();
    assert_eq!(
        h.router.handle_audio_level(h.now, cam, 1),
        Err(RouterError::NotAudio(cam))
    );
}

#[test]
fn control_requests_are_answered() {
    let (mut h, cam, _) = two_participants();
    h.at(1234);
    h.router
        .handle_control(h.now, B, Ping { nonce: 5 }.into())
        .unwrap();
    assert_eq!(
        h.messages_to(B),
        vec![
            Pong {
                nonce: 5,
                server_time: 1234
            }
            .into()
        ]
    );
    // (message from B, expected error code)
    let table: Vec<(ClientMessage, &str)> = vec![
        (
            crate::wire::control::Hello {
                version: 1,
                token: "t".into(),
            }
            .into(),
            "unexpected_hello",
        ),
        (
            Subscribe {
                track: TrackId(999),
            }
            .into(),
            "unknown_track",
        ),
        (
            crate::wire::control::Unsubscribe {
                track: TrackId(999),
            }
            .into(),
            "not_subscribed",
        ),
        (
            crate::wire::control::KeyframeRequest {
                track: TrackId(999),
            }
            .into(),
            "not_subscribed",
        ),
        (
            crate::wire::control::Unpublish { track_id: 3 }.into(),
            "unknown_client_track",
        ),
    ];
    for (message, code) in table {
        let err = h.router.handle_control(h.now, B, message).unwrap_err();
        assert_eq!(err.code(), code);
        let to_b = h.messages_to(B);
        assert!(
            matches!(&to_b[..], [ServerMessage::Error(e)] if e.code == code),
            "{to_b:?}"
        );
    }
    // Publishing rules, for someone who may publish.
    let table: Vec<(u32, TrackConfig, &str)> = vec![
        (CAM, TrackConfig::av1(1, 1), "duplicate_track"),
        (1, TrackConfig::av1(0, 1), "invalid_track_config"),
    ];
    for (id, config, code) in table {
        let err = h.router.publish(h.now, A, id, config).unwrap_err();
        assert_eq!(err.code(), code);
    }
    for id in 0..2 {
        h.router
            .publish(h.now, A, id, TrackConfig::opus(48000, 2))
            .unwrap();
    }
    let err = h
        .router
        .publish(h.now, A, 5, TrackConfig::opus(48000, 2))
        .unwrap_err();
    assert_eq!(err, RouterError::TooManyTracks { max: 4 });
    // A subscriber's keyframe request reaches the publisher (throttled).
    h.at(5000).drain();
    h.router
        .handle_control(
            h.now,
            B,
            crate::wire::control::KeyframeRequest { track: cam }.into(),
        )
        .unwrap();
    h.router.request_keyframe(h.now, B, cam).unwrap();
    assert_eq!(keyframe_requests(&h.drain()), 1);
}

#[test]
fn unsubscribe_leave_and_rejoin() {
    let (mut h, cam, mic) = two_participants();
    h.join(C, RoomId::MAIN, false);
    h.subscribe(C, cam);
    h.video(A, 1, true, 0).unwrap();
    h.drain();
    h.router.unsubscribe(h.now, B, cam).unwrap();
    assert_eq!(
        ends(&h.drain()),
        vec![StreamEnd {
            subscriber: B,
            track: cam,
            group: 1,
            mode: EndMode::Reset
        }]
    );
    h.video(A, 1, false, 0).unwrap();
    assert_eq!(h.action(B), None);
    assert_eq!(h.action(C), Some(SEND));
    assert_eq!(
        h.router.unsubscribe(h.now, B, cam),
        Err(RouterError::NotSubscribed(cam))
    );

    // A leaves: its tracks disappear for everyone; queued outputs for A are dropped.
    h.router
        .handle_control(h.now, A, Ping { nonce: 1 }.into())
        .unwrap();
    h.router.leave(h.now, A).unwrap();
    let out = h.drain();
    assert!(out.iter().all(|o| o.participant() != A));
    for p in [B, C] {
        let to = control_to(&out, p);
        assert!(
            to.contains(
                &TrackRemoved {
                    track: cam,
                    participant: A
                }
                .into()
            )
        );
    }
    assert!(
        control_to(&out, B).contains(
            &TrackRemoved {
                track: mic,
                participant: A
            }
            .into()
        )
    );
    assert_eq!(h.router.subscriptions(C).count(), 0);
    assert_eq!(
        h.video(A, 1, false, 0),
        Err(RejectReason::UnknownParticipant)
    );
    assert_eq!(
        h.router.leave(h.now, A),
        Err(RouterError::UnknownParticipant(A))
    );

    // A reconnects with the same identity.
    h.join(A, RoomId::MAIN, true);
    assert_eq!(
        h.router.join(h.now, A, "again", RoomId::MAIN, true),
        Err(RouterError::AlreadyJoined(A))
    );
}

#[test]
fn full_session_plans_reuse_their_buffers() {
    // The reference load: 50 participants, 10 publishing video and audio, everyone subscribed.
    let mut h = Harness::new();
    for i in 0..50 {
        h.join(ParticipantId(i), RoomId::MAIN, i < 10);
    }
    let mut tracks = Vec::new();
    for i in 0..10 {
        tracks.push(h.publish_video(ParticipantId(i)));
        tracks.push(h.publish_audio(ParticipantId(i)));
    }
    for i in 0..50 {
        for &t in &tracks {
            if h.router.track(t).unwrap().owner != ParticipantId(i) {
                h.subscribe(ParticipantId(i), t);
            }
        }
    }
    h.drain();
    for i in 0..10 {
        h.video(ParticipantId(i), 1, true, 0).unwrap();
    }
    let ptr = h.plan.deliveries.as_ptr();
    let mut sends = 0;
    for n in 0..300u64 {
        let from = ParticipantId(n % 10);
        h.video(from, 1, false, [2, 1, 2, 0][(n as usize / 10) % 4])
            .unwrap();
        sends += h.plan.sends().count();
        h.audio(from).unwrap();
        assert_eq!(h.plan.deliveries.len(), 49);
        sends += h.plan.sends().count();
    }
    assert_eq!(
        h.plan.deliveries.as_ptr(),
        ptr,
        "no reallocation in steady state"
    );
    assert_eq!(sends, 600 * 49);
}

#[test]
fn every_output_encodes_within_the_message_limit() {
    // Worst case for Roster: the most participants, each with the longest name
    // made of control characters (JSON escapes each as 6 bytes).
    let mut h = Harness::new();
    let max = h.router.config().max_participants as u64;
    let name = "\u{1}".repeat(h.router.config().max_name_len);
    let long = "x".repeat(129);
    assert!(matches!(
        h.router
            .join(h.now, ParticipantId(0), &long, RoomId::MAIN, false),
        Err(RouterError::NameTooLong { .. })
    ));
    for i in 0..max {
        h.router
            .join(h.now, ParticipantId(i), &name, RoomId::MAIN, true)
            .unwrap();
        let config = TrackConfig::av1(1, 1).with_description(vec![0xff; 1024]);
        h.router
            .publish(h.now, ParticipantId(i), CAM, config)
            .unwrap();
    }
    assert_eq!(
        h.router
            .join(h.now, ParticipantId(max), "x", RoomId::MAIN, false),
        Err(RouterError::SessionFull { max: 64 })
    );
    let mut buf = Vec::new();
    let mut largest = 0;
    for out in h.drain() {
        if let Output::Control { message, .. } = out {
            buf.clear();
            message.encode(&mut buf).unwrap();
            largest = largest.max(buf.len());
        }
    }
    assert!(largest > 48 * 1024, "the roster is the big one: {largest}");
}

#[test]
fn flowing_tracks_are_the_ones_whose_frames_arrive() {
    let (mut h, cam, mic) = two_participants();
    let flowing = |h: &Harness, at: u64| -> Vec<TrackId> {
        let mut t: Vec<TrackId> = h
            .router
            .flowing(Millis(at), A, 2000)
            .map(|t| t.id)
            .collect();
        t.sort();
        t
    };
    assert!(flowing(&h, 0).is_empty(), "announced, not sending");
    h.at(100).audio(A).unwrap();
    assert_eq!(flowing(&h, 1000), vec![mic]);
    h.at(1500).video(A, 1, true, 0).unwrap();
    assert_eq!(flowing(&h, 2000), vec![cam, mic]);
    assert_eq!(flowing(&h, 3000), vec![cam], "the microphone went quiet");
    assert!(flowing(&h, 9000).is_empty());
    assert!(h.router.flowing(Millis(2000), B, 2000).next().is_none());
}

#[test]
fn a_blocked_microphone_reaches_no_one_until_unblocked() {
    let (mut h, _cam, _mic) = two_participants();
    h.router.set_audio_blocked(A, true).unwrap();
    assert_eq!(h.at(10).audio(A), Err(RejectReason::AudioBlocked));
    assert!(h.plan.sends().next().is_none());
    assert_eq!(h.router.stats().rejected.audio_blocked, 1);
    // Video still flows.
    h.at(20).video(A, 1, true, 0).unwrap();
    assert!(h.action(B).is_some());
    h.router.set_audio_blocked(A, false).unwrap();
    h.at(30).audio(A).unwrap();
    assert_eq!(h.action(B), Some(Action::Datagram { redundant: false }));
    assert!(h.router.set_audio_blocked(C, true).is_err());
}

// ----- bandwidth budget and keyframe cache ---------------------------------------

/// What one subscriber got of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Got {
    at: Millis,
    from: ParticipantId,
    kind: MediaKind,
    layer: u8,
    action: Option<Action>,
}

/// Publishers sending like the bots: audio every 20 ms (100 bytes), video
/// every 40 ms (1000 bytes, layers 0,2,1,2, a keyframe every 25 frames).
struct Media {
    publishers: Vec<ParticipantId>,
    video_index: u64,
}

impl Media {
    fn new(publishers: &[ParticipantId]) -> Self {
        Self {
            publishers: publishers.to_vec(),
            video_index: 0,
        }
    }

    /// Runs media from `h.now` up to (not including) `until`, in 20 ms steps,
    /// recording what `sub` gets.
    fn run(&mut self, h: &mut Harness, until: u64, sub: ParticipantId) -> Vec<Got> {
        let mut got = Vec::new();
        let mut t = h.now.0;
        while t < until {
            h.at(t);
            h.router.handle_timeout(h.now);
            for &p in &self.publishers.clone() {
                h.audio(p).unwrap();
                got.push(Got {
                    at: h.now,
                    from: p,
                    kind: MediaKind::Audio,
                    layer: 0,
                    action: h.action(sub),
                });
            }
            if t.is_multiple_of(40) {
                let i = self.video_index;
                self.video_index += 1;
                // Each group restarts the pattern at its keyframe (layer 0).
                let layer = [0, 2, 1, 2][(i % 25 % 4) as usize];
                for &p in &self.publishers.clone() {
                    h.video(p, i / 25 + 1, i.is_multiple_of(25), layer).unwrap();
                    got.push(Got {
                        at: h.now,
                        from: p,
                        kind: MediaKind::Video,
                        layer,
                        action: h.action(sub),
                    });
                }
            }
            h.drain();
            t += 20;
        }
        h.at(until);
        got
    }
}

fn link(window_bps: u64) -> LinkReport {
    LinkReport {
        rtt: Duration::from_millis(40),
        min_rtt: Duration::from_millis(40),
        window_bps: Some(window_bps),
        sent_bps: 0,
        acked_bps: None,
        offered_bps: 0,
        loss_permille: 0,
        flow_blocked: false,
        queued: 0,
    }
}

/// Whether the frame itself reaches the subscriber (a replay sends the
/// cached frames up to its layer, this one included if it is low enough).
fn is_sent(g: &Got) -> bool {
    match g.action {
        Some(Action::Datagram { .. } | Action::Stream { .. }) => true,
        Some(Action::Replay { max_layer, .. }) => g.layer <= max_layer,
        _ => false,
    }
}

/// A publishes camera and microphone; B subscribes to both; 2 s of media so
/// the router knows the track rates (audio ~59 kbit/s, video ~52 kbit/s per
/// layer-0 and layer-1, ~105 kbit/s layer 2, with overhead).
fn measured_pair() -> (Harness, Media, TrackId, TrackId) {
    let mut h = Harness::with_raises_a_second_apart();
    h.join(A, RoomId::MAIN, true);
    h.join(B, RoomId::MAIN, false);
    let cam = h.publish_video(A);
    let mic = h.publish_audio(A);
    h.subscribe(B, cam);
    h.subscribe(B, mic);
    h.drain();
    let mut media = Media::new(&[A]);
    let got = media.run(&mut h, 2000, B);
    assert!(got.iter().skip(1).all(is_sent), "no limit yet: all sent");
    (h, media, cam, mic)
}

#[test]
fn estimate_falls_then_upper_layers_are_dropped_at_the_next_frame() {
    let (mut h, mut media, cam, mic) = measured_pair();
    h.router.handle_link(h.now, B, link(10_000_000)).unwrap();
    assert_eq!(h.router.allotment(B, cam), Some(Some(2)));
    let got = media.run(&mut h, 2200, B);
    assert!(got.iter().all(is_sent));

    // The link shrinks to 150 kbit/s: audio (~59) + layer 0 (~52) fit, layer 1 does not.
    h.router.handle_link(h.now, B, link(150_000)).unwrap();
    assert_eq!(h.router.allotment(B, cam), Some(Some(0)));
    assert_eq!(h.router.allotment(B, mic), Some(Some(0)));
    // Within one round trip (40 ms): every upper-layer frame is already dropped.
    let got = media.run(&mut h, 2240, B);
    let video: Vec<&Got> = got.iter().filter(|g| g.kind == MediaKind::Video).collect();
    assert!(video.iter().any(|g| g.layer > 0), "{video:?}");
    for g in &got {
        match (g.kind, g.layer) {
            (MediaKind::Video, 1..) => {
                assert_eq!(g.action, Some(Action::Drop(DropReason::Budget)), "{g:?}");
            }
            _ => assert!(is_sent(g), "{g:?}"),
        }
    }
    // Too thin for any video: the stream is reset, audio still flows.
    h.router.handle_link(h.now, B, link(80_000)).unwrap();
    assert_eq!(h.router.allotment(B, cam), Some(None));
    let out = h.drain();
    assert_eq!(
        ends(&out),
        vec![StreamEnd {
            subscriber: B,
            track: cam,
            group: 3,
            mode: EndMode::Reset
        }]
    );
    assert_eq!(keyframe_requests(&out), 0, "nothing to ask while it is off");
    let got = media.run(&mut h, 3000, B);
    for g in &got {
        match g.kind {
            MediaKind::Video => assert_eq!(g.action, Some(Action::Drop(DropReason::Budget))),
            MediaKind::Audio => assert_eq!(g.action, Some(Action::Datagram { redundant: false })),
        }
    }
    assert!(h.router.stats().drops.budget > 0);
}

#[test]
fn estimate_recovers_then_layers_come_back_with_headroom_one_per_interval() {
    let (mut h, mut media, cam, _) = measured_pair();
    h.router.handle_link(h.now, B, link(80_000)).unwrap();
    assert_eq!(h.router.allotment(B, cam), Some(None));
    media.run(&mut h, 2500, B);

    // Enough for layer 0 exactly, but not with 15 % headroom: stays off.
    h.router.handle_link(h.now, B, link(115_000)).unwrap();
    assert_eq!(h.router.allotment(B, cam), Some(None));
    // With headroom: layer 0 is back; the subscriber restarts from the cache.
    h.router.handle_link(h.now, B, link(140_000)).unwrap();
    assert_eq!(h.router.allotment(B, cam), Some(Some(0)));
    let got = media.run(&mut h, 2600, B);
    let first = got
        .iter()
        .find(|g| g.kind == MediaKind::Video)
        .expect("a video frame");
    assert!(
        matches!(first.action, Some(Action::Replay { max_layer: 0, .. })),
        "{first:?}"
    );
    assert_eq!(keyframe_requests(&h.drain()), 0);

    // Plenty of room now, but one layer per second.
    h.router.handle_link(h.now, B, link(10_000_000)).unwrap();
    assert_eq!(
        h.router.allotment(B, cam),
        Some(Some(0)),
        "raised 100 ms ago"
    );
    media.run(&mut h, 3500, B);
    h.router.handle_link(h.now, B, link(10_000_000)).unwrap();
    assert_eq!(h.router.allotment(B, cam), Some(Some(1)));
    media.run(&mut h, 4000, B);
    h.router.handle_link(h.now, B, link(10_000_000)).unwrap();
    assert_eq!(
        h.router.allotment(B, cam),
        Some(Some(1)),
        "only 500 ms later"
    );
    media.run(&mut h, 4500, B);
    h.router.handle_link(h.now, B, link(10_000_000)).unwrap();
    assert_eq!(h.router.allotment(B, cam), Some(Some(2)));
    // The raised layer flows from the next layer-0 frame on.
    let got = media.run(&mut h, 5000, B);
    let layer0 = got
        .iter()
        .position(|g| g.kind == MediaKind::Video && g.layer == 0)
        .unwrap();
    assert!(got[layer0..].iter().all(is_sent));
    assert_eq!(h.router.stats().budget_raised, 3);
}

/// Five publishers (camera + microphone) and a subscriber S of everything.
fn crowd() -> (Harness, Media, Vec<(TrackId, TrackId)>) {
    const S: ParticipantId = ParticipantId(9);
    let mut h = Harness::with_raises_a_second_apart();
    let publishers: Vec<ParticipantId> = (1..=5).map(ParticipantId).collect();
    h.join(S, RoomId::MAIN, false);
    let mut tracks = Vec::new();
    for &p in &publishers {
        h.join(p, RoomId::MAIN, true);
        let cam = h.publish_video(p);
        let mic = h.publish_audio(p);
        h.subscribe(S, cam);
        h.subscribe(S, mic);
        tracks.push((cam, mic));
    }
    h.drain();
    let mut media = Media::new(&publishers);
    media.run(&mut h, 2000, S);
    (h, media, tracks)
}

#[test]
fn tight_budget_forwards_the_loudest_audio_and_the_active_speaker_s_base_layer() {
    const S: ParticipantId = ParticipantId(9);
    let (mut h, mut media, tracks) = crowd();
    // Participant 4 speaks loudly, 2 softly; the others are silent.
    h.router.handle_audio_level(h.now, tracks[3].1, 12).unwrap();
    h.router.handle_audio_level(h.now, tracks[1].1, 40).unwrap();
    h.router
        .handle_audio_level(h.now, tracks[0].1, 127)
        .unwrap();
    // 250 kbit/s: 3 audio tracks (~178) + the active speaker's layer 0 (~52).
    h.router.handle_link(h.now, S, link(250_000)).unwrap();
    let allot: Vec<(Option<u8>, Option<u8>)> = tracks
        .iter()
        .map(|(cam, mic)| {
            (
                h.router.allotment(S, *cam).unwrap(),
                h.router.allotment(S, *mic).unwrap(),
            )
        })
        .collect();
    // Last-N = 3: the two speakers and the first silent track by id; video:
    // only the active speaker (participant 4), base layer.
    assert_eq!(
        allot,
        vec![
            (None, Some(0)),
            (None, Some(0)),
            (None, None),
            (Some(0), Some(0)),
            (None, None),
        ]
    );
    let got = media.run(&mut h, 2100, S);
    let heard: BTreeSet<ParticipantId> = got
        .iter()
        .filter(|g| g.kind == MediaKind::Audio && is_sent(g))
        .map(|g| g.from)
        .collect();
    assert_eq!(heard, [1, 2, 4].map(ParticipantId).into());
    let seen: BTreeSet<(ParticipantId, u8)> = got
        .iter()
        .filter(|g| g.kind == MediaKind::Video && is_sent(g))
        .map(|g| (g.from, g.layer))
        .collect();
    assert!(
        seen.iter().all(|&(p, l)| p == ParticipantId(4) && l == 0),
        "{seen:?}"
    );
}

#[test]
fn the_active_speaker_is_held_while_another_talks_over_it() {
    const S: ParticipantId = ParticipantId(9);
    let (mut h, mut media, tracks) = crowd();
    let cams = |h: &Harness| -> Vec<bool> {
        tracks
            .iter()
            .map(|(cam, _)| h.router.allotment(S, *cam).unwrap().is_some())
            .collect()
    };
    // 280 kbit/s holds the loudest voices and one base layer, with the
    // headroom to start it. Participant 4 speaks: its picture.
    let mut t = h.now.0;
    let mut step = |h: &mut Harness, media: &mut Media, levels: &[(usize, u8)]| {
        t += 200;
        media.run(h, t, S);
        for &(i, level) in levels {
            h.router
                .handle_audio_level(h.now, tracks[i].1, level)
                .unwrap();
        }
        h.router.handle_link(h.now, S, link(280_000)).unwrap();
    };
    for _ in 0..10 {
        step(&mut h, &mut media, &[(3, 12)]);
    }
    assert_eq!(cams(&h), [false, false, false, true, false]);
    // Participant 2 talks over it, louder: for under two seconds nothing
    // changes (participant 4 still speaks) ...
    for _ in 0..9 {
        step(&mut h, &mut media, &[(3, 20), (1, 5)]);
        assert_eq!(cams(&h), [false, false, false, true, false]);
    }
    // ... then participant 2 is the active speaker (its picture as soon as
    // the next raise is due).
    for _ in 0..10 {
        step(&mut h, &mut media, &[(3, 20), (1, 5)]);
    }
    assert_eq!(cams(&h), [false, true, false, false, false]);
    // Participant 2 stops and 4 goes on: 4 at once (the held one is silent).
    for _ in 0..10 {
        step(&mut h, &mut media, &[(3, 20)]);
    }
    assert_eq!(cams(&h), [false, false, false, true, false]);
}

#[test]
fn a_path_limit_paces_the_subscriber_and_a_busy_edge_does_not() {
    const S: ParticipantId = ParticipantId(9);
    let (mut h, _media, _tracks) = crowd();
    let report = |sent: u64, acked: u64, queued: u64| LinkReport {
        rtt: Duration::from_millis(if acked < sent { 100 } else { 40 }),
        sent_bps: sent,
        acked_bps: Some(acked),
        offered_bps: sent,
        queued,
        ..link(50_000_000)
    };
    h.router
        .handle_link(h.now, S, report(400_000, 400_000, 0))
        .unwrap();
    assert_eq!(h.router.rate_limit(S), None, "a wide link is not paced");
    // The edge's backlog (a busy server, a slow reader): saturated, not paced.
    h.router
        .handle_link(h.now, S, report(400_000, 400_000, 128 * 1024))
        .unwrap();
    assert_eq!(h.router.bandwidth_estimate(S), Some(360_000));
    assert_eq!(h.router.rate_limit(S), None);
    // Sent well beyond what is acknowledged, the RTT 60 ms above its
    // minimum (a queue in front of a thin link filling): saturated from the
    // second report, and paced to the estimate from then on.
    for _ in 0..6 {
        h.router
            .handle_link(h.now, S, report(600_000, 280_000, 0))
            .unwrap();
    }
    let limit = h.router.rate_limit(S).expect("paced");
    assert_eq!(Some(limit), h.router.bandwidth_estimate(S));
    assert!(limit < 300_000, "{limit}");
    assert!(h.router.stats().saturated.backed_up >= 1);
}

#[test]
fn audio_is_never_dropped_while_upper_video_layers_are_sent() {
    const S: ParticipantId = ParticipantId(9);
    let (mut h, mut media, tracks) = crowd();
    h.router.handle_audio_level(h.now, tracks[0].1, 20).unwrap();
    // Sweep the estimate down and up; in every interval, if any audio is
    // dropped then no video above layer 0 is sent, and the speaker's audio
    // is never dropped while any video is sent.
    let mut t = 2000;
    for kbps in [
        2000, 1200, 800, 600, 450, 350, 300, 250, 200, 150, 100, 50, 100, 300, 600, 1200, 2000,
    ] {
        h.router.handle_audio_level(h.now, tracks[0].1, 20).unwrap();
        h.router.handle_link(h.now, S, link(kbps * 1000)).unwrap();
        t += 300;
        let got = media.run(&mut h, t, S);
        let audio_dropped = got
            .iter()
            .any(|g| g.kind == MediaKind::Audio && !is_sent(g));
        let upper_video = got
            .iter()
            .any(|g| g.kind == MediaKind::Video && g.layer > 0 && is_sent(g));
        let any_video = got.iter().any(|g| g.kind == MediaKind::Video && is_sent(g));
        let speaker_dropped = got
            .iter()
            .any(|g| g.kind == MediaKind::Audio && g.from == ParticipantId(1) && !is_sent(g));
        assert!(!(audio_dropped && upper_video), "{kbps} kbit/s");
        assert!(!(speaker_dropped && any_video), "{kbps} kbit/s");
        assert!(
            !speaker_dropped,
            "{kbps} kbit/s: the loudest is always heard"
        );
    }
    assert!(h.router.stats().drops.budget > 0);
}

#[test]
fn keyframe_cache_starts_a_new_subscriber_without_asking_the_publisher() {
    let mut h = Harness::new();
    h.join(A, RoomId::MAIN, true);
    h.join(B, RoomId::MAIN, false);
    let cam = h.publish_video(A);
    h.subscribe(B, cam);
    assert_eq!(keyframe_requests(&h.drain()), 1, "nothing cached yet");
    h.video(A, 1, true, 0).unwrap();
    assert_eq!(h.plan.cache, CacheOp::Restart);
    for layer in [2, 1, 2] {
        h.video(A, 1, false, layer).unwrap();
        assert_eq!(h.plan.cache, CacheOp::Append);
    }
    h.drain();

    // C subscribes mid-group: no request; its start is the cache at the next frame.
    h.at(100);
    h.join(C, RoomId::MAIN, false);
    h.subscribe(C, cam);
    assert_eq!(keyframe_requests(&h.drain()), 0);
    h.video(A, 1, false, 0).unwrap();
    assert_eq!(h.plan.cache, CacheOp::Append, "cached before the replay");
    assert_eq!(
        h.action(C),
        Some(Action::Replay {
            group: 1,
            max_layer: 2
        })
    );
    assert_eq!(h.action(B), Some(SEND));
    h.video(A, 1, false, 2).unwrap();
    assert_eq!(h.action(C), Some(SEND));
    assert_eq!(h.router.stats().cache_replays, 1);
    assert_eq!(h.router.stats().keyframe_requests_sent, 1);
}

#[test]
fn keyframe_cache_restarts_a_lagging_subscriber_once_its_backlog_drains() {
    let (mut h, cam, _) = {
        let mut h = Harness::new();
        h.join(A, RoomId::MAIN, true);
        h.join(B, RoomId::MAIN, false);
        let cam = h.publish_video(A);
        let mic = h.publish_audio(A);
        h.subscribe(B, cam);
        h.subscribe(B, mic);
        h.drain();
        (h, cam, mic)
    };
    h.join(C, RoomId::MAIN, false);
    h.subscribe(C, cam);
    h.video(A, 1, true, 0).unwrap();
    h.video(A, 1, false, 2).unwrap();
    h.drain();
    // C falls far behind: its group is reset, and no publisher keyframe is asked.
    h.at(500);
    h.router.handle_backlog(h.now, C, 300 * 1024).unwrap();
    let out = h.drain();
    assert_eq!(ends(&out).len(), 1);
    assert_eq!(keyframe_requests(&out), 0);
    // While behind it waits; the others are untouched.
    h.video(A, 1, false, 1).unwrap();
    assert_eq!(
        h.action(C),
        Some(Action::Drop(DropReason::AwaitingKeyframe))
    );
    assert_eq!(h.action(B), Some(SEND));
    // Drained: restarted from the cache at the base layer (its congestion cap).
    h.at(600);
    h.router.handle_backlog(h.now, C, 0).unwrap();
    h.video(A, 1, false, 2).unwrap();
    assert_eq!(
        h.action(C),
        Some(Action::Replay {
            group: 1,
            max_layer: 0
        })
    );
    assert_eq!(keyframe_requests(&h.drain()), 0);
    assert_eq!(h.router.stats().group_drops, 1);
}

#[test]
fn a_group_larger_than_the_cache_falls_back_to_a_keyframe_request() {
    let mut h = Harness::with_config(RouterConfig {
        max_cached_group_bytes: 2500,
        ..RouterConfig::default()
    });
    h.join(A, RoomId::MAIN, true);
    let cam = h.publish_video(A);
    h.video(A, 1, true, 0).unwrap();
    h.video(A, 1, false, 2).unwrap();
    assert_eq!(h.plan.cache, CacheOp::Append);
    h.video(A, 1, false, 1).unwrap();
    assert_eq!(h.plan.cache, CacheOp::Clear, "3000 bytes > 2500");
    h.video(A, 1, false, 2).unwrap();
    assert_eq!(h.plan.cache, CacheOp::Keep);
    h.drain();
    h.join(B, RoomId::MAIN, false);
    h.subscribe(B, cam);
    assert_eq!(keyframe_requests(&h.drain()), 1);
    h.video(A, 1, false, 0).unwrap();
    assert_eq!(
        h.action(B),
        Some(Action::Drop(DropReason::AwaitingKeyframe))
    );
    // The next group is cached again from its keyframe.
    h.video(A, 2, true, 0).unwrap();
    assert_eq!(h.plan.cache, CacheOp::Restart);
}

#[test]
fn twenty_joiners_in_a_second_are_started_from_the_cache() {
    let mut h = Harness::new();
    h.join(A, RoomId::MAIN, true);
    let cam = h.publish_video(A);
    h.video(A, 1, true, 0).unwrap();
    h.drain();
    for i in 0..20u64 {
        h.at(i * 50);
        let p = ParticipantId(100 + i);
        h.join(p, RoomId::MAIN, false);
        h.subscribe(p, cam);
        h.router.handle_timeout(h.now);
        h.video(A, 1, false, 2).unwrap();
        assert!(matches!(h.action(p), Some(Action::Replay { group: 1, .. })));
        assert_eq!(keyframe_requests(&h.drain()), 0);
    }
    assert_eq!(h.router.stats().keyframe_requests_sent, 0);
    assert_eq!(h.router.stats().cache_replays, 20);
    assert_eq!(h.router.poll_timeout(), None);
}

#[test]
fn a_long_group_is_replayed_with_fewer_layers_or_not_at_all() {
    let mut h = Harness::with_config(RouterConfig {
        max_replay_frames: 8,
        ..RouterConfig::default()
    });
    h.join(A, RoomId::MAIN, true);
    let cam = h.publish_video(A);
    h.video(A, 1, true, 0).unwrap();
    // 12 more frames: layers 2,1,2,0 x3 → 1 + 3 layer-0, 3 layer-1, 6 layer-2.
    for _ in 0..3 {
        for layer in [2, 1, 2, 0] {
            h.video(A, 1, false, layer).unwrap();
        }
    }
    h.drain();
    // All layers would be 13 frames, layers 0-1 seven: replayed up to layer 1.
    h.join(B, RoomId::MAIN, false);
    h.subscribe(B, cam);
    assert_eq!(keyframe_requests(&h.drain()), 0);
    h.video(A, 1, false, 2).unwrap();
    assert_eq!(
        h.action(B),
        Some(Action::Replay {
            group: 1,
            max_layer: 1
        })
    );
    h.video(A, 1, false, 2).unwrap();
    assert!(
        matches!(h.action(B), Some(Action::Drop(_))),
        "layer 2 waits for a layer-0 frame"
    );
    // Layer 2 comes back at the next layer-0 frame.
    h.video(A, 1, false, 0).unwrap();
    h.video(A, 1, false, 2).unwrap();
    assert_eq!(h.action(B), Some(SEND));
    // Base layer alone grows past 8 frames: nobody can start from it any more.
    for _ in 0..4 {
        h.video(A, 1, false, 0).unwrap();
    }
    h.drain();
    h.join(C, RoomId::MAIN, false);
    h.subscribe(C, cam);
    assert_eq!(keyframe_requests(&h.drain()), 1);
    h.video(A, 1, false, 0).unwrap();
    assert_eq!(
        h.action(C),
        Some(Action::Drop(DropReason::AwaitingKeyframe))
    );
}

#[test]
fn after_a_squeeze_every_track_comes_back_one_layer_per_interval() {
    const S: ParticipantId = ParticipantId(9);
    let (mut h, mut media, tracks) = crowd();
    // Squeezed to audio and base layers (5 x ~59 + 5 x ~59 kbit/s).
    h.router.handle_link(h.now, S, link(600_000)).unwrap();
    let layers = |h: &Harness| -> Vec<Option<u8>> {
        tracks
            .iter()
            .map(|(cam, _)| h.router.allotment(S, *cam).unwrap())
            .collect()
    };
    assert_eq!(layers(&h), vec![Some(0); 5]);
    media.run(&mut h, 2500, S);
    // Room for everything: all tracks step up together, one layer per second.
    h.router.handle_link(h.now, S, link(20_000_000)).unwrap();
    assert_eq!(layers(&h), vec![Some(1); 5]);
    media.run(&mut h, 3000, S);
    h.router.handle_link(h.now, S, link(20_000_000)).unwrap();
    assert_eq!(layers(&h), vec![Some(1); 5], "half a second later");
    media.run(&mut h, 3500, S);
    h.router.handle_link(h.now, S, link(20_000_000)).unwrap();
    assert_eq!(layers(&h), vec![Some(2); 5]);
}

/// An audio frame with an explicit sequence number (as the copies in a
/// redundant datagram carry their own).
fn audio_seq(h: &mut Harness, from: ParticipantId, sequence: u64) -> Result<(), RejectReason> {
    let header = FrameHeader {
        track: MIC,
        group: 0,
        sequence,
        timestamp_us: h.now.0 * 1000,
        keyframe: true,
        temporal_layer: 0,
    };
    h.router
        .handle_frame(h.now, from, &header, 100, &mut h.plan)
}

#[test]
fn audio_copies_fill_gaps_and_are_forwarded_once() {
    let mut h = Harness::new();
    h.join(A, RoomId::MAIN, true);
    h.join(B, RoomId::MAIN, false);
    let mic = h.publish_audio(A);
    h.subscribe(B, mic);
    // (sequence, forwarded): 1, 2, then 4 (3 lost on the way in), then the
    // redundant datagram [3, 4, 5]: 3 fills the gap, 4 is a copy, 5 is new.
    let table = [
        (1, true),
        (2, true),
        (4, true),
        (3, true),
        (4, false),
        (5, true),
        (5, false),
        (3, false),
    ];
    for (sequence, forwarded) in table {
        audio_seq(&mut h, A, sequence).unwrap();
        assert_eq!(
            h.action(B)
                .is_some_and(|a| matches!(a, Action::Datagram { .. })),
            forwarded,
            "sequence {sequence}"
        );
    }
    assert_eq!(h.router.stats().audio_copies_dropped, 3);
    // A publisher that starts counting again (64 or more below) is heard.
    audio_seq(&mut h, A, 1000).unwrap();
    audio_seq(&mut h, A, 0).unwrap();
    assert!(h.action(B).is_some());
    audio_seq(&mut h, A, 1).unwrap();
    assert!(h.action(B).is_some());
}

#[test]
fn lossy_link_gets_redundant_audio_while_the_budget_holds_it_twice() {
    let (mut h, mut media, _cam, mic) = measured_pair();
    let audio_to_b = |h: &mut Harness| {
        h.audio(A).unwrap();
        h.action(B)
    };
    let lossy = |window: u64, loss: u16| LinkReport {
        loss_permille: loss,
        ..link(window)
    };
    // `n` link reports for B, 100 ms apart.
    let report = |h: &mut Harness, t: &mut u64, n: usize, r: LinkReport| {
        for _ in 0..n {
            *t += 100;
            h.at(*t);
            h.router.handle_link(h.now, B, r).unwrap();
        }
    };
    // A wide link losing 3 %: redundant audio within a report or two, video
    // kept whole.
    let mut t = 2000;
    report(&mut h, &mut t, 2, lossy(10_000_000, 30));
    assert_eq!(
        audio_to_b(&mut h),
        Some(Action::Datagram { redundant: true })
    );
    assert_eq!(h.router.allotment(B, mic), Some(Some(1)));
    let got = media.run(&mut h, t + 1000, B);
    assert!(got.iter().all(is_sent), "video untouched on a wide link");
    // The loss ends: plain datagrams again after a few reports.
    t += 1000;
    report(&mut h, &mut t, 10, lossy(10_000_000, 0));
    assert_eq!(
        audio_to_b(&mut h),
        Some(Action::Datagram { redundant: false })
    );
    // Lossy again, but the link holds the audio only once: plain audio, and
    // never less than the audio.
    report(&mut h, &mut t, 3, lossy(80_000, 30));
    assert_eq!(
        audio_to_b(&mut h),
        Some(Action::Datagram { redundant: false })
    );
    assert_eq!(h.router.allotment(B, mic), Some(Some(0)));
}

#[test]
fn a_subscribers_keyframe_request_is_served_from_the_cache() {
    let mut h = Harness::new();
    h.join(A, RoomId::MAIN, true);
    h.join(B, RoomId::MAIN, false);
    h.join(C, RoomId::MAIN, false);
    let cam = h.publish_video(A);
    h.subscribe(B, cam);
    h.subscribe(C, cam);
    h.video(A, 1, true, 0).unwrap();
    h.at(33).video(A, 1, false, 2).unwrap();
    h.drain();
    // B's decoder failed: its stream is reset and the next frame starts it
    // again from the cached group; C goes on; A is not asked.
    h.at(200);
    h.router.request_keyframe(h.now, B, cam).unwrap();
    let out = h.drain();
    assert_eq!(keyframe_requests(&out), 0);
    assert_eq!(
        ends(&out),
        [StreamEnd {
            subscriber: B,
            track: cam,
            group: 1,
            mode: EndMode::Reset
        }]
    );
    h.at(216).video(A, 1, false, 1).unwrap();
    assert!(matches!(h.action(B), Some(Action::Replay { group: 1, .. })));
    assert_eq!(
        h.action(C),
        Some(Action::Stream {
            group: 1,
            open: false
        })
    );
    assert_eq!(h.router.stats().keyframe_requests_from_cache, 1);
    // Again within a second: the publisher is asked instead (its own
    // throttle let it: the subscriptions' requests were at 0).
    h.at(1050);
    h.router.request_keyframe(h.now, B, cam).unwrap();
    let out = h.drain();
    assert_eq!(keyframe_requests(&out), 1);
    assert!(ends(&out).is_empty());
    // A second later the cache serves it again.
    h.at(1250);
    h.router.request_keyframe(h.now, B, cam).unwrap();
    assert_eq!(keyframe_requests(&h.drain()), 0);
    assert_eq!(h.router.stats().keyframe_requests_from_cache, 2);
    // Without a cache the publisher is asked.
    let (mut h, cam, _mic) = two_participants();
    h.video(A, 1, true, 0).unwrap();
    h.drain();
    h.at(2000);
    h.router.request_keyframe(h.now, B, cam).unwrap();
    assert_eq!(keyframe_requests(&h.drain()), 1);
}

// ----- simulcast: two qualities of one camera ---------------------------------------

const SMALL: u32 = 12;

/// A publisher of a simulcast camera (full 1000-byte frames, small 250-byte
/// ones, both 25 fps, layers 0,2,1,2, a keyframe every 25 frames; the small
/// quality's keyframes 12 frames after the full one's) and a microphone. It
/// answers `RequestKeyframe` at its next frame of that quality.
struct Simulcast {
    i: u64,
    groups: [u64; 2],
    /// Each quality's own sequence numbers (the small one's start elsewhere).
    sequences: [u64; 2],
    force: [bool; 2],
    /// Everything the router sent, in order.
    outputs: Vec<Output>,
    /// The plans' stream ends.
    plan_ends: Vec<StreamEnd>,
}

/// What the subscriber got of one video frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SimGot {
    at: Millis,
    small: bool,
    key: bool,
    layer: u8,
    /// `None`: not among the frame's deliveries (the other quality's).
    action: Option<Action>,
    /// The header as planned (camera's id, renumbered group).
    group: u64,
    sequence: u64,
}

impl Simulcast {
    fn new() -> Self {
        Self {
            i: 0,
            groups: [0, 0],
            sequences: [100, 7000],
            force: [false, false],
            outputs: Vec::new(),
            plan_ends: Vec::new(),
        }
    }

    fn frame(h: &mut Harness, client: u32, group: u64, key: bool, layer: u8, bytes: usize) {
        Self::frame_numbered(h, client, group, h.seq + 1, key, layer, bytes);
    }

    fn frame_numbered(
        h: &mut Harness,
        client: u32,
        group: u64,
        sequence: u64,
        key: bool,
        layer: u8,
        bytes: usize,
    ) {
        h.seq = sequence;
        let header = FrameHeader {
            track: client,
            group,
            sequence,
            timestamp_us: h.now.0 * 1000,
            keyframe: key,
            temporal_layer: layer,
        };
        h.router
            .handle_frame(h.now, A, &header, bytes, &mut h.plan)
            .unwrap();
    }

    /// Media from `h.now` up to `until` in 20 ms steps; what `sub` gets of
    /// the video, and whether all audio reached it.
    fn run(&mut self, h: &mut Harness, until: u64, sub: ParticipantId) -> (Vec<SimGot>, bool) {
        let mut got = Vec::new();
        let mut audio_ok = true;
        let mut t = h.now.0;
        while t < until {
            h.at(t);
            h.router.handle_timeout(h.now);
            h.audio(A).unwrap();
            audio_ok &= matches!(h.action(sub), Some(Action::Datagram { .. }));
            if t.is_multiple_of(40) {
                let i = self.i;
                self.i += 1;
                for (q, (client, bytes, offset)) in
                    [(CAM, 1000, 0), (SMALL, 250, 12)].into_iter().enumerate()
                {
                    let natural = (i + offset).is_multiple_of(25);
                    let key = natural || self.force[q] || self.groups[q] == 0;
                    if key {
                        self.groups[q] += 1;
                        self.force[q] = false;
                    }
                    let layer = if key {
                        0
                    } else {
                        [0, 2, 1, 2][(i % 4) as usize]
                    };
                    self.sequences[q] += 1;
                    Self::frame_numbered(
                        h,
                        client,
                        self.groups[q],
                        self.sequences[q],
                        key,
                        layer,
                        bytes,
                    );
                    self.plan_ends.extend(h.plan.ends.iter().copied());
                    got.push(SimGot {
                        at: h.now,
                        small: q == 1,
                        key,
                        layer,
                        action: h.action(sub),
                        group: h.plan.header.group,
                        sequence: h.plan.header.sequence,
                    });
                }
            }
            let out = h.drain();
            for o in &out {
                if let Output::Control {
                    to: A,
                    message: ServerMessage::RequestKeyframe(r),
                } = o
                {
                    self.force[usize::from(r.track_id == SMALL)] = true;
                }
            }
            self.outputs.extend(out);
            t += 20;
        }
        h.at(until);
        (got, audio_ok)
    }
}

fn sent(g: &SimGot) -> bool {
    matches!(
        g.action,
        Some(Action::Stream { .. } | Action::Replay { .. })
    )
}

/// A publishes a simulcast camera and a microphone; B subscribes; 2 s of
/// media on the full quality (no limit known yet).
fn simulcast_pair(h: Harness) -> (Harness, Simulcast, TrackId, TrackId) {
    let mut h = h;
    h.join(A, RoomId::MAIN, true);
    h.join(B, RoomId::MAIN, false);
    let cam = h.publish_video(A);
    let mic = h.publish_audio(A);
    h.router
        .publish_simulcast(h.now, A, SMALL, TrackConfig::av1(320, 180), CAM)
        .unwrap();
    h.subscribe(B, cam);
    h.subscribe(B, mic);
    h.drain();
    let mut media = Simulcast::new();
    let (got, audio) = media.run(&mut h, 2000, B);
    assert!(audio);
    for g in got.iter().skip(2) {
        assert_eq!(sent(g), !g.small, "{g:?}");
    }
    (h, media, cam, mic)
}

#[test]
fn simulcast_publish_is_checked_and_the_small_quality_is_not_announced() {
    let mut h = Harness::new();
    h.join(A, RoomId::MAIN, true);
    h.join(B, RoomId::MAIN, true);
    let cam = h.publish_video(A);
    h.publish_audio(A);
    h.router
        .publish(h.now, B, CAM, TrackConfig::av1(640, 360))
        .unwrap();
    h.drain();
    let publish = |track_id: u32, config: TrackConfig, of: u32| {
        ClientMessage::from(crate::wire::control::Publish {
            track_id,
            config,
            simulcast_of: Some(of),
        })
    };
    let small = || TrackConfig::av1(320, 180);
    // (request, code): nothing is published for any of them.
    let table = [
        (publish(20, small(), 99), "unknown_client_track"),
        (publish(20, small(), MIC), "invalid_simulcast"),
        (
            publish(20, TrackConfig::opus(48000, 1), CAM),
            "invalid_simulcast",
        ),
        (
            publish(20, TrackConfig::vp8(320, 180), CAM),
            "invalid_simulcast",
        ),
        (
            publish(20, TrackConfig::av1(640, 360), CAM),
            "invalid_simulcast",
        ),
        (
            publish(20, TrackConfig::av1(1280, 180), CAM),
            "invalid_simulcast",
        ),
        (publish(CAM, small(), CAM), "duplicate_track"),
    ];
    for (request, code) in table {
        let err = h
            .router
            .handle_control(h.now, A, request.clone())
            .unwrap_err();
        assert_eq!(err.code(), code, "{request:?}");
        let to_a = h.messages_to(A);
        assert!(
            matches!(&to_a[..], [ServerMessage::Error(e)] if e.code == code && !e.reason.is_empty()),
            "{request:?}: {to_a:?}"
        );
    }
    // B's camera is B's: A cannot link to it (client ids are per publisher;
    // A has no track 30).
    h.router
        .publish(h.now, B, 30, TrackConfig::av1(640, 360))
        .unwrap();
    h.drain();
    let err = h
        .router
        .handle_control(h.now, A, publish(20, small(), 30))
        .unwrap_err();
    assert_eq!(err, RouterError::UnknownClientTrack(30));
    h.drain();

    // The real one: answered, not announced to B.
    h.router
        .handle_control(h.now, A, publish(SMALL, small(), CAM))
        .unwrap();
    let out = h.drain();
    // Answered; and as nobody subscribes to the camera, its full quality is
    // not wanted.
    let small_id = match &control_to(&out, A)[..] {
        [ServerMessage::Published(p), ServerMessage::TrackWanted(w)]
            if p.track_id == SMALL && w.track_id == CAM && !w.wanted =>
        {
            p.track
        }
        other => panic!("{other:?}"),
    };
    assert!(control_to(&out, B).is_empty(), "no TrackAdded for it");
    // A third quality, and a small one of the small one, are refused.
    for request in [publish(21, small(), CAM), publish(21, small(), SMALL)] {
        let err = h.router.handle_control(h.now, A, request).unwrap_err();
        assert_eq!(err.code(), "invalid_simulcast");
    }
    // It is not a track to subscribe to, and never "flowing" on its own.
    let err = h.router.subscribe(h.now, B, small_id).unwrap_err();
    assert_eq!(
        err,
        RouterError::SmallQuality {
            track: small_id,
            of: cam
        }
    );
    assert_eq!(err.code(), "small_quality");
    // A late joiner hears of the camera only.
    h.join(C, RoomId::MAIN, false);
    let added: Vec<TrackId> = h
        .messages_to(C)
        .into_iter()
        .filter_map(|m| match m {
            ServerMessage::TrackAdded(t) => Some(t.track),
            _ => None,
        })
        .collect();
    assert!(
        added.contains(&cam) && !added.contains(&small_id),
        "{added:?}"
    );
    // Unpublishing the camera removes the small quality too (A is told).
    h.router.unpublish(h.now, A, CAM).unwrap();
    let out = h.drain();
    let removed: Vec<TrackId> = control_to(&out, A)
        .into_iter()
        .filter_map(|m| match m {
            ServerMessage::TrackRemoved(t) => Some(t.track),
            _ => None,
        })
        .collect();
    assert_eq!(removed, vec![small_id]);
    assert!(h.router.track(small_id).is_none());
    assert!(
        control_to(&out, C)
            .iter()
            .all(|m| !matches!(m, ServerMessage::TrackRemoved(t) if t.track == small_id))
    );
}

#[test]
fn simulcast_subscriber_sees_one_stream_with_growing_groups_and_sequences() {
    let (mut h, mut media, cam, _) = simulcast_pair(Harness::new());
    // A small view: the small quality at once, whatever the bandwidth.
    h.router.set_view_size(h.now, B, cam, 180).unwrap();
    let (got, _) = media.run(&mut h, 4000, B);
    let switch = got
        .iter()
        .position(|g| g.small && sent(g))
        .expect("switched to the small quality");
    assert!(got[..switch].iter().all(|g| sent(g) != g.small));
    assert!(
        got[switch + 1..].iter().all(|g| sent(g) == g.small),
        "{got:?}"
    );
    // The full quality's stream was finished (what was sent still arrives).
    let full_group = got[..switch].iter().rev().find(|g| !g.small).unwrap().group;
    assert!(media.plan_ends.contains(&StreamEnd {
        subscriber: B,
        track: cam,
        group: full_group,
        mode: EndMode::Finish,
    }));
    // What B receives: the camera's id, groups that only grow, sequences
    // too, without gaps inside a group (B gets every layer).
    let received: Vec<&SimGot> = got.iter().filter(|g| sent(g)).collect();
    for w in received.windows(2) {
        assert!(w[1].group >= w[0].group, "{w:?}");
        assert!(w[1].sequence > w[0].sequence, "{w:?}");
        if w[1].group == w[0].group && !matches!(w[1].action, Some(Action::Replay { .. })) {
            assert_eq!(w[1].sequence, w[0].sequence + 1, "{w:?}");
        }
    }
    assert!(received.iter().any(|g| g.group > full_group));
    assert_eq!(h.router.stats().quality_switches, 1);
    // The small quality's frames go out under the camera's id; the cache
    // that holds them is the small track's.
    let small = h.router.resolve_track(A, SMALL).unwrap();
    Simulcast::frame(&mut h, SMALL, media.groups[1], false, 0, 250);
    assert_eq!((h.plan.track, h.plan.source), (cam, small));
    assert_eq!(h.plan.header.track, cam.0);
}

#[test]
fn estimate_falls_then_the_small_quality_within_one_round_trip() {
    // With the cache: the small quality's current group (newer than the
    // full one's, which began at 2000 ms) is replayed at its next frame, no
    // keyframe asked of anyone.
    let (mut h, mut media, cam, _) = simulcast_pair(Harness::new());
    media.run(&mut h, 2600, B);
    let asked = keyframe_requests(&media.outputs);
    h.router.handle_link(h.now, B, link(110_000)).unwrap();
    assert_eq!(
        h.router.allotment(B, cam),
        Some(Some(1)),
        "small, layers 0-1"
    );
    let (got, audio) = media.run(&mut h, 2640, B);
    assert!(audio, "audio never dropped");
    let small = got.iter().find(|g| g.small).unwrap();
    assert!(
        matches!(small.action, Some(Action::Replay { max_layer: 1, .. })),
        "{small:?}"
    );
    assert_eq!(keyframe_requests(&media.outputs), asked);
    let (got, audio) = media.run(&mut h, 4000, B);
    assert!(audio);
    assert!(
        got.iter().all(|g| sent(g) == (g.small && g.layer <= 1)),
        "{got:?}"
    );
}

#[test]
fn estimate_falls_without_cache_the_small_keyframe_is_asked_for_and_switched_at() {
    let (mut h, mut media, cam, _) = simulcast_pair(Harness::without_cache());
    let before = keyframe_requests(&media.outputs);
    h.router.handle_link(h.now, B, link(110_000)).unwrap();
    assert_eq!(h.router.allotment(B, cam), Some(Some(1)));
    let out = h.drain();
    let asked: Vec<u32> = control_to(&out, A)
        .into_iter()
        .filter_map(|m| match m {
            ServerMessage::RequestKeyframe(r) => Some(r.track_id),
            _ => None,
        })
        .collect();
    assert_eq!(asked, vec![SMALL], "the small quality's keyframe, at once");
    media.force[1] = true;
    media.outputs.extend(out);
    // The publisher answers at its next frame (one round trip): B switches
    // at that keyframe; the full quality meanwhile stays within layer 1.
    let (got, audio) = media.run(&mut h, 2040, B);
    assert!(audio);
    let small = got.iter().find(|g| g.small).unwrap();
    assert!(small.key);
    assert!(
        matches!(small.action, Some(Action::Stream { open: true, .. })),
        "{small:?}"
    );
    assert_eq!(keyframe_requests(&media.outputs), before + 1);
    let (got, _) = media.run(&mut h, 3000, B);
    assert!(
        got.iter().all(|g| sent(g) == (g.small && g.layer <= 1)),
        "{got:?}"
    );
}

#[test]
fn estimate_recovers_then_the_full_quality_comes_back_one_step_per_interval() {
    let (mut h, mut media, cam, _) = simulcast_pair(Harness::with_raises_a_second_apart());
    h.router.handle_link(h.now, B, link(110_000)).unwrap();
    media.run(&mut h, 2500, B);
    assert_eq!(h.router.allotment(B, cam), Some(Some(1)));
    // Plenty again: one step now (small layer 2), the next after a second.
    h.router.handle_link(h.now, B, link(10_000_000)).unwrap();
    assert_eq!(h.router.allotment(B, cam), Some(Some(2)));
    let (got, _) = media.run(&mut h, 3000, B);
    assert!(got.iter().all(|g| !sent(g) || g.small), "still small");
    h.router.handle_link(h.now, B, link(10_000_000)).unwrap();
    assert_eq!(h.router.allotment(B, cam), Some(Some(2)), "500 ms later");
    media.run(&mut h, 3500, B);
    h.router.handle_link(h.now, B, link(10_000_000)).unwrap();
    assert_eq!(h.router.allotment(B, cam), Some(Some(3)), "full, layer 0");
    let (got, audio) = media.run(&mut h, 4500, B);
    assert!(audio);
    let back = got
        .iter()
        .position(|g| !g.small && sent(g))
        .expect("back on the full quality");
    assert!(
        got[back..]
            .iter()
            .all(|g| sent(g) == (!g.small && g.layer == 0)),
        "{got:?}"
    );
    assert_eq!(h.router.stats().quality_switches, 2);
}

#[test]
fn a_small_view_keeps_the_small_quality_with_bandwidth_to_spare() {
    let (mut h, mut media, cam, _) = simulcast_pair(Harness::new());
    h.router.set_view_size(h.now, B, cam, 239).unwrap();
    assert_eq!(h.router.allotment(B, cam), Some(Some(2)));
    for until in (2500..=6000).step_by(500) {
        h.router.handle_link(h.now, B, link(50_000_000)).unwrap();
        let (got, audio) = media.run(&mut h, until, B);
        assert!(audio);
        assert_eq!(h.router.allotment(B, cam), Some(Some(2)));
        if until > 2500 {
            assert!(got.iter().all(|g| sent(g) == g.small), "{got:?}");
        }
    }
    // A view above 4/3 of 180 px: the full quality again, a step per interval.
    h.router.set_view_size(h.now, B, cam, 360).unwrap();
    h.router.handle_link(h.now, B, link(50_000_000)).unwrap();
    assert_eq!(h.router.allotment(B, cam), Some(Some(3)));
    media.run(&mut h, 7000, B);
    h.router.handle_link(h.now, B, link(50_000_000)).unwrap();
    assert_eq!(h.router.allotment(B, cam), Some(Some(4)));
    let (got, _) = media.run(&mut h, 8000, B);
    assert!(got.iter().any(|g| !g.small && sent(g)));
    assert!(
        got.iter()
            .rev()
            .take(10)
            .all(|g| sent(g) == (!g.small && g.layer <= 1)),
        "{got:?}"
    );
    // Without link reports (no limit known) a larger view is the full
    // quality at once.
    let (mut h, _, cam, _) = simulcast_pair(Harness::new());
    h.router.set_view_size(h.now, B, cam, 100).unwrap();
    assert_eq!(h.router.allotment(B, cam), Some(Some(2)));
    h.router.set_view_size(h.now, B, cam, 720).unwrap();
    assert_eq!(h.router.allotment(B, cam), Some(Some(5)));
    // ViewSize for a track not subscribed: refused.
    assert_eq!(
        h.router.set_view_size(h.now, C, cam, 100),
        Err(RouterError::UnknownParticipant(C))
    );
    assert_eq!(
        h.router.set_view_size(h.now, A, cam, 100),
        Err(RouterError::NotSubscribed(cam))
    );
}

#[test]
fn unpublishing_the_small_quality_moves_its_subscribers_to_the_full_one() {
    let (mut h, mut media, cam, _) = simulcast_pair(Harness::new());
    h.router.set_view_size(h.now, B, cam, 180).unwrap();
    media.run(&mut h, 3000, B);
    let small_group = h.plan.header.group;
    h.router.unpublish(h.now, A, SMALL).unwrap();
    let out = h.drain();
    assert!(
        ends(&out)
            .iter()
            .any(|e| e.subscriber == B && e.mode == EndMode::Reset)
    );
    assert!(control_to(&out, B).is_empty(), "B never knew of it");
    // Its frames are now refused; B restarts on the full quality.
    h.at(3000);
    h.video(A, 1000, true, 0).unwrap();
    assert!(
        matches!(h.action(B), Some(Action::Stream { open: true, group }) if group > small_group)
    );
}

#[test]
fn the_publisher_is_told_when_nobody_wants_the_full_quality_and_when_someone_does() {
    let (mut h, mut media, cam, _) = simulcast_pair(Harness::new());
    let wanted = |out: &[Output]| -> Vec<(u32, bool)> {
        control_to(out, A)
            .into_iter()
            .filter_map(|m| match m {
                ServerMessage::TrackWanted(w) => Some((w.track_id, w.wanted)),
                _ => None,
            })
            .collect()
    };
    assert!(wanted(&media.outputs).is_empty(), "wanted from the start");
    // B's only view is small: nobody wants the full quality.
    h.router.set_view_size(h.now, B, cam, 180).unwrap();
    assert_eq!(wanted(&h.drain()), vec![(CAM, false)]);
    media.run(&mut h, 3000, B);
    assert!(wanted(&media.outputs).is_empty(), "said once");
    // C comes with no limit known: full quality, wanted again.
    h.join(C, RoomId::MAIN, false);
    h.subscribe(C, cam);
    assert_eq!(wanted(&h.drain()), vec![(CAM, true)]);
    // C leaves: unwanted; B's view grows: wanted.
    h.router.leave(h.now, C).unwrap();
    assert_eq!(wanted(&h.drain()), vec![(CAM, false)]);
    h.router.set_view_size(h.now, B, cam, 720).unwrap();
    assert_eq!(wanted(&h.drain()), vec![(CAM, true)]);
    // A thin link puts B on the small quality: unwanted; the small quality
    // unpublished: the full one is the only one, wanted.
    h.router.handle_link(h.now, B, link(110_000)).unwrap();
    assert_eq!(wanted(&h.drain()), vec![(CAM, false)]);
    // While only the small quality flows, the camera counts as sending.
    let t = h.now.0 + 2000;
    h.at(t);
    Simulcast::frame(&mut h, SMALL, media.groups[1] + 1, true, 0, 250);
    let flowing: Vec<TrackId> = h.router.flowing(h.now, A, 500).map(|t| t.id).collect();
    assert_eq!(flowing, vec![cam]);
    h.router.unpublish(h.now, A, SMALL).unwrap();
    assert_eq!(wanted(&h.drain()), vec![(CAM, true)]);
}
