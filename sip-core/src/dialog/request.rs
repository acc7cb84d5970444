//! Building requests inside a dialog (RFC 3261 §12.2.1.1) and the ACK for a 2xx
//! (§13.2.2.4).

use super::{Dialog, DialogError, DialogState, is_target_refresh};
use crate::message::{CSeq, Contact, Header, Method, NameAddr, Request, Uri, Via};

/// Largest CSeq we generate (§8.1.1.5: "MUST be less than 2**31").
const MAX_CSEQ: u32 = (1 << 31) - 1;

/// §19.1.1 Table 1: parameters and headers a Request-URI must not carry.
fn strip_for_request_uri(mut uri: Uri) -> Uri {
    if let Some(sip) = uri.as_sip_mut() {
        sip.params.remove("method");
        sip.headers = None;
    }
    uri
}

fn is_loose(route: &NameAddr) -> bool {
    route.uri.as_sip().is_some_and(|u| u.params.contains("lr"))
}

impl Dialog {
    /// Request-URI and Route values for the next request (§12.2.1.1). Loose routing
    /// (first route has `lr`): the remote target is the Request-URI and the whole route set
    /// the Route. Strict routing (RFC 2543 proxy): the first route becomes the
    /// Request-URI, the rest follow as Route and the remote target goes last.
    pub fn request_target(&self) -> (Uri, Vec<NameAddr>) {
        match self.route_set.split_first() {
            None => (self.remote_target.clone(), Vec::new()),
            Some((first, _)) if is_loose(first) => {
                (self.remote_target.clone(), self.route_set.clone())
            }
            Some((first, rest)) => {
                let mut routes = rest.to_vec();
                routes.push(NameAddr::new(self.remote_target.clone()));
                (strip_for_request_uri(first.uri.clone()), routes)
            }
        }
    }

    /// Builds a request of `method` in this dialog with the next local CSeq (§12.2.1.1):
    /// To is the remote URI and tag, From the local URI and tag, the dialog's Call-ID,
    /// Request-URI and Route per [`Self::request_target`], our Contact on target refresh
    /// requests and REFER (RFC 3515 §2.4.1 wants it), `via` as the only Via (its branch
    /// may be left out for [`crate::transaction::TransactionLayer::send_request`] to fill
    /// in). Body and method-specific headers (Refer-To, Event, …) are the caller's.
    /// `method` ACK builds the 2xx ACK ([`Self::ack`]); CANCEL is not a dialog request
    /// (use [`crate::transaction::build_cancel`]).
    pub fn request(&mut self, method: Method, via: Via) -> Result<Request, DialogError> {
        if method == Method::Ack {
            return self.ack(via);
        }
        if self.state == DialogState::Terminated {
            return Err(DialogError::Terminated);
        }
        let seq = match self.local_cseq {
            None => 1,
            Some(c) if c >= MAX_CSEQ => return Err(DialogError::CSeqExhausted),
            Some(c) => c + 1,
        };
        self.local_cseq = Some(seq);
        if method == Method::Invite {
            self.invite_cseq = Some(seq);
        }
        let with_contact = is_target_refresh(&method) || method == Method::Refer;
        Ok(self.build(method, seq, via, with_contact))
    }

    /// The ACK for a 2xx to our last INVITE in this dialog (§13.2.2.4): built like any
    /// in-dialog request but with the INVITE's CSeq number and method ACK. It is its own
    /// transaction, so `via` needs a fresh branch; it is sent again for every 2xx
    /// retransmission. A body (an answer to a 2xx's offer) is the caller's.
    pub fn ack(&self, via: Via) -> Result<Request, DialogError> {
        let seq = self.invite_cseq.ok_or(DialogError::NoInvite)?;
        Ok(self.build(Method::Ack, seq, via, false))
    }

    fn build(&self, method: Method, seq: u32, via: Via, with_contact: bool) -> Request {
        let (uri, routes) = self.request_target();
        let mut req = Request::new(method.clone(), uri);
        let h = &mut req.headers;
        h.push(Header::Via(vec![via]));
        h.push(Header::MaxForwards(70));
        if !routes.is_empty() {
            h.push(Header::Route(routes));
        }
        let mut from = self.local_uri.clone();
        if !self.id.local_tag.is_empty() {
            from.set_tag(self.id.local_tag.clone());
        }
        let mut to = self.remote_uri.clone();
        if !self.id.remote_tag.is_empty() {
            to.set_tag(self.id.remote_tag.clone());
        }
        h.push(Header::From(from));
        h.push(Header::To(to));
        h.push(Header::CallId(self.id.call_id.clone()));
        h.push(Header::CSeq(CSeq { seq, method }));
        if with_contact && let Some(c) = &self.local_contact {
            h.push(Header::Contact(vec![Contact::Addr(c.clone())]));
        }
        req
    }
}
