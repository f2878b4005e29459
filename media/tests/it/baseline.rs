//! The raw-QUIC baseline used by load tests forwards everyone's bytes to the
//! rest of the room, unparsed.

use podium_media::bot::{AudioClip, Bot, BotConfig, VideoClip};
use podium_media::loadtest::baseline::{baseline_config, start_baseline};
use podium_media::{JoinTokenKey, SessionId};

use crate::support::{Server, T};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline_fans_out_streams_and_datagrams() {
    let key = JoinTokenKey::generate();
    let server = start_baseline(&baseline_config(key.clone())).await.unwrap();
    let url = format!("https://127.0.0.1:{}/live/1", server.local_addr().port());
    // Borrow the SFU test server's claims helper for tokens.
    let helper = Server {
        handle: podium_media::start(baseline_config(key.clone()))
            .await
            .unwrap(),
        key: key.clone(),
    };
    let bot = |p: u64, publish: bool| {
        let mut c = BotConfig::new(
            url.clone(),
            server.cert_hashes().all(),
            key.sign(&helper.claims(p, 0, publish)),
        );
        c.baseline = true;
        c.auto_subscribe = false;
        Bot::connect(c)
    };
    let mut a = bot(1, true).await.unwrap();
    let b = bot(2, false).await.unwrap();
    let clip = VideoClip::fixture();
    let v = a.publish(1, clip.track_config()).await.unwrap();
    let s = a.publish(2, AudioClip::track_config()).await.unwrap();
    let _v = a.start_video(1, v, clip);
    let _s = a.start_audio(2, s, AudioClip::speech_like(1).unwrap());
    b.wait_until("frames", T, |s| {
        s.streams >= 1 && s.datagrams >= 10 && s.frames >= 40
    })
    .await
    .unwrap();
    assert_eq!(a.stats().frames, 0, "nothing echoed");
    let _ = SessionId(1);
}
