//! A real SMTP server on 127.0.0.1 (Python aiosmtpd, tests/smtp_sink.py)
//! that files every received message as JSON, with its ICS invite parsed by
//! the `icalendar` library.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub struct SmtpSink {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Option<Child>,
    /// How long the sink waits, after filing a message, before it answers 250.
    reply_delay_ms: u64,
}

fn python() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-venv/bin/python3");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = SmtpSink {
            port: free_port(),
            dir,
            child: None,
            reply_delay_ms: 0,
        };
        sink.resume();
        sink
    }

    /// A sink that is not listening yet (mail to it fails until `resume`).
    pub fn down() -> SmtpSink {
        SmtpSink {
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            child: None,
            reply_delay_ms: 0,
        }
    }

    /// A sink that files each message at once but answers 250 only after
    /// `ms` (a window in which the sender has handed a mail over but does
    /// not know it yet).
    pub fn slow(ms: u64) -> SmtpSink {
        let mut sink = Self::down();
        sink.reply_delay_ms = ms;
        sink.resume();
        sink
    }

    /// Starts (again) listening on the same port.
    pub fn resume(&mut self) {
        assert!(self.child.is_none());
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_sink.py");
        let mut child = Command::new(python())
            .arg(script)
            .arg(self.port.to_string())
            .arg(self.dir.path())
            .arg(self.reply_delay_ms.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 with aiosmtpd (the test command installs it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "SMTP sink failed to start");
        self.child = Some(child);
    }

    /// The `[mail]` config that sends to this sink.
    pub fn config(&self) -> String {
        format!(
            "[mail]\nfrom = \"Test Community <noreply@podium.test>\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\nsmtp_security = \"none\"\n",
            self.port
        )
    }

    /// Every message received so far, in arrival order.
    pub fn mails(&self) -> Vec<Value> {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }

    /// Waits until at least `n` messages have arrived (20 s at most).
    pub async fn wait_for(&self, n: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let m = self.mails();
            if m.len() >= n {
                return m;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {n} mails, got {}: {:#?}",
                m.len(),
                m.iter()
                    .map(|x| (&x["to"], &x["subject"]))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Mails to one address.
    pub fn to(&self, email: &str) -> Vec<Value> {
        self.mails()
            .into_iter()
            .filter(|m| m["rcpt_to"].as_array().unwrap().iter().any(|r| r == email))
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
