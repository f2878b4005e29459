//! Users, their sign-in sessions and the first-run admin setup token.

use jiff::Timestamp;
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};

use super::codec::{decode, encode};
use super::{AUTH_SESSIONS, META, Result, Store, StoreError, USER_EMAILS, USERS, next_id};
use crate::domain::DomainError;

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
}

/// A signed-in browser: the cookie's SHA-256 is the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthSession {
    pub user_id: u64,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct UserUpdate {
    pub name: Option<String>,
    pub bio: Option<String>,
    pub links: Option<Vec<String>>,
    pub is_admin: Option<bool>,
    pub is_premium: Option<bool>,
}

/// New-user fields, already validated by the domain rules.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub is_admin: bool,
    pub is_premium: bool,
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
