//! SIP methods (RFC 3261 §7.1, §27.4). Methods are case-sensitive tokens and are never
//! %-unescaped (RFC 4475 §3.1.1.5: `RE%47IST%45R` is not REGISTER).

use super::text::SipStr;
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Register,
    Options,
    Info,
    Update,
    Refer,
    Notify,
    Subscribe,
    Message,
    Prack,
    Publish,
    /// Any other token (an extension method), kept exactly as received.
    Extension(SipStr),
}

impl Method {
    /// Maps a method token to a `Method` (exact, case-sensitive match).
    /// The caller has already checked that `token` is an RFC 3261 `token`.
    pub fn from_token(token: &SipStr) -> Method {
        match token.as_str() {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "REGISTER" => Method::Register,
            "OPTIONS" => Method::Options,
            "INFO" => Method::Info,
            "UPDATE" => Method::Update,
            "REFER" => Method::Refer,
            "NOTIFY" => Method::Notify,
            "SUBSCRIBE" => Method::Subscribe,
            "MESSAGE" => Method::Message,
            "PRACK" => Method::Prack,
            "PUBLISH" => Method::Publish,
            _ => Method::Extension(token.clone()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Register => "REGISTER",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Update => "UPDATE",
            Method::Refer => "REFER",
            Method::Notify => "NOTIFY",
            Method::Subscribe => "SUBSCRIBE",
            Method::Message => "MESSAGE",
            Method::Prack => "PRACK",
            Method::Publish => "PUBLISH",
            Method::Extension(s) => s.as_str(),
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
