//! Dialog errors, each mapped to the response the TU owes the peer where there is one.

use crate::message::HeaderName;

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum DialogError {
    /// A header the dialog needs is missing.
    #[error("message has no {0:?} header")]
    MissingHeader(HeaderName),
    /// A dialog-creating message without a usable Contact (§12.1.1, §12.1.2).
    #[error("dialog-creating message has no Contact URI")]
    MissingContact,
    /// The response cannot create a dialog (no To tag on a 1xx, or 100, or non-2xx).
    #[error("response {0} does not create a dialog")]
    NotDialogCreating(u16),
    /// §12.2.2: the request's CSeq is lower than the remote sequence number.
    #[error("CSeq {received} is lower than the dialog's remote CSeq {remote}")]
    CSeqOutOfOrder { received: u32, remote: u32 },
    /// The message does not belong to any dialog (answer 481, §12.2.2).
    #[error("no matching dialog")]
    NoDialog,
    /// The dialog has ended.
    #[error("the dialog is terminated")]
    Terminated,
    /// The local CSeq would pass 2^31-1 (§8.1.1.5).
    #[error("local CSeq space exhausted")]
    CSeqExhausted,
    /// An ACK for a 2xx was asked for, but this side never sent an INVITE in the dialog.
    #[error("no INVITE to acknowledge")]
    NoInvite,
}

impl DialogError {
    /// The response status the TU should answer an offending request with, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            // §12.2.2: "rejected with a 500 (Server Internal Error) response".
            DialogError::CSeqOutOfOrder { .. } => Some(500),
            // §12.2.2: no matching dialog → 481.
            DialogError::NoDialog | DialogError::Terminated => Some(481),
            DialogError::MissingHeader(_) | DialogError::MissingContact => Some(400),
            _ => None,
        }
    }
}
