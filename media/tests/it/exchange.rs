//! Two bots exchange audio and video through the server; a late joiner starts
//! at a keyframe; audio levels and thumbnails come from the codec workers.

use podium_media::TrackId;
use podium_media::core::ServerMessage;

use crate::support::{SESSION, Server, T, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_bots_exchange_audio_and_video_intact() {
    let server = Server::start().await;
    let mut a = server.publisher(1, 0).await;
    let b = server.publisher(2, 0).await;
    let (av, aa, bv, ba) = (
        a.video_track(),
        a.audio_track(),
        b.video_track(),
        b.audio_track(),
    );

    // Each receives the other's video (decoded by dav1d) and audio (decoded by libopus).
    for (bot, video, audio) in [(&b.bot, av, aa), (&a.bot, bv, ba)] {
        let s = bot
            .wait_until(
                "40 decoded video frames and 25 decoded audio frames",
                T,
                |s| s.track(video).decoded >= 40 && s.track(audio).decoded >= 25,
            )
            .await
            .unwrap();
        let v = s.track(video);
        assert_eq!(
            v.first_was_keyframe,
            Some(true),
            "video starts at a keyframe"
        );
        assert_eq!((v.decode_errors, v.stale), (0, 0));
        assert!(
            v.layers[1] > 0 && v.layers[2] > 0,
            "all L1T3 layers arrive: {:?}",
            v.layers
        );
        assert_eq!(s.track(audio).decode_errors, 0);
        assert!(s.datagrams > 0, "audio came as datagrams");
        assert!(
            !s.tracks.contains_key(&if video == av { bv } else { av }),
            "no echo of own tracks"
        );
    }

    // Active speaker: B's audio level reaches A (decoded on the server).
    let levels = a
        .bot
        .wait_for("AudioLevels with B's audio", T, |m| match m {
            ServerMessage::AudioLevels(l) => {
                l.levels.iter().any(|l| l.track.0 == ba && l.level < 127)
            }
            _ => false,
        })
        .await
        .unwrap();
    assert!(matches!(levels, ServerMessage::AudioLevels(_)));

    // A thumbnail of each video track, made from a keyframe by dav1d.
    for track in [av, bv] {
        eventually("a thumbnail", || async {
            server.handle.thumbnail(SESSION, TrackId(track)).is_some()
        })
        .await;
        let jpeg = server.handle.thumbnail(SESSION, TrackId(track)).unwrap();
        assert_eq!(&jpeg[..3], &[0xff, 0xd8, 0xff], "a JPEG");
    }
    assert!(
        server
            .handle
            .participant_thumbnail(SESSION, podium_media::ParticipantId(1))
            .is_some()
    );

    let stats = server.handle.stats(SESSION).await.unwrap();
    assert_eq!(stats.connected, 2);
    assert_eq!(stats.router.rejected_frames, 0);
    assert!(stats.io.datagrams_sent > 0 && stats.io.streams_opened > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_joiner_starts_at_the_cached_keyframe() {
    let server = Server::start().await;
    let p = server.publisher(1, 0).await;
    let early = server.bot(2, 0, false).await;
    // Join mid-group: the early subscriber has seen a keyframe and then more.
    early
        .wait_until("mid-group", T, |s| {
            let v = s.track(p.video_track());
            v.keyframes >= 1 && v.frames % 30 > 5 && v.frames % 30 < 25
        })
        .await
        .unwrap();
    let before = server.handle.stats(SESSION).await.unwrap().router;
    let late = server.bot(3, 0, false).await;
    let s = late
        .wait_until("decoded video", T, |s| {
            s.track(p.video_track()).decoded >= 10
        })
        .await
        .unwrap();
    let v = s.track(p.video_track());
    assert_eq!(
        v.first_was_keyframe,
        Some(true),
        "nothing of the current group"
    );
    assert_eq!(v.decode_errors, 0);
    // Started from the server's keyframe cache: the publisher was not asked.
    let stats = server.handle.stats(SESSION).await.unwrap();
    assert_eq!(
        stats.router.keyframe_requests_sent,
        before.keyframe_requests_sent
    );
    assert_eq!(
        stats.router.cache_replays,
        before.cache_replays + 1,
        "{:?}",
        stats.router
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_receive_sockets_share_the_port_and_carry_everyone() {
    // Four sockets on one port (SO_REUSEPORT): the kernel spreads the
    // clients over them by address, and every client gets everyone's
    // media whichever endpoint it landed on.
    let server = Server::start_with(|c| c.receive_sockets = 4).await;
    let a = server.publisher(1, 0).await;
    let b = server.publisher(2, 0).await;
    let mut viewers = Vec::new();
    for id in 3..=8 {
        viewers.push(server.bot(id, 0, false).await);
    }
    for bot in viewers.iter().chain([&a.bot, &b.bot]) {
        let from: Vec<(u32, u32)> = [&a, &b]
            .into_iter()
            .filter(|p| !std::ptr::eq(&p.bot, bot))
            .map(|p| (p.video_track(), p.audio_track()))
            .collect();
        let s = bot
            .wait_until("decoded video and audio of every publisher", T, |s| {
                from.iter()
                    .all(|&(v, a)| s.track(v).decoded >= 10 && s.track(a).decoded >= 10)
            })
            .await
            .unwrap();
        for (v, a) in from {
            assert_eq!((s.track(v).decode_errors, s.track(a).decode_errors), (0, 0));
        }
    }
}
