//! Prints what one change in a live room costs the event streams, for 50
//! and 200 people with 60 questions and a full chat: the bytes of the whole
//! `state` event (the first one a stream gets; a later one without the chat
//! history, as sent before patches), and the `patch` event a stream gets
//! now when someone asks a question (`http::patch`), per stream and over
//! everyone.
//!
//! `cargo run --release --example live_event_bytes`

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use podium::domain::live::{LiveRoom, LiveSettings, LiveView, RequestKind, Viewer};
use podium::domain::sessions::{Role, new_draft};

fn main() {
    println!(
        "people  questions  state bytes/stream (first / later)  whole states, all streams  question patch/stream  patches, all streams"
    );
    for people in [50u64, 200] {
        let now: Timestamp = "2026-12-01T17:00:00Z".parse().expect("a time");
        let mut session = new_draft(1, "UTC", now - SignedDuration::from_mins(10));
        session.title = "A session of realistic size".into();
        session.starts_at = now;
        let settings = LiveSettings {
            capacity: 200,
            chat_burst: 1000,
            ..LiveSettings::default()
        };
        let mut room = LiveRoom::new(1, now, settings, Vec::new(), Vec::new());
        for id in 1..=people {
            let role = if id == 1 { Role::Host } else { Role::Guest };
            room.join(
                id,
                &format!("Participant number {id}"),
                Some(role),
                id == 1,
                now,
            )
            .expect("joins");
        }
        for i in 0..60u64 {
            let who = 2 + i % (people - 1);
            room.ask(who, "How would you test this under a realistic load?", now)
                .expect("asks");
        }
        for i in 0..200u64 {
            let who = 2 + i % (people - 1);
            let at = now + SignedDuration::from_secs(i as i64 * 60);
            room.chat(
                who,
                "A chat message of ordinary length, with a question?",
                at,
            )
            .expect("chats");
        }
        for id in 2..=11 {
            let _ = room.request_stage(id, RequestKind::Hand, now);
        }
        let seen = HashMap::new();
        let (mut first, mut later) = (0usize, 0usize);
        let view_for = |room: &LiveRoom, id: u64| {
            let viewer = Viewer {
                user_id: id,
                name: format!("Participant number {id}"),
                registered: Some(if id == 1 { Role::Host } else { Role::Guest }),
                is_host: id == 1,
            };
            let mut v = serde_json::to_value(LiveView::build(
                Some(room),
                &session,
                Vec::new(),
                &viewer,
                now,
                &settings,
                &seen,
            ))
            .expect("serializes");
            v["chat"] = serde_json::Value::Null;
            v
        };
        let before: Vec<_> = (1..=people).map(|id| view_for(&room, id)).collect();
        room.ask(
            people,
            "One more question, asked while everyone watches?",
            now,
        )
        .expect("asks");
        let mut patches = 0usize;
        for (i, old) in before.iter().enumerate() {
            let new = view_for(&room, i as u64 + 1);
            let p = podium::http::patch::diff(old, &new).expect("a change");
            patches += serde_json::to_vec(&p).expect("serializes").len();
        }
        for id in 1..=people {
            let viewer = Viewer {
                user_id: id,
                name: format!("Participant number {id}"),
                registered: Some(if id == 1 { Role::Host } else { Role::Guest }),
                is_host: id == 1,
            };
            let mut view = LiveView::build(
                Some(&room),
                &session,
                Vec::new(),
                &viewer,
                now,
                &settings,
                &seen,
            );
            first += serde_json::to_vec(&view).expect("serializes").len();
            view.chat = None;
            later += serde_json::to_vec(&view).expect("serializes").len();
        }
        println!(
            "{people:>6}  {:>9}  {:>14} / {:<14}  {:>24}  {:>21}  {:>20}",
            60,
            first / people as usize,
            later / people as usize,
            later,
            patches / people as usize,
            patches
        );
    }
}
