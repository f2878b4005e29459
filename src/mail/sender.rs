//! Delivers the outbox: SMTP, or `.eml` files in the data dir when no SMTP
//! server is configured. Failed deliveries are retried with exponential
//! backoff.
//!
//! At most once per Message-ID, including across crashes: SMTP has no way to
//! make "the server accepted it" and "we wrote that down" one step, so the
//! sender writes the hand-over down first. It talks SMTP itself (lettre's
//! connection, not its transport) up to the point of no return — connected,
//! authenticated, `MAIL`/`RCPT` accepted, `DATA` answered 354 — then commits
//! [`Store::claim_mail`](crate::store::Store::claim_mail), then sends the
//! message. A failure before the claim, or a refusal the server answered
//! (4xx/5xx after the message), is certain non-delivery and is retried. A
//! lost connection or a crash after the claim is uncertain: the mail may have
//! arrived, so it is never sent again; it is logged with its Message-ID and
//! counted in `podium_mails_uncertain_total`. That is the price of never
//! sending twice: a crash in the milliseconds between the claim and the
//! server's answer can lose that one mail.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::SignedDuration;
use lettre::Message;
use lettre::address::Envelope;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use tokio::sync::Notify;

use super::OutMail;
use crate::config::{MailConfig, SmtpSecurity};
use crate::store::{Health, PROBE_EVERY};

/// An SMTP server to deliver to.
pub struct Smtp {
    host: String,
    port: u16,
    security: SmtpSecurity,
    credentials: Option<Credentials>,
    timeout: Duration,
}

/// Where mail goes.
pub enum Transport {
    Smtp(Smtp),
    /// No SMTP configured: write each mail as an `.eml` file here.
    Files(PathBuf),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Smtp(s) => write!(f, "Transport::Smtp({}:{})", s.host, s.port),
            Transport::Files(p) => write!(f, "Transport::Files({})", p.display()),
        }
    }
}

impl Transport {
    pub fn from_config(mail: &MailConfig, data_dir: &std::path::Path) -> anyhow::Result<Self> {
        let Some(host) = &mail.smtp_host else {
            return Ok(Transport::Files(data_dir.join("mail")));
        };
        if mail.smtp_security != SmtpSecurity::None {
            // Fail at start-up, not at the first mail, when TLS cannot be set up.
            TlsParameters::new(host.clone())?;
        }
        Ok(Transport::Smtp(Smtp {
            host: host.clone(),
            port: mail.smtp_port,
            security: mail.smtp_security,
            credentials: match (&mail.smtp_username, &mail.smtp_password) {
                (Some(u), Some(p)) => Some(Credentials::new(u.clone(), p.clone())),
                _ => None,
            },
            timeout: Duration::from_secs(15),
        }))
    }
}

/// How a delivery attempt failed.
#[derive(Debug)]
pub enum Failure {
    /// Certainly not delivered (nothing was handed over, or the server
    /// refused it): safe to retry.
    NotSent(anyhow::Error),
    /// Handed over, then the answer was lost: it may have arrived.
    Uncertain(anyhow::Error),
}

/// Builds the MIME message: text and HTML alternatives plus the invite.
pub fn build_message(m: &OutMail, from: &Mailbox) -> anyhow::Result<Message> {
    let to = Mailbox::new(Some(m.to_name.clone()), m.to_email.parse()?);
    let body = MultiPart::alternative()
        .singlepart(SinglePart::plain(m.text.clone()))
        .singlepart(SinglePart::html(m.html.clone()));
    let body = match (&m.ics, &m.ics_method) {
        (Some(ics), Some(method)) => MultiPart::mixed().multipart(body).singlepart(
            Attachment::new("invite.ics".to_owned()).body(
                ics.clone(),
                ContentType::parse(&format!("text/calendar; charset=utf-8; method={method}"))?,
            ),
        ),
        _ => MultiPart::mixed().multipart(body),
    };
    Ok(Message::builder()
        .message_id(Some(m.message_id.clone()))
        .from(from.clone())
        .to(to)
        .subject(m.subject.clone())
        .date(std::time::SystemTime::from(m.created_at))
        .multipart(body)?)
}

/// Backoff after `attempts` failures: 1 s, 2 s, 4 s ... at most 5 minutes.
pub fn backoff(attempts: u32) -> SignedDuration {
    SignedDuration::from_secs(1i64 << attempts.min(10)).min(SignedDuration::from_mins(5))
}

/// Delivers one mail. `claim` records the hand-over and runs right before
/// the point of no return; if it fails, nothing is handed over.
async fn deliver<C>(
    transport: &Transport,
    msg: &Message,
    m: &OutMail,
    claim: C,
) -> Result<(), Failure>
where
    C: Future<Output = anyhow::Result<()>>,
{
    match transport {
        Transport::Smtp(smtp) => smtp_send(smtp, msg, claim).await,
        Transport::Files(dir) => {
            let not_sent = |e: std::io::Error| Failure::NotSent(e.into());
            tokio::fs::create_dir_all(dir).await.map_err(not_sent)?;
            let name: String = m
                .message_id
                .trim_matches(['<', '>'])
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let path = dir.join(format!(
                "{}-{name}.eml",
                m.created_at.strftime("%Y%m%dT%H%M%S")
            ));
            claim.await.map_err(Failure::NotSent)?;
            tokio::fs::write(&path, msg.formatted())
                .await
                .map_err(|e| Failure::Uncertain(e.into()))?;
            tracing::info!(file = %path.display(), subject = %m.subject, "mail written (no SMTP configured)");
            Ok(())
        }
    }
}

/// One SMTP transaction, claimed right before the message is sent.
async fn smtp_send<C>(smtp: &Smtp, msg: &Message, claim: C) -> Result<(), Failure>
where
    C: Future<Output = anyhow::Result<()>>,
{
    let not_sent = |e: lettre::transport::smtp::Error| Failure::NotSent(e.into());
    let hello = ClientId::default();
    let tls = || TlsParameters::new(smtp.host.clone()).map_err(not_sent);
    let wrapper = match smtp.security {
        SmtpSecurity::Tls => Some(tls()?),
        SmtpSecurity::None | SmtpSecurity::StartTls => None,
    };
    let mut conn = AsyncSmtpConnection::connect_tokio1(
        (smtp.host.as_str(), smtp.port),
        Some(smtp.timeout),
        &hello,
        wrapper,
        None,
    )
    .await
    .map_err(not_sent)?;
    let result = async {
        if smtp.security == SmtpSecurity::StartTls {
            conn.starttls(tls()?, &hello).await.map_err(not_sent)?;
        }
        if let Some(c) = &smtp.credentials {
            conn.auth(DEFAULT_MECHANISMS, c).await.map_err(not_sent)?;
        }
        let envelope: &Envelope = msg.envelope();
        let body = msg.formatted();
        let mut options = Vec::new();
        let non_ascii = envelope
            .to()
            .iter()
            .chain(envelope.from())
            .any(|a| !AsRef::<str>::as_ref(a).is_ascii());
        if non_ascii {
            if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
                return Err(Failure::NotSent(anyhow::anyhow!(
                    "the SMTP server does not support SMTPUTF8 for non-ASCII addresses"
                )));
            }
            options.push(MailParameter::SmtpUtfEight);
        }
        if !body.is_ascii() {
            options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        conn.command(Mail::new(envelope.from().cloned(), options))
            .await
            .map_err(not_sent)?;
        for to in envelope.to() {
            conn.command(Rcpt::new(to.clone(), vec![]))
                .await
                .map_err(not_sent)?;
        }
        conn.command(Data).await.map_err(not_sent)?;
        claim.await.map_err(Failure::NotSent)?;
        match conn.message(&body).await {
            Ok(_) => Ok(()),
            // The server answered: it refused the message, certainly.
            Err(e) if e.is_transient() || e.is_permanent() => Err(Failure::NotSent(e.into())),
            Err(e) => Err(Failure::Uncertain(e.into())),
        }
    }
    .await;
    let _ = conn.quit().await;
    result
}

/// What the sender needs: the store with the outbox, the clock, the
/// counters and the sender address (never the whole application state).
#[derive(Debug, Clone)]
pub struct Outbox {
    pub store: crate::store::Store,
    pub clock: Arc<dyn crate::clock::Clock>,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub mail_from: lettre::message::Mailbox,
}

/// The sender task: delivers due mails whenever woken or when a retry is due.
pub async fn run(outbox: Outbox, transport: Transport, wake: Arc<Notify>) {
    let state = &outbox;
    let from = state.mail_from.clone();
    loop {
        if state.store.health() != Health::Ok {
            // Storage is failing: nothing can be claimed or marked. The
            // housekeeping probe finds out when it works again.
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(PROBE_EVERY) => {}
            }
            continue;
        }
        let now = state.clock.now();
        let due = match state.store.run(move |s| s.due_mails(now, 50)).await {
            Ok(found) => {
                for m in &found.uncertain {
                    // Claimed by a process that stopped before it knew.
                    state.metrics.mails_uncertain.inc();
                    tracing::warn!(message_id = %m.message_id, subject = %m.subject, "mail was being handed over when Podium stopped; it may not have arrived and is not sent again");
                }
                found.due
            }
            Err(e) => {
                tracing::error!(error = %e, "reading the outbox failed");
                Vec::new()
            }
        };
        let processed = due.len();
        for (id, mail) in due {
            let claim = async {
                let now = state.clock.now();
                state
                    .store
                    .run(move |s| s.claim_mail(id, now))
                    .await
                    .map_err(anyhow::Error::from)
            };
            let result = match build_message(&mail, &from) {
                Ok(msg) => deliver(&transport, &msg, &mail, claim).await,
                Err(e) => Err(Failure::NotSent(e)),
            };
            let now = state.clock.now();
            let outcome = match result {
                Ok(()) => {
                    state.metrics.mails_sent.inc();
                    let mid = mail.message_id.clone();
                    state.store.run(move |s| s.mark_sent(id, &mid, now)).await
                }
                Err(Failure::Uncertain(e)) => {
                    // It may have arrived: never again (at most once).
                    state.metrics.mails_uncertain.inc();
                    tracing::warn!(error = %e, message_id = %mail.message_id, subject = %mail.subject, "mail handed over but not confirmed; it may not have arrived and is not sent again");
                    let mid = mail.message_id.clone();
                    state.store.run(move |s| s.mark_sent(id, &mid, now)).await
                }
                Err(Failure::NotSent(e)) => {
                    state.metrics.mail_failures.inc();
                    let attempts = mail.attempts + 1;
                    let retry_at = now + backoff(attempts);
                    tracing::warn!(error = %e, attempts, subject = %mail.subject, "mail delivery failed; will retry");
                    let err = e.to_string();
                    state
                        .store
                        .run(move |s| s.mark_failed(id, attempts, retry_at, &err))
                        .await
                }
            };
            if let Err(e) = outcome {
                tracing::error!(error = %e, "updating the outbox failed");
            }
        }
        let now = state.clock.now();
        let next = state.store.run(|s| s.next_mail_due()).await.ok().flatten();
        let wait = match next {
            Some(t) if t <= now => Duration::from_millis(0),
            Some(t) => Duration::try_from(t.duration_since(now))
                .unwrap_or(Duration::from_secs(60))
                .min(Duration::from_secs(60)),
            None => Duration::from_secs(60),
        };
        if wait.is_zero() && processed > 0 {
            continue;
        }
        let wait = wait.max(Duration::from_millis(200));
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1), SignedDuration::from_secs(2));
        assert_eq!(backoff(3), SignedDuration::from_secs(8));
        assert_eq!(backoff(30), SignedDuration::from_mins(5));
    }
}
