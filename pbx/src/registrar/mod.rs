//! The registrar (RFC 3261 §10): REGISTER with digest auth, the location service with
//! bindings persisted in the store, expiry sweeping and OPTIONS keep-alive pings.
//! Being written (issue 3).

use crate::config::PbxConfig;
use crate::context::PbxContext;
use crate::error::PbxError;
use sip_core::driver::ServerRequest;
use sip_core::message::Response;
use sip_core::transport::Flow;
use std::sync::Arc;
use store::Store;

#[derive(Debug)]
pub struct Registrar {}

impl Registrar {
    pub async fn new(_config: &PbxConfig, _store: &Store) -> Result<Self, PbxError> {
        Ok(Registrar {})
    }
}

pub async fn handle_register(_ctx: Arc<PbxContext>, req: ServerRequest) {
    req.respond(Response::to_request(&req.request, 503));
}

pub fn on_flow_closed(_ctx: &PbxContext, _flow: Flow) {}

pub fn spawn_maintenance(_ctx: Arc<PbxContext>) {}
