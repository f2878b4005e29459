//! Breakout rooms and media rights through the app and the SFU together,
//! with Rust bots publishing a real AV1 clip and Opus over WebTransport:
//! each room's members receive their room's tracks and nothing else, a
//! host's visit carries the host's media, closing brings everyone back, and
//! no token brings back a right the room has taken away.

use std::collections::HashMap;
use std::time::Duration;

use podium_media::bot::{AudioClip, Bot, BotError, Publisher, ReceiveStats, VideoClip};
use podium_media::core::ServerMessage;
use podium_media::{RoomId, TrackId};
use reqwest::StatusCode;
use serde_json::json;

use crate::media::{bot_for, join, live_session};
use crate::support::TestApp;

const WAIT: Duration = Duration::from_secs(20);

/// Frames a bot received per track.
fn frames(s: &ReceiveStats) -> HashMap<u32, u64> {
    s.tracks.iter().map(|(t, x)| (*t, x.frames)).collect()
}

fn of(m: &HashMap<u32, u64>, t: TrackId) -> u64 {
    m.get(&t.0).copied().unwrap_or(0)
}

/// Publishes the clip's video and Opus audio; returns (video, audio) and the senders.
async fn publish_av(bot: &mut Bot) -> ((TrackId, TrackId), Vec<Publisher>) {
    let clip = VideoClip::fixture();
    let v = bot.publish(1, clip.track_config()).await.expect("video");
    let a = bot
        .publish(2, AudioClip::track_config())
        .await
        .expect("audio");
    let senders = vec![
        bot.start_video(1, v, clip),
        bot.start_audio(2, a, AudioClip::speech_like(2).unwrap()),
    ];
    ((v, a), senders)
}

async fn wait_permission(bot: &mut Bot, room: u32, may_publish: bool) {
    bot.wait_for("Permission", WAIT, |m| {
        matches!(m, ServerMessage::Permission(p) if p.room == RoomId(room) && p.may_publish == may_publish)
    })
    .await
    .unwrap_or_else(|e| panic!("Permission(room {room}, may_publish {may_publish}): {e}"));
}

/// Waits until `bot` decoded more than `n` video frames of `video` and
/// received more than `n` audio frames of `audio` beyond `since`.
async fn hears(bot: &Bot, (video, audio): (TrackId, TrackId), since: &HashMap<u32, u64>, n: u64) {
    let (v0, a0) = (of(since, video), of(since, audio));
    bot.wait_until("a room-mate's media", WAIT, |s| {
        let dec = s.tracks.get(&video.0).map_or(0, |t| t.decoded);
        let aud = s.tracks.get(&audio.0).map_or(0, |t| t.frames);
        dec > n && aud > a0 + n && s.tracks.get(&video.0).map_or(0, |t| t.frames) > v0
    })
    .await
    .expect("media from the room");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breakout_rooms_carry_their_own_media_and_nothing_else() {
    let app = TestApp::start().await;
    let people = [
        ("host@example.org", "Host", "host"),
        ("pres@example.org", "Presenter", "presenter"),
        ("g1@example.org", "Guest One", "guest"),
        ("g2@example.org", "Guest Two", "guest"),
        ("g3@example.org", "Guest Three", "guest"),
        ("g4@example.org", "Guest Four", "guest"),
    ];
    let (id, c) = live_session(&app, "Workshop", &people).await;
    let live = format!("/api/sessions/{id}/live");
    let mut joined = Vec::new();
    for client in &c {
        joined.push(join(client, id).await);
    }
    let mut bots = Vec::new();
    for j in &joined {
        bots.push(bot_for(&app, &j.media).await);
    }
    let [host, pres, g1, g2, g3, g4] = &mut bots[..] else {
        unreachable!()
    };
    let ids: Vec<u64> = joined.iter().map(|j| j.user_id).collect();

    // The stage of the main room: the host and the presenter publish.
    let (host_av, _host_tx) = publish_av(host).await;
    let (pres_av, _pres_tx) = publish_av(pres).await;
    hears(g1, pres_av, &HashMap::new(), 5).await;

    // Two rooms, opened through the app's API.
    let (s, b) = c[0]
        .post(
            &format!("{live}/breakouts"),
            json!({"rooms": [
                {"name": "Room A", "user_ids": [ids[2], ids[3]]},
                {"name": "Room B", "user_ids": [ids[4], ids[5]]},
            ]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    for (bot, room) in [(&mut *g1, 1), (&mut *g2, 1), (&mut *g3, 2), (&mut *g4, 2)] {
        wait_permission(bot, room, true).await;
    }
    // In a breakout room everyone may speak.
    let (g1_av, _t1) = publish_av(g1).await;
    let (g2_av, _t2) = publish_av(g2).await;
    let (g3_av, _t3) = publish_av(g3).await;
    let (g4_av, _t4) = publish_av(g4).await;
    let none = HashMap::new();
    hears(g1, g2_av, &none, 10).await;
    hears(g2, g1_av, &none, 10).await;
    hears(g3, g4_av, &none, 10).await;
    hears(g4, g3_av, &none, 10).await;

    // What each one has from outside its room stops growing.
    let mid: Vec<HashMap<u32, u64>> = bots.iter().map(|b| frames(&b.stats())).collect();
    let [host, pres, g1, g2, g3, g4] = &mut bots[..] else {
        unreachable!()
    };
    hears(g1, g2_av, &mid[2], 20).await;
    hears(g3, g4_av, &mid[4], 20).await;
    let outside = |bot: &Bot, before: &HashMap<u32, u64>, tracks: &[TrackId]| {
        let now = frames(&bot.stats());
        for t in tracks {
            assert_eq!(
                of(&now, *t),
                of(before, *t),
                "no frames of track {} reach this room",
                t.0
            );
        }
    };
    let main_stage = [host_av.0, host_av.1, pres_av.0, pres_av.1];
    for (i, bot) in [(2, &*g1), (3, &*g2), (4, &*g3), (5, &*g4)] {
        outside(bot, &mid[i], &main_stage);
    }
    outside(g1, &mid[2], &[g3_av.0, g3_av.1, g4_av.0, g4_av.1]);
    outside(g3, &mid[4], &[g1_av.0, g1_av.1, g2_av.0, g2_av.1]);
    outside(pres, &mid[1], &[g1_av.0, g1_av.1, g3_av.0, g3_av.1]);
    assert!(
        !g1.stats().tracks.contains_key(&g3_av.0.0),
        "room A never hears of room B's tracks"
    );

    // The host visits room A: the host's media goes along, room B stays apart.
    let (s, b) = c[0]
        .post(&format!("{live}/visit"), json!({"room": 1}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    wait_permission(host, 1, true).await;
    let before = frames(&g1.stats());
    hears(g1, host_av, &before, 10).await;
    hears(host, g1_av, &mid[0], 10).await;
    hears(host, g2_av, &mid[0], 10).await;
    let g3_before = frames(&g3.stats());
    hears(g3, g4_av, &g3_before, 20).await;
    outside(g3, &g3_before, &[host_av.0, host_av.1]);

    // Closing brings everyone back to the main room, guests to the audience.
    let (s, b) = c[0]
        .call(reqwest::Method::DELETE, &format!("{live}/breakouts"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    wait_permission(host, 0, true).await;
    for bot in [&mut *g1, &mut *g2, &mut *g3, &mut *g4] {
        wait_permission(bot, 0, false).await;
    }
    let back = frames(&g3.stats());
    hears(g3, pres_av, &back, 10).await;
    assert!(
        g1.publish(3, VideoClip::fixture().track_config())
            .await
            .is_err(),
        "the audience does not publish in the main room"
    );

    // The rooms were closed in the SFU: opening them again works.
    let (s, b) = c[0]
        .post(&format!("{live}/breakouts"), json!({"auto": 2}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    g1.wait_for(
        "Permission in a new room",
        WAIT,
        |m| matches!(m, ServerMessage::Permission(p) if !p.room.is_main() && p.may_publish),
    )
    .await
    .expect("moved into a reopened room");
    assert_eq!(app.metric("podium_media_effect_failures_total").await, 0.0);
}

/// An old token is only an identity: the room's current word decides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_token_never_brings_back_a_right() {
    let app = TestApp::start().await;
    let people = [
        ("host@example.org", "Host", "host"),
        ("pres@example.org", "Presenter", "presenter"),
        ("guest@example.org", "Guest", "guest"),
    ];
    let (id, c) = live_session(&app, "Rights", &people).await;
    let live = format!("/api/sessions/{id}/live");
    join(&c[0], id).await;
    let p = join(&c[1], id).await;
    let g = join(&c[2], id).await;

    // Moved off stage: the token that said "may publish" no longer does.
    let (s, b) = c[0]
        .post(
            &format!("{live}/moderate"),
            json!({"action": "off_stage", "user_id": p.user_id}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let mut pb = bot_for(&app, &p.media).await;
    assert!(!pb.welcome().may_publish, "the room's word beats the token");
    assert!(matches!(
        pb.publish(1, VideoClip::fixture().track_config()).await,
        Err(BotError::Refused { .. })
    ));

    // Removed: the connection closes and the same token is refused.
    c[0].post(
        &format!("{live}/moderate"),
        json!({"action": "remove", "user_id": p.user_id}),
    )
    .await;
    match pb.closed().await {
        BotError::Closed { code, .. } => assert_eq!(code, 5),
        other => panic!("expected removal, got {other:?}"),
    }
    match try_bot(&app, &p.media).await {
        Err(BotError::Closed { code, .. }) => assert_eq!(code, 5, "removed"),
        other => panic!("a removed person's token must be refused: {other:?}"),
    }

    // Left: the token no longer admits; joining again does.
    let (s, _) = c[2].post(&format!("{live}/leave"), json!({})).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    match try_bot(&app, &g.media).await {
        Err(BotError::Closed { reason, .. }) => assert!(reason.starts_with("left"), "{reason}"),
        other => panic!("a token of someone who left must be refused: {other:?}"),
    }
    let again = join(&c[2], id).await;
    let gb = bot_for(&app, &again.media).await;
    assert!(!gb.welcome().may_publish);
}

async fn try_bot(app: &TestApp, media: &serde_json::Value) -> Result<Bot, BotError> {
    Bot::connect(
        podium_media::bot::BotConfig::new(
            media["url"].as_str().unwrap(),
            crate::media::hashes(media),
            media["token"].as_str().unwrap(),
        )
        .with_origin(app.url.clone()),
    )
    .await
}

/// The room shows camera and microphone as the SFU sees them: on while
/// frames arrive, not because a page says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_view_shows_what_really_flows() {
    let app = TestApp::start().await;
    let people = [
        ("host@example.org", "Host", "host"),
        ("pres@example.org", "Presenter", "presenter"),
    ];
    let (id, c) = live_session(&app, "Flow", &people).await;
    let live = format!("/api/sessions/{id}/live");
    join(&c[0], id).await;
    let p = join(&c[1], id).await;
    let sending = |v: &serde_json::Value| {
        v["people"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["user_id"] == p.user_id)
            .unwrap()
            .clone()
    };
    let until = |pred: fn(&serde_json::Value) -> bool| {
        let host = &c[0];
        let live = live.clone();
        async move {
            let wait = async {
                loop {
                    let v = sending(&host.get(&live).await.1);
                    if pred(&v) {
                        return v;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            };
            tokio::time::timeout(WAIT, wait).await.expect("in time")
        }
    };
    let v = sending(&c[0].get(&live).await.1);
    assert_eq!(v["camera"], true, "switched on");
    assert_eq!(v["sending"]["camera"], false, "but nothing arrives yet");

    let mut bot = bot_for(&app, &p.media).await;
    let clip = VideoClip::fixture();
    let t = bot.publish(1, clip.track_config()).await.unwrap();
    let video = bot.start_video(1, t, clip);
    let v = until(|v| v["sending"]["camera"] == true).await;
    assert_eq!(v["sending"]["microphone"], false, "no audio track sends");
    video.stop();
    until(|v| v["sending"]["camera"] == false).await;
}

/// Cancelling a session closes its live room at once: media connections
/// end, and nobody can join or chat any more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_session_closes_its_live_room() {
    let app = TestApp::start().await;
    let people = [
        ("host@example.org", "Host", "host"),
        ("guest@example.org", "Guest", "guest"),
    ];
    let (id, c) = live_session(&app, "Cancelled", &people).await;
    let live = format!("/api/sessions/{id}/live");
    join(&c[0], id).await;
    let g = join(&c[1], id).await;
    let bot = bot_for(&app, &g.media).await;
    let admin = app.client();
    admin
        .post(
            "/api/auth/signin",
            json!({"email": "admin@example.org", "password": "correct horse"}),
        )
        .await;
    let (s, b) = admin
        .post(&format!("/api/sessions/{id}/cancel"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    match tokio::time::timeout(WAIT, bot.closed()).await {
        Ok(BotError::Closed { code, .. }) => assert_eq!(code, 0, "the session ended"),
        other => panic!("the media connection must close: {other:?}"),
    }
    let (s, b) = c[1].post(&format!("{live}/join"), json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_eq!(b["error"]["code"], "session_ended");
    let (s, _) = c[0]
        .post(&format!("{live}/chat"), json!({"text": "anyone?"}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(c[1].get(&live).await.1["status"], "ended");
}

/// A host's mute holds on the media path too: a client that keeps sending
/// audio is not heard until a host allows the microphone again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_muted_microphone_is_not_heard_whatever_the_client_sends() {
    let app = TestApp::start().await;
    let people = [
        ("host@example.org", "Host", "host"),
        ("pres@example.org", "Presenter", "presenter"),
    ];
    let (id, c) = live_session(&app, "Mute", &people).await;
    let live = format!("/api/sessions/{id}/live");
    let h = join(&c[0], id).await;
    let p = join(&c[1], id).await;
    let host_bot = bot_for(&app, &h.media).await;
    let mut pres_bot = bot_for(&app, &p.media).await;
    let (av, _tx) = publish_av(&mut pres_bot).await;
    hears(&host_bot, av, &HashMap::new(), 10).await;

    let (s, b) = c[0]
        .post(
            &format!("{live}/moderate"),
            json!({"action": "mute", "user_id": p.user_id}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // Video keeps coming; audio stops (the bot goes on sending it).
    let at_mute = frames(&host_bot.stats());
    host_bot
        .wait_until("video after the mute", WAIT, |s| {
            s.tracks.get(&av.0.0).map_or(0, |t| t.frames) > of(&at_mute, av.0) + 60
        })
        .await
        .unwrap();
    let settled = frames(&host_bot.stats());
    host_bot
        .wait_until("more video", WAIT, |s| {
            s.tracks.get(&av.0.0).map_or(0, |t| t.frames) > of(&settled, av.0) + 30
        })
        .await
        .unwrap();
    assert_eq!(
        of(&frames(&host_bot.stats()), av.1),
        of(&settled, av.1),
        "no audio from a muted microphone"
    );

    c[0].post(
        &format!("{live}/moderate"),
        json!({"action": "allow_mic", "user_id": p.user_id}),
    )
    .await;
    let allowed = frames(&host_bot.stats());
    hears(&host_bot, av, &allowed, 10).await;
}
