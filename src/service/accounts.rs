//! Account services: sign-up, sign-in (with its attempt limits), sign-out,
//! the signed-in user behind a session cookie, first-run setup, profiles,
//! the member directory and the admin's user list. Each takes typed inputs,
//! runs the `domain::accounts` rules, hashes on the hashing pool and does one
//! store transaction, and answers a typed view (`#[derive(Serialize)]`) or an
//! error: `StoreError` (`StoreError::Rule` for a broken rule) or, where a
//! limit or the hashing pool can refuse, [`AccountError`]. `http::accounts`
//! only reads the request, calls these, sets the cookie and renders.

use std::net::IpAddr;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::AppState;
use crate::config::Features;
use crate::domain::accounts as rules;
use crate::domain::accounts::{Background, BackgroundChoice};
use crate::domain::roster::ParticipantStatus;
use crate::domain::sessions::Role;
use crate::domain::{DomainError, ErrorKind};
use crate::store::{
    AuthSession, EmailVerification, Invitation, NewUser, PasswordReset, SignUp, StoreError, User,
    UserUpdate,
};
use crate::util::{random_token, sha256};

/* ------------------------------------------------------------- Errors */

/// Why an account action was refused. Besides the store's answers, the
/// actions that hash a password can find the hashing pool full, and sign-up
/// and sign-in can hit their attempt limits.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// A rule (`StoreError::Rule`), a missing row or storage.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The hashing pool is full: try again in a moment (503, `busy`).
    #[error("the password hashing pool is full")]
    Busy,
    /// An attempt limit is used up (`error` has kind `TooMany`) for
    /// `retry_after_secs` more seconds.
    #[error("{error}")]
    Limited {
        error: DomainError,
        retry_after_secs: u64,
    },
}

impl From<DomainError> for AccountError {
    fn from(e: DomainError) -> Self {
        AccountError::Store(StoreError::Rule(e))
    }
}

/// An attempt limit is used up for `wait`.
fn too_many(code: &'static str, what: &str, wait: SignedDuration) -> AccountError {
    let mins = (wait.as_secs() + 59) / 60;
    AccountError::Limited {
        error: DomainError::new(
            ErrorKind::TooMany,
            code,
            format!(
                "Too many {what} from here. Try again in {mins} minute{}.",
                if mins == 1 { "" } else { "s" }
            ),
        ),
        retry_after_secs: wait.as_secs().max(1) as u64,
    }
}

/* ------------------------------------------------------------- Inputs */

/// A stranger's sign-up, with the token of an admin's invitation when
/// they have one.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignupForm {
    pub email: String,
    pub name: String,
    pub password: String,
    #[serde(default)]
    pub invitation: Option<String>,
}

/// A mailed link's token (email confirmation, invitation).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenForm {
    pub token: String,
}

/// An admin invites someone by email.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteForm {
    pub email: String,
}

/// A sign-in attempt.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigninForm {
    pub email: String,
    pub password: String,
}

/// The first admin's account, with the setup link's token.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupForm {
    pub token: String,
    pub email: String,
    pub name: String,
    pub password: String,
}

/// A member's change to their own profile (absent fields stay).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileForm {
    pub name: Option<String>,
    pub bio: Option<String>,
    pub links: Option<Vec<String>>,
    /// The live room's video background (an id of `backgrounds` in the client config).
    pub background: Option<String>,
}

/// An admin's change to another user's flags (absent fields stay).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminUserForm {
    pub is_admin: Option<bool>,
    pub is_premium: Option<bool>,
}

/// A signed-in member changes their password.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordForm {
    pub current_password: String,
    pub new_password: String,
}

/// Someone asks for a password-reset link.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetRequestForm {
    pub email: String,
}

/// A reset link's token with the new password.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirmForm {
    pub token: String,
    pub password: String,
}

/// A member deletes their account, confirming with their password.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccountForm {
    pub password: String,
}

/* -------------------------------------------------------------- Views */

/// The signed-in user's own view of their account.
#[derive(Debug, Clone, Serialize)]
pub struct MeView {
    pub id: u64,
    pub email: String,
    pub name: String,
    pub bio: String,
    pub links: Vec<String>,
    pub is_admin: bool,
    pub is_premium: bool,
    pub created_at: Timestamp,
    /// They proved the address is theirs.
    pub email_verified: bool,
    /// The community asks for a confirmed address before registering and
    /// theirs is not: the pages say so and offer "send the link again".
    pub must_verify_email: bool,
    /// The live room's video background (an id of `ClientConfig::backgrounds`).
    pub background: Background,
}

impl MeView {
    fn new(u: &User, verify_email: bool) -> Self {
        MeView {
            id: u.id,
            email: u.email.clone(),
            name: u.name.clone(),
            bio: u.bio.clone(),
            links: u.links.clone(),
            is_admin: u.is_admin,
            is_premium: u.is_premium,
            created_at: u.created_at,
            email_verified: u.email_verified_at.is_some(),
            must_verify_email: rules::email_block(verify_email, u.email_verified_at.is_some())
                .is_some(),
            background: u.background,
        }
    }
}

/// What admins see of other users: never their email.
#[derive(Debug, Clone, Serialize)]
pub struct UserSummary {
    pub id: u64,
    pub name: String,
    pub is_admin: bool,
    pub is_premium: bool,
    pub created_at: Timestamp,
    pub email_verified: bool,
    /// The member deleted their account (the row stays for counts).
    pub deleted: bool,
}

impl From<&User> for UserSummary {
    fn from(u: &User) -> Self {
        UserSummary {
            id: u.id,
            name: u.name.clone(),
            is_admin: u.is_admin,
            is_premium: u.is_premium,
            created_at: u.created_at,
            email_verified: u.email_verified_at.is_some(),
            deleted: u.deleted_at.is_some(),
        }
    }
}

/// An open invitation, for admins (the address they typed).
#[derive(Debug, Clone, Serialize)]
pub struct InvitationView {
    pub id: u64,
    pub email: String,
    pub invited_by: u64,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl From<&Invitation> for InvitationView {
    fn from(i: &Invitation) -> Self {
        InvitationView {
            id: i.id,
            email: i.email.clone(),
            invited_by: i.invited_by,
            created_at: i.created_at,
            expires_at: i.expires_at,
        }
    }
}

/// What a sign-up answers.
#[derive(Debug)]
pub enum SignUpOutcome {
    /// With an invitation: the account exists and this browser is signed in.
    SignedIn(SignedIn),
    /// Without one: "check your mail", the same whether the email was new
    /// or had an account.
    CheckMail,
}

/// What members see of each other: name, bio, links, since when (never the email).
#[derive(Debug, Clone, Serialize)]
pub struct PublicProfile {
    pub id: u64,
    pub name: String,
    pub bio: String,
    pub links: Vec<String>,
    pub created_at: Timestamp,
}

impl From<&User> for PublicProfile {
    fn from(u: &User) -> Self {
        PublicProfile {
            id: u.id,
            name: u.name.clone(),
            bio: u.bio.clone(),
            links: u.links.clone(),
            created_at: u.created_at,
        }
    }
}

/// What the web client needs before anyone signs in.
#[derive(Debug, Clone, Serialize)]
pub struct ClientConfig {
    pub community: CommunityView,
    pub features: Features,
    pub signup: SignupConfigView,
    /// No admin exists yet: the setup page is the way in.
    pub setup_required: bool,
    /// The video backgrounds the live room offers, in order.
    pub backgrounds: Vec<BackgroundChoice>,
}

/// How people join: what the sign-up page says and does.
#[derive(Debug, Clone, Serialize)]
pub struct SignupConfigView {
    /// Anyone may sign up; false: only with an invitation.
    pub open: bool,
    /// A new account confirms its address by the mailed link before it may
    /// register; false: the page signs the new member in with their password.
    pub verify_email: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CommunityView {
    pub name: String,
    pub time_zone: String,
}

/// A new sign-in session: the user, and the token for the session cookie
/// (never rendered into a body, never logged).
#[derive(Debug)]
pub struct SignedIn {
    pub user: MeView,
    pub token: String,
}

/* ----------------------------------------------------------- Services */

/// The signed-in user behind a session cookie's token, if it is current.
pub async fn signed_in_user(
    state: &AppState,
    token: Option<&str>,
) -> Result<Option<User>, StoreError> {
    let Some(token) = token else {
        return Ok(None);
    };
    let hash = sha256(token.as_bytes());
    let now = state.clock.now();
    state
        .blocking(move |store| store.session_user(&hash, now))
        .await
}

/// Only admins pass.
pub fn authorize_admin(user: &User) -> Result<(), DomainError> {
    if user.is_admin {
        Ok(())
    } else {
        Err(DomainError::forbidden(
            "forbidden",
            "Only admins can do that.",
        ))
    }
}

/// The community's name and zone, the feature switches, and whether the
/// first-run setup is still open.
pub async fn client_config(state: &AppState) -> Result<ClientConfig, StoreError> {
    let setup_required = !state.blocking(|s| s.has_admin()).await?;
    let c = &state.config;
    Ok(ClientConfig {
        community: CommunityView {
            name: c.community.name.clone(),
            time_zone: c.community.time_zone_name.clone(),
        },
        features: c.features,
        signup: SignupConfigView {
            open: c.accounts.open_signup,
            verify_email: c.accounts.verify_email,
        },
        setup_required,
        backgrounds: Background::ALL.iter().map(|b| b.choice()).collect(),
    })
}

/// Validates sign-up fields and hashes the password on the hashing pool.
async fn new_user(
    state: &AppState,
    email: &str,
    name: &str,
    password: String,
) -> Result<NewUser, AccountError> {
    let name = rules::validate_name(name)?;
    let email = rules::normalize_email(email)?;
    rules::validate_password(&password)?;
    let password_hash = state
        .hash(move || rules::hash_password(&password))
        .await
        .map_err(|_| AccountError::Busy)?;
    Ok(NewUser {
        email,
        name,
        password_hash,
        is_admin: false,
        is_premium: false,
        email_verified: false,
    })
}

/// A fresh sign-in session: the cookie value, its hash and what the store keeps.
fn new_session(state: &AppState, user_id: u64) -> (String, [u8; 32], AuthSession) {
    let token = random_token();
    let hash = sha256(token.as_bytes());
    let now = state.clock.now();
    let lifetime = SignedDuration::try_from(state.config.accounts.session_lifetime)
        .expect("session lifetime fits");
    let session = AuthSession {
        user_id,
        created_at: now,
        expires_at: now + lifetime,
    };
    (token, hash, session)
}

/// A sign-up. With an invitation (sent to this email by an admin) the
/// account is created with its address confirmed and signed in at once.
/// Without one (refused while sign-up is invite-only), the answer is "check
/// your mail" whether or not the email has an account, after the same work
/// (the password hashed, one write transaction, at most one mail): a new
/// email gets its account (and, with `verify_email`, the confirmation link
/// by mail); a taken one leaves the account as it was and mails its owner.
/// Limited per address; a form with a typo is refused before it uses up an
/// attempt.
pub async fn sign_up(
    state: &AppState,
    ip: IpAddr,
    form: SignupForm,
) -> Result<SignUpOutcome, AccountError> {
    rules::validate_name(&form.name)?;
    let email = rules::normalize_email(&form.email)?;
    rules::validate_password(&form.password)?;
    let invitation = match form.invitation.as_deref() {
        Some(t) if t.is_empty() || t.len() > 128 => {
            return Err(rules::invalid_invitation().into());
        }
        Some(t) => Some(sha256(t.as_bytes())),
        None if !state.config.accounts.open_signup => return Err(rules::signup_closed().into()),
        None => None,
    };
    state
        .limits
        .signup_attempt(ip, state.clock.now())
        .map_err(|wait| too_many("too_many_signups", "sign-ups", wait))?;
    if let Some(token_hash) = invitation {
        // A dead invitation is told before the (slow) hashing; the
        // transaction checks it again.
        let now = state.clock.now();
        state
            .blocking(move |s| s.invitation_by_token(&token_hash, now))
            .await?;
        let new = new_user(state, &form.email, &form.name, form.password).await?;
        let (token, hash, session) = new_session(state, 0);
        let now = state.clock.now();
        let user = state
            .blocking(move |s| s.sign_up_invited(&token_hash, new, &hash, &session, now))
            .await?;
        state.metrics.signups.inc();
        tracing::info!(user = user.id, "account created by invitation");
        return Ok(SignUpOutcome::SignedIn(SignedIn {
            user: MeView::new(&user, state.config.accounts.verify_email),
            token,
        }));
    }
    let new = new_user(state, &form.email, &form.name, form.password).await?;
    let now = state.clock.now();
    let verification = state.config.accounts.verify_email.then(|| {
        let token = random_token();
        let link = format!("{}/verify?token={token}", state.mail_ctx.base_url);
        let mail = crate::mail::confirm_email(&state.mail_ctx, &new.email, &new.name, &link, now);
        let v = EmailVerification {
            user_id: 0,
            created_at: now,
            expires_at: now + rules::VERIFY_LIFETIME,
        };
        (sha256(token.as_bytes()), v, mail)
    });
    // The owner of a taken email hears of it at most once an hour.
    let may_tell_owner = state.limits.may_send_taken_mail(&email, now);
    let ctx = state.mail_ctx.clone();
    let outcome = state
        .blocking(move |s| {
            s.sign_up(
                new,
                verification
                    .as_ref()
                    .map(|(h, v, m)| (&h[..], v, m.clone())),
                |owner| {
                    may_tell_owner
                        .then(|| crate::mail::signup_with_existing_email(&ctx, owner, now))
                },
                now,
            )
        })
        .await?;
    match outcome {
        SignUp::Created(user) => {
            state.metrics.signups.inc();
            tracing::info!(user = user.id, "account created");
        }
        SignUp::Taken => {
            if may_tell_owner {
                state.limits.taken_mail_sent(&email, now);
            }
            tracing::info!("sign-up with an email that has an account");
        }
    }
    state.wake_mail_after_answer();
    Ok(SignUpOutcome::CheckMail)
}

/// Follows a confirmation link: the address counts as confirmed and this
/// browser is signed in. A token that does not exist, expired or was used
/// is `invalid_token` (one answer for the three) and nothing changes.
pub async fn verify_email(state: &AppState, form: TokenForm) -> Result<SignedIn, AccountError> {
    if form.token.is_empty() || form.token.len() > 128 {
        return Err(rules::invalid_verify_token().into());
    }
    let token_hash = sha256(form.token.as_bytes());
    let (token, session_hash, session) = new_session(state, 0);
    let now = state.clock.now();
    let user = state
        .blocking(move |s| s.complete_email_verification(&token_hash, &session_hash, &session, now))
        .await?;
    tracing::info!(user = user.id, "email confirmed through the mailed link");
    Ok(SignedIn {
        user: MeView::new(&user, state.config.accounts.verify_email),
        token,
    })
}

/// "Send the link again": a new confirmation link for the signed-in member
/// (three an hour per account, and counted per address like reset requests).
pub async fn resend_verification(
    state: &AppState,
    ip: IpAddr,
    user: &User,
) -> Result<(), AccountError> {
    if user.email_verified_at.is_some() {
        return Err(DomainError::conflict(
            "already_verified",
            "Your email address is confirmed already.",
        )
        .into());
    }
    let now = state.clock.now();
    state
        .limits
        .confirm_mail(user.id, now)
        .map_err(|wait| too_many("too_many_mails", "confirmation mails", wait))?;
    state
        .limits
        .reset_attempt(ip, now)
        .map_err(|wait| too_many("too_many_mails", "confirmation mails", wait))?;
    let token = random_token();
    let hash = sha256(token.as_bytes());
    let v = EmailVerification {
        user_id: user.id,
        created_at: now,
        expires_at: now + rules::VERIFY_LIFETIME,
    };
    let link = format!("{}/verify?token={token}", state.mail_ctx.base_url);
    let mail = crate::mail::confirm_email(&state.mail_ctx, &user.email, &user.name, &link, now);
    state
        .blocking(move |s| s.create_email_verification(&hash, &v, mail))
        .await?;
    state.mail_wake.notify_one();
    tracing::info!(user = user.id, "confirmation link mailed again");
    Ok(())
}

/// The address an invitation link is for (the sign-up page fills it in),
/// or `invalid_invitation`.
pub async fn invitation_email(state: &AppState, form: TokenForm) -> Result<String, StoreError> {
    if form.token.is_empty() || form.token.len() > 128 {
        return Err(rules::invalid_invitation().into());
    }
    let hash = sha256(form.token.as_bytes());
    let now = state.clock.now();
    let inv = state
        .blocking(move |s| s.invitation_by_token(&hash, now))
        .await?;
    Ok(inv.email)
}

/// An admin invites `email`: the link (valid 7 days, once) goes out through
/// the outbox with the invitation, which replaces an earlier one for the
/// same address.
pub async fn invite(
    state: &AppState,
    admin: &User,
    form: InviteForm,
) -> Result<InvitationView, StoreError> {
    authorize_admin(admin)?;
    let email = rules::normalize_email(&form.email)?;
    let now = state.clock.now();
    let token = random_token();
    let hash = sha256(token.as_bytes());
    let link = format!("{}/signup?invitation={token}", state.mail_ctx.base_url);
    let mail = crate::mail::invitation(&state.mail_ctx, &email, &admin.name, &link, now);
    let by = admin.id;
    let inv = state
        .blocking(move |s| {
            s.create_invitation(
                &email,
                &hash,
                by,
                now + rules::INVITATION_LIFETIME,
                mail,
                now,
            )
        })
        .await?;
    state.mail_wake.notify_one();
    tracing::info!(admin = admin.id, invitation = inv.id, "invitation mailed");
    Ok(InvitationView::from(&inv))
}

/// Open invitations, for an admin.
pub async fn invitations(
    state: &AppState,
    admin: &User,
) -> Result<Vec<InvitationView>, StoreError> {
    authorize_admin(admin)?;
    let now = state.clock.now();
    let list = state.blocking(move |s| s.invitations(now)).await?;
    Ok(list.iter().map(InvitationView::from).collect())
}

/// An admin withdraws an invitation: its link stops working.
pub async fn revoke_invitation(state: &AppState, admin: &User, id: u64) -> Result<(), StoreError> {
    authorize_admin(admin)?;
    state.blocking(move |s| s.revoke_invitation(id)).await?;
    tracing::info!(admin = admin.id, invitation = id, "invitation withdrawn");
    Ok(())
}

/// Signs in with email and password. The attempt counts against the
/// account's and the address's limits from the moment it starts; a wrong
/// email costs as much as a wrong password; success forgives the account's
/// failures.
pub async fn sign_in(
    state: &AppState,
    ip: IpAddr,
    form: SigninForm,
) -> Result<SignedIn, AccountError> {
    let email = form.email.trim().to_lowercase();
    let now = state.clock.now();
    state
        .limits
        .signin_attempt(&email, ip, now)
        .map_err(|wait| too_many("too_many_attempts", "failed sign-in attempts", wait))?;
    let lookup = email.clone();
    let user = state.blocking(move |s| s.user_by_email(&lookup)).await?;
    let phc = user.as_ref().map(|u| u.password_hash.clone());
    let password = form.password;
    // The dummy hash (first use computes it) runs on the pool too.
    let ok = state
        .hash(move || {
            rules::verify_password(&password, phc.as_deref().unwrap_or(rules::dummy_hash()))
        })
        .await
        .map_err(|_| {
            state.limits.signin_not_attempted(&email, ip);
            AccountError::Busy
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
    let (token, hash, session) = new_session(state, user.id);
    state
        .blocking(move |s| s.create_auth_session(&hash, &session))
        .await?;
    Ok(SignedIn {
        user: MeView::new(&user, state.config.accounts.verify_email),
        token,
    })
}

/// Ends the sign-in session behind `token`, if there is one.
pub async fn sign_out(state: &AppState, token: Option<&str>) -> Result<(), StoreError> {
    if let Some(token) = token {
        let hash = sha256(token.as_bytes());
        state
            .blocking(move |s| s.delete_auth_session(&hash))
            .await?;
    }
    Ok(())
}

/// The first admin, through the setup link printed at start-up: exactly one
/// request wins the token (the store checks and spends it in one transaction).
pub async fn setup(state: &AppState, form: SetupForm) -> Result<SignedIn, AccountError> {
    if form.token.is_empty() || form.token.len() > 128 {
        return Err(DomainError::forbidden(
            "invalid_setup_token",
            "This setup link is not valid. Use the link printed by the server at start-up.",
        )
        .into());
    }
    let new = new_user(state, &form.email, &form.name, form.password).await?;
    let token_hash = sha256(form.token.as_bytes());
    let (token, hash, session) = new_session(state, 0);
    let now = state.clock.now();
    let user = state
        .blocking(move |s| s.complete_setup(&token_hash, new, &hash, &session, now))
        .await?;
    tracing::info!(user = user.id, "first admin created through the setup link");
    Ok(SignedIn {
        user: MeView::new(&user, state.config.accounts.verify_email),
        token,
    })
}

/// The signed-in user's own view of their account.
pub fn me(state: &AppState, user: &User) -> MeView {
    MeView::new(user, state.config.accounts.verify_email)
}

/// Changes the signed-in user's name, bio or links.
pub async fn update_profile(
    state: &AppState,
    user: &User,
    form: ProfileForm,
) -> Result<MeView, StoreError> {
    let update = UserUpdate {
        name: form.name.as_deref().map(rules::validate_name).transpose()?,
        bio: form.bio.as_deref().map(rules::validate_bio).transpose()?,
        links: form
            .links
            .as_deref()
            .map(rules::validate_links)
            .transpose()?,
        background: form
            .background
            .as_deref()
            .map(rules::parse_background)
            .transpose()?,
        ..Default::default()
    };
    let id = user.id;
    let user = state.blocking(move |s| s.update_user(id, update)).await?;
    Ok(MeView::new(&user, state.config.accounts.verify_email))
}

/// The member directory for a signed-in member, by name.
pub async fn members(state: &AppState, _viewer: &User) -> Result<Vec<PublicProfile>, StoreError> {
    let mut users = state.blocking(|s| s.users()).await?;
    users.retain(|u| u.deleted_at.is_none());
    users.sort_by_key(|u| u.name.to_lowercase());
    Ok(users.iter().map(PublicProfile::from).collect())
}

/// One member's public profile, for a signed-in member.
pub async fn member(
    state: &AppState,
    _viewer: &User,
    id: u64,
) -> Result<PublicProfile, StoreError> {
    let user = state.blocking(move |s| s.user(id)).await?;
    Ok(PublicProfile::from(&user))
}

/// Every user, for an admin.
pub async fn users(state: &AppState, admin: &User) -> Result<Vec<UserSummary>, StoreError> {
    authorize_admin(admin)?;
    let users = state.blocking(|s| s.users()).await?;
    Ok(users.iter().map(UserSummary::from).collect())
}

/// An admin changes another user's admin or premium flag.
pub async fn update_user(
    state: &AppState,
    admin: &User,
    id: u64,
    form: AdminUserForm,
) -> Result<UserSummary, StoreError> {
    authorize_admin(admin)?;
    let update = UserUpdate {
        is_admin: form.is_admin,
        is_premium: form.is_premium,
        ..Default::default()
    };
    let user = state.blocking(move |s| s.update_user(id, update)).await?;
    tracing::info!(admin = admin.id, user = id, "admin changed user flags");
    // Host powers follow the admin flag at once in every running room.
    state.live.powers_changed_everywhere(id);
    Ok(UserSummary::from(&user))
}

/* ------------------------------------------------- Account self-service */

/// Checks `password` against the signed-in user's, as a sign-in attempt:
/// it counts against the account's and the address's sign-in limits, and a
/// right one forgives the account's failures.
async fn recheck_password(
    state: &AppState,
    ip: IpAddr,
    user: &User,
    password: String,
    field: &'static str,
) -> Result<(), AccountError> {
    let now = state.clock.now();
    state
        .limits
        .signin_attempt(&user.email, ip, now)
        .map_err(|wait| too_many("too_many_attempts", "failed password attempts", wait))?;
    let phc = user.password_hash.clone();
    let ok = state
        .hash(move || rules::verify_password(&password, &phc))
        .await
        .map_err(|_| {
            state.limits.signin_not_attempted(&user.email, ip);
            AccountError::Busy
        })?;
    if !ok {
        state.metrics.signin_failures.inc();
        return Err(rules::wrong_password(field).into());
    }
    state.limits.signin_succeeded(&user.email, ip);
    Ok(())
}

/// Changes the signed-in user's password after checking the current one;
/// every other browser signed in to the account is signed out (the one
/// behind `token` stays).
pub async fn change_password(
    state: &AppState,
    ip: IpAddr,
    user: &User,
    token: &str,
    form: PasswordForm,
) -> Result<MeView, AccountError> {
    rules::validate_password(&form.new_password).map_err(|e| e.on("new_password"))?;
    recheck_password(state, ip, user, form.current_password, "current_password").await?;
    let password = form.new_password;
    let hash = state
        .hash(move || rules::hash_password(&password))
        .await
        .map_err(|_| AccountError::Busy)?;
    let keep = sha256(token.as_bytes());
    let id = user.id;
    let user = state
        .blocking(move |s| s.change_password(id, hash, Some(&keep)))
        .await?;
    tracing::info!(user = id, "password changed; other sign-ins revoked");
    Ok(MeView::new(&user, state.config.accounts.verify_email))
}

/// Asks for a reset link. The answer is the same whether or not an account
/// has this email (nobody learns who is a member); when one has, the link
/// is mailed through the outbox, stored in the same transaction as the
/// token's hash. Limited per address like sign-ups.
pub async fn request_password_reset(
    state: &AppState,
    ip: IpAddr,
    form: ResetRequestForm,
) -> Result<(), AccountError> {
    let email = rules::normalize_email(&form.email)?;
    let now = state.clock.now();
    state
        .limits
        .reset_attempt(ip, now)
        .map_err(|wait| too_many("too_many_resets", "password reset requests", wait))?;
    let lookup = email.clone();
    let user = state.blocking(move |s| s.user_by_email(&lookup)).await?;
    let Some(user) = user.filter(|u| u.deleted_at.is_none()) else {
        // The same work as for a member (a token, its hash, the mail, the
        // same rows written in one transaction, then taken back before it
        // commits; the sender woken), so the answer takes as long.
        let token = random_token();
        let hash = sha256(token.as_bytes());
        let stranger = User {
            id: 0,
            email: email.clone(),
            name: String::new(),
            bio: String::new(),
            links: Vec::new(),
            password_hash: String::new(),
            is_admin: false,
            is_premium: false,
            created_at: now,
            deleted_at: None,
            email_verified_at: None,
            background: Default::default(),
        };
        let link = format!("{}/reset?token={token}", state.mail_ctx.base_url);
        let mail = crate::mail::password_reset(&state.mail_ctx, &stranger, &link, now);
        let reset = PasswordReset {
            user_id: 0,
            created_at: now,
            expires_at: now + rules::RESET_LIFETIME,
        };
        state
            .blocking(move |s| s.password_reset_for_nobody(&hash, &reset, mail))
            .await?;
        state.wake_mail_after_answer();
        tracing::info!("password reset asked for an unknown email");
        return Ok(());
    };
    let token = random_token();
    let hash = sha256(token.as_bytes());
    let reset = PasswordReset {
        user_id: user.id,
        created_at: now,
        expires_at: now + rules::RESET_LIFETIME,
    };
    let link = format!("{}/reset?token={token}", state.mail_ctx.base_url);
    let mail = crate::mail::password_reset(&state.mail_ctx, &user, &link, now);
    state
        .blocking(move |s| s.create_password_reset(&hash, &reset, mail))
        .await?;
    state.wake_mail_after_answer();
    tracing::info!(user = user.id, "password reset link mailed");
    Ok(())
}

/// Sets a new password with a reset link's token and signs this browser in;
/// every other sign-in of the account ends. A token that does not exist,
/// expired or was used already gets one answer (`invalid_token`) and
/// nothing changes.
pub async fn confirm_password_reset(
    state: &AppState,
    form: ResetConfirmForm,
) -> Result<SignedIn, AccountError> {
    if form.token.is_empty() || form.token.len() > 128 {
        return Err(rules::invalid_reset_token().into());
    }
    let token_hash = sha256(form.token.as_bytes());
    // Checked before the (slow) hashing, so a dead link is told at once;
    // the transaction below checks it again.
    let now = state.clock.now();
    state
        .blocking(move |s| s.password_reset_user(&token_hash, now))
        .await?;
    rules::validate_password(&form.password)?;
    let password = form.password;
    let hash = state
        .hash(move || rules::hash_password(&password))
        .await
        .map_err(|_| AccountError::Busy)?;
    let (token, session_hash, session) = new_session(state, 0);
    let now = state.clock.now();
    let user = state
        .blocking(move |s| {
            s.complete_password_reset(&token_hash, hash, &session_hash, &session, now)
        })
        .await?;
    tracing::info!(user = user.id, "password reset through a mailed link");
    Ok(SignedIn {
        user: MeView::new(&user, state.config.accounts.verify_email),
        token,
    })
}

/// Deletes the signed-in user's account after checking their password
/// (counted like a sign-in attempt): see `Store::delete_account` for what
/// is kept and what is gone.
pub async fn delete_account(
    state: &AppState,
    ip: IpAddr,
    user: &User,
    form: DeleteAccountForm,
) -> Result<(), AccountError> {
    recheck_password(state, ip, user, form.password, "password").await?;
    let id = user.id;
    let now = state.clock.now();
    state.blocking(move |s| s.delete_account(id, now)).await?;
    state.live.account_deleted(id);
    tracing::info!(user = id, "account deleted by its owner");
    Ok(())
}

/// One registration in "download my data".
#[derive(Debug, Serialize)]
pub struct ExportRegistration {
    pub session_id: u64,
    pub session_title: String,
    pub starts_at: Timestamp,
    pub role: Role,
    pub status: ParticipantStatus,
    pub registered_at: Timestamp,
    pub talk_title: Option<String>,
    pub talk_description: Option<String>,
    pub topics: Option<String>,
}

/// One waitlist entry in "download my data".
#[derive(Debug, Serialize)]
pub struct ExportWaitEntry {
    pub session_id: u64,
    pub session_title: String,
    pub starts_at: Timestamp,
    pub role: Role,
    pub joined_at: Timestamp,
    pub offer_expires_at: Option<Timestamp>,
}

/// A chat message or question in "download my data".
#[derive(Debug, Serialize)]
pub struct ExportMessage {
    pub session_id: u64,
    pub session_title: String,
    pub text: String,
    pub at: Timestamp,
    /// Questions only: how many people voted for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub votes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answered: Option<bool>,
}

/// Everything Podium keeps about the signed-in member.
#[derive(Debug, Serialize)]
pub struct AccountExportView {
    pub exported_at: Timestamp,
    pub profile: MeView,
    pub registrations: Vec<ExportRegistration>,
    pub waitlist: Vec<ExportWaitEntry>,
    pub chat_messages: Vec<ExportMessage>,
    pub questions: Vec<ExportMessage>,
}

/// "Download my data": the member's profile, registrations, waitlist
/// places, and the live chat messages and questions they wrote.
pub async fn export_account(
    state: &AppState,
    user: &User,
) -> Result<AccountExportView, StoreError> {
    let id = user.id;
    let data = state.blocking(move |s| s.account_export(id)).await?;
    let mut titles = std::collections::HashMap::new();
    let mut registrations = Vec::new();
    let mut waitlist = Vec::new();
    for (session, roster) in &data.sessions {
        titles.insert(session.id, session.title.clone());
        for r in roster.registrations.iter().filter(|r| r.user_id == id) {
            registrations.push(ExportRegistration {
                session_id: session.id,
                session_title: session.title.clone(),
                starts_at: session.starts_at,
                role: r.role,
                status: r.status,
                registered_at: r.registered_at,
                talk_title: r.answers.talk_title.clone(),
                talk_description: r.answers.talk_description.clone(),
                topics: r.answers.topics.clone(),
            });
        }
        for w in roster.waitlist.iter().filter(|w| w.user_id == id) {
            waitlist.push(ExportWaitEntry {
                session_id: session.id,
                session_title: session.title.clone(),
                starts_at: session.starts_at,
                role: w.role,
                joined_at: w.joined_at,
                offer_expires_at: w.offer_expires_at,
            });
        }
    }
    let mut missing: Vec<u64> = data
        .chat
        .iter()
        .map(|(s, _)| *s)
        .chain(data.questions.iter().map(|(s, _)| *s))
        .filter(|s| !titles.contains_key(s))
        .collect();
    missing.dedup();
    for sid in missing {
        if let Ok((session, _)) = state.blocking(move |s| s.session(sid)).await {
            titles.insert(sid, session.title);
        }
    }
    let title = |sid: u64| titles.get(&sid).cloned().unwrap_or_default();
    let chat_messages = data
        .chat
        .iter()
        .map(|(sid, m)| ExportMessage {
            session_id: *sid,
            session_title: title(*sid),
            text: m.text.clone(),
            at: m.at,
            votes: None,
            answered: None,
        })
        .collect();
    let questions = data
        .questions
        .iter()
        .map(|(sid, q)| ExportMessage {
            session_id: *sid,
            session_title: title(*sid),
            text: q.text.clone(),
            at: q.at,
            votes: Some(q.voters.len()),
            answered: Some(q.answered),
        })
        .collect();
    Ok(AccountExportView {
        exported_at: state.clock.now(),
        profile: MeView::new(&data.user, state.config.accounts.verify_email),
        registrations,
        waitlist,
        chat_messages,
        questions,
    })
}
