//! Account endpoints: sign up, sign in, sign out, me, profile, first-run setup
//! and the admin's user list.

use std::net::IpAddr;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::auth::{
    clear_session_cookie, current_user, require_admin, require_user, session_token,
    set_session_cookie,
};
use super::error::ApiError;
use super::response::{Resp, empty, json, read_json};
use crate::domain::accounts as rules;
use crate::domain::{DomainError, ErrorKind};
use crate::service::AppState;
use crate::store::{AuthSession, NewUser, User, UserUpdate};
use crate::util::{random_token, sha256};

/// The signed-in user's own view of their account.
#[derive(Serialize)]
pub struct Me<'a> {
    id: u64,
    email: &'a str,
    name: &'a str,
    bio: &'a str,
    links: &'a [String],
    is_admin: bool,
    is_premium: bool,
    created_at: Timestamp,
}

impl<'a> From<&'a User> for Me<'a> {
    fn from(u: &'a User) -> Self {
        Me {
            id: u.id,
            email: &u.email,
            name: &u.name,
            bio: &u.bio,
            links: &u.links,
            is_admin: u.is_admin,
            is_premium: u.is_premium,
            created_at: u.created_at,
        }
    }
}

/// What admins see of other users: never their email.
#[derive(Serialize)]
pub struct UserSummary<'a> {
    id: u64,
    name: &'a str,
    is_admin: bool,
    is_premium: bool,
    created_at: Timestamp,
}

impl<'a> From<&'a User> for UserSummary<'a> {
    fn from(u: &'a User) -> Self {
        UserSummary {
            id: u.id,
            name: &u.name,
            is_admin: u.is_admin,
            is_premium: u.is_premium,
            created_at: u.created_at,
        }
    }
}

/// What members see of each other: name, bio, links, since when (never the email).
#[derive(Serialize)]
pub struct PublicProfile<'a> {
    id: u64,
    name: &'a str,
    bio: &'a str,
    links: &'a [String],
    created_at: Timestamp,
}

impl<'a> From<&'a User> for PublicProfile<'a> {
    fn from(u: &'a User) -> Self {
        PublicProfile {
            id: u.id,
            name: &u.name,
            bio: &u.bio,
            links: &u.links,
            created_at: u.created_at,
        }
    }
}

/// `GET /api/members`: the member directory, for signed-in members, by name.
pub async fn members(state: &AppState, req: Request<Incoming>) -> Result<Resp, ApiError> {
    require_user(state, req.headers()).await?;
    let mut users = state.blocking(|s| s.users()).await?;
    users.sort_by_key(|u| u.name.to_lowercase());
    let list: Vec<PublicProfile> = users.iter().map(PublicProfile::from).collect();
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "members": list }),
    ))
}

/// `GET /api/members/{id}`: one member's public profile.
pub async fn member(state: &AppState, id: u64, req: Request<Incoming>) -> Result<Resp, ApiError> {
    require_user(state, req.headers()).await?;
    let user = state.blocking(move |s| s.user(id)).await?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "member": PublicProfile::from(&user) }),
    ))
}

fn me_response(status: StatusCode, user: &User) -> Resp {
    json(status, &serde_json::json!({ "user": Me::from(user) }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignupBody {
    email: String,
    name: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SigninBody {
    email: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetupBody {
    token: String,
    email: String,
    name: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileBody {
    name: Option<String>,
    bio: Option<String>,
    links: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminUserBody {
    is_admin: Option<bool>,
    is_premium: Option<bool>,
}

/// Validates sign-up fields and hashes the password off the async threads.
async fn new_user(
    state: &AppState,
    email: &str,
    name: &str,
    password: String,
) -> Result<NewUser, ApiError> {
    let name = rules::validate_name(name)?;
    let email = rules::normalize_email(email)?;
    rules::validate_password(&password)?;
    let password_hash = state
        .hash(move || rules::hash_password(&password))
        .await
        .map_err(|_| ApiError::busy())?;
    Ok(NewUser {
        email,
        name,
        password_hash,
        is_admin: false,
        is_premium: false,
    })
}

/// A fresh sign-in session: the cookie value and what the store keeps.
fn new_session(state: &AppState) -> (String, [u8; 32], AuthSession) {
    let token = random_token();
    let hash = sha256(token.as_bytes());
    let now = state.clock.now();
    let lifetime = SignedDuration::try_from(state.config.accounts.session_lifetime)
        .expect("session lifetime fits");
    let session = AuthSession {
        user_id: 0,
        created_at: now,
        expires_at: now + lifetime,
    };
    (token, hash, session)
}

/// 429 with `Retry-After`: an attempt limit is used up for `wait`.
fn too_many(code: &'static str, what: &str, wait: SignedDuration) -> ApiError {
    let mins = (wait.as_secs() + 59) / 60;
    let mut e = ApiError::from(DomainError::new(
        ErrorKind::TooMany,
        code,
        format!(
            "Too many {what} from here. Try again in {mins} minute{}.",
            if mins == 1 { "" } else { "s" }
        ),
    ));
    e.retry_after_secs = Some(wait.as_secs().max(1) as u64);
    e
}

pub async fn signup(
    state: &AppState,
    ip: IpAddr,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let body: SignupBody = read_json(req, state.config.server.max_body_bytes).await?;
    // Cheap checks first, so a typo does not use up an attempt.
    rules::validate_name(&body.name)?;
    rules::normalize_email(&body.email)?;
    rules::validate_password(&body.password)?;
    state
        .limits
        .signup_attempt(ip, state.clock.now())
        .map_err(|wait| too_many("too_many_signups", "sign-ups", wait))?;
    let new = new_user(state, &body.email, &body.name, body.password).await?;
    let (token, hash, session) = new_session(state);
    let now = state.clock.now();
    let user = state
        .blocking(move |s| s.create_user_signed_in(new, &hash, &session, now))
        .await?;
    state.metrics.signups.inc();
    tracing::info!(user = user.id, "account created");
    let mut resp = me_response(StatusCode::CREATED, &user);
    set_session_cookie(&mut resp, state, &token);
    Ok(resp)
}

pub async fn signin(
    state: &AppState,
    ip: IpAddr,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let body: SigninBody = read_json(req, state.config.server.max_body_bytes).await?;
    let email = body.email.trim().to_lowercase();
    let now = state.clock.now();
    // The attempt counts from now on, not only once it has failed.
    state
        .limits
        .signin_attempt(&email, ip, now)
        .map_err(|wait| too_many("too_many_attempts", "failed sign-in attempts", wait))?;
    let lookup = email.clone();
    let user = state.blocking(move |s| s.user_by_email(&lookup)).await?;
    let phc = user.as_ref().map(|u| u.password_hash.clone());
    let password = body.password;
    // The dummy hash (first use computes it) runs on the pool too.
    let ok = state
        .hash(move || {
            rules::verify_password(&password, phc.as_deref().unwrap_or(rules::dummy_hash()))
        })
        .await
        .map_err(|_| {
            state.limits.signin_not_attempted(&email, ip);
            ApiError::busy()
        })?;
    let user = match (ok, user) {
        (true, Some(u)) => u,
        _ => {
            state.metrics.signin_failures.inc();
            return Err(DomainError::new(
                ErrorKind::Unauthenticated,
                "invalid_credentials",
                "That email and password do not match an account.",
            )
            .into());
        }
    };
    state.limits.signin_succeeded(&email, ip);
    let (token, hash, mut session) = new_session(state);
    session.user_id = user.id;
    state
        .blocking(move |s| s.create_auth_session(&hash, &session))
        .await?;
    let mut resp = me_response(StatusCode::OK, &user);
    set_session_cookie(&mut resp, state, &token);
    Ok(resp)
}

pub async fn signout(state: &AppState, req: Request<Incoming>) -> Result<Resp, ApiError> {
    if let Some(token) = session_token(req.headers()) {
        let hash = sha256(token.as_bytes());
        state
            .blocking(move |s| s.delete_auth_session(&hash))
            .await?;
    }
    let mut resp = empty(StatusCode::NO_CONTENT);
    clear_session_cookie(&mut resp, state);
    Ok(resp)
}

pub async fn me(state: &AppState, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    Ok(me_response(StatusCode::OK, &user))
}

pub async fn update_me(state: &AppState, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let body: ProfileBody = read_json(req, state.config.server.max_body_bytes).await?;
    let update = UserUpdate {
        name: body.name.as_deref().map(rules::validate_name).transpose()?,
        bio: body.bio.as_deref().map(rules::validate_bio).transpose()?,
        links: body
            .links
            .as_deref()
            .map(rules::validate_links)
            .transpose()?,
        ..Default::default()
    };
    let id = user.id;
    let user = state.blocking(move |s| s.update_user(id, update)).await?;
    Ok(me_response(StatusCode::OK, &user))
}

pub async fn setup(state: &AppState, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let body: SetupBody = read_json(req, state.config.server.max_body_bytes).await?;
    if body.token.is_empty() || body.token.len() > 128 {
        return Err(DomainError::forbidden(
            "invalid_setup_token",
            "This setup link is not valid. Use the link printed by the server at start-up.",
        )
        .into());
    }
    let new = new_user(state, &body.email, &body.name, body.password).await?;
    let token_hash = sha256(body.token.as_bytes());
    let (token, hash, session) = new_session(state);
    let now = state.clock.now();
    let user = state
        .blocking(move |s| s.complete_setup(&token_hash, new, &hash, &session, now))
        .await?;
    tracing::info!(user = user.id, "first admin created through the setup link");
    let mut resp = me_response(StatusCode::CREATED, &user);
    set_session_cookie(&mut resp, state, &token);
    Ok(resp)
}

pub async fn config(state: &AppState, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let _ = current_user(state, req.headers()).await?;
    let setup_required = !state.blocking(|s| s.has_admin()).await?;
    let c = &state.config;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({
            "community": {"name": c.community.name, "time_zone": c.community.time_zone_name},
            "features": c.features,
            "setup_required": setup_required,
        }),
    ))
}

pub async fn admin_users(state: &AppState, req: Request<Incoming>) -> Result<Resp, ApiError> {
    require_admin(state, req.headers()).await?;
    let users = state.blocking(|s| s.users()).await?;
    let list: Vec<UserSummary> = users.iter().map(UserSummary::from).collect();
    Ok(json(StatusCode::OK, &serde_json::json!({ "users": list })))
}

pub async fn admin_update_user(
    state: &AppState,
    id: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let admin = require_admin(state, req.headers()).await?;
    let body: AdminUserBody = read_json(req, state.config.server.max_body_bytes).await?;
    let update = UserUpdate {
        is_admin: body.is_admin,
        is_premium: body.is_premium,
        ..Default::default()
    };
    let user = state.blocking(move |s| s.update_user(id, update)).await?;
    tracing::info!(admin = admin.id, user = id, "admin changed user flags");
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "user": UserSummary::from(&user) }),
    ))
}
