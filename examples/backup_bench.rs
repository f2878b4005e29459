//! Benchmark: a backup of a store with 10,000 users and 1,000 sessions,
//! taken while a loop of request-sized store calls (a read and a write, as
//! a sign-up does) keeps running; prints the backup's time and size and the
//! loop's latency before and during the backups.
//!
//! `cargo run --release --example backup_bench`

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use podium::store::{NewUser, Store};

fn user(i: u64) -> NewUser {
    NewUser {
        email: format!("member{i}@example.org"),
        name: format!("Member number {i}"),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0123456789abcdef0123456789abcdef0123456789a".into(),
        is_admin: false,
        is_premium: i.is_multiple_of(10),
        email_verified: true,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Runs the loop until `stop`; returns each iteration's time.
fn request_loop(store: Store, stop: Arc<AtomicBool>, first: u64) -> Vec<Duration> {
    let mut took = Vec::new();
    let mut i = first;
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        store.user_by_email("member42@example.org").unwrap();
        store.create_user(user(i), jiff::Timestamp::now()).unwrap();
        took.push(t.elapsed());
        i += 1;
    }
    took.sort();
    took
}

fn show(label: &str, took: &[Duration]) {
    println!(
        "{label:<22} {:>6} calls  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
        took.len(),
        percentile(took, 0.5).as_secs_f64() * 1e3,
        percentile(took, 0.99).as_secs_f64() * 1e3,
        took.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let t = Instant::now();
    for i in 0..10_000 {
        store.create_user(user(i), jiff::Timestamp::now()).unwrap();
    }
    for n in 0..1_000 {
        let mut s = podium::domain::sessions::new_draft(1, "Europe/Berlin", jiff::Timestamp::now());
        s.title = format!("Session {n}: a talk with a reasonably long title");
        s.description = "A description of a few hundred characters. ".repeat(8);
        store.create_session(s).unwrap();
    }
    println!(
        "filled 10,000 users and 1,000 sessions in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let db_bytes = std::fs::metadata(dir.path().join("podium.redb"))
        .unwrap()
        .len();
    println!("store file: {:.1} MB", db_bytes as f64 / 1e6);

    // The loop alone.
    let stop = Arc::new(AtomicBool::new(false));
    let h = {
        let (s, st) = (store.clone(), stop.clone());
        std::thread::spawn(move || request_loop(s, st, 100_000))
    };
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    show("loop, no backup", &h.join().unwrap());

    // The loop while backups run back to back.
    let stop = Arc::new(AtomicBool::new(false));
    let h = {
        let (s, st) = (store.clone(), stop.clone());
        std::thread::spawn(move || request_loop(s, st, 200_000))
    };
    let out = tempfile::tempdir().unwrap();
    for n in 0..10 {
        let report = store
            .backup_to(&out.path().join(format!("b{n}.redb")))
            .unwrap();
        println!(
            "backup {n}: {} ms, {:.1} MB, {} rows",
            report.millis,
            report.bytes as f64 / 1e6,
            report.rows()
        );
    }
    stop.store(true, Ordering::Relaxed);
    show("loop, during backups", &h.join().unwrap());
}
