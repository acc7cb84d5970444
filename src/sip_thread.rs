//! The SIP side of `serve` (driver, registrar, calls, record writers) runs on threads of
//! its own, apart from the admin UI's runtime.
//!
//! Why: on tokio's multi-threaded runtime a message's path (driver task → call task →
//! driver task) hopped between two worker threads, and every hop woke the other thread
//! with a futex. With SIP on one thread the tasks hand over by a queue push. Measured
//! with `benches/sipp` scenarios, 4 000 calls: one tokio worker took 520–525 µs of CPU
//! per call against 620–640 µs for two; this thread then measured as one worker did
//! (550–585 µs against 495–587 µs, within the noise), and registrations were no slower. One thread answers tens of thousands of
//! REGISTERs or a couple of thousand call set-ups a second, far more than a municipality
//! needs; `[pbx] sip_threads` gives SIP a multi-threaded runtime of that many threads
//! instead. A slow admin page (a year's savings report) never delays SIP.
//!
//! Tasks the PBX spawns land on this runtime because the PBX is started from it
//! ([`SipThread::run`]); the store, the relay and the admin UI talk to them through
//! channels and shared state, which work across runtimes.

use std::future::Future;
use tokio::sync::oneshot;

/// Threads SIP may be given (`[pbx] sip_threads`).
pub const THREADS: std::ops::RangeInclusive<usize> = 1..=64;

/// The running SIP runtime. Stop it with [`SipThread::stop`] once the PBX has shut down.
#[derive(Debug)]
pub struct SipThread {
    handle: tokio::runtime::Handle,
    stop: oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl SipThread {
    /// Starts the runtime: one thread running a current-thread runtime, or a
    /// multi-threaded runtime of `threads` workers.
    pub fn start(threads: usize) -> std::io::Result<SipThread> {
        let runtime = if threads <= 1 {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .thread_name("sip-worker")
                .enable_all()
                .build()?
        };
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sip".into())
            .spawn(move || {
                // A current-thread runtime runs its tasks only inside `block_on`.
                runtime.block_on(async {
                    let _ = stopped.await;
                });
                // Tasks still pending (none after the PBX's shutdown) are dropped here.
                drop(runtime);
            })?;
        Ok(SipThread {
            handle,
            stop,
            thread,
        })
    }

    /// Runs `work` on the SIP runtime and waits for its result; what it spawns stays
    /// there.
    pub async fn run<F>(&self, work: F) -> Result<F::Output, tokio::task::JoinError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(work).await
    }

    /// Ends the runtime and waits for its thread.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let thread = self.thread;
        if let Ok(Err(_)) = tokio::task::spawn_blocking(move || thread.join()).await {
            tracing::warn!("the SIP thread panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_and_its_spawned_tasks_run_on_the_sip_thread() {
        for threads in [1, 2] {
            let sip = SipThread::start(threads).expect("runtime starts");
            let names = sip
                .run(async {
                    let outer = std::thread::current().name().map(str::to_owned);
                    let inner =
                        tokio::spawn(async { std::thread::current().name().map(str::to_owned) })
                            .await
                            .ok()
                            .flatten();
                    (outer, inner)
                })
                .await
                .expect("work finishes");
            let want = if threads == 1 { "sip" } else { "sip-worker" };
            assert_eq!(names.0.as_deref(), Some(want), "{threads} thread(s)");
            assert_eq!(names.1.as_deref(), Some(want), "{threads} thread(s)");
            sip.stop().await;
        }
    }
}
