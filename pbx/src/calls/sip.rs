//! Building the SIP messages the B2BUA originates: fresh Call-IDs, tags and branches for
//! the B leg (a B2BUA is two UAs, RFC 3261 §6 "B2BUA", RFC 7092 §3), our Via and
//! Contact, and responses relayed from one leg to the other.

use sip_core::message::{
    Contact, Header, HeaderName, Host, NameAddr, Params, Request, Response, SipStr, SipUri, Uri,
    Via,
};
use sip_core::transport::{Destination, Flow, TransportKind};
use std::net::SocketAddr;

/// Headers copied from one leg's request or response to the other's (everything else
/// belongs to one dialog only, or reveals the other side's topology).
const RELAYED_HEADERS: &[&str] = &[
    "Content-Type",
    "Content-Disposition",
    "Event",
    "Info-Package",
    "Subscription-State",
    "Reason",
];

/// A random token for a tag or Call-ID (RFC 3261 §19.3 wants 32 bits of randomness at
/// least; these have 128).
pub(crate) fn token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// A branch with the RFC 3261 magic cookie (§8.1.1.7).
pub(crate) fn branch() -> String {
    format!("z9hG4bK{:024x}", rand::random::<u128>() >> 32)
}

/// Our Via for a request leaving from `local` over `kind`, with `rport` so a peer behind
/// NAT answers where it came from (RFC 3581 §3).
pub(crate) fn our_via(kind: TransportKind, local: SocketAddr) -> Via {
    let mut params = Params::new();
    params.set("branch", Some(SipStr::from(branch())));
    params.set("rport", None);
    Via {
        protocol: SipStr::from("SIP"),
        version: SipStr::from("2.0"),
        transport: SipStr::from(kind.via_token()),
        host: Host::from(local.ip()),
        port: Some(local.port()),
        params,
    }
}

/// Our Contact: the SIP listen address the peer reaches us on (a B2BUA is the UA for
/// both dialogs, so in-dialog requests come to us, §12.1.1).
pub(crate) fn our_contact(kind: TransportKind, local: SocketAddr) -> NameAddr {
    let mut uri = SipUri::new(Host::from(local.ip()));
    uri.user = Some(SipStr::from("sentral"));
    uri.port = Some(local.port());
    if kind == TransportKind::Tcp {
        uri.params.set("transport", Some(SipStr::from("tcp")));
    }
    NameAddr::new(Uri::Sip(uri))
}

/// The address we send from towards `dest` (Via, Contact). Falls back to the flow's own
/// local address when no listener of that kind matches the family.
pub(crate) fn local_addr(
    handle: &sip_core::driver::DriverHandle,
    dest: &Destination,
    fallback: Option<&Flow>,
) -> Option<SocketAddr> {
    let mut local = handle
        .transports()
        .local_for(dest.kind, dest.remote)
        .or_else(|| fallback.map(|f| f.local))?;
    if local.ip().is_unspecified() {
        // Listening on 0.0.0.0 (the `serve` default) says nothing a peer can use: ask
        // the kernel which source address routes to the peer (a connected UDP socket
        // sends nothing).
        if let Some(ip) = routable_ip(dest.remote) {
            local.set_ip(ip);
        }
    }
    Some(local)
}

/// The source address the kernel would use towards `remote`.
pub(crate) fn routable_ip(remote: SocketAddr) -> Option<std::net::IpAddr> {
    let any: SocketAddr = if remote.is_ipv4() {
        SocketAddr::from(([0u8; 4], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let s = std::net::UdpSocket::bind(any).ok()?;
    s.connect(remote).ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}

/// A `sip:user@host` URI.
pub(crate) fn sip_uri(user: &str, host: &str) -> Uri {
    let h = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => Host::from(ip),
        Err(_) => Host::Domain(SipStr::from(host.to_string())),
    };
    let mut uri = SipUri::new(h);
    uri.user = Some(SipStr::from(user.to_string()));
    Uri::Sip(uri)
}

/// The user part of a SIP URI (the dialled number), or a tel: URI's number.
pub(crate) fn uri_user(uri: &Uri) -> Option<String> {
    match uri {
        Uri::Sip(s) => s.user.as_ref().map(|u| {
            sip_core::message::typed::percent_decode(u.as_str()).unwrap_or_else(|| u.to_string())
        }),
        Uri::Tel(t) => Some(t.number.to_string()),
        Uri::Other(_) => None,
    }
}

/// Sets the To tag of a response we send as UAS (§8.2.6.2: every response but 100 in a
/// dialog carries our tag).
pub(crate) fn with_to_tag(mut resp: Response, tag: &str) -> Response {
    if let Some(to) = resp.headers.to_mut()
        && to.tag().is_none()
    {
        to.set_tag(SipStr::from(tag.to_string()));
    }
    resp
}

pub(crate) fn set_contact(headers: &mut sip_core::message::Headers, contact: &NameAddr) {
    headers.set(Header::Contact(vec![Contact::Addr(contact.clone())]));
}

/// Copies the headers listed in [`RELAYED_HEADERS`] from `from` to `to` (replacing them).
pub(crate) fn copy_relayed_headers(
    from: &sip_core::message::Headers,
    to: &mut sip_core::message::Headers,
) {
    for name in RELAYED_HEADERS {
        copy_one(from, to, &HeaderName::from_wire(&SipStr::from(*name)));
    }
}

fn copy_one(
    from: &sip_core::message::Headers,
    to: &mut sip_core::message::Headers,
    name: &HeaderName,
) {
    let values: Vec<SipStr> = from.raw(name).cloned().collect();
    if values.is_empty() {
        return;
    }
    to.remove(name);
    for v in values {
        to.push(Header::Other(name.clone(), v));
    }
}

/// Body and Content-Length of a message we build: the serializer writes Content-Length
/// from the body, so only the Content-Type is ours to set.
pub(crate) fn set_sdp_body(
    headers: &mut sip_core::message::Headers,
    body: &mut bytes::Bytes,
    sdp: Vec<u8>,
) {
    headers.set_raw(HeaderName::ContentType, "application/sdp");
    *body = bytes::Bytes::from(sdp);
}

/// Whether `req`/`resp` carries an SDP body.
pub(crate) fn has_sdp(headers: &sip_core::message::Headers, body: &[u8]) -> bool {
    if body.is_empty() {
        return false;
    }
    match headers.content_type() {
        Some(Ok(mt)) => mt.is("application", "sdp"),
        // No Content-Type with a body is malformed; treat a body that looks like SDP as one.
        None => body.starts_with(b"v=0"),
        Some(Err(_)) => false,
    }
}

/// A response to `req` with our To tag (if the request had none) and Contact.
pub(crate) fn response_for(req: &Request, status: u16, tag: &str) -> Response {
    with_to_tag(Response::to_request(req, status), tag)
}

/// Copies the reason phrase of `from` when it has one.
pub(crate) fn with_reason(mut resp: Response, from: &Response) -> Response {
    if !from.reason.is_empty() {
        resp.reason = from.reason.clone();
    }
    resp
}

#[cfg(test)]
mod tests {
    #[test]
    fn routable_ip_of_loopback_is_loopback() {
        let ip = super::routable_ip("127.0.0.1:5060".parse().expect("addr"));
        assert_eq!(ip, Some("127.0.0.1".parse().expect("ip")));
    }
}
