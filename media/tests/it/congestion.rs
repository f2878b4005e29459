//! A subscriber reading at ~10% of the rate does not change what the others
//! receive (every frame arrives), keeps getting audio, and its own queue on
//! the server stays bounded: the router drops its upper layers and groups.

use std::time::Duration;

use podium_media::bot::{Bot, DecodeChecks, unix_micros};
use podium_media::core::BacklogPolicy;
use std::sync::atomic::Ordering::Relaxed;

use crate::support::{SESSION, Server, T};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_does_not_hurt_the_others_and_stays_bounded() {
    let server = Server::start().await;
    let p = server.publisher(1, 0).await;
    let (video, audio) = (p.video_track(), p.audio_track());
    let fast = [server.bot(2, 0, false).await, server.bot(3, 0, false).await];
    let mut slow_config = server.bot_config(4, 0, false);
    slow_config.receive_window = Some(16 * 1024);
    slow_config.read_rate = Some(8_000); // the clip is ~75 kB/s of video
    slow_config.decode = DecodeChecks {
        audio_every: 0,
        video_frames_per_track: 0,
    };
    let slow = Bot::connect(slow_config).await.unwrap();
    for f in &fast {
        f.wait_until("video", T, |s| s.track(video).keyframes > 0)
            .await
            .unwrap();
    }
    slow.wait_until("audio", T, |s| s.track(audio).frames > 0)
        .await
        .unwrap();

    let start = unix_micros() + 50_000;
    let end = start + 3_000_000;
    for b in [&p.bot, &fast[0], &fast[1], &slow] {
        b.set_window(start, end);
    }
    // Sample the server's largest subscriber queue while the window runs.
    let mut max_queued = 0;
    while unix_micros() < end + 200_000 {
        let io = server.handle.stats(SESSION).await.unwrap().io;
        max_queued = max_queued.max(io.max_queued_bytes);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    p.video.stop();
    p.audio.stop();
    let sent_video = p.video.counters.window_frames.load(Relaxed);
    let sent_audio = p.audio.counters.window_frames.load(Relaxed);
    assert!(
        sent_video >= 80 && sent_audio >= 140,
        "{sent_video} {sent_audio}"
    );

    for f in &fast {
        let s = f
            .wait_until("every frame of the window", T, |s| {
                s.window_frames >= sent_video + sent_audio
            })
            .await
            .unwrap();
        assert_eq!(s.window_frames, sent_video + sent_audio);
        assert_eq!(
            s.track(video).gaps,
            0,
            "nothing dropped for a fast subscriber"
        );
    }
    let s = slow.stats();
    let stats = server.handle.stats(SESSION).await.unwrap();
    assert!(
        s.track(video).frames < (sent_video * 2) / 3,
        "the slow subscriber got {} video frames of {sent_video}",
        s.track(video).frames
    );
    assert!(
        s.track(audio).frames * 10 >= sent_audio * 9,
        "audio keeps flowing: {} of {sent_audio}",
        s.track(audio).frames
    );
    let policy = BacklogPolicy::default();
    assert!(
        max_queued > policy.drop_layer2_above,
        "the backlog built up: {max_queued}"
    );
    assert!(
        max_queued <= policy.drop_group_above + 64 * 1024,
        "queue bounded: {max_queued}"
    );
    assert!(
        stats.router.drops.congestion + stats.router.group_drops > 0,
        "{:?}",
        stats.router
    );
}
