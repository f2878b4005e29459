//! The API's one route table: method, path under `/api/`, handler. `{n}` in
//! a path matches a number (handed to the handler in order); the live room's
//! actions are the sub-table `live::COMMANDS`, reached through
//! `sessions/{n}/live/...`. The methods a path allows (for 405 answers) come
//! from the same tables.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request};

use super::error::ApiError;
use super::response::Resp;
use super::{accounts, events, live, materials, sessions, video};
use crate::service::AppState;

/// What a handler gets: the request, the numbers in its path, the client's
/// address (from a trusted proxy's header when one forwarded it).
pub struct Call {
    pub req: Request<Incoming>,
    pub n: [u64; 3],
    pub client: IpAddr,
}

type Fut<'a> = Pin<Box<dyn Future<Output = Result<Resp, ApiError>> + Send + 'a>>;
type Handler = for<'a> fn(&'a Arc<AppState>, Call) -> Fut<'a>;

/// Every API route.
static ROUTES: &[(Method, &str, Handler)] = &[
    (Method::GET, "config", |s, c| {
        Box::pin(accounts::config(s, c.req))
    }),
    (Method::POST, "auth/signup", |s, c| {
        Box::pin(accounts::signup(s, c.client, c.req))
    }),
    (Method::POST, "auth/signin", |s, c| {
        Box::pin(accounts::signin(s, c.client, c.req))
    }),
    (Method::POST, "auth/signout", |s, c| {
        Box::pin(accounts::signout(s, c.req))
    }),
    (Method::POST, "auth/reset", |s, c| {
        Box::pin(accounts::request_reset(s, c.client, c.req))
    }),
    (Method::POST, "auth/reset/confirm", |s, c| {
        Box::pin(accounts::confirm_reset(s, c.req))
    }),
    (Method::POST, "auth/verify", |s, c| {
        Box::pin(accounts::verify(s, c.req))
    }),
    (Method::POST, "auth/invitation", |s, c| {
        Box::pin(accounts::invitation(s, c.req))
    }),
    (Method::POST, "me/verify", |s, c| {
        Box::pin(accounts::resend_verification(s, c.client, c.req))
    }),
    (Method::GET, "me", |s, c| Box::pin(accounts::me(s, c.req))),
    (Method::DELETE, "me", |s, c| {
        Box::pin(accounts::delete_me(s, c.client, c.req))
    }),
    (Method::POST, "me/password", |s, c| {
        Box::pin(accounts::change_password(s, c.client, c.req))
    }),
    (Method::GET, "me/export", |s, c| {
        Box::pin(accounts::export_me(s, c.req))
    }),
    (Method::PATCH, "me", |s, c| {
        Box::pin(accounts::update_me(s, c.req))
    }),
    (Method::GET, "me/schedule", |s, c| {
        Box::pin(sessions::schedule(s, c.req))
    }),
    (Method::POST, "setup", |s, c| {
        Box::pin(accounts::setup(s, c.req))
    }),
    (Method::POST, "admin/backup", |s, c| {
        Box::pin(accounts::admin_backup(s, c.req))
    }),
    (Method::GET, "admin/invitations", |s, c| {
        Box::pin(accounts::admin_invitations(s, c.req))
    }),
    (Method::POST, "admin/invitations", |s, c| {
        Box::pin(accounts::admin_invite(s, c.req))
    }),
    (Method::DELETE, "admin/invitations/{n}", |s, c| {
        Box::pin(accounts::admin_revoke_invitation(s, c.n[0], c.req))
    }),
    (Method::GET, "admin/users", |s, c| {
        Box::pin(accounts::admin_users(s, c.req))
    }),
    (Method::PATCH, "admin/users/{n}", |s, c| {
        Box::pin(accounts::admin_update_user(s, c.n[0], c.req))
    }),
    (Method::GET, "members", |s, c| {
        Box::pin(accounts::members(s, c.req))
    }),
    (Method::GET, "members/{n}", |s, c| {
        Box::pin(accounts::member(s, c.n[0], c.req))
    }),
    (Method::GET, "sessions", |s, c| {
        Box::pin(sessions::list(s, c.req))
    }),
    (Method::POST, "sessions", |s, c| {
        Box::pin(sessions::create(s, c.req))
    }),
    (Method::GET, "sessions/{n}", |s, c| {
        Box::pin(sessions::get(s, c.n[0], c.req))
    }),
    (Method::PATCH, "sessions/{n}", |s, c| {
        Box::pin(sessions::update(s, c.n[0], c.req))
    }),
    (Method::POST, "sessions/{n}/publish", |s, c| {
        Box::pin(sessions::transition(s, c.n[0], "publish", c.req))
    }),
    (Method::POST, "sessions/{n}/close", |s, c| {
        Box::pin(sessions::transition(s, c.n[0], "close", c.req))
    }),
    (Method::POST, "sessions/{n}/reopen", |s, c| {
        Box::pin(sessions::transition(s, c.n[0], "reopen", c.req))
    }),
    (Method::POST, "sessions/{n}/cancel", |s, c| {
        Box::pin(sessions::transition(s, c.n[0], "cancel", c.req))
    }),
    (Method::POST, "sessions/{n}/registrations", |s, c| {
        Box::pin(sessions::register(s, c.n[0], c.req))
    }),
    (Method::DELETE, "sessions/{n}/registrations/me", |s, c| {
        Box::pin(sessions::cancel_mine(s, c.n[0], c.req))
    }),
    (Method::POST, "sessions/{n}/waitlist/accept", |s, c| {
        Box::pin(sessions::accept_offer(s, c.n[0], c.req))
    }),
    (Method::DELETE, "sessions/{n}/waitlist/me", |s, c| {
        Box::pin(sessions::leave_waitlist(s, c.n[0], c.req))
    }),
    (Method::GET, "sessions/{n}/participants", |s, c| {
        Box::pin(sessions::participants(s, c.n[0], c.req))
    }),
    (Method::PATCH, "sessions/{n}/participants/{n}", |s, c| {
        Box::pin(sessions::update_participant(s, c.n[0], c.n[1], c.req))
    }),
    (Method::DELETE, "sessions/{n}/participants/{n}", |s, c| {
        Box::pin(sessions::remove_participant(s, c.n[0], c.n[1], c.req))
    }),
    (Method::PUT, "sessions/{n}/presenters/order", |s, c| {
        Box::pin(sessions::reorder(s, c.n[0], c.req))
    }),
    (Method::GET, "sessions/{n}/live/preview", |s, c| {
        Box::pin(live::preview(s, c.n[0], c.req))
    }),
    (Method::GET, "events", |s, c| {
        Box::pin(events::list(s, c.req))
    }),
    (Method::POST, "events", |s, c| {
        Box::pin(events::create(s, c.req))
    }),
    (Method::GET, "events/{n}", |s, c| {
        Box::pin(events::get(s, c.n[0], c.req))
    }),
    (Method::PATCH, "events/{n}", |s, c| {
        Box::pin(events::update(s, c.n[0], c.req))
    }),
    (Method::POST, "events/{n}/publish", |s, c| {
        Box::pin(events::publish(s, c.n[0], c.req))
    }),
    (Method::POST, "events/{n}/end", |s, c| {
        Box::pin(events::end(s, c.n[0], c.req))
    }),
    (Method::PUT, "events/{n}/organizers", |s, c| {
        Box::pin(events::organizers(s, c.n[0], c.req))
    }),
    (Method::PUT, "events/{n}/windows", |s, c| {
        Box::pin(events::windows(s, c.n[0], c.req))
    }),
    (Method::GET, "events/{n}/program", |s, c| {
        Box::pin(events::program(s, c.n[0], c.req))
    }),
    (Method::GET, "events/{n}/lobby", |s, c| {
        Box::pin(events::lobby(s, c.n[0], c.req))
    }),
    (Method::POST, "events/{n}/companies", |s, c| {
        Box::pin(events::create_company(s, c.n[0], c.req))
    }),
    (Method::GET, "companies/{n}", |s, c| {
        Box::pin(events::company(s, c.n[0], c.req))
    }),
    (Method::PATCH, "companies/{n}", |s, c| {
        Box::pin(events::update_company(s, c.n[0], c.req))
    }),
    (Method::DELETE, "companies/{n}", |s, c| {
        Box::pin(events::delete_company(s, c.n[0], c.req))
    }),
    (Method::PUT, "companies/{n}/speakers", |s, c| {
        Box::pin(events::speakers(s, c.n[0], c.req))
    }),
    (Method::PUT, "companies/{n}/faqs", |s, c| {
        Box::pin(events::faqs(s, c.n[0], c.req))
    }),
    (Method::PUT, "companies/{n}/jobs", |s, c| {
        Box::pin(events::jobs(s, c.n[0], c.req))
    }),
    (Method::GET, "companies/{n}/logo", |s, c| {
        Box::pin(events::get_logo(s, c.n[0], c.req))
    }),
    (Method::PUT, "companies/{n}/logo", |s, c| {
        Box::pin(events::put_logo(s, c.n[0], c.req))
    }),
    (Method::DELETE, "companies/{n}/logo", |s, c| {
        Box::pin(events::delete_logo(s, c.n[0], c.req))
    }),
    (Method::GET, "companies/{n}/slots", |s, c| {
        Box::pin(events::slots(s, c.n[0], c.req))
    }),
    (Method::POST, "companies/{n}/sessions", |s, c| {
        Box::pin(events::book(s, c.n[0], c.req))
    }),
    (Method::GET, "sessions/{n}/materials", |s, c| {
        Box::pin(materials::list(s, c.n[0], c.req))
    }),
    (Method::POST, "sessions/{n}/materials", |s, c| {
        Box::pin(materials::upload(s, c.n[0], c.req))
    }),
    (Method::DELETE, "sessions/{n}/materials/{n}", |s, c| {
        Box::pin(materials::delete(s, c.n[0], c.n[1], c.req))
    }),
    (
        Method::GET,
        "sessions/{n}/materials/{n}/pages/{n}",
        |s, c| Box::pin(materials::page(s, c.n[0], c.n[1], c.n[2], c.req)),
    ),
    (Method::GET, "sessions/{n}/live", |s, c| {
        Box::pin(live::get(s, c.n[0], c.req))
    }),
    (Method::GET, "sessions/{n}/live/events", |s, c| {
        Box::pin(live::events(s, c.n[0], c.req))
    }),
    (Method::GET, "sessions/{n}/live/thumbnail", |s, c| {
        Box::pin(live::thumbnail(s, c.n[0], c.req))
    }),
    (Method::POST, "sessions/{n}/live/start", |s, c| {
        Box::pin(live::start(s, c.n[0], c.req))
    }),
    (Method::POST, "sessions/{n}/live/join", |s, c| {
        Box::pin(live::join(s, c.n[0], c.req))
    }),
    (Method::POST, "sessions/{n}/live/leave", |s, c| {
        Box::pin(live::leave(s, c.n[0], c.req))
    }),
    (Method::POST, "sessions/{n}/live/commands", |s, c| {
        Box::pin(live::action(s, c.n[0], None, c.req))
    }),
    // Video on stage: uploaded files (the room state goes through live::COMMANDS).
    (Method::POST, "sessions/{n}/videos", |s, c| {
        Box::pin(video::upload(s, c.n[0], c.req))
    }),
    (Method::GET, "sessions/{n}/videos", |s, c| {
        Box::pin(video::list(s, c.n[0], c.req))
    }),
    (Method::GET, "sessions/{n}/videos/{n}", |s, c| {
        Box::pin(video::get(s, c.n[0], c.n[1], c.req))
    }),
];

/// Where a request goes.
pub enum Dest {
    Route(Handler, [u64; 3]),
    /// A live room command (`live::COMMANDS`).
    Command(u64, &'static str, Option<u64>),
    /// The path exists; these methods are allowed there.
    WrongMethod(String),
    Missing,
}

/// Matches `segs` against a pattern; the numbers it holds.
fn matches(pattern: &str, segs: &[&str]) -> Option<[u64; 3]> {
    let parts: Vec<&str> = pattern.split('/').collect();
    if parts.len() != segs.len() {
        return None;
    }
    let mut n = [0u64; 3];
    let mut i = 0;
    for (p, s) in parts.iter().zip(segs) {
        if *p == "{n}" {
            *n.get_mut(i)? = s.parse().ok()?;
            i += 1;
        } else if p != s {
            return None;
        }
    }
    Some(n)
}

/// The route label of a request for the metrics: the table's pattern (with
/// `{n}` for numbers, whatever the method), `page`, `asset`, or `other` for
/// anything else, so the label's values stay few whatever paths clients send.
pub fn label(
    path: &str,
    is_page: impl Fn(&str) -> bool,
    is_asset: impl Fn(&str) -> bool,
) -> String {
    if let Some(rest) = path.strip_prefix("/api/") {
        let segs: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
        if let Some((_, pattern, _)) = ROUTES.iter().find(|(_, p, _)| matches(p, &segs).is_some()) {
            return format!("/api/{pattern}");
        }
        if let ["sessions", id, "live", rest @ ..] = segs.as_slice()
            && id.parse::<u64>().is_ok()
            && let Some(p) = live::pattern_at(rest)
        {
            return format!("/api/sessions/{{n}}/live/{p}");
        }
        return "other".to_owned();
    }
    match path {
        "/healthz" | "/metrics" => path.to_owned(),
        _ if super::media::session_of(path).is_some() => "/live/{n}".to_owned(),
        _ if is_page(path) => "page".to_owned(),
        _ if is_asset(path) => "asset".to_owned(),
        _ => "other".to_owned(),
    }
}

/// Finds the handler for a method and path (segments under `/api/`).
pub fn find(method: &Method, segs: &[&str]) -> Dest {
    let mut allowed: Vec<&str> = Vec::new();
    for (m, pattern, handler) in ROUTES {
        if let Some(n) = matches(pattern, segs) {
            if m == method {
                return Dest::Route(*handler, n);
            }
            allowed.push(m.as_str());
        }
    }
    if let ["sessions", id, "live", rest @ ..] = segs
        && let Ok(id) = id.parse::<u64>()
        && !rest.is_empty()
    {
        if let Some((name, question)) = live::command_for(method, rest) {
            return Dest::Command(id, name, question);
        }
        allowed.extend(live::methods_at(rest));
    }
    if allowed.is_empty() {
        Dest::Missing
    } else {
        let mut unique: Vec<&str> = Vec::new();
        for m in allowed {
            if !unique.contains(&m) {
                unique.push(m);
            }
        }
        Dest::WrongMethod(unique.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_the_table_patterns_never_raw_paths() {
        let no = |_: &str| false;
        let cases = [
            ("/api/sessions/7", "/api/sessions/{n}"),
            ("/api/sessions/7/", "/api/sessions/{n}"),
            (
                "/api/sessions/7/live/questions/3/vote",
                "/api/sessions/{n}/live/questions/{q}/vote",
            ),
            (
                "/api/sessions/7/live/stage/request",
                "/api/sessions/{n}/live/stage/request",
            ),
            ("/api/sessions/7/live/teleport", "other"),
            ("/api/sessions/7/videos/12", "/api/sessions/{n}/videos/{n}"),
            (
                "/api/sessions/7/live/video/pause",
                "/api/sessions/{n}/live/video/pause",
            ),
            ("/api/sessions/x", "other"),
            ("/api/nope", "other"),
            ("/live/42", "/live/{n}"),
            ("/metrics", "/metrics"),
            ("/healthz", "/healthz"),
            ("/wp-login.php", "other"),
        ];
        for (path, want) in cases {
            assert_eq!(label(path, no, no), want, "{path}");
        }
        assert_eq!(label("/profile", |_| true, no), "page");
        assert_eq!(label("/app.js", no, |_| true), "asset");
    }

    #[test]
    fn every_path_finds_its_route_and_wrong_methods_name_the_right_ones() {
        let segs = |p: &str| p.split('/').map(str::to_owned).collect::<Vec<_>>();
        let cases: &[(Method, &str, &str)] = &[
            (Method::GET, "sessions/7", "route"),
            (Method::PATCH, "sessions/7/participants/9", "route"),
            (Method::POST, "sessions/7/live/stage/request", "command"),
            (Method::DELETE, "sessions/7/live/stage/request", "command"),
            (Method::POST, "sessions/7/live/questions/3/vote", "command"),
            (Method::PUT, "sessions/7", "GET, PATCH"),
            (Method::GET, "sessions/7/live/chat", "POST"),
            (Method::PUT, "sessions/7/live/breakouts", "POST, DELETE"),
            (Method::GET, "events/3/program", "route"),
            (Method::PUT, "companies/7/logo", "route"),
            (Method::POST, "companies/7/logo", "GET, PUT, DELETE"),
            (Method::GET, "sessions/7/live/preview", "route"),
            (Method::POST, "sessions/7/videos", "route"),
            (Method::GET, "sessions/7/videos/3", "route"),
            (Method::PUT, "sessions/7/videos", "POST, GET"),
            (Method::POST, "sessions/7/live/video", "command"),
            (Method::DELETE, "sessions/7/live/video", "command"),
            (Method::POST, "sessions/7/live/video/seek", "command"),
            (Method::GET, "sessions/7/live/video", "POST, DELETE"),
            (Method::GET, "companies/7/sessions", "POST"),
            (Method::GET, "sessions/x", "none"),
            (Method::GET, "nope", "none"),
            (Method::POST, "sessions/7/live/teleport", "none"),
        ];
        for (m, path, want) in cases {
            let s = segs(path);
            let s: Vec<&str> = s.iter().map(String::as_str).collect();
            let got = match find(m, &s) {
                Dest::Route(..) => "route".to_owned(),
                Dest::Command(..) => "command".to_owned(),
                Dest::WrongMethod(a) => a,
                Dest::Missing => "none".to_owned(),
            };
            assert_eq!(got, *want, "{m} {path}");
        }
    }
}
