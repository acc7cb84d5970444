//! A minimal UDP user agent for registrar and security tests that need byte-level
//! control (scanner comparisons, lockout counting, NAT-looking contacts). Real-software
//! interop is covered by the SIPp scenarios beside this file.
#![allow(dead_code)]

use sip_core::auth::{ChallengeKind, DigestClient};
use sip_core::message::{
    CSeq, Header, HeaderName, Message, Method, Request, Response, parse_datagram,
};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;

pub struct RawUa {
    pub sock: UdpSocket,
    pub server: SocketAddr,
    pub local: SocketAddr,
}

/// A request to send: method, Request-URI user (None: the server itself), To user.
pub struct Req<'a> {
    pub method: &'a str,
    pub ruri_user: Option<&'a str>,
    pub to_user: &'a str,
    pub call_id: &'a str,
    pub cseq: u32,
    pub contact: Option<String>,
    pub expires: Option<u32>,
    pub extra: Vec<String>,
}

impl<'a> Req<'a> {
    pub fn register(user: &'a str, call_id: &'a str, cseq: u32) -> Self {
        Req {
            method: "REGISTER",
            ruri_user: None,
            to_user: user,
            call_id,
            cseq,
            contact: None,
            expires: None,
            extra: Vec::new(),
        }
    }

    pub fn invite(to: &'a str, call_id: &'a str, cseq: u32) -> Self {
        Req {
            method: "INVITE",
            ruri_user: Some(to),
            to_user: to,
            call_id,
            cseq,
            contact: None,
            expires: None,
            extra: Vec::new(),
        }
    }

    pub fn options(to: &'a str, call_id: &'a str, cseq: u32) -> Self {
        Req {
            method: "OPTIONS",
            ruri_user: Some(to),
            to_user: to,
            call_id,
            cseq,
            contact: None,
            expires: None,
            extra: Vec::new(),
        }
    }
}

impl RawUa {
    pub async fn new(server: SocketAddr) -> RawUa {
        let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind udp");
        let local = sock.local_addr().expect("local addr");
        RawUa {
            sock,
            server,
            local,
        }
    }

    pub fn request_uri(&self, user: Option<&str>) -> String {
        match user {
            Some(u) => format!("sip:{u}@{}", self.server),
            None => format!("sip:{}", self.server),
        }
    }

    /// The request's wire text; `from_user` is the same as To for REGISTER.
    pub fn text(&self, r: &Req<'_>) -> String {
        let ruri = self.request_uri(r.ruri_user);
        let branch = format!("z9hG4bK{:016x}", rand::random::<u64>());
        // `Some("")` leaves Contact out (a REGISTER that only asks for the bindings).
        let contact = match &r.contact {
            Some(c) if c.is_empty() => String::new(),
            Some(c) => format!("Contact: {c}\r\n"),
            None => format!("Contact: <sip:{}@{}>\r\n", r.to_user, self.local),
        };
        let mut s = format!(
            "{m} {ruri} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {l};branch={branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{fu}@{srv}>;tag=ft{cseq}\r\n\
             To: <sip:{tu}@{srv}>\r\n\
             Call-ID: {cid}\r\n\
             CSeq: {cseq} {m}\r\n\
             {contact}",
            m = r.method,
            l = self.local,
            fu = if r.method == "REGISTER" {
                r.to_user
            } else {
                "1001"
            },
            tu = r.to_user,
            srv = self.server,
            cid = r.call_id,
            cseq = r.cseq,
        );
        if let Some(e) = r.expires {
            s.push_str(&format!("Expires: {e}\r\n"));
        }
        for h in &r.extra {
            s.push_str(h);
            s.push_str("\r\n");
        }
        s.push_str("Content-Length: 0\r\n\r\n");
        s
    }

    pub async fn send_raw(&self, text: &str) {
        self.sock
            .send_to(text.as_bytes(), self.server)
            .await
            .expect("send");
    }

    /// The next message within `wait`.
    pub async fn recv(&self, wait: Duration) -> Option<(Message, SocketAddr)> {
        let mut buf = vec![0u8; 65_535];
        let (n, from) = tokio::time::timeout(wait, self.sock.recv_from(&mut buf))
            .await
            .ok()?
            .ok()?;
        buf.truncate(n);
        parse_datagram(buf.into()).ok().map(|m| (m, from))
    }

    /// Sends `r` and returns its final response (provisionals, and answers to other
    /// requests such as retransmitted challenges, skipped), or None. A non-2xx final
    /// answer to an INVITE is ACKed (RFC 3261 §17.1.1.3) so it is not retransmitted.
    pub async fn exchange(&self, r: &Req<'_>) -> Option<Response> {
        let text = self.text(r);
        self.send_raw(&text).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let (msg, _) = self.recv(left).await?;
            let Message::Response(resp) = msg else {
                continue;
            };
            let ours = resp.headers.call_id().map(|c| c.as_str()) == Some(r.call_id)
                && resp.headers.cseq().map(|c| c.seq) == Some(r.cseq);
            if !ours || resp.status.0 < 200 {
                continue;
            }
            if r.method == "INVITE" && resp.status.0 >= 300 {
                self.ack(r, &resp).await;
            }
            return Some(resp);
        }
    }

    async fn ack(&self, r: &Req<'_>, resp: &Response) {
        let Ok(uri) = parse_datagram(
            format!(
                "OPTIONS {} SIP/2.0\r\nContent-Length: 0\r\n\r\n",
                self.request_uri(r.ruri_user)
            )
            .into_bytes()
            .into(),
        ) else {
            return;
        };
        let Message::Request(template) = uri else {
            return;
        };
        let mut ack = Request::new(Method::Ack, template.uri);
        for h in resp.headers.iter() {
            match h {
                Header::Via(v) => ack
                    .headers
                    .push(Header::Via(v.iter().take(1).cloned().collect())),
                Header::From(_) | Header::To(_) | Header::CallId(_) => ack.headers.push(h.clone()),
                Header::CSeq(c) => ack.headers.push(Header::CSeq(CSeq {
                    seq: c.seq,
                    method: Method::Ack,
                })),
                _ => {}
            }
        }
        ack.headers.push(Header::MaxForwards(70));
        let bytes = sip_core::message::serialize::to_vec(&Message::Request(ack));
        let _ = self.sock.send_to(&bytes, self.server).await;
    }

    /// Answers `challenge` for `user`/`password` and adds the credentials to `r`.
    pub fn authorize(&self, r: &mut Req<'_>, challenge: &Response, user: &str, password: &str) {
        let kind = ChallengeKind::from_status(challenge.status.0).expect("a challenge");
        let name = match kind {
            ChallengeKind::Www => HeaderName::WwwAuthenticate,
            ChallengeKind::Proxy => HeaderName::ProxyAuthenticate,
        };
        let mut c = DigestClient::new(user, password);
        c.handle_challenge(kind, challenge.headers.raw(&name).map(|v| v.as_str()))
            .expect("usable challenge");
        let ruri = self.request_uri(r.ruri_user);
        for a in c.authorize(r.method, &ruri, b"", &mut rand::thread_rng()) {
            r.extra.push(format!("{}: {}", a.header_name(), a.value));
        }
    }

    /// Challenge, then answer with `password`: the final response to the second request.
    pub async fn register_with(
        &self,
        user: &str,
        password: &str,
        call_id: &str,
        expires: Option<u32>,
        contact: Option<String>,
    ) -> Response {
        let mut r = Req::register(user, call_id, 1);
        r.expires = expires;
        r.contact = contact.clone();
        let first = self.exchange(&r).await.expect("answer to REGISTER");
        assert_eq!(first.status.0, 401, "first REGISTER is challenged");
        let mut r = Req::register(user, call_id, 2);
        r.expires = expires;
        r.contact = contact;
        self.authorize(&mut r, &first, user, password);
        self.exchange(&r).await.expect("answer to REGISTER")
    }
}

/// Names of the headers of a response, in order (what a scanner can compare).
pub fn header_names(r: &Response) -> Vec<String> {
    r.headers
        .iter()
        .map(|h| h.name().as_str().to_string())
        .collect()
}

/// A request the PBX sent to us (OPTIONS ping), answered with 200.
pub async fn answer_request(ua: &RawUa, req: &Request, from: SocketAddr) {
    let resp = Response::to_request(req, 200);
    let bytes = sip_core::message::serialize::to_vec(&Message::Response(resp));
    ua.sock.send_to(&bytes, from).await.expect("send 200");
}
