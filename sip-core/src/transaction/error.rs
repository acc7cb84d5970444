//! Errors of the transaction layer's TU commands.

use super::TxId;
use crate::message::HeaderName;

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum TransactionError {
    /// The request or response lacks a header the transaction layer keys on.
    #[error("message has no {0:?} header")]
    MissingHeader(HeaderName),
    /// The transaction does not exist (never created, or already terminated).
    #[error("no transaction {0}")]
    NoSuchTransaction(TxId),
    /// The command does not apply to this kind of transaction (e.g. a response on a client
    /// transaction, or CANCEL of a non-INVITE).
    #[error("{0} is not a transaction this command applies to")]
    WrongKind(TxId),
    /// A transaction with the same key already exists (a branch was reused).
    #[error("a transaction with branch {0} already exists")]
    DuplicateBranch(String),
    /// ACK never gets a client transaction (§17.1.1.3, §13.2.2.4): send it directly.
    #[error("ACK is sent without a client transaction")]
    AckNeedsNoTransaction,
    /// The transaction already sent its final response (§17.2.1, §17.2.2); only 2xx
    /// retransmissions in the INVITE Accepted state are taken (RFC 6026 §8.7).
    #[error("{0} already sent its final response")]
    FinalAlreadySent(TxId),
    /// A status code out of range for the command (e.g. 100 sent as final).
    #[error("status {0} is not valid here")]
    InvalidStatus(u16),
}
