//! The HTTP server (hyper 1.x): routing, security headers, the JSON API,
//! pages and assets, graceful shutdown.

mod accounts;
mod assets;
mod auth;
mod error;
mod live;
mod response;
mod sessions;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::header::{ALLOW, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

pub use assets::Assets;
pub use error::ApiError;
use response::{Resp, json, redirect, text};

use crate::service::{self, AppState};
use crate::store::Health;

/// Accepts connections until `shutdown` resolves, then lets in-flight requests
/// finish (up to the configured grace period).
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    assets::assets();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let st = state.clone();
                let svc = service_fn(move |req| {
                    let st = st.clone();
                    async move { Ok::<_, Infallible>(handle(&st, peer, req).await) }
                });
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(15))
                    .serve_connection(TokioIo::new(stream), svc);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, %peer, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    let grace = state.config.server.shutdown_grace;
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(grace) => tracing::warn!(?grace, "grace period over; dropping connections"),
    }
    Ok(())
}

fn method_not_allowed(m: &Method, allow: &str) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{m} is not allowed here; use {allow}."),
    )
}

async fn handle(state: &Arc<AppState>, peer: SocketAddr, req: Request<Incoming>) -> Resp {
    let started = Instant::now();
    let method = req.method().clone();
    let mut resp = match route(state, peer, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    if method == Method::HEAD {
        *resp.body_mut() = Default::default();
    }
    let h = resp.headers_mut();
    h.insert(
        "content-security-policy",
        HeaderValue::from_str(&state.csp).expect("CSP is ASCII"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(self), microphone=(self), display-capture=(self)"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    state.metrics.observe(resp.status(), started.elapsed());
    resp
}

/// The JSON API's routes.
enum Api {
    Config,
    Signup,
    Signin,
    Signout,
    Me,
    Setup,
    AdminUsers,
    AdminUser(u64),
    Sessions,
    Session(u64),
    SessionAction(u64, String),
    Registrations(u64),
    MyRegistration(u64),
    WaitlistAccept(u64),
    MyWaitlist(u64),
    Schedule,
    Participants(u64),
    Participant(u64, u64),
    PresenterOrder(u64),
    Live(u64, Vec<String>),
    Members,
    Member(u64),
}

impl Api {
    fn parse(segs: &[&str]) -> Option<Api> {
        Some(match segs {
            ["config"] => Api::Config,
            ["auth", "signup"] => Api::Signup,
            ["auth", "signin"] => Api::Signin,
            ["auth", "signout"] => Api::Signout,
            ["me"] => Api::Me,
            ["setup"] => Api::Setup,
            ["admin", "users"] => Api::AdminUsers,
            ["admin", "users", id] => Api::AdminUser(id.parse().ok()?),
            ["sessions"] => Api::Sessions,
            ["sessions", id] => Api::Session(id.parse().ok()?),
            [
                "sessions",
                id,
                a @ ("publish" | "close" | "reopen" | "cancel"),
            ] => Api::SessionAction(id.parse().ok()?, (*a).to_owned()),
            ["sessions", id, "registrations"] => Api::Registrations(id.parse().ok()?),
            ["sessions", id, "registrations", "me"] => Api::MyRegistration(id.parse().ok()?),
            ["sessions", id, "waitlist", "accept"] => Api::WaitlistAccept(id.parse().ok()?),
            ["sessions", id, "waitlist", "me"] => Api::MyWaitlist(id.parse().ok()?),
            ["sessions", id, "participants"] => Api::Participants(id.parse().ok()?),
            ["sessions", id, "participants", uid] => {
                Api::Participant(id.parse().ok()?, uid.parse().ok()?)
            }
            ["sessions", id, "presenters", "order"] => Api::PresenterOrder(id.parse().ok()?),
            ["me", "schedule"] => Api::Schedule,
            ["members"] => Api::Members,
            ["members", id] => Api::Member(id.parse().ok()?),
            ["sessions", id, "live", rest @ ..] => Api::Live(
                id.parse().ok()?,
                rest.iter().map(|s| (*s).to_owned()).collect(),
            ),
            _ => return None,
        })
    }

    fn allow(&self) -> &'static str {
        match self {
            Api::Config
            | Api::AdminUsers
            | Api::Schedule
            | Api::Participants(_)
            | Api::Members
            | Api::Member(_) => "GET",
            Api::Signup
            | Api::Signin
            | Api::Signout
            | Api::Setup
            | Api::SessionAction(..)
            | Api::Registrations(_)
            | Api::WaitlistAccept(_) => "POST",
            Api::Me | Api::Session(_) => "GET, PATCH",
            Api::AdminUser(_) => "PATCH",
            Api::Sessions => "GET, POST",
            Api::MyRegistration(_) | Api::MyWaitlist(_) => "DELETE",
            Api::Participant(..) => "PATCH, DELETE",
            Api::PresenterOrder(_) => "PUT",
            Api::Live(..) => "GET, POST, DELETE",
        }
    }
}

/// Pages of the web client; each is index.html, the client renders the page.
#[derive(PartialEq)]
enum Page {
    Public,
    SignedIn,
    Admin,
    /// The session editor: admins, and members when they may create sessions
    /// (the API checks who manages which session).
    Organiser,
}

fn page(path: &str) -> Option<Page> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    Some(match segs.as_slice() {
        [""] | ["signin"] | ["signup"] | ["setup"] => Page::Public,
        ["sessions", id] if id.parse::<u64>().is_ok() => Page::Public,
        ["sessions", id, "live"] if id.parse::<u64>().is_ok() => Page::SignedIn,
        ["profile"] | ["schedule"] | ["members"] => Page::SignedIn,
        ["members", id] if id.parse::<u64>().is_ok() => Page::SignedIn,
        ["admin"] => Page::Admin,
        ["admin", "sessions", "new"] => Page::Organiser,
        ["admin", "sessions", id] if id.parse::<u64>().is_ok() => Page::Organiser,
        _ => return None,
    })
}

async fn route(
    state: &Arc<AppState>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();

    if let Some(rest) = path.strip_prefix("/api/") {
        let segs: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
        let api = Api::parse(&segs).ok_or_else(ApiError::not_found)?;
        auth::check_csrf(state, &method, req.headers())?;
        let m = &method;
        return match (api, m) {
            (Api::Config, &Method::GET) => accounts::config(state, req).await,
            (Api::Signup, &Method::POST) => accounts::signup(state, peer.ip(), req).await,
            (Api::Signin, &Method::POST) => accounts::signin(state, peer.ip(), req).await,
            (Api::Signout, &Method::POST) => accounts::signout(state, req).await,
            (Api::Me, &Method::GET) => accounts::me(state, req).await,
            (Api::Me, &Method::PATCH) => accounts::update_me(state, req).await,
            (Api::Setup, &Method::POST) => accounts::setup(state, req).await,
            (Api::AdminUsers, &Method::GET) => accounts::admin_users(state, req).await,
            (Api::AdminUser(id), &Method::PATCH) => {
                accounts::admin_update_user(state, id, req).await
            }
            (Api::Sessions, &Method::GET) => sessions::list(state, req).await,
            (Api::Sessions, &Method::POST) => sessions::create(state, req).await,
            (Api::Session(id), &Method::GET) => sessions::get(state, id, req).await,
            (Api::Session(id), &Method::PATCH) => sessions::update(state, id, req).await,
            (Api::SessionAction(id, a), &Method::POST) => {
                sessions::transition(state, id, &a, req).await
            }
            (Api::Registrations(id), &Method::POST) => sessions::register(state, id, req).await,
            (Api::MyRegistration(id), &Method::DELETE) => {
                sessions::cancel_mine(state, id, req).await
            }
            (Api::WaitlistAccept(id), &Method::POST) => {
                sessions::accept_offer(state, id, req).await
            }
            (Api::MyWaitlist(id), &Method::DELETE) => {
                sessions::leave_waitlist(state, id, req).await
            }
            (Api::Schedule, &Method::GET) => sessions::schedule(state, req).await,
            (Api::Members, &Method::GET) => accounts::members(state, req).await,
            (Api::Member(id), &Method::GET) => accounts::member(state, id, req).await,
            (Api::Participants(id), &Method::GET) => sessions::participants(state, id, req).await,
            (Api::Participant(id, uid), &Method::PATCH) => {
                sessions::update_participant(state, id, uid, req).await
            }
            (Api::Participant(id, uid), &Method::DELETE) => {
                sessions::remove_participant(state, id, uid, req).await
            }
            (Api::PresenterOrder(id), &Method::PUT) => sessions::reorder(state, id, req).await,
            (Api::Live(id, rest), m) => {
                let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
                match (rest.as_slice(), m) {
                    ([], &Method::GET) => live::get(state, id, req).await,
                    (["events"], &Method::GET) => live::events(state, id, req).await,
                    (["thumbnail"], &Method::GET) => live::thumbnail(state, id, req).await,
                    (["start"], &Method::POST) => live::start(state, id, req).await,
                    (["join"], &Method::POST) => live::join(state, id, req).await,
                    (["leave"], &Method::POST) => live::leave(state, id, req).await,
                    (["commands"], &Method::POST) => live::action(state, id, None, req).await,
                    ([] | ["events"] | ["thumbnail"], _) => Err(method_not_allowed(m, "GET")),
                    (["start" | "join" | "leave" | "commands"], _) => {
                        Err(method_not_allowed(m, "POST"))
                    }
                    (rest, m) => match live::command_for(m, rest) {
                        Some(c) => live::action(state, id, Some(c), req).await,
                        None if live::methods_at(rest).is_empty() => Err(ApiError::not_found()),
                        None => Err(method_not_allowed(m, &live::methods_at(rest).join(", "))),
                    },
                }
            }
            (api, _) => {
                let mut e = ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    format!("{method} is not allowed here; use {}.", api.allow()),
                )
                .into_response();
                e.headers_mut()
                    .insert(ALLOW, HeaderValue::from_static(api.allow()));
                Ok(e)
            }
        };
    }

    if method != Method::GET && method != Method::HEAD {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Only GET and HEAD are allowed for pages.",
        ));
    }
    match path.as_str() {
        "/healthz" => {
            // Degraded: a due probe finds out whether storage is back.
            let health = state.blocking(|s| Ok(s.probe())).await?;
            state.blocking(|s| s.schema_version()).await?;
            return Ok(match health {
                Health::Ok => text(StatusCode::OK, "text/plain; charset=utf-8", "ok\n"),
                Health::Degraded { reason } => text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain; charset=utf-8",
                    format!("unhealthy: writes are refused ({reason}); reads work\n"),
                ),
            });
        }
        "/metrics" => {
            let counts = state
                .blocking(|s| Ok((s.user_count()?, s.outbox_len()?)))
                .await
                .ok();
            let healthy = state.store.health() == Health::Ok;
            return Ok(text(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                state.metrics.render(counts, state.live.counts(), healthy),
            ));
        }
        _ => {}
    }
    if let Some(kind) = page(&path) {
        let mut status = StatusCode::OK;
        if kind != Page::Public {
            let Some(u) = auth::current_user(state, req.headers()).await? else {
                return Ok(redirect(&format!("/signin?next={path}")));
            };
            // The page says "not allowed" with the same check as its API.
            let allowed = match kind {
                Page::Admin => service::accounts::authorize_admin(&u).is_ok(),
                Page::Organiser => service::sessions::authorize_create(state, &u).is_ok(),
                Page::Public | Page::SignedIn => true,
            };
            if !allowed {
                status = StatusCode::FORBIDDEN;
            }
        }
        return assets::assets()
            .serve("index.html", status, req.headers())
            .ok_or_else(ApiError::internal);
    }
    let asset = path.trim_start_matches('/');
    if !asset.is_empty() && assets::assets().contains(asset) {
        return assets::assets()
            .serve(asset, StatusCode::OK, req.headers())
            .ok_or_else(ApiError::internal);
    }
    // Unknown page: the client shows its "not found" view with a 404 status.
    let wants_html = req
        .headers()
        .get(hyper::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if wants_html {
        return assets::assets()
            .serve("index.html", StatusCode::NOT_FOUND, req.headers())
            .ok_or_else(ApiError::internal);
    }
    Ok(json(
        StatusCode::NOT_FOUND,
        &serde_json::json!({"error": {"code": "not_found", "message": "There is nothing at this address.", "field": null}}),
    ))
}
