//! Delivers the outbox: SMTP through lettre, or `.eml` files in the data dir
//! when no SMTP server is configured. Failed deliveries are retried with
//! exponential backoff; a Message-ID is delivered at most once.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::SignedDuration;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::Notify;

use super::OutMail;
use crate::config::{MailConfig, SmtpSecurity};
use crate::service::AppState;

/// Where mail goes.
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// No SMTP configured: write each mail as an `.eml` file here.
    Files(PathBuf),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Smtp(_) => f.write_str("Transport::Smtp"),
            Transport::Files(p) => write!(f, "Transport::Files({})", p.display()),
        }
    }
}

impl Transport {
    pub fn from_config(mail: &MailConfig, data_dir: &std::path::Path) -> anyhow::Result<Self> {
        let Some(host) = &mail.smtp_host else {
            return Ok(Transport::Files(data_dir.join("mail")));
        };
        let builder = match mail.smtp_security {
            SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            SmtpSecurity::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?,
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?,
        };
        let mut builder = builder
            .port(mail.smtp_port)
            .timeout(Some(Duration::from_secs(15)));
        if let (Some(u), Some(p)) = (&mail.smtp_username, &mail.smtp_password) {
            builder = builder.credentials(Credentials::new(u.clone(), p.clone()));
        }
        Ok(Transport::Smtp(builder.build()))
    }
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

async fn deliver(transport: &Transport, msg: &Message, m: &OutMail) -> anyhow::Result<()> {
    match transport {
        Transport::Smtp(t) => {
            t.send(msg.clone()).await?;
        }
        Transport::Files(dir) => {
            tokio::fs::create_dir_all(dir).await?;
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
            tokio::fs::write(&path, msg.formatted()).await?;
            tracing::info!(file = %path.display(), subject = %m.subject, "mail written (no SMTP configured)");
        }
    }
    Ok(())
}

/// The sender task: delivers due mails whenever woken or when a retry is due.
pub async fn run(state: Arc<AppState>, transport: Transport, wake: Arc<Notify>) {
    let from = state.mail_from.clone();
    loop {
        let now = state.clock.now();
        let due = match state.blocking(move |s| s.due_mails(now, 50)).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "reading the outbox failed");
                Vec::new()
            }
        };
        let processed = due.len();
        for (id, mail) in due {
            let result = match build_message(&mail, &from) {
                Ok(msg) => deliver(&transport, &msg, &mail).await,
                Err(e) => Err(e),
            };
            let now = state.clock.now();
            let outcome = match result {
                Ok(()) => {
                    state.metrics.mails_sent.inc();
                    let mid = mail.message_id.clone();
                    state.blocking(move |s| s.mark_sent(id, &mid, now)).await
                }
                Err(e) => {
                    state.metrics.mail_failures.inc();
                    let attempts = mail.attempts + 1;
                    let retry_at = now + backoff(attempts);
                    tracing::warn!(error = %e, attempts, subject = %mail.subject, "mail delivery failed; will retry");
                    let err = e.to_string();
                    state
                        .blocking(move |s| s.mark_failed(id, attempts, retry_at, &err))
                        .await
                }
            };
            if let Err(e) = outcome {
                tracing::error!(error = %e, "updating the outbox failed");
            }
        }
        let now = state.clock.now();
        let next = state.blocking(|s| s.next_mail_due()).await.ok().flatten();
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
