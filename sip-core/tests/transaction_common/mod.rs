//! Shared helpers for the transaction and dialog tests: typed message builders, a fake
//! clock, and `Pair`, two transaction layers over a virtual link with loss and delay
//! (after quinn-proto's `tests/util.rs`).
#![allow(dead_code)]

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sip_core::message::{
    CSeq, Contact, Header, Host, Message, Method, NameAddr, Params, Request, Response, SipUri, Uri,
    Via,
};
use sip_core::transaction::{
    Action, LayerConfig, PassUp, Peer, TransactionLayer, TransportKind, TxId,
};
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

pub const T1: Duration = Duration::from_millis(500);

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn addr(last: u8) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)), 5060)
}

pub fn udp(last: u8) -> Peer {
    Peer::new(addr(last), TransportKind::Udp)
}

pub fn tcp(last: u8) -> Peer {
    Peer::new(addr(last), TransportKind::Tcp)
}

pub fn sip_uri(user: &str, host: &str) -> Uri {
    let mut u = SipUri::new(Host::Domain(host.into()));
    u.user = Some(user.into());
    Uri::Sip(u)
}

pub fn host_uri(host: &str, lr: bool) -> Uri {
    let mut u = SipUri::new(Host::Domain(host.into()));
    if lr {
        u.params.set("lr", None);
    }
    Uri::Sip(u)
}

pub fn via(host: &str, transport: &str, branch: Option<&str>) -> Via {
    let mut params = Params::new();
    if let Some(b) = branch {
        params.set("branch", Some(b.into()));
    }
    Via {
        protocol: "SIP".into(),
        version: "2.0".into(),
        transport: transport.into(),
        host: Host::Domain(host.into()),
        port: Some(5060),
        params,
    }
}

pub fn name_addr(uri: Uri, tag: Option<&str>) -> NameAddr {
    let mut a = NameAddr::new(uri);
    if let Some(t) = tag {
        a.set_tag(t);
    }
    a
}

/// A request from alice@atlanta to bob@biloxi as a UA would send it (§8.1.1).
pub fn request(method: Method, branch: Option<&str>, cseq: u32) -> Request {
    let mut r = Request::new(method.clone(), sip_uri("bob", "biloxi.example.com"));
    let h = &mut r.headers;
    h.push(Header::Via(vec![via(
        "pc33.atlanta.example.com",
        "UDP",
        branch,
    )]));
    h.push(Header::MaxForwards(70));
    h.push(Header::From(name_addr(
        sip_uri("alice", "atlanta.example.com"),
        Some("1928301774"),
    )));
    h.push(Header::To(name_addr(
        sip_uri("bob", "biloxi.example.com"),
        None,
    )));
    h.push(Header::CallId(
        "a84b4c76e66710@pc33.atlanta.example.com".into(),
    ));
    h.push(Header::CSeq(CSeq { seq: cseq, method }));
    h.push(Header::Contact(vec![Contact::Addr(name_addr(
        sip_uri("alice", "pc33.atlanta.example.com"),
        None,
    ))]));
    r
}

pub fn invite(branch: &str) -> Request {
    request(Method::Invite, Some(branch), 314159)
}

/// A response to `req` as the UAS would build it, To tag added for anything but 100.
pub fn response(req: &Request, status: u16, to_tag: Option<&str>) -> Response {
    let mut r = Response::to_request(req, status);
    if let Some(t) = to_tag
        && let Some(to) = r.headers.to_mut()
    {
        to.set_tag(t);
    }
    if (101..300).contains(&status) {
        r.headers.push(Header::Contact(vec![Contact::Addr(name_addr(
            sip_uri("bob", "192.0.2.4"),
            None,
        ))]));
    }
    r
}

pub fn drain(layer: &mut TransactionLayer) -> Vec<Action> {
    std::iter::from_fn(|| layer.poll_action()).collect()
}

/// The messages sent in `actions`.
pub fn sent(actions: &[Action]) -> Vec<Message> {
    actions.iter().filter_map(Action::sent_message).collect()
}

pub fn sent_statuses(actions: &[Action]) -> Vec<u16> {
    sent(actions)
        .into_iter()
        .filter_map(|m| match m {
            Message::Response(r) => Some(r.status.0),
            _ => None,
        })
        .collect()
}

pub fn sent_methods(actions: &[Action]) -> Vec<Method> {
    sent(actions)
        .into_iter()
        .filter_map(|m| match m {
            Message::Request(r) => Some(r.method.clone()),
            _ => None,
        })
        .collect()
}

pub fn passed_up_statuses(actions: &[Action]) -> Vec<u16> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::PassUp(PassUp::Response { response, .. }) => Some(response.status.0),
            _ => None,
        })
        .collect()
}

pub fn terminated(actions: &[Action], tx: TxId) -> bool {
    actions
        .iter()
        .any(|a| matches!(a, Action::Terminated { tx: t } if *t == tx))
}

pub fn layer() -> TransactionLayer {
    TransactionLayer::new(LayerConfig {
        seed: 1,
        ..LayerConfig::default()
    })
}

/// Moves a fake clock through `layer`'s timers up to `until`, stopping at each deadline
/// and recording the offset (from `start`) of every Send.
pub fn run_timers(
    layer: &mut TransactionLayer,
    start: Instant,
    until: Instant,
) -> Vec<(Duration, Action)> {
    let mut log = Vec::new();
    while let Some(t) = layer.poll_timeout() {
        if t > until {
            break;
        }
        layer.handle_timeout(t);
        for a in drain(layer) {
            log.push((t - start, a));
        }
    }
    log
}

/// Offsets at which a message was sent.
pub fn send_times(log: &[(Duration, Action)]) -> Vec<u128> {
    log.iter()
        .filter(|(_, a)| matches!(a, Action::Send { .. } | Action::SendWire { .. }))
        .map(|(t, _)| t.as_millis())
        .collect()
}

/// A datagram in flight on the virtual link.
struct InFlight {
    at: Instant,
    to_server: bool,
    message: Message,
}

/// Two transaction layers (client side `a`, server side `b`) over a virtual link that
/// drops each message with probability `loss` and delays it by `delay` (after quinn's
/// `Pair`). A TU on the server side answers every request with `answer` after
/// `answer_delay`.
pub struct Pair {
    pub now: Instant,
    pub a: TransactionLayer,
    pub b: TransactionLayer,
    pub a_peer: Peer,
    pub b_peer: Peer,
    pub loss: f64,
    pub delay: Duration,
    pub rng: StdRng,
    link: Vec<InFlight>,
    /// Everything the client-side TU got.
    pub a_events: Vec<Action>,
    /// Everything the server-side TU got.
    pub b_events: Vec<Action>,
    pub answer: u16,
    pub dropped: usize,
    pub delivered: usize,
    pending_answers: VecDeque<(Instant, TxId, Request)>,
    pub answer_delay: Duration,
}

impl Pair {
    pub fn new(seed: u64, loss: f64, delay: Duration, transport: TransportKind) -> Self {
        let now = Instant::now();
        Pair {
            now,
            a: TransactionLayer::new(LayerConfig {
                seed,
                ..LayerConfig::default()
            }),
            b: TransactionLayer::new(LayerConfig {
                seed: seed ^ 0xdead_beef,
                ..LayerConfig::default()
            }),
            a_peer: Peer::new(addr(1), transport),
            b_peer: Peer::new(addr(2), transport),
            loss,
            delay,
            rng: StdRng::seed_from_u64(seed),
            link: Vec::new(),
            a_events: Vec::new(),
            b_events: Vec::new(),
            answer: 200,
            dropped: 0,
            delivered: 0,
            pending_answers: VecDeque::new(),
            answer_delay: Duration::ZERO,
        }
    }

    fn pump_actions(&mut self) {
        while let Some(act) = self.a.poll_action() {
            match act.into_sent() {
                Ok(message) => self.transmit(true, message),
                Err(other) => self.a_events.push(other),
            }
        }
        while let Some(act) = self.b.poll_action() {
            match act {
                Action::Send { message, .. } => self.transmit(false, message),
                wire @ Action::SendWire { .. } => match wire.into_sent() {
                    Ok(message) => self.transmit(false, message),
                    Err(other) => self.b_events.push(other),
                },
                Action::PassUp(PassUp::Request { tx, request, .. }) => {
                    self.pending_answers.push_back((
                        self.now + self.answer_delay,
                        tx,
                        request.clone(),
                    ));
                    self.b_events.push(Action::PassUp(PassUp::Request {
                        tx,
                        request,
                        from: self.a_peer,
                        cancels: None,
                    }));
                }
                other => self.b_events.push(other),
            }
        }
    }

    fn transmit(&mut self, to_server: bool, message: Message) {
        if self.rng.r#gen::<f64>() < self.loss {
            self.dropped += 1;
            return;
        }
        self.link.push(InFlight {
            at: self.now + self.delay,
            to_server,
            message,
        });
    }

    /// The next instant anything happens.
    fn next_event(&self) -> Option<Instant> {
        let link = self.link.iter().map(|m| m.at).min();
        let answers = self.pending_answers.front().map(|p| p.0);
        [self.a.poll_timeout(), self.b.poll_timeout(), link, answers]
            .into_iter()
            .flatten()
            .min()
    }

    /// Runs until nothing is left to do or `limit` of virtual time passed.
    pub fn drive(&mut self, limit: Duration) {
        let end = self.now + limit;
        self.pump_actions();
        while let Some(t) = self.next_event() {
            if t > end {
                break;
            }
            self.now = self.now.max(t);
            let now = self.now;
            let (due, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.link)
                .into_iter()
                .partition(|m| m.at <= now);
            self.link = rest;
            for m in due {
                self.delivered += 1;
                if m.to_server {
                    self.b.handle_message(m.message, self.a_peer, now);
                } else {
                    self.a.handle_message(m.message, self.b_peer, now);
                }
            }
            while self.pending_answers.front().is_some_and(|p| p.0 <= now) {
                if let Some((_, tx, req)) = self.pending_answers.pop_front() {
                    let resp = response(&req, self.answer, Some("b-tag"));
                    // The transaction may be gone already (e.g. CANCEL answered).
                    let _ = self.b.send_response(tx, resp, now);
                }
            }
            self.a.handle_timeout(now);
            self.b.handle_timeout(now);
            self.pump_actions();
        }
    }
}
