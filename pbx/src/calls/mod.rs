//! The B2BUA: every call is two dialogs and a media bridge through the RTP relay.
//! Being written (issue 3).

use crate::config::PbxConfig;
use crate::context::PbxContext;
use crate::error::PbxError;
use sip_core::driver::ServerRequest;
use sip_core::message::{Request, Response};
use sip_core::transaction::TxId;
use sip_core::transport::Flow;
use std::sync::Arc;
use store::Store;

#[derive(Debug)]
pub struct Calls {}

impl Calls {
    pub async fn new(_config: &PbxConfig, _store: &Store) -> Result<Self, PbxError> {
        Ok(Calls {})
    }
}

pub async fn handle_invite(_ctx: Arc<PbxContext>, req: ServerRequest) {
    req.respond(Response::to_request(&req.request, 503));
}

pub async fn handle_in_dialog(_ctx: Arc<PbxContext>, req: ServerRequest) {
    req.respond(Response::to_request(&req.request, 481));
}

pub fn handle_ack(_ctx: &PbxContext, _ack: Request, _flow: Flow) {}

pub fn handle_cancel(_ctx: &PbxContext, _invite: TxId) {}
