//! Late offer through the B2BUA (RFC 3261 §13.2.1, RFC 3264 §5) with SIPp as both
//! phones: the caller's INVITE has no SDP, so the B-leg INVITE has none either; the
//! callee's offer comes back in its 200 (pointed at the relay), the caller answers in
//! its ACK, and our ACK to the callee carries that answer. RTP both ways then reaches
//! the relay.

mod support;

#[path = "interop/calls/phones.rs"]
mod phones;

use billing::CallDisposition;
use phones::{Phone, completed_call, on_each_backend, register};
use support::pbx::TestPbx;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_offer_call_gets_the_answer_from_the_callers_ack() {
    on_each_backend(pbx::PbxConfig::default, async |pbx: &TestPbx| {
        let backend = pbx.backend;
        let caller = Phone::new("1001");
        let callee = Phone::new("1002");
        register(pbx, caller).await;
        register(pbx, callee).await;
        let r = completed_call(
            pbx,
            caller,
            "calls/late_offer/caller.xml",
            Some((callee, "calls/late_offer/callee.xml")),
            "1002",
        )
        .await;
        assert_eq!(r.disposition, Some(CallDisposition::Answered), "{r:?}");
        assert_eq!(r.sip_reason.as_deref(), Some("caller hung up"), "{r:?}");
        let caller_rtp = r.caller_leg.as_ref().map_or(0, |l| l.packets);
        let callee_rtp = r.callee_leg.as_ref().map_or(0, |l| l.packets);
        assert!(caller_rtp > 20, "{backend:?}: {r:?}");
        assert!(callee_rtp > 20, "{backend:?}: {r:?}");
    })
    .await;
}
