//! Users, their sign-in sessions, the first-run admin setup token, password
//! resets, email confirmations and admin invitations.

use jiff::Timestamp;
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};

use super::codec::{decode, encode};
use super::sessions::{OutMail, put_outbox};
use super::{
    AUTH_SESSIONS, EMAIL_VERIFICATIONS, INVITATIONS, LIVE_CHAT, LIVE_QUESTIONS, META,
    PASSWORD_RESETS, Result, Store, StoreError, USER_EMAILS, USERS, next_id,
};
use crate::domain::DomainError;
use crate::domain::accounts::{
    Background, DELETED_NAME, invalid_invitation, invalid_reset_token, invalid_verify_token,
};
use crate::domain::live::{ChatMessage, Question};
use crate::domain::roster::Roster;
use crate::domain::sessions::Session;

/// A member account as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: u64,
    /// Normalised (lowercase) email; unique.
    pub email: String,
    pub name: String,
    #[serde(default)]
    pub bio: String,
    #[serde(default)]
    pub links: Vec<String>,
    /// argon2id PHC string.
    pub password_hash: String,
    #[serde(default)]
    pub is_admin: bool,
    #[serde(default)]
    pub is_premium: bool,
    pub created_at: Timestamp,
    /// Set when the member deleted their account: the row stays (so counts
    /// and rosters keep their shape) but holds no personal data, and no one
    /// can sign in to it.
    #[serde(default)]
    pub deleted_at: Option<Timestamp>,
    /// When the member proved the address is theirs (the mailed link, an
    /// invitation, a password reset, or an operator who created the account).
    #[serde(default)]
    pub email_verified_at: Option<Timestamp>,
    /// The live room's video background (a field with a serde default: rows
    /// written before it read as `none`, so no migration rewrites them).
    #[serde(default)]
    pub background: Background,
}

/// A signed-in browser: the cookie's SHA-256 is the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthSession {
    pub user_id: u64,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A password-reset link's token, stored as its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordReset {
    pub user_id: u64,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// An email-confirmation link's token, stored as its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailVerification {
    pub user_id: u64,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// An admin's invitation to create an account with `email`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub id: u64,
    /// SHA-256 of the token in the mailed link.
    pub token_hash: Vec<u8>,
    /// Normalised (lowercase) email the invitation is for.
    pub email: String,
    pub invited_by: u64,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// What a sign-up without an invitation did (the caller answers both alike).
#[derive(Debug, Clone)]
pub enum SignUp {
    /// A new account.
    Created(User),
    /// The email has an account already: nothing changed but the mail to its
    /// owner (when one was given).
    Taken,
}

/// Everything the store holds about one member, for "download my data".
#[derive(Debug, Clone)]
pub struct AccountExport {
    pub user: User,
    /// The sessions they are or were registered or waiting for, with rosters.
    pub sessions: Vec<(Session, Roster)>,
    /// Live chat messages they wrote, by session.
    pub chat: Vec<(u64, ChatMessage)>,
    /// Live questions they asked, by session.
    pub questions: Vec<(u64, Question)>,
}

/// Removes every sign-in session of `user_id` except the one keyed `keep`.
fn revoke_sessions(tx: &redb::WriteTransaction, user_id: u64, keep: Option<&[u8]>) -> Result<()> {
    tx.open_table(AUTH_SESSIONS)?.retain(|k, v| {
        keep.is_some_and(|keep| keep == k)
            || decode::<AuthSession>("auth_sessions", v).map_or(true, |s| s.user_id != user_id)
    })?;
    Ok(())
}

/// Removes every email-confirmation token of `user_id`.
fn revoke_verifications(tx: &redb::WriteTransaction, user_id: u64) -> Result<()> {
    tx.open_table(EMAIL_VERIFICATIONS)?.retain(|_, v| {
        decode::<EmailVerification>("email_verifications", v).map_or(true, |r| r.user_id != user_id)
    })?;
    Ok(())
}

/// The live invitation whose token hashes to `token_hash`, or `invalid_invitation`.
fn live_invitation(
    invitations: &impl ReadableTable<u64, &'static [u8]>,
    token_hash: &[u8],
    now: Timestamp,
) -> Result<Invitation> {
    for row in invitations.iter()? {
        let (_, v) = row.map_err(StoreError::from)?;
        let inv: Invitation = decode("invitations", v.value())?;
        if crate::util::constant_time_eq(&inv.token_hash, token_hash) {
            if inv.expires_at <= now {
                break;
            }
            return Ok(inv);
        }
    }
    Err(invalid_invitation().into())
}

/// Removes every password-reset token of `user_id`.
fn revoke_resets(tx: &redb::WriteTransaction, user_id: u64) -> Result<()> {
    tx.open_table(PASSWORD_RESETS)?.retain(|_, v| {
        decode::<PasswordReset>("password_resets", v).map_or(true, |r| r.user_id != user_id)
    })?;
    Ok(())
}

fn load_user(users: &impl ReadableTable<u64, &'static [u8]>, id: u64) -> Result<User> {
    let v = users.get(id)?.ok_or(StoreError::NotFound)?;
    decode("users", v.value())
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct UserUpdate {
    pub name: Option<String>,
    pub bio: Option<String>,
    pub links: Option<Vec<String>>,
    pub is_admin: Option<bool>,
    pub is_premium: Option<bool>,
    pub background: Option<Background>,
}

/// New-user fields, already validated by the domain rules.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub is_admin: bool,
    pub is_premium: bool,
    /// The address is known to be theirs already (setup, an invitation, the
    /// operator's command line).
    pub email_verified: bool,
}

fn email_taken() -> StoreError {
    DomainError::conflict(
        "email_taken",
        "An account with this email already exists. Sign in instead?",
    )
    .on("email")
    .into()
}

fn insert_user(tx: &redb::WriteTransaction, new: NewUser, now: Timestamp) -> Result<User> {
    let mut emails = tx.open_table(USER_EMAILS)?;
    if emails.get(new.email.as_str())?.is_some() {
        return Err(email_taken());
    }
    let id = next_id(tx, "next_id:user")?;
    let user = User {
        id,
        email: new.email,
        name: new.name,
        bio: String::new(),
        links: Vec::new(),
        password_hash: new.password_hash,
        is_admin: new.is_admin,
        is_premium: new.is_premium,
        created_at: now,
        deleted_at: None,
        email_verified_at: new.email_verified.then_some(now),
        background: Background::None,
    };
    emails.insert(user.email.as_str(), id)?;
    tx.open_table(USERS)?.insert(id, encode(&user).as_slice())?;
    Ok(user)
}

fn any_admin(users: &impl ReadableTable<u64, &'static [u8]>) -> Result<bool> {
    for row in users.iter()? {
        let (_, v) = row.map_err(StoreError::from)?;
        if decode::<User>("users", v.value())?.is_admin {
            return Ok(true);
        }
    }
    Ok(false)
}

impl Store {
    /// Creates an account; `email_taken` when the email exists.
    pub fn create_user(&self, new: NewUser, now: Timestamp) -> Result<User> {
        let tx = self.begin_write()?;
        let user = insert_user(&tx, new, now)?;
        self.commit(tx)?;
        Ok(user)
    }

    /// Creates an account and a sign-in session for it in one transaction.
    pub fn create_user_signed_in(
        &self,
        new: NewUser,
        session_hash: &[u8],
        session: &AuthSession,
        now: Timestamp,
    ) -> Result<User> {
        let tx = self.begin_write()?;
        let user = insert_user(&tx, new, now)?;
        let session = AuthSession {
            user_id: user.id,
            ..session.clone()
        };
        tx.open_table(AUTH_SESSIONS)?
            .insert(session_hash, encode(&session).as_slice())?;
        self.commit(tx)?;
        Ok(user)
    }

    /// A sign-up without an invitation, in one transaction whatever the
    /// case, so both take about as long: a new email creates the account
    /// (with its confirmation token and mail when given); a taken one
    /// changes nothing but queues `taken_mail` to the owner (or writes and
    /// removes a placeholder, so it commits like the other case).
    pub fn sign_up(
        &self,
        new: NewUser,
        verification: Option<(&[u8], &EmailVerification, OutMail)>,
        taken_mail: impl FnOnce(&User) -> Option<OutMail>,
        now: Timestamp,
    ) -> Result<SignUp> {
        let tx = self.begin_write()?;
        let existing = tx
            .open_table(USER_EMAILS)?
            .get(new.email.as_str())?
            .map(|v| v.value());
        if let Some(id) = existing {
            let owner = load_user(&tx.open_table(USERS)?, id)?;
            match taken_mail(&owner) {
                Some(mail) => put_outbox(&tx, &[mail])?,
                None => pad_write(&tx)?,
            }
            self.commit(tx)?;
            return Ok(SignUp::Taken);
        }
        let user = insert_user(&tx, new, now)?;
        if let Some((hash, v, mail)) = verification {
            let v = EmailVerification {
                user_id: user.id,
                ..v.clone()
            };
            tx.open_table(EMAIL_VERIFICATIONS)?
                .insert(hash, encode(&v).as_slice())?;
            put_outbox(&tx, &[mail])?;
        } else {
            pad_write(&tx)?;
        }
        self.commit(tx)?;
        Ok(SignUp::Created(user))
    }

    /// A password reset for an email without an account: the same rows as
    /// [`create_password_reset`](Self::create_password_reset) are written
    /// and taken back in one committed transaction, so the answer takes as
    /// long as for a member and nothing is left behind.
    pub fn password_reset_for_nobody(
        &self,
        token_hash: &[u8],
        reset: &PasswordReset,
        mail: OutMail,
    ) -> Result<()> {
        let tx = self.begin_write()?;
        tx.open_table(PASSWORD_RESETS)?
            .insert(token_hash, encode(reset).as_slice())?;
        put_outbox(&tx, &[mail])?;
        tx.open_table(PASSWORD_RESETS)?.remove(token_hash)?;
        let last = super::read_u64(&tx.open_table(META)?, "next_id:mail")?;
        tx.open_table(super::OUTBOX)?.remove(last)?;
        self.commit(tx)
    }

    /// Stores a new confirmation token for `user_id` and queues its mail.
    pub fn create_email_verification(
        &self,
        token_hash: &[u8],
        v: &EmailVerification,
        mail: OutMail,
    ) -> Result<()> {
        let tx = self.begin_write()?;
        tx.open_table(EMAIL_VERIFICATIONS)?
            .insert(token_hash, encode(v).as_slice())?;
        put_outbox(&tx, &[mail])?;
        self.commit(tx)?;
        Ok(())
    }

    /// Spends a confirmation token: the account's email counts as confirmed
    /// (from now, unless it already was), every confirmation token of it
    /// ends, and this browser is signed in, in one transaction. A token that
    /// does not exist, expired or was used is `invalid_token`.
    pub fn complete_email_verification(
        &self,
        token_hash: &[u8],
        session_hash: &[u8],
        session: &AuthSession,
        now: Timestamp,
    ) -> Result<User> {
        let tx = self.begin_write()?;
        let v: EmailVerification = match tx.open_table(EMAIL_VERIFICATIONS)?.get(token_hash)? {
            Some(v) => decode("email_verifications", v.value())?,
            None => return Err(invalid_verify_token().into()),
        };
        if v.expires_at <= now {
            return Err(invalid_verify_token().into());
        }
        let user = {
            let mut users = tx.open_table(USERS)?;
            let mut user = load_user(&users, v.user_id)?;
            if user.deleted_at.is_some() {
                return Err(invalid_verify_token().into());
            }
            user.email_verified_at.get_or_insert(now);
            users.insert(user.id, encode(&user).as_slice())?;
            user
        };
        revoke_verifications(&tx, user.id)?;
        let session = AuthSession {
            user_id: user.id,
            ..session.clone()
        };
        tx.open_table(AUTH_SESSIONS)?
            .insert(session_hash, encode(&session).as_slice())?;
        self.commit(tx)?;
        Ok(user)
    }

    /// An admin invites `email`: the invitation (its token as SHA-256) and
    /// its mail, together. An earlier open invitation for the same email is
    /// replaced; an email that has an account is `already_member`.
    pub fn create_invitation(
        &self,
        email: &str,
        token_hash: &[u8],
        invited_by: u64,
        expires_at: Timestamp,
        mail: OutMail,
        now: Timestamp,
    ) -> Result<Invitation> {
        let tx = self.begin_write()?;
        if tx.open_table(USER_EMAILS)?.get(email)?.is_some() {
            return Err(DomainError::conflict(
                "already_member",
                "Someone with this email is a member already.",
            )
            .on("email")
            .into());
        }
        let id = next_id(&tx, "next_id:invitation")?;
        let inv = Invitation {
            id,
            token_hash: token_hash.to_vec(),
            email: email.to_owned(),
            invited_by,
            created_at: now,
            expires_at,
        };
        {
            let mut t = tx.open_table(INVITATIONS)?;
            t.retain(|_, v| {
                decode::<Invitation>("invitations", v).map_or(true, |i| i.email != email)
            })?;
            t.insert(id, encode(&inv).as_slice())?;
        }
        put_outbox(&tx, &[mail])?;
        self.commit(tx)?;
        Ok(inv)
    }

    /// Open invitations (not used, revoked or expired), oldest first.
    pub fn invitations(&self, now: Timestamp) -> Result<Vec<Invitation>> {
        let tx = self.db()?.begin_read()?;
        let mut out = Vec::new();
        for row in tx.open_table(INVITATIONS)?.iter()? {
            let (_, v) = row.map_err(StoreError::from)?;
            let inv: Invitation = decode("invitations", v.value())?;
            if inv.expires_at > now {
                out.push(inv);
            }
        }
        Ok(out)
    }

    /// Withdraws an invitation; `NotFound` when there is none with this id.
    pub fn revoke_invitation(&self, id: u64) -> Result<Invitation> {
        let tx = self.begin_write()?;
        let inv = {
            let mut t = tx.open_table(INVITATIONS)?;
            let inv = t.remove(id)?.ok_or(StoreError::NotFound)?;
            decode::<Invitation>("invitations", inv.value())?
        };
        self.commit(tx)?;
        Ok(inv)
    }

    /// The open invitation behind a link's token, or `invalid_invitation`.
    pub fn invitation_by_token(&self, token_hash: &[u8], now: Timestamp) -> Result<Invitation> {
        let tx = self.db()?.begin_read()?;
        live_invitation(&tx.open_table(INVITATIONS)?, token_hash, now)
    }

    /// Sign-up with an invitation: checks and spends it, creates the
    /// account (its email confirmed by the invitation) and signs it in, in
    /// one transaction. `new.email` must be the invitation's.
    pub fn sign_up_invited(
        &self,
        token_hash: &[u8],
        mut new: NewUser,
        session_hash: &[u8],
        session: &AuthSession,
        now: Timestamp,
    ) -> Result<User> {
        let tx = self.begin_write()?;
        let inv = live_invitation(&tx.open_table(INVITATIONS)?, token_hash, now)?;
        if inv.email != new.email {
            return Err(DomainError::field(
                "invitation_mismatch",
                "email",
                "This invitation is for another email address: sign up with the address the invitation was sent to.",
            )
            .into());
        }
        new.email_verified = true;
        let user = insert_user(&tx, new, now)?;
        tx.open_table(INVITATIONS)?.remove(inv.id)?;
        let session = AuthSession {
            user_id: user.id,
            ..session.clone()
        };
        tx.open_table(AUTH_SESSIONS)?
            .insert(session_hash, encode(&session).as_slice())?;
        self.commit(tx)?;
        Ok(user)
    }

    pub fn user(&self, id: u64) -> Result<User> {
        let tx = self.db()?.begin_read()?;
        let users = tx.open_table(USERS)?;
        let v = users.get(id)?.ok_or(StoreError::NotFound)?;
        decode("users", v.value())
    }

    pub fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let tx = self.db()?.begin_read()?;
        let Some(id) = tx.open_table(USER_EMAILS)?.get(email)?.map(|v| v.value()) else {
            return Ok(None);
        };
        let users = tx.open_table(USERS)?;
        let v = users.get(id)?.ok_or(StoreError::Corrupt {
            table: "user_emails",
            reason: format!("email points at missing user {id}"),
        })?;
        Ok(Some(decode("users", v.value())?))
    }

    pub fn users(&self) -> Result<Vec<User>> {
        let tx = self.db()?.begin_read()?;
        let users = tx.open_table(USERS)?;
        let mut out = Vec::with_capacity(users.len()? as usize);
        for row in users.iter()? {
            let (_, v) = row.map_err(StoreError::from)?;
            out.push(decode("users", v.value())?);
        }
        Ok(out)
    }

    pub fn user_count(&self) -> Result<u64> {
        let tx = self.db()?.begin_read()?;
        Ok(tx.open_table(USERS)?.len()?)
    }

    pub fn has_admin(&self) -> Result<bool> {
        let tx = self.db()?.begin_read()?;
        any_admin(&tx.open_table(USERS)?)
    }

    /// Applies `update` to a user. Refuses to remove the last admin.
    pub fn update_user(&self, id: u64, update: UserUpdate) -> Result<User> {
        let tx = self.begin_write()?;
        let user = {
            let mut users = tx.open_table(USERS)?;
            let mut user: User = {
                let v = users.get(id)?.ok_or(StoreError::NotFound)?;
                decode("users", v.value())?
            };
            if update.is_admin == Some(false) && user.is_admin {
                let mut admins = 0;
                for row in users.iter()? {
                    let (_, v) = row.map_err(StoreError::from)?;
                    admins += u32::from(decode::<User>("users", v.value())?.is_admin);
                }
                if admins <= 1 {
                    return Err(DomainError::conflict(
                        "last_admin",
                        "This is the only admin. Make someone else an admin first.",
                    )
                    .into());
                }
            }
            let UserUpdate {
                name,
                bio,
                links,
                is_admin,
                is_premium,
                background,
            } = update;
            if let Some(v) = name {
                user.name = v;
            }
            if let Some(v) = bio {
                user.bio = v;
            }
            if let Some(v) = links {
                user.links = v;
            }
            if let Some(v) = is_admin {
                user.is_admin = v;
            }
            if let Some(v) = is_premium {
                user.is_premium = v;
            }
            if let Some(v) = background {
                user.background = v;
            }
            users.insert(id, encode(&user).as_slice())?;
            user
        };
        self.commit(tx)?;
        Ok(user)
    }

    pub fn create_auth_session(&self, hash: &[u8], session: &AuthSession) -> Result<()> {
        let tx = self.begin_write()?;
        tx.open_table(AUTH_SESSIONS)?
            .insert(hash, encode(session).as_slice())?;
        self.commit(tx)?;
        Ok(())
    }

    /// The signed-in user for a cookie hash, if the session exists and has not expired.
    pub fn session_user(&self, hash: &[u8], now: Timestamp) -> Result<Option<User>> {
        let tx = self.db()?.begin_read()?;
        let Some(v) = tx.open_table(AUTH_SESSIONS)?.get(hash)? else {
            return Ok(None);
        };
        let session: AuthSession = decode("auth_sessions", v.value())?;
        if session.expires_at <= now {
            return Ok(None);
        }
        let users = tx.open_table(USERS)?;
        match users.get(session.user_id)? {
            Some(u) => Ok(Some(decode("users", u.value())?)),
            None => Ok(None),
        }
    }

    /// Sets a new password hash and signs the user out everywhere except
    /// the sign-in session keyed `keep` (one transaction). Open reset links
    /// stop working too.
    pub fn change_password(
        &self,
        id: u64,
        password_hash: String,
        keep: Option<&[u8]>,
    ) -> Result<User> {
        let tx = self.begin_write()?;
        let user = {
            let mut users = tx.open_table(USERS)?;
            let mut user = load_user(&users, id)?;
            user.password_hash = password_hash;
            users.insert(id, encode(&user).as_slice())?;
            user
        };
        revoke_sessions(&tx, id, keep)?;
        revoke_resets(&tx, id)?;
        self.commit(tx)?;
        Ok(user)
    }

    /// Stores a reset token's hash and queues the mail carrying the link,
    /// together.
    pub fn create_password_reset(
        &self,
        token_hash: &[u8],
        reset: &PasswordReset,
        mail: OutMail,
    ) -> Result<()> {
        let tx = self.begin_write()?;
        tx.open_table(PASSWORD_RESETS)?
            .insert(token_hash, encode(reset).as_slice())?;
        put_outbox(&tx, &[mail])?;
        self.commit(tx)?;
        Ok(())
    }

    /// The account a live (unused, unexpired) reset token belongs to, or
    /// `invalid_token`.
    pub fn password_reset_user(&self, token_hash: &[u8], now: Timestamp) -> Result<User> {
        let tx = self.db()?.begin_read()?;
        let reset: PasswordReset = match tx.open_table(PASSWORD_RESETS)?.get(token_hash)? {
            Some(v) => decode("password_resets", v.value())?,
            None => return Err(invalid_reset_token().into()),
        };
        if reset.expires_at <= now {
            return Err(invalid_reset_token().into());
        }
        let user = load_user(&tx.open_table(USERS)?, reset.user_id)?;
        if user.deleted_at.is_some() {
            return Err(invalid_reset_token().into());
        }
        Ok(user)
    }

    /// Spends a reset token: sets the new password, signs the user out
    /// everywhere, spends every other reset token of theirs and signs this
    /// browser in, in one transaction. A token that does not exist, expired
    /// or was used is `invalid_token` and nothing changes.
    pub fn complete_password_reset(
        &self,
        token_hash: &[u8],
        password_hash: String,
        session_hash: &[u8],
        session: &AuthSession,
        now: Timestamp,
    ) -> Result<User> {
        let tx = self.begin_write()?;
        let reset: PasswordReset = match tx.open_table(PASSWORD_RESETS)?.get(token_hash)? {
            Some(v) => decode("password_resets", v.value())?,
            None => return Err(invalid_reset_token().into()),
        };
        if reset.expires_at <= now {
            return Err(invalid_reset_token().into());
        }
        let user = {
            let mut users = tx.open_table(USERS)?;
            let mut user = load_user(&users, reset.user_id)?;
            if user.deleted_at.is_some() {
                return Err(invalid_reset_token().into());
            }
            user.password_hash = password_hash;
            // The link came by mail: the address is theirs.
            user.email_verified_at.get_or_insert(now);
            users.insert(user.id, encode(&user).as_slice())?;
            user
        };
        revoke_sessions(&tx, user.id, None)?;
        revoke_resets(&tx, user.id)?;
        revoke_verifications(&tx, user.id)?;
        let session = AuthSession {
            user_id: user.id,
            ..session.clone()
        };
        tx.open_table(AUTH_SESSIONS)?
            .insert(session_hash, encode(&session).as_slice())?;
        self.commit(tx)?;
        Ok(user)
    }

    /// Deletes a member's account in one transaction: the row keeps its id
    /// (rosters, votes and counts keep their shape) but loses the email
    /// (freed for a new account), the password, profile and flags; the name
    /// becomes "Deleted member" there and in the live chat and questions
    /// they wrote; their sign-in sessions and reset links are gone. The last
    /// admin cannot delete themself (`last_admin`).
    pub fn delete_account(&self, id: u64, now: Timestamp) -> Result<()> {
        let tx = self.begin_write()?;
        {
            let mut users = tx.open_table(USERS)?;
            let mut user = load_user(&users, id)?;
            if user.deleted_at.is_some() {
                return Err(StoreError::NotFound);
            }
            if user.is_admin {
                let mut admins = 0;
                for row in users.iter()? {
                    let (_, v) = row.map_err(StoreError::from)?;
                    admins += u32::from(decode::<User>("users", v.value())?.is_admin);
                }
                if admins <= 1 {
                    return Err(DomainError::conflict(
                        "last_admin",
                        "You are the only admin. Make someone else an admin before you delete your account.",
                    )
                    .into());
                }
            }
            tx.open_table(USER_EMAILS)?.remove(user.email.as_str())?;
            user.email = String::new();
            user.name = DELETED_NAME.to_owned();
            user.bio = String::new();
            user.links = Vec::new();
            user.password_hash = String::new();
            user.is_admin = false;
            user.is_premium = false;
            user.email_verified_at = None;
            user.background = Background::None;
            user.deleted_at = Some(now);
            users.insert(id, encode(&user).as_slice())?;
        }
        revoke_sessions(&tx, id, None)?;
        revoke_resets(&tx, id)?;
        revoke_verifications(&tx, id)?;
        rename_author(&tx, LIVE_CHAT, "live_chat", |m: &mut ChatMessage| {
            let mine = m.user_id == id;
            if mine {
                m.name = DELETED_NAME.to_owned();
            }
            mine
        })?;
        rename_author(&tx, LIVE_QUESTIONS, "live_questions", |q: &mut Question| {
            let mine = q.user_id == id;
            if mine {
                q.name = DELETED_NAME.to_owned();
            }
            mine
        })?;
        self.commit(tx)?;
        Ok(())
    }

    /// What the store holds about one member, read in one transaction
    /// (sessions are read after it; a session changed in between shows its
    /// newer state).
    pub fn account_export(&self, id: u64) -> Result<AccountExport> {
        let (user, chat, questions) = {
            let tx = self.db()?.begin_read()?;
            let user = load_user(&tx.open_table(USERS)?, id)?;
            let mut chat = Vec::new();
            for row in tx.open_table(LIVE_CHAT)?.iter()? {
                let (k, v) = row.map_err(StoreError::from)?;
                let m: ChatMessage = decode("live_chat", v.value())?;
                if m.user_id == id {
                    chat.push((k.value().0, m));
                }
            }
            let mut questions = Vec::new();
            for row in tx.open_table(LIVE_QUESTIONS)?.iter()? {
                let (k, v) = row.map_err(StoreError::from)?;
                let q: Question = decode("live_questions", v.value())?;
                if q.user_id == id {
                    questions.push((k.value().0, q));
                }
            }
            (user, chat, questions)
        };
        let sessions = self.sessions_of_user(id)?;
        Ok(AccountExport {
            user,
            sessions,
            chat,
            questions,
        })
    }

    pub fn delete_auth_session(&self, hash: &[u8]) -> Result<()> {
        let tx = self.begin_write()?;
        tx.open_table(AUTH_SESSIONS)?.remove(hash)?;
        self.commit(tx)?;
        Ok(())
    }

    /// Removes expired sign-in sessions; returns how many.
    pub fn purge_expired_sessions(&self, now: Timestamp) -> Result<usize> {
        let tx = self.begin_write()?;
        let mut removed = 0;
        {
            let mut t = tx.open_table(AUTH_SESSIONS)?;
            t.retain(|_, v| {
                let keep = decode::<AuthSession>("auth_sessions", v)
                    .map(|s| s.expires_at > now)
                    .unwrap_or(false);
                removed += usize::from(!keep);
                keep
            })?;
            tx.open_table(PASSWORD_RESETS)?.retain(|_, v| {
                decode::<PasswordReset>("password_resets", v)
                    .map(|r| r.expires_at > now)
                    .unwrap_or(false)
            })?;
            tx.open_table(EMAIL_VERIFICATIONS)?.retain(|_, v| {
                decode::<EmailVerification>("email_verifications", v)
                    .map(|r| r.expires_at > now)
                    .unwrap_or(false)
            })?;
            tx.open_table(INVITATIONS)?.retain(|_, v| {
                decode::<Invitation>("invitations", v)
                    .map(|r| r.expires_at > now)
                    .unwrap_or(false)
            })?;
        }
        self.commit(tx)?;
        Ok(removed)
    }

    /// When no admin exists, stores the hash of a fresh one-time setup token and
    /// returns true; returns false (storing nothing) when an admin exists.
    pub fn arm_setup_token(&self, token_hash: &[u8]) -> Result<bool> {
        let tx = self.begin_write()?;
        if any_admin(&tx.open_table(USERS)?)? {
            tx.open_table(META)?.remove("setup_token")?;
            self.commit(tx)?;
            return Ok(false);
        }
        tx.open_table(META)?.insert("setup_token", token_hash)?;
        self.commit(tx)?;
        Ok(true)
    }

    /// Creates the first admin if `token_hash` matches the armed setup token and
    /// no admin exists, consuming the token, and signs them in — all in one
    /// transaction, so of two racing requests exactly one succeeds.
    pub fn complete_setup(
        &self,
        token_hash: &[u8],
        mut new: NewUser,
        session_hash: &[u8],
        session: &AuthSession,
        now: Timestamp,
    ) -> Result<User> {
        let tx = self.begin_write()?;
        if any_admin(&tx.open_table(USERS)?)? {
            return Err(DomainError::conflict(
                "already_set_up",
                "Podium is already set up: an administrator exists. Sign in instead.",
            )
            .into());
        }
        let armed = tx
            .open_table(META)?
            .get("setup_token")?
            .map(|v| v.value().to_vec());
        let matches = armed.is_some_and(|a| crate::util::constant_time_eq(&a, token_hash));
        if !matches {
            return Err(DomainError::forbidden(
                "invalid_setup_token",
                "This setup link is not valid. Use the link printed by the server at start-up.",
            )
            .into());
        }
        new.is_admin = true;
        new.email_verified = true;
        let user = insert_user(&tx, new, now)?;
        tx.open_table(META)?.remove("setup_token")?;
        let session = AuthSession {
            user_id: user.id,
            ..session.clone()
        };
        tx.open_table(AUTH_SESSIONS)?
            .insert(session_hash, encode(&session).as_slice())?;
        self.commit(tx)?;
        Ok(user)
    }
}

/// Writes and removes a placeholder in META: a commit that costs about what
/// a small real change costs and leaves nothing behind.
fn pad_write(tx: &redb::WriteTransaction) -> Result<()> {
    let mut meta = tx.open_table(META)?;
    meta.insert("pad", &[0u8; 64][..])?;
    meta.remove("pad")?;
    Ok(())
}

/// Rewrites the rows of a live table (chat, questions) that `rename`
/// changes (it returns whether it did), in the caller's transaction.
fn rename_author<T: Serialize + serde::de::DeserializeOwned>(
    tx: &redb::WriteTransaction,
    def: redb::TableDefinition<(u64, u64), &[u8]>,
    name: &'static str,
    rename: impl Fn(&mut T) -> bool,
) -> Result<()> {
    let mut table = tx.open_table(def)?;
    let mut renamed = Vec::new();
    for row in table.iter()? {
        let (k, v) = row.map_err(StoreError::from)?;
        let mut value: T = decode(name, v.value())?;
        if rename(&mut value) {
            renamed.push((k.value(), value));
        }
    }
    for (k, value) in renamed {
        table.insert(k, encode(&value).as_slice())?;
    }
    Ok(())
}
