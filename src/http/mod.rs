//! The HTTP server (hyper 1.x): routing, security headers, the JSON API,
//! pages and assets, graceful shutdown.

mod accounts;
mod assets;
mod auth;
mod error;
mod events;
mod live;
mod materials;
mod media;
pub mod patch;
mod response;
mod routes;
mod sessions;
mod video;

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
    // Connections are served with upgrades (the media WebSocket), which
    // hyper-util's GracefulShutdown cannot watch: each connection task gets
    // the stop signal and holds a clone of `alive` until it ends.
    let (stop, _) = tokio::sync::watch::channel(false);
    let (alive, mut all_done) = tokio::sync::mpsc::channel::<()>(1);
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
                    .serve_connection(TokioIo::new(stream), svc)
                    .with_upgrades();
                let mut stopping = stop.subscribe();
                let alive = alive.clone();
                tokio::spawn(async move {
                    tokio::pin!(conn);
                    let ended = tokio::select! {
                        r = conn.as_mut() => r,
                        _ = async { let _ = stopping.wait_for(|s| *s).await; } => {
                            conn.as_mut().graceful_shutdown();
                            conn.await
                        }
                    };
                    if let Err(e) = ended {
                        tracing::debug!(error = %e, %peer, "connection ended with an error");
                    }
                    drop(alive);
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = stop.send(true);
    drop(alive);
    let grace = state.config.server.shutdown_grace;
    tokio::select! {
        _ = all_done.recv() => tracing::info!("all connections closed"),
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
    let route_label = routes::label(
        req.uri().path(),
        |p| page(p).is_some(),
        |p| {
            let a = p.trim_start_matches('/');
            !a.is_empty() && assets::assets().contains(a)
        },
    );
    let mut resp = match route(state, peer, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    if method == Method::HEAD {
        *resp.body_mut() = Default::default();
    }
    let h = resp.headers_mut();
    // A response with its own policy (an uploaded image: `sandbox`) keeps it.
    if !h.contains_key("content-security-policy") {
        h.insert(
            "content-security-policy",
            HeaderValue::from_str(&state.csp).expect("CSP is ASCII"),
        );
    }
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
    state.metrics.observe(
        route_label,
        method.as_str(),
        resp.status(),
        started.elapsed(),
    );
    resp
}

/// `/metrics`: with `[metrics] token` set, only for `Authorization: Bearer <token>`.
async fn metrics(state: &Arc<AppState>, req: &Request<Incoming>) -> Result<Resp, ApiError> {
    if let Some(token) = &state.config.metrics.token {
        let given = req
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let ok = given.is_some_and(|g| {
            // Same time whatever the first differing byte.
            g.len() == token.len()
                && g.bytes()
                    .zip(token.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        });
        if !ok {
            let mut e = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "metrics_token",
                "/metrics needs the header Authorization: Bearer <the [metrics] token>.",
            )
            .into_response();
            e.headers_mut()
                .insert("www-authenticate", HeaderValue::from_static("Bearer"));
            return Ok(e);
        }
    }
    let counts = state
        .blocking(|s| Ok((s.user_count()?, s.outbox_len()?)))
        .await
        .ok();
    let healthy = state.store.health() == Health::Ok;
    let mut live = state.live.counts();
    live.scrape = state.metrics.begin_scrape();
    live.media_participants = state
        .sfu
        .connections_by_transport()
        .map(|(t, n)| (t.as_str(), n));
    for id in state.sfu.live_sessions() {
        // A session that ends meanwhile is left out of this scrape.
        let (Ok(stats), Ok(members)) = (state.sfu.stats(id).await, state.sfu.members(id).await)
        else {
            continue;
        };
        let r = &stats.router;
        let sending: Vec<u64> = members
            .iter()
            .map(|m| {
                u64::from(m.sending.camera)
                    + u64::from(m.sending.microphone)
                    + u64::from(m.sending.screen)
            })
            .collect();
        live.media_sessions.push(crate::metrics::MediaSession {
            id: id.0,
            generation: stats.generation,
            counters: crate::metrics::MediaCounters {
                frames_in: r.frames_in,
                bytes_in: r.bytes_in,
                frames_out: r.deliveries,
                bytes_out: r.bytes_out,
                frames_rejected: r.rejected_frames,
                drop_awaiting_keyframe: r.drops.awaiting_keyframe,
                drop_congestion: r.drops.congestion,
                drop_layer_preference: r.drops.layer_preference,
                drop_stale_group: r.drops.stale_group,
                drop_budget: r.drops.budget,
                redundant_deliveries: r.redundant_deliveries,
                saturated: [
                    r.saturated.backlog,
                    r.saturated.queue_delay,
                    r.saturated.held_back,
                    r.saturated.loss,
                    r.saturated.backed_up,
                    r.saturated.flow_control,
                ],
                group_drops: r.group_drops,
                queue_overflow: stats.io.frames_over_limit,
                keyframe_requests: r.keyframe_requests_sent,
                datagrams_failed: stats.io.datagrams_failed,
                datagrams_dropped_in: stats.io.datagrams_dropped_in,
                fanout_frames: stats.io.fanout_frames,
                fanout_nanos: stats.io.fanout_nanos,
                fanout_buckets: stats.io.fanout_buckets,
            },
            participants: stats.connected as u64,
            publishers: sending.iter().filter(|n| **n > 0).count() as u64,
            tracks: sending.iter().sum(),
            queues: stats.queued,
        });
    }
    Ok(text(
        StatusCode::OK,
        crate::metrics::CONTENT_TYPE,
        state.metrics.render(counts, live, healthy),
    ))
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
        [""] | ["signin"] | ["signup"] | ["setup"] | ["reset"] | ["verify"] => Page::Public,
        ["sessions", id] if id.parse::<u64>().is_ok() => Page::Public,
        ["sessions", id, "live"] if id.parse::<u64>().is_ok() => Page::SignedIn,
        ["profile"] | ["schedule"] | ["members"] => Page::SignedIn,
        ["members", id] if id.parse::<u64>().is_ok() => Page::SignedIn,
        ["admin"] => Page::Admin,
        ["admin", "sessions", "new"] => Page::Organiser,
        ["admin", "sessions", id] if id.parse::<u64>().is_ok() => Page::Organiser,
        ["events"] => Page::SignedIn,
        ["events", id] if id.parse::<u64>().is_ok() => Page::SignedIn,
        ["events", id, "companies", cid]
            if id.parse::<u64>().is_ok() && cid.parse::<u64>().is_ok() =>
        {
            Page::SignedIn
        }
        ["events", id, "companies", cid, "book" | "edit"]
            if id.parse::<u64>().is_ok() && cid.parse::<u64>().is_ok() =>
        {
            Page::SignedIn
        }
        // Organizers may be members the admin named: the page asks the API.
        ["admin", "events", "new"] => Page::Admin,
        ["admin", "events", id] if id.parse::<u64>().is_ok() => Page::SignedIn,
        _ => return None,
    })
}

/// The live room's page (`/sessions/{id}/live`), whose policy admits the
/// YouTube player.
fn is_live_room(path: &str) -> bool {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    matches!(segs.as_slice(), ["sessions", id, "live"] if id.parse::<u64>().is_ok())
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
        let found = routes::find(&method, &segs);
        if matches!(found, routes::Dest::Missing) {
            return Err(ApiError::not_found());
        }
        auth::check_csrf(state, &method, req.headers())?;
        let client = auth::client_ip(
            &state.config.server.trusted_proxies,
            peer.ip(),
            req.headers(),
        );
        return match found {
            routes::Dest::Route(handler, n) => {
                handler(state, routes::Call { req, n, client }).await
            }
            routes::Dest::Command(id, name, question) => {
                live::action(state, id, Some((name, question)), req).await
            }
            routes::Dest::WrongMethod(allow) => {
                let mut e = method_not_allowed(&method, &allow).into_response();
                if let Ok(v) = HeaderValue::from_str(&allow) {
                    e.headers_mut().insert(ALLOW, v);
                }
                Ok(e)
            }
            routes::Dest::Missing => Err(ApiError::not_found()),
        };
    }

    if let Some(session) = media::session_of(&path) {
        if method != Method::GET {
            return Err(method_not_allowed(&method, "GET"));
        }
        return media::upgrade(state, session, req);
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
        "/metrics" => return metrics(state, &req).await,
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
        let mut resp = assets::assets()
            .serve("index.html", status, req.headers())
            .ok_or_else(ApiError::internal)?;
        if is_live_room(&path) {
            // Video on stage: the YouTube player, on this page only.
            resp.headers_mut().insert(
                "content-security-policy",
                HeaderValue::from_str(&state.csp_live_room).expect("CSP is ASCII"),
            );
        }
        return Ok(resp);
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
