//! Uploaded videos of a session: who may upload (the speakers, and anyone
//! on the main stage: `domain::live` decides), streaming the upload to a
//! temporary file in `<data_dir>/videos` with the size limit and the
//! container check as the bytes arrive, and recording it in the store only
//! once the file is complete and named; who may fetch one (the session's
//! participants) and the open file for range requests. `http::video` moves
//! the bytes; nothing here holds a whole file in memory.

use std::path::PathBuf;

use serde::Serialize;
use tokio::io::AsyncWriteExt;

use super::AppState;
use super::live::LiveCtx;
use crate::domain::live::{
    LiveError, SNIFF_BYTES, VIDEOS_PER_SESSION, VideoKind, sniff_video, video_name,
};
use crate::store::{StoreError, StoredVideo};

fn rule(e: LiveError) -> StoreError {
    StoreError::Rule(e.into())
}

fn io_failure(e: std::io::Error) -> StoreError {
    StoreError::Unavailable {
        reason: format!("writing the video failed: {e}"),
    }
}

/// Where uploaded videos are kept.
pub fn videos_dir(state: &AppState) -> PathBuf {
    state.config.server.data_dir.join("videos")
}

/// An uploaded video as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct VideoInfo {
    pub id: u64,
    pub name: String,
    pub kind: VideoKind,
    pub bytes: u64,
    pub owner: u64,
    pub created_at: jiff::Timestamp,
    /// Where it is served (with range requests).
    pub src: String,
}

impl VideoInfo {
    fn of(v: &StoredVideo) -> Self {
        VideoInfo {
            id: v.id,
            name: v.name.clone(),
            kind: v.kind,
            bytes: v.bytes,
            owner: v.owner,
            created_at: v.created_at,
            src: format!("/api/sessions/{}/videos/{}", v.session_id, v.id),
        }
    }
}

/// Speakers of the session, and anyone on its main stage now.
fn may_present(state: &AppState, c: &LiveCtx) -> bool {
    super::live::may_present(state, c)
}

/// The session's participants: registered, hosts and admins, and whoever
/// is in its running room (walk-ins).
fn is_participant(state: &AppState, c: &LiveCtx) -> bool {
    c.viewer.is_host
        || c.viewer.registered.is_some()
        || state.live.running(c.session.id).is_some_and(|live| {
            live.with_room(|r| r.people.contains_key(&c.user.id) && !r.is_removed(c.user.id))
        })
}

/// An upload under way: a temporary file that disappears unless
/// [`Upload::finish`] names it.
pub struct Upload {
    file: tokio::fs::File,
    tmp: tempfile::TempPath,
    written: u64,
    limit: u64,
    head: Vec<u8>,
    kind: Option<VideoKind>,
    name: String,
    session_id: u64,
    owner: u64,
}

/// Starts an upload: checks the person's powers and the declared size
/// (`declared`, from Content-Length) before any byte is stored.
pub async fn begin_upload(
    state: &AppState,
    c: &LiveCtx,
    name: &str,
    declared: Option<u64>,
) -> Result<Upload, StoreError> {
    if c.session.live_ended_at.is_some() {
        return Err(rule(LiveError::Ended));
    }
    if !may_present(state, c) {
        return Err(rule(LiveError::MayNotPresent));
    }
    let limit = state.config.live.video_max_bytes;
    if declared.is_some_and(|n| n > limit) {
        return Err(rule(too_large(limit)));
    }
    // Checked again when the file is recorded (uploads may run side by side).
    let session = c.session.id;
    if state.blocking(move |s| s.video_count(session)).await? >= VIDEOS_PER_SESSION {
        return Err(rule(LiveError::TooManyVideos {
            max: VIDEOS_PER_SESSION,
        }));
    }
    let dir = videos_dir(state);
    let (file, tmp) = tokio::task::spawn_blocking(move || {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(&dir)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        tempfile::Builder::new()
            .prefix(".upload-")
            .tempfile_in(&dir)
            .map(tempfile::NamedTempFile::into_parts)
    })
    .await
    .expect("blocking task")
    .map_err(io_failure)?;
    Ok(Upload {
        file: tokio::fs::File::from_std(file),
        tmp,
        written: 0,
        limit,
        head: Vec::with_capacity(SNIFF_BYTES),
        kind: None,
        name: video_name(name),
        session_id: c.session.id,
        owner: c.user.id,
    })
}

fn too_large(limit: u64) -> LiveError {
    LiveError::VideoTooLarge {
        max_mb: limit / (1024 * 1024),
    }
}

impl Upload {
    /// Appends the next bytes; refuses as soon as the file is too large or
    /// its first bytes are not an MP4 or WebM header.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        self.written += chunk.len() as u64;
        if self.written > self.limit {
            return Err(rule(too_large(self.limit)));
        }
        if self.kind.is_none() {
            let take = (SNIFF_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
            if self.head.len() == SNIFF_BYTES {
                self.kind =
                    Some(sniff_video(&self.head).ok_or_else(|| rule(LiveError::UnsupportedVideo))?);
            }
        }
        self.file.write_all(chunk).await.map_err(io_failure)
    }

    /// The whole file arrived: it is synced, named `<id>.<ext>` and only
    /// then recorded in the store (a failed record removes the file).
    pub async fn finish(mut self, state: &AppState) -> Result<VideoInfo, StoreError> {
        let kind = match self.kind {
            Some(k) => k,
            None => sniff_video(&self.head).ok_or_else(|| rule(LiveError::UnsupportedVideo))?,
        };
        self.file.flush().await.map_err(io_failure)?;
        self.file.sync_all().await.map_err(io_failure)?;
        drop(self.file);
        let id = state.blocking(|s| s.next_video_id()).await?;
        let path = videos_dir(state).join(format!("{id}.{}", kind.extension()));
        let video = StoredVideo {
            id,
            session_id: self.session_id,
            owner: self.owner,
            name: self.name,
            kind,
            bytes: self.written,
            created_at: state.clock.now(),
        };
        let tmp = self.tmp;
        let target = path.clone();
        tokio::task::spawn_blocking(move || tmp.persist(&target).map_err(|e| e.error))
            .await
            .expect("blocking task")
            .map_err(io_failure)?;
        let row = video.clone();
        if let Err(e) = state.blocking(move |s| s.put_video(&row)).await {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(e);
        }
        tracing::info!(
            session = video.session_id,
            video = id,
            bytes = video.bytes,
            "video uploaded"
        );
        Ok(VideoInfo::of(&video))
    }
}

/// The session's uploaded videos, with the upload limit (the form's).
#[derive(Debug, Clone, Serialize)]
pub struct VideoList {
    pub videos: Vec<VideoInfo>,
    pub max_bytes: u64,
}

/// The session's uploaded videos (for its participants).
pub async fn list(state: &AppState, c: &LiveCtx) -> Result<VideoList, StoreError> {
    if !is_participant(state, c) {
        return Err(rule(LiveError::NotParticipant));
    }
    let id = c.session.id;
    let videos = state.blocking(move |s| s.videos(id)).await?;
    Ok(VideoList {
        videos: videos.iter().map(VideoInfo::of).collect(),
        max_bytes: state.config.live.video_max_bytes,
    })
}

/// Checks that an uploaded video belongs to the session (before it is shown).
pub async fn check_exists(state: &AppState, session: u64, video: u64) -> Result<(), StoreError> {
    match state.blocking(move |s| s.video(session, video)).await {
        Ok(_) => Ok(()),
        Err(StoreError::NotFound) => Err(rule(LiveError::UnknownVideo)),
        Err(e) => Err(e),
    }
}

/// An uploaded video opened for reading, for a participant of its session.
pub async fn open(
    state: &AppState,
    c: &LiveCtx,
    video: u64,
) -> Result<(std::fs::File, StoredVideo), StoreError> {
    if !is_participant(state, c) {
        return Err(rule(LiveError::NotParticipant));
    }
    let session = c.session.id;
    let v = match state.blocking(move |s| s.video(session, video)).await {
        Err(StoreError::NotFound) => return Err(rule(LiveError::UnknownVideo)),
        other => other?,
    };
    let path = videos_dir(state).join(format!("{}.{}", v.id, v.kind.extension()));
    let file = tokio::task::spawn_blocking(move || std::fs::File::open(path))
        .await
        .expect("blocking task")
        .map_err(|e| StoreError::Unavailable {
            reason: format!("reading the video failed: {e}"),
        })?;
    Ok((file, v))
}
