//! Rooms and publish rights: a non-publisher's frames reach no one; moving a
//! participant to a breakout room changes what it receives and where what it
//! sends goes; revoking the right to publish removes its tracks; a reused
//! identity replaces the older connection; a vanished client leaves.

use std::time::Duration;

use podium_media::bot::{AudioClip, BotError};
use podium_media::core::wire::control::Ping;
use podium_media::core::wire::media::{encode_datagram, encode_stream_frame};
use podium_media::core::{FrameHeader, ServerMessage, StreamHeader};
use podium_media::{MediaError, ParticipantId, RoomId};

use crate::support::relay::Relay;
use crate::support::{CAM, MIC, SESSION, Server, T, clip, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_publishers_frames_reach_no_one() {
    let server = Server::start().await;
    let publisher = server.publisher(1, 0).await;
    let watcher = server.bot(2, 0, false).await;
    let mut guest = server.bot(3, 0, false).await;

    // Publish is refused...
    let err = guest.publish(CAM, clip().track_config()).await.unwrap_err();
    assert!(
        matches!(&err, BotError::Refused { code, .. } if code == "not_allowed_to_publish"),
        "{err}"
    );
    // ... and frames sent anyway (a video group stream and audio datagrams) are dropped.
    let mut stream = guest.connection().open_uni().await.unwrap().await.unwrap();
    let mut bytes = Vec::new();
    StreamHeader::video(CAM, 1).encode(&mut bytes).unwrap();
    for (i, f) in clip().frames[..10].iter().enumerate() {
        let h = FrameHeader {
            track: CAM,
            group: 1,
            sequence: i as u64,
            timestamp_us: 1,
            keyframe: i == 0,
            temporal_layer: 0,
        };
        encode_stream_frame(&h, &f.data, &mut bytes).unwrap();
    }
    stream.write_all(&bytes).await.unwrap();
    stream.finish().await.unwrap();
    let audio = AudioClip::speech_like(1).unwrap();
    for (i, p) in audio.packets[..10].iter().enumerate() {
        let h = FrameHeader {
            track: MIC,
            group: 0,
            sequence: i as u64,
            timestamp_us: 1,
            keyframe: true,
            temporal_layer: 0,
        };
        let mut d = Vec::new();
        encode_datagram(&h, p, &mut d).unwrap();
        guest.connection().send_datagram(&d).unwrap();
    }
    eventually("20 rejected frames", || async {
        server
            .handle
            .stats(SESSION)
            .await
            .unwrap()
            .router
            .rejected
            .not_allowed_to_publish
            >= 20
    })
    .await;
    // Nobody got them: the watcher only has the real publisher's two tracks.
    let tracks: Vec<u32> = watcher.stats().tracks.keys().copied().collect();
    assert!(
        tracks
            .iter()
            .all(|t| [publisher.video_track(), publisher.audio_track()].contains(t)),
        "{tracks:?}"
    );
    assert!(
        publisher.bot.stats().tracks.is_empty(),
        "the publisher subscribed to nothing"
    );
    // The guest's session stays open.
    guest.send(Ping { nonce: 9 }).await.unwrap();
    guest
        .wait_for(
            "Pong",
            T,
            |m| matches!(m, ServerMessage::Pong(p) if p.nonce == 9),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_to_a_breakout_room_changes_what_is_received_and_sent() {
    let server = Server::start().await;
    let a = server.publisher(1, 0).await;
    let mut b = server.publisher(2, 0).await;
    let mut c = server.bot(3, 0, false).await;
    let (av, bv, ba) = (a.video_track(), b.video_track(), b.audio_track());
    c.wait_until("A and B", T, |s| {
        s.track(av).frames > 0 && s.track(bv).frames > 0
    })
    .await
    .unwrap();
    b.bot
        .wait_until("A", T, |s| s.track(av).frames > 0)
        .await
        .unwrap();

    server
        .handle
        .create_breakout_room(SESSION, RoomId(1))
        .await
        .unwrap();
    server
        .handle
        .move_participant(SESSION, ParticipantId(2), RoomId(1), true)
        .await
        .unwrap();
    let mut d = server.bot(4, 1, false).await;

    // B learns its new room and loses the main room's tracks.
    b.bot
        .wait_for(
            "Permission",
            T,
            |m| matches!(m, ServerMessage::Permission(p) if p.room == RoomId(1) && p.may_publish),
        )
        .await
        .unwrap();
    b.bot
        .wait_for(
            "TrackRemoved A",
            T,
            |m| matches!(m, ServerMessage::TrackRemoved(t) if t.track.0 == av),
        )
        .await
        .unwrap();
    // C loses B's tracks; D in room 1 gets them (same global ids).
    c.wait_for(
        "TrackRemoved B",
        T,
        |m| matches!(m, ServerMessage::TrackRemoved(t) if t.track.0 == bv),
    )
    .await
    .unwrap();
    d.wait_for(
        "TrackAdded B",
        T,
        |m| matches!(m, ServerMessage::TrackAdded(t) if t.track.0 == bv),
    )
    .await
    .unwrap();
    let b_at_c = c.stats().track(bv).frames;
    let a_at_b = b.bot.stats().track(av).frames;
    d.wait_until("B's media in room 1", T, |s| {
        s.track(bv).decoded >= 20 && s.track(ba).frames >= 20
    })
    .await
    .unwrap();
    // Meanwhile C still gets A, and nothing more of B; B nothing more of A.
    let a_at_c = c.stats().track(av).frames;
    c.wait_until("more of A", T, |s| s.track(av).frames >= a_at_c + 10)
        .await
        .unwrap();
    assert!(
        c.stats().track(bv).frames <= b_at_c + 1,
        "C still receives B"
    );
    assert!(
        b.bot.stats().track(av).frames <= a_at_b + 1,
        "B still receives A"
    );
    assert!(
        d.stats().track(av).frames == 0,
        "D sees the main room's media"
    );

    let members = server.handle.members(SESSION).await.unwrap();
    let rooms: Vec<(u64, u32)> = members
        .iter()
        .map(|m| (m.participant.0, m.room.0))
        .collect();
    assert_eq!(rooms, [(1, 0), (2, 1), (3, 0), (4, 1)]);
    assert!(matches!(
        server.handle.close_breakout_room(SESSION, RoomId(1)).await,
        Err(MediaError::Router(_))
    ));

    // Revoking B's right to publish removes its tracks for D and tells B.
    server
        .handle
        .set_may_publish(SESSION, ParticipantId(2), false)
        .await
        .unwrap();
    d.wait_for(
        "TrackRemoved B",
        T,
        |m| matches!(m, ServerMessage::TrackRemoved(t) if t.track.0 == bv),
    )
    .await
    .unwrap();
    b.bot
        .wait_for(
            "Permission",
            T,
            |m| matches!(m, ServerMessage::Permission(p) if !p.may_publish),
        )
        .await
        .unwrap();
    eventually("B's frames rejected", || async {
        server
            .handle
            .stats(SESSION)
            .await
            .unwrap()
            .router
            .rejected
            .not_allowed_to_publish
            > 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_identity_replaces_the_older_connection() {
    let server = Server::start().await;
    let first = server.bot(5, 0, false).await;
    let second = server.bot(5, 0, false).await;
    let err = first.closed().await;
    assert!(
        matches!(&err, BotError::Closed { code: 4, reason } if reason.starts_with("replaced")),
        "{err}"
    );
    assert_eq!(second.welcome().participant, ParticipantId(5));
    let members = server.handle.members(SESSION).await.unwrap();
    assert_eq!(members.len(), 1);
    // The remaining connection works, and a moderator can remove it (code 5).
    server
        .handle
        .remove_participant(SESSION, ParticipantId(5))
        .await
        .unwrap();
    assert!(matches!(
        second.closed().await,
        BotError::Closed { code: 5, .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_client_leaves_after_the_idle_timeout() {
    let server = Server::start_with(|c| {
        c.idle_timeout = Duration::from_millis(800);
        c.keep_alive = Duration::from_millis(200);
    })
    .await;
    let relay = Relay::start(server.handle.local_addr()).await;
    let mut config = server.bot_config(6, 0, false);
    config.url = format!("https://127.0.0.1:{}/live/{}", relay.addr.port(), SESSION.0);
    let _bot = podium_media::bot::Bot::connect(config).await.unwrap();
    assert_eq!(server.handle.members(SESSION).await.unwrap().len(), 1);
    relay.go_silent();
    eventually("the vanished participant left", || async {
        server.handle.members(SESSION).await.unwrap().is_empty()
    })
    .await;
}
