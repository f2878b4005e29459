//! Test support: an SFU on 127.0.0.1:0 with one live session open, tokens, bots.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use podium_media::bot::{AudioClip, Bot, BotConfig, Publisher, VideoClip};
use podium_media::{
    JoinClaims, JoinTokenKey, OriginPolicy, ParticipantId, RoomId, SessionId, SfuConfig, SfuHandle,
    start,
};
use wtransport::endpoint::ConnectOptions;
use wtransport::tls::Sha256Digest;
use wtransport::{ClientConfig, Connection, Endpoint};

pub mod relay;

/// The page origin the test server allows.
pub const ORIGIN: &str = "https://podium.test";
/// The live session the test server has open.
pub const SESSION: SessionId = SessionId(1);
/// Bound for waiting on one thing to happen.
pub const T: Duration = Duration::from_secs(10);
/// Client track ids the test publishers use.
pub const CAM: u32 = 1;
pub const MIC: u32 = 2;

pub struct Server {
    pub handle: SfuHandle,
    pub key: JoinTokenKey,
}

impl Server {
    pub async fn start() -> Server {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut SfuConfig)) -> Server {
        let key = JoinTokenKey::generate();
        let mut config = SfuConfig::new(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            key.clone(),
            OriginPolicy::allow([ORIGIN]),
        );
        tweak(&mut config);
        let handle = start(config).await.expect("SFU starts");
        handle.open_session(SESSION).expect("session opens");
        Server { handle, key }
    }

    pub fn url(&self) -> String {
        self.handle.session_url("127.0.0.1", SESSION)
    }

    pub fn claims(&self, participant: u64, room: u32, may_publish: bool) -> JoinClaims {
        JoinClaims {
            session: SESSION,
            participant: ParticipantId(participant),
            name: format!("p{participant}"),
            role: if may_publish { "presenter" } else { "guest" }.into(),
            room: RoomId(room),
            may_publish,
            expires_at: 0,
        }
        .expiring(SystemTime::now(), Duration::from_secs(60))
    }

    pub fn token(&self, participant: u64, room: u32, may_publish: bool) -> String {
        self.key.sign(&self.claims(participant, room, may_publish))
    }

    pub fn bot_config(&self, participant: u64, room: u32, may_publish: bool) -> BotConfig {
        BotConfig::new(
            self.url(),
            self.handle.cert_hashes().all(),
            self.token(participant, room, may_publish),
        )
        .with_origin(ORIGIN)
    }

    pub async fn bot(&self, participant: u64, room: u32, may_publish: bool) -> Bot {
        Bot::connect(self.bot_config(participant, room, may_publish))
            .await
            .expect("bot joins")
    }

    /// A bot publishing the fixture video and speech-like audio.
    pub async fn publisher(&self, participant: u64, room: u32) -> Publishing {
        let mut bot = self.bot(participant, room, true).await;
        let clip = VideoClip::fixture();
        let video = bot
            .publish(CAM, clip.track_config())
            .await
            .expect("video published");
        let audio = bot
            .publish(MIC, AudioClip::track_config())
            .await
            .expect("audio published");
        let video = bot.start_video(CAM, video, clip);
        let audio = bot.start_audio(MIC, audio, AudioClip::speech_like(2).expect("opus"));
        Publishing { bot, video, audio }
    }
}

pub struct Publishing {
    pub bot: Bot,
    pub video: Publisher,
    pub audio: Publisher,
}

impl Publishing {
    pub fn video_track(&self) -> u32 {
        self.video.track.0
    }

    pub fn audio_track(&self) -> u32 {
        self.audio.track.0
    }
}

/// A bare WebTransport connection (no `Hello`), for raw protocol tests.
pub async fn raw_connect(
    url: &str,
    hashes: Vec<podium_media::CertHash>,
    origin: Option<&str>,
) -> Result<
    (
        Endpoint<wtransport::endpoint::endpoint_side::Client>,
        Connection,
    ),
    String,
> {
    let config = ClientConfig::builder()
        .with_bind_address(SocketAddr::from(([127, 0, 0, 1], 0)))
        .with_server_certificate_hashes(hashes.iter().map(|h| Sha256Digest::new(h.0)))
        .build();
    let endpoint = Endpoint::client(config).map_err(|e| e.to_string())?;
    let mut options = ConnectOptions::builder(url);
    if let Some(o) = origin {
        options = options.add_header("origin", o);
    }
    let conn = endpoint
        .connect(options.build())
        .await
        .map_err(|e| e.to_string())?;
    Ok((endpoint, conn))
}

/// The close code and reason a connection ended with.
pub async fn close_of(conn: &Connection, what: &str) -> (u64, String) {
    let closed = tokio::time::timeout(T, conn.closed()).await;
    match closed.unwrap_or_else(|_| panic!("{what}: not closed in time")) {
        wtransport::error::ConnectionError::ApplicationClosed(c) => (
            c.code().into_inner(),
            String::from_utf8_lossy(c.reason()).into_owned(),
        ),
        other => panic!("closed without an application close: {other}"),
    }
}

/// Polls a condition that has no event of its own (server-side counters,
/// thumbnails), every 20 ms up to `T`.
pub async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + T;
    while !f().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn clip() -> Arc<VideoClip> {
    VideoClip::fixture()
}
