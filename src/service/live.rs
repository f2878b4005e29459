//! Live room services: who asks about which session with which powers (read
//! from the current registration and admin flag at every call), the view,
//! start, join with a media token, leave, commands, thumbnails and the
//! event stream's contents. `http::live` parses and renders; the rules are
//! `domain::live`; `live::LiveSession` carries them out.

use std::sync::Arc;
use std::time::Duration;

use podium_media::{JoinClaims, ParticipantId, RoomId, SessionId};
use serde::Serialize;
use tokio::sync::{broadcast, mpsc};

use super::AppState;
use super::sessions::presenter_slots;
use crate::domain::live::{Actor, ChatMessage, LiveCommand, LiveError, LiveView, Viewer};
use crate::domain::sessions::{AgendaItem, Phase, Role, Session, run_of_show};
use crate::live::{LiveSession, Notice};
use crate::store::{StoreError, User};

/// Who is asking, about which session, with which powers now.
#[derive(Debug, Clone)]
pub struct LiveCtx {
    pub user: User,
    pub session: Session,
    pub agenda: Vec<AgendaItem>,
    pub viewer: Viewer,
    /// The host company of an event session (the Company tab).
    pub company: Option<crate::domain::events::LiveCompany>,
}

impl LiveCtx {
    fn actor(&self) -> Actor {
        Actor {
            user_id: self.user.id,
            role: self.viewer.registered,
            is_host: self.viewer.is_host,
        }
    }
}

fn rule(e: LiveError) -> StoreError {
    StoreError::Rule(e.into())
}

/// Loads the session and the person's current registration.
pub async fn context(state: &AppState, id: u64, user: User) -> Result<LiveCtx, StoreError> {
    let (session, roster) = state.blocking(move |s| s.session(id)).await?;
    if session.phase == Phase::Draft && !user.is_admin {
        return Err(StoreError::NotFound);
    }
    if !super::events::sees_session(state, Some(&user), &session).await {
        return Err(StoreError::NotFound);
    }
    let company = super::events::live_company(state, &session).await?;
    let registered = roster.active(user.id).map(|r| r.role);
    let presenters = presenter_slots(state, &roster).await?;
    let agenda = run_of_show(&session, &presenters);
    let viewer = Viewer {
        user_id: user.id,
        name: user.name.clone(),
        registered,
        is_host: user.is_admin || registered == Some(Role::Host),
    };
    Ok(LiveCtx {
        user,
        session,
        agenda,
        viewer,
        company,
    })
}

/// The running room; refuses when it ended or has not started, and refuses
/// people a host removed (they no longer read the room either).
async fn running(state: &AppState, c: &LiveCtx) -> Result<Arc<LiveSession>, StoreError> {
    if c.session.live_ended_at.is_some() {
        return Err(rule(LiveError::Ended));
    }
    let live = state
        .live
        .get(&c.session, &c.agenda)
        .await?
        .ok_or_else(|| rule(LiveError::NotStarted))?;
    if live.with_room(|r| r.is_removed(c.user.id)) {
        return Err(rule(LiveError::Removed));
    }
    Ok(live)
}

/// Whether this person may present in the session (upload, show and
/// manage a PDF presentation or a video): a speaker of the session (by
/// registration or as admin), or someone the running room lets present now
/// ([`crate::domain::live::Person::may_present`]); never someone the room removed.
pub fn may_present(state: &AppState, c: &LiveCtx) -> bool {
    let live = state.live.running(c.session.id);
    if live
        .as_ref()
        .is_some_and(|l| l.with_room(|r| r.is_removed(c.user.id)))
    {
        return false;
    }
    c.viewer.is_speaker() || live.is_some_and(|l| l.with_room(|r| r.may_present(c.user.id)))
}

fn view_of(live: &LiveSession, c: &LiveCtx) -> LiveView {
    let mut v = live.view(&c.session, c.agenda.clone(), &c.viewer);
    v.company.clone_from(&c.company);
    v
}

/// `GET /live`.
pub async fn view(state: &AppState, c: &LiveCtx) -> Result<LiveView, StoreError> {
    match state.live.get(&c.session, &c.agenda).await? {
        Some(live) if live.with_room(|r| r.is_removed(c.user.id)) => Err(rule(LiveError::Removed)),
        Some(live) => Ok(view_of(&live, c)),
        None => {
            let mut v = state
                .live
                .idle_view(&c.session, c.agenda.clone(), &c.viewer);
            v.company.clone_from(&c.company);
            Ok(v)
        }
    }
}

/// A host presses Start.
pub async fn start(state: &AppState, c: &LiveCtx) -> Result<LiveView, StoreError> {
    if !c.viewer.is_host {
        return Err(rule(LiveError::StartHostOnly));
    }
    let live = state.live.start(&c.session, &c.agenda).await?;
    Ok(view_of(&live, c))
}

/// What a browser needs to reach the media engine.
#[derive(Debug, Clone, Serialize)]
pub struct MediaJoin {
    /// The WebTransport URL.
    pub url: String,
    /// A one-minute join token: it proves who connects; the room's current
    /// grant decides where they are and whether they publish.
    pub token: String,
    /// SHA-256 hashes of the self-signed certificate (none with a configured one).
    pub cert_hashes: Option<Vec<String>>,
    /// The media WebSocket's path on this origin (PROTOCOL.md §8), used when
    /// WebTransport is missing or cannot connect; the same token works there.
    pub ws_path: String,
    pub participant_id: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Joined {
    pub live: LiveView,
    pub media: MediaJoin,
}

/// Comes into the room (or back, keeping the place) with a fresh media token.
pub async fn join(state: &AppState, c: &LiveCtx) -> Result<Joined, StoreError> {
    let live = running(state, c).await?;
    let (uid, name, registered, host) = (
        c.user.id,
        c.user.name.clone(),
        c.viewer.registered,
        c.viewer.is_host,
    );
    let now = state.clock.now();
    live.apply(&state.live, move |room, _| {
        room.join(uid, &name, registered, host, now)
    })
    .await?;
    Ok(Joined {
        live: view_of(&live, c),
        media: media_join(state, c, &live),
    })
}

fn media_join(state: &AppState, c: &LiveCtx, live: &LiveSession) -> MediaJoin {
    let (name, role, room, on_stage) = live.with_room(|r| {
        r.people
            .get(&c.user.id)
            .map_or((c.user.name.clone(), "guest", 0, false), |p| {
                (p.name.clone(), p.role.as_str(), p.room, p.on_stage)
            })
    });
    let claims = JoinClaims {
        session: SessionId(c.session.id),
        participant: ParticipantId(c.user.id),
        name,
        role: role.to_owned(),
        room: RoomId(room),
        may_publish: on_stage,
        expires_at: 0,
    }
    .expiring(std::time::SystemTime::now(), Duration::from_secs(60));
    MediaJoin {
        url: state
            .sfu
            .session_url(&state.public_host, SessionId(c.session.id)),
        token: state.sfu.token_key().sign(&claims),
        cert_hashes: state.config.live.tls.is_none().then(|| {
            state
                .sfu
                .cert_hashes()
                .all()
                .iter()
                .map(|h| h.to_base64())
                .collect()
        }),
        ws_path: podium_media::SfuHandle::session_path(SessionId(c.session.id)),
        participant_id: c.user.id,
    }
}

/// Leaves the room now.
pub async fn leave(state: &AppState, c: &LiveCtx) -> Result<(), StoreError> {
    let live = running(state, c).await?;
    let uid = c.user.id;
    live.apply(&state.live, move |room, _| Ok(room.leave(uid)))
        .await
}

/// Carries out one command with the person's current powers.
pub async fn command(
    state: &AppState,
    c: &LiveCtx,
    command: LiveCommand,
) -> Result<LiveView, StoreError> {
    let live = running(state, c).await?;
    if let LiveCommand::ShowVideo {
        upload: Some(video),
        youtube: None,
    } = &command
    {
        super::video::check_exists(state, c.session.id, *video).await?;
    }
    let actor = c.actor();
    live.apply(&state.live, move |room, now| {
        room.handle(actor, command, now)
    })
    .await?;
    Ok(view_of(&live, c))
}

/// A small JPEG of someone's camera (made by the media engine from a recent
/// keyframe), or of the first speaker on the main stage when no one is named.
/// Only people who could see that camera in the room get it.
pub async fn thumbnail(
    state: &AppState,
    c: &LiveCtx,
    named: Option<u64>,
) -> Result<Option<Vec<u8>>, StoreError> {
    let live = running(state, c).await?;
    let me = c.user.id;
    let candidates: Vec<u64> = live.with_room(|r| {
        // Breakout rooms are private to their members (and visiting hosts).
        let my_room = r.chat_room_of(me);
        let visible = |room: u32| room == crate::domain::live::MAIN_ROOM || room == my_room;
        match named {
            Some(u) => r
                .people
                .get(&u)
                .filter(|p| visible(p.room) || c.viewer.is_host)
                .map(|p| vec![p.user_id])
                .unwrap_or_default(),
            None => {
                let mut on: Vec<&crate::domain::live::Person> = r
                    .people
                    .values()
                    .filter(|p| p.on_stage && p.room == crate::domain::live::MAIN_ROOM)
                    .collect();
                on.sort_by_key(|p| (!p.is_host, p.joined_at));
                on.iter().map(|p| p.user_id).collect()
            }
        }
    });
    Ok(candidates.into_iter().find_map(|u| {
        state
            .sfu
            .participant_thumbnail(SessionId(c.session.id), ParticipantId(u))
    }))
}

/// The lobby's picture of a session's main stage: for any signed-in member
/// who may see the session; `None` while the room is not running or no
/// picture exists yet.
pub async fn preview(state: &AppState, id: u64, user: User) -> Result<Option<Vec<u8>>, StoreError> {
    let c = context(state, id, user).await?;
    if c.session.live_ended_at.is_some() || state.live.running(id).is_none() {
        return Ok(None);
    }
    thumbnail(state, &c, None).await
}

/// What an event stream sends.
#[derive(Debug, Clone)]
pub enum Outgoing {
    State(Box<LiveView>),
    Chat(ChatMessage),
    Mute,
    /// A word for this person (shown as a notice).
    Notice(&'static str),
    MediaProblem(String),
    Removed,
    Ended,
    KeepAlive,
}

/// Opens an event stream: the first state, then what concerns this person.
/// The stream is their presence in the room: when it ends they leave after
/// the grace period unless another one opens.
pub async fn events(
    state: &Arc<AppState>,
    c: LiveCtx,
) -> Result<mpsc::Receiver<Outgoing>, StoreError> {
    let live = running(state, &c).await?;
    let (tx, rx) = mpsc::channel::<Outgoing>(64);
    let mut notices = live.subscribe();
    let uid = c.user.id;
    live.connected(uid).map_err(rule)?;
    let first = view_of(&live, &c);
    // The chat history goes out once per room; after that, chat events carry it.
    let mut chat_room = first.me.chat_room;
    let first = Outgoing::State(Box::new(first));
    let mut closing = state.live.closing();
    let state = state.clone();
    tokio::spawn(async move {
        let mut c = c;
        let _ = tx.send(first).await;
        let mut keepalive = tokio::time::interval(Duration::from_secs(15));
        keepalive.tick().await;
        loop {
            // Whether this person's powers must be read again: their
            // registration or admin flag changed (or, after a lag, may have).
            let mut reread = false;
            let out = tokio::select! {
                n = notices.recv() => match n {
                    Ok(Notice::Removed(who)) if who == uid => {
                        let _ = tx.send(Outgoing::Removed).await;
                        break;
                    }
                    Ok(Notice::Powers(who)) => {
                        reread = who == uid;
                        None
                    }
                    Ok(Notice::Changed | Notice::Removed(_))
                    | Err(broadcast::error::RecvError::Lagged(_)) => {
                        reread = n.is_err();
                        let mut view = view_of(&live, &c);
                        if view.me.chat_room == chat_room {
                            view.chat = None;
                        }
                        chat_room = view.me.chat_room;
                        Some(Outgoing::State(Box::new(view)))
                    }
                    Ok(Notice::Chat(m)) => live.reads(uid, &m).then_some(Outgoing::Chat(m)),
                    Ok(Notice::Mute(who)) => (who == uid).then_some(Outgoing::Mute),
                    Ok(Notice::Tell { user_id, text }) => {
                        (user_id == uid).then_some(Outgoing::Notice(text))
                    }
                    Ok(Notice::MediaProblem { user_id, message }) => {
                        let mine = user_id.map_or(c.viewer.is_host, |u| u == uid);
                        mine.then_some(Outgoing::MediaProblem(message))
                    }
                    Ok(Notice::Ended) => {
                        let _ = tx.send(Outgoing::Ended).await;
                        break;
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = keepalive.tick() => {
                    // A change made outside this process (`podium admin
                    // users set-admin`) sends no notice: the admin flag is
                    // read again with each keep-alive.
                    let id = uid;
                    reread = match state.blocking(move |s| s.user(id)).await {
                        Ok(u) => u.is_admin != c.user.is_admin,
                        Err(_) => true,
                    };
                    Some(Outgoing::KeepAlive)
                }
                () = tx.closed() => break,
                () = crate::live::closed(&mut closing) => break,
            };
            if let Some(out) = out
                && tx.send(out).await.is_err()
            {
                break;
            }
            if reread {
                match reread_powers(&state, &live, &c).await {
                    Some(fresh) => c = fresh,
                    None => {
                        let _ = tx.send(Outgoing::Removed).await;
                        break;
                    }
                }
                if tx
                    .send(Outgoing::State(Box::new(view_of(&live, &c))))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }
        live.disconnected(uid);
    });
    Ok(rx)
}

/// Reads a person's powers in the room again from their current
/// registration and admin flag, and brings the room's record of them up to
/// date. `None` when they may no longer see the session at all (their
/// account is gone, or the session became invisible to them).
async fn reread_powers(state: &AppState, live: &Arc<LiveSession>, c: &LiveCtx) -> Option<LiveCtx> {
    let id = c.user.id;
    let user = state.blocking(move |s| s.user(id)).await.ok()?;
    let fresh = context(state, c.session.id, user).await.ok()?;
    live.set_powers(id, fresh.viewer.registered, fresh.viewer.is_host);
    Some(fresh)
}
