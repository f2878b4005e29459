//! Email: what Podium tells people (templates with plain-text and HTML
//! bodies and an ICS invite), the outbox row that commits with the change
//! that caused it, and the sender task that delivers it.

pub mod ics;
pub mod sender;

use jiff::Timestamp;

use crate::domain::roster::Effect;
use crate::domain::sessions::{Role, Session};
use crate::store::User;

pub use crate::store::OutMail;

/// What every mail needs to know about the community.
#[derive(Debug, Clone)]
pub struct MailContext {
    pub community: String,
    pub physical_address: String,
    pub base_url: String,
    pub from_email: String,
    /// Host part used in Message-IDs and UIDs.
    pub domain: String,
}

impl MailContext {
    /// The context for a server reached at `base_url` (links in mails), the
    /// sender address from `[mail] from`.
    pub fn new(config: &crate::config::Config, base_url: &str, from_email: String) -> Self {
        let domain = base_url
            .split("://")
            .nth(1)
            .unwrap_or("podium.invalid")
            .split([':', '/'])
            .next()
            .unwrap_or("podium.invalid")
            .to_owned();
        MailContext {
            community: config.community.name.clone(),
            physical_address: config.community.physical_address.clone(),
            base_url: base_url.to_owned(),
            from_email,
            domain,
        }
    }
}

/// What happened, for the template.
#[derive(Debug, Clone)]
pub enum MailKind {
    Registered { role: Role },
    Cancelled,
    RoleChanged { from: Role, to: Role },
    Removed,
    SessionCancelled,
    SessionChanged { what: String },
    Offered { role: Role, expires_at: Timestamp },
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// "Tuesday 1 December 2026, 18:00–18:45 (Europe/Berlin, CET)".
pub fn when(session: &Session) -> String {
    let tz = jiff::tz::TimeZone::get(&session.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let start = session.starts_at.to_zoned(tz.clone());
    let end = session.ends_at().to_zoned(tz);
    format!(
        "{}, {}–{} ({}, {})",
        start.strftime("%A %-d %B %Y"),
        start.strftime("%H:%M"),
        end.strftime("%H:%M"),
        session.time_zone,
        start.strftime("%Z"),
    )
}

fn at_local(session: &Session, t: Timestamp) -> String {
    let tz = jiff::tz::TimeZone::get(&session.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let z = t.to_zoned(tz);
    format!("{} ({})", z.strftime("%A %-d %B, %H:%M"), session.time_zone)
}

fn location(ctx: &MailContext, s: &Session) -> String {
    match &s.meeting_url {
        Some(u) => u.clone(),
        None => format!("Podium live room: {}/sessions/{}", ctx.base_url, s.id),
    }
}

/// The stable ICS UID of one person's registration in one session.
pub fn registration_uid(ctx: &MailContext, session_id: u64, user_id: u64) -> String {
    format!("registration-{session_id}-{user_id}@{}", ctx.domain)
}

/// Builds one mail to `user` about `session`. `ics_sequence` is the
/// registration's invite SEQUENCE for this mail (None: no invite attached).
pub fn compose(
    ctx: &MailContext,
    session: &Session,
    user: &User,
    kind: &MailKind,
    ics_sequence: Option<u32>,
    now: Timestamp,
) -> OutMail {
    let link = format!("{}/sessions/{}", ctx.base_url, session.id);
    let title = &session.title;
    let (subject, lead, cancel) = match kind {
        MailKind::Registered { role } => (
            format!("You're registered: {title}"),
            format!(
                "You are registered as {} for \"{title}\". The invite is attached; add it to your calendar.",
                role.label().to_lowercase()
            ),
            false,
        ),
        MailKind::Cancelled => (
            format!("Registration cancelled: {title}"),
            format!(
                "Your registration for \"{title}\" is cancelled and your place has been freed. You can register again while places are open."
            ),
            true,
        ),
        MailKind::RoleChanged { from, to } => (
            format!("Your role changed: {title}"),
            format!(
                "An organiser changed your role in \"{title}\" from {} to {}.",
                from.label().to_lowercase(),
                to.label().to_lowercase()
            ),
            false,
        ),
        MailKind::Removed => (
            format!("You were removed from {title}"),
            format!(
                "An organiser removed you from \"{title}\". If you think this is a mistake, reply to the organisers."
            ),
            true,
        ),
        MailKind::SessionCancelled => (
            format!("Cancelled: {title}"),
            format!("\"{title}\" has been cancelled. We are sorry for the change of plans."),
            true,
        ),
        MailKind::SessionChanged { what } => (
            format!("Updated: {title}"),
            format!("\"{title}\" has changed: {what}. The updated invite is attached."),
            false,
        ),
        MailKind::Offered { role, expires_at } => (
            format!("A place opened for you: {title}"),
            format!(
                "A {} place in \"{title}\" is free and held for you until {}. Claim it on the session page before then, or it goes to the next person waiting.",
                role.label().to_lowercase(),
                at_local(session, *expires_at)
            ),
            false,
        ),
    };
    let when = when(session);
    let loc = location(ctx, session);
    // An event session names its event and host company.
    let host = session
        .event
        .as_ref()
        .map(|e| format!("{} at {}", e.company_name, e.event_name));
    let host_text = host
        .as_ref()
        .map_or_else(String::new, |h| format!("Hosted by: {h}\n"));
    let host_html = host.as_ref().map_or_else(String::new, |h| {
        format!(
            "<tr><td style=\"padding:2px 12px 2px 0;color:#555\">Hosted by</td><td>{}</td></tr>",
            esc(h)
        )
    });
    let footer = if ctx.physical_address.is_empty() {
        format!("{} · sent by Podium", ctx.community)
    } else {
        format!("{} · {}", ctx.community, ctx.physical_address)
    };
    let text = format!(
        "Hello {name},\n\n{lead}\n\nSession: {title}\n{host_text}When: {when}\nWhere: {loc}\nDetails: {link}\n\n-- \n{footer}\nYou receive this because of your registration on {base}.\n",
        name = user.name,
        base = ctx.base_url,
    );
    let html = format!(
        "<!doctype html><html><body style=\"font-family:system-ui,sans-serif;color:#1c1b29;line-height:1.5\">\
<p>Hello {name},</p><p>{lead}</p>\
<table style=\"border-collapse:collapse\"><tr><td style=\"padding:2px 12px 2px 0;color:#555\">Session</td><td><strong>{title}</strong></td></tr>{host_html}\
<tr><td style=\"padding:2px 12px 2px 0;color:#555\">When</td><td>{when}</td></tr>\
<tr><td style=\"padding:2px 12px 2px 0;color:#555\">Where</td><td>{loc}</td></tr></table>\
<p><a href=\"{link}\" style=\"color:#4338ca\">Open the session page</a></p>\
<hr style=\"border:0;border-top:1px solid #ddd\"><p style=\"color:#666;font-size:12px\">{footer}<br>You receive this because of your registration on {base}.</p></body></html>",
        name = esc(&user.name),
        lead = esc(&lead),
        title = esc(title),
        when = esc(&when),
        loc = esc(&loc),
        link = esc(&link),
        footer = esc(&footer),
        base = esc(&ctx.base_url),
    );
    let ics = ics_sequence.map(|sequence| {
        let uid = registration_uid(ctx, session.id, user.id);
        ics::render(&ics::Invite {
            uid: &uid,
            sequence,
            cancel,
            summary: title,
            description: &format!("{}{}\n\n{link}", host_text, session.description),
            location: &loc,
            url: &link,
            starts_at: session.starts_at,
            ends_at: session.ends_at(),
            time_zone: &session.time_zone,
            organizer_name: &ctx.community,
            organizer_email: &ctx.from_email,
            attendee_name: &user.name,
            attendee_email: &user.email,
            stamp: now,
        })
    });
    OutMail {
        message_id: format!("<{}@{}>", crate::util::random_token(), ctx.domain),
        to_email: user.email.clone(),
        to_name: user.name.clone(),
        subject,
        text,
        html,
        ics_method: ics
            .as_ref()
            .map(|_| if cancel { "CANCEL" } else { "REQUEST" }.to_owned()),
        ics,
        created_at: now,
        attempts: 0,
        next_attempt_at: None,
        last_error: None,
        handed_over_at: None,
    }
}

/// Turns roster effects into mails kind by kind (the caller bumps ICS sequences).
pub fn effect_kind(e: &Effect) -> (u64, MailKind) {
    match *e {
        Effect::Registered { user_id, role } => (user_id, MailKind::Registered { role }),
        Effect::Cancelled { user_id } => (user_id, MailKind::Cancelled),
        Effect::Offered {
            user_id,
            role,
            expires_at,
        } => (user_id, MailKind::Offered { role, expires_at }),
        Effect::RoleChanged { user_id, from, to } => (user_id, MailKind::RoleChanged { from, to }),
        Effect::Removed { user_id } => (user_id, MailKind::Removed),
    }
}

/// Whether a mail kind carries the registration's invite.
pub fn carries_invite(kind: &MailKind) -> bool {
    !matches!(kind, MailKind::Offered { .. })
}

/// The mail with a password-reset link (`link` carries the token; it works
/// once, for an hour).
pub fn password_reset(ctx: &MailContext, user: &User, link: &str, now: Timestamp) -> OutMail {
    let footer = if ctx.physical_address.is_empty() {
        format!("{} · sent by Podium", ctx.community)
    } else {
        format!("{} · {}", ctx.community, ctx.physical_address)
    };
    let subject = format!("Reset your password for {}", ctx.community);
    let lead = "Someone (we hope you) asked to reset the password of your account. \
Open this link within one hour to choose a new one; it works once. \
If you did not ask for this, ignore this mail: your password stays as it is.";
    let text = format!(
        "Hello {name},\n\n{lead}\n\n{link}\n\n-- \n{footer}\nYou receive this because a password reset was asked for on {base}.\n",
        name = user.name,
        base = ctx.base_url,
    );
    let html = format!(
        "<!doctype html><html><body style=\"font-family:system-ui,sans-serif;color:#1c1b29;line-height:1.5\">\
<p>Hello {name},</p><p>{lead}</p>\
<p><a href=\"{link}\" style=\"color:#4338ca\">Choose a new password</a></p>\
<p style=\"color:#555;font-size:13px\">{link}</p>\
<hr style=\"border:0;border-top:1px solid #ddd\"><p style=\"color:#666;font-size:12px\">{footer}<br>You receive this because a password reset was asked for on {base}.</p></body></html>",
        name = esc(&user.name),
        lead = esc(lead),
        link = esc(link),
        footer = esc(&footer),
        base = esc(&ctx.base_url),
    );
    OutMail {
        message_id: format!("<{}@{}>", crate::util::random_token(), ctx.domain),
        to_email: user.email.clone(),
        to_name: user.name.clone(),
        subject,
        text,
        html,
        ics: None,
        ics_method: None,
        created_at: now,
        attempts: 0,
        next_attempt_at: None,
        last_error: None,
        handed_over_at: None,
    }
}

#[allow(clippy::too_many_arguments)]
/// One short account mail: a greeting, a paragraph, an optional button
/// link, and why they receive it.
fn account_mail(
    ctx: &MailContext,
    to_email: &str,
    to_name: &str,
    subject: String,
    lead: &str,
    link: Option<(&str, &str)>,
    why: &str,
    now: Timestamp,
) -> OutMail {
    let footer = if ctx.physical_address.is_empty() {
        format!("{} · sent by Podium", ctx.community)
    } else {
        format!("{} · {}", ctx.community, ctx.physical_address)
    };
    let greeting = if to_name.is_empty() {
        "Hello,".to_owned()
    } else {
        format!("Hello {to_name},")
    };
    let link_text = link.map_or_else(String::new, |(_, url)| format!("{url}\n\n"));
    let link_html = link.map_or_else(String::new, |(label, url)| {
        format!(
            "<p><a href=\"{url}\" style=\"color:#4338ca\">{label}</a></p><p style=\"color:#555;font-size:13px\">{url}</p>",
            url = esc(url),
            label = esc(label)
        )
    });
    let text = format!(
        "{greeting}\n\n{lead}\n\n{link_text}-- \n{footer}\n{why} {base}.\n",
        base = ctx.base_url,
    );
    let html = format!(
        "<!doctype html><html><body style=\"font-family:system-ui,sans-serif;color:#1c1b29;line-height:1.5\">\
<p>{greeting}</p><p>{lead}</p>{link_html}\
<hr style=\"border:0;border-top:1px solid #ddd\"><p style=\"color:#666;font-size:12px\">{footer}<br>{why} {base}.</p></body></html>",
        greeting = esc(&greeting),
        lead = esc(lead),
        footer = esc(&footer),
        why = esc(why),
        base = esc(&ctx.base_url),
    );
    OutMail {
        message_id: format!("<{}@{}>", crate::util::random_token(), ctx.domain),
        to_email: to_email.to_owned(),
        to_name: to_name.to_owned(),
        subject,
        text,
        html,
        ics: None,
        ics_method: None,
        created_at: now,
        attempts: 0,
        next_attempt_at: None,
        last_error: None,
        handed_over_at: None,
    }
}

/// The mail with the link that confirms a new (or unconfirmed) account's
/// address and signs its owner in (`link` carries the token; it works once,
/// for 24 hours).
pub fn confirm_email(
    ctx: &MailContext,
    email: &str,
    name: &str,
    link: &str,
    now: Timestamp,
) -> OutMail {
    account_mail(
        ctx,
        email,
        name,
        format!("Confirm your email for {}", ctx.community),
        "Welcome! Open this link within 24 hours to confirm that this address is yours; it signs you in. It works once. If you did not create an account, ignore this mail.",
        Some(("Confirm my email", link)),
        "You receive this because an account was created with this address on",
        now,
    )
}

/// To the owner of an account when someone signs up with its email again.
pub fn signup_with_existing_email(ctx: &MailContext, user: &User, now: Timestamp) -> OutMail {
    let signin = format!("{}/signin", ctx.base_url);
    account_mail(
        ctx,
        &user.email,
        &user.name,
        format!(
            "Someone tried to sign up with your address on {}",
            ctx.community
        ),
        &format!(
            "Someone tried to create a new account with this email address, which already has an account. If it was you, sign in instead (or choose \"Forgot password?\" there to set a new password). If it was not you, you need not do anything: your account did not change. Sign in: {signin}"
        ),
        None,
        "You receive this because of a sign-up with your address on",
        now,
    )
}

/// An admin's invitation (`link` opens sign-up with the address filled in;
/// it works once, for 7 days).
pub fn invitation(
    ctx: &MailContext,
    email: &str,
    inviter: &str,
    link: &str,
    now: Timestamp,
) -> OutMail {
    account_mail(
        ctx,
        email,
        "",
        format!("You're invited to {}", ctx.community),
        &format!(
            "{inviter} invites you to join {} on Podium. Open this link within 7 days to create your account; it works once.",
            ctx.community
        ),
        Some(("Create my account", link)),
        "You receive this because an admin invited this address on",
        now,
    )
}
