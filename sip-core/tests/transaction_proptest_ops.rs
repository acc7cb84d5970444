//! Arbitrary sequences of network input, TU commands and clock jumps against one layer
//! (proptest). Nothing may panic, deadlines never lie in the past after handling, and
//! after a long quiet spell the only transactions left are those waiting on someone else
//! (a server transaction on its TU, a client INVITE in Proceeding on the far end's final).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod transaction_common;
use transaction_common::*;

use proptest::prelude::*;
use sip_core::message::{Message, Method};
use sip_core::transaction::{
    ClientInviteState, ServerInviteState, ServerNonInviteState, TransactionState, TxId,
};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
enum Op {
    /// A request arrives: method index, branch index, cookie or RFC 2543, from TCP?
    Request(usize, u8, bool, bool),
    /// A response arrives for a branch we may have used: status, branch, CSeq method.
    Response(u16, u8, usize),
    /// The TU answers transaction `tx` with `status`.
    Answer(u64, u16),
    /// The TU starts a client transaction.
    Send(usize, u8, bool),
    Cancel(u64),
    TransportError(u64),
    Advance(u64),
}

const METHODS: [Method; 5] = [
    Method::Invite,
    Method::Ack,
    Method::Cancel,
    Method::Options,
    Method::Bye,
];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..5usize, 0..4u8, any::<bool>(), any::<bool>())
            .prop_map(|(m, b, c, t)| Op::Request(m, b, c, t)),
        (
            prop::sample::select(vec![100u16, 180, 200, 404, 486, 503]),
            0..4u8,
            0..5usize
        )
            .prop_map(|(s, b, m)| Op::Response(s, b, m)),
        (
            1..12u64,
            prop::sample::select(vec![100u16, 180, 200, 486, 99, 700])
        )
            .prop_map(|(t, s)| Op::Answer(t, s)),
        (0..5usize, 0..4u8, any::<bool>()).prop_map(|(m, b, t)| Op::Send(m, b, t)),
        (1..12u64).prop_map(Op::Cancel),
        (1..12u64).prop_map(Op::TransportError),
        (0..40_000u64).prop_map(Op::Advance),
    ]
}

fn branch(i: u8, cookie: bool) -> String {
    if cookie {
        format!("z9hG4bKop{i}")
    } else {
        format!("old{i}")
    }
}

fn waiting_on_someone(s: &TransactionState) -> bool {
    matches!(
        s,
        TransactionState::ServerNonInvite(
            ServerNonInviteState::Trying | ServerNonInviteState::Proceeding { .. }
        ) | TransactionState::ServerInvite(ServerInviteState::Proceeding { .. })
            | TransactionState::ClientInvite(ClientInviteState::Proceeding { cancel_guard: None })
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]
    #[test]
    fn arbitrary_operations_never_panic_and_timers_drain(ops in prop::collection::vec(op(), 1..40)) {
        let mut l = layer();
        let mut now = Instant::now();
        for op in ops {
            match op {
                Op::Request(m, b, cookie, tcp_) => {
                    let req = request(METHODS[m].clone(), Some(&branch(b, cookie)), 1);
                    let from = if tcp_ { tcp(1) } else { udp(1) };
                    l.handle_message(Message::Request(req), from, now);
                }
                Op::Response(status, b, m) => {
                    let req = request(METHODS[m].clone(), Some(&branch(b, true)), 1);
                    l.handle_message(Message::Response(response(&req, status, Some("x"))), udp(2), now);
                }
                Op::Answer(tx, status) => {
                    if let Some(req) = l.request(TxId(tx)).cloned() {
                        let mut r = response(&req, 200, Some("x"));
                        r.status = sip_core::message::StatusCode(status);
                        let _ = l.send_response(TxId(tx), r, now);
                    }
                }
                Op::Send(m, b, tcp_) => {
                    let req = request(METHODS[m].clone(), Some(&branch(b, true)), 1);
                    let to = if tcp_ { tcp(2) } else { udp(2) };
                    let _ = l.send_request(req, to, now);
                }
                Op::Cancel(tx) => {
                    let _ = l.cancel(TxId(tx), now);
                }
                Op::TransportError(tx) => l.handle_transport_error(TxId(tx), now),
                Op::Advance(ms_) => {
                    now += Duration::from_millis(ms_);
                    l.handle_timeout(now);
                }
            }
            drain(&mut l);
            if let Some(t) = l.poll_timeout() {
                prop_assert!(t > now, "a due timer was left unhandled");
            }
        }
        // Ten quiet minutes: every timer-driven transaction ends.
        let end = now + Duration::from_secs(600);
        let mut firings = 0;
        while let Some(t) = l.poll_timeout() {
            prop_assert!(t <= end, "timer beyond 10 minutes");
            l.handle_timeout(t);
            drain(&mut l);
            // A timer that fires without moving on would spin forever.
            firings += 1;
            prop_assert!(firings < 10_000, "timers never settle");
            prop_assert!(l.poll_timeout().is_none_or(|n| n > t), "timer re-fires at {t:?}");
        }
        for id in 1..200u64 {
            if let Some(s) = l.state(TxId(id)) {
                prop_assert!(waiting_on_someone(&s), "tx{id} stuck in {s:?}");
            }
        }
    }
}
