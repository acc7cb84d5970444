#![allow(clippy::unwrap_used)]
//! The driver end to end over real UDP sockets: retransmissions absorbed by the server
//! transaction, CANCEL answered 200 with 487 to the INVITE (RFC 3261 §9.2), stateless 400
//! for an unparsable request, validation answers (501), and client transactions.

use bytes::Bytes;
use sip_core::driver::{Application, ClientEvent, Driver, DriverConfig, ServerRequest};
use sip_core::message::parse::parse_datagram;
use sip_core::message::validate::Policy;
use sip_core::message::{Message, Method, Request, Response};
use sip_core::transport::{Destination, Flow, TransportKind};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::UdpSocket;

#[derive(Default)]
struct Recorder {
    policy: Policy,
    seen: Mutex<Vec<Method>>,
    /// INVITEs are held (not answered) so a CANCEL can arrive.
    held: Mutex<Vec<ServerRequest>>,
    cancelled: Mutex<usize>,
}

impl Application for Recorder {
    fn on_request(&self, req: ServerRequest) {
        self.seen.lock().unwrap().push(req.request.method.clone());
        if req.request.method == Method::Invite {
            req.respond(Response::to_request(&req.request, 180));
            self.held.lock().unwrap().push(req);
        } else {
            req.respond(Response::to_request(&req.request, 200));
        }
    }
    /// REGISTER stands for a request the application answers inline (a challenge).
    fn answer_inline(&self, req: &Request, _flow: &Flow) -> Option<Response> {
        (req.method == Method::Register).then(|| Response::to_request(req, 401))
    }
    fn on_cancel(&self, _invite: sip_core::transaction::TxId) {
        *self.cancelled.lock().unwrap() += 1;
    }
    fn validation_policy(&self) -> &Policy {
        &self.policy
    }
}

fn request(method: &str, branch: &str, cseq_method: &str) -> String {
    format!(
        "{method} sip:100@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{branch};rport\r\n\
From: <sip:a@127.0.0.1>;tag=ft\r\n\
To: <sip:100@127.0.0.1>\r\n\
Call-ID: drv-{branch}\r\n\
CSeq: 1 {cseq_method}\r\n\
Max-Forwards: 70\r\n\
Content-Length: 0\r\n\r\n"
    )
}

async fn start() -> (Driver, Arc<Recorder>, SocketAddr, UdpSocket) {
    let app = Arc::new(Recorder::default());
    let config = DriverConfig {
        udp: vec!["127.0.0.1:0".parse().unwrap()],
        ..Default::default()
    };
    let driver = Driver::start(config, app.clone()).await.unwrap();
    let addr = driver.local_addrs()[0].1;
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    (driver, app, addr, sock)
}

async fn recv(sock: &UdpSocket) -> Response {
    let mut buf = vec![0u8; 65535];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    match parse_datagram(Bytes::copy_from_slice(&buf[..n])).unwrap() {
        Message::Response(r) => r,
        Message::Request(r) => panic!("expected a response, got {}", r.method),
    }
}

#[tokio::test]
async fn retransmission_is_absorbed_and_answered_again() {
    let (driver, app, addr, sock) = start().await;
    let msg = request("OPTIONS", "retrans1", "OPTIONS");
    sock.send_to(msg.as_bytes(), addr).await.unwrap();
    let first = recv(&sock).await;
    sock.send_to(msg.as_bytes(), addr).await.unwrap();
    let second = recv(&sock).await;
    assert_eq!(first.status.0, 200);
    assert_eq!(
        first, second,
        "the retransmission gets the very same response"
    );
    assert_eq!(
        app.seen.lock().unwrap().len(),
        1,
        "the application saw the request once"
    );
    driver.shutdown().await;
}

#[tokio::test]
async fn inline_answer_is_sent_in_a_transaction_without_the_handler() {
    let (driver, app, addr, sock) = start().await;
    let msg = request("REGISTER", "inline1", "REGISTER");
    sock.send_to(msg.as_bytes(), addr).await.unwrap();
    let first = recv(&sock).await;
    assert_eq!(first.status.0, 401);
    assert!(
        first.headers.to().unwrap().tag().is_some(),
        "the driver adds the To tag a final response needs"
    );
    sock.send_to(msg.as_bytes(), addr).await.unwrap();
    let second = recv(&sock).await;
    assert_eq!(
        first, second,
        "the retransmission gets the very same answer"
    );
    assert!(
        app.seen.lock().unwrap().is_empty(),
        "on_request never saw the inline-answered request"
    );
    let stats = driver.handle();
    assert_eq!(
        stats
            .stats()
            .answered_inline
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    driver.shutdown().await;
}

#[tokio::test]
async fn cancel_gets_200_and_invite_gets_487() {
    let (driver, app, addr, sock) = start().await;
    sock.send_to(request("INVITE", "inv1", "INVITE").as_bytes(), addr)
        .await
        .unwrap();
    let mut statuses = [recv(&sock).await.status.0, recv(&sock).await.status.0];
    statuses.sort();
    assert_eq!(statuses, [100, 180]);
    sock.send_to(request("CANCEL", "inv1", "CANCEL").as_bytes(), addr)
        .await
        .unwrap();
    let mut finals = [recv(&sock).await, recv(&sock).await];
    finals.sort_by_key(|r| r.status.0);
    assert_eq!(finals[0].status.0, 200);
    assert_eq!(finals[0].headers.cseq().unwrap().method, Method::Cancel);
    assert_eq!(finals[1].status.0, 487);
    assert_eq!(finals[1].headers.cseq().unwrap().method, Method::Invite);
    assert!(
        finals[1].headers.to().unwrap().tag().is_some(),
        "487 carries a To tag"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(*app.cancelled.lock().unwrap(), 1);
    // A CANCEL matching nothing gets 481.
    sock.send_to(request("CANCEL", "nothing", "CANCEL").as_bytes(), addr)
        .await
        .unwrap();
    assert_eq!(recv(&sock).await.status.0, 481);
    driver.shutdown().await;
}

#[tokio::test]
async fn malformed_and_unknown_requests_are_answered_without_the_application() {
    let (driver, app, addr, sock) = start().await;
    let bad = request("OPTIONS", "bad1", "INVITE"); // CSeq method mismatch
    sock.send_to(bad.as_bytes(), addr).await.unwrap();
    assert_eq!(recv(&sock).await.status.0, 400);
    let unknown = request("FROBNICATE", "unk1", "FROBNICATE");
    sock.send_to(unknown.as_bytes(), addr).await.unwrap();
    assert_eq!(recv(&sock).await.status.0, 501);
    let garbage =
        request("OPTIONS", "garb1", "OPTIONS").replace("CSeq: 1 OPTIONS", "CSeq: one OPTIONS");
    sock.send_to(garbage.as_bytes(), addr).await.unwrap();
    // The answer echoes the bad CSeq verbatim (it must route back), so read the raw
    // status line rather than parse it.
    let mut buf = vec![0u8; 65535];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    let status_line = text.lines().next().unwrap();
    assert!(status_line.starts_with("SIP/2.0 400 "), "{status_line}");
    assert!(
        status_line.to_lowercase().contains("cseq"),
        "reason names the problem: {status_line}"
    );
    assert!(
        text.contains("Call-ID: drv-garb1"),
        "routing headers copied: {text}"
    );
    assert!(app.seen.lock().unwrap().is_empty());
    assert_eq!(
        driver
            .handle()
            .stats()
            .malformed_requests_answered
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    driver.shutdown().await;
}

#[tokio::test]
async fn client_transaction_gets_its_final_response() {
    let (driver, _app, addr, _sock) = start().await;
    // A second driver plays the far end, so both sides run the real stack.
    let (far, far_app, far_addr, _s) = start().await;
    let handle = driver.handle();
    let text = request("OPTIONS", "client1", "OPTIONS").replace("127.0.0.1:9", &addr.to_string());
    let Message::Request(req) = parse_datagram(Bytes::from(text)).unwrap() else {
        panic!()
    };
    let mut ct = handle
        .send_request(
            req,
            Destination {
                kind: TransportKind::Udp,
                remote: far_addr,
                connection: None,
            },
        )
        .await
        .unwrap();
    match ct.final_response().await {
        Some(ClientEvent::Response(r)) => assert_eq!(r.status.0, 200),
        other => panic!("expected 200, got {other:?}"),
    }
    assert_eq!(far_app.seen.lock().unwrap().as_slice(), &[Method::Options]);
    far.shutdown().await;
    driver.shutdown().await;
}
