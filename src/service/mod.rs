//! The application services: what a person can do, with its rules, its
//! store transaction and its effects (mail, the live room, the media
//! engine). `http` parses requests, calls these and renders the answer;
//! `live` and `mail` are driven from here and never reach back.

pub mod accounts;
pub mod backup;
pub mod events;
pub mod live;
pub mod materials;
pub mod sessions;
pub mod video;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};
use lettre::message::Mailbox;
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::config::Config;
use crate::domain::ratelimit::{Backoff, SlidingWindow};
use crate::hashing::{Busy, HashPool};
use crate::live::LiveHub;
use crate::mail::MailContext;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};

/// Everything a request handler may use.
#[derive(Debug)]
pub struct AppState {
    pub config: Config,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub limits: SigninLimits,
    /// Where passwords are hashed: a few threads and a short queue.
    pub hasher: HashPool,
    /// The Content-Security-Policy header value.
    pub csp: String,
    /// The live room page's policy: `csp` plus the YouTube player (video on stage).
    pub csp_live_room: String,
    /// Cookies get `Secure` when the public URL is https.
    pub secure_cookies: bool,
    /// What mails need to know about the community.
    pub mail_ctx: MailContext,
    pub mail_from: Mailbox,
    /// Wakes the mail sender after a change queued mail.
    pub mail_wake: Arc<Notify>,
    /// Running live sessions.
    pub live: LiveHub,
    /// The media engine (SFU) on the QUIC address.
    pub sfu: podium_media::SfuHandle,
    /// The host name browsers use for the app, and so for WebTransport.
    pub public_host: String,
    /// Reads uploaded PDFs and renders their pages (bounded, cached).
    pub slides: crate::slides::Slides,
}

impl AppState {
    /// Runs a store call on the blocking pool (redb does file IO and fsync).
    /// A storage failure anywhere in the call degrades the store
    /// ([`Store::observe`]).
    pub async fn blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        self.store.run(f).await
    }

    /// Wakes the mail sender a moment after the answer went out, so its work
    /// (delivery, the outbox write) does not slow the answer down: the
    /// answers that must not tell whether an email has an account (sign-up,
    /// password reset) wake it this way whether or not they queued a mail.
    pub fn wake_mail_after_answer(&self) {
        let wake = self.mail_wake.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            wake.notify_one();
        });
    }

    /// Runs password hashing on the bounded hashing pool ([`HashPool`]);
    /// `Busy` when its workers and queue are full.
    pub async fn hash<T, F>(&self, f: F) -> Result<T, Busy>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.hasher.run(f).await
    }
}

/// Sign-in attempts per account (email) and per client address, sign-up
/// attempts per client address. An attempt counts from the moment it starts
/// (so a flood of concurrent guesses is cut off before it is hashed); a
/// sign-in that succeeds is taken back.
#[derive(Debug)]
pub struct SigninLimits {
    /// Per account: slowed down (a growing delay), never locked.
    per_account: Mutex<Backoff<String>>,
    per_ip: Mutex<SlidingWindow<IpAddr>>,
    signups_per_ip: Mutex<SlidingWindow<IpAddr>>,
    /// Password-reset requests per client address (as many as sign-ups).
    resets_per_ip: Mutex<SlidingWindow<IpAddr>>,
    /// "Someone tried to sign up with your address" mails per address: one
    /// an hour, so sign-ups cannot flood a member's inbox.
    taken_mails_per_email: Mutex<SlidingWindow<String>>,
    /// "Send the link again" per account: three an hour.
    confirm_mails_per_account: Mutex<SlidingWindow<u64>>,
}

impl SigninLimits {
    pub fn new(config: &Config) -> Self {
        let window = SignedDuration::try_from(config.accounts.signin_window).expect("window fits");
        let signup_window =
            SignedDuration::try_from(config.accounts.signup_window).expect("window fits");
        Self {
            per_account: Mutex::new(Backoff::new(
                config.accounts.signin_failures_per_account,
                window,
            )),
            per_ip: Mutex::new(SlidingWindow::new(
                config.accounts.signin_failures_per_ip,
                window,
            )),
            signups_per_ip: Mutex::new(SlidingWindow::new(
                config.accounts.signups_per_ip,
                signup_window,
            )),
            resets_per_ip: Mutex::new(SlidingWindow::new(
                config.accounts.signups_per_ip,
                signup_window,
            )),
            taken_mails_per_email: Mutex::new(SlidingWindow::new(1, SignedDuration::from_hours(1))),
            confirm_mails_per_account: Mutex::new(SlidingWindow::new(
                3,
                SignedDuration::from_hours(1),
            )),
        }
    }

    /// Counts a sign-in attempt against both limits, or says how long the
    /// caller must wait when either is used up (then nothing is counted).
    pub fn signin_attempt(
        &self,
        email: &str,
        ip: IpAddr,
        now: Timestamp,
    ) -> Result<(), SignedDuration> {
        let mut account = self.per_account.lock().expect("limits lock");
        let mut per_ip = self.per_ip.lock().expect("limits lock");
        let key = email.to_owned();
        let wait = account.blocked(&key, now).max(per_ip.blocked(&ip, now));
        if let Some(wait) = wait {
            return Err(wait);
        }
        account.record(&key, now);
        per_ip.record(&ip, now);
        Ok(())
    }

    /// The attempt succeeded: the account's failures are forgiven and the
    /// attempt no longer counts against the address.
    pub fn signin_succeeded(&self, email: &str, ip: IpAddr) {
        self.per_account
            .lock()
            .expect("limits lock")
            .clear(&email.to_owned());
        self.per_ip.lock().expect("limits lock").forget_one(&ip);
    }

    /// The attempt never ran (the hashing pool was full): it does not count.
    pub fn signin_not_attempted(&self, email: &str, ip: IpAddr) {
        self.per_account
            .lock()
            .expect("limits lock")
            .forget_one(&email.to_owned());
        self.per_ip.lock().expect("limits lock").forget_one(&ip);
    }

    /// Counts a sign-up attempt from `ip`, or says how long to wait.
    pub fn signup_attempt(&self, ip: IpAddr, now: Timestamp) -> Result<(), SignedDuration> {
        self.signups_per_ip
            .lock()
            .expect("limits lock")
            .try_record(&ip, now)
    }

    /// Counts a password-reset request from `ip`, or says how long to wait.
    pub fn reset_attempt(&self, ip: IpAddr, now: Timestamp) -> Result<(), SignedDuration> {
        self.resets_per_ip
            .lock()
            .expect("limits lock")
            .try_record(&ip, now)
    }

    /// Whether the owner of `email` may be told of another sign-up with it now.
    pub fn may_send_taken_mail(&self, email: &str, now: Timestamp) -> bool {
        self.taken_mails_per_email
            .lock()
            .expect("limits lock")
            .blocked(&email.to_owned(), now)
            .is_none()
    }

    /// The owner of `email` was told of a sign-up with it.
    pub fn taken_mail_sent(&self, email: &str, now: Timestamp) {
        self.taken_mails_per_email
            .lock()
            .expect("limits lock")
            .record(&email.to_owned(), now);
    }

    /// Counts a "send the confirmation link again" of `user_id`, or says how
    /// long to wait.
    pub fn confirm_mail(&self, user_id: u64, now: Timestamp) -> Result<(), SignedDuration> {
        self.confirm_mails_per_account
            .lock()
            .expect("limits lock")
            .try_record(&user_id, now)
    }

    pub fn sweep(&self, now: Timestamp) {
        self.taken_mails_per_email
            .lock()
            .expect("limits lock")
            .sweep(now);
        self.confirm_mails_per_account
            .lock()
            .expect("limits lock")
            .sweep(now);
        self.per_account.lock().expect("limits lock").sweep(now);
        self.per_ip.lock().expect("limits lock").sweep(now);
        self.signups_per_ip.lock().expect("limits lock").sweep(now);
        self.resets_per_ip.lock().expect("limits lock").sweep(now);
    }
}
