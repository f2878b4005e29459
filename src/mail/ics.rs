//! iCalendar (RFC 5545) invites: one VEVENT per registration with a stable
//! UID, the session's VTIMEZONE built from the tz database, SEQUENCE bumped
//! on every change, METHOD:CANCEL when it is called off.

use std::fmt::Write;

use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};

/// What an invite says.
#[derive(Debug, Clone)]
pub struct Invite<'a> {
    pub uid: &'a str,
    pub sequence: u32,
    pub cancel: bool,
    pub summary: &'a str,
    pub description: &'a str,
    pub location: &'a str,
    pub url: &'a str,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub time_zone: &'a str,
    pub organizer_name: &'a str,
    pub organizer_email: &'a str,
    pub attendee_name: &'a str,
    pub attendee_email: &'a str,
    pub stamp: Timestamp,
}

/// Escapes a TEXT value.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Quotes a parameter value (CN=...), dropping characters it cannot hold.
fn param(s: &str) -> String {
    let clean: String = s.chars().filter(|c| !c.is_control() && *c != '"').collect();
    format!("\"{clean}\"")
}

/// Folds a content line at 75 octets (never inside a UTF-8 sequence) and ends it with CRLF.
fn fold_into(out: &mut String, line: &str) {
    let mut width = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

fn utc(t: Timestamp) -> String {
    t.strftime("%Y%m%dT%H%M%SZ").to_string()
}

fn local(t: Timestamp, tz: &TimeZone) -> String {
    t.to_zoned(tz.clone()).strftime("%Y%m%dT%H%M%S").to_string()
}

fn offset(o: Offset) -> String {
    let secs = o.seconds();
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.unsigned_abs();
    if a.is_multiple_of(60) {
        format!("{sign}{:02}{:02}", a / 3600, a / 60 % 60)
    } else {
        format!("{sign}{:02}{:02}{:02}", a / 3600, a / 60 % 60, a % 60)
    }
}

/// VTIMEZONE with the observances in effect from a year before to a year
/// after the event (enough for every client to place it correctly).
fn vtimezone(lines: &mut Vec<String>, name: &str, tz: &TimeZone, around: Timestamp) {
    lines.push("BEGIN:VTIMEZONE".into());
    lines.push(format!("TZID:{name}"));
    // Saturating: a session stored before dates were bounded may sit at the
    // edge of what a timestamp can hold.
    let year = SignedDuration::from_hours(24 * 366);
    let from = around.saturating_sub(year).unwrap_or(around);
    let until = around.saturating_add(year).unwrap_or(around);
    let transitions: Vec<_> = tz
        .following(from)
        .take_while(|t| t.timestamp() <= until)
        .take(8)
        .collect();
    if transitions.is_empty() {
        let o = tz.to_offset(around);
        let abbr = around.to_zoned(tz.clone()).strftime("%Z").to_string();
        lines.push("BEGIN:STANDARD".into());
        lines.push("DTSTART:19700101T000000".into());
        lines.push(format!("TZOFFSETFROM:{}", offset(o)));
        lines.push(format!("TZOFFSETTO:{}", offset(o)));
        lines.push(format!("TZNAME:{}", text(&abbr)));
        lines.push("END:STANDARD".into());
    }
    for t in transitions {
        let before = tz.to_offset(t.timestamp() - SignedDuration::from_secs(1));
        let kind = if t.dst().is_dst() {
            "DAYLIGHT"
        } else {
            "STANDARD"
        };
        // DTSTART is the wall-clock time of the change in the old offset.
        let wall = t
            .timestamp()
            .to_zoned(TimeZone::fixed(before))
            .strftime("%Y%m%dT%H%M%S")
            .to_string();
        lines.push(format!("BEGIN:{kind}"));
        lines.push(format!("DTSTART:{wall}"));
        lines.push(format!("TZOFFSETFROM:{}", offset(before)));
        lines.push(format!("TZOFFSETTO:{}", offset(t.offset())));
        lines.push(format!("TZNAME:{}", text(t.abbreviation())));
        lines.push(format!("END:{kind}"));
    }
    lines.push("END:VTIMEZONE".into());
}

/// Renders the whole VCALENDAR with CRLF line endings.
pub fn render(inv: &Invite<'_>) -> String {
    let tz = TimeZone::get(inv.time_zone).unwrap_or(TimeZone::UTC);
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        concat!(
            "PRODID:-//Podium//Podium ",
            env!("CARGO_PKG_VERSION"),
            "//EN"
        )
        .to_owned(),
        "CALSCALE:GREGORIAN".to_owned(),
        format!("METHOD:{}", if inv.cancel { "CANCEL" } else { "REQUEST" }),
    ];
    vtimezone(&mut lines, inv.time_zone, &tz, inv.starts_at);
    lines.push("BEGIN:VEVENT".into());
    lines.push(format!("UID:{}", text(inv.uid)));
    lines.push(format!("DTSTAMP:{}", utc(inv.stamp)));
    lines.push(format!(
        "DTSTART;TZID={}:{}",
        inv.time_zone,
        local(inv.starts_at, &tz)
    ));
    lines.push(format!(
        "DTEND;TZID={}:{}",
        inv.time_zone,
        local(inv.ends_at, &tz)
    ));
    lines.push(format!("SEQUENCE:{}", inv.sequence));
    lines.push(format!(
        "STATUS:{}",
        if inv.cancel { "CANCELLED" } else { "CONFIRMED" }
    ));
    lines.push(format!("SUMMARY:{}", text(inv.summary)));
    lines.push(format!("DESCRIPTION:{}", text(inv.description)));
    lines.push(format!("LOCATION:{}", text(inv.location)));
    lines.push(format!("URL:{}", inv.url));
    lines.push(format!(
        "ORGANIZER;CN={}:mailto:{}",
        param(inv.organizer_name),
        inv.organizer_email
    ));
    lines.push(format!(
        "ATTENDEE;CN={};ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=FALSE:mailto:{}",
        param(inv.attendee_name),
        inv.attendee_email
    ));
    lines.push("END:VEVENT".into());
    lines.push("END:VCALENDAR".into());
    let mut out = String::with_capacity(2048);
    for l in &lines {
        fold_into(&mut out, l);
    }
    let _ = out.write_str("");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite(zone: &str, cancel: bool) -> String {
        render(&Invite {
            uid: "registration-7-3@podium.example",
            sequence: 2,
            cancel,
            summary: "Rust; in, production",
            description: "Line one\nLine two with a long tail that goes on and on past the seventy-five octet limit of iCalendar lines, äöü",
            location: "Podium live room",
            url: "http://127.0.0.1:8080/sessions/7",
            starts_at: "2026-12-01T17:00:00Z".parse().unwrap(),
            ends_at: "2026-12-01T17:45:00Z".parse().unwrap(),
            time_zone: zone,
            organizer_name: "Rust Peers",
            organizer_email: "noreply@podium.example",
            attendee_name: "Grace \"Amazing\" Hopper",
            attendee_email: "grace@example.org",
            stamp: "2026-11-22T12:00:00Z".parse().unwrap(),
        })
    }

    #[test]
    fn berlin_invite_has_both_observances_and_local_times() {
        let ics = invite("Europe/Berlin", false);
        assert!(ics.contains("METHOD:REQUEST\r\n"));
        assert!(ics.contains("DTSTART;TZID=Europe/Berlin:20261201T180000\r\n"));
        assert!(ics.contains("BEGIN:DAYLIGHT\r\n"));
        assert!(ics.contains("BEGIN:STANDARD\r\n"));
        assert!(ics.contains(
            "DTSTART:20261025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET"
        ));
        assert!(ics.contains("SUMMARY:Rust\\; in\\, production\r\n"));
        assert!(ics.contains("SEQUENCE:2\r\n"));
        assert!(ics.contains("CN=\"Grace Amazing Hopper\""));
        for line in ics.split("\r\n") {
            assert!(line.len() <= 75, "line too long: {line:?}");
        }
        assert!(
            !ics.replace("\r\n", "").contains('\n'),
            "only CRLF line ends"
        );
    }

    #[test]
    fn cancel_and_zones_without_changes() {
        let ics = invite("Asia/Tokyo", true);
        assert!(ics.contains("METHOD:CANCEL\r\n"));
        assert!(ics.contains("STATUS:CANCELLED\r\n"));
        assert!(ics.contains("TZOFFSETFROM:+0900\r\nTZOFFSETTO:+0900"));
        assert!(ics.contains("DTSTART;TZID=Asia/Tokyo:20261202T020000"));
    }
}
