//! Who is asking: the session cookie, the signed-in user, and the CSRF check
//! (Origin / Sec-Fetch-Site) on every state-changing request.

use std::net::IpAddr;

use hyper::header::{COOKIE, HOST, ORIGIN, SET_COOKIE};
use hyper::{HeaderMap, Method, StatusCode};

use super::error::ApiError;
use super::response::Resp;
use crate::service::{AppState, accounts};
use crate::store::User;

pub const COOKIE_NAME: &str = "podium_session";

/// The session cookie's value, if the request carries one.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE_NAME)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// The signed-in user, or `None`.
pub async fn current_user(state: &AppState, headers: &HeaderMap) -> Result<Option<User>, ApiError> {
    let token = session_token(headers);
    Ok(accounts::signed_in_user(state, token.as_deref()).await?)
}

pub async fn require_user(state: &AppState, headers: &HeaderMap) -> Result<User, ApiError> {
    current_user(state, headers)
        .await?
        .ok_or_else(ApiError::unauthenticated)
}

fn cookie_attrs(state: &AppState) -> &'static str {
    if state.secure_cookies {
        "; Path=/; HttpOnly; SameSite=Lax; Secure"
    } else {
        "; Path=/; HttpOnly; SameSite=Lax"
    }
}

pub fn set_session_cookie(resp: &mut Resp, state: &AppState, token: &str) {
    let max_age = state.config.accounts.session_lifetime.as_secs();
    let v = format!(
        "{COOKIE_NAME}={token}; Max-Age={max_age}{}",
        cookie_attrs(state)
    );
    resp.headers_mut()
        .append(SET_COOKIE, v.parse().expect("cookie is ASCII"));
}

pub fn clear_session_cookie(resp: &mut Resp, state: &AppState) {
    let v = format!("{COOKIE_NAME}=; Max-Age=0{}", cookie_attrs(state));
    resp.headers_mut()
        .append(SET_COOKIE, v.parse().expect("cookie is ASCII"));
}

/// Refuses cross-site state-changing requests. Browsers send `Sec-Fetch-Site`
/// and `Origin`; a request must prove it comes from our own pages with one of
/// them. Requests with neither are refused too: API clients send `Origin`.
pub fn check_csrf(state: &AppState, method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    check_origin(state, headers)
}

/// The Origin / Sec-Fetch-Site check of [`check_csrf`] for any method (the
/// media WebSocket's upgrade is a GET that changes state).
pub fn check_origin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let refuse = |why: &str| {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf_origin",
            format!("Cross-site request refused: {why}."),
        ))
    };
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return refuse("it did not come from this site's pages");
    }
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else {
        if headers.contains_key("sec-fetch-site") {
            return Ok(());
        }
        return refuse("the Origin header is missing");
    };
    let allowed = match &state.config.server.public_url {
        Some(public) => origin == public,
        None => {
            let host = headers
                .get(HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let bare = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            !host.is_empty() && bare == Some(host)
        }
    };
    if allowed {
        Ok(())
    } else {
        refuse("the Origin does not match this server")
    }
}

/// The client's address for the per-address limits: the TCP peer, or, when
/// the peer is a trusted reverse proxy (`server.trusted_proxies`), the last
/// address in `X-Forwarded-For` that is not itself a trusted proxy (entries
/// to its left are whatever the client claimed). An entry that is not an
/// address stops the walk at the proxy.
pub fn client_ip(trusted: &[IpAddr], peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.into_iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return ip,
            Err(_) => return peer,
        }
    }
    peer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_session_cookie_among_others() {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, "a=1; podium_session=abc; b=2".parse().unwrap());
        assert_eq!(session_token(&h).as_deref(), Some("abc"));
        h.insert(COOKIE, "podium_session=".parse().unwrap());
        assert_eq!(session_token(&h), None);
        h.insert(COOKIE, "podium_sessionx=1".parse().unwrap());
        assert_eq!(session_token(&h), None);
    }

    #[test]
    fn the_client_behind_a_trusted_proxy_is_the_last_untrusted_hop() {
        let trusted: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let xff = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert("x-forwarded-for", v.parse().unwrap());
            h
        };
        let cases = [
            // (peer, header, client)
            ("203.0.113.7", Some("198.51.100.1"), "203.0.113.7"), // not a proxy: ignored
            ("127.0.0.1", None, "127.0.0.1"),
            ("127.0.0.1", Some("198.51.100.1"), "198.51.100.1"),
            ("127.0.0.1", Some("6.6.6.6, 198.51.100.1"), "198.51.100.1"), // spoofed left part
            ("127.0.0.1", Some("198.51.100.1, 10.0.0.2"), "198.51.100.1"), // two proxies
            ("127.0.0.1", Some("2001:db8::5"), "2001:db8::5"),
            ("127.0.0.1", Some("1.2.3.4, unknown"), "127.0.0.1"),
        ];
        for (peer, header, want) in cases {
            let h = header.map_or_else(HeaderMap::new, xff);
            assert_eq!(
                client_ip(&trusted, ip(peer), &h),
                ip(want),
                "{peer} {header:?}"
            );
        }
    }
}
