//! Uploaded videos of a session (`videos`): what the file is, whose, how
//! large. The bytes live in the data directory (`videos/`, written by
//! `service::video`); a row exists only for a file that was complete.

use jiff::Timestamp;
use redb::{ReadableDatabase, ReadableTable};
use serde::{Deserialize, Serialize};

use super::codec::{decode, encode};
use super::{Result, Store, StoreError, VIDEOS, next_id};
use crate::domain::live::{LiveError, VIDEOS_PER_SESSION, VideoKind};

/// One uploaded video.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredVideo {
    pub id: u64,
    pub session_id: u64,
    pub owner: u64,
    /// The file name it was uploaded with (shown in lists only).
    pub name: String,
    pub kind: VideoKind,
    pub bytes: u64,
    pub created_at: Timestamp,
}

impl Store {
    /// A fresh video id (the file is named after it before its row exists).
    pub fn next_video_id(&self) -> Result<u64> {
        let tx = self.begin_write()?;
        let id = next_id(&tx, "next_video_id")?;
        self.commit(tx)?;
        Ok(id)
    }

    /// Records a complete video file (one transaction), unless the session
    /// already keeps [`VIDEOS_PER_SESSION`] videos.
    pub fn put_video(&self, video: &StoredVideo) -> Result<()> {
        let tx = self.begin_write()?;
        {
            let mut t = tx.open_table(VIDEOS)?;
            let range = (video.session_id, 0)..=(video.session_id, u64::MAX);
            if t.range(range)?.count() >= VIDEOS_PER_SESSION {
                return Err(StoreError::Rule(
                    LiveError::TooManyVideos {
                        max: VIDEOS_PER_SESSION,
                    }
                    .into(),
                ));
            }
            t.insert((video.session_id, video.id), encode(video).as_slice())?;
        }
        self.commit(tx)?;
        Ok(())
    }

    /// How many videos a session keeps.
    pub fn video_count(&self, session: u64) -> Result<usize> {
        let tx = self.db()?.begin_read()?;
        Ok(tx
            .open_table(VIDEOS)?
            .range((session, 0)..=(session, u64::MAX))?
            .count())
    }

    /// One video of a session.
    pub fn video(&self, session: u64, id: u64) -> Result<StoredVideo> {
        let tx = self.db()?.begin_read()?;
        let t = tx.open_table(VIDEOS)?;
        let v = t.get((session, id))?.ok_or(StoreError::NotFound)?;
        decode("videos", v.value())
    }

    /// The videos of a session, oldest first.
    pub fn videos(&self, session: u64) -> Result<Vec<StoredVideo>> {
        let tx = self.db()?.begin_read()?;
        let mut out = Vec::new();
        for row in tx
            .open_table(VIDEOS)?
            .range((session, 0)..=(session, u64::MAX))?
        {
            let (_, v) = row.map_err(StoreError::from)?;
            out.push(decode("videos", v.value())?);
        }
        Ok(out)
    }
}
