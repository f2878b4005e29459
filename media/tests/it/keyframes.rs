//! 20 participants joining within a second: started from the server's
//! keyframe cache without asking the publisher; with the cache off, at most
//! one keyframe request per second reaches the publisher.

use std::time::{Duration, Instant};

use podium_media::bot::Bot;
use podium_media::core::ServerMessage;

use crate::support::{SESSION, Server, T};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_joiners_start_from_the_keyframe_cache() {
    let server = Server::start().await;
    let mut p = server.publisher(1, 0).await;
    let video = p.video_track();
    let mut joiners = tokio::task::JoinSet::new();
    for i in 0..20u64 {
        let config = server.bot_config(10 + i, 0, false);
        joiners.spawn(async move {
            tokio::time::sleep(Duration::from_millis(i * 50)).await;
            let bot = Bot::connect(config).await.unwrap();
            bot.wait_until("decoded video", T, |s| s.track(video).decoded >= 5)
                .await
                .unwrap()
        });
    }
    let mut requests = 0;
    loop {
        tokio::select! {
            m = p.bot.wait_for("RequestKeyframe", T, |m| matches!(m, ServerMessage::RequestKeyframe(_))) => {
                m.unwrap();
                requests += 1;
            }
            joined = joiners.join_next() => match joined {
                Some(stats) => {
                    let v = stats.unwrap();
                    let v = v.track(video);
                    assert_eq!(v.first_was_keyframe, Some(true), "a start at a keyframe");
                    assert_eq!(v.decode_errors, 0);
                }
                None => break,
            },
        }
    }
    let stats = server.handle.stats(SESSION).await.unwrap();
    assert_eq!(requests, 0, "{:?}", stats.router);
    assert_eq!(stats.router.keyframe_requests_sent, 0);
    // Joiners that subscribed just before a keyframe started there; the others from the cache.
    assert!(stats.router.cache_replays >= 10, "{:?}", stats.router);
    assert_eq!(stats.io.cache_replays, stats.router.cache_replays);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_cache_twenty_joiners_cause_at_most_one_keyframe_request_per_second() {
    let server = Server::start_with(|c| c.router.max_cached_group_bytes = 0).await;
    let mut p = server.publisher(1, 0).await;
    let video = p.video_track();
    let started = Instant::now();
    let mut joiners = tokio::task::JoinSet::new();
    for i in 0..20u64 {
        let config = server.bot_config(10 + i, 0, false);
        joiners.spawn(async move {
            // Spread the joins over ~0.95 s.
            tokio::time::sleep(Duration::from_millis(i * 50)).await;
            let bot = Bot::connect(config).await.unwrap();
            bot.wait_until("a keyframe", T, |s| s.track(video).decoded > 0)
                .await
                .unwrap();
            bot
        });
    }
    let mut requests = Vec::new();
    let mut bots = Vec::new();
    loop {
        tokio::select! {
            m = p.bot.wait_for("RequestKeyframe", T, |m| matches!(m, ServerMessage::RequestKeyframe(_))) => {
                m.unwrap();
                requests.push(started.elapsed());
            }
            joined = joiners.join_next() => match joined {
                Some(bot) => bots.push(bot.unwrap()),
                None => break,
            },
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(bots.len(), 20);
    assert!(
        !requests.is_empty(),
        "late subscribers asked for a keyframe"
    );
    assert!(
        requests.len() as f64 <= elapsed.ceil() + 1.0,
        "{requests:?} in {elapsed:.2} s"
    );
    for pair in requests.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(800),
            "{requests:?}"
        );
    }
    let stats = server.handle.stats(SESSION).await.unwrap().router;
    assert!(stats.keyframe_requests_coalesced >= 10, "{stats:?}");
}
