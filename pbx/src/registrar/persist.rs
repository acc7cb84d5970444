//! Write-behind of bindings to the store (Kamailio's usrloc `db_mode=2` idea): memory is
//! the location service, the store is its copy for restarts, and one writer task keeps
//! the copy current with group commits.
//!
//! # What is written, and when
//! - A REGISTER that changes the set of bindings (a new contact, a new flow, a removal,
//!   `Contact: *`) queues its changes and **waits** for their commit before the 200: a
//!   binding answered with 200 survives a crash. Waiting REGISTERs share one commit.
//! - A refresh that changes nothing but the expiry (and the Call-ID/CSeq used for
//!   ordering) is written **behind**, without waiting, and only when the stored expiry
//!   lags the real one by more than `RegistrarConfig::store_expiry_slack` or no longer
//!   covers half of the new interval; otherwise it is not written at all. A phone
//!   refreshing every few seconds (or a flood of refreshes) costs no database work.
//! - The writer takes everything queued, drops changes overwritten later in the same
//!   batch, and commits the rest in ONE transaction ([`store::Store::write_registrations`]);
//!   then the next batch. No timer: when idle, a change is written at once.
//!
//! # What a crash (`kill -9`) can lose
//! - Changes queued or being committed at that moment: one batch, milliseconds. A REGISTER
//!   that changed the bindings was not answered 200 before its commit, so the phone
//!   retries it.
//! - Skipped refreshes: after the restart a binding may expire up to the slack (60 s by
//!   default) earlier than the phone was told; the phone's next refresh restores it.
//!   The stored Call-ID/CSeq may be older than the last refresh's, which only relaxes
//!   the out-of-order check (RFC 3261 §10.3 step 7) for the first REGISTER after the
//!   restart.
//!
//! A graceful stop flushes the queue ([`BindingWriter::flush`], from `PbxServer::shutdown`).

use std::collections::HashSet;
use store::{ExtensionId, RegistrationWrite, Store};
use tokio::sync::{mpsc, oneshot};

/// Most queued REGISTERs folded into one transaction.
const MAX_JOBS_PER_BATCH: usize = 1024;

/// The changes of one REGISTER (or one sweep), and who waits for their commit.
#[derive(Debug)]
struct Job {
    writes: Vec<RegistrationWrite>,
    /// Told whether the changes were committed.
    done: Option<oneshot::Sender<bool>>,
}

/// The single writer of bindings. Sending never blocks.
#[derive(Debug)]
pub(crate) struct BindingWriter {
    jobs: mpsc::UnboundedSender<Job>,
}

impl BindingWriter {
    /// Starts the writer task; it ends when the writer is dropped.
    pub(crate) fn spawn(store: Store) -> BindingWriter {
        let (jobs, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(store, rx));
        BindingWriter { jobs }
    }

    /// Queues changes without waiting (failures are logged by the writer).
    pub(crate) fn queue(&self, writes: Vec<RegistrationWrite>) {
        if writes.is_empty() {
            return;
        }
        if self.jobs.send(Job { writes, done: None }).is_err() {
            tracing::error!("binding writer has stopped; binding change not stored");
        }
    }

    /// Queues changes and waits for their commit; false when they were not stored.
    pub(crate) async fn commit(&self, writes: Vec<RegistrationWrite>) -> bool {
        let (done, wait) = oneshot::channel();
        if self
            .jobs
            .send(Job {
                writes,
                done: Some(done),
            })
            .is_err()
        {
            return false;
        }
        wait.await.unwrap_or(false)
    }

    /// Waits until everything queued before is committed (or failed and was logged).
    pub(crate) async fn flush(&self) {
        let _ = self.commit(Vec::new()).await;
    }
}

async fn run(store: Store, mut rx: mpsc::UnboundedReceiver<Job>) {
    let mut jobs = Vec::new();
    while let Some(first) = rx.recv().await {
        jobs.push(first);
        while jobs.len() < MAX_JOBS_PER_BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let writes = coalesce(jobs.iter().flat_map(|j| j.writes.iter()));
        match store.write_registrations(&writes).await {
            Ok(()) => {
                for job in jobs.drain(..) {
                    if let Some(done) = job.done {
                        let _ = done.send(true);
                    }
                }
            }
            Err(e) => {
                // One bad change (an extension deleted meanwhile) must not sink the
                // others: each REGISTER's changes are tried again on their own.
                tracing::warn!(error = %e, registers = jobs.len(), "binding batch not stored; retrying one REGISTER at a time");
                for job in jobs.drain(..) {
                    let ok = match store.write_registrations(&job.writes).await {
                        Ok(()) => true,
                        Err(e) => {
                            tracing::error!(error = %e, "storing binding changes failed");
                            false
                        }
                    };
                    if let Some(done) = job.done {
                        let _ = done.send(ok);
                    }
                }
            }
        }
    }
}

/// The writes in order, without those a later write makes pointless: an upsert or
/// removal of a binding that is upserted or removed again later, or whose extension's
/// bindings are all removed later.
fn coalesce<'a>(
    writes: impl DoubleEndedIterator<Item = &'a RegistrationWrite>,
) -> Vec<RegistrationWrite> {
    let mut later: HashSet<(ExtensionId, &str)> = HashSet::new();
    let mut cleared: HashSet<ExtensionId> = HashSet::new();
    let mut kept: Vec<&RegistrationWrite> = Vec::new();
    for w in writes.rev() {
        match w {
            RegistrationWrite::RemoveAll(ext) => {
                if cleared.insert(*ext) {
                    kept.push(w);
                }
            }
            RegistrationWrite::Upsert(r) => {
                let key = (r.extension_id, r.contact_uri.as_str());
                if !cleared.contains(&r.extension_id) && later.insert(key) {
                    kept.push(w);
                }
            }
            RegistrationWrite::Remove {
                extension_id,
                contact_uri,
            } => {
                let key = (*extension_id, contact_uri.as_str());
                if !cleared.contains(extension_id) && later.insert(key) {
                    kept.push(w);
                }
            }
        }
    }
    kept.into_iter().rev().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use store::NewRegistration;

    fn upsert(ext: i64, contact: &str, cseq: u32) -> RegistrationWrite {
        RegistrationWrite::Upsert(NewRegistration {
            extension_id: ExtensionId(ext),
            contact_uri: contact.into(),
            expires_at: chrono::DateTime::<Utc>::UNIX_EPOCH,
            transport: "udp".into(),
            source_addr: "192.0.2.1:5060".parse().expect("addr"),
            connection_id: None,
            instance_id: None,
            reg_id: None,
            call_id: "c".into(),
            cseq,
            user_agent: None,
        })
    }

    fn remove(ext: i64, contact: &str) -> RegistrationWrite {
        RegistrationWrite::Remove {
            extension_id: ExtensionId(ext),
            contact_uri: contact.into(),
        }
    }

    #[test]
    fn later_writes_replace_earlier_ones_of_the_same_binding() {
        let writes = [
            upsert(1, "sip:a", 1),
            upsert(2, "sip:b", 1),
            upsert(1, "sip:a", 2),
            remove(2, "sip:b"),
            upsert(1, "sip:c", 1),
        ];
        assert_eq!(
            coalesce(writes.iter()),
            vec![
                upsert(1, "sip:a", 2),
                remove(2, "sip:b"),
                upsert(1, "sip:c", 1)
            ]
        );
    }

    #[test]
    fn remove_all_drops_earlier_writes_of_its_extension_only() {
        let writes = [
            upsert(1, "sip:a", 1),
            upsert(2, "sip:b", 1),
            RegistrationWrite::RemoveAll(ExtensionId(1)),
            upsert(1, "sip:c", 1),
        ];
        assert_eq!(
            coalesce(writes.iter()),
            vec![
                upsert(2, "sip:b", 1),
                RegistrationWrite::RemoveAll(ExtensionId(1)),
                upsert(1, "sip:c", 1)
            ]
        );
    }
}
