//! The application services: what a person can do, with its rules, its
//! store transaction and its effects (mail, the live room, the media
//! engine). `http` parses requests, calls these and renders the answer;
//! `live` and `mail` are driven from here and never reach back.

pub mod live;
pub mod sessions;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};
use lettre::message::Mailbox;
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::config::Config;
use crate::domain::ratelimit::SlidingWindow;
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
    pub metrics: Metrics,
    pub limits: SigninLimits,
    /// The Content-Security-Policy header value.
    pub csp: String,
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
}

impl AppState {
    /// Runs a store call on the blocking pool (redb does file IO and fsync).
    pub async fn blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .expect("store task panicked")
    }

    /// Runs CPU-heavy work (password hashing) off the async threads.
    pub async fn cpu<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        Ok(tokio::task::spawn_blocking(f)
            .await
            .expect("cpu task panicked"))
    }
}

/// Failed sign-in counting per account (email) and per client address.
#[derive(Debug)]
pub struct SigninLimits {
    per_account: Mutex<SlidingWindow<String>>,
    per_ip: Mutex<SlidingWindow<IpAddr>>,
}

impl SigninLimits {
    pub fn new(config: &Config) -> Self {
        let window = SignedDuration::try_from(config.accounts.signin_window).expect("window fits");
        Self {
            per_account: Mutex::new(SlidingWindow::new(
                config.accounts.signin_failures_per_account,
                window,
            )),
            per_ip: Mutex::new(SlidingWindow::new(
                config.accounts.signin_failures_per_ip,
                window,
            )),
        }
    }

    /// How long the caller must wait, when either limit is used up.
    pub fn signin_blocked(
        &self,
        email: &str,
        ip: IpAddr,
        now: Timestamp,
    ) -> Option<SignedDuration> {
        let a = self
            .per_account
            .lock()
            .expect("limits lock")
            .blocked(&email.to_owned(), now);
        let i = self.per_ip.lock().expect("limits lock").blocked(&ip, now);
        a.max(i)
    }

    pub fn signin_failed(&self, email: &str, ip: IpAddr, now: Timestamp) {
        self.per_account
            .lock()
            .expect("limits lock")
            .record(&email.to_owned(), now);
        self.per_ip.lock().expect("limits lock").record(&ip, now);
    }

    pub fn signin_succeeded(&self, email: &str) {
        self.per_account
            .lock()
            .expect("limits lock")
            .clear(&email.to_owned());
    }

    pub fn sweep(&self, now: Timestamp) {
        self.per_account.lock().expect("limits lock").sweep(now);
        self.per_ip.lock().expect("limits lock").sweep(now);
    }
}
