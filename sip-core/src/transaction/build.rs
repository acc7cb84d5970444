//! Requests the transaction layer builds itself: the ACK for a non-2xx final response
//! (§17.1.1.3) and CANCEL (§9.1). Both reuse the INVITE's top Via (same branch), so they
//! reach the same server transaction hop by hop.

use crate::message::{CSeq, Header, Method, Request, Response};

/// The ACK for a 300–699 response to `invite` (§17.1.1.3): Request-URI, Call-ID, From and
/// CSeq number of the INVITE, the To of the response (with its tag), one Via equal to the
/// INVITE's top Via, the INVITE's Route headers, CSeq method ACK, no body.
pub fn build_ack_for_non_2xx(invite: &Request, response: &Response) -> Request {
    let mut ack = Request::new(Method::Ack, invite.uri.clone());
    if let Some(via) = invite.headers.top_via() {
        ack.headers.push(Header::Via(vec![via.clone()]));
    }
    copy_common(invite, &mut ack);
    if let Some(to) = response.headers.to().or(invite.headers.to()) {
        ack.headers.push(Header::To(to.clone()));
    }
    push_cseq(invite, &mut ack, Method::Ack);
    push_routes(invite, &mut ack);
    ack
}

/// A CANCEL for `request` (§9.1): Request-URI, Call-ID, To, From and CSeq number of the
/// request, one Via equal to its top Via, its Route headers, CSeq method CANCEL, no body.
pub fn build_cancel(request: &Request) -> Request {
    let mut cancel = Request::new(Method::Cancel, request.uri.clone());
    if let Some(via) = request.headers.top_via() {
        cancel.headers.push(Header::Via(vec![via.clone()]));
    }
    copy_common(request, &mut cancel);
    if let Some(to) = request.headers.to() {
        cancel.headers.push(Header::To(to.clone()));
    }
    push_cseq(request, &mut cancel, Method::Cancel);
    push_routes(request, &mut cancel);
    cancel
}

fn copy_common(from_req: &Request, out: &mut Request) {
    // Max-Forwards: 70 is the §8.1.1.6 default; the original value would do as well.
    out.headers.push(Header::MaxForwards(
        from_req.headers.max_forwards().unwrap_or(70),
    ));
    if let Some(from) = from_req.headers.from() {
        out.headers.push(Header::From(from.clone()));
    }
    if let Some(call_id) = from_req.headers.call_id() {
        out.headers.push(Header::CallId(call_id.clone()));
    }
}

fn push_cseq(from_req: &Request, out: &mut Request, method: Method) {
    if let Some(cseq) = from_req.headers.cseq() {
        out.headers.push(Header::CSeq(CSeq {
            seq: cseq.seq,
            method,
        }));
    }
}

fn push_routes(from_req: &Request, out: &mut Request) {
    let routes: Vec<_> = from_req.headers.routes().cloned().collect();
    if !routes.is_empty() {
        out.headers.push(Header::Route(routes));
    }
}
