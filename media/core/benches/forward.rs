//! Benchmark program: the router's per-frame planning cost at the reference
//! loads of DESIGN.md §5 (a full session, and 10 breakout rooms of 5).
//! Run with `cargo bench -p podium-media-core`; it prints, it does not assert.

use std::hint::black_box;
use std::time::Instant;

use podium_media_core::{
    ForwardPlan, FrameHeader, Millis, ParticipantId, RoomId, Router, RouterConfig, TrackConfig,
};

const CAM: u32 = 1;
const MIC: u32 = 2;

/// `rooms` rooms of `per_room` participants, the first `publishers` of each
/// room publishing camera and microphone, everyone subscribed to everything in its room.
fn setup(rooms: u32, per_room: u64, publishers: u64) -> (Router, Vec<ParticipantId>) {
    let mut router = Router::new(RouterConfig::default());
    let now = Millis(0);
    let mut senders = Vec::new();
    for r in 0..rooms {
        let room = RoomId(r);
        if r > 0 {
            router.create_breakout_room(room).unwrap();
        }
        let members: Vec<ParticipantId> = (0..per_room)
            .map(|i| ParticipantId(u64::from(r) * 1000 + i))
            .collect();
        for (i, &p) in members.iter().enumerate() {
            let publishes = (i as u64) < publishers;
            router.join(now, p, "bench", room, publishes).unwrap();
            if publishes {
                router
                    .publish(now, p, CAM, TrackConfig::av1(640, 360))
                    .unwrap();
                router
                    .publish(now, p, MIC, TrackConfig::opus(48000, 1))
                    .unwrap();
                senders.push(p);
            }
        }
        for &p in &members {
            for &q in &members[..publishers as usize] {
                if p != q {
                    for client_id in [CAM, MIC] {
                        let track = router.resolve_track(q, client_id).unwrap();
                        router.subscribe(now, p, track).unwrap();
                    }
                }
            }
        }
    }
    while router.poll_output().is_some() {}
    (router, senders)
}

fn run(name: &str, mut router: Router, senders: &[ParticipantId]) {
    let mut plan = ForwardPlan::new();
    let (mut frames, mut deliveries, mut rejected) = (0u64, 0u64, 0u64);
    let mut video_index = 0u64;
    let start = Instant::now();
    // 20 ms ticks: every publisher sends one audio frame (50 fps) and, in 3 of
    // 5 ticks, one video frame (30 fps), L1T3, a keyframe every 60 video frames.
    for tick in 0..4000u64 {
        let now = Millis(tick * 20);
        let video = tick % 5 < 3;
        let index = video_index % 60;
        for &from in senders {
            let audio = FrameHeader {
                track: MIC,
                group: 0,
                sequence: tick,
                timestamp_us: tick * 20_000,
                keyframe: true,
                temporal_layer: 0,
            };
            let camera = FrameHeader {
                track: CAM,
                group: video_index / 60,
                sequence: video_index,
                timestamp_us: tick * 20_000,
                keyframe: index == 0,
                temporal_layer: [0, 2, 1, 2][(index % 4) as usize],
            };
            let headers = [Some(audio), video.then_some(camera)];
            for header in headers.iter().flatten() {
                frames += 1;
                match router.handle_frame(now, from, header, 1000, &mut plan) {
                    Ok(()) => deliveries += plan.sends().count() as u64,
                    Err(_) => rejected += 1,
                }
                while let Some(out) = router.poll_output() {
                    black_box(out);
                }
            }
        }
        if video {
            video_index += 1;
        }
    }
    let elapsed = start.elapsed();
    let per_frame = elapsed.as_nanos() as f64 / frames as f64;
    println!(
        "{name}: {frames} frames ({rejected} rejected), {deliveries} deliveries in \
         {elapsed:.2?}: {per_frame:.0} ns/frame, {:.1} M deliveries/s",
        deliveries as f64 / elapsed.as_secs_f64() / 1e6
    );
}

fn main() {
    let (router, senders) = setup(1, 50, 10);
    run("full session (50, 10 publishing)", router, &senders);
    let (router, senders) = setup(10, 5, 5);
    run("breakout (10 rooms of 5, all publishing)", router, &senders);
}
