//! Codec taps: the session's router task hands a sample of audio frames and an
//! occasional video keyframe to two worker threads (`sfu-codec-audio`,
//! `sfu-codec-video`) through small bounded queues; when a queue is full the
//! sample is skipped, so codecs never slow forwarding. Audio levels go back to
//! the router task as inputs; thumbnails land in a [`ThumbnailStore`].

use std::collections::HashMap;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use podium_media_core::{ParticipantId, TrackId};
use tokio::sync::mpsc;

use super::session::Input;
use crate::codec::level::LevelMeter;
use crate::codec::thumbnail::{THUMBNAIL_HEIGHT, THUMBNAIL_WIDTH, keyframe_thumbnail};
use crate::token::SessionId;

const QUEUE: usize = 64;
/// Level meters kept at once; beyond this the oldest are forgotten.
const MAX_METERS: usize = 512;

pub(crate) struct AudioJob {
    pub session: SessionId,
    pub track: TrackId,
    pub payload: Bytes,
    pub reply: mpsc::Sender<Input>,
}

pub(crate) struct ThumbJob {
    pub session: SessionId,
    pub track: TrackId,
    pub participant: ParticipantId,
    pub payload: Bytes,
}

/// A stored thumbnail.
#[derive(Debug, Clone)]
pub(crate) struct StoredThumbnail {
    pub participant: ParticipantId,
    pub jpeg: Vec<u8>,
    pub at: Instant,
}

/// The latest thumbnail of each video track.
#[derive(Debug, Default)]
pub(crate) struct ThumbnailStore {
    map: Mutex<HashMap<(SessionId, TrackId), StoredThumbnail>>,
}

impl ThumbnailStore {
    pub fn get(&self, session: SessionId, track: TrackId) -> Option<Vec<u8>> {
        let map = self.map.lock().expect("thumbnail lock");
        map.get(&(session, track)).map(|t| t.jpeg.clone())
    }

    pub fn of_participant(
        &self,
        session: SessionId,
        participant: ParticipantId,
    ) -> Option<Vec<u8>> {
        let map = self.map.lock().expect("thumbnail lock");
        map.iter()
            .filter(|((s, _), t)| *s == session && t.participant == participant)
            .max_by_key(|(_, t)| t.at)
            .map(|(_, t)| t.jpeg.clone())
    }

    pub fn forget_track(&self, session: SessionId, track: TrackId) {
        self.map
            .lock()
            .expect("thumbnail lock")
            .remove(&(session, track));
    }

    pub fn forget_session(&self, session: SessionId) {
        self.map
            .lock()
            .expect("thumbnail lock")
            .retain(|(s, _), _| *s != session);
    }

    fn put(&self, session: SessionId, track: TrackId, thumb: StoredThumbnail) {
        self.map
            .lock()
            .expect("thumbnail lock")
            .insert((session, track), thumb);
    }
}

/// The senders to the two codec workers.
pub(crate) struct Taps {
    audio: SyncSender<AudioJob>,
    video: SyncSender<ThumbJob>,
}

impl Taps {
    /// Starts the worker threads; they stop when the `Taps` is dropped.
    pub fn spawn(store: Arc<ThumbnailStore>) -> std::io::Result<Taps> {
        let (audio, audio_rx) = sync_channel::<AudioJob>(QUEUE);
        let (video, video_rx) = sync_channel::<ThumbJob>(QUEUE);
        std::thread::Builder::new()
            .name("sfu-codec-audio".into())
            .spawn(move || {
                let mut meters: HashMap<(SessionId, TrackId), LevelMeter> = HashMap::new();
                while let Ok(job) = audio_rx.recv() {
                    if meters.len() >= MAX_METERS && !meters.contains_key(&(job.session, job.track))
                    {
                        meters.clear();
                    }
                    let meter = match meters.entry((job.session, job.track)) {
                        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                        std::collections::hash_map::Entry::Vacant(e) => match LevelMeter::new() {
                            Ok(m) => e.insert(m),
                            Err(_) => continue,
                        },
                    };
                    match meter.level(&job.payload) {
                        Ok(level) => {
                            let _ = job.reply.try_send(Input::AudioLevel {
                                track: job.track,
                                level,
                            });
                        }
                        Err(e) => tracing::debug!(track = job.track.0, "audio level: {e}"),
                    }
                }
            })?;
        std::thread::Builder::new()
            .name("sfu-codec-video".into())
            .spawn(move || {
                while let Ok(job) = video_rx.recv() {
                    match keyframe_thumbnail(&job.payload, THUMBNAIL_WIDTH, THUMBNAIL_HEIGHT) {
                        Ok(t) => store.put(
                            job.session,
                            job.track,
                            StoredThumbnail {
                                participant: job.participant,
                                jpeg: t.jpeg,
                                at: Instant::now(),
                            },
                        ),
                        Err(e) => tracing::debug!(track = job.track.0, "thumbnail: {e}"),
                    }
                }
            })?;
        Ok(Taps { audio, video })
    }

    /// Offers an audio frame for level metering; `false` if the worker is busy.
    pub fn audio(&self, job: AudioJob) -> bool {
        !matches!(self.audio.try_send(job), Err(TrySendError::Full(_)))
    }

    /// Offers a keyframe for a thumbnail; `false` if the worker is busy.
    pub fn video(&self, job: ThumbJob) -> bool {
        !matches!(self.video.try_send(job), Err(TrySendError::Full(_)))
    }
}
