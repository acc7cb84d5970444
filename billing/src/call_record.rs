//! The call record as billing sees it. `pbx` writes call records (with SIP details billing
//! never reads) and hands this view to rating; the store keeps both in one table.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Which way a call went, as the PBX classified it when routing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallDirection {
    /// Both parties are extensions on the same site.
    InternalSameSite,
    /// Both parties are extensions, on different sites (on-net over the fibre).
    InternalOtherSite,
    /// An extension called out through a trunk.
    Outbound,
    /// A caller from outside reached an extension through a trunk.
    Inbound,
    /// 110, 112, 113 or 1412.
    Emergency,
}

impl CallDirection {
    pub fn as_str(self) -> &'static str {
        match self {
            CallDirection::InternalSameSite => "internal_same_site",
            CallDirection::InternalOtherSite => "internal_other_site",
            CallDirection::Outbound => "outbound",
            CallDirection::Inbound => "inbound",
            CallDirection::Emergency => "emergency",
        }
    }
}

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallDisposition {
    Answered,
    Busy,
    NoAnswer,
    Cancelled,
    Failed,
    RejectedByPolicy,
    /// Left open by a crash and closed at the next start.
    Interrupted,
}

impl CallDisposition {
    pub fn as_str(self) -> &'static str {
        match self {
            CallDisposition::Answered => "answered",
            CallDisposition::Busy => "busy",
            CallDisposition::NoAnswer => "no_answer",
            CallDisposition::Cancelled => "cancelled",
            CallDisposition::Failed => "failed",
            CallDisposition::RejectedByPolicy => "rejected_by_policy",
            CallDisposition::Interrupted => "interrupted",
        }
    }
}

/// One finished call, the input of rating and of every report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    /// Store id (0 for a record not yet stored).
    pub id: i64,
    /// When the call was set up (UTC; rating converts to Norwegian local time for bands).
    pub started_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: DateTime<Utc>,
    /// Whole seconds between answer and end; 0 for an unanswered call.
    pub talk_seconds: u32,
    pub direction: CallDirection,
    pub disposition: CallDisposition,
    /// The calling extension (outbound/internal) or `None` for an inbound call from outside.
    pub caller_extension: Option<String>,
    /// The calling number as presented (extension number, or the outside number).
    pub caller_number: String,
    pub caller_site: Option<String>,
    pub caller_department: Option<String>,
    /// The called extension when the call reached one.
    pub callee_extension: Option<String>,
    /// The number as dialled (for outbound: the number the tariff classifies).
    pub callee_number: String,
    pub callee_site: Option<String>,
    pub callee_department: Option<String>,
    /// Trunk name for outbound/inbound/emergency calls.
    pub trunk: Option<String>,
    /// Produced by the synthetic traffic generator, not by real calls.
    pub synthetic: bool,
}
