//! Password hashing, bounded. argon2id with the crate's default parameters
//! holds ~19 MiB while it runs, so hashing on an unbounded thread pool lets
//! anyone with a sign-in form spend the server's memory (64 concurrent
//! wrong sign-ins once took it from 15 MiB to 1.2 GiB). Instead a fixed set
//! of worker threads (one per CPU by default) hashes, with a short queue in
//! front; when both are full the caller gets [`Busy`] at once and answers
//! 503 with `Retry-After`. Fixed threads also keep the allocator's memory
//! bounded: each worker reuses its own arena, so the peak stays at about
//! `workers × 19 MiB` however long the flood lasts.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// Every worker is hashing and the queue is full (or the pool is gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// A fixed pool of hashing threads with a bounded queue.
#[derive(Debug)]
pub struct HashPool {
    tx: SyncSender<Job>,
    workers: usize,
    queue: usize,
}

impl HashPool {
    /// `workers` threads (0: one per CPU) and room for `queue` waiting jobs.
    pub fn new(workers: usize, queue: usize) -> Self {
        let workers = if workers == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            workers
        };
        let (tx, rx) = sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..workers {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("podium-hash-{i}"))
                .spawn(move || work(&rx))
                .expect("spawning a hashing thread");
        }
        Self { tx, workers, queue }
    }

    /// How many hashes run at once, and how many may wait.
    pub fn capacity(&self) -> (usize, usize) {
        (self.workers, self.queue)
    }

    /// Runs `f` on a hashing thread, or refuses at once when the pool is
    /// full. The job is queued when this is called, not when it is awaited.
    pub fn run<T, F>(&self, f: F) -> impl Future<Output = Result<T, Busy>> + use<T, F>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(f());
        });
        let queued = match self.tx.try_send(job) {
            Ok(()) => Ok(result),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(Busy),
        };
        async move {
            // A job that panicked drops its sender: report it like a full pool.
            queued?.await.map_err(|_| Busy)
        }
    }
}

/// One worker: takes jobs until the pool is dropped.
fn work(rx: &Mutex<Receiver<Job>>) {
    loop {
        let job = {
            let Ok(rx) = rx.lock() else { return };
            match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
            tracing::error!("a password hashing job panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_when_workers_and_queue_are_full() {
        let pool = Arc::new(HashPool::new(1, 1));
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
        // One job occupies the worker (and says so) ...
        let p = pool.clone();
        let first = tokio::spawn(async move {
            p.run(move || {
                started_tx.send(()).unwrap();
                wait.recv().unwrap();
            })
            .await
        });
        started.await.unwrap();
        // ... one waits in the queue, and the next is refused at once.
        let second = pool.run(|| 2);
        assert_eq!(pool.run(|| ()).await, Err(Busy));
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap(), Ok(()));
        assert_eq!(second.await, Ok(2));
        assert_eq!(pool.run(|| 7).await, Ok(7));
    }
}
