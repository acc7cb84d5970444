#![allow(clippy::unwrap_used)]
//! The transports against raw sockets: TCP framing (split and coalesced messages),
//! CRLF keep-alive answers (RFC 5626 §3.5.1), lost framing closes the connection
//! (RFC 4475 §3.1.2.3), idle timeout, connection reuse for sends, and `received`/`rport`
//! stamping on UDP (RFC 3581).

use bytes::Bytes;
use sip_core::message::Message;
use sip_core::transport::{
    Destination, TransportConfig, TransportEvent, TransportKind, Transports,
};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;

const OPTIONS: &str = "OPTIONS sip:127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK-abc;rport\r\n\
From: <sip:a@192.0.2.1>;tag=1\r\n\
To: <sip:127.0.0.1>\r\n\
Call-ID: transport-test\r\n\
CSeq: 1 OPTIONS\r\n\
Max-Forwards: 70\r\n\
Content-Length: 0\r\n\r\n";

async fn setup(
    config: TransportConfig,
) -> (
    Transports,
    mpsc::Receiver<TransportEvent>,
    SocketAddr,
    SocketAddr,
) {
    let (tx, rx) = mpsc::channel(64);
    let t = Transports::new(config, tx);
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let tcp = t.listen_tcp(any).await.unwrap();
    let udp = t.listen_udp(any).await.unwrap();
    (t, rx, tcp, udp)
}

async fn next(rx: &mut mpsc::Receiver<TransportEvent>) -> TransportEvent {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("event in time")
        .expect("channel open")
}

#[tokio::test]
async fn tcp_split_and_coalesced_messages_and_keepalive() {
    let (_t, mut rx, tcp, _) = setup(TransportConfig::default()).await;
    let mut s = TcpStream::connect(tcp).await.unwrap();
    // One message split in two writes.
    let (a, b) = OPTIONS.as_bytes().split_at(40);
    s.write_all(a).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    s.write_all(b).await.unwrap();
    match next(&mut rx).await {
        TransportEvent::Message(m) => {
            assert_eq!(m.flow.kind, TransportKind::Tcp);
            assert!(m.flow.connection.is_some());
            let Message::Request(r) = m.message else {
                panic!("request")
            };
            assert_eq!(r.headers.call_id().unwrap().as_str(), "transport-test");
        }
        other => panic!("expected message, got {other:?}"),
    }
    // A ping gets a pong, then two messages in one write give two events.
    s.write_all(b"\r\n\r\n").await.unwrap();
    let mut pong = [0u8; 2];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut pong))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&pong, b"\r\n");
    let two = format!("{OPTIONS}{OPTIONS}");
    s.write_all(two.as_bytes()).await.unwrap();
    for _ in 0..2 {
        assert!(matches!(next(&mut rx).await, TransportEvent::Message(_)));
    }
}

#[tokio::test]
async fn tcp_lost_framing_closes_connection() {
    let (_t, mut rx, tcp, _) = setup(TransportConfig::default()).await;
    let mut s = TcpStream::connect(tcp).await.unwrap();
    let bad = OPTIONS.replace("Content-Length: 0", "Content-Length: -999");
    s.write_all(bad.as_bytes()).await.unwrap();
    assert!(matches!(
        next(&mut rx).await,
        TransportEvent::Malformed { .. }
    ));
    assert!(matches!(
        next(&mut rx).await,
        TransportEvent::ConnectionClosed { .. }
    ));
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "server closed the connection");
}

#[tokio::test]
async fn tcp_idle_timeout_closes_connection() {
    let config = TransportConfig {
        idle_timeout: Duration::from_millis(200),
        ..TransportConfig::default()
    };
    let (t, mut rx, tcp, _) = setup(config).await;
    let _s = TcpStream::connect(tcp).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(t.connection_count(), 1);
    assert!(matches!(
        next(&mut rx).await,
        TransportEvent::ConnectionClosed { .. }
    ));
    assert_eq!(t.connection_count(), 0);
}

#[tokio::test]
async fn tcp_send_reuses_the_inbound_connection() {
    let (t, mut rx, tcp, _) = setup(TransportConfig::default()).await;
    let mut s = TcpStream::connect(tcp).await.unwrap();
    s.write_all(OPTIONS.as_bytes()).await.unwrap();
    let TransportEvent::Message(m) = next(&mut rx).await else {
        panic!("message")
    };
    // Send to the peer's address without naming the connection: the open one is reused
    // (RFC 3261 §18.1.1), since the phone behind NAT cannot accept a new one.
    let dest = Destination {
        kind: TransportKind::Tcp,
        remote: m.flow.remote,
        connection: None,
    };
    t.send(Bytes::from_static(b"SIP/2.0 200 OK\r\n"), dest)
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"SIP/2.0 200 OK\r\n");
    assert_eq!(t.connection_count(), 1);
}

#[tokio::test]
async fn udp_stamps_received_and_rport() {
    let (_t, mut rx, _, udp) = setup(TransportConfig::default()).await;
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let msg = OPTIONS.replace("SIP/2.0/TCP", "SIP/2.0/UDP");
    s.send_to(msg.as_bytes(), udp).await.unwrap();
    let TransportEvent::Message(m) = next(&mut rx).await else {
        panic!("message")
    };
    let via = m.message.headers().top_via().unwrap().clone();
    assert_eq!(
        via.received(),
        Some("127.0.0.1"),
        "sent-by 192.0.2.1 differs from the source"
    );
    let port = s.local_addr().unwrap().port().to_string();
    assert_eq!(via.rport(), Some(Some(port.as_str())));
    // Keep-alive datagrams are swallowed, not parsed as garbage.
    s.send_to(b"\r\n\r\n", udp).await.unwrap();
    s.send_to(msg.as_bytes(), udp).await.unwrap();
    assert!(matches!(next(&mut rx).await, TransportEvent::Message(_)));
}
