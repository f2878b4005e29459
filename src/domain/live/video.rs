//! Video on stage, pure: which links are YouTube videos (and where they
//! start), which uploaded files are MP4 or WebM (by their container header),
//! and the room state of the video on the main stage: what plays, who
//! presents it, and where it is (`position_ms` at the server time `at`,
//! playing or paused), so every page computes the same position from the
//! server clock.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{LiveError, LiveEvent, LiveRoom, MAIN_ROOM, Person};

/// The largest uploaded video the configuration may allow (500 MB).
pub const VIDEO_MAX_BYTES: u64 = 500 * 1024 * 1024;
/// Positions and start times beyond this are refused (24 hours).
pub const VIDEO_POSITION_MAX_MS: u64 = 24 * 3600 * 1000;
/// A pasted link longer than this is not a YouTube link.
const LINK_MAX: usize = 2048;
/// The most bytes [`sniff_video`] looks at.
pub const SNIFF_BYTES: usize = 64;

/// A YouTube video: its 11-character id and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YoutubeLink {
    pub id: String,
    pub start_secs: u64,
}

/// Reads a pasted YouTube link: `youtube.com/watch?v=ID`, `youtu.be/ID`,
/// `youtube.com/shorts/ID`, `youtube.com/embed/ID`, `youtube.com/live/ID`
/// (also on `www.`, `m.` and `youtube-nocookie.com`), with or without a
/// scheme, and a start time `t=` (`90`, `90s`, `1m30s`, `1h2m3s`) or
/// `start=` in the query or the fragment. Anything else is refused.
pub fn parse_youtube(link: &str) -> Result<YoutubeLink, LiveError> {
    let bad = || LiveError::NotYoutube;
    let link = link.trim();
    if link.is_empty() || link.len() > LINK_MAX || link.chars().any(char::is_whitespace) {
        return Err(bad());
    }
    let lower = link.to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &link[8..]
    } else if lower.starts_with("http://") {
        &link[7..]
    } else if lower.contains("://") {
        return Err(bad());
    } else {
        link
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (host, tail) = rest.split_at(end);
    // No user info, no port: `youtube.com@evil.example`, `youtube.com:8080`.
    if host.contains(['@', ':', '\\']) {
        return Err(bad());
    }
    let host = host.to_ascii_lowercase();
    let (path, query, fragment) = split_tail(tail);
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let id = match host.as_str() {
        "youtu.be" | "www.youtu.be" => match segs.as_slice() {
            [id] => *id,
            _ => return Err(bad()),
        },
        "youtube.com"
        | "www.youtube.com"
        | "m.youtube.com"
        | "youtube-nocookie.com"
        | "www.youtube-nocookie.com" => match segs.as_slice() {
            ["watch"] => param(query, "v").ok_or_else(bad)?,
            ["shorts" | "embed" | "live" | "v", id] => *id,
            _ => return Err(bad()),
        },
        _ => return Err(bad()),
    };
    if id.len() != 11
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(bad());
    }
    let time = param(query, "t")
        .or_else(|| param(query, "start"))
        .or_else(|| param(fragment, "t"))
        .or_else(|| param(fragment, "start"));
    let start_secs = match time {
        None => 0,
        Some(t) => parse_time(t).ok_or(LiveError::VideoStart)?,
    };
    if start_secs.saturating_mul(1000) > VIDEO_POSITION_MAX_MS {
        return Err(LiveError::VideoStart);
    }
    Ok(YoutubeLink {
        id: id.to_owned(),
        start_secs,
    })
}

/// Path, query and fragment of what follows the host.
fn split_tail(tail: &str) -> (&str, &str, &str) {
    let (before, fragment) = tail.split_once('#').unwrap_or((tail, ""));
    let (path, query) = before.split_once('?').unwrap_or((before, ""));
    (path, query, fragment)
}

/// The first value of `key` in `a=1&b=2`.
fn param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// `90`, `90s`, `1m30s`, `1h2m3s` → seconds.
fn parse_time(t: &str) -> Option<u64> {
    if t.is_empty() {
        return None;
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse().ok();
    }
    let mut total: u64 = 0;
    let mut num = String::new();
    let mut last_unit = 0u8; // h=3, m=2, s=1: units in order, each once
    for c in t.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let (rank, mult) = match c {
            'h' => (3, 3600),
            'm' => (2, 60),
            's' => (1, 1),
            _ => return None,
        };
        if num.is_empty() || (last_unit != 0 && rank >= last_unit) {
            return None;
        }
        last_unit = rank;
        let n: u64 = num.parse().ok()?;
        total = total.checked_add(n.checked_mul(mult)?)?;
        num.clear();
    }
    num.is_empty().then_some(total)
}

/// Uploaded videos a session keeps at most (a speaker cannot fill the disk
/// with many).
pub const VIDEOS_PER_SESSION: usize = 20;

/// The longest file name kept for an uploaded video.
pub const VIDEO_NAME_MAX: usize = 120;

/// The name an uploaded video is listed under: the given file name without
/// its folders and control characters, at most [`VIDEO_NAME_MAX`]
/// characters, or "Video" when nothing is left.
pub fn video_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control())
        .take(VIDEO_NAME_MAX)
        .collect();
    let clean = clean.trim();
    if clean.is_empty() {
        "Video".to_owned()
    } else {
        clean.to_owned()
    }
}

/// The containers an uploaded video may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VideoKind {
    Mp4,
    Webm,
}

impl VideoKind {
    pub fn mime(self) -> &'static str {
        match self {
            VideoKind::Mp4 => "video/mp4",
            VideoKind::Webm => "video/webm",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            VideoKind::Mp4 => "mp4",
            VideoKind::Webm => "webm",
        }
    }
}

/// The container of a file from its first bytes (up to [`SNIFF_BYTES`]):
/// MP4 starts with an `ftyp` box naming a video brand; WebM with an EBML
/// header whose DocType is `webm`. The file name and the declared type
/// play no part.
pub fn sniff_video(head: &[u8]) -> Option<VideoKind> {
    // ISO base media: [size:4]["ftyp"][major brand:4]...
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let brand = &head[8..12];
        // Still images (HEIF/AVIF) and audio-only (M4A) share the box.
        let not_video: [&[u8; 4]; 6] = [b"heic", b"heix", b"mif1", b"msf1", b"avif", b"M4A "];
        if size >= 16 && !not_video.iter().any(|b| b.as_slice() == brand) {
            return Some(VideoKind::Mp4);
        }
        return None;
    }
    // EBML: 1A 45 DF A3, then the header's elements; DocType (0x4282) = "webm".
    if head.len() >= 4 && head[..4] == [0x1A, 0x45, 0xDF, 0xA3] {
        let n = head.len().min(SNIFF_BYTES);
        let body = &head[4..n];
        let found = body
            .windows(2)
            .position(|w| w == [0x42, 0x82])
            .and_then(|i| {
                let len_byte = *body.get(i + 2)?;
                // A one-byte size (0x80 | len) is what every muxer writes here.
                if len_byte & 0x80 == 0 {
                    return None;
                }
                let len = usize::from(len_byte & 0x7F);
                body.get(i + 3..i + 3 + len)
            });
        return (found == Some(b"webm".as_slice())).then_some(VideoKind::Webm);
    }
    None
}

/// What plays on the main stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VideoSource {
    Youtube {
        youtube_id: String,
    },
    /// A video uploaded to the session (checked by the caller to exist).
    Upload {
        upload_id: u64,
    },
}

/// The video on stage: position `position_ms` at server time `at`, and
/// whether it plays from there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageVideo {
    pub source: VideoSource,
    /// Who presents it (plays, pauses and seeks), and their name (kept
    /// when they leave the room).
    pub by: u64,
    pub by_name: String,
    pub playing: bool,
    pub position_ms: u64,
    pub at: Timestamp,
}

impl StageVideo {
    /// Where the video is at `now`.
    pub fn position_at(&self, now: Timestamp) -> u64 {
        if !self.playing {
            return self.position_ms;
        }
        let gone = now.duration_since(self.at).as_millis().max(0);
        self.position_ms
            .saturating_add(u64::try_from(gone).unwrap_or(u64::MAX))
    }
}

/// What the presenter does to the video on stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoAction {
    /// Plays from the given position (or from where it is).
    Play(Option<u64>),
    /// Pauses at the given position (or where it is).
    Pause(Option<u64>),
    /// Jumps to a position, playing or paused as it was.
    Seek(u64),
}

impl Person {
    /// Who may present on the main stage (a PDF presentation, a video):
    /// hosts, presenters and the interviewer, and anyone on the main stage,
    /// while in the main room. The one rule for both.
    pub fn may_present(&self) -> bool {
        self.room == MAIN_ROOM && (self.is_speaker() || self.on_stage)
    }
}

fn check_position(ms: u64) -> Result<u64, LiveError> {
    if ms > VIDEO_POSITION_MAX_MS {
        return Err(LiveError::VideoPosition);
    }
    Ok(ms)
}

impl LiveRoom {
    fn presenter(&self, user_id: u64) -> Result<&Person, LiveError> {
        let p = self.person(user_id)?;
        if !p.may_present() {
            return Err(LiveError::MayNotPresent);
        }
        Ok(p)
    }

    /// Puts a video on the main stage, paused at `start_ms`; it replaces
    /// the one shown before (another speaker takes over).
    pub fn show_video(
        &mut self,
        user_id: u64,
        source: VideoSource,
        start_ms: u64,
        now: Timestamp,
    ) -> Result<Vec<LiveEvent>, LiveError> {
        self.open()?;
        let by_name = self.presenter(user_id)?.name.clone();
        let position_ms = check_position(start_ms)?;
        self.video = Some(StageVideo {
            source,
            by: user_id,
            by_name,
            playing: false,
            position_ms,
            at: now,
        });
        Ok(vec![LiveEvent::Changed])
    }

    /// The video's presenter (or a host) may control it and take it off stage.
    fn video_controller(&mut self, user_id: u64) -> Result<&mut StageVideo, LiveError> {
        let p = self.presenter(user_id)?;
        let is_host = p.is_host;
        let video = self.video.as_mut().ok_or(LiveError::NoVideo)?;
        if video.by != user_id && !is_host {
            return Err(LiveError::VideoNotYours);
        }
        Ok(video)
    }

    /// Play, pause or seek: the new position at `now`.
    pub fn control_video(
        &mut self,
        user_id: u64,
        action: VideoAction,
        now: Timestamp,
    ) -> Result<Vec<LiveEvent>, LiveError> {
        self.open()?;
        let video = self.video_controller(user_id)?;
        let (playing, position) = match action {
            VideoAction::Play(p) => (true, p),
            VideoAction::Pause(p) => (false, p),
            VideoAction::Seek(p) => (video.playing, Some(p)),
        };
        let position_ms = match position {
            Some(p) => check_position(p)?,
            None => video.position_at(now).min(VIDEO_POSITION_MAX_MS),
        };
        video.playing = playing;
        video.position_ms = position_ms;
        video.at = now;
        Ok(vec![LiveEvent::Changed])
    }

    /// Takes the video off stage.
    pub fn stop_video(&mut self, user_id: u64) -> Result<Vec<LiveEvent>, LiveError> {
        self.open()?;
        self.video_controller(user_id)?;
        self.video = None;
        Ok(vec![LiveEvent::Changed])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yt(link: &str) -> Result<(String, u64), LiveError> {
        parse_youtube(link).map(|l| (l.id, l.start_secs))
    }

    const ID: &str = "dQw4w9WgXcQ";

    #[test]
    fn youtube_links_of_every_shape() {
        let ok = [
            ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", 0),
            ("https://youtube.com/watch?v=dQw4w9WgXcQ", 0),
            ("http://www.youtube.com/watch?v=dQw4w9WgXcQ", 0),
            ("www.youtube.com/watch?v=dQw4w9WgXcQ", 0),
            ("youtube.com/watch?v=dQw4w9WgXcQ", 0),
            ("HTTPS://WWW.YOUTUBE.COM/watch?v=dQw4w9WgXcQ", 0),
            ("https://m.youtube.com/watch?v=dQw4w9WgXcQ&feature=share", 0),
            (
                "https://www.youtube.com/watch?feature=share&v=dQw4w9WgXcQ&t=42",
                42,
            ),
            ("https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42s", 42),
            ("https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=1m30s", 90),
            ("https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=1h2m3s", 3723),
            ("https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=2h", 7200),
            ("https://www.youtube.com/watch?v=dQw4w9WgXcQ#t=15", 15),
            (
                "https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=PL1234&index=2",
                0,
            ),
            ("https://youtu.be/dQw4w9WgXcQ", 0),
            ("https://youtu.be/dQw4w9WgXcQ?t=73", 73),
            ("https://youtu.be/dQw4w9WgXcQ?si=abcDEF123&t=5", 5),
            ("youtu.be/dQw4w9WgXcQ/", 0),
            ("https://www.youtube.com/shorts/dQw4w9WgXcQ", 0),
            ("https://youtube.com/shorts/dQw4w9WgXcQ?feature=share", 0),
            ("https://www.youtube.com/embed/dQw4w9WgXcQ", 0),
            ("https://www.youtube.com/embed/dQw4w9WgXcQ?start=30", 30),
            (
                "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ?start=8",
                8,
            ),
            ("https://www.youtube.com/live/dQw4w9WgXcQ?t=10", 10),
            ("  https://youtu.be/dQw4w9WgXcQ  ", 0),
            ("https://youtu.be/a-b_c-d_e-1", 0),
        ];
        for (link, start) in ok {
            let want_id = if link.contains("a-b_c") {
                "a-b_c-d_e-1"
            } else {
                ID
            };
            assert_eq!(
                yt(link),
                Ok((want_id.to_owned(), start)),
                "{link} should be a YouTube video"
            );
        }
    }

    #[test]
    fn everything_else_is_refused() {
        let bad = [
            "",
            "   ",
            "dQw4w9WgXcQ",
            "https://vimeo.com/123456",
            "https://example.org/watch?v=dQw4w9WgXcQ",
            "https://youtube.com.evil.example/watch?v=dQw4w9WgXcQ",
            "https://evil.example/youtube.com/watch?v=dQw4w9WgXcQ",
            "https://youtube.com@evil.example/watch?v=dQw4w9WgXcQ",
            "https://www.youtube.com:8443/watch?v=dQw4w9WgXcQ",
            "https://notyoutube.com/watch?v=dQw4w9WgXcQ",
            "https://youtu.be.evil.example/dQw4w9WgXcQ",
            "javascript:alert(1)//youtube.com/watch?v=dQw4w9WgXcQ",
            "ftp://youtube.com/watch?v=dQw4w9WgXcQ",
            "https://www.youtube.com/",
            "https://www.youtube.com/watch",
            "https://www.youtube.com/watch?list=PL1234",
            "https://www.youtube.com/watch?v=short",
            "https://www.youtube.com/watch?v=dQw4w9WgXcQQ",
            "https://www.youtube.com/watch?v=dQw4w9WgX%3C",
            "https://www.youtube.com/watch?v=<script>abc",
            "https://www.youtube.com/channel/UC1234567890",
            "https://www.youtube.com/@somebody",
            "https://www.youtube.com/playlist?list=PL1234",
            "https://youtu.be/",
            "https://youtu.be/dQw4w9WgXcQ/extra",
            "https://www.youtube.com/shorts/",
            "https://www.youtube.com/watch?v=dQw4w9 WgXcQ",
        ];
        for link in bad {
            assert_eq!(yt(link), Err(LiveError::NotYoutube), "{link:?}");
        }
        let long = format!("https://youtu.be/{ID}?x={}", "a".repeat(3000));
        assert_eq!(yt(&long), Err(LiveError::NotYoutube));
    }

    #[test]
    fn bad_start_times_are_refused() {
        for t in [
            "abc",
            "1x",
            "m",
            "30s1m",
            "1m1m",
            "-5",
            "99999999999999999999",
            "100000h",
        ] {
            let link = format!("https://youtu.be/{ID}?t={t}");
            assert_eq!(yt(&link), Err(LiveError::VideoStart), "{link}");
        }
    }

    fn mp4_head(brand: &[u8; 4]) -> Vec<u8> {
        let mut v = vec![0, 0, 0, 24];
        v.extend_from_slice(b"ftyp");
        v.extend_from_slice(brand);
        v.extend_from_slice(&[0, 0, 2, 0]);
        v.extend_from_slice(b"isomiso2");
        v
    }

    fn webm_head(doctype: &[u8]) -> Vec<u8> {
        let mut v = vec![0x1A, 0x45, 0xDF, 0xA3, 0x9F];
        v.extend_from_slice(&[0x42, 0x86, 0x81, 0x01]);
        v.extend_from_slice(&[0x42, 0x82, 0x80 | doctype.len() as u8]);
        v.extend_from_slice(doctype);
        v.extend_from_slice(&[0x42, 0x87, 0x81, 0x04]);
        v
    }

    #[test]
    fn containers_are_known_by_their_header() {
        assert_eq!(sniff_video(&mp4_head(b"isom")), Some(VideoKind::Mp4));
        assert_eq!(sniff_video(&mp4_head(b"mp42")), Some(VideoKind::Mp4));
        assert_eq!(sniff_video(&webm_head(b"webm")), Some(VideoKind::Webm));
        // Matroska that is not WebM, still images and audio in the same boxes.
        assert_eq!(sniff_video(&webm_head(b"matroska")), None);
        assert_eq!(sniff_video(&mp4_head(b"heic")), None);
        assert_eq!(sniff_video(&mp4_head(b"M4A ")), None);
        // Other files, empty or cut short.
        assert_eq!(sniff_video(b"%PDF-1.7\n"), None);
        assert_eq!(sniff_video(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), None);
        assert_eq!(sniff_video(b"GIF89a"), None);
        assert_eq!(sniff_video(b""), None);
        assert_eq!(sniff_video(&mp4_head(b"isom")[..10]), None);
        assert_eq!(sniff_video(&[0x1A, 0x45, 0xDF, 0xA3]), None);
        assert_eq!(VideoKind::Webm.mime(), "video/webm");
    }

    #[test]
    fn video_names_are_plain_and_short() {
        assert_eq!(video_name("talk.mp4"), "talk.mp4");
        assert_eq!(video_name("C:\\Users\\me\\demo.webm"), "demo.webm");
        assert_eq!(video_name("../../etc/passwd"), "passwd");
        assert_eq!(video_name("a\u{0}b\nc.mp4"), "abc.mp4");
        assert_eq!(video_name("   "), "Video");
        assert_eq!(video_name(&"x".repeat(500)).chars().count(), VIDEO_NAME_MAX);
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn room_with_speakers() -> LiveRoom {
        let now = ts("2030-01-01T10:00:00Z");
        let mut r = LiveRoom::new(1, now, Default::default(), vec![], vec![]);
        use crate::domain::sessions::Role;
        r.join(1, "Host", Some(Role::Host), true, now).unwrap();
        r.join(2, "Pres", Some(Role::Presenter), false, now)
            .unwrap();
        r.join(3, "Guest", Some(Role::Guest), false, now).unwrap();
        r
    }

    #[test]
    fn the_presenter_plays_pauses_and_seeks_and_the_position_follows_the_clock() {
        let mut r = room_with_speakers();
        let t0 = ts("2030-01-01T10:01:00Z");
        let src = VideoSource::Upload { upload_id: 7 };
        assert_eq!(
            r.show_video(3, src.clone(), 0, t0),
            Err(LiveError::MayNotPresent),
            "the audience cannot show videos"
        );
        assert_eq!(
            r.control_video(2, VideoAction::Play(None), t0),
            Err(LiveError::NoVideo)
        );
        r.show_video(2, src, 5_000, t0).unwrap();
        let v = r.video.clone().unwrap();
        assert!(!v.playing);
        assert_eq!(
            v.position_at(t0 + jiff::SignedDuration::from_secs(9)),
            5_000
        );
        r.control_video(2, VideoAction::Play(None), t0).unwrap();
        let t1 = t0 + jiff::SignedDuration::from_millis(2_500);
        assert_eq!(r.video.as_ref().unwrap().position_at(t1), 7_500);
        r.control_video(2, VideoAction::Pause(Some(7_400)), t1)
            .unwrap();
        let v = r.video.clone().unwrap();
        assert!(!v.playing);
        assert_eq!(
            v.position_at(t1 + jiff::SignedDuration::from_secs(60)),
            7_400
        );
        r.control_video(2, VideoAction::Seek(60_000), t1).unwrap();
        assert!(!r.video.as_ref().unwrap().playing, "seek keeps pause");
        assert_eq!(
            r.control_video(2, VideoAction::Seek(VIDEO_POSITION_MAX_MS + 1), t1),
            Err(LiveError::VideoPosition)
        );
        // Others on stage may not steer it; a host may; a guest may not at all.
        r.people.get_mut(&3).unwrap().on_stage = true;
        assert_eq!(
            r.control_video(3, VideoAction::Play(None), t1),
            Err(LiveError::VideoNotYours)
        );
        r.control_video(1, VideoAction::Play(None), t1).unwrap();
        // Someone on stage takes over by showing their own.
        r.show_video(
            3,
            VideoSource::Youtube {
                youtube_id: ID.into(),
            },
            0,
            t1,
        )
        .unwrap();
        assert_eq!(r.video.as_ref().unwrap().by, 3);
        assert_eq!(r.stop_video(2), Err(LiveError::VideoNotYours));
        r.stop_video(3).unwrap();
        assert!(r.video.is_none());
    }
}
