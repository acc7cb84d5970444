//! Transaction keys and branch generation.
//!
//! Client transactions match responses by the top Via branch and the CSeq method
//! (§17.1.3). Server transactions match requests by branch, sent-by and method, with ACK
//! matching its INVITE (§17.2.3); a request whose branch lacks the `z9hG4bK` cookie came
//! from an RFC 2543 element and is matched by Request-URI, tags, Call-ID, CSeq and the top
//! Via instead. A CANCEL has its own key; [`ServerKey::cancelled_invite`] gives the key of
//! the INVITE it cancels (§9.2).

use super::TransactionError;
use crate::message::via::BRANCH_MAGIC_COOKIE;
use crate::message::{HeaderName, Host, Method, Params, Request, Response, SipStr, Uri, Via};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::fmt;

/// The value of parameter `name`, sharing the message's buffer (no copy).
pub(crate) fn param_value(params: &Params, name: &str) -> Option<SipStr> {
    params
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name))
        .and_then(|p| p.value.clone())
}

/// A Via branch parameter value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Branch(pub SipStr);

impl Branch {
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for Branch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// Makes RFC 3261 branches (`z9hG4bK` + 96 random bits in hex, §8.1.1.7) from a seeded
/// RNG, so runs replay exactly; seed it from the OS at startup in production.
#[derive(Debug)]
pub struct BranchGenerator {
    rng: StdRng,
}

impl BranchGenerator {
    pub fn from_seed(seed: u64) -> Self {
        BranchGenerator {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    pub fn next_branch(&mut self) -> Branch {
        let hi: u64 = self.rng.r#gen();
        let lo: u32 = self.rng.r#gen();
        Branch(SipStr::from(format!(
            "{BRANCH_MAGIC_COOKIE}{hi:016x}{lo:08x}"
        )))
    }

    /// A random token for tags (§19.3 asks for at least 32 random bits; we give 64).
    pub fn next_token(&mut self) -> SipStr {
        let v: u64 = self.rng.r#gen();
        SipStr::from(format!("{v:016x}"))
    }
}

/// The `sent-by` of a Via (host and port). Host names compare case-insensitively
/// (§20.42), so they are lowercased for the key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SentBy {
    pub host: Host,
    pub port: Option<u16>,
}

impl SentBy {
    pub fn of(via: &Via) -> Self {
        let host = match &via.host {
            Host::Domain(d) if d.bytes().any(|b| b.is_ascii_uppercase()) => {
                Host::Domain(SipStr::from(d.to_ascii_lowercase()))
            }
            h => h.clone(),
        };
        SentBy {
            host,
            port: via.port,
        }
    }
}

/// The key of a client transaction (§17.1.3).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientKey {
    pub branch: SipStr,
    pub method: Method,
}

impl ClientKey {
    /// Key of the request a client transaction sends.
    pub fn of_request(req: &Request) -> Result<Self, TransactionError> {
        let via = req
            .headers
            .top_via()
            .ok_or(TransactionError::MissingHeader(HeaderName::Via))?;
        let branch = param_value(&via.params, "branch")
            .ok_or(TransactionError::MissingHeader(HeaderName::Via))?;
        Ok(ClientKey {
            branch,
            method: req.method.clone(),
        })
    }

    /// Key a response matches: top Via branch and CSeq method (§17.1.3).
    pub fn of_response(resp: &Response) -> Option<Self> {
        let branch = param_value(&resp.headers.top_via()?.params, "branch")?;
        let method = resp.headers.cseq()?.method.clone();
        Some(ClientKey { branch, method })
    }
}

/// The key of a server transaction (§17.2.3).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ServerKey {
    /// The request's branch starts with the magic cookie.
    Rfc3261 {
        branch: SipStr,
        sent_by: SentBy,
        /// ACK is stored as INVITE so it finds its transaction.
        method: Method,
    },
    /// RFC 2543 fallback (§17.2.3, second half). The To tag is not part of the key: an
    /// ACK carries the tag of the response, not of the INVITE, so the layer compares it
    /// after the lookup.
    Rfc2543 {
        request_uri: Box<Uri>,
        from_tag: Option<SipStr>,
        call_id: SipStr,
        cseq: u32,
        /// ACK is stored as INVITE so it finds its transaction.
        method: Method,
        top_via: Box<Via>,
    },
}

impl ServerKey {
    /// The key a received request matches.
    pub fn of_request(req: &Request) -> Result<Self, TransactionError> {
        let via = req
            .headers
            .top_via()
            .ok_or(TransactionError::MissingHeader(HeaderName::Via))?;
        let method = match req.method {
            Method::Ack => Method::Invite,
            ref m => m.clone(),
        };
        if via.has_rfc3261_branch() {
            let branch = param_value(&via.params, "branch").unwrap_or_default();
            return Ok(ServerKey::Rfc3261 {
                branch,
                sent_by: SentBy::of(via),
                method,
            });
        }
        let call_id = req
            .headers
            .call_id()
            .ok_or(TransactionError::MissingHeader(HeaderName::CallId))?
            .clone();
        let cseq = req
            .headers
            .cseq()
            .ok_or(TransactionError::MissingHeader(HeaderName::CSeq))?
            .seq;
        let from = req
            .headers
            .from()
            .ok_or(TransactionError::MissingHeader(HeaderName::From))?;
        let from_tag = param_value(&from.params, "tag");
        Ok(ServerKey::Rfc2543 {
            request_uri: Box::new(req.uri.clone()),
            from_tag,
            call_id,
            cseq,
            method,
            top_via: Box::new(via.clone()),
        })
    }

    /// The key with its text copied out of the received datagram, so that keeping the
    /// key (a completed non-INVITE transaction keeps it for Timer J, 32 s over UDP)
    /// does not keep the whole datagram alive with it.
    pub fn detached(self) -> ServerKey {
        match self {
            ServerKey::Rfc3261 {
                branch,
                sent_by,
                method,
            } => ServerKey::Rfc3261 {
                branch: SipStr::from(branch.as_str()),
                sent_by: SentBy {
                    host: match sent_by.host {
                        Host::Domain(d) => Host::Domain(SipStr::from(d.as_str())),
                        ip => ip,
                    },
                    port: sent_by.port,
                },
                method,
            },
            // Rare (RFC 2543 peers): left sharing the datagram.
            k @ ServerKey::Rfc2543 { .. } => k,
        }
    }

    /// The key of the INVITE that a CANCEL with this key cancels (§9.2: same branch and
    /// sent-by, or for RFC 2543 the same URI, tags, Call-ID, CSeq number and Via).
    pub fn cancelled_invite(&self) -> ServerKey {
        let mut k = self.clone();
        match &mut k {
            ServerKey::Rfc3261 { method, .. } | ServerKey::Rfc2543 { method, .. } => {
                *method = Method::Invite;
            }
        }
        k
    }

    pub fn is_rfc2543(&self) -> bool {
        matches!(self, ServerKey::Rfc2543 { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branches_are_seeded_and_carry_the_cookie() {
        let mut a = BranchGenerator::from_seed(7);
        let mut b = BranchGenerator::from_seed(7);
        let x = a.next_branch();
        assert_eq!(x, b.next_branch());
        assert!(x.as_str().starts_with("z9hG4bK"));
        assert_eq!(x.as_str().len(), 7 + 24);
        assert_ne!(x, a.next_branch());
    }

    #[test]
    fn a_detached_key_is_equal_but_no_longer_shares_the_datagram() {
        let wire = "REGISTER sip:example.com SIP/2.0\r\n\
                    Via: SIP/2.0/UDP pc33.example.com:5060;branch=z9hG4bKnashds7\r\n\
                    Max-Forwards: 70\r\nTo: <sip:a@example.com>\r\n\
                    From: <sip:a@example.com>;tag=456248\r\nCall-ID: 843817637684230@998sdasdh09\r\n\
                    CSeq: 1826 REGISTER\r\nContent-Length: 0\r\n\r\n";
        let datagram = bytes::Bytes::from(wire.as_bytes().to_vec());
        let Ok(crate::message::Message::Request(req)) =
            crate::message::parse::parse_datagram(datagram.clone())
        else {
            panic!("parses");
        };
        let key = ServerKey::of_request(&req).expect("key");
        let detached = key.clone().detached();
        assert_eq!(detached, key);
        let within = |s: &str| {
            let (p, base) = (s.as_ptr() as usize, datagram.as_ptr() as usize);
            p >= base && p < base + datagram.len()
        };
        let ServerKey::Rfc3261 {
            branch, sent_by, ..
        } = &detached
        else {
            panic!("RFC 3261 key");
        };
        assert!(!within(branch));
        assert!(matches!(&sent_by.host, Host::Domain(d) if !within(d)));
        let ServerKey::Rfc3261 { branch, .. } = &key else {
            panic!("RFC 3261 key");
        };
        assert!(within(branch), "the parsed key shares the datagram");
    }

    #[test]
    fn sent_by_ignores_host_case() {
        let mk = |h: &str| Via {
            protocol: "SIP".into(),
            version: "2.0".into(),
            transport: "UDP".into(),
            host: Host::Domain(h.into()),
            port: Some(5060),
            params: Default::default(),
        };
        assert_eq!(
            SentBy::of(&mk("PC33.Example.com")),
            SentBy::of(&mk("pc33.example.com"))
        );
    }
}
