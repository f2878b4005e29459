//! Account endpoints: sign up, sign in, sign out, me, profile, first-run
//! setup, the client's config, the member directory and the admin's user
//! list. Each handler reads the cookie, client address and JSON body, calls
//! one `service::accounts` function, sets or clears the session cookie and
//! renders its typed view with a status code. No rule lives here.

use std::net::IpAddr;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::json;

use super::auth::{
    clear_session_cookie, current_user, require_user, session_token, set_session_cookie,
};
use super::error::ApiError;
use super::response::{Resp, empty, json as respond, read_json};
use crate::service::AppState;
use crate::service::accounts::{
    self as service, AdminUserForm, DeleteAccountForm, InviteForm, MeView, PasswordForm,
    ProfileForm, ResetConfirmForm, ResetRequestForm, SetupForm, SignUpOutcome, SignedIn,
    SigninForm, SignupForm, TokenForm,
};

fn me_response(status: StatusCode, user: &MeView) -> Resp {
    respond(status, &json!({ "user": user }))
}

/// The new user with the session cookie set.
fn signed_in(state: &AppState, status: StatusCode, s: &SignedIn) -> Resp {
    let mut resp = me_response(status, &s.user);
    set_session_cookie(&mut resp, state, &s.token);
    resp
}

/// `GET /api/members`: the member directory, for signed-in members, by name.
pub async fn members(state: &AppState, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let list = service::members(state, &user).await?;
    Ok(respond(StatusCode::OK, &json!({ "members": list })))
}

/// `GET /api/members/{id}`: one member's public profile.
pub async fn member(state: &AppState, id: u64, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let member = service::member(state, &user, id).await?;
    Ok(respond(StatusCode::OK, &json!({ "member": member })))
}

pub async fn signup(
    state: &AppState,
    ip: IpAddr,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let form: SignupForm = read_json(req, state.config.server.max_body_bytes).await?;
    Ok(match service::sign_up(state, ip, form).await? {
        SignUpOutcome::SignedIn(s) => signed_in(state, StatusCode::CREATED, &s),
        SignUpOutcome::CheckMail => respond(StatusCode::ACCEPTED, &json!({ "check_mail": true })),
    })
}

/// `POST /api/auth/verify`: a confirmation link's token; signs this browser in.
pub async fn verify(state: &AppState, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let form: TokenForm = read_json(req, state.config.server.max_body_bytes).await?;
    let s = service::verify_email(state, form).await?;
    Ok(signed_in(state, StatusCode::OK, &s))
}

/// `POST /api/me/verify`: mails the signed-in member a new confirmation link.
pub async fn resend_verification(
    state: &AppState,
    ip: IpAddr,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    service::resend_verification(state, ip, &user).await?;
    Ok(respond(StatusCode::ACCEPTED, &json!({ "sent": true })))
}

/// `POST /api/auth/invitation`: the address an invitation link is for.
pub async fn invitation(state: &AppState, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let form: TokenForm = read_json(req, state.config.server.max_body_bytes).await?;
    let email = service::invitation_email(state, form).await?;
    Ok(respond(StatusCode::OK, &json!({ "email": email })))
}

/// `GET /api/admin/invitations`: open invitations.
pub async fn admin_invitations(state: &AppState, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let admin = require_user(state, req.headers()).await?;
    let list = service::invitations(state, &admin).await?;
    Ok(respond(StatusCode::OK, &json!({ "invitations": list })))
}

/// `POST /api/admin/invitations`: invite someone by email.
pub async fn admin_invite(state: &AppState, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let admin = require_user(state, req.headers()).await?;
    service::authorize_admin(&admin)?;
    let form: InviteForm = read_json(req, state.config.server.max_body_bytes).await?;
    let inv = service::invite(state, &admin, form).await?;
    Ok(respond(StatusCode::CREATED, &json!({ "invitation": inv })))
}

/// `DELETE /api/admin/invitations/{id}`: withdraw an invitation.
pub async fn admin_revoke_invitation(
    state: &AppState,
    id: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let admin = require_user(state, req.headers()).await?;
    service::revoke_invitation(state, &admin, id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn signin(
    state: &AppState,
    ip: IpAddr,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let form: SigninForm = read_json(req, state.config.server.max_body_bytes).await?;
    let s = service::sign_in(state, ip, form).await?;
    Ok(signed_in(state, StatusCode::OK, &s))
}

pub async fn signout(state: &AppState, req: Request<Incoming>) -> Result<Resp, ApiError> {
    service::sign_out(state, session_token(req.headers()).as_deref()).await?;
    let mut resp = empty(StatusCode::NO_CONTENT);
    clear_session_cookie(&mut resp, state);
    Ok(resp)
}

pub async fn me(state: &AppState, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    Ok(me_response(StatusCode::OK, &service::me(state, &user)))
}

pub async fn update_me(state: &AppState, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let form: ProfileForm = read_json(req, state.config.server.max_body_bytes).await?;
    let me = service::update_profile(state, &user, form).await?;
    Ok(me_response(StatusCode::OK, &me))
}

/// `POST /api/me/password`: a new password, the current one re-checked;
/// other browsers are signed out, this one stays.
pub async fn change_password(
    state: &AppState,
    ip: IpAddr,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let token = session_token(req.headers()).unwrap_or_default();
    let form: PasswordForm = read_json(req, state.config.server.max_body_bytes).await?;
    let me = service::change_password(state, ip, &user, &token, form).await?;
    Ok(me_response(StatusCode::OK, &me))
}

/// `POST /api/auth/reset`: mails a reset link if the account exists; the
/// answer never says whether it does.
pub async fn request_reset(
    state: &AppState,
    ip: IpAddr,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let form: ResetRequestForm = read_json(req, state.config.server.max_body_bytes).await?;
    service::request_password_reset(state, ip, form).await?;
    Ok(respond(StatusCode::ACCEPTED, &json!({ "sent": true })))
}

/// `POST /api/auth/reset/confirm`: the link's token and a new password;
/// signs this browser in.
pub async fn confirm_reset(state: &AppState, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let form: ResetConfirmForm = read_json(req, state.config.server.max_body_bytes).await?;
    let s = service::confirm_password_reset(state, form).await?;
    Ok(signed_in(state, StatusCode::OK, &s))
}

/// `DELETE /api/me`: deletes the account (password re-checked) and clears
/// the cookie.
pub async fn delete_me(
    state: &AppState,
    ip: IpAddr,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let form: DeleteAccountForm = read_json(req, state.config.server.max_body_bytes).await?;
    service::delete_account(state, ip, &user, form).await?;
    let mut resp = respond(StatusCode::OK, &json!({ "deleted": true }));
    clear_session_cookie(&mut resp, state);
    Ok(resp)
}

/// `GET /api/me/export`: everything kept about the member, as a JSON download.
pub async fn export_me(state: &AppState, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let user = require_user(state, req.headers()).await?;
    let data = service::export_account(state, &user).await?;
    let mut resp = respond(StatusCode::OK, &data);
    let h = resp.headers_mut();
    h.insert(
        hyper::header::CONTENT_DISPOSITION,
        hyper::header::HeaderValue::from_static("attachment; filename=\"podium-my-data.json\""),
    );
    h.insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}

pub async fn setup(state: &AppState, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let form: SetupForm = read_json(req, state.config.server.max_body_bytes).await?;
    let s = service::setup(state, form).await?;
    Ok(signed_in(state, StatusCode::CREATED, &s))
}

pub async fn config(state: &AppState, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let _ = current_user(state, req.headers()).await?;
    let config = service::client_config(state).await?;
    Ok(respond(StatusCode::OK, &config))
}

pub async fn admin_users(state: &AppState, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let admin = require_user(state, req.headers()).await?;
    let list = service::users(state, &admin).await?;
    Ok(respond(StatusCode::OK, &json!({ "users": list })))
}

pub async fn admin_update_user(
    state: &AppState,
    id: u64,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    let admin = require_user(state, req.headers()).await?;
    service::authorize_admin(&admin)?;
    let form: AdminUserForm = read_json(req, state.config.server.max_body_bytes).await?;
    let user = service::update_user(state, &admin, id, form).await?;
    Ok(respond(StatusCode::OK, &json!({ "user": user })))
}

/// `POST /api/admin/backup`: a consistent copy of the store, streamed as a
/// download (`podium-<time>.redb`, restorable with `podium admin restore`).
pub async fn admin_backup(state: &AppState, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let admin = require_user(state, req.headers()).await?;
    let d = crate::service::backup::download(state, &admin).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(4);
    let mut file = d.file;
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if tx
                        .blocking_send(bytes::Bytes::copy_from_slice(&buf[..n]))
                        .is_err()
                    {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading the backup for download failed");
                    break;
                }
            }
        }
    });
    Ok(hyper::Response::builder()
        .status(StatusCode::OK)
        .header(hyper::header::CONTENT_TYPE, "application/octet-stream")
        .header(hyper::header::CONTENT_LENGTH, d.report.bytes)
        .header(
            hyper::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", d.name),
        )
        .header(hyper::header::CACHE_CONTROL, "no-store")
        .body(http_body_util::BodyExt::boxed(
            super::response::ChannelBody(rx),
        ))
        .expect("valid response"))
}
