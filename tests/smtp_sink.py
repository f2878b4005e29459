"""A real SMTP server for Podium's tests (aiosmtpd) that files each message
it receives as JSON in a directory, with the calendar invite parsed by the
`icalendar` library so tests see whether it imports cleanly.

Usage: python3 tests/smtp_sink.py PORT OUT_DIR [REPLY_DELAY_MS]
(prints "ready" when listening; with a delay, each message is filed at once
and answered 250 only after the delay)
"""

import asyncio
import email
import email.policy
import json
import os
import sys

from aiosmtpd.controller import Controller
import icalendar


def parse_ics(raw: bytes) -> dict:
    try:
        cal = icalendar.Calendar.from_ical(raw)
    except Exception as e:  # the test reports what the parser said
        return {"error": f"{type(e).__name__}: {e}"}
    events = [c for c in cal.walk("VEVENT")]
    tzs = [str(c.get("TZID")) for c in cal.walk("VTIMEZONE")]
    out = {"method": str(cal.get("METHOD", "")), "timezones": tzs, "events": []}
    for ev in events:
        start = ev.decoded("DTSTART")
        end = ev.decoded("DTEND")
        out["events"].append({
            "uid": str(ev.get("UID")),
            "sequence": int(ev.get("SEQUENCE", 0)),
            "status": str(ev.get("STATUS", "")),
            "summary": str(ev.get("SUMMARY", "")),
            "start_utc": start.astimezone(__import__("datetime").timezone.utc).isoformat(),
            "end_utc": end.astimezone(__import__("datetime").timezone.utc).isoformat(),
            "tzid": str(ev["DTSTART"].params.get("TZID", "")),
        })
    return out


class Handler:
    def __init__(self, out_dir, reply_delay_ms=0):
        self.out_dir = out_dir
        self.reply_delay = reply_delay_ms / 1000
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = html = None
        ics = None
        for part in msg.walk():
            ctype = part.get_content_type()
            if ctype == "text/plain" and text is None:
                text = part.get_content()
            elif ctype == "text/html" and html is None:
                html = part.get_content()
            elif ctype == "text/calendar":
                raw = part.get_payload(decode=True)
                ics = {"content_type": part.get("Content-Type"), "raw": raw.decode("utf-8"), "parsed": parse_ics(raw)}
        self.n += 1
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_to": envelope.rcpt_tos,
            "message_id": str(msg.get("Message-ID", "")),
            "to": str(msg.get("To", "")),
            "from": str(msg.get("From", "")),
            "subject": str(msg.get("Subject", "")),
            "text": text,
            "html": html,
            "ics": ics,
        }
        path = os.path.join(self.out_dir, f"{self.n:05d}-{os.getpid()}.json")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, path)
        if self.reply_delay:
            await asyncio.sleep(self.reply_delay)
        return "250 Message accepted"


def main():
    port, out_dir = int(sys.argv[1]), sys.argv[2]
    delay = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    os.makedirs(out_dir, exist_ok=True)
    controller = Controller(Handler(out_dir, delay), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        sys.stdin.read()  # runs until the test closes our stdin or kills us
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
