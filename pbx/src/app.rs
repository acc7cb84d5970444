//! The PBX as a sip-core [`Application`]: dispatches each request to the module that
//! owns it. Handlers that wait run in their own tasks. Digest challenges for requests
//! without credentials are answered inline on the driver task, and so are REGISTERs that
//! need no store commit.

use crate::context::PbxContext;
use sip_core::driver::{Application, ServerRequest};
use sip_core::message::validate::Policy;
use sip_core::message::{Header, HeaderName, Method, Request, Response};
use sip_core::transaction::TxId;
use sip_core::transport::Flow;
use std::sync::Arc;

/// Methods Sentral implements, as listed in Allow.
pub const ALLOW: &str =
    "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, UPDATE, REFER, NOTIFY, INFO, PRACK";

#[derive(Debug, Clone)]
pub struct PbxApp {
    ctx: Arc<PbxContext>,
    policy: Arc<Policy>,
}

impl PbxApp {
    pub fn new(ctx: Arc<PbxContext>) -> Self {
        let mut policy = Policy::default();
        // SUBSCRIBE/MESSAGE/PUBLISH are not served yet: 501 from validation is honest.
        policy
            .methods
            .retain(|m| !matches!(m, Method::Subscribe | Method::Message | Method::Publish));
        PbxApp {
            ctx,
            policy: Arc::new(policy),
        }
    }

    pub fn context(&self) -> &Arc<PbxContext> {
        &self.ctx
    }
}

/// A request inside a dialog carries a To tag (RFC 3261 §12.2).
fn in_dialog(req: &Request) -> bool {
    req.headers.to().and_then(|t| t.tag()).is_some()
}

impl Application for PbxApp {
    fn on_request(&self, req: ServerRequest) {
        let ctx = self.ctx.clone();
        match req.request.method {
            // Answered here when it can be (a refresh), else finished in a task.
            Method::Register => crate::registrar::handle_register(ctx, req),
            _ if in_dialog(&req.request) => {
                tokio::spawn(crate::calls::handle_in_dialog(ctx, req));
            }
            Method::Invite => {
                tokio::spawn(crate::calls::handle_invite(ctx, req));
            }
            Method::Options if ctx.security.is_banned(req.flow.remote.ip()) => {
                // A banned address learns nothing, not even that the server is up.
                req.respond(Response::to_request(&req.request, 403));
            }
            Method::Options => {
                // Out of dialog OPTIONS is answered for the server itself, the same for
                // every Request-URI user, so it reveals nothing about extensions.
                let mut resp = Response::to_request(&req.request, 200);
                resp.headers
                    .push(Header::Other(HeaderName::Allow, ALLOW.into()));
                resp.headers
                    .push(Header::Other(HeaderName::Accept, "application/sdp".into()));
                resp.headers
                    .push(Header::Other(HeaderName::Supported, "replaces".into()));
                req.respond(resp);
            }
            _ => {
                // BYE, UPDATE, INFO, REFER, NOTIFY … outside a dialog.
                req.respond(Response::to_request(&req.request, 481));
            }
        }
    }

    fn answer_inline(&self, req: &Request, flow: &Flow) -> Option<Response> {
        match req.method {
            Method::Register => crate::registrar::answer_inline(&self.ctx, req, flow),
            Method::Invite if !in_dialog(req) => {
                crate::calls::challenge_inline(&self.ctx, req, flow)
            }
            _ => None,
        }
    }

    fn on_ack(&self, ack: Request, flow: Flow) {
        crate::calls::handle_ack(&self.ctx, ack, flow);
    }

    fn on_cancel(&self, invite: TxId) {
        crate::calls::handle_cancel(&self.ctx, invite);
    }

    fn on_connection_closed(&self, flow: Flow) {
        crate::registrar::on_flow_closed(&self.ctx, flow);
    }

    fn validation_policy(&self) -> &Policy {
        &self.policy
    }
}
