//! Dialogs (RFC 3261 §12, §13.2.2.4, §13.3.1.4), sans-IO.
//!
//! This module owns dialog state: the [`DialogId`], early and confirmed states, the route
//! set, the remote target, both CSeq spaces, and the construction of in-dialog requests
//! (including the ACK for a 2xx, §13.2.2.4) with the §12.2.1.1 loose/strict routing rules.
//! [`DialogSet`] keeps the dialogs of one endpoint and splits forked responses into
//! separate early dialogs (§12.1.2, §13.2.2.4). It never sends anything and never holds a
//! transaction: the TU passes responses and requests in and hands the requests it builds
//! to the [`crate::transaction::TransactionLayer`].

mod error;
mod request;
mod set;
mod state;

pub use error::DialogError;
pub use set::{DialogEvent, DialogSet};
pub use state::{Dialog, DialogState, Role};

use crate::message::{Method, SipStr};
use std::fmt;

/// A dialog's identity (§12): Call-ID, local tag and remote tag. A tag missing from an
/// RFC 2543 peer is the empty string ("null", §12.1.1, §12.1.2). Its `Display` includes
/// the Call-ID, which often carries an IP address: keep it out of logs.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DialogId {
    pub call_id: SipStr,
    pub local_tag: SipStr,
    pub remote_tag: SipStr,
}

impl fmt::Display for DialogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{};l={};r={}",
            self.call_id, self.local_tag, self.remote_tag
        )
    }
}

/// Methods whose requests (and 2xx answers) replace the remote target (§12.2: re-INVITE;
/// RFC 3311 §5.1 UPDATE; RFC 6665 §4.3 SUBSCRIBE and NOTIFY).
pub fn is_target_refresh(method: &Method) -> bool {
    matches!(
        method,
        Method::Invite | Method::Update | Method::Subscribe | Method::Notify
    )
}
